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
//                    weights.
// Every launch reads bytes no launch before it touched recently (buffers rotate over >= 1 GB;
// the experts over sets of six), so the 50 MB L2 does not serve them. Values are pseudo-random
// (a hash of the index), never zeros. CUDA events around each launch (manual time); a benchmark:
// it never asserts, a CUDA error skips the benchmark with the message.
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

// Events around each launch; `index` rotates over the caller's buffers.
template <typename Launch>
void TimeLaunches(benchmark::State& state, int rotation, Launch launch) {
  cudaEvent_t start, stop;
  if (cudaEventCreate(&start) != cudaSuccess || cudaEventCreate(&stop) != cudaSuccess) {
    state.SkipWithError("cudaEventCreate failed");
    return;
  }
  int index = 0;
  for (int w = 0; w < 3; ++w) launch((index++) % rotation);
  for (auto _ : state) {
    cudaEventRecord(start);
    const cudaError_t err = launch((index++) % rotation);
    cudaEventRecord(stop);
    if (err != cudaSuccess || cudaEventSynchronize(stop) != cudaSuccess) {
      state.SkipWithError(cudaGetErrorString(err != cudaSuccess ? err : cudaGetLastError()));
      break;
    }
    float ms = 0.0f;
    cudaEventElapsedTime(&ms, start, stop);
    state.SetIterationTime(ms * 1e-3);
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

// One token routed to six experts (a different set of six each launch, from a fixed shuffle):
// the decoder's batch-1 expert stage without PDL.
void BM_ExpertFfnBatch1(benchmark::State& state) {
  constexpr int kSets = 10;
  const int64_t w13_elems = static_cast<int64_t>(kExperts) * 2 * kInter * kHidden;
  const int64_t w2_elems = static_cast<int64_t>(kExperts) * kHidden * kInter;
  __nv_bfloat16 *x = nullptr, *w13 = nullptr, *w2 = nullptr;
  float *act = nullptr, *pair_out = nullptr, *out = nullptr, *weights = nullptr;
  int32_t *pairs = nullptr, *sorted_experts = nullptr, *offsets = nullptr;
  bool ok = cudaMalloc(&x, kHidden * 2) == cudaSuccess &&
            cudaMalloc(&w13, w13_elems * 2) == cudaSuccess &&
            cudaMalloc(&w2, w2_elems * 2) == cudaSuccess &&
            cudaMalloc(&act, kTopK * kInter * sizeof(float)) == cudaSuccess &&
            cudaMalloc(&pair_out, kTopK * kHidden * sizeof(float)) == cudaSuccess &&
            cudaMalloc(&out, kHidden * sizeof(float)) == cudaSuccess &&
            cudaMalloc(&weights, kTopK * sizeof(float)) == cudaSuccess &&
            cudaMalloc(&pairs, kSets * kTopK * sizeof(int32_t)) == cudaSuccess &&
            cudaMalloc(&sorted_experts, kSets * kTopK * sizeof(int32_t)) == cudaSuccess &&
            cudaMalloc(&offsets, kSets * (kExperts + 1) * sizeof(int32_t)) == cudaSuccess &&
            Fill(x, kHidden * 2, 7) == cudaSuccess && Fill(w13, w13_elems * 2, 8) == cudaSuccess &&
            Fill(w2, w2_elems * 2, 9) == cudaSuccess;
  // Routing tables per set: experts ascending (MoeAlign's order), pair i = slot of that expert.
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
  ok = ok &&
       cudaMemcpy(pairs, h_pairs.data(), h_pairs.size() * 4, cudaMemcpyHostToDevice) ==
           cudaSuccess &&
       cudaMemcpy(sorted_experts, h_experts.data(), h_experts.size() * 4, cudaMemcpyHostToDevice) ==
           cudaSuccess &&
       cudaMemcpy(offsets, h_offsets.data(), h_offsets.size() * 4, cudaMemcpyHostToDevice) ==
           cudaSuccess &&
       cudaMemcpy(weights, h_weights.data(), kTopK * 4, cudaMemcpyHostToDevice) == cudaSuccess &&
       cudaDeviceSynchronize() == cudaSuccess;
  if (ok) {
    TimeLaunches(state, kSets, [&](int set) {
      sieve::cuda::ExpertFfnParams p{};
      p.x = x;
      p.x_stride = kHidden;
      p.w13 = w13;
      p.w2 = w2;
      p.sorted_pairs = pairs + set * kTopK;
      p.sorted_experts = sorted_experts + set * kTopK;
      p.topk_weights = weights;
      p.act = act;
      p.pair_out = pair_out;
      p.out = out;
      p.out_stride = kHidden;
      p.tokens = 1;
      p.top_k = kTopK;
      p.num_experts = kExperts;
      p.hidden = kHidden;
      p.inter = kInter;
      p.expert_offsets = offsets + set * (kExperts + 1);
      return sieve::cuda::LaunchExpertFfn(p, nullptr, /*pdl=*/false, /*pdl_first=*/true,
                                          /*fuse_combine=*/true);
    });
    state.SetBytesProcessed(state.iterations() * 3ll * kTopK * kInter * kHidden * 2);
  } else {
    state.SkipWithError("cudaMalloc / fill / copy failed");
  }
  for (void* p : {static_cast<void*>(x), static_cast<void*>(w13), static_cast<void*>(w2),
                  static_cast<void*>(act), static_cast<void*>(pair_out), static_cast<void*>(out),
                  static_cast<void*>(weights), static_cast<void*>(pairs),
                  static_cast<void*>(sorted_experts), static_cast<void*>(offsets)}) {
    cudaFree(p);
  }
}
BENCHMARK(BM_ExpertFfnBatch1)->UseManualTime()->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
