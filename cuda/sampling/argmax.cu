// Kernel for argmax.h. Candidates carry (value, index); index -1 means "none yet", which
// WarpArgmax (device_utils.cuh) never prefers over a real candidate.
#include <cmath>

#include "cuda/common/device_utils.cuh"
#include "cuda/sampling/argmax.h"

namespace sieve::cuda {
namespace {

__global__ void __launch_bounds__(kArgmaxThreads) ArgmaxKernel(ArgmaxParams p) {
  __shared__ float value_s[32];
  __shared__ int32_t index_s[32];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const float* row = p.logits + static_cast<int64_t>(blockIdx.x) * p.logits_stride;
  float best = -INFINITY;
  int32_t idx = -1;
  // Ascending scan per thread: a later equal value never replaces an earlier one.
  for (int32_t i = threadIdx.x; i < p.vocab; i += blockDim.x) {
    const float v = row[i];
    if (isnan(v)) continue;
    if (idx < 0 || v > best) {
      best = v;
      idx = i;
    }
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
