// The fused router + routing + align launch (fused_routing.h) against the three separate
// launches, which moe_test.cc and decoder_kernels_test.cc hold against the CPU references:
// every output identical bit for bit (logits, expert ids, weights, offsets, sorted pairs), over
// batch 1, odd batches, the largest fused batch, group-limited routing and more experts than a
// block has threads; replayed launches agree too (the counter is left at zero).
#include "cuda/moe/fused_routing.h"

#include <gtest/gtest.h>

#include <random>
#include <vector>

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
        MoeRouteFusedParams f{rl, mr, ma, d_counter.get()};
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
  CheckFused({3, 40, 20, 2, 1, 1, true});                          // tiny widths
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
  MoeRouteFusedParams p{rl, mr, ma, counter.get()};
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
