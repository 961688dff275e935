// Device rotation of one rope vector by adjacent pairs (DeepSeek-V2 in transformers 5.x and vLLM's
// is_neox_style=False): (x[2i], x[2i+1]) turns by angle pos * inv_freq[i], and both outputs are
// scaled by the yarn attention factor. The angle is formed in fp32 exactly as the CPU reference
// and transformers do (fp32 position times fp32 inverse frequency); cos and sin are then taken in
// double so the only difference from the CPU reference is the final fp32 rounding.
#ifndef SIEVE_CUDA_ROPE_ROPE_CUH_
#define SIEVE_CUDA_ROPE_ROPE_CUH_

#include <cuda_runtime.h>

#include <cstdint>

namespace sieve::cuda {

// Pair `i` = (a, b) rotated for position `pos`.
__device__ __forceinline__ float2 RopeRotate(float a, float b, int32_t i, int32_t pos,
                                             const float* inv_freq, float attention_factor) {
  const float angle = static_cast<float>(pos) * inv_freq[i];
  double s, c;
  sincos(static_cast<double>(angle), &s, &c);
  c *= attention_factor;
  s *= attention_factor;
  return make_float2(static_cast<float>(a * c - static_cast<double>(b) * s),
                     static_cast<float>(a * s + static_cast<double>(b) * c));
}

// Rotates pair `i` of `in` into `out` (which may alias `in`).
__device__ __forceinline__ void RopePair(const float* in, float* out, int32_t i, int32_t pos,
                                         const float* inv_freq, float attention_factor) {
  const float2 r = RopeRotate(in[2 * i], in[2 * i + 1], i, pos, inv_freq, attention_factor);
  out[2 * i] = r.x;
  out[2 * i + 1] = r.y;
}

}  // namespace sieve::cuda

#endif  // SIEVE_CUDA_ROPE_ROPE_CUH_
