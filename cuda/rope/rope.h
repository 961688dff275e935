// Rotary position embedding for MLA's decoupled rope dims (adjacent pairs, YaRN tables).
//
// For every token t and head h, the `dim` floats at src + t * src_token_stride + h *
// src_head_stride are rotated for position positions[t] (rope.cuh gives the formula) and written to
// the same place in dst, which may equal src (in place). Typical uses: q_pe inside the q
// projection's fp32 output, written into the attention query buffer next to the absorbed q_lat. The
// inverse frequencies and attention factor come from the host (decoder/rope.h ComputeRope) so the
// GPU and the CPU reference share one yarn implementation. One thread per (token, head, pair).
#ifndef SIEVE_CUDA_ROPE_ROPE_H_
#define SIEVE_CUDA_ROPE_ROPE_H_

#include <cuda_runtime.h>

#include <cstdint>

namespace sieve::cuda {

struct RopeParams {
  const float* src;          // [tokens, heads] vectors of `dim` fp32 at the strides below
  int64_t src_token_stride;  // elements between tokens in src
  int64_t src_head_stride;   // elements between heads in src
  float* dst;                // same layout with its own strides; may equal src
  int64_t dst_token_stride;
  int64_t dst_head_stride;
  const int32_t* positions;  // [tokens] position of each token in its sequence (>= 0)
  const float* inv_freq;     // [dim / 2] fp32 inverse frequencies (yarn-corrected)
  float attention_factor;    // multiplies cos and sin (yarn mscale ratio; 1 for V2/V2-Lite)
  int32_t tokens;
  int32_t heads;
  int32_t dim;  // rope dim, even, <= kMaxRopeDim
};

// Launches on `stream`; cudaErrorInvalidValue for a bad shape or null pointer; never aborts.
cudaError_t LaunchRope(const RopeParams& p, cudaStream_t stream);

}  // namespace sieve::cuda

#endif  // SIEVE_CUDA_ROPE_ROPE_H_
