// Apply a token bitmask to logits on the GPU: disallowed ids become -inf.
//
// Bitmask layout (the XGrammar/llguidance convention): uint32 words, `mask_words` per row, bit `i & 31`
// of word `i >> 5` is token i, 1 = allowed. Ids at or beyond mask_words * 32 (model vocab padding past
// the tokenizer) are always disallowed. Rows are independent; a row index table lets a batch apply masks
// to only the constrained sequences.
#ifndef SIEVE_CUDA_SAMPLING_APPLY_BITMASK_H_
#define SIEVE_CUDA_SAMPLING_APPLY_BITMASK_H_

#include <cstdint>

#include <cuda_runtime.h>

namespace sieve::cuda {

struct ApplyBitmaskParams {
  float* logits;              // [num_rows, logits_stride] fp32, updated in place
  int64_t logits_stride;      // elements between rows (>= vocab_size)
  int32_t vocab_size;         // logits per row to process
  const uint32_t* bitmask;    // [num_masks, mask_words]
  int32_t mask_words;         // words per bitmask row (ceil(tokenizer vocab / 32))
  const int32_t* row_to_mask; // [num_rows] mask row for each logits row, -1 = unconstrained; may be
                              // null: row r uses mask r
  int32_t num_rows;
};

// Launches on `stream`; returns the launch error (never aborts).
cudaError_t LaunchApplyBitmask(const ApplyBitmaskParams& p, cudaStream_t stream);

}  // namespace sieve::cuda

#endif  // SIEVE_CUDA_SAMPLING_APPLY_BITMASK_H_
