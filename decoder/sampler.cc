// CPU sampler; the semantics are in sampler.h and must stay identical to cuda/sampling/sample.cu.
#include "decoder/sampler.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "cuda/sampling/sample_rng.h"

namespace sieve {

Status ValidateSamplingParams(const SamplingParams& p) {
  if (std::isnan(p.temperature) || p.temperature < 0 || std::isinf(p.temperature)) {
    return InvalidArgument("temperature must be a finite number >= 0 (0 = greedy), got " +
                           std::to_string(p.temperature));
  }
  if (p.top_k < 0) {
    return InvalidArgument("top_k must be >= 0 (0 = off), got " + std::to_string(p.top_k));
  }
  if (!(p.top_p > 0.0f && p.top_p <= 1.0f)) {
    return InvalidArgument("top_p must be in (0, 1] (1 = off), got " + std::to_string(p.top_p));
  }
  return Status::Ok();
}

int32_t SampleToken(const float* logits, int32_t vocab, const uint32_t* mask, int32_t mask_words,
                    const SamplingParams& params, uint64_t index) {
  using sampling::OrderedKey;
  const int64_t limit =
      mask == nullptr ? vocab : std::min<int64_t>(vocab, int64_t{mask_words} * 32);
  auto allowed = [&](int64_t i) {
    if (mask != nullptr && ((mask[i >> 5] >> (i & 31)) & 1u) == 0) return false;
    const float v = logits[i];
    return !std::isnan(v) && v != -INFINITY;
  };
  if (!(params.temperature > 0.0f)) {
    int32_t best = -1;
    for (int64_t i = 0; i < limit; ++i) {
      if (allowed(i) && (best < 0 || logits[i] > logits[best])) best = static_cast<int32_t>(i);
    }
    return best;
  }
  // (key of z, id) for every allowed id.
  std::vector<std::pair<uint32_t, int32_t>> cand;
  for (int64_t i = 0; i < limit; ++i) {
    if (!allowed(i)) continue;
    const float z = sampling::RnDiv(logits[i], params.temperature);
    cand.emplace_back(OrderedKey(z), static_cast<int32_t>(i));
  }
  if (cand.empty()) return -1;
  uint32_t threshold = 0;  // keep keys >= threshold
  if (params.top_k > 0 && static_cast<size_t>(params.top_k) < cand.size()) {
    std::vector<uint32_t> keys(cand.size());
    for (size_t i = 0; i < cand.size(); ++i) keys[i] = cand[i].first;
    std::nth_element(keys.begin(), keys.begin() + (params.top_k - 1), keys.end(),
                     std::greater<uint32_t>());
    threshold = keys[params.top_k - 1];
  }
  if (params.top_p < 1.0f) {
    uint32_t max_key = 0;
    for (const auto& c : cand) max_key = std::max(max_key, c.first);
    const float zmax = sampling::KeyToFloat(max_key);
    std::vector<std::pair<uint32_t, double>> kept;  // (key, weight) of K
    double total = 0;
    for (const auto& c : cand) {
      if (c.first < threshold) continue;
      const double w = std::exp(static_cast<double>(sampling::KeyToFloat(c.first) - zmax));
      kept.emplace_back(c.first, w);
      total += w;
    }
    std::sort(kept.begin(), kept.end(),
              [](const auto& a, const auto& b) { return a.first > b.first; });
    const double target = static_cast<double>(params.top_p) * total;
    double mass = 0;
    for (size_t i = 0; i < kept.size();) {
      size_t j = i;
      while (j < kept.size() && kept[j].first == kept[i].first) mass += kept[j++].second;
      if (mass >= target || j == kept.size()) {
        threshold = std::max(threshold, kept[i].first);
        break;
      }
      i = j;
    }
  }
  int32_t best = -1;
  float best_score = 0;
  for (const auto& c : cand) {
    if (c.first < threshold) continue;
    const float z = sampling::KeyToFloat(c.first);
    const float score = sampling::RnAdd(
        z, sampling::GumbelNoise(params.seed, index, static_cast<uint32_t>(c.second)));
    if (best < 0 || score > best_score) {
      best = c.second;
      best_score = score;
    }
  }
  return best;
}

}  // namespace sieve
