// Tokenizer benchmarks: loading tokenizer.json (+ config) into a usable Tokenizer, and encoding
// / decoding, for the real Llama-3, DeepSeek-V3 and Qwen3 tokenizers.
//
// Tokenizers are read from $SIEVE_DATA_DIR/tokenizers/<name>/ (default ~/.cache/sieve; fetch them
// with scripts/fetch-tokenizers.sh); a missing one makes its benchmarks report an error rather
// than a number. Encode throughput is reported as bytes of input text per second. Two inputs:
// EncodeProse is ~100 KB of one English passage repeated (the best case for the per-call
// pre-token cache: after the first passage every word is a cache hit), EncodeCorpus is the golden
// test corpus (tests/data/tokenizer_corpus.jsonl: code, JSON, CJK, emoji, long runs, random
// characters) encoded entry by entry, the adversarial case.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "bench/bench_util.h"
#include "grammar/tokenizer/tokenizer.h"
#include "rapidjson/document.h"

namespace sieve {
namespace {

using bench::TokenizerDir;

// One loaded tokenizer per name for the encode benchmarks (null and `error` set on failure).
std::shared_ptr<const Tokenizer> Cached(const std::string& name, std::string* error) {
  static std::map<std::string, std::shared_ptr<const Tokenizer>> cache;
  auto it = cache.find(name);
  if (it != cache.end()) return it->second;
  auto tok = Tokenizer::Load(TokenizerDir(name));
  if (!tok.ok()) {
    *error = tok.status().ToString() + " (run scripts/fetch-tokenizers.sh)";
    return nullptr;
  }
  cache[name] = tok.value();
  return tok.value();
}

// About 100 KB of English prose with some numbers, quotes and line breaks.
const std::string& Prose() {
  static const std::string text = [] {
    const std::string paragraph =
        "The committee met on Tuesday, March 3rd, to review the proposal. After a long "
        "discussion, which covered the budget (roughly $4.2 million over 18 months), the "
        "schedule and the risks, most members agreed that the plan was sound. \"We can't "
        "afford to wait another year,\" said the chair. Others weren't so sure: they'd "
        "seen similar projects fail because nobody owned the integration work.\n\n"
        "In the end, the vote was 7 to 2. The minutes record that the two dissenters asked "
        "for a review in six months' time, and that the team will publish progress reports "
        "every quarter. It's an ambitious timeline, but the engineers seem confident.\n";
    std::string out;
    while (out.size() < 100 * 1024) out += paragraph;
    return out;
  }();
  return text;
}

void BM_Load(benchmark::State& state, const char* name) {
  const std::string dir = TokenizerDir(name);
  for (auto _ : state) {
    auto tok = Tokenizer::Load(dir);
    if (!tok.ok()) {
      state.SkipWithError((tok.status().ToString() + " (run scripts/fetch-tokenizers.sh)").c_str());
      return;
    }
    benchmark::DoNotOptimize(tok.value().get());
  }
}

void BM_LoadLlama3(benchmark::State& state) { BM_Load(state, "llama3"); }
void BM_LoadDeepSeekV3(benchmark::State& state) { BM_Load(state, "deepseek_v3"); }
void BM_LoadQwen3(benchmark::State& state) { BM_Load(state, "qwen3"); }
BENCHMARK(BM_LoadLlama3)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_LoadDeepSeekV3)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_LoadQwen3)->Unit(benchmark::kMillisecond);

void BM_EncodeProse(benchmark::State& state, const char* name) {
  std::string error;
  auto tok = Cached(name, &error);
  if (tok == nullptr) {
    state.SkipWithError(error.c_str());
    return;
  }
  const std::string& text = Prose();
  size_t tokens = 0;
  for (auto _ : state) {
    std::vector<int32_t> ids = tok->Encode(text);
    tokens = ids.size();
    benchmark::DoNotOptimize(ids.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * text.size()));
  state.counters["tokens"] = static_cast<double>(tokens);
}
BENCHMARK_CAPTURE(BM_EncodeProse, llama3, "llama3")->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_EncodeProse, deepseek_v3, "deepseek_v3")->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_EncodeProse, qwen3, "qwen3")->Unit(benchmark::kMillisecond);

// The texts of tests/data/tokenizer_corpus.jsonl (empty if the file is missing).
const std::vector<std::string>& Corpus() {
  static const std::vector<std::string> texts = [] {
    std::vector<std::string> out;
    std::ifstream in(std::string(SIEVE_SOURCE_DIR) + "/tests/data/tokenizer_corpus.jsonl");
    std::string line;
    while (std::getline(in, line)) {
      rapidjson::Document d;
      d.Parse(line.data(), line.size());
      if (d.HasParseError() || !d.IsObject() || !d.HasMember("text") || !d["text"].IsString()) {
        continue;
      }
      out.emplace_back(d["text"].GetString(), d["text"].GetStringLength());
    }
    return out;
  }();
  return texts;
}

void BM_EncodeCorpus(benchmark::State& state, const char* name) {
  std::string error;
  auto tok = Cached(name, &error);
  if (tok == nullptr) {
    state.SkipWithError(error.c_str());
    return;
  }
  const std::vector<std::string>& texts = Corpus();
  if (texts.empty()) {
    state.SkipWithError("tests/data/tokenizer_corpus.jsonl not found");
    return;
  }
  size_t bytes = 0;
  for (const std::string& t : texts) bytes += t.size();
  for (auto _ : state) {
    for (const std::string& t : texts) {
      std::vector<int32_t> ids = tok->Encode(t);
      benchmark::DoNotOptimize(ids.data());
    }
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * bytes));
}
BENCHMARK_CAPTURE(BM_EncodeCorpus, llama3, "llama3")->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_EncodeCorpus, deepseek_v3, "deepseek_v3")->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_EncodeCorpus, qwen3, "qwen3")->Unit(benchmark::kMillisecond);

void BM_DecodeProse(benchmark::State& state, const char* name) {
  std::string error;
  auto tok = Cached(name, &error);
  if (tok == nullptr) {
    state.SkipWithError(error.c_str());
    return;
  }
  const std::vector<int32_t> ids = tok->Encode(Prose());
  for (auto _ : state) {
    std::string text = tok->Decode(ids);
    benchmark::DoNotOptimize(text.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * Prose().size()));
}
BENCHMARK_CAPTURE(BM_DecodeProse, llama3, "llama3")->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace sieve

BENCHMARK_MAIN();
