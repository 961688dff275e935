// The cuBLAS projection wrapper against a double CPU product, every element: weights stored
// [N, K] (nn.Linear) and [K, N] (W_UK when absorbing), fp32 and bf16 outputs, beta accumulation,
// and per-head strided batches addressed inside larger rows, as MLA's absorbed projections use.
#include "cuda/gemm/gemm.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

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

struct GemmCase {
  int m, n, k, batch;
  bool weight_kn, c_bf16;
  float beta;
};

void CheckGemm(cublasHandle_t handle, const GemmCase& c) {
  SCOPED_TRACE(::testing::Message()
               << "m " << c.m << " n " << c.n << " k " << c.k << " batch " << c.batch
               << (c.weight_kn ? " [K,N]" : " [N,K]") << (c.c_bf16 ? " bf16 out" : " fp32 out")
               << " beta " << c.beta);
  // Batch entries sit side by side inside wider rows (like heads inside a token's q row).
  const int64_t lda = static_cast<int64_t>(c.batch) * c.k + 3, stride_a = c.k;
  const int w_rows = c.weight_kn ? c.k : c.n, w_cols = c.weight_kn ? c.n : c.k;
  const int64_t ldw = w_cols + 1, stride_w = static_cast<int64_t>(w_rows) * ldw;
  const int64_t ldc = static_cast<int64_t>(c.batch) * c.n + 2, stride_c = c.n;
  const std::vector<float> a = RandomBf16Values(static_cast<size_t>(c.m) * lda, 1.0f, c.m + c.k);
  const std::vector<float> w =
      RandomBf16Values(static_cast<size_t>(c.batch) * stride_w, 0.2f, c.n + 7);
  std::vector<float> c0 = RandomBf16Values(static_cast<size_t>(c.m) * ldc, 1.0f, 99);
  const float alpha = 1.5f;

  std::vector<float> want = c0;
  std::vector<float> tol(want.size(), 0.0f);
  for (int b = 0; b < c.batch; ++b) {
    for (int i = 0; i < c.m; ++i) {
      for (int j = 0; j < c.n; ++j) {
        double s = 0, mag = 0;
        for (int kk = 0; kk < c.k; ++kk) {
          const double av = a[i * lda + b * stride_a + kk];
          const double wv =
              c.weight_kn ? w[b * stride_w + kk * ldw + j] : w[b * stride_w + j * ldw + kk];
          s += av * wv;
          mag += std::fabs(av * wv);
        }
        float& o = want[i * ldc + b * stride_c + j];
        o = static_cast<float>(alpha * s + c.beta * o);
        tol[i * ldc + b * stride_c + j] = static_cast<float>(mag);
      }
    }
  }
  DeviceBuffer<__nv_bfloat16> d_a(ToBf16(a)), d_w(ToBf16(w));
  DeviceBuffer<float> d_c32(c0);
  DeviceBuffer<__nv_bfloat16> d_c16(ToBf16(c0));
  ASSERT_TRUE(d_a.ok() && d_w.ok() && d_c32.ok() && d_c16.ok());
  GemmParams p{
      d_a.get(),   lda,
      stride_a,    d_w.get(),
      ldw,         stride_w,
      c.weight_kn, c.c_bf16 ? static_cast<void*>(d_c16.get()) : static_cast<void*>(d_c32.get()),
      ldc,         stride_c,
      c.c_bf16,    c.m,
      c.n,         c.k,
      c.batch,     alpha,
      c.beta};
  cublasStatus_t status;
  ASSERT_EQ(LaunchGemm(handle, p, nullptr, &status), cudaSuccess) << "cuBLAS status " << status;
  ASSERT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  const std::vector<float> got = c.c_bf16 ? FromBf16(d_c16.Download()) : d_c32.Download();
  ASSERT_EQ(got.size(), want.size());
  // fp32 accumulation: error bounded by ~K ulp of sum |a w|; bf16 output adds 2^-8 relative.
  for (size_t i = 0; i < got.size(); ++i) {
    const double bound = 1e-5 * alpha * tol[i] + (c.c_bf16 ? 8e-3 * std::fabs(want[i]) : 0) + 1e-6;
    ASSERT_TRUE(std::isfinite(got[i])) << "index " << i;
    ASSERT_LE(std::fabs(got[i] - want[i]), bound)
        << "index " << i << " got " << got[i] << " want " << want[i];
  }
}

TEST(Gemm, MatchesDoubleProductsForEveryLayout) {
  if (!HaveDevice()) GTEST_SKIP() << "no CUDA device";
  cublasHandle_t handle = nullptr;
  ASSERT_EQ(cublasCreate(&handle), CUBLAS_STATUS_SUCCESS);
  for (bool kn : {false, true}) {
    for (bool bf16 : {false, true}) {
      CheckGemm(handle, {1, 1, 1, 1, kn, bf16, 0.0f});
      CheckGemm(handle, {1, 576, 2048, 1, kn, bf16, 0.0f});  // kv_a_proj, one token
      CheckGemm(handle, {3, 33, 65, 1, kn, bf16, 1.0f});     // odd sizes, accumulate
      CheckGemm(handle, {64, 100, 7, 1, kn, bf16, 0.5f});
      CheckGemm(handle, {3, 512, 128, 16, kn, bf16, 0.0f});  // absorb: 16 heads of W_UK
      CheckGemm(handle, {5, 128, 512, 4, kn, bf16, 0.0f});   // W_UV per head
    }
  }
  cublasDestroy(handle);
}

TEST(Gemm, RejectsALeadingDimensionSmallerThanTheRow) {
  if (!HaveDevice()) GTEST_SKIP() << "no CUDA device";
  cublasHandle_t handle = nullptr;
  ASSERT_EQ(cublasCreate(&handle), CUBLAS_STATUS_SUCCESS);
  DeviceBuffer<__nv_bfloat16> a(64), w(64);
  DeviceBuffer<float> c(64);
  GemmParams p{a.get(), 4, 0, w.get(), 8, 0, false, c.get(), 8, 0, false, 2, 8, 8, 1, 1.0f, 0.0f};
  EXPECT_EQ(LaunchGemm(handle, p, nullptr), cudaErrorInvalidValue);  // lda 4 < k 8
  cublasDestroy(handle);
}

}  // namespace
}  // namespace sieve::cuda
