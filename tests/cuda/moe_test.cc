// MoE kernels against CPU references: routing (greedy and group-limited, scaling and
// renormalisation, exact ties) against decoder/moe_routing.h, the CPU model's own router; the
// pair alignment against a stable sort; and the routed expert FFN with combine against a double
// SwiGLU, with experts that receive no tokens, odd token counts and widths.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "cuda/config.h"
#include "cuda/moe/expert_ffn.h"
#include "cuda/moe/expert_gemm.h"
#include "cuda/moe/routing.h"
#include "decoder/moe_routing.h"
#include "tests/cuda/cuda_test_util.h"

namespace sieve::cuda {
namespace {

using testing::AllClose;
using testing::DeviceBuffer;
using testing::HaveDevice;
using testing::RandomBf16Values;
using testing::ToBf16;

struct RoutingCase {
  int tokens, experts, top_k, n_group, topk_group;
  bool norm;
  float scale;
  bool ties;  // all logits of a token equal in pairs: exercises the lower-index rule
};

void CheckRouting(const RoutingCase& c) {
  SCOPED_TRACE(::testing::Message()
               << "tokens " << c.tokens << " experts " << c.experts << " top_k " << c.top_k
               << " groups " << c.n_group << "/" << c.topk_group << (c.ties ? " ties" : ""));
  std::mt19937 rng(c.tokens * 13 + c.experts);
  std::normal_distribution<float> dist(0.0f, 4.0f);
  const int stride = c.experts + 3;
  std::vector<float> logits(static_cast<size_t>(c.tokens) * stride, 1e30f);
  for (int t = 0; t < c.tokens; ++t) {
    for (int e = 0; e < c.experts; ++e) {
      logits[t * stride + e] = c.ties ? static_cast<float>((e / 2) % 5) : dist(rng);
    }
  }
  RoutingParams rp;
  rp.n_experts = c.experts;
  rp.top_k = c.top_k;
  rp.method = c.n_group > 1 ? TopkMethod::kGroupLimitedGreedy : TopkMethod::kGreedy;
  rp.n_group = c.n_group;
  rp.topk_group = c.topk_group;
  rp.norm_topk_prob = c.norm;
  rp.routed_scaling_factor = c.scale;

  DeviceBuffer<float> d_logits(logits), d_w(static_cast<size_t>(c.tokens) * c.top_k);
  DeviceBuffer<int32_t> d_ids(static_cast<size_t>(c.tokens) * c.top_k);
  ASSERT_TRUE(d_logits.ok() && d_w.ok() && d_ids.ok());
  ASSERT_TRUE(d_w.Poison() && d_ids.Poison());
  MoeRoutingParams p{d_logits.get(), stride, c.tokens, c.experts,   c.top_k,  c.n_group,
                     c.topk_group,   c.norm, c.scale,  d_ids.get(), d_w.get()};
  ASSERT_EQ(LaunchMoeRouting(p, nullptr), cudaSuccess);
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  const std::vector<int32_t> ids = d_ids.Download();
  const std::vector<float> w = d_w.Download();
  int compared = 0;
  for (int t = 0; t < c.tokens; ++t) {
    const Routing want = RouteFromLogits(logits.data() + t * stride, rp);
    // fp32 softmax sums differ in order between CPU and GPU (~1e-7 relative): a choice closer
    // than that may legitimately differ, so such tokens are skipped (and counted).
    if (!c.ties && want.margin < 1e-5f) continue;
    ++compared;
    for (int j = 0; j < c.top_k; ++j) {
      EXPECT_EQ(ids[t * c.top_k + j], want.experts[j]) << "token " << t << " slot " << j;
      EXPECT_NEAR(w[t * c.top_k + j], want.weights[j], 1e-5 * std::max(1.0f, want.weights[j]))
          << "token " << t << " slot " << j;
    }
  }
  EXPECT_GE(compared, c.tokens * 9 / 10);
}

TEST(MoeRouting, MatchesTheCpuRouterGreedyAndGroupLimited) {
  if (!HaveDevice()) GTEST_SKIP() << "no CUDA device";
  CheckRouting({1, 64, 6, 1, 1, false, 1.0f, false});     // V2-Lite, one token
  CheckRouting({37, 64, 6, 1, 1, false, 1.0f, false});    // odd token count
  CheckRouting({5, 8, 2, 1, 1, false, 1.0f, false});      // tiny preset
  CheckRouting({33, 160, 6, 8, 3, false, 16.0f, false});  // V2: group-limited, scale 16
  CheckRouting({9, 8, 3, 4, 2, false, 16.0f, false});     // tiny-qlora-grouped
  CheckRouting({11, 64, 6, 1, 1, true, 1.0f, false});     // norm_topk_prob
  CheckRouting({3, 100, 1, 1, 1, false, 2.5f, false});    // top-1, experts not a warp multiple
  CheckRouting({4, 64, 6, 1, 1, false, 1.0f, true});      // exact ties -> lower expert id
  CheckRouting({4, 160, 6, 8, 3, false, 16.0f, true});    // tied groups -> lower group
}

TEST(MoeRouting, RejectsTopKThatDoesNotFitTheKeptGroups) {
  if (!HaveDevice()) GTEST_SKIP() << "no CUDA device";
  DeviceBuffer<float> logits(8), w(8);
  DeviceBuffer<int32_t> ids(8);
  MoeRoutingParams p{logits.get(), 8, 1, 8, 5, 4, 2, false, 1.0f, ids.get(), w.get()};
  EXPECT_EQ(LaunchMoeRouting(p, nullptr), cudaErrorInvalidValue);  // 5 > 2 groups x 2 experts
  p.n_group = 3;                                                   // does not divide 8
  EXPECT_EQ(LaunchMoeRouting(p, nullptr), cudaErrorInvalidValue);
}

// Runs MoeAlign on `ids` and checks it against a stable sort by expert.
void CheckAlign(const std::vector<int32_t>& ids, int experts) {
  const int n = static_cast<int>(ids.size());
  DeviceBuffer<int32_t> d_ids(ids), d_off(experts + 1), d_pairs(n), d_exp(n);
  ASSERT_TRUE(d_off.Poison() && d_pairs.Poison() && d_exp.Poison());
  MoeAlignParams p{d_ids.get(), n, experts, d_off.get(), d_pairs.get(), d_exp.get()};
  ASSERT_EQ(LaunchMoeAlign(p, nullptr), cudaSuccess);
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  std::vector<int32_t> order(n);
  for (int i = 0; i < n; ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return ids[a] < ids[b]; });
  std::vector<int32_t> offsets(experts + 1, 0);
  for (int32_t e : ids) ++offsets[e + 1];
  for (int e = 0; e < experts; ++e) offsets[e + 1] += offsets[e];
  std::vector<int32_t> sorted_experts(n);
  for (int i = 0; i < n; ++i) sorted_experts[i] = ids[order[i]];
  EXPECT_EQ(d_off.Download(), offsets);
  if (n > 0) {
    EXPECT_EQ(d_pairs.Download(), order);
    EXPECT_EQ(d_exp.Download(), sorted_experts);
  }
}

TEST(MoeAlign, GroupsPairsByExpertInPairOrder) {
  if (!HaveDevice()) GTEST_SKIP() << "no CUDA device";
  std::mt19937 rng(3);
  CheckAlign({}, 8);                     // no tokens: all offsets 0
  CheckAlign({5, 2, 60, 9, 33, 1}, 64);  // one token, top-6: 58 experts receive nothing
  std::vector<int32_t> many(37 * 6);
  for (int32_t& e : many) e = static_cast<int32_t>(rng() % 64);
  CheckAlign(many, 64);
  std::vector<int32_t> skewed(1001);
  for (int32_t& e : skewed) e = rng() % 10 == 0 ? static_cast<int32_t>(rng() % 160) : 7;
  CheckAlign(skewed, 160);
  // From 2048 pairs the chunked counting sort (MoeAlignLargeKernel): a 4096-token chunk's
  // pairs, a skewed set with chunks of one expert, a count that leaves warps without pairs, and
  // more experts than that kernel takes (the per-expert scan again).
  std::vector<int32_t> chunk(4096 * 6);
  for (int32_t& e : chunk) e = static_cast<int32_t>(rng() % 64);
  CheckAlign(chunk, 64);
  std::vector<int32_t> runs(5000);
  for (size_t i = 0; i < runs.size(); ++i) {
    runs[i] = i < 3000 ? 3 : static_cast<int32_t>(rng() % 256);
  }
  CheckAlign(runs, 256);
  std::vector<int32_t> sparse(2049);
  for (int32_t& e : sparse) e = static_cast<int32_t>(rng() % 5);
  CheckAlign(sparse, 5);
  std::vector<int32_t> wide(3000);
  for (int32_t& e : wide) e = static_cast<int32_t>(rng() % 300);
  CheckAlign(wide, 300);
  std::vector<int32_t> partial(45);  // 100 experts: the prefix sum's last round is partial
  for (int32_t& e : partial) e = static_cast<int32_t>(rng() % 100);
  CheckAlign(partial, 100);
  CheckAlign({31, 32, 32, 31, 0, 5}, 33);  // a round boundary inside the experts
}

struct FfnCase {
  int tokens, experts, top_k, hidden, inter;
  bool shared, accumulate;
  bool dense_x = false;  // x rows packed (x_stride = H) and the tensor-core path (else CUDA cores)
  int first_expert = 0;  // tokens pick from experts first_expert .. + max(experts / 2, top_k) - 1
  bool gemm = false;     // the grouped GEMMs (expert_gemm.h: hidden % 128, inter % 64)
};

void CheckExpertFfn(const FfnCase& c) {
  SCOPED_TRACE(::testing::Message()
               << "tokens " << c.tokens << " experts " << c.experts << " top_k " << c.top_k << " H "
               << c.hidden << " I " << c.inter << (c.dense_x ? " packed x" : " strided x"));
  std::mt19937 rng(c.tokens * 101 + c.hidden);
  const int H = c.hidden, I = c.inter, x_stride = c.dense_x ? H : H + 2, out_stride = H + 1;
  const std::vector<float> x = RandomBf16Values(static_cast<size_t>(c.tokens) * x_stride, 1.0f, 1);
  const std::vector<float> w13 =
      RandomBf16Values(static_cast<size_t>(c.experts) * 2 * I * H, 1.0f / std::sqrt(H), 2);
  const std::vector<float> w2 =
      RandomBf16Values(static_cast<size_t>(c.experts) * H * I, 1.0f / std::sqrt(I), 3);
  // Tokens use only half of the experts (from first_expert): the others receive nothing.
  const int pairs = c.tokens * c.top_k;
  std::vector<int32_t> ids(pairs);
  std::vector<float> weights(pairs);
  for (int t = 0; t < c.tokens; ++t) {
    std::vector<int32_t> pool(std::max(c.experts / 2, c.top_k));
    for (size_t i = 0; i < pool.size(); ++i) pool[i] = static_cast<int32_t>(c.first_expert + i);
    std::shuffle(pool.begin(), pool.end(), rng);
    for (int j = 0; j < c.top_k; ++j) {
      ids[t * c.top_k + j] = pool[j];
      weights[t * c.top_k + j] = 0.1f + 0.9f * static_cast<float>(rng() % 1000) / 1000.0f;
    }
  }
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> shared(static_cast<size_t>(c.tokens) * H),
      out(static_cast<size_t>(c.tokens) * out_stride);
  for (float& v : shared) v = dist(rng);
  for (float& v : out) v = dist(rng);

  std::vector<float> want = out;
  for (int t = 0; t < c.tokens; ++t) {
    std::vector<double> acc(H, 0.0);
    for (int j = 0; j < c.top_k; ++j) {
      const int e = ids[t * c.top_k + j];
      std::vector<double> act(I);
      for (int r = 0; r < I; ++r) {
        double g = 0, u = 0;
        for (int k = 0; k < H; ++k) {
          g += static_cast<double>(x[t * x_stride + k]) *
               w13[(static_cast<size_t>(e) * 2 * I + r) * H + k];
          u += static_cast<double>(x[t * x_stride + k]) *
               w13[(static_cast<size_t>(e) * 2 * I + I + r) * H + k];
        }
        act[r] = g / (1.0 + std::exp(-g)) * u;
      }
      for (int n = 0; n < H; ++n) {
        double d = 0;
        for (int r = 0; r < I; ++r) d += act[r] * w2[(static_cast<size_t>(e) * H + n) * I + r];
        acc[n] += weights[t * c.top_k + j] * d;
      }
    }
    for (int n = 0; n < H; ++n) {
      float& o = want[t * out_stride + n];
      o = static_cast<float>((c.accumulate ? o : 0.0) + acc[n] +
                             (c.shared ? shared[t * H + n] : 0));
    }
  }

  DeviceBuffer<__nv_bfloat16> d_x(ToBf16(x)), d_w13(ToBf16(w13)), d_w2(ToBf16(w2));
  DeviceBuffer<int32_t> d_ids(ids), d_off(c.experts + 1), d_pairs(pairs), d_exp(pairs);
  DeviceBuffer<float> d_weights(weights), d_act(static_cast<size_t>(pairs) * I),
      d_pair_out(static_cast<size_t>(pairs) * H), d_shared(shared), d_out(out);
  ASSERT_TRUE(d_x.ok() && d_w13.ok() && d_w2.ok() && d_out.ok() && d_act.ok());
  ASSERT_TRUE(d_act.Poison() && d_pair_out.Poison());
  MoeAlignParams ap{d_ids.get(), pairs, c.experts, d_off.get(), d_pairs.get(), d_exp.get()};
  ASSERT_EQ(LaunchMoeAlign(ap, nullptr), cudaSuccess);
  ExpertFfnParams p{};
  p.x = d_x.get();
  p.x_stride = x_stride;
  p.w13 = d_w13.get();
  p.w2 = d_w2.get();
  p.sorted_pairs = d_pairs.get();
  p.sorted_experts = d_exp.get();
  p.topk_weights = d_weights.get();
  p.act = d_act.get();
  p.pair_out = d_pair_out.get();
  p.shared_out = c.shared ? d_shared.get() : nullptr;
  p.shared_stride = H;
  p.out = d_out.get();
  p.out_stride = out_stride;
  p.accumulate = c.accumulate;
  p.tokens = c.tokens;
  p.top_k = c.top_k;
  p.num_experts = c.experts;
  p.hidden = H;
  p.inter = I;
  p.expert_offsets = d_off.get();
  p.path = c.dense_x ? 2 : 1;  // each case pins its kernels; the automatic choice is tested below
  if (c.gemm) p.path = 3;
  ASSERT_EQ(LaunchExpertFfn(p, nullptr), cudaSuccess);
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  // bf16 inputs are exact in both; fp32 accumulation over H and I terms.
  EXPECT_TRUE(AllClose(d_out.Download(), want, 1e-4, 1e-4));
}

TEST(ExpertFfn, MatchesDoubleSwiGluWithEmptyExperts) {
  if (!HaveDevice()) GTEST_SKIP() << "no CUDA device";
  CheckExpertFfn({1, 8, 2, 64, 32, false, false});      // tiny preset, one token
  CheckExpertFfn({5, 8, 2, 64, 24, true, true});        // shared experts + residual accumulate
  CheckExpertFfn({3, 64, 6, 256, 96, true, false});     // V2-Lite routing shape, smaller widths
  CheckExpertFfn({7, 16, 3, 65, 33, false, true});      // widths off the warp multiple
  CheckExpertFfn({1, 6, 6, 2048, 1408, false, false});  // V2-Lite widths, decode batch 1
  CheckExpertFfn({8, 64, 6, 512, 352, true, false});    // decode batch 8 routing shape
  CheckExpertFfn({64, 64, 6, 256, 96, false, true});    // batch 64: many pairs per expert
  CheckExpertFfn({37, 4, 2, 64, 20, true, false});      // > 8 pairs per expert, I % 8 != 0
  // Fewer pairs than experts (grid over sorted positions), each kernel variant:
  CheckExpertFfn({1, 32, 6, 512, 352, false, true});  // one token: 1 pair, 4 rows per warp
  CheckExpertFfn({1, 16, 4, 65, 33, true, false});    // one token, scalar loads
  CheckExpertFfn({3, 32, 10, 128, 72, true, false});  // 2-pair variant, experts with 3 pairs
}

TEST(ExpertFfn, TensorCorePathMatchesDoubleSwiGlu) {
  if (!HaveDevice()) GTEST_SKIP() << "no CUDA device";
  CheckExpertFfn({1, 6, 6, 2048, 1408, false, false, true});  // V2-Lite widths, batch 1
  CheckExpertFfn({8, 64, 6, 512, 384, true, false, true});    // batch 8 routing shape
  CheckExpertFfn({64, 64, 6, 256, 128, false, true, true});   // batch 64: > 16 pairs per expert
  CheckExpertFfn({37, 4, 2, 128, 128, true, true, true});     // 37 pairs per expert: 3 passes
  // V2-Lite widths (K slices of 11 and 16 k-steps: a half stage at the end of each down pass),
  // 20 pairs per expert (2 passes, the second with 4 pairs), 2 experts empty, more units than
  // SMs in both kernels: the persistent grid walks several units per block.
  CheckExpertFfn({20, 8, 6, 2048, 1408, true, true, true});
  // Fewer than 2 pairs per expert (the compacted launch: units over the touched experts only)
  // with touched experts 200 .. 455 of 512: the touched list is built over two chunks of 256.
  CheckExpertFfn({16, 512, 6, 128, 128, false, false, true, 200});
}

// The grouped GEMMs for prompt chunks: the same double-precision reference. Experts that
// receive nothing get no tile; partial tiles of 64 positions; the down's K = 2 I runs over the
// hi then the lo half of act.
TEST(ExpertFfnGemm, MatchesDoubleSwiGluWithEmptyExperts) {
  if (!HaveDevice()) GTEST_SKIP() << "no CUDA device";
  CheckExpertFfn({64, 8, 2, 256, 128, true, true, true, 0, true});     // 16 pairs per expert
  CheckExpertFfn({40, 64, 6, 512, 384, false, false, true, 0, true});  // V2-Lite routing
  CheckExpertFfn({150, 4, 2, 256, 128, true, true, true, 0, true});    // 150 pairs: 3 tiles
  CheckExpertFfn({24, 8, 6, 2048, 1408, true, false, true, 0, true});  // V2-Lite widths
}

TEST(ExpertFfnGemm, PreferredFromThirtyTwoPairsPerExpertOnItsShapes) {
  ExpertFfnParams p{};
  p.num_experts = 64;
  p.top_k = 6;
  p.hidden = p.x_stride = 2048;
  p.inter = 1408;
  p.tokens = 341;  // 2046 pairs < 32 x 64
  EXPECT_FALSE(ExpertFfnPrefersGemm(p));
  p.tokens = 342;  // 2052 pairs
  EXPECT_TRUE(ExpertFfnPrefersGemm(p));
  p.inter = 1344;  // not a multiple of 128
  EXPECT_FALSE(ExpertFfnPrefersGemm(p));
  p.inter = 1408;
  p.hidden = 1920;  // not a multiple of 256
  EXPECT_FALSE(ExpertFfnPrefersGemm(p));
}

// The down kernel with the combine inside (1-2 tokens) against the separate down + combine
// launches: `out` bit for bit (same sums in the same order), launched plainly and with PDL,
// and within tolerance of a double-precision reference (so a wrong pair of equal results fails).
struct DownCombineCase {
  int tokens, experts, top_k, hidden, inter;
  bool shared, accumulate;
};

void CheckDownCombine(const DownCombineCase& c) {
  SCOPED_TRACE(::testing::Message() << "tokens " << c.tokens << " experts " << c.experts
                                    << " top_k " << c.top_k << " H " << c.hidden << " I "
                                    << c.inter);
  std::mt19937 rng(c.tokens * 7 + c.hidden + c.top_k);
  const int H = c.hidden, I = c.inter, out_stride = H + 4, pairs = c.tokens * c.top_k;
  const std::vector<float> x = RandomBf16Values(static_cast<size_t>(c.tokens) * H, 1.0f, 11);
  const std::vector<float> w13 =
      RandomBf16Values(static_cast<size_t>(c.experts) * 2 * I * H, 1.0f / std::sqrt(H), 12);
  const std::vector<float> w2 =
      RandomBf16Values(static_cast<size_t>(c.experts) * H * I, 1.0f / std::sqrt(I), 13);
  std::vector<int32_t> ids(pairs);
  std::vector<float> weights(pairs);
  for (int t = 0; t < c.tokens; ++t) {  // distinct experts per token, from half of them
    std::vector<int32_t> pool(std::max(c.experts / 2, c.top_k));
    for (size_t i = 0; i < pool.size(); ++i) pool[i] = static_cast<int32_t>(i);
    std::shuffle(pool.begin(), pool.end(), rng);
    for (int j = 0; j < c.top_k; ++j) {
      ids[t * c.top_k + j] = pool[j];
      weights[t * c.top_k + j] = 0.1f + 0.9f * static_cast<float>(rng() % 1000) / 1000.0f;
    }
  }
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> shared(static_cast<size_t>(c.tokens) * H),
      out(static_cast<size_t>(c.tokens) * out_stride);
  for (float& v : shared) v = dist(rng);
  for (float& v : out) v = dist(rng);
  std::vector<float> want = out;
  for (int t = 0; t < c.tokens; ++t) {
    std::vector<double> acc(H, 0.0);
    for (int j = 0; j < c.top_k; ++j) {
      const size_t e = static_cast<size_t>(ids[t * c.top_k + j]);
      std::vector<double> act(I);
      for (int r = 0; r < I; ++r) {
        double g = 0, u = 0;
        for (int k = 0; k < H; ++k) {
          g += static_cast<double>(x[t * H + k]) * w13[(e * 2 * I + r) * H + k];
          u += static_cast<double>(x[t * H + k]) * w13[(e * 2 * I + I + r) * H + k];
        }
        act[r] = g / (1.0 + std::exp(-g)) * u;
      }
      for (int n = 0; n < H; ++n) {
        double d = 0;
        for (int r = 0; r < I; ++r) d += act[r] * w2[(e * H + n) * I + r];
        acc[n] += weights[t * c.top_k + j] * d;
      }
    }
    for (int n = 0; n < H; ++n) {
      float& o = want[t * out_stride + n];
      o = static_cast<float>((c.accumulate ? o : 0.0) + acc[n] +
                             (c.shared ? shared[t * H + n] : 0));
    }
  }
  DeviceBuffer<__nv_bfloat16> d_x(ToBf16(x)), d_w13(ToBf16(w13)), d_w2(ToBf16(w2));
  DeviceBuffer<int32_t> d_ids(ids), d_off(c.experts + 1), d_pairs(pairs), d_exp(pairs);
  DeviceBuffer<float> d_weights(weights), d_act(static_cast<size_t>(pairs) * I),
      d_pair_out(static_cast<size_t>(pairs) * H), d_shared(shared), d_out(out);
  ASSERT_TRUE(d_x.ok() && d_w13.ok() && d_w2.ok() && d_out.ok() && d_act.ok());
  MoeAlignParams ap{d_ids.get(), pairs, c.experts, d_off.get(), d_pairs.get(), d_exp.get()};
  ExpertFfnParams p{};
  p.x = d_x.get();
  p.x_stride = H;
  p.w13 = d_w13.get();
  p.w2 = d_w2.get();
  p.sorted_pairs = d_pairs.get();
  p.sorted_experts = d_exp.get();
  p.topk_weights = d_weights.get();
  p.act = d_act.get();
  p.pair_out = d_pair_out.get();
  p.shared_out = c.shared ? d_shared.get() : nullptr;
  p.shared_stride = H;
  p.out = d_out.get();
  p.out_stride = out_stride;
  p.accumulate = c.accumulate;
  p.tokens = c.tokens;
  p.top_k = c.top_k;
  p.num_experts = c.experts;
  p.hidden = H;
  p.inter = I;
  p.expert_offsets = d_off.get();
  p.path = 0;
  ASSERT_TRUE(ExpertFfnFusesCombine(p));
  // Separate launches, then the fused one (pair_out poisoned: it must not be read), each from
  // the same initial out: plainly, with PDL, and with PDL after a plain gate/up launch (the
  // decoder's case after a join). The fused kernel reads the routing before its wait in both PDL
  // modes (gate/up triggers it only after its own wait): the routing tables are poisoned and
  // rewritten by the kernel right before gate/up each time, as in the decoder. (The align kernel
  // lets no dependent start early; the decoder's router, GemvRouted, does, and its batch-1/2
  // graph, eager and no-PDL steps must agree bit for bit: tests/decoder/gpu_model_test.cc.)
  std::vector<std::vector<float>> results;
  cudaStream_t side = nullptr;
  cudaEvent_t gate_up_done = nullptr;
  ASSERT_EQ(cudaStreamCreateWithFlags(&side, cudaStreamNonBlocking), cudaSuccess);
  ASSERT_EQ(cudaEventCreateWithFlags(&gate_up_done, cudaEventDisableTiming), cudaSuccess);
  std::vector<float> act_seen(static_cast<size_t>(pairs) * I);
  const bool modes[3][2] = {{false, true}, {true, true}, {true, false}};  // pdl, pdl_first
  for (const bool fuse : {false, true}) {
    for (const auto& mode : modes) {
      ASSERT_TRUE(d_act.Poison() && d_pair_out.Poison());
      ASSERT_TRUE(d_off.Poison() && d_pairs.Poison() && d_exp.Poison());
      ASSERT_EQ(cudaMemcpy(d_out.get(), out.data(), out.size() * sizeof(float),
                           cudaMemcpyHostToDevice),
                cudaSuccess);
      ASSERT_EQ(LaunchMoeAlign(ap, nullptr), cudaSuccess);
      // gate_up_done: a copy of act on another stream that waits for it sees gate/up's output,
      // never the poison (and the same bits as act after the whole launch).
      ASSERT_EQ(LaunchExpertFfn(p, nullptr, mode[0], mode[1], fuse, gate_up_done), cudaSuccess);
      ASSERT_EQ(cudaStreamWaitEvent(side, gate_up_done, 0), cudaSuccess);
      ASSERT_EQ(cudaMemcpyAsync(act_seen.data(), d_act.get(), act_seen.size() * sizeof(float),
                                cudaMemcpyDeviceToHost, side),
                cudaSuccess);
      ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
      results.push_back(d_out.Download());
      const std::vector<float> act_final = d_act.Download();
      ASSERT_EQ(std::memcmp(act_seen.data(), act_final.data(), act_seen.size() * sizeof(float)),
                0);
      for (float v : act_seen) ASSERT_FALSE(std::isnan(v)) << "act read before gate/up wrote it";
    }
  }
  ASSERT_EQ(cudaEventDestroy(gate_up_done), cudaSuccess);
  ASSERT_EQ(cudaStreamDestroy(side), cudaSuccess);
  EXPECT_TRUE(AllClose(results[0], want, 1e-4, 1e-4));
  EXPECT_TRUE(AllClose(results[3], want, 1e-4, 1e-4));
  for (size_t r = 1; r < results.size(); ++r) {
    ASSERT_EQ(results[r].size(), results[0].size());
    size_t diff = 0;
    for (size_t i = 0; i < results[0].size(); ++i) {
      diff += std::memcmp(&results[r][i], &results[0][i], sizeof(float)) != 0;
    }
    EXPECT_EQ(diff, 0u) << "run " << r << " (fused: " << (r >= 3) << ")";
  }
}

TEST(ExpertFfn, DownWithTheCombineEqualsSeparateLaunchesBitForBit) {
  if (!HaveDevice()) GTEST_SKIP() << "no CUDA device";
  // V2-Lite widths and top-k (fewer experts: the host reference stays quick under racecheck),
  // as the decoder at batch 1; at batch 2 with out accumulated, some experts shared.
  CheckDownCombine({1, 8, 6, 2048, 1408, true, false});
  CheckDownCombine({2, 16, 6, 2048, 1408, true, true});
  // Odd tiny shapes: 3 experts both tokens share (2 pairs each, an odd number of experts: the
  // last pass has one), K slices of 3 k-steps (a half stage), 16 units on 16 blocks.
  CheckDownCombine({2, 5, 3, 256, 384, false, true});
  CheckDownCombine({1, 5, 3, 128, 128, true, true});
  // More units than blocks (H / 16 = 384 > the SM count): blocks walk several units.
  CheckDownCombine({2, 8, 5, 6144, 128, true, false});
}

TEST(ExpertFfn, FusesTheCombineOnlyAtOneOrTwoTokensOnTensorCores) {
  alignas(16) static __nv_bfloat16 buf[16];
  ExpertFfnParams p{};
  p.x = p.w13 = p.w2 = buf;
  p.act = reinterpret_cast<float*>(buf);
  p.x_stride = p.hidden = 2048;
  p.inter = 1408;
  p.num_experts = 64;
  p.top_k = 6;
  p.tokens = 1;
  EXPECT_TRUE(ExpertFfnFusesCombine(p));
  p.tokens = 2;
  EXPECT_TRUE(ExpertFfnFusesCombine(p));
  p.tokens = 3;
  EXPECT_FALSE(ExpertFfnFusesCombine(p));
  p.tokens = 1;
  p.path = 1;  // CUDA-core kernels pinned
  EXPECT_FALSE(ExpertFfnFusesCombine(p));
  p.path = 0;
  p.inter = 1344;  // not a tensor-core shape
  EXPECT_FALSE(ExpertFfnFusesCombine(p));
}

TEST(ExpertFfn, ChoosesTensorCoresOnAlignedShapesAtAnyBatch) {
  alignas(16) static __nv_bfloat16 buf[16];
  ExpertFfnParams p{};
  p.x = p.w13 = p.w2 = buf;
  p.act = reinterpret_cast<float*>(buf);
  p.x_stride = p.hidden = 2048;
  p.inter = 1408;
  p.num_experts = 64;
  p.top_k = 6;
  p.tokens = 1;  // 6 pairs over 64 experts (decode batch 1)
  EXPECT_TRUE(ExpertFfnUsesTensorCores(p));
  p.tokens = 64;  // 384 pairs
  EXPECT_TRUE(ExpertFfnUsesTensorCores(p));
  p.num_experts = kMaxExperts + 1;  // beyond the kernels' touched-expert list
  EXPECT_FALSE(ExpertFfnUsesTensorCores(p));
  p.num_experts = 64;
  p.inter = 1344;  // not a multiple of 128
  EXPECT_FALSE(ExpertFfnUsesTensorCores(p));
  p.inter = 1408;
  p.x_stride = 2050;  // rows not 16-byte aligned
  EXPECT_FALSE(ExpertFfnUsesTensorCores(p));
}

TEST(ExpertFfn, RejectsANarrowOutputStrideAndMoreSlotsThanKMaxTopK) {
  if (!HaveDevice()) GTEST_SKIP() << "no CUDA device";
  DeviceBuffer<__nv_bfloat16> b(64);
  DeviceBuffer<int32_t> i(4);
  DeviceBuffer<float> f(256);
  ExpertFfnParams p{b.get(), 64,      b.get(), b.get(), i.get(), i.get(), f.get(),
                    f.get(), f.get(), nullptr, 0,       f.get(), 32,      false,
                    1,       1,       1,       64,      8,       i.get(), 0};
  EXPECT_EQ(LaunchExpertFfn(p, nullptr), cudaErrorInvalidValue);
  p.out_stride = 64;
  p.top_k = kMaxTopK + 1;  // beyond the combine's unrolled slots
  EXPECT_EQ(LaunchExpertFfn(p, nullptr), cudaErrorInvalidValue);
}

}  // namespace
}  // namespace sieve::cuda
