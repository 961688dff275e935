// Kernel for sample.h. Every reduction runs in a fixed order (warp xor-shuffle tree, then the 32
// warp results in order), so a row's result is reproducible run to run on the GPU as well.
#include <cmath>

#include "cuda/sampling/sample.h"
#include "cuda/sampling/sample_rng.h"

namespace sieve::cuda {
namespace {

using sampling::GumbelNoise;
using sampling::KeyToFloat;
using sampling::OrderedKey;
using sampling::RnAdd;
using sampling::RnDiv;

struct Best {
  float score;
  int32_t index;  // -1: none yet
};

__device__ __forceinline__ Best Better(Best a, Best b) {
  if (b.index < 0) return a;
  if (a.index < 0) return b;
  if (b.score > a.score || (b.score == a.score && b.index < a.index)) return b;
  return a;
}

// Block-wide reductions (all threads get the result). `s` is shared scratch of 32 entries.
template <typename T, typename Op>
__device__ T BlockReduce(T v, Op op, T identity, T* s) {
  for (int o = 16; o > 0; o >>= 1) v = op(v, __shfl_xor_sync(0xffffffffu, v, o));
  __syncthreads();  // s may still be read by a previous reduction
  if ((threadIdx.x & 31) == 0) s[threadIdx.x >> 5] = v;
  __syncthreads();
  T r = identity;
  for (int w = 0; w < static_cast<int>(blockDim.x >> 5); ++w) r = op(r, s[w]);
  return r;
}

__device__ Best BlockBest(Best v, float* sf, int32_t* si) {
  for (int o = 16; o > 0; o >>= 1) {
    Best other{__shfl_xor_sync(0xffffffffu, v.score, o), __shfl_xor_sync(0xffffffffu, v.index, o)};
    v = Better(v, other);
  }
  __syncthreads();
  if ((threadIdx.x & 31) == 0) {
    sf[threadIdx.x >> 5] = v.score;
    si[threadIdx.x >> 5] = v.index;
  }
  __syncthreads();
  Best r{0.0f, -1};
  for (int w = 0; w < static_cast<int>(blockDim.x >> 5); ++w) r = Better(r, Best{sf[w], si[w]});
  return r;
}

struct Row {
  const float* logits;
  const uint32_t* mask;
  int32_t limit;
  __device__ __forceinline__ bool Allowed(int32_t i, float v) const {
    return ((mask[i >> 5] >> (i & 31)) & 1u) != 0 && !isnan(v) && v != -INFINITY;
  }
};

__global__ void __launch_bounds__(kSampleThreads) SampleKernel(SampleParams p) {
  __shared__ uint32_t su[32];
  __shared__ int32_t si[32];
  __shared__ double sd[32];
  __shared__ float sf[32];
  const SampleRowParams rp = p.row_params[blockIdx.x];
  Row row{p.logits + static_cast<int64_t>(rp.logits_row) * p.logits_stride,
          p.bitmask + static_cast<int64_t>(blockIdx.x) * p.mask_words,
          min(p.vocab, p.mask_words * 32)};
  auto add_i = [](int32_t a, int32_t b) { return a + b; };
  auto add_d = [](double a, double b) { return a + b; };
  auto max_u = [](uint32_t a, uint32_t b) { return a > b ? a : b; };

  if (!(rp.temperature > 0.0f)) {  // greedy
    Best b{0.0f, -1};
    for (int32_t i = threadIdx.x; i < row.limit; i += blockDim.x) {
      const float v = row.logits[i];
      if (row.Allowed(i, v)) b = Better(b, Best{v, i});
    }
    b = BlockBest(b, sf, si);
    if (threadIdx.x == 0) p.out_tokens[blockIdx.x] = b.index;
    return;
  }
  const float t = rp.temperature;
  uint32_t threshold = 0;  // keep ids whose z key is >= threshold
  if (rp.top_k > 0) {
    int32_t n = 0;
    for (int32_t i = threadIdx.x; i < row.limit; i += blockDim.x)
      n += row.Allowed(i, row.logits[i]);
    n = BlockReduce(n, add_i, 0, si);
    if (rp.top_k < n) {
      uint32_t v = 0;
      for (int bit = 31; bit >= 0; --bit) {
        const uint32_t cand = v | (1u << bit);
        int32_t c = 0;
        for (int32_t i = threadIdx.x; i < row.limit; i += blockDim.x) {
          const float l = row.logits[i];
          c += row.Allowed(i, l) && OrderedKey(RnDiv(l, t)) >= cand;
        }
        c = BlockReduce(c, add_i, 0, si);
        if (c >= rp.top_k) v = cand;
      }
      threshold = v;
    }
  }
  if (rp.top_p < 1.0f) {
    uint32_t mk = 0;
    for (int32_t i = threadIdx.x; i < row.limit; i += blockDim.x) {
      const float l = row.logits[i];
      if (row.Allowed(i, l)) mk = max_u(mk, OrderedKey(RnDiv(l, t)));
    }
    mk = BlockReduce(mk, max_u, 0u, su);
    const float zmax = KeyToFloat(mk);
    auto mass = [&](uint32_t at_least) {
      double m = 0;
      for (int32_t i = threadIdx.x; i < row.limit; i += blockDim.x) {
        const float l = row.logits[i];
        if (!row.Allowed(i, l)) continue;
        const float z = RnDiv(l, t);
        if (OrderedKey(z) >= at_least) m += exp(static_cast<double>(z - zmax));
      }
      return BlockReduce(m, add_d, 0.0, sd);
    };
    const double target = static_cast<double>(rp.top_p) * mass(threshold);
    uint32_t v = 0;
    for (int bit = 31; bit >= 0; --bit) {
      const uint32_t cand = v | (1u << bit);
      if (mass(max_u(cand, threshold)) >= target) v = cand;
    }
    threshold = max_u(threshold, v);
  }
  Best b{0.0f, -1};
  for (int32_t i = threadIdx.x; i < row.limit; i += blockDim.x) {
    const float l = row.logits[i];
    if (!row.Allowed(i, l)) continue;
    const float z = RnDiv(l, t);
    if (OrderedKey(z) < threshold) continue;
    b = Better(b, Best{RnAdd(z, GumbelNoise(rp.seed, rp.index, static_cast<uint32_t>(i))), i});
  }
  b = BlockBest(b, sf, si);
  if (threadIdx.x == 0) p.out_tokens[blockIdx.x] = b.index;
}

}  // namespace

cudaError_t LaunchSample(const SampleParams& p, cudaStream_t stream) {
  if (p.rows < 0 || p.vocab <= 0 || p.mask_words <= 0) return cudaErrorInvalidValue;
  if (p.rows == 0) return cudaSuccess;
  if (!p.logits || !p.bitmask || !p.row_params || !p.out_tokens || p.logits_stride < p.vocab) {
    return cudaErrorInvalidValue;
  }
  SampleKernel<<<p.rows, kSampleThreads, 0, stream>>>(p);
  return cudaGetLastError();
}

}  // namespace sieve::cuda
