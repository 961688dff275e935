// Lookahead assertions: compiled when the grammar implies them, refused with a continuation
// otherwise (grammar/lookahead_check.h).
#include "grammar/lookahead_check.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "grammar/ebnf_parser.h"
#include "grammar/matcher.h"
#include "grammar/pda.h"
#include "grammar/simplify.h"

namespace sieve {
namespace {

// A JSON grammar in XGrammar's style: every value-like rule asserts the separator after it, and
// a document ends right after one (so the end of the text must count as satisfying them).
constexpr char kJsonWithAssertions[] = R"(
root    ::= ws value ws
value   ::= object | array | string | number | ("true" | "false" | "null") (= [ \t\n\r,\]}])
object  ::= "{" ws ( member ( "," ws member )* )? "}" (= [ \t\n\r,\]}])
member  ::= string ws ":" ws value ws
array   ::= "[" ws ( value ws ( "," ws value ws )* )? "]" (= [ \t\n\r,\]}])
string  ::= "\"" ( [^"\\\x00-\x1f] | esc )* "\"" (= ws [,:\]}])
esc     ::= "\\" ( ["\\/bfnrt] | "u" [0-9a-fA-F]{4} )
number  ::= "-"? ( "0" | [1-9] [0-9]* ) ( "." [0-9]+ )? (= [ \t\n\r,\]}])
ws      ::= [ \t\n\r]*
)";

Result<std::shared_ptr<const CompiledGrammar>> Compile(const std::string& text,
                                                       bool ignore = false) {
  auto g = ParseEbnf(text);
  if (!g.ok()) return g.status();
  auto s = Simplify(*g);
  if (!s.ok()) return s.status();
  CompileOptions opts;
  opts.ignore_lookahead = ignore;
  return CompileGrammar(*s, opts);
}

bool Accepts(const std::shared_ptr<const CompiledGrammar>& c, const std::string& text) {
  GrammarMatcher m(c);
  return m.AcceptString(text) && m.CanTerminate();
}

TEST(LookaheadCheck, ImpliedAssertionsCompileToTheAutomatonWithoutThem) {
  auto checked = Compile(kJsonWithAssertions);
  ASSERT_TRUE(checked.ok()) << checked.status().ToString();
  auto ignored = Compile(kJsonWithAssertions, /*ignore=*/true);
  ASSERT_TRUE(ignored.ok());
  EXPECT_EQ((*checked)->DebugString(), (*ignored)->DebugString());
  for (const char* doc : {"{}", " [1, \"a\", {\"k\": [true, null]}] ", "-0.5", "\"x\"", "false"}) {
    EXPECT_TRUE(Accepts(*checked, doc)) << doc;
  }
  for (const char* doc : {"{", "[1 2]", "01", "{\"k\" 1}", "nul"}) {
    EXPECT_FALSE(Accepts(*checked, doc)) << doc;
  }
}

TEST(LookaheadCheck, TheEndOfTheTextSatisfiesAnAssertion) {
  EXPECT_TRUE(Compile(R"(root ::= "a" (= "b"))").ok());
  EXPECT_TRUE(Compile(R"(root ::= x
x ::= "a" (= "b" "c" [0-9]))")
                  .ok());
}

TEST(LookaheadCheck, AnAssertionTheTextCanBreakIsRefusedWithThatText) {
  const std::string text = R"(root ::= str ";" "z"
str ::= "\"" [a-z]* "\"" (= ","))";
  auto c = Compile(text);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), StatusCode::kUnsupported);
  const std::string msg = c.status().message();
  EXPECT_NE(msg.find("rule 'str'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("go on with \";\""), std::string::npos) << msg;
  EXPECT_NE(msg.find("--ignore-lookahead"), std::string::npos) << msg;
  EXPECT_GE(c.status().offset(), 0);
  EXPECT_TRUE(Compile(text, /*ignore=*/true).ok());
}

TEST(LookaheadCheck, AMultiCharacterAssertionIsFollowedAcrossRules) {
  // After `num`: spaces, then a comma (from `sep`), or the end.
  const std::string implied = R"(root ::= num sep num
sep ::= " "* "," " "*
num ::= [0-9]+ (= " "* ","))";
  EXPECT_TRUE(Compile(implied).ok()) << Compile(implied).status().ToString();
  // A semicolon is also a separator: "1 ;2" breaks the assertion after its spaces.
  const std::string broken = R"(root ::= num sep num
sep ::= " "* [,;] " "*
num ::= [0-9]+ (= " "* ","))";
  auto c = Compile(broken);
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("go on with \";\""), std::string::npos)
      << c.status().message();
}

TEST(LookaheadCheck, AnAssertionEndingInsideTheNextRuleIsCheckedThere) {
  // The continuation after `key` is `":"` then a value: the assertion reads into both rules.
  EXPECT_TRUE(Compile(R"(root ::= key colon "1"
colon ::= ":"
key ::= [a-z]+ (= ":1"))")
                  .ok());
  auto c = Compile(R"(root ::= key colon [12]
colon ::= ":"
key ::= [a-z]+ (= ":1"))");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("go on with \":2\""), std::string::npos)
      << c.status().message();
}

TEST(LookaheadCheck, AnAssertionThatIsNotARegularLanguageIsNotAttempted) {
  auto c = Compile(R"g(root ::= x ")"
x ::= "a" (= p)
p ::= "(" p ")" | ")")g");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), StatusCode::kUnsupported);
  EXPECT_NE(c.status().message().find("reaches itself"), std::string::npos) << c.status().message();
}

TEST(LookaheadCheck, AnAssertionThatInlinesToAHugeExpressionIsNotAttempted) {
  // Each rule uses the next twice: 2^30 copies once inlined.
  std::string text = "root ::= x \"q\"\nx ::= \"a\" (= r0)\n";
  for (int i = 0; i < 30; ++i) {
    text += "r" + std::to_string(i) + " ::= r" + std::to_string(i + 1) + " r" +
            std::to_string(i + 1) + "\n";
  }
  text += "r30 ::= \"q\"\n";
  auto c = Compile(text);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), StatusCode::kUnsupported);
  EXPECT_NE(c.status().message().find("too large"), std::string::npos) << c.status().message();
}

TEST(LookaheadCheck, AnAssertionMatchingTheEmptyTextAlwaysHolds) {
  EXPECT_TRUE(Compile(R"(root ::= x "q"
x ::= "a" (= "b"*))")
                  .ok());
}

TEST(LookaheadCheck, AProofPastItsBudgetIsARefusalNotAGuess) {
  auto g = ParseEbnf(kJsonWithAssertions);
  ASSERT_TRUE(g.ok());
  auto s = Simplify(*g);
  ASSERT_TRUE(s.ok());
  CompileOptions opts;
  opts.ignore_lookahead = true;
  auto pda = CompileGrammar(*s, opts);
  ASSERT_TRUE(pda.ok());
  EXPECT_TRUE(CheckLookaheadsImplied(*s, **pda).ok());
  Status tight = CheckLookaheadsImplied(*s, **pda, nullptr, /*max_configurations=*/3);
  EXPECT_EQ(tight.code(), StatusCode::kUnsupported);
  EXPECT_NE(tight.message().find("more than 3 configurations"), std::string::npos)
      << tight.message();
}

}  // namespace
}  // namespace sieve
