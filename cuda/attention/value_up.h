// The absorbed MLA's value up-projection for decode-sized steps in one launch (issue 7): for
// token t, head h and value row v,
//   out[t, h, v] = bf16( sum_l W_UV[h][v, l] o_lat[t, h, l] )    (fp32 sums of exact products)
// which is what the strided batched W_UV GEMM (gemm.h, bf16 out) computes, up to the GEMM's
// summation order. W_UV[h] is stored [v, lat] (kv_b_proj rows h (nope + v) + nope ..), so each
// output is a dot product of two contiguous lat-wide rows: a warp owns two output rows, each lane
// holds its 16-byte chunks of both weight rows in flight at once (the whole row for lat <= 1024),
// sums its chunks in order and the warp reduces (deterministic). With `pdl` (cuda/common/pdl.cuh)
// the weights are requested before the wait for the kernel that writes o_lat.
// Limits (ValueUpSupported; cudaErrorInvalidValue otherwise): 1 <= tokens <= kValueUpMaxTokens,
// lat a multiple of 8 and <= kValueUpMaxLat, w_uv, o_lat and their strides 16-byte aligned.
#ifndef SIEVE_CUDA_ATTENTION_VALUE_UP_H_
#define SIEVE_CUDA_ATTENTION_VALUE_UP_H_

#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cstdint>

namespace sieve::cuda {

inline constexpr int32_t kValueUpMaxTokens = 2;
inline constexpr int32_t kValueUpMaxLat = 1024;

struct ValueUpParams {
  const __nv_bfloat16* o_lat;  // [tokens, o_lat_token_stride] bf16; head h at h * o_lat_head_stride
  int64_t o_lat_token_stride;  // (multiple of 8)
  int64_t o_lat_head_stride;   // (multiple of 8, >= lat)
  const __nv_bfloat16* w_uv;   // head h: [v, lat] bf16 at w_uv + h * w_head_stride
  int64_t w_head_stride;       // elements between heads' W_UV (multiple of 8)
  __nv_bfloat16* out;          // [tokens, out_token_stride] bf16; head h at h * out_head_stride
  int64_t out_token_stride;
  int64_t out_head_stride;  // (>= v)
  int32_t tokens;           // 1 .. kValueUpMaxTokens
  int32_t heads;
  int32_t lat;  // kv_lora_rank (multiple of 8, <= kValueUpMaxLat)
  int32_t v;    // v_head_dim (rows of W_UV per head)
};

bool ValueUpSupported(const ValueUpParams& p);
// Launches on `stream`; cudaErrorInvalidValue when ValueUpSupported refuses; never aborts. With
// `pdl` the kernel may start while the previous kernel on the stream runs (cuda/common/pdl.cuh):
// every lane requests its weight chunks, then waits for that kernel before reading o_lat.
cudaError_t LaunchValueUp(const ValueUpParams& p, cudaStream_t stream, bool pdl = false);

}  // namespace sieve::cuda

#endif  // SIEVE_CUDA_ATTENTION_VALUE_UP_H_
