// The absorbed MLA query for decode-sized steps in one launch (issue 7): for token t, head h,
//   q_abs[t, h, 0 .. lat)        = W_UK[h]^T bf16(q_nope[t, h])   (fp32 sums of exact products)
//   q_abs[t, h, lat .. lat + rd) = rope(q_pe[t, h], position[t])  (rope.cuh, bit-identical to
//                                                                   LaunchRope)
// which is what CastToBf16 + the strided batched W_UK GEMM (gemm.h) + LaunchRope compute, up to
// the GEMM's summation order. W_UK[h] is stored [nope, lat] (kv_b_proj rows h (nope + v) ..
// + nope), so a head's weight is 2 x nope x lat bytes (128 KB for V2-Lite): the kernel streams it
// once with 16-byte loads spread over (head, 128-column block) blocks whose 16 row groups keep
// all of a head's rows in flight at once, and reduces the row groups in shared memory in a
// fixed order (deterministic).
// Limits (cudaErrorInvalidValue otherwise): 1 <= tokens <= kQAbsorbMaxTokens, lat % 8 == 0,
// w_uk, w_head_stride and lat 16-byte aligned in elements of 8, rope_dim even <= kMaxRopeDim.
#ifndef SIEVE_CUDA_ATTENTION_Q_ABSORB_H_
#define SIEVE_CUDA_ATTENTION_Q_ABSORB_H_

#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cstdint>

#include "cuda/attention/latent_cache.h"

namespace sieve::cuda {

inline constexpr int32_t kQAbsorbMaxTokens = 2;

struct QAbsorbParams {
  const float* q;  // [tokens, q_token_stride] fp32; head h at h * q_head_stride:
                   // [q_nope (nope) | q_pe (rope_dim)]
  int64_t q_token_stride;
  int64_t q_head_stride;
  const __nv_bfloat16* w_uk;  // head h: [nope, lat] bf16 at w_uk + h * w_head_stride
  int64_t w_head_stride;      // elements between heads' W_UK (multiple of 8)
  float* out;                 // [tokens, out_token_stride] fp32; head h at h * out_head_stride:
                              // [q_lat (lat) | rotated q_pe (rope_dim)]
  int64_t out_token_stride;
  int64_t out_head_stride;
  const int32_t* positions;  // [tokens] positions for the rotation
  const float* inv_freq;     // [rope_dim / 2]
  float attention_factor;
  int32_t tokens;  // 1 .. kQAbsorbMaxTokens
  int32_t heads;
  int32_t nope;  // rows of W_UK (qk_nope_head_dim)
  int32_t lat;   // kv_lora_rank (multiple of 8)
  int32_t rope_dim;
};

bool QAbsorbSupported(const QAbsorbParams& p);
// Launches on `stream`; cudaErrorInvalidValue when QAbsorbSupported refuses; never aborts. With
// `pdl` the kernel may start while the previous kernel on the stream runs (cuda/common/pdl.cuh):
// every thread requests its W_UK rows, then waits for that kernel before reading q. Same results.
// With `append` (its tokens may differ from p's; 0 = none) the same launch also runs
// LaunchLatentAppend(*append) in blocks of its own, with the same results: the two read
// different inputs (q, kv_a) and write different outputs, so a 1-2 token step needs one kernel
// for both (cudaErrorInvalidValue where LaunchLatentAppend would refuse *append).
cudaError_t LaunchQAbsorb(const QAbsorbParams& p, cudaStream_t stream, bool pdl = false,
                          const LatentAppendParams* append = nullptr);

}  // namespace sieve::cuda

#endif  // SIEVE_CUDA_ATTENTION_Q_ABSORB_H_
