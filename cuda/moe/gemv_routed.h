// The MoE routing of a decode step (1-2 tokens) inside the launch of the GEMV that normalises its
// input (issue 7: the shared experts' gate_up GEMV, gemv.h, whose RMSNorm produces the router's x).
//
// The launch computes exactly what LaunchGemv(gemv) followed by LaunchMoeRouteFused(route with
// its own norm over gemv.norm) computes, bit for bit: the GEMV's outputs (y, x_out, h_out) and the
// router logits, top-k ids and weights and the align tables. The grid is the GEMV's grid plus
// ceil(tokens x experts / 8) router blocks placed first: each normalises h + delta into shared
// memory with the GEMV's own steps (gemv.cuh), computes 8 (token, expert) logits from that x
// (router_logits.cuh; the router rows staged in shared memory before the wait), fences and counts
// itself on route.counter; the last one routes and groups the tokens (one token in one warp's
// registers, routing.cuh RouteAlignOneToken; two as the fused routing's last block does) and
// resets the counter (graphs replay the launch).
//
// Why: the routing then is final when the GEMV's grid completes, so the routed experts can follow
// this launch directly and the shared experts' down_proj can run beside them on a side stream;
// a separate routing kernel beside a one-wave GEMV is only placed as the GEMV's blocks leave
// (scripts/gpu/decoder-notes.md, steps 70, 82 and 84).
//
// Takes: gemv with a fused norm of 1-2 tokens (kGemvDecoderMaxRows) whose rows fit one norm batch
// per thread (k <= 2048); route of those tokens (hidden == gemv.k, 16-byte aligned router rows)
// with plain greedy routing over at most 64 experts, route.norm unset (the GEMV's norm is used);
// the parts' own checks. GemvRoutedSupported says whether a pair fits.
#ifndef SIEVE_CUDA_MOE_GEMV_ROUTED_H_
#define SIEVE_CUDA_MOE_GEMV_ROUTED_H_

#include <cuda_runtime.h>

#include "cuda/gemm/gemv.h"
#include "cuda/moe/fused_routing.h"

namespace sieve::cuda {

bool GemvRoutedSupported(const GemvParams& gemv, const MoeRouteFusedParams& route);

// Launches on `stream` (with `pdl` as LaunchGemv: weights and router rows requested before the
// wait for the previous kernel); cudaErrorInvalidValue when GemvRoutedSupported refuses or a
// part's own checks fail; never aborts.
cudaError_t LaunchGemvRouted(const GemvParams& gemv, const MoeRouteFusedParams& route,
                             cudaStream_t stream, bool pdl = false);

}  // namespace sieve::cuda

#endif  // SIEVE_CUDA_MOE_GEMV_ROUTED_H_
