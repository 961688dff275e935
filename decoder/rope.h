// Rotary position embedding for MLA's decoupled rope dims, with DeepSeek's YaRN scaling.
//
// What: the per-frequency inverse frequencies, the cos/sin multiplier ("attention factor") and the
// softmax scale of a DeepSeek-V2 config, plus the rotation itself. Formulas follow the original
// DeepSeek remote code (DeepseekV2YarnRotaryEmbedding) and transformers 5.x, which agree on them
// for every config that sets both mscale and mscale_all_dim (reference/deepseek-v2.md §1.4):
//   dim = qk_rope_head_dim, base = rope_theta, f = yarn factor
//   extra[i] = base^(-2i/dim), inter[i] = extra[i] / f                       (i < dim/2)
//   corr(r)  = dim * ln(orig_max_pos / (2 pi r)) / (2 ln base)
//   low = max(floor(corr(beta_fast)), 0), high = min(ceil(corr(beta_slow)), dim - 1)
//   ramp[i]  = clamp((i - low) / (high - low), 0, 1)   (high += 0.001 when equal)
//   inv_freq[i] = inter[i] * ramp[i] + extra[i] * (1 - ramp[i])
//   mscale(f, m) = f <= 1 ? 1 : 0.1 m ln f + 1
//   attention factor (multiplies cos and sin) = mscale(f, mscale) / mscale(f, mscale_all_dim)
//   softmax scale = qk_head_dim^-0.5 * mscale(f, mscale_all_dim)^2  (no factor if mscale_all_dim
//                   is unset)
// Without yarn: inv_freq = extra, factor 1, scale qk_head_dim^-0.5.
//
// Rotation: ADJACENT pairs (x[2i], x[2i+1]) rotate by angle pos * inv_freq[i] (transformers 5.x and
// vLLM's is_neox_style=False), applied to checkpoint layout directly. The angle is formed in fp32
// as transformers does (fp32 position x fp32 inv_freq), then cos/sin are evaluated on it.
#ifndef SIEVE_DECODER_ROPE_H_
#define SIEVE_DECODER_ROPE_H_

#include <cstdint>
#include <vector>

#include "decoder/model_config.h"

namespace sieve {

double YarnGetMscale(double factor, double mscale);
// The softmax scale of MLA attention (0.1147213867929261 for V2-Lite).
double SoftmaxScale(const ModelConfig& config);

struct RopeTable {
  int64_t dim = 0;
  std::vector<double> inv_freq;  // dim / 2 entries
  double attention_factor = 1.0;
  // The yarn ramp bounds (low, high) in frequency-pair units; 0, 0 without yarn.
  double ramp_low = 0;
  double ramp_high = 0;
};

RopeTable ComputeRope(const ModelConfig& config);

// Rotates x[0 .. dim) in place for position `pos`.
void ApplyRope(const RopeTable& rope, int64_t pos, float* x);

}  // namespace sieve

#endif  // SIEVE_DECODER_ROPE_H_
