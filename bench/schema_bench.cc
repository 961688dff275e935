// JSON Schema benchmarks (issue 5): compile time per schema over schemas/ and per-token mask time
// on three realistic schemas, with the real Llama-3 tokenizer (1 thread unless said).
//
// Compile = JSON Schema -> grammar (JsonSchemaToGrammar, compact whitespace, standard semantics,
// schema order: what `sieve compile --tokenizer` does) -> simplify -> automaton -> token-mask
// cache, timed in wall time and in thread CPU time (the machine is shared). The
// per-vocabulary token trie (TokenizerInfo) is built once and shared, as in a server. BM_CompileAll
// compiles every schemas/*.schema.json once per iteration; each schema's time is its median over
// the iterations, and p50 / p99 / max are taken over schemas. BM_CompileBaseline compiles the
// any-JSON-value grammar (BuiltinJsonGrammar) the same way: the baseline measured in the same run.
// BM_CompileAll/schemas_threads is the same compile with the mask cache built on every hardware
// thread (what `sieve compile` does by default), reported in wall time next to the 1-thread run.
//
// Masks: bench/data/schema_*.json are documents of 300+ Llama-3 tokens (compact JSON) valid
// against schemas/{k8s_deployment, openai_extract_entities, config_docker_compose}. A pass feeds
// a document token by token to a fresh matcher, timing FillNextTokenBitmask per step and checking
// that the mask allows the document's token; a step's time is its median over passes, p50 / p99 /
// max are over steps (`max raw` is the worst single sample, preemption included). The baseline is
// the naive mask (FillNextTokenBitmaskNaive: every token's bytes stepped from the current stacks)
// on the same steps in the same run, one pass; both masks must be identical at every step.
// BM_CompileSchemaStore: the same compile over SchemaStore's real-world schemas
// ($SIEVE_DATA_DIR/schemastore, `make data`), once, p50 / p90 / p99 / max over those that compile.
// main() prints a markdown summary after the Google Benchmark output (bench/README.md).
//
// Data is read from SIEVE_SOURCE_DIR and the tokenizer from $SIEVE_DATA_DIR/tokenizers/llama3
// (default ~/.cache/sieve). Benchmarks never assert.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bench/bench_util.h"
#include "grammar/compiler.h"
#include "grammar/json_schema.h"
#include "grammar/mask_cache.h"
#include "grammar/matcher.h"
#include "grammar/tokenizer/tokenizer.h"

namespace sieve {
namespace {

using bench::SourcePath;
using bench::ReadFile;
using bench::GetLlama3;
using bench::Llama3;

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

double MsSince(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

// CPU time of this thread (ms): the compile is single-threaded, and on a shared machine wall time
// also counts the time other processes held the core.
double ThreadCpuMs() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) * 1e-6;
}

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t i = std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())));
  return v[i];
}

struct Env {
  std::shared_ptr<const Tokenizer> tok;
  std::shared_ptr<const Vocabulary> vocab;
  std::shared_ptr<const TokenizerInfo> info;
  std::vector<std::pair<std::string, std::string>> schemas;  // name, text
  std::string error;
};

const Env& GetEnv() {
  static const Env env = [] {
    const Llama3& l = GetLlama3();
    Env e{l.tok, l.vocab, l.info, {}, l.error};
    if (!e.error.empty()) return e;
    for (const auto& f : fs::directory_iterator(SourcePath("schemas"))) {
      const std::string name = f.path().filename().string();
      if (name.size() > 12 && name.substr(name.size() - 12) == ".schema.json") {
        e.schemas.emplace_back(name.substr(0, name.size() - 12), ReadFile(f.path().string()));
      }
    }
    std::sort(e.schemas.begin(), e.schemas.end());
    if (e.schemas.empty()) e.error = "no schemas under " + SourcePath("schemas");
    return e;
  }();
  return env;
}

// What `sieve compile` uses by default: compact whitespace, standard semantics, schema order.
JsonSchemaOptions SchemaOptions() {
  JsonSchemaOptions o;
  o.whitespace = JsonWhitespace::kCompact;
  o.property_order = JsonPropertyOrder::kSchema;
  return o;
}

// Times of one compile, by stage (ms).
struct StageTimes {
  double convert = 0, automaton = 0, mask = 0, total = 0;  // wall
  double cpu = 0;                                          // thread CPU time of the whole compile
};

// The pipeline as shipped, or the baseline for the same run: without tail-call absorption
// (pda.cc) and without shared classifications (mask_share.h), i.e. the session-2 pipeline.
// kThreaded: the pipeline as shipped with the mask cache built on every core (the CLI's default,
// `sieve compile --threads`; the C API's num_threads); its times are wall times.
enum Pipeline { kCurrent = 0, kUnabsorbedUnshared = 1, kThreaded = 2 };

// One pool for the threaded runs (hardware threads, the caller included).
ThreadPool* Pool() {
  static ThreadPool pool(static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));
  return &pool;
}

// Compiles a grammar through simplify, the automaton and the mask cache.
Result<std::shared_ptr<const TokenMaskCache>> CompileIr(Grammar g, StageTimes* t,
                                                        Pipeline p = kCurrent) {
  auto t0 = Clock::now();
  GrammarCompileOptions copts;
  MaskCacheOptions mopts;
  if (p == kUnabsorbedUnshared) {
    copts.pda.absorb_tail_calls = false;
    mopts.share_horizon = 0;
  }
  SIEVE_ASSIGN_OR_RETURN(CompiledArtifact a, CompileGrammarIr(std::move(g), copts));
  t->automaton = MsSince(t0);
  t0 = Clock::now();
  auto cache =
      TokenMaskCache::Build(a.pda, GetEnv().info, mopts, p == kThreaded ? Pool() : nullptr);
  t->mask = MsSince(t0);
  return cache;
}

Result<std::shared_ptr<const TokenMaskCache>> CompileSchema(const std::string& text,
                                                            StageTimes* t, Pipeline p = kCurrent) {
  const auto t0 = Clock::now();
  const double c0 = ThreadCpuMs();
  auto g = JsonSchemaToGrammar(text, SchemaOptions());
  if (!g.ok()) return g.status();
  t->convert = MsSince(t0);
  auto cache = CompileIr(std::move(g->grammar), t, p);
  t->total = MsSince(t0);
  t->cpu = ThreadCpuMs() - c0;
  return cache;
}

// ---- summary rows ----
struct CompileSummary {
  size_t schemas = 0;
  double p50 = 0, p99 = 0, max = 0, convert_p50 = 0, automaton_p50 = 0, mask_p50 = 0;
  double cpu_p50 = 0, cpu_p99 = 0, cpu_max = 0;
  std::vector<std::pair<double, std::string>> slowest;
  double baseline = 0;
};
CompileSummary& Compiles(Pipeline p = kCurrent) {
  static CompileSummary s[3];
  return s[p];
}

struct MaskRow {
  size_t tokens = 0;
  double p50 = 0, p99 = 0, max = 0, max_raw = 0, naive_p50 = 0, compile_ms = 0;
  size_t cache_bytes = 0;
  int64_t uncertain = 0;
};
std::map<std::string, MaskRow>& MaskRows() {
  static std::map<std::string, MaskRow> rows;
  return rows;
}

void BM_CompileAll(benchmark::State& state, Pipeline pipeline) {
  const Env& env = GetEnv();
  if (!env.error.empty()) {
    state.SkipWithError(env.error.c_str());
    return;
  }
  const size_t n = env.schemas.size();
  std::vector<std::vector<StageTimes>> times(n);
  for (auto _ : state) {
    for (size_t i = 0; i < n; ++i) {
      StageTimes t;
      auto r = CompileSchema(env.schemas[i].second, &t, pipeline);
      if (!r.ok()) {
        state.SkipWithError((env.schemas[i].first + ": " + r.status().ToString()).c_str());
        return;
      }
      times[i].push_back(t);
    }
  }
  std::vector<double> total, convert, automaton, mask, cpu;
  CompileSummary& s = Compiles(pipeline);
  s.slowest.clear();
  for (size_t i = 0; i < n; ++i) {
    std::vector<double> tt, c, a, m, u;
    for (const StageTimes& t : times[i]) {
      tt.push_back(t.total);
      u.push_back(t.cpu);
      c.push_back(t.convert);
      a.push_back(t.automaton);
      m.push_back(t.mask);
    }
    total.push_back(Percentile(tt, 0.5));
    convert.push_back(Percentile(c, 0.5));
    automaton.push_back(Percentile(a, 0.5));
    mask.push_back(Percentile(m, 0.5));
    cpu.push_back(Percentile(u, 0.5));
    s.slowest.emplace_back(total.back(), env.schemas[i].first);
  }
  std::sort(s.slowest.rbegin(), s.slowest.rend());
  s.slowest.resize(std::min<size_t>(3, s.slowest.size()));
  s.schemas = n;
  s.p50 = Percentile(total, 0.5);
  s.p99 = Percentile(total, 0.99);
  s.max = *std::max_element(total.begin(), total.end());
  s.convert_p50 = Percentile(convert, 0.5);
  s.automaton_p50 = Percentile(automaton, 0.5);
  s.mask_p50 = Percentile(mask, 0.5);
  s.cpu_p50 = Percentile(cpu, 0.5);
  s.cpu_p99 = Percentile(cpu, 0.99);
  s.cpu_max = *std::max_element(cpu.begin(), cpu.end());
  state.counters["schemas"] = static_cast<double>(n);
  state.counters["p50_ms"] = s.p50;
  state.counters["cpu_p50_ms"] = s.cpu_p50;
  state.counters["cpu_max_ms"] = s.cpu_max;
  state.counters["p99_ms"] = s.p99;
  state.counters["max_ms"] = s.max;
}

void BM_CompileBaseline(benchmark::State& state) {
  const Env& env = GetEnv();
  if (!env.error.empty()) {
    state.SkipWithError(env.error.c_str());
    return;
  }
  std::vector<double> ms;
  for (auto _ : state) {
    StageTimes t;
    const auto t0 = Clock::now();
    auto r = CompileIr(BuiltinJsonGrammar(SchemaOptions()), &t);
    ms.push_back(MsSince(t0));
    if (!r.ok()) {
      state.SkipWithError(r.status().ToString().c_str());
      return;
    }
  }
  Compiles().baseline = Percentile(ms, 0.5);
  state.counters["p50_ms"] = Compiles().baseline;
}

struct MaskCase {
  const char* schema;  // schemas/NAME.schema.json
  const char* doc;     // bench/data/...
};

const std::vector<MaskCase>& MaskCases() {
  static const std::vector<MaskCase> cases = {
      {"k8s_deployment", "bench/data/schema_k8s_deployment.json"},
      {"openai_extract_entities", "bench/data/schema_extract_entities.json"},
      {"config_docker_compose", "bench/data/schema_docker_compose.json"},
  };
  return cases;
}

void BM_SchemaMask(benchmark::State& state, const MaskCase& c) {
  const Env& env = GetEnv();
  if (!env.error.empty()) {
    state.SkipWithError(env.error.c_str());
    return;
  }
  StageTimes t;
  auto cache =
      CompileSchema(ReadFile(SourcePath(std::string("schemas/") + c.schema + ".schema.json")), &t);
  if (!cache.ok()) {
    state.SkipWithError(cache.status().ToString().c_str());
    return;
  }
  std::string doc = ReadFile(SourcePath(c.doc));
  while (!doc.empty() && (doc.back() == '\n' || doc.back() == '\r')) doc.pop_back();
  const std::vector<int32_t> ids = env.tok->Encode(doc, false);
  const size_t words = env.info->words();
  std::vector<uint32_t> mask(words), naive(words);

  // Baseline, once: the naive mask at every step, which must equal the cached one.
  std::vector<double> naive_us;
  {
    GrammarMatcher m(*cache);
    for (const int32_t id : ids) {
      const auto t0 = Clock::now();
      m.FillNextTokenBitmaskNaive(naive.data(), words);
      naive_us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
      m.FillNextTokenBitmask(mask.data(), words);
      if (mask != naive) {
        state.SkipWithError("cached and naive masks differ");
        return;
      }
      if (!m.AcceptToken(id)) {
        state.SkipWithError("a document token was rejected");
        return;
      }
    }
  }

  std::vector<std::vector<double>> fill(ids.size());
  double max_raw = 0;
  for (auto _ : state) {
    double total = 0;
    GrammarMatcher m(*cache);
    for (size_t step = 0; step < ids.size(); ++step) {
      const int32_t id = ids[step];
      const auto t0 = Clock::now();
      m.FillNextTokenBitmask(mask.data(), words);
      const double f = std::chrono::duration<double, std::micro>(Clock::now() - t0).count();
      fill[step].push_back(f);
      max_raw = std::max(max_raw, f);
      total += f;
      if (!(mask[id >> 5] >> (id & 31) & 1) || !m.AcceptToken(id)) {
        state.SkipWithError("a document token was not allowed");
        return;
      }
    }
    if (!m.CanTerminate()) {
      state.SkipWithError("the document did not complete");
      return;
    }
    state.SetIterationTime(total * 1e-6);
  }
  std::vector<double> med;
  for (const auto& f : fill) med.push_back(Percentile(f, 0.5));
  MaskRow& row = MaskRows()[c.schema];
  row.tokens = ids.size();
  row.p50 = Percentile(med, 0.5);
  row.p99 = Percentile(med, 0.99);
  row.max = *std::max_element(med.begin(), med.end());
  row.max_raw = max_raw;
  row.naive_p50 = Percentile(naive_us, 0.5);
  row.compile_ms = t.total;
  row.cache_bytes = (*cache)->MemorySize() + (*cache)->grammar()->MemorySize();
  row.uncertain = (*cache)->stats().uncertain_tokens;
  state.counters["tokens"] = static_cast<double>(ids.size());
  state.counters["p50_us"] = row.p50;
  state.counters["p99_us"] = row.p99;
  state.counters["max_us"] = row.max;
  state.counters["naive_p50_us"] = row.naive_p50;
}

// Real-world schemas: SchemaStore's catalog (scripts/fetch-schemastore.sh, `make data`), each
// compiled once per iteration with the Llama-3 mask cache on one thread; p50 / p90 / p99 / max
// over the schemas that compile (the others fail fast with their reported error and are counted).
struct CorpusSummary {
  size_t files = 0, compiled = 0;
  double p50 = 0, p90 = 0, p99 = 0, max = 0, failed_max = 0;
  std::vector<std::pair<double, std::string>> slowest;
};
CorpusSummary& Corpus() {
  static CorpusSummary s;
  return s;
}

void BM_CompileSchemaStore(benchmark::State& state) {
  const Env& env = GetEnv();
  const fs::path root = bench::DataDir() + "/schemastore/schemas";
  if (!env.error.empty() || !fs::is_directory(root)) {
    state.SkipWithError(!env.error.empty() ? env.error.c_str()
                                           : "no SchemaStore corpus: run `make data`");
    return;
  }
  std::vector<std::pair<std::string, std::string>> files;
  for (const auto& e : fs::recursive_directory_iterator(root)) {
    if (e.is_regular_file()) {
      files.emplace_back(fs::relative(e.path(), root).string(), ReadFile(e.path().string()));
    }
  }
  std::sort(files.begin(), files.end());
  CorpusSummary& s = Corpus();
  for (auto _ : state) {
    std::vector<double> ok;
    s = CorpusSummary();
    s.files = files.size();
    for (const auto& [name, text] : files) {
      StageTimes t;
      const auto t0 = Clock::now();
      auto r = CompileSchema(text, &t);
      if (!r.ok()) {
        s.failed_max = std::max(s.failed_max, MsSince(t0));
        continue;
      }
      ok.push_back(t.total);
      s.slowest.emplace_back(t.total, name);
    }
    s.compiled = ok.size();
    s.p50 = Percentile(ok, 0.5);
    s.p90 = Percentile(ok, 0.9);
    s.p99 = Percentile(ok, 0.99);
    s.max = ok.empty() ? 0 : *std::max_element(ok.begin(), ok.end());
    std::sort(s.slowest.rbegin(), s.slowest.rend());
    s.slowest.resize(std::min<size_t>(3, s.slowest.size()));
  }
  state.counters["compiled"] = static_cast<double>(s.compiled);
  state.counters["p50_ms"] = s.p50;
  state.counters["p90_ms"] = s.p90;
  state.counters["max_ms"] = s.max;
}

void RegisterAll() {
  benchmark::RegisterBenchmark("BM_CompileBaseline/any_json_value", BM_CompileBaseline)
      ->Unit(benchmark::kMillisecond)
      ->MinTime(0.5);
  benchmark::RegisterBenchmark("BM_CompileAll/schemas",
                               [](benchmark::State& s) { BM_CompileAll(s, kCurrent); })
      ->Unit(benchmark::kMillisecond)
      ->Iterations(7);
  benchmark::RegisterBenchmark("BM_CompileAll/schemas_unabsorbed_unshared",
                               [](benchmark::State& s) { BM_CompileAll(s, kUnabsorbedUnshared); })
      ->Unit(benchmark::kMillisecond)
      ->Iterations(3);
  benchmark::RegisterBenchmark("BM_CompileAll/schemas_threads",
                               [](benchmark::State& s) { BM_CompileAll(s, kThreaded); })
      ->Unit(benchmark::kMillisecond)
      ->Iterations(7);
  benchmark::RegisterBenchmark("BM_CompileSchemaStore", BM_CompileSchemaStore)
      ->Unit(benchmark::kSecond)
      ->Iterations(1);
  for (const MaskCase& c : MaskCases()) {
    benchmark::RegisterBenchmark(("BM_SchemaMask/" + std::string(c.schema)).c_str(),
                                 [&c](benchmark::State& s) { BM_SchemaMask(s, c); })
        ->UseManualTime()
        ->Unit(benchmark::kMicrosecond)
        ->Iterations(15);
  }
}

void PrintSummary() {
  const CompileSummary& s = Compiles();
  if (s.schemas > 0) {
    std::printf(
        "\n| compile over schemas/ (%zu schemas, with mask cache) | p50 | p99 | max |\n"
        "|---|---:|---:|---:|\n"
        "| total, wall (ms) | %.2f | %.2f | %.2f |\n"
        "| total, thread CPU time (ms) | %.2f | %.2f | %.2f |\n"
        "| baseline: any-JSON-value grammar, same pipeline (ms) | %.2f | | |\n"
        "| ratio total p50 / baseline | %.2f | | |\n"
        "| stages p50 (ms): convert / automaton / mask cache | %.2f / %.2f / %.2f | | |\n",
        s.schemas, s.p50, s.p99, s.max, s.cpu_p50, s.cpu_p99, s.cpu_max, s.baseline,
        s.baseline > 0 ? s.p50 / s.baseline : 0.0, s.convert_p50, s.automaton_p50, s.mask_p50);
    const CompileSummary& b = Compiles(kUnabsorbedUnshared);
    if (b.schemas > 0) {
      std::printf(
          "| same run, without tail-call absorption and shared classifications: thread CPU (ms) "
          "| %.2f | %.2f | %.2f |\n"
          "| ratio without / with (thread CPU) | %.2fx | %.2fx | %.2fx |\n",
          b.cpu_p50, b.cpu_p99, b.cpu_max, s.cpu_p50 > 0 ? b.cpu_p50 / s.cpu_p50 : 0.0,
          s.cpu_p99 > 0 ? b.cpu_p99 / s.cpu_p99 : 0.0, s.cpu_max > 0 ? b.cpu_max / s.cpu_max : 0.0);
    }
    const CompileSummary& t = Compiles(kThreaded);
    if (t.schemas > 0) {
      std::printf(
          "| same run, mask cache on %d threads (the CLI's default): wall (ms) | %.2f | %.2f | "
          "%.2f |\n"
          "| ratio 1 thread / %d threads (wall) | %.2fx | %.2fx | %.2fx |\n",
          Pool()->num_threads(), t.p50, t.p99, t.max, Pool()->num_threads(),
          t.p50 > 0 ? s.p50 / t.p50 : 0.0, t.p99 > 0 ? s.p99 / t.p99 : 0.0,
          t.max > 0 ? s.max / t.max : 0.0);
    }
    std::printf("slowest:");
    for (const auto& [ms, name] : s.slowest) std::printf(" %s %.1f ms;", name.c_str(), ms);
    std::printf("\n");
  }
  const CorpusSummary& c = Corpus();
  if (c.files > 0) {
    std::printf(
        "\n| SchemaStore corpus (%zu files, %zu compile; with mask cache, 1 thread) | p50 | p90 | "
        "p99 | max |\n|---|---:|---:|---:|---:|\n| total, wall (ms) | %.1f | %.1f | %.1f | %.1f "
        "|\n| slowest failure (reported error), wall (ms) | | | | %.1f |\n",
        c.files, c.compiled, c.p50, c.p90, c.p99, c.max, c.failed_max);
    std::printf("slowest:");
    for (const auto& [ms, name] : c.slowest) std::printf(" %s %.0f ms;", name.c_str(), ms);
    std::printf("\n");
  }
  if (!MaskRows().empty()) {
    std::printf(
        "\n| schema | tokens | compile (ms) | mask p50 / p99 / max (us) | max raw (us) | naive p50 "
        "(us) | naive / cached p50 | cache bytes | uncertain |\n"
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for (const MaskCase& c : MaskCases()) {
      auto it = MaskRows().find(c.schema);
      if (it == MaskRows().end()) continue;
      const MaskRow& r = it->second;
      std::printf("| %s | %zu | %.1f | %.2f / %.2f / %.1f | %.0f | %.0f | %.0fx | %zu | %lld |\n",
                  c.schema, r.tokens, r.compile_ms, r.p50, r.p99, r.max, r.max_raw, r.naive_p50,
                  r.p50 > 0 ? r.naive_p50 / r.p50 : 0.0, r.cache_bytes,
                  static_cast<long long>(r.uncertain));
    }
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
  sieve::PrintSummary();
  return 0;
}
