// RMSNorm on the GPU, with an optional fused residual add, fp32 in, bf16 out.
//
// y = weight * (x * 1 / sqrt(mean(x^2) + eps)), computed in fp32 and rounded to bf16 once (the
// input of the next bf16 GEMM). The residual stream stays fp32; when `delta` is set the kernel
// first does x += delta and writes x back, so "residual add + next layer's norm" is one pass.
// Rows are independent; one block per row. Shapes: rows >= 0, 0 < dim <= kMaxNormDim.
#ifndef SIEVE_CUDA_NORM_RMS_NORM_H_
#define SIEVE_CUDA_NORM_RMS_NORM_H_

#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cstdint>

namespace sieve::cuda {

struct RmsNormParams {
  float* x;                     // [rows, x_stride] fp32; the first `dim` of each row; updated in
                                // place (x += delta) when delta is set, else only read
  int64_t x_stride;             // elements between rows of x (>= dim)
  const float* delta;           // [rows, delta_stride] fp32, or null (no residual add)
  int64_t delta_stride;         // elements between rows of delta
  const __nv_bfloat16* weight;  // [dim] bf16 norm weight
  __nv_bfloat16* out;           // [rows, out_stride] bf16 normalised output
  int64_t out_stride;           // elements between rows of out (>= dim)
  int32_t rows;                 // number of rows (tokens)
  int32_t dim;                  // normalised width
  float eps;                    // rms_norm_eps
};

// Launches on `stream`; cudaErrorInvalidValue for a bad shape or null pointer; never aborts.
cudaError_t LaunchRmsNorm(const RmsNormParams& p, cudaStream_t stream);

}  // namespace sieve::cuda

#endif  // SIEVE_CUDA_NORM_RMS_NORM_H_
