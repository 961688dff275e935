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
#include "cuda/moe/routing.cuh"

namespace sieve::cuda {
namespace {

__global__ void __launch_bounds__(kRoutingWarps * 32) MoeRoutingKernel(MoeRoutingParams p) {
  __shared__ float scores_s[kRoutingWarps][kMaxExperts];
  __shared__ float group_s[kRoutingWarps][kMaxGroups];
  const int warp = threadIdx.x >> 5;
  const int64_t t = static_cast<int64_t>(blockIdx.x) * kRoutingWarps + warp;
  if (t >= p.tokens) return;  // whole warps leave; no block barrier below
  RouteToken(p, t, scores_s[warp], group_s[warp]);
}

constexpr int kAlignThreads = 1024;

__global__ void __launch_bounds__(kAlignThreads) MoeAlignKernel(MoeAlignParams p) {
  __shared__ int32_t counts[kMaxExperts];
  __shared__ int32_t offsets[kMaxExperts + 1];
  AlignPairs(p, p.topk_ids, counts, offsets);
}

}  // namespace

cudaError_t CheckMoeRouting(const MoeRoutingParams& p) {
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
  if (p.tokens > 0 &&
      (!p.logits || !p.topk_ids || !p.topk_weights || p.logits_stride < p.num_experts)) {
    return cudaErrorInvalidValue;
  }
  return cudaSuccess;
}

cudaError_t LaunchMoeRouting(const MoeRoutingParams& p, cudaStream_t stream) {
  const cudaError_t e = CheckMoeRouting(p);
  if (e != cudaSuccess || p.tokens == 0) return e;
  const int blocks = (p.tokens + kRoutingWarps - 1) / kRoutingWarps;
  MoeRoutingKernel<<<blocks, kRoutingWarps * 32, 0, stream>>>(p);
  return cudaGetLastError();
}

cudaError_t CheckMoeAlign(const MoeAlignParams& p) {
  if (p.num_pairs < 0 || p.num_experts <= 0 || p.num_experts > kMaxExperts) {
    return cudaErrorInvalidValue;
  }
  if (!p.expert_offsets ||
      (p.num_pairs > 0 && (!p.topk_ids || !p.sorted_pairs || !p.sorted_experts))) {
    return cudaErrorInvalidValue;
  }
  return cudaSuccess;
}

cudaError_t LaunchMoeAlign(const MoeAlignParams& p, cudaStream_t stream) {
  const cudaError_t e = CheckMoeAlign(p);
  if (e != cudaSuccess) return e;
  MoeAlignKernel<<<1, kAlignThreads, 0, stream>>>(p);
  return cudaGetLastError();
}

}  // namespace sieve::cuda
