// CPU MoE routing; semantics in moe_routing.h.
#include "decoder/moe_routing.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

namespace sieve {

RoutingParams RoutingParams::FromConfig(const ModelConfig& c) {
  RoutingParams p;
  p.n_experts = c.n_routed_experts;
  p.top_k = c.num_experts_per_tok;
  p.method = c.topk_method;
  p.n_group = c.n_group > 0 ? c.n_group : 1;
  p.topk_group = c.topk_group > 0 ? c.topk_group : 1;
  p.norm_topk_prob = c.norm_topk_prob;
  p.routed_scaling_factor = c.routed_scaling_factor;
  return p;
}

void Softmax(float* x, int64_t n) {
  if (n <= 0) return;
  float m = x[0];
  for (int64_t i = 1; i < n; ++i) m = std::max(m, x[i]);
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) {
    x[i] = std::exp(x[i] - m);
    sum += x[i];
  }
  const float inv = static_cast<float>(1.0 / sum);
  for (int64_t i = 0; i < n; ++i) x[i] *= inv;
}

namespace {

// Indices of `v` ordered by descending value, ties by ascending index.
std::vector<int32_t> RankDescending(const std::vector<float>& v) {
  std::vector<int32_t> idx(v.size());
  std::iota(idx.begin(), idx.end(), 0);
  std::stable_sort(idx.begin(), idx.end(), [&](int32_t a, int32_t b) { return v[a] > v[b]; });
  return idx;
}

}  // namespace

Routing RouteFromScores(const float* scores, const RoutingParams& p) {
  const float kInf = std::numeric_limits<float>::infinity();
  std::vector<float> s(scores, scores + p.n_experts);
  Routing r;
  r.margin = kInf;
  if (p.method == TopkMethod::kGroupLimitedGreedy && p.n_group > 1) {
    const int64_t per = p.n_experts / p.n_group;
    std::vector<float> group(p.n_group);
    for (int64_t g = 0; g < p.n_group; ++g) {
      group[g] = *std::max_element(s.begin() + g * per, s.begin() + (g + 1) * per);
    }
    const std::vector<int32_t> order = RankDescending(group);
    if (p.topk_group < p.n_group) {
      r.margin = group[order[p.topk_group - 1]] - group[order[p.topk_group]];
    }
    for (int64_t j = p.topk_group; j < p.n_group; ++j) {
      std::fill(s.begin() + order[j] * per, s.begin() + (order[j] + 1) * per, 0.0f);
    }
  }
  const std::vector<int32_t> order = RankDescending(s);
  if (p.top_k < p.n_experts) {
    r.margin = std::min(r.margin, s[order[p.top_k - 1]] - s[order[p.top_k]]);
  }
  r.experts.assign(order.begin(), order.begin() + p.top_k);
  r.weights.resize(p.top_k);
  for (int64_t j = 0; j < p.top_k; ++j) r.weights[j] = s[r.experts[j]];
  if (p.top_k > 1 && p.norm_topk_prob) {
    float sum = 0;
    for (float w : r.weights) sum += w;
    sum += 1e-20f;
    for (float& w : r.weights) w /= sum;
  } else {
    for (float& w : r.weights) w = static_cast<float>(w * p.routed_scaling_factor);
  }
  return r;
}

Routing RouteFromLogits(const float* logits, const RoutingParams& p) {
  std::vector<float> s(logits, logits + p.n_experts);
  Softmax(s.data(), p.n_experts);
  return RouteFromScores(s.data(), p);
}

}  // namespace sieve
