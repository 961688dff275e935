// Kernel for rms_norm.h: one block of kNormThreads per row. Pass 1 (optionally adding delta and
// writing x back) accumulates sum(x^2) in fp32 per thread, reduced over the block; pass 2 scales.
// The per-thread steps are rms_norm.cuh's (batched loads; gemv.cu's fused norm uses the same, so
// the two give bit-identical values).
#include "cuda/common/device_utils.cuh"
#include "cuda/config.h"
#include "cuda/norm/rms_norm.cuh"
#include "cuda/norm/rms_norm.h"

namespace sieve::cuda {
namespace {

__global__ void __launch_bounds__(kNormThreads) RmsNormKernel(RmsNormParams p) {
  __shared__ float scratch[32];
  const int64_t row = blockIdx.x;
  float* x = p.x + row * p.x_stride;
  const float* d = p.delta ? p.delta + row * p.delta_stride : nullptr;
  const int step = blockDim.x;
  const float ss = BlockSum(RowSumOfSquares(x, d, x, p.dim), scratch);
  const float inv = InvRms(ss, p.dim, p.eps);
  __nv_bfloat16* out = p.out + row * p.out_stride;
  for (int base = threadIdx.x; base < p.dim; base += step * kNormBatch) {
    float v[kNormBatch], zeros[kNormBatch], wv[kNormBatch];  // no delta here: zeros
    LoadNormBatch(x, nullptr, base, step, p.dim, v, zeros);
    LoadNormWeights(p.weight, base, step, p.dim, wv);
#pragma unroll
    for (int u = 0; u < kNormBatch; ++u) {
      const int i = base + u * step;
      if (i >= p.dim) break;
      out[i] = NormedBf16(wv[u], v[u], inv);
    }
  }
}

}  // namespace

cudaError_t LaunchRmsNorm(const RmsNormParams& p, cudaStream_t stream) {
  if (p.rows < 0 || p.dim <= 0 || p.dim > kMaxNormDim) return cudaErrorInvalidValue;
  if (p.rows == 0) return cudaSuccess;
  if (!p.x || !p.weight || !p.out || p.x_stride < p.dim || p.out_stride < p.dim ||
      (p.delta && p.delta_stride < p.dim)) {
    return cudaErrorInvalidValue;
  }
  RmsNormKernel<<<p.rows, kNormThreads, 0, stream>>>(p);
  return cudaGetLastError();
}

}  // namespace sieve::cuda
