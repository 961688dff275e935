// MLA decode attention alone (issue 7): the split-KV kernel + combine (cuda/attention/mla_decode.h)
// at V2-Lite's shape (16 heads, latent 512 + rope 64, 64-token pages) over every sequence's
// --context cached tokens, batch 1, 8 and 64, against the HBM roofline measured in the same run.
//
// Floor: the kernel must read each sequence's cache once (batch x context x 576 bf16); the
// baseline is a device-to-device copy of that many bytes (BM_CopyBaseline: bytes read + written
// per second), so `of_copy` = KV bytes per second of the kernel / copy bandwidth. Every timed
// launch reads a different cache (rotation over >= 256 MB), so the 50 MB L2 never holds the
// tiles: in the decoder the weights of the other stages evict the cache between layers. Times are
// CUDA events around one launch (manual time), median over repetitions. A benchmark: it never
// asserts; a CUDA error skips the benchmark with the message.
//   build-gpu/bench/mla_decode_bench --benchmark_repetitions=5
//   --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <numeric>
#include <random>
#include <vector>

#include "cuda/attention/mla_decode.h"
#include "cuda/config.h"

namespace {

constexpr int kLatent = 512, kRope = 64, kWidth = kLatent + kRope, kHeads = 16;
constexpr int kContext = 4096;
constexpr int64_t kRotateBytes = 256ll << 20;

// Deterministic pseudo-random bf16 in about [-2, 2): splitmix64 bits into the mantissa of a
// float in [1, 2) with a random sign and exponent offset, truncated to the top 16 bits.
std::vector<uint16_t> RandomBf16(size_t n, uint64_t seed) {
  std::vector<uint16_t> v(n);
  uint64_t x = seed;
  for (size_t i = 0; i < n; ++i) {
    x += 0x9e3779b97f4a7c15ull;
    uint64_t z = x;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    const uint32_t magnitude = (0x3f800000u | (static_cast<uint32_t>(z) & 0x007fffffu)) -
                               ((static_cast<uint32_t>(z >> 32) & 3u) << 23);
    const uint32_t bits = magnitude | (static_cast<uint32_t>(z >> 8) & 0x80000000u);
    v[i] = static_cast<uint16_t>(bits >> 16);
  }
  return v;
}

struct Setup {
  bool ok = false;
  const char* error = nullptr;
  int copies = 0;
  std::vector<__nv_bfloat16*> cache;
  int32_t* table = nullptr;
  int32_t* lens = nullptr;
  float* q = nullptr;
  __nv_bfloat16* out = nullptr;
  float* partial = nullptr;
  float* partial_lse = nullptr;
  int splits = 1;
  int64_t kv_bytes = 0;

  ~Setup() {
    for (auto* c : cache) cudaFree(c);
    cudaFree(table);
    cudaFree(lens);
    cudaFree(q);
    cudaFree(out);
    cudaFree(partial);
    cudaFree(partial_lse);
  }
};

bool Fail(Setup* s, const char* what) {
  s->error = what;
  return false;
}

bool Build(int batch, Setup* s) {
  int dev = 0, sms = 0;
  if (cudaGetDevice(&dev) != cudaSuccess ||
      cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev) != cudaSuccess) {
    return Fail(s, "no CUDA device");
  }
  const int page = sieve::cuda::kMlaPageSize;
  const int pages_per_seq = (kContext + page - 1) / page;
  const int pages = batch * pages_per_seq;
  s->kv_bytes = static_cast<int64_t>(batch) * kContext * kWidth * 2;
  s->copies =
      static_cast<int>(std::max<int64_t>(2, (kRotateBytes + s->kv_bytes - 1) / s->kv_bytes));
  const size_t cache_elems = static_cast<size_t>(pages) * page * kWidth;
  const std::vector<uint16_t> host = RandomBf16(cache_elems, 7);
  for (int c = 0; c < s->copies; ++c) {
    __nv_bfloat16* d = nullptr;
    if (cudaMalloc(&d, cache_elems * 2) != cudaSuccess) return Fail(s, "cudaMalloc cache");
    s->cache.push_back(d);
    if (cudaMemcpy(d, host.data(), cache_elems * 2, cudaMemcpyHostToDevice) != cudaSuccess) {
      return Fail(s, "upload cache");
    }
  }
  // Pages of all sequences shuffled over the pool, as an allocator that has run a while leaves
  // them.
  std::vector<int32_t> table(pages);
  std::iota(table.begin(), table.end(), 0);
  std::shuffle(table.begin(), table.end(), std::mt19937(11));
  std::vector<int32_t> lens(batch, kContext);
  std::vector<float> q(static_cast<size_t>(batch) * kHeads * kWidth);
  std::mt19937 rng(3);
  std::normal_distribution<float> dist(0.0f, 0.3f);
  for (float& v : q) v = dist(rng);
  s->splits = sieve::cuda::MlaDecodeSplits(batch, kHeads, kContext, sms);
  const int64_t partial =
      std::max<int64_t>(1, sieve::cuda::MlaPartialFloats(s->splits, batch, kHeads, kLatent));
  if (cudaMalloc(&s->table, table.size() * 4) != cudaSuccess ||
      cudaMalloc(&s->lens, lens.size() * 4) != cudaSuccess ||
      cudaMalloc(&s->q, q.size() * 4) != cudaSuccess ||
      cudaMalloc(&s->out, static_cast<size_t>(batch) * kHeads * kLatent * 2) != cudaSuccess ||
      cudaMalloc(&s->partial, partial * 4) != cudaSuccess ||
      cudaMalloc(&s->partial_lse, (partial / kLatent + 1) * 4) != cudaSuccess) {
    return Fail(s, "cudaMalloc");
  }
  if (cudaMemcpy(s->table, table.data(), table.size() * 4, cudaMemcpyHostToDevice) != cudaSuccess ||
      cudaMemcpy(s->lens, lens.data(), lens.size() * 4, cudaMemcpyHostToDevice) != cudaSuccess ||
      cudaMemcpy(s->q, q.data(), q.size() * 4, cudaMemcpyHostToDevice) != cudaSuccess) {
    return Fail(s, "upload");
  }
  s->ok = true;
  return true;
}

sieve::cuda::MlaDecodeParams Params(const Setup& s, int batch, int copy) {
  const int page = sieve::cuda::kMlaPageSize;
  return sieve::cuda::MlaDecodeParams{s.q,
                                      static_cast<int64_t>(kHeads) * kWidth,
                                      kWidth,
                                      s.cache[copy],
                                      s.table,
                                      (kContext + page - 1) / page,
                                      s.lens,
                                      s.out,
                                      static_cast<int64_t>(kHeads) * kLatent,
                                      kLatent,
                                      nullptr,
                                      batch,
                                      kHeads,
                                      kLatent,
                                      kRope,
                                      page,
                                      0.1147213867929261f,
                                      nullptr,
                                      s.splits,
                                      s.partial,
                                      s.partial_lse};
}

// Events around each launch; the copy index rotates so no launch finds its cache in L2.
template <typename Launch>
void TimeLaunches(benchmark::State& state, int copies, Launch launch) {
  cudaEvent_t start, stop;
  if (cudaEventCreate(&start) != cudaSuccess || cudaEventCreate(&stop) != cudaSuccess) {
    state.SkipWithError("cudaEventCreate failed");
    return;
  }
  int copy = 0;
  for (int w = 0; w < 3; ++w) launch((copy++) % copies);
  for (auto _ : state) {
    cudaEventRecord(start);
    const cudaError_t err = launch((copy++) % copies);
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

void BM_MlaDecode(benchmark::State& state) {
  const int batch = static_cast<int>(state.range(0));
  Setup s;
  if (!Build(batch, &s)) {
    state.SkipWithError(s.error);
    return;
  }
  TimeLaunches(state, s.copies, [&](int copy) {
    return sieve::cuda::LaunchMlaDecode(Params(s, batch, copy), nullptr);
  });
  state.SetBytesProcessed(state.iterations() * s.kv_bytes);
  state.counters["kv_MB"] = static_cast<double>(s.kv_bytes) / 1e6;
  state.counters["splits"] = s.splits;
  state.counters["us_per_layer"] =
      benchmark::Counter(static_cast<double>(state.iterations()) * 1e6,
                         benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_MlaDecode)->Arg(1)->Arg(8)->Arg(64)->UseManualTime()->Unit(benchmark::kMicrosecond);

// The roofline baseline: cudaMemcpy device to device of batch-64's KV bytes, counted as bytes
// read + written (so bytes_per_second is the copy bandwidth of KINDS.md's ~3.0 TB/s).
void BM_CopyBaseline(benchmark::State& state) {
  const int64_t bytes = 64ll * kContext * kWidth * 2;
  void *a = nullptr, *b = nullptr;
  if (cudaMalloc(&a, bytes) != cudaSuccess || cudaMalloc(&b, bytes) != cudaSuccess ||
      cudaMemset(a, 1, bytes) != cudaSuccess) {
    state.SkipWithError("cudaMalloc / cudaMemset failed");
    cudaFree(a);
    cudaFree(b);
    return;
  }
  TimeLaunches(state, 2, [&](int dir) {
    return dir ? cudaMemcpyAsync(a, b, bytes, cudaMemcpyDeviceToDevice)
               : cudaMemcpyAsync(b, a, bytes, cudaMemcpyDeviceToDevice);
  });
  state.SetBytesProcessed(state.iterations() * 2 * bytes);
  cudaFree(a);
  cudaFree(b);
}
BENCHMARK(BM_CopyBaseline)->UseManualTime()->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
