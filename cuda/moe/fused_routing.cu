// Kernel for fused_routing.h: router logits by every block, routing + align by the last one.
//
// Blocks of kRouterWarpsPerBlock warps each compute their (token, expert) logits
// (router_logits.cuh; with MoeRouteNorm from the rows they first normalise into shared memory
// themselves, norm_row_short.cuh), then __threadfence() and count themselves on the device
// counter; the block that takes the last ticket sees every other block's logits (they fenced
// before counting; it reads them through L2) and runs RouteToken per token (routing.cuh; warps
// take tokens in turn) and, after a block barrier, AlignPairs over a shared-memory copy of the
// expert ids; with one token warp 0 alone routes it and groups its pairs (RouteAlignOneToken in
// registers for plain greedy routing of up to 64 experts, else RouteToken + AlignPairsOneWarp).
// It finally zeroes the counter for the next launch.
#include <algorithm>
#include <cstdint>

#include "cuda/common/pdl.cuh"  // SIEVE_PDL_TRACE_SCOPE (empty without the trace switch)
#include "cuda/config.h"
#include "cuda/moe/fused_routing.h"
#include "cuda/moe/router_logits.cuh"
#include "cuda/moe/routing.cuh"
#include "cuda/norm/norm_row_short.cuh"
#include "cuda/norm/rms_norm.cuh"

namespace sieve::cuda {
namespace {

constexpr int kWarps = kRouterWarpsPerBlock;
static_assert(kFusedRoutingOneTokenMaxExperts == 32 * kOneTokenSlots, "RouteAlignOneToken's");
static_assert(kFusedRoutingNormMaxHidden <= kWarps * 32 * kNormBatch, "one batch per thread");

// Tokens whose (token, expert) warps one block can span: its bf16 rows in dynamic shared memory.
int64_t NormRowsPerBlock(const MoeRouteFusedParams& p) {
  const int64_t e = p.logits.num_experts;
  return std::min<int64_t>(p.logits.tokens, (e - 1 + kWarps - 1) / e + 1);
}

// x = RMSNorm(h + delta) of the tokens this block's warps take into x_s (row 0 = token `first`),
// with the GEMV fused norm's steps and weights order (gemv.cu NormRowsShort), so the same bits.
__device__ __forceinline__ void NormBlockRows(const MoeRouteNorm& n, int hidden, int64_t first,
                                              int64_t last, __nv_bfloat16* x_s) {
  __shared__ float scratch[32];
  float nw[kNormBatch];
  LoadNormWeights(n.weight, threadIdx.x, blockDim.x, hidden, nw);
  for (int64_t t = first; t <= last; ++t) {
    const float* d = n.delta ? n.delta + t * hidden : nullptr;
    __nv_bfloat16* row = x_s + (t - first) * hidden;
    NormRowShort(n.h + t * hidden, d, hidden, n.eps, scratch,
                 [&](const float (&v)[kNormBatch], float inv) {
#pragma unroll
                   for (int u = 0; u < kNormBatch; ++u) {
                     const int i = threadIdx.x + u * blockDim.x;
                     if (i >= hidden) break;
                     row[i] = NormedBf16(nw[u], v[u], inv);
                   }
                 });
  }
  __syncthreads();
}

// kOwnNorm: p.norm.weight is set (a separate instantiation, so the kernel without it keeps the
// code it had before the norm was added).
template <bool kOwnNorm>
__global__ void __launch_bounds__(kWarps * 32, 1) MoeRouteFusedKernel(MoeRouteFusedParams p) {
  SIEVE_PDL_TRACE_SCOPE(pdl_trace::kRouteFused);
  __shared__ float scores_s[kWarps][kMaxExperts];
  __shared__ float group_s[kWarps][kMaxGroups];
  __shared__ int32_t counts[kMaxExperts];
  __shared__ int32_t offsets[kMaxExperts + 1];
  __shared__ int32_t ids_s[kFusedRoutingMaxTokens * kMaxTopK];
  __shared__ bool last;
  extern __shared__ uint4 x_norm[];  // kOwnNorm: this block's normalised rows (bf16)
  const int warp = threadIdx.x >> 5;
  const int64_t w = static_cast<int64_t>(blockIdx.x) * kWarps + warp;
  const int64_t pairs = static_cast<int64_t>(p.logits.tokens) * p.logits.num_experts;
  if constexpr (kOwnNorm) {
    const int64_t w0 = static_cast<int64_t>(blockIdx.x) * kWarps;
    const int64_t first = w0 / p.logits.num_experts;
    const int64_t end = w0 + kWarps < pairs ? w0 + kWarps : pairs;
    const int64_t last = (end - 1) / p.logits.num_experts;
    __nv_bfloat16* x_s = reinterpret_cast<__nv_bfloat16*>(x_norm);
    NormBlockRows(p.norm, p.logits.hidden, first, last, x_s);
    RouterLogitsParams own = p.logits;
    own.x = x_s;
    own.x_stride = p.logits.hidden;
    if (w < pairs) RouterLogit<true>(own, w, first);
  } else if (w < pairs) {
    RouterLogit(p.logits, w);
  }
  __threadfence();  // this block's logits are visible device-wide before it is counted
  __syncthreads();
  if (threadIdx.x == 0) last = atomicAdd(p.counter, 1u) == gridDim.x - 1;
  __syncthreads();
  if (!last) return;
  __threadfence();
  SIEVE_PDL_TRACE_MARK(kStage0);  // trace build only: the last block's phases
  if (p.routing.tokens == 1) {  // one token: warp 0 alone, no block barriers
    if (warp != 0) return;
    if (p.routing.n_group <= 1 && p.routing.num_experts <= kFusedRoutingOneTokenMaxExperts) {
      RouteAlignOneToken(p.routing, p.align);  // scores and picks in registers
    } else {
      RouteToken(p.routing, 0, scores_s[0], group_s[0]);  // ends with a __syncwarp: ids visible
      SIEVE_PDL_TRACE_MARK(kStage1);
      AlignPairsOneWarp(p.align, p.align.topk_ids);
    }
    SIEVE_PDL_TRACE_MARK(kStage3);
    if (threadIdx.x == 0) *p.counter = 0u;  // every block has counted: safe to reset
    return;
  }
  RouteAlignTokens<kWarps>(p.routing, p.align, &scores_s[0][0], kMaxExperts, &group_s[0][0], ids_s,
                           counts, offsets);
  SIEVE_PDL_TRACE_MARK(kStage3);
  if (threadIdx.x == 0) *p.counter = 0u;  // every block has counted: safe to reset
}

}  // namespace

bool MoeRouteFusedSupported(const MoeRouteFusedParams& p) {
  const int32_t T = p.logits.tokens;
  return T >= 1 && T <= kFusedRoutingMaxTokens && p.counter != nullptr && p.routing.tokens == T &&
         p.routing.logits == p.logits.logits && p.routing.logits_stride == p.logits.logits_stride &&
         p.routing.num_experts == p.logits.num_experts &&
         p.align.num_experts == p.routing.num_experts && p.align.topk_ids == p.routing.topk_ids &&
         static_cast<int64_t>(p.align.num_pairs) == static_cast<int64_t>(T) * p.routing.top_k &&
         (!p.norm.weight ||
          (p.norm.h && p.logits.hidden <= kFusedRoutingNormMaxHidden && p.logits.num_experts > 0 &&
           NormRowsPerBlock(p) * p.logits.hidden * 2 <= kFusedRoutingNormMaxBytes));
}

cudaError_t LaunchMoeRouteFused(const MoeRouteFusedParams& p, cudaStream_t stream) {
  if (!MoeRouteFusedSupported(p) || CheckRouterLogits(p.logits) != cudaSuccess ||
      CheckMoeRouting(p.routing) != cudaSuccess || CheckMoeAlign(p.align) != cudaSuccess) {
    return cudaErrorInvalidValue;
  }
  const int64_t warps = static_cast<int64_t>(p.logits.tokens) * p.logits.num_experts;
  const unsigned blocks = static_cast<unsigned>((warps + kWarps - 1) / kWarps);
  const size_t smem =
      p.norm.weight ? static_cast<size_t>(NormRowsPerBlock(p) * p.logits.hidden * 2) : 0;
  if (p.norm.weight) {
    MoeRouteFusedKernel<true><<<blocks, kWarps * 32, smem, stream>>>(p);
  } else {
    MoeRouteFusedKernel<false><<<blocks, kWarps * 32, 0, stream>>>(p);
  }
  return cudaGetLastError();
}

}  // namespace sieve::cuda
