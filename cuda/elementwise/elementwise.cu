// Kernels for elementwise.h. Every kernel is a 2-D grid: blockIdx.y is the row, x-blocks of
// kThreads threads stride the columns, so any width works and rows are independent.
#include <algorithm>
#include <cmath>

#include "cuda/elementwise/elementwise.h"

namespace sieve::cuda {
namespace {

constexpr int kThreads = 256;

// Grid for `rows` rows of `cols` columns; false when the row count exceeds the grid's y limit.
bool RowGrid(int64_t rows, int64_t cols, dim3* grid) {
  if (rows > 65535) return false;
  const int64_t x = (cols + kThreads - 1) / kThreads;
  *grid = dim3(static_cast<unsigned>(x), static_cast<unsigned>(rows));
  return true;
}

__global__ void EmbeddingKernel(EmbeddingParams p) {
  const int64_t t = blockIdx.y;
  const int32_t i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= p.dim) return;
  const int32_t id = p.tokens[t];
  float v = 0.0f;
  if (id >= 0 && id < p.vocab) v = __bfloat162float(p.table[static_cast<int64_t>(id) * p.dim + i]);
  p.out[t * p.out_stride + i] = v;
}

__global__ void SiluMulKernel(SiluMulParams p) {
  const int64_t r = blockIdx.y;
  const int32_t i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= p.inter) return;
  const float g = p.in[r * p.in_stride + i];
  const float u = p.in[r * p.in_stride + p.inter + i];
  p.out[r * p.out_stride + i] = __float2bfloat16_rn(g / (1.0f + expf(-g)) * u);
}

__global__ void CastToBf16Kernel(CastToBf16Params p) {
  const int64_t r = blockIdx.y;
  const int32_t i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= p.cols) return;
  p.dst[r * p.dst_stride + i] = __float2bfloat16_rn(p.src[r * p.src_stride + i]);
}

__global__ void GatherRowsKernel(GatherRowsParams p) {
  const int64_t r = blockIdx.y;
  const int32_t i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= p.dim) return;
  const int32_t s = p.rows[r];
  p.dst[r * p.stride + i] = s >= 0 && s < p.src_rows ? p.src[static_cast<int64_t>(s) * p.stride + i]
                                                     : __float2bfloat16_rn(0.0f);
}

__global__ void FillHashKernel(FillHashParams p) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < p.count;
       i += stride) {
    uint32_t h = static_cast<uint32_t>(i) * 0x9E3779B1u ^ static_cast<uint32_t>(i >> 32) ^ p.seed;
    h ^= h >> 16;
    h *= 0x85EBCA6Bu;
    h ^= h >> 13;
    h *= 0xC2B2AE35u;
    h ^= h >> 16;
    const float u = static_cast<float>(h >> 8) * (1.0f / 8388608.0f) - 1.0f;  // [-1, 1)
    p.dst[i] = __float2bfloat16_rn(p.scale * u);
  }
}

}  // namespace

cudaError_t LaunchEmbedding(const EmbeddingParams& p, cudaStream_t stream) {
  if (p.tokens_count < 0 || p.dim <= 0 || p.vocab <= 0) return cudaErrorInvalidValue;
  if (p.tokens_count == 0) return cudaSuccess;
  dim3 grid;
  if (!p.table || !p.tokens || !p.out || p.out_stride < p.dim ||
      !RowGrid(p.tokens_count, p.dim, &grid)) {
    return cudaErrorInvalidValue;
  }
  EmbeddingKernel<<<grid, kThreads, 0, stream>>>(p);
  return cudaGetLastError();
}

cudaError_t LaunchSiluMul(const SiluMulParams& p, cudaStream_t stream) {
  if (p.rows < 0 || p.inter <= 0) return cudaErrorInvalidValue;
  if (p.rows == 0) return cudaSuccess;
  dim3 grid;
  if (!p.in || !p.out || p.in_stride < 2 * static_cast<int64_t>(p.inter) ||
      p.out_stride < p.inter || !RowGrid(p.rows, p.inter, &grid)) {
    return cudaErrorInvalidValue;
  }
  SiluMulKernel<<<grid, kThreads, 0, stream>>>(p);
  return cudaGetLastError();
}

cudaError_t LaunchCastToBf16(const CastToBf16Params& p, cudaStream_t stream) {
  if (p.rows < 0 || p.cols <= 0) return cudaErrorInvalidValue;
  if (p.rows == 0) return cudaSuccess;
  dim3 grid;
  if (!p.src || !p.dst || p.src_stride < p.cols || p.dst_stride < p.cols ||
      !RowGrid(p.rows, p.cols, &grid)) {
    return cudaErrorInvalidValue;
  }
  CastToBf16Kernel<<<grid, kThreads, 0, stream>>>(p);
  return cudaGetLastError();
}

cudaError_t LaunchGatherRows(const GatherRowsParams& p, cudaStream_t stream) {
  if (p.count < 0 || p.dim <= 0 || p.src_rows < 0) return cudaErrorInvalidValue;
  if (p.count == 0) return cudaSuccess;
  dim3 grid;
  if (!p.src || !p.rows || !p.dst || p.stride < p.dim || !RowGrid(p.count, p.dim, &grid)) {
    return cudaErrorInvalidValue;
  }
  GatherRowsKernel<<<grid, kThreads, 0, stream>>>(p);
  return cudaGetLastError();
}

cudaError_t LaunchFillHash(const FillHashParams& p, cudaStream_t stream) {
  if (p.count < 0) return cudaErrorInvalidValue;
  if (p.count == 0) return cudaSuccess;
  if (!p.dst) return cudaErrorInvalidValue;
  const int64_t blocks = std::min<int64_t>((p.count + kThreads - 1) / kThreads, 65536);
  FillHashKernel<<<static_cast<unsigned>(blocks), kThreads, 0, stream>>>(p);
  return cudaGetLastError();
}

}  // namespace sieve::cuda
