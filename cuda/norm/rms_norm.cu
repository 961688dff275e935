// Kernel for rms_norm.h: one block of kNormThreads per row. Pass 1 (optionally adding delta and
// writing x back) accumulates sum(x^2) in fp32 per thread, reduced over the block; pass 2 scales.
// The inverse RMS uses 1 / sqrtf (correctly rounded) rather than rsqrtf (2 ulp) to stay within
// rounding of the CPU reference, which computes it in double.
#include "cuda/common/device_utils.cuh"
#include "cuda/config.h"
#include "cuda/norm/rms_norm.h"

namespace sieve::cuda {
namespace {

// Each thread's elements i = tid, tid + 256, ... are handled kNormInFlight at a time: all their
// loads first, then the arithmetic and stores in i order (the stores to x and out could alias
// the next loads as far as the compiler knows, so a plain loop waits one memory round trip per
// element: ~16 dependent round trips, 8-9 us per launch at hidden 2048, against ~3 now). The
// per-thread order of the sum of squares is unchanged, so results are bit-identical to the plain
// loop (and to gemv.cu's fused norm, which follows it).
constexpr int kNormInFlight = 8;

__global__ void __launch_bounds__(kNormThreads) RmsNormKernel(RmsNormParams p) {
  __shared__ float scratch[32];
  const int64_t row = blockIdx.x;
  float* x = p.x + row * p.x_stride;
  const float* d = p.delta ? p.delta + row * p.delta_stride : nullptr;
  const int step = blockDim.x;
  float ss = 0.0f;
  for (int base = threadIdx.x; base < p.dim; base += step * kNormInFlight) {
    float v[kNormInFlight], dv[kNormInFlight];
#pragma unroll
    for (int u = 0; u < kNormInFlight; ++u) {
      const int i = base + u * step;
      v[u] = i < p.dim ? x[i] : 0.0f;
      dv[u] = d && i < p.dim ? d[i] : 0.0f;
    }
#pragma unroll
    for (int u = 0; u < kNormInFlight; ++u) {
      const int i = base + u * step;
      if (i >= p.dim) break;
      if (d) {
        v[u] += dv[u];
        x[i] = v[u];
      }
      ss += v[u] * v[u];
    }
  }
  ss = BlockSum(ss, scratch);
  const float inv = 1.0f / sqrtf(ss / static_cast<float>(p.dim) + p.eps);
  __nv_bfloat16* out = p.out + row * p.out_stride;
  for (int base = threadIdx.x; base < p.dim; base += step * kNormInFlight) {
    float v[kNormInFlight], wv[kNormInFlight];
#pragma unroll
    for (int u = 0; u < kNormInFlight; ++u) {
      const int i = base + u * step;
      v[u] = i < p.dim ? x[i] : 0.0f;
      wv[u] = i < p.dim ? ToFloat(p.weight[i]) : 0.0f;
    }
#pragma unroll
    for (int u = 0; u < kNormInFlight; ++u) {
      const int i = base + u * step;
      if (i >= p.dim) break;
      out[i] = __float2bfloat16_rn(wv[u] * (v[u] * inv));
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
