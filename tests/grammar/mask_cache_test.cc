// The token-mask cache against the naive oracle: for every test grammar, at states reached by
// random token walks and by tokenized sentences, FillNextTokenBitmask must give exactly the bits of
// NaiveNextTokenBitmask (Llama-3 here; DeepSeek-V3 and Qwen3 in mask_cache_tokenizers_test.cc).
// Also: counted repetitions near their bounds, a small raw vocabulary with special, stop, padding
// and empty tokens, custom stop ids, cut and padded rows, the depth-limit fallback, and the size of
// the uncertain sets. Seeds are fixed, so failures reproduce.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "tests/grammar/mask_test_util.h"
#include "tests/grammar/test_grammars.h"
#include "tests/testing/reference_recognizer.h"

namespace sieve {
namespace {

using mask_test::BuildCache;
using mask_test::CheckRandomWalk;
using mask_test::CheckTokens;
using mask_test::CompileText;
using mask_test::GrammarPath;
using mask_test::ReadFile;
using mask_test::RealTokenizer;
using mask_test::SameMask;
using mask_test::VocabOf;

namespace tg = testing_grammars;

struct Case {
  const char* name;
  const char* text;  // null: tests/data/grammars/NAME.ebnf
};

const Case kCases[] = {
    {"json", nullptr},
    {"arithmetic_leftrec", nullptr},
    {"c_like", nullptr},
    {"csv", nullptr},
    {"pgn", nullptr},
    {"unicode", nullptr},
    {"nested_bounds", nullptr},
    {"embedded_json", tg::kJson},
    {"embedded_csv", tg::kCsv},
    {"embedded_nested_bounds", tg::kNestedBounds},
    {"embedded_unicode", tg::kUnicode},
};

std::string CaseText(const Case& c) {
  return c.text != nullptr ? c.text : ReadFile(GrammarPath(std::string(c.name) + ".ebnf"));
}

TEST(MaskCache, FastMaskEqualsNaiveMaskOnEveryTestGrammarWithLlama3) {
  auto tok = RealTokenizer("llama3");
  ASSERT_NE(tok, nullptr);
  auto vocab = VocabOf(*tok);
  int total = 0;
  for (const Case& c : kCases) {
    SCOPED_TRACE(c.name);
    auto g = CompileText(CaseText(c));
    ASSERT_NE(g, nullptr);
    auto cache = BuildCache(g, vocab);
    ASSERT_NE(cache, nullptr);
    std::mt19937 rng(2024);
    for (int walk = 0; walk < 6; ++walk) {
      GrammarMatcher m(cache);
      const int n = CheckRandomWalk(&m, &rng, 20, std::string(c.name) + " walk");
      ASSERT_GE(n, 0);
      total += n;
    }
    // Tokenized sentences: what real generations look like.
    if (c.text == nullptr) {
      std::vector<TestSentence> accept;
      std::string error;
      ASSERT_TRUE(LoadSentences(GrammarPath(std::string(c.name) + ".accept.txt"), &accept, &error));
      for (size_t i = 0; i < accept.size() && i < 8; ++i) {
        GrammarMatcher m(cache);
        const int n = CheckTokens(&m, tok->Encode(accept[i].text, false),
                                  std::string(c.name) + " sentence " + std::to_string(i));
        ASSERT_GE(n, 0);
        EXPECT_TRUE(m.CanTerminate());
        total += n;
      }
    }
  }
  EXPECT_GT(total, 1000);
}

// Small bounds compiled as counters (no unrolling), so random walks run into every bound.
constexpr char kSmallBounds[] = R"GR(
root ::= "{" ws "\"name\":" ws str "," ws "\"tags\":" ws "[" ( str ( "," ws str ){0,3} )? "]"
         "," ws "\"code\":" ws code ws "," ws "\"word\":" ws word "}"
str  ::= "\"" [^"\\]{0,6} "\""
code ::= [0-9]{2,4}
word ::= [a-zα-ω]{3,5} "!"?
ws   ::= [ \n]{0,2}
)GR";

TEST(MaskCache, CountedRepetitionMasksEqualNaiveNearTheBounds) {
  auto tok = RealTokenizer("llama3");
  ASSERT_NE(tok, nullptr);
  auto vocab = VocabOf(*tok);
  CompileOptions opts;
  opts.max_unroll_copies = 1;  // every bound becomes a counter
  opts.max_unroll_weight = 1;
  opts.max_unroll_byte_class_copies = 1;
  for (const std::string& text :
       {std::string(kSmallBounds), ReadFile(GrammarPath("nested_bounds.ebnf")),
        std::string(tg::kUnicode), ReadFile(GrammarPath("json.ebnf"))}) {
    auto g = CompileText(text, opts);
    ASSERT_NE(g, nullptr);
    ASSERT_GT(g->stats().counted_rules, 0) << text;
    auto cache = BuildCache(g, vocab);
    ASSERT_NE(cache, nullptr);
    std::mt19937 rng(77);
    for (int walk = 0; walk < 10; ++walk) {
      GrammarMatcher m(cache);
      ASSERT_GE(CheckRandomWalk(&m, &rng, 24, "small bounds walk " + std::to_string(walk)), 0);
    }
  }
  // A string that ends exactly at its bound, and one token past it.
  auto g = CompileText(kSmallBounds, opts);
  auto cache = BuildCache(g, vocab);
  GrammarMatcher m(cache);
  ASSERT_TRUE(m.AcceptString("{\"name\":\"abcdef"));
  std::string why;
  EXPECT_TRUE(SameMask(m, BitmaskWords(vocab->size()), &why)) << why;
  EXPECT_FALSE(m.Fork().AcceptString("g"));
}

std::shared_ptr<const Vocabulary> MixedVocab() {
  std::vector<std::string> tokens = {
      "{",   "}",   "[",    "]",    "\"",   ",",    ":",    " ",     "\n",   "0",   "1",
      "12",  "-",   ".",    "e",    "+",    "true", "tr",   "ue",    "null", "\"a", "a\"",
      "\":", "\",", "\"}",  "}]",   "],",   "a",    "ab",   "z",     "(",    ")",   "*",
      "/",   "+1",  "1)",   "é",    "\xc3", "\xa9", "α",    "中",    "·",    "!",   "¡",
      "\\",  "\\u", "00e9", "\"\"", ",\"",  "x",    "",     "\",\"", "\"]",  "a1",  "/*",
      "*/",  "//",  "int",  " x",   "1-0",  "O-O",  "\r\n", "\",\n"};
  std::vector<uint8_t> flags(tokens.size(), kTokenNormal);
  const std::pair<const char*, uint8_t> specials[] = {{"<eos>", kTokenSpecial | kTokenStop},
                                                      {"<ctrl>", kTokenSpecial},
                                                      {"{", kTokenSpecial},  // a special "{"
                                                      {"<eot>", kTokenSpecial | kTokenStop}};
  for (const auto& [text, flag] : specials) {
    tokens.emplace_back(text);
    flags.push_back(flag);
  }
  auto v = Vocabulary::FromTokens(tokens, flags, tokens.size() + 7, VocabKind::kRaw);
  EXPECT_TRUE(v.ok()) << v.status().ToString();
  return std::make_shared<const Vocabulary>(std::move(v).value());
}

TEST(MaskCache, MixedVocabularyRowsEqualNaiveIncludingPaddingCutAndWideRows) {
  auto vocab = MixedVocab();
  const size_t exact = BitmaskWords(vocab->size());
  for (const Case& c : kCases) {
    SCOPED_TRACE(c.name);
    auto g = CompileText(CaseText(c));
    ASSERT_NE(g, nullptr);
    auto cache = BuildCache(g, vocab);
    ASSERT_NE(cache, nullptr);
    std::mt19937 rng(5);
    for (int walk = 0; walk < 8; ++walk) {
      GrammarMatcher m(cache);
      for (int step = 0; step < 10; ++step) {
        for (const size_t words : {exact, exact + 2, size_t{1}}) {
          std::string why;
          ASSERT_TRUE(SameMask(m, words, &why, /*fork_oracle=*/true))
              << words << " words, walk " << walk << ": " << why;
        }
        std::vector<uint32_t> row(exact + 2, 0xFFFFFFFFu);
        m.FillNextTokenBitmask(row.data(), row.size());
        EXPECT_EQ(row[exact], 0u);
        EXPECT_EQ(row[exact + 1], 0u);
        const std::vector<int32_t> allowed = mask_test::AllowedIds(m);
        if (allowed.empty()) break;
        ASSERT_TRUE(m.AcceptToken(allowed[rng() % allowed.size()]));
      }
    }
  }
}

TEST(MaskCache, CustomStopTokensAreAllowedExactlyWhereTheGrammarCanEnd) {
  auto vocab = MixedVocab();
  auto g = CompileText(tg::kJson);
  auto cache = BuildCache(g, vocab);
  MatcherOptions opts;
  opts.stop_token_ids = std::vector<int32_t>{4, 9, 10000};  // '"', '0', out of range
  GrammarMatcher m(cache, opts);
  const size_t words = BitmaskWords(vocab->size());
  std::string why;
  EXPECT_TRUE(SameMask(m, words, &why)) << why;
  ASSERT_TRUE(m.AcceptString("1"));
  EXPECT_TRUE(SameMask(m, words, &why)) << why;
  std::vector<uint32_t> row(words);
  m.FillNextTokenBitmask(row.data(), words);
  EXPECT_TRUE(row[0] >> 4 & 1) << "'\"' is a stop token now, and the grammar can end";
  ASSERT_TRUE(m.AcceptToken(4));
  EXPECT_TRUE(m.IsTerminated());
  m.FillNextTokenBitmask(row.data(), words);
  for (const uint32_t w : row) EXPECT_EQ(w, 0u);
}

TEST(MaskCache, DeepStacksFallBackToTheNaivePathAndStillAgree) {
  auto tok = RealTokenizer("llama3");
  ASSERT_NE(tok, nullptr);
  auto vocab = VocabOf(*tok);
  auto cache = BuildCache(CompileText(ReadFile(GrammarPath("json.ebnf"))), vocab);
  MatcherOptions opts;
  opts.max_stack_depth = 48;  // a token could reach the limit: the cache must not be trusted
  GrammarMatcher m(cache, opts);
  std::string why;
  for (int depth = 0; depth < 40; ++depth) {
    if (!m.AcceptString("[")) break;  // refused at the depth limit: fine, and checked below
    if (depth % 4 == 0) {
      EXPECT_TRUE(SameMask(m, BitmaskWords(vocab->size()), &why)) << depth << ": " << why;
    }
  }
  EXPECT_TRUE(SameMask(m, BitmaskWords(vocab->size()), &why)) << why;
}

TEST(MaskCache, UncertainTokensStayFewInJsonStringsAndNumbers) {
  auto tok = RealTokenizer("llama3");
  ASSERT_NE(tok, nullptr);
  auto vocab = VocabOf(*tok);
  auto cache = BuildCache(CompileText(ReadFile(GrammarPath("json.ebnf"))), vocab);
  ASSERT_NE(cache, nullptr);
  GrammarMatcher m(cache);
  ASSERT_TRUE(m.AcceptString("{\"key\": \"val"));
  ASSERT_EQ(m.stacks().stacks.size(), 1u);
  // XGrammar re-checks ~250 tokens per step in schema strings and ~20 in its hand-expanded JSON.
  EXPECT_LE(cache->UncertainTokens(m.stacks().stacks[0].state), 200);
  GrammarMatcher n(cache);
  ASSERT_TRUE(n.AcceptString("[12"));
  for (const Stack& s : n.stacks().stacks) EXPECT_LE(cache->UncertainTokens(s.state), 200);
  EXPECT_LT(cache->stats().uncertain_tokens, 1000);
}

TEST(MaskCache, EveryCounterValueUpToTheBoundGetsTheNaiveMask) {
  auto tok = RealTokenizer("llama3");
  ASSERT_NE(tok, nullptr);
  auto vocab = VocabOf(*tok);
  // 40 > the unroll limit: a counted loop; many tokens are longer than what is left near the end.
  auto cache = BuildCache(CompileText(R"(root ::= "\"" [^"]{3,40} "\"")"), vocab);
  ASSERT_NE(cache, nullptr);
  ASSERT_GT(cache->grammar()->stats().counted_rules, 0);
  GrammarMatcher m(cache);
  ASSERT_TRUE(m.AcceptString("\""));
  std::string why;
  for (int i = 0; i <= 40; ++i) {
    ASSERT_TRUE(SameMask(m, BitmaskWords(vocab->size()), &why)) << i << " characters: " << why;
    if (i < 40) {
      ASSERT_TRUE(m.AcceptString(i % 3 == 0 ? "é" : "x"));
    }
  }
  EXPECT_FALSE(m.Fork().AcceptString("x"));
}

// A hostname-like label: its counted middle x{0,61} is followed by a last character that the
// loop reads too, so a token can pop the counted frame before its last byte and have that byte
// read by the caller: "ab" after 60 middle characters is one iteration plus the last character,
// not two iterations. The cache must not count every byte of such a token as an iteration (it
// did when a trie subtree held only loop bytes: a narrowing at the bound).
TEST(MaskCache, ACountedFrameThatPopsInsideATokenGetsTheNaiveMaskAtItsBound) {
  auto tok = RealTokenizer("llama3");
  ASSERT_NE(tok, nullptr);
  auto vocab = VocabOf(*tok);
  CompileOptions counted;
  counted.max_unroll_byte_class_copies = 0;  // the middle as a counter, not unrolled
  auto cache = BuildCache(
      CompileText(R"(root ::= "\"" [a-z] ([a-z0-9-]{0,61} [a-z0-9])? ("." [a-z]+)? "\"")",
                  counted),
      vocab);
  ASSERT_NE(cache, nullptr);
  ASSERT_GT(cache->grammar()->stats().counted_rules, 0);
  GrammarMatcher m(cache);
  ASSERT_TRUE(m.AcceptString("\"a"));
  std::string why;
  for (int i = 0; i <= 62; ++i) {
    ASSERT_TRUE(SameMask(m, BitmaskWords(vocab->size()), &why)) << i << " characters: " << why;
    if (i < 62) {
      ASSERT_TRUE(m.AcceptString("b"));
    }
  }
}

// The run-time suffix walks skip frames that only pass a byte through (ten levels of an expression
// chain), keep or drop frames without a closure, and share closures between the groups of one
// fill. C code with nested calls, conditions, indexing, comments and `return (...)` (which parses
// two ways) drives every one of those paths; each step's mask must equal the naive one.
TEST(MaskCache, SuffixWalkShortcutsAgreeWithNaiveInsideNestedExpressions) {
  auto tok = RealTokenizer("llama3");
  ASSERT_NE(tok, nullptr);
  auto vocab = VocabOf(*tok);
  auto cache = BuildCache(CompileText(ReadFile(GrammarPath("c_like.ebnf"))), vocab);
  ASSERT_NE(cache, nullptr);
  const char* const programs[] = {
      "int f(int a, int b) {\n  if (g(a, h(b[1], -a)) && !k(a)) return (a / gcd(a, b));\n"
      "  while (x[i] < n) { i = i + 1; /* step */ }\n  return 0;\n}\n",
      "void main() {\n  for (i = 0; i < n; i += 1) print(\"%d\\n\", v[i]); // done\n"
      "  if ((a)) { x = (y); } else x = f((1), (2));\n}\n",
  };
  for (const char* program : programs) {
    GrammarMatcher m(cache);
    EXPECT_GE(CheckTokens(&m, tok->Encode(program, false), program), 0);
    EXPECT_TRUE(m.CanTerminate());
  }
}

TEST(MaskCache, BoundedRepetitionCostsTheSameWhateverTheBound) {
  auto tok = RealTokenizer("llama3");
  ASSERT_NE(tok, nullptr);
  auto vocab = VocabOf(*tok);
  auto small = BuildCache(CompileText(R"(root ::= "{\"s\": \"" [^"]{0,100} "\"}")"), vocab);
  auto large = BuildCache(CompileText(R"(root ::= "{\"s\": \"" [^"]{0,100000} "\"}")"), vocab);
  ASSERT_NE(small, nullptr);
  ASSERT_NE(large, nullptr);
  EXPECT_EQ(small->grammar()->num_states(), large->grammar()->num_states());
  EXPECT_EQ(small->stats().uncertain_tokens, large->stats().uncertain_tokens);
  EXPECT_LT(large->MemorySize(), small->MemorySize() * 11 / 10);
  // Deep inside the large bound, near its end: still equal to the oracle.
  GrammarMatcher m(large);
  ASSERT_TRUE(m.AcceptString("{\"s\": \"" + std::string(99990, 'x')));
  std::string why;
  EXPECT_TRUE(SameMask(m, BitmaskWords(vocab->size()), &why)) << why;
  ASSERT_TRUE(m.AcceptString("xxxxxxxx"));
  EXPECT_TRUE(SameMask(m, BitmaskWords(vocab->size()), &why)) << why;
}

}  // namespace
}  // namespace sieve
