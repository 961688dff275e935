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

struct MoeRouteFusedParams {
  RouterLogitsParams logits;  // logits.logits is the scratch routing reads
  MoeRoutingParams routing;   // routing.logits / logits_stride / tokens must match `logits`
  MoeAlignParams align;       // align.topk_ids == routing.topk_ids, num_pairs = tokens * top_k
  uint32_t* counter;          // one device word, zero before the first launch; left zero
};

// Whether the fused launch takes these params (tokens <= kFusedRoutingMaxTokens and the three
// parts consistent with each other); the parts' own checks run in LaunchMoeRouteFused.
bool MoeRouteFusedSupported(const MoeRouteFusedParams& p);

// Launches on `stream`; cudaErrorInvalidValue when MoeRouteFusedSupported refuses or a part's
// own launcher would; never aborts.
cudaError_t LaunchMoeRouteFused(const MoeRouteFusedParams& p, cudaStream_t stream);

}  // namespace sieve::cuda

#endif  // SIEVE_CUDA_MOE_FUSED_ROUTING_H_
