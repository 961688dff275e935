// One RMSNorm row of n <= blockDim.x * kNormBatch elements with rms_norm.cuh's steps, each thread
// holding its one batch (i = threadIdx.x + u * blockDim.x) in registers: shared by the GEMV's
// fused norm (gemv.cu NormRowsShort) and the fused routing's own norm (fused_routing.cu), so the
// two give the same x bit for bit when their blocks have the same number of threads (both 256).
// Every thread of the block calls it (BlockSum's barriers).
#ifndef SIEVE_CUDA_NORM_NORM_ROW_SHORT_CUH_
#define SIEVE_CUDA_NORM_NORM_ROW_SHORT_CUH_

#include "cuda/common/device_utils.cuh"
#include "cuda/norm/rms_norm.cuh"

namespace sieve::cuda {

// v = h + delta (delta may be null) over this thread's batch, then store(v, 1 / RMS of the row)
// (the caller writes its x from the two). `scratch` is 32 floats of shared memory.
template <typename Store>
__device__ __forceinline__ void NormRowShort(const float* h, const float* delta, int n, float eps,
                                             float* scratch, Store&& store) {
  const int step = blockDim.x;
  float v[kNormBatch], dv[kNormBatch];
  LoadNormBatch(h, delta, threadIdx.x, step, n, v, dv);
  AddNormDelta(v, dv, delta != nullptr, nullptr, threadIdx.x, step, n);
  const float ss = BlockSum(AddSquares(0.0f, v, threadIdx.x, step, n), scratch);
  store(v, InvRms(ss, n, eps));
}

}  // namespace sieve::cuda

#endif  // SIEVE_CUDA_NORM_NORM_ROW_SHORT_CUH_
