// 16-byte chunks of 8 bf16 values, as the decode kernels that stream weight rows read them
// (gemv.cu, value_up.cu, q_absorb.cu): a streaming load that does not allocate in L1 (the weights
// are read once and must not evict the activations the SM's warps share there), the two halves of
// a packed bf16 pair as fp32 (exact), and an 8-term dot product in element order. The order is
// fixed: the kernels' sums, and so their bit-for-bit tests (graphs vs eager, PDL vs plain
// launches), depend on it. Aligned16 is the launchers' host-side check before 16-byte loads.
#ifndef SIEVE_CUDA_COMMON_BF16X8_CUH_
#define SIEVE_CUDA_COMMON_BF16X8_CUH_

#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cstdint>

namespace sieve::cuda {

inline bool Aligned16(const void* ptr) { return (reinterpret_cast<uintptr_t>(ptr) & 15) == 0; }

// ld.global.nc.L1::no_allocate of the 8 bf16 at `ptr` (16-byte aligned, read-only in the kernel).
__device__ __forceinline__ uint4 LoadStreaming(const __nv_bfloat16* ptr) {
  uint4 r;
  asm("ld.global.nc.L1::no_allocate.v4.u32 {%0, %1, %2, %3}, [%4];\n"
      : "=r"(r.x), "=r"(r.y), "=r"(r.z), "=r"(r.w)
      : "l"(ptr));
  return r;
}

// The lower (first in memory) and upper bf16 of a packed pair, as fp32.
__device__ __forceinline__ float Lo(uint32_t v) { return __uint_as_float(v << 16); }
__device__ __forceinline__ float Hi(uint32_t v) { return __uint_as_float(v & 0xffff0000u); }

// The 8 values of a chunk as fp32, in memory order.
__device__ __forceinline__ void Unpack8(const uint4& v, float (&f)[8]) {
  f[0] = Lo(v.x);
  f[1] = Hi(v.x);
  f[2] = Lo(v.y);
  f[3] = Hi(v.y);
  f[4] = Lo(v.z);
  f[5] = Hi(v.z);
  f[6] = Lo(v.w);
  f[7] = Hi(v.w);
}

// acc += dot(w, x) over one chunk, one fmaf per element in element order.
__device__ __forceinline__ float Dot8(float acc, const uint4& w, const float (&x)[8]) {
  float wf[8];
  Unpack8(w, wf);
#pragma unroll
  for (int j = 0; j < 8; ++j) acc = fmaf(wf[j], x[j], acc);
  return acc;
}

__device__ __forceinline__ float Dot8(float acc, const uint4& w, const uint4& x) {
  float xf[8];
  Unpack8(x, xf);
  return Dot8(acc, w, xf);
}

}  // namespace sieve::cuda

#endif  // SIEVE_CUDA_COMMON_BF16X8_CUH_
