// Token-mask benchmarks (issue 4): compile time including the mask cache, per-token mask and accept
// latency, cache bytes and uncertain-token counts, on the grammars and documents of bench/data/
// with the real Llama-3 tokenizer (1 thread unless the name says otherwise).
//
// Grammars: JSON (any value), a flat object (string, integer and enum fields), a nested object
// (arrays, optional fields, strings bounded to 80 characters), a recursive tree of nodes with
// alternatives, a C-like language over real source files, and a JSON object with a
// [^"]{0,8000} body. Each has three or more documents of 300+ tokens (one for the long body),
// tokenized by our BPE; a pass feeds every document token by token to a fresh matcher, timing
// FillNextTokenBitmask and AcceptToken per step (and checking that the mask allows the token).
//
// Latency statistics: the machine is shared, and a scheduler tick (4 ms) now and then lands inside
// one step. Each step is therefore measured once per pass over many passes, its time is the median
// over passes, and p50 / p99 / max are taken over steps of those medians (`max_raw` is the single
// worst sample, preemption included). BM_Batch64 fills 64 matchers' rows with
// FillNextTokenBitmaskBatch, on 1 and 2 threads; between batches (untimed) every matcher accepts
// its document's next token, so each batch sees new states. main() prints a markdown summary table
// after the Google Benchmark output (copied into bench/README.md).
//
// Data is read from SIEVE_SOURCE_DIR (bench/data, tests/data/grammars) and the tokenizer from
// $SIEVE_DATA_DIR/tokenizers/llama3 (default ~/.cache/sieve). Benchmarks never assert.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "bench/bench_util.h"
#include "grammar/ebnf_parser.h"
#include "grammar/grammar_cache.h"
#include "grammar/mask_cache.h"
#include "grammar/matcher.h"
#include "grammar/simplify.h"
#include "grammar/thread_pool.h"
#include "grammar/tokenizer/tokenizer.h"

namespace sieve {
namespace {

using bench::SourcePath;
using bench::ReadFile;
using bench::GetLlama3;
using bench::Llama3;

using Clock = std::chrono::steady_clock;

struct Case {
  const char* name;
  const char* grammar;
  std::vector<const char*> docs;
};

const std::vector<Case>& Cases() {
  static const std::vector<Case> cases = {
      {"json",
       "tests/data/grammars/json.ebnf",
       {"bench/data/json_catalog.json", "bench/data/json_config.json",
        "bench/data/json_weather.json"}},
      {"flat_object",
       "bench/data/flat_object.ebnf",
       {"bench/data/flat_object_1.json", "bench/data/flat_object_2.json",
        "bench/data/flat_object_3.json"}},
      {"nested_object",
       "bench/data/nested_object.ebnf",
       {"bench/data/nested_object_1.json", "bench/data/nested_object_2.json",
        "bench/data/nested_object_3.json"}},
      {"tree",
       "bench/data/tree.ebnf",
       {"bench/data/tree_1.json", "bench/data/tree_2.json", "bench/data/tree_3.json"}},
      {"c_like",
       "tests/data/grammars/c_like.ebnf",
       {"bench/data/c_like_stats.c", "bench/data/c_like_queue.c", "bench/data/c_like_matrix.c"}},
      {"long_string_8000", "bench/data/long_string.ebnf", {"bench/data/long_string_1.json"}},
  };
  return cases;
}

using Env = Llama3;
const Env& GetEnv() { return GetLlama3(); }

Result<std::shared_ptr<const TokenMaskCache>> Compile(const Case& c, ThreadPool* pool) {
  SIEVE_ASSIGN_OR_RETURN(Grammar g, ParseEbnf(ReadFile(SourcePath(c.grammar))));
  SIEVE_ASSIGN_OR_RETURN(Grammar s, Simplify(g));
  SIEVE_ASSIGN_OR_RETURN(std::shared_ptr<const CompiledGrammar> compiled, CompileGrammar(s));
  return TokenMaskCache::Build(std::move(compiled), GetEnv().info, MaskCacheOptions(), pool);
}

// What the summary table prints, per case (the last run of each benchmark wins).
struct Row {
  double compile_ms = 0, compile_2t_ms = 0;
  double p50 = 0, p99 = 0, max = 0, max_raw = 0, accept_p50 = 0;
  size_t bytes = 0;
  int64_t uncertain = 0;
  int32_t max_uncertain = 0;
  size_t tokens = 0;
  int docs = 0;
};
std::map<std::string, Row>& Rows() {
  static std::map<std::string, Row> rows;
  return rows;
}

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t i = std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())));
  return v[i];
}

void BM_TokenizerInfo(benchmark::State& state) {
  const Env& env = GetEnv();
  if (!env.error.empty()) {
    state.SkipWithError(env.error.c_str());
    return;
  }
  for (auto _ : state) {
    auto info = TokenizerInfo::Build(env.vocab);
    benchmark::DoNotOptimize(info);
  }
  state.counters["bytes"] = static_cast<double>(env.info->MemorySize());
  state.counters["trie_nodes"] = env.info->num_nodes();
}

void BM_Compile(benchmark::State& state, const Case& c, int threads) {
  const Env& env = GetEnv();
  if (!env.error.empty()) {
    state.SkipWithError(env.error.c_str());
    return;
  }
  std::unique_ptr<ThreadPool> pool = threads > 1 ? std::make_unique<ThreadPool>(threads) : nullptr;
  std::shared_ptr<const TokenMaskCache> cache;
  std::vector<double> ms;
  for (auto _ : state) {
    const auto t0 = Clock::now();
    auto r = Compile(c, pool.get());
    ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
    if (!r.ok()) {
      state.SkipWithError(r.status().ToString().c_str());
      return;
    }
    cache = *r;
  }
  const MaskCacheStats& s = cache->stats();
  state.counters["cache_bytes"] = static_cast<double>(cache->MemorySize());
  state.counters["uncertain"] = static_cast<double>(s.uncertain_tokens);
  state.counters["max_uncertain"] = s.max_uncertain_tokens;
  state.counters["states"] = s.states;
  Row& row = Rows()[c.name];
  (threads > 1 ? row.compile_2t_ms : row.compile_ms) = Percentile(ms, 0.5);
  row.bytes = cache->MemorySize() + cache->grammar()->MemorySize();
  row.uncertain = s.uncertain_tokens;
  row.max_uncertain = s.max_uncertain_tokens;
}

void BM_Mask(benchmark::State& state, const Case& c) {
  const Env& env = GetEnv();
  if (!env.error.empty()) {
    state.SkipWithError(env.error.c_str());
    return;
  }
  auto cache = Compile(c, nullptr);
  if (!cache.ok()) {
    state.SkipWithError(cache.status().ToString().c_str());
    return;
  }
  std::vector<std::vector<int32_t>> docs;
  size_t steps = 0;
  for (const char* d : c.docs) {
    docs.push_back(env.tok->Encode(ReadFile(SourcePath(d)), false));
    steps += docs.back().size();
  }
  const size_t words = env.info->words();
  std::vector<uint32_t> mask(words);
  std::vector<std::vector<double>> fill(steps), accept(steps);
  double max_raw = 0;
  for (auto _ : state) {
    double total = 0;
    size_t step = 0;
    for (const std::vector<int32_t>& ids : docs) {
      GrammarMatcher m(*cache);
      for (const int32_t id : ids) {
        const auto t0 = Clock::now();
        m.FillNextTokenBitmask(mask.data(), words);
        const auto t1 = Clock::now();
        const bool ok = m.AcceptToken(id);
        const auto t2 = Clock::now();
        const double f = std::chrono::duration<double, std::micro>(t1 - t0).count();
        fill[step].push_back(f);
        accept[step].push_back(std::chrono::duration<double, std::micro>(t2 - t1).count());
        max_raw = std::max(max_raw, f);
        total += f;
        ++step;
        if (!ok || !(mask[id >> 5] >> (id & 31) & 1)) {
          state.SkipWithError("a document token was not allowed");
          return;
        }
      }
      if (!m.CanTerminate()) {
        state.SkipWithError("a document did not complete");
        return;
      }
    }
    state.SetIterationTime(total * 1e-6);
  }
  std::vector<double> fill_med, accept_med;
  for (size_t i = 0; i < steps; ++i) {
    fill_med.push_back(Percentile(fill[i], 0.5));
    accept_med.push_back(Percentile(accept[i], 0.5));
  }
  Row& row = Rows()[c.name];
  row.p50 = Percentile(fill_med, 0.5);
  row.p99 = Percentile(fill_med, 0.99);
  row.max = *std::max_element(fill_med.begin(), fill_med.end());
  row.max_raw = max_raw;
  row.accept_p50 = Percentile(accept_med, 0.5);
  row.tokens = steps;
  row.docs = static_cast<int>(docs.size());
  state.counters["p50_us"] = row.p50;
  state.counters["p99_us"] = row.p99;
  state.counters["max_us"] = row.max;
  state.counters["max_raw_us"] = row.max_raw;
  state.counters["accept_p50_us"] = row.accept_p50;
  state.counters["tokens"] = static_cast<double>(steps);
}

// 64 matchers spread over the documents of a case, one batch fill per iteration.
void BM_Batch(benchmark::State& state, const Case& c, int threads) {
  const Env& env = GetEnv();
  if (!env.error.empty()) {
    state.SkipWithError(env.error.c_str());
    return;
  }
  auto cache = Compile(c, nullptr);
  if (!cache.ok()) {
    state.SkipWithError(cache.status().ToString().c_str());
    return;
  }
  std::vector<std::vector<int32_t>> docs;
  for (const char* d : c.docs) docs.push_back(env.tok->Encode(ReadFile(SourcePath(d)), false));
  // Matcher i follows document i % docs from position (i * 37) % size, one token per iteration
  // (untimed), so every timed batch sees fresh states, as in decoding.
  struct Lane {
    const std::vector<int32_t>* ids;
    size_t pos;
  };
  std::vector<GrammarMatcher> matchers;
  std::vector<Lane> lanes;
  for (size_t i = 0; i < 64; ++i) {
    const std::vector<int32_t>& ids = docs[i % docs.size()];
    matchers.emplace_back(*cache);
    lanes.push_back({&ids, (i * 37) % ids.size()});
    for (size_t k = 0; k < lanes.back().pos; ++k) matchers.back().AcceptToken(ids[k]);
  }
  std::vector<GrammarMatcher*> ptrs;
  for (GrammarMatcher& m : matchers) ptrs.push_back(&m);
  const size_t words = env.info->words();
  std::vector<uint32_t> rows(words * ptrs.size());
  ThreadPool pool(threads);
  for (auto _ : state) {
    const auto t0 = Clock::now();
    GrammarMatcher::FillNextTokenBitmaskBatch(ptrs, rows.data(), words, &pool);
    state.SetIterationTime(std::chrono::duration<double>(Clock::now() - t0).count());
    benchmark::DoNotOptimize(rows.data());
    for (size_t i = 0; i < matchers.size(); ++i) {
      Lane& lane = lanes[i];
      if (lane.pos == lane.ids->size()) {
        matchers[i].Reset();
        lane.pos = 0;
      }
      matchers[i].AcceptToken((*lane.ids)[lane.pos++]);
    }
  }
  state.counters["us_per_matcher"] =
      benchmark::Counter(static_cast<double>(state.iterations()) * static_cast<double>(ptrs.size()),
                         benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

void BM_GrammarCacheHit(benchmark::State& state) {
  const Env& env = GetEnv();
  if (!env.error.empty()) {
    state.SkipWithError(env.error.c_str());
    return;
  }
  GrammarCache cache;
  const std::string text = ReadFile(SourcePath("tests/data/grammars/json.ebnf"));
  if (!cache.GetOrCompileEbnf(text, env.vocab).ok()) {
    state.SkipWithError("compile failed");
    return;
  }
  for (auto _ : state) {
    auto r = cache.GetOrCompileEbnf(text, env.vocab);
    benchmark::DoNotOptimize(r);
  }
}

void RegisterAll() {
  benchmark::RegisterBenchmark("BM_TokenizerInfo/llama3", BM_TokenizerInfo)
      ->Unit(benchmark::kMillisecond);
  for (const Case& c : Cases()) {
    benchmark::RegisterBenchmark(("BM_Compile/" + std::string(c.name)).c_str(),
                                 [&c](benchmark::State& s) { BM_Compile(s, c, 1); })
        ->Unit(benchmark::kMillisecond)
        ->MinTime(0.5);
    benchmark::RegisterBenchmark(("BM_Compile2T/" + std::string(c.name)).c_str(),
                                 [&c](benchmark::State& s) { BM_Compile(s, c, 2); })
        ->Unit(benchmark::kMillisecond)
        ->MinTime(0.5);
    benchmark::RegisterBenchmark(("BM_Mask/" + std::string(c.name)).c_str(),
                                 [&c](benchmark::State& s) { BM_Mask(s, c); })
        ->UseManualTime()
        ->Unit(benchmark::kMicrosecond)
        ->Iterations(15);
  }
  for (const char* name : {"json", "c_like"}) {
    const Case* c = nullptr;
    for (const Case& k : Cases()) {
      if (std::string(k.name) == name) c = &k;
    }
    for (const int threads : {1, 2}) {
      benchmark::RegisterBenchmark(
          ("BM_Batch64/" + std::string(name) + "/threads:" + std::to_string(threads)).c_str(),
          [c, threads](benchmark::State& s) { BM_Batch(s, *c, threads); })
          ->Unit(benchmark::kMicrosecond)
          ->UseManualTime();
    }
  }
  benchmark::RegisterBenchmark("BM_GrammarCacheHit/json", BM_GrammarCacheHit)
      ->Unit(benchmark::kMicrosecond);
}

void PrintTable() {
  std::printf(
      "\n| grammar | docs / tokens | compile 1T / 2T (ms) | mask p50 / p99 / max (us) | max raw "
      "(us) | accept p50 (us) | cache bytes | uncertain (max/state) |\n"
      "|---|---:|---:|---:|---:|---:|---:|---:|\n");
  for (const Case& c : Cases()) {
    auto it = Rows().find(c.name);
    if (it == Rows().end()) continue;
    const Row& r = it->second;
    std::printf(
        "| %s | %d / %zu | %.1f / %.1f | %.2f / %.2f / %.1f | %.0f | %.2f | %zu | %lld (%d) |\n",
        c.name, r.docs, r.tokens, r.compile_ms, r.compile_2t_ms, r.p50, r.p99, r.max, r.max_raw,
        r.accept_p50, r.bytes, static_cast<long long>(r.uncertain), r.max_uncertain);
  }
}

}  // namespace
}  // namespace sieve

int main(int argc, char** argv) {
  sieve::RegisterAll();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  sieve::PrintTable();
  return 0;
}
