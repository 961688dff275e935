// Routed expert FFNs (SwiGLU) over the pairs grouped by moe/routing.h, and their combination.
//
// Weights are stacked per layer, as transformers 5.x holds them in memory:
//   w13 [E, 2I, H] bf16: rows 0..I-1 = gate_proj, rows I..2I-1 = up_proj of each expert
//   w2  [E, H, I]  bf16: down_proj of each expert
// For each routed pair (token t, slot j, expert e, weight w), in three launches:
//   act[i]      = silu(gate_e . x_t) * (up_e . x_t)          fp32, i < I   (per sorted position)
//   pair_out[n] = w * (down_e . act)                          fp32, n < H   (per pair id)
//   out[t]      = (accumulate ? out[t] : 0) + sum_j pair_out[t * top_k + j] (+ shared_out[t])
// The sum over slots runs in slot order, so results do not depend on scheduling. Experts that
// received no pair cost nothing (the grid covers pairs, not experts).
//
// Kernels (expert-major, grouped), three families (ExpertFfnPrefersGemm, then
// ExpertFfnUsesTensorCores pick):
//   * tensor cores (aligned shapes, any batch): one persistent kernel per projection walks units
//     of (expert, 32 or 64 output rows), streaming the weight rows and the pairs' inputs through
//     a shared-memory ring into m16n8k16 mma; with fewer than 2 pairs per expert the units run
//     over the touched experts only, so the blocks share the work evenly, and the down kernel's
//     last round, when it fills at most half the grid, runs in halves of the rows (expert_ffn.cu).
//   * CUDA cores (other shapes): the grid covers (row tile, expert), or (row tile, sorted
//     position) when there are fewer pairs than experts; a block with nothing to do exits at
//     once, the others read their tile of the expert's weights once per step for up to 1, 2 or
//     kExpertPairsPerPass of its pairs at a time (picked from the token count; the pairs' inputs
//     staged in shared memory), with 16-byte weight loads when the reduction width is a multiple
//     of 8 (scalar loads otherwise).
//   * grouped GEMMs (prompt chunks: ExpertFfnPrefersGemm, expert_gemm.h): tiles of 128 sorted
//     positions of one expert x 128 gate + 128 up (or 256 down) weight rows, so a weight row in
//     shared memory serves 128 pairs instead of 16.
// Gate and up rows are computed together and SiLU(gate) * up is written directly; the down
// projection multiplies by the pair's combine weight. So at batch B each touched expert is
// streamed once instead of once per pair (reference/deepseek-v2.md §3.2).
#ifndef SIEVE_CUDA_MOE_EXPERT_FFN_H_
#define SIEVE_CUDA_MOE_EXPERT_FFN_H_

#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cstdint>

namespace sieve::cuda {

struct ExpertFfnParams {
  const __nv_bfloat16* x;         // [tokens, x_stride] bf16 normalised hidden states
  int64_t x_stride;               // elements between tokens (>= hidden)
  const __nv_bfloat16* w13;       // [num_experts, 2 * inter, hidden] bf16 gate rows, up rows
  const __nv_bfloat16* w2;        // [num_experts, hidden, inter] bf16
  const int32_t* sorted_pairs;    // [tokens * top_k] pair ids grouped by expert (MoeAlign)
  const int32_t* sorted_experts;  // [tokens * top_k] expert of each sorted entry
  const float* topk_weights;      // [tokens, top_k] combine weights (MoeRouting)
  float* act;                     // [tokens * top_k, inter] fp32 scratch
  float* pair_out;                // [tokens * top_k, hidden] fp32 scratch
  const float* shared_out;        // [tokens, shared_stride] fp32 added to every token, or null
  int64_t shared_stride;          // elements between tokens of shared_out
  float* out;                     // [tokens, out_stride] fp32 result
  int64_t out_stride;             // elements between tokens of out (>= hidden)
  bool accumulate;                // add into out (e.g. the residual stream) instead of overwriting
  int32_t tokens;
  int32_t top_k;        // slots per token (<= kMaxTopK)
  int32_t num_experts;  // E (bounds the expert ids)
  int32_t hidden;       // H
  int32_t inter;        // I (moe_intermediate_size)
  const int32_t* expert_offsets;  // [num_experts + 1] MoeAlign's ranges into sorted_pairs
  int32_t path;  // 0: automatic; 1: CUDA-core GEMVs; 2: tensor cores; 3: grouped GEMMs (tests)
};

// The automatic choice: the tensor-core kernels (persistent, weights streamed through shared
// memory) whenever the shapes allow them: H and I multiples of 128, x rows and act 16-byte
// aligned, at most kMaxExperts experts. Measured on the H100 (V2-Lite, issue 7 session 5, same-call
// A/B): they beat the CUDA-core GEMVs at every batch (decode step, batch 1 3.87-3.88 -> 3.80-3.83
// ms, batch 8 9.11-9.14 -> 8.85-8.94); the CUDA-core kernels serve the other shapes (tiny models,
// odd widths).
bool ExpertFfnUsesTensorCores(const ExpertFfnParams& p);

// Whether `fuse_combine` takes effect: the tensor-core kernels at 1..kExpertFusedCombineMaxTokens
// tokens (path 0 or 2). Then the down kernel also does the combine's work (units of 16 output
// rows of every touched expert; the sum per token in slot order, then shared_out, then onto 0 or
// out, as the combine): two launches instead of three, `out` bit-identical to the three,
// pair_out not written. Measured on the H100 (V2-Lite batch 1 with PDL, issue 7 session 7 second
// round): scripts/gpu/decoder-notes.md.
inline constexpr int32_t kExpertFusedCombineMaxTokens = 2;
bool ExpertFfnFusesCombine(const ExpertFfnParams& p);

// Launches the three kernels (two where `fuse_combine` and ExpertFfnFusesCombine) on `stream`;
// cudaErrorInvalidValue for a bad shape or null pointer (or path 2 on a shape the tensor-core
// kernels cannot take); never aborts. With `pdl` each kernel may start while the kernel before it
// on the stream runs (programmatic dependent launch, cuda/common/pdl.cuh): its blocks are placed
// early and wait for that kernel before their first global access. The first (gate/up) does so
// only with `pdl_first` too: a caller whose stream has just waited for another stream's work
// passes false (pdl.cuh says why). Same results.
// With `gate_up_done`, that event is recorded on `stream` right after the gate/up launch on the
// tensor-core path (after the last launch on the others): work forked from it onto another
// stream runs beside the down kernel rather than beside gate/up.
cudaError_t LaunchExpertFfn(const ExpertFfnParams& p, cudaStream_t stream, bool pdl = false,
                            bool pdl_first = true, bool fuse_combine = false,
                            cudaEvent_t gate_up_done = nullptr);

}  // namespace sieve::cuda

#endif  // SIEVE_CUDA_MOE_EXPERT_FFN_H_
