// Small element-wise and gather kernels that glue the decoder's projections together.
//
//   Embedding:   out[t, :] = fp32(table[tokens[t], :])          bf16 table -> fp32 residual stream
//   SiluMul:     out[t, i] = bf16(silu(in[t, i]) * in[t, inter + i])   SwiGLU after a fused
//                gate|up projection (the layout of the stacked expert and dense gate_up weights)
//   CastToBf16:  dst[r, i] = bf16(src[r, i])                     strided rows, e.g. q_nope out of
//                the fp32 q projection ([tokens * heads] rows of `nope` at stride qk_head_dim)
//   GatherRows:  dst[r, :] = src[rows[r], :]                      bf16, e.g. the last position of
//                each prefilled sequence before lm_head
//   FillHash:    dst[i] = bf16(scale * u(seed, i)), u uniform in [-1, 1) from a hash of (seed, i):
//                deterministic non-zero contents for benchmark buffers (a KV cache that stands for
//                a long context), so timings never run on zeros
// All arithmetic is fp32; bf16 outputs are rounded once, to nearest even. Each launcher checks its
// shape and pointers and returns cudaErrorInvalidValue instead of launching on bad input; none of
// them aborts. Out-of-range token ids or row indices (which the host validates) write zeros
// rather than reading out of bounds.
#ifndef SIEVE_CUDA_ELEMENTWISE_ELEMENTWISE_H_
#define SIEVE_CUDA_ELEMENTWISE_ELEMENTWISE_H_

#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cstdint>

namespace sieve::cuda {

struct EmbeddingParams {
  const __nv_bfloat16* table;  // [vocab, dim] bf16 embedding rows
  const int32_t* tokens;       // [tokens] ids; outside [0, vocab) gives a zero row
  float* out;                  // [tokens, out_stride] fp32
  int64_t out_stride;          // elements between rows of out (>= dim)
  int32_t tokens_count;        // rows to write
  int32_t vocab;
  int32_t dim;
};

struct SiluMulParams {
  const float* in;     // [rows, in_stride] fp32: gate in [0, inter), up in [inter, 2 inter)
  int64_t in_stride;   // elements between rows of in (>= 2 * inter)
  __nv_bfloat16* out;  // [rows, out_stride] bf16
  int64_t out_stride;  // elements between rows of out (>= inter)
  int32_t rows;
  int32_t inter;
};

struct CastToBf16Params {
  const float* src;    // [rows, src_stride] fp32; the first `cols` of each row are read
  int64_t src_stride;  // >= cols
  __nv_bfloat16* dst;  // [rows, dst_stride] bf16
  int64_t dst_stride;  // >= cols
  int32_t rows;
  int32_t cols;
};

struct GatherRowsParams {
  const __nv_bfloat16* src;  // [src_rows, stride] bf16
  int32_t src_rows;          // bounds the indices
  const int32_t* rows;       // [count] source row of each output row
  __nv_bfloat16* dst;        // [count, stride] bf16
  int64_t stride;            // elements between rows of src and dst (>= dim)
  int32_t count;
  int32_t dim;
};

struct FillHashParams {
  __nv_bfloat16* dst;  // [count] bf16
  int64_t count;
  uint32_t seed;
  float scale;
};

// Each launches on `stream`; cudaErrorInvalidValue for a bad shape or null pointer; never aborts.
cudaError_t LaunchEmbedding(const EmbeddingParams& p, cudaStream_t stream);
cudaError_t LaunchSiluMul(const SiluMulParams& p, cudaStream_t stream);
cudaError_t LaunchCastToBf16(const CastToBf16Params& p, cudaStream_t stream);
cudaError_t LaunchGatherRows(const GatherRowsParams& p, cudaStream_t stream);
cudaError_t LaunchFillHash(const FillHashParams& p, cudaStream_t stream);

}  // namespace sieve::cuda

#endif  // SIEVE_CUDA_ELEMENTWISE_ELEMENTWISE_H_
