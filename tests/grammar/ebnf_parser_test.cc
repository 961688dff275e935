// Tests for the EBNF/GBNF parser: every syntax element, every error (code, line, column, message),
// limits, and the test grammars in tests/data/grammars.
#include "grammar/ebnf_parser.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "grammar/grammar.h"
#include "grammar/grammar_printer.h"
#include "grammar/support/utf8.h"
#include "tests/testing/reference_recognizer.h"

namespace sieve {
namespace {

Grammar MustParse(std::string_view text, const EbnfOptions& opts = EbnfOptions()) {
  Result<Grammar> g = ParseEbnf(text, opts);
  EXPECT_TRUE(g.ok()) << g.status().ToString() << "\n" << text;
  return g.ok() ? std::move(g).value() : Grammar();
}

Status ParseStatus(std::string_view text, const EbnfOptions& opts = EbnfOptions()) {
  Result<Grammar> g = ParseEbnf(text, opts);
  EXPECT_FALSE(g.ok()) << "parsed:\n" << text;
  return g.status();
}

const Expr& Body(const Grammar& g, std::string_view rule) {
  static const Expr kMissing;
  RuleId r = g.FindRule(rule);
  EXPECT_GE(r, 0) << rule;
  return r < 0 ? kMissing : g.expr(g.rule(r).body);
}

std::string ReadFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

const char* const kDataGrammars[] = {"json",    "arithmetic_leftrec", "c_like", "csv", "pgn",
                                     "unicode", "nested_bounds"};

// ---- syntax ----

TEST(EbnfParser, ParsesALiteralRule) {
  Grammar g = MustParse("root ::= \"abc\"");
  ASSERT_EQ(g.num_rules(), 1u);
  EXPECT_EQ(g.rule(g.root()).name, "root");
  const Expr& e = Body(g, "root");
  ASSERT_EQ(e.kind, ExprKind::kBytes);
  EXPECT_EQ(g.bytes(e), "abc");
  EXPECT_EQ(e.source_offset, 9);
}

TEST(EbnfParser, NumbersRulesInDefinitionOrderEvenWhenReferencedEarlier) {
  Grammar g = MustParse("root ::= b a\na ::= \"a\"\nb ::= \"b\"");
  EXPECT_EQ(g.FindRule("root"), 0);
  EXPECT_EQ(g.FindRule("a"), 1);
  EXPECT_EQ(g.FindRule("b"), 2);
  const Expr& seq = Body(g, "root");
  ASSERT_EQ(seq.kind, ExprKind::kSequence);
  EXPECT_EQ(g.expr(g.children(seq)[0]).rule, 2);
  EXPECT_EQ(g.expr(g.children(seq)[1]).rule, 1);
}

TEST(EbnfParser, BuildsChoicesSequencesAndNoNodeForGroups) {
  Grammar g = MustParse("root ::= \"a\" (\"b\" | \"c\" \"d\") | ((\"e\"))");
  const Expr& choice = Body(g, "root");
  ASSERT_EQ(choice.kind, ExprKind::kChoice);
  ASSERT_EQ(choice.size, 2u);
  const Expr& seq = g.expr(g.children(choice)[0]);
  ASSERT_EQ(seq.kind, ExprKind::kSequence);
  const Expr& inner = g.expr(g.children(seq)[1]);
  ASSERT_EQ(inner.kind, ExprKind::kChoice);
  EXPECT_EQ(g.expr(g.children(inner)[1]).kind, ExprKind::kSequence);
  EXPECT_EQ(g.expr(g.children(choice)[1]).kind, ExprKind::kBytes);  // ((e)) is just "e"
}

TEST(EbnfParser, ParsesStarPlusAndQuestion) {
  Grammar g = MustParse("root ::= \"a\"* \"b\"+ \"c\"?");
  const Expr& seq = Body(g, "root");
  ASSERT_EQ(seq.size, 3u);
  const int32_t want[3][2] = {{0, kUnbounded}, {1, kUnbounded}, {0, 1}};
  for (int i = 0; i < 3; ++i) {
    const Expr& r = g.expr(g.children(seq)[i]);
    ASSERT_EQ(r.kind, ExprKind::kRepeat);
    EXPECT_EQ(r.min, want[i][0]);
    EXPECT_EQ(r.max, want[i][1]);
  }
}

TEST(EbnfParser, ParsesEveryFormOfRepetitionBounds) {
  Grammar g = MustParse("root ::= \"a\"{3} \"b\"{2,} \"c\"{2,5} \"d\"{,4} \"e\"{ 1 , 2 } \"f\"{0}");
  const Expr& seq = Body(g, "root");
  const int32_t want[6][2] = {{3, 3}, {2, kUnbounded}, {2, 5}, {0, 4}, {1, 2}, {0, 0}};
  ASSERT_EQ(seq.size, 6u);
  for (int i = 0; i < 6; ++i) {
    const Expr& r = g.expr(g.children(seq)[i]);
    ASSERT_EQ(r.kind, ExprKind::kRepeat) << i;
    EXPECT_EQ(r.min, want[i][0]) << i;
    EXPECT_EQ(r.max, want[i][1]) << i;
  }
}

TEST(EbnfParser, StacksQuantifiersAsNestedRepeats) {
  Grammar g = MustParse("root ::= \"a\"+*");
  const Expr& outer = Body(g, "root");
  ASSERT_EQ(outer.kind, ExprKind::kRepeat);
  EXPECT_EQ(outer.min, 0);
  EXPECT_EQ(g.expr(g.children(outer)[0]).min, 1);
}

TEST(EbnfParser, NormalisesCharacterClasses) {
  Grammar g = MustParse("root ::= [c-ea-bx0-9x]");
  const Expr& e = Body(g, "root");
  ASSERT_EQ(e.kind, ExprKind::kCharClass);
  std::vector<CodepointRange> want = {{'0', '9'}, {'a', 'e'}, {'x', 'x'}};
  EXPECT_EQ(std::vector<CodepointRange>(g.ranges(e).begin(), g.ranges(e).end()), want);
  EXPECT_FALSE(e.negated);
}

TEST(EbnfParser, StoresTheComplementOfANegatedClassWithoutSurrogates) {
  Grammar g = MustParse("root ::= [^a-z]");
  const Expr& e = Body(g, "root");
  EXPECT_TRUE(e.negated);
  std::vector<CodepointRange> want = {{0, 'a' - 1}, {'z' + 1, 0xD7FF}, {0xE000, 0x10FFFF}};
  EXPECT_EQ(std::vector<CodepointRange>(g.ranges(e).begin(), g.ranges(e).end()), want);
}

TEST(EbnfParser, ReadsDotAsAnyCodePoint) {
  Grammar g = MustParse("root ::= .");
  const Expr& e = Body(g, "root");
  std::vector<CodepointRange> want = {{0, 0xD7FF}, {0xE000, 0x10FFFF}};
  EXPECT_EQ(std::vector<CodepointRange>(g.ranges(e).begin(), g.ranges(e).end()), want);
}

TEST(EbnfParser, AcceptsGbnfAndXgrammarRuleNames) {
  Grammar g = MustParse(
      "root ::= my-rule_2 a.b 3d x.\nmy-rule_2 ::= \"1\"\na.b ::= \"2\"\n3d ::= \"3\"\n"
      "x ::= \"4\"");
  EXPECT_GE(g.FindRule("my-rule_2"), 0);
  EXPECT_GE(g.FindRule("a.b"), 0);
  EXPECT_GE(g.FindRule("3d"), 0);
  const Expr& seq = Body(g, "root");
  ASSERT_EQ(seq.size, 5u);  // "x." is the rule x followed by the any-character wildcard
  EXPECT_EQ(g.expr(g.children(seq)[3]).rule, g.FindRule("x"));
  EXPECT_EQ(g.expr(g.children(seq)[4]).kind, ExprKind::kCharClass);
}

TEST(EbnfParser, DecodesEveryEscapeInLiterals) {
  Grammar g = MustParse(R"(root ::= "\n\t\r\\\"\'\[\]\-\xE9\u4e2d\U0001F600\x41\/")");
  EXPECT_EQ(g.bytes(Body(g, "root")),
            "\n\t\r\\\"'[]-\xC3\xA9\xE4\xB8\xAD\xF0\x9F\x98\x80"
            "A/");
}

TEST(EbnfParser, DecodesEscapesInClasses) {
  Grammar g = MustParse(R"(root ::= [\]\[\-\^\\\n\x41\u00e9])");
  std::vector<CodepointRange> want = {
      {'\n', '\n'}, {'-', '-'}, {'A', 'A'}, {'[', '^'}, {0xE9, 0xE9}};  // [ \ ] ^ merge
  const Expr& e = Body(g, "root");
  EXPECT_EQ(std::vector<CodepointRange>(g.ranges(e).begin(), g.ranges(e).end()), want);
}

TEST(EbnfParser, ExpandsDigitWordAndSpaceEscapesInClasses) {
  Grammar g = MustParse(R"(root ::= [\d] [\w] [\s] [^\D] [\W])");
  const Expr& seq = Body(g, "root");
  auto ranges = [&](int i) {
    const Expr& e = g.expr(g.children(seq)[i]);
    return std::vector<CodepointRange>(g.ranges(e).begin(), g.ranges(e).end());
  };
  EXPECT_EQ(ranges(0), (std::vector<CodepointRange>{{'0', '9'}}));
  EXPECT_EQ(ranges(1),
            (std::vector<CodepointRange>{{'0', '9'}, {'A', 'Z'}, {'_', '_'}, {'a', 'z'}}));
  EXPECT_EQ(ranges(2), (std::vector<CodepointRange>{{'\t', '\r'}, {' ', ' '}}));
  EXPECT_EQ(ranges(3), ranges(0));
  EXPECT_EQ(ranges(4).front(), (CodepointRange{0, '0' - 1}));
}

TEST(EbnfParser, TakesADashAtEitherEndOfAClassLiterally) {
  Grammar g = MustParse("root ::= [-a] [a-]");
  const Expr& seq = Body(g, "root");
  for (int i = 0; i < 2; ++i) {
    const Expr& e = g.expr(g.children(seq)[i]);
    EXPECT_EQ(std::vector<CodepointRange>(g.ranges(e).begin(), g.ranges(e).end()),
              (std::vector<CodepointRange>{{'-', '-'}, {'a', 'a'}}));
  }
}

TEST(EbnfParser, AcceptsSingleQuotedLiterals) {
  Grammar g = MustParse("root ::= 'say \"hi\"' '\\''");
  const Expr& seq = Body(g, "root");
  EXPECT_EQ(g.bytes(g.expr(g.children(seq)[0])), "say \"hi\"");
  EXPECT_EQ(g.bytes(g.expr(g.children(seq)[1])), "'");
}

TEST(EbnfParser, ReadsRawUtf8InLiteralsAndClasses) {
  Grammar g = MustParse("root ::= \"中文\" [α-ω😀]");
  const Expr& seq = Body(g, "root");
  EXPECT_EQ(g.bytes(g.expr(g.children(seq)[0])), "中文");
  const Expr& cls = g.expr(g.children(seq)[1]);
  EXPECT_EQ(std::vector<CodepointRange>(g.ranges(cls).begin(), g.ranges(cls).end()),
            (std::vector<CodepointRange>{{0x3B1, 0x3C9}, {0x1F600, 0x1F600}}));
}

TEST(EbnfParser, MakesEmptyStringsEmptyGroupsAndEmptyAlternativesEmpty) {
  Grammar g = MustParse("root ::= \"\" | () | \n");
  const Expr& choice = Body(g, "root");
  ASSERT_EQ(choice.kind, ExprKind::kChoice);
  ASSERT_EQ(choice.size, 3u);
  for (ExprId c : g.children(choice)) EXPECT_EQ(g.expr(c).kind, ExprKind::kEmpty);
}

TEST(EbnfParser, SkipsCommentsButNotHashesInsideLiteralsOrClasses) {
  Grammar g = MustParse("# header\nroot ::= \"#\" [#] # trailing \"x\"\n# end");
  const Expr& seq = Body(g, "root");
  ASSERT_EQ(seq.size, 2u);
  EXPECT_EQ(g.bytes(g.expr(g.children(seq)[0])), "#");
}

TEST(EbnfParser, ContinuesARuleOverLinesUntilTheNextDefinition) {
  Grammar xgrammar_style = MustParse("root ::= \"a\"\n  \"b\"\n  | \"c\"\nother ::= \"d\"\n");
  EXPECT_EQ(Body(xgrammar_style, "root").kind, ExprKind::kChoice);
  EXPECT_EQ(xgrammar_style.num_rules(), 2u);
  Grammar gbnf_style = MustParse("root ::= \"a\" |\n         \"b\"\n");
  EXPECT_EQ(Body(gbnf_style, "root").size, 2u);
}

TEST(EbnfParser, ParsesALookaheadAssertionAtTheEndOfARule) {
  Grammar g = MustParse("root ::= str \",\"\nstr ::= \"\\\"\" [a-z]* \"\\\"\" (= \",\" | \"}\")\n");
  const Rule& r = g.rule(g.FindRule("str"));
  ASSERT_NE(r.lookahead, kNoExpr);
  EXPECT_EQ(g.expr(r.lookahead).kind, ExprKind::kChoice);
  EXPECT_EQ(g.expr(r.body).kind, ExprKind::kSequence);
  EXPECT_EQ(g.rule(g.FindRule("root")).lookahead, kNoExpr);
}

TEST(EbnfParser, UsesTheRootNameFromTheOptions) {
  EbnfOptions opts;
  opts.root = "start";
  Grammar g = MustParse("helper ::= \"x\"\nstart ::= helper", opts);
  EXPECT_EQ(g.rule(g.root()).name, "start");
}

TEST(EbnfParser, WarnsAboutUnusedRulesWithTheirNameAndLine) {
  std::vector<std::string> warnings;
  EbnfOptions opts;
  opts.warnings = &warnings;
  Grammar g = MustParse(
      "root ::= a\na ::= \"x\"\n\nunused ::= \"y\"\nla ::= \"z\"\n"
      "b ::= \"q\" (= la)",
      opts);
  EXPECT_EQ(g.num_rules(), 5u);  // kept: Simplify removes them
  ASSERT_EQ(warnings.size(), 3u);
  EXPECT_EQ(warnings[0], "rule 'unused' (line 4) is never used");
  EXPECT_NE(warnings[1].find("'la'"), std::string::npos);
  EXPECT_NE(warnings[2].find("'b' (line 6)"), std::string::npos);
}

TEST(EbnfParser, ReadsLlamaCppStyleGbnf) {
  // The constructs of llama.cpp's grammars/*.gbnf: an empty first alternative, bounded classes,
  // alternatives continued after a trailing '|', escapes in classes.
  Grammar g = MustParse(R"(root   ::= object
value  ::= object | array | string | number | ("true" | "false" | "null") ws

object ::=
  "{" ws (
            string ":" ws value
    ("," ws string ":" ws value)*
  )? "}" ws

array  ::=
  "[" ws (
            value
    ("," ws value)*
  )? "]" ws

string ::=
  "\"" (
    [^"\\\x7F\x00-\x1F] |
    "\\" (["\\bfnrt] | "u" [0-9a-fA-F]{4}) # escapes
  )* "\"" ws

number ::= ("-"? ([0-9] | [1-9] [0-9]{0,15})) ("." [0-9]+)? ([eE] [-+]? [0-9] [1-9]{0,15})? ws

# Optional space: by convention, applied in this grammar after literal chars when allowed
ws ::= | " " | "\n" [ \t]{0,20}
)");
  EXPECT_EQ(g.num_rules(), 7u);
  EXPECT_TRUE(ReferenceMatch(g, "{\"a\": [1, 2.5, \"x\\n\"], \"b\": null}"));
  EXPECT_FALSE(ReferenceMatch(g, "{\"a\": [1, 2.5, \"x\\q\"]}"));
}

TEST(EbnfParser, ParsesEveryTestGrammar) {
  for (const char* name : kDataGrammars) {
    std::string text = ReadFile(std::string(SIEVE_TEST_DATA_DIR) + "/grammars/" + name + ".ebnf");
    ASSERT_FALSE(text.empty()) << name;
    std::vector<std::string> warnings;
    EbnfOptions opts;
    opts.warnings = &warnings;
    Result<Grammar> g = ParseEbnf(text, opts);
    ASSERT_TRUE(g.ok()) << name << ": " << g.status().ToString();
    EXPECT_TRUE(g->Validate().ok()) << name;
    EXPECT_TRUE(warnings.empty()) << name << ": " << warnings[0];
  }
}

// ---- errors ----

void ExpectError(const Status& s, StatusCode code, int line, int column, const std::string& text) {
  EXPECT_EQ(s.code(), code) << s.ToString();
  EXPECT_EQ(s.line(), line) << s.ToString();
  EXPECT_EQ(s.column(), column) << s.ToString();
  EXPECT_NE(s.message().find(text), std::string::npos) << s.ToString();
  EXPECT_GE(s.offset(), 0);
}

TEST(EbnfParser, ReportsAMissingAssignAfterTheFirstRuleName) {
  ExpectError(ParseStatus("root \"a\""), StatusCode::kParse, 1, 6,
              "expected '::=' after rule name 'root'");
}

TEST(EbnfParser, ReportsASingleEqualsOrColonInsteadOfAssign) {
  ExpectError(ParseStatus("root ::= a\na = \"x\""), StatusCode::kParse, 2, 3,
              "expected '::=' after rule name 'a'");
  ExpectError(ParseStatus("root : \"x\""), StatusCode::kParse, 1, 6,
              "expected '::=' after rule name 'root'");
}

TEST(EbnfParser, ReportsTextBeforeTheFirstRule) {
  ExpectError(ParseStatus("  \"a\" ::= b"), StatusCode::kParse, 1, 3,
              "expected a rule name at the start of the grammar");
}

TEST(EbnfParser, ReportsAnUndefinedRuleWithItsNameAndWhereItIsUsed) {
  ExpectError(ParseStatus("root ::= \"a\"\n  | \"b\" missing-rule\n"), StatusCode::kParse, 2, 9,
              "undefined rule 'missing-rule'");
}

TEST(EbnfParser, ReportsADuplicateDefinitionAtTheSecondOne) {
  ExpectError(ParseStatus("root ::= a\na ::= \"x\"\n  a ::= \"y\""), StatusCode::kParse, 3, 3,
              "duplicate definition of rule 'a' (first defined at line 2)");
}

TEST(EbnfParser, ReportsAMissingRootRule) {
  Status s = ParseStatus("start ::= \"x\"");
  EXPECT_EQ(s.code(), StatusCode::kParse);
  EXPECT_NE(s.message().find("no root rule 'root'"), std::string::npos) << s.message();
}

TEST(EbnfParser, ReportsAGrammarWithoutRules) {
  Status s = ParseStatus("  # only a comment\n");
  EXPECT_EQ(s.code(), StatusCode::kParse);
  EXPECT_NE(s.message().find("no rules"), std::string::npos);
}

TEST(EbnfParser, ReportsEmptyCharacterClasses) {
  ExpectError(ParseStatus("root ::= \"a\" []"), StatusCode::kParse, 1, 14, "empty character class");
  ExpectError(ParseStatus("root ::= [^]"), StatusCode::kParse, 1, 10, "'[^]'");
}

TEST(EbnfParser, ReportsClassesThatMatchNothing) {
  ExpectError(ParseStatus("root ::= [\\uD800-\\uDFFF]"), StatusCode::kParse, 1, 10,
              "matches no character");
  ExpectError(ParseStatus("root ::= [^\\x00-\\U0010FFFF]"), StatusCode::kParse, 1, 10,
              "matches no character");
}

TEST(EbnfParser, ReportsInvalidUtf8InLiteralsAndClasses) {
  ExpectError(ParseStatus("root ::= \"ab\xFF\""), StatusCode::kParse, 1, 13,
              "invalid UTF-8 in string literal");
  ExpectError(ParseStatus("root ::= [a\xE4\xB8]"), StatusCode::kParse, 1, 12,
              "invalid UTF-8 in character class");
  ExpectError(ParseStatus("root ::= \"\xED\xA0\x80\""), StatusCode::kParse, 1, 11, "invalid UTF-8");
}

TEST(EbnfParser, ReportsARangeOutOfOrder) {
  ExpectError(ParseStatus("root ::= [a-cz-a]"), StatusCode::kParse, 1, 14,
              "character range out of order: 'z-a'");
}

TEST(EbnfParser, ReportsRepetitionBoundsOutOfOrder) {
  ExpectError(ParseStatus("root ::= \"a\"{5,2}"), StatusCode::kParse, 1, 13,
              "repetition bounds out of order: {5,2}");
}

TEST(EbnfParser, ReportsBoundsOverTheLimitAsLimitErrors) {
  ExpectError(ParseStatus("root ::= \"a\"{0,2000000}"), StatusCode::kLimit, 1, 13,
              "exceeds the limit of 1000000");
  ExpectError(ParseStatus("root ::= \"a\"{99999999999999999999999}"), StatusCode::kLimit, 1, 13,
              "exceeds the limit");
  EbnfOptions opts;
  opts.max_repeat_bound = 10;
  ExpectError(ParseStatus("root ::= \"a\"{11,}", opts), StatusCode::kLimit, 1, 13,
              "repetition bound 11");
  MustParse("root ::= \"a\"{0,1000000}");
}

TEST(EbnfParser, ReportsMalformedBounds) {
  ExpectError(ParseStatus("root ::= \"a\"{}"), StatusCode::kParse, 1, 13, "{m,n}");
  ExpectError(ParseStatus("root ::= \"a\"{1,2"), StatusCode::kParse, 1, 13, "repetition bound");
  ExpectError(ParseStatus("root ::= \"a\"{x}"), StatusCode::kParse, 1, 13, "repetition bound");
}

TEST(EbnfParser, ReportsAnUnterminatedStringAtItsOpeningQuote) {
  ExpectError(ParseStatus("root ::= \"a\"\nnext ::= \"abc\ntail ::= \"x\""), StatusCode::kParse, 2,
              10, "unterminated string literal");
  ExpectError(ParseStatus("root ::= 'abc"), StatusCode::kParse, 1, 10, "expected closing '");
}

TEST(EbnfParser, ReportsAnUnterminatedClassAtItsOpeningBracket) {
  ExpectError(ParseStatus("root ::= \"x\" [a-z\n"), StatusCode::kParse, 1, 14,
              "unterminated character class");
  ExpectError(ParseStatus("root ::= [\\]"), StatusCode::kParse, 1, 10,
              "unterminated character class");
}

TEST(EbnfParser, ReportsLineAndColumnOfUnclosedGroup) {
  ExpectError(ParseStatus("root ::= a\na ::= \"x\" (\n  \"y\" (\"z\")\n\nb ::= \"w\""),
              StatusCode::kParse, 2, 11, "unclosed '(' in rule 'a': expected ')'");
}

TEST(EbnfParser, ReportsAnUnmatchedClosingParenthesis) {
  ExpectError(ParseStatus("root ::= \"a\" )"), StatusCode::kParse, 1, 14, "unmatched ')'");
}

TEST(EbnfParser, ReportsAQuantifierWithNothingBeforeIt) {
  ExpectError(ParseStatus("root ::= \"a\" | *\"b\""), StatusCode::kParse, 1, 16,
              "expected an expression before '*'");
  ExpectError(ParseStatus("root ::= ({2})"), StatusCode::kParse, 1, 11,
              "expected an expression before '{'");
}

TEST(EbnfParser, ReportsBadEscapes) {
  ExpectError(ParseStatus("root ::= \"a\\q\""), StatusCode::kParse, 1, 12, "unknown escape '\\q'");
  ExpectError(ParseStatus("root ::= \"\\x4\""), StatusCode::kParse, 1, 11, "2 hex digits");
  ExpectError(ParseStatus("root ::= \"\\uD800\""), StatusCode::kParse, 1, 11, "surrogate");
  ExpectError(ParseStatus("root ::= [\\U00110000]"), StatusCode::kParse, 1, 11, "U+10FFFF");
  ExpectError(ParseStatus("root ::= \"\\d\""), StatusCode::kParse, 1, 11,
              "only allowed inside a character class");
  ExpectError(ParseStatus("root ::= [\\d-z]"), StatusCode::kParse, 1, 11, "range");
}

TEST(EbnfParser, ReportsUnexpectedCharacters) {
  ExpectError(ParseStatus("root ::= \"a\" @"), StatusCode::kParse, 1, 14, "unexpected '@'");
  ExpectError(ParseStatus("root ::= \"a\" \x01"), StatusCode::kParse, 1, 14, "byte 0x01");
  ExpectError(ParseStatus("root ::= \"a\" ::= \"b\""), StatusCode::kParse, 1, 14, "'::='");
}

TEST(EbnfParser, ReportsALookaheadThatIsNotAtTheEndOfTheRule) {
  ExpectError(ParseStatus("root ::= \"a\" (= \"b\") \"c\""), StatusCode::kParse, 1, 22,
              "after its lookahead assertion");
  ExpectError(ParseStatus("root ::= (\"a\" (= \"b\"))"), StatusCode::kParse, 1, 15,
              "only allowed at the end of a rule body");
  ExpectError(ParseStatus("root ::= \"a\" (= \"b\""), StatusCode::kParse, 1, 14, "unclosed '(='");
}

TEST(EbnfParser, CountsColumnsInCodePoints) {
  ExpectError(ParseStatus("root ::= \"中文😀\" oops"), StatusCode::kParse, 1, 16,
              "undefined rule 'oops'");
}

TEST(EbnfParser, ReportsErrorsInTextOrderAcrossRules) {
  // The bad escape hides the definition of b from the first pass; it is still the error reported.
  ExpectError(ParseStatus("root ::= b\nc ::= \"\\q\"\nb ::= \"x\""), StatusCode::kParse, 2, 8,
              "unknown escape");
}

// ---- limits ----

TEST(EbnfParser, ReturnsALimitErrorNotACrashForTenThousandNestedGroups) {
  std::string text = "root ::= " + std::string(10000, '(') + "\"a\"" + std::string(10000, ')');
  Status s = ParseStatus(text);
  EXPECT_EQ(s.code(), StatusCode::kLimit);
  const int limit = EbnfOptions().max_nesting_depth;
  EXPECT_EQ(s.offset(), 9 + limit);  // the first '(' past the limit
  EXPECT_NE(s.message().find("nesting deeper than " + std::to_string(limit)), std::string::npos);
}

TEST(EbnfParser, AcceptsNestingUpToTheLimitExactly) {
  EbnfOptions opts;
  opts.max_nesting_depth = 50;
  MustParse("root ::= " + std::string(50, '(') + "\"a\"" + std::string(50, ')'), opts);
  EXPECT_EQ(
      ParseStatus("root ::= " + std::string(51, '(') + "\"a\"" + std::string(51, ')'), opts).code(),
      StatusCode::kLimit);
}

TEST(EbnfParser, CountsStackedQuantifiersAsNesting) {
  Status s = ParseStatus("root ::= \"a\"" + std::string(5000, '*'));
  EXPECT_EQ(s.code(), StatusCode::kLimit);
  std::string mixed = "root ::= ";
  for (int i = 0; i < 600; ++i) mixed += "(";
  mixed += "\"a\"";
  for (int i = 0; i < 600; ++i) mixed += ")*";
  EXPECT_EQ(ParseStatus(mixed).code(), StatusCode::kLimit);
}

TEST(EbnfParser, RejectsTextOverTheSizeLimit) {
  EbnfOptions opts;
  opts.max_text_bytes = 16;
  Status s = ParseStatus("root ::= \"abcdefghij\"", opts);
  EXPECT_EQ(s.code(), StatusCode::kLimit);
  EXPECT_NE(s.message().find("over the limit of 16"), std::string::npos);
}

TEST(EbnfParser, RejectsMoreRulesThanTheLimit) {
  EbnfOptions opts;
  opts.max_rules = 3;
  std::string text = "root ::= a\na ::= b\nb ::= c\nc ::= \"x\"";
  ExpectError(ParseStatus(text, opts), StatusCode::kLimit, 4, 1, "more than 3 rules");
}

TEST(EbnfParser, ParsesAManyRuleGrammarQuickly) {
  std::string text = "root ::= r0\n";
  for (int i = 0; i < 20000; ++i) {
    const std::string n = std::to_string(i), next = std::to_string(i + 1);
    text += 'r' + n + " ::= \"x\" r" + next + " | \"y\"\n";
  }
  text += "r20000 ::= \"z\"\n";
  Grammar g = MustParse(text);
  EXPECT_EQ(g.num_rules(), 20002u);
}

// ---- the IR's own checks (grammar.cc) ----

TEST(GrammarIr, NormalisesRangesAroundSurrogatesAndTheTopOfUnicode) {
  std::vector<CodepointRange> in = {{'z', 'a'},       {0x110000, 0x110005}, {'d', 'f'}, {'a', 'c'},
                                    {0xD000, 0xE100}, {0x10FFF0, 0x200000}, {'e', 'e'}};
  std::vector<CodepointRange> want = {
      {'a', 'f'}, {0xD000, 0xD7FF}, {0xE000, 0xE100}, {0x10FFF0, 0x10FFFF}};
  EXPECT_EQ(Grammar::NormalizeRanges(in, false), want);
  std::vector<CodepointRange> complement = {{0, 'a' - 1}, {'f' + 1, 0xCFFF}, {0xE101, 0x10FFEF}};
  EXPECT_EQ(Grammar::NormalizeRanges(in, true), complement);
  EXPECT_TRUE(Grammar::NormalizeRanges({{0, 0x10FFFF}}, true).empty());
  EXPECT_TRUE(Grammar::NormalizeRanges({{0xD800, 0xDFFF}}, false).empty());
}

// Makes `body` the body of a root rule (by reference: `body` is built in g by the caller).
Grammar& OneRule(Grammar& g, ExprId body) {
  RuleId r = g.AddRule("root");
  g.SetRuleBody(r, body);
  g.set_root(r);
  return g;
}

TEST(GrammarIr, ValidateRejectsEachBrokenInvariant) {
  {
    Grammar g;
    EXPECT_NE(OneRule(g, g.AddCharClass({}, false)).Validate().message().find("no character"),
              std::string::npos);
  }
  {
    Grammar g;
    ExprId bad = g.AddBytes("\xFF", 7);
    Status s = OneRule(g, bad).Validate();
    EXPECT_NE(s.message().find("not valid UTF-8"), std::string::npos);
    EXPECT_EQ(s.offset(), 7);
  }
  {
    Grammar g;
    ExprId a = g.AddBytes("a");
    ExprId twice[] = {a, a};
    EXPECT_NE(OneRule(g, g.AddSequence(twice)).Validate().message().find("more than one parent"),
              std::string::npos);
  }
  {
    Grammar g;
    EXPECT_NE(OneRule(g, g.AddRuleRef(5)).Validate().message().find("missing rule"),
              std::string::npos);
  }
  {
    Grammar g;
    EXPECT_NE(OneRule(g, g.AddRepeat(g.AddBytes("a"), 3, 2)).Validate().message().find("bounds"),
              std::string::npos);
  }
  {
    Grammar g;
    EXPECT_NE(OneRule(g, g.AddBytes("")).Validate().message().find("empty byte string"),
              std::string::npos);
  }
  {
    Grammar g;
    EXPECT_NE(OneRule(g, g.AddSequence({})).Validate().message().find("no items"),
              std::string::npos);
  }
  {
    Grammar g;
    EXPECT_FALSE(OneRule(g, kNoExpr).Validate().ok());
  }
  {
    Grammar g;
    g.AddRule("root");
    EXPECT_NE(g.Validate().message().find("no root"), std::string::npos);
  }
  {
    Grammar g;
    OneRule(g, g.AddBytes("x"));
    RuleId dup = g.AddRule("root");
    g.SetRuleBody(dup, g.AddBytes("y"));
    EXPECT_NE(g.Validate().message().find("defined twice"), std::string::npos);
  }
  Grammar ok;
  EXPECT_TRUE(OneRule(ok, ok.AddBytes("fine")).Validate().ok());
}

TEST(GrammarIr, EqualsComparesStructureButNotOffsetsOrNegationSpelling) {
  Grammar a = MustParse("root ::= [^a] \"x\"{2,3} r\nr ::= \"y\"");
  Grammar b = MustParse("root    ::=   [\\x00-`b-\\U0010FFFF]   \"x\"{2,3} r\n\n\nr ::= 'y'");
  EXPECT_TRUE(a.Equals(b));
  EXPECT_FALSE(a.Equals(MustParse("root ::= [^a] \"x\"{2,4} r\nr ::= \"y\"")));
  EXPECT_FALSE(a.Equals(MustParse("root ::= [^a] \"x\"{2,3} q\nq ::= \"y\"")));
  EXPECT_FALSE(a.Equals(MustParse("root ::= [^b] \"x\"{2,3} r\nr ::= \"y\"")));
  EXPECT_FALSE(a.Equals(MustParse("root ::= [^a] \"x\"{2,3} r\nr ::= \"y\" (= \"z\")")));
  EXPECT_FALSE(a.Equals(MustParse("r ::= \"y\"\nroot ::= [^a] \"x\"{2,3} r")));
}

TEST(GrammarIr, CountsTheMemoryItOwns) {
  Grammar small = MustParse("root ::= \"a\"");
  std::string text = "root ::= \"" + std::string(10000, 'a') + "\" [a-z]";
  Grammar big = MustParse(text);
  EXPECT_GT(small.MemorySize(), 0u);
  EXPECT_GE(big.MemorySize(), small.MemorySize() + 10000);
}

// ---- token references (llama.cpp syntax) ----

std::string Sentinel(size_t i) {
  std::string s;
  AppendUtf8(&s, kEbnfTokenSentinelBase + static_cast<char32_t>(i));
  return s;
}

TEST(EbnfParser, TokenReferencesBecomeOneSentinelPerToken) {
  std::vector<EbnfTokenRef> refs;
  EbnfOptions o;
  o.tokens = &refs;
  Grammar g = MustParse(
      "root ::= <[5]> \"a\" think <[5]>\nthink ::= <think> (!</think>)* </think>", o);
  ASSERT_EQ(refs.size(), 3u);
  EXPECT_EQ(refs[0].id, 5);
  EXPECT_EQ(refs[0].text, "");
  EXPECT_EQ(refs[1].id, -1);
  EXPECT_EQ(refs[1].text, "<think>");
  EXPECT_EQ(refs[2].text, "</think>");  // first named by the negation
  EXPECT_EQ(refs[2].offset, 50);  // its "!"
  for (size_t i = 0; i < 3; ++i) EXPECT_EQ(refs[i].sentinel, Sentinel(i));
  const std::string s0 = Sentinel(0), s1 = Sentinel(1), s2 = Sentinel(2);
  EXPECT_TRUE(ReferenceMatch(g, s0 + "a" + s1 + s2 + s0));
  EXPECT_TRUE(ReferenceMatch(g, s0 + "a" + s1 + "any text" + s0 + s1 + s2 + s0));
  EXPECT_FALSE(ReferenceMatch(g, s0 + "a" + s1 + "x" + s2 + "y" + s2 + s0));  // no </think> inside
  EXPECT_FALSE(ReferenceMatch(g, "<[5]>a<think></think><[5]>"));             // text is not a token
  // '+' and a group repeat a negation too; other quantifiers do not.
  refs.clear();
  MustParse("root ::= (!<[7]>)+ <[7]> !<|x|>* <|x|>", o);
  EXPECT_EQ(refs.size(), 2u);
  for (const char* bad : {"root ::= !<[7]>", "root ::= !<[7]>?", "root ::= (!<[7]>){2,}",
                          "root ::= \"a\" | !<[7]> \"b\""}) {
    refs.clear();
    Status st = ParseStatus(bad, o);
    EXPECT_EQ(st.code(), StatusCode::kUnsupported) << bad;
    EXPECT_NE(st.message().find("exactly one token"), std::string::npos) << st.ToString();
  }
}

TEST(EbnfParser, TokenReferencesNeedAVocabularyAndAreWellFormed) {
  Status st = ParseStatus("root ::= \"a\"\n  <|eot_id|>");
  EXPECT_EQ(st.code(), StatusCode::kUnsupported);
  EXPECT_EQ(st.line(), 2);
  EXPECT_EQ(st.column(), 3);
  EXPECT_NE(st.message().find("need a vocabulary"), std::string::npos);
  std::vector<EbnfTokenRef> refs;
  EbnfOptions o;
  o.tokens = &refs;
  for (const char* bad : {"root ::= <[x]>", "root ::= <[5]", "root ::= <[]>", "root ::= <abc",
                          "root ::= <>", "root ::= !a", "root ::= <ab\nc>",
                          "root ::= <[99999999999]>"}) {
    st = ParseStatus(bad, o);
    EXPECT_EQ(st.code(), StatusCode::kParse) << bad;
    EXPECT_EQ(st.column(), 10) << bad << ": " << st.ToString();  // the reference
  }
  std::string many = "root ::=";
  for (int i = 0; i <= static_cast<int>(kEbnfMaxTokenRefs); ++i) {
    many += " <[" + std::to_string(i) + "]>";
  }
  refs.clear();
  EXPECT_EQ(ParseStatus(many, o).code(), StatusCode::kLimit);
}

}  // namespace
}  // namespace sieve
