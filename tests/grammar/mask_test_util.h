// Helpers shared by the mask-cache suites: real tokenizers (loaded once per process), grammar
// compilation, and the comparison of FillNextTokenBitmask with the naive oracle along token walks.
#ifndef SIEVE_TESTS_GRAMMAR_MASK_TEST_UTIL_H_
#define SIEVE_TESTS_GRAMMAR_MASK_TEST_UTIL_H_

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "grammar/ebnf_parser.h"
#include "grammar/mask_cache.h"
#include "grammar/matcher.h"
#include "grammar/simplify.h"
#include "grammar/tokenizer/tokenizer.h"
#include "tests/testing/naive_mask.h"

namespace sieve::mask_test {

inline std::string DataDir() {
  if (const char* d = std::getenv("SIEVE_DATA_DIR"); d != nullptr && *d != '\0') return d;
  const char* home = std::getenv("HOME");
  return std::string(home != nullptr ? home : "") + "/.cache/sieve";
}

inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline std::string GrammarPath(const std::string& name) {
  return std::string(SIEVE_TEST_DATA_DIR) + "/grammars/" + name;
}

// A real tokenizer ("llama3", "deepseek_v3", "qwen3"), loaded once; null (with a test failure)
// when missing: the suites need them (make test fetches them).
inline std::shared_ptr<const Tokenizer> RealTokenizer(const std::string& name) {
  static std::map<std::string, std::shared_ptr<const Tokenizer>> loaded;
  auto it = loaded.find(name);
  if (it != loaded.end()) return it->second;
  auto t = Tokenizer::Load(DataDir() + "/tokenizers/" + name);
  EXPECT_TRUE(t.ok()) << name << ": " << t.status().ToString();
  std::shared_ptr<const Tokenizer> tok = t.ok() ? *t : nullptr;
  loaded[name] = tok;
  return tok;
}

inline std::shared_ptr<const Vocabulary> VocabOf(const Tokenizer& t) {
  static std::map<const Tokenizer*, std::shared_ptr<const Vocabulary>> vocabs;
  auto& v = vocabs[&t];
  if (v == nullptr) v = std::make_shared<const Vocabulary>(t.vocabulary());
  return v;
}

inline std::shared_ptr<const TokenizerInfo> InfoOf(const std::shared_ptr<const Vocabulary>& v) {
  static std::map<const Vocabulary*, std::shared_ptr<const TokenizerInfo>> infos;
  auto& info = infos[v.get()];
  if (info == nullptr) {
    auto built = TokenizerInfo::Build(v);
    EXPECT_TRUE(built.ok()) << built.status().ToString();
    if (built.ok()) info = *built;
  }
  return info;
}

inline std::shared_ptr<const CompiledGrammar> CompileText(const std::string& text,
                                                          const CompileOptions& opts = {}) {
  auto g = ParseEbnf(text);
  EXPECT_TRUE(g.ok()) << g.status().ToString();
  if (!g.ok()) return nullptr;
  auto s = Simplify(*g);
  EXPECT_TRUE(s.ok()) << s.status().ToString();
  if (!s.ok()) return nullptr;
  auto c = CompileGrammar(*s, opts);
  EXPECT_TRUE(c.ok()) << c.status().ToString();
  return c.ok() ? *c : nullptr;
}

inline std::shared_ptr<const TokenMaskCache> BuildCache(
    const std::shared_ptr<const CompiledGrammar>& g, const std::shared_ptr<const Vocabulary>& v,
    const MaskCacheOptions& opts = {}) {
  auto c = TokenMaskCache::Build(g, InfoOf(v), opts);
  EXPECT_TRUE(c.ok()) << c.status().ToString();
  return c.ok() ? *c : nullptr;
}

// Compares the fast and the naive mask of `m` over `words` words (both written over garbage);
// on a difference, describes the first differing ids and the stacks. The oracle is the matcher's
// FillNextTokenBitmaskNaive (every token stepped from the current set), or with `fork_oracle` the
// fork-per-token NaiveNextTokenBitmask (slower; the two are checked equal by the matcher suites).
inline bool SameMask(const GrammarMatcher& m, size_t words, std::string* why,
                     bool fork_oracle = false) {
  std::vector<uint32_t> fast(words, 0xA5A5A5A5u), naive(words, 0x5A5A5A5Au);
  m.FillNextTokenBitmask(fast.data(), words);
  if (fork_oracle) {
    NaiveNextTokenBitmask(m, naive.data(), words);
  } else {
    m.FillNextTokenBitmaskNaive(naive.data(), words);
  }
  if (fast == naive) return true;
  std::ostringstream os;
  int shown = 0;
  for (size_t i = 0; i < words * 32 && shown < 8; ++i) {
    const bool a = fast[i >> 5] >> (i & 31) & 1, b = naive[i >> 5] >> (i & 31) & 1;
    if (a == b) continue;
    os << "token " << i;
    if (m.vocabulary() != nullptr && i < m.vocabulary()->size()) {
      os << " '" << m.vocabulary()->TokenBytes(static_cast<int32_t>(i)) << "'";
    }
    os << ": fast " << a << ", naive " << b << "\n";
    ++shown;
  }
  os << "stacks:\n" << m.DebugString();
  *why = os.str();
  return false;
}

// The ids the mask allows, stop tokens excluded.
inline std::vector<int32_t> AllowedIds(const GrammarMatcher& m) {
  const Vocabulary& v = *m.vocabulary();
  std::vector<uint32_t> mask(BitmaskWords(v.size()));
  m.FillNextTokenBitmask(mask.data(), mask.size());
  std::vector<int32_t> ids;
  for (size_t i = 0; i < v.size(); ++i) {
    if ((mask[i >> 5] >> (i & 31) & 1) && !m.IsStopToken(static_cast<int32_t>(i))) {
      ids.push_back(static_cast<int32_t>(i));
    }
  }
  return ids;
}

// Walks `steps` random allowed tokens from `m`'s state (short ones half the time, so walks reach
// deep into rules), checking the fast mask against the oracle before every step. Returns the
// masks compared; stops at the first difference (recorded as a test failure).
inline int CheckRandomWalk(GrammarMatcher* m, std::mt19937* rng, int steps,
                           const std::string& ctx) {
  const size_t words = BitmaskWords(m->vocabulary()->size());
  int compared = 0;
  for (int step = 0; step < steps; ++step) {
    std::string why;
    if (!SameMask(*m, words, &why)) {
      ADD_FAILURE() << ctx << " step " << step << ":\n" << why;
      return -1;
    }
    ++compared;
    const std::vector<int32_t> allowed = AllowedIds(*m);
    if (allowed.empty()) break;
    std::vector<int32_t> short_ones;
    for (const int32_t id : allowed) {
      if (m->vocabulary()->TokenBytes(id).size() <= 2) short_ones.push_back(id);
    }
    const std::vector<int32_t>& pool =
        (!short_ones.empty() && (*rng)() % 2 == 0) ? short_ones : allowed;
    const int32_t id = pool[(*rng)() % pool.size()];
    if (!m->AcceptToken(id)) {
      ADD_FAILURE() << ctx << ": an allowed token was rejected: " << id;
      return -1;
    }
  }
  return compared;
}

// Feeds `ids` one by one, checking the fast mask before each (and that the token is allowed).
inline int CheckTokens(GrammarMatcher* m, const std::vector<int32_t>& ids, const std::string& ctx) {
  const size_t words = BitmaskWords(m->vocabulary()->size());
  int compared = 0;
  for (size_t i = 0; i < ids.size(); ++i) {
    std::string why;
    if (!SameMask(*m, words, &why)) {
      ADD_FAILURE() << ctx << " token " << i << ":\n" << why;
      return -1;
    }
    ++compared;
    if (!m->AcceptToken(ids[i])) {
      ADD_FAILURE() << ctx << ": token " << i << " (" << ids[i] << ") rejected";
      return -1;
    }
  }
  std::string why;
  if (!SameMask(*m, words, &why)) {
    ADD_FAILURE() << ctx << " at the end:\n" << why;
    return -1;
  }
  return compared + 1;
}

}  // namespace sieve::mask_test

#endif  // SIEVE_TESTS_GRAMMAR_MASK_TEST_UTIL_H_
