// EBNF `&` and `~` (grammar/ebnf_boolean.h) against RE2 as the oracle: each case is an EBNF body
// built from regular operands and, for each operand, the same language as an RE2 pattern. Every
// string over a small alphabet up to a length (and a few outside it) must get the verdict that
// the boolean combination of the operands' RE2 full matches gives. Then the syntax: precedence,
// `~` before a quantifier, nesting, rule references, and the errors (not regular, matches
// nothing, misplaced operators) with their positions.
#include <gtest/gtest.h>
#include <re2/re2.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "grammar/compiler.h"
#include "grammar/ebnf_parser.h"
#include "grammar/matcher.h"
#include "tests/grammar/lookaround_oracle.h"

namespace sieve {
namespace {

std::shared_ptr<const CompiledGrammar> Compile(const std::string& text) {
  auto c = CompileEbnfText(text, GrammarCompileOptions());
  EXPECT_TRUE(c.ok()) << text << ": " << c.status().ToString();
  return c.ok() ? c->pda : nullptr;
}

bool Accepts(const std::shared_ptr<const CompiledGrammar>& pda, const std::string& s) {
  GrammarMatcher m(pda);
  return m.AcceptString(s) && m.CanTerminate();
}

bool Full(const std::string& re, const std::string& s) { return RE2::FullMatch(s, RE2(re)); }

TEST(EbnfBoolean, LanguagesMatchTheOperandsBooleanCombination) {
  struct Case {
    std::string ebnf;  // the root rule's body (and more rules after a newline)
    std::function<bool(const std::string&)> oracle;
  };
  const std::vector<Case> cases = {
      {R"([b]* "b" "c" & [bc]*)", [](const std::string& s) {
         return Full("b*bc", s) && Full("[bc]*", s);
       }},
      {R"([a]* [b]* & ("ab" | "a" | "b"))", [](const std::string& s) {
         return Full("a*b*", s) && Full("ab|a|b", s);
       }},
      {R"([ab]* & [bc]* & ("b" | "bb"))", [](const std::string& s) {
         return Full("[ab]*", s) && Full("[bc]*", s) && Full("b|bb", s);
       }},
      {R"(~([ab]* & [bc]*))", [](const std::string& s) {
         return !(Full("[ab]*", s) && Full("[bc]*", s));
       }},
      {R"("x" ~"ab" "y")", [](const std::string& s) {
         // x, any string but "ab", y: at least one split must work.
         if (!Full("x.*y", s)) return false;
         return s != "xaby";
       }},
      {R"(~("," | ";"))", [](const std::string& s) { return s != "," && s != ";"; }},
      // '&' binds tighter than '|' and looser than a sequence.
      {R"("a" "b" & [ab]+ | "c")", [](const std::string& s) {
         return (Full("ab", s) && Full("[ab]+", s)) || s == "c";
       }},
      // '~' applies before the quantifier: (~"a")+ and (~"a"){2} are every string but "a"
      // (each split of "a" has a piece "a"), where ~("a"+) would also exclude "aa".
      {R"(~"a"+ & [ab]{0,3})", [](const std::string& s) {
         return Full("[ab]{0,3}", s) && s != "a";
       }},
      {R"(~"a"{2} & [ab]*)", [](const std::string& s) { return Full("[ab]*", s) && s != "a"; }},
      // Rule references read in place (word is not recursive); nesting inside groups.
      {"w & ~(\"ab\" | \"ba\")\nw ::= [ab] [ab] | \"c\"", [](const std::string& s) {
         return Full("[ab][ab]|c", s) && s != "ab" && s != "ba";
       }},
      {R"(([a-c]+ & ~([a-c]* "cc" [a-c]*)) "!")", [](const std::string& s) {
         return Full("[a-c]+!", s) && s.find("cc") == std::string::npos;
       }},
  };
  const std::vector<std::string> strings = testing::AllStrings("abc,;xy!\xC3\xA9", 4);
  for (const Case& c : cases) {
    SCOPED_TRACE(c.ebnf);
    auto pda = Compile("root ::= " + c.ebnf + "\n");
    ASSERT_NE(pda, nullptr);
    int mismatches = 0;
    for (const std::string& s : strings) {
      const bool want = c.oracle(s);
      if (Accepts(pda, s) != want && ++mismatches <= 5) {
        ADD_FAILURE() << "'" << s << "': expected " << (want ? "accepted" : "rejected");
      }
    }
    EXPECT_EQ(mismatches, 0);
  }
}

TEST(EbnfBoolean, ComplementCoversEveryUnicodeString) {
  auto pda = Compile("root ::= ~\"bad\"\n");
  ASSERT_NE(pda, nullptr);
  for (const char* s : {"", "b", "ba", "badd", "你好", "\xF0\x9F\x98\x80", "BAD"}) {
    EXPECT_TRUE(Accepts(pda, s)) << s;
  }
  EXPECT_FALSE(Accepts(pda, "bad"));
}

TEST(EbnfBoolean, OperandsMustBeRegularAndTheResultNonEmpty) {
  struct Bad {
    const char* text;
    StatusCode code;
    int line, column;
    const char* says;
  };
  const Bad bad[] = {
      {"root ::= a & \"x\"\na ::= \"x\" a | \"\"\n", StatusCode::kUnsupported, 1, 12,
       "rule 'a' refers to itself"},
      {"root ::= \"a\" & \"b\"\n", StatusCode::kInvalidArgument, 1, 14, "matches no string"},
      {"root ::= \"a\" & | \"b\"\n", StatusCode::kParse, 1, 16, "expected an expression after '&'"},
      {"root ::= & \"b\"\n", StatusCode::kParse, 1, 10, "expected an expression before '&'"},
      {"root ::= ~ | \"b\"\n", StatusCode::kParse, 1, 10, "'~' needs an expression after it"},
      {"root ::= ~* \"b\"\n", StatusCode::kParse, 1, 11, "expected an expression before '*'"},
      {"root ::= \"a\" ~(= \"b\")\n", StatusCode::kParse, 1, 15, "'~' cannot apply to a lookahead"},
  };
  for (const Bad& b : bad) {
    SCOPED_TRACE(b.text);
    auto g = ParseEbnf(b.text);
    ASSERT_FALSE(g.ok());
    EXPECT_EQ(g.status().code(), b.code) << g.status().ToString();
    EXPECT_EQ(g.status().line(), b.line) << g.status().ToString();
    EXPECT_EQ(g.status().column(), b.column) << g.status().ToString();
    EXPECT_NE(g.status().message().find(b.says), std::string::npos) << g.status().ToString();
  }
  // A chain of rules each complementing the next is resolved innermost first, without recursion
  // (3001 complements of "a"), while a chain of plain rules read in place inside one operand
  // meets the automaton construction's depth bound: a limit error, not a stack overflow.
  std::string chain = "root ::= ~r0\n";
  std::string plain = "root ::= p0 & [a]*\n";
  for (int i = 0; i < 3000; ++i) {
    const std::string n = std::to_string(i), m = std::to_string(i + 1);
    chain.append("r").append(n).append(" ::= ~r").append(m).append("\n");
    plain.append("p").append(n).append(" ::= p").append(m).append("\n");
  }
  chain += "r3000 ::= \"a\"\n";
  plain += "p3000 ::= \"a\"\n";
  auto odd = ParseEbnf(chain);
  ASSERT_TRUE(odd.ok()) << odd.status().ToString();
  auto pda = Compile(chain);
  ASSERT_NE(pda, nullptr);
  EXPECT_FALSE(Accepts(pda, "a"));
  EXPECT_TRUE(Accepts(pda, "b"));
  auto deep = ParseEbnf(plain);
  ASSERT_FALSE(deep.ok());
  EXPECT_EQ(deep.status().code(), StatusCode::kLimit) << deep.status().ToString();
  // The same depth of '~' in one body resolves innermost first: 3001 complements of "a".
  std::string tilde_text = "root ::= ";
  tilde_text.append(3001, '~');
  tilde_text += "\"a\" \"b\"\n";
  auto tildes = ParseEbnf(tilde_text);
  ASSERT_TRUE(tildes.ok()) << tildes.status().ToString();
  // Ops that reach each other through rules are not regular.
  auto cycle = ParseEbnf("root ::= a\na ::= ~(\"x\" b)\nb ::= ~a\n");
  ASSERT_FALSE(cycle.ok());
  EXPECT_EQ(cycle.status().code(), StatusCode::kUnsupported) << cycle.status().ToString();
  EXPECT_NE(cycle.status().message().find("reaches itself"), std::string::npos)
      << cycle.status().ToString();
  // A budget on the automata: a limit error, not a hang.
  EbnfOptions small;
  small.max_boolean_states = 8;
  auto g = ParseEbnf("root ::= [a-z]{12} & ~([a-z]* \"q\" [a-z]*)\n", small);
  ASSERT_FALSE(g.ok());
  EXPECT_EQ(g.status().code(), StatusCode::kLimit) << g.status().ToString();
}

TEST(EbnfBoolean, RulesReadOnlyInsideOperandsAreNotReportedUnused) {
  std::vector<std::string> warnings;
  EbnfOptions o;
  o.warnings = &warnings;
  auto g = ParseEbnf("root ::= w & [a-z]+\nw ::= \"ab\" | \"cd\"\nspare ::= \"z\"\n", o);
  ASSERT_TRUE(g.ok()) << g.status().ToString();
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find("'spare'"), std::string::npos) << warnings[0];
}

}  // namespace
}  // namespace sieve
