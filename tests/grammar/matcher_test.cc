// GrammarMatcher behaviour: accepting and rejecting, counters, rollback, fork, reset, tokens,
// jump-forward strings, limits.
#include "grammar/matcher.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "grammar/ebnf_parser.h"
#include "grammar/simplify.h"
#include "tests/grammar/test_grammars.h"

namespace sieve {
namespace {

namespace tg = testing_grammars;

std::shared_ptr<const CompiledGrammar> Compile(const std::string& text, bool simplify = true) {
  auto g = ParseEbnf(text);
  EXPECT_TRUE(g.ok()) << g.status().ToString();
  if (!g.ok()) return nullptr;
  Grammar grammar = *g;
  if (simplify) {
    auto s = Simplify(grammar);
    EXPECT_TRUE(s.ok()) << s.status().ToString();
    if (!s.ok()) return nullptr;
    grammar = *s;
  }
  CompileOptions opts;
  opts.absorb_tail_calls = simplify;  // without simplify: every rule as written
  auto c = CompileGrammar(grammar, opts);
  EXPECT_TRUE(c.ok()) << c.status().ToString();
  return c.ok() ? *c : nullptr;
}

// Whole-sentence match through a fresh matcher.
bool Matches(const std::shared_ptr<const CompiledGrammar>& c, std::string_view s) {
  GrammarMatcher m(c);
  return m.AcceptString(s) && m.CanTerminate();
}

bool IsPrefix(const std::shared_ptr<const CompiledGrammar>& c, std::string_view s) {
  GrammarMatcher m(c);
  return m.AcceptString(s);
}

TEST(Matcher, AcceptsJsonDocumentsAndRejectsMalformedOnes) {
  auto c = Compile(tg::kJson);
  ASSERT_NE(c, nullptr);
  for (const char* ok : {"{}", "[]", "0", "-1.5e+10", "\"a\\u00e9\\n\"", "true", "null",
                         R"({"a": [1, 2, {"b": null}], "c": "d"})", "[ [ [ ] ] ]",
                         "\"h\xc3\xa9llo \xe4\xb8\x96\xf0\x9f\x98\x80\""}) {
    EXPECT_TRUE(Matches(c, ok)) << ok;
  }
  for (const char* bad : {"", "{", "01", "[1,]", "{\"a\" 1}", "tru", "\"\x01\"", "[1 2]",
                          "\"\xc3\"", "\"\xed\xa0\x80\"", "{} ", "+1", "1.", "\"\\x\""}) {
    EXPECT_FALSE(Matches(c, bad)) << bad;
  }
  EXPECT_TRUE(IsPrefix(c, "{\"a\": [1, "));
  EXPECT_TRUE(IsPrefix(c, "\"\xc3"));  // half a code point is a valid prefix
  EXPECT_FALSE(IsPrefix(c, "{\"a\": ]"));
}

TEST(Matcher, AcceptsArithmeticAfterLeftRecursionIsRemoved) {
  auto c = Compile(tg::kArithmetic);
  ASSERT_NE(c, nullptr);
  EXPECT_TRUE(Matches(c, "1+2*3"));
  EXPECT_TRUE(Matches(c, "(1+2)*-3/4-5"));
  EXPECT_TRUE(Matches(c, "--7"));
  EXPECT_FALSE(Matches(c, "1+"));
  EXPECT_FALSE(Matches(c, "(1+2"));
  EXPECT_FALSE(Matches(c, "1**2"));
  EXPECT_TRUE(IsPrefix(c, "((1+"));
}

TEST(Matcher, AcceptsCsvWithQuotedFields) {
  auto c = Compile(tg::kCsv);
  ASSERT_NE(c, nullptr);
  EXPECT_TRUE(Matches(c, "a,b,c\n1,2,3\n"));
  EXPECT_TRUE(Matches(c, "\"x,\"\"y\"\"\",,z"));
  EXPECT_TRUE(Matches(c, ""));
  EXPECT_FALSE(Matches(c, "\"unterminated"));
  EXPECT_FALSE(Matches(c, "a\"b"));
}

TEST(Matcher, BoundOf8000AcceptsExactly8000CodePoints) {
  auto c = Compile(R"(root ::= "\"" [^"]{0,8000} "\"")");
  ASSERT_NE(c, nullptr);
  EXPECT_LE(c->num_states(), 16);
  const std::string body(8000, 'x');
  EXPECT_TRUE(Matches(c, "\"" + body + "\""));
  EXPECT_FALSE(Matches(c, "\"" + body + "x\""));
  // The 8001st character is rejected as soon as it is offered; the closing quote still works.
  GrammarMatcher m(c);
  ASSERT_TRUE(m.AcceptString("\"" + body));
  EXPECT_FALSE(m.AcceptByte('x'));
  EXPECT_TRUE(m.AcceptByte('"'));
  EXPECT_TRUE(m.CanTerminate());
  // Code points, not bytes, are counted: 8000 two-byte characters fit, 8001 do not.
  std::string wide;
  for (int i = 0; i < 8000; ++i) wide += "\xc3\xa9";
  EXPECT_TRUE(Matches(c, "\"" + wide + "\""));
  EXPECT_FALSE(Matches(c, "\"" + wide + "\xc3\xa9\""));
  // The stack set does not grow with the position (one stack in the loop, one at the closing
  // quote), so neither does the cost per byte.
  GrammarMatcher early(c), late(c);
  ASSERT_TRUE(early.AcceptByte('"') && early.AcceptString(std::string(10, 'x')));
  ASSERT_TRUE(late.AcceptByte('"') && late.AcceptString(std::string(7990, 'x')));
  EXPECT_EQ(early.stacks().stacks.size(), 2u);
  EXPECT_EQ(late.stacks().stacks.size(), 2u);
}

TEST(Matcher, MinimumOfACountedLoopIsEnforced) {
  auto c = Compile(R"(root ::= "a"{1000,} "!")");
  ASSERT_NE(c, nullptr);
  EXPECT_FALSE(Matches(c, std::string(999, 'a') + "!"));
  EXPECT_TRUE(Matches(c, std::string(1000, 'a') + "!"));
  EXPECT_TRUE(Matches(c, std::string(5000, 'a') + "!"));
  auto range = Compile(R"(root ::= [a-z]{40,50})");
  ASSERT_NE(range, nullptr);
  EXPECT_FALSE(Matches(range, std::string(39, 'q')));
  EXPECT_TRUE(Matches(range, std::string(40, 'q')));
  EXPECT_TRUE(Matches(range, std::string(50, 'q')));
  EXPECT_FALSE(IsPrefix(range, std::string(51, 'q')));
}

TEST(Matcher, CallLoopsCountIterationsOfAWholeRule) {
  auto c = Compile(R"GR(root ::= "[" (item ","){2,40} "]"
item ::= "x" | "(" item ")")GR",
                   /*simplify=*/false);
  ASSERT_NE(c, nullptr);
  auto list = [](int n) {
    std::string s = "[";
    for (int i = 0; i < n; ++i) s += i % 2 ? "((x))," : "x,";
    return s + "]";
  };
  EXPECT_FALSE(Matches(c, list(1)));
  EXPECT_TRUE(Matches(c, list(2)));
  EXPECT_TRUE(Matches(c, list(40)));
  EXPECT_FALSE(Matches(c, list(41)));
}

TEST(Matcher, NullableCallLoopBodyNeverCountsEmptyIterations) {
  auto c = Compile(R"(root ::= (a b){3,100} "!"
a ::= "a"?
b ::= "b"?)",
                   /*simplify=*/false);
  ASSERT_NE(c, nullptr);
  EXPECT_TRUE(Matches(c, "!"));  // three empty iterations
  EXPECT_TRUE(Matches(c, "ab!"));
  EXPECT_TRUE(Matches(c, std::string(100, 'a') + "!"));
  EXPECT_FALSE(Matches(c, std::string(101, 'a') + "!"));
  std::string abs;
  for (int i = 0; i < 100; ++i) abs += "ab";
  EXPECT_TRUE(Matches(c, abs + "!"));
  EXPECT_FALSE(Matches(c, abs + "a!"));
  // "abab" is 2 to 4 iterations (the grammar is ambiguous), so a few stacks are expected; but the
  // closure must not enumerate counters through empty iterations (that would be ~100 stacks).
  GrammarMatcher m(c);
  ASSERT_TRUE(m.AcceptString("abab"));
  EXPECT_LE(m.stacks().stacks.size(), 10u);
  for (const Stack& s : m.stacks().stacks) EXPECT_LE(s.counter, 4);
}

TEST(Matcher, UnicodeClassesCountCodePoints) {
  auto c = Compile(tg::kUnicode);
  ASSERT_NE(c, nullptr);
  std::string cjk40;
  for (int i = 0; i < 40; ++i) cjk40 += "中";
  EXPECT_TRUE(Matches(c, "αβγ!"));
  EXPECT_TRUE(Matches(c, "жω·" + cjk40 + "¡"));
  EXPECT_FALSE(Matches(c, "жω·" + cjk40 + "中¡"));
  EXPECT_FALSE(Matches(c, "abc!"));
  EXPECT_FALSE(Matches(c, "!"));
}

TEST(Matcher, AmbiguityKeepsOneStackPerParse) {
  auto c = Compile(R"(root ::= a | b
a ::= "x" [0-9]+ "y"
b ::= "x" [0-9]+ "z")",
                   /*simplify=*/false);
  ASSERT_NE(c, nullptr);
  GrammarMatcher m(c);
  ASSERT_TRUE(m.AcceptString("x12"));
  EXPECT_EQ(m.stacks().stacks.size(), 2u);
  ASSERT_TRUE(m.AcceptString("3z"));
  EXPECT_TRUE(m.CanTerminate());
  EXPECT_TRUE(m.stacks().stacks.empty());
}

TEST(Matcher, NullableRecursionTerminates) {
  auto c = Compile(R"GR(root ::= t* "!"
t ::= n n
n ::= "z"? m
m ::= "" | "(" t ")")GR",
                   /*simplify=*/false);
  ASSERT_NE(c, nullptr);
  EXPECT_TRUE(Matches(c, "!"));
  EXPECT_TRUE(Matches(c, "zz(z)!"));
  EXPECT_TRUE(Matches(c, "(((())))!"));
  EXPECT_FALSE(Matches(c, "(!"));
}

TEST(Matcher, RejectedInputLeavesTheMatcherUnchanged) {
  auto c = Compile(tg::kJson);
  ASSERT_NE(c, nullptr);
  GrammarMatcher m(c);
  ASSERT_TRUE(m.AcceptString("{\"key\": [1, "));
  const StackSet before = m.stacks();
  const bool could_end = m.CanTerminate();
  const int steps = m.NumRollbackSteps();
  EXPECT_FALSE(m.AcceptString("2, }"));  // fails on its last byte
  EXPECT_FALSE(m.AcceptByte('}'));
  EXPECT_FALSE(m.AcceptString("\"ab\x01"));
  EXPECT_EQ(m.stacks(), before);
  EXPECT_EQ(m.CanTerminate(), could_end);
  EXPECT_EQ(m.NumRollbackSteps(), steps);
  EXPECT_TRUE(m.AcceptString("2]}"));
  EXPECT_TRUE(m.CanTerminate());
}

TEST(Matcher, RollbackRestoresEveryEarlierState) {
  auto c = Compile(tg::kJson);
  ASSERT_NE(c, nullptr);
  GrammarMatcher m(c);
  const std::vector<std::string> pieces = {"{\"", "a\"", ": [", "1", ", ", "{\"b", "\": 2}", "]}"};
  std::vector<StackSet> seen{m.stacks()};
  for (const std::string& p : pieces) {
    ASSERT_TRUE(m.AcceptString(p)) << p;
    seen.push_back(m.stacks());
  }
  EXPECT_TRUE(m.CanTerminate());
  EXPECT_FALSE(m.Rollback(static_cast<int>(pieces.size()) + 1));
  EXPECT_FALSE(m.Rollback(-1));
  for (int i = static_cast<int>(pieces.size()) - 1; i >= 0; i -= 2) {
    ASSERT_TRUE(m.Rollback(i == static_cast<int>(pieces.size()) - 1 ? 1 : 2));
    EXPECT_EQ(m.stacks(), seen[i]) << "after rolling back to step " << i;
  }
  // A rolled-back matcher continues like a fresh one fed the same bytes.
  GrammarMatcher fresh(c);
  ASSERT_TRUE(fresh.AcceptString("{\""));
  GrammarMatcher back(c);
  ASSERT_TRUE(back.AcceptString("{\"zzz"));
  ASSERT_TRUE(back.Rollback(1));
  ASSERT_TRUE(back.AcceptString("{\""));
  EXPECT_EQ(back.stacks(), fresh.stacks());
}

TEST(Matcher, RollbackHistoryIsBounded) {
  auto c = Compile(tg::kJson);
  ASSERT_NE(c, nullptr);
  MatcherOptions opts;
  opts.max_rollback_tokens = 3;
  GrammarMatcher m(c, nullptr, opts);
  for (char ch : std::string("[1,2,3,4")) ASSERT_TRUE(m.AcceptByte(static_cast<uint8_t>(ch)));
  EXPECT_EQ(m.NumRollbackSteps(), 3);
  EXPECT_FALSE(m.Rollback(4));
  EXPECT_TRUE(m.Rollback(3));
  EXPECT_EQ(m.NumRollbackSteps(), 0);
}

TEST(Matcher, ForkIsIndependentAndEquivalent) {
  auto c = Compile(tg::kJson);
  ASSERT_NE(c, nullptr);
  GrammarMatcher m(c);
  ASSERT_TRUE(m.AcceptString("[{\"a\": "));
  GrammarMatcher f = m.Fork();
  EXPECT_EQ(f.stacks(), m.stacks());
  ASSERT_TRUE(f.AcceptString("1}]"));
  EXPECT_TRUE(f.CanTerminate());
  EXPECT_FALSE(m.CanTerminate());
  ASSERT_TRUE(m.AcceptString("\"s\"}, 2]"));
  EXPECT_TRUE(m.CanTerminate());
  // The fork's history is its own copy.
  ASSERT_TRUE(f.Rollback(1));
  GrammarMatcher g(c);
  ASSERT_TRUE(g.AcceptString("[{\"a\""));
  ASSERT_TRUE(g.AcceptString(": "));
  EXPECT_EQ(f.stacks(), g.stacks());
  // Destroying the original leaves the fork usable (shared nodes are reference counted).
  { GrammarMatcher dropped = std::move(m); }
  EXPECT_TRUE(f.AcceptString("{}}]"));
  EXPECT_TRUE(f.CanTerminate());
}

TEST(Matcher, ResetReturnsToTheStart) {
  auto c = Compile(tg::kJson);
  ASSERT_NE(c, nullptr);
  GrammarMatcher m(c);
  const StackSet start = m.stacks();
  ASSERT_TRUE(m.AcceptString("[[[1"));
  m.Reset();
  EXPECT_EQ(m.stacks(), start);
  EXPECT_EQ(m.NumRollbackSteps(), 0);
  EXPECT_TRUE(m.AcceptString("{}"));
  EXPECT_TRUE(m.CanTerminate());
}

TEST(Matcher, JumpForwardFollowsTheOnlyPossibleBytes) {
  auto c = Compile(R"(root ::= "{\"name\": \"" [a-z]+ "\", \"age\": " [0-9]+ "}")");
  ASSERT_NE(c, nullptr);
  GrammarMatcher m(c);
  EXPECT_EQ(m.FindJumpForwardString(), "{\"name\": \"");
  EXPECT_EQ(m.DebugString(), GrammarMatcher(c).DebugString()) << "probing changes nothing";
  ASSERT_TRUE(m.AcceptString("{\"name\": \"bob"));
  EXPECT_EQ(m.FindJumpForwardString(), "");
  ASSERT_TRUE(m.AcceptString("\""));
  EXPECT_EQ(m.FindJumpForwardString(), ", \"age\": ");
  ASSERT_TRUE(m.AcceptString(", \"age\": 7"));
  EXPECT_EQ(m.FindJumpForwardString(), "");
  // Through rule calls and returns, and stopping where the grammar may end.
  auto calls = Compile(R"(root ::= a b
a ::= "ab"
b ::= "cd" "e"?)",
                       /*simplify=*/false);
  ASSERT_NE(calls, nullptr);
  EXPECT_EQ(GrammarMatcher(calls).FindJumpForwardString(), "abcd");
  // Through a counted loop: 40 forced iterations, then the rest.
  auto counted = Compile(R"(root ::= "x"{40} "y" [a-z])");
  ASSERT_NE(counted, nullptr);
  ASSERT_EQ(counted->stats().counted_rules, 1);
  GrammarMatcher cm(counted);
  EXPECT_EQ(cm.FindJumpForwardString(), std::string(40, 'x') + "y");
  ASSERT_TRUE(cm.AcceptString("xxx"));
  EXPECT_EQ(cm.FindJumpForwardString(), std::string(37, 'x') + "y");
}

TEST(Matcher, DeepNestingIsRefusedAtTheDepthLimitWithoutCrashing) {
  auto c = Compile(R"(root ::= "[" root? "]")", /*simplify=*/false);
  ASSERT_NE(c, nullptr);
  MatcherOptions opts;
  opts.max_stack_depth = 100;
  GrammarMatcher m(c, nullptr, opts);
  int accepted = 0;
  while (accepted < 1000 && m.AcceptByte('[')) ++accepted;
  EXPECT_EQ(accepted, 100);  // 100 open brackets need 100 frames
  EXPECT_TRUE(m.limit_hit());
  // The default limit allows deep documents.
  GrammarMatcher deep(c);
  const std::string s = std::string(20000, '[') + std::string(20000, ']');
  EXPECT_TRUE(deep.AcceptString(s));
  EXPECT_TRUE(deep.CanTerminate());
}

// ---- tokens ----

std::shared_ptr<const Vocabulary> ToyVocab() {
  std::vector<std::string> tokens = {"{",    "}",   "\"",  "\"a",  "a",  "ab",    ":",    ",",
                                     " ",    "1",   "12",  "true", "tr", "null",  "é",    "\xc3",
                                     "\xa9", "\"}", "\":", "[",    "]",  "<eos>", "<sp>", ""};
  std::vector<uint8_t> flags(tokens.size(), kTokenNormal);
  flags[21] = kTokenSpecial | kTokenStop;
  flags[22] = kTokenSpecial;
  auto v = Vocabulary::FromTokens(tokens, flags, tokens.size() + 9, VocabKind::kRaw);
  EXPECT_TRUE(v.ok()) << v.status().ToString();
  return std::make_shared<const Vocabulary>(std::move(v).value());
}

TEST(Matcher, TokensFollowTheirBytesAndTheirFlags) {
  auto c = Compile(tg::kJson);
  ASSERT_NE(c, nullptr);
  auto vocab = ToyVocab();
  GrammarMatcher m(c, vocab);
  EXPECT_FALSE(m.AcceptToken(21)) << "stop token before the grammar can end";
  EXPECT_FALSE(m.AcceptToken(22)) << "special tokens are never matched by their text";
  EXPECT_FALSE(m.AcceptToken(30)) << "padding";
  EXPECT_FALSE(m.AcceptToken(-1));
  EXPECT_FALSE(m.AcceptToken(1000));
  EXPECT_FALSE(m.AcceptToken(1));  // "}"
  ASSERT_TRUE(m.AcceptToken(0));   // "{"
  ASSERT_TRUE(m.AcceptToken(3));   // "\"a"
  ASSERT_TRUE(m.AcceptToken(18));  // "\":"
  EXPECT_FALSE(m.AcceptToken(16)) << "continuation byte outside a string";
  ASSERT_TRUE(m.AcceptToken(2));   // "\""
  ASSERT_TRUE(m.AcceptToken(15));  // "\xc3": half of é, a valid prefix
  ASSERT_TRUE(m.AcceptToken(16));  // "\xa9": completes it
  EXPECT_FALSE(m.AcceptToken(16)) << "a stray continuation byte";
  EXPECT_TRUE(m.Rollback(3));
  ASSERT_TRUE(m.AcceptToken(10));  // "12"
  ASSERT_TRUE(m.AcceptToken(1));   // "}"
  EXPECT_TRUE(m.CanTerminate());
  EXPECT_FALSE(m.AcceptToken(22));
  ASSERT_TRUE(m.AcceptToken(21));
  EXPECT_TRUE(m.IsTerminated());
  EXPECT_FALSE(m.AcceptToken(8)) << "nothing after termination";
  EXPECT_FALSE(m.AcceptString(""));
  ASSERT_TRUE(m.Rollback(1));
  EXPECT_FALSE(m.IsTerminated());
  EXPECT_TRUE(m.CanTerminate());
}

TEST(Matcher, WouldAcceptTokenPredictsAcceptTokenWithoutSideEffects) {
  auto c = Compile(tg::kJson);
  ASSERT_NE(c, nullptr);
  auto vocab = ToyVocab();
  for (const char* prefix : {"", "{", "{\"a", "{\"a\": ", "{\"a\": 12", "[true", "[\"\xc3"}) {
    GrammarMatcher m(c, vocab);
    ASSERT_TRUE(m.AcceptString(prefix));
    const StackSet before = m.stacks();
    for (int32_t id = -1; id <= static_cast<int32_t>(vocab->size()); ++id) {
      const bool predicted = m.WouldAcceptToken(id);
      EXPECT_EQ(m.stacks(), before);
      GrammarMatcher f = m.Fork();
      EXPECT_EQ(predicted, f.AcceptToken(id)) << "token " << id << " after " << prefix;
    }
  }
}

TEST(Matcher, StopTokenOverrideReplacesTheVocabularyStops) {
  auto c = Compile(R"(root ::= "a")");
  ASSERT_NE(c, nullptr);
  MatcherOptions opts;
  opts.stop_token_ids = std::vector<int32_t>{8};  // " " becomes the stop token
  GrammarMatcher m(c, ToyVocab(), opts);
  ASSERT_TRUE(m.AcceptToken(4));
  EXPECT_FALSE(m.AcceptToken(21)) << "<eos> is only special now";
  EXPECT_TRUE(m.IsStopToken(8));
  EXPECT_TRUE(m.AcceptToken(8));
  EXPECT_TRUE(m.IsTerminated());
}

TEST(Matcher, WithoutAVocabularyTokensAreRejectedButBytesWork) {
  auto c = Compile(R"(root ::= "ab")");
  ASSERT_NE(c, nullptr);
  GrammarMatcher m(c);
  EXPECT_FALSE(m.AcceptToken(0));
  std::vector<uint32_t> mask(2, 0xffffffffu);
  m.FillNextTokenBitmaskNaive(mask.data(), mask.size());
  EXPECT_EQ(mask, std::vector<uint32_t>(2, 0));
  EXPECT_TRUE(m.AcceptByte('a'));
  EXPECT_TRUE(m.NextBytes().test('b'));
  EXPECT_EQ(m.NextBytes().count(), 1u);
}

}  // namespace
}  // namespace sieve
