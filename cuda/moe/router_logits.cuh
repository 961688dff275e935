// Device body of the router projection (router_logits.h), shared by router_logits.cu and the
// fused routing kernel (fused_routing.cu): warp w computes logits[w / E, w % E].
#ifndef SIEVE_CUDA_MOE_ROUTER_LOGITS_CUH_
#define SIEVE_CUDA_MOE_ROUTER_LOGITS_CUH_

#include <cstdint>

#include "cuda/common/device_utils.cuh"
#include "cuda/moe/router_logits.h"

namespace sieve::cuda {

inline constexpr int kRouterWarpsPerBlock = 8;

// With 16-byte alignment (hidden % 4 == 0, x rows 8-byte and weight rows 16-byte aligned) each
// lane takes 4 consecutive elements per step (a float4 of weights, 4 bf16 of x) and keeps 8 steps
// in flight: V2-Lite's 2048-wide fp32 rows are one round trip (the scalar form needed 64 dependent
// 4-byte loads per lane, ~8 us of latency per MoE layer at batch 1). Otherwise lanes stride single
// elements. Either way each lane sums in index order and the warp reduces with WarpSum, so the
// result depends only on the shape (not on timing).
//
// kSharedX: p.x points to shared memory (the fused routing's own normalised rows, whose row 0 is
// token `first_token`); the same loads through generic pointers instead of __ldg, the same sums.
// kInFlight: float4 steps per lane in flight (fewer for kernels short of registers); a lane's
// elements are summed in index order either way, so the result is the same.
// kSharedW: p.w points to shared memory where expert e's router row starts at
// p.w + (e - first_expert) * hidden (gemv_routed.cu stages them there before its wait); the same
// loads through generic pointers.
template <bool kSharedX = false, int kInFlight = 8, bool kSharedW = false>
__device__ __forceinline__ void RouterLogit(const RouterLogitsParams& p, int64_t w,
                                            int64_t first_token = 0, int64_t first_expert = 0) {
  const int lane = threadIdx.x & 31;
  const int64_t t = w / p.num_experts;
  const int64_t e = w % p.num_experts;
  const __nv_bfloat16* x = p.x + (t - first_token) * p.x_stride;
  const float* row = p.w + (e - first_expert) * p.hidden;
  float acc = 0.0f;
  const bool vec = p.hidden % 4 == 0 && p.x_stride % 4 == 0 &&
                   (reinterpret_cast<uintptr_t>(p.x) & 7) == 0 &&
                   (reinterpret_cast<uintptr_t>(p.w) & 15) == 0;
  if (vec) {
    const int n4 = p.hidden / 4;
    for (int base = lane; base < n4; base += 32 * kInFlight) {
      float4 wv[kInFlight];
      uint2 xv[kInFlight];
#pragma unroll
      for (int u = 0; u < kInFlight; ++u) {
        const int i = base + 32 * u;
        if constexpr (kSharedW) {
          wv[u] = i < n4 ? reinterpret_cast<const float4*>(row)[i] : make_float4(0, 0, 0, 0);
        } else {
          wv[u] = i < n4 ? __ldg(reinterpret_cast<const float4*>(row) + i)
                         : make_float4(0, 0, 0, 0);
        }
        if constexpr (kSharedX) {
          xv[u] = i < n4 ? reinterpret_cast<const uint2*>(x)[i] : make_uint2(0, 0);
        } else {
          xv[u] = i < n4 ? __ldg(reinterpret_cast<const uint2*>(x) + i) : make_uint2(0, 0);
        }
      }
#pragma unroll
      for (int u = 0; u < kInFlight; ++u) {
        acc += __uint_as_float(xv[u].x << 16) * wv[u].x;
        acc += __uint_as_float(xv[u].x & 0xffff0000u) * wv[u].y;
        acc += __uint_as_float(xv[u].y << 16) * wv[u].z;
        acc += __uint_as_float(xv[u].y & 0xffff0000u) * wv[u].w;
      }
    }
  } else {
    for (int k = lane; k < p.hidden; k += 32) acc += __bfloat162float(x[k]) * row[k];
  }
  acc = WarpSum(acc);
  if (lane == 0) p.logits[t * p.logits_stride + e] = acc;
}

}  // namespace sieve::cuda

#endif  // SIEVE_CUDA_MOE_ROUTER_LOGITS_CUH_
