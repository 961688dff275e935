// Kernel for apply_bitmask.h. One thread per logit: a warp covers 32 consecutive ids, i.e. exactly one
// mask word (a broadcast load), and writes 128 contiguous bytes, so both streams are coalesced. Rows are
// the grid's y dimension. Ids past mask_words * 32 are disallowed without reading past the mask.
#include <cuda_runtime.h>

#include <cmath>

#include "cuda/sampling/apply_bitmask.h"

namespace sieve::cuda {
namespace {

__global__ void ApplyBitmaskKernel(ApplyBitmaskParams p) {
  const int32_t row = blockIdx.y;
  const int32_t id = blockIdx.x * blockDim.x + threadIdx.x;
  if (id >= p.vocab_size) return;
  const int32_t mask_row = p.row_to_mask ? p.row_to_mask[row] : row;
  if (mask_row < 0) return;
  const int32_t word = id >> 5;
  uint32_t bits = 0;
  if (word < p.mask_words) bits = p.bitmask[static_cast<int64_t>(mask_row) * p.mask_words + word];
  if (!((bits >> (id & 31)) & 1u)) p.logits[static_cast<int64_t>(row) * p.logits_stride + id] = -INFINITY;
}

}  // namespace

cudaError_t LaunchApplyBitmask(const ApplyBitmaskParams& p, cudaStream_t stream) {
  if (p.num_rows <= 0 || p.vocab_size <= 0) return cudaSuccess;
  if (p.logits == nullptr || p.bitmask == nullptr || p.mask_words < 0 ||
      p.logits_stride < p.vocab_size) {
    return cudaErrorInvalidValue;
  }
  constexpr int kThreads = 256;
  dim3 grid((p.vocab_size + kThreads - 1) / kThreads, p.num_rows);
  ApplyBitmaskKernel<<<grid, kThreads, 0, stream>>>(p);
  return cudaGetLastError();
}

}  // namespace sieve::cuda
