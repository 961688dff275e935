// The glue kernels of the GPU forward pass against CPU references: embedding gather (bad ids give
// zero rows), SiluMul over a fused gate|up row, strided fp32 -> bf16 casts, row gathers, the fp32
// router projection, the argmax (lowest index among ties, NaN never wins, odd vocab sizes,
// V2's 102400), and MLA attention with prefill-style query rows that share one sequence's
// block table through row_seq, each with its own causal length.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <vector>

#include "cuda/attention/mla_decode.h"
#include "cuda/config.h"
#include "cuda/elementwise/elementwise.h"
#include "cuda/moe/router_logits.h"
#include "cuda/sampling/argmax.h"
#include "tests/cuda/cuda_test_util.h"

namespace sieve::cuda {
namespace {

using testing::AllClose;
using testing::DeviceBuffer;
using testing::FromBf16;
using testing::HaveDevice;
using testing::RandomBf16Values;
using testing::RoundBf16;
using testing::ToBf16;

TEST(Embedding, GathersRowsAndZeroesOutOfRangeIds) {
  if (!HaveDevice()) GTEST_SKIP() << "no CUDA device";
  const int vocab = 37, dim = 300, stride = 305;
  const std::vector<float> table = RandomBf16Values(vocab * dim, 1.0f, 1);
  const std::vector<int32_t> ids = {0, 36, 5, -1, 37, 5};
  std::vector<float> want(ids.size() * stride, NAN);
  for (size_t t = 0; t < ids.size(); ++t) {
    for (int i = 0; i < dim; ++i) {
      want[t * stride + i] = ids[t] >= 0 && ids[t] < vocab ? table[ids[t] * dim + i] : 0.0f;
    }
  }
  DeviceBuffer<__nv_bfloat16> d_table(ToBf16(table));
  DeviceBuffer<int32_t> d_ids(ids);
  DeviceBuffer<float> d_out(want.size());
  ASSERT_TRUE(d_out.Poison());
  EmbeddingParams p{
      d_table.get(), d_ids.get(), d_out.get(), stride, static_cast<int32_t>(ids.size()),
      vocab,         dim};
  ASSERT_EQ(LaunchEmbedding(p, nullptr), cudaSuccess);
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  EXPECT_TRUE(AllClose(d_out.Download(), want, 0, 0));  // padding stays NaN
}

TEST(SiluMul, MultipliesSiluOfGateByUpAndRoundsOnce) {
  if (!HaveDevice()) GTEST_SKIP() << "no CUDA device";
  const int rows = 5, inter = 1408, in_stride = 2 * inter + 3, out_stride = inter + 1;
  std::mt19937 rng(2);
  std::normal_distribution<float> dist(0.0f, 3.0f);
  std::vector<float> in(rows * in_stride);
  for (float& v : in) v = dist(rng);
  std::vector<float> want(rows * out_stride, NAN);
  for (int r = 0; r < rows; ++r) {
    for (int i = 0; i < inter; ++i) {
      const double g = in[r * in_stride + i], u = in[r * in_stride + inter + i];
      want[r * out_stride + i] = RoundBf16(static_cast<float>(g / (1 + std::exp(-g)) * u));
    }
  }
  DeviceBuffer<float> d_in(in);
  DeviceBuffer<__nv_bfloat16> d_out(want.size());
  ASSERT_TRUE(d_out.Poison());
  SiluMulParams p{d_in.get(), in_stride, d_out.get(), out_stride, rows, inter};
  ASSERT_EQ(LaunchSiluMul(p, nullptr), cudaSuccess);
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  EXPECT_TRUE(AllClose(FromBf16(d_out.Download()), want, 1e-6, 8e-3));
}

TEST(CastToBf16, RoundsStridedRowsToNearestEven) {
  if (!HaveDevice()) GTEST_SKIP() << "no CUDA device";
  // q_nope out of a [tokens, heads, 192] q: rows of 128 at stride 192, packed to stride 128.
  const int rows = 3 * 16, cols = 128, src_stride = 192;
  std::mt19937 rng(3);
  std::normal_distribution<float> dist(0.0f, 2.0f);
  std::vector<float> src(rows * src_stride);
  for (float& v : src) v = dist(rng);
  std::vector<float> want(rows * cols);
  for (int r = 0; r < rows; ++r) {
    for (int i = 0; i < cols; ++i) want[r * cols + i] = RoundBf16(src[r * src_stride + i]);
  }
  DeviceBuffer<float> d_src(src);
  DeviceBuffer<__nv_bfloat16> d_dst(want.size());
  ASSERT_TRUE(d_dst.Poison());
  CastToBf16Params p{d_src.get(), src_stride, d_dst.get(), cols, rows, cols};
  ASSERT_EQ(LaunchCastToBf16(p, nullptr), cudaSuccess);
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  EXPECT_TRUE(AllClose(FromBf16(d_dst.Download()), want, 0, 0));
}

TEST(GatherRows, CopiesTheListedRowsInOrder) {
  if (!HaveDevice()) GTEST_SKIP() << "no CUDA device";
  const int src_rows = 9, dim = 70, stride = 72;
  const std::vector<float> src = RandomBf16Values(src_rows * stride, 1.0f, 4);
  const std::vector<int32_t> rows = {8, 0, 3, 3};
  std::vector<float> want(rows.size() * stride, NAN);
  for (size_t r = 0; r < rows.size(); ++r) {
    for (int i = 0; i < dim; ++i) want[r * stride + i] = src[rows[r] * stride + i];
  }
  DeviceBuffer<__nv_bfloat16> d_src(ToBf16(src)), d_dst(want.size());
  DeviceBuffer<int32_t> d_rows(rows);
  ASSERT_TRUE(d_dst.Poison());
  GatherRowsParams p{d_src.get(), src_rows, d_rows.get(),
                     d_dst.get(), stride,   static_cast<int32_t>(rows.size()),
                     dim};
  ASSERT_EQ(LaunchGatherRows(p, nullptr), cudaSuccess);
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  EXPECT_TRUE(AllClose(FromBf16(d_dst.Download()), want, 0, 0));
}

TEST(RouterLogits, IsAnFp32ProductOfBf16InputsAndFp32Weights) {
  if (!HaveDevice()) GTEST_SKIP() << "no CUDA device";
  for (auto [tokens, experts, hidden] :
       {std::tuple{1, 64, 2048}, std::tuple{7, 8, 64}, std::tuple{3, 160, 5120},
        std::tuple{2, 5, 70},       // 70: not a multiple of 4, the scalar path
        std::tuple{2100, 64, 256},  // the tiled form: a partial last tile of tokens
        std::tuple{2048, 160, 200},  // expert tiles of 64 (the last partial), a partial k slice
        std::tuple{2050, 5, 70}}) {
    SCOPED_TRACE(::testing::Message() << tokens << " x " << experts << " x " << hidden);
    const int x_stride = hidden + 4, l_stride = experts + 1;
    const std::vector<float> x = RandomBf16Values(tokens * x_stride, 1.0f, 5);
    std::mt19937 rng(6);
    std::normal_distribution<float> dist(0.0f, 0.1f);
    std::vector<float> w(experts * hidden);
    for (float& v : w) v = dist(rng);
    std::vector<float> want(tokens * l_stride, NAN);
    for (int t = 0; t < tokens; ++t) {
      for (int e = 0; e < experts; ++e) {
        double s = 0;
        for (int k = 0; k < hidden; ++k)
          s += static_cast<double>(x[t * x_stride + k]) * w[e * hidden + k];
        want[t * l_stride + e] = static_cast<float>(s);
      }
    }
    DeviceBuffer<__nv_bfloat16> d_x(ToBf16(x));
    DeviceBuffer<float> d_w(w), d_out(want.size());
    ASSERT_TRUE(d_out.Poison());
    RouterLogitsParams p{d_x.get(), x_stride, d_w.get(), d_out.get(),
                         l_stride,  tokens,   experts,   hidden};
    ASSERT_EQ(LaunchRouterLogits(p, nullptr), cudaSuccess);
    ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
    // The tiled form sums each output in k order (two partial sums): a looser absolute bound.
    const double atol = tokens >= kRouterTiledMinTokens ? 1e-4 : 2e-5;
    EXPECT_TRUE(AllClose(d_out.Download(), want, atol, 1e-5));
  }
}

// Rows vocab + 3 apart (16-byte aligned only at row 0: the scalar scan) or a multiple of 4 apart
// (every row on the 16-byte path, the last vocab % 4 by the scalar tail).
void CheckArgmax(int vocab, bool aligned) {
  SCOPED_TRACE(::testing::Message() << "vocab " << vocab << (aligned ? ", aligned rows" : ""));
  const int rows = 6, stride = aligned ? (vocab + 3) / 4 * 4 + 4 : vocab + 3;
  std::mt19937 rng(vocab);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> logits(rows * stride, 1e30f);  // padding must be ignored
  for (int r = 0; r < rows; ++r) {
    for (int i = 0; i < vocab; ++i) logits[r * stride + i] = dist(rng);
  }
  // Row 1: a tie between the last index and an earlier one. Row 2: all -inf. Row 3: all NaN.
  // Row 4: NaN at index 0 and the maximum later. Row 5: the maximum at the last index.
  logits[1 * stride + vocab - 1] = 50.0f;
  logits[1 * stride + vocab / 2] = 50.0f;
  for (int i = 0; i < vocab; ++i) logits[2 * stride + i] = -INFINITY;
  for (int i = 0; i < vocab; ++i) logits[3 * stride + i] = NAN;
  logits[4 * stride] = NAN;
  logits[4 * stride + vocab - 1] = 60.0f;
  logits[5 * stride + vocab - 1] = 70.0f;
  std::vector<int32_t> want(rows);
  for (int r = 0; r < rows; ++r) {
    int32_t best = -1;
    for (int i = 0; i < vocab; ++i) {
      const float v = logits[r * stride + i];
      if (!std::isnan(v) && (best < 0 || v > logits[r * stride + best])) best = i;
    }
    want[r] = best < 0 ? 0 : best;
  }
  if (vocab > 1) {
    EXPECT_EQ(want[1], vocab / 2);
  }
  DeviceBuffer<float> d_logits(logits), d_value(rows);
  DeviceBuffer<int32_t> d_index(rows);
  ASSERT_TRUE(d_index.Poison());
  ArgmaxParams p{d_logits.get(), stride, rows, vocab, d_index.get(), d_value.get()};
  ASSERT_EQ(LaunchArgmax(p, nullptr), cudaSuccess);
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  EXPECT_EQ(d_index.Download(), want);
  const std::vector<float> values = d_value.Download();
  EXPECT_EQ(values[0], logits[want[0]]);
  EXPECT_TRUE(std::isnan(values[3]));
}

TEST(Argmax, PicksTheLowestIndexAmongTiesAndNeverNan) {
  if (!HaveDevice()) GTEST_SKIP() << "no CUDA device";
  for (const bool aligned : {false, true}) {
    for (int vocab : {1, 31, 33, 1000, 102400}) CheckArgmax(vocab, aligned);
  }
}

// Prefill through the decode kernel: rows t = 0..n-1 of one sequence, row t sees t + 1 tokens.
TEST(MlaDecode, RowsSharingOneBlockTableAttendCausally) {
  if (!HaveDevice()) GTEST_SKIP() << "no CUDA device";
  const int lat = 512, rd = 64, heads = 4, page = kMlaPageSize, width = lat + rd;
  const int n = 130;  // three pages
  const int max_pages = 4, pool = 6;
  // Block-table row 1 holds the sequence (row 0 is another sequence's garbage).
  std::vector<int32_t> table = {0, 1, 2, 3, 5, 2, 4, 0};
  std::vector<int32_t> row_seq(n, 1), lens(n);
  std::iota(lens.begin(), lens.end(), 1);
  const std::vector<float> cache = RandomBf16Values(pool * page * width, 1.0f, 9);
  std::mt19937 rng(10);
  std::normal_distribution<float> dist(0.0f, 0.3f);
  std::vector<float> q(n * heads * width);
  for (float& v : q) v = dist(rng);
  const float scale = 0.1147213867929261f;
  std::vector<float> want(n * heads * lat);
  for (int t = 0; t < n; ++t) {
    for (int h = 0; h < heads; ++h) {
      const float* qh = q.data() + (t * heads + h) * width;
      std::vector<double> s(lens[t]);
      double mx = -INFINITY;
      auto row = [&](int k) {
        return cache.data() + (table[max_pages + k / page] * page + k % page) * width;
      };
      for (int k = 0; k < lens[t]; ++k) {
        double dot = 0;
        for (int i = 0; i < width; ++i) dot += static_cast<double>(qh[i]) * row(k)[i];
        s[k] = dot * scale;
        mx = std::max(mx, s[k]);
      }
      double sum = 0;
      for (double& v : s) sum += (v = std::exp(v - mx));
      for (int i = 0; i < lat; ++i) {
        double acc = 0;
        for (int k = 0; k < lens[t]; ++k) acc += s[k] * row(k)[i];
        want[(t * heads + h) * lat + i] = static_cast<float>(acc / sum);
      }
    }
  }
  DeviceBuffer<float> d_q(q);
  DeviceBuffer<__nv_bfloat16> d_cache(ToBf16(cache)), d_out(want.size());
  DeviceBuffer<int32_t> d_table(table), d_lens(lens), d_rows(row_seq);
  ASSERT_TRUE(d_out.Poison());
  MlaDecodeParams p{d_q.get(),
                    static_cast<int64_t>(heads) * width,
                    width,
                    d_cache.get(),
                    d_table.get(),
                    max_pages,
                    d_lens.get(),
                    d_out.get(),
                    static_cast<int64_t>(heads) * lat,
                    lat,
                    nullptr,
                    n,
                    heads,
                    lat,
                    rd,
                    page,
                    scale,
                    d_rows.get(),
                    1,
                    nullptr,
                    nullptr};
  ASSERT_EQ(LaunchMlaDecode(p, nullptr), cudaSuccess);
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  EXPECT_TRUE(AllClose(FromBf16(d_out.Download()), want, 2e-3, 8e-3));
}

}  // namespace
}  // namespace sieve::cuda
