// HBM read ceiling vs the routed experts at batch 1 (issue 7, session 9). The batch-1 expert
// kernels (cuda/moe/expert_ffn.h: gate/up, then down + combine) read 104 MB per V2-Lite layer at
// ~2.3 TB/s (gate/up) and ~1.8 TB/s (down) under Nsight Compute, and neither a deeper cp.async
// ring, bulk copies, 512-byte pieces nor aligned lines moved that (scripts/gpu/decoder-notes.md).
// This program measures, in one run, what a plain read of HBM reaches on the card, so the
// experts' rate has a read baseline next to the copy baseline the issue's floor uses:
//   BM_ReadStream/0: every SM full (8 blocks of 256 threads), 8 independent 16-byte loads per
//                    thread in flight: the card's read ceiling;
//   BM_ReadStream/1: one block of 256 threads per SM, 24 loads per thread in flight (96 KB per
//                    SM, the expert gate/up ring's depth): what that shape of kernel can read;
//   BM_CopyBaseline: cudaMemcpy device to device, bytes read + written (the issue's 3.0 TB/s);
//   BM_ExpertFfnBatch1: LaunchExpertFfn at one token, six of 64 V2-Lite experts (2048 x 1408),
//                    gate/up then down + combine, plain launches; bytes = the six experts'
//                    weights; argument: launches per timed group, as BM_DownShapeRead's second;
//   BM_DownShapeRead: the down + combine kernel's 34.6 MB read in its shape, without its math
//                    (second round; two blocks per SM and 16 warps per block: third round);
//   BM_ExpertsShapeRead: the gate/up kernel's 69.2 MB read in its shape, and gate/up + down as
//                    two launches vs one persistent launch (third round; below).
//   BM_SharedBesideRouted: a batch-1 MoE layer's 138 MB (the shared experts' two GEMVs, 34.6
//                    MB, and the six routed experts, 104 MB), the shared GEMVs before the routed
//                    experts on one stream (/0) or beside them on a second stream (/1; session
//                    16: whether two streams read faster together than one after the other).
// Every launch reads bytes no launch before it touched recently (buffers rotate over >= 1 GB;
// the experts over sets of six), so the 50 MB L2 does not serve them. Values are pseudo-random
// (a hash of the index), never zeros. CUDA events around each launch or group of launches
// (manual time); a benchmark: it never asserts, a CUDA error skips the benchmark with the message.
//   build-gpu/bench/gpu_read_bench --benchmark_repetitions=5
//   --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <numeric>
#include <random>
#include <vector>

#include "cuda/gemm/gemv.h"
#include "cuda/moe/expert_ffn.h"

namespace {

constexpr int64_t kReadBytes = 256ll << 20;  // per read launch
constexpr int kReadBuffers = 6;              // 1.5 GB rotated
constexpr int kHidden = 2048, kInter = 1408, kExperts = 64, kTopK = 6;

// Pseudo-random bits (splitmix64 of the index) as bf16 values of modest size: sign, exponent
// 120..127, random mantissa.
__global__ void FillKernel(uint16_t* p, int64_t n, uint64_t seed) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    uint64_t z = seed + static_cast<uint64_t>(i) * 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    const uint32_t exponent = 120u + static_cast<uint32_t>(z & 7u);
    p[i] = static_cast<uint16_t>(((z >> 8) & 0x8000u) | (exponent << 7) | ((z >> 16) & 0x7fu));
  }
}

cudaError_t Fill(void* p, int64_t bytes, uint64_t seed) {
  FillKernel<<<1024, 256>>>(static_cast<uint16_t*>(p), bytes / 2, seed);
  return cudaGetLastError();
}

// Reads n16 16-byte words, kUnroll independent loads per thread per round; the xor of everything
// goes to *sink only when it matches a value it never has, so the loads stay.
template <int kUnroll>
__global__ void ReadKernel(const uint4* __restrict__ src, int64_t n16, uint32_t* sink) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  uint32_t acc = 0;
  for (; i + (kUnroll - 1) * stride < n16; i += kUnroll * stride) {
    uint4 v[kUnroll];
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) v[u] = __ldcs(src + i + u * stride);
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) acc ^= v[u].x ^ v[u].y ^ v[u].z ^ v[u].w;
  }
  for (; i < n16; i += stride) {
    const uint4 v = __ldcs(src + i);
    acc ^= v.x ^ v.y ^ v.z ^ v.w;
  }
  if (acc == 0x9e3779b9u) atomicAdd(sink, 1u);
}

// Events around each group of `per` launches (1: one launch, whose time then also holds the
// host's launch latency, the card being idle at the first event; more: launches back to back, as
// in a decode step); the iteration time is the group's, counter launch_us the mean per launch
// (callers count per launches' bytes per iteration). `index` rotates over the caller's buffers.
template <typename Launch>
void TimeLaunches(benchmark::State& state, int rotation, Launch launch, int per = 1) {
  cudaEvent_t start, stop;
  if (cudaEventCreate(&start) != cudaSuccess || cudaEventCreate(&stop) != cudaSuccess) {
    state.SkipWithError("cudaEventCreate failed");
    return;
  }
  int index = 0;
  double total_ms = 0.0;
  for (int w = 0; w < 3; ++w) launch((index++) % rotation);
  for (auto _ : state) {
    cudaEventRecord(start);
    cudaError_t err = cudaSuccess;
    for (int k = 0; k < per && err == cudaSuccess; ++k) err = launch((index++) % rotation);
    cudaEventRecord(stop);
    if (err != cudaSuccess || cudaEventSynchronize(stop) != cudaSuccess) {
      state.SkipWithError(cudaGetErrorString(err != cudaSuccess ? err : cudaGetLastError()));
      break;
    }
    float ms = 0.0f;
    cudaEventElapsedTime(&ms, start, stop);
    state.SetIterationTime(ms * 1e-3);
    total_ms += ms;
  }
  if (state.iterations() > 0) {
    state.counters["launch_us"] = total_ms * 1e3 / (static_cast<double>(state.iterations()) * per);
  }
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
}

int SmCount() {
  int device = 0, sms = 0;
  if (cudaGetDevice(&device) != cudaSuccess ||
      cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device) != cudaSuccess) {
    return 0;
  }
  return sms;
}

void BM_ReadStream(benchmark::State& state) {
  const bool one_block = state.range(0) == 1;
  const int sms = SmCount();
  std::vector<void*> bufs(kReadBuffers, nullptr);
  uint32_t* sink = nullptr;
  bool ok = sms > 0 && cudaMalloc(&sink, sizeof(uint32_t)) == cudaSuccess;
  for (int b = 0; ok && b < kReadBuffers; ++b) {
    ok = cudaMalloc(&bufs[b], kReadBytes) == cudaSuccess &&
         Fill(bufs[b], kReadBytes, b) == cudaSuccess;
  }
  if (ok && cudaDeviceSynchronize() == cudaSuccess) {
    const int64_t n16 = kReadBytes / 16;
    TimeLaunches(state, kReadBuffers, [&](int b) {
      const uint4* src = static_cast<const uint4*>(bufs[b]);
      if (one_block) {
        ReadKernel<24><<<sms, 256>>>(src, n16, sink);
      } else {
        ReadKernel<8><<<sms * 8, 256>>>(src, n16, sink);
      }
      return cudaGetLastError();
    });
    state.SetBytesProcessed(state.iterations() * kReadBytes);
  } else {
    state.SkipWithError("cudaMalloc / fill failed");
  }
  for (void* b : bufs) cudaFree(b);
  cudaFree(sink);
}
BENCHMARK(BM_ReadStream)->Arg(0)->Arg(1)->UseManualTime()->Unit(benchmark::kMicrosecond);

// ---- the down + combine kernel's read, without its math (issue 7, session 9, second round) ---
// DownCombineKernel at one token reads 6 experts x 2048 rows x 2816 bytes = 34.6 MB as 384 items
// (16-row unit, pass of two experts: 90,112 bytes), three per block, through an 8-stage cp.async
// ring of 16 KB weight stages (the last of each item's six stages half full), one block of 256
// threads per SM, a block barrier per stage. BM_DownShapeRead copies exactly those bytes in that
// shape and only xors them, so its time is what that read pattern costs on the card:
//   /0: static, 128 blocks, item i on block i % 128 (the down kernel's partition);
//   /1: dynamic, one block per SM, items of 90 KB taken from a global counter;
//   /2: dynamic, one block per SM, items of 45 KB (one expert's 16 rows);
//   /3: the plain full-occupancy read (ReadKernel<8>, 8 blocks per SM) of the same 34.6 MB;
//   /4 (third round): two blocks per SM (256 blocks), each a 4-stage ring of 16 KB (the same
//      bytes in flight per SM but two barrier domains), items of 45 KB, three per block;
//   /5 (third round): the down's shape with 16 warps per block (512 threads: 2 of a 16 KB
//      stage's 1,024 copies per thread instead of 4), 128 blocks, 8-stage ring;
// second argument: launches per timed group (1: the host's launch latency included; 16: back to
// back, the card's time per launch).
// Counters (ring modes, from the last launch's %globaltimer per block): block_med_us /
// block_max_us (entry to exit), span_us (first entry to last exit).
constexpr int kDownItemBytes = 2 * 16 * kInter * 2;                 // 90,112
constexpr int kDownItems = kTopK / 2 * (kHidden / 16);              // 384
constexpr int64_t kDownBytes = int64_t{kDownItems} * kDownItemBytes;  // 34.6 MB
constexpr int kRingStage16 = 1024;  // 16-byte words per stage (16 KB), 4 per thread
constexpr int kMaxTimedBlocks = 1024;

__device__ __forceinline__ uint64_t NowNs() {
  uint64_t ns;
  asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(ns));
  return ns;
}

__device__ __forceinline__ void RingCopy16(void* dst, const void* src) {
  const unsigned d = static_cast<unsigned>(__cvta_generic_to_shared(dst));
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16;\n" ::"r"(d), "l"(src));
}

// Items of item16 16-byte words each from src; static: item blockIdx.x + k gridDim.x; dynamic:
// atomicAdd(ctr) - base, thread 0 taking the next item's index when the loader starts an item and
// publishing it (read by all behind the next barrier) when the loader reaches that item's last
// stage, so the atomic's round trip overlaps a whole item (items span >= 2 stages: one publish
// per item, read before the next). Block entry and exit (%globaltimer) go to times[2 b ..].
// Template: threads per block, ring stages, blocks per SM the registers must allow (third round:
// <256, 8, 1> is the down's shape, <256, 4, 2> two rings per SM, <512, 8, 1> 16 warps).
template <int kThreads, int kStages, int kMinBlocks>
__global__ void __launch_bounds__(kThreads, kMinBlocks)
    RingReadKernel(const uint4* __restrict__ src, int items, int item16, bool dynamic,
                   unsigned long long* ctr, unsigned long long base, uint32_t* sink,
                   uint64_t* times) {
  extern __shared__ uint4 ring[];  // kStages x kRingStage16
  __shared__ int published;
  const uint64_t t0 = NowNs();
  const int tid = threadIdx.x;
  const int stages_per_item = (item16 + kRingStage16 - 1) / kRingStage16;
  int item = blockIdx.x, stage = 0;  // the loader's cursor
  unsigned long long pending = 0;
  if (dynamic) {
    if (tid == 0) published = static_cast<int>(atomicAdd(ctr, 1ull) - base);
    __syncthreads();
    item = published;
  }
  int issued = 0;  // stages issued so far (block-uniform)
  auto issue = [&](int slot) {
    if (item < 0) item = published;  // behind a barrier since the last publish
    if (item >= items) return;
    if (dynamic && tid == 0 && stage == 0) pending = atomicAdd(ctr, 1ull) - base;
    const int w0 = stage * kRingStage16;
    const int n16 = min(kRingStage16, item16 - w0);
    const uint4* s = src + static_cast<int64_t>(item) * item16 + w0;
    uint4* d = ring + slot * kRingStage16;
    for (int w = tid; w < n16; w += kThreads) RingCopy16(d + w, s + w);
    if (dynamic && tid == 0 && stage == stages_per_item - 1) published = static_cast<int>(pending);
    ++issued;
    if (++stage < stages_per_item) return;
    stage = 0;
    item = dynamic ? -1 : item + static_cast<int>(gridDim.x);
  };
  __syncthreads();  // every thread read the first `published` before thread 0 writes it again
  for (int i = 0; i < kStages - 1; ++i) {
    __syncthreads();  // a publish of the previous iteration is visible
    issue(i);
    asm volatile("cp.async.commit_group;\n" ::);
  }
  uint32_t acc = 0;
  // Group `it` (stage it) is complete once at most kStages - 2 later groups are pending;
  // empty groups are committed once the loader is done, so the count holds to the end.
  for (int it = 0; it < issued; ++it) {
    asm volatile("cp.async.wait_group %0;\n" ::"n"(kStages - 2));
    __syncthreads();  // stage it visible to all; the slot refilled below was consumed
    issue((it + kStages - 1) % kStages);
    asm volatile("cp.async.commit_group;\n" ::);
    const uint4* slot = ring + (it % kStages) * kRingStage16;
    for (int w = tid; w < kRingStage16; w += kThreads) {
      const uint4 v = slot[w];
      acc ^= v.x ^ v.y ^ v.z ^ v.w;
    }
  }
  asm volatile("cp.async.wait_group 0;\n" ::);
  if (acc == 0x9e3779b9u) atomicAdd(sink, 1u);
  __syncthreads();
  if (tid == 0) {
    times[2 * blockIdx.x] = t0;
    times[2 * blockIdx.x + 1] = NowNs();
  }
}

// The last launch's per-block times (stride per block: entry first, exit last; with stride 3,
// the end of the block's gate/up part between) as counters: block_med_us, block_max_us (entry to
// exit), span_us (first entry to last exit) and, with stride 3, gu_done_us (first entry to the
// last end of a gate/up part).
void BlockTimeCounters(benchmark::State& state, const uint64_t* times, int blocks, int stride) {
  std::vector<uint64_t> t(static_cast<size_t>(stride) * blocks);
  if (cudaMemcpy(t.data(), times, t.size() * 8, cudaMemcpyDeviceToHost) != cudaSuccess) return;
  std::vector<double> busy(blocks);
  uint64_t first = t[0], last = t[stride - 1], mid = t[1];
  for (int b = 0; b < blocks; ++b) {
    const uint64_t entry = t[stride * b], exit = t[stride * b + stride - 1];
    busy[b] = (exit - entry) * 1e-3;
    first = std::min(first, entry);
    last = std::max(last, exit);
    mid = std::max(mid, t[stride * b + 1]);
  }
  std::sort(busy.begin(), busy.end());
  state.counters["block_med_us"] = busy[blocks / 2];
  state.counters["block_max_us"] = busy.back();
  state.counters["span_us"] = (last - first) * 1e-3;
  if (stride == 3) state.counters["gu_done_us"] = (mid - first) * 1e-3;
}

template <int kThreads, int kStages, int kMinBlocks>
cudaError_t AllowRingSmem() {
  return cudaFuncSetAttribute(RingReadKernel<kThreads, kStages, kMinBlocks>,
                              cudaFuncAttributeMaxDynamicSharedMemorySize,
                              kStages * kRingStage16 * 16);
}

void BM_DownShapeRead(benchmark::State& state) {
  const int mode = static_cast<int>(state.range(0)), per = static_cast<int>(state.range(1));
  const int sms = SmCount();
  constexpr int kSlices = 32;  // 1.1 GB rotated
  void* buf = nullptr;
  uint32_t* sink = nullptr;
  unsigned long long* ctr = nullptr;
  uint64_t* times = nullptr;
  bool ok = sms > 0 && sms <= kMaxTimedBlocks &&
            cudaMalloc(&buf, kSlices * kDownBytes) == cudaSuccess &&
            Fill(buf, kSlices * kDownBytes, 21) == cudaSuccess &&
            cudaMalloc(&sink, sizeof(uint32_t)) == cudaSuccess &&
            cudaMalloc(&ctr, sizeof(unsigned long long)) == cudaSuccess &&
            cudaMemset(ctr, 0, sizeof(unsigned long long)) == cudaSuccess &&
            cudaMalloc(&times, 2 * kMaxTimedBlocks * sizeof(uint64_t)) == cudaSuccess &&
            AllowRingSmem<256, 8, 1>() == cudaSuccess &&
            AllowRingSmem<256, 4, 2>() == cudaSuccess &&
            AllowRingSmem<512, 8, 1>() == cudaSuccess && cudaDeviceSynchronize() == cudaSuccess;
  if (!ok) {
    state.SkipWithError("cudaMalloc / fill failed (or more than 1024 SMs)");
  } else {
    const bool dynamic = mode == 1 || mode == 2;
    const int item_bytes = mode == 2 || mode == 4 ? kDownItemBytes / 2 : kDownItemBytes;
    const int items = static_cast<int>(kDownBytes / item_bytes);
    const int grid = mode == 4 ? kHidden / 8 : dynamic ? sms : kHidden / 16;
    unsigned long long base = 0;  // the counter only grows: items + grid grabs per launch
    TimeLaunches(state, kSlices, [&](int slice) {
      const uint4* src = reinterpret_cast<const uint4*>(static_cast<char*>(buf) +
                                                        slice * kDownBytes);
      const int item16 = item_bytes / 16;
      if (mode == 3) {
        ReadKernel<8><<<sms * 8, 256>>>(src, kDownBytes / 16, sink);
      } else if (mode == 4) {
        RingReadKernel<256, 4, 2><<<grid, 256, 4 * kRingStage16 * 16>>>(
            src, items, item16, false, ctr, base, sink, times);
      } else if (mode == 5) {
        RingReadKernel<512, 8, 1><<<grid, 512, 8 * kRingStage16 * 16>>>(
            src, items, item16, false, ctr, base, sink, times);
      } else {
        RingReadKernel<256, 8, 1><<<grid, 256, 8 * kRingStage16 * 16>>>(
            src, items, item16, dynamic, ctr, base, sink, times);
        if (dynamic) base += items + grid;
      }
      return cudaGetLastError();
    }, per);
    state.SetBytesProcessed(state.iterations() * per * kDownBytes);
    if (mode != 3) BlockTimeCounters(state, times, grid, 2);
  }
  cudaFree(buf);
  cudaFree(sink);
  cudaFree(ctr);
  cudaFree(times);
}
BENCHMARK(BM_DownShapeRead)
    ->ArgsProduct({{0, 1, 2, 3, 4, 5}, {1, 16}})
    ->UseManualTime()
    ->Unit(benchmark::kMicrosecond);

// ---- the experts' whole stage as read shapes (issue 7, session 9, third round) --------------
// StreamedMmaKernel<gate/up> at one token (cuda/moe/expert_ffn.cu, compacted launch): 132 blocks
// of 256 threads (one per SM), 6 experts x 44 units of 32 gate + 32 up rows = 264 units, units b
// and b + 132 on block b, each unit 8 stages through a 4-stage cp.async ring of 40 KB slots (64
// weight rows and 16 B rows of 512 bytes). In a stage, thread tid (warp, chain = (tid / 8) % 4,
// q = tid % 8) copies 16 bytes of weight rows warp + 8 m (m < 8) at k = chain * 512 + 8 q +
// 64 stage (so a row's stage is four 128-byte segments 1 KB apart) and 16 bytes of x (warp 0) or
// a zero-fill (warps 1-7: pairs past the one token). ExpertsRingReadKernel walks a block's stages
// in one ring: first its gate/up units in that pattern (or, contiguous, as 32 KB runs), then its
// share of the 34.6 MB down stream as 32 KB stages (1,056 = 8 per block on 132 SMs: an ideally
// balanced, contiguous down; its act rows are not modelled), with no barrier between the parts
// (a read-only model of one persistent experts kernel, the down's dependence on act left out).
// It xors what arrived and keeps nothing. Block entry, end of its gate/up part and exit go to
// times[3 b ..].
constexpr int64_t kGateUpBytes = int64_t{kTopK} * 2 * kInter * kHidden * 2;  // 69.2 MB
constexpr int kGuUnitRows = 32, kGuRowBlocks = kInter / kGuUnitRows;           // 44 per expert
constexpr int kGuUnits = kTopK * kGuRowBlocks;                                 // 264
constexpr int kGuRowBytes = 512, kGuWRows = 64, kGuRing = 4;
constexpr int kGuStage16 = kGuWRows * kGuRowBytes / 16;         // 2,048: 32 KB of weights
constexpr int kGuSlot16 = (kGuWRows + 16) * kGuRowBytes / 16;   // 40 KB slot (weights + B rows)
constexpr int kGuUnitStages = kHidden / 4 / 64;                 // 8: 64 k of each chain per stage
constexpr int kDown32Stages = static_cast<int>(kDownBytes / (kGuStage16 * 16));  // 1,056
constexpr int kExpertsThreads = 256;

// cp.async of 0 source bytes: 16 zeros, no read (the kernel's copies of pairs past the count).
__device__ __forceinline__ void RingZero16(void* dst, const void* src) {
  const unsigned d = static_cast<unsigned>(__cvta_generic_to_shared(dst));
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, 0;\n" ::"r"(d), "l"(src));
}

template <bool kContiguous>
__global__ void __launch_bounds__(kExpertsThreads, 1)
    ExpertsRingReadKernel(const uint4* __restrict__ w13, const uint4* __restrict__ x,
                          const uint4* __restrict__ w2, int gu_units, int down_stages,
                          uint32_t* sink, uint64_t* times) {
  extern __shared__ uint4 ring[];  // kGuRing x kGuSlot16
  const uint64_t t0 = NowNs();
  const int tid = threadIdx.x, warp = tid >> 5, chain = (tid >> 3) & 3, q = tid & 7;
  const int grid = static_cast<int>(gridDim.x), b = static_cast<int>(blockIdx.x);
  const int gu_stages = (gu_units > b ? (gu_units - b + grid - 1) / grid : 0) * kGuUnitStages;
  const int total = gu_stages + (down_stages > b ? (down_stages - b + grid - 1) / grid : 0);
  auto issue = [&](int st) {  // the block's stage st into slot st % kGuRing
    uint4* d = ring + (st % kGuRing) * kGuSlot16;
    const uint4* s = nullptr;
    if (st < gu_stages) {
      const int u = b + (st / kGuUnitStages) * grid, k = st % kGuUnitStages;
      if (kContiguous) {
        s = w13 + (static_cast<int64_t>(u) * kGuUnitStages + k) * kGuStage16;
      } else {
        const int e = u / kGuRowBlocks, row0 = (u % kGuRowBlocks) * kGuUnitRows;
        const int col = chain * (kHidden / 4) + 8 * q + 64 * k;  // bf16 column
        unsigned char* dst = reinterpret_cast<unsigned char*>(d) + warp * kGuRowBytes +
                             chain * 128 + ((q ^ ((warp & 1) << 2)) << 4);
#pragma unroll
        for (int m = 0; m < 8; ++m) {
          const int row = warp + 8 * m;
          const int wrow = row0 + (row < kGuUnitRows ? row : kInter + row - kGuUnitRows);
          RingCopy16(dst + m * 8 * kGuRowBytes,
                     w13 + ((static_cast<int64_t>(e) * 2 * kInter + wrow) * kHidden + col) / 8);
        }
        if (warp == 0) {
          RingCopy16(dst + kGuWRows * kGuRowBytes, x + col / 8);
        } else {
          RingZero16(dst + kGuWRows * kGuRowBytes, x);
        }
        return;
      }
    } else {
      s = w2 + static_cast<int64_t>(b + (st - gu_stages) * grid) * kGuStage16;
    }
    for (int w = tid; w < kGuStage16; w += kExpertsThreads) RingCopy16(d + w, s + w);
  };
  for (int i = 0; i < kGuRing - 1; ++i) {
    if (i < total) issue(i);
    asm volatile("cp.async.commit_group;\n" ::);
  }
  uint32_t acc = 0;
  uint64_t t_mid = t0;
  for (int it = 0; it < total; ++it) {
    asm volatile("cp.async.wait_group %0;\n" ::"n"(kGuRing - 2));
    __syncthreads();  // stage it visible to all; the slot refilled below was consumed
    if (it + kGuRing - 1 < total) issue(it + kGuRing - 1);
    asm volatile("cp.async.commit_group;\n" ::);
    const uint4* slot = ring + (it % kGuRing) * kGuSlot16;
    for (int w = tid; w < kGuStage16; w += kExpertsThreads) {
      const uint4 v = slot[w];
      acc ^= v.x ^ v.y ^ v.z ^ v.w;
    }
    if (it == gu_stages - 1) t_mid = NowNs();
  }
  asm volatile("cp.async.wait_group 0;\n" ::);
  if (acc == 0x9e3779b9u) atomicAdd(sink, 1u);
  __syncthreads();
  if (tid == 0 && times != nullptr) {
    times[3 * b] = t0;
    times[3 * b + 1] = t_mid;
    times[3 * b + 2] = NowNs();
  }
}

// BM_ExpertsShapeRead: the batch-1 experts' 103.8 MB (six experts' gate/up 69.2 MB + down
// 34.6 MB) read in these shapes, one slice of 12 (1.25 GB rotated) per launch:
//   /0: gate/up's shape alone (69.2 MB);
//   /1: the gate/up ring with contiguous 32 KB stages (the same blocks, ring and bytes in flight;
//       only the addresses differ);
//   /2: plain full-occupancy read (ReadKernel<8>) of the 69.2 MB;
//   /3: the down part alone (34.6 MB as 8 x 32 KB stages per block, the same ring);
//   /4: /0 then /3 as two launches (one "launch" below = the pair: the two kernels of today);
//   /5: both in ONE launch, each block's down stages right behind its gate/up stages;
//   /6: plain full-occupancy read of the 103.8 MB in one launch;
// second argument: launches (layers) per timed group, as in BM_DownShapeRead. Counters (/0, /1,
// /3, /5: the last launch) as there, plus gu_done_us (/5: first block entry to the last block's
// end of its gate/up part).
void BM_ExpertsShapeRead(benchmark::State& state) {
  const int mode = static_cast<int>(state.range(0)), per = static_cast<int>(state.range(1));
  const int sms = SmCount();
  constexpr int kSlices = 12;
  constexpr int64_t kSliceBytes = kGateUpBytes + kDownBytes;  // w13 then w2
  const int smem = kGuRing * kGuSlot16 * 16;                   // 160 KB
  void* buf = nullptr;
  void* x = nullptr;
  uint32_t* sink = nullptr;
  uint64_t* times = nullptr;
  bool ok = sms > 0 && sms <= kMaxTimedBlocks &&
            cudaMalloc(&buf, kSlices * kSliceBytes) == cudaSuccess &&
            Fill(buf, kSlices * kSliceBytes, 31) == cudaSuccess &&
            cudaMalloc(&x, kHidden * 2) == cudaSuccess && Fill(x, kHidden * 2, 32) == cudaSuccess &&
            cudaMalloc(&sink, sizeof(uint32_t)) == cudaSuccess &&
            cudaMalloc(&times, 3 * kMaxTimedBlocks * sizeof(uint64_t)) == cudaSuccess &&
            cudaFuncSetAttribute(ExpertsRingReadKernel<false>,
                                 cudaFuncAttributeMaxDynamicSharedMemorySize, smem) ==
                cudaSuccess &&
            cudaFuncSetAttribute(ExpertsRingReadKernel<true>,
                                 cudaFuncAttributeMaxDynamicSharedMemorySize, smem) ==
                cudaSuccess &&
            cudaDeviceSynchronize() == cudaSuccess;
  if (!ok) {
    state.SkipWithError("cudaMalloc / fill failed (or more than 1024 SMs)");
  } else {
    const int grid = std::min(kGuUnits, sms);
    uint64_t* timed = mode == 4 ? nullptr : times;
    TimeLaunches(state, kSlices, [&](int slice) {
      const char* base = static_cast<const char*>(buf) + slice * kSliceBytes;
      const uint4* w13 = reinterpret_cast<const uint4*>(base);
      const uint4* w2 = reinterpret_cast<const uint4*>(base + kGateUpBytes);
      const uint4* xv = static_cast<const uint4*>(x);
      switch (mode) {
        case 0: case 4: case 5:
          ExpertsRingReadKernel<false><<<grid, kExpertsThreads, smem>>>(
              w13, xv, w2, kGuUnits, mode == 5 ? kDown32Stages : 0, sink, timed);
          break;
        case 1:
          ExpertsRingReadKernel<true><<<grid, kExpertsThreads, smem>>>(w13, xv, w2, kGuUnits, 0,
                                                                       sink, timed);
          break;
        case 2: ReadKernel<8><<<sms * 8, 256>>>(w13, kGateUpBytes / 16, sink); break;
        case 6: ReadKernel<8><<<sms * 8, 256>>>(w13, kSliceBytes / 16, sink); break;
        default: break;
      }
      if (mode == 3 || mode == 4) {
        ExpertsRingReadKernel<false><<<grid, kExpertsThreads, smem>>>(w13, xv, w2, 0,
                                                                      kDown32Stages, sink, timed);
      }
      return cudaGetLastError();
    }, per);
    const int64_t bytes = mode <= 2 ? kGateUpBytes : mode == 3 ? kDownBytes : kSliceBytes;
    state.SetBytesProcessed(state.iterations() * per * bytes);
    if (mode != 2 && mode != 4 && mode != 6) BlockTimeCounters(state, times, grid, 3);
  }
  cudaFree(buf);
  cudaFree(x);
  cudaFree(sink);
  cudaFree(times);
}
BENCHMARK(BM_ExpertsShapeRead)
    ->ArgsProduct({{0, 1, 2, 3, 4, 5, 6}, {1, 16}})
    ->UseManualTime()
    ->Unit(benchmark::kMicrosecond);

// cudaMemcpy device to device of 128 MB, counted as bytes read + written (KINDS.md's ~3.0 TB/s).
void BM_CopyBaseline(benchmark::State& state) {
  const int64_t bytes = 128ll << 20;
  std::vector<void*> bufs(8, nullptr);
  bool ok = true;
  for (int b = 0; ok && b < 8; ++b) {
    ok = cudaMalloc(&bufs[b], bytes) == cudaSuccess && Fill(bufs[b], bytes, 100 + b) == cudaSuccess;
  }
  if (ok && cudaDeviceSynchronize() == cudaSuccess) {
    TimeLaunches(state, 4, [&](int i) {
      return cudaMemcpyAsync(bufs[2 * i + 1], bufs[2 * i], bytes, cudaMemcpyDeviceToDevice);
    });
    state.SetBytesProcessed(state.iterations() * 2 * bytes);
  } else {
    state.SkipWithError("cudaMalloc / fill failed");
  }
  for (void* b : bufs) cudaFree(b);
}
BENCHMARK(BM_CopyBaseline)->UseManualTime()->Unit(benchmark::kMicrosecond);

// One token's routed experts: the V2-Lite layer's 64 experts (random bf16 weights) and ten
// routing sets of six experts each (from a fixed shuffle; experts ascending, MoeAlign's order,
// pair i = the slot of that expert), so consecutive launches read different weights.
class BatchOneExperts {
 public:
  static constexpr int kSets = 10;

  BatchOneExperts() {
    const int64_t w13_elems = static_cast<int64_t>(kExperts) * 2 * kInter * kHidden;
    const int64_t w2_elems = static_cast<int64_t>(kExperts) * kHidden * kInter;
    ok_ = cudaMalloc(&x_, kHidden * 2) == cudaSuccess &&
          cudaMalloc(&w13_, w13_elems * 2) == cudaSuccess &&
          cudaMalloc(&w2_, w2_elems * 2) == cudaSuccess &&
          cudaMalloc(&act_, kTopK * kInter * sizeof(float)) == cudaSuccess &&
          cudaMalloc(&pair_out_, kTopK * kHidden * sizeof(float)) == cudaSuccess &&
          cudaMalloc(&out_, kHidden * sizeof(float)) == cudaSuccess &&
          cudaMalloc(&weights_, kTopK * sizeof(float)) == cudaSuccess &&
          cudaMalloc(&pairs_, kSets * kTopK * sizeof(int32_t)) == cudaSuccess &&
          cudaMalloc(&sorted_experts_, kSets * kTopK * sizeof(int32_t)) == cudaSuccess &&
          cudaMalloc(&offsets_, kSets * (kExperts + 1) * sizeof(int32_t)) == cudaSuccess &&
          Fill(x_, kHidden * 2, 7) == cudaSuccess && Fill(w13_, w13_elems * 2, 8) == cudaSuccess &&
          Fill(w2_, w2_elems * 2, 9) == cudaSuccess;
    std::mt19937 rng(11);
    std::vector<int32_t> h_pairs, h_experts, h_offsets;
    for (int set = 0; set < kSets; ++set) {
      std::vector<int32_t> pool(kExperts);
      std::iota(pool.begin(), pool.end(), 0);
      std::shuffle(pool.begin(), pool.end(), rng);
      std::vector<int32_t> chosen(pool.begin(), pool.begin() + kTopK);
      std::sort(chosen.begin(), chosen.end());
      std::vector<int32_t> off(kExperts + 1, 0);
      for (int e = 0; e < kExperts; ++e) {
        off[e + 1] = off[e] + (std::count(chosen.begin(), chosen.end(), e) > 0 ? 1 : 0);
      }
      for (int i = 0; i < kTopK; ++i) {
        h_pairs.push_back(i);
        h_experts.push_back(chosen[i]);
      }
      h_offsets.insert(h_offsets.end(), off.begin(), off.end());
    }
    const std::vector<float> h_weights(kTopK, 0.125f);
    ok_ = ok_ &&
          cudaMemcpy(pairs_, h_pairs.data(), h_pairs.size() * 4, cudaMemcpyHostToDevice) ==
              cudaSuccess &&
          cudaMemcpy(sorted_experts_, h_experts.data(), h_experts.size() * 4,
                     cudaMemcpyHostToDevice) == cudaSuccess &&
          cudaMemcpy(offsets_, h_offsets.data(), h_offsets.size() * 4, cudaMemcpyHostToDevice) ==
              cudaSuccess &&
          cudaMemcpy(weights_, h_weights.data(), kTopK * 4, cudaMemcpyHostToDevice) ==
              cudaSuccess &&
          cudaDeviceSynchronize() == cudaSuccess;
  }
  ~BatchOneExperts() {
    for (void* p : {static_cast<void*>(x_), static_cast<void*>(w13_), static_cast<void*>(w2_),
                    static_cast<void*>(act_), static_cast<void*>(pair_out_),
                    static_cast<void*>(out_), static_cast<void*>(weights_),
                    static_cast<void*>(pairs_), static_cast<void*>(sorted_experts_),
                    static_cast<void*>(offsets_)}) {
      cudaFree(p);
    }
  }
  BatchOneExperts(const BatchOneExperts&) = delete;
  BatchOneExperts& operator=(const BatchOneExperts&) = delete;

  bool ok() const { return ok_; }
  const __nv_bfloat16* x() const { return x_; }
  // Bytes of weights one launch reads.
  static int64_t LaunchBytes() { return 3ll * kTopK * kInter * kHidden * 2; }

  // The batch-1 expert stage on routing set `set`, plain launches (gate/up, down + combine).
  cudaError_t Launch(int set, cudaStream_t stream) const {
    sieve::cuda::ExpertFfnParams p{};
    p.x = x_;
    p.x_stride = kHidden;
    p.w13 = w13_;
    p.w2 = w2_;
    p.sorted_pairs = pairs_ + set * kTopK;
    p.sorted_experts = sorted_experts_ + set * kTopK;
    p.topk_weights = weights_;
    p.act = act_;
    p.pair_out = pair_out_;
    p.out = out_;
    p.out_stride = kHidden;
    p.tokens = 1;
    p.top_k = kTopK;
    p.num_experts = kExperts;
    p.hidden = kHidden;
    p.inter = kInter;
    p.expert_offsets = offsets_ + set * (kExperts + 1);
    return sieve::cuda::LaunchExpertFfn(p, stream, /*pdl=*/false, /*pdl_first=*/true,
                                        /*fuse_combine=*/true);
  }

 private:
  bool ok_ = false;
  __nv_bfloat16 *x_ = nullptr, *w13_ = nullptr, *w2_ = nullptr;
  float *act_ = nullptr, *pair_out_ = nullptr, *out_ = nullptr, *weights_ = nullptr;
  int32_t *pairs_ = nullptr, *sorted_experts_ = nullptr, *offsets_ = nullptr;
};

// One token routed to six experts (a different set of six each launch): the decoder's batch-1
// expert stage without PDL.
void BM_ExpertFfnBatch1(benchmark::State& state) {
  const BatchOneExperts experts;
  if (!experts.ok()) {
    state.SkipWithError("cudaMalloc / fill / copy failed");
    return;
  }
  TimeLaunches(state, BatchOneExperts::kSets,
               [&](int set) { return experts.Launch(set, nullptr); },
               static_cast<int>(state.range(0)));
  state.SetBytesProcessed(state.iterations() * state.range(0) * BatchOneExperts::LaunchBytes());
}
BENCHMARK(BM_ExpertFfnBatch1)->Arg(1)->Arg(16)->UseManualTime()->Unit(benchmark::kMicrosecond);

// Arguments: mode (0: the shared experts' GEMVs, then the routed experts, on one stream; 1: the
// GEMVs on a second stream forked at the layer's start and joined at its end), layers per timed
// group. The routed experts get no shared_out (mode 1 has no join before their combine: an upper
// bound for a decoder that joins there). Shared weights rotate over four copies.
void BM_SharedBesideRouted(benchmark::State& state) {
  constexpr int kSharedCopies = 4, kSharedInter = 2 * kInter;
  const bool beside = state.range(0) == 1;
  const int64_t gu_elems = 2ll * kSharedInter * kHidden, d_elems = 1ll * kHidden * kSharedInter;
  const BatchOneExperts experts;
  __nv_bfloat16 *gu = nullptr, *down = nullptr, *act = nullptr;
  float* out = nullptr;
  cudaStream_t side = nullptr;
  cudaEvent_t fork = nullptr, join = nullptr;
  const bool ok = experts.ok() &&
                  cudaMalloc(&gu, kSharedCopies * gu_elems * 2) == cudaSuccess &&
                  cudaMalloc(&down, kSharedCopies * d_elems * 2) == cudaSuccess &&
                  cudaMalloc(&act, kSharedInter * 2) == cudaSuccess &&
                  cudaMalloc(&out, kHidden * sizeof(float)) == cudaSuccess &&
                  cudaStreamCreateWithFlags(&side, cudaStreamNonBlocking) == cudaSuccess &&
                  cudaEventCreateWithFlags(&fork, cudaEventDisableTiming) == cudaSuccess &&
                  cudaEventCreateWithFlags(&join, cudaEventDisableTiming) == cudaSuccess &&
                  Fill(gu, kSharedCopies * gu_elems * 2, 10) == cudaSuccess &&
                  Fill(down, kSharedCopies * d_elems * 2, 11) == cudaSuccess &&
                  cudaDeviceSynchronize() == cudaSuccess;
  if (ok) {
    int layer = 0;
    TimeLaunches(state, BatchOneExperts::kSets, [&](int set) {
      const int copy = (layer++) % kSharedCopies;
      cudaStream_t ss = beside ? side : nullptr;
      if (beside) {
        cudaEventRecord(fork, nullptr);
        cudaStreamWaitEvent(side, fork, 0);
      }
      sieve::cuda::GemvParams g{};
      g.x = experts.x();
      g.ldx = kHidden;
      g.rows = 1;
      g.k = kHidden;
      g.segments = 1;
      g.seg[0] = {gu + copy * gu_elems, kSharedInter, act, kSharedInter, true};
      g.silu_mul = true;
      cudaError_t err = sieve::cuda::LaunchGemv(g, ss);
      g.x = act;
      g.ldx = g.k = kSharedInter;
      g.seg[0] = {down + copy * d_elems, kHidden, out, kHidden, false};
      g.silu_mul = false;
      if (err == cudaSuccess) err = sieve::cuda::LaunchGemv(g, ss);
      if (err == cudaSuccess) err = experts.Launch(set, nullptr);
      if (err == cudaSuccess && beside) {
        cudaEventRecord(join, side);
        err = cudaStreamWaitEvent(nullptr, join, 0);
      }
      return err;
    }, static_cast<int>(state.range(1)));
    state.SetBytesProcessed(state.iterations() * state.range(1) *
                            (BatchOneExperts::LaunchBytes() + (gu_elems + d_elems) * 2));
  } else {
    state.SkipWithError("cudaMalloc / fill / stream failed");
  }
  for (void* p : {static_cast<void*>(gu), static_cast<void*>(down), static_cast<void*>(act),
                  static_cast<void*>(out)}) {
    cudaFree(p);
  }
  if (side) cudaStreamDestroy(side);
  if (fork) cudaEventDestroy(fork);
  if (join) cudaEventDestroy(join);
}
BENCHMARK(BM_SharedBesideRouted)
    ->Args({0, 16})
    ->Args({1, 16})
    ->UseManualTime()
    ->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
