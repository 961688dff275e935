// DeepSeek-V2 MoE routing on the CPU: router logits -> softmax -> top-k experts and their weights.
//
// The reference semantics (original DeepSeek `MoEGate`, reference/deepseek-v2.md §3.1), in fp32:
//   scores = softmax(logits)
//   greedy:               pick the k highest scores
//   group_limited_greedy: group score = max score in each of n_group equal groups; keep the
//                         topk_group best groups; scores outside them become 0; pick the k highest
//   weights = the picked scores; if k > 1 and norm_topk_prob: weights /= (sum + 1e-20)
//                                else:                       weights *= routed_scaling_factor
// (V2 scales OR renormalises, never both; transformers 5.x ignores norm_topk_prob, which matters
// only for configs that set it.) Ties break toward the lower index, for experts and groups alike,
// so the result is deterministic; picked experts are listed by descending score.
//
// The margin reports how decisive a choice was: the smallest gap between a kept and a dropped
// candidate (k-th vs (k+1)-th score, and for group-limited routing also topk_group-th vs next group
// score). Scores perturbed by less than margin / 2 cannot change the selection, so a kernel test
// can tell a real mismatch from a near tie.
#ifndef SIEVE_DECODER_MOE_ROUTING_H_
#define SIEVE_DECODER_MOE_ROUTING_H_

#include <cstdint>
#include <vector>

#include "decoder/model_config.h"

namespace sieve {

struct RoutingParams {
  int64_t n_experts = 0;
  int64_t top_k = 0;
  TopkMethod method = TopkMethod::kGreedy;
  int64_t n_group = 1;
  int64_t topk_group = 1;
  bool norm_topk_prob = false;
  double routed_scaling_factor = 1.0;

  static RoutingParams FromConfig(const ModelConfig& c);
};

struct Routing {
  std::vector<int32_t> experts;  // top_k expert ids, by descending score
  std::vector<float> weights;    // their combine weights
  float margin = 0;              // see the file comment; +inf when nothing was dropped
};

// In-place fp32 softmax over n values.
void Softmax(float* x, int64_t n);
// Routes from post-softmax scores [n_experts].
Routing RouteFromScores(const float* scores, const RoutingParams& p);
// Routes from router logits [n_experts] (softmax first).
Routing RouteFromLogits(const float* logits, const RoutingParams& p);

}  // namespace sieve

#endif  // SIEVE_DECODER_MOE_ROUTING_H_
