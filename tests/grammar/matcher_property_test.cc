// Property tests: the compiled matcher against the reference recogniser (tests/testing), which
// works straight from the unsimplified Grammar IR, over the embedded test grammars and the shared
// ones in tests/data/grammars. The shared sentence files must get their verdicts; random walks
// through each grammar (random allowed bytes) must give sentences / prefixes the reference accepts;
// one-byte mutations of them must get the same verdict from both; token masks must equal both the
// fork-per-token oracle and the reference's prefix test. Seeds are fixed, so failures reproduce.
#include <gtest/gtest.h>

#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "grammar/ebnf_parser.h"
#include "grammar/matcher.h"
#include "grammar/simplify.h"
#include "tests/grammar/test_grammars.h"
#include "tests/testing/naive_mask.h"
#include "tests/testing/reference_recognizer.h"

namespace sieve {
namespace {

namespace tg = testing_grammars;

struct Case {
  const char* name;
  const char* text;  // null: tests/data/grammars/NAME.ebnf
};

const Case kCases[] = {
    {"embedded_json", tg::kJson},
    {"embedded_arithmetic", tg::kArithmetic},
    {"embedded_csv", tg::kCsv},
    {"embedded_nested_bounds", tg::kNestedBounds},
    {"embedded_unicode", tg::kUnicode},
    {"json", nullptr},
    {"arithmetic_leftrec", nullptr},
    {"c_like", nullptr},
    {"csv", nullptr},
    {"pgn", nullptr},
    {"unicode", nullptr},
    {"nested_bounds", nullptr},
};

std::string DataPath(const std::string& file) {
  return std::string(SIEVE_TEST_DATA_DIR) + "/grammars/" + file;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << "cannot read " << path;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

struct Compiled {
  Grammar source;  // as parsed: the reference's input
  std::shared_ptr<const CompiledGrammar> compiled;
};

Compiled CompileCase(const Case& c) {
  const std::string text =
      c.text != nullptr ? c.text : ReadFile(DataPath(std::string(c.name) + ".ebnf"));
  auto g = ParseEbnf(text);
  EXPECT_TRUE(g.ok()) << c.name << ": " << g.status().ToString();
  auto s = Simplify(*g);
  EXPECT_TRUE(s.ok()) << c.name << ": " << s.status().ToString();
  auto compiled = CompileGrammar(*s);
  EXPECT_TRUE(compiled.ok()) << c.name << ": " << compiled.status().ToString();
  return {*g, compiled.ok() ? *compiled : nullptr};
}

TEST(MatcherProperty, SharedSentenceFilesGetTheirVerdicts) {
  int files = 0;
  for (const Case& c : kCases) {
    if (c.text != nullptr) continue;
    SCOPED_TRACE(c.name);
    Compiled g = CompileCase(c);
    ASSERT_NE(g.compiled, nullptr);
    std::vector<TestSentence> accept, reject;
    std::string error;
    ASSERT_TRUE(LoadSentences(DataPath(std::string(c.name) + ".accept.txt"), &accept, &error))
        << error;
    ASSERT_TRUE(LoadSentences(DataPath(std::string(c.name) + ".reject.txt"), &reject, &error))
        << error;
    EXPECT_FALSE(accept.empty());
    EXPECT_FALSE(reject.empty());
    for (const TestSentence& t : accept) {
      GrammarMatcher m(g.compiled);
      EXPECT_TRUE(m.AcceptString(t.text) && m.CanTerminate()) << "accept line " << t.line;
    }
    for (const TestSentence& t : reject) {
      GrammarMatcher m(g.compiled);
      const bool read_all = m.AcceptString(t.text);
      if (t.prefix) {
        EXPECT_TRUE(read_all) << "prefix line " << t.line << " must be readable";
        EXPECT_FALSE(m.CanTerminate()) << "prefix line " << t.line << " is not a sentence";
      } else {
        EXPECT_FALSE(read_all) << "reject line " << t.line << " must fail on some byte";
      }
    }
    ++files;
  }
  EXPECT_EQ(files, 7);
}

// A random walk: random allowed bytes (ASCII half the time when some is allowed), ending at the
// first point where the grammar can end after a random target length. `complete` tells whether it
// ended at a sentence (else it gave up after 4 x max_len bytes).
std::string RandomWalk(const std::shared_ptr<const CompiledGrammar>& c, std::mt19937* rng,
                       size_t max_len, bool* complete) {
  GrammarMatcher m(c);
  std::string s;
  const size_t target = (*rng)() % (max_len + 1);
  for (;;) {
    const std::bitset<256> next = m.NextBytes();
    if (m.CanTerminate() && (next.none() || s.size() >= target)) {
      *complete = true;
      return s;
    }
    EXPECT_TRUE(next.any()) << "a closed set that cannot end must read some byte: " << s;
    if (next.none() || s.size() >= 4 * max_len) {
      *complete = false;
      return s;
    }
    std::vector<int> ascii, all;
    for (int b = 0; b < 256; ++b) {
      if (!next.test(b)) continue;
      all.push_back(b);
      if (b < 0x80) ascii.push_back(b);
    }
    const std::vector<int>& pool = (!ascii.empty() && (*rng)() % 2 == 0) ? ascii : all;
    const int b = pool[(*rng)() % pool.size()];
    EXPECT_TRUE(m.AcceptByte(static_cast<uint8_t>(b))) << "NextBytes offered a rejected byte";
    s.push_back(static_cast<char>(b));
  }
}

std::string Mutate(const std::string& s, std::mt19937* rng) {
  auto random_byte = [&]() -> char {
    static const char kPunct[] = "{}[]\",:0123456789 \n\\-+.eE()*/ab";
    if ((*rng)() % 2 == 0) return kPunct[(*rng)() % (sizeof(kPunct) - 1)];
    return static_cast<char>((*rng)() % 256);
  };
  std::string m = s;
  const size_t pos = m.empty() ? 0 : (*rng)() % (m.size() + 1);
  switch ((*rng)() % 3) {
    case 0:
      if (pos < m.size()) {
        m[pos] = random_byte();
        break;
      }
      [[fallthrough]];
    case 1:
      m.insert(m.begin() + pos, random_byte());
      break;
    default:
      if (pos < m.size()) m.erase(m.begin() + pos);
      break;
  }
  return m;
}

TEST(MatcherProperty, RandomWalksProduceSentencesTheReferenceAccepts) {
  for (const Case& c : kCases) {
    SCOPED_TRACE(c.name);
    Compiled g = CompileCase(c);
    ASSERT_NE(g.compiled, nullptr);
    std::mt19937 rng(1234);
    int complete_walks = 0;
    for (int i = 0; i < 150; ++i) {
      bool complete = false;
      const std::string s = RandomWalk(g.compiled, &rng, 40, &complete);
      if (complete) {
        ++complete_walks;
        ASSERT_TRUE(ReferenceMatch(g.source, s)) << "walk " << i << ": " << s;
      } else {
        ASSERT_TRUE(ReferenceIsPrefix(g.source, s)) << "walk " << i << ": " << s;
      }
      // A random proper prefix is a prefix for the reference too.
      const std::string p = s.substr(0, s.empty() ? 0 : rng() % s.size());
      ASSERT_TRUE(ReferenceIsPrefix(g.source, p)) << p;
    }
    EXPECT_GT(complete_walks, 10) << "too few walks reached a sentence to test anything";
  }
}

TEST(MatcherProperty, MutatedSentencesGetTheReferenceVerdict) {
  for (const Case& c : kCases) {
    SCOPED_TRACE(c.name);
    Compiled g = CompileCase(c);
    ASSERT_NE(g.compiled, nullptr);
    std::mt19937 rng(99);
    int rejected = 0, checked = 0;
    for (int i = 0; i < 80; ++i) {
      bool complete = false;
      const std::string s = RandomWalk(g.compiled, &rng, 30, &complete);
      for (int k = 0; k < 6; ++k) {
        const std::string m = Mutate(s, &rng);
        GrammarMatcher matcher(g.compiled);
        const bool prefix = matcher.AcceptString(m);
        const bool match = prefix && matcher.CanTerminate();
        ASSERT_EQ(prefix, ReferenceIsPrefix(g.source, m)) << "prefix of: " << m;
        ASSERT_EQ(match, ReferenceMatch(g.source, m)) << "sentence: " << m;
        // Byte by byte gives the same verdict as all at once.
        GrammarMatcher bytes(g.compiled);
        bool ok = true;
        for (char ch : m) ok = ok && bytes.AcceptByte(static_cast<uint8_t>(ch));
        ASSERT_EQ(ok, prefix) << m;
        // Bulk stepping prunes closures with the next byte; byte by byte closes fully: the
        // resulting states must be the same.
        if (ok) {
          ASSERT_EQ(matcher.DebugString(), bytes.DebugString()) << m;
        }
        rejected += !prefix;
        ++checked;
      }
    }
    EXPECT_GT(rejected, checked / 10) << "mutations should often break the input";
  }
}

std::shared_ptr<const Vocabulary> MixedVocab() {
  std::vector<std::string> tokens = {
      "{",  "}",  "[",  "]",    "\"", ",",  ":",    " ",    "\n",   "0",   "1",   "12",   "-",
      ".",  "e",  "+",  "true", "tr", "ue", "null", "\"a",  "a\"",  "\":", "\",", "\"}",  "}]",
      "],", "a",  "ab", "z",    "(",  ")",  "*",    "/",    "+1",   "1)",  "é",   "\xc3", "\xa9",
      "α",  "中", "·",  "!",    "¡",  "\\", "\\u",  "00e9", "\"\"", ",\"", "x",   ""};
  std::vector<uint8_t> flags(tokens.size(), kTokenNormal);
  const std::pair<const char*, uint8_t> specials[] = {{"<eos>", kTokenSpecial | kTokenStop},
                                                      {"<ctrl>", kTokenSpecial},
                                                      {"<eot>", kTokenSpecial | kTokenStop}};
  for (const auto& [text, flag] : specials) {
    tokens.emplace_back(text);
    flags.push_back(flag);
  }
  auto v = Vocabulary::FromTokens(tokens, flags, tokens.size() + 7, VocabKind::kRaw);
  EXPECT_TRUE(v.ok()) << v.status().ToString();
  return std::make_shared<const Vocabulary>(std::move(v).value());
}

TEST(MatcherProperty, NaiveMaskAllowsExactlyTheTokensThatKeepAValidPrefix) {
  auto vocab = MixedVocab();
  const size_t words = (vocab->size() + 31) / 32 + 1;  // one spare word must stay zero
  for (const Case& c : kCases) {
    SCOPED_TRACE(c.name);
    Compiled g = CompileCase(c);
    ASSERT_NE(g.compiled, nullptr);
    std::mt19937 rng(7);
    int allowed_total = 0;
    for (int i = 0; i < 25; ++i) {
      bool complete = false;
      const std::string walk = RandomWalk(g.compiled, &rng, 25, &complete);
      const std::string prefix = walk.substr(0, walk.empty() ? 0 : rng() % (walk.size() + 1));
      GrammarMatcher m(g.compiled, vocab);
      ASSERT_TRUE(m.AcceptString(prefix));
      std::vector<uint32_t> mask(words, 0xdeadbeef);
      m.FillNextTokenBitmaskNaive(mask.data(), words);
      std::vector<uint32_t> oracle(words, 0xdeadbeef);
      NaiveNextTokenBitmask(m, oracle.data(), words);
      ASSERT_EQ(mask, oracle) << "after: " << prefix;
      EXPECT_EQ(mask.back(), 0u);
      const bool can_end = ReferenceMatch(g.source, prefix);
      for (size_t id = 0; id < words * 32; ++id) {
        const bool bit = mask[id >> 5] >> (id & 31) & 1;
        bool expect = false;
        if (id < vocab->size()) {
          const auto t = static_cast<int32_t>(id);
          if (vocab->IsPadding(t)) {
            expect = false;
          } else if (vocab->IsStop(t)) {
            expect = can_end;
          } else if (vocab->IsSpecial(t)) {
            expect = false;
          } else {
            expect = ReferenceIsPrefix(g.source, prefix + std::string(vocab->TokenBytes(t)));
          }
        }
        ASSERT_EQ(bit, expect) << "token " << id << " after: " << prefix;
        allowed_total += bit;
      }
    }
    EXPECT_GT(allowed_total, 25);
  }
}

}  // namespace
}  // namespace sieve
