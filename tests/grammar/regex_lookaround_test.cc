// Lookaround at the anchored ends of a JSON Schema pattern (grammar/regex_lookaround.h): the split
// itself, and the schema's language against an oracle that evaluates each piece with RE2 (which
// has no lookaround) over every short string of a small alphabet.
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "grammar/regex_lookaround.h"
#include "tests/grammar/json_schema_test_util.h"
#include "tests/grammar/lookaround_oracle.h"

namespace sieve {
namespace {

std::string Describe(const std::optional<AnchoredLookarounds>& s) {
  if (!s) return "none";
  std::string out = s->main;
  for (const AnchoredLookarounds::Part& p : s->parts) out += (p.negated ? " !" : " =") + p.pattern;
  return out;
}

TEST(RegexLookaround, SplitsAssertionsAtAnchoredEnds) {
  EXPECT_EQ(Describe(SplitAnchoredLookarounds("^(?!all$).*$")), "^.*$ !^(?:all$)");
  EXPECT_EQ(Describe(SplitAnchoredLookarounds("^(?!-)(?!.*--)[a-z-]+$")),
            "^[a-z-]+$ !^(?:-) !^(?:.*--)");
  EXPECT_EQ(Describe(SplitAnchoredLookarounds("(?=a)^ab")), "^ab =^(?:a)");
  EXPECT_EQ(Describe(SplitAnchoredLookarounds("^[a-z-]+(?<!-)$")), "^[a-z-]+$ !(?:-)$");
  EXPECT_EQ(Describe(SplitAnchoredLookarounds("^(?=x)a(?<=b)(?<!cb)$")),
            "^a$ =^(?:x) =(?:b)$ !(?:cb)$");
  // Classes and escapes inside an assertion do not end it.
  EXPECT_EQ(Describe(SplitAnchoredLookarounds("^(?![)\\]]\\))x")), "^x !^(?:[)\\]]\\))");
  EXPECT_EQ(Describe(SplitAnchoredLookarounds("^(?!(a|b))(c|d)")), "^(c|d) !^(?:(a|b))");
}

TEST(RegexLookaround, LeavesWhatItCannotDecompose) {
  for (const char* p : {"(?!x)y",      // unanchored: the assertion may hold at any position
                        "^(?!a)b|c",   // binds one branch only
                        "a(?<!b)",     // no '$' after the lookbehind
                        "a(?<!b)\\$",  // an escaped '$' is a character
                        "^a(?=b)c",    // the middle of a sequence
                        "^(?:(?!a).)*$", "^(?!a", "^abc"}) {
    EXPECT_EQ(Describe(SplitAnchoredLookarounds(p)), "none") << p;
  }
}

TEST(RegexLookaround, SchemaLanguageEqualsThePiecesEvaluatedByRe2) {
  for (const testing::LookaroundCase& c : testing::LookaroundCases()) {
    const std::string schema =
        R"({"type":"string","pattern":")" + testing::JsonEscaped(c.pattern) + "\"}";
    testing::SchemaGrammar g = testing::CompileSchema(schema);
    ASSERT_TRUE(g.ok()) << schema << ": " << g.status.ToString();
    testing::ExpectOracleLanguage(c,
                                  [&](const std::string& s) { return g.Accepts("\"" + s + "\""); });
  }
}

TEST(RegexLookaround, HandWrittenCasesMatchEcmaSemantics) {
  // Checked by hand against ECMA-262 semantics (independent of the split).
  struct Case {
    const char* pattern;
    std::vector<std::string> accept, reject;
  };
  const Case cases[] = {
      {"^(?!all$).*$", {"", "al", "alls", "xall"}, {"all"}},
      {"^(?!-)[-a-z0-9]{0,49}[a-z0-9]$", {"a", "a-b", "0"}, {"-a", "a-", ""}},
      {"^(?!org\\\\.bukkit\\\\.)[a-z.]+$", {"org.bukkitx", "org.b"}, {"org.bukkit.x"}},
      {"^[a-z-]+(?<!-)$", {"a-b", "ab"}, {"ab-", "-"}},
      {"^(?![.0-9]).", {"a", "a1", "-"}, {"1a", ".x", ""}},
  };
  for (const Case& c : cases) {
    const std::string schema = std::string(R"({"type":"string","pattern":")") + c.pattern + "\"}";
    testing::SchemaGrammar g = testing::CompileSchema(schema);
    ASSERT_TRUE(g.ok()) << schema << ": " << g.status.ToString();
    for (const std::string& s : c.accept) EXPECT_TRUE(g.Accepts("\"" + s + "\"")) << schema << s;
    for (const std::string& s : c.reject) EXPECT_FALSE(g.Accepts("\"" + s + "\"")) << schema << s;
  }
}

TEST(RegexLookaround, WhatStaysUnsupportedIsReportedWithItsPointer) {
  // Lookaround elsewhere goes through regex_lookaround_dfa.h; what that refuses (an assertion
  // that would read outside its own text) is reported the same way.
  for (const char* p : {"a(?=^b)", "(?<=a(?=b))c", "(?i:a)\\b(?=b)"}) {
    const std::string schema =
        R"({"properties":{"p":{"pattern":")" + testing::JsonEscaped(p) + "\"}}}";
    auto r = JsonSchemaToGrammar(schema, testing::CompactOptions());
    ASSERT_FALSE(r.ok()) << p;
    EXPECT_EQ(r.status().code(), StatusCode::kUnsupported) << p;
    EXPECT_EQ(r.status().json_pointer(), "/properties/p/pattern") << p;
    EXPECT_NE(r.status().message().find("look"), std::string::npos) << r.status().message();
  }
  // A decomposition whose language is empty is that language (no string valid for p), with an
  // info note saying so.
  auto r = JsonSchemaToGrammar(R"({"properties":{"p":{"pattern":"^(?!a)a"}}})",
                               testing::CompactOptions());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_FALSE(r->report.notes.empty());
  EXPECT_EQ(r->report.notes[0].kind, JsonSchemaNote::Kind::kInfo);
  EXPECT_NE(r->report.notes[0].message.find("matches no string"), std::string::npos)
      << r->report.notes[0].message;
}

}  // namespace
}  // namespace sieve
