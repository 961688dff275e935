// The RMSNorm's per-thread steps, shared by rms_norm.cu's kernel and gemv.cu's fused norm front
// so that both give bit-identical values. A block's threads split a row: thread t handles the
// elements i = t, t + step, ... (step = blockDim.x), kNormBatch of them at a time: all of a
// batch's loads first, then its arithmetic and stores in i order. The batching matters for speed
// (a store to x or to a buffer the compiler cannot tell apart from the next loads otherwise makes
// each element wait one memory round trip: ~16 dependent round trips, 8-9 us per row at hidden
// 2048, against ~3 batched); the per-thread order of the sum of squares, and so the result, is
// that of the plain loop. Elements past n load as 0 and are neither summed nor stored.
#ifndef SIEVE_CUDA_NORM_RMS_NORM_CUH_
#define SIEVE_CUDA_NORM_RMS_NORM_CUH_

#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include "cuda/common/device_utils.cuh"

namespace sieve::cuda {

inline constexpr int kNormBatch = 8;

// v[u] = x[i] and dv[u] = delta[i] (0 without a delta) for i = base + u * step.
__device__ __forceinline__ void LoadNormBatch(const float* x, const float* delta, int base,
                                              int step, int n, float (&v)[kNormBatch],
                                              float (&dv)[kNormBatch]) {
#pragma unroll
  for (int u = 0; u < kNormBatch; ++u) {
    const int i = base + u * step;
    v[u] = i < n ? x[i] : 0.0f;
    dv[u] = delta && i < n ? delta[i] : 0.0f;
  }
}

// wv[u] = weight[i] as fp32.
template <typename W>
__device__ __forceinline__ void LoadNormWeights(const W* weight, int base, int step, int n,
                                                float (&wv)[kNormBatch]) {
#pragma unroll
  for (int u = 0; u < kNormBatch; ++u) {
    const int i = base + u * step;
    wv[u] = i < n ? ToFloat(weight[i]) : 0.0f;
  }
}

// With a delta, v[u] += dv[u], each sum also stored to sum_out[i] when sum_out is given.
__device__ __forceinline__ void AddNormDelta(float (&v)[kNormBatch], const float (&dv)[kNormBatch],
                                             bool delta, float* sum_out, int base, int step,
                                             int n) {
  if (!delta) return;
#pragma unroll
  for (int u = 0; u < kNormBatch; ++u) {
    const int i = base + u * step;
    if (i >= n) break;
    v[u] += dv[u];
    if (sum_out) sum_out[i] = v[u];
  }
}

// ss + the batch's v[u]^2, added in u order.
__device__ __forceinline__ float AddSquares(float ss, const float (&v)[kNormBatch], int base,
                                            int step, int n) {
#pragma unroll
  for (int u = 0; u < kNormBatch; ++u) {
    if (base + u * step >= n) break;
    ss += v[u] * v[u];
  }
  return ss;
}

// This thread's part of sum((x + delta)^2) over a row of n; with sum_out, x + delta is stored
// there (rms_norm.cu adds the residual delta in place).
__device__ __forceinline__ float RowSumOfSquares(const float* x, const float* delta, float* sum_out,
                                                 int n) {
  const int step = blockDim.x;
  float ss = 0.0f;
  for (int base = threadIdx.x; base < n; base += step * kNormBatch) {
    float v[kNormBatch], dv[kNormBatch];
    LoadNormBatch(x, delta, base, step, n, v, dv);
    AddNormDelta(v, dv, delta != nullptr, sum_out, base, step, n);
    ss = AddSquares(ss, v, base, step, n);
  }
  return ss;
}

// 1 / RMS from the block's sum of squares: 1 / sqrtf (correctly rounded) rather than rsqrtf
// (2 ulp), to stay within rounding of the CPU reference, which computes it in double.
__device__ __forceinline__ float InvRms(float ss, int n, float eps) {
  return 1.0f / sqrtf(ss / static_cast<float>(n) + eps);
}

__device__ __forceinline__ __nv_bfloat16 NormedBf16(float weight, float v, float inv_rms) {
  return __float2bfloat16_rn(weight * (v * inv_rms));
}

}  // namespace sieve::cuda

#endif  // SIEVE_CUDA_NORM_RMS_NORM_CUH_
