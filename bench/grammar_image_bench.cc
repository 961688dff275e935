// Grammar images (issue 9): compiling a JSON Schema through a sieve_compiler vs saving its image
// (sieve_grammar_serialize) vs loading it (sieve_grammar_deserialize), with the Llama-3 vocabulary,
// through the C API only. Each compile is a cache miss (the schema text differs by trailing spaces
// per iteration; a 1-byte cache budget keeps nothing); the token trie is warm in all three (built
// once per vocabulary, as in a server).
//
// BM_LoadImage also reports the ratio against a baseline measured in the same process just before
// it: `compile_ms` is the median of 5 cache-miss compiles of the same schema, `load_ms` the mean
// load time of the benchmark loop, `speedup` = compile_ms / load_ms. Run with
// --benchmark_repetitions=5 --benchmark_report_aggregates_only=true for medians. Numbers:
// bench/README.md.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "sieve/sieve.h"

namespace {

using Clock = std::chrono::steady_clock;

sieve_vocab* Vocab() {
  static sieve_vocab* v = [] {
    const char* d = std::getenv("SIEVE_DATA_DIR");
    const std::string dir = d ? d : std::string(std::getenv("HOME")) + "/.cache/sieve";
    sieve_vocab* out = nullptr;
    if (sieve_vocab_create_from_file((dir + "/tokenizers/llama3").c_str(), &out) != SIEVE_OK) {
      std::abort();
    }
    return out;
  }();
  return v;
}

std::string Schema(const char* name) {
  std::ifstream f(std::string(SIEVE_SOURCE_DIR) + "/schemas/" + name);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

sieve_compiler* MissCompiler() {
  sieve_compiler_options o;
  sieve_compiler_options_init(&o);
  o.cache_bytes = 1;  // keep nothing: every compile builds
  sieve_compiler* c = nullptr;
  sieve_compiler_create(Vocab(), &o, &c);
  sieve_grammar* warm = nullptr;  // builds the token trie once
  sieve_compiler_compile_regex(c, "a", 1, &warm);
  sieve_grammar_free(warm);
  return c;
}

// A cache-miss compile of `schema` (a new front-cache key each call); null on error.
sieve_grammar* Compile(sieve_compiler* c, const std::string& schema, size_t* pad) {
  const std::string text = schema + std::string(++*pad, ' ');
  sieve_grammar* g = nullptr;
  if (sieve_compiler_compile_json_schema(c, text.data(), text.size(), nullptr, &g) != SIEVE_OK) {
    return nullptr;
  }
  return g;
}

std::string Image(sieve_grammar* g) {
  size_t n = 0;
  sieve_grammar_serialize(g, nullptr, 0, &n);
  std::string image(n, '\0');
  sieve_grammar_serialize(g, image.data(), n, &n);
  return image;
}

void BM_CompileJsonSchema(benchmark::State& state, const char* file) {
  const std::string schema = Schema(file);
  sieve_compiler* c = MissCompiler();
  size_t pad = 0;
  for (auto _ : state) {
    sieve_grammar* g = Compile(c, schema, &pad);
    if (g == nullptr) {
      state.SkipWithError(sieve_last_error()->message);
      break;
    }
    sieve_grammar_free(g);
  }
  sieve_compiler_free(c);
}

void BM_SaveImage(benchmark::State& state, const char* file) {
  const std::string schema = Schema(file);
  sieve_compiler* c = MissCompiler();
  size_t pad = 0;
  sieve_grammar* g = Compile(c, schema, &pad);
  if (g == nullptr) {
    state.SkipWithError(sieve_last_error()->message);
    sieve_compiler_free(c);
    return;
  }
  size_t n = 0;
  for (auto _ : state) {
    n = Image(g).size();
    benchmark::DoNotOptimize(n);
  }
  state.counters["image_bytes"] = static_cast<double>(n);
  sieve_grammar_free(g);
  sieve_compiler_free(c);
}

void BM_LoadImage(benchmark::State& state, const char* file) {
  const std::string schema = Schema(file);
  sieve_compiler* c = MissCompiler();
  size_t pad = 0;
  // Baseline in the same process: the median of 5 cache-miss compiles.
  std::vector<double> compile_ms;
  sieve_grammar* g = nullptr;
  for (int i = 0; i < 5; ++i) {
    sieve_grammar_free(g);
    const auto t0 = Clock::now();
    g = Compile(c, schema, &pad);
    compile_ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
    if (g == nullptr) {
      state.SkipWithError(sieve_last_error()->message);
      sieve_compiler_free(c);
      return;
    }
  }
  std::sort(compile_ms.begin(), compile_ms.end());
  const std::string image = Image(g);
  double load_total_ms = 0;
  int64_t loads = 0;
  for (auto _ : state) {
    const auto t0 = Clock::now();
    sieve_grammar* h = nullptr;
    if (sieve_grammar_deserialize(image.data(), image.size(), Vocab(), &h) != SIEVE_OK) {
      state.SkipWithError(sieve_last_error()->message);
      break;
    }
    load_total_ms += std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
    ++loads;
    sieve_grammar_free(h);
  }
  const double load_ms = loads > 0 ? load_total_ms / static_cast<double>(loads) : 0;
  state.counters["image_bytes"] = static_cast<double>(image.size());
  state.counters["compile_ms"] = compile_ms[2];
  state.counters["load_ms"] = load_ms;
  state.counters["speedup"] = load_ms > 0 ? compile_ms[2] / load_ms : 0;
  sieve_grammar_free(g);
  sieve_compiler_free(c);
}

#define SIEVE_IMAGE_BENCH(file)                                       \
  BENCHMARK_CAPTURE(BM_CompileJsonSchema, file, #file ".schema.json") \
      ->Unit(benchmark::kMillisecond)                                 \
      ->MinTime(0.5);                                                 \
  BENCHMARK_CAPTURE(BM_SaveImage, file, #file ".schema.json")         \
      ->Unit(benchmark::kMillisecond)                                 \
      ->MinTime(0.5);                                                 \
  BENCHMARK_CAPTURE(BM_LoadImage, file, #file ".schema.json")         \
      ->Unit(benchmark::kMillisecond)                                 \
      ->MinTime(0.5)

SIEVE_IMAGE_BENCH(api_oauth_token);
SIEVE_IMAGE_BENCH(api_geojson_feature);
SIEVE_IMAGE_BENCH(api_github_issue);
SIEVE_IMAGE_BENCH(openai_search_flights);

}  // namespace

BENCHMARK_MAIN();
