// Tests for the EBNF printer: golden output, escaping, parenthesisation, and round trips
// (print -> parse gives an equal grammar) for every test grammar, before and after Simplify.
#include "grammar/grammar_printer.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>

#include "grammar/ebnf_parser.h"
#include "grammar/grammar.h"
#include "grammar/simplify.h"

namespace sieve {
namespace {

Grammar MustParse(std::string_view text) {
  Result<Grammar> g = ParseEbnf(text);
  EXPECT_TRUE(g.ok()) << g.status().ToString() << "\n" << text;
  return g.ok() ? std::move(g).value() : Grammar();
}

std::string ReadFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// Prints, parses the output back, and checks the two grammars are equal and the printing stable.
void ExpectRoundTrip(const Grammar& g, const std::string& label) {
  std::string printed = PrintEbnf(g);
  Result<Grammar> back = ParseEbnf(printed);
  ASSERT_TRUE(back.ok()) << label << ": " << back.status().ToString() << "\n" << printed;
  EXPECT_TRUE(back->Equals(g)) << label << ":\n" << printed << "reprinted:\n" << PrintEbnf(*back);
  EXPECT_EQ(PrintEbnf(*back), printed) << label;
}

const char* const kDataGrammars[] = {"json",    "arithmetic_leftrec", "c_like", "csv", "pgn",
                                     "unicode", "nested_bounds"};

TEST(GrammarPrinter, PrintsEverySyntaxElementInCanonicalForm) {
  Grammar g = MustParse(R"(
    root ::= "lit" 'single' [a-z0-9_] [^"\\] . item* item+ item? item{3} item{2,} item{2,5}
             item{,4} ("x" | "y") "" (= "z")
    item ::= "i" |
      "j"
  )");
  EXPECT_EQ(PrintEbnf(g),
            "root ::= \"lit\" \"single\" [0-9_a-z] [^\"\\\\] . item* item+ item? item{3} "
            "item{2,} item{2,5} item{0,4} (\"x\" | \"y\") \"\" (= \"z\")\n"
            "item ::= \"i\" | \"j\"\n");
}

TEST(GrammarPrinter, EscapesEverythingButPrintableAscii) {
  Grammar g = MustParse(R"(root ::= "q\"b\\n\n\r\t\x01\x7F\u00e9\u4e2d\U0001F600")");
  EXPECT_EQ(PrintEbnf(g), "root ::= \"q\\\"b\\\\n\\n\\r\\t\\x01\\x7F\\u00E9\\u4E2D\\U0001F600\"\n");
}

TEST(GrammarPrinter, EscapesClassSyntaxAndWritesDashAndCaretPortably) {
  Grammar g = MustParse(R"(root ::= [\^\-\]\[\\] [a^] [\n\u00e0-\u00ff])");
  EXPECT_EQ(PrintEbnf(g), "root ::= [\\x2D\\[-^] [\\x5Ea] [\\n\\u00E0-\\u00FF]\n");
  ExpectRoundTrip(g, "class escapes");
}

TEST(GrammarPrinter, PrintsTwoAdjacentCodePointsWithoutADash) {
  Grammar g = MustParse("root ::= [ab] [a-c]");
  EXPECT_EQ(PrintEbnf(g), "root ::= [ab] [a-c]\n");
}

TEST(GrammarPrinter, KeepsNegatedClassesNegated) {
  Grammar g = MustParse(R"(root ::= [^a-z\n] [^\uD800])");
  // [^\uD800] excludes nothing but a surrogate: it prints as the wildcard.
  EXPECT_EQ(PrintEbnf(g), "root ::= [^\\na-z] .\n");
}

TEST(GrammarPrinter, ParenthesisesOnlyWhereTheTreeNeedsIt) {
  Grammar g;
  ExprId a = g.AddBytes("a"), b = g.AddBytes("b"), c = g.AddBytes("c"), d = g.AddBytes("d");
  ExprId ab[] = {a, b};
  ExprId inner_seq = g.AddSequence(ab);
  ExprId cd[] = {c, d};
  ExprId inner_choice = g.AddChoice(cd);
  ExprId star = g.AddRepeat(inner_seq, 0, kUnbounded);
  ExprId star_star = g.AddRepeat(star, 1, kUnbounded);
  ExprId e = g.AddBytes("e"), f = g.AddBytes("f");
  ExprId ef[] = {e, f};
  ExprId choice_in_choice = g.AddChoice(ef);
  ExprId z = g.AddBytes("z");
  ExprId outer_items[] = {choice_in_choice, z};
  ExprId outer_choice = g.AddChoice(outer_items);
  ExprId items[] = {star_star, inner_choice, outer_choice};
  ExprId seq = g.AddSequence(items);
  RuleId root = g.AddRule("root");
  g.SetRuleBody(root, seq);
  g.set_root(root);
  ASSERT_TRUE(g.Validate().ok());
  EXPECT_EQ(PrintEbnf(g), "root ::= ((\"a\" \"b\")*)+ (\"c\" | \"d\") ((\"e\" | \"f\") | \"z\")\n");
  ExpectRoundTrip(g, "nested");
}

TEST(GrammarPrinter, KeepsNestedSequencesApart) {
  Grammar g = MustParse("root ::= \"a\" (\"b\" \"c\") (\"d\" (\"e\" \"f\"))");
  EXPECT_EQ(PrintEbnf(g), "root ::= \"a\" (\"b\" \"c\") (\"d\" (\"e\" \"f\"))\n");
  ExpectRoundTrip(g, "sequences");
}

TEST(GrammarPrinter, PrintsArbitrarilyDeepExpressionsWithoutRecursing) {
  // Grammars built through the API have no nesting limit: 200,000 nested optionals would need
  // tens of megabytes of stack in a recursive printer.
  constexpr int kDepth = 200000;
  Grammar g;
  ExprId e = g.AddBytes("a");
  for (int i = 0; i < kDepth; ++i) e = g.AddRepeat(e, 0, 1);
  const RuleId root = g.AddRule("root");
  g.SetRuleBody(root, e);
  g.set_root(root);
  std::string want = "root ::= " + std::string(kDepth - 1, '(') + "\"a\"?";
  for (int i = 1; i < kDepth; ++i) want += ")?";
  EXPECT_EQ(PrintEbnf(g), want + "\n");
}

TEST(GrammarPrinter, PrintsOneExpression) {
  Grammar g = MustParse("root ::= (\"a\" | [0-9]+) \"b\"");
  const Expr& seq = g.expr(g.rule(g.root()).body);
  EXPECT_EQ(PrintExpr(g, g.children(seq)[0]), "\"a\" | [0-9]+");
  EXPECT_EQ(PrintExpr(g, g.rule(g.root()).body), "(\"a\" | [0-9]+) \"b\"");
}

TEST(GrammarPrinter, SanitisesNamesTheParserCouldNotRead) {
  Grammar g;
  RuleId root = g.AddRule("root");
  RuleId odd = g.AddRule("a b");
  RuleId clash = g.AddRule("a_b");
  RuleId empty = g.AddRule("ü");
  g.SetRuleBody(odd, g.AddBytes("x"));
  g.SetRuleBody(clash, g.AddBytes("y"));
  g.SetRuleBody(empty, g.AddBytes("z"));
  ExprId refs[] = {g.AddRuleRef(odd), g.AddRuleRef(clash), g.AddRuleRef(empty)};
  g.SetRuleBody(root, g.AddSequence(refs));
  g.set_root(root);
  std::string printed = PrintEbnf(g);
  EXPECT_EQ(printed,
            "root ::= a_b_1 a_b __\n"
            "a_b_1 ::= \"x\"\n"
            "a_b ::= \"y\"\n"
            "__ ::= \"z\"\n");
  EXPECT_TRUE(ParseEbnf(printed).ok());
}

TEST(GrammarPrinter, RoundTripsEveryTestGrammar) {
  for (const char* name : kDataGrammars) {
    std::string text = ReadFile(std::string(SIEVE_TEST_DATA_DIR) + "/grammars/" + name + ".ebnf");
    Grammar g = MustParse(text);
    ExpectRoundTrip(g, name);
  }
}

TEST(GrammarPrinter, RoundTripsEveryTestGrammarAfterSimplify) {
  for (const char* name : kDataGrammars) {
    std::string text = ReadFile(std::string(SIEVE_TEST_DATA_DIR) + "/grammars/" + name + ".ebnf");
    Result<Grammar> s = Simplify(MustParse(text));
    ASSERT_TRUE(s.ok()) << name << ": " << s.status().ToString();
    ExpectRoundTrip(*s, std::string(name) + " simplified");
  }
}

TEST(GrammarPrinter, RoundTripsAwkwardLiteralsAndClasses) {
  const char* texts[] = {
      R"(root ::= "\x00\x1F\x7F\u0080\uFFFF\U00010000\U0010FFFF")",
      R"(root ::= [\x00-\x1F\x7F] [^\x00] [\u0080-\U0010FFFF] [\uD7FF\uE000])",
      R"(root ::= ("" | "a")* ("a"{0}) (("a")?)? "x"{1000000})",
      R"(root ::= a (= [^,}] | "x" a)
a ::= "'" (= "")
)",
  };
  for (const char* text : texts) ExpectRoundTrip(MustParse(text), text);
}

TEST(GrammarPrinter, ChangesOutputWhenTheGrammarChanges) {
  // Guards against a printer that ignores parts of the IR: near-identical grammars print apart.
  const char* variants[] = {
      "root ::= \"a\"{2,3}", "root ::= \"a\"{2,4}", "root ::= \"a\"{2,}",   "root ::= [a-c]",
      "root ::= [^a-c]",     "root ::= [a-d]",      "root ::= \"a\" \"b\"", "root ::= \"ab\"",
  };
  for (size_t i = 0; i < std::size(variants); ++i) {
    for (size_t j = i + 1; j < std::size(variants); ++j) {
      EXPECT_NE(PrintEbnf(MustParse(variants[i])), PrintEbnf(MustParse(variants[j])))
          << variants[i] << " vs " << variants[j];
    }
  }
}

}  // namespace
}  // namespace sieve
