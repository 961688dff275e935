// Kernels for expert_ffn.h. Grids are (row tiles, pairs): blockIdx.y picks a sorted position (its
// pair id, expert and token come from the align output), each of kExpertWarps warps computes
// rows warp, warp + kExpertWarps, ... of the block's kExpertRowsPerBlock-row tile, lanes striding
// the reduction dimension, then a warp sum. Everything accumulates in fp32.
#include <cmath>

#include "cuda/common/device_utils.cuh"
#include "cuda/config.h"
#include "cuda/moe/expert_ffn.h"

namespace sieve::cuda {
namespace {

__global__ void __launch_bounds__(kExpertWarps * 32) GateUpKernel(ExpertFfnParams p) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int64_t pos = blockIdx.y;
  const int32_t pair = p.sorted_pairs[pos];
  const int64_t e = p.sorted_experts[pos];
  const __nv_bfloat16* x = p.x + static_cast<int64_t>(pair / p.top_k) * p.x_stride;
  const __nv_bfloat16* w = p.w13 + e * 2 * p.inter * p.hidden;
  const int32_t first = blockIdx.x * kExpertRowsPerBlock;
  for (int32_t r = first + warp; r < first + kExpertRowsPerBlock && r < p.inter;
       r += kExpertWarps) {
    const __nv_bfloat16* wg = w + static_cast<int64_t>(r) * p.hidden;
    const __nv_bfloat16* wu = w + static_cast<int64_t>(p.inter + r) * p.hidden;
    float g = 0.0f, u = 0.0f;
    for (int k = lane; k < p.hidden; k += 32) {
      const float xv = __bfloat162float(x[k]);
      g += xv * __bfloat162float(wg[k]);
      u += xv * __bfloat162float(wu[k]);
    }
    g = WarpSum(g);
    u = WarpSum(u);
    if (lane == 0) p.act[pos * p.inter + r] = g / (1.0f + expf(-g)) * u;
  }
}

__global__ void __launch_bounds__(kExpertWarps * 32) DownKernel(ExpertFfnParams p) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int64_t pos = blockIdx.y;
  const int64_t pair = p.sorted_pairs[pos];
  const int64_t e = p.sorted_experts[pos];
  const float* a = p.act + pos * p.inter;
  const __nv_bfloat16* w = p.w2 + e * p.hidden * p.inter;
  const float weight = p.topk_weights[pair];
  const int32_t first = blockIdx.x * kExpertRowsPerBlock;
  for (int32_t r = first + warp; r < first + kExpertRowsPerBlock && r < p.hidden;
       r += kExpertWarps) {
    const __nv_bfloat16* wd = w + static_cast<int64_t>(r) * p.inter;
    float d = 0.0f;
    for (int k = lane; k < p.inter; k += 32) d += a[k] * __bfloat162float(wd[k]);
    d = WarpSum(d);
    if (lane == 0) p.pair_out[pair * p.hidden + r] = weight * d;
  }
}

__global__ void CombineKernel(ExpertFfnParams p) {
  const int64_t t = blockIdx.y;
  const int32_t n = blockIdx.x * blockDim.x + threadIdx.x;
  if (n >= p.hidden) return;
  float v = p.accumulate ? p.out[t * p.out_stride + n] : 0.0f;
  float routed = 0.0f;
  for (int j = 0; j < p.top_k; ++j) routed += p.pair_out[(t * p.top_k + j) * p.hidden + n];
  if (p.shared_out) routed += p.shared_out[t * p.shared_stride + n];
  p.out[t * p.out_stride + n] = v + routed;
}

}  // namespace

cudaError_t LaunchExpertFfn(const ExpertFfnParams& p, cudaStream_t stream) {
  if (p.tokens < 0 || p.tokens > 65535 || p.top_k <= 0 || p.num_experts <= 0 || p.hidden <= 0 ||
      p.inter <= 0) {
    return cudaErrorInvalidValue;
  }
  if (p.tokens == 0) return cudaSuccess;
  const int64_t pairs = static_cast<int64_t>(p.tokens) * p.top_k;
  if (pairs > 65535 || !p.x || !p.w13 || !p.w2 || !p.sorted_pairs || !p.sorted_experts ||
      !p.topk_weights || !p.act || !p.pair_out || !p.out || p.x_stride < p.hidden ||
      p.out_stride < p.hidden || (p.shared_out && p.shared_stride < p.hidden)) {
    return cudaErrorInvalidValue;
  }
  const dim3 gate_grid((p.inter + kExpertRowsPerBlock - 1) / kExpertRowsPerBlock, pairs);
  GateUpKernel<<<gate_grid, kExpertWarps * 32, 0, stream>>>(p);
  cudaError_t err = cudaGetLastError();
  if (err != cudaSuccess) return err;
  const dim3 down_grid((p.hidden + kExpertRowsPerBlock - 1) / kExpertRowsPerBlock, pairs);
  DownKernel<<<down_grid, kExpertWarps * 32, 0, stream>>>(p);
  err = cudaGetLastError();
  if (err != cudaSuccess) return err;
  constexpr int kThreads = 256;
  const dim3 combine_grid((p.hidden + kThreads - 1) / kThreads, p.tokens);
  CombineKernel<<<combine_grid, kThreads, 0, stream>>>(p);
  return cudaGetLastError();
}

}  // namespace sieve::cuda
