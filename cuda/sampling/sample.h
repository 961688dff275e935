// Fused token sampling on the GPU: bitmask + temperature + top-k + top-p + seeded choice, one
// block per row. The semantics are exactly decoder/sampler.h's (the CPU sampler, the oracle of
// the kernel tests), with the randomness of sample_rng.h: for the same logits, mask, parameters
// and seed both pick the same token (the top-p mass is summed in a different order, so an exact
// mass tie at the top-p cut may differ; nothing else can).
//
// Per row: allowed = mask bit set (ids >= mask_words * 32, e.g. model padding past the tokenizer,
// are never allowed), logit not NaN / -inf. temperature <= 0 is greedy (argmax, lowest id among
// ties). Otherwise z = logit / temperature; top-k and top-p become a threshold on z found by a
// 32-step bisection over the float order (counts for top-k are exact integers; masses are fp64);
// the token is argmax of z + Gumbel noise over the kept ids. A row with nothing allowed yields -1.
// Cost: one pass over the row for greedy and plain temperature sampling, 33 more per active
// top-k / top-p bisection.
#ifndef SIEVE_CUDA_SAMPLING_SAMPLE_H_
#define SIEVE_CUDA_SAMPLING_SAMPLE_H_

#include <cuda_runtime.h>

#include <cstdint>

namespace sieve::cuda {

inline constexpr int32_t kSampleThreads = 1024;

// One row's parameters (plain data; the engine uploads a [rows] array per step).
struct SampleRowParams {
  float temperature;   // <= 0: greedy
  int32_t top_k;       // 0: off
  float top_p;         // >= 1: off
  int32_t logits_row;  // which row of `logits` this sampled row reads
  uint64_t seed;       // Philox key
  uint64_t index;      // the request's output position (Philox counter)
};

struct SampleParams {
  const float* logits;    // [logits rows, logits_stride] fp32 (row_params[r].logits_row picks)
  int64_t logits_stride;  // elements between rows (>= vocab)
  int32_t vocab;          // logits per row considered (the model's vocab)
  int32_t rows;
  const uint32_t* bitmask;            // [rows, mask_words], 1 = allowed; row r for sampled row r
  int32_t mask_words;                 // words per mask row
  const SampleRowParams* row_params;  // [rows] on the device
  int32_t* out_tokens;                // [rows] chosen id, -1 when nothing is allowed
};

// Launches on `stream`; cudaErrorInvalidValue for a bad shape or null pointer; never aborts.
cudaError_t LaunchSample(const SampleParams& p, cudaStream_t stream);

}  // namespace sieve::cuda

#endif  // SIEVE_CUDA_SAMPLING_SAMPLE_H_
