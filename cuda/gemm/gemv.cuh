// Device code of the decode GEMV (gemv.h), shared by gemv.cu's kernel and kernels that run the
// same GEMV beside work of their own in one launch (cuda/moe/gemv_routed.cu).
//
// Each lane handles the 8-element chunks lane, lane + 32, ... of its warp's two rows: per
// iteration it issues 2 x kUnroll independent 16-byte weight loads (ld.global.nc with
// L1::no_allocate, so the weights do not evict x from L1), then multiplies each chunk with the
// same chunk of every token row of x (16-byte __ldg; x is at most 8 x k bf16 and is shared by all
// warps of the SM through L1). Partial sums stay per lane in a fixed order and are reduced by
// WarpSum at the end, so the result does not depend on timing (graphs replay bit-identically).
// The code is templated on the token count rounded up to a power of two (1, 2, 4, 8): the
// accumulators [2][M] stay in registers. With a fused norm (GemvNorm) every block first builds the
// normalised rows in shared memory (NormRows) and reads x from there.
#ifndef SIEVE_CUDA_GEMM_GEMV_CUH_
#define SIEVE_CUDA_GEMM_GEMV_CUH_

#include <cstdint>

#include "cuda/common/bf16x8.cuh"
#include "cuda/common/device_utils.cuh"
#include "cuda/common/pdl.cuh"
#include "cuda/gemm/gemv.h"
#include "cuda/norm/rms_norm.cuh"

namespace sieve::cuda::gemv {

constexpr int kWarps = 8;
constexpr int kThreads = kWarps * 32;
// GemvKernel's norm front: none, NormRowsShort (rows of at most kThreads x kNormBatch elements),
// NormRows (any width), either of the two picked per launch.
constexpr int kNoNorm = 0, kShortNorm = 1, kLongNorm = 2, kAnyNorm = 3;

__device__ __forceinline__ void Store(void* y, bool bf16, int64_t at, float v, bool add = false) {
  if (bf16) {
    static_cast<__nv_bfloat16*>(y)[at] = __float2bfloat16_rn(v);
  } else if (add) {
    static_cast<float*>(y)[at] += v;
  } else {
    static_cast<float*>(y)[at] = v;
  }
}

// The fused RMSNorm (GemvNorm) takes rms_norm.cuh's steps with the same 256 threads as
// LaunchRmsNorm, so x is bit-identical to LaunchRmsNorm's; every thread of the block calls it.
//
// The normalised batch (v = h + delta) into x_s and, in block 0, h + delta into h_out and x into
// the caller's x (x_out) where `writer` (the GEMV's block 0).
__device__ __forceinline__ void StoreNormBatch(const GemvParams& p, __nv_bfloat16* x_s, int m,
                                               int base, int step, const float (&v)[kNormBatch],
                                               const float (&wv)[kNormBatch], float inv,
                                               bool writer) {
  const GemvNorm& n = p.norm;
#pragma unroll
  for (int u = 0; u < kNormBatch; ++u) {
    const int i = base + u * step;
    if (i >= p.k) break;
    const __nv_bfloat16 xb = NormedBf16(wv[u], v[u], inv);
    x_s[m * p.k + i] = xb;
    if (writer) {
      if (n.h_out) n.h_out[static_cast<int64_t>(m) * p.k + i] = v[u];
      if (n.x_out) const_cast<__nv_bfloat16*>(p.x)[m * p.ldx + i] = xb;
    }
  }
}

__device__ __forceinline__ void NormRows(const GemvParams& p, __nv_bfloat16* x_s, bool writer) {
  __shared__ float scratch[32];
  const GemvNorm& n = p.norm;
  const int step = blockDim.x;
  for (int m = 0; m < p.rows; ++m) {
    const float* h = n.h + static_cast<int64_t>(m) * p.k;
    const float* d = n.delta ? n.delta + static_cast<int64_t>(m) * p.k : nullptr;
    const float ss = BlockSum(RowSumOfSquares(h, d, nullptr, p.k), scratch);
    const float inv = InvRms(ss, p.k, n.eps);
    for (int base = threadIdx.x; base < p.k; base += step * kNormBatch) {
      float v[kNormBatch], dv[kNormBatch], wv[kNormBatch];
      LoadNormBatch(h, d, base, step, p.k, v, dv);
      LoadNormWeights(n.weight, base, step, p.k, wv);
      AddNormDelta(v, dv, d != nullptr, nullptr, base, step, p.k);
      StoreNormBatch(p, x_s, m, base, step, v, wv, inv, writer);
    }
  }
  __syncthreads();
}

// NormRows for rows of at most kThreads x kNormBatch elements (one batch per thread: V2-Lite's
// 2048), with the same arithmetic in the same order: each thread keeps its h + delta from the
// sum-of-squares pass instead of loading it again, and its norm weights `nw` were loaded by the
// caller before the wait for the previous kernel (they are weights).
__device__ __forceinline__ void NormRowsShort(const GemvParams& p, __nv_bfloat16* x_s,
                                              const float (&nw)[kNormBatch], bool writer) {
  __shared__ float scratch[32];
  const GemvNorm& n = p.norm;
  const int step = blockDim.x;
  for (int m = 0; m < p.rows; ++m) {
    const float* h = n.h + static_cast<int64_t>(m) * p.k;
    const float* d = n.delta ? n.delta + static_cast<int64_t>(m) * p.k : nullptr;
    float v[kNormBatch], dv[kNormBatch];
    LoadNormBatch(h, d, threadIdx.x, step, p.k, v, dv);
    AddNormDelta(v, dv, d != nullptr, nullptr, threadIdx.x, step, p.k);
    const float ss = BlockSum(AddSquares(0.0f, v, threadIdx.x, step, p.k), scratch);
    StoreNormBatch(p, x_s, m, threadIdx.x, step, v, nw, InvRms(ss, p.k, n.eps), writer);
  }
  __syncthreads();
}

// The GEMV's work for the grid's block `block` (its warps take rows 8 block .. 8 block + 7);
// every thread of the block calls it. GemvKernel is this over blockIdx.x; a kernel that adds
// blocks of its own work (cuda/moe/gemv_routed.cu) passes the GEMV's own block numbers.
// kUnroll: chunks per row in flight per lane (2 x kUnroll loads of 16 bytes); 8 covers a 2048-wide
// row in one round trip at M <= 2, where registers allow it.
template <int M, int kNorm, int kUnroll = (M <= 2 ? 8 : 4)>
__device__ __forceinline__ void GemvBlock(const GemvParams& p, int64_t block) {
  extern __shared__ uint4 x_smem[];  // kNorm: [rows, k] bf16 normalised x
  const int lane = threadIdx.x & 31;
  const int64_t warp = block * kWarps + (threadIdx.x >> 5);
  const bool writer = block == 0;
  const int64_t k = p.k;
  // The warp's two rows: (segment, output row) each; in silu_mul mode the gate and up rows of
  // output `warp`. A missing second row (odd total) re-reads the first and is not written.
  const __nv_bfloat16* w_row[2];
  void* y[2];
  int64_t ldy[2], out_row[2] = {warp, warp};
  bool bf16[2], add[2] = {false, false}, write[2] = {true, false};
  // Warps past the last row do nothing but must stay for the norm's block barriers.
  const bool active =
      p.silu_mul ? warp < p.seg[0].n : 2 * warp < p.seg[0].n + (p.segments > 1 ? p.seg[1].n : 0);
  if (!active) {
    w_row[0] = w_row[1] = p.seg[0].w;
  } else if (p.silu_mul) {
    w_row[0] = p.seg[0].w + warp * k;
    w_row[1] = p.seg[0].w + (p.seg[0].n + warp) * k;
    y[0] = y[1] = p.seg[0].y;
    ldy[0] = ldy[1] = p.seg[0].ldy;
    bf16[0] = bf16[1] = p.seg[0].y_bf16;
  } else {
    const int64_t n0 = p.seg[0].n, total = n0 + (p.segments > 1 ? p.seg[1].n : 0);
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      int64_t row = 2 * warp + r;
      write[r] = row < total;
      if (!write[r]) row = 2 * warp;
      const bool first = row < n0;
      out_row[r] = first ? row : row - n0;
      w_row[r] = (first ? p.seg[0].w : p.seg[1].w) + out_row[r] * k;
      y[r] = first ? p.seg[0].y : p.seg[1].y;
      ldy[r] = first ? p.seg[0].ldy : p.seg[1].ldy;
      bf16[r] = first ? p.seg[0].y_bf16 : p.seg[1].y_bf16;
      if constexpr (kNorm == kNoNorm) add[r] = first ? p.seg[0].accumulate : p.seg[1].accumulate;
    }
  }

  const int32_t chunks = p.k / 8;
  float acc[2][M];
#pragma unroll
  for (int r = 0; r < 2; ++r) {
#pragma unroll
    for (int m = 0; m < M; ++m) acc[r][m] = 0.0f;
  }
  uint4 wv[2][kUnroll];
  auto load = [&](int32_t c0) {
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      const int32_t c = c0 + 32 * u;
#pragma unroll
      for (int r = 0; r < 2; ++r) {
        wv[r][u] = c < chunks ? LoadStreaming(w_row[r] + static_cast<int64_t>(c) * 8)
                              : make_uint4(0, 0, 0, 0);
      }
    }
  };
  // The first weights are requested before anything an earlier kernel writes is read: before
  // the wait for the previous kernel (launched with PDL, pdl.cuh) and before the norm, so the
  // launch, the wait and the norm's reductions all overlap their latency.
  if (active) load(lane);
  const bool short_norm =
      kNorm == kShortNorm || (kNorm == kAnyNorm && p.k <= kThreads * kNormBatch);
  float nw[kNormBatch];
  LoadNormWeights(p.norm.weight, threadIdx.x, kThreads, short_norm ? p.k : 0, nw);
  PdlLaunchDependents();
  PdlWait();
  if constexpr (kNorm == kShortNorm) {
    NormRowsShort(p, reinterpret_cast<__nv_bfloat16*>(x_smem), nw, writer);
  } else if constexpr (kNorm == kLongNorm) {
    NormRows(p, reinterpret_cast<__nv_bfloat16*>(x_smem), writer);
  } else if constexpr (kNorm == kAnyNorm) {
    if (short_norm) {
      NormRowsShort(p, reinterpret_cast<__nv_bfloat16*>(x_smem), nw, writer);
    } else {
      NormRows(p, reinterpret_cast<__nv_bfloat16*>(x_smem), writer);
    }
  }
  if (!active) return;  // after the norm's barriers; none below
  for (int32_t c0 = lane; c0 < chunks; c0 += 32 * kUnroll) {
    if (c0 != lane) load(c0);
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      const int32_t c = c0 + 32 * u;
      if (c >= chunks) break;
#pragma unroll
      for (int m = 0; m < M; ++m) {
        if (m >= p.rows) break;
        const uint4 xv = kNorm ? x_smem[(m * p.k) / 8 + c]
                               : __ldg(reinterpret_cast<const uint4*>(p.x + m * p.ldx) + c);
        float xf[8];
        Unpack8(xv, xf);
#pragma unroll
        for (int r = 0; r < 2; ++r) acc[r][m] = Dot8(acc[r][m], wv[r][u], xf);
      }
    }
  }
#pragma unroll
  for (int m = 0; m < M; ++m) {
    if (m >= p.rows) break;
    const float a0 = WarpSum(acc[0][m]);
    const float a1 = WarpSum(acc[1][m]);
    if (lane != 0) continue;
    if (p.silu_mul) {
      Store(y[0], bf16[0], m * ldy[0] + out_row[0], a0 / (1.0f + expf(-a0)) * a1);
    } else {
      Store(y[0], bf16[0], m * ldy[0] + out_row[0], a0, add[0]);
      if (write[1]) Store(y[1], bf16[1], m * ldy[1] + out_row[1], a1, add[1]);
    }
  }
}

}  // namespace sieve::cuda::gemv

#endif  // SIEVE_CUDA_GEMM_GEMV_CUH_
