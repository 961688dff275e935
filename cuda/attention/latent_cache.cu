// Kernel for latent_cache.h: one block of kNormThreads per token; the RMSNorm reduction is a
// block sum, the rope pairs are spread over the first rope_dim / 2 threads.
#include "cuda/attention/latent_cache.h"
#include "cuda/common/device_utils.cuh"
#include "cuda/common/pdl.cuh"
#include "cuda/config.h"
#include "cuda/rope/rope.cuh"

namespace sieve::cuda {
namespace {

__global__ void __launch_bounds__(kNormThreads) LatentAppendKernel(LatentAppendParams p) {
  __shared__ float scratch[32];
  PdlLaunchDependents();
  PdlWait();  // launched with PDL: kv_a is final from here
  const int64_t t = blockIdx.x;
  const int64_t slot = p.slot_mapping[t];
  if (slot < 0) return;  // uniform per block: no thread reaches the barrier below
  const float* src = p.kv_a + t * p.kv_a_stride;
  const int32_t width = p.kv_lora + p.rope_dim;
  __nv_bfloat16* dst = p.cache + slot * width;
  float ss = 0.0f;
  for (int i = threadIdx.x; i < p.kv_lora; i += blockDim.x) ss += src[i] * src[i];
  ss = BlockSum(ss, scratch);
  const float inv = 1.0f / sqrtf(ss / static_cast<float>(p.kv_lora) + p.eps);
  for (int i = threadIdx.x; i < p.kv_lora; i += blockDim.x) {
    dst[i] = __float2bfloat16_rn(ToFloat(p.norm_weight[i]) * (src[i] * inv));
  }
  for (int i = threadIdx.x; i < p.rope_dim / 2; i += blockDim.x) {
    const float* pe = src + p.kv_lora;
    const float2 r =
        RopeRotate(pe[2 * i], pe[2 * i + 1], i, p.positions[t], p.inv_freq, p.attention_factor);
    dst[p.kv_lora + 2 * i] = __float2bfloat16_rn(r.x);
    dst[p.kv_lora + 2 * i + 1] = __float2bfloat16_rn(r.y);
  }
}

}  // namespace

cudaError_t LaunchLatentAppend(const LatentAppendParams& p, cudaStream_t stream, bool pdl) {
  if (p.tokens < 0 || p.kv_lora <= 0 || p.kv_lora > kMlaMaxLatent || p.rope_dim <= 0 ||
      p.rope_dim % 2 != 0 || p.rope_dim > kMaxRopeDim) {
    return cudaErrorInvalidValue;
  }
  if (p.tokens == 0) return cudaSuccess;
  if (!p.kv_a || !p.norm_weight || !p.positions || !p.inv_freq || !p.slot_mapping || !p.cache ||
      p.kv_a_stride < p.kv_lora + p.rope_dim) {
    return cudaErrorInvalidValue;
  }
  return LaunchKernel(LatentAppendKernel, dim3(p.tokens), kNormThreads, 0, stream, pdl, p);
}

}  // namespace sieve::cuda
