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

#include "cuda/common/bf16x8.cuh"
#include "cuda/common/device_utils.cuh"
#include "cuda/common/pdl.cuh"
#include "cuda/config.h"
#include "cuda/moe/expert_ffn.h"
#include "cuda/moe/expert_gemm.h"

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
  PdlLaunchDependents();
  PdlWait();  // launched with PDL: the routing and x (or act) are final from here
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
  PdlLaunchDependents();
  PdlWait();  // launched with PDL: the routing and x (or act) are final from here
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
// Every output (row, pair) is the sum of kChains partial dot products, chain c over the K-slice
// [c K/4, (c+1) K/4), each a sequence of m16n8k16 mma over 32-k steps: lane (g, t) holds 16 bytes
// (k 8t .. 8t+7 of the step) of weight rows g and g+8 and of the B rows (x, or act hi and lo) of
// pairs g (+ 8 per n-tile); those 8 k fill both k-steps of two mma (the k order inside a step is
// a permutation applied to both operands alike, so the dot products are unchanged). The chains
// are then added in order 0..3. Up to kMmaPairs pairs per pass (n-tiles of 8; pairs past the
// expert's count are zeros); more pairs take more passes over the weights.
//
// Data movement (issue 7, steps 13-14): a persistent grid walks units of (expert, 32 output rows)
// for gate/up and (expert, 64 output rows) for down (each warp then owns row tiles rt and rt + 2,
// so a down stage carries 64 weight rows per 16 act hi + lo rows instead of 32);
// all 256 threads stream each unit's weight rows and B rows through a kStages-deep cp.async ring
// in 128-byte row segments (2 k-steps of every chain per stage: 8 lanes per segment, so every
// warp-wide copy touches 4 whole 128-byte lines), and warp (row tile rt, chain c) reads its
// fragments from shared memory (chunk index XOR 4 on odd rows: conflict-free 16-byte reads).
// The ring runs on across pass and unit boundaries, so the next unit's weights are in flight
// while a unit's partial sums meet in shared memory. The mma sequence per accumulator and the
// chain order are those of the per-block kernels this replaced (2 x 16 rows, 4 warps with global
// loads), so results are bit-identical to them.
constexpr int kMmaNTiles = 2;
constexpr int kMmaPairs = 8 * kMmaNTiles;
constexpr int kChains = 4;                        // K-slices per output (fixed: the sum order)
constexpr int kRowTiles = 2;                      // warp = (row tile rt, chain)
constexpr int kStreamWarps = kChains * kRowTiles;
constexpr int kStreamThreads = kStreamWarps * 32;
constexpr int kStageSteps = 2;                    // 32-k steps of each chain per stage
constexpr int kSegBytes = kStageSteps * 64;       // one row's segment of one chain: 128 bytes
constexpr int kRowBytes = kChains * kSegBytes;    // one row of a stage in shared memory

template <bool kGateUp>
struct Stream {
  static constexpr int kUnitRows = kGateUp ? 32 : 64;                // output rows per unit
  static constexpr int kWRows = 64;                                   // gate 32 + up 32, or down
  static constexpr int kBRows = kGateUp ? kMmaPairs : 2 * kMmaPairs;  // x, or act hi + act lo
  static constexpr int kStageBytes = (kWRows + kBRows) * kRowBytes;   // 40 KB / 48 KB
  static constexpr int kStages = 4;
  // Per warp, two 16 x kMmaPairs partial-sum slots: gate and up, or row tiles rt and rt + 2.
  static constexpr int kRedBytes = kStreamWarps * 2 * 16 * (kMmaPairs + 1) * 4;
  static constexpr int kSmem = kStages * kStageBytes + kRedBytes;  // 177 KB / 209 KB
};

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

// 16 bytes global -> shared, bypassing L1; zeros (no read) when !valid.
__device__ __forceinline__ void CpAsync16(void* dst, const void* src, bool valid) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(SmemAddr(dst)), "l"(src),
               "r"(valid ? 16 : 0)
               : "memory");
}
__device__ __forceinline__ void CpAsyncCommit() {
  asm volatile("cp.async.commit_group;\n" ::: "memory");
}
template <int kPending>
__device__ __forceinline__ void CpAsyncWait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(kPending) : "memory");
}

__device__ __forceinline__ uint4 Lds16(const unsigned char* p) {
  uint4 v;
  asm volatile("ld.shared.v4.u32 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w)
               : "r"(SmemAddr(p))
               : "memory");
  return v;
}

// Position in a block's sequence of stages: unit (expert slot * row_blocks + row block), pair
// pass, stage within the pass; unit >= units when the block is done. The expert slots are all
// experts (units of experts without pairs are skipped), or, on a compacted launch, the touched
// experts only (the block's list in shared memory): then every unit has pairs and the blocks get
// equal shares at any routing (batch 8 touches ~35 of 64 experts; over all experts the number of
// empty units per block varies, and the fullest block sets the time). Units from `whole` on are
// halves (half h of unit whole + h / 2: the down kernel's last, partial round on a compacted
// launch, see StreamedMmaKernel); row0 is the unit's first output row.
struct StreamCursor {
  int unit, pass, stage, expert, begin, count, row0;
  bool half;
};

struct StreamShapeArgs {
  int units, row_blocks, kw, steps, stages;  // steps: 32-k steps per chain; stages per pass
  // Units below `whole` are whole units of unit_rows output rows, halves from there on.
  int whole, unit_rows;
  const int* touched;  // [units / row_blocks] expert ids (shared memory), or null: slot = expert
};

__device__ __forceinline__ void Locate(const ExpertFfnParams& p, const StreamShapeArgs& s,
                                       StreamCursor& c) {
  c.pass = c.stage = 0;
  for (; c.unit < s.units; c.unit += gridDim.x) {
    const int h = c.unit - s.whole;  // >= 0: half h & 1 of unit whole + h / 2
    const int u = h < 0 ? c.unit : s.whole + h / 2;
    c.expert = s.touched ? s.touched[u / s.row_blocks] : u / s.row_blocks;
    c.half = h >= 0;
    c.row0 = (u % s.row_blocks) * s.unit_rows + (c.half ? (h & 1) * (s.unit_rows / 2) : 0);
    c.begin = p.expert_offsets[c.expert];
    c.count = p.expert_offsets[c.expert + 1] - c.begin;
    if (c.count > 0) return;  // always, on a compacted list
  }
}

__device__ __forceinline__ void Advance(const ExpertFfnParams& p, const StreamShapeArgs& s,
                                        StreamCursor& c) {
  if (++c.stage < s.stages) return;
  c.stage = 0;
  if (++c.pass * kMmaPairs < c.count) return;
  c.unit += gridDim.x;
  Locate(p, s, c);
}

// The experts with at least one pair, ascending, into touched[]; returns their count. Every
// thread of the block calls it (two block barriers per 256 experts).
__device__ __forceinline__ int TouchedExperts(const ExpertFfnParams& p, int* touched,
                                              int* warp_counts) {
  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  int total = 0;
  for (int base = 0; base < p.num_experts; base += kStreamThreads) {
    const int e = base + tid;
    const bool used = e < p.num_experts && p.expert_offsets[e + 1] > p.expert_offsets[e];
    const unsigned ballot = __ballot_sync(0xffffffffu, used);
    if (lane == 0) warp_counts[warp] = __popc(ballot);
    __syncthreads();
    int before = total;
    for (int w = 0; w < kStreamWarps; ++w) {
      if (w < warp) before += warp_counts[w];
      total += warp_counts[w];
    }
    if (used) touched[before + __popc(ballot & ((1u << lane) - 1u))] = e;
    __syncthreads();  // warp_counts is rewritten by the next chunk
  }
  return total;
}

// Every thread issues its share of a stage's 16-byte copies: thread tid copies chunk q = tid % 8
// of chain (tid / 8) % 4 of rows tid / 32 + 8m (8 consecutive threads per 128-byte segment), so
// its row addresses change only with the pass and its chain, chunk and shared-memory offsets
// never. Row m of the B rows is pair tid / 32 + 8m of n-tile m: n-tiles past the pass's pairs are
// neither copied nor read, pairs past its count inside a used n-tile are zero-filled.
template <bool kGateUp>
struct StageLoader {
  using S = Stream<kGateUp>;
  static constexpr int kWM = S::kWRows / 8;  // weight rows per thread
  const __nv_bfloat16* w[kWM];
  const __nv_bfloat16* b[kGateUp ? 2 : 4];  // x per n-tile, or act hi, hi, lo, lo
  bool valid[2];
  int ntiles, dst;
  int q;
  bool half;  // a half unit: weight rows 0 .. kWRows / 2 - 1 only (down)

  __device__ __forceinline__ void Setup(const ExpertFfnParams& p, const StreamShapeArgs& s,
                                        const StreamCursor& c) {
    const int tid = threadIdx.x, warp = tid >> 5, chain = (tid >> 3) & 3;
    q = tid & 7;
    dst = warp * kRowBytes + chain * kSegBytes + ((q ^ ((warp & 1) << 2)) << 4);
    const int H = p.hidden, I = p.inter;
    const int e = c.expert;
    const int koff = chain * s.kw + 8 * q;
    half = c.half;
#pragma unroll
    for (int m = 0; m < kWM; ++m) {
      const int row = warp + 8 * m;
      if (kGateUp) {  // rows 0..31 gate, 32..63 up
        const int wrow = c.row0 + (row < S::kUnitRows ? row : I + row - S::kUnitRows);
        w[m] = p.w13 + (static_cast<int64_t>(e) * 2 * I + wrow) * H + koff;
      } else {
        w[m] = p.w2 + (static_cast<int64_t>(e) * H + c.row0 + row) * I + koff;
      }
    }
    const int np = min(kMmaPairs, c.count - c.pass * kMmaPairs);
    ntiles = (np + 7) / 8;
    const int first = c.begin + c.pass * kMmaPairs;
#pragma unroll
    for (int n = 0; n < 2; ++n) {
      const int j = warp + 8 * n;
      valid[n] = j < np;
      if (kGateUp) {
        b[n] = valid[n] ? p.x + static_cast<int64_t>(p.sorted_pairs[first + j] / p.top_k) *
                                    p.x_stride + koff
                        : p.x;
      } else {
        const __nv_bfloat16* hi = reinterpret_cast<const __nv_bfloat16*>(p.act);
        const __nv_bfloat16* lo = hi + static_cast<int64_t>(p.tokens) * p.top_k * I;
        const int64_t at = static_cast<int64_t>(first + j) * I + koff;
        b[n] = valid[n] ? hi + at : hi;
        b[2 + n] = valid[n] ? lo + at : lo;
      }
    }
  }

  __device__ __forceinline__ void Issue(const StreamShapeArgs& s, const StreamCursor& c,
                                        unsigned char* slot) {
    if (q >= 4 * min(kStageSteps, s.steps - c.stage * kStageSteps)) return;  // a half stage
    const int k0 = c.stage * kStageSteps * 32;
    unsigned char* d = slot + dst;
#pragma unroll
    for (int m = 0; m < kWM; ++m) {
      if (!half || m < kWM / 2) CpAsync16(d + m * 8 * kRowBytes, w[m] + k0, true);
    }
    d += S::kWRows * kRowBytes;
#pragma unroll
    for (int n = 0; n < 2; ++n) {
      if (n >= ntiles) break;
      CpAsync16(d + n * 8 * kRowBytes, b[n] + (valid[n] ? k0 : 0), valid[n]);
      if (!kGateUp) {
        CpAsync16(d + (kMmaPairs + n * 8) * kRowBytes, b[2 + n] + (valid[n] ? k0 : 0), valid[n]);
      }
    }
  }
};

// Gate/up (act hi + lo of silu(gate . x) * (up . x)) or down (pair_out = w * (down . act)).
// `late_trigger`: the dependents may start only once every block has passed its wait, so that
// what the kernels before this one wrote (the routing) is final when they start (the fused down
// + combine then reads it and requests its first weights before its own wait).
template <bool kGateUp>
__global__ void __launch_bounds__(kStreamThreads, 1)
    StreamedMmaKernel(ExpertFfnParams p, bool compact, bool late_trigger) {
  SIEVE_PDL_TRACE_SCOPE(kGateUp ? pdl_trace::kExpertGateUp : pdl_trace::kExpertDown);
  using S = Stream<kGateUp>;
  if (!late_trigger) PdlLaunchDependents();
  PdlWait();  // launched with PDL: the routing and x (or act) are final from here
  if (late_trigger) PdlLaunchDependents();
  extern __shared__ __align__(128) unsigned char smem_raw[];
  float* red = reinterpret_cast<float*>(smem_raw + S::kStages * S::kStageBytes);
  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5, g = lane >> 2, t = lane & 3;
  const int rt = warp / kChains, chain = warp % kChains;
  const int H = p.hidden, I = p.inter, K = kGateUp ? H : I, N = kGateUp ? I : H;
  __shared__ int touched[kMaxExperts];
  __shared__ int warp_counts[kStreamWarps];
  StreamShapeArgs s;
  s.row_blocks = N / S::kUnitRows;
  s.unit_rows = S::kUnitRows;
  if (compact) {
    s.units = TouchedExperts(p, touched, warp_counts) * s.row_blocks;
    s.touched = touched;
  } else {
    s.units = p.num_experts * s.row_blocks;
    s.touched = nullptr;
  }
  s.whole = s.units;
  // Down on a compacted launch (every unit has pairs, so the blocks' shares are equal): when the
  // last round of units fills at most half of the grid, its units are split into 32-row halves
  // (the weight rows of slot 0; the same mma sequence per output row, so the same bits): the
  // fullest block then walks one half more than the others instead of one unit more (batch 1:
  // 192 units on 132 blocks). A half still copies all of its pairs' act rows.
  if (!kGateUp && compact) {
    const int rem = s.units % static_cast<int>(gridDim.x);
    if (2 * rem <= static_cast<int>(gridDim.x)) {
      s.whole = s.units - rem;
      s.units = s.whole + 2 * rem;
    }
  }
  s.kw = K / kChains;
  s.steps = s.kw / 32;
  s.stages = (s.steps + kStageSteps - 1) / kStageSteps;
  StreamCursor ld{static_cast<int>(blockIdx.x), 0, 0, 0, 0, 0, 0, false};
  Locate(p, s, ld);
  StreamCursor cc = ld;
  StageLoader<kGateUp> loader;
#pragma unroll 1
  for (int i = 0; i < S::kStages - 1; ++i) {
    if (ld.unit < s.units) {
      if (ld.stage == 0) loader.Setup(p, s, ld);
      loader.Issue(s, ld, smem_raw + i * S::kStageBytes);
      Advance(p, s, ld);
    }
    CpAsyncCommit();
  }
  float acc[2][kMmaNTiles][4];  // gate and up, or down of row tiles rt and rt + 2
  // Down: this thread's pair of the pass in the epilogue (pair j = tid % kMmaPairs, the same in
  // every epilogue iteration) and its combine weight, loaded at the pass's first two stages so
  // the epilogue waits on no global load (two dependent L2 round trips per unit otherwise).
  static_assert(kStreamThreads % kMmaPairs == 0, "one epilogue pair per thread");
  const int ep_j = tid % kMmaPairs;
  int ep_pair = 0;
  float ep_w = 0.0f;
#pragma unroll
  for (int n = 0; n < kMmaNTiles; ++n) {
#pragma unroll
    for (int i = 0; i < 4; ++i) acc[0][n][i] = acc[1][n][i] = 0.0f;
  }
  const int sw = (g & 1) << 2;  // rows g and g + 8 (and every B row read) share g's parity
  __nv_bfloat16* act_hi = reinterpret_cast<__nv_bfloat16*>(p.act);
  __nv_bfloat16* act_lo = act_hi + static_cast<int64_t>(p.tokens) * p.top_k * I;
  for (int it = 0; cc.unit < s.units; ++it) {
    CpAsyncWait<S::kStages - 2>();
    __syncthreads();  // this stage's copies are visible; the slot refilled below was consumed
    if (ld.unit < s.units) {
      if (ld.stage == 0) loader.Setup(p, s, ld);
      loader.Issue(s, ld, smem_raw + ((it + S::kStages - 1) % S::kStages) * S::kStageBytes);
      Advance(p, s, ld);
    }
    CpAsyncCommit();
    const unsigned char* slot = smem_raw + (it % S::kStages) * S::kStageBytes;
    const int np = min(kMmaPairs, cc.count - cc.pass * kMmaPairs);
    const int steps = min(kStageSteps, s.steps - cc.stage * kStageSteps);
    if (!kGateUp && ep_j < np) {
      if (cc.stage == 0) ep_pair = p.sorted_pairs[cc.begin + cc.pass * kMmaPairs + ep_j];
      if (cc.stage == min(1, s.stages - 1)) ep_w = p.topk_weights[ep_pair];
    }
#pragma unroll
    for (int j = 0; j < kStageSteps; ++j) {
      if (j >= steps) break;
      const int off = chain * kSegBytes + (((4 * j + t) ^ sw) << 4);
      const int ra = rt * 16 + g;
      // Rows ra, ra + 8 of the two accumulator slots: gate and up (32 rows apart), or the down
      // row tiles rt and rt + 2 (also 32 rows apart).
      uint4 wa[2], wb[2];
#pragma unroll
      for (int r = 0; r < 2; ++r) {
        if (r == 1 && cc.half) break;  // a half unit (down): slot 0's rows only
        wa[r] = Lds16(slot + (ra + 32 * r) * kRowBytes + off);
        wb[r] = Lds16(slot + (ra + 32 * r + 8) * kRowBytes + off);
      }
      if (kGateUp) {
#pragma unroll
        for (int n = 0; n < kMmaNTiles; ++n) {
          if (8 * n >= np) break;
          const uint4 xb = Lds16(slot + (S::kWRows + 8 * n + g) * kRowBytes + off);
          Mma32(acc[0][n], wa[0], wb[0], xb);
          Mma32(acc[1][n], wa[1], wb[1], xb);
        }
      } else {
#pragma unroll
        for (int n = 0; n < kMmaNTiles; ++n) {
          if (8 * n >= np) break;
          const uint4 xh = Lds16(slot + (S::kWRows + 8 * n + g) * kRowBytes + off);
          const uint4 xl = Lds16(slot + (S::kWRows + kMmaPairs + 8 * n + g) * kRowBytes + off);
#pragma unroll
          for (int r = 0; r < 2; ++r) {  // per accumulator: hi then lo, as before
            if (r == 1 && cc.half) break;
            Mma32(acc[r][n], wa[r], wb[r], xh);
            Mma32(acc[r][n], wa[r], wb[r], xl);
          }
        }
      }
    }
    if (cc.stage == s.stages - 1) {  // the pass is complete: add the chains in order
#pragma unroll
      for (int n = 0; n < kMmaNTiles; ++n) {
#pragma unroll
        for (int i = 0; i < 4; ++i) {
          const int row = g + 8 * (i >> 1), j = 8 * n + 2 * t + (i & 1);
          red[((warp * 2) * 16 + row) * (kMmaPairs + 1) + j] = acc[0][n][i];
          red[((warp * 2 + 1) * 16 + row) * (kMmaPairs + 1) + j] = acc[1][n][i];
          acc[0][n][i] = acc[1][n][i] = 0.0f;
        }
      }
      __syncthreads();
      const int first = cc.begin + cc.pass * kMmaPairs;
      const int unit_rows = cc.half ? S::kUnitRows / 2 : S::kUnitRows;
      for (int o = tid; o < unit_rows * kMmaPairs; o += kStreamThreads) {
        const int r = o / kMmaPairs, j = o % kMmaPairs, ort = r / 16, row = r % 16;
        if (j >= np) continue;
        // Row tile ort: warp row tile ort % 2, slot 0 (gate/up: ort < 2) or ort / 2 (down).
        const int wrt = ort % kRowTiles, s0 = ort / kRowTiles;
        float a0 = 0.0f, a1 = 0.0f;
#pragma unroll
        for (int ci = 0; ci < kChains; ++ci) {
          const int w = wrt * kChains + ci;
          a0 += red[((w * 2 + s0) * 16 + row) * (kMmaPairs + 1) + j];
          if (kGateUp) a1 += red[((w * 2 + 1) * 16 + row) * (kMmaPairs + 1) + j];
        }
        const int out_row = cc.row0 + r;
        if (kGateUp) {
          const float a = a0 / (1.0f + expf(-a0)) * a1;
          const __nv_bfloat16 hi = __float2bfloat16_rn(a);
          const int64_t at = static_cast<int64_t>(first + j) * I + out_row;
          act_hi[at] = hi;
          act_lo[at] = __float2bfloat16_rn(a - __bfloat162float(hi));
        } else {
          p.pair_out[static_cast<int64_t>(ep_pair) * H + out_row] = ep_w * a0;  // j == ep_j
        }
      }
      // red is written again only after the next pass's stages, behind the loop-top barrier.
    }
    Advance(p, s, cc);
  }
  CpAsyncWait<0>();
}

// ---- down and combine in one kernel (1-2 tokens) ---------------------------------------------
// At 1-2 tokens (decode batch 1-2 with PDL, issue 7 session 7 second round) the down projection
// and the combine are one launch, a kernel boundary less in the batch-1 chain: the grid walks
// units of 16 output rows of every touched expert (V2-Lite batch 1: 128 units of 6 x 45 KB of
// weights, one per block), two experts per pass: warp (tile ti, chain) owns expert 2 pass + ti's
// 16 rows and K-slice `chain`, with the down kernel's stage layout, fragments, mma sequence (act
// hi then lo per 32-k step) and chain order. All pairs share one n-tile: the pairs of tile ti's
// expert (an expert receives at most one pair per token, so at most 2) are its B columns
// 4 ti .. 4 ti + 3; an mma output element depends only on its own A row and B column, so each
// (row, pair) sum is that of the down kernel, bit for bit, and so is w * sum. The unit's
// (pair, row) results stay in shared memory; after its last pass the block adds them per token
// in slot order, then the shared experts' output, then onto 0 or out: CombineKernel's order,
// so `out` is bit-identical to the separate down + combine launches (pair_out is not written).
constexpr int kDcColsPerTile = 4;           // B columns of one tile's expert
constexpr int kDcMaxPairs = 2 * kMaxTopK;   // at most 2 tokens
constexpr int kDcRows = 16;                 // output rows per unit
struct DownCombine {
  static constexpr int kWRows = 2 * kDcRows;  // two experts' rows
  static constexpr int kBRows = 16;           // 8 act hi rows, then 8 act lo rows
  static constexpr int kStageBytes = (kWRows + kBRows) * kRowBytes;  // 24 KB
  static constexpr int kStages = 8;
  static constexpr int kRedBytes = kStreamWarps * kDcRows * 9 * 4;
  static constexpr int kSmem = kStages * kStageBytes + kRedBytes;  // 197 KB
};

struct DcCursor {
  int unit, pass, stage;
};

// The copies of one pass (two experts' 16 rows, their pairs' act rows), as StageLoader: thread
// tid copies chunk tid % 8 of chain (tid / 8) % 4 of weight rows tid / 32 + 8m and of B row
// (column) tid / 32, hi and lo. Rows of a missing second expert are not copied (its warps skip
// their mma); B columns without a pair are zero-filled.
struct DcLoader {
  const __nv_bfloat16* w[4];
  const __nv_bfloat16* hi;
  const __nv_bfloat16* lo;
  bool wvalid[2], bvalid;
  int dst, q;

  __device__ __forceinline__ void Setup(const ExpertFfnParams& p, const DcCursor& c, int groups,
                                        const int* touched, const int* grp_begin,
                                        const int* grp_count, int kw) {
    const int tid = threadIdx.x, warp = tid >> 5, chain = (tid >> 3) & 3;
    q = tid & 7;
    dst = warp * kRowBytes + chain * kSegBytes + ((q ^ ((warp & 1) << 2)) << 4);
    const int H = p.hidden, I = p.inter, koff = chain * kw + 8 * q;
#pragma unroll
    for (int m = 0; m < 4; ++m) {
      const int gi = 2 * c.pass + (m >> 1);
      if ((m & 1) == 0) wvalid[m >> 1] = gi < groups;
      const int e = gi < groups ? touched[gi] : 0;
      const int row = c.unit * kDcRows + warp + 8 * (m & 1);
      w[m] = p.w2 + (static_cast<int64_t>(e) * H + row) * I + koff;
    }
    const int gi = 2 * c.pass + warp / kDcColsPerTile, col = warp % kDcColsPerTile;
    bvalid = gi < groups && col < grp_count[gi];
    const __nv_bfloat16* act_hi = reinterpret_cast<const __nv_bfloat16*>(p.act);
    const __nv_bfloat16* act_lo = act_hi + static_cast<int64_t>(p.tokens) * p.top_k * I;
    const int64_t at = bvalid ? static_cast<int64_t>(grp_begin[gi] + col) * I + koff : 0;
    hi = act_hi + at;
    lo = act_lo + at;
  }

  // The stage's weight rows (kWeights) and act rows (kAct).
  template <bool kWeights, bool kAct>
  __device__ __forceinline__ void Issue(const DcCursor& c, int steps, unsigned char* slot) {
    if (q >= 4 * min(kStageSteps, steps - c.stage * kStageSteps)) return;  // a half stage
    const int k0 = c.stage * kStageSteps * 32;
    unsigned char* d = slot + dst;
    if (kWeights) {
#pragma unroll
      for (int m = 0; m < 4; ++m) {
        if (wvalid[m >> 1]) CpAsync16(d + m * 8 * kRowBytes, w[m] + k0, true);
      }
    }
    if (kAct) {
      d += DownCombine::kWRows * kRowBytes;
      CpAsync16(d, hi + (bvalid ? k0 : 0), bvalid);
      CpAsync16(d + 8 * kRowBytes, lo + (bvalid ? k0 : 0), bvalid);
    }
  }
};

// `routing_final`: the routing (expert_offsets, sorted_pairs, topk_weights) was final before this
// kernel started: the kernel before it (gate/up) was launched without PDL (as after a side-stream
// join) or triggered its dependents only after its own wait (late_trigger, as behind the
// decoder's GemvRouted at 1-2 tokens): then the routing tables are read and the first kStages - 1
// stages' weight rows requested before PdlWait, while gate/up's last blocks still run (weights
// and the routing are written by no kernel that may still be running: pdl.cuh's contract). Only
// the act rows wait for gate/up.
__global__ void __launch_bounds__(kStreamThreads, 1)
    DownCombineKernel(ExpertFfnParams p, bool routing_final) {
  SIEVE_PDL_TRACE_SCOPE(pdl_trace::kExpertDownCombine);
  using D = DownCombine;
  PdlLaunchDependents();
  if (!routing_final) PdlWait();  // launched with PDL: the routing is final from here
  extern __shared__ __align__(128) unsigned char smem_raw[];
  float* red = reinterpret_cast<float*>(smem_raw + D::kStages * D::kStageBytes);
  __shared__ int touched[kDcMaxPairs], grp_begin[kDcMaxPairs], grp_count[kDcMaxPairs];
  __shared__ int pos_pair[kDcMaxPairs], warp_counts[kStreamWarps];
  __shared__ float pos_w[kDcMaxPairs], slot_out[kDcMaxPairs * kDcRows];
  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5, g = lane >> 2, t = lane & 3;
  const int ti = warp / kChains, chain = warp % kChains;
  const int pairs = p.tokens * p.top_k;
  // The touched experts (at most `pairs` of them: every one holds a pair), their ranges, and
  // each sorted position's pair and combine weight.
  const int groups = TouchedExperts(p, touched, warp_counts);
  if (tid < groups) {
    const int e = touched[tid];
    grp_begin[tid] = p.expert_offsets[e];
    grp_count[tid] = p.expert_offsets[e + 1] - grp_begin[tid];
  }
  if (tid < pairs) {
    const int pair = p.sorted_pairs[tid];
    pos_pair[tid] = pair;
    pos_w[tid] = p.topk_weights[pair];
  }
  __syncthreads();
  if (groups == 0) {  // the whole block
    PdlWait();
    return;
  }
  const int units = p.hidden / kDcRows, passes = (groups + 1) / 2;
  const int kw = p.inter / kChains, steps = kw / 32;
  const int stages = (steps + kStageSteps - 1) / kStageSteps;
  auto advance = [&](DcCursor& c) {
    if (++c.stage < stages) return;
    c.stage = 0;
    if (++c.pass < passes) return;
    c.pass = 0;
    c.unit += gridDim.x;
  };
  DcCursor ld{static_cast<int>(blockIdx.x), 0, 0};
  DcCursor cc = ld;
  DcLoader loader;
  if (routing_final) {
    // Weights of the first stages (one group each), then after the wait their act rows (one
    // group, walked again with a second cursor): iteration 0 waits for all of them (below).
#pragma unroll 1
    for (int i = 0; i < D::kStages - 1; ++i) {
      if (ld.unit < units) {
        if (ld.stage == 0) loader.Setup(p, ld, groups, touched, grp_begin, grp_count, kw);
        loader.Issue<true, false>(ld, steps, smem_raw + i * D::kStageBytes);
        advance(ld);
      }
      CpAsyncCommit();
    }
    PdlWait();  // act and shared_out (and out) are final from here
    DcCursor ac{static_cast<int>(blockIdx.x), 0, 0};
    DcLoader act_loader;
#pragma unroll 1
    for (int i = 0; i < D::kStages - 1 && ac.unit < units; ++i) {
      if (ac.stage == 0) act_loader.Setup(p, ac, groups, touched, grp_begin, grp_count, kw);
      act_loader.Issue<false, true>(ac, steps, smem_raw + i * D::kStageBytes);
      advance(ac);
    }
    CpAsyncCommit();
  } else {
#pragma unroll 1
    for (int i = 0; i < D::kStages - 1; ++i) {
      if (ld.unit < units) {
        if (ld.stage == 0) loader.Setup(p, ld, groups, touched, grp_begin, grp_count, kw);
        loader.Issue<true, true>(ld, steps, smem_raw + i * D::kStageBytes);
        advance(ld);
      }
      CpAsyncCommit();
    }
  }
  float acc[4] = {0.0f, 0.0f, 0.0f, 0.0f};
  // Thread tid < tokens * 16 combines (token ct, unit row crow); its shared-expert output and
  // old out value are loaded at the unit's first stage, so the combine waits on no global load.
  const int ct = tid / kDcRows, crow = tid % kDcRows;
  const bool combiner = tid < p.tokens * kDcRows;
  float c_shared = 0.0f, c_old = 0.0f;
  const int sw = (g & 1) << 2;
  for (int it = 0; cc.unit < units; ++it) {
    // With routing_final the groups are W0 .. W6, A, then one per iteration: iteration 0 waits
    // for all (A included); iteration it >= 1 then needs the first it + 2 (as otherwise).
    if (routing_final && it == 0) {
      CpAsyncWait<0>();
    } else {
      CpAsyncWait<D::kStages - 2>();
    }
    __syncthreads();  // this stage's copies are visible; the slot refilled below was consumed
    if (ld.unit < units) {
      if (ld.stage == 0) loader.Setup(p, ld, groups, touched, grp_begin, grp_count, kw);
      loader.Issue<true, true>(ld, steps,
                               smem_raw + ((it + D::kStages - 1) % D::kStages) * D::kStageBytes);
      advance(ld);
    }
    CpAsyncCommit();
    const unsigned char* slot = smem_raw + (it % D::kStages) * D::kStageBytes;
    const int n = cc.unit * kDcRows + crow;
    if (combiner && cc.pass == 0 && cc.stage == 0) {
      c_shared = p.shared_out ? p.shared_out[ct * p.shared_stride + n] : 0.0f;
      c_old = p.accumulate ? p.out[ct * p.out_stride + n] : 0.0f;
    }
    const int st = min(kStageSteps, steps - cc.stage * kStageSteps);
    if (2 * cc.pass + ti < groups) {  // warp-uniform
#pragma unroll
      for (int j = 0; j < kStageSteps; ++j) {
        if (j >= st) break;
        const int off = chain * kSegBytes + (((4 * j + t) ^ sw) << 4);
        const uint4 wa = Lds16(slot + (ti * kDcRows + g) * kRowBytes + off);
        const uint4 wb = Lds16(slot + (ti * kDcRows + g + 8) * kRowBytes + off);
        const uint4 xh = Lds16(slot + (D::kWRows + g) * kRowBytes + off);
        const uint4 xl = Lds16(slot + (D::kWRows + 8 + g) * kRowBytes + off);
        Mma32(acc, wa, wb, xh);
        Mma32(acc, wa, wb, xl);
      }
    }
    if (cc.stage == stages - 1) {  // the pass is complete: add the chains in order
#pragma unroll
      for (int i = 0; i < 4; ++i) {
        red[(warp * kDcRows + g + 8 * (i >> 1)) * 9 + 2 * t + (i & 1)] = acc[i];
        acc[i] = 0.0f;
      }
      __syncthreads();
      if (tid < 2 * kDcRows * kDcColsPerTile) {
        const int tt = tid / (kDcRows * kDcColsPerTile), row = (tid / kDcColsPerTile) % kDcRows;
        const int col = tid % kDcColsPerTile, gi = 2 * cc.pass + tt;
        if (gi < groups && col < grp_count[gi]) {
          const int pos = grp_begin[gi] + col;
          float a0 = 0.0f;
#pragma unroll
          for (int ci = 0; ci < kChains; ++ci) {
            a0 += red[((tt * kChains + ci) * kDcRows + row) * 9 + kDcColsPerTile * tt + col];
          }
          slot_out[pos_pair[pos] * kDcRows + row] = pos_w[pos] * a0;
        }
      }
      if (cc.pass == passes - 1) {  // the unit is complete: CombineKernel's sum, same order
        __syncthreads();
        if (combiner) {
          float routed = 0.0f;
          for (int j = 0; j < p.top_k; ++j) routed += slot_out[(ct * p.top_k + j) * kDcRows + crow];
          if (p.shared_out) routed += c_shared;
          p.out[ct * p.out_stride + n] = c_old + routed;
        }
      }
      // red and slot_out are written again only behind the next loop-top barrier.
    }
    advance(cc);
  }
  CpAsyncWait<0>();
}

// Every load is issued before the first add (a plain loop over the slots waits one memory
// round trip per slot); the sum runs in slot order as before.
__global__ void CombineKernel(ExpertFfnParams p) {
  const int64_t t = blockIdx.y;
  const int32_t n = blockIdx.x * blockDim.x + threadIdx.x;
  PdlLaunchDependents();
  PdlWait();  // launched with PDL: pair_out is final from here
  if (n >= p.hidden) return;
  float slot[kMaxTopK];
#pragma unroll
  for (int j = 0; j < kMaxTopK; ++j) {
    slot[j] = j < p.top_k ? p.pair_out[(t * p.top_k + j) * p.hidden + n] : 0.0f;
  }
  const float shared = p.shared_out ? p.shared_out[t * p.shared_stride + n] : 0.0f;
  const float v = p.accumulate ? p.out[t * p.out_stride + n] : 0.0f;
  float routed = 0.0f;
#pragma unroll
  for (int j = 0; j < kMaxTopK; ++j) {
    if (j < p.top_k) routed += slot[j];
  }
  if (p.shared_out) routed += shared;
  p.out[t * p.out_stride + n] = v + routed;
}

template <typename Kernel>
cudaError_t LaunchWithSmem(Kernel kernel, dim3 grid, size_t smem, cudaStream_t stream, bool pdl,
                           const ExpertFfnParams& p, bool by_position) {
  if (smem > 48 * 1024) {
    const cudaError_t err =
        cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                             static_cast<int>(smem));
    if (err != cudaSuccess) return err;
  }
  return LaunchKernel(kernel, grid, kThreads, smem, stream, pdl, p, by_position);
}

// Gate/up and down with kR rows per warp and kP pairs per pass.
template <int kR, int kP>
cudaError_t LaunchGrouped(const ExpertFfnParams& p, bool by_position, int grid_y,
                          cudaStream_t stream, bool pdl, bool pdl_first) {
  constexpr int kBlockRows = kExpertWarps * kR;
  const size_t gate_smem = static_cast<size_t>(kP) * ((p.hidden + 7) / 8 * 8) * 2;
  const dim3 gate_grid((p.inter + kBlockRows - 1) / kBlockRows, grid_y);
  const bool gate_vec = p.hidden % 8 == 0 && Aligned16(p.w13);
  cudaError_t err =
      gate_vec ? LaunchWithSmem(GroupedGateUpKernel<true, kR, kP>, gate_grid, gate_smem, stream,
                                pdl && pdl_first, p, by_position)
               : LaunchWithSmem(GroupedGateUpKernel<false, kR, kP>, gate_grid, gate_smem, stream,
                                pdl && pdl_first, p, by_position);
  if (err != cudaSuccess) return err;
  const size_t down_smem = static_cast<size_t>(kP) * ((p.inter + 7) / 8 * 8) * 4;
  const dim3 down_grid((p.hidden + kBlockRows - 1) / kBlockRows, grid_y);
  const bool down_vec = p.inter % 8 == 0 && Aligned16(p.w2);
  return down_vec ? LaunchWithSmem(GroupedDownKernel<true, kR, kP>, down_grid, down_smem, stream,
                                   pdl, p, by_position)
                  : LaunchWithSmem(GroupedDownKernel<false, kR, kP>, down_grid, down_smem,
                                   stream, pdl, p, by_position);
}


// A persistent grid of at most one block per SM (the ring holds 177 / 209 KB). Compacted (fewer
// pairs than 2 per expert: some experts are likely empty): one block per SM, or per unit when
// there are fewer units than SMs, sharing the touched experts' units round-robin. Otherwise
// (every expert likely touched: batch 64, prefill) the units of all experts, sized so that every
// block gets the same number; measured on the H100 at batch 64, compaction's list costs
// ~0.1 ms per step there (two block barriers and a dependent load before the first copy).
template <bool kGateUp>
cudaError_t LaunchStreamed(const ExpertFfnParams& p, bool compact, cudaStream_t stream, bool pdl,
                           bool late_trigger = false) {
  using S = Stream<kGateUp>;
  const int row_blocks = (kGateUp ? p.inter : p.hidden) / S::kUnitRows;
  int sms = 0;
  cudaError_t err = CurrentDeviceSmCount(&sms);
  if (err == cudaSuccess) {
    err = cudaFuncSetAttribute(StreamedMmaKernel<kGateUp>,
                               cudaFuncAttributeMaxDynamicSharedMemorySize, S::kSmem);
  }
  if (err != cudaSuccess) return err;
  const int64_t units = static_cast<int64_t>(p.num_experts) * row_blocks;
  const int64_t per_block = (units + sms - 1) / std::max(sms, 1);
  const int grid = static_cast<int>(compact ? std::max<int64_t>(1, std::min<int64_t>(units, sms))
                                            : (units + per_block - 1) / per_block);
  return LaunchKernel(StreamedMmaKernel<kGateUp>, grid, kStreamThreads, S::kSmem, stream, pdl, p,
                      compact, late_trigger);
}

// Tensor cores need 16-byte rows and 128-wide K slices (and the touched list: kMaxExperts).
bool MmaShapeOk(const ExpertFfnParams& p) {
  return p.num_experts <= kMaxExperts && p.hidden % 128 == 0 && p.inter % 128 == 0 &&
         p.x_stride % 8 == 0 && Aligned16(p.x) && Aligned16(p.w13) && Aligned16(p.w2) &&
         Aligned16(p.act);
}

// One block per SM, or per unit when there are fewer units (V2-Lite: 128 units of 16 rows).
cudaError_t LaunchDownCombine(const ExpertFfnParams& p, cudaStream_t stream, bool pdl,
                              bool routing_final) {
  int sms = 0;
  cudaError_t err = CurrentDeviceSmCount(&sms);
  if (err == cudaSuccess) {
    err = cudaFuncSetAttribute(DownCombineKernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                               DownCombine::kSmem);
  }
  if (err != cudaSuccess) return err;
  const int grid = std::max(1, std::min(p.hidden / kDcRows, sms));
  return LaunchKernel(DownCombineKernel, grid, kStreamThreads, DownCombine::kSmem, stream, pdl, p,
                      routing_final);
}

}  // namespace

bool ExpertFfnUsesTensorCores(const ExpertFfnParams& p) { return MmaShapeOk(p); }

bool ExpertFfnFusesCombine(const ExpertFfnParams& p) {
  return p.path != 1 && p.path != 3 && MmaShapeOk(p) && p.tokens >= 1 &&
         p.tokens <= kExpertFusedCombineMaxTokens;
}

cudaError_t LaunchExpertFfn(const ExpertFfnParams& p, cudaStream_t stream, bool pdl,
                            bool pdl_first, bool fuse_combine, cudaEvent_t gate_up_done) {
  if (p.tokens < 0 || p.tokens > 65535 || p.top_k <= 0 || p.top_k > kMaxTopK ||
      p.num_experts <= 0 || p.num_experts > 65535 || p.hidden <= 0 || p.inter <= 0 ||
      p.hidden > kExpertMaxWidth || p.inter > kExpertMaxWidth) {
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
  if (p.path < 0 || p.path > 3 || (p.path == 2 && !MmaShapeOk(p)) ||
      (p.path == 3 && !ExpertGemmShapeOk(p))) {
    return cudaErrorInvalidValue;
  }
  constexpr int kCombineThreads = 256;
  const dim3 combine_grid((p.hidden + kCombineThreads - 1) / kCombineThreads, p.tokens);
  // gate_up_done after the launch `err` reports: gate/up on the tensor-core path, the last
  // launch on the others.
  auto done = [&](cudaError_t err) {
    return err == cudaSuccess && gate_up_done ? cudaEventRecord(gate_up_done, stream) : err;
  };
  if (p.path == 3 || (p.path == 0 && ExpertFfnPrefersGemm(p))) {  // prompt chunks
    cudaError_t err = LaunchExpertGemmGateUp(p, stream, pdl && pdl_first);
    if (err == cudaSuccess) err = LaunchExpertGemmDown(p, stream, pdl);
    if (err != cudaSuccess) return err;
    return done(LaunchKernel(CombineKernel, combine_grid, kCombineThreads, 0, stream, pdl, p));
  }
  if (p.path == 2 || (p.path == 0 && ExpertFfnUsesTensorCores(p))) {
    const bool compact = pairs < 2 * static_cast<int64_t>(p.num_experts);
    const bool fused = fuse_combine && ExpertFfnFusesCombine(p);
    // Fused, the routing is final when the down + combine kernel starts: gate/up was launched
    // plainly, or with PDL and a late trigger (its dependents start after its wait, i.e. after
    // the kernel that routed completed; the down kernel's blocks cannot share an SM with a
    // gate/up block anyway, so the later trigger delays none of them).
    cudaError_t err =
        done(LaunchStreamed<true>(p, compact, stream, pdl && pdl_first, /*late_trigger=*/fused));
    if (err != cudaSuccess) return err;
    if (fused) return LaunchDownCombine(p, stream, pdl, /*routing_final=*/true);
    err = LaunchStreamed<false>(p, compact, stream, pdl);
    if (err != cudaSuccess) return err;
    return LaunchKernel(CombineKernel, combine_grid, kCombineThreads, 0, stream, pdl, p);
  }
  // Fewer pairs than experts: one grid row per sorted position instead of per expert.
  const bool by_position = pairs < p.num_experts;
  const int grid_y = by_position ? static_cast<int>(pairs) : p.num_experts;
  cudaError_t err =
      p.tokens == 1 ? LaunchGrouped<4, 1>(p, by_position, grid_y, stream, pdl, pdl_first)
      : p.tokens <= kExpertSmallBatch
          ? LaunchGrouped<2, 2>(p, by_position, grid_y, stream, pdl, pdl_first)
          : LaunchGrouped<kExpertRowsPerWarp, kExpertPairsPerPass>(p, by_position, grid_y, stream,
                                                                   pdl, pdl_first);
  if (err != cudaSuccess) return err;
  return done(LaunchKernel(CombineKernel, combine_grid, kCombineThreads, 0, stream, pdl, p));
}

}  // namespace sieve::cuda
