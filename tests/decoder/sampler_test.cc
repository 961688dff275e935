// The CPU sampler (decoder/sampler.h) and the shared randomness (cuda/sampling/sample_rng.h):
// semantics of greedy / temperature / top-k / top-p, masked and padding ids never chosen,
// reproducibility, and the Philox known-answer vectors.
#include "decoder/sampler.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <random>
#include <set>
#include <vector>

#include "cuda/sampling/sample_rng.h"

namespace sieve {
namespace {

std::vector<uint32_t> AllowAll(int vocab) {
  std::vector<uint32_t> m((vocab + 31) / 32, 0);
  for (int i = 0; i < vocab; ++i) m[i >> 5] |= 1u << (i & 31);
  return m;
}

void Disallow(std::vector<uint32_t>* m, int id) { (*m)[id >> 5] &= ~(1u << (id & 31)); }

std::vector<float> RandomLogits(int vocab, uint32_t seed, float scale = 3.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, scale);
  std::vector<float> l(vocab);
  for (float& x : l) x = d(rng);
  return l;
}

TEST(Philox, MatchesTheRandom123KnownAnswers) {
  using sampling::Philox4;
  using sampling::Philox4x32;
  Philox4 r = Philox4x32(Philox4{{0, 0, 0, 0}}, 0, 0);
  EXPECT_EQ(r.v[0], 0x6627e8d5u);
  EXPECT_EQ(r.v[1], 0xe169c58du);
  EXPECT_EQ(r.v[2], 0xbc57ac4cu);
  EXPECT_EQ(r.v[3], 0x9b00dbd8u);
  r = Philox4x32(Philox4{{0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu}}, 0xffffffffu,
                 0xffffffffu);
  EXPECT_EQ(r.v[0], 0x408f276du);
  EXPECT_EQ(r.v[1], 0x41c83b0eu);
  EXPECT_EQ(r.v[2], 0xa20bc7c6u);
  EXPECT_EQ(r.v[3], 0x6d5451fdu);
  r = Philox4x32(Philox4{{0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u}}, 0xa4093822u,
                 0x299f31d0u);
  EXPECT_EQ(r.v[0], 0xd16cfe09u);
  EXPECT_EQ(r.v[1], 0x94fdccebu);
  EXPECT_EQ(r.v[2], 0x5001e420u);
  EXPECT_EQ(r.v[3], 0x24126ea1u);
}

TEST(Philox, PortableLogIsAccurate) {
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> d(1e-7f, 100.0f);
  for (int i = 0; i < 100000; ++i) {
    const float x = d(rng);
    EXPECT_NEAR(sampling::PortableLog(x), std::log(static_cast<double>(x)),
                2e-7 * std::max(1.0, std::fabs(std::log(static_cast<double>(x)))))
        << x;
  }
  EXPECT_EQ(sampling::PortableLog(1.0f), 0.0f);
}

TEST(Philox, UniformsAreInTheOpenIntervalAndVary) {
  std::set<float> seen;
  for (uint32_t t = 0; t < 1000; ++t) {
    const float u = sampling::TokenUniform(42, 3, t);
    ASSERT_GT(u, 0.0f);
    ASSERT_LT(u, 1.0f);
    seen.insert(u);
  }
  EXPECT_GT(seen.size(), 990u);
  EXPECT_NE(sampling::TokenUniform(1, 0, 0), sampling::TokenUniform(2, 0, 0));
  EXPECT_NE(sampling::TokenUniform(1, 0, 0), sampling::TokenUniform(1, 1, 0));
}

TEST(Sampler, GreedyPicksTheLargestAllowedLogitLowestIdOnTies) {
  std::vector<float> l = {1, 5, 3, 5, -2};
  auto m = AllowAll(5);
  SamplingParams p;
  EXPECT_EQ(SampleToken(l.data(), 5, m.data(), 1, p, 0), 1);
  Disallow(&m, 1);
  EXPECT_EQ(SampleToken(l.data(), 5, m.data(), 1, p, 0), 3);
  Disallow(&m, 3);
  EXPECT_EQ(SampleToken(l.data(), 5, m.data(), 1, p, 0), 2);
}

TEST(Sampler, NothingAllowedYieldsMinusOne) {
  std::vector<float> l = {1, 2, 3};
  std::vector<uint32_t> m = {0};
  SamplingParams p;
  EXPECT_EQ(SampleToken(l.data(), 3, m.data(), 1, p, 0), -1);
  p.temperature = 1;
  EXPECT_EQ(SampleToken(l.data(), 3, m.data(), 1, p, 0), -1);
  // -inf and NaN logits are never chosen either.
  std::vector<float> bad = {-INFINITY, NAN, -INFINITY};
  auto all = AllowAll(3);
  EXPECT_EQ(SampleToken(bad.data(), 3, all.data(), 1, p, 0), -1);
}

TEST(Sampler, MaskedAndPaddingIdsAreNeverChosen) {
  // vocab 100 logits, but the mask covers 64 ids (2 words): ids 64..99 are model padding.
  const int vocab = 100;
  std::vector<float> l = RandomLogits(vocab, 1);
  for (int i = 64; i < vocab; ++i) l[i] = 50.0f;  // padding would win every draw if allowed
  std::vector<uint32_t> m = AllowAll(64);
  for (int i = 0; i < 64; i += 3) Disallow(&m, i);
  for (float t : {0.0f, 0.5f, 1.0f, 4.0f}) {
    for (uint64_t seed = 0; seed < 300; ++seed) {
      SamplingParams p;
      p.temperature = t;
      p.seed = seed;
      const int32_t id = SampleToken(l.data(), vocab, m.data(), 2, p, seed * 7);
      ASSERT_GE(id, 0);
      ASSERT_LT(id, 64) << "padding id chosen";
      ASSERT_NE(id % 3, 0) << "masked id chosen";
    }
  }
}

TEST(Sampler, TemperatureSamplingFollowsTheSoftmax) {
  std::vector<float> l = {0.0f, 1.0f, 2.0f, -1.0f};
  auto m = AllowAll(4);
  for (float t : {0.7f, 1.0f, 2.0f}) {
    std::vector<double> expect(4);
    double z = 0;
    for (int i = 0; i < 4; ++i) z += expect[i] = std::exp(l[i] / t);
    std::vector<int> count(4, 0);
    const int n = 40000;
    SamplingParams p;
    p.temperature = t;
    p.seed = 99;
    for (int k = 0; k < n; ++k) ++count[SampleToken(l.data(), 4, m.data(), 1, p, k)];
    for (int i = 0; i < 4; ++i) {
      const double q = expect[i] / z;
      EXPECT_NEAR(count[i] / static_cast<double>(n), q, 5 * std::sqrt(q * (1 - q) / n) + 1e-3)
          << "t=" << t << " id=" << i;
    }
  }
}

TEST(Sampler, TopKKeepsExactlyTheKLargest) {
  const int vocab = 50;
  std::vector<float> l = RandomLogits(vocab, 3, 0.3f);  // flat: every id has a fair chance
  auto m = AllowAll(vocab);
  std::vector<int> order(vocab);
  for (int i = 0; i < vocab; ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](int a, int b) { return l[a] > l[b]; });
  for (int k : {1, 2, 5}) {
    const std::set<int> top(order.begin(), order.begin() + k);
    std::set<int> seen;
    SamplingParams p;
    p.temperature = 1.0f;
    p.top_k = k;
    p.seed = 5;
    for (int i = 0; i < 2000; ++i) {
      const int id = SampleToken(l.data(), vocab, m.data(), 2, p, i);
      ASSERT_TRUE(top.count(id)) << "k=" << k << " chose " << id;
      seen.insert(id);
    }
    EXPECT_EQ(seen, top) << "every one of the top " << k << " should appear";
  }
  // top_k = 1 with any temperature is greedy.
  SamplingParams p;
  p.temperature = 3.0f;
  p.top_k = 1;
  EXPECT_EQ(SampleToken(l.data(), vocab, m.data(), 2, p, 17), order[0]);
}

TEST(Sampler, TopPKeepsTheSmallestNucleus) {
  // Probabilities 0.5, 0.25, 0.125, 0.0625, ... : top_p 0.7 keeps the first two (0.75 >= 0.7).
  std::vector<float> l = {0.0f, -std::log(2.0f), -std::log(4.0f), -std::log(8.0f),
                          -std::log(16.0f)};
  auto m = AllowAll(5);
  SamplingParams p;
  p.temperature = 1.0f;
  p.top_p = 0.7f;
  std::set<int> seen;
  for (int i = 0; i < 3000; ++i) seen.insert(SampleToken(l.data(), 5, m.data(), 1, p, i));
  EXPECT_EQ(seen, (std::set<int>{0, 1}));
  p.top_p = 0.5f;  // the first alone reaches 0.5
  seen.clear();
  for (int i = 0; i < 500; ++i) seen.insert(SampleToken(l.data(), 5, m.data(), 1, p, i));
  EXPECT_EQ(seen, (std::set<int>{0}));
  p.top_p = 0.8f;  // needs the third
  seen.clear();
  for (int i = 0; i < 5000; ++i) seen.insert(SampleToken(l.data(), 5, m.data(), 1, p, i));
  EXPECT_EQ(seen, (std::set<int>{0, 1, 2}));
  // The mass is renormalised over the allowed ids: with 0 masked, 1 leads with 0.5 of the rest.
  Disallow(&m, 0);
  p.top_p = 0.5f;
  seen.clear();
  for (int i = 0; i < 500; ++i) seen.insert(SampleToken(l.data(), 5, m.data(), 1, p, i));
  EXPECT_EQ(seen, (std::set<int>{1}));
}

TEST(Sampler, SameSeedSameChoiceDifferentSeedsSpread) {
  const int vocab = 1000;
  std::vector<float> l = RandomLogits(vocab, 11, 0.5f);
  auto m = AllowAll(vocab);
  SamplingParams p;
  p.temperature = 1.0f;
  p.top_k = 100;
  p.top_p = 0.9f;
  std::set<int> across_seeds;
  for (uint64_t seed = 0; seed < 50; ++seed) {
    p.seed = seed;
    const int a = SampleToken(l.data(), vocab, m.data(), 32, p, 4);
    EXPECT_EQ(a, SampleToken(l.data(), vocab, m.data(), 32, p, 4));
    across_seeds.insert(a);
  }
  EXPECT_GT(across_seeds.size(), 20u);
}

TEST(Sampler, InvalidParametersAreRefusedByName) {
  SamplingParams p;
  p.temperature = -1;
  EXPECT_NE(ValidateSamplingParams(p).message().find("temperature"), std::string::npos);
  p = {};
  p.top_k = -2;
  EXPECT_NE(ValidateSamplingParams(p).message().find("top_k"), std::string::npos);
  p = {};
  p.top_p = 0;
  EXPECT_NE(ValidateSamplingParams(p).message().find("top_p"), std::string::npos);
  p.top_p = 1.5f;
  EXPECT_FALSE(ValidateSamplingParams(p).ok());
  p = {};
  p.temperature = NAN;
  EXPECT_FALSE(ValidateSamplingParams(p).ok());
  EXPECT_TRUE(ValidateSamplingParams(SamplingParams{}).ok());
}

}  // namespace
}  // namespace sieve
