// RegexToGrammar with lookaround at the anchored ends of a pattern (grammar/regex_grammar.cc): the
// grammar `sieve regex` and `--regex` compile is the intersection of the decomposition's pieces,
// checked against RE2 evaluating each piece (RE2 has no lookaround) over every short string of a
// small alphabet, plus hand-checked ECMA cases and what stays unsupported.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "grammar/compiler.h"
#include "grammar/matcher.h"
#include "grammar/regex_parser.h"
#include "tests/grammar/lookaround_oracle.h"

namespace sieve {
namespace {

std::shared_ptr<const CompiledGrammar> Compile(std::string_view pattern, Status* error) {
  auto g = RegexToGrammar(pattern);
  if (!g.ok()) {
    *error = g.status();
    return nullptr;
  }
  auto c = CompileGrammarIr(std::move(g).value(), GrammarCompileOptions());
  if (!c.ok()) {
    *error = c.status();
    return nullptr;
  }
  return c->pda;
}

bool Accepts(const std::shared_ptr<const CompiledGrammar>& c, std::string_view s) {
  GrammarMatcher m(c);
  return m.AcceptString(s) && m.CanTerminate();
}

TEST(RegexGrammarLookaround, LanguageEqualsThePiecesEvaluatedByRe2) {
  for (const testing::LookaroundCase& c : testing::LookaroundCases()) {
    Status error;
    const std::shared_ptr<const CompiledGrammar> g = Compile(c.pattern, &error);
    ASSERT_NE(g, nullptr) << c.pattern << ": " << error.ToString();
    testing::ExpectOracleLanguage(c, [&](const std::string& s) { return Accepts(g, s); });
  }
}

TEST(RegexGrammarLookaround, HandWrittenCasesMatchEcmaSemantics) {
  struct Case {
    const char* pattern;
    std::vector<std::string> accept, reject;
  };
  const Case cases[] = {
      {"^(?!all$).*$", {"", "al", "alls", "xall"}, {"all"}},
      {"^(?!-)[-a-z0-9]{0,49}[a-z0-9]$", {"a", "a-b", "0"}, {"-a", "a-", ""}},
      {"^[a-z-]+(?<!-)$", {"a-b", "ab"}, {"ab-", "-"}},
      {"^(?![.0-9]).", {"a", "a1", "-"}, {"1a", ".x", ""}},
  };
  for (const Case& c : cases) {
    Status error;
    const std::shared_ptr<const CompiledGrammar> g = Compile(c.pattern, &error);
    ASSERT_NE(g, nullptr) << c.pattern << ": " << error.ToString();
    for (const std::string& s : c.accept) EXPECT_TRUE(Accepts(g, s)) << c.pattern << " " << s;
    for (const std::string& s : c.reject) EXPECT_FALSE(Accepts(g, s)) << c.pattern << " " << s;
  }
}

TEST(RegexGrammarLookaround, PatternsWithoutLookaroundAreUnchanged) {
  // The plain path: the root rule is the pattern's expression itself.
  auto g = RegexToGrammar("^ab+$");
  ASSERT_TRUE(g.ok()) << g.status().ToString();
  EXPECT_EQ(g->rule(g->root()).name, "root");
  EXPECT_EQ(g->num_rules(), 1u);
}

TEST(RegexGrammarLookaround, WhatStaysUnsupportedKeepsItsOffset) {
  for (const char* p : {"^a(?=b)c", "^(?:(?!a).)*$", "(?!x)y", "^(?!a(?=b))c"}) {
    auto g = RegexToGrammar(p);
    ASSERT_FALSE(g.ok()) << p;
    EXPECT_EQ(g.status().code(), StatusCode::kUnsupported) << p;
    EXPECT_GE(g.status().offset(), 0) << p << ": " << g.status().ToString();
    EXPECT_NE(g.status().message().find("lookahead"), std::string::npos) << g.status().message();
  }
  // A decomposition whose language is empty is reported as such.
  auto g = RegexToGrammar("^(?!a)a");
  ASSERT_FALSE(g.ok());
  EXPECT_EQ(g.status().code(), StatusCode::kUnsupported);
  EXPECT_NE(g.status().message().find("matches no string"), std::string::npos)
      << g.status().message();
  // A syntax error in an assertion is a parse error naming the piece it was read from, at its
  // offset in the whole pattern (the '{' of "a{2,1}").
  auto bad = RegexToGrammar("^(?!a{2,1})x$");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kParse);
  EXPECT_EQ(bad.status().offset(), 5);
  EXPECT_NE(bad.status().message().find("a{2,1}"), std::string::npos) << bad.status().message();
}

}  // namespace
}  // namespace sieve
