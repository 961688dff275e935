// Router logits, routing and alignment in one launch for decode-sized steps (issue 7: the three
// separate launches cost ~20 us per MoE layer at batch 1, almost all of it latency).
//
// Computes exactly what LaunchRouterLogits, LaunchMoeRouting and LaunchMoeAlign compute in that
// order (router_logits.h, routing.h; the same device code and summation order, so the outputs are
// bit-identical): each block computes the logits of 8 (token, expert) pairs, one warp each;
// the last block to finish (a device-wide counter; __threadfence before the count) routes every
// token, one warp per token, and then groups the pairs by expert. It resets the counter, so the
// launch can be replayed from a CUDA graph. Runs for tokens <= kFusedRoutingMaxTokens (the last
// block routes them serially, 8 at a time); MoeRouteFusedSupported says whether a shape fits.
#ifndef SIEVE_CUDA_MOE_FUSED_ROUTING_H_
#define SIEVE_CUDA_MOE_FUSED_ROUTING_H_

#include <cuda_runtime.h>

#include <cstdint>

#include "cuda/moe/router_logits.h"
#include "cuda/moe/routing.h"

namespace sieve::cuda {

inline constexpr int32_t kFusedRoutingMaxTokens = 16;
// One token of plain greedy routing (n_group <= 1) over at most this many experts is routed and
// aligned in one warp's registers (routing.cuh RouteAlignOneToken: the batch-1 step); otherwise
// the shared-memory RouteToken. Either gives the same bits.
inline constexpr int32_t kFusedRoutingOneTokenMaxExperts = 64;
// The kernel's own norm (MoeRouteNorm) takes rows of up to 256 x 8 elements (one batch per
// thread, norm_row_short.cuh) and at most this many bytes of normalised rows per block.
inline constexpr int32_t kFusedRoutingNormMaxHidden = 2048;
inline constexpr int32_t kFusedRoutingNormMaxBytes = 16384;

// With weight set, the kernel computes the router's input itself: x = RMSNorm(h + delta) in bf16,
// each block for the tokens its warps take, with the steps and the 256 threads of the GEMV's fused
// norm (gemv.h GemvNorm, rows of up to 2048), so x is bit-identical to the x_out that GEMV writes
// and the logits to those from that x. logits.x is then not read. The decoder forks the routing
// right after the attention's output projection this way, before the GEMV that normalises.
struct MoeRouteNorm {
  const __nv_bfloat16* weight;  // [hidden] bf16 norm weight; null = read logits.x
  const float* h;               // [tokens, hidden] fp32 residual stream (rows hidden apart)
  const float* delta;           // [tokens, hidden] fp32 added to h first, or null
  float eps;
};

struct MoeRouteFusedParams {
  RouterLogitsParams logits;  // logits.logits is the scratch routing reads
  MoeRoutingParams routing;   // routing.logits / logits_stride / tokens must match `logits`
  MoeAlignParams align;       // align.topk_ids == routing.topk_ids, num_pairs = tokens * top_k
  uint32_t* counter;          // one device word, zero before the first launch; left zero
  MoeRouteNorm norm;          // optional (weight null: none)
};

// Whether the fused launch takes these params (tokens <= kFusedRoutingMaxTokens, the three parts
// consistent with each other, with a norm: h given, hidden <= kFusedRoutingNormMaxHidden and a
// block's rows within kFusedRoutingNormMaxBytes); the parts' own checks run in
// LaunchMoeRouteFused.
bool MoeRouteFusedSupported(const MoeRouteFusedParams& p);

// Launches on `stream`; cudaErrorInvalidValue when MoeRouteFusedSupported refuses or a part's
// own launcher would; never aborts.
cudaError_t LaunchMoeRouteFused(const MoeRouteFusedParams& p, cudaStream_t stream);

}  // namespace sieve::cuda

#endif  // SIEVE_CUDA_MOE_FUSED_ROUTING_H_
