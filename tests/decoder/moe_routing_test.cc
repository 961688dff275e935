// MoE routing on hand-made scores: greedy and group-limited picks, renormalisation, scaling, ties
// and margins (semantics in decoder/moe_routing.h).
#include "decoder/moe_routing.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

namespace sieve {
namespace {

RoutingParams Greedy(int64_t n, int64_t k, double scale = 1.0) {
  RoutingParams p;
  p.n_experts = n;
  p.top_k = k;
  p.routed_scaling_factor = scale;
  return p;
}

TEST(MoeRouting, GreedyPicksTheHighestScoresInDescendingOrderAndScalesThem) {
  const std::vector<float> s = {0.10f, 0.40f, 0.05f, 0.30f, 0.15f};
  const Routing r = RouteFromScores(s.data(), Greedy(5, 2, 2.0));
  EXPECT_EQ(r.experts, (std::vector<int32_t>{1, 3}));
  EXPECT_FLOAT_EQ(r.weights[0], 0.80f);
  EXPECT_FLOAT_EQ(r.weights[1], 0.60f);
  EXPECT_FLOAT_EQ(r.margin, 0.15f);  // 0.30 kept vs 0.15 dropped
}

TEST(MoeRouting, TiesBreakTowardTheLowerExpertIndex) {
  const std::vector<float> s = {0.2f, 0.3f, 0.2f, 0.3f};
  const Routing r = RouteFromScores(s.data(), Greedy(4, 3));
  EXPECT_EQ(r.experts, (std::vector<int32_t>{1, 3, 0}));
  EXPECT_EQ(r.margin, 0.0f);
}

TEST(MoeRouting, GroupLimitedGreedyOnlyPicksFromTheBestGroups) {
  // Groups of two: g0 {0.30, 0.01}, g1 {0.26, 0.20}, g2 {0.21, 0.00}, g3 {0.01, 0.01}.
  const std::vector<float> s = {0.30f, 0.01f, 0.26f, 0.20f, 0.21f, 0.00f, 0.01f, 0.01f};
  RoutingParams p = Greedy(8, 3);
  EXPECT_EQ(RouteFromScores(s.data(), p).experts, (std::vector<int32_t>{0, 2, 4}));
  p.method = TopkMethod::kGroupLimitedGreedy;
  p.n_group = 4;
  p.topk_group = 2;
  const Routing r = RouteFromScores(s.data(), p);
  // Group maxima 0.30, 0.26, 0.21, 0.01 -> keep g0 and g1; expert 4 (0.21, in g2) is excluded.
  EXPECT_EQ(r.experts, (std::vector<int32_t>{0, 2, 3}));
  EXPECT_FLOAT_EQ(r.weights[2], 0.20f);
  EXPECT_NEAR(r.margin, 0.05f, 1e-6f);  // group margin 0.26 - 0.21 beats expert margin 0.20 - 0.01
}

TEST(MoeRouting, GroupScoreIsTheMaximumNotTheSumOfTheGroup) {
  // g0 {0.25, 0.25} sums higher, but g1's max 0.3 wins with topk_group 1.
  const std::vector<float> s = {0.25f, 0.25f, 0.30f, 0.20f};
  RoutingParams p = Greedy(4, 2);
  p.method = TopkMethod::kGroupLimitedGreedy;
  p.n_group = 2;
  p.topk_group = 1;
  EXPECT_EQ(RouteFromScores(s.data(), p).experts, (std::vector<int32_t>{2, 3}));
}

TEST(MoeRouting, NormTopkProbRenormalisesInsteadOfScaling) {
  const std::vector<float> s = {0.1f, 0.5f, 0.3f, 0.1f};
  RoutingParams p = Greedy(4, 2, 16.0);
  p.norm_topk_prob = true;
  const Routing r = RouteFromScores(s.data(), p);
  EXPECT_EQ(r.experts, (std::vector<int32_t>{1, 2}));
  EXPECT_NEAR(r.weights[0], 0.625f, 1e-6f);
  EXPECT_NEAR(r.weights[1], 0.375f, 1e-6f);
  // With a single expert there is nothing to renormalise: the scaling factor applies.
  p.top_k = 1;
  EXPECT_FLOAT_EQ(RouteFromScores(s.data(), p).weights[0], 8.0f);
}

TEST(MoeRouting, RoutingFromLogitsAppliesSoftmaxFirst) {
  const std::vector<float> logits = {1.0f, 3.0f, 2.0f, -1.0f};
  const Routing r = RouteFromLogits(logits.data(), Greedy(4, 2, 1.0));
  double z = 0;
  for (float l : logits) z += std::exp(l);
  EXPECT_EQ(r.experts, (std::vector<int32_t>{1, 2}));
  EXPECT_NEAR(r.weights[0], std::exp(3.0) / z, 1e-7);
  EXPECT_NEAR(r.weights[1], std::exp(2.0) / z, 1e-7);
  EXPECT_NEAR(r.margin, (std::exp(2.0) - std::exp(1.0)) / z, 1e-7);
}

TEST(MoeRouting, SoftmaxIsShiftInvariantAndSumsToOne) {
  std::vector<float> a = {1000.0f, 1001.0f, 999.0f};
  std::vector<float> b = {0.0f, 1.0f, -1.0f};
  Softmax(a.data(), 3);
  Softmax(b.data(), 3);
  for (int i = 0; i < 3; ++i) EXPECT_NEAR(a[i], b[i], 1e-6f);
  EXPECT_NEAR(a[0] + a[1] + a[2], 1.0f, 1e-6f);
}

TEST(MoeRouting, ParamsFromConfigCopyTheRoutingFields) {
  ModelConfig c;
  c.n_routed_experts = 160;
  c.num_experts_per_tok = 6;
  c.topk_method = TopkMethod::kGroupLimitedGreedy;
  c.n_group = 8;
  c.topk_group = 3;
  c.routed_scaling_factor = 16.0;
  const RoutingParams p = RoutingParams::FromConfig(c);
  EXPECT_EQ(p.n_experts, 160);
  EXPECT_EQ(p.top_k, 6);
  EXPECT_EQ(p.method, TopkMethod::kGroupLimitedGreedy);
  EXPECT_EQ(p.n_group, 8);
  EXPECT_EQ(p.topk_group, 3);
  EXPECT_EQ(p.routed_scaling_factor, 16.0);
}

}  // namespace
}  // namespace sieve
