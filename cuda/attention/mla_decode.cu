// Kernels for mla_decode.h: split-KV MLA decode on tensor cores, and the split combine.
//
// Block = kMlaDecodeWarps (8) warps for one (split, query row, group of 16 heads). Shared memory
// (dynamic; `ld` = width rounded up to 16, + 8 bf16 of padding so rows start 16 bytes apart
// modulo 128 and the fragment loads below are bank-conflict free):
//   q_hi, q_lo [16][ld] bf16   the group's scaled-later queries, hi + lo split of the fp32 values
//   kv [2][64][ld] bf16        double-buffered cache tiles (cp.async, 16-byte chunks; tokens past
//                              the sequence are zero-filled)
//   p_hi, p_lo [16][72] bf16   the tile's probabilities (hi + lo), the A operand of P V
//   red [2][8][16] fp32        per-warp row maxima and sums
// Per tile: warp w scores tokens 8w .. 8w + 7 for all 16 heads (m16n8k16, K = width: two mma
// per k-step for q_hi and q_lo), masks tokens >= len, and the block agrees on each head's tile max
// and sum through `red`; every thread then holds the same running max m and sum l for its two
// heads (rows lane / 4 and lane / 4 + 8). Warp w owns latent columns 64w .. 64w + 63 of o_lat:
// 8 n-tiles of 8, B fragments from the tile by ldmatrix.trans (token-major rows are the K
// dimension), accumulators rescaled by exp(m_old - m_new) before each tile's P V.
// Everything after the cache and the query reads is fp32 except the mma operands, whose hi + lo
// splits keep ~16 mantissa bits, so results match the fp32 reference to ~1e-5 relative.
#include <algorithm>
#include <cmath>

#include "cuda/attention/mla_decode.h"
#include "cuda/common/device_utils.cuh"
#include "cuda/config.h"

namespace sieve::cuda {
namespace {

constexpr int kThreads = kMlaDecodeWarps * 32;
constexpr int kTile = kMlaTileTokens;
constexpr int kHeads = kMlaHeadsPerBlock;
constexpr int kPld = kTile + 8;  // p_hi / p_lo row length (bf16)
constexpr int kColsPerWarp = kMlaMaxLatent / kMlaDecodeWarps;  // latent columns per warp
constexpr int kNTiles = kColsPerWarp / 8;                       // their n-tiles of 8
constexpr int kTokensPerWarp = kTile / kMlaDecodeWarps;         // scored per warp per tile
constexpr int kSTiles = kTokensPerWarp / 8;                     // their n-tiles of 8
static_assert(kHeads == 16 && kTokensPerWarp % 8 == 0 && kNTiles % 2 == 0,
              "one m16 tile of heads, whole n-tiles of tokens and of latent columns per warp");

__host__ __device__ constexpr int RowLd(int width) { return (width + 15) / 16 * 16 + 8; }

size_t SmemBytes(int width) {
  const int ld = RowLd(width);
  return static_cast<size_t>(2 * kHeads * ld + 2 * kTile * ld + 2 * kHeads * kPld) * 2 +
         2 * kMlaDecodeWarps * kHeads * sizeof(float);
}

__device__ __forceinline__ uint32_t SmemAddr(const void* p) {
  return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}

__device__ __forceinline__ void CpAsync16(void* dst, const void* src, bool valid) {
  const int bytes = valid ? 16 : 0;  // 0: zero-fill, nothing read
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(SmemAddr(dst)), "l"(src),
               "r"(bytes));
}
__device__ __forceinline__ void CpAsyncCommit() { asm volatile("cp.async.commit_group;\n" ::); }
template <int N>
__device__ __forceinline__ void CpAsyncWait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(N));
}

__device__ __forceinline__ void Mma(float* c, const uint32_t* a, uint32_t b0, uint32_t b1) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, "
      "{%8,%9}, {%0,%1,%2,%3};\n"
      : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

__device__ __forceinline__ void LdMatrixX4Trans(uint32_t* r, const void* p) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(SmemAddr(p)));
}

__device__ __forceinline__ uint32_t Ld32(const __nv_bfloat16* p) {
  return *reinterpret_cast<const uint32_t*>(p);
}

__device__ __forceinline__ uint32_t Pack(__nv_bfloat16 lo_elem, __nv_bfloat16 hi_elem) {
  return static_cast<uint32_t>(__bfloat16_as_ushort(lo_elem)) |
         (static_cast<uint32_t>(__bfloat16_as_ushort(hi_elem)) << 16);
}

__global__ void __launch_bounds__(kThreads, 1) MlaSplitKernel(MlaDecodeParams p) {
  extern __shared__ __align__(16) unsigned char smem_raw[];
  const int width = p.kv_lora + p.rope_dim;
  const int ld = RowLd(width);
  __nv_bfloat16* q_hi = reinterpret_cast<__nv_bfloat16*>(smem_raw);
  __nv_bfloat16* q_lo = q_hi + kHeads * ld;
  __nv_bfloat16* kv = q_lo + kHeads * ld;  // [2][kTile][ld]
  __nv_bfloat16* p_hi = kv + 2 * kTile * ld;
  __nv_bfloat16* p_lo = p_hi + kHeads * kPld;
  float* red_max = reinterpret_cast<float*>(p_lo + kHeads * kPld);  // [warps][16]
  float* red_sum = red_max + kMlaDecodeWarps * kHeads;

  const int split = blockIdx.x, b = blockIdx.y, head0 = blockIdx.z * kHeads;
  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  const int g = lane >> 2, t = lane & 3;
  const int splits = p.num_splits > 1 ? p.num_splits : 1;

  const int32_t len = p.seq_lens[b];
  const int64_t table_row = p.row_seq ? p.row_seq[b] : b;
  const int32_t* table = p.block_table + table_row * p.max_pages_per_seq;
  const int max_tiles = (p.max_pages_per_seq * p.page_size + kTile - 1) / kTile;
  const int tiles_per_split = (max_tiles + splits - 1) / splits;
  const int tiles = (len + kTile - 1) / kTile;
  const int tile_begin = split * tiles_per_split;
  const int tile_end = min(tiles, tile_begin + tiles_per_split);

  auto load_tile = [&](int tile, int buf) {
    __nv_bfloat16* dst = kv + buf * kTile * ld;
    const int chunks = width / 8;
    for (int c = tid; c < kTile * chunks; c += kThreads) {
      const int j = c / chunks, k = c - j * chunks;
      const int32_t pos = tile * kTile + j;
      const bool valid = pos < len;
      const __nv_bfloat16* src = p.cache;
      if (valid) {
        const int64_t page = table[pos / p.page_size];
        src = p.cache + (page * p.page_size + pos % p.page_size) * width + k * 8;
      }
      CpAsync16(dst + j * ld + k * 8, src, valid);
    }
  };
  if (tile_begin < tile_end) {
    load_tile(tile_begin, 0);
    CpAsyncCommit();
  }

  // Queries (hi + lo bf16 split), zero rows for heads past the end and zero padding columns;
  // the padding columns of both cache buffers are zeroed too (0 x garbage could be NaN).
  const int kdim = (width + 15) / 16 * 16;
  // 16-byte query loads when the rows allow them (the decoder's q_abs: 16 x 576 fp32 per block
  // is 9 loads per thread, all in flight: one memory latency instead of five).
  const bool q_vec = ((p.q_head_stride | p.q_batch_stride) & 3) == 0 &&
                     (reinterpret_cast<uintptr_t>(p.q) & 15) == 0;
  constexpr int kVecInFlight = 12;
  const int kd4 = kdim / 4;
  for (int base = tid; q_vec && base < kHeads * kd4; base += kThreads * kVecInFlight) {
    float4 v[kVecInFlight];
#pragma unroll
    for (int u = 0; u < kVecInFlight; ++u) {
      const int i = base + u * kThreads;
      const int h = i / kd4, c = (i - h * kd4) * 4;
      v[u] = i < kHeads * kd4 && head0 + h < p.heads && c < width  // width % 8 == 0
                 ? __ldg(reinterpret_cast<const float4*>(
                       p.q + b * p.q_batch_stride +
                       static_cast<int64_t>(head0 + h) * p.q_head_stride + c))
                 : make_float4(0.0f, 0.0f, 0.0f, 0.0f);
    }
#pragma unroll
    for (int u = 0; u < kVecInFlight; ++u) {
      const int i = base + u * kThreads;
      if (i >= kHeads * kd4) break;
      const int h = i / kd4, c = (i - h * kd4) * 4;
      const float f[4] = {v[u].x, v[u].y, v[u].z, v[u].w};
      __nv_bfloat16 hi[4], lo[4];
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        hi[e] = __float2bfloat16_rn(f[e]);
        lo[e] = __float2bfloat16_rn(f[e] - __bfloat162float(hi[e]));
      }
      // ld is a multiple of 8 and c of 4: 8-byte aligned stores.
      *reinterpret_cast<uint2*>(q_hi + h * ld + c) = make_uint2(Pack(hi[0], hi[1]), Pack(hi[2], hi[3]));
      *reinterpret_cast<uint2*>(q_lo + h * ld + c) = make_uint2(Pack(lo[0], lo[1]), Pack(lo[2], lo[3]));
    }
  }
  constexpr int kInFlight = 8;  // independent loads per thread before the first use
  for (int base = tid; !q_vec && base < kHeads * kdim; base += kThreads * kInFlight) {
    float v[kInFlight];
#pragma unroll
    for (int u = 0; u < kInFlight; ++u) {
      const int i = base + u * kThreads;
      const int h = i / kdim, c = i - h * kdim;
      v[u] = i < kHeads * kdim && head0 + h < p.heads && c < width
                 ? p.q[b * p.q_batch_stride + static_cast<int64_t>(head0 + h) * p.q_head_stride + c]
                 : 0.0f;
    }
#pragma unroll
    for (int u = 0; u < kInFlight; ++u) {
      const int i = base + u * kThreads;
      if (i >= kHeads * kdim) break;
      const int h = i / kdim, c = i - h * kdim;
      const __nv_bfloat16 hi = __float2bfloat16_rn(v[u]);
      q_hi[h * ld + c] = hi;
      q_lo[h * ld + c] = __float2bfloat16_rn(v[u] - __bfloat162float(hi));
    }
  }
  for (int i = tid; i < 2 * kTile * (kdim - width); i += kThreads) {
    const int r = i / (kdim - width), c = width + i % (kdim - width);
    kv[r * ld + c] = __float2bfloat16_rn(0.0f);
  }

  float acc[kNTiles][4];
#pragma unroll
  for (int n = 0; n < kNTiles; ++n) acc[n][0] = acc[n][1] = acc[n][2] = acc[n][3] = 0.0f;
  float m_run[2] = {-INFINITY, -INFINITY}, l_run[2] = {0.0f, 0.0f};
  const int col0 = warp * kColsPerWarp;
  const bool has_cols = col0 < p.kv_lora;

  for (int tile = tile_begin; tile < tile_end; ++tile) {
    const int buf = (tile - tile_begin) & 1;
    if (tile + 1 < tile_end) {
      load_tile(tile + 1, buf ^ 1);
      CpAsyncCommit();
      CpAsyncWait<1>();
    } else {
      CpAsyncWait<0>();
    }
    __syncthreads();
    const __nv_bfloat16* kt = kv + buf * kTile * ld;

    // Scores: rows g, g + 8 (heads); tokens 16 warp + 8 n + 2t + {0, 1}.
    float s[kSTiles][4], s_lo[kSTiles][4];  // two chains: shorter mma dependencies
#pragma unroll
    for (int n = 0; n < kSTiles; ++n) {
#pragma unroll
      for (int e = 0; e < 4; ++e) s[n][e] = s_lo[n][e] = 0.0f;
    }
    for (int k0 = 0; k0 < kdim; k0 += 16) {
      uint32_t ah[4], al[4];
      ah[0] = Ld32(q_hi + g * ld + k0 + 2 * t);
      ah[1] = Ld32(q_hi + (g + 8) * ld + k0 + 2 * t);
      ah[2] = Ld32(q_hi + g * ld + k0 + 2 * t + 8);
      ah[3] = Ld32(q_hi + (g + 8) * ld + k0 + 2 * t + 8);
      al[0] = Ld32(q_lo + g * ld + k0 + 2 * t);
      al[1] = Ld32(q_lo + (g + 8) * ld + k0 + 2 * t);
      al[2] = Ld32(q_lo + g * ld + k0 + 2 * t + 8);
      al[3] = Ld32(q_lo + (g + 8) * ld + k0 + 2 * t + 8);
#pragma unroll
      for (int n = 0; n < kSTiles; ++n) {
        const __nv_bfloat16* krow = kt + (kTokensPerWarp * warp + 8 * n + g) * ld + k0 + 2 * t;
        const uint32_t b0 = Ld32(krow), b1 = Ld32(krow + 8);
        Mma(s[n], ah, b0, b1);
        Mma(s_lo[n], al, b0, b1);
      }
    }
#pragma unroll
    for (int n = 0; n < kSTiles; ++n) {
#pragma unroll
      for (int e = 0; e < 4; ++e) s[n][e] += s_lo[n][e];
    }
    float mx[2] = {-INFINITY, -INFINITY};
#pragma unroll
    for (int n = 0; n < kSTiles; ++n) {
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const int pos = tile * kTile + kTokensPerWarp * warp + 8 * n + 2 * t + (e & 1);
        s[n][e] = pos < len ? s[n][e] * p.scale : -INFINITY;
        mx[e >> 1] = fmaxf(mx[e >> 1], s[n][e]);
      }
    }
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      mx[r] = fmaxf(mx[r], __shfl_xor_sync(0xffffffffu, mx[r], 1));
      mx[r] = fmaxf(mx[r], __shfl_xor_sync(0xffffffffu, mx[r], 2));
    }
    if (t == 0) {
      red_max[warp * kHeads + g] = mx[0];
      red_max[warp * kHeads + g + 8] = mx[1];
    }
    __syncthreads();
    float m_new[2], sum[2] = {0.0f, 0.0f};
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      float tm = red_max[g + 8 * r];
#pragma unroll
      for (int w = 1; w < kMlaDecodeWarps; ++w) tm = fmaxf(tm, red_max[w * kHeads + g + 8 * r]);
      m_new[r] = fmaxf(m_run[r], tm);  // finite: every tile holds at least one token
    }
#pragma unroll
    for (int n = 0; n < kSTiles; ++n) {
      const int col = kTokensPerWarp * warp + 8 * n + 2 * t;
#pragma unroll
      for (int r = 0; r < 2; ++r) {
        const float e0 = expf(s[n][2 * r] - m_new[r]);
        const float e1 = expf(s[n][2 * r + 1] - m_new[r]);
        sum[r] += e0 + e1;
        const __nv_bfloat16 h0 = __float2bfloat16_rn(e0), h1 = __float2bfloat16_rn(e1);
        const int row = g + 8 * r;
        *reinterpret_cast<uint32_t*>(p_hi + row * kPld + col) = Pack(h0, h1);
        *reinterpret_cast<uint32_t*>(p_lo + row * kPld + col) =
            Pack(__float2bfloat16_rn(e0 - __bfloat162float(h0)),
                 __float2bfloat16_rn(e1 - __bfloat162float(h1)));
      }
    }
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      sum[r] += __shfl_xor_sync(0xffffffffu, sum[r], 1);
      sum[r] += __shfl_xor_sync(0xffffffffu, sum[r], 2);
    }
    if (t == 0) {
      red_sum[warp * kHeads + g] = sum[0];
      red_sum[warp * kHeads + g + 8] = sum[1];
    }
    __syncthreads();
    float corr[2];
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      float ts = 0.0f;
#pragma unroll
      for (int w = 0; w < kMlaDecodeWarps; ++w) ts += red_sum[w * kHeads + g + 8 * r];
      corr[r] = expf(m_run[r] - m_new[r]);  // 0 on the first tile (m_run = -inf)
      l_run[r] = l_run[r] * corr[r] + ts;
      m_run[r] = m_new[r];
    }
    if (has_cols) {
#pragma unroll
      for (int n = 0; n < kNTiles; ++n) {
        acc[n][0] *= corr[0];
        acc[n][1] *= corr[0];
        acc[n][2] *= corr[1];
        acc[n][3] *= corr[1];
      }
#pragma unroll
      for (int j = 0; j < kTile / 16; ++j) {
        uint32_t ph[4], pl[4];
        ph[0] = Ld32(p_hi + g * kPld + 16 * j + 2 * t);
        ph[1] = Ld32(p_hi + (g + 8) * kPld + 16 * j + 2 * t);
        ph[2] = Ld32(p_hi + g * kPld + 16 * j + 2 * t + 8);
        ph[3] = Ld32(p_hi + (g + 8) * kPld + 16 * j + 2 * t + 8);
        pl[0] = Ld32(p_lo + g * kPld + 16 * j + 2 * t);
        pl[1] = Ld32(p_lo + (g + 8) * kPld + 16 * j + 2 * t);
        pl[2] = Ld32(p_lo + g * kPld + 16 * j + 2 * t + 8);
        pl[3] = Ld32(p_lo + (g + 8) * kPld + 16 * j + 2 * t + 8);
        const int row = 16 * j + (lane & 7) + ((lane >> 3) & 1) * 8;
#pragma unroll
        for (int n = 0; n < kNTiles; n += 2) {
          if (col0 + 8 * n >= p.kv_lora) break;
          uint32_t bv[4];
          LdMatrixX4Trans(bv, kt + row * ld + col0 + 8 * n + (lane >> 4) * 8);
          Mma(acc[n], ph, bv[0], bv[1]);
          Mma(acc[n], pl, bv[0], bv[1]);
          Mma(acc[n + 1], ph, bv[2], bv[3]);
          Mma(acc[n + 1], pl, bv[2], bv[3]);
        }
      }
    }
    __syncthreads();  // p_* and this buffer are rewritten by the next tile
  }

  // Epilogue: normalised o_lat rows g, g + 8 (heads head0 + g, head0 + g + 8).
  float inv[2], lse[2];
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    inv[r] = l_run[r] > 0.0f ? 1.0f / l_run[r] : 0.0f;
    lse[r] = l_run[r] > 0.0f ? m_run[r] + logf(l_run[r]) : -INFINITY;
  }
  const bool split_out = p.num_splits > 1;
  if (has_cols) {
#pragma unroll
    for (int n = 0; n < kNTiles; ++n) {
      const int col = col0 + 8 * n + 2 * t;
#pragma unroll
      for (int r = 0; r < 2; ++r) {
        const int h = head0 + g + 8 * r;
        if (h >= p.heads) continue;
#pragma unroll
        for (int e = 0; e < 2; ++e) {
          if (col + e >= p.kv_lora) continue;
          const float v = acc[n][2 * r + e] * inv[r];
          if (split_out) {
            p.partial_out[((static_cast<int64_t>(split) * p.batch + b) * p.heads + h) * p.kv_lora +
                          col + e] = v;
          } else {
            p.out[b * p.out_batch_stride + h * p.out_head_stride + col + e] =
                __float2bfloat16_rn(v);
          }
        }
      }
    }
  }
  if (warp == 0 && t == 0) {
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      const int h = head0 + g + 8 * r;
      if (h >= p.heads) continue;
      if (split_out) {
        p.partial_lse[(static_cast<int64_t>(split) * p.batch + b) * p.heads + h] = lse[r];
      } else if (p.lse) {
        p.lse[static_cast<int64_t>(b) * p.heads + h] = lse[r];
      }
    }
  }
}

// One block per (row, head): o = sum_s w_s o_s / sum_s w_s, w_s = exp(lse_s - max_s lse_s).
// The weights go to shared memory once. The block's 512 threads form kCombineGroups groups of
// 128; group g sums splits g, g + 4, g + 8, ... (group 0 also the last splits % 4) for 4 adjacent
// latent columns per thread (one 16-byte load per split: kv_lora is a multiple of 8 and partial
// rows start 16-byte aligned), kCombineInFlight splits' loads in flight, and the four group sums
// meet in shared memory as (g0 + g1) + (g2 + g3): the summation order of the first version (one
// thread per column, four partial sums by split mod 4), so results are unchanged while a row costs
// ~splits / 32 memory latencies instead of one per 4 splits (the combine was ~17-30 us per layer
// at batch 1 under ncu: latency-bound, the partials being ~2 MB).
constexpr int kCombineGroups = 4;
constexpr int kCombineGroupThreads = 128;
constexpr int kCombineThreads = kCombineGroups * kCombineGroupThreads;
constexpr int kMaxCombineSplits = 1024;
constexpr int kCombineInFlight = 8;

__global__ void __launch_bounds__(kCombineThreads) MlaCombineKernel(MlaDecodeParams p) {
  __shared__ float w_s[kMaxCombineSplits];
  __shared__ float stat[2];
  __shared__ float4 part[kCombineGroups][kCombineGroupThreads];
  const int b = blockIdx.x, h = blockIdx.y;
  const int64_t stride = static_cast<int64_t>(p.batch) * p.heads;  // between splits
  const int64_t at = static_cast<int64_t>(b) * p.heads + h;
  const int n = p.num_splits;
  for (int s = threadIdx.x; s < n; s += kCombineThreads) w_s[s] = p.partial_lse[s * stride + at];
  __syncthreads();
  if (threadIdx.x < 32) {
    float big = -INFINITY;
    for (int s = threadIdx.x; s < n; s += 32) big = fmaxf(big, w_s[s]);
    big = WarpMax(big);
    float total = 0.0f;
    for (int s = threadIdx.x; s < n; s += 32) {
      total += w_s[s] == -INFINITY ? 0.0f : expf(w_s[s] - big);
    }
    total = WarpSum(total);
    if (threadIdx.x == 0) {
      stat[0] = big;
      stat[1] = total;
    }
  }
  __syncthreads();
  const float big = stat[0], total = stat[1];
  for (int s = threadIdx.x; s < n; s += kCombineThreads) {
    w_s[s] = w_s[s] == -INFINITY || total <= 0.0f ? 0.0f : expf(w_s[s] - big) / total;
  }
  __syncthreads();
  const int group = threadIdx.x / kCombineGroupThreads;
  const int lane4 = threadIdx.x % kCombineGroupThreads;
  const float4* base = reinterpret_cast<const float4*>(p.partial_out + at * p.kv_lora);
  const int64_t split_stride4 = stride * p.kv_lora / 4;  // float4s between splits
  const int n4 = n - n % kCombineGroups;                   // splits summed round-robin
  __nv_bfloat16* out = p.out + b * p.out_batch_stride + h * p.out_head_stride;
  for (int c0 = 0; c0 < p.kv_lora / 4; c0 += kCombineGroupThreads) {  // uniform trip count
    const int c4 = c0 + lane4;
    const bool live = c4 < p.kv_lora / 4;
    float4 acc = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
    // This group's splits in order: group, group + 4, ... < n4, then (group 0) n4 .. n - 1.
    const int count = (n4 - group + kCombineGroups - 1) / kCombineGroups + (group == 0 ? n - n4 : 0);
    for (int j0 = 0; live && j0 < count; j0 += kCombineInFlight) {
      float4 v[kCombineInFlight];
#pragma unroll
      for (int u = 0; u < kCombineInFlight; ++u) {
        const int j = j0 + u;
        const int s = j * kCombineGroups + group < n4 ? j * kCombineGroups + group
                                                      : n4 + (j - n4 / kCombineGroups);
        v[u] = j < count ? __ldcg(base + s * split_stride4 + c4)
                         : make_float4(0.0f, 0.0f, 0.0f, 0.0f);
      }
#pragma unroll
      for (int u = 0; u < kCombineInFlight; ++u) {
        const int j = j0 + u;
        if (j >= count) break;
        const int s = j * kCombineGroups + group < n4 ? j * kCombineGroups + group
                                                      : n4 + (j - n4 / kCombineGroups);
        const float w = w_s[s];
        acc.x += w * v[u].x;
        acc.y += w * v[u].y;
        acc.z += w * v[u].z;
        acc.w += w * v[u].w;
      }
    }
    part[group][lane4] = acc;
    __syncthreads();
    if (group == 0 && live) {
      const float4 a0 = part[0][lane4], a1 = part[1][lane4], a2 = part[2][lane4],
                   a3 = part[3][lane4];
      out[4 * c4 + 0] = __float2bfloat16_rn((a0.x + a1.x) + (a2.x + a3.x));
      out[4 * c4 + 1] = __float2bfloat16_rn((a0.y + a1.y) + (a2.y + a3.y));
      out[4 * c4 + 2] = __float2bfloat16_rn((a0.z + a1.z) + (a2.z + a3.z));
      out[4 * c4 + 3] = __float2bfloat16_rn((a0.w + a1.w) + (a2.w + a3.w));
    }
    __syncthreads();  // part is rewritten by the next column chunk
  }
  if (p.lse && threadIdx.x == 0) p.lse[at] = total > 0.0f ? big + logf(total) : -INFINITY;
}

}  // namespace

int32_t MlaDecodeSplits(int32_t rows, int32_t heads, int64_t max_tokens, int32_t sm_count) {
  if (rows <= 0 || heads <= 0 || sm_count <= 0) return 1;
  const int64_t groups = (heads + kHeads - 1) / kHeads;
  const int64_t tiles = std::max<int64_t>(1, (max_tokens + kTile - 1) / kTile);
  const int64_t fill = sm_count / (static_cast<int64_t>(rows) * groups);
  return static_cast<int32_t>(std::max<int64_t>(1, std::min<int64_t>(fill, tiles)));
}

int64_t MlaPartialFloats(int32_t splits, int32_t rows, int32_t heads, int32_t kv_lora) {
  return splits > 1 ? static_cast<int64_t>(splits) * rows * heads * kv_lora : 0;
}

cudaError_t LaunchMlaDecode(const MlaDecodeParams& p, cudaStream_t stream) {
  if (p.batch < 0 || p.batch > 65535 || p.heads < 0 || p.kv_lora <= 0 ||
      p.kv_lora > kMlaMaxLatent || p.kv_lora % 8 != 0 || p.rope_dim < 0 ||
      p.kv_lora + p.rope_dim > kMlaMaxHeadDim || (p.kv_lora + p.rope_dim) % 8 != 0 ||
      p.page_size <= 0 || p.max_pages_per_seq < 0 || p.num_splits > kMaxCombineSplits) {
    return cudaErrorInvalidValue;
  }
  if (p.batch == 0 || p.heads == 0) return cudaSuccess;
  if (!p.q || !p.cache || !p.block_table || !p.seq_lens || !p.out ||
      p.q_head_stride < p.kv_lora + p.rope_dim || p.out_head_stride < p.kv_lora ||
      (p.num_splits > 1 && (!p.partial_out || !p.partial_lse ||
                            (reinterpret_cast<uintptr_t>(p.partial_out) & 15) != 0))) {
    return cudaErrorInvalidValue;
  }
  const int width = p.kv_lora + p.rope_dim;
  const size_t smem = SmemBytes(width);
  cudaError_t err = cudaSuccess;
  if (smem > 48 * 1024) {
    err = cudaFuncSetAttribute(MlaSplitKernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                               static_cast<int>(smem));
    if (err != cudaSuccess) return err;
  }
  const int splits = p.num_splits > 1 ? p.num_splits : 1;
  const int groups = (p.heads + kHeads - 1) / kHeads;
  if (groups > 65535) return cudaErrorInvalidValue;
  MlaSplitKernel<<<dim3(splits, p.batch, groups), kThreads, smem, stream>>>(p);
  err = cudaGetLastError();
  if (err != cudaSuccess || splits == 1) return err;
  MlaCombineKernel<<<dim3(p.batch, p.heads), kCombineThreads, 0, stream>>>(p);
  return cudaGetLastError();
}

}  // namespace sieve::cuda
