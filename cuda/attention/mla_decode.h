// MLA decode attention over the paged latent cache (absorbed form; reference/deepseek-v2.md §2.1).
//
// For each sequence b and head h, with the query already absorbed (q_lat = W_UK[h]^T q_nope[h])
// and rope'd (q_pe), and the sequence's seq_lens[b] cached tokens [c_t | kpe_t] (latent_cache.h):
//   s_t   = scale * (q_lat . c_t + q_pe . kpe_t)       t = 0 .. seq_lens[b] - 1 (fp32)
//   o_lat = sum_t softmax(s)_t * c_t                   (fp32, rounded to bf16 once)
//   lse   = log(sum_t exp(s_t))                        (optional; for a later split-KV combine)
// This is MQA with one KV head of width kv_lora + rope_dim (576) and value width kv_lora (512);
// the caller then applies W_UV[h] and o_proj (cuBLAS). A sequence with no cached tokens gets
// o_lat = 0 and lse = -inf. `scale` must be the model's (qk_head_dim^-0.5 * mscale^2; 0.1147 for
// V2-Lite), not (kv_lora + rope_dim)^-0.5.
//
// Kernel (split-KV, tensor cores; FlashMLA's structure with our own code): one block of 8 warps
// per (split, query row, group of kMlaHeadsPerBlock heads), plus a producer warp that streams its
// share of the row's cache in 64-token tiles (bulk copies into a two-stage shared-memory ring on
// mbarriers, so each cached byte is read once per head group and the math warps issue no copy
// instructions); scores for all the group's heads come from bf16 mma.sync with the fp32 query
// split into bf16 hi + lo parts (fp32-accurate scores), an online softmax in fp32, and
// o_lat += P V with P split the same way. With num_splits > 1 each split writes a normalised
// partial o_lat and its lse to partial_out / partial_lse, and a combine kernel merges them
// (weights exp(lse_s - max)). The host picks the split count (MlaDecodeSplits) from the row count
// and the longest possible sequence, never from the actual lengths, so the launch shape is the
// same every step (CUDA graphs).
// Query rows need not be distinct sequences: with `row_seq`, several rows (the tokens of one
// prompt) share a block-table row and each attends to its own prefix, which is how prefill runs
// the absorbed form over the cache.
// The cache must be 16-byte aligned (cudaErrorInvalidValue otherwise).
// Preconditions the host must keep (not checkable without a sync): seq_lens[b] <=
// max_pages_per_seq * page_size, row_seq[b] indexes a valid block-table row, and every page id
// used is < the cache's page count.
#ifndef SIEVE_CUDA_ATTENTION_MLA_DECODE_H_
#define SIEVE_CUDA_ATTENTION_MLA_DECODE_H_

#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cstdint>

namespace sieve::cuda {

struct MlaDecodeParams {
  const float* q;              // [batch, heads] rows of kv_lora + rope_dim fp32: [q_lat | q_pe]
  int64_t q_batch_stride;      // elements between sequences in q
  int64_t q_head_stride;       // elements between heads in q (>= kv_lora + rope_dim)
  const __nv_bfloat16* cache;  // [num_pages, page_size, kv_lora + rope_dim] bf16 latent cache
  const int32_t* block_table;  // [batch, max_pages_per_seq] page ids of each sequence
  int32_t max_pages_per_seq;   // row length of block_table
  const int32_t* seq_lens;     // [batch] cached tokens per sequence, current token included
  __nv_bfloat16* out;          // [batch, heads] rows of kv_lora bf16: o_lat
  int64_t out_batch_stride;    // elements between sequences in out
  int64_t out_head_stride;     // elements between heads in out (>= kv_lora)
  float* lse;                  // [batch, heads] fp32 log-sum-exp of the scaled scores, or null
  int32_t batch;               // sequences (<= 65535)
  int32_t heads;               // query heads
  int32_t kv_lora;             // latent width, <= kMlaMaxLatent
  int32_t rope_dim;            // rope width; kv_lora + rope_dim <= kMlaMaxHeadDim
  int32_t page_size;           // tokens per page (kMlaPageSize in the engine; any > 0 here)
  float scale;                 // softmax scale
  const int32_t* row_seq;      // [batch] block-table row (and so sequence) each query row reads,
                               // or null: row b reads row b. Prefill gives every prompt token
                               // its own query row over one sequence's table, with seq_lens[b]
                               // = position + 1 (causal).
  int32_t num_splits;          // KV splits per row; <= 1: none (partial buffers unused)
  float* partial_out;          // [num_splits, batch, heads, kv_lora] fp32 scratch (splits > 1;
                               // 16-byte aligned)
  float* partial_lse;          // [num_splits, batch, heads] fp32 scratch (splits > 1)
};

// Split count for `rows` query rows of `heads` heads over sequences of at most `max_tokens`
// tokens on `sm_count` multiprocessors: enough (split, row, head group) blocks to fill the SMs
// once, never more splits than 64-token tiles, 1 when the rows alone fill the GPU.
int32_t MlaDecodeSplits(int32_t rows, int32_t heads, int64_t max_tokens, int32_t sm_count);
// Floats of partial_out for a launch with that many splits (partial_lse needs 1 / kv_lora of it).
int64_t MlaPartialFloats(int32_t splits, int32_t rows, int32_t heads, int32_t kv_lora);

// Most KV splits per row (the combine's limit).
inline constexpr int32_t kMlaMaxSplits = 1024;

// Launches on `stream`; cudaErrorInvalidValue for a bad shape or null pointer; never aborts.
// With `pdl` the kernels may start while the kernel before each on the stream runs
// (programmatic dependent launch, cuda/common/pdl.cuh): their blocks are placed early and wait
// for it before their first global access. The split kernel does so only with `pdl_first` too:
// a caller whose stream has just waited for another stream's work passes false (pdl.cuh says
// why). With both and `appended_tokens` > 0 the caller promises that the kernels before this one
// on the stream write, of the cache rows the launch reads, at most the last `appended_tokens`
// positions of each row's sequence (the step's latent append: a step's tokens are the last
// positions of their sequences): the split kernel then copies its tiles that end before those
// positions ahead of the wait. Same results either way. `combine_early` = false launches the split
// combine without its early partial copies (the previous kernel, which launches with more than 32
// float4 columns per split group always take, e.g. batch 3+ at kv_lora 512; same bits): for tests.
cudaError_t LaunchMlaDecode(const MlaDecodeParams& p, cudaStream_t stream, bool pdl = false,
                            bool pdl_first = true, int32_t appended_tokens = 0,
                            bool combine_early = true);

}  // namespace sieve::cuda

#endif  // SIEVE_CUDA_ATTENTION_MLA_DECODE_H_
