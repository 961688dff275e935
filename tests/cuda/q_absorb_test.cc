// The fused absorbed-query kernel (q_absorb.h) against a double CPU product for q_lat (every
// element) and against LaunchRope bit for bit for the rotated q_pe, over V2-Lite's shape, odd
// widths (a partial column block, nope not a multiple of 16) and 1 and 2 tokens; the padding
// between output heads stays untouched; shapes it does not take are refused.
#include "cuda/attention/q_absorb.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "cuda/rope/rope.h"
#include "tests/cuda/cuda_test_util.h"

namespace sieve::cuda {
namespace {

using testing::DeviceBuffer;
using testing::ExpectRefused;
using testing::HaveDevice;
using testing::RandomBf16Values;
using testing::RoundBf16;
using testing::ToBf16;

struct AbsorbCase {
  int tokens, heads, nope, lat, rd;
};

void CheckAbsorb(const AbsorbCase& c) {
  SCOPED_TRACE(::testing::Message() << "tokens " << c.tokens << " heads " << c.heads << " nope "
                                    << c.nope << " lat " << c.lat << " rope " << c.rd);
  const int qk = c.nope + c.rd, vd = 8;
  const int64_t q_stride = static_cast<int64_t>(c.heads) * qk + 4;
  std::mt19937 rng(c.heads * 7 + c.lat);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> q(static_cast<size_t>(c.tokens) * q_stride);
  for (float& v : q) v = dist(rng);
  // kv_b_proj-like stacking: per head nope rows of W_UK then vd rows of W_UV, each lat wide.
  const int64_t w_head = static_cast<int64_t>(c.nope + vd) * c.lat;
  const std::vector<float> w = RandomBf16Values(static_cast<size_t>(c.heads) * w_head, 0.1f, 11);
  const int64_t out_head = c.lat + c.rd + 2, out_stride = c.heads * out_head;
  std::vector<int32_t> pos(c.tokens);
  for (int t = 0; t < c.tokens; ++t) pos[t] = 4095 - 17 * t;
  std::vector<float> inv_freq(std::max(c.rd / 2, 1));
  for (int i = 0; i < c.rd / 2; ++i) inv_freq[i] = std::pow(10000.0f, -2.0f * i / c.rd);

  DeviceBuffer<float> d_q(q), d_out(static_cast<size_t>(c.tokens) * out_stride),
      d_rope(static_cast<size_t>(c.tokens) * out_stride), d_freq(inv_freq);
  DeviceBuffer<__nv_bfloat16> d_w(ToBf16(w));
  DeviceBuffer<int32_t> d_pos(pos);
  ASSERT_TRUE(d_q.ok() && d_out.ok() && d_rope.ok() && d_freq.ok() && d_w.ok() && d_pos.ok());
  ASSERT_TRUE(d_out.Poison() && d_rope.Poison());
  QAbsorbParams p{d_q.get(),  q_stride, qk,          d_w.get(),    w_head, d_out.get(),
                  out_stride, out_head, d_pos.get(), d_freq.get(), 1.0f,   c.tokens,
                  c.heads,    c.nope,   c.lat,       c.rd};
  ASSERT_TRUE(QAbsorbSupported(p));
  ASSERT_EQ(LaunchQAbsorb(p, nullptr), cudaSuccess);
  RopeParams rp{d_q.get() + c.nope,
                q_stride,
                qk,
                d_rope.get() + c.lat,
                out_stride,
                out_head,
                d_pos.get(),
                d_freq.get(),
                1.0f,
                c.tokens,
                c.heads,
                c.rd};
  ASSERT_EQ(LaunchRope(rp, nullptr), cudaSuccess);
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  const std::vector<float> got = d_out.Download(), rope = d_rope.Download();
  for (int t = 0; t < c.tokens; ++t) {
    for (int h = 0; h < c.heads; ++h) {
      const float* o = got.data() + t * out_stride + h * out_head;
      for (int j = 0; j < c.lat; ++j) {
        double sum = 0, mag = 0;
        for (int r = 0; r < c.nope; ++r) {
          const double v = static_cast<double>(RoundBf16(q[t * q_stride + h * qk + r])) *
                           w[h * w_head + static_cast<int64_t>(r) * c.lat + j];
          sum += v;
          mag += std::fabs(v);
        }
        ASSERT_TRUE(std::isfinite(o[j])) << "token " << t << " head " << h << " column " << j;
        ASSERT_LE(std::fabs(o[j] - sum), 1e-5 * mag + 1e-7)
            << "token " << t << " head " << h << " column " << j;
      }
      const float* want_rope = rope.data() + t * out_stride + h * out_head + c.lat;
      EXPECT_EQ(std::memcmp(o + c.lat, want_rope, sizeof(float) * c.rd), 0)
          << "rope of token " << t << " head " << h;
      EXPECT_TRUE(std::isnan(o[c.lat + c.rd]) && std::isnan(o[c.lat + c.rd + 1]))
          << "padding written at token " << t << " head " << h;
    }
  }
}

TEST(QAbsorb, MatchesDoubleProductsAndTheRopeKernel) {
  if (!HaveDevice()) GTEST_SKIP() << "no CUDA device";
  CheckAbsorb({1, 16, 128, 512, 64});  // V2-Lite, batch 1
  CheckAbsorb({2, 16, 128, 512, 64});  // batch 2
  CheckAbsorb({1, 3, 24, 40, 8});      // partial column block, nope not a multiple of 16
  CheckAbsorb({2, 5, 200, 136, 16});   // 13 rows per group, two column blocks
}

TEST(QAbsorb, RefusesShapesItDoesNotTake) {
  if (!HaveDevice()) GTEST_SKIP() << "no CUDA device";
  DeviceBuffer<float> f(4096);
  DeviceBuffer<__nv_bfloat16> w(4096);
  DeviceBuffer<int32_t> pos(std::vector<int32_t>{0, 1, 2});
  ASSERT_TRUE(f.ok() && w.ok() && pos.ok());
  QAbsorbParams p{
      f.get(), 64, 32, w.get(), 512, f.get() + 1024, 64, 48, pos.get(), f.get() + 2048, 1.0f,
      1,       2,  24, 40,      8};
  EXPECT_TRUE(QAbsorbSupported(p));
  const auto launch = [](const QAbsorbParams& q) { return LaunchQAbsorb(q, nullptr); };
  using P = QAbsorbParams;
  ExpectRefused(p, launch, "too many tokens", [](P& q) { q.tokens = kQAbsorbMaxTokens + 1; });
  ExpectRefused(p, launch, "lat not a multiple of 8", [](P& q) { q.lat = 36; });
  ExpectRefused(p, launch, "w_uk not 16-byte aligned", [&](P& q) { q.w_uk = w.get() + 1; });
  QAbsorbParams q = p;
  q.nope = 257;  // more rows than the row groups hold
  q.q_head_stride = 300;
  EXPECT_FALSE(QAbsorbSupported(q));
  EXPECT_EQ(cudaGetLastError(), cudaSuccess);
}

}  // namespace
}  // namespace sieve::cuda
