// The CPU token sampler: bitmask + temperature + top-k + top-p + seeded choice, with exactly the
// semantics of the GPU kernel (cuda/sampling/sample.h), so both pick the same token for the same
// logits, mask, parameters and seed.
//
// The choice, for one row of `vocab` logits:
//   1. allowed A = ids i < vocab whose mask bit is set (bit i & 31 of word i >> 5; ids at or past
//      mask_words * 32 are never allowed) and whose logit is not NaN and not -inf. Empty A -> -1.
//   2. temperature <= 0: greedy, the largest logit in A, lowest id among ties. Done.
//   3. z_i = logit_i / temperature (fp32).
//   4. top_k > 0 and < |A|: keep K = {i in A : z_i >= the k-th largest z} (ties at the cut kept).
//   5. top_p < 1: with w_i = exp(z_i - max z) (double), keep the fewest largest-z tokens of K whose
//      mass reaches top_p * sum(w): P = {i in K : z_i >= t}, t the largest value with
//      sum_{z_j >= t} w_j >= top_p * sum(w). (The GPU sums in a different order: at an exact mass
//      tie the two may disagree; everything else is bit-identical.)
//   6. the token is argmax over P of z_i + Gumbel(seed, index, i) (sample_rng.h), lowest id among
//      ties: an exact draw from softmax(z) restricted to P.
// `index` is the request's output position, so the random stream does not depend on batching.
#ifndef SIEVE_DECODER_SAMPLER_H_
#define SIEVE_DECODER_SAMPLER_H_

#include <cstdint>

#include "grammar/support/status.h"

namespace sieve {

struct SamplingParams {
  float temperature = 0.0f;  // <= 0: greedy
  int32_t top_k = 0;         // 0: off
  float top_p = 1.0f;        // 1: off; (0, 1]
  uint64_t seed = 0;
};

// kInvalidArgument naming the field for NaN/negative temperature, top_k < 0, top_p outside (0, 1].
Status ValidateSamplingParams(const SamplingParams& params);

// The chosen id, or -1 when no token is allowed. `mask` may be null: every id < vocab allowed.
int32_t SampleToken(const float* logits, int32_t vocab, const uint32_t* mask, int32_t mask_words,
                    const SamplingParams& params, uint64_t index);

}  // namespace sieve

#endif  // SIEVE_DECODER_SAMPLER_H_
