// Grammar images (issue 9): compiling a JSON Schema through a sieve_compiler vs loading the same
// grammar from its image (sieve_grammar_deserialize), with the Llama-3 vocabulary, through the C
// API only. Each compile is a cache miss (the schema text differs by trailing spaces per iteration;
// a 1-byte cache budget keeps nothing); the token trie is warm in both (built once per compiler /
// vocabulary, as in a server). Numbers: bench/README.md.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "sieve/sieve.h"

namespace {

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
  return c;
}

void BM_CompileJsonSchema(benchmark::State& state, const char* file) {
  const std::string schema = Schema(file);
  sieve_compiler* c = MissCompiler();
  sieve_grammar* warm = nullptr;  // builds the token trie once
  sieve_compiler_compile_regex(c, "a", 1, &warm);
  sieve_grammar_free(warm);
  size_t pad = 0;
  for (auto _ : state) {
    const std::string text = schema + std::string(++pad, ' ');  // a new front-cache key
    sieve_grammar* g = nullptr;
    if (sieve_compiler_compile_json_schema(c, text.data(), text.size(), nullptr, &g) != SIEVE_OK) {
      state.SkipWithError(sieve_last_error()->message);
      break;
    }
    sieve_grammar_free(g);
  }
  sieve_compiler_free(c);
}

void BM_LoadImage(benchmark::State& state, const char* file) {
  const std::string schema = Schema(file);
  sieve_compiler* c = MissCompiler();
  sieve_grammar* g = nullptr;
  if (sieve_compiler_compile_json_schema(c, schema.data(), schema.size(), nullptr, &g) != SIEVE_OK) {
    state.SkipWithError(sieve_last_error()->message);
    return;
  }
  size_t n = 0;
  sieve_grammar_serialize(g, nullptr, 0, &n);
  std::string image(n, '\0');
  sieve_grammar_serialize(g, image.data(), n, &n);
  state.counters["image_bytes"] = static_cast<double>(n);
  for (auto _ : state) {
    sieve_grammar* h = nullptr;
    if (sieve_grammar_deserialize(image.data(), image.size(), Vocab(), &h) != SIEVE_OK) {
      state.SkipWithError(sieve_last_error()->message);
      break;
    }
    sieve_grammar_free(h);
  }
  sieve_grammar_free(g);
  sieve_compiler_free(c);
}

#define SIEVE_IMAGE_BENCH(file)                                                          \
  BENCHMARK_CAPTURE(BM_CompileJsonSchema, file, #file ".schema.json")                   \
      ->Unit(benchmark::kMillisecond)                                                    \
      ->MinTime(1.0);                                                                    \
  BENCHMARK_CAPTURE(BM_LoadImage, file, #file ".schema.json")->Unit(benchmark::kMillisecond)->MinTime(1.0)

SIEVE_IMAGE_BENCH(api_oauth_token);
SIEVE_IMAGE_BENCH(api_geojson_feature);
SIEVE_IMAGE_BENCH(api_github_issue);

}  // namespace

BENCHMARK_MAIN();
