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

int64_t RouteBlocks(const MoeRouteFusedParams& r) {
  return (static_cast<int64_t>(r.logits.num_experts) + kRouterWarpsPerBlock - 1) /
         kRouterWarpsPerBlock;
}

// Bytes of dynamic shared memory per block: the normalised row (bf16; GemvBlock's x) and, from
// the next 16-byte boundary, a router block's fp32 rows.
__host__ __device__ inline int32_t XBytes(int32_t k) { return (k * 2 + 15) / 16 * 16; }
size_t SmemBytes(int32_t k) {
  return XBytes(k) + static_cast<size_t>(kRouterWarpsPerBlock) * k * sizeof(float);
}

// The block's router rows (experts e0 .. e0 + 7, fewer in the last block) are copied into shared
// memory before the wait (16-byte cp.async, no registers held): afterwards each warp's logit
// reads them from there (RouterLogit<kSharedW>, the same sums), so the routing's chain after the
// wait is the norm, one pass over shared memory, the count and the last block's top-k, and it
// ends within the GEMV's stream instead of after it (a first version reading the rows from L2,
// 4 float4 per lane in flight, ended ~2 us per layer after the GEMV: decoder-notes.md step 84).
template <int kInFlight>
__device__ __forceinline__ void RouterBlock(const GemvParams& g, const MoeRouteFusedParams& r,
                                            unsigned route_blocks) {
  extern __shared__ uint4 smem[];  // [XBytes] the normalised row, then the router rows
  __shared__ bool last;
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  const int32_t e0 = blockIdx.x * kRouterWarpsPerBlock;  // experts <= 64 (GemvRoutedSupported)
  const int32_t experts = min(kRouterWarpsPerBlock, r.logits.num_experts - e0);
  float* w_s = reinterpret_cast<float*>(reinterpret_cast<char*>(smem) + XBytes(g.k));
  {
    const float* src = r.logits.w + static_cast<int64_t>(e0) * r.logits.hidden;
    const int32_t chunks = experts * r.logits.hidden / 4;
    for (int32_t i = threadIdx.x; i < chunks; i += blockDim.x) {
      CpAsync16Zfill(SharedAddress(w_s + 4 * i), src + 4 * i, true);
    }
    asm volatile("cp.async.commit_group;\n" ::: "memory");
  }
  float nw[kNormBatch];
  LoadNormWeights(g.norm.weight, threadIdx.x, gemv::kThreads, g.k, nw);
  PdlLaunchDependents();
  PdlWait();
  asm volatile("cp.async.wait_all;\n" ::: "memory");  // visible to all after the norm's barrier
  __nv_bfloat16* x_s = reinterpret_cast<__nv_bfloat16*>(smem);
  gemv::NormRowsShort(g, x_s, nw, /*writer=*/false);
  if (warp < experts) {
    RouterLogitsParams own = r.logits;
    own.x = x_s;
    own.x_stride = g.k;
    own.w = w_s;
    RouterLogit<true, kInFlight, true>(own, e0 + warp, 0, e0);
  }
  __threadfence();  // this block's logits are visible device-wide before it is counted
  __syncthreads();
  if (threadIdx.x == 0) last = atomicAdd(r.counter, 1u) == route_blocks - 1;
  __syncthreads();
  if (!last || warp != 0) return;
  __threadfence();
  RouteAlignOneToken(r.routing, r.align);
  if (lane == 0) *r.counter = 0u;  // every router block has counted: safe to reset
}

template <int kUnroll, int kMinBlocks>
__global__ void __launch_bounds__(gemv::kThreads, kMinBlocks)
    GemvRoutedKernel(GemvParams g, MoeRouteFusedParams r, unsigned route_blocks) {
  SIEVE_PDL_TRACE_SCOPE(pdl_trace::kGemvRouted);
  if (blockIdx.x < route_blocks) {
    RouterBlock<kUnroll <= 2 ? 4 : 8>(g, r, route_blocks);  // (shared memory: 4 in flight do)
    return;
  }
  gemv::GemvBlock<1, gemv::kShortNorm, kUnroll>(g, blockIdx.x - route_blocks);
}

}  // namespace

bool GemvRoutedSupported(const GemvParams& g, const MoeRouteFusedParams& r) {
  return GemvSupported(g) && g.norm.weight != nullptr && g.rows == 1 && Aligned16(r.logits.w) &&
         g.k <= gemv::kThreads * kNormBatch && MoeRouteFusedSupported(r) &&
         r.norm.weight == nullptr && r.logits.tokens == 1 && r.logits.hidden == g.k &&
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
  const size_t smem = SmemBytes(g.k);  // <= 68 KB: three blocks per SM still fit
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
  // LaunchGemv's choice for a one-token fused-norm GEMV of this many blocks (gemv.cu): one wave
  // of three blocks per SM where two per SM would take two waves.
  if (blocks > 2 * sms && blocks <= 3 * sms) return launch(GemvRoutedKernel<2, 3>);
  return launch(GemvRoutedKernel<8, 2>);
}

}  // namespace sieve::cuda
