// Kernel for rope.h: a flat grid over (token, head, pair); each thread reads its two inputs
// before writing, so in-place use is safe (no other thread touches the pair).
#include "cuda/config.h"
#include "cuda/rope/rope.cuh"
#include "cuda/rope/rope.h"

namespace sieve::cuda {
namespace {

__global__ void RopeKernel(RopeParams p) {
  const int32_t half = p.dim / 2;
  const int64_t idx = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  const int64_t total = static_cast<int64_t>(p.tokens) * p.heads * half;
  if (idx >= total) return;
  const int32_t i = static_cast<int32_t>(idx % half);
  const int64_t th = idx / half;
  const int32_t h = static_cast<int32_t>(th % p.heads);
  const int64_t t = th / p.heads;
  const float* in = p.src + t * p.src_token_stride + h * p.src_head_stride;
  float* out = p.dst + t * p.dst_token_stride + h * p.dst_head_stride;
  RopePair(in, out, i, p.positions[t], p.inv_freq, p.attention_factor);
}

}  // namespace

cudaError_t LaunchRope(const RopeParams& p, cudaStream_t stream) {
  if (p.tokens < 0 || p.heads < 0 || p.dim <= 0 || p.dim % 2 != 0 || p.dim > kMaxRopeDim) {
    return cudaErrorInvalidValue;
  }
  if (p.tokens == 0 || p.heads == 0) return cudaSuccess;
  if (!p.src || !p.dst || !p.positions || !p.inv_freq) return cudaErrorInvalidValue;
  const int64_t total = static_cast<int64_t>(p.tokens) * p.heads * (p.dim / 2);
  constexpr int kThreads = 256;
  const int64_t blocks = (total + kThreads - 1) / kThreads;
  if (blocks > 0x7fffffff) return cudaErrorInvalidValue;
  RopeKernel<<<static_cast<unsigned>(blocks), kThreads, 0, stream>>>(p);
  return cudaGetLastError();
}

}  // namespace sieve::cuda
