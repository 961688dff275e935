// Kernel for argmax.h. Candidates carry (value, index); index -1 means "none yet", which
// WarpArgmax (device_utils.cuh) never prefers over a real candidate.
#include <cmath>

#include "cuda/common/device_utils.cuh"
#include "cuda/sampling/argmax.h"

namespace sieve::cuda {
namespace {

constexpr int kInFlight = 8;  // 16-byte loads per thread before the first comparison

// Each thread sees its indices in ascending order, so a later equal value never replaces an
// earlier one.
__device__ __forceinline__ void Consider(float v, int32_t i, float* best, int32_t* idx) {
  if (isnan(v)) return;
  if (*idx < 0 || v > *best) {
    *best = v;
    *idx = i;
  }
}

__global__ void __launch_bounds__(kArgmaxThreads) ArgmaxKernel(ArgmaxParams p) {
  __shared__ float value_s[32];
  __shared__ int32_t index_s[32];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const float* row = p.logits + static_cast<int64_t>(blockIdx.x) * p.logits_stride;
  float best = -INFINITY;
  int32_t idx = -1;
  int32_t tail = 0;  // first index the scalar loop below scans
  if ((reinterpret_cast<uintptr_t>(row) & 15) == 0) {
    const float4* row4 = reinterpret_cast<const float4*>(row);
    const int32_t n4 = p.vocab / 4;
    for (int32_t base = threadIdx.x; base < n4; base += blockDim.x * kInFlight) {
      float4 v[kInFlight];
#pragma unroll
      for (int u = 0; u < kInFlight; ++u) {
        const int32_t j = base + u * blockDim.x;
        v[u] = j < n4 ? row4[j] : make_float4(NAN, NAN, NAN, NAN);
      }
#pragma unroll
      for (int u = 0; u < kInFlight; ++u) {
        const int32_t i = 4 * (base + u * blockDim.x);
        Consider(v[u].x, i, &best, &idx);
        Consider(v[u].y, i + 1, &best, &idx);
        Consider(v[u].z, i + 2, &best, &idx);
        Consider(v[u].w, i + 3, &best, &idx);
      }
    }
    tail = 4 * n4;
  }
  for (int32_t i = tail + threadIdx.x; i < p.vocab; i += blockDim.x) {
    Consider(row[i], i, &best, &idx);
  }
  WarpArgmax(&best, &idx);
  if (lane == 0) {
    value_s[warp] = best;
    index_s[warp] = idx;
  }
  __syncthreads();
  if (warp == 0) {
    const int warps = blockDim.x >> 5;
    best = lane < warps ? value_s[lane] : -INFINITY;
    idx = lane < warps ? index_s[lane] : -1;
    WarpArgmax(&best, &idx);
    if (lane == 0) {
      p.out_index[blockIdx.x] = idx < 0 ? 0 : idx;
      if (p.out_value) p.out_value[blockIdx.x] = idx < 0 ? NAN : best;
    }
  }
}

}  // namespace

cudaError_t LaunchArgmax(const ArgmaxParams& p, cudaStream_t stream) {
  if (p.rows < 0 || p.vocab <= 0) return cudaErrorInvalidValue;
  if (p.rows == 0) return cudaSuccess;
  if (!p.logits || !p.out_index || p.logits_stride < p.vocab) return cudaErrorInvalidValue;
  ArgmaxKernel<<<p.rows, kArgmaxThreads, 0, stream>>>(p);
  return cudaGetLastError();
}

}  // namespace sieve::cuda
