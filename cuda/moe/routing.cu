// Kernels for routing.h.
//
// Routing: one warp per token, its scores in shared memory. Softmax uses a warp max and sum.
// Group limiting finds each group's max, keeps topk_group groups by repeated warp argmax (ties ->
// lower group) and zeroes the rest. Top-k is top_k rounds of warp argmax (ties -> lower expert),
// each round removing its winner by setting its score to -inf; zeroed scores can still be picked
// when nothing better is left, exactly like the CPU reference's stable sort.
//
// Align: one block of 1024 threads. Pass 1: warp w counts the pairs of experts w, w + 32, ... by
// ballot + popcount over 32-pair chunks; thread 0 prefix-sums the counts. Pass 2: the same scan
// writes each matching pair at offset + (number of earlier matches), so the order within an
// expert is the pair order.
#include <cmath>

#include "cuda/common/device_utils.cuh"
#include "cuda/config.h"
#include "cuda/moe/routing.h"

namespace sieve::cuda {
namespace {

__global__ void __launch_bounds__(kRoutingWarps * 32) MoeRoutingKernel(MoeRoutingParams p) {
  __shared__ float scores_s[kRoutingWarps][kMaxExperts];
  __shared__ float group_s[kRoutingWarps][kMaxGroups];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int64_t t = static_cast<int64_t>(blockIdx.x) * kRoutingWarps + warp;
  if (t >= p.tokens) return;  // whole warps leave; no block barrier below
  float* s = scores_s[warp];
  const float* logits = p.logits + t * p.logits_stride;
  const int32_t E = p.num_experts;

  float mx = -INFINITY;
  for (int e = lane; e < E; e += 32) {
    s[e] = logits[e];
    mx = fmaxf(mx, s[e]);
  }
  mx = WarpMax(mx);
  float sum = 0.0f;
  for (int e = lane; e < E; e += 32) {
    s[e] = expf(s[e] - mx);
    sum += s[e];
  }
  sum = WarpSum(sum);
  const float inv = 1.0f / sum;
  for (int e = lane; e < E; e += 32) s[e] *= inv;
  __syncwarp();

  if (p.n_group > 1) {
    const int32_t per = E / p.n_group;
    float* g = group_s[warp];
    for (int k = lane; k < p.n_group; k += 32) {
      float best = s[k * per];
      for (int e = 1; e < per; ++e) best = fmaxf(best, s[k * per + e]);
      g[k] = best;
    }
    __syncwarp();
    // Mark kept groups by setting their score to -inf after picking them.
    for (int round = 0; round < p.topk_group; ++round) {
      float v = -INFINITY;
      int32_t idx = -1;
      for (int k = lane; k < p.n_group; k += 32) {
        if (g[k] != -INFINITY && (idx < 0 || g[k] > v)) {
          v = g[k];
          idx = k;
        }
      }
      WarpArgmax(&v, &idx);
      __syncwarp();
      if (lane == 0) g[idx] = -INFINITY;
      __syncwarp();
    }
    for (int e = lane; e < E; e += 32) {
      if (g[e / per] != -INFINITY) s[e] = 0.0f;  // group not kept
    }
    __syncwarp();
  }

  float picked_sum = 0.0f;
  float picked[kMaxTopK];
  int32_t picked_id[kMaxTopK];
#pragma unroll
  for (int j = 0; j < kMaxTopK; ++j) {
    if (j >= p.top_k) break;
    float v = -INFINITY;
    int32_t idx = -1;
    for (int e = lane; e < E; e += 32) {
      if (s[e] != -INFINITY && (idx < 0 || s[e] > v)) {
        v = s[e];
        idx = e;
      }
    }
    WarpArgmax(&v, &idx);
    picked[j] = v;
    picked_id[j] = idx;
    picked_sum += v;
    __syncwarp();
    if (lane == 0) s[idx] = -INFINITY;
    __syncwarp();
  }
  if (lane == 0) {
    const bool renorm = p.top_k > 1 && p.norm_topk_prob;
    const float denom = picked_sum + 1e-20f;
#pragma unroll
    for (int j = 0; j < kMaxTopK; ++j) {
      if (j >= p.top_k) break;
      p.topk_ids[t * p.top_k + j] = picked_id[j];
      p.topk_weights[t * p.top_k + j] =
          renorm ? picked[j] / denom : picked[j] * p.routed_scaling_factor;
    }
  }
}

constexpr int kAlignThreads = 1024;

__global__ void __launch_bounds__(kAlignThreads) MoeAlignKernel(MoeAlignParams p) {
  __shared__ int32_t counts[kMaxExperts];
  __shared__ int32_t offsets[kMaxExperts + 1];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int warps = blockDim.x >> 5;
  for (int e = warp; e < p.num_experts; e += warps) {
    int32_t n = 0;
    for (int32_t base = 0; base < p.num_pairs; base += 32) {
      const int32_t i = base + lane;
      n += __popc(__ballot_sync(0xffffffffu, i < p.num_pairs && p.topk_ids[i] == e));
    }
    if (lane == 0) counts[e] = n;
  }
  __syncthreads();
  if (threadIdx.x == 0) {
    int32_t run = 0;
    for (int e = 0; e < p.num_experts; ++e) {
      offsets[e] = run;
      run += counts[e];
    }
    offsets[p.num_experts] = run;
  }
  __syncthreads();
  for (int e = threadIdx.x; e <= p.num_experts; e += blockDim.x) p.expert_offsets[e] = offsets[e];
  for (int e = warp; e < p.num_experts; e += warps) {
    int32_t at = offsets[e];
    for (int32_t base = 0; base < p.num_pairs; base += 32) {
      const int32_t i = base + lane;
      const bool hit = i < p.num_pairs && p.topk_ids[i] == e;
      const uint32_t mask = __ballot_sync(0xffffffffu, hit);
      if (hit) {
        const int32_t k = at + __popc(mask & ((1u << lane) - 1u));
        p.sorted_pairs[k] = i;
        p.sorted_experts[k] = e;
      }
      at += __popc(mask);
    }
  }
}

}  // namespace

cudaError_t LaunchMoeRouting(const MoeRoutingParams& p, cudaStream_t stream) {
  if (p.tokens < 0 || p.num_experts <= 0 || p.num_experts > kMaxExperts || p.top_k <= 0 ||
      p.top_k > kMaxTopK || p.top_k > p.num_experts || p.n_group <= 0) {
    return cudaErrorInvalidValue;
  }
  if (p.n_group > 1) {
    if (p.n_group > kMaxGroups || p.num_experts % p.n_group != 0 || p.topk_group <= 0 ||
        p.topk_group > p.n_group || p.top_k > p.topk_group * (p.num_experts / p.n_group)) {
      return cudaErrorInvalidValue;
    }
  }
  if (p.tokens == 0) return cudaSuccess;
  if (!p.logits || !p.topk_ids || !p.topk_weights || p.logits_stride < p.num_experts) {
    return cudaErrorInvalidValue;
  }
  const int blocks = (p.tokens + kRoutingWarps - 1) / kRoutingWarps;
  MoeRoutingKernel<<<blocks, kRoutingWarps * 32, 0, stream>>>(p);
  return cudaGetLastError();
}

cudaError_t LaunchMoeAlign(const MoeAlignParams& p, cudaStream_t stream) {
  if (p.num_pairs < 0 || p.num_experts <= 0 || p.num_experts > kMaxExperts) {
    return cudaErrorInvalidValue;
  }
  if (!p.expert_offsets ||
      (p.num_pairs > 0 && (!p.topk_ids || !p.sorted_pairs || !p.sorted_experts))) {
    return cudaErrorInvalidValue;
  }
  MoeAlignKernel<<<1, kAlignThreads, 0, stream>>>(p);
  return cudaGetLastError();
}

}  // namespace sieve::cuda
