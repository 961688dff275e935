// Kernel for q_absorb.h. Block (head h, column block cb) of 256 threads: thread (rg, cg) with
// cg = tid % 16 owns the 8 columns cb * 128 + 8 cg .. + 7 and rg = tid / 16 the rows
// rg * R .. rg * R + R - 1 of W_UK[h] (R = ceil(nope / 16); 8 for V2-Lite, all loads in flight).
// The bf16-rounded q_nope of every token sits in shared memory as fp32; each thread sums its rows
// in order, the 16 row groups are added in order 0..15 through shared memory. Blocks with cb == 0
// also rotate the head's q_pe. With an append, blocks (heads, t) write token t's latent cache row.
#include <algorithm>
#include <cstdint>

#include "cuda/attention/latent_append.cuh"
#include "cuda/attention/q_absorb.h"
#include "cuda/common/bf16x8.cuh"
#include "cuda/common/pdl.cuh"
#include "cuda/config.h"
#include "cuda/rope/rope.cuh"

namespace sieve::cuda {
namespace {

constexpr int kThreads = 256;
constexpr int kColGroups = 16;                     // 8 columns each: 128 columns per block
constexpr int kRowGroups = kThreads / kColGroups;  // 16
constexpr int kBlockCols = kColGroups * 8;
constexpr int kMaxRowsPerGroup = 16;  // nope <= 256
constexpr int kMaxNope = kRowGroups * kMaxRowsPerGroup;

// Blocks (heads, t) with `la` given: the latent cache append of token t (latent_append.cuh), in
// the same launch.
template <int M>
__global__ void __launch_bounds__(kThreads) QAbsorbKernel(QAbsorbParams p, LatentAppendParams la) {
  SIEVE_PDL_TRACE_SCOPE(pdl_trace::kQAbsorb);
  __shared__ float q_s[M][kMaxNope];
  __shared__ float part[kRowGroups][M][kBlockCols];
  const int h = blockIdx.x, cb = blockIdx.y, tid = threadIdx.x;
  if (h >= p.heads) {  // the append blocks (uniform per block)
    PdlLaunchDependents();
    PdlWait();  // launched with PDL: kv_a is final from here
    if (cb < la.tokens) AppendLatentRow(la, cb, &q_s[0][0]);
    return;
  }
  const int cg = tid % kColGroups, rg = tid / kColGroups;
  const int col = cb * kBlockCols + cg * 8;
  const int rows_per = (p.nope + kRowGroups - 1) / kRowGroups;
  const int r0 = rg * rows_per;
  const __nv_bfloat16* w = p.w_uk + h * p.w_head_stride + col;
  // The thread's weight rows are requested first (weights only: before the wait for the kernel
  // that writes q, when launched with PDL), so their latency overlaps the wait and q's staging.
  uint4 wv[kMaxRowsPerGroup];
#pragma unroll
  for (int u = 0; u < kMaxRowsPerGroup; ++u) {
    const int r = r0 + u;
    wv[u] = col < p.lat && u < rows_per && r < p.nope
                ? __ldg(reinterpret_cast<const uint4*>(w + static_cast<int64_t>(r) * p.lat))
                : make_uint4(0, 0, 0, 0);
  }
  PdlLaunchDependents();
  PdlWait();
  for (int i = tid; i < M * p.nope; i += kThreads) {
    const int t = i / p.nope, r = i - t * p.nope;
    q_s[t][r] = t < p.tokens ? __bfloat162float(__float2bfloat16_rn(
                                   p.q[t * p.q_token_stride + h * p.q_head_stride + r]))
                             : 0.0f;
  }
  __syncthreads();
  float acc[M][8];
#pragma unroll
  for (int t = 0; t < M; ++t) {
#pragma unroll
    for (int j = 0; j < 8; ++j) acc[t][j] = 0.0f;
  }
  if (col < p.lat) {
#pragma unroll
    for (int u = 0; u < kMaxRowsPerGroup; ++u) {
      const int r = r0 + u;
      if (u >= rows_per || r >= p.nope) break;
      float wf[8];
      Unpack8(wv[u], wf);
#pragma unroll
      for (int t = 0; t < M; ++t) {
        const float qv = q_s[t][r];
#pragma unroll
        for (int j = 0; j < 8; ++j) acc[t][j] = fmaf(qv, wf[j], acc[t][j]);
      }
    }
  }
#pragma unroll
  for (int t = 0; t < M; ++t) {
#pragma unroll
    for (int j = 0; j < 8; ++j) part[rg][t][cg * 8 + j] = acc[t][j];
  }
  __syncthreads();
  for (int i = tid; i < M * kBlockCols; i += kThreads) {
    const int t = i / kBlockCols, c = i - t * kBlockCols;
    if (t >= p.tokens || cb * kBlockCols + c >= p.lat) continue;
    float sum = 0.0f;
    for (int g = 0; g < kRowGroups; ++g) sum += part[g][t][c];
    p.out[t * p.out_token_stride + h * p.out_head_stride + cb * kBlockCols + c] = sum;
  }
  if (cb == 0) {
    for (int i = tid; i < p.tokens * (p.rope_dim / 2); i += kThreads) {
      const int t = i / (p.rope_dim / 2), pair = i - t * (p.rope_dim / 2);
      RopePair(p.q + t * p.q_token_stride + h * p.q_head_stride + p.nope,
               p.out + t * p.out_token_stride + h * p.out_head_stride + p.lat, pair, p.positions[t],
               p.inv_freq, p.attention_factor);
    }
  }
}

}  // namespace

bool QAbsorbSupported(const QAbsorbParams& p) {
  return p.tokens >= 1 && p.tokens <= kQAbsorbMaxTokens && p.heads >= 1 && p.heads <= 65535 &&
         p.nope >= 1 && p.nope <= kMaxNope && p.lat >= 8 && p.lat % 8 == 0 && p.rope_dim >= 0 &&
         p.rope_dim % 2 == 0 && p.rope_dim <= kMaxRopeDim && p.w_head_stride % 8 == 0 && p.q &&
         p.w_uk && p.out && Aligned16(p.w_uk) && (p.rope_dim == 0 || (p.positions && p.inv_freq)) &&
         p.q_head_stride >= p.nope + p.rope_dim && p.out_head_stride >= p.lat + p.rope_dim;
}

cudaError_t LaunchQAbsorb(const QAbsorbParams& p, cudaStream_t stream, bool pdl,
                          const LatentAppendParams* append) {
  if (!QAbsorbSupported(p) || (append && !LatentAppendValid(*append))) {
    return cudaErrorInvalidValue;
  }
  LatentAppendParams la{};  // tokens 0: no append blocks
  if (append) la = *append;
  const int col_blocks = (p.lat + kBlockCols - 1) / kBlockCols;
  const dim3 grid(p.heads + (la.tokens > 0 ? 1 : 0), std::max(col_blocks, la.tokens));
  if (grid.y > 65535) return cudaErrorInvalidValue;
  return LaunchKernel(p.tokens == 1 ? QAbsorbKernel<1> : QAbsorbKernel<2>, grid, kThreads, 0,
                      stream, pdl, p, la);
}

}  // namespace sieve::cuda
