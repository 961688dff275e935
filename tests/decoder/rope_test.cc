// YaRN rope tables, the softmax scale and the adjacent-pair rotation, against values worked out in
// the test from the published formulas (reference/deepseek-v2.md §1.4).
#include "decoder/rope.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

namespace sieve {
namespace {

ModelConfig V2LiteRope() {
  ModelConfig c;
  c.qk_nope_head_dim = 128;
  c.qk_rope_head_dim = 64;
  c.rope_theta = 10000;
  c.yarn.enabled = true;
  c.yarn.factor = 40;
  c.yarn.original_max_position_embeddings = 4096;
  c.yarn.beta_fast = 32;
  c.yarn.beta_slow = 1;
  c.yarn.mscale = 0.707;
  c.yarn.mscale_all_dim = 0.707;
  return c;
}

TEST(Rope, SoftmaxScaleOfV2LiteIsTheValueVllmPrints) {
  EXPECT_NEAR(SoftmaxScale(V2LiteRope()), 0.1147213867929261, 1e-9);
}

TEST(Rope, SoftmaxScaleOfV2UsesMscaleAllDimOne) {
  ModelConfig c = V2LiteRope();
  c.yarn.mscale = 1.0;
  c.yarn.mscale_all_dim = 1.0;
  const double m = 0.1 * std::log(40.0) + 1.0;
  EXPECT_NEAR(SoftmaxScale(c), m * m / std::sqrt(192.0), 1e-12);
  EXPECT_NEAR(SoftmaxScale(c), 0.135234, 1e-6);
}

TEST(Rope, SoftmaxScaleWithoutYarnOrMscaleAllDimIsInverseSqrtHeadDim) {
  ModelConfig c = V2LiteRope();
  c.yarn.mscale_all_dim = 0;
  EXPECT_DOUBLE_EQ(SoftmaxScale(c), 1.0 / std::sqrt(192.0));
  c.yarn.enabled = false;
  EXPECT_DOUBLE_EQ(SoftmaxScale(c), 1.0 / std::sqrt(192.0));
}

TEST(Rope, YarnRampOfV2LiteSpansPairsTenToTwentyThree) {
  const RopeTable t = ComputeRope(V2LiteRope());
  EXPECT_EQ(t.ramp_low, 10);
  EXPECT_EQ(t.ramp_high, 23);
  EXPECT_DOUBLE_EQ(t.attention_factor, 1.0);
}

TEST(Rope, YarnInverseFrequenciesFollowTheRampFormula) {
  const ModelConfig c = V2LiteRope();
  const RopeTable t = ComputeRope(c);
  ASSERT_EQ(t.inv_freq.size(), 32u);
  // Worked by hand: correction dims d(r) = 64 ln(4096 / (2 pi r)) / (2 ln 10000):
  // d(32) = 10.47 -> floor 10; d(1) = 22.51 -> ceil 23.
  const double low = 10, high = 23;
  for (int i = 0; i < 32; ++i) {
    const double extra = std::pow(10000.0, -2.0 * i / 64.0);
    const double inter = extra / 40.0;
    double ramp = (i - low) / (high - low);
    ramp = ramp < 0 ? 0 : ramp > 1 ? 1 : ramp;
    const double want = inter * ramp + extra * (1 - ramp);
    EXPECT_NEAR(t.inv_freq[i], want, 1e-15 + 1e-12 * want) << "pair " << i;
  }
  // Below the ramp: unscaled; above: divided by the factor; inside: strictly between.
  EXPECT_DOUBLE_EQ(t.inv_freq[0], 1.0);
  EXPECT_DOUBLE_EQ(t.inv_freq[31], std::pow(10000.0, -62.0 / 64.0) / 40.0);
  const double e16 = std::pow(10000.0, -32.0 / 64.0);
  EXPECT_NEAR(t.inv_freq[16], e16 / 40.0 * (6.0 / 13.0) + e16 * (7.0 / 13.0), 1e-15);
}

TEST(Rope, TinyRopeDimsStillGetAllThreeRampRegions) {
  ModelConfig c = V2LiteRope();
  c.qk_rope_head_dim = 16;
  const RopeTable t = ComputeRope(c);
  // d(32) = 16 ln(4096 / 64 pi) / 2 ln 1e4 = 2.62 -> 2; d(1) = 5.63 -> 6.
  EXPECT_EQ(t.ramp_low, 2);
  EXPECT_EQ(t.ramp_high, 6);
  EXPECT_DOUBLE_EQ(t.inv_freq[1], std::pow(10000.0, -2.0 / 16.0));
  EXPECT_DOUBLE_EQ(t.inv_freq[7], std::pow(10000.0, -14.0 / 16.0) / 40.0);
}

TEST(Rope, AttentionFactorIsTheRatioOfMscales) {
  ModelConfig c = V2LiteRope();
  c.yarn.mscale = 1.0;
  c.yarn.mscale_all_dim = 0.0;  // unset: DeepSeek's code divides by mscale(f, 0) = 1
  EXPECT_NEAR(ComputeRope(c).attention_factor, 0.1 * std::log(40.0) + 1.0, 1e-15);
  c.yarn.mscale_all_dim = 0.5;
  EXPECT_NEAR(ComputeRope(c).attention_factor,
              (0.1 * std::log(40.0) + 1.0) / (0.05 * std::log(40.0) + 1.0), 1e-15);
  c.yarn.enabled = false;
  EXPECT_EQ(ComputeRope(c).attention_factor, 1.0);
  EXPECT_DOUBLE_EQ(ComputeRope(c).inv_freq[3], std::pow(10000.0, -6.0 / 64.0));
}

TEST(Rope, RotatesAdjacentPairsByPositionTimesFrequency) {
  ModelConfig c = V2LiteRope();
  c.qk_rope_head_dim = 8;
  c.yarn.enabled = false;
  const RopeTable t = ComputeRope(c);
  std::vector<float> x = {1, 0, 0, 0, 0, 0, 2, 3};
  ApplyRope(t, 5, x.data());
  const double a0 = 5 * t.inv_freq[0], a3 = 5 * t.inv_freq[3];
  EXPECT_NEAR(x[0], std::cos(a0), 1e-6);
  EXPECT_NEAR(x[1], std::sin(a0), 1e-6);
  EXPECT_EQ(x[2], 0);
  EXPECT_EQ(x[3], 0);
  EXPECT_NEAR(x[6], 2 * std::cos(a3) - 3 * std::sin(a3), 1e-6);
  EXPECT_NEAR(x[7], 2 * std::sin(a3) + 3 * std::cos(a3), 1e-6);
}

TEST(Rope, RotatedDotProductsDependOnlyOnRelativePosition) {
  ModelConfig c = V2LiteRope();
  c.qk_rope_head_dim = 16;
  const RopeTable t = ComputeRope(c);
  auto dot_at = [&](int64_t pq, int64_t pk) {
    std::vector<float> q(16), k(16);
    for (int i = 0; i < 16; ++i) {
      q[i] = std::sin(1.0f + i);
      k[i] = std::cos(2.0f * i);
    }
    ApplyRope(t, pq, q.data());
    ApplyRope(t, pk, k.data());
    double d = 0;
    for (int i = 0; i < 16; ++i) d += double{q[i]} * k[i];
    return d;
  };
  EXPECT_NEAR(dot_at(7, 3), dot_at(104, 100), 1e-4);
  EXPECT_GT(std::fabs(dot_at(7, 3) - dot_at(7, 0)), 1e-3) << "rotation had no effect";
}

}  // namespace
}  // namespace sieve
