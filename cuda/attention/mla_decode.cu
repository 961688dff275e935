// Kernel for mla_decode.h: split-KV MLA decode on tensor cores (the split combine: mla_combine.cu).
//
// Block = kMlaDecodeWarps (8) consumer warps + 1 producer warp for one (split, query row, group of
// 16 heads). The producer streams the split's 64-token tiles into a two-stage shared-memory ring
// with bulk copies (cp.async.bulk, one row of width x 2 bytes per copy, completing on the stage's
// "full" mbarrier), and refills a stage once all 8 consumer warps have arrived on its "empty"
// mbarrier. So the consumers spend no instructions on addresses or copies, and the next tile is
// in flight during the whole of the current tile's math. Bytes no copy writes (padding columns;
// rows past the sequence in the block's last tile) are zeroed before the producer starts.
// Shared memory (dynamic; `ld` = width rounded up to 16, + 8 bf16 of padding so rows start 16
// bytes apart modulo 128 and the ldmatrix row reads below are bank-conflict free):
//   q_hi, q_lo [16][ld] bf16   the group's queries, hi + lo split of the fp32 values
//   kv [2][64][ld] bf16        the two stages
//   p_hi, p_lo [16][72] bf16   the tile's probabilities (hi + lo), the A operand of P V
//   red [2][8][16] fp32        per-warp row maxima and sums
//   bars [2][2] u64            full / empty mbarriers of each stage
// Per tile: consumer warp w scores tokens 8w .. 8w + 7 for all 16 heads (m16n8k16, K = width:
// q fragments by ldmatrix.x4, token rows by ldmatrix.x4 covering two k-steps; two mma per
// k-step for q_hi and q_lo), masks tokens >= len, and the consumers agree on each head's tile max
// and sum through `red` (two named barriers per tile, the producer not taking part); every
// thread then holds the same running max m and sum l for its two heads (rows lane / 4 and
// lane / 4 + 8). Warp w owns latent columns 64w .. 64w + 63 of o_lat: 8 n-tiles of 8, B fragments
// from the tile by ldmatrix.trans (token-major rows are the K dimension), accumulators rescaled by
// exp(m_old - m_new) before each tile's P V.
// Everything after the cache and the query reads is fp32 except the mma operands, whose hi + lo
// splits keep ~16 mantissa bits, so results match the fp32 reference to ~1e-5 relative. The mma
// sequence per accumulator (k order, hi then lo chains, P hi then lo) and the softmax are the
// previous (cp.async, issue-7 step 8) kernel's, so the results are too; only the data movement
// changed. Why (ncu, batch 64, context 4096): that kernel issued 20.8k warp instructions per tile
// (every thread computed page and row addresses for 18 cp.async chunks per tile, and fetched
// fragments with dependent 32-bit shared loads), 37% issue-slot use and 1.3 TB/s from DRAM;
// this one issues 7.3k per tile and reads 2.4 TB/s. The consumers address shared memory by 32-bit
// window offsets and load each P V step's B fragments before its mma (issue 7, session 6: batch 64
// 140 -> 136 us per layer, same results); a ring of 2.5 tiles and 16 consumer warps were measured
// and gave nothing (scripts/gpu/decoder-notes.md, steps 21-23).
// compute-sanitizer's racecheck (CUDA 13.0) reports every bulk copy as racing the consumers'
// reads of its stage, whatever orders them: this mbarrier ring, named-barrier releases with or
// without fence.proxy.async, `--racecheck-memcpy-async no`; a cp.async producer with named
// barriers drew hazard reports too (and was 2.4x slower). The ordering here is the standard TMA
// pipeline's (mbarrier arrive = release, try_wait = acquire, complete_tx for the copies), so the
// GPU scripts run memcheck and synccheck on this kernel and leave it out of racecheck; the
// every-element tests (tests/cuda/mla_attention_test.cc, many tiles per block, three split
// counts) would show a race as wrong or moving results.
#include <algorithm>
#include <cmath>

#include "cuda/attention/mla_combine.h"
#include "cuda/attention/mla_decode.h"
#include "cuda/common/device_utils.cuh"
#include "cuda/common/pdl.cuh"
#include "cuda/config.h"

namespace sieve::cuda {
namespace {

constexpr int kConsumerThreads = kMlaDecodeWarps * 32;
constexpr int kThreads = kConsumerThreads + 32;  // + the producer warp
constexpr int kTile = kMlaTileTokens;
constexpr int kHeads = kMlaHeadsPerBlock;
constexpr int kStages = 2;
constexpr int kPld = kTile + 8;                                // p_hi / p_lo row length (bf16)
constexpr int kColsPerWarp = kMlaMaxLatent / kMlaDecodeWarps;  // latent columns per warp
constexpr int kNTiles = kColsPerWarp / 8;                      // their n-tiles of 8
constexpr int kTokensPerWarp = kTile / kMlaDecodeWarps;        // scored per warp per tile
static_assert(
    kHeads == 16 && kTokensPerWarp == 8 && kNTiles % 2 == 0,
    "one m16 tile of heads, one n-tile of tokens per warp, whole n-tile pairs of columns");
static_assert(kTile == 2 * 32, "the producer warp copies two rows per lane");

__host__ __device__ constexpr int RowLd(int width) { return (width + 15) / 16 * 16 + 8; }

size_t SmemBytes(int width) {
  const int ld = RowLd(width);
  return static_cast<size_t>(2 * kHeads * ld + kStages * kTile * ld + 2 * kHeads * kPld) * 2 +
         2 * kMlaDecodeWarps * kHeads * sizeof(float) + 2 * kStages * sizeof(uint64_t);
}

__device__ __forceinline__ void BarInit(uint64_t* bar, uint32_t count) {
  asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;\n" ::"r"(SmemAddr(bar)), "r"(count)
               : "memory");
}
__device__ __forceinline__ void BarArrive(uint64_t* bar) {
  asm volatile("mbarrier.arrive.shared::cta.b64 _, [%0];\n" ::"r"(SmemAddr(bar)) : "memory");
}
__device__ __forceinline__ void BarArriveExpectTx(uint64_t* bar, uint32_t bytes) {
  asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;\n" ::"r"(SmemAddr(bar)),
               "r"(bytes)
               : "memory");
}
__device__ __forceinline__ void BarWait(uint64_t* bar, uint32_t parity) {
  uint32_t done = 0;
  do {
    asm volatile(
        "{\n .reg .pred p;\n mbarrier.try_wait.parity.shared::cta.b64 p, [%1], %2;\n"
        " selp.u32 %0, 1, 0, p;\n}\n"
        : "=r"(done)
        : "r"(SmemAddr(bar)), "r"(parity)
        : "memory");
  } while (!done);
}
// One contiguous global -> shared copy of `bytes` (multiple of 16, both addresses 16-byte
// aligned), completing on `bar`'s transaction count.
__device__ __forceinline__ void BulkCopy(void* dst, const void* src, uint32_t bytes,
                                         uint64_t* bar) {
  asm volatile(
      "cp.async.bulk.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1], %2, [%3];\n" ::
          "r"(SmemAddr(dst)),
      "l"(src), "r"(bytes), "r"(SmemAddr(bar))
      : "memory");
}
// Named barrier 1 over the consumer warps only (barrier 0 is __syncthreads).
__device__ __forceinline__ void ConsumerSync() {
  asm volatile("bar.sync 1, %0;\n" ::"n"(kConsumerThreads) : "memory");
}

__device__ __forceinline__ void Mma(float* c, const uint32_t* a, uint32_t b0, uint32_t b1) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, "
      "{%8,%9}, {%0,%1,%2,%3};\n"
      : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

// ldmatrix at a shared-window address (the consumers keep 32-bit base addresses and add byte
// offsets, rather than converting a generic pointer per load).
__device__ __forceinline__ void LdMatrixX4(uint32_t* r, uint32_t addr) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(addr));
}

__device__ __forceinline__ void LdMatrixX4Trans(uint32_t* r, uint32_t addr) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(addr));
}

__device__ __forceinline__ uint32_t Pack(__nv_bfloat16 lo_elem, __nv_bfloat16 hi_elem) {
  return static_cast<uint32_t>(__bfloat16_as_ushort(lo_elem)) |
         (static_cast<uint32_t>(__bfloat16_as_ushort(hi_elem)) << 16);
}

// The producer warp: tiles [tile_begin, tile_end) of the row into the ring. Tile i waits until
// the consumers released its stage (tile i - 2), arrives on the stage's full barrier expecting
// the valid rows' bytes and issues one bulk copy per valid row. Rows past the sequence (its last
// tile only) are never written here: the prologue zeroed them (or an earlier, full tile of the
// same stage left finite cache values there), and P is exactly 0 for them.
// Tiles wholly before position `stable` (no row the kernels before this one write) are copied
// without waiting for them (PDL); the warp waits before its first other tile, and before exiting.
__device__ __forceinline__ void ProduceTiles(const MlaDecodeParams& p, const int32_t* table,
                                             int32_t len, int32_t stable, int tile_begin,
                                             int tile_end, int ld, __nv_bfloat16* kv,
                                             uint64_t* full, uint64_t* empty) {
  const int lane = threadIdx.x & 31;
  const int width = p.kv_lora + p.rope_dim;
  const uint32_t row_bytes = static_cast<uint32_t>(width) * 2;
  bool waited = false;
  for (int tile = tile_begin; tile < tile_end; ++tile) {
    const int i = tile - tile_begin, stage = i & 1;
    if (i >= kStages) BarWait(&empty[stage], ((i >> 1) & 1) ^ 1);
    __nv_bfloat16* dst = kv + stage * kTile * ld;
    const int rows = min(kTile, len - tile * kTile);  // >= 1: tile < ceil(len / 64)
    if (!waited && tile * kTile + rows > stable) {
      PdlWait();  // the tile holds a row written by the kernels before this one
      waited = true;
    }
    if (lane == 0) BarArriveExpectTx(&full[stage], row_bytes * rows);
    __syncwarp();
#pragma unroll
    for (int u = 0; u < 2; ++u) {
      const int r = lane + 32 * u;
      if (r < rows) {
        const int32_t pos = tile * kTile + r;
        const int64_t page = table[pos / p.page_size];
        BulkCopy(dst + r * ld, p.cache + (page * p.page_size + pos % p.page_size) * width,
                 row_bytes, &full[stage]);
      }
    }
  }
  if (!waited) PdlWait();
}

// appended: see LaunchMlaDecode (0: every cache read after the wait for the previous kernel).
__global__ void __launch_bounds__(kThreads, 1) MlaSplitKernel(MlaDecodeParams p, int32_t appended) {
  SIEVE_PDL_TRACE_SCOPE(pdl_trace::kMlaSplit);
  extern __shared__ __align__(16) unsigned char smem_raw[];
  const int width = p.kv_lora + p.rope_dim;
  const int ld = RowLd(width);
  __nv_bfloat16* q_hi = reinterpret_cast<__nv_bfloat16*>(smem_raw);
  __nv_bfloat16* q_lo = q_hi + kHeads * ld;
  __nv_bfloat16* kv = q_lo + kHeads * ld;  // [kStages][kTile][ld]
  __nv_bfloat16* p_hi = kv + kStages * kTile * ld;
  __nv_bfloat16* p_lo = p_hi + kHeads * kPld;
  float* red_max = reinterpret_cast<float*>(p_lo + kHeads * kPld);  // [warps][16]
  float* red_sum = red_max + kMlaDecodeWarps * kHeads;
  uint64_t* full = reinterpret_cast<uint64_t*>(red_sum + kMlaDecodeWarps * kHeads);  // 8-aligned
  uint64_t* empty = full + kStages;

  const int split = blockIdx.x, b = blockIdx.y, head0 = blockIdx.z * kHeads;
  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  const int g = lane >> 2, t = lane & 3;
  const int splits = p.num_splits > 1 ? p.num_splits : 1;
  // Launched with PDL, the block waits for the previous kernel only where it reads what the
  // step's kernels write: q (consumers) and the cache rows of this step's tokens (the producer).
  // The step's indices (seq_lens, the table, row_seq) were uploaded before its first kernel.
  PdlLaunchDependents();

  const int32_t len = p.seq_lens[b];
  const int32_t stable = appended > 0 ? len - appended : 0;
  const int64_t table_row = p.row_seq ? p.row_seq[b] : b;
  const int32_t* table = p.block_table + table_row * p.max_pages_per_seq;
  const int max_tiles = (p.max_pages_per_seq * p.page_size + kTile - 1) / kTile;
  const int tiles_per_split = (max_tiles + splits - 1) / splits;
  const int tiles = (len + kTile - 1) / kTile;
  const int tile_begin = split * tiles_per_split;
  const int tile_end = min(tiles, tile_begin + tiles_per_split);

  // Shared memory the bulk copies never write is zeroed before the producer starts (so no
  // ordinary store ever races a copy): the padding columns of both stages (0 x garbage could be
  // NaN in the scores) and, when the block's last tile is partial, that stage's rows past the
  // sequence (P is 0 there, but 0 x a NaN left in shared memory would not be).
  const int kdim = (width + 15) / 16 * 16;
  for (int i = tid; i < kStages * kTile * (kdim - width); i += kThreads) {
    const int r = i / (kdim - width), c = width + i % (kdim - width);
    kv[r * ld + c] = __float2bfloat16_rn(0.0f);
  }
  if (tile_begin < tile_end) {
    const int last_rows = min(kTile, len - (tile_end - 1) * kTile);
    __nv_bfloat16* last = kv + ((tile_end - 1 - tile_begin) & 1) * kTile * ld;
    const int chunks = width / 8;
    for (int c = tid; c < (kTile - last_rows) * chunks; c += kThreads) {
      const int r = last_rows + c / chunks, k = c - (c / chunks) * chunks;
      *reinterpret_cast<uint4*>(last + r * ld + 8 * k) = make_uint4(0, 0, 0, 0);
    }
  }
  if (tid == 0) {
    for (int s = 0; s < kStages; ++s) {
      BarInit(&full[s], 1);                 // the producer's arrive (+ the copies' bytes)
      BarInit(&empty[s], kMlaDecodeWarps);  // one arrive per consumer warp
    }
    asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory");
  }
  __syncthreads();
  if (warp == kMlaDecodeWarps) {
    ProduceTiles(p, table, len, stable, tile_begin, tile_end, ld, kv, full, empty);
    return;  // takes part in no later barrier
  }
  PdlWait();  // launched with PDL: q and the step's cache rows are final from here

  // Queries (hi + lo bf16 split), zero rows for heads past the end and zero padding columns.
  // 16-byte query loads when the rows allow them (the decoder's q_abs: 16 x 576 fp32 per block
  // is 9 loads per thread, all in flight: one memory latency instead of five).
  const bool q_vec = ((p.q_head_stride | p.q_batch_stride) & 3) == 0 &&
                     (reinterpret_cast<uintptr_t>(p.q) & 15) == 0;
  constexpr int kVecInFlight = 12;
  const int kd4 = kdim / 4;
  for (int base = tid; q_vec && base < kHeads * kd4; base += kConsumerThreads * kVecInFlight) {
    float4 v[kVecInFlight];
#pragma unroll
    for (int u = 0; u < kVecInFlight; ++u) {
      const int i = base + u * kConsumerThreads;
      const int h = i / kd4, c = (i - h * kd4) * 4;
      v[u] = i < kHeads * kd4 && head0 + h < p.heads && c < width  // width % 8 == 0
                 ? __ldg(reinterpret_cast<const float4*>(
                       p.q + b * p.q_batch_stride +
                       static_cast<int64_t>(head0 + h) * p.q_head_stride + c))
                 : make_float4(0.0f, 0.0f, 0.0f, 0.0f);
    }
#pragma unroll
    for (int u = 0; u < kVecInFlight; ++u) {
      const int i = base + u * kConsumerThreads;
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
      *reinterpret_cast<uint2*>(q_hi + h * ld + c) =
          make_uint2(Pack(hi[0], hi[1]), Pack(hi[2], hi[3]));
      *reinterpret_cast<uint2*>(q_lo + h * ld + c) =
          make_uint2(Pack(lo[0], lo[1]), Pack(lo[2], lo[3]));
    }
  }
  constexpr int kInFlight = 8;  // independent loads per thread before the first use
  for (int base = tid; !q_vec && base < kHeads * kdim; base += kConsumerThreads * kInFlight) {
    float v[kInFlight];
#pragma unroll
    for (int u = 0; u < kInFlight; ++u) {
      const int i = base + u * kConsumerThreads;
      const int h = i / kdim, c = i - h * kdim;
      v[u] = i < kHeads * kdim && head0 + h < p.heads && c < width
                 ? p.q[b * p.q_batch_stride + static_cast<int64_t>(head0 + h) * p.q_head_stride + c]
                 : 0.0f;
    }
#pragma unroll
    for (int u = 0; u < kInFlight; ++u) {
      const int i = base + u * kConsumerThreads;
      if (i >= kHeads * kdim) break;
      const int h = i / kdim, c = i - h * kdim;
      const __nv_bfloat16 hi = __float2bfloat16_rn(v[u]);
      q_hi[h * ld + c] = hi;
      q_lo[h * ld + c] = __float2bfloat16_rn(v[u] - __bfloat162float(hi));
    }
  }
  ConsumerSync();
  SIEVE_PDL_TRACE_MARK(kStage0);  // q staged (trace builds only)

  float acc[kNTiles][4];
#pragma unroll
  for (int n = 0; n < kNTiles; ++n) acc[n][0] = acc[n][1] = acc[n][2] = acc[n][3] = 0.0f;
  float m_run[2] = {-INFINITY, -INFINITY}, l_run[2] = {0.0f, 0.0f};
  const int col0 = warp * kColsPerWarp;
  const bool has_cols = col0 < p.kv_lora;
  // ldmatrix row addresses: A (16 x 16) as matrices rows 0-7 / 8-15 x cols 0-7 / 8-15; the
  // token rows as matrices k 0-7, 8-15, 16-23, 24-31 of the warp's 8 tokens.
  const int a_row = (lane & 7) + ((lane >> 3) & 1) * 8, a_col = (lane >> 4) * 8;
  // Shared-window byte addresses (bf16 = 2 bytes).
  const uint32_t qa_hi = SmemAddr(q_hi + a_row * ld + a_col);
  const uint32_t qa_lo = SmemAddr(q_lo + a_row * ld + a_col);
  const uint32_t pa_hi = SmemAddr(p_hi + a_row * kPld + a_col);
  const uint32_t pa_lo = SmemAddr(p_lo + a_row * kPld + a_col);
  const uint32_t kv_addr = SmemAddr(kv);
  const uint32_t k_off = 2 * ((kTokensPerWarp * warp + (lane & 7)) * ld + (lane >> 3) * 8);
  // P V's B rows: token 16 j + (lane & 7) + 8 ((lane >> 3) & 1), columns col0 + 8 (lane >> 4) ..
  const uint32_t v_off =
      2 * (((lane & 7) + ((lane >> 3) & 1) * 8) * ld + warp * kColsPerWarp + (lane >> 4) * 8);
  // Column pairs of n-tiles this warp multiplies (kv_lora % 8 == 0; a pair past kv_lora by one
  // n-tile reads rope columns whose outputs the epilogue drops).
  int v_pairs = 0;
  while (v_pairs < kNTiles / 2 && warp * kColsPerWarp + 16 * v_pairs < p.kv_lora) ++v_pairs;

  for (int tile = tile_begin; tile < tile_end; ++tile) {
    const int i = tile - tile_begin, stage = i & 1;
    BarWait(&full[stage], (i >> 1) & 1);
    if (i == 0) SIEVE_PDL_TRACE_MARK(kStage1);  // the first tile arrived
    const uint32_t kt_addr = kv_addr + 2u * stage * kTile * ld;

    // Scores: rows g, g + 8 (heads); tokens 8 warp + 2t + {0, 1}.
    float s[4] = {0.0f, 0.0f, 0.0f, 0.0f}, s_lo[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    const uint32_t krow = kt_addr + k_off;
    int k0 = 0;
#pragma unroll 2
    for (; k0 + 32 <= kdim; k0 += 32) {
      uint32_t kb[4], ah[4], al[4], ah2[4], al2[4];
      LdMatrixX4(kb, krow + 2 * k0);
      LdMatrixX4(ah, qa_hi + 2 * k0);
      LdMatrixX4(al, qa_lo + 2 * k0);
      LdMatrixX4(ah2, qa_hi + 2 * (k0 + 16));
      LdMatrixX4(al2, qa_lo + 2 * (k0 + 16));
      Mma(s, ah, kb[0], kb[1]);
      Mma(s_lo, al, kb[0], kb[1]);
      Mma(s, ah2, kb[2], kb[3]);
      Mma(s_lo, al2, kb[2], kb[3]);
    }
    if (k0 < kdim) {  // one k-step of 16 left (kdim % 32 == 16): lanes 16-31 re-address
                      // k0 .. k0 + 15 (matrices 2 and 3 unused), staying inside the row
      uint32_t kb[4], ah[4], al[4];
      LdMatrixX4(kb, krow + 2 * (k0 - ((lane >> 4) * 16)));
      LdMatrixX4(ah, qa_hi + 2 * k0);
      LdMatrixX4(al, qa_lo + 2 * k0);
      Mma(s, ah, kb[0], kb[1]);
      Mma(s_lo, al, kb[0], kb[1]);
    }
#pragma unroll
    for (int e = 0; e < 4; ++e) s[e] += s_lo[e];
    float mx[2] = {-INFINITY, -INFINITY};
#pragma unroll
    for (int e = 0; e < 4; ++e) {
      const int pos = tile * kTile + kTokensPerWarp * warp + 2 * t + (e & 1);
      s[e] = pos < len ? s[e] * p.scale : -INFINITY;
      mx[e >> 1] = fmaxf(mx[e >> 1], s[e]);
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
    ConsumerSync();
    float m_new[2], sum[2] = {0.0f, 0.0f};
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      float tm = red_max[g + 8 * r];
#pragma unroll
      for (int w = 1; w < kMlaDecodeWarps; ++w) tm = fmaxf(tm, red_max[w * kHeads + g + 8 * r]);
      m_new[r] = fmaxf(m_run[r], tm);  // finite: every tile holds at least one token
    }
    {
      const int col = kTokensPerWarp * warp + 2 * t;
#pragma unroll
      for (int r = 0; r < 2; ++r) {
        const float e0 = expf(s[2 * r] - m_new[r]);
        const float e1 = expf(s[2 * r + 1] - m_new[r]);
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
    // The second barrier also orders: every warp's red_max reads before the next tile's writes,
    // and (with the first barrier of the next tile) the P V reads of p_* before their rewrite.
    ConsumerSync();
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
      // Per j: every B fragment of the step first, then the P hi products of all n-tiles, then
      // the P lo ones: each accumulator still sums hi then lo per j in j order (the results are
      // unchanged), but no mma waits on the one just issued or on a load just issued.
#pragma unroll
      for (int j = 0; j < kTile / 16; ++j) {
        uint32_t ph[4], pl[4], bv[kNTiles / 2][4];
        LdMatrixX4(ph, pa_hi + 2 * 16 * j);
        LdMatrixX4(pl, pa_lo + 2 * 16 * j);
        const uint32_t vrow = kt_addr + v_off + 2u * 16 * j * ld;
#pragma unroll
        for (int np = 0; np < kNTiles / 2; ++np) {
          if (np < v_pairs) LdMatrixX4Trans(bv[np], vrow + 2 * 16 * np);
        }
#pragma unroll
        for (int np = 0; np < kNTiles / 2; ++np) {
          if (np < v_pairs) {
            Mma(acc[2 * np], ph, bv[np][0], bv[np][1]);
            Mma(acc[2 * np + 1], ph, bv[np][2], bv[np][3]);
          }
        }
#pragma unroll
        for (int np = 0; np < kNTiles / 2; ++np) {
          if (np < v_pairs) {
            Mma(acc[2 * np], pl, bv[np][0], bv[np][1]);
            Mma(acc[2 * np + 1], pl, bv[np][2], bv[np][3]);
          }
        }
      }
    }
    __syncwarp();
    if (lane == 0) BarArrive(&empty[stage]);  // this warp is done with the stage
  }
  SIEVE_PDL_TRACE_MARK(kStage2);  // math done
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
        // kv_lora and col are even: the pair (col, col + 1) is written whole or not at all.
        if (h >= p.heads || col >= p.kv_lora) continue;
        const float v0 = acc[n][2 * r] * inv[r], v1 = acc[n][2 * r + 1] * inv[r];
        // Split partials as one 8-byte store (rows start 16-byte aligned): a warp then writes
        // whole 32-byte sectors, not two halves of each (session 12 trace: the block's epilogue
        // 2.75 -> 1.9 us at batch 1).
        if (split_out) {
          *reinterpret_cast<float2*>(
              p.partial_out +
              ((static_cast<int64_t>(split) * p.batch + b) * p.heads + h) * p.kv_lora + col) =
              make_float2(v0, v1);
        } else {
          __nv_bfloat16* o = p.out + b * p.out_batch_stride + h * p.out_head_stride + col;
          o[0] = __float2bfloat16_rn(v0);
          o[1] = __float2bfloat16_rn(v1);
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

cudaError_t LaunchMlaDecode(const MlaDecodeParams& p, cudaStream_t stream, bool pdl, bool pdl_first,
                            int32_t appended_tokens, bool combine_early) {
  if (appended_tokens < 0 || p.batch < 0 || p.batch > 65535 || p.heads < 0 || p.kv_lora <= 0 ||
      p.kv_lora > kMlaMaxLatent || p.kv_lora % 8 != 0 || p.rope_dim < 0 ||
      p.kv_lora + p.rope_dim > kMlaMaxHeadDim || (p.kv_lora + p.rope_dim) % 8 != 0 ||
      p.page_size <= 0 || p.max_pages_per_seq < 0 || p.num_splits > kMlaMaxSplits) {
    return cudaErrorInvalidValue;
  }
  if (p.batch == 0 || p.heads == 0) return cudaSuccess;
  if (!p.q || !p.cache || !p.block_table || !p.seq_lens || !p.out ||
      p.q_head_stride < p.kv_lora + p.rope_dim || p.out_head_stride < p.kv_lora ||
      (reinterpret_cast<uintptr_t>(p.cache) & 15) != 0 ||  // bulk copies of 16-byte rows
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
  const bool pdl_split = pdl && pdl_first;
  err = LaunchKernel(MlaSplitKernel, dim3(splits, p.batch, groups), kThreads, smem, stream,
                     pdl_split, p, pdl_split ? appended_tokens : 0);
  if (err != cudaSuccess || splits == 1) return err;
  return LaunchMlaCombine(p, stream, pdl, combine_early);
}

}  // namespace sieve::cuda
