// Per-rule byte automata: Thompson construction, subset construction, minimisation, trimming and
// byte loops.
#include "grammar/fsm.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "grammar/ebnf_parser.h"
#include "grammar/fsm_builder.h"
#include "grammar/grammar.h"
#include "grammar/support/utf8.h"

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

// Moore's round-by-round partition refinement, the textbook definition of the minimal automaton
// and the algorithm Minimize used before Hopcroft's: a state's signature is its class, its flags,
// the class reached on every byte and by every callee. Quadratic on chains, so only for small
// inputs; the output is numbered the way Minimize documents (breadth-first from the start, byte
// edges by first byte, then calls by callee), so the two must agree exactly.
Fsm ReferenceMinimize(const Fsm& dfa) {
  if (dfa.empty()) return Fsm();
  const int32_t n = dfa.num_states();
  std::vector<int32_t> order{dfa.start()};
  std::vector<char> reached(n, 0);
  reached[dfa.start()] = 1;
  for (size_t i = 0; i < order.size(); ++i) {
    auto visit = [&](int32_t t) {
      if (!reached[t]) {
        reached[t] = 1;
        order.push_back(t);
      }
    };
    for (const Fsm::ByteEdge& e : dfa.byte_edges(order[i])) visit(e.target);
    for (const Fsm::CallEdge& e : dfa.call_edges(order[i])) visit(e.target);
  }
  std::vector<int32_t> cls(n, -1);
  for (int32_t s : order) cls[s] = (dfa.accepting(s) ? 1 : 0) | (dfa.loop_head(s) ? 2 : 0);
  auto signature = [&](int32_t s) {
    std::vector<int64_t> sig{cls[s]};
    for (int b = 0; b < 256; ++b) {
      const int32_t t = dfa.Step(s, static_cast<uint8_t>(b));
      sig.push_back(t == kNoState ? -1 : cls[t]);
    }
    for (const Fsm::CallEdge& e : dfa.call_edges(s)) {
      sig.push_back(int64_t{1} << 40 | e.callee);
      sig.push_back(cls[e.target]);
    }
    return sig;
  };
  for (size_t classes = 0;;) {
    std::vector<std::pair<std::vector<int64_t>, int32_t>> sigs;
    for (int32_t s : order) sigs.push_back({signature(s), s});
    std::sort(sigs.begin(), sigs.end());
    int32_t count = 0;
    for (size_t i = 0; i < sigs.size(); ++i) {
      if (i > 0 && sigs[i].first != sigs[i - 1].first) ++count;
      cls[sigs[i].second] = count;
    }
    if (static_cast<size_t>(count + 1) == classes) break;
    classes = count + 1;
  }
  std::vector<int32_t> rep(n, -1), renum(n, -1), bfs{cls[dfa.start()]};
  for (int32_t s : order) {
    if (rep[cls[s]] < 0) rep[cls[s]] = s;
  }
  renum[bfs[0]] = 0;
  for (size_t i = 0; i < bfs.size(); ++i) {
    auto visit = [&](int32_t t) {
      if (renum[cls[t]] < 0) {
        renum[cls[t]] = static_cast<int32_t>(bfs.size());
        bfs.push_back(cls[t]);
      }
    };
    for (const Fsm::ByteEdge& e : dfa.byte_edges(rep[bfs[i]])) visit(e.target);
    for (const Fsm::CallEdge& e : dfa.call_edges(rep[bfs[i]])) visit(e.target);
  }
  Fsm out;
  for (size_t i = 0; i < bfs.size(); ++i) out.AddState();
  for (size_t i = 0; i < bfs.size(); ++i) {
    const int32_t s = rep[bfs[i]];
    const auto id = static_cast<int32_t>(i);
    out.set_accepting(id, dfa.accepting(s));
    out.set_loop_head(id, dfa.loop_head(s));
    for (const Fsm::ByteEdge& e : dfa.byte_edges(s)) {
      out.AddByteEdge(id, e.lo, e.hi, renum[cls[e.target]]);
    }
    for (const Fsm::CallEdge& e : dfa.call_edges(s)) {
      out.AddCallEdge(id, e.callee, renum[cls[e.target]]);
    }
  }
  out.set_start(0);
  out.Canonicalize();
  return out;
}

// A random DFA with many equivalent states: a random base automaton over bytes 'a'..'h' (with
// calls and flags) is copied `copies` times; every edge goes to a random copy of its target, and
// every byte range is cut at random points, so equivalent states have different edge lists. With
// `acyclic`, base edges only go to higher-numbered states, so the copies have no cycle either.
Fsm RandomRedundantDfa(std::mt19937* rng, bool acyclic) {
  auto pick = [&](int32_t k) { return static_cast<int32_t>((*rng)() % static_cast<uint32_t>(k)); };
  const int32_t n = 1 + pick(acyclic ? 12 : 8);
  const int32_t copies = 1 + pick(4);
  // A target for an edge of base state s, or -1 when an acyclic automaton has none left.
  auto target = [&](int32_t s) -> int32_t {
    if (!acyclic) return pick(n);
    return s + 1 < n ? s + 1 + pick(n - s - 1) : -1;
  };
  struct Edge {
    int lo, hi;
    int32_t target;
  };
  std::vector<std::vector<Edge>> bytes(n);
  std::vector<std::vector<std::pair<RuleId, int32_t>>> calls(n);
  std::vector<char> accepting(n), loop_head(n);
  for (int32_t s = 0; s < n; ++s) {
    accepting[s] = pick(3) == 0;
    loop_head[s] = pick(6) == 0;
    for (int lo = 0; lo < 8;) {
      const int hi = std::min(7, lo + pick(4));
      const int32_t t = target(s);
      if (pick(3) != 0 && t >= 0) bytes[s].push_back({lo, hi, t});
      lo = hi + 1;
    }
    const int32_t t1 = target(s), t2 = target(s);
    if (pick(3) == 0 && t1 >= 0) calls[s].push_back({pick(3), t1});
    if (pick(4) == 0 && t2 >= 0) calls[s].push_back({3 + pick(2), t2});
  }
  Fsm f;
  for (int32_t i = 0; i < n * copies; ++i) f.AddState();
  f.set_start(pick(copies) * n);
  for (int32_t c = 0; c < copies; ++c) {
    for (int32_t s = 0; s < n; ++s) {
      const int32_t id = c * n + s;
      f.set_accepting(id, accepting[s]);
      f.set_loop_head(id, loop_head[s]);
      for (const Edge& e : bytes[s]) {
        for (int b = e.lo; b <= e.hi;) {
          const int end = b + pick(e.hi - b + 1);
          f.AddByteEdge(id, static_cast<uint8_t>('a' + b), static_cast<uint8_t>('a' + end),
                        pick(copies) * n + e.target);
          b = end + 1;
        }
      }
      for (const auto& [callee, target] : calls[s]) {
        f.AddCallEdge(id, callee, pick(copies) * n + target);
      }
    }
  }
  f.Canonicalize();
  return f;
}

// A pseudo-random lowercase string (a fixed generator, so the automata below are fixed too).
std::string PseudoRandomWord(uint32_t seed, size_t length) {
  std::string s;
  uint32_t x = seed;
  for (size_t i = 0; i < length; ++i) {
    x = x * 1103515245u + 12345u;
    s.push_back(static_cast<char>('a' + (x >> 16) % 26));
  }
  return s;
}

// NFA -> DFA -> minimal DFA of `root ::= <body>`, with work counted.
struct Counted {
  Fsm dfa;
  Fsm minimal;
  FsmWork work;
};
Counted BuildCounted(const std::string& body) {
  Counted c;
  auto g = ParseEbnf("root ::= " + body);
  EXPECT_TRUE(g.ok()) << g.status().ToString();
  if (!g.ok()) return c;
  NfaBuilder builder(*g, NfaBuildOptions(), [](ExprId) -> Result<RuleId> {
    return InternalError("unexpected counted repetition");
  });
  auto nfa = builder.Build(g->rule(g->root()).body);
  EXPECT_TRUE(nfa.ok()) << nfa.status().ToString();
  if (!nfa.ok()) return c;
  auto dfa = Determinize(*nfa, 1 << 20, &c.work);
  EXPECT_TRUE(dfa.ok()) << dfa.status().ToString();
  if (!dfa.ok()) return c;
  c.dfa = std::move(*dfa);
  c.minimal = Minimize(c.dfa, &c.work);
  EXPECT_TRUE(c.minimal.Validate().ok()) << c.minimal.Validate().ToString();
  return c;
}

// n x ceil(log2 n): the growth Hopcroft's bound allows, as a budget for work-unit guards.
int64_t NLogN(int64_t n) {
  return n *
         static_cast<int64_t>(std::ceil(std::log2(static_cast<double>(std::max<int64_t>(n, 2)))));
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

TEST(Fsm, MinimizeAgreesExactlyWithMooreRefinementOnRandomRedundantAutomata) {
  // Cyclic automata go through Hopcroft's refinement, acyclic ones through the linear method;
  // both must give exactly Moore's result.
  std::mt19937 rng(20240611);
  int merged = 0;
  for (int iter = 0; iter < 6000; ++iter) {
    const Fsm f = RandomRedundantDfa(&rng, /*acyclic=*/iter % 2 == 1);
    const Fsm expect = ReferenceMinimize(f);
    const Fsm got = Minimize(f);
    ASSERT_TRUE(got.Validate().ok());
    ASSERT_TRUE(got == expect) << "input:\n"
                               << f.DebugString() << "Moore:\n"
                               << expect.DebugString() << "Minimize:\n"
                               << got.DebugString();
    // Minimising twice changes nothing: the output is already minimal and canonical.
    ASSERT_TRUE(Minimize(got) == got);
    merged += got.num_states() < f.num_states();
  }
  // The generator must actually produce mergeable states for the comparison to mean anything.
  EXPECT_GT(merged, 2000);
}

TEST(Fsm, ALongLiteralOfOneRepeatedByteIsAChainOfOneStatePerByte) {
  // Every state but the last reads 'a' and leads to a state that does the same: Moore's
  // refinement separates one more state per round, so this input took it n rounds of O(n log n).
  // (A literal is acyclic, so it now takes the linear path: no splitters at all.)
  constexpr int64_t kBytes = 16000;
  Counted c = BuildCounted("\"" + std::string(kBytes, 'a') + "\"");
  EXPECT_EQ(c.dfa.num_states(), kBytes + 1);
  ASSERT_EQ(c.minimal.num_states(), kBytes + 1);
  EXPECT_EQ(c.minimal.num_byte_edges(), static_cast<size_t>(kBytes));
  EXPECT_TRUE(Matches(c.minimal, std::string(kBytes, 'a')));
  EXPECT_FALSE(Matches(c.minimal, std::string(kBytes - 1, 'a')));
  EXPECT_FALSE(Matches(c.minimal, std::string(kBytes + 1, 'a')));
  // Complexity guard on work units, not time: near-linear allows a small multiple of n log n;
  // the old quadratic refinement would need on the order of n^2 = 256,000,000.
  EXPECT_LE(c.work.minimize, 4 * NLogN(kBytes)) << c.work.minimize;
  EXPECT_LE(c.work.splitters, 2 * kBytes + 4);
  EXPECT_LE(c.work.determinize, 8 * kBytes) << c.work.determinize;
}

TEST(Fsm, ACycleOfOneRepeatedByteMinimisesWithLogarithmicallyFewRevisits) {
  // ("a" x n)*: a cycle of n states, only the start accepting. Cyclic, so Hopcroft's refinement
  // does the work; Moore's needed n rounds here as well.
  constexpr int64_t kBytes = 16000;
  Counted c = BuildCounted("(\"" + std::string(kBytes, 'a') + "\")*");
  ASSERT_EQ(c.minimal.num_states(), kBytes);
  EXPECT_TRUE(Matches(c.minimal, ""));
  EXPECT_TRUE(Matches(c.minimal, std::string(2 * kBytes, 'a')));
  EXPECT_FALSE(Matches(c.minimal, std::string(kBytes + 1, 'a')));
  EXPECT_GT(c.work.splitters, 0);
  EXPECT_LE(c.work.minimize, 4 * NLogN(kBytes)) << c.work.minimize;
  EXPECT_LE(c.work.splitters, 2 * kBytes + 4);
  // A literal before a loop: a chain whose states differ only by their distance to the loop.
  Counted tail = BuildCounted("\"" + std::string(kBytes, 'a') + "\" \"b\"*");
  ASSERT_EQ(tail.minimal.num_states(), kBytes + 1);
  EXPECT_GT(tail.work.splitters, 0);
  EXPECT_LE(tail.work.minimize, 4 * NLogN(kBytes)) << tail.work.minimize;
  EXPECT_TRUE(Matches(tail.minimal, std::string(kBytes, 'a') + "bbb"));
  EXPECT_FALSE(Matches(tail.minimal, std::string(kBytes - 1, 'a') + "b"));
}

TEST(Fsm, MinimizationWorkGrowsNearLinearlyWithTheLiteralLength) {
  // The same guard as a ratio: 16x the bytes may cost at most ~16 x log2(16000)/log2(1000) ~ 23x
  // the work; a quadratic algorithm would cost 256x.
  // Both minimisation paths: the acyclic literal and the cyclic (literal)*.
  for (const char* shape : {"\"%s\"", "(\"%s\")*"}) {
    auto body = [&](int n) {
      std::string text = shape;
      return text.replace(text.find("%s"), 2, std::string(n, 'a'));
    };
    Counted small = BuildCounted(body(1000));
    Counted large = BuildCounted(body(16000));
    ASSERT_GT(small.work.minimize, 0) << shape;
    EXPECT_LE(large.work.minimize, 24 * small.work.minimize)
        << shape << ": " << small.work.minimize << " -> " << large.work.minimize;
    EXPECT_LE(large.work.determinize, 24 * small.work.determinize)
        << shape << ": " << small.work.determinize << " -> " << large.work.determinize;
  }
}

TEST(Fsm, APeriodicLiteralStillMinimisesToOneStatePerByte) {
  // "abab...": all 'a' states look alike for as many rounds as the period allows.
  std::string text;
  for (int i = 0; i < 4000; ++i) text += "ab";
  Counted c = BuildCounted("\"" + text + "\"");
  EXPECT_EQ(c.minimal.num_states(), 8001);
  EXPECT_LE(c.work.minimize, 4 * NLogN(8001));
  EXPECT_TRUE(Matches(c.minimal, text));
  EXPECT_FALSE(Matches(c.minimal, text + "a"));
}

TEST(Fsm, ThousandsOfEnumAlternativesMinimiseToTheSuffixSharedTrie) {
  // 10,000 alternatives of 20 bytes, as JSON Schema enums produce. Subset construction gives the
  // prefix trie; minimisation then merges equal suffixes (all 20-byte words end in one state).
  constexpr int kWords = 10000;
  std::string body;
  std::vector<std::string> words;
  for (int i = 0; i < kWords; ++i) {
    words.push_back(PseudoRandomWord(static_cast<uint32_t>(i) + 7, 20));
    body += (i ? " | \"" : "\"") + words.back() + "\"";
  }
  Counted c = BuildCounted(body);
  EXPECT_EQ(c.dfa.num_states(), 169208);
  EXPECT_EQ(c.minimal.num_states(), 148180);
  for (int i = 0; i < kWords; i += 997) EXPECT_TRUE(Matches(c.minimal, words[i])) << words[i];
  EXPECT_FALSE(Matches(c.minimal, PseudoRandomWord(1u << 30, 20)));
  EXPECT_FALSE(Matches(c.minimal, words[0].substr(0, 19)));
  const auto edges = static_cast<int64_t>(c.dfa.num_byte_edges());
  EXPECT_LE(c.work.minimize, 4 * NLogN(edges)) << c.work.minimize;
  EXPECT_LE(c.work.determinize, 8 * edges) << c.work.determinize;
}

TEST(Fsm, EnumAlternativesMinimiseExactlyAsMooreRefinementDoes) {
  std::string body;
  for (int i = 0; i < 1000; ++i) {
    // Shared prefixes and shared suffixes both occur: "item_<3 letters>_<3 letters>".
    body += (i ? " | \"item_" : "\"item_") + PseudoRandomWord(static_cast<uint32_t>(i % 37), 3) +
            "_" + PseudoRandomWord(static_cast<uint32_t>(i / 37), 3) + "\"";
  }
  Counted c = BuildCounted(body);
  const Fsm expect = ReferenceMinimize(c.dfa);
  EXPECT_TRUE(c.minimal == expect) << c.minimal.num_states() << " vs " << expect.num_states();
}

// The builder shares the continuation bytes of a class's UTF-8 sequences (E1..EC and EE..EF both
// continue with [80-BF][80-BF], into one state). The language must not change: the minimal DFA
// equals the one from the plain construction, one fresh chain per sequence, and the subset
// construction has fewer states to merge back wherever sequences share a tail.
TEST(NfaBuilder, CharacterClassesShareUtf8SuffixesWithoutChangingTheLanguage) {
  const char* kClasses[] = {"[\\u0080-\\U0010FFFF]",
                            "[^\"\\\\]",
                            "[a-z\\u00E9\\u4E00-\\u9FFF\\U0001F600-\\U0001F64F]",
                            "[\\u0800-\\uFFFF]",
                            "[\\u07FF-\\u0801\\uFFFF-\\U00010000]",
                            "[x]"};
  for (const char* cls : kClasses) {
    SCOPED_TRACE(cls);
    auto g = ParseEbnf(std::string("root ::= ") + cls);
    ASSERT_TRUE(g.ok()) << g.status().ToString();
    const Expr& e = g->expr(g->rule(g->root()).body);
    ASSERT_EQ(e.kind, ExprKind::kCharClass);
    NfaBuilder builder(*g, NfaBuildOptions(), [](ExprId) -> Result<RuleId> {
      return InternalError("unexpected counted repetition");
    });
    auto shared = builder.Build(g->rule(g->root()).body);
    ASSERT_TRUE(shared.ok()) << shared.status().ToString();
    Nfa plain;
    const int32_t start = plain.AddState(), end = plain.AddState();
    plain.set_start(start);
    plain.set_accept(end);
    size_t tails = 0;  // sequences longer than one byte
    for (const CodepointRange& r : g->ranges(e)) {
      for (const std::vector<ByteRange>& seq : Utf8RangeSequences(r.lo, r.hi)) {
        int32_t s = start;
        for (size_t i = 0; i < seq.size(); ++i) {
          const int32_t t = i + 1 == seq.size() ? end : plain.AddState();
          plain.AddBytes(s, seq[i].first, seq[i].second, t);
          s = t;
        }
        tails += seq.size() > 1 ? 1 : 0;
      }
    }
    auto got = Determinize(*shared, 1 << 16);
    auto want = Determinize(plain, 1 << 16);
    ASSERT_TRUE(got.ok() && want.ok());
    EXPECT_TRUE(Minimize(*got) == Minimize(*want)) << Minimize(*got).DebugString() << "vs\n"
                                                   << Minimize(*want).DebugString();
    // Shared tails are one NFA state, so the subset construction meets them once.
    if (tails > 1) {
      EXPECT_LT(got->num_states(), want->num_states());
    } else {
      EXPECT_EQ(got->num_states(), want->num_states());
    }
  }
}

}  // namespace
}  // namespace sieve
