// Kernels for expert_ffn.h. Grids are (row tiles, experts) or, with fewer pairs than experts,
// (row tiles, sorted positions): on the expert grid blockIdx.y is the expert, on the position grid
// it is a sorted position and the block works only where that position is its expert's first, so
// at decode sizes (batch 1: 6 pairs, 64 experts) no block is launched just to find its expert empty.
// The expert's pairs are sorted_pairs[expert_offsets[e] .. expert_offsets[e + 1]); each of
// kExpertWarps warps owns kR consecutive output rows of the block's tile and computes them for up
// to kP pairs at once: lanes stride the reduction dimension (8 elements per 16-byte weight load on
// the vector path), the pairs' inputs come from shared memory, and a warp sum per (row, pair)
// finishes. kR and kP are picked per launch from the token count (an expert receives at most one
// pair per token): 1 pair and 4 rows per warp at one token, 2 and 2 up to kExpertSmallBatch
// tokens, else kExpertPairsPerPass and kExpertRowsPerWarp; fewer accumulators keep the registers
// low enough for 4+ resident blocks per SM. Everything accumulates in fp32; the sum order per
// (row, pair) is the same in every variant and fixed, so results do not depend on scheduling or
// on the variant (bit-identical).
#include <algorithm>
#include <cmath>

#include "cuda/common/device_utils.cuh"
#include "cuda/config.h"
#include "cuda/moe/expert_ffn.h"

namespace sieve::cuda {
namespace {

constexpr int kThreads = kExpertWarps * 32;
constexpr int kExpertSmallBatch = 16;  // up to this many tokens: the 2-pair, 2-row variant

// The block's expert and its range of sorted positions; false when the block has nothing to do.
__device__ __forceinline__ bool BlockExpert(const ExpertFfnParams& p, bool by_position, int& e,
                                            int& begin, int& count) {
  if (by_position) {
    const int pos = blockIdx.y;
    e = p.sorted_experts[pos];
    if (e < 0 || e >= p.num_experts || (pos > 0 && p.sorted_experts[pos - 1] == e)) return false;
    begin = pos;
    count = p.expert_offsets[e + 1] - pos;
  } else {
    e = blockIdx.y;
    begin = p.expert_offsets[e];
    count = p.expert_offsets[e + 1] - begin;
  }
  return count > 0;
}

__device__ __forceinline__ float Dot8(const uint4& w, const uint4& x) {
  const __nv_bfloat162* wp = reinterpret_cast<const __nv_bfloat162*>(&w);
  const __nv_bfloat162* xp = reinterpret_cast<const __nv_bfloat162*>(&x);
  float s = 0.0f;
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    const float2 a = __bfloat1622float2(wp[i]), b = __bfloat1622float2(xp[i]);
    s = fmaf(a.x, b.x, s);
    s = fmaf(a.y, b.y, s);
  }
  return s;
}

__device__ __forceinline__ float Dot8(const uint4& w, const float4& x0, const float4& x1) {
  const __nv_bfloat162* wp = reinterpret_cast<const __nv_bfloat162*>(&w);
  float2 a = __bfloat1622float2(wp[0]);
  float s = a.x * x0.x;
  s = fmaf(a.y, x0.y, s);
  a = __bfloat1622float2(wp[1]);
  s = fmaf(a.x, x0.z, s);
  s = fmaf(a.y, x0.w, s);
  a = __bfloat1622float2(wp[2]);
  s = fmaf(a.x, x1.x, s);
  s = fmaf(a.y, x1.y, s);
  a = __bfloat1622float2(wp[3]);
  s = fmaf(a.x, x1.z, s);
  s = fmaf(a.y, x1.w, s);
  return s;
}

__device__ __forceinline__ int RoundUp8(int v) { return (v + 7) / 8 * 8; }

// act[pos, r] = silu(gate_e[r] . x) * (up_e[r] . x) for the expert's sorted positions pos.
template <bool kVec, int kRows, int kPairs>
__global__ void __launch_bounds__(kThreads) GroupedGateUpKernel(ExpertFfnParams p,
                                                                bool by_position) {
  extern __shared__ __align__(16) unsigned char smem_raw[];
  __nv_bfloat16* xs = reinterpret_cast<__nv_bfloat16*>(smem_raw);  // [kPairs][ld]
  int e, begin, count;
  if (!BlockExpert(p, by_position, e, begin, count)) return;  // the whole block: no barrier
  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  const int H = p.hidden, I = p.inter, ld = RoundUp8(H);
  const int r0 = blockIdx.x * kExpertWarps * kRows + warp * kRows;
  const __nv_bfloat16* w = p.w13 + static_cast<int64_t>(e) * 2 * I * H;
  for (int c = 0; c < count; c += kPairs) {
    const int np = min(kPairs, count - c);
    __syncthreads();  // the previous pass is done with xs
    for (int i = tid; i < np * H; i += kThreads) {
      const int j = i / H, k = i - j * H;
      const int64_t token = p.sorted_pairs[begin + c + j] / p.top_k;
      xs[j * ld + k] = p.x[token * p.x_stride + k];
    }
    __syncthreads();
    float g[kRows][kPairs], u[kRows][kPairs];
#pragma unroll
    for (int r = 0; r < kRows; ++r) {
#pragma unroll
      for (int j = 0; j < kPairs; ++j) g[r][j] = u[r][j] = 0.0f;
    }
    if (kVec) {
      for (int k8 = lane; k8 < H / 8; k8 += 32) {
        uint4 wg[kRows], wu[kRows];
#pragma unroll
        for (int r = 0; r < kRows; ++r) {
          const int row = min(r0 + r, I - 1);  // rows past I compute garbage, never written
          wg[r] = *reinterpret_cast<const uint4*>(w + static_cast<int64_t>(row) * H + 8 * k8);
          wu[r] = *reinterpret_cast<const uint4*>(w + static_cast<int64_t>(I + row) * H + 8 * k8);
        }
#pragma unroll
        for (int j = 0; j < kPairs; ++j) {
          if (j >= np) break;
          const uint4 xv = *reinterpret_cast<const uint4*>(xs + j * ld + 8 * k8);
#pragma unroll
          for (int r = 0; r < kRows; ++r) {
            g[r][j] += Dot8(wg[r], xv);
            u[r][j] += Dot8(wu[r], xv);
          }
        }
      }
    } else {
      for (int k = lane; k < H; k += 32) {
#pragma unroll
        for (int r = 0; r < kRows; ++r) {
          const int row = min(r0 + r, I - 1);
          const float wgv = __bfloat162float(w[static_cast<int64_t>(row) * H + k]);
          const float wuv = __bfloat162float(w[static_cast<int64_t>(I + row) * H + k]);
#pragma unroll
          for (int j = 0; j < kPairs; ++j) {
            if (j >= np) break;
            const float xv = __bfloat162float(xs[j * ld + k]);
            g[r][j] = fmaf(wgv, xv, g[r][j]);
            u[r][j] = fmaf(wuv, xv, u[r][j]);
          }
        }
      }
    }
#pragma unroll
    for (int r = 0; r < kRows; ++r) {
#pragma unroll
      for (int j = 0; j < kPairs; ++j) {
        if (j >= np) break;
        const float gs = WarpSum(g[r][j]), us = WarpSum(u[r][j]);
        if (lane == 0 && r0 + r < I) {
          p.act[static_cast<int64_t>(begin + c + j) * I + r0 + r] = gs / (1.0f + expf(-gs)) * us;
        }
      }
    }
  }
}

// pair_out[pair, n] = weight(pair) * (down_e[n] . act[pos]) for the expert's sorted positions.
template <bool kVec, int kRows, int kPairs>
__global__ void __launch_bounds__(kThreads) GroupedDownKernel(ExpertFfnParams p,
                                                              bool by_position) {
  extern __shared__ __align__(16) unsigned char smem_raw[];
  float* as = reinterpret_cast<float*>(smem_raw);  // [kPairs][ld]
  int e, begin, count;
  if (!BlockExpert(p, by_position, e, begin, count)) return;
  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  const int H = p.hidden, I = p.inter, ld = RoundUp8(I);
  const int r0 = blockIdx.x * kExpertWarps * kRows + warp * kRows;
  const __nv_bfloat16* w = p.w2 + static_cast<int64_t>(e) * H * I;
  for (int c = 0; c < count; c += kPairs) {
    const int np = min(kPairs, count - c);
    __syncthreads();
    for (int i = tid; i < np * I; i += kThreads) {
      const int j = i / I, k = i - j * I;
      as[j * ld + k] = p.act[static_cast<int64_t>(begin + c + j) * I + k];
    }
    __syncthreads();
    float d[kRows][kPairs];
#pragma unroll
    for (int r = 0; r < kRows; ++r) {
#pragma unroll
      for (int j = 0; j < kPairs; ++j) d[r][j] = 0.0f;
    }
    if (kVec) {
      for (int k8 = lane; k8 < I / 8; k8 += 32) {
        uint4 wv[kRows];
#pragma unroll
        for (int r = 0; r < kRows; ++r) {
          const int row = min(r0 + r, H - 1);
          wv[r] = *reinterpret_cast<const uint4*>(w + static_cast<int64_t>(row) * I + 8 * k8);
        }
#pragma unroll
        for (int j = 0; j < kPairs; ++j) {
          if (j >= np) break;
          const float4 a0 = *reinterpret_cast<const float4*>(as + j * ld + 8 * k8);
          const float4 a1 = *reinterpret_cast<const float4*>(as + j * ld + 8 * k8 + 4);
#pragma unroll
          for (int r = 0; r < kRows; ++r) d[r][j] += Dot8(wv[r], a0, a1);
        }
      }
    } else {
      for (int k = lane; k < I; k += 32) {
#pragma unroll
        for (int r = 0; r < kRows; ++r) {
          const int row = min(r0 + r, H - 1);
          const float wv = __bfloat162float(w[static_cast<int64_t>(row) * I + k]);
#pragma unroll
          for (int j = 0; j < kPairs; ++j) {
            if (j >= np) break;
            d[r][j] = fmaf(wv, as[j * ld + k], d[r][j]);
          }
        }
      }
    }
#pragma unroll
    for (int r = 0; r < kRows; ++r) {
#pragma unroll
      for (int j = 0; j < kPairs; ++j) {
        if (j >= np) break;
        const float ds = WarpSum(d[r][j]);
        if (lane == 0 && r0 + r < H) {
          const int64_t pair = p.sorted_pairs[begin + c + j];
          p.pair_out[pair * H + r0 + r] = p.topk_weights[pair] * ds;
        }
      }
    }
  }
}

// ---- tensor-core path (H and I multiples of 128, 16-byte aligned rows) ----------------------
// Block = 4 warps for 16 output rows of one expert; warp w takes the K-slice [w K/4, (w+1) K/4),
// 32 k per step: lane (g, t) loads 16 bytes (k 8t .. 8t+7 of the step) of weight rows g and g+8,
// and of the input rows of pairs g (+ 8 per n-tile). Those 8 k fill both k-steps of two
// m16n8k16 mma (the k order inside a step is a permutation applied to both operands alike, so the
// dot products are unchanged). Partial sums of the 4 warps meet in shared memory. Up to
// kMmaPairs pairs per pass (n-tiles of 8; pairs past the expert's count read zeros).
constexpr int kMmaWarps = 4;
constexpr int kMmaThreads = kMmaWarps * 32;
constexpr int kMmaNTiles = 2;
constexpr int kMmaPairs = 8 * kMmaNTiles;

__device__ __forceinline__ void Mma16816(float* c, uint32_t a0, uint32_t a1, uint32_t a2,
                                         uint32_t a3, uint32_t b0, uint32_t b1) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, "
      "{%8,%9}, {%0,%1,%2,%3};\n"
      : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
      : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0), "r"(b1));
}

// c += A (rows g, g + 8: wa, wb) x B (b), both k-steps of a 32-k block.
__device__ __forceinline__ void Mma32(float* c, const uint4& wa, const uint4& wb, const uint4& b) {
  Mma16816(c, wa.x, wb.x, wa.y, wb.y, b.x, b.y);
  Mma16816(c, wa.z, wb.z, wa.w, wb.w, b.z, b.w);
}

__device__ __forceinline__ uint4 Load16(const __nv_bfloat16* p) {
  return *reinterpret_cast<const uint4*>(p);
}

__global__ void __launch_bounds__(kMmaThreads) MmaGateUpKernel(ExpertFfnParams p) {
  __shared__ float red[kMmaWarps][2][16][kMmaPairs + 1];
  const int e = blockIdx.y;
  const int begin = p.expert_offsets[e];
  const int count = p.expert_offsets[e + 1] - begin;
  if (count <= 0) return;
  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5, g = lane >> 2, t = lane & 3;
  const int H = p.hidden, I = p.inter;
  const int r0 = blockIdx.x * 16;
  const int kw = H / kMmaWarps, k_begin = warp * kw;
  const __nv_bfloat16* w = p.w13 + static_cast<int64_t>(e) * 2 * I * H;
  const __nv_bfloat16* gate_a = w + static_cast<int64_t>(r0 + g) * H + 8 * t;
  const __nv_bfloat16* gate_b = gate_a + 8 * static_cast<int64_t>(H);
  const __nv_bfloat16* up_a = gate_a + static_cast<int64_t>(I) * H;
  const __nv_bfloat16* up_b = up_a + 8 * static_cast<int64_t>(H);
  __nv_bfloat16* act_hi = reinterpret_cast<__nv_bfloat16*>(p.act);
  __nv_bfloat16* act_lo = act_hi + static_cast<int64_t>(p.tokens) * p.top_k * I;
  for (int c = 0; c < count; c += kMmaPairs) {
    const int np = min(kMmaPairs, count - c);
    const __nv_bfloat16* xrow[kMmaNTiles];
#pragma unroll
    for (int n = 0; n < kMmaNTiles; ++n) {
      const int j = 8 * n + g;
      xrow[n] = j < np ? p.x + static_cast<int64_t>(p.sorted_pairs[begin + c + j] / p.top_k) *
                                   p.x_stride + 8 * t
                       : nullptr;
    }
    float cg[kMmaNTiles][4], cu[kMmaNTiles][4];
#pragma unroll
    for (int n = 0; n < kMmaNTiles; ++n) {
#pragma unroll
      for (int i = 0; i < 4; ++i) cg[n][i] = cu[n][i] = 0.0f;
    }
#pragma unroll 4
    for (int k = k_begin; k < k_begin + kw; k += 32) {
      const uint4 ga = Load16(gate_a + k), gb = Load16(gate_b + k);
      const uint4 ua = Load16(up_a + k), ub = Load16(up_b + k);
#pragma unroll
      for (int n = 0; n < kMmaNTiles; ++n) {
        if (8 * n >= np) break;
        const uint4 xb = xrow[n] ? Load16(xrow[n] + k) : make_uint4(0, 0, 0, 0);
        Mma32(cg[n], ga, gb, xb);
        Mma32(cu[n], ua, ub, xb);
      }
    }
#pragma unroll
    for (int n = 0; n < kMmaNTiles; ++n) {
#pragma unroll
      for (int i = 0; i < 4; ++i) {
        const int row = g + 8 * (i >> 1), j = 8 * n + 2 * t + (i & 1);
        red[warp][0][row][j] = cg[n][i];
        red[warp][1][row][j] = cu[n][i];
      }
    }
    __syncthreads();
    for (int o = tid; o < 16 * kMmaPairs; o += kMmaThreads) {
      const int row = o / kMmaPairs, j = o % kMmaPairs;
      if (j < np) {
        float gs = 0.0f, us = 0.0f;
#pragma unroll
        for (int wi = 0; wi < kMmaWarps; ++wi) {
          gs += red[wi][0][row][j];
          us += red[wi][1][row][j];
        }
        const float a = gs / (1.0f + expf(-gs)) * us;
        const __nv_bfloat16 hi = __float2bfloat16_rn(a);
        const int64_t at = static_cast<int64_t>(begin + c + j) * I + r0 + row;
        act_hi[at] = hi;
        act_lo[at] = __float2bfloat16_rn(a - __bfloat162float(hi));
      }
    }
    __syncthreads();
  }
}

__global__ void __launch_bounds__(kMmaThreads) MmaDownKernel(ExpertFfnParams p) {
  __shared__ float red[kMmaWarps][16][kMmaPairs + 1];
  const int e = blockIdx.y;
  const int begin = p.expert_offsets[e];
  const int count = p.expert_offsets[e + 1] - begin;
  if (count <= 0) return;
  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5, g = lane >> 2, t = lane & 3;
  const int H = p.hidden, I = p.inter;
  const int r0 = blockIdx.x * 16;
  const int kw = I / kMmaWarps, k_begin = warp * kw;
  const __nv_bfloat16* wa = p.w2 + static_cast<int64_t>(e) * H * I +
                            static_cast<int64_t>(r0 + g) * I + 8 * t;
  const __nv_bfloat16* wb = wa + 8 * static_cast<int64_t>(I);
  const __nv_bfloat16* act_hi = reinterpret_cast<const __nv_bfloat16*>(p.act);
  const __nv_bfloat16* act_lo = act_hi + static_cast<int64_t>(p.tokens) * p.top_k * I;
  for (int c = 0; c < count; c += kMmaPairs) {
    const int np = min(kMmaPairs, count - c);
    int64_t arow[kMmaNTiles];
#pragma unroll
    for (int n = 0; n < kMmaNTiles; ++n) {
      const int j = 8 * n + g;
      arow[n] = j < np ? static_cast<int64_t>(begin + c + j) * I + 8 * t : -1;
    }
    float cd[kMmaNTiles][4];
#pragma unroll
    for (int n = 0; n < kMmaNTiles; ++n) cd[n][0] = cd[n][1] = cd[n][2] = cd[n][3] = 0.0f;
#pragma unroll 4
    for (int k = k_begin; k < k_begin + kw; k += 32) {
      const uint4 a = Load16(wa + k), b = Load16(wb + k);
#pragma unroll
      for (int n = 0; n < kMmaNTiles; ++n) {
        if (8 * n >= np) break;
        const uint4 xh = arow[n] >= 0 ? Load16(act_hi + arow[n] + k) : make_uint4(0, 0, 0, 0);
        const uint4 xl = arow[n] >= 0 ? Load16(act_lo + arow[n] + k) : make_uint4(0, 0, 0, 0);
        Mma32(cd[n], a, b, xh);
        Mma32(cd[n], a, b, xl);
      }
    }
#pragma unroll
    for (int n = 0; n < kMmaNTiles; ++n) {
#pragma unroll
      for (int i = 0; i < 4; ++i) red[warp][g + 8 * (i >> 1)][8 * n + 2 * t + (i & 1)] = cd[n][i];
    }
    __syncthreads();
    for (int o = tid; o < 16 * kMmaPairs; o += kMmaThreads) {
      const int row = o / kMmaPairs, j = o % kMmaPairs;
      if (j < np) {
        float d = 0.0f;
#pragma unroll
        for (int wi = 0; wi < kMmaWarps; ++wi) d += red[wi][row][j];
        const int64_t pair = p.sorted_pairs[begin + c + j];
        p.pair_out[pair * H + r0 + row] = p.topk_weights[pair] * d;
      }
    }
    __syncthreads();
  }
}

__global__ void CombineKernel(ExpertFfnParams p) {
  const int64_t t = blockIdx.y;
  const int32_t n = blockIdx.x * blockDim.x + threadIdx.x;
  if (n >= p.hidden) return;
  float v = p.accumulate ? p.out[t * p.out_stride + n] : 0.0f;
  float routed = 0.0f;
  for (int j = 0; j < p.top_k; ++j) routed += p.pair_out[(t * p.top_k + j) * p.hidden + n];
  if (p.shared_out) routed += p.shared_out[t * p.shared_stride + n];
  p.out[t * p.out_stride + n] = v + routed;
}

bool Aligned16(const void* ptr) { return (reinterpret_cast<uintptr_t>(ptr) & 15) == 0; }

template <typename Kernel>
cudaError_t LaunchWithSmem(Kernel kernel, dim3 grid, size_t smem, cudaStream_t stream,
                           const ExpertFfnParams& p, bool by_position) {
  if (smem > 48 * 1024) {
    const cudaError_t err =
        cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                             static_cast<int>(smem));
    if (err != cudaSuccess) return err;
  }
  kernel<<<grid, kThreads, smem, stream>>>(p, by_position);
  return cudaGetLastError();
}

// Gate/up and down with kR rows per warp and kP pairs per pass.
template <int kR, int kP>
cudaError_t LaunchGrouped(const ExpertFfnParams& p, bool by_position, int grid_y,
                          cudaStream_t stream) {
  constexpr int kBlockRows = kExpertWarps * kR;
  const size_t gate_smem = static_cast<size_t>(kP) * ((p.hidden + 7) / 8 * 8) * 2;
  const dim3 gate_grid((p.inter + kBlockRows - 1) / kBlockRows, grid_y);
  const bool gate_vec = p.hidden % 8 == 0 && Aligned16(p.w13);
  cudaError_t err =
      gate_vec ? LaunchWithSmem(GroupedGateUpKernel<true, kR, kP>, gate_grid, gate_smem, stream,
                                p, by_position)
               : LaunchWithSmem(GroupedGateUpKernel<false, kR, kP>, gate_grid, gate_smem, stream,
                                p, by_position);
  if (err != cudaSuccess) return err;
  const size_t down_smem = static_cast<size_t>(kP) * ((p.inter + 7) / 8 * 8) * 4;
  const dim3 down_grid((p.hidden + kBlockRows - 1) / kBlockRows, grid_y);
  const bool down_vec = p.inter % 8 == 0 && Aligned16(p.w2);
  return down_vec ? LaunchWithSmem(GroupedDownKernel<true, kR, kP>, down_grid, down_smem, stream,
                                   p, by_position)
                  : LaunchWithSmem(GroupedDownKernel<false, kR, kP>, down_grid, down_smem,
                                   stream, p, by_position);
}


// Tensor cores need 16-byte rows and 128-wide K slices.
bool MmaShapeOk(const ExpertFfnParams& p) {
  return p.hidden % 128 == 0 && p.inter % 128 == 0 && p.x_stride % 8 == 0 && Aligned16(p.x) &&
         Aligned16(p.w13) && Aligned16(p.w2) && Aligned16(p.act);
}

}  // namespace

bool ExpertFfnUsesTensorCores(const ExpertFfnParams& p) {
  return MmaShapeOk(p) &&
         static_cast<int64_t>(p.tokens) * p.top_k >= 2 * static_cast<int64_t>(p.num_experts);
}

cudaError_t LaunchExpertFfn(const ExpertFfnParams& p, cudaStream_t stream) {
  if (p.tokens < 0 || p.tokens > 65535 || p.top_k <= 0 || p.num_experts <= 0 ||
      p.num_experts > 65535 || p.hidden <= 0 || p.inter <= 0 || p.hidden > kExpertMaxWidth ||
      p.inter > kExpertMaxWidth) {
    return cudaErrorInvalidValue;
  }
  if (p.tokens == 0) return cudaSuccess;
  const int64_t pairs = static_cast<int64_t>(p.tokens) * p.top_k;
  if (pairs > 65535 || !p.x || !p.w13 || !p.w2 || !p.sorted_pairs || !p.sorted_experts ||
      !p.expert_offsets || !p.topk_weights || !p.act || !p.pair_out || !p.out ||
      p.x_stride < p.hidden || p.out_stride < p.hidden ||
      (p.shared_out && p.shared_stride < p.hidden)) {
    return cudaErrorInvalidValue;
  }
  if (p.path < 0 || p.path > 2 || (p.path == 2 && !MmaShapeOk(p))) return cudaErrorInvalidValue;
  if (p.path == 2 || (p.path == 0 && ExpertFfnUsesTensorCores(p))) {
    MmaGateUpKernel<<<dim3(p.inter / 16, p.num_experts), kMmaThreads, 0, stream>>>(p);
    cudaError_t err = cudaGetLastError();
    if (err != cudaSuccess) return err;
    MmaDownKernel<<<dim3(p.hidden / 16, p.num_experts), kMmaThreads, 0, stream>>>(p);
    err = cudaGetLastError();
    if (err != cudaSuccess) return err;
    constexpr int kCombineThreads = 256;
    const dim3 combine_grid((p.hidden + kCombineThreads - 1) / kCombineThreads, p.tokens);
    CombineKernel<<<combine_grid, kCombineThreads, 0, stream>>>(p);
    return cudaGetLastError();
  }
  // Fewer pairs than experts: one grid row per sorted position instead of per expert.
  const bool by_position = pairs < p.num_experts;
  const int grid_y = by_position ? static_cast<int>(pairs) : p.num_experts;
  cudaError_t err =
      p.tokens == 1 ? LaunchGrouped<4, 1>(p, by_position, grid_y, stream)
      : p.tokens <= kExpertSmallBatch
          ? LaunchGrouped<2, 2>(p, by_position, grid_y, stream)
          : LaunchGrouped<kExpertRowsPerWarp, kExpertPairsPerPass>(p, by_position, grid_y, stream);
  if (err != cudaSuccess) return err;
  constexpr int kCombineThreads = 256;
  const dim3 combine_grid((p.hidden + kCombineThreads - 1) / kCombineThreads, p.tokens);
  CombineKernel<<<combine_grid, kCombineThreads, 0, stream>>>(p);
  return cudaGetLastError();
}

}  // namespace sieve::cuda
