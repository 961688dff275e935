// Dense projections through cuBLAS: bf16 activations times bf16 weights, fp32 accumulation.
//
// Row-major throughout (the checkpoint's [out, in] weights and our [tokens, features]
// activations); for every batch entry b:
//   C_b[m, n] = alpha * sum_k A_b[m, k] * W_b(n, k) + beta * C_b[m, n]
// where W_b(n, k) = W_b[n, k] for a weight stored [N, K] (nn.Linear: q_proj, o_proj, W_UV)
// and W_b[k, n] when `weight_kn` is set (stored [K, N]: W_UK when absorbing q_nope into q_lat).
// C is fp32 or bf16. Batches are strided (cublasGemmStridedBatchedEx), e.g. one entry per head
// for MLA's absorbed projections: the per-head slices of q and kv_b_proj are addressed with
// strides and leading dimensions, no copies.
//
// The mapping to cuBLAS's column-major API: a row-major [R, C] matrix with leading dimension ld
// is the column-major [C, R] matrix, so C^T (N x M) = W' (N x K) * A^T (K x M) with W' = op(W).
#ifndef SIEVE_CUDA_GEMM_GEMM_H_
#define SIEVE_CUDA_GEMM_GEMM_H_

#include <cublas_v2.h>
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cstdint>

namespace sieve::cuda {

struct GemmParams {
  const __nv_bfloat16* a;  // [batch][M, lda] bf16 activations (row-major)
  int64_t lda;             // elements between rows of A (>= K)
  int64_t stride_a;        // elements between batch entries of A
  const __nv_bfloat16* w;  // [batch][N, ldw] (or [K, ldw] when weight_kn) bf16 weights
  int64_t ldw;             // elements between rows of W (>= K, or >= N when weight_kn)
  int64_t stride_w;        // elements between batch entries of W
  bool weight_kn;          // W stored [K, N] instead of [N, K]
  void* c;                 // [batch][M, ldc] fp32 or bf16 output (row-major)
  int64_t ldc;             // elements between rows of C (>= N)
  int64_t stride_c;        // elements between batch entries of C
  bool c_bf16;             // C is bf16 (else fp32)
  int32_t m;               // rows of A and C (tokens)
  int32_t n;               // output features
  int32_t k;               // input features
  int32_t batch;           // batch entries (1 = a plain GEMM)
  float alpha;
  float beta;
};

// Enqueues on `stream` through `handle` (the handle's stream is set to `stream`). Returns
// cudaErrorInvalidValue for a bad shape or null pointer and cudaErrorUnknown when cuBLAS fails
// (its status is stored in *cublas_status when that is not null); never aborts.
cudaError_t LaunchGemm(cublasHandle_t handle, const GemmParams& p, cudaStream_t stream,
                       cublasStatus_t* cublas_status = nullptr);

}  // namespace sieve::cuda

#endif  // SIEVE_CUDA_GEMM_GEMM_H_
