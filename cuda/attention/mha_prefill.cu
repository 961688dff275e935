// Kernels for mha_prefill.h. Block (x, head): queries q0 = (gridDim.x - 1 - x) * 64 .. + 63
// (the latest, longest rows first), warp w rows q0 + 16 w .. + 15. Per 64-key tile: S = Q K^T by
// m16n8k16 mma (Q from registers, K by ldmatrix from rows of 192 bf16 padded to 400 bytes),
// the causal mask, the online softmax (each row's max and sum across its quad by shuffles), and
// O += P V with P's fp32 accumulators repacked as bf16 A fragments and V by ldmatrix.trans.
#include <cmath>
#include <cstdint>

#include "cuda/attention/mha_prefill.h"
#include "cuda/common/mma_sm80.cuh"

namespace sieve::cuda {
namespace {

constexpr int kQ = 64;
constexpr int kKeys = 64;
constexpr int kThreads = 128;
constexpr int kQk = kMhaNope + kMhaRope;            // 192
constexpr int kKRowBytes = kQk * 2 + 16;            // 400: conflict-free ldmatrix rows
constexpr int kVRowBytes = kMhaV * 2 + 16;          // 272
constexpr int kKBytes = kKeys * kKRowBytes;         // 25,600
constexpr int kStageBytes = kKBytes + kKeys * kVRowBytes;  // 43,008
constexpr int kSmem = 2 * kStageBytes;              // 86,016: two blocks per SM
constexpr float kLog2e = 1.4426950408889634f;

__device__ __forceinline__ uint32_t PackBf16(float lo, float hi) {
  const __nv_bfloat162 v = __floats2bfloat162_rn(lo, hi);
  return *reinterpret_cast<const uint32_t*>(&v);
}

__global__ void __launch_bounds__(kThreads, 2) MhaPrefillKernel(MhaPrefillParams p) {
  extern __shared__ __align__(128) unsigned char smem[];
  const int q0 = (gridDim.x - 1 - blockIdx.x) * kQ, h = blockIdx.y;
  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5, g = lane >> 2, t = lane & 3;
  const int ctx = p.first_position + p.tokens;
  const int last_key = p.first_position + min(q0 + kQ, p.tokens) - 1;
  const int tiles = last_key / kKeys + 1;
  // This warp's queries as A fragments (bf16) of 12 k16 chunks: a0 (row g, k 2t), a1 (row g + 8),
  // a2 (row g, k 2t + 8), a3 (row g + 8, k 2t + 8); rows past the chunk are zeros.
  uint32_t qf[kQk / 16][4];
  const int row0 = q0 + warp * 16 + g;
#pragma unroll
  for (int kc = 0; kc < kQk / 16; ++kc) {
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      const int row = row0 + 8 * (i & 1), d = kc * 16 + 8 * (i >> 1) + 2 * t;
      float2 v = make_float2(0.0f, 0.0f);
      if (row < p.tokens) {
        const float* src =
            d < kMhaNope ? p.q_nope + row * p.q_nope_token_stride + h * p.q_nope_head_stride + d
                         : p.q_pe + row * p.q_pe_token_stride + h * p.q_pe_head_stride + d -
                               kMhaNope;
        v = *reinterpret_cast<const float2*>(src);
      }
      qf[kc][i] = PackBf16(v.x, v.y);
    }
  }
  const uint32_t base = SharedAddress(smem);
  auto load = [&](int kt) {
    const uint32_t kb = base + (kt & 1) * kStageBytes, vb = kb + kKBytes;
    const int k0 = kt * kKeys;
    for (int c = tid; c < kKeys * 16; c += kThreads) {  // k_nope and v: 16 chunks per row
      const int r = c >> 4, q = c & 15, key = k0 + r;
      const bool ok = key < ctx;
      const __nv_bfloat16* row = p.kv + static_cast<int64_t>(ok ? key : 0) * p.kv_token_stride +
                                 static_cast<int64_t>(h) * p.kv_head_stride + 8 * q;
      CpAsync16Zfill(kb + r * kKRowBytes + 16 * q, row, ok);
      CpAsync16Zfill(vb + r * kVRowBytes + 16 * q, row + kMhaNope, ok);
    }
    for (int c = tid; c < kKeys * 8; c += kThreads) {  // k_pe: 8 chunks per row
      const int r = c >> 3, q = c & 7, key = k0 + r;
      const bool ok = key < ctx;
      CpAsync16Zfill(kb + r * kKRowBytes + 2 * kMhaNope + 16 * q,
                p.k_pe + static_cast<int64_t>(ok ? key : 0) * p.k_pe_token_stride + 8 * q, ok);
    }
  };
  float o[kMhaV / 8][4];
#pragma unroll
  for (int n = 0; n < kMhaV / 8; ++n) o[n][0] = o[n][1] = o[n][2] = o[n][3] = 0.0f;
  float m[2] = {-INFINITY, -INFINITY}, l[2] = {0.0f, 0.0f};
  const float scale = p.scale * kLog2e;
  const int pos0 = p.first_position + row0;  // position of row g (row g + 8: + 8)
  const uint32_t k_lane = (lane & 7) * kKRowBytes + ((lane >> 4) << 3) * kKRowBytes +
                          ((lane >> 3) & 1) * 16;
  const uint32_t v_lane = ((lane & 7) + ((lane >> 3) & 1) * 8) * kVRowBytes + (lane >> 4) * 16;
  load(0);
  asm volatile("cp.async.commit_group;\n" ::: "memory");
#pragma unroll 1
  for (int kt = 0; kt < tiles; ++kt) {
    if (kt + 1 < tiles) load(kt + 1);
    asm volatile("cp.async.commit_group;\n" ::: "memory");
    asm volatile("cp.async.wait_group 1;\n" ::: "memory");
    __syncthreads();  // tile kt visible to every warp
    const uint32_t kb = base + (kt & 1) * kStageBytes, vb = kb + kKBytes;
    float s[kKeys / 8][4];
#pragma unroll
    for (int n = 0; n < kKeys / 8; ++n) s[n][0] = s[n][1] = s[n][2] = s[n][3] = 0.0f;
#pragma unroll
    for (int kc = 0; kc < kQk / 16; ++kc) {
#pragma unroll
      for (int np = 0; np < kKeys / 16; ++np) {
        uint32_t b[4];
        LdMatrixX4(kb + k_lane + np * 16 * kKRowBytes + kc * 32, b);
        MmaBf16(s[2 * np], qf[kc], b[0], b[1]);
        MmaBf16(s[2 * np + 1], qf[kc], b[2], b[3]);
      }
    }
    // Scale, causal mask (keys past a row's position; keys past the context are past every
    // chunk row's position), online softmax per row (i >> 1: row g or g + 8).
    const int key0 = kt * kKeys + 2 * t;
#pragma unroll
    for (int r = 0; r < 2; ++r) {
      const int pos = pos0 + 8 * r;
      float mx = -INFINITY;
#pragma unroll
      for (int n = 0; n < kKeys / 8; ++n) {
#pragma unroll
        for (int u = 0; u < 2; ++u) {
          float& v = s[n][2 * r + u];
          v = key0 + 8 * n + u <= pos ? v * scale : -INFINITY;
          mx = fmaxf(mx, v);
        }
      }
      mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
      mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
      const float m_new = fmaxf(m[r], mx);
      const float m_use = m_new == -INFINITY ? 0.0f : m_new;
      const float corr = exp2f(m[r] - m_use);
      float sum = 0.0f;
#pragma unroll
      for (int n = 0; n < kKeys / 8; ++n) {
#pragma unroll
        for (int u = 0; u < 2; ++u) {
          float& v = s[n][2 * r + u];
          v = exp2f(v - m_use);
          sum += v;
        }
      }
      sum += __shfl_xor_sync(0xffffffffu, sum, 1);
      sum += __shfl_xor_sync(0xffffffffu, sum, 2);
      l[r] = l[r] * corr + sum;
      m[r] = m_new;
#pragma unroll
      for (int n = 0; n < kMhaV / 8; ++n) {
        o[n][2 * r] *= corr;
        o[n][2 * r + 1] *= corr;
      }
    }
    // O += P V: P's accumulators of key tiles 2c, 2c + 1 are the A fragment of keys 16c .. + 15.
#pragma unroll
    for (int c = 0; c < kKeys / 16; ++c) {
      const uint32_t a[4] = {PackBf16(s[2 * c][0], s[2 * c][1]), PackBf16(s[2 * c][2], s[2 * c][3]),
                             PackBf16(s[2 * c + 1][0], s[2 * c + 1][1]),
                             PackBf16(s[2 * c + 1][2], s[2 * c + 1][3])};
#pragma unroll
      for (int dp = 0; dp < kMhaV / 16; ++dp) {
        uint32_t b[4];
        LdMatrixX4Trans(vb + v_lane + c * 16 * kVRowBytes + dp * 32, b);
        MmaBf16(o[2 * dp], a, b[0], b[1]);
        MmaBf16(o[2 * dp + 1], a, b[2], b[3]);
      }
    }
    __syncthreads();  // every warp is done with tile kt before its stage is refilled
  }
  asm volatile("cp.async.wait_group 0;\n" ::: "memory");
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    const int row = row0 + 8 * r;
    if (row >= p.tokens) continue;
    const float inv = l[r] > 0.0f ? 1.0f / l[r] : 0.0f;
    __nv_bfloat16* dst = p.out + static_cast<int64_t>(row) * p.out_token_stride +
                         static_cast<int64_t>(h) * p.out_head_stride + 2 * t;
#pragma unroll
    for (int n = 0; n < kMhaV / 8; ++n) {
      *reinterpret_cast<__nv_bfloat162*>(dst + 8 * n) =
          __floats2bfloat162_rn(o[n][2 * r] * inv, o[n][2 * r + 1] * inv);
    }
  }
}

__global__ void LatentGatherKernel(LatentGatherParams p) {
  const int tok = blockIdx.x;
  const int64_t slot = static_cast<int64_t>(p.block_table[tok / p.page_size]) * p.page_size +
                       tok % p.page_size;
  const uint4* src = reinterpret_cast<const uint4*>(p.cache + slot * p.width);
  uint4* dst = reinterpret_cast<uint4*>(p.dst + static_cast<int64_t>(tok) * p.width);
  for (int i = threadIdx.x; i < p.width / 8; i += blockDim.x) dst[i] = src[i];
}

bool Aligned(const void* ptr, uintptr_t bytes) {
  return reinterpret_cast<uintptr_t>(ptr) % bytes == 0;
}

}  // namespace

bool MhaPrefillSupported(const MhaPrefillParams& p) {
  return p.tokens >= 1 && p.heads >= 1 && p.heads <= 65535 && p.first_position >= 0 &&
         static_cast<int64_t>(p.first_position) + p.tokens <= INT32_MAX &&
         p.kv_token_stride % 8 == 0 && p.kv_head_stride % 8 == 0 && p.k_pe_token_stride % 8 == 0 && Aligned(p.kv, 16) &&
         Aligned(p.k_pe, 16) && p.q_nope_token_stride % 2 == 0 && p.q_nope_head_stride % 2 == 0 &&
         p.q_pe_token_stride % 2 == 0 && p.q_pe_head_stride % 2 == 0 && Aligned(p.q_nope, 8) &&
         Aligned(p.q_pe, 8) && p.out_token_stride % 2 == 0 && p.out_head_stride % 2 == 0 &&
         Aligned(p.out, 4);
}

cudaError_t LaunchMhaPrefill(const MhaPrefillParams& p, cudaStream_t stream) {
  if (!MhaPrefillSupported(p) || !p.q_nope || !p.q_pe || !p.kv || !p.k_pe || !p.out) {
    return cudaErrorInvalidValue;
  }
  const cudaError_t err =
      cudaFuncSetAttribute(MhaPrefillKernel, cudaFuncAttributeMaxDynamicSharedMemorySize, kSmem);
  if (err != cudaSuccess) return err;
  const dim3 grid((p.tokens + kQ - 1) / kQ, p.heads);
  MhaPrefillKernel<<<grid, kThreads, kSmem, stream>>>(p);
  return cudaGetLastError();
}

cudaError_t LaunchLatentGather(const LatentGatherParams& p, cudaStream_t stream) {
  if (!p.cache || !p.block_table || !p.dst || p.page_size <= 0 || p.width <= 0 ||
      p.width % 8 != 0 || p.tokens < 0 || !Aligned(p.cache, 16) || !Aligned(p.dst, 16)) {
    return cudaErrorInvalidValue;
  }
  if (p.tokens == 0) return cudaSuccess;
  LatentGatherKernel<<<p.tokens, 64, 0, stream>>>(p);
  return cudaGetLastError();
}

}  // namespace sieve::cuda
