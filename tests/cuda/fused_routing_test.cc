// The fused router + routing + align launch (fused_routing.h) against the three separate
// launches, which moe_test.cc and decoder_kernels_test.cc hold against the CPU references:
// every output identical bit for bit (logits, expert ids, weights, offsets, sorted pairs), over
// batch 1, odd batches, the largest fused batch, group-limited routing and more experts than a
// block has threads; replayed launches agree too (the counter is left at zero). With the
// kernel's own norm (MoeRouteNorm): every output identical to the GEMV's fused norm writing x
// (gemv.h x_out) followed by the three separate launches on that x.
#include "cuda/moe/fused_routing.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <vector>

#include "cuda/gemm/gemv.h"
#include "tests/cuda/cuda_test_util.h"

namespace sieve::cuda {
namespace {

using testing::DeviceBuffer;
using testing::HaveDevice;
using testing::RandomBf16Values;
using testing::SameBits;
using testing::ToBf16;

struct FusedCase {
  int tokens, hidden, experts, top_k, n_group, topk_group;
  bool norm;
  int dup = 0;  // > 0: expert e >= dup gets expert e % dup's router row (tied scores)
};

void CheckFused(const FusedCase& c) {
  SCOPED_TRACE(::testing::Message()
               << "tokens " << c.tokens << " hidden " << c.hidden << " experts " << c.experts
               << " top_k " << c.top_k << " groups " << c.n_group << "/" << c.topk_group);
  const int64_t x_stride = c.hidden + 8;
  const std::vector<float> x =
      RandomBf16Values(static_cast<size_t>(c.tokens) * x_stride, 1.0f, c.tokens + c.experts);
  std::vector<float> w(static_cast<size_t>(c.experts) * c.hidden);
  std::mt19937 rng(c.hidden * 3 + c.top_k);
  std::normal_distribution<float> dist(0.0f, 0.05f);
  for (float& v : w) v = dist(rng);
  for (int e = c.dup; c.dup > 0 && e < c.experts; ++e) {
    std::copy_n(w.begin() + static_cast<size_t>(e % c.dup) * c.hidden, c.hidden,
                w.begin() + static_cast<size_t>(e) * c.hidden);
  }
  const int pairs = c.tokens * c.top_k;
  DeviceBuffer<__nv_bfloat16> d_x(ToBf16(x));
  DeviceBuffer<float> d_w(w);
  DeviceBuffer<uint32_t> d_counter(std::vector<uint32_t>{0u});
  ASSERT_TRUE(d_x.ok() && d_w.ok() && d_counter.ok());

  struct Outputs {
    std::vector<float> logits, weights;
    std::vector<int32_t> ids, offsets, sorted_pairs, sorted_experts;
  };
  auto run = [&](bool fused, int launches, Outputs* out) {
    DeviceBuffer<float> logits(static_cast<size_t>(c.tokens) * c.experts), weights(pairs);
    DeviceBuffer<int32_t> ids(pairs), offsets(c.experts + 1), sorted_pairs(pairs),
        sorted_experts(pairs);
    ASSERT_TRUE(logits.ok() && weights.ok() && ids.ok() && offsets.ok() && sorted_pairs.ok() &&
                sorted_experts.ok());
    RouterLogitsParams rl{d_x.get(), x_stride, d_w.get(), logits.get(),
                          c.experts, c.tokens, c.experts, c.hidden};
    MoeRoutingParams mr{logits.get(), c.experts, c.tokens, c.experts, c.top_k,      c.n_group,
                        c.topk_group, c.norm,    1.5f,     ids.get(), weights.get()};
    MoeAlignParams ma{ids.get(),           pairs, c.experts, offsets.get(), sorted_pairs.get(),
                      sorted_experts.get()};
    for (int i = 0; i < launches; ++i) {
      ASSERT_TRUE(logits.Poison() && weights.Poison() && ids.Poison() && offsets.Poison() &&
                  sorted_pairs.Poison() && sorted_experts.Poison());
      if (fused) {
        MoeRouteFusedParams f{rl, mr, ma, d_counter.get(), {}};
        ASSERT_TRUE(MoeRouteFusedSupported(f));
        ASSERT_EQ(LaunchMoeRouteFused(f, nullptr), cudaSuccess);
      } else {
        ASSERT_EQ(LaunchRouterLogits(rl, nullptr), cudaSuccess);
        ASSERT_EQ(LaunchMoeRouting(mr, nullptr), cudaSuccess);
        ASSERT_EQ(LaunchMoeAlign(ma, nullptr), cudaSuccess);
      }
      ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
    }
    *out = {logits.Download(),  weights.Download(),      ids.Download(),
            offsets.Download(), sorted_pairs.Download(), sorted_experts.Download()};
  };
  Outputs want, got;
  run(false, 1, &want);
  run(true, 3, &got);  // three launches: the counter must come back to zero each time
  EXPECT_TRUE(SameBits(got.logits, want.logits));
  EXPECT_TRUE(SameBits(got.weights, want.weights));
  EXPECT_TRUE(SameBits(got.ids, want.ids));
  EXPECT_TRUE(SameBits(got.offsets, want.offsets));
  EXPECT_TRUE(SameBits(got.sorted_pairs, want.sorted_pairs));
  EXPECT_TRUE(SameBits(got.sorted_experts, want.sorted_experts));
  EXPECT_EQ(want.offsets.back(), pairs);
  EXPECT_EQ(d_counter.Download(), std::vector<uint32_t>{0u});
}

TEST(MoeRouteFused, MatchesTheThreeSeparateLaunchesBitForBit) {
  if (!HaveDevice()) GTEST_SKIP() << "no CUDA device";
  CheckFused({1, 2048, 64, 6, 1, 1, false});                       // V2-Lite, batch 1
  CheckFused({7, 2048, 64, 6, 1, 1, false});                       // odd batch
  CheckFused({kFusedRoutingMaxTokens, 2048, 64, 6, 1, 1, false});  // the largest fused step
  CheckFused({5, 72, 160, 6, 8, 3, true});                         // group-limited, renormalised
  // One token takes a one-warp path (RouteAlignOneToken for plain greedy up to 64 experts, else
  // RouteToken + AlignPairsOneWarp), two or more the block's AlignPairs; all against the separate
  // launches (routing.cu's AlignPairs) bit for bit.
  CheckFused({1, 72, 160, 6, 8, 3, true});  // one token, group-limited, 160 experts
  CheckFused({2, 72, 160, 6, 8, 3, true});  // two tokens: the block path
  CheckFused({1, 40, 3, 1, 1, 1, false});   // one token, top-1 of 3 experts
  CheckFused({3, 40, 20, 2, 1, 1, true});                          // tiny widths
}

// One token of plain greedy routing over at most kFusedRoutingOneTokenMaxExperts experts takes
// the register path (routing.cuh RouteAlignOneToken); more experts or group limiting the
// shared-memory one (RouteToken + AlignPairsOneWarp, the 160-expert cases above). Both against
// the separate launches bit for bit: slot boundaries, the largest top-k, tied scores (lower id
// first), renormalised or scaled.
TEST(MoeRouteFused, OneTokenRegisterPathMatchesTheSeparateLaunchesBitForBit) {
  if (!HaveDevice()) GTEST_SKIP() << "no CUDA device";
  static_assert(kFusedRoutingOneTokenMaxExperts == 64, "the cases below sit at its boundary");
  CheckFused({1, 2048, 64, 6, 1, 1, true});    // V2-Lite widths, renormalised
  CheckFused({1, 72, 64, 16, 1, 1, false});    // top-16 of 64: both slots emptied in turn
  CheckFused({1, 72, 64, 6, 1, 1, false, 4});  // 16 copies of 4 rows: ties among the picks
  CheckFused({1, 72, 64, 16, 1, 1, true, 3});  // ties across lanes and slots, renormalised
  CheckFused({1, 40, 33, 16, 1, 1, true});     // one expert in slot 1
  CheckFused({1, 40, 32, 6, 1, 1, false});     // one slot exactly
  CheckFused({1, 40, 2, 2, 1, 1, true});       // every expert picked
  CheckFused({1, 40, 65, 6, 1, 1, false});     // one expert too many: the shared-memory path
  CheckFused({1, 40, 65, 6, 1, 1, false, 5});  // the same with ties
}

struct NormCase {
  int tokens, hidden, experts, top_k;
  bool delta;
};

// x = RMSNorm(h + delta) by the GEMV's fused norm (block 0 writes x), then the three separate
// launches on that x; against one fused launch that normalises h + delta itself.
void CheckOwnNorm(const NormCase& c) {
  SCOPED_TRACE(::testing::Message() << "tokens " << c.tokens << " hidden " << c.hidden
                                    << " experts " << c.experts << " delta " << c.delta);
  const int H = c.hidden, T = c.tokens, E = c.experts, pairs = T * c.top_k;
  std::mt19937 rng(H * 7 + T + E);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> h(static_cast<size_t>(T) * H), delta(h.size()), w(static_cast<size_t>(E) * H);
  for (float& v : h) v = dist(rng);
  for (float& v : delta) v = 0.5f * dist(rng);
  for (float& v : w) v = 0.05f * dist(rng);
  const std::vector<float> norm_w = RandomBf16Values(H, 0.3f, H + 1);
  DeviceBuffer<float> d_h(h), d_delta(delta), d_w(w), h_out(h.size()), gemv_y(8 * T);
  DeviceBuffer<__nv_bfloat16> d_norm_w(ToBf16(norm_w)), d_x(static_cast<size_t>(T) * H),
      gemv_w(ToBf16(RandomBf16Values(static_cast<size_t>(8) * H, 0.1f, 5)));
  DeviceBuffer<uint32_t> d_counter(std::vector<uint32_t>{0u});
  DeviceBuffer<float> logits[2] = {DeviceBuffer<float>(static_cast<size_t>(T) * E),
                                   DeviceBuffer<float>(static_cast<size_t>(T) * E)};
  DeviceBuffer<float> weights[2] = {DeviceBuffer<float>(pairs), DeviceBuffer<float>(pairs)};
  DeviceBuffer<int32_t> ids[2] = {DeviceBuffer<int32_t>(pairs), DeviceBuffer<int32_t>(pairs)};
  DeviceBuffer<int32_t> offsets[2] = {DeviceBuffer<int32_t>(E + 1), DeviceBuffer<int32_t>(E + 1)};
  DeviceBuffer<int32_t> sorted[2] = {DeviceBuffer<int32_t>(pairs), DeviceBuffer<int32_t>(pairs)};
  DeviceBuffer<int32_t> sorted_e[2] = {DeviceBuffer<int32_t>(pairs), DeviceBuffer<int32_t>(pairs)};
  ASSERT_TRUE(d_h.ok() && d_delta.ok() && d_w.ok() && h_out.ok() && gemv_y.ok() &&
              d_norm_w.ok() && d_x.ok() && gemv_w.ok() && d_counter.ok());
  auto params = [&](int i) {
    EXPECT_TRUE(logits[i].Poison() && weights[i].Poison() && ids[i].Poison() &&
                offsets[i].Poison() && sorted[i].Poison() && sorted_e[i].Poison());
    RouterLogitsParams rl{d_x.get(), H, d_w.get(), logits[i].get(), E, T, E, H};
    MoeRoutingParams mr{logits[i].get(), E, T, E, c.top_k, 1, 1, true, 2.5f, ids[i].get(),
                        weights[i].get()};
    MoeAlignParams ma{ids[i].get(),  pairs, E, offsets[i].get(), sorted[i].get(),
                      sorted_e[i].get()};
    return MoeRouteFusedParams{rl, mr, ma, d_counter.get(), {}};
  };
  const float* dp = c.delta ? d_delta.get() : nullptr;
  // The GEMV path (x poisoned first, so x must come from the GEMV's norm).
  ASSERT_TRUE(d_x.Poison());
  GemvParams g{};
  g.x = d_x.get();
  g.ldx = H;
  g.rows = T;
  g.k = H;
  g.segments = 1;
  g.seg[0] = {gemv_w.get(), 8, gemv_y.get(), 8, false};
  g.norm = {d_norm_w.get(), d_h.get(), dp, c.delta ? h_out.get() : nullptr, true, 1e-6f};
  ASSERT_TRUE(GemvSupported(g));
  ASSERT_EQ(LaunchGemv(g, nullptr, false), cudaSuccess);
  const MoeRouteFusedParams sep = params(0);
  ASSERT_EQ(LaunchRouterLogits(sep.logits, nullptr), cudaSuccess);
  ASSERT_EQ(LaunchMoeRouting(sep.routing, nullptr), cudaSuccess);
  ASSERT_EQ(LaunchMoeAlign(sep.align, nullptr), cudaSuccess);
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  // The fused launch with its own norm, x poisoned again (it must not read x).
  ASSERT_TRUE(d_x.Poison());
  MoeRouteFusedParams own = params(1);
  own.norm = {d_norm_w.get(), d_h.get(), dp, 1e-6f};
  ASSERT_TRUE(MoeRouteFusedSupported(own));
  for (int i = 0; i < 2; ++i) ASSERT_EQ(LaunchMoeRouteFused(own, nullptr), cudaSuccess);
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  EXPECT_TRUE(SameBits(logits[1].Download(), logits[0].Download()));
  EXPECT_TRUE(SameBits(weights[1].Download(), weights[0].Download()));
  EXPECT_TRUE(SameBits(ids[1].Download(), ids[0].Download()));
  EXPECT_TRUE(SameBits(offsets[1].Download(), offsets[0].Download()));
  EXPECT_TRUE(SameBits(sorted[1].Download(), sorted[0].Download()));
  EXPECT_TRUE(SameBits(sorted_e[1].Download(), sorted_e[0].Download()));
  EXPECT_EQ(d_counter.Download(), std::vector<uint32_t>{0u});
}

TEST(MoeRouteFused, OwnNormMatchesTheGemvNormThenSeparateLaunchesBitForBit) {
  if (!HaveDevice()) GTEST_SKIP() << "no CUDA device";
  CheckOwnNorm({1, 2048, 64, 6, true});   // V2-Lite, batch 1
  CheckOwnNorm({8, 2048, 64, 6, true});   // the largest GEMV-normed V2-Lite step
  CheckOwnNorm({3, 2048, 64, 6, false});  // no delta (h alone)
  CheckOwnNorm({5, 72, 20, 2, true});     // blocks spanning two tokens
  CheckOwnNorm({6, 40, 3, 2, true});      // blocks spanning three and four tokens
}

TEST(MoeRouteFused, OwnNormRefusesRowsItCannotHold) {
  if (!HaveDevice()) GTEST_SKIP() << "no CUDA device";
  DeviceBuffer<float> f(1 << 16);
  DeviceBuffer<int32_t> i(4096);
  DeviceBuffer<__nv_bfloat16> x(1 << 14);
  DeviceBuffer<uint32_t> counter(std::vector<uint32_t>{0u});
  ASSERT_TRUE(f.ok() && i.ok() && x.ok() && counter.ok());
  const int T = 2, E = 8, k = 2, H = 2048;
  RouterLogitsParams rl{x.get(), H, f.get(), f.get() + 40000, E, T, E, H};
  MoeRoutingParams mr{f.get() + 40000, E, T, E, k, 1, 1, false, 1.0f, i.get(), f.get() + 41000};
  MoeAlignParams ma{i.get(), T * k, E, i.get() + 1024, i.get() + 2048, i.get() + 3072};
  MoeRouteFusedParams p{rl, mr, ma, counter.get(), {x.get(), f.get(), nullptr, 1e-6f}};
  EXPECT_TRUE(MoeRouteFusedSupported(p));
  MoeRouteFusedParams q = p;
  q.norm.h = nullptr;
  EXPECT_EQ(LaunchMoeRouteFused(q, nullptr), cudaErrorInvalidValue);
  q = p;
  q.logits.hidden = q.logits.x_stride = kFusedRoutingNormMaxHidden + 8;  // two batches per thread
  EXPECT_FALSE(MoeRouteFusedSupported(q));
  q = p;
  q.logits.num_experts = q.logits.logits_stride = q.routing.num_experts = 1;  // 2 rows of 2048
  q.routing.logits_stride = q.align.num_experts = 1;
  q.routing.top_k = 1;
  q.align.num_pairs = T;
  EXPECT_TRUE(MoeRouteFusedSupported(q));
  q.logits.tokens = q.routing.tokens = 5;  // 5 rows of 2048 bf16 in one block: over 16 KB
  q.align.num_pairs = 5;
  EXPECT_FALSE(MoeRouteFusedSupported(q));
  EXPECT_EQ(cudaGetLastError(), cudaSuccess);
}

TEST(MoeRouteFused, RefusesStepsItDoesNotFuseAndInconsistentParts) {
  if (!HaveDevice()) GTEST_SKIP() << "no CUDA device";
  DeviceBuffer<float> f(4096);
  DeviceBuffer<int32_t> i(4096);
  DeviceBuffer<__nv_bfloat16> x(4096);
  DeviceBuffer<uint32_t> counter(std::vector<uint32_t>{0u});
  ASSERT_TRUE(f.ok() && i.ok() && x.ok() && counter.ok());
  const int T = 2, E = 8, k = 2, H = 16;
  RouterLogitsParams rl{x.get(), H, f.get(), f.get() + 1024, E, T, E, H};
  MoeRoutingParams mr{f.get() + 1024, E, T, E, k, 1, 1, false, 1.0f, i.get(), f.get() + 2048};
  MoeAlignParams ma{i.get(), T * k, E, i.get() + 1024, i.get() + 2048, i.get() + 3072};
  MoeRouteFusedParams p{rl, mr, ma, counter.get(), {}};
  EXPECT_TRUE(MoeRouteFusedSupported(p));
  MoeRouteFusedParams q = p;
  q.counter = nullptr;
  EXPECT_EQ(LaunchMoeRouteFused(q, nullptr), cudaErrorInvalidValue);
  q = p;
  q.logits.tokens = q.routing.tokens = kFusedRoutingMaxTokens + 1;
  q.align.num_pairs = q.logits.tokens * k;
  EXPECT_FALSE(MoeRouteFusedSupported(q));
  q = p;
  q.routing.logits = f.get() + 512;  // routing would not read the logits just computed
  EXPECT_EQ(LaunchMoeRouteFused(q, nullptr), cudaErrorInvalidValue);
  q = p;
  q.align.num_pairs = T * k - 1;
  EXPECT_EQ(LaunchMoeRouteFused(q, nullptr), cudaErrorInvalidValue);
  q = p;
  q.routing.top_k = E + 1;  // the routing launcher's own check
  q.align.num_pairs = T * q.routing.top_k;
  EXPECT_EQ(LaunchMoeRouteFused(q, nullptr), cudaErrorInvalidValue);
  EXPECT_EQ(cudaGetLastError(), cudaSuccess);
}

}  // namespace
}  // namespace sieve::cuda
