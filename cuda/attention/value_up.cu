// Kernel for value_up.h: 8 warps per block, two output rows (head, v) per warp over all heads'
// rows in order; lane l holds chunks l, l + 32, ... (8 bf16 each) of both weight rows, issued
// before anything else, and sums chunk by chunk in element order; WarpSum finishes each row.
#include <cstdint>

#include "cuda/attention/value_up.h"
#include "cuda/common/bf16x8.cuh"
#include "cuda/common/device_utils.cuh"
#include "cuda/common/pdl.cuh"

namespace sieve::cuda {
namespace {

constexpr int kWarps = 8;
constexpr int kThreads = kWarps * 32;
constexpr int kChunksPerLane = kValueUpMaxLat / 8 / 32;

template <int M>
__global__ void __launch_bounds__(kThreads) ValueUpKernel(ValueUpParams p) {
  SIEVE_PDL_TRACE_SCOPE(pdl_trace::kValueUp);
  const int lane = threadIdx.x & 31;
  const int64_t warp = static_cast<int64_t>(blockIdx.x) * kWarps + (threadIdx.x >> 5);
  const int64_t rows = static_cast<int64_t>(p.heads) * p.v;
  const int chunks = p.lat / 8;
  int64_t head[2], vrow[2];
  bool live[2];  // warp-uniform
  uint4 wv[2][kChunksPerLane];
#pragma unroll
  for (int r = 0; r < 2; ++r) {
    const int64_t row = 2 * warp + r;
    live[r] = row < rows;
    head[r] = live[r] ? row / p.v : 0;
    vrow[r] = live[r] ? row - head[r] * p.v : 0;
    const __nv_bfloat16* w = p.w_uv + head[r] * p.w_head_stride + vrow[r] * p.lat;
#pragma unroll
    for (int u = 0; u < kChunksPerLane; ++u) {
      const int c = lane + 32 * u;
      wv[r][u] = live[r] && c < chunks ? LoadStreaming(w + 8 * c) : make_uint4(0, 0, 0, 0);
    }
  }
  PdlLaunchDependents();
  PdlWait();  // launched with PDL: o_lat is final from here
  float acc[2][M];
#pragma unroll
  for (int r = 0; r < 2; ++r) {
#pragma unroll
    for (int m = 0; m < M; ++m) acc[r][m] = 0.0f;
  }
  // f(m, r) for every token m and live row r (warp-uniform), tokens outer.
  auto each_live = [&](auto&& f) {
#pragma unroll
    for (int m = 0; m < M; ++m) {
      if (m >= p.tokens) break;
#pragma unroll
      for (int r = 0; r < 2; ++r) {
        if (live[r]) f(m, r);
      }
    }
  };
#pragma unroll
  for (int u = 0; u < kChunksPerLane; ++u) {
    const int c = lane + 32 * u;
    if (c >= chunks) break;
    each_live([&](int m, int r) {
      const uint4 xv = __ldg(reinterpret_cast<const uint4*>(p.o_lat + m * p.o_lat_token_stride +
                                                            head[r] * p.o_lat_head_stride + 8 * c));
      acc[r][m] = Dot8(acc[r][m], wv[r][u], xv);
    });
  }
  each_live([&](int m, int r) {
    const float s = WarpSum(acc[r][m]);
    if (lane == 0) {
      p.out[m * p.out_token_stride + head[r] * p.out_head_stride + vrow[r]] =
          __float2bfloat16_rn(s);
    }
  });
}

}  // namespace

bool ValueUpSupported(const ValueUpParams& p) {
  return p.tokens >= 1 && p.tokens <= kValueUpMaxTokens && p.heads >= 1 && p.v >= 1 && p.lat >= 8 &&
         p.lat % 8 == 0 && p.lat <= kValueUpMaxLat && p.o_lat && p.w_uv && p.out &&
         Aligned16(p.o_lat) && Aligned16(p.w_uv) && p.o_lat_token_stride % 8 == 0 &&
         p.o_lat_head_stride % 8 == 0 && p.o_lat_head_stride >= p.lat && p.w_head_stride % 8 == 0 &&
         p.w_head_stride >= static_cast<int64_t>(p.v) * p.lat && p.out_head_stride >= p.v;
}

cudaError_t LaunchValueUp(const ValueUpParams& p, cudaStream_t stream, bool pdl) {
  if (!ValueUpSupported(p)) return cudaErrorInvalidValue;
  const int64_t warps = (static_cast<int64_t>(p.heads) * p.v + 1) / 2;
  const int64_t blocks = (warps + kWarps - 1) / kWarps;
  if (blocks > 0x7fffffff) return cudaErrorInvalidValue;
  const dim3 grid(static_cast<unsigned>(blocks));
  return LaunchKernel(p.tokens == 1 ? ValueUpKernel<1> : ValueUpKernel<2>, grid, kThreads, 0,
                      stream, pdl, p);
}

}  // namespace sieve::cuda
