// Regression tests for what the fuzzers (tests/fuzz, issue 10) found: one test per finding, with
// the input that triggered it and the behaviour it must have now. The inputs are also in the seed
// corpora (tests/fuzz/corpus/<target>/regression-*), so every fuzz run replays them under the
// sanitizers.
#include <gtest/gtest.h>

#include <string>

#include "grammar/compiler.h"
#include "grammar/ebnf_parser.h"
#include "grammar/grammar_printer.h"
#include "grammar/matcher.h"
#include "grammar/regex_parser.h"

namespace sieve {
namespace {

bool Matches(const CompiledArtifact& a, const std::string& s) {
  GrammarMatcher m(a.pda);
  return m.AcceptString(s) && m.CanTerminate();
}

// fuzz_regex, UBSan "applying non-zero offset to null pointer" in Grammar::ranges(): copying an
// anchor-bearing sub-pattern (RegexParser::CopyTree) asked every copied expression for its
// character-class ranges, and a literal's `begin` indexes the bytes, not the ranges. The pattern
// is the fuzzer's input; the language must be "x" with a ',' or nothing on either side.
TEST(FuzzRegressions, CopyingALiteralUnderAnAnchorReadsNoClassRanges) {
  RegexOptions o;
  o.search_semantics = true;
  auto g = RegexToGrammar("(^|,)x(,|$)", o);
  ASSERT_TRUE(g.ok()) << g.status().ToString();
  auto a = CompileGrammarIr(std::move(g).value(), GrammarCompileOptions());
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  for (const char* yes : {"x", ",x", "x,", "ab,x,cd", "x,zz", "q,x"}) {
    EXPECT_TRUE(Matches(*a, yes)) << yes;
  }
  for (const char* no : {"", "ax", "xa", "a,xb", ",,"}) EXPECT_FALSE(Matches(*a, no)) << no;
}

// fuzz_ebnf (session 20), "printed grammar does not parse": 119 stacked quantifiers (`x???...*`)
// nested 119 levels deep, within the fuzzer's max_nesting_depth (200), but the printer writes each
// as a group, `((x?)?)...`, twice as deep. A quantifier on a repetition now counts two levels, so
// what parses also prints into what parses: stacked well within the limit (default 500) it
// round-trips, near and past it it is refused.
TEST(FuzzRegressions, StackedQuantifiersPrintIntoTextThatParses) {
  ASSERT_EQ(EbnfOptions().max_nesting_depth, 500);
  for (int n : {200, 240, 260, 300}) {
    const std::string text = "root ::= \"x\"" + std::string(n, '?') + "\n";
    auto g = ParseEbnf(text);
    if (!g.ok()) {
      EXPECT_EQ(g.status().code(), StatusCode::kLimit) << n;
      EXPECT_GE(n, 260) << g.status().ToString();
      continue;
    }
    EXPECT_LE(n, 240);
    const std::string printed = PrintEbnf(*g);
    auto again = ParseEbnf(printed);
    ASSERT_TRUE(again.ok()) << n << ": " << again.status().ToString();
    EXPECT_EQ(PrintEbnf(*again), printed) << n;
  }
}

}  // namespace
}  // namespace sieve
