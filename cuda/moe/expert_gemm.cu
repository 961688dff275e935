// Kernels for expert_gemm.h. Block (x, y) finds the x-th tile of kBM sorted positions, counting
// each expert's ceil(pairs / kBM) tiles in expert order (warp 0 scans the experts' tile counts
// 32 at a time), and takes weight rows y * (128 | 256); blocks past the last tile exit. Warp w is
// (wm = w / 4, wn = w % 4): positions wm * 64 .. + 63 (four m16 tiles) times eight n8 tiles of
// weight rows (gate/up: gate rows wn * 32 .. + 31 and the same up rows, so a thread holds the
// gate and up sums of the same (position, i); down: rows wn * 64 .. + 63). The A (positions)
// and B (weight rows) tiles of each 32-wide K block go through a kStages-deep cp.async ring in
// rows of 64 bytes padded to 80 (conflict-free ldmatrix), all 256 threads copying. A warp tile
// of 64 x 64 takes 8 ldmatrix per 32 mma, and a block of 128 positions x 256 rows reads each
// weight row once per 128 pairs and each input row once per 256 weight rows (L2 to SM traffic:
// 64 x 128 tiles moved ~1.3x as many bytes; measured bench/README.md).
#include <cstdint>

#include "cuda/common/bf16x8.cuh"
#include "cuda/common/device_utils.cuh"
#include "cuda/common/mma_sm80.cuh"
#include "cuda/common/pdl.cuh"
#include "cuda/config.h"
#include "cuda/moe/expert_gemm.h"

namespace sieve::cuda {
namespace {

constexpr int kBM = 128;       // sorted positions per tile
constexpr int kBK = 32;        // K per ring stage
constexpr int kStages = 6;
constexpr int kThreads = 256;  // 8 warps: 2 (positions) x 4 (weight rows)
constexpr int kRowBytes = kBK * 2 + 16;  // 80: rows 20 words apart, conflict-free ldmatrix
constexpr int kChunks = kBK / 8;         // 16-byte chunks per row and stage
constexpr int kARows = kBM, kBRows = 256;
constexpr int kGateRows = kBRows / 2;                        // gate/up: 128 of each
constexpr int kStageBytes = (kARows + kBRows) * kRowBytes;  // 30,720
constexpr int kSmem = kStages * kStageBytes;                 // 184,320: one block per SM

// The block's tile: expert (-1: none), its first sorted position and pair count, first row m0.
struct Tile {
  int expert, begin, count, m0;
};

__device__ __forceinline__ Tile FindTile(const ExpertFfnParams& p) {
  __shared__ int tiles_s[kMaxExperts];
  __shared__ int found_s[2];
  for (int e = threadIdx.x; e < p.num_experts; e += kThreads) {
    tiles_s[e] = (p.expert_offsets[e + 1] - p.expert_offsets[e] + kBM - 1) / kBM;
  }
  __syncthreads();
  if (threadIdx.x < 32) {
    const int lane = threadIdx.x, x = blockIdx.x;
    int base = 0, found = -1, m0 = 0;
    for (int e0 = 0; e0 < p.num_experts && found < 0; e0 += 32) {
      const int v = e0 + lane < p.num_experts ? tiles_s[e0 + lane] : 0;
      const int inc = WarpInclusiveSum(v);
      const int excl = base + inc - v;
      const unsigned hit = __ballot_sync(0xffffffffu, x >= excl && x < excl + v);
      if (hit) {
        const int l = __ffs(hit) - 1;
        found = e0 + l;
        m0 = (x - __shfl_sync(0xffffffffu, excl, l)) * kBM;
      }
      base += __shfl_sync(0xffffffffu, inc, 31);
    }
    if (lane == 0) {
      found_s[0] = found;
      found_s[1] = m0;
    }
  }
  __syncthreads();
  Tile t{found_s[0], 0, 0, found_s[1]};
  if (t.expert >= 0) {
    t.begin = p.expert_offsets[t.expert];
    t.count = p.expert_offsets[t.expert + 1] - t.begin;
  }
  return t;
}

// kGateUp: act hi / lo = silu(gate . x) * (up . x) for weight rows i0 = blockIdx.y * 128 of
// gate and up. Else: pair_out[pair, n] = weight * (down . act hi + down . act lo), n0 =
// blockIdx.y * 256.
template <bool kGateUp>
__global__ void __launch_bounds__(kThreads, 1) ExpertGemmKernel(ExpertFfnParams p) {
  PdlLaunchDependents();
  PdlWait();  // launched with PDL: the routing and x (or act) are final from here
  const Tile tile = FindTile(p);
  if (tile.expert < 0) return;  // the whole block: past the last tile
  extern __shared__ __align__(128) unsigned char smem[];
  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5, wm = warp >> 2, wn = warp & 3;
  const int H = p.hidden, I = p.inter, e = tile.expert;
  const int64_t pairs = static_cast<int64_t>(p.tokens) * p.top_k;
  const __nv_bfloat16* act_hi = reinterpret_cast<const __nv_bfloat16*>(p.act);
  const __nv_bfloat16* act_lo = act_hi + pairs * I;
  const int kb_half = I / kBK;                    // down: K blocks of the hi half
  const int kblocks = kGateUp ? H / kBK : 2 * kb_half;
  // This thread's copies: A chunk tid (row c / kChunks, 16-byte chunk c % kChunks), B chunks
  // tid + 256 i, i < kBB. Sources at K block 0; a K block adds kBK elements (down: the lo half
  // restarts at the lo row and at weight column 0).
  constexpr int kBA = kARows * kChunks / kThreads, kBB = kBRows * kChunks / kThreads;
  const __nv_bfloat16* a_src[kBA];
  const __nv_bfloat16* a_lo[kBA];
  bool a_ok[kBA];
  uint32_t a_dst[kBA], b_dst[kBB];
  const __nv_bfloat16* b_src[kBB];
  const uint32_t base = SharedAddress(smem);
#pragma unroll
  for (int i = 0; i < kBA; ++i) {
    const int c = tid + kThreads * i, row = c / kChunks, q = c % kChunks;
    a_ok[i] = tile.m0 + row < tile.count;
    const int64_t pos = tile.begin + (a_ok[i] ? tile.m0 + row : 0);
    if (kGateUp) {
      const int64_t token = p.sorted_pairs[pos] / p.top_k;
      a_src[i] = p.x + token * p.x_stride + 8 * q;
      a_lo[i] = a_src[i];
    } else {
      a_src[i] = act_hi + pos * I + 8 * q;
      a_lo[i] = act_lo + pos * I + 8 * q;
    }
    a_dst[i] = row * kRowBytes + 16 * q;
  }
#pragma unroll
  for (int i = 0; i < kBB; ++i) {
    const int c = tid + kThreads * i, row = c / kChunks, q = c % kChunks;
    if (kGateUp) {
      const int i0 = blockIdx.y * kGateRows;
      const int64_t wrow = static_cast<int64_t>(e) * 2 * I +
                           (row < kGateRows ? i0 + row : I + i0 + row - kGateRows);
      b_src[i] = p.w13 + wrow * H + 8 * q;
    } else {
      const int64_t wrow = static_cast<int64_t>(e) * H + blockIdx.y * kBRows + row;
      b_src[i] = p.w2 + wrow * I + 8 * q;
    }
    b_dst[i] = (kARows + row) * kRowBytes + 16 * q;
  }
  auto issue = [&](int kb) {
    const uint32_t slot = base + (kb % kStages) * kStageBytes;
    const bool lo = !kGateUp && kb >= kb_half;
    const int k0 = (lo ? kb - kb_half : kb) * kBK;
#pragma unroll
    for (int i = 0; i < kBA; ++i) {
      CpAsync16Zfill(slot + a_dst[i], (lo ? a_lo[i] : a_src[i]) + (a_ok[i] ? k0 : 0), a_ok[i]);
    }
#pragma unroll
    for (int i = 0; i < kBB; ++i) CpAsync16Zfill(slot + b_dst[i], b_src[i] + k0, true);
  };
#pragma unroll 1
  for (int s = 0; s < kStages - 1; ++s) {
    if (s < kblocks) issue(s);
    asm volatile("cp.async.commit_group;\n" ::: "memory");
  }
  float acc[4][8][4];
#pragma unroll
  for (int mt = 0; mt < 4; ++mt) {
#pragma unroll
    for (int j = 0; j < 8; ++j) {
#pragma unroll
      for (int q = 0; q < 4; ++q) acc[mt][j][q] = 0.0f;
    }
  }
  // ldmatrix rows: A m-tile mt rows wm * 64 + mt * 16 + lane % 16, column half lane / 16; B
  // pair c (n-tiles 2c, 2c + 1) rows brow[c] + lane % 8 + 8 (lane / 16), column half
  // (lane / 8) % 2: gate/up, gate rows wn * 32 .. + 31 (n-tiles 0-3) and the same up rows
  // (n-tiles 4-7); down, rows wn * 64 .. + 63.
  int brow[4];
#pragma unroll
  for (int c = 0; c < 4; ++c) {
    brow[c] = kGateUp ? (c >> 1) * kGateRows + wn * 32 + (c & 1) * 16 : wn * 64 + c * 16;
  }
  const uint32_t a_off = (wm * 64 + (lane & 15)) * kRowBytes + (lane >> 4) * 16;
  const uint32_t b_lane = (kARows + (lane & 7) + ((lane >> 4) << 3)) * kRowBytes +
                          ((lane >> 3) & 1) * 16;
#pragma unroll 1
  for (int kb = 0; kb < kblocks; ++kb) {
    asm volatile("cp.async.wait_group %0;\n" ::"n"(kStages - 2) : "memory");
    __syncthreads();  // stage kb visible; the slot refilled below was read at kb - 1
    if (kb + kStages - 1 < kblocks) issue(kb + kStages - 1);
    asm volatile("cp.async.commit_group;\n" ::: "memory");
    const uint32_t slot = base + (kb % kStages) * kStageBytes;
#pragma unroll
    for (int kk = 0; kk < kBK / 16; ++kk) {
      uint32_t a[4][4], b[4][4];
#pragma unroll
      for (int mt = 0; mt < 4; ++mt) {
        LdMatrixX4(slot + a_off + mt * 16 * kRowBytes + kk * 32, a[mt]);
      }
#pragma unroll
      for (int c = 0; c < 4; ++c) LdMatrixX4(slot + b_lane + brow[c] * kRowBytes + kk * 32, b[c]);
#pragma unroll
      for (int mt = 0; mt < 4; ++mt) {
#pragma unroll
        for (int c = 0; c < 4; ++c) {
          MmaBf16(acc[mt][2 * c], a[mt], b[c][0], b[c][1]);
          MmaBf16(acc[mt][2 * c + 1], a[mt], b[c][2], b[c][3]);
        }
      }
    }
  }
  asm volatile("cp.async.wait_group 0;\n" ::: "memory");
  const int g = lane >> 2, t = lane & 3;
#pragma unroll
  for (int mt = 0; mt < 4; ++mt) {
#pragma unroll
    for (int h = 0; h < 2; ++h) {
      const int row = wm * 64 + mt * 16 + g + 8 * h;
      if (tile.m0 + row >= tile.count) continue;
      const int64_t pos = tile.begin + tile.m0 + row;
      if (kGateUp) {
        __nv_bfloat16* hi = reinterpret_cast<__nv_bfloat16*>(p.act);
        __nv_bfloat16* lo = hi + pairs * I;
#pragma unroll
        for (int j = 0; j < 4; ++j) {  // n-tile j: gate, n-tile j + 4: up of the same i
          const int i = blockIdx.y * kGateRows + wn * 32 + j * 8 + 2 * t;
          float v[2];
#pragma unroll
          for (int u = 0; u < 2; ++u) {
            const float gs = acc[mt][j][2 * h + u], us = acc[mt][j + 4][2 * h + u];
            v[u] = gs / (1.0f + expf(-gs)) * us;
          }
          const __nv_bfloat162 vh = __floats2bfloat162_rn(v[0], v[1]);
          const float2 back = __bfloat1622float2(vh);
          *reinterpret_cast<__nv_bfloat162*>(hi + pos * I + i) = vh;
          *reinterpret_cast<__nv_bfloat162*>(lo + pos * I + i) =
              __floats2bfloat162_rn(v[0] - back.x, v[1] - back.y);
        }
      } else {
        const int pair = p.sorted_pairs[pos];
        const float w = p.topk_weights[pair];
#pragma unroll
        for (int j = 0; j < 8; ++j) {
          const int n = blockIdx.y * kBRows + wn * 64 + j * 8 + 2 * t;
          *reinterpret_cast<float2*>(p.pair_out + static_cast<int64_t>(pair) * H + n) =
              make_float2(w * acc[mt][j][2 * h], w * acc[mt][j][2 * h + 1]);
        }
      }
    }
  }
}

template <bool kGateUp>
cudaError_t Launch(const ExpertFfnParams& p, cudaStream_t stream, bool pdl) {
  const cudaError_t err = cudaFuncSetAttribute(
      ExpertGemmKernel<kGateUp>, cudaFuncAttributeMaxDynamicSharedMemorySize, kSmem);
  if (err != cudaSuccess) return err;
  // Tiles: at most one partial tile per expert beyond pairs / kBM.
  const int64_t pairs = static_cast<int64_t>(p.tokens) * p.top_k;
  const dim3 grid(static_cast<unsigned>((pairs + kBM - 1) / kBM + p.num_experts),
                  kGateUp ? p.inter / kGateRows : p.hidden / kBRows);
  return LaunchKernel(ExpertGemmKernel<kGateUp>, grid, kThreads, kSmem, stream, pdl, p);
}

}  // namespace

bool ExpertGemmShapeOk(const ExpertFfnParams& p) {
  return p.num_experts <= kMaxExperts && p.hidden % kBRows == 0 && p.inter % kGateRows == 0 &&
         p.x_stride % 8 == 0 && Aligned16(p.x) && Aligned16(p.w13) && Aligned16(p.w2) &&
         Aligned16(p.act) && reinterpret_cast<uintptr_t>(p.pair_out) % 8 == 0;
}

bool ExpertFfnPrefersGemm(const ExpertFfnParams& p) {
  return p.num_experts > 0 && ExpertGemmShapeOk(p) &&
         static_cast<int64_t>(p.tokens) * p.top_k >=
             static_cast<int64_t>(kExpertGemmMinPairsPerExpert) * p.num_experts;
}

cudaError_t LaunchExpertGemmGateUp(const ExpertFfnParams& p, cudaStream_t stream, bool pdl) {
  return Launch<true>(p, stream, pdl);
}

cudaError_t LaunchExpertGemmDown(const ExpertFfnParams& p, cudaStream_t stream, bool pdl) {
  return Launch<false>(p, stream, pdl);
}

}  // namespace sieve::cuda
