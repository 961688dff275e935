// cuBLAS wrapper for gemm.h (no kernels of our own). Compute type fp32 (CUBLAS_COMPUTE_32F), so
// tensor cores are used with fp32 accumulation; default algorithm selection.
#include "cuda/gemm/gemm.h"

namespace sieve::cuda {

cudaError_t LaunchGemm(cublasHandle_t handle, const GemmParams& p, cudaStream_t stream,
                       cublasStatus_t* cublas_status) {
  if (cublas_status) *cublas_status = CUBLAS_STATUS_SUCCESS;
  if (p.m < 0 || p.n < 0 || p.k < 0 || p.batch < 0) return cudaErrorInvalidValue;
  if (p.m == 0 || p.n == 0 || p.batch == 0) return cudaSuccess;
  if (!handle || !p.a || !p.w || !p.c || p.lda < p.k || p.ldc < p.n ||
      p.ldw < (p.weight_kn ? p.n : p.k)) {
    return cudaErrorInvalidValue;
  }
  // C^T (n x m, ldc) = op(W) (n x k) * A^T (k x m, lda). A row-major [N, K] weight is the
  // column-major K x N matrix W^T, so op = T; a [K, N] weight is column-major N x K, op = N.
  const cublasOperation_t op_w = p.weight_kn ? CUBLAS_OP_N : CUBLAS_OP_T;
  cublasStatus_t s = cublasSetStream(handle, stream);
  if (s == CUBLAS_STATUS_SUCCESS) {
    s = cublasGemmStridedBatchedEx(
        handle, op_w, CUBLAS_OP_N, p.n, p.m, p.k, &p.alpha, p.w, CUDA_R_16BF, p.ldw, p.stride_w,
        p.a, CUDA_R_16BF, p.lda, p.stride_a, &p.beta, p.c, p.c_bf16 ? CUDA_R_16BF : CUDA_R_32F,
        p.ldc, p.stride_c, p.batch, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
  }
  if (cublas_status) *cublas_status = s;
  return s == CUBLAS_STATUS_SUCCESS ? cudaSuccess : cudaErrorUnknown;
}

}  // namespace sieve::cuda
