// The fused absorbed-query kernel (q_absorb.h) against a double CPU product for q_lat (every
// element) and against LaunchRope bit for bit for the rotated q_pe, over V2-Lite's shape, odd
// widths (a partial column block, nope not a multiple of 16) and 1 and 2 tokens; the padding
// between output heads stays untouched; shapes it does not take are refused. The latent cache
// append in the same launch equals the separate append kernel bit for bit.
#include "cuda/attention/q_absorb.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "cuda/attention/latent_cache.h"
#include "cuda/rope/rope.h"
#include "tests/cuda/cuda_test_util.h"

namespace sieve::cuda {
namespace {

using testing::DeviceBuffer;
using testing::ExpectRefused;
using testing::HaveDevice;
using testing::RandomBf16Values;
using testing::RoundBf16;
using testing::SameBits;
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

// The 1-2 token decoder chain appends the latent cache rows in the q absorb launch's own blocks
// (gpu_forward.cc): the cache rows and q_abs must equal separate LaunchLatentAppend +
// LaunchQAbsorb bit for bit, with PDL too, a skipped token (negative slot) left alone, and more
// tokens than column blocks (the tiny shape: one column block, two tokens).
void CheckAbsorbWithAppend(const AbsorbCase& c, const std::vector<int64_t>& slots) {
  SCOPED_TRACE(::testing::Message() << "tokens " << c.tokens << " heads " << c.heads << " lat "
                                    << c.lat << " rope " << c.rd);
  const int qk = c.nope + c.rd, width = c.lat + c.rd, page_rows = 8;
  const int64_t q_stride = static_cast<int64_t>(c.heads) * qk;
  const int64_t w_head = static_cast<int64_t>(c.nope + 8) * c.lat;
  const int64_t out_head = c.lat + c.rd, out_stride = c.heads * out_head;
  std::vector<int32_t> pos(c.tokens);
  for (int t = 0; t < c.tokens; ++t) pos[t] = 1000 + 3 * t;
  std::vector<float> inv_freq(c.rd / 2);
  for (int i = 0; i < c.rd / 2; ++i) inv_freq[i] = std::pow(10000.0f, -2.0f * i / c.rd);
  DeviceBuffer<float> d_q(RandomBf16Values(static_cast<size_t>(c.tokens) * q_stride, 1.0f, 3)),
      d_kv(RandomBf16Values(static_cast<size_t>(c.tokens) * width, 1.0f, 5)), d_freq(inv_freq);
  DeviceBuffer<__nv_bfloat16> d_w(ToBf16(RandomBf16Values(c.heads * w_head, 0.1f, 7))),
      d_norm(ToBf16(RandomBf16Values(c.lat, 0.5f, 9)));
  DeviceBuffer<int32_t> d_pos(pos);
  DeviceBuffer<int64_t> d_slots(slots);
  ASSERT_TRUE(d_q.ok() && d_kv.ok() && d_freq.ok() && d_w.ok() && d_norm.ok() && d_pos.ok() &&
              d_slots.ok());
  cudaStream_t stream = nullptr;
  ASSERT_EQ(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking), cudaSuccess);
  std::vector<float> want_out;
  std::vector<__nv_bfloat16> want_cache;
  for (int run = 0; run < 3; ++run) {  // separate launches, then one launch without / with PDL
    SCOPED_TRACE(::testing::Message() << "run " << run);
    DeviceBuffer<float> d_out(static_cast<size_t>(c.tokens) * out_stride);
    DeviceBuffer<__nv_bfloat16> d_cache(static_cast<size_t>(page_rows) * width);
    ASSERT_TRUE(d_out.ok() && d_cache.ok() && d_out.Poison() && d_cache.Poison());
    const QAbsorbParams p{d_q.get(),  q_stride, qk,          d_w.get(),    w_head, d_out.get(),
                          out_stride, out_head, d_pos.get(), d_freq.get(), 1.0f,   c.tokens,
                          c.heads,    c.nope,   c.lat,       c.rd};
    const LatentAppendParams la{d_kv.get(),    width,        d_norm.get(), 1e-6f,
                                d_pos.get(),   d_freq.get(), 1.0f,         d_slots.get(),
                                d_cache.get(), c.tokens,     c.lat,        c.rd};
    if (run == 0) {
      ASSERT_EQ(LaunchLatentAppend(la, stream), cudaSuccess);
      ASSERT_EQ(LaunchQAbsorb(p, stream), cudaSuccess);
    } else {
      ASSERT_EQ(LaunchQAbsorb(p, stream, /*pdl=*/run == 2, &la), cudaSuccess);
    }
    ASSERT_EQ(cudaStreamSynchronize(stream), cudaSuccess);
    const std::vector<float> out = d_out.Download();
    const std::vector<__nv_bfloat16> cache = d_cache.Download();
    if (run == 0) {
      want_out = out;
      want_cache = cache;
      for (int64_t slot : slots) {  // the appended rows are written and finite
        for (int i = 0; slot >= 0 && i < width; ++i) {
          ASSERT_TRUE(std::isfinite(__bfloat162float(cache[slot * width + i]))) << "slot " << slot;
        }
      }
      continue;
    }
    EXPECT_TRUE(SameBits(out, want_out)) << "q_abs";
    EXPECT_TRUE(SameBits(cache, want_cache)) << "cache rows";
  }
  ASSERT_EQ(cudaStreamDestroy(stream), cudaSuccess);
}

TEST(QAbsorb, AppendInTheSameLaunchEqualsSeparateLaunchesBitForBit) {
  if (!HaveDevice()) GTEST_SKIP() << "no CUDA device";
  CheckAbsorbWithAppend({1, 16, 128, 512, 64}, {5});      // V2-Lite, batch 1
  CheckAbsorbWithAppend({2, 16, 128, 512, 64}, {3, -1});  // batch 2, the second token skipped
  CheckAbsorbWithAppend({2, 3, 24, 40, 8}, {7, 0});       // two tokens, one column block
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
  // An append LaunchLatentAppend would refuse (odd rope width) is refused with the absorption.
  DeviceBuffer<__nv_bfloat16> cache(4096);
  DeviceBuffer<int64_t> slots(std::vector<int64_t>{0});
  ASSERT_TRUE(cache.ok() && slots.ok());
  LatentAppendParams la{f.get(), 48,          w.get(),     1e-6f, pos.get(), f.get() + 2048,
                        1.0f,    slots.get(), cache.get(), 1,     40,        8};
  ASSERT_EQ(LaunchQAbsorb(p, nullptr, false, &la), cudaSuccess);
  la.rope_dim = 7;
  EXPECT_EQ(LaunchQAbsorb(p, nullptr, false, &la), cudaErrorInvalidValue);
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  EXPECT_EQ(cudaGetLastError(), cudaSuccess);
}

}  // namespace
}  // namespace sieve::cuda
