// The latent cache append of one token (latent_cache.h), as a block-wide device function: the
// append kernel runs it per block, and the q absorb kernel in extra blocks of the same launch
// (q_absorb.h), so both give the same bits.
#ifndef SIEVE_CUDA_ATTENTION_LATENT_APPEND_CUH_
#define SIEVE_CUDA_ATTENTION_LATENT_APPEND_CUH_

#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cstdint>

#include "cuda/attention/latent_cache.h"
#include "cuda/common/device_utils.cuh"
#include "cuda/config.h"
#include "cuda/rope/rope.cuh"

namespace sieve::cuda {

// Token t of p into its cache slot (nothing for a negative slot). Every thread of the block calls
// it (a block sum; `scratch` holds >= 32 floats) after the wait for the kernel that wrote kv_a.
__device__ __forceinline__ void AppendLatentRow(const LatentAppendParams& p, int64_t t,
                                                float* scratch) {
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

// The launcher's checks (cudaErrorInvalidValue when false); tokens == 0 is valid (nothing to do).
inline bool LatentAppendValid(const LatentAppendParams& p) {
  if (p.tokens < 0 || p.kv_lora <= 0 || p.kv_lora > kMlaMaxLatent || p.rope_dim <= 0 ||
      p.rope_dim % 2 != 0 || p.rope_dim > kMaxRopeDim) {
    return false;
  }
  return p.tokens == 0 || (p.kv_a && p.norm_weight && p.positions && p.inv_freq && p.slot_mapping &&
                           p.cache && p.kv_a_stride >= p.kv_lora + p.rope_dim);
}

}  // namespace sieve::cuda

#endif  // SIEVE_CUDA_ATTENTION_LATENT_APPEND_CUH_
