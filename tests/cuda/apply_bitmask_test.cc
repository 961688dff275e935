// ApplyBitmask on the GPU against a CPU reference, every element, over odd shapes (vocab not divisible
// by 32, mask narrower than the vocab, unconstrained rows). Skips without a CUDA device.
#include "cuda/sampling/apply_bitmask.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

namespace sieve::cuda {
namespace {

bool HaveDevice() {
  int n = 0;
  return cudaGetDeviceCount(&n) == cudaSuccess && n > 0;
}

void CheckShape(int rows, int vocab, int stride, int mask_words, bool with_row_table) {
  std::mt19937 rng(rows * 7919 + vocab);
  std::vector<float> logits(static_cast<size_t>(rows) * stride);
  for (float& x : logits) x = std::uniform_real_distribution<float>(-5.f, 5.f)(rng);
  std::vector<uint32_t> mask(static_cast<size_t>(rows) * std::max(mask_words, 1));
  for (uint32_t& w : mask) w = rng();
  std::vector<int32_t> row_to_mask(rows);
  for (int r = 0; r < rows; ++r) row_to_mask[r] = (with_row_table && r % 3 == 1) ? -1 : r;

  std::vector<float> expect = logits;
  for (int r = 0; r < rows; ++r) {
    if (row_to_mask[r] < 0) continue;
    for (int i = 0; i < vocab; ++i) {
      bool allowed = (i >> 5) < mask_words && ((mask[r * mask_words + (i >> 5)] >> (i & 31)) & 1u);
      if (!allowed) expect[static_cast<size_t>(r) * stride + i] = -INFINITY;
    }
  }

  float* d_logits = nullptr;
  uint32_t* d_mask = nullptr;
  int32_t* d_rows = nullptr;
  ASSERT_EQ(cudaMalloc(&d_logits, logits.size() * sizeof(float)), cudaSuccess);
  ASSERT_EQ(cudaMalloc(&d_mask, mask.size() * sizeof(uint32_t)), cudaSuccess);
  ASSERT_EQ(cudaMalloc(&d_rows, rows * sizeof(int32_t)), cudaSuccess);
  cudaMemcpy(d_logits, logits.data(), logits.size() * sizeof(float), cudaMemcpyHostToDevice);
  cudaMemcpy(d_mask, mask.data(), mask.size() * sizeof(uint32_t), cudaMemcpyHostToDevice);
  cudaMemcpy(d_rows, row_to_mask.data(), rows * sizeof(int32_t), cudaMemcpyHostToDevice);
  ApplyBitmaskParams p{d_logits, stride, vocab, d_mask, mask_words,
                       with_row_table ? d_rows : nullptr, rows};
  ASSERT_EQ(LaunchApplyBitmask(p, nullptr), cudaSuccess);
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  std::vector<float> got(logits.size());
  cudaMemcpy(got.data(), d_logits, got.size() * sizeof(float), cudaMemcpyDeviceToHost);
  cudaFree(d_logits);
  cudaFree(d_mask);
  cudaFree(d_rows);
  for (size_t i = 0; i < got.size(); ++i) {
    if (std::isinf(expect[i])) {
      ASSERT_TRUE(std::isinf(got[i]) && got[i] < 0) << "index " << i;
    } else {
      ASSERT_EQ(got[i], expect[i]) << "index " << i;
    }
  }
}

TEST(ApplyBitmask, MatchesCpuReferenceOnOddShapes) {
  if (!HaveDevice()) GTEST_SKIP() << "no CUDA device";
  CheckShape(1, 1, 1, 1, false);
  CheckShape(1, 33, 40, 2, false);
  CheckShape(3, 1000, 1000, 32, true);
  CheckShape(5, 102400, 102400, (100015 + 31) / 32, true);  // model vocab wider than tokenizer
  CheckShape(64, 128256, 128264, 128256 / 32, false);
}

TEST(ApplyBitmask, RejectsAStrideSmallerThanTheVocab) {
  if (!HaveDevice()) GTEST_SKIP() << "no CUDA device";
  float dummy = 0;
  uint32_t word = 0;
  ApplyBitmaskParams p{&dummy, 10, 20, &word, 1, nullptr, 1};
  EXPECT_EQ(LaunchApplyBitmask(p, nullptr), cudaErrorInvalidValue);
}

}  // namespace
}  // namespace sieve::cuda
