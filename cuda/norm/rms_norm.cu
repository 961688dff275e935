// Kernel for rms_norm.h: one block of kNormThreads per row. Pass 1 (optionally adding delta and
// writing x back) accumulates sum(x^2) in fp32 per thread, reduced over the block; pass 2 scales.
// The inverse RMS uses 1 / sqrtf (correctly rounded) rather than rsqrtf (2 ulp) to stay within
// rounding of the CPU reference, which computes it in double.
#include "cuda/common/device_utils.cuh"
#include "cuda/config.h"
#include "cuda/norm/rms_norm.h"

namespace sieve::cuda {
namespace {

__global__ void __launch_bounds__(kNormThreads) RmsNormKernel(RmsNormParams p) {
  __shared__ float scratch[32];
  const int64_t row = blockIdx.x;
  float* x = p.x + row * p.x_stride;
  const float* d = p.delta ? p.delta + row * p.delta_stride : nullptr;
  float ss = 0.0f;
  for (int i = threadIdx.x; i < p.dim; i += blockDim.x) {
    float v = x[i];
    if (d) {
      v += d[i];
      x[i] = v;
    }
    ss += v * v;
  }
  ss = BlockSum(ss, scratch);
  const float inv = 1.0f / sqrtf(ss / static_cast<float>(p.dim) + p.eps);
  __nv_bfloat16* out = p.out + row * p.out_stride;
  for (int i = threadIdx.x; i < p.dim; i += blockDim.x) {
    out[i] = __float2bfloat16_rn(ToFloat(p.weight[i]) * (x[i] * inv));
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
