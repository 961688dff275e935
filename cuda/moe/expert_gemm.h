// Routed experts for large steps (prompt chunks): grouped tensor-core GEMMs over the pairs as
// MoeAlign grouped them by expert.
//
// The streamed kernels of expert_ffn.cu read an expert's weights once per pass of 16 pairs:
// right for decode (a few pairs per expert), wrong for a 2048-token chunk (~190 pairs per
// expert: the weights come through the SM 12 times, in mma tiles 16 columns wide). Here a block
// computes a tile of 128 sorted positions of one expert x 256 weight rows with a 6-stage cp.async
// ring (32-wide K blocks) and ldmatrix-fed m16n8k16 mma, so each weight row loaded into shared
// memory serves 128 pairs:
//   gate/up: rows i0 .. i0 + 127 of gate and of up, so the epilogue has both for each (pair, i):
//            act[pos, i] = silu(gate . x) * (up . x), stored as bf16 hi + lo (LaunchExpertFfn's
//            act layout; the x rows are read through sorted_pairs, no gather);
//   down:    K = 2I: the act hi row, then the lo row, against the same weight row (one fp32 sum
//            of both halves), times the pair's combine weight into pair_out[pair] (pair order).
// Then LaunchExpertFfn's combine. No host synchronisation (the tile -> expert map is computed
// by each block from expert_offsets), so a CUDA graph can hold it. Every output is one block's
// sum in a fixed order: deterministic, equal to the streamed kernels' to fp32 rounding.
#ifndef SIEVE_CUDA_MOE_EXPERT_GEMM_H_
#define SIEVE_CUDA_MOE_EXPERT_GEMM_H_

#include <cuda_runtime.h>

#include <cstdint>

#include "cuda/moe/expert_ffn.h"

namespace sieve::cuda {

// LaunchExpertFfn takes this path (path 0) from this many pairs per expert on average (tokens *
// top_k >= this * num_experts) where the shapes allow it. Measured on the H100 (V2-Lite
// prefill, issue 7 session 17): bench/README.md.
inline constexpr int32_t kExpertGemmMinPairsPerExpert = 32;

// Shapes: hidden a multiple of 256, inter of 128, at most kMaxExperts experts, x rows, weights
// and act 16-byte aligned, pair_out 8-byte aligned.
bool ExpertGemmShapeOk(const ExpertFfnParams& p);
// Whether LaunchExpertFfn's automatic choice (path 0) is this path: the shapes fit and there
// are at least kExpertGemmMinPairsPerExpert pairs per expert on average.
bool ExpertFfnPrefersGemm(const ExpertFfnParams& p);

// The gate/up and down launches (LaunchExpertFfn validates `p`, then adds the combine); with
// `pdl` a kernel waits for its predecessor on the stream before its first global access.
cudaError_t LaunchExpertGemmGateUp(const ExpertFfnParams& p, cudaStream_t stream, bool pdl);
cudaError_t LaunchExpertGemmDown(const ExpertFfnParams& p, cudaStream_t stream, bool pdl);

}  // namespace sieve::cuda

#endif  // SIEVE_CUDA_MOE_EXPERT_GEMM_H_
