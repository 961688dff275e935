// Device bodies of the routing kernels (routing.h), shared by routing.cu and the fused
// router + routing + align kernel (fused_routing.cu).
#ifndef SIEVE_CUDA_MOE_ROUTING_CUH_
#define SIEVE_CUDA_MOE_ROUTING_CUH_

#include <cmath>

#include "cuda/common/device_utils.cuh"
#include "cuda/common/pdl.cuh"  // SIEVE_PDL_TRACE_MARK (empty without the trace switch)
#include "cuda/config.h"
#include "cuda/moe/routing.h"

namespace sieve::cuda {

static_assert(kMaxTopK <= kMaxGroups, "RouteToken keeps the picked scores in the group scratch");

// Softmax, group limiting and top-k of token t by one warp (every lane calls it); `s` holds
// kMaxExperts floats and `g` kMaxGroups floats of this warp's shared memory.
__device__ __forceinline__ void RouteToken(const MoeRoutingParams& p, int64_t t, float* s,
                                           float* g) {
  const int lane = threadIdx.x & 31;
  const float* logits = p.logits + t * p.logits_stride;
  const int32_t E = p.num_experts;

  float mx = -INFINITY;
  for (int e = lane; e < E; e += 32) {
    s[e] = __ldcg(logits + e);  // L2: the fused kernel reads logits other blocks wrote
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

  // Top-k by repeated warp argmax, one slot per round; the rounds are not unrolled and keep the
  // picked scores in `g` (free after the group stage; kMaxTopK <= kMaxGroups). This runs once per
  // token in one warp of the fused kernel's last block, on the batch-1 critical path: unrolled
  // kMaxTopK times (71 of the kernel's 127 KB of code, fetched cold) the stage took 5.9 us per
  // V2-Lite layer, rolled up 4.7 us (issue 7, session 8, second round, in-kernel trace). Same
  // picks, same sum order, same bits.
  float picked_sum = 0.0f;
#pragma unroll 1
  for (int j = 0; j < p.top_k; ++j) {
    float v = -INFINITY;
    int32_t idx = -1;
    for (int e = lane; e < E; e += 32) {
      if (s[e] != -INFINITY && (idx < 0 || s[e] > v)) {
        v = s[e];
        idx = e;
      }
    }
    WarpArgmax(&v, &idx);
    picked_sum += v;
    __syncwarp();
    if (lane == 0) {
      s[idx] = -INFINITY;
      g[j] = v;
      p.topk_ids[t * p.top_k + j] = idx;
    }
    __syncwarp();
  }
  if (lane == 0) {
    const bool renorm = p.top_k > 1 && p.norm_topk_prob;
    const float denom = picked_sum + 1e-20f;
#pragma unroll 1
    for (int j = 0; j < p.top_k; ++j) {
      p.topk_weights[t * p.top_k + j] = renorm ? g[j] / denom : g[j] * p.routed_scaling_factor;
    }
  }
  __syncwarp();  // g is scratch again for the warp's next token
}

// Groups the pairs by expert (see routing.h); every thread of the block calls it (it
// synchronises); counts / offsets hold kMaxExperts and kMaxExperts + 1 ints of shared memory;
// `ids` is p.topk_ids or a copy of it in shared memory (the fused kernel's).
// offsets[e] = counts[0] + ... + counts[e - 1] for e <= num_experts, 32 experts per round by
// shuffles; the 32 lanes of one warp call it (the align kernels' warp 0).
__device__ __forceinline__ void ExpertOffsets(const int32_t* counts, int32_t num_experts,
                                              int32_t* offsets) {
  const int lane = threadIdx.x & 31;
  int32_t run = 0;
  for (int32_t base = 0; base < num_experts; base += 32) {
    const int32_t e = base + lane;
    const int32_t c = e < num_experts ? counts[e] : 0;
    const int32_t incl = WarpInclusiveSum(c);
    if (e < num_experts) offsets[e] = run + incl - c;
    run += __shfl_sync(0xffffffffu, incl, 31);
  }
  if (lane == 0) offsets[num_experts] = run;
}

__device__ __forceinline__ void AlignPairs(const MoeAlignParams& p, const int32_t* ids,
                                           int32_t* counts, int32_t* offsets) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int warps = blockDim.x >> 5;
  for (int e = warp; e < p.num_experts; e += warps) {
    int32_t n = 0;
    for (int32_t base = 0; base < p.num_pairs; base += 32) {
      const int32_t i = base + lane;
      n += __popc(__ballot_sync(0xffffffffu, i < p.num_pairs && ids[i] == e));
    }
    if (lane == 0) counts[e] = n;
  }
  __syncthreads();
  if (warp == 0) ExpertOffsets(counts, p.num_experts, offsets);
  __syncthreads();
  for (int e = threadIdx.x; e <= p.num_experts; e += blockDim.x) p.expert_offsets[e] = offsets[e];
  for (int e = warp; e < p.num_experts; e += warps) {
    int32_t at = offsets[e];
    for (int32_t base = 0; base < p.num_pairs; base += 32) {
      const int32_t i = base + lane;
      const bool hit = i < p.num_pairs && ids[i] == e;
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

// The routing and align of every token by one block of kWarps warps, as the fused kernels' last
// block does it with more than one token (fused_routing.cu, gemv_routed.cu); every thread calls
// it (it synchronises). Warp w routes tokens w, w + kWarps, ... with its own scratch (RouteToken:
// `scores` + w * score_stride, `groups` + w * kMaxGroups), then AlignPairs over a shared-memory
// copy of the ids (ids_s: a.num_pairs ints; counts / offsets as AlignPairs takes them).
template <int kWarps>
__device__ __forceinline__ void RouteAlignTokens(const MoeRoutingParams& p, const MoeAlignParams& a,
                                                 float* scores, int score_stride, float* groups,
                                                 int32_t* ids_s, int32_t* counts,
                                                 int32_t* offsets) {
  const int warp = threadIdx.x >> 5;
  for (int64_t t = warp; t < p.tokens; t += kWarps) {
    RouteToken(p, t, scores + warp * score_stride, groups + warp * kMaxGroups);
  }
  __syncthreads();  // topk_ids of every token written (global memory, this block)
  SIEVE_PDL_TRACE_MARK(kStage1);
  // The pairs' expert ids once into shared memory: the align scans them once per expert.
  for (int i = threadIdx.x; i < a.num_pairs; i += kWarps * 32) ids_s[i] = a.topk_ids[i];
  __syncthreads();
  SIEVE_PDL_TRACE_MARK(kStage2);
  AlignPairs(a, ids_s, counts, offsets);
}

// AlignPairs for the pairs of one token by one warp (every lane calls it; `ids` written by this
// warp, e.g. by RouteToken, before a __syncwarp): no block barriers and no counting pass. A
// pair's slot is the number of pairs before it in (expert, pair index) order and
// expert_offsets[e] the number of pairs with an expert below e: the same grouping as AlignPairs
// (ids outside [0, num_experts) skipped there and here). Linear in num_pairs per lane, so only
// for a few pairs (the fused kernel's one-token step; issue 7, session 8, fifth round).
__device__ __forceinline__ void AlignPairsOneWarp(const MoeAlignParams& p, const int32_t* ids) {
  const int lane = threadIdx.x & 31;
  const int32_t E = p.num_experts, P = p.num_pairs;
  for (int32_t e = lane; e <= E; e += 32) {
    int32_t n = 0;
    for (int32_t j = 0; j < P; ++j) n += ids[j] >= 0 && ids[j] < e;
    p.expert_offsets[e] = n;
  }
  for (int32_t i = lane; i < P; i += 32) {
    const int32_t id = ids[i];
    if (id < 0 || id >= E) continue;
    int32_t k = 0;
    for (int32_t j = 0; j < P; ++j) k += (ids[j] >= 0 && ids[j] < id) || (ids[j] == id && j < i);
    p.sorted_pairs[k] = i;
    p.sorted_experts[k] = id;
  }
}

// Register slots per lane of RouteAlignOneToken: it takes num_experts <= 32 * kOneTokenSlots.
inline constexpr int32_t kOneTokenSlots = 2;

// RouteToken + AlignPairsOneWarp of one token (token 0) by one warp, for plain greedy routing
// (n_group <= 1) of at most 32 * kOneTokenSlots experts; every lane calls it. The fused kernel's
// one-token step, on the batch-1 critical path: there RouteToken took ~4.7 us for V2-Lite's 64
// experts (session 8's trace) with the scores in shared memory, a __syncwarp pair and lane 0's
// stores per top-k round, and the align then read the ids back from global memory. Here expert e
// lives in lane e % 32, slot e / 32 (both logits loads in flight at once), each round's pick is
// lane 0's (as RouteToken's lane 0 uses it: its id is masked, its score summed) broadcast by
// shuffle, lane j keeps pick j and writes its id and weight, and the align counts the picks
// through shuffles. Same loads, the same softmax and top-k arithmetic in the same order, the same
// weight expression and the same grouping as RouteToken + AlignPairs: the same bits
// (fused_routing_test.cc holds them against the separate launches).
__device__ __forceinline__ void RouteAlignOneToken(const MoeRoutingParams& p,
                                                   const MoeAlignParams& a) {
  const int lane = threadIdx.x & 31;
  const int32_t E = p.num_experts;
  float s[kOneTokenSlots];
#pragma unroll
  for (int k = 0; k < kOneTokenSlots; ++k) {
    const int32_t e = lane + 32 * k;
    s[k] = e < E ? __ldcg(p.logits + e) : -INFINITY;  // L2: other blocks wrote the logits
  }
  float mx = -INFINITY;
#pragma unroll
  for (int k = 0; k < kOneTokenSlots; ++k) {
    if (lane + 32 * k < E) mx = fmaxf(mx, s[k]);
  }
  mx = WarpMax(mx);
  float sum = 0.0f;
#pragma unroll
  for (int k = 0; k < kOneTokenSlots; ++k) {
    if (lane + 32 * k < E) {
      s[k] = expf(s[k] - mx);
      sum += s[k];
    }
  }
  sum = WarpSum(sum);
  const float inv = 1.0f / sum;
#pragma unroll
  for (int k = 0; k < kOneTokenSlots; ++k) {
    if (lane + 32 * k < E) s[k] *= inv;  // slots past E stay -inf: never picked
  }

  float picked_sum = 0.0f, my_score = 0.0f;
  int32_t my_id = -1;  // lane j < top_k: pick j
#pragma unroll 1
  for (int j = 0; j < p.top_k; ++j) {
    float v = -INFINITY;
    int32_t idx = -1;
#pragma unroll
    for (int k = 0; k < kOneTokenSlots; ++k) {
      if (s[k] != -INFINITY && (idx < 0 || s[k] > v)) {
        v = s[k];
        idx = lane + 32 * k;
      }
    }
    WarpArgmax(&v, &idx);
    v = __shfl_sync(0xffffffffu, v, 0);
    idx = __shfl_sync(0xffffffffu, idx, 0);
    picked_sum += v;
    if (lane == j) {
      my_score = v;
      my_id = idx;
    }
#pragma unroll
    for (int k = 0; k < kOneTokenSlots; ++k) {
      if (idx == lane + 32 * k) s[k] = -INFINITY;
    }
  }
  if (lane < p.top_k) {
    const bool renorm = p.top_k > 1 && p.norm_topk_prob;
    const float denom = picked_sum + 1e-20f;
    p.topk_ids[lane] = my_id;
    p.topk_weights[lane] = renorm ? my_score / denom : my_score * p.routed_scaling_factor;
  }

  // The align (AlignPairsOneWarp's counts): expert_offsets[e] = picks with an expert in [0, e),
  // a pick's slot = picks before it in (expert, pair index) order; ids outside [0, E) skipped.
  const int32_t P = a.num_pairs;  // == top_k (MoeRouteFusedSupported)
  int32_t below[kOneTokenSlots + 1] = {};
  int32_t slot = 0;
#pragma unroll 1
  for (int32_t j = 0; j < P; ++j) {
    const int32_t id = __shfl_sync(0xffffffffu, my_id, j);
    const bool valid = id >= 0 && id < a.num_experts;
#pragma unroll
    for (int k = 0; k <= kOneTokenSlots; ++k) below[k] += valid && id < lane + 32 * k;
    slot += (valid && id < my_id) || (id == my_id && j < lane);
  }
#pragma unroll
  for (int k = 0; k <= kOneTokenSlots; ++k) {
    if (lane + 32 * k <= a.num_experts) a.expert_offsets[lane + 32 * k] = below[k];
  }
  if (lane < P && my_id >= 0 && my_id < a.num_experts) {
    a.sorted_pairs[slot] = lane;
    a.sorted_experts[slot] = my_id;
  }
}

}  // namespace sieve::cuda

#endif  // SIEVE_CUDA_MOE_ROUTING_CUH_
