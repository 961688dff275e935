// Kernel for the split-KV combine behind LaunchMlaDecode (mla_decode.h).
#include <algorithm>
#include <cmath>

#include "cuda/attention/mla_combine.h"
#include "cuda/common/device_utils.cuh"
#include "cuda/common/pdl.cuh"

namespace sieve::cuda {
namespace {

// One block per (row, head): o = sum_s w_s o_s / sum_s w_s, w_s = exp(lse_s - max_s lse_s).
// The weights go to shared memory once. The block's 512 threads form kCombineGroups groups of
// 128; group g sums splits g, g + 4, g + 8, ... (group 0 also the last splits % 4) for 4 adjacent
// latent columns per thread (one 16-byte load per split: kv_lora is a multiple of 8 and partial
// rows start 16-byte aligned), kCombineInFlight splits' loads in flight, and the four group sums
// meet in shared memory as (g0 + g1) + (g2 + g3): the summation order of the first version (one
// thread per column, four partial sums by split mod 4), so results are unchanged while a row costs
// ~splits / 32 memory latencies instead of one per 4 splits (the combine was ~17-30 us per layer
// at batch 1 under ncu: latency-bound, the partials being ~2 MB). With few (row, head) pairs
// (batch 1: 16) the columns are also split over blockIdx.z (up to kCombineColumnBlocks blocks of
// 32 float4 columns each), so ~64 SMs instead of 16 pull the partials; each column's sums are
// the same.
// kEarly (launched where each group has at most kCombineEarlyLanes columns: batch 1-2): each
// thread's partials of its first kCombineEarly splits are copied into shared memory (cp.async)
// right after PdlWait, beside the lse reads (issued first, by the threads that copy nothing:
// session 12 measured the weights waiting ~0.4 us less than with the lse loads behind the
// copies), before the weights and their barriers, which the copies do not depend on: the row
// then costs one or two memory latencies less (issue 7, session 11: the combine was ~5 us busy
// per layer at batch 1, a chain of lse load -> weights -> three rounds of partial loads for group
// 0's 17 splits). Shared memory, not registers: holding them in registers took 128 registers per
// thread (one block of 512 per SM, so fewer blocks placed early by PDL) and made the step slower.
// The sums take the same values in the same order: bit for bit the kernel without it
// (tests/cuda/mla_attention_test.cc).
constexpr int kCombineGroups = 4;
constexpr int kCombineGroupThreads = 128;
constexpr int kCombineThreads = kCombineGroups * kCombineGroupThreads;
constexpr int kCombineInFlight = 8;
constexpr int kCombineEarly = 17;       // batch 1, context 4096 + steps: 65 splits, 17 in group 0
constexpr int kCombineEarlyLanes = 32;  // live threads per group the early copies serve
constexpr int kCombineColumnBlocks = 4;    // most column blocks per (row, head)
constexpr int kCombineTargetBlocks = 128;  // column blocks are added while below this many blocks

// The split group `group` sums as its j-th: group, group + 4, ... < n4, then (group 0) n4 .. n - 1.
__device__ __forceinline__ int CombineSplit(int j, int group, int n4) {
  return j * kCombineGroups + group < n4 ? j * kCombineGroups + group
                                         : n4 + (j - n4 / kCombineGroups);
}

template <bool kEarly>
__global__ void __launch_bounds__(kCombineThreads) MlaCombineKernel(MlaDecodeParams p) {
  SIEVE_PDL_TRACE_SCOPE(pdl_trace::kMlaCombine);
  __shared__ float w_s[kMlaMaxSplits];
  __shared__ float stat[2];
  __shared__ float4 part[kCombineGroups][kCombineGroupThreads];
  // kEarly: [group][split j < kCombineEarly][lane4 < kCombineEarlyLanes], 34,816 bytes.
  __shared__ float4 early_s[kEarly ? kCombineGroups * kCombineEarly * kCombineEarlyLanes : 1];
  const int b = blockIdx.x, h = blockIdx.y;
  PdlLaunchDependents();
  PdlWait();  // launched with PDL: the split kernel's partials are final from here
  const int64_t stride = static_cast<int64_t>(p.batch) * p.heads;  // between splits
  const int64_t at = static_cast<int64_t>(b) * p.heads + h;
  const int n = p.num_splits;
  const int group = threadIdx.x / kCombineGroupThreads;
  const int lane4 = threadIdx.x % kCombineGroupThreads;
  const float4* base = reinterpret_cast<const float4*>(p.partial_out + at * p.kv_lora);
  const int64_t split_stride4 = stride * p.kv_lora / 4;  // float4s between splits
  const int n4 = n - n % kCombineGroups;                 // splits summed round-robin
  // This block's float4 columns [c_begin, c_end).
  const int kv4 = p.kv_lora / 4, span = (kv4 + gridDim.z - 1) / gridDim.z;
  const int c_begin = blockIdx.z * span, c_end = min(kv4, c_begin + span);
  // This group's splits (CombineSplit order).
  const int count = (n4 - group + kCombineGroups - 1) / kCombineGroups + (group == 0 ? n - n4 : 0);
  // kEarly: the lse values are requested first, by the threads that copy no partials (lanes >=
  // kCombineEarlyLanes of each group; the copying lanes take slots past those), so that their
  // round trip, which the weights wait for, does not queue behind the copies on the SM. The same
  // values land in w_s either way.
  const int lse_slot =
      !kEarly ? static_cast<int>(threadIdx.x)
      : lane4 >= kCombineEarlyLanes
          ? group * (kCombineGroupThreads - kCombineEarlyLanes) + lane4 - kCombineEarlyLanes
          : kCombineGroups * (kCombineGroupThreads - kCombineEarlyLanes) +
                group * kCombineEarlyLanes + lane4;
  for (int s = lse_slot; s < n; s += kCombineThreads) w_s[s] = p.partial_lse[s * stride + at];
  if constexpr (kEarly) {  // span <= kCombineEarlyLanes: one column chunk, lanes >= 32 idle
    if (lane4 < kCombineEarlyLanes && c_begin + lane4 < c_end) {
#pragma unroll
      for (int u = 0; u < kCombineEarly; ++u) {
        if (u >= count) break;
        const float4* src = base + CombineSplit(u, group, n4) * split_stride4 + c_begin + lane4;
        const uint32_t dst =
            SmemAddr(&early_s[(group * kCombineEarly + u) * kCombineEarlyLanes + lane4]);
        asm volatile("cp.async.cg.shared.global [%0], [%1], 16;\n" ::"r"(dst), "l"(src)
                     : "memory");
      }
    }
    asm volatile("cp.async.commit_group;\n" ::: "memory");
  }
  __syncthreads();
  if (threadIdx.x < 32) {
    float big = -INFINITY;
    for (int s = threadIdx.x; s < n; s += 32) big = fmaxf(big, w_s[s]);
    big = WarpMax(big);
    float total = 0.0f;
    for (int s = threadIdx.x; s < n; s += 32) {
      total += w_s[s] == -INFINITY ? 0.0f : expf(w_s[s] - big);
    }
    total = WarpSum(total);
    if (threadIdx.x == 0) {
      stat[0] = big;
      stat[1] = total;
    }
  }
  __syncthreads();
  const float big = stat[0], total = stat[1];
  for (int s = threadIdx.x; s < n; s += kCombineThreads) {
    w_s[s] = w_s[s] == -INFINITY || total <= 0.0f ? 0.0f : expf(w_s[s] - big) / total;
  }
  __syncthreads();
  SIEVE_PDL_TRACE_MARK(kStage0);  // weights ready (trace builds only)
  __nv_bfloat16* out = p.out + b * p.out_batch_stride + h * p.out_head_stride;
  for (int c0 = c_begin; c0 < c_end; c0 += kCombineGroupThreads) {  // uniform trip count
    const int c4 = c0 + lane4;
    const bool live = c4 < c_end;
    float4 acc = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
    int j_begin = 0;  // first split (CombineSplit order) still to load
    if constexpr (kEarly) {
      if (c0 == c_begin) {  // the only chunk (span <= kCombineEarlyLanes)
        // This thread's own copies are visible to it after the wait (no barrier needed).
        asm volatile("cp.async.wait_all;\n" ::: "memory");
        for (int u = 0; live && u < kCombineEarly && u < count; ++u) {
          const float w = w_s[CombineSplit(u, group, n4)];
          const float4 v = early_s[(group * kCombineEarly + u) * kCombineEarlyLanes + lane4];
          acc.x += w * v.x;
          acc.y += w * v.y;
          acc.z += w * v.z;
          acc.w += w * v.w;
        }
        j_begin = kCombineEarly;
      }
    }
    for (int j0 = j_begin; live && j0 < count; j0 += kCombineInFlight) {
      float4 v[kCombineInFlight];
#pragma unroll
      for (int u = 0; u < kCombineInFlight; ++u) {
        const int j = j0 + u;
        v[u] = j < count ? __ldcg(base + CombineSplit(j, group, n4) * split_stride4 + c4)
                         : make_float4(0.0f, 0.0f, 0.0f, 0.0f);
      }
#pragma unroll
      for (int u = 0; u < kCombineInFlight; ++u) {
        const int j = j0 + u;
        if (j >= count) break;
        const float w = w_s[CombineSplit(j, group, n4)];
        acc.x += w * v[u].x;
        acc.y += w * v[u].y;
        acc.z += w * v[u].z;
        acc.w += w * v[u].w;
      }
    }
    SIEVE_PDL_TRACE_MARK(kStage1);  // this thread's sums done
    part[group][lane4] = acc;
    __syncthreads();
    if (group == 0 && live) {
      const float4 a0 = part[0][lane4], a1 = part[1][lane4], a2 = part[2][lane4],
                   a3 = part[3][lane4];
      out[4 * c4 + 0] = __float2bfloat16_rn((a0.x + a1.x) + (a2.x + a3.x));
      out[4 * c4 + 1] = __float2bfloat16_rn((a0.y + a1.y) + (a2.y + a3.y));
      out[4 * c4 + 2] = __float2bfloat16_rn((a0.z + a1.z) + (a2.z + a3.z));
      out[4 * c4 + 3] = __float2bfloat16_rn((a0.w + a1.w) + (a2.w + a3.w));
    }
    __syncthreads();  // part is rewritten by the next column chunk
  }
  if (p.lse && threadIdx.x == 0 && blockIdx.z == 0) {
    p.lse[at] = total > 0.0f ? big + logf(total) : -INFINITY;
  }
}


}  // namespace

cudaError_t LaunchMlaCombine(const MlaDecodeParams& p, cudaStream_t stream, bool pdl, bool early) {
  const int64_t pairs = static_cast<int64_t>(p.batch) * p.heads;
  const int col_blocks = static_cast<int>(std::max<int64_t>(
      1, std::min<int64_t>({kCombineColumnBlocks, p.kv_lora / 128, kCombineTargetBlocks / pairs})));
  const int span = (p.kv_lora / 4 + col_blocks - 1) / col_blocks;  // float4 columns per block
  early = early && span <= kCombineEarlyLanes;
  return LaunchKernel(early ? MlaCombineKernel<true> : MlaCombineKernel<false>,
                      dim3(p.batch, p.heads, col_blocks), kCombineThreads, 0, stream, pdl, p);
}

}  // namespace sieve::cuda
