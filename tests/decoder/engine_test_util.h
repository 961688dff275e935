// Helpers shared by the engine tests: the built-in model, requests, and the independent checks
// every output goes through (a fresh matcher fed the output's bytes, as `sieve validate` does,
// and RapidJSON's schema validator for JSON Schemas).
#ifndef SIEVE_TESTS_DECODER_ENGINE_TEST_UTIL_H_
#define SIEVE_TESTS_DECODER_ENGINE_TEST_UTIL_H_

#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "decoder/engine.h"
#include "decoder/engine_model.h"
#include "grammar/ebnf_parser.h"
#include "grammar/grammar_cache.h"
#include "grammar/json_schema.h"
#include "grammar/matcher.h"
#include "grammar/regex_parser.h"

namespace sieve::testing {

inline std::string ReadText(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

inline std::vector<std::string> SchemaFiles() {
  std::vector<std::string> out;
  for (const auto& e : std::filesystem::directory_iterator(SIEVE_SOURCE_DIR "/schemas")) {
    const std::string name = e.path().filename().string();
    if (name.size() > 12 && name.substr(name.size() - 12) == ".schema.json") {
      out.push_back(e.path().string());
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

// The built-in model, loaded once per test binary.
inline std::shared_ptr<const EngineModel> BuiltinModel() {
  static std::shared_ptr<const EngineModel> model = [] {
    EngineModelOptions o;
    o.device = EngineDevice::kCpu;
    auto m = EngineModel::Load(o);
    return m.ok() ? *m : nullptr;
  }();
  return model;
}

inline std::unique_ptr<Engine> MakeEngine(std::shared_ptr<const EngineModel> model, int batch,
                                          int64_t max_seq_len = 4096) {
  auto backend = model->CreateBackend(batch, max_seq_len);
  if (!backend.ok()) return nullptr;
  auto e = Engine::Create(model, std::move(*backend));
  return e.ok() ? std::move(*e) : nullptr;
}

// An independent compile of the structure (no shared cache with the engine).
inline std::shared_ptr<const TokenMaskCache> CompileIndependently(const Structure& s,
                                                                  const EngineModel& model) {
  GrammarCache cache;
  GrammarCacheOptions opts;
  if (s.kind == StructureKind::kJsonSchema) {
    auto g = JsonSchemaToGrammar(s.text, s.json);
    if (!g.ok()) return nullptr;
    auto c = cache.GetOrCompile(g->grammar, model.vocab(), opts);
    return c.ok() ? *c : nullptr;
  }
  if (s.kind == StructureKind::kRegex) {
    auto g = RegexToGrammar(s.text);
    if (!g.ok()) return nullptr;
    auto c = cache.GetOrCompile(*g, model.vocab(), opts);
    return c.ok() ? *c : nullptr;
  }
  opts.ebnf.root = s.root;
  auto c = cache.GetOrCompileEbnf(s.text, model.vocab(), opts);
  return c.ok() ? *c : nullptr;
}

// 1: a complete sentence; 0: a proper prefix only; -1: rejected.
inline int GrammarVerdict(const std::shared_ptr<const TokenMaskCache>& g, const std::string& text) {
  GrammarMatcher m(g);
  if (!m.AcceptString(text)) return -1;
  return m.CanTerminate() ? 1 : 0;
}

}  // namespace sieve::testing

#endif  // SIEVE_TESTS_DECODER_ENGINE_TEST_UTIL_H_
