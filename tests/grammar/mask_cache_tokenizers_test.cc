// The token-mask cache against the naive oracle with the DeepSeek-V3 and Qwen3 tokenizers (Llama-3
// is in mask_cache_test.cc): their vocabularies differ in size, in special tokens and in how they
// split punctuation, digits and whitespace, which changes which tokens pop rules mid-token.
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "tests/grammar/mask_test_util.h"
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
using mask_test::VocabOf;

const char* const kGrammars[] = {"json",    "arithmetic_leftrec", "c_like", "csv", "pgn",
                                 "unicode", "nested_bounds"};

void CheckTokenizer(const std::string& name) {
  auto tok = RealTokenizer(name);
  ASSERT_NE(tok, nullptr);
  auto vocab = VocabOf(*tok);
  for (const char* grammar : kGrammars) {
    SCOPED_TRACE(grammar);
    auto cache =
        BuildCache(CompileText(ReadFile(GrammarPath(std::string(grammar) + ".ebnf"))), vocab);
    ASSERT_NE(cache, nullptr);
    std::mt19937 rng(31);
    for (int walk = 0; walk < 4; ++walk) {
      GrammarMatcher m(cache);
      ASSERT_GE(CheckRandomWalk(&m, &rng, 15, name + " walk"), 0);
    }
    std::vector<TestSentence> accept;
    std::string error;
    ASSERT_TRUE(LoadSentences(GrammarPath(std::string(grammar) + ".accept.txt"), &accept, &error));
    ASSERT_FALSE(accept.empty());
    for (size_t i = 0; i < accept.size() && i < 4; ++i) {
      GrammarMatcher m(cache);
      ASSERT_GE(CheckTokens(&m, tok->Encode(accept[i].text, false), name + " sentence"), 0);
    }
  }
}

TEST(MaskCacheTokenizers, FastMaskEqualsNaiveMaskWithDeepSeekV3) { CheckTokenizer("deepseek_v3"); }

TEST(MaskCacheTokenizers, FastMaskEqualsNaiveMaskWithQwen3) { CheckTokenizer("qwen3"); }

}  // namespace
}  // namespace sieve
