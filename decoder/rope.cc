// YaRN rope tables and rotation; formulas in rope.h.
#include "decoder/rope.h"

#include <algorithm>
#include <cmath>

namespace sieve {

double YarnGetMscale(double factor, double mscale) {
  return factor <= 1.0 ? 1.0 : 0.1 * mscale * std::log(factor) + 1.0;
}

double SoftmaxScale(const ModelConfig& c) {
  double scale = 1.0 / std::sqrt(static_cast<double>(c.qk_head_dim()));
  if (c.yarn.enabled && c.yarn.mscale_all_dim != 0.0) {
    const double m = YarnGetMscale(c.yarn.factor, c.yarn.mscale_all_dim);
    scale *= m * m;
  }
  return scale;
}

namespace {

double CorrectionDim(double rotations, double dim, double base, double max_pos) {
  return dim * std::log(max_pos / (rotations * 2.0 * M_PI)) / (2.0 * std::log(base));
}

}  // namespace

RopeTable ComputeRope(const ModelConfig& c) {
  RopeTable t;
  t.dim = c.qk_rope_head_dim;
  const int64_t half = t.dim / 2;
  const double base = c.rope_theta;
  const double dim = static_cast<double>(t.dim);
  t.inv_freq.resize(half);
  for (int64_t i = 0; i < half; ++i) t.inv_freq[i] = 1.0 / std::pow(base, (2.0 * i) / dim);
  if (!c.yarn.enabled) return t;
  const YarnRope& y = c.yarn;
  const double orig = static_cast<double>(y.original_max_position_embeddings);
  double low = std::floor(CorrectionDim(y.beta_fast, dim, base, orig));
  double high = std::ceil(CorrectionDim(y.beta_slow, dim, base, orig));
  low = std::max(low, 0.0);
  high = std::min(high, dim - 1);
  t.ramp_low = low;
  t.ramp_high = high;
  if (low == high) high += 0.001;
  for (int64_t i = 0; i < half; ++i) {
    const double ramp = std::clamp((static_cast<double>(i) - low) / (high - low), 0.0, 1.0);
    const double extra = t.inv_freq[i];
    const double inter = extra / y.factor;
    t.inv_freq[i] = inter * ramp + extra * (1.0 - ramp);
  }
  t.attention_factor =
      YarnGetMscale(y.factor, y.mscale) / YarnGetMscale(y.factor, y.mscale_all_dim);
  return t;
}

void ApplyRope(const RopeTable& rope, int64_t pos, float* x) {
  const int64_t half = rope.dim / 2;
  for (int64_t i = 0; i < half; ++i) {
    const float angle = static_cast<float>(pos) * static_cast<float>(rope.inv_freq[i]);
    const double c = std::cos(static_cast<double>(angle)) * rope.attention_factor;
    const double s = std::sin(static_cast<double>(angle)) * rope.attention_factor;
    const double a = x[2 * i];
    const double b = x[2 * i + 1];
    x[2 * i] = static_cast<float>(a * c - b * s);
    x[2 * i + 1] = static_cast<float>(a * s + b * c);
  }
}

}  // namespace sieve
