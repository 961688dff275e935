// Kernel for router_logits.h: a flat grid of warps, warp w computing (token w / E, expert w % E)
// (router_logits.cuh).
#include "cuda/common/device_utils.cuh"
#include "cuda/moe/router_logits.h"
#include "cuda/moe/router_logits.cuh"

namespace sieve::cuda {
namespace {

__global__ void __launch_bounds__(kRouterWarpsPerBlock * 32) RouterLogitsKernel(RouterLogitsParams p) {
  const int64_t w = static_cast<int64_t>(blockIdx.x) * kRouterWarpsPerBlock + (threadIdx.x >> 5);
  if (w >= static_cast<int64_t>(p.tokens) * p.num_experts) return;  // whole warps leave
  RouterLogit(p, w);
}

}  // namespace

cudaError_t CheckRouterLogits(const RouterLogitsParams& p) {
  if (p.tokens < 0 || p.num_experts <= 0 || p.hidden <= 0) return cudaErrorInvalidValue;
  if (p.tokens > 0 &&
      (!p.x || !p.w || !p.logits || p.x_stride < p.hidden || p.logits_stride < p.num_experts)) {
    return cudaErrorInvalidValue;
  }
  const int64_t warps = static_cast<int64_t>(p.tokens) * p.num_experts;
  if ((warps + kRouterWarpsPerBlock - 1) / kRouterWarpsPerBlock > 0x7fffffff) {
    return cudaErrorInvalidValue;
  }
  return cudaSuccess;
}

cudaError_t LaunchRouterLogits(const RouterLogitsParams& p, cudaStream_t stream) {
  const cudaError_t e = CheckRouterLogits(p);
  if (e != cudaSuccess || p.tokens == 0) return e;
  const int64_t warps = static_cast<int64_t>(p.tokens) * p.num_experts;
  const int64_t blocks = (warps + kRouterWarpsPerBlock - 1) / kRouterWarpsPerBlock;
  RouterLogitsKernel<<<static_cast<unsigned>(blocks), kRouterWarpsPerBlock * 32, 0, stream>>>(p);
  return cudaGetLastError();
}

}  // namespace sieve::cuda
