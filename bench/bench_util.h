// Shared by the benchmark programs: where the source tree and the tokenizer cache are, reading a
// data file, and the Llama-3 tokenizer with its token trie. SIEVE_SOURCE_DIR is defined per target
// by bench/CMakeLists.txt.
#pragma once

#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#include "grammar/token_trie.h"
#include "grammar/tokenizer/tokenizer.h"

namespace sieve::bench {

#ifdef SIEVE_SOURCE_DIR
inline std::string SourcePath(const std::string& rel) {
  return std::string(SIEVE_SOURCE_DIR) + "/" + rel;
}
#endif

inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// $SIEVE_DATA_DIR (default $HOME/.cache/sieve): where `make data` puts tokenizers and corpora.
inline std::string DataDir() {
  const char* d = std::getenv("SIEVE_DATA_DIR");
  if (d != nullptr && *d != '\0') return d;
  const char* home = std::getenv("HOME");
  return std::string(home ? home : ".") + "/.cache/sieve";
}

// $SIEVE_DATA_DIR/tokenizers/NAME, as scripts/fetch-tokenizers.sh lays them out.
inline std::string TokenizerDir(const std::string& name) {
  return DataDir() + "/tokenizers/" + name;
}

// The Llama-3 tokenizer, its vocabulary and token trie (built once per process, as in a server);
// `error` is set instead when the tokenizer is missing.
struct Llama3 {
  std::shared_ptr<const Tokenizer> tok;
  std::shared_ptr<const Vocabulary> vocab;
  std::shared_ptr<const TokenizerInfo> info;
  std::string error;
};

inline const Llama3& GetLlama3() {
  static const Llama3 env = [] {
    Llama3 e;
    auto tok = Tokenizer::Load(TokenizerDir("llama3"));
    if (!tok.ok()) {
      e.error = tok.status().ToString() + " (run scripts/fetch-tokenizers.sh)";
      return e;
    }
    e.tok = *tok;
    e.vocab = std::make_shared<const Vocabulary>(e.tok->vocabulary());
    auto info = TokenizerInfo::Build(e.vocab);
    if (!info.ok()) {
      e.error = info.status().ToString();
      return e;
    }
    e.info = *info;
    return e;
  }();
  return env;
}

}  // namespace sieve::bench
