// DeepSeek-V2 MoE routing on the GPU, and grouping the routed (token, slot) pairs by expert.
//
// Routing (same semantics as decoder/moe_routing.h, the CPU oracle), from fp32 router logits:
//   scores = softmax(logits)  (fp32)
//   group-limited (n_group > 1): group score = max score in each of n_group equal groups; keep the
//     topk_group best groups; scores outside them become 0
//   pick the top_k highest scores, listed by descending score, ties toward the lower expert id
//   weights = picked scores; if top_k > 1 and norm_topk_prob: weights /= (sum + 1e-20)
//                             else: weights *= routed_scaling_factor
// One warp per token.
//
// Alignment: the tokens * top_k pairs (pair = token * top_k + slot) are grouped by expert:
// expert_offsets[e] .. expert_offsets[e + 1] index sorted_pairs, where each expert's pairs appear
// in ascending pair order (deterministic; no atomics). sorted_experts[i] repeats the expert of
// sorted_pairs[i] so expert kernels need no search. Experts that received no pair have an empty
// range. One block; warp w scans the pairs for experts w, w + 32, ... with ballots.
#ifndef SIEVE_CUDA_MOE_ROUTING_H_
#define SIEVE_CUDA_MOE_ROUTING_H_

#include <cuda_runtime.h>

#include <cstdint>

namespace sieve::cuda {

struct MoeRoutingParams {
  const float* logits;    // [tokens, logits_stride] fp32 router logits (first num_experts)
  int64_t logits_stride;  // elements between tokens (>= num_experts)
  int32_t tokens;
  int32_t num_experts;          // <= kMaxExperts
  int32_t top_k;                // 1 .. min(num_experts, kMaxTopK)
  int32_t n_group;              // 1 = plain greedy; > 1 = group_limited_greedy (<= kMaxGroups,
                                // divides num_experts)
  int32_t topk_group;           // groups kept (1 .. n_group); top_k must fit in them
  bool norm_topk_prob;          // renormalise the picked weights (only when top_k > 1)
  float routed_scaling_factor;  // multiplies the weights when not renormalising
  int32_t* topk_ids;            // [tokens, top_k] expert ids, by descending score
  float* topk_weights;          // [tokens, top_k] combine weights
};

struct MoeAlignParams {
  const int32_t* topk_ids;  // [num_pairs] expert id of each (token, slot) pair, in [0, E)
  int32_t num_pairs;        // tokens * top_k
  int32_t num_experts;      // E <= kMaxExperts
  int32_t* expert_offsets;  // [E + 1] exclusive prefix sums of per-expert pair counts
  int32_t* sorted_pairs;    // [num_pairs] pair ids grouped by expert, ascending within expert
  int32_t* sorted_experts;  // [num_pairs] expert of each sorted_pairs entry
};

// Launch on `stream`; cudaErrorInvalidValue for a bad shape or null pointer; never abort.
cudaError_t LaunchMoeRouting(const MoeRoutingParams& p, cudaStream_t stream);
cudaError_t LaunchMoeAlign(const MoeAlignParams& p, cudaStream_t stream);
// The launchers' argument checks alone (cudaSuccess or cudaErrorInvalidValue), for fused launches.
cudaError_t CheckMoeRouting(const MoeRoutingParams& p);
cudaError_t CheckMoeAlign(const MoeAlignParams& p);

}  // namespace sieve::cuda

#endif  // SIEVE_CUDA_MOE_ROUTING_H_
