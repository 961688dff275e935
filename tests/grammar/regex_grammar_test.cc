// RegexToGrammar with lookaround at the anchored ends of a pattern (grammar/regex_grammar.cc): the
// grammar `sieve regex` and `--regex` compile is the intersection of the decomposition's pieces,
// checked against RE2 evaluating each piece (RE2 has no lookaround) over every short string of a
// small alphabet, plus hand-checked ECMA cases and what stays unsupported.
#include <re2/re2.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <gtest/gtest.h>

#include "grammar/compiler.h"
#include "grammar/matcher.h"
#include "grammar/regex_lookaround.h"
#include "grammar/regex_parser.h"

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

// Every string over `alphabet` up to `max_len` characters.
std::vector<std::string> AllStrings(const std::string& alphabet, int max_len) {
  std::vector<std::string> out{""};
  for (size_t begin = 0, len = 0; len < static_cast<size_t>(max_len); ++len) {
    const size_t end = out.size();
    for (size_t i = begin; i < end; ++i) {
      for (const char c : alphabet) out.push_back(out[i] + c);
    }
    begin = end;
  }
  return out;
}

TEST(RegexGrammarLookaround, LanguageEqualsThePiecesEvaluatedByRe2) {
  struct Case {
    const char* pattern;
    const char* alphabet;
  };
  const Case cases[] = {
      {"^(?!all$).*$", "al"},
      {"^(?!-)(?!.*--)[a-z-]{0,4}[a-z]$", "a-"},
      {"^(?=[^!]+$)(?=.*\\w).+$", "a!-"},
      {"^(?!ab|b)[ab]*", "ab"},
      {"^[ab]+(?<!ab)(?<=b)$", "ab"},
      {"(?!x)^x?y", "xy"},
      {"^(?!.*aa).*(?<!b)$", "ab"},
      {"^(?!é)\\w*é?$", "aé"},
  };
  for (const Case& c : cases) {
    const std::optional<AnchoredLookarounds> split = SplitAnchoredLookarounds(c.pattern);
    ASSERT_TRUE(split.has_value()) << c.pattern;
    RE2 main(split->main);
    ASSERT_TRUE(main.ok()) << split->main;
    std::vector<std::unique_ptr<RE2>> parts;
    for (const AnchoredLookarounds::Part& p : split->parts) {
      parts.push_back(std::make_unique<RE2>(p.pattern));
      ASSERT_TRUE(parts.back()->ok()) << p.pattern;
    }
    Status error;
    const std::shared_ptr<const CompiledGrammar> g = Compile(c.pattern, &error);
    ASSERT_NE(g, nullptr) << c.pattern << ": " << error.ToString();
    // UTF-8 alphabets: split into characters.
    std::string letters;
    std::vector<std::string> chars;
    for (size_t i = 0; c.alphabet[i] != '\0';) {
      size_t n = 1;
      while ((static_cast<unsigned char>(c.alphabet[i + n]) & 0xC0) == 0x80) ++n;
      chars.emplace_back(c.alphabet + i, n);
      letters += static_cast<char>('0' + chars.size() - 1);
      i += n;
    }
    int accepted = 0, rejected = 0;
    for (const std::string& code : AllStrings(letters, 6)) {
      std::string s;
      for (const char d : code) s += chars[d - '0'];
      bool want = RE2::PartialMatch(s, main);
      for (size_t i = 0; i < parts.size(); ++i) {
        want = want && RE2::PartialMatch(s, *parts[i]) != split->parts[i].negated;
      }
      EXPECT_EQ(Accepts(g, s), want) << c.pattern << " on '" << s << "'";
      ++(want ? accepted : rejected);
    }
    // Both sides are exercised (a pattern accepting everything or nothing would prove little).
    EXPECT_GT(accepted, 0) << c.pattern;
    EXPECT_GT(rejected, 0) << c.pattern;
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
