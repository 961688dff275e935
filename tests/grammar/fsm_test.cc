// Per-rule byte automata: Thompson construction, subset construction, minimisation, trimming and
// byte loops.
#include "grammar/fsm.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "grammar/ebnf_parser.h"
#include "grammar/fsm_builder.h"
#include "grammar/grammar.h"

namespace sieve {
namespace {

// Whole-string membership for a call-free DFA.
bool Matches(const Fsm& f, std::string_view s) {
  int32_t state = f.start();
  for (char c : s) {
    state = f.Step(state, static_cast<uint8_t>(c));
    if (state == kNoState) return false;
  }
  return f.accepting(state);
}

// The minimal DFA of the root rule's body of `ebnf`; repeats never use counters here.
struct Built {
  Fsm dfa;
  Fsm minimal;
};
Built BuildRoot(const std::string& ebnf, NfaBuildOptions opts = NfaBuildOptions()) {
  auto g = ParseEbnf(ebnf);
  EXPECT_TRUE(g.ok()) << g.status().ToString();
  NfaBuilder builder(*g, opts, [](ExprId) -> Result<RuleId> {
    return InternalError("unexpected counted repetition");
  });
  auto nfa = builder.Build(g->rule(g->root()).body);
  EXPECT_TRUE(nfa.ok()) << nfa.status().ToString();
  auto dfa = Determinize(*nfa, 1 << 16);
  EXPECT_TRUE(dfa.ok()) << dfa.status().ToString();
  Built b{*dfa, Minimize(*dfa)};
  EXPECT_TRUE(b.dfa.Validate().ok()) << b.dfa.Validate().ToString();
  EXPECT_TRUE(b.minimal.Validate().ok()) << b.minimal.Validate().ToString();
  return b;
}

TEST(Fsm, DeterminizeSplitsOverlappingRangesIntoDisjointEdges) {
  Nfa nfa;
  const int32_t s = nfa.AddState(), a = nfa.AddState(), b = nfa.AddState(), acc = nfa.AddState();
  nfa.set_start(s);
  nfa.set_accept(acc);
  nfa.AddBytes(s, 'a', 'm', a);
  nfa.AddBytes(s, 'h', 'z', b);
  nfa.AddBytes(a, '1', '1', acc);
  nfa.AddBytes(b, '2', '2', acc);
  auto dfa = Determinize(nfa, 100);
  ASSERT_TRUE(dfa.ok());
  ASSERT_TRUE(dfa->Validate().ok()) << dfa->DebugString();
  // [a-g] -> {a}, [h-m] -> {a, b}, [n-z] -> {b}.
  ASSERT_EQ(dfa->byte_edges(dfa->start()).size(), 3u) << dfa->DebugString();
  EXPECT_TRUE(Matches(*dfa, "h1"));
  EXPECT_TRUE(Matches(*dfa, "h2"));
  EXPECT_TRUE(Matches(*dfa, "a1"));
  EXPECT_FALSE(Matches(*dfa, "a2"));
  EXPECT_TRUE(Matches(*dfa, "z2"));
  EXPECT_FALSE(Matches(*dfa, "z1"));
}

TEST(Fsm, DeterminizeMergesCallsToTheSameRuleIntoOneEdge) {
  Nfa nfa;
  const int32_t s = nfa.AddState(), x = nfa.AddState(), y = nfa.AddState(), acc = nfa.AddState();
  nfa.set_start(s);
  nfa.set_accept(acc);
  nfa.AddCall(s, 7, x);
  nfa.AddCall(s, 7, y);
  nfa.AddCall(s, 3, acc);
  nfa.AddBytes(x, 'a', 'a', acc);
  nfa.AddBytes(y, 'b', 'b', acc);
  auto dfa = Determinize(nfa, 100);
  ASSERT_TRUE(dfa.ok());
  ASSERT_TRUE(dfa->Validate().ok());
  auto calls = dfa->call_edges(dfa->start());
  ASSERT_EQ(calls.size(), 2u);
  EXPECT_EQ(calls[0].callee, 3);
  EXPECT_EQ(calls[1].callee, 7);
  // After call(7) both 'a' and 'b' are possible from one state.
  const int32_t after = calls[1].target;
  EXPECT_NE(dfa->Step(after, 'a'), kNoState);
  EXPECT_NE(dfa->Step(after, 'b'), kNoState);
}

TEST(Fsm, MinimizationMergesTheSharedTailOfTwoLiterals) {
  Built b = BuildRoot(R"(root ::= "ab" | "cb")");
  EXPECT_EQ(b.dfa.num_states(), 4) << b.dfa.DebugString();
  EXPECT_EQ(b.minimal.num_states(), 3) << b.minimal.DebugString();
  const Fsm& m = b.minimal;
  EXPECT_EQ(m.Step(m.start(), 'a'), m.Step(m.start(), 'c'));
  EXPECT_TRUE(Matches(m, "ab"));
  EXPECT_TRUE(Matches(m, "cb"));
  EXPECT_FALSE(Matches(m, "ac"));
  EXPECT_FALSE(Matches(m, "b"));
}

TEST(Fsm, MinimizationMergesRangesThatLeadToEquivalentStates) {
  // Two alternatives whose continuations are equal: one edge [a-b] after merging.
  Built b = BuildRoot(R"(root ::= "a" [0-9]+ | "b" [0-9]+)");
  const Fsm& m = b.minimal;
  ASSERT_EQ(m.byte_edges(m.start()).size(), 1u) << m.DebugString();
  EXPECT_EQ(m.byte_edges(m.start())[0].lo, 'a');
  EXPECT_EQ(m.byte_edges(m.start())[0].hi, 'b');
  EXPECT_EQ(m.num_states(), 3);
}

TEST(Fsm, MinimizationIsCanonicalForEqualLanguages) {
  Built x = BuildRoot(R"(root ::= ("a" | "b")* "c")");
  Built y = BuildRoot(R"(root ::= [ab]* "c" | [ab]* [ab] "c")");
  EXPECT_TRUE(x.minimal == y.minimal) << x.minimal.DebugString() << "\n" << y.minimal.DebugString();
  Built z = BuildRoot(R"(root ::= ("a" | "b")+ "c")");
  EXPECT_FALSE(x.minimal == z.minimal);
}

TEST(Fsm, MinimizationNeverMergesALoopHeadWithAnOrdinaryState) {
  Fsm f;
  const int32_t a = f.AddState(), b = f.AddState(), c = f.AddState();
  f.set_start(a);
  f.AddByteEdge(a, 'x', 'x', b);
  f.AddByteEdge(a, 'y', 'y', c);
  f.set_accepting(b, true);
  f.set_accepting(c, true);
  f.set_loop_head(c, true);
  f.Canonicalize();
  EXPECT_EQ(Minimize(f).num_states(), 3);
  f.set_loop_head(c, false);
  EXPECT_EQ(Minimize(f).num_states(), 2);
}

TEST(Fsm, UnrolledBoundedRepetitionAcceptsExactlyTheBounds) {
  Built b = BuildRoot(R"(root ::= [0-9]{2,4})");
  const Fsm& m = b.minimal;
  EXPECT_FALSE(Matches(m, "1"));
  EXPECT_TRUE(Matches(m, "12"));
  EXPECT_TRUE(Matches(m, "1234"));
  EXPECT_FALSE(Matches(m, "12345"));
  EXPECT_EQ(m.num_states(), 5);
}

TEST(Fsm, UnicodeClassesBecomeUtf8ByteSequences) {
  Built b = BuildRoot(R"(root ::= [é-ü]+ | [α-ω] "!")");
  const Fsm& m = b.minimal;
  EXPECT_TRUE(Matches(m, "é"));
  EXPECT_TRUE(Matches(m, "éüö"));
  EXPECT_FALSE(Matches(m, "e"));
  EXPECT_TRUE(Matches(m, "λ!"));
  EXPECT_FALSE(Matches(m, "λ"));
  EXPECT_FALSE(Matches(m, "\xc3"));  // truncated é
}

TEST(Fsm, TrimRemovesStatesThatCannotReachAcceptance) {
  Fsm f;
  const int32_t s = f.AddState(), dead = f.AddState(), ok = f.AddState(), call = f.AddState();
  f.set_start(s);
  f.AddByteEdge(s, 'a', 'a', dead);
  f.AddByteEdge(s, 'b', 'b', ok);
  f.AddCallEdge(s, 5, call);
  f.AddByteEdge(call, 'c', 'c', ok);
  f.set_accepting(ok, true);
  f.Canonicalize();
  Fsm t = Trim(f, [](RuleId r) { return r != 5; });
  ASSERT_TRUE(t.Validate().ok());
  EXPECT_EQ(t.num_states(), 2) << t.DebugString();
  EXPECT_FALSE(t.HasCalls());
  EXPECT_EQ(t.Step(t.start(), 'a'), kNoState);
  EXPECT_NE(t.Step(t.start(), 'b'), kNoState);
  // With the callee allowed, the call path survives.
  EXPECT_EQ(Trim(f, [](RuleId) { return true; }).num_states(), 3);
}

TEST(Fsm, TrimOfADeadStartIsEmpty) {
  Fsm f;
  f.set_start(f.AddState());
  f.AddByteEdge(0, 'a', 'a', 0);
  EXPECT_TRUE(Trim(f, [](RuleId) { return true; }).empty());
}

TEST(Fsm, ByteLoopOverAClassCountsOneIterationPerCodePoint) {
  Built b = BuildRoot(R"(root ::= [^"])");
  ASSERT_TRUE(b.minimal.IsPrefixFree());
  Fsm loop = MakeByteLoop(b.minimal);
  ASSERT_TRUE(loop.Validate().ok());
  EXPECT_TRUE(loop.loop_head(loop.start()));
  EXPECT_TRUE(loop.accepting(loop.start()));
  // Exactly one accepting state and one loop head; every path back to it completes a code point.
  int heads = 0, accepting = 0;
  for (int32_t s = 0; s < loop.num_states(); ++s) {
    heads += loop.loop_head(s);
    accepting += loop.accepting(s);
  }
  EXPECT_EQ(heads, 1);
  EXPECT_EQ(accepting, 1);
  EXPECT_EQ(loop.Step(loop.start(), 'x'), loop.start());
  EXPECT_EQ(loop.Step(loop.start(), '"'), kNoState);
  const int32_t mid = loop.Step(loop.start(), 0xc3);
  ASSERT_NE(mid, kNoState);
  EXPECT_FALSE(loop.accepting(mid));
  EXPECT_EQ(loop.Step(mid, 0xa9), loop.start());
  // The loop's size does not depend on anything but the class: a handful of states.
  EXPECT_LE(loop.num_states(), 10);
}

TEST(Fsm, PrefixFreeAndCallFreeAreDetected) {
  EXPECT_TRUE(BuildRoot(R"(root ::= "ab" | "cd")").minimal.IsPrefixFree());
  EXPECT_FALSE(BuildRoot(R"(root ::= "a" | "ab")").minimal.IsPrefixFree());
  EXPECT_FALSE(BuildRoot(R"(root ::= [a-z]+)").minimal.IsPrefixFree());
  EXPECT_TRUE(BuildRoot(R"(root ::= x "a"
x ::= "b")")
                  .dfa.HasCalls());
}

TEST(Fsm, DeterminizeReportsTheStateLimit) {
  // (a|b)* a (a|b){12}: the classic exponential blow-up of subset construction.
  auto g = ParseEbnf(R"(root ::= [ab]* "a" [ab]{12})");
  ASSERT_TRUE(g.ok());
  NfaBuilder builder(*g, NfaBuildOptions(), [](ExprId) -> Result<RuleId> {
    return InternalError("unexpected counted repetition");
  });
  auto nfa = builder.Build(g->rule(g->root()).body);
  ASSERT_TRUE(nfa.ok());
  auto small = Determinize(*nfa, 1000);
  ASSERT_FALSE(small.ok());
  EXPECT_EQ(small.status().code(), StatusCode::kLimit);
  EXPECT_NE(small.status().message().find("max_rule_states"), std::string::npos);
  auto big = Determinize(*nfa, 1 << 16);
  ASSERT_TRUE(big.ok());
  EXPECT_EQ(Minimize(*big).num_states(), 1 << 13);
}

TEST(Fsm, LargeRepetitionAsksForACountedRuleInsteadOfUnrolling) {
  auto g = ParseEbnf(R"(root ::= "<" [^"]{0,8000} ">")");
  ASSERT_TRUE(g.ok());
  int asked = 0;
  NfaBuilder builder(*g, NfaBuildOptions(), [&](ExprId e) -> Result<RuleId> {
    ++asked;
    EXPECT_EQ(g->expr(e).kind, ExprKind::kRepeat);
    EXPECT_EQ(g->expr(e).max, 8000);
    return RuleId{42};
  });
  auto nfa = builder.Build(g->rule(g->root()).body);
  ASSERT_TRUE(nfa.ok());
  EXPECT_EQ(asked, 1);
  EXPECT_LT(nfa->num_states(), 10);
  auto dfa = Determinize(*nfa, 100);
  ASSERT_TRUE(dfa.ok());
  ASSERT_TRUE(dfa->HasCalls());
}

TEST(Fsm, DeepNestingIsALimitErrorNotAStackOverflow) {
  Grammar g;
  ExprId e = g.AddBytes("x");
  for (int i = 0; i < 10000; ++i) {
    ExprId items[] = {e, g.AddBytes("y")};
    e = g.AddSequence(items);
  }
  const RuleId root = g.AddRule("root");
  g.SetRuleBody(root, e);
  g.set_root(root);
  NfaBuilder builder(g, NfaBuildOptions(), [](ExprId) -> Result<RuleId> { return RuleId{0}; });
  auto nfa = builder.Build(e);
  ASSERT_FALSE(nfa.ok());
  EXPECT_EQ(nfa.status().code(), StatusCode::kLimit);
}

}  // namespace
}  // namespace sieve
