// Kernel for gemv_routed.h: router blocks first, then the GEMV's blocks (gemv.cuh).
//
// A router block takes the GEMV's steps up to the norm (its weights requested before the wait,
// the norm weights loaded, PdlLaunchDependents, PdlWait, NormRowsShort into shared memory) but
// writes neither h_out nor x; then each of its warps computes one expert's logit from the shared
// x (the fused routing's own-norm steps: the same bits), and the blocks count themselves as in
// fused_routing.cu. The GEMV blocks run GemvBlock with their own block numbers, so block 0 of the
// GEMV writes h_out and x as in LaunchGemv.
#include <cstdint>

#include "cuda/common/bf16x8.cuh"
#include "cuda/common/mma_sm80.cuh"
#include "cuda/common/pdl.cuh"
#include "cuda/gemm/gemv.cuh"
#include "cuda/moe/gemv_routed.h"
#include "cuda/moe/router_logits.cuh"
#include "cuda/moe/routing.cuh"
#include "cuda/norm/rms_norm.cuh"

namespace sieve::cuda {
namespace {

static_assert(kRouterWarpsPerBlock == gemv::kWarps, "router and GEMV blocks share the launch");
static_assert(kFusedRoutingOneTokenMaxExperts == 32 * kOneTokenSlots, "RouteAlignOneToken's");

// One warp per (token, expert) pair, as in the fused routing.
int64_t RouteBlocks(const MoeRouteFusedParams& r) {
  const int64_t pairs = static_cast<int64_t>(r.logits.tokens) * r.logits.num_experts;
  return (pairs + kRouterWarpsPerBlock - 1) / kRouterWarpsPerBlock;
}

// Bytes of dynamic shared memory per block: the normalised rows (bf16; GemvBlock's x) and, from
// the next 16-byte boundary, a router block's fp32 rows (one per warp).
__host__ __device__ inline int32_t XBytes(int32_t rows, int32_t k) {
  return (rows * k * 2 + 15) / 16 * 16;
}
size_t SmemBytes(int32_t rows, int32_t k) {
  return XBytes(rows, k) + static_cast<size_t>(kRouterWarpsPerBlock) * k * sizeof(float);
}

// Each warp's router row (expert w % E of its pair w) is copied into shared memory before the
// wait (16-byte cp.async, no registers held): afterwards the warp's logit reads it from there
// (RouterLogit<kSharedW>, the same sums), so the routing's chain after the wait is the norm, one
// pass over shared memory, the count and the last block's top-k, and it ends within the GEMV's
// stream (a first version reading the rows from L2, 4 float4 per lane in flight, ended ~2 us
// per layer after the GEMV: decoder-notes.md step 84). M: tokens (1: the last block routes in
// one warp's registers, RouteAlignOneToken; 2: RouteAlignTokens, routing.cuh).
template <int M, int kInFlight>
__device__ __forceinline__ void RouterBlock(const GemvParams& g, const MoeRouteFusedParams& r,
                                            unsigned route_blocks) {
  extern __shared__ uint4 smem[];  // [XBytes] the normalised rows, then the router rows
  __shared__ bool last;
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  const int32_t E = r.logits.num_experts;
  const int32_t w = blockIdx.x * kRouterWarpsPerBlock + warp;  // pairs <= 128 (supported)
  const bool mine = w < r.logits.tokens * E;
  const int32_t e = w % E;
  float* rows_s = reinterpret_cast<float*>(reinterpret_cast<char*>(smem) + XBytes(g.rows, g.k));
  float* row_s = rows_s + warp * g.k;
  if (mine) {
    const float* src = r.logits.w + static_cast<int64_t>(e) * r.logits.hidden;
    for (int32_t i = lane; i < r.logits.hidden / 4; i += 32) {
      CpAsync16Zfill(SharedAddress(row_s + 4 * i), src + 4 * i, true);
    }
  }
  asm volatile("cp.async.commit_group;\n" ::: "memory");
  float nw[kNormBatch];
  LoadNormWeights(g.norm.weight, threadIdx.x, gemv::kThreads, g.k, nw);
  PdlLaunchDependents();
  PdlWait();
  asm volatile("cp.async.wait_all;\n" ::: "memory");  // this warp's row; its own reads only
  __nv_bfloat16* x_s = reinterpret_cast<__nv_bfloat16*>(smem);
  gemv::NormRowsShort(g, x_s, nw, /*writer=*/false);
  if (mine) {
    RouterLogitsParams own = r.logits;
    own.x = x_s;
    own.x_stride = g.k;
    own.w = rows_s;
    RouterLogit<true, kInFlight, true>(own, w, 0, e - warp);  // expert e: row `warp` of rows_s
  }
  __threadfence();  // this block's logits are visible device-wide before it is counted
  __syncthreads();
  if (threadIdx.x == 0) last = atomicAdd(r.counter, 1u) == route_blocks - 1;
  __syncthreads();
  if (!last) return;
  __threadfence();
  if constexpr (M == 1) {
    if (warp != 0) return;
    RouteAlignOneToken(r.routing, r.align);
  } else {  // the fused routing's last block (routing.cuh), arrays sized for <= 64 experts
    constexpr int kExperts = kFusedRoutingOneTokenMaxExperts;
    __shared__ float scores_s[kRouterWarpsPerBlock][kExperts];
    __shared__ float group_s[kRouterWarpsPerBlock][kMaxGroups];
    __shared__ int32_t ids_s[kGemvDecoderMaxRows * kMaxTopK], counts[kExperts],
        offsets[kExperts + 1];
    RouteAlignTokens<kRouterWarpsPerBlock>(r.routing, r.align, &scores_s[0][0], kExperts,
                                           &group_s[0][0], ids_s, counts, offsets);
  }
  if (threadIdx.x == 0) *r.counter = 0u;  // every router block has counted: safe to reset
}

// M = 1: the GEMV's one-token fused-norm kernels (kUnroll, kMinBlocks as gemv.cu picks them);
// M = 2: its two-token kernel (both norm fronts, one block per SM).
template <int M, int kUnroll, int kMinBlocks>
__global__ void __launch_bounds__(gemv::kThreads, kMinBlocks)
    GemvRoutedKernel(GemvParams g, MoeRouteFusedParams r, unsigned route_blocks) {
  SIEVE_PDL_TRACE_SCOPE(pdl_trace::kGemvRouted);
  if (blockIdx.x < route_blocks) {
    RouterBlock<M, kUnroll <= 2 ? 4 : 8>(g, r, route_blocks);  // (shared memory: 4 in flight do)
    return;
  }
  constexpr int kNorm = M == 1 ? gemv::kShortNorm : gemv::kAnyNorm;
  gemv::GemvBlock<M, kNorm, kUnroll>(g, blockIdx.x - route_blocks);
}

}  // namespace

bool GemvRoutedSupported(const GemvParams& g, const MoeRouteFusedParams& r) {
  return GemvSupported(g) && g.norm.weight != nullptr && g.rows >= 1 &&
         g.rows <= kGemvDecoderMaxRows && Aligned16(r.logits.w) &&
         g.k <= gemv::kThreads * kNormBatch && MoeRouteFusedSupported(r) &&
         r.norm.weight == nullptr && r.logits.tokens == g.rows && r.logits.hidden == g.k &&
         r.routing.n_group <= 1 && r.logits.num_experts <= kFusedRoutingOneTokenMaxExperts;
}

cudaError_t LaunchGemvRouted(const GemvParams& g, const MoeRouteFusedParams& r, cudaStream_t stream,
                             bool pdl) {
  if (!GemvRoutedSupported(g, r) || CheckRouterLogits(r.logits) != cudaSuccess ||
      CheckMoeRouting(r.routing) != cudaSuccess || CheckMoeAlign(r.align) != cudaSuccess) {
    return cudaErrorInvalidValue;
  }
  const int64_t route_blocks = RouteBlocks(r);
  const int64_t blocks = GemvGridBlocks(g) + route_blocks;
  if (blocks > 0x7fffffff) return cudaErrorInvalidValue;
  int sms = 0;
  if (const cudaError_t err = CurrentDeviceSmCount(&sms); err != cudaSuccess) return err;
  const size_t smem = SmemBytes(g.rows, g.k);  // one token: <= 68 KB, three per SM still fit
  const unsigned grid = static_cast<unsigned>(blocks),
                 routers = static_cast<unsigned>(route_blocks);
  auto launch = [&](auto kernel) {
    if (smem > 48 * 1024) {
      const cudaError_t err = cudaFuncSetAttribute(
          kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(smem));
      if (err != cudaSuccess) return err;
    }
    return LaunchKernel(kernel, grid, gemv::kThreads, smem, stream, pdl, g, r, routers);
  };
  // LaunchGemv's choice for a fused-norm GEMV of this many blocks and tokens (gemv.cu): at one
  // token one wave of three blocks per SM where two per SM would take two waves.
  if (g.rows == 2) return launch(GemvRoutedKernel<2, 8, 0>);
  if (blocks > 2 * sms && blocks <= 3 * sms) return launch(GemvRoutedKernel<1, 2, 3>);
  return launch(GemvRoutedKernel<1, 8, 2>);
}

}  // namespace sieve::cuda
