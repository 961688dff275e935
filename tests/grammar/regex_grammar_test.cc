// RegexToGrammar through automata (grammar/regex_grammar.cc), as `sieve regex` and `--regex`
// compile a pattern:
//  - lookaround at the anchored ends: the grammar is the intersection of the decomposition's
//    pieces, checked against RE2 evaluating each piece (RE2 has no lookaround) over every short
//    string of a small alphabet, plus hand-checked ECMA cases and what stays unsupported;
//  - word boundaries \b and \B (jsonschema::DfaFromExpr with markers): the grammar accepts exactly
//    what RE2 finds a match in (RE2's \b is ECMA's without the u and i flags together: ASCII word
//    characters) over every string of up to five characters of an alphabet with word, non-word and
//    non-ASCII characters; the same through JSON Schema `pattern`; patterns no string satisfies
//    are reported.
#include <gtest/gtest.h>
#include <re2/re2.h>

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "grammar/compiler.h"
#include "grammar/json_schema.h"
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
  // Lookaround anywhere is read by regex_lookaround_dfa.h; what it refuses keeps its offset.
  for (const char* p : {"^a(?=^b)c", "(?<=a(?=b))c", "x(?=\\by)"}) {
    auto g = RegexToGrammar(p);
    ASSERT_FALSE(g.ok()) << p;
    EXPECT_EQ(g.status().code(), StatusCode::kUnsupported) << p;
    EXPECT_GE(g.status().offset(), 0) << p << ": " << g.status().ToString();
    EXPECT_NE(g.status().message().find("look"), std::string::npos) << g.status().message();
  }
  // A pattern whose assertions exclude every match says so.
  auto none = RegexToGrammar("^a(?=b)c");
  ASSERT_FALSE(none.ok());
  EXPECT_NE(none.status().message().find("matches no string"), std::string::npos)
      << none.status().message();
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

// Every string of up to `max_len` symbols of `alphabet`.
std::vector<std::string> AllStrings(const std::vector<std::string>& alphabet, int max_len) {
  std::vector<std::string> out{""}, level{""};
  for (int n = 1; n <= max_len; ++n) {
    std::vector<std::string> next;
    for (const std::string& s : level) {
      for (const std::string& a : alphabet) next.push_back(s + a);
    }
    out.insert(out.end(), next.begin(), next.end());
    level = std::move(next);
  }
  return out;
}

const std::vector<std::string>& Alphabet() {
  static const std::vector<std::string> a = {"a", "Z", "_", "1", " ", "-", "\xC3\xA9"};
  return a;
}

// Patterns written the same in ECMA-262 and RE2 syntax.
const char* const kPatterns[] = {
    "\\ba",        "a\\b",           "\\Ba",         "a\\B",          "\\b",
    "\\B",         "^\\b",           "\\b$",         "^\\B$",         "^a\\b.",
    "\\b1+\\b",    "(?:a\\b|_)+$",   "\\ba\\B_",     "^(?:\\b.)+$",   "a\\b\\b-",
    "^[^a]\\b",    "\\b\\w+\\b",     "\\B\\W",       "(?:^|-)\\b",    "(a|\\b)Z",
    "^(?:a\\b)?-", "(?:\\ba-){2,3}", "\\b[\\s\\S]$", "^.\\B.\\b.$",
};

TEST(RegexWordBoundary, LanguageEqualsRe2SearchOverEveryShortString) {
  const std::vector<std::string> strings = AllStrings(Alphabet(), 5);
  for (const char* pattern : kPatterns) {
    Status error;
    const std::shared_ptr<const CompiledGrammar> g = Compile(pattern, &error);
    ASSERT_NE(g, nullptr) << pattern << ": " << error.ToString();
    // RE2 reads UTF-8 byte by byte for \b (a position inside "\xC3\xA9" is a \B for it), so it
    // reads Latin-1 here, where every character of the alphabet is one byte.
    RE2::Options latin1;
    latin1.set_encoding(RE2::Options::EncodingLatin1);
    RE2 re(pattern, latin1);
    ASSERT_TRUE(re.ok()) << pattern;
    int accepted = 0, differ = 0;
    for (const std::string& s : strings) {
      std::string l1;  // the only non-ASCII symbol is U+00E9, two bytes in UTF-8
      for (size_t i = 0; i < s.size(); ++i) {
        const bool e9 = s[i] == '\xC3' && i + 1 < s.size() && s[i + 1] == '\xA9';
        l1 += e9 ? '\xE9' : s[i];
        i += e9 ? 1 : 0;
      }
      const bool want = RE2::PartialMatch(l1, re);
      const bool got = Accepts(g, s);
      accepted += want;
      if (want != got && ++differ <= 3) {
        ADD_FAILURE() << pattern << " on '" << s << "': RE2 " << want << ", sieve " << got;
      }
    }
    EXPECT_EQ(differ, 0) << pattern;
    // Both sides of the oracle occur (a pattern accepting everything or nothing tests little).
    EXPECT_GT(accepted, 0) << pattern;
    EXPECT_LT(accepted, static_cast<int>(strings.size())) << pattern;
  }
}

TEST(RegexWordBoundary, JsonSchemaPatternsTakeThemToo) {
  // Searched, as every pattern: "cat" as a word somewhere in the string (the quotes around the
  // value are JSON's, not the pattern's text: a boundary at the value's ends sees the string's
  // ends).
  JsonSchemaOptions o;
  auto g = JsonSchemaToGrammar(R"({"type": "string", "pattern": "\\bcat\\b"})", o);
  ASSERT_TRUE(g.ok()) << g.status().ToString();
  auto c = CompileGrammarIr(std::move(g->grammar), GrammarCompileOptions());
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  for (const char* s : {"\"cat\"", "\"a cat!\"", "\"cat-dog\"", "\"\xC3\xA9" "cat\""}) {
    EXPECT_TRUE(Accepts(c->pda, s)) << s;
  }
  for (const char* s : {"\"concat\"", "\"cats\"", "\"cat_\"", "\"1cat\"", "\"\""}) {
    EXPECT_FALSE(Accepts(c->pda, s)) << s;
  }
}

TEST(RegexWordBoundary, BoundariesThatNoStringSatisfiesAreReported) {
  for (const char* p : {"\\b\\B", "a\\ba", "^\\b$"}) {
    auto g = RegexToGrammar(p);
    ASSERT_FALSE(g.ok()) << p;
    EXPECT_EQ(g.status().code(), StatusCode::kUnsupported) << p;
    EXPECT_NE(g.status().message().find("matches no string"), std::string::npos)
        << p << ": " << g.status().message();
  }
  // A boundary where an anchor needs empty text: ECMA checks it at the end of the input, the
  // anchor categories cannot carry it, so it is refused at its offset (not silently dropped).
  for (const auto& [p, at] : {std::pair<const char*, int64_t>{"x$\\b|y", 2},
                              std::pair<const char*, int64_t>{"\\b^x", 0},
                              std::pair<const char*, int64_t>{"(?:\\b^0)+|a", 3},
                              std::pair<const char*, int64_t>{"(?:\\b|x)^y", 3}}) {
    auto g = RegexToGrammar(p);
    ASSERT_FALSE(g.ok()) << p;
    EXPECT_EQ(g.status().code(), StatusCode::kUnsupported) << p;
    EXPECT_EQ(g.status().offset(), at) << p << ": " << g.status().ToString();
    EXPECT_NE(g.status().message().find("anchor needs empty text"), std::string::npos)
        << p << ": " << g.status().message();
  }
  // In a class \b is the backspace and \B an error, as before.
  auto bs = RegexToGrammar("^[\\b]$");
  ASSERT_TRUE(bs.ok());
  auto err = RegexToGrammar("[\\B]");
  ASSERT_FALSE(err.ok());
  EXPECT_EQ(err.status().code(), StatusCode::kParse);
}

}  // namespace
}  // namespace sieve
