// Kernel for mla_decode.h. Block = kMlaDecodeWarps warps for one (head, sequence). The scaled query
// row sits in shared memory; warp w takes tokens w, w + W, w + 2W, ... For each token, lane l
// loads latent elements l, l + 32, ... (kept in registers: they are both the key's first part and
// the value), the rope part is a strided loop, and a warp sum gives the score. Each warp keeps an
// online softmax (running max m, sum l, accumulator of kv_lora / 32 floats per lane); at the end
// the warps' states are merged through shared memory with the usual exp(m_w - M) rescaling.
#include <cmath>

#include "cuda/attention/mla_decode.h"
#include "cuda/common/device_utils.cuh"
#include "cuda/config.h"

namespace sieve::cuda {
namespace {

constexpr int kPerLane = kMlaMaxLatent / 32;

__global__ void __launch_bounds__(kMlaDecodeWarps * 32) MlaDecodeKernel(MlaDecodeParams p) {
  __shared__ float q_s[kMlaMaxHeadDim];
  __shared__ float m_s[kMlaDecodeWarps];
  __shared__ float l_s[kMlaDecodeWarps];
  __shared__ float acc_s[kMlaDecodeWarps][kMlaMaxLatent];
  const int32_t h = blockIdx.x, b = blockIdx.y;
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int32_t width = p.kv_lora + p.rope_dim;
  const float* q = p.q + b * p.q_batch_stride + h * p.q_head_stride;
  for (int i = threadIdx.x; i < width; i += blockDim.x) q_s[i] = q[i];
  __syncthreads();

  const int32_t len = p.seq_lens[b];
  const int64_t table_row = p.row_seq ? p.row_seq[b] : b;
  const int32_t* table = p.block_table + table_row * p.max_pages_per_seq;
  float acc[kPerLane];
#pragma unroll
  for (int j = 0; j < kPerLane; ++j) acc[j] = 0.0f;
  float m = -INFINITY, l = 0.0f;
  for (int32_t t = warp; t < len; t += kMlaDecodeWarps) {
    const int64_t page = table[t / p.page_size];
    const __nv_bfloat16* kv = p.cache + (page * p.page_size + t % p.page_size) * width;
    float c[kPerLane];
    float dot = 0.0f;
#pragma unroll
    for (int j = 0; j < kPerLane; ++j) {
      const int i = lane + 32 * j;
      c[j] = i < p.kv_lora ? __bfloat162float(kv[i]) : 0.0f;
      if (i < p.kv_lora) dot += c[j] * q_s[i];
    }
    for (int i = p.kv_lora + lane; i < width; i += 32) dot += __bfloat162float(kv[i]) * q_s[i];
    const float s = WarpSum(dot) * p.scale;
    const float m_new = fmaxf(m, s);
    const float corr = expf(m - m_new);  // 0 on the first token (m = -inf)
    const float pr = expf(s - m_new);
    l = l * corr + pr;
#pragma unroll
    for (int j = 0; j < kPerLane; ++j) acc[j] = acc[j] * corr + pr * c[j];
    m = m_new;
  }
  if (lane == 0) {
    m_s[warp] = m;
    l_s[warp] = l;
  }
#pragma unroll
  for (int j = 0; j < kPerLane; ++j) {
    const int i = lane + 32 * j;
    if (i < p.kv_lora) acc_s[warp][i] = acc[j];
  }
  __syncthreads();

  float big = -INFINITY;
  for (int w = 0; w < kMlaDecodeWarps; ++w) big = fmaxf(big, m_s[w]);
  float factor[kMlaDecodeWarps];
  float total = 0.0f;
  for (int w = 0; w < kMlaDecodeWarps; ++w) {
    factor[w] = m_s[w] == -INFINITY ? 0.0f : expf(m_s[w] - big);
    total += l_s[w] * factor[w];
  }
  __nv_bfloat16* out = p.out + b * p.out_batch_stride + h * p.out_head_stride;
  for (int i = threadIdx.x; i < p.kv_lora; i += blockDim.x) {
    float v = 0.0f;
    for (int w = 0; w < kMlaDecodeWarps; ++w) v += acc_s[w][i] * factor[w];
    out[i] = __float2bfloat16_rn(len > 0 ? v / total : 0.0f);
  }
  if (p.lse && threadIdx.x == 0) {
    p.lse[static_cast<int64_t>(b) * p.heads + h] = len > 0 ? big + logf(total) : -INFINITY;
  }
}

}  // namespace

cudaError_t LaunchMlaDecode(const MlaDecodeParams& p, cudaStream_t stream) {
  if (p.batch < 0 || p.batch > 65535 || p.heads < 0 || p.kv_lora <= 0 ||
      p.kv_lora > kMlaMaxLatent || p.rope_dim < 0 || p.kv_lora + p.rope_dim > kMlaMaxHeadDim ||
      p.page_size <= 0 || p.max_pages_per_seq < 0) {
    return cudaErrorInvalidValue;
  }
  if (p.batch == 0 || p.heads == 0) return cudaSuccess;
  if (!p.q || !p.cache || !p.block_table || !p.seq_lens || !p.out ||
      p.q_head_stride < p.kv_lora + p.rope_dim || p.out_head_stride < p.kv_lora) {
    return cudaErrorInvalidValue;
  }
  dim3 grid(p.heads, p.batch);
  MlaDecodeKernel<<<grid, kMlaDecodeWarps * 32, 0, stream>>>(p);
  return cudaGetLastError();
}

}  // namespace sieve::cuda
