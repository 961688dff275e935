// Causal attention of a prompt chunk in the MHA form (prefill), flash-attention style.
//
// The decode kernel (mla_decode.h) runs the absorbed form with one query row per token: right
// for a step's few new tokens, wrong for a 2048-token chunk, where every row re-reads its whole
// prefix of the latent cache and each (query, key, head) costs kv_lora + rope + kv_lora = 1088
// multiply-adds. Here the chunk's queries attend to per-head keys and values made once per
// chunk from the latent cache (k_nope, v = kv_b_proj(c): the caller's GEMM), at
// qk_nope + rope + v = 320 multiply-adds per (query, key, head), as transformers computes
// DeepSeek-V2 prefill:
//   s_j  = scale * ([q_nope | q_pe] . [k_nope_j | k_pe_j])   j <= the query's position (fp32)
//   out  = sum_j softmax(s)_j v_j                            (fp32, rounded to bf16 once)
// A block takes 64 queries of one head (4 warps x 16 rows), keeps its queries in registers as
// bf16 mma fragments, streams 64-key tiles of [k_nope | k_pe] and v through a two-stage
// cp.async ring, and runs the online softmax in fp32 (scores from m16n8k16 bf16 mma with fp32
// accumulation; P rounded to bf16 for P V, as flash attention does). Head dims are fixed at
// qk_nope 128, rope 64, v 128 (DeepSeek-V2, V2-Lite, V3); MhaPrefillSupported says whether a
// shape fits.
#ifndef SIEVE_CUDA_ATTENTION_MHA_PREFILL_H_
#define SIEVE_CUDA_ATTENTION_MHA_PREFILL_H_

#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cstdint>

namespace sieve::cuda {

inline constexpr int32_t kMhaNope = 128, kMhaRope = 64, kMhaV = 128;

struct MhaPrefillParams {
  const float* q_nope;        // [tokens, heads] rows of >= 128 fp32 (q_proj output, nope first)
  int64_t q_nope_token_stride;
  int64_t q_nope_head_stride;
  const float* q_pe;          // [tokens, heads] rows of 64 fp32, rope applied
  int64_t q_pe_token_stride;
  int64_t q_pe_head_stride;
  const __nv_bfloat16* kv;    // [context, heads] rows of [k_nope 128 | v 128] bf16
  int64_t kv_token_stride;
  int64_t kv_head_stride;
  const __nv_bfloat16* k_pe;  // [context] rows of 64 bf16 (shared by the heads), rope applied
  int64_t k_pe_token_stride;
  __nv_bfloat16* out;         // [tokens, heads] rows of 128 bf16
  int64_t out_token_stride;
  int64_t out_head_stride;
  int32_t tokens;          // queries: positions first_position .. + tokens - 1
  int32_t heads;
  int32_t first_position;  // keys 0 .. first_position + tokens - 1 exist (context)
  float scale;             // softmax scale
};

// Shapes the kernel takes: tokens and heads >= 1 (heads <= 65535), first_position >= 0, kv,
// k_pe and out rows 16-byte aligned (strides multiples of 8 elements), q rows 8-byte aligned.
bool MhaPrefillSupported(const MhaPrefillParams& p);

// Launches on `stream`; cudaErrorInvalidValue when MhaPrefillSupported refuses or a pointer is
// null; never aborts.
cudaError_t LaunchMhaPrefill(const MhaPrefillParams& p, cudaStream_t stream);

// Copies the first `tokens` positions of one sequence's latent cache rows ([c | k_pe], `width`
// bf16 each, paged) into dst [tokens, width] (contiguous), for the chunk's key / value GEMM.
struct LatentGatherParams {
  const __nv_bfloat16* cache;  // [num_pages, page_size, width]
  const int32_t* block_table;  // the sequence's page ids
  int32_t page_size;
  int32_t width;  // multiple of 8
  int32_t tokens;
  __nv_bfloat16* dst;
};
cudaError_t LaunchLatentGather(const LatentGatherParams& p, cudaStream_t stream);

}  // namespace sieve::cuda

#endif  // SIEVE_CUDA_ATTENTION_MHA_PREFILL_H_
