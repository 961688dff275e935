// Appending tokens to MLA's paged latent KV cache.
//
// Cache layout (shared with mla_decode.h): pages of `page_size` tokens; each token row holds
// kv_lora + rope_dim bf16 values [c | k_pe] (576 = 1152 bytes for V2-Lite). A sequence's pages are
// listed in its block table; token t of a sequence lives in page block_table[t / page_size], row
// t % page_size. The engine hands out slots; this kernel only writes them.
//
// For each new token (one block each), from the fp32 output of kv_a_proj_with_mqa [c | k_pe_raw]:
//   c    = RMSNorm(c) * kv_a_layernorm        (fp32, then rounded to bf16)
//   k_pe = RoPE(k_pe_raw, position)            (adjacent pairs, rope.cuh, then bf16)
// and writes [c | k_pe] to cache row slot_mapping[t] (page * page_size + row). A negative slot
// skips the token (padding in a batch).
#ifndef SIEVE_CUDA_ATTENTION_LATENT_CACHE_H_
#define SIEVE_CUDA_ATTENTION_LATENT_CACHE_H_

#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cstdint>

namespace sieve::cuda {

struct LatentAppendParams {
  const float* kv_a;                 // [tokens, kv_a_stride] fp32: kv_lora latent then rope_dim
  int64_t kv_a_stride;               // elements between tokens (>= kv_lora + rope_dim)
  const __nv_bfloat16* norm_weight;  // [kv_lora] kv_a_layernorm weight
  float eps;                         // rms_norm_eps
  const int32_t* positions;          // [tokens] position of each token in its sequence
  const float* inv_freq;             // [rope_dim / 2] rope inverse frequencies
  float attention_factor;            // rope cos/sin multiplier
  const int64_t* slot_mapping;       // [tokens] cache row = page * page_size + row; < 0 = skip
  __nv_bfloat16* cache;              // [num_pages, page_size, kv_lora + rope_dim] bf16
  int32_t tokens;
  int32_t kv_lora;   // latent width (512 for V2), <= kMlaMaxLatent
  int32_t rope_dim;  // rope width (64), even, <= kMaxRopeDim
};

// Launches on `stream`; cudaErrorInvalidValue for a bad shape or null pointer; never aborts.
// With `pdl` the kernel may start while the kernel before it on the stream runs and waits for it
// before its first global access (programmatic dependent launch, cuda/common/pdl.cuh).
cudaError_t LaunchLatentAppend(const LatentAppendParams& p, cudaStream_t stream, bool pdl = false);

}  // namespace sieve::cuda

#endif  // SIEVE_CUDA_ATTENTION_LATENT_CACHE_H_
