// The MoE router projection in fp32: logits[t, e] = sum_k x[t, k] * w[e, k].
//
// DeepSeek computes the router in fp32 (`x.float() @ W.float().T`, reference/deepseek-v2.md §3.1)
// because top-k over nearly equal softmax scores is sensitive to rounding; a bf16 GEMM would flip
// more near-tie expert choices. The weight stays fp32 on the device (64 x 2048 x 4 B = 0.5 MB per
// V2-Lite layer; exact for bf16 checkpoints), x is the bf16 normalised hidden state every other
// projection reads, and the products accumulate in fp32. Below kRouterTiledMinTokens tokens one
// warp per (token, expert), lanes striding the hidden dimension (the fused routing's form, the
// same sums); from there tiles of 64 tokens x 64 experts through shared memory (prompt chunks).
#ifndef SIEVE_CUDA_MOE_ROUTER_LOGITS_H_
#define SIEVE_CUDA_MOE_ROUTER_LOGITS_H_

#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <cstdint>

namespace sieve::cuda {

struct RouterLogitsParams {
  const __nv_bfloat16* x;  // [tokens, x_stride] bf16 normalised hidden states
  int64_t x_stride;        // elements between tokens (>= hidden)
  const float* w;          // [num_experts, hidden] fp32 router weight (mlp.gate.weight)
  float* logits;           // [tokens, logits_stride] fp32
  int64_t logits_stride;   // elements between tokens (>= num_experts)
  int32_t tokens;
  int32_t num_experts;
  int32_t hidden;
};

// The tiled form runs ceil(tokens / 64) blocks of ~0.17 ms each on the H100 (V2-Lite widths), so
// below ~2048 tokens the warps, however much L2 traffic they make, finish first (a threshold of
// 64 put the batch-64 decode step at 22.4 ms instead of 16.3: one block per layer).
inline constexpr int32_t kRouterTiledMinTokens = 2048;

// Launches on `stream`; cudaErrorInvalidValue for a bad shape or null pointer; never aborts.
cudaError_t LaunchRouterLogits(const RouterLogitsParams& p, cudaStream_t stream);
// The launcher's argument checks alone (cudaSuccess or cudaErrorInvalidValue), for fused launches.
cudaError_t CheckRouterLogits(const RouterLogitsParams& p);

}  // namespace sieve::cuda

#endif  // SIEVE_CUDA_MOE_ROUTER_LOGITS_H_
