// Small-batch projections (decode, up to kGemvMaxRows tokens) without cuBLAS: a weight-streaming
// GEMV that reads every weight byte once with 16-byte loads and keeps many of them in flight.
//
// For every output segment s (one or two; two segments share the input, e.g. q_proj and
// kv_a_proj_with_mqa, so one launch streams both weights) and token m < rows:
//   plain:     y_s[m, n] = sum_k x[m, k] W_s[n, k]                     n < n_s
//   silu_mul:  y_0[m, n] = silu(g) * u, g = sum_k x[m, k] W_0[n, k],    n < n_0
//                                       u = sum_k x[m, k] W_0[n_0 + n, k]
//              (W_0 is the stacked [gate; up] weight [2 n_0, k] of a SwiGLU MLP; one segment)
// x and W are bf16 (W row-major [N, K], nn.Linear), accumulation is fp32 (each product exact in
// fp32, summed in a fixed order: the result is deterministic), y is fp32 or bf16 (rounded
// once). silu_mul computes silu in fp32 from the fp32 sums, like SiluMul over a fp32 GEMM. A
// segment with `accumulate` adds its sums into fp32 y (y[m, n] += ..., one rounding), e.g. the
// shared experts' down_proj straight into the residual stream.
//
// Kernel: a warp owns two weight rows (gate and up of one output in silu_mul mode); lane l reads
// 16-byte chunks l, l + 32, ... of both rows, 8 (M <= 2) or 4 chunks per row in flight, multiplies
// them with the matching chunks of every token row (x is small and stays in L1; the weights bypass
// it), and the warp reduces at the end. 8 warps per block; the grid covers the rows of all
// segments (at one token, where two blocks per SM would take two waves and three take one, three
// with 2 chunks per row in flight: the same sums in the same order). Requirements (checked by the
// launcher, cudaErrorInvalidValue otherwise): 1 <= rows <= kGemvMaxRows, k % 8 == 0, x / W / ldx
// 16-byte aligned (ldx % 8 == 0); with a norm also rows x k <= kGemvMaxNormElements and h_out
// distinct from h and delta; GemvSupported says so beforehand.
#ifndef SIEVE_CUDA_GEMM_GEMV_H_
#define SIEVE_CUDA_GEMM_GEMV_H_

#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cstdint>

namespace sieve::cuda {

inline constexpr int32_t kGemvMaxRows = 8;  // tokens per launch
// Where the decoder uses it: up to 2 tokens. Measured on the H100 (V2-Lite, batch 8): at 8 tokens
// the per-token x loads and bf16 unpacking make it instruction-bound and slower than cuBLAS
// (attn + shared-expert projections 3.6 vs 2.3 ms per step), at 1 token faster (see
// scripts/gpu/decoder-notes.md, issue 7 step 6).
inline constexpr int32_t kGemvDecoderMaxRows = 2;
inline constexpr int32_t kGemvMaxSegments = 2;          // output segments per launch
inline constexpr int32_t kGemvMaxNormElements = 16384;  // rows x k with a fused norm (32 KB smem)

struct GemvSegment {
  const __nv_bfloat16* w;  // [n, k] bf16 weight (silu_mul: [2 n, k], gate rows then up rows)
  int32_t n;               // output features of this segment
  void* y;                 // [rows, ldy] fp32 or bf16 output
  int64_t ldy;             // elements between token rows of y (>= n)
  bool y_bf16;             // y is bf16 (else fp32)
  bool accumulate = false;  // y += result: fp32 y, no norm, no silu_mul (one thread per element)
};

// Optional RMSNorm in front of the GEMV (rms_norm.h's math and reduction order, bit for bit):
// every block computes v = h + delta and x = RMSNorm(v) * weight for all rows into shared memory
// and multiplies that; block 0 also writes v to h_out (the residual stream's next buffer: it must
// not alias h or delta, other blocks are still reading them) and x to GemvParams::x when x_out.
struct GemvNorm {
  const __nv_bfloat16* weight;  // [k] bf16 norm weight; null = no norm (x is read from memory)
  const float* h;               // [rows, k] fp32 residual stream (rows k apart)
  const float* delta;           // [rows, k] fp32 added to h first, or null
  float* h_out;                 // [rows, k] fp32 h + delta, or null (only when delta is null)
  bool x_out;                   // block 0 writes the normalised x to GemvParams::x (bf16)
  float eps;
};

struct GemvParams {
  const __nv_bfloat16* x;  // [rows, ldx] bf16 input (with a norm: written when norm.x_out)
  int64_t ldx;             // elements between token rows of x (>= k, multiple of 8)
  int32_t rows;            // tokens, 1 .. kGemvMaxRows
  int32_t k;               // input features (multiple of 8)
  int32_t segments;        // 1 .. kGemvMaxSegments
  GemvSegment seg[kGemvMaxSegments];
  bool silu_mul;  // one segment, SwiGLU: y = silu(gate) * up (see above)
  GemvNorm norm;  // optional fused RMSNorm producing x (norm.weight null: none)
};

// Whether LaunchGemv takes this shape (rows, k and the alignment of x / ldx / the weights).
bool GemvSupported(const GemvParams& p);

// Blocks of 256 threads in LaunchGemv's grid for p (one warp per pair of output rows).
int64_t GemvGridBlocks(const GemvParams& p);

// Launches on `stream`; cudaErrorInvalidValue for a shape GemvSupported refuses or a null
// pointer; never aborts. With `pdl` the kernel may start while the previous kernel on the stream
// runs (programmatic dependent launch, cuda/common/pdl.cuh): each warp requests its first weight
// chunks, then waits for that kernel before reading x, h or delta or writing anything. Same
// results either way.
cudaError_t LaunchGemv(const GemvParams& p, cudaStream_t stream, bool pdl = false);

}  // namespace sieve::cuda

#endif  // SIEVE_CUDA_GEMM_GEMV_H_
