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
constexpr int32_t kAlignLargeMinPairs = 2048;  // below: AlignPairs (the fused kernel's code)

__global__ void __launch_bounds__(kAlignThreads) MoeAlignKernel(MoeAlignParams p) {
  __shared__ int32_t counts[kMaxExperts];
  __shared__ int32_t offsets[kMaxExperts + 1];
  AlignPairs(p, p.topk_ids, counts, offsets);
}

// The same grouping for many pairs (prompt chunks): AlignPairs has every warp scan all pairs
// twice per expert it owns (V2-Lite, 24,576 pairs: ~0.2 ms, one block). Here warp w takes the
// contiguous chunk w of the pairs: it counts its chunk's pairs per expert (hist[w][e]), the
// block turns the counts into each (warp, expert)'s first slot (expert offsets, then warps in
// order within an expert), and every warp places its chunk's pairs 32 at a time, a lane's rank
// among the lanes with the same expert coming from __match_any_sync. Chunks are in pair order
// and a warp walks its chunk in order, so each expert's pairs stay ascending: the same arrays as
// AlignPairs. Ids outside [0, num_experts) are skipped, as there.
constexpr int kAlignWarps = kAlignThreads / 32;
constexpr int kAlignLargeMaxExperts = 256;  // hist: 32 warps x 256 experts x 4 B = 32 KB

__global__ void __launch_bounds__(kAlignThreads) MoeAlignLargeKernel(MoeAlignParams p) {
  __shared__ int32_t hist[kAlignWarps][kAlignLargeMaxExperts];
  __shared__ int32_t counts[kAlignLargeMaxExperts];
  __shared__ int32_t offsets[kAlignLargeMaxExperts + 1];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, E = p.num_experts;
  for (int i = threadIdx.x; i < kAlignWarps * E; i += kAlignThreads) hist[i / E][i % E] = 0;
  __syncthreads();
  const int32_t chunk = (p.num_pairs + kAlignWarps * 32 - 1) / (kAlignWarps * 32) * 32;
  const int32_t begin = warp * chunk, end = min(p.num_pairs, begin + chunk);
  for (int32_t i = begin + lane; i < end; i += 32) {
    const int32_t id = p.topk_ids[i];
    if (id >= 0 && id < E) atomicAdd(&hist[warp][id], 1);
  }
  __syncthreads();
  for (int e = threadIdx.x; e < E; e += kAlignThreads) {  // expert totals
    int32_t c = 0;
    for (int w = 0; w < kAlignWarps; ++w) c += hist[w][e];
    counts[e] = c;
  }
  __syncthreads();
  if (warp == 0) ExpertOffsets(counts, E, offsets);
  __syncthreads();
  for (int e = threadIdx.x; e < E; e += kAlignThreads) {  // hist -> each warp's first slot
    int32_t at = offsets[e];
    for (int w = 0; w < kAlignWarps; ++w) {
      const int32_t n = hist[w][e];
      hist[w][e] = at;
      at += n;
    }
  }
  for (int e = threadIdx.x; e <= E; e += kAlignThreads) p.expert_offsets[e] = offsets[e];
  __syncthreads();
  for (int32_t base = begin; base < end; base += 32) {
    const int32_t i = base + lane;
    const int32_t id = i < end ? p.topk_ids[i] : -1;
    const bool ok = id >= 0 && id < E;
    const unsigned same = __match_any_sync(0xffffffffu, ok ? id : -1);
    const int32_t slot = ok ? hist[warp][id] + __popc(same & ((1u << lane) - 1u)) : 0;
    __syncwarp();  // every lane has read its expert's next slot
    if (ok) {
      p.sorted_pairs[slot] = i;
      p.sorted_experts[slot] = id;
      if ((same & ((1u << lane) - 1u)) == 0) hist[warp][id] += __popc(same);  // the first lane
    }
    __syncwarp();
  }
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
  if (p.num_pairs >= kAlignLargeMinPairs && p.num_experts <= kAlignLargeMaxExperts) {
    MoeAlignLargeKernel<<<1, kAlignThreads, 0, stream>>>(p);
  } else {
    MoeAlignKernel<<<1, kAlignThreads, 0, stream>>>(p);
  }
  return cudaGetLastError();
}

}  // namespace sieve::cuda
