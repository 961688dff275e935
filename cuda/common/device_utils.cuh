// Device helpers shared by sieve's kernels: warp and block reductions, bf16 <-> fp32, an argmax
// reduction that breaks ties toward the lower index (the CPU references' convention, so GPU and
// CPU pick the same expert or token on exact ties), and shared-memory window addresses.
//
// Block reductions assume blockDim.x is a multiple of 32 and at most 1024, and that every thread
// of the block calls them (they synchronise).
#ifndef SIEVE_CUDA_COMMON_DEVICE_UTILS_CUH_
#define SIEVE_CUDA_COMMON_DEVICE_UTILS_CUH_

#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cstdint>

namespace sieve::cuda {

__device__ __forceinline__ float WarpSum(float v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

// Inclusive prefix sum over the warp's lanes (lane i gets v of lanes 0..i); every lane calls it.
__device__ __forceinline__ int32_t WarpInclusiveSum(int32_t v) {
  const int lane = threadIdx.x & 31;
#pragma unroll
  for (int o = 1; o < 32; o <<= 1) {
    const int32_t up = __shfl_up_sync(0xffffffffu, v, o);
    if (lane >= o) v += up;
  }
  return v;
}

__device__ __forceinline__ float WarpMax(float v) {
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}

// Sum over the block; every thread gets the result. `scratch` holds >= 32 floats.
__device__ __forceinline__ float BlockSum(float v, float* scratch) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  v = WarpSum(v);
  __syncthreads();  // scratch may still be read by a previous call
  if (lane == 0) scratch[warp] = v;
  __syncthreads();
  const int warps = (blockDim.x + 31) >> 5;
  v = lane < warps ? scratch[lane] : 0.0f;
  return WarpSum(v);
}

// Warp-wide argmax: the largest value, lowest index among equal values. Lanes with nothing to
// offer pass index -1 (value ignored). Every lane gets the winner.
__device__ __forceinline__ void WarpArgmax(float* value, int32_t* index) {
  for (int o = 16; o > 0; o >>= 1) {
    const float v = __shfl_xor_sync(0xffffffffu, *value, o);
    const int32_t i = __shfl_xor_sync(0xffffffffu, *index, o);
    const bool take = i >= 0 && (*index < 0 || v > *value || (v == *value && i < *index));
    if (take) {
      *value = v;
      *index = i;
    }
  }
}

__device__ __forceinline__ float ToFloat(__nv_bfloat16 v) { return __bfloat162float(v); }
__device__ __forceinline__ float ToFloat(float v) { return v; }

// The shared-memory window address of a generic pointer into shared memory (for cp.async,
// ldmatrix, mbarrier and bulk-copy operands).
__device__ __forceinline__ uint32_t SmemAddr(const void* p) {
  return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}

}  // namespace sieve::cuda

#endif  // SIEVE_CUDA_COMMON_DEVICE_UTILS_CUH_
