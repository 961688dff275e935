// `format: "regex"` against JavaScript itself: tests/data/regex_format_cases.txt holds thousands of
// patterns (hand-written corners and random meta-heavy strings) judged by `new RegExp(s)` (written
// by scripts/gen-regex-format-cases.js). No invalid pattern may be accepted; the valid patterns
// the narrowed grammar rejects (json_schema_regex_format.cc) are counted and bounded.
#include "grammar/json_schema_regex_format.h"

#include <gtest/gtest.h>

#include <fstream>
#include <string>
#include <vector>

#include "tests/grammar/json_schema_test_util.h"

namespace sieve {
namespace {

struct Case {
  bool valid;
  std::string json;  // the pattern as a JSON string: the instance
};

std::vector<Case> LoadCases() {
  std::ifstream in(std::string(SIEVE_TEST_DATA_DIR) + "/regex_format_cases.txt");
  std::vector<Case> cases;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    const size_t tab = line.find('\t');
    if (tab == std::string::npos) {
      ADD_FAILURE() << "malformed golden line: " << line;
      continue;
    }
    const std::string kind = line.substr(0, tab);
    EXPECT_TRUE(kind == "valid" || kind == "invalid") << line;
    cases.push_back({kind == "valid", line.substr(tab + 1)});
  }
  return cases;
}

const testing::SchemaGrammar& RegexSchema() {
  static const testing::SchemaGrammar g =
      testing::CompileSchema(R"({"type":"string","format":"regex"})");
  return g;
}

// The valid patterns of the golden file the grammar rejects today (named groups, deep nesting,
// ranges and quantifier bounds it cannot order, ...). A change that rejects more valid patterns
// must raise this on purpose.
constexpr int kMaxRejectedValid = 166;

TEST(JsonSchemaRegexFormat, AcceptsNoPatternJavaScriptRejectsAndFewThatItAccepts) {
  const std::vector<Case> cases = LoadCases();
  ASSERT_GT(cases.size(), 4000u) << "golden file missing or truncated";
  const testing::SchemaGrammar& g = RegexSchema();
  ASSERT_TRUE(g.ok()) << g.status.ToString();
  int valid = 0, invalid = 0, invalid_accepted = 0, valid_rejected = 0;
  std::string examples;
  for (const Case& c : cases) {
    const bool accepted = g.Accepts(c.json);
    (c.valid ? valid : invalid) += 1;
    if (!c.valid && accepted) {
      ++invalid_accepted;
      ADD_FAILURE() << "accepted a pattern JavaScript rejects: " << c.json;
    }
    if (c.valid && !accepted) {
      if (++valid_rejected <= 12) examples += " " + c.json;
    }
  }
  EXPECT_GT(valid, 2000);
  EXPECT_GT(invalid, 1500);
  EXPECT_EQ(invalid_accepted, 0);
  std::printf(
      "format regex: %d valid patterns, %d accepted; %d invalid, %d accepted; rejected "
      "valid (narrowing) %d, e.g.%s\n",
      valid, valid - valid_rejected, invalid, invalid_accepted, valid_rejected, examples.c_str());
  EXPECT_LE(valid_rejected, kMaxRejectedValid) << "more valid patterns rejected than before";
}

TEST(JsonSchemaRegexFormat, DecodesJsonEscapesBeforeJudging) {
  const testing::SchemaGrammar& g = RegexSchema();
  ASSERT_TRUE(g.ok()) << g.status.ToString();
  EXPECT_TRUE(g.Accepts(R"("^\\d+$")"));       // ^\d+$
  EXPECT_TRUE(g.Accepts(R"("\\t\u0009\t")"));  // \t, then two tab characters
  EXPECT_TRUE(g.Accepts(R"("[\\\\\/]")"));     // [\\/]
  EXPECT_TRUE(g.Accepts(R"("a\/b")"));         // a/b
  EXPECT_TRUE(g.Accepts(R"("[\"]")"));         // ["]
  EXPECT_TRUE(g.Accepts(R"("a\nb")"));         // a, newline, b
  EXPECT_FALSE(g.Accepts(R"("^\\d+\\")"));     // ^\d+\ : trailing backslash
  EXPECT_FALSE(g.Accepts(R"("\\")"));          // \ alone
  EXPECT_FALSE(g.Accepts(R"("[\\]")"));        // [\] : unterminated class
  EXPECT_FALSE(g.Accepts(R"("^\d+$")"));       // not JSON: \d is no JSON escape
  EXPECT_FALSE(g.Accepts(R"("[z-a]")"));
  EXPECT_FALSE(g.Accepts(R"("a{2,1}")"));
}

TEST(JsonSchemaRegexFormat, ReportsItsBoundsAsANarrowing) {
  const testing::SchemaGrammar g =
      testing::CompileSchema(R"({"properties":{"re":{"type":"string","format":"regex"}}})");
  ASSERT_TRUE(g.ok()) << g.status.ToString();
  ASSERT_EQ(g.report.notes.size(), 1u);
  EXPECT_EQ(g.report.notes[0].kind, JsonSchemaNote::Kind::kNarrowed);
  EXPECT_EQ(g.report.notes[0].pointer, "/properties/re/format");
  EXPECT_NE(g.report.notes[0].message.find(
                "deeper than " + std::to_string(jsonschema::kRegexFormatDepth) + " levels"),
            std::string::npos)
      << g.report.notes[0].message;
  // Each location is reported.
  const testing::SchemaGrammar two =
      testing::CompileSchema(R"({"properties":{"a":{"format":"regex"},"b":{"format":"regex"}}})");
  ASSERT_TRUE(two.ok()) << two.status.ToString();
  ASSERT_EQ(two.report.notes.size(), 2u);
  EXPECT_EQ(two.report.notes[1].pointer, "/properties/b/format");
  // Nesting: exactly kRegexFormatDepth levels pass, one more is the narrowing.
  std::string ok = "a", deep;
  for (int i = 0; i < jsonschema::kRegexFormatDepth; ++i) ok = "(" + ok + ")";
  deep = "(" + ok + ")";
  EXPECT_TRUE(g.Accepts(R"({"re":")" + ok + R"("})"));
  EXPECT_FALSE(g.Accepts(R"({"re":")" + deep + R"("})"));
  // Lookbehinds: outside groups and without groups inside (a narrowing); never quantified.
  EXPECT_TRUE(g.Accepts(R"j({"re":"(?<![a-z])x(?<=x|y)"})j"));
  EXPECT_FALSE(g.Accepts(R"j({"re":"((?<=a)b)"})j"));
  EXPECT_FALSE(g.Accepts(R"j({"re":"(?<=(a))b"})j"));
  EXPECT_FALSE(g.Accepts(R"j({"re":"(?<=a)*b"})j"));
  EXPECT_TRUE(g.Accepts(R"j({"re":"(?=a)*b"})j"));
}

TEST(JsonSchemaRegexFormat, IntersectsWithLengthAndPattern) {
  const testing::SchemaGrammar g = testing::CompileSchema(
      R"({"type":"string","format":"regex","maxLength":4,"pattern":"^\\^"})");
  ASSERT_TRUE(g.ok()) << g.status.ToString();
  EXPECT_TRUE(g.Accepts(R"("^a+")"));
  EXPECT_TRUE(g.Accepts(R"("^a?$")"));
  EXPECT_FALSE(g.Accepts(R"("^a+$b")"));  // 5 characters
  EXPECT_FALSE(g.Accepts(R"("a+")"));     // no leading ^
  EXPECT_FALSE(g.Accepts(R"("^a**")"));   // nothing to repeat
  EXPECT_FALSE(g.Accepts(R"("^(a")"));    // unterminated group
}

}  // namespace
}  // namespace sieve
