// RMSNorm and RoPE kernels against CPU references, every element, over edge shapes (one row, odd
// widths, widths around a warp and a block, strided rows), in place and out of place. RoPE uses
// the host yarn tables of decoder/rope.h and is compared with ApplyRope, the CPU model's rotation.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "cuda/norm/rms_norm.h"
#include "cuda/rope/rope.h"
#include "decoder/random_model.h"
#include "decoder/rope.h"
#include "tests/cuda/cuda_test_util.h"

namespace sieve::cuda {
namespace {

using testing::AllClose;
using testing::DeviceBuffer;
using testing::FromBf16;
using testing::HaveDevice;
using testing::RandomBf16Values;
using testing::ToBf16;

void CheckRmsNorm(int rows, int dim, int stride, bool with_delta) {
  SCOPED_TRACE(::testing::Message() << "rows " << rows << " dim " << dim << " stride " << stride
                                    << (with_delta ? " with delta" : ""));
  std::mt19937 rng(rows * 131 + dim);
  std::normal_distribution<float> dist(0.0f, 2.0f);
  std::vector<float> x(static_cast<size_t>(rows) * stride), delta(x.size());
  for (float& v : x) v = dist(rng);
  for (float& v : delta) v = dist(rng);
  const std::vector<float> weight = RandomBf16Values(dim, 0.5f, dim);
  const double eps = 1e-6;

  std::vector<float> want_x = x, want_out(static_cast<size_t>(rows) * stride, 0.0f);
  for (int r = 0; r < rows; ++r) {
    double ss = 0;
    for (int i = 0; i < dim; ++i) {
      float& v = want_x[r * stride + i];
      if (with_delta) v += delta[r * stride + i];
      ss += static_cast<double>(v) * v;
    }
    const double inv = 1.0 / std::sqrt(ss / dim + eps);
    for (int i = 0; i < dim; ++i) {
      want_out[r * stride + i] = static_cast<float>(weight[i] * (want_x[r * stride + i] * inv));
    }
  }

  DeviceBuffer<float> d_x(x), d_delta(delta);
  DeviceBuffer<__nv_bfloat16> d_w(ToBf16(weight)), d_out(want_out.size());
  ASSERT_TRUE(d_x.ok() && d_delta.ok() && d_w.ok() && d_out.ok());
  ASSERT_TRUE(d_out.Poison(0));  // columns past dim must stay untouched (0)
  RmsNormParams p{d_x.get(),
                  stride,
                  with_delta ? d_delta.get() : nullptr,
                  stride,
                  d_w.get(),
                  d_out.get(),
                  stride,
                  rows,
                  dim,
                  static_cast<float>(eps)};
  ASSERT_EQ(LaunchRmsNorm(p, nullptr), cudaSuccess);
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  // x is updated with exactly one fp32 add, or left alone.
  EXPECT_TRUE(AllClose(d_x.Download(), want_x, 0, 0));
  // One bf16 rounding (2^-8 relative) plus fp32-vs-double noise that may cross a rounding edge.
  EXPECT_TRUE(AllClose(FromBf16(d_out.Download()), want_out, 1e-6, 8e-3));
}

TEST(RmsNorm, MatchesCpuReferenceOverEdgeShapes) {
  if (!HaveDevice()) GTEST_SKIP() << "no CUDA device";
  for (bool delta : {false, true}) {
    CheckRmsNorm(1, 1, 1, delta);
    CheckRmsNorm(3, 31, 40, delta);
    CheckRmsNorm(1, 63, 63, delta);
    CheckRmsNorm(5, 64, 64, delta);
    CheckRmsNorm(2, 65, 96, delta);
    CheckRmsNorm(7, 512, 576, delta);  // kv_a_layernorm inside a [c | k_pe] row
    CheckRmsNorm(3, 2048, 2048, delta);
    CheckRmsNorm(1, 5120, 5120, delta);
  }
}

TEST(RmsNorm, RejectsBadShapesAndAcceptsNoRows) {
  if (!HaveDevice()) GTEST_SKIP() << "no CUDA device";
  DeviceBuffer<float> x(64);
  DeviceBuffer<__nv_bfloat16> w(64), out(64);
  RmsNormParams p{x.get(), 64, nullptr, 0, w.get(), out.get(), 64, 1, 64, 1e-6f};
  p.x_stride = 32;
  EXPECT_EQ(LaunchRmsNorm(p, nullptr), cudaErrorInvalidValue);
  p.x_stride = 64;
  p.dim = 0;
  EXPECT_EQ(LaunchRmsNorm(p, nullptr), cudaErrorInvalidValue);
  p.dim = 64;
  p.weight = nullptr;
  EXPECT_EQ(LaunchRmsNorm(p, nullptr), cudaErrorInvalidValue);
  p.rows = 0;
  EXPECT_EQ(LaunchRmsNorm(p, nullptr), cudaSuccess);
}

void CheckRope(const char* preset, int tokens, int heads, bool in_place) {
  SCOPED_TRACE(::testing::Message() << preset << " tokens " << tokens << " heads " << heads
                                    << (in_place ? " in place" : ""));
  auto config = PresetConfig(preset);
  ASSERT_TRUE(config.ok());
  const RopeTable table = ComputeRope(*config);
  const int dim = static_cast<int>(table.dim);
  // q-like layout: per head [nope | rope], rope part at offset `nope`.
  const int nope = static_cast<int>(config->qk_nope_head_dim);
  const int head_stride = nope + dim;
  const int token_stride = heads * head_stride + 3;
  std::mt19937 rng(tokens * 7 + heads);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> src(static_cast<size_t>(tokens) * token_stride);
  for (float& v : src) v = dist(rng);
  std::vector<int32_t> positions(tokens);
  const int32_t max_pos = static_cast<int32_t>(config->max_position_embeddings) - 1;
  for (int t = 0; t < tokens; ++t) {
    positions[t] = t == 0 ? 0 : t == 1 ? max_pos : static_cast<int32_t>(rng() % (max_pos + 1));
  }
  std::vector<float> inv_freq(table.inv_freq.begin(), table.inv_freq.end());

  std::vector<float> want = src;
  for (int t = 0; t < tokens; ++t) {
    for (int h = 0; h < heads; ++h) {
      ApplyRope(table, positions[t], want.data() + t * token_stride + h * head_stride + nope);
    }
  }
  DeviceBuffer<float> d_src(src), d_dst(in_place ? 0 : src.size());
  DeviceBuffer<int32_t> d_pos(positions);
  DeviceBuffer<float> d_freq(inv_freq);
  ASSERT_TRUE(d_src.ok() && d_pos.ok() && d_freq.ok());
  float* dst = d_src.get();
  if (!in_place) {
    ASSERT_TRUE(d_dst.ok());
    ASSERT_EQ(
        cudaMemcpy(d_dst.get(), src.data(), src.size() * sizeof(float), cudaMemcpyHostToDevice),
        cudaSuccess);
    dst = d_dst.get();
  }
  RopeParams p{d_src.get() + nope,
               token_stride,
               head_stride,
               dst + nope,
               token_stride,
               head_stride,
               d_pos.get(),
               d_freq.get(),
               static_cast<float>(table.attention_factor),
               tokens,
               heads,
               dim};
  ASSERT_EQ(LaunchRope(p, nullptr), cudaSuccess);
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  // Same fp32 angle, cos/sin in double on both sides: equal up to the last fp32 rounding.
  EXPECT_TRUE(AllClose(in_place ? d_src.Download() : d_dst.Download(), want, 1e-6, 1e-6));
  if (!in_place) {
    EXPECT_TRUE(AllClose(d_src.Download(), src, 0, 0));  // source untouched
  }
}

TEST(Rope, MatchesCpuRotationIncludingYarnAndLargePositions) {
  if (!HaveDevice()) GTEST_SKIP() << "no CUDA device";
  for (bool in_place : {true, false}) {
    CheckRope("tiny", 1, 1, in_place);
    CheckRope("tiny", 5, 4, in_place);
    CheckRope("v2-lite", 3, 16, in_place);
    CheckRope("v2-lite", 65, 1, in_place);  // the shared k_pe: one "head"
    CheckRope("tiny-qlora-grouped", 2, 3, in_place);
  }
}

TEST(Rope, RejectsAnOddDim) {
  if (!HaveDevice()) GTEST_SKIP() << "no CUDA device";
  DeviceBuffer<float> x(8), f(4);
  DeviceBuffer<int32_t> pos(1);
  RopeParams p{x.get(), 8, 8, x.get(), 8, 8, pos.get(), f.get(), 1.0f, 1, 1, 7};
  EXPECT_EQ(LaunchRope(p, nullptr), cudaErrorInvalidValue);
}

}  // namespace
}  // namespace sieve::cuda
