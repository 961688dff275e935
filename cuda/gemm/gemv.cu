// Kernel and launcher for gemv.h; the device code is gemv.cuh (one warp per pair of weight rows,
// 16-byte streaming loads, fp32 sums in a fixed order).
#include <cstdint>
#include <type_traits>

#include "cuda/common/bf16x8.cuh"
#include "cuda/common/pdl.cuh"
#include "cuda/gemm/gemv.cuh"
#include "cuda/gemm/gemv.h"
#include "cuda/norm/rms_norm.cuh"

namespace sieve::cuda {
namespace {

using gemv::kAnyNorm;
using gemv::kLongNorm;
using gemv::kNoNorm;
using gemv::kShortNorm;
using gemv::kThreads;
using gemv::kWarps;

// kMinBlocks: the fused-norm kernels ask for two blocks per SM (<= 128 registers; a batch-1 q_proj
// + kv_a GEMV, 228 blocks, takes two waves with one block per SM) except at M = 2 (kAnyNorm, 165
// registers, one block). Without the norm (93-117 registers) nothing is asked (0). The launcher's
// one-wave variant asks for three blocks with fewer chunks in flight.
template <int M, int kNorm, int kUnroll = (M <= 2 ? 8 : 4),
          int kMinBlocks = (kNorm == kNoNorm || M == 2) ? 0 : 2>
__global__ void __launch_bounds__(kThreads, kMinBlocks) GemvKernel(GemvParams p) {
  SIEVE_PDL_TRACE_SCOPE(kNorm ? pdl_trace::kGemvNorm : pdl_trace::kGemv);
  gemv::GemvBlock<M, kNorm, kUnroll>(p, blockIdx.x);
}

}  // namespace

bool GemvSupported(const GemvParams& p) {
  if (p.rows < 1 || p.rows > kGemvMaxRows || p.k <= 0 || p.k % 8 != 0 || !p.x || !Aligned16(p.x) ||
      p.ldx < p.k || p.ldx % 8 != 0 || p.segments < 1 || p.segments > kGemvMaxSegments ||
      (p.silu_mul && p.segments != 1)) {
    return false;
  }
  for (int s = 0; s < p.segments; ++s) {
    const GemvSegment& g = p.seg[s];
    if (!g.w || !Aligned16(g.w) || g.n <= 0 || !g.y || g.ldy < g.n) return false;
    if (g.accumulate && (g.y_bf16 || p.silu_mul || p.norm.weight)) return false;
  }
  const GemvNorm& n = p.norm;
  if (n.weight && (!n.h || static_cast<int64_t>(p.rows) * p.k > kGemvMaxNormElements ||
                   (n.h_out && (n.h_out == n.h || n.h_out == n.delta)) || (!n.h_out && n.delta))) {
    return false;  // h + delta must land somewhere, and not where other blocks still read
  }
  return true;
}

int64_t GemvGridBlocks(const GemvParams& p) {
  const int64_t warps =
      p.silu_mul ? p.seg[0].n
                 : (static_cast<int64_t>(p.seg[0].n) + (p.segments > 1 ? p.seg[1].n : 0) + 1) / 2;
  return (warps + kWarps - 1) / kWarps;
}

cudaError_t LaunchGemv(const GemvParams& p, cudaStream_t stream, bool pdl) {
  if (!GemvSupported(p)) return cudaErrorInvalidValue;
  const int64_t blocks = GemvGridBlocks(p);
  if (blocks > 0x7fffffff) return cudaErrorInvalidValue;
  const unsigned grid = static_cast<unsigned>(blocks);
  const bool norm = p.norm.weight != nullptr;
  const size_t smem = norm ? static_cast<size_t>(p.rows) * p.k * sizeof(__nv_bfloat16) : 0;
  auto launch = [&](auto kernel) {
    return LaunchKernel(kernel, grid, kThreads, smem, stream, pdl, p);
  };
  // The norm's kind is a template argument: the one-batch norm alone needs fewer registers than
  // a kernel holding both. With both, the batch-1 fused-norm GEMV spilled 30 bytes per thread, and
  // the spilled lines' write-back cost ~3 us per V2-Lite layer, most of it in the routed experts'
  // stage that followed (decoder-notes.md, session 16): keep these kernels free of spills
  // (nvcc -Xptxas -v).
  const bool short_norm = p.k <= kThreads * kNormBatch;
  // At M = 2 the kernel keeps both norm fronts (kAnyNorm): the short one alone was capped at 128
  // registers and spilled, and bounded to one block (157 registers, no spills) it ran batch-2
  // steps 0.07 ms slower in the graph (session 16); kAnyNorm is the code batch 2 had before.
  auto launch_rows = [&](auto rows) {
    constexpr int kM = decltype(rows)::value;
    if (!norm) return launch(GemvKernel<kM, kNoNorm>);
    if constexpr (kM == 2) {
      return launch(GemvKernel<2, kAnyNorm>);
    } else {
      return short_norm ? launch(GemvKernel<kM, kShortNorm>) : launch(GemvKernel<kM, kLongNorm>);
    }
  };
  if (p.rows == 1) {
    int sms = 0;
    if (const cudaError_t err = CurrentDeviceSmCount(&sms); err != cudaSuccess) return err;
    // One wave instead of two (V2-Lite's shared gate_up at batch 1: 352 blocks, 264 places at two
    // per SM): three blocks per SM with 2 chunks per row in flight (79 registers, no spills; 4
    // chunks spilled), four round trips per warp. The chunks are summed in the same order, so the
    // results are the same bits. Measured on the H100: scripts/gpu/decoder-notes.md, session 16.
    if (norm && short_norm && blocks > 2 * sms && blocks <= 3 * sms) {
      return launch(GemvKernel<1, kShortNorm, 2, 3>);
    }
    return launch_rows(std::integral_constant<int, 1>());
  }
  if (p.rows == 2) return launch_rows(std::integral_constant<int, 2>());
  if (p.rows <= 4) return launch_rows(std::integral_constant<int, 4>());
  return launch_rows(std::integral_constant<int, 8>());
}

}  // namespace sieve::cuda
