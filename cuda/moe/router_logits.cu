// Kernel for router_logits.h: a flat grid of warps, warp w computing (token w / E, expert w % E).
#include "cuda/common/device_utils.cuh"
#include "cuda/moe/router_logits.h"

namespace sieve::cuda {
namespace {

constexpr int kWarpsPerBlock = 8;

__global__ void __launch_bounds__(kWarpsPerBlock * 32) RouterLogitsKernel(RouterLogitsParams p) {
  const int lane = threadIdx.x & 31;
  const int64_t w = static_cast<int64_t>(blockIdx.x) * kWarpsPerBlock + (threadIdx.x >> 5);
  if (w >= static_cast<int64_t>(p.tokens) * p.num_experts) return;  // whole warps leave
  const int64_t t = w / p.num_experts;
  const int64_t e = w % p.num_experts;
  const __nv_bfloat16* x = p.x + t * p.x_stride;
  const float* row = p.w + e * p.hidden;
  float acc = 0.0f;
  for (int k = lane; k < p.hidden; k += 32) acc += __bfloat162float(x[k]) * row[k];
  acc = WarpSum(acc);
  if (lane == 0) p.logits[t * p.logits_stride + e] = acc;
}

}  // namespace

cudaError_t LaunchRouterLogits(const RouterLogitsParams& p, cudaStream_t stream) {
  if (p.tokens < 0 || p.num_experts <= 0 || p.hidden <= 0) return cudaErrorInvalidValue;
  if (p.tokens == 0) return cudaSuccess;
  if (!p.x || !p.w || !p.logits || p.x_stride < p.hidden || p.logits_stride < p.num_experts) {
    return cudaErrorInvalidValue;
  }
  const int64_t warps = static_cast<int64_t>(p.tokens) * p.num_experts;
  const int64_t blocks = (warps + kWarpsPerBlock - 1) / kWarpsPerBlock;
  if (blocks > 0x7fffffff) return cudaErrorInvalidValue;
  RouterLogitsKernel<<<static_cast<unsigned>(blocks), kWarpsPerBlock * 32, 0, stream>>>(p);
  return cudaGetLastError();
}

}  // namespace sieve::cuda
