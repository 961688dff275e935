// The value up-projection kernel (value_up.h) against a double CPU product, every element:
// V2-Lite's shape (16 heads, lat 512, v 128) at 1 and 2 tokens, odd shapes (a warp whose second row
// is past the end, lat not a multiple of 256, rows of two heads in one warp), the widest lat,
// padded strides whose padding must stay untouched, PDL launches behind a kernel that writes o_lat
// (a read before the wait would see the poison), and the shapes it refuses.
#include "cuda/attention/value_up.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "cuda/elementwise/elementwise.h"
#include "tests/cuda/cuda_test_util.h"

namespace sieve::cuda {
namespace {

using testing::DeviceBuffer;
using testing::ExpectRefused;
using testing::FromBf16;
using testing::HaveDevice;
using testing::RandomBf16Values;
using testing::ToBf16;

struct ValueUpCase {
  int tokens, heads, lat, v;
};

void CheckValueUp(const ValueUpCase& c, bool pdl) {
  SCOPED_TRACE(::testing::Message() << "tokens " << c.tokens << " heads " << c.heads << " lat "
                                    << c.lat << " v " << c.v << (pdl ? " pdl" : ""));
  const int64_t lat_head = c.lat + 8, lat_token = c.heads * lat_head + 16;
  const int64_t w_head = static_cast<int64_t>(c.v + 3) * c.lat;  // kv_b-like: other rows between
  const int64_t out_head = c.v + 2, out_token = c.heads * out_head + 1;
  const std::vector<float> o_lat =
      RandomBf16Values(static_cast<size_t>(c.tokens) * lat_token, 1.0f, c.lat + c.heads);
  const std::vector<float> w =
      RandomBf16Values(static_cast<size_t>(c.heads) * w_head, 0.05f, c.v * 3 + c.lat);
  DeviceBuffer<__nv_bfloat16> d_w(ToBf16(w)), d_lat(static_cast<size_t>(c.tokens) * lat_token),
      d_out(static_cast<size_t>(c.tokens) * out_token);
  DeviceBuffer<float> d_src(o_lat);  // bf16-exact values: the cast below copies them exactly
  ASSERT_TRUE(d_w.ok() && d_src.ok() && d_lat.ok() && d_out.ok());
  ASSERT_TRUE(d_lat.Poison() && d_out.Poison());  // NaN everywhere
  cudaStream_t stream = nullptr;
  ASSERT_EQ(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking), cudaSuccess);
  // o_lat is written by the kernel just before on the stream, as the MLA combine writes it in the
  // decoder: with PDL a read before the wait would see NaN.
  const CastToBf16Params cast{d_src.get(), lat_token, d_lat.get(),
                              lat_token,   c.tokens,  static_cast<int32_t>(lat_token)};
  ASSERT_EQ(LaunchCastToBf16(cast, stream), cudaSuccess);
  ValueUpParams p{d_lat.get(), lat_token,   lat_head,  d_w.get() + 3 * c.lat,
                  w_head,      d_out.get(), out_token, out_head,
                  c.tokens,    c.heads,     c.lat,     c.v};
  ASSERT_TRUE(ValueUpSupported(p));
  ASSERT_EQ(LaunchValueUp(p, stream, pdl), cudaSuccess);
  ASSERT_EQ(cudaStreamSynchronize(stream), cudaSuccess);
  ASSERT_EQ(cudaStreamDestroy(stream), cudaSuccess);
  const std::vector<float> got = FromBf16(d_out.Download());
  for (int t = 0; t < c.tokens; ++t) {
    for (int h = 0; h < c.heads; ++h) {
      for (int64_t j = 0; j < out_head; ++j) {
        const float g = got[t * out_token + h * out_head + j];
        if (j >= c.v) {
          ASSERT_TRUE(std::isnan(g)) << "padding written at token " << t << " head " << h;
          continue;
        }
        double want = 0, mag = 0;
        for (int l = 0; l < c.lat; ++l) {
          const double prod = static_cast<double>(w[h * w_head + (3 + j) * c.lat + l]) *
                              o_lat[t * lat_token + h * lat_head + l];
          want += prod;
          mag += std::fabs(prod);
        }
        // fp32 sums (~1e-5 of sum |products|), then one bf16 rounding (at most half an ulp:
        // 2^-8 of the value just above a power of two).
        const double bound = 1e-5 * mag + 4e-3 * std::fabs(want) + 1e-6;
        ASSERT_TRUE(std::isfinite(g)) << "token " << t << " head " << h << " row " << j;
        ASSERT_LE(std::fabs(g - want), bound)
            << "token " << t << " head " << h << " row " << j << " got " << g << " want " << want;
      }
    }
    if (t + 1 < c.tokens) {  // the padding between token rows
      for (int64_t j = c.heads * out_head; j < out_token; ++j) {
        ASSERT_TRUE(std::isnan(got[t * out_token + j])) << "token padding written";
      }
    }
  }
}

TEST(ValueUp, MatchesDoubleProductsForEveryElement) {
  if (!HaveDevice()) GTEST_SKIP() << "no CUDA device";
  for (bool pdl : {false, true}) {
    CheckValueUp({1, 16, 512, 128}, pdl);  // V2-Lite, batch 1
    CheckValueUp({2, 16, 512, 128}, pdl);  // batch 2
  }
  CheckValueUp({1, 3, 40, 7}, false);     // 21 rows: the last warp's second row past the end
  CheckValueUp({2, 5, 264, 3}, true);     // warps spanning two heads, lat not a multiple of 256
  CheckValueUp({1, 2, 1024, 16}, false);  // the widest lat
}

TEST(ValueUp, RefusesShapesItCannotRun) {
  if (!HaveDevice()) GTEST_SKIP() << "no CUDA device";
  DeviceBuffer<__nv_bfloat16> buf(1 << 16);
  ASSERT_TRUE(buf.ok());
  const ValueUpParams p{buf.get(), 1024, 512, buf.get(), 8 * 512, buf.get(), 64, 8, 1, 2, 512, 8};
  EXPECT_TRUE(ValueUpSupported(p));
  const auto launch = [](const ValueUpParams& q) { return LaunchValueUp(q, nullptr); };
  using P = ValueUpParams;
  ExpectRefused(p, launch, "too many tokens", [](P& q) { q.tokens = kValueUpMaxTokens + 1; });
  ExpectRefused(p, launch, "lat not a multiple of 8", [](P& q) {
    q.lat = 516;
    q.o_lat_head_stride = 520;
  });
  ExpectRefused(p, launch, "lat too wide", [](P& q) {
    q.lat = kValueUpMaxLat + 8;
    q.o_lat_head_stride = q.lat;
    q.w_head_stride = 8 * q.lat;
  });
  ExpectRefused(p, launch, "w_uv not 16-byte aligned", [&](P& q) { q.w_uv = buf.get() + 1; });
  ExpectRefused(p, launch, "o_lat head stride narrower than lat",
                [](P& q) { q.o_lat_head_stride = 256; });
  ExpectRefused(p, launch, "out head stride narrower than v", [](P& q) { q.out_head_stride = 4; });
  EXPECT_EQ(cudaGetLastError(), cudaSuccess);
}

}  // namespace
}  // namespace sieve::cuda
