// Shared by the benchmark programs: where the source tree and the tokenizer cache are, and reading a
// data file. SIEVE_SOURCE_DIR is defined per target by bench/CMakeLists.txt.
#pragma once

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

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

// $SIEVE_DATA_DIR/tokenizers/NAME (default $HOME/.cache/sieve), as scripts/fetch-tokenizers.sh
// lays them out.
inline std::string TokenizerDir(const std::string& name) {
  const char* d = std::getenv("SIEVE_DATA_DIR");
  std::string base;
  if (d != nullptr && *d != '\0') {
    base = d;
  } else {
    const char* home = std::getenv("HOME");
    base = std::string(home ? home : ".") + "/.cache/sieve";
  }
  return base + "/tokenizers/" + name;
}

}  // namespace sieve::bench
