// The PDA compiler: layout, counted repetition, analyses (productivity, nullability, left
// recursion) and limits.
#include "grammar/pda.h"

#include <gtest/gtest.h>

#include <bitset>
#include <functional>
#include <string>
#include <vector>

#include "grammar/ebnf_parser.h"
#include "grammar/matcher.h"
#include "grammar/regex_parser.h"
#include "grammar/simplify.h"

namespace sieve {
namespace {

constexpr char kJson[] = R"(
root   ::= value
value  ::= object | array | string | number | "true" | "false" | "null"
object ::= "{" ws ( member ( "," ws member )* )? "}"
member ::= string ws ":" ws value ws
array  ::= "[" ws ( value ws ( "," ws value ws )* )? "]"
string ::= "\"" ( [^"\\\x00-\x1f] | "\\" ( ["\\/bfnrt] | "u" [0-9a-fA-F]{4} ) )* "\""
number ::= "-"? ( "0" | [1-9] [0-9]* ) ( "." [0-9]+ )? ( [eE] [-+]? [0-9]+ )?
ws     ::= [ \t\n\r]*
)";

Result<std::shared_ptr<const CompiledGrammar>> CompileText(const std::string& text,
                                                           bool simplify = true,
                                                           const CompileOptions& opts = {}) {
  auto g = ParseEbnf(text);
  if (!g.ok()) return g.status();
  if (!simplify) {
    // As written: one automaton per rule, no tail call absorbed either.
    CompileOptions as_written = opts;
    as_written.absorb_tail_calls = false;
    return CompileGrammar(*g, as_written);
  }
  auto s = Simplify(*g);
  if (!s.ok()) return s.status();
  return CompileGrammar(*s, opts);
}

std::shared_ptr<const CompiledGrammar> MustCompile(const std::string& text, bool simplify = true) {
  auto c = CompileText(text, simplify);
  EXPECT_TRUE(c.ok()) << c.status().ToString();
  return c.ok() ? *c : nullptr;
}

TEST(Pda, EveryStateHasSortedDisjointByteEdgesWithinItsRule) {
  auto c = MustCompile(kJson);
  ASSERT_NE(c, nullptr);
  for (int32_t s = 0; s < c->num_states(); ++s) {
    auto edges = c->byte_edges(s);
    for (size_t i = 0; i < edges.size(); ++i) {
      ASSERT_LE(edges[i].lo, edges[i].hi);
      if (i > 0) {
        ASSERT_LT(edges[i - 1].hi, edges[i].lo) << "state " << s;
      }
      ASSERT_EQ(c->rule_of(edges[i].target), c->rule_of(s)) << "byte edges stay in the rule";
    }
    for (const auto& e : c->call_edges(s)) {
      ASSERT_EQ(c->rule_of(e.return_state), c->rule_of(s));
      ASSERT_EQ(c->rule_of(e.callee_start), e.callee);
      ASSERT_EQ(c->rule(e.callee).start, e.callee_start);
    }
    // Step agrees with the edge list for every byte (dense rows included).
    for (int b = 0; b < 256; ++b) {
      int32_t expect = kNoState;
      for (const auto& e : edges) {
        if (b >= e.lo && b <= e.hi) expect = e.target;
      }
      ASSERT_EQ(c->Step(s, static_cast<uint8_t>(b)), expect) << "state " << s << " byte " << b;
    }
  }
  EXPECT_GT(c->stats().dense_rows, 0);
}

TEST(Pda, JsonGrammarCompilesToAFewHundredStatesAtMost) {
  auto c = MustCompile(kJson);
  ASSERT_NE(c, nullptr);
  const GrammarStats& s = c->stats();
  EXPECT_GT(s.states, 10);
  EXPECT_LT(s.states, 200);
  EXPECT_LE(s.states, s.dfa_states);
  EXPECT_LE(s.dfa_states, s.nfa_states);
  EXPECT_EQ(s.states, c->num_states());
  std::printf("json: %s, %.3f ms\n", c->StatsString().c_str(), s.compile_ms);
  auto raw = MustCompile(kJson, /*simplify=*/false);
  ASSERT_NE(raw, nullptr);
  std::printf("json (not simplified): %s, %.3f ms\n", raw->StatsString().c_str(),
              raw->stats().compile_ms);
}

TEST(Pda, LargeBoundedRepetitionCompilesToACountedByteLoop) {
  auto c = MustCompile(R"(root ::= "\"" [^"]{0,8000} "\"")");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->stats().counted_rules, 1);
  EXPECT_LE(c->num_states(), 16) << c->DebugString();
  std::printf("[^\"]{0,8000}: %s, %.3f ms\n", c->StatsString().c_str(), c->stats().compile_ms);
  int loop_heads = 0;
  for (int32_t s = 0; s < c->num_states(); ++s) {
    if (!c->loop_head(s)) continue;
    ++loop_heads;
    const auto& r = c->rule(c->rule_of(s));
    EXPECT_TRUE(r.counted);
    EXPECT_EQ(r.min, 0);
    EXPECT_EQ(r.max, 8000);
    EXPECT_EQ(r.start, s);
    EXPECT_TRUE(c->call_edges(s).empty()) << "a class body is a byte loop, not a call";
  }
  EXPECT_EQ(loop_heads, 1);
  // The bound only changes the counter limit, never the automaton.
  auto small = MustCompile(R"(root ::= "\"" [^"]{0,80} "\"")");
  auto huge = MustCompile(R"(root ::= "\"" [^"]{0,800000} "\"")");
  ASSERT_NE(small, nullptr);
  ASSERT_NE(huge, nullptr);
  EXPECT_EQ(small->num_states(), c->num_states());
  EXPECT_EQ(huge->num_states(), c->num_states());
}

TEST(Pda, CountedLoopGuardsFollowTheBounds) {
  CompileOptions counted;
  counted.max_unroll_byte_class_copies = 0;  // one ASCII class: else unrolled up to 64 copies
  auto r = CompileText(R"(root ::= [a-z]{40,50})", true, counted);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  auto c = *r;
  int32_t head = kNoState;
  for (int32_t s = 0; s < c->num_states(); ++s) {
    if (c->loop_head(s)) head = s;
  }
  ASSERT_NE(head, kNoState);
  int32_t next = -1;
  EXPECT_TRUE(c->CanBeginIteration(head, 0, &next));
  EXPECT_EQ(next, 1);
  EXPECT_TRUE(c->CanBeginIteration(head, 49, &next));
  EXPECT_FALSE(c->CanBeginIteration(head, 50, &next));
  EXPECT_FALSE(c->CanAccept(head, 39));
  EXPECT_TRUE(c->CanAccept(head, 40));
  EXPECT_TRUE(c->CanReadBytes(head, 49));
  EXPECT_FALSE(c->CanReadBytes(head, 50));
}

bool Accepts(const std::shared_ptr<const CompiledGrammar>& g, const std::string& text) {
  GrammarMatcher m(g);
  return m.AcceptString(text) && m.CanTerminate();
}

// A repetition of one ASCII class is unrolled up to max_unroll_byte_class_copies (63) copies, past
// max_unroll_copies (32): same language as the counted rule; other bodies keep the general limit.
// JSON whitespace runs ([ \t\n\r]{0,64}, JsonSchemaOptions::max_whitespace_run) stay counters.
TEST(Pda, AsciiClassRepetitionsUnrollUpToTheirOwnLimit) {
  struct Case {
    const char* text;
    bool counted;
  } cases[] = {
      {R"(root ::= [a-z0-9-]{0,63})", false},  // a hostname label's middle: 63 single bytes
      {R"(root ::= [a-z]{40,63})", false},
      {R"(root ::= [a-z]{0,64})", true},     // past the byte-class limit
      {R"(root ::= [ \t\n\r]{0,64})", true},  // JSON's whitespace runs (any layout)
      {R"(root ::= [a-zé]{0,40})", true},    // not ASCII: the general limit (32)
      {R"(root ::= ("a" | "bc"){0,40})", true},
  };
  for (const Case& k : cases) {
    auto c = MustCompile(k.text);
    ASSERT_NE(c, nullptr) << k.text;
    EXPECT_EQ(c->stats().counted_rules > 0, k.counted) << k.text;
    CompileOptions counted;
    counted.max_unroll_byte_class_copies = 0;
    auto d = CompileText(k.text, true, counted);
    ASSERT_TRUE(d.ok()) << d.status().ToString();
    EXPECT_GT((*d)->stats().counted_rules, 0) << k.text;
  }
  // The unrolled label and the counted one accept the same strings.
  CompileOptions counted;
  counted.max_unroll_byte_class_copies = 0;
  auto unrolled = MustCompile(R"(root ::= [a-z] ([a-z0-9-]{0,61} [a-z0-9])?)");
  auto looped = *CompileText(R"(root ::= [a-z] ([a-z0-9-]{0,61} [a-z0-9])?)", true, counted);
  ASSERT_NE(unrolled, nullptr);
  for (int n = 0; n <= 66; ++n) {
    for (const char* fill : {"x", "-", "7"}) {
      std::string s = n > 0 ? "a" : "";
      for (int i = 1; i < n; ++i) s += (i == n - 1) ? "z" : fill;
      EXPECT_EQ(Accepts(unrolled, s), Accepts(looped, s)) << s;
      EXPECT_EQ(Accepts(unrolled, s), n >= 1 && n <= 63) << s;
    }
  }
}

TEST(Pda, UnboundedCounterSaturatesAtTheMinimum) {
  auto c = MustCompile(R"(root ::= "a"{1000,})");
  ASSERT_NE(c, nullptr);
  int32_t head = kNoState;
  for (int32_t s = 0; s < c->num_states(); ++s) {
    if (c->loop_head(s)) head = s;
  }
  ASSERT_NE(head, kNoState);
  int32_t next = -1;
  ASSERT_TRUE(c->CanBeginIteration(head, 999, &next));
  EXPECT_EQ(next, 1000);
  ASSERT_TRUE(c->CanBeginIteration(head, 1000, &next));
  EXPECT_EQ(next, 1000);
}

TEST(Pda, SmallBoundedRepetitionIsUnrolled) {
  auto c = MustCompile(R"(root ::= [0-9]{1,20})");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->stats().counted_rules, 0);
  EXPECT_EQ(c->num_states(), 21);
}

TEST(Pda, RepetitionOfARuleBecomesACallLoop) {
  auto c = MustCompile(R"(root ::= "[" (item ","){0,500} "]"
item ::= "x" | "yy" item)",
                       /*simplify=*/false);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->stats().counted_rules, 1);
  int32_t head = kNoState;
  for (int32_t s = 0; s < c->num_states(); ++s) {
    if (c->loop_head(s)) head = s;
  }
  ASSERT_NE(head, kNoState);
  ASSERT_EQ(c->call_edges(head).size(), 1u);
  EXPECT_EQ(c->call_edges(head)[0].return_state, head);
  EXPECT_TRUE(c->rule(c->call_edges(head)[0].callee).synthesized);
}

TEST(Pda, NullableBodyOfACallLoopDropsTheMinimum) {
  auto c = MustCompile(R"(root ::= (a b){3,100} "!"
a ::= "a"?
b ::= "b"?)",
                       /*simplify=*/false);
  ASSERT_NE(c, nullptr);
  bool found = false;
  for (size_t r = 0; r < c->num_rules(); ++r) {
    if (!c->rule(static_cast<RuleId>(r)).counted) continue;
    found = true;
    EXPECT_EQ(c->rule(static_cast<RuleId>(r)).min, 0);
    EXPECT_EQ(c->rule(static_cast<RuleId>(r)).max, 100);
    EXPECT_TRUE(c->rule(static_cast<RuleId>(r)).nullable);
  }
  EXPECT_TRUE(found);
}

TEST(Pda, LeftRecursionIsReportedWithTheCycle) {
  auto c = CompileText(R"(root ::= a
a ::= b "x" | "y"
b ::= "z"? a)",
                       /*simplify=*/false);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), StatusCode::kUnsupported);
  EXPECT_NE(c.status().message().find("left recursion"), std::string::npos) << c.status().message();
  EXPECT_NE(c.status().message().find("'a'"), std::string::npos);
  EXPECT_NE(c.status().message().find("'b'"), std::string::npos);
  // Simplify rewrites direct left recursion, after which it compiles.
  EXPECT_TRUE(CompileText(R"(root ::= root "x" | "y")").ok());
  EXPECT_FALSE(CompileText(R"(root ::= root "x" | "y")", false).ok());
}

TEST(Pda, RulesThatNeverEndAreTrimmedAway) {
  auto c = MustCompile(R"(root ::= "a" | b
b ::= "x" b)",
                       /*simplify=*/false);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->rule(c->FindRule("b")).start, kNoState);
  EXPECT_EQ(c->stats().live_rules, 1);
  for (int32_t s = 0; s < c->num_states(); ++s) EXPECT_TRUE(c->call_edges(s).empty());
}

TEST(Pda, AGrammarMatchingNothingIsAnError) {
  auto c = CompileText(R"(root ::= "x" root)", false);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(c.status().message().find("matches no string"), std::string::npos);
}

TEST(Pda, ALookaheadTheGrammarDoesNotImplyIsUnsupportedUnlessIgnoredAsAHint) {
  const std::string text = R"(root ::= str ":"
str ::= "\"" [a-z]* "\"" (= ","))";
  auto strict = CompileText(text, false);
  ASSERT_FALSE(strict.ok());
  EXPECT_EQ(strict.status().code(), StatusCode::kUnsupported);
  CompileOptions opts;
  opts.ignore_lookahead = true;
  EXPECT_TRUE(CompileText(text, false, opts).ok());
}

TEST(Pda, StateLimitsAreReportedAsLimitErrors) {
  CompileOptions opts;
  opts.max_states = 5;
  auto c = CompileText(kJson, true, opts);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), StatusCode::kLimit);
  EXPECT_NE(c.status().message().find("max_states"), std::string::npos);
  CompileOptions rule_opts;
  rule_opts.max_rule_states = 100;
  auto blowup = CompileText(R"(root ::= [ab]* "a" [ab]{12})", true, rule_opts);
  ASSERT_FALSE(blowup.ok());
  EXPECT_EQ(blowup.status().code(), StatusCode::kLimit);
  CompileOptions expr_opts;
  expr_opts.max_grammar_exprs = 3;
  EXPECT_EQ(CompileText(kJson, true, expr_opts).status().code(), StatusCode::kLimit);
}

// FIRST and FOLLOW sets and nullability recomputed from the laid-out automaton by the textbook
// round-robin fixpoint (repeat passes over every rule until nothing changes), which the compiler
// replaced with work lists; both must find the same least fixpoint.
void ExpectAnalysesMatchRoundRobin(const CompiledGrammar& c) {
  const size_t n = c.num_rules();
  auto laid_out = [&](size_t r) { return c.rule(static_cast<RuleId>(r)).start != kNoState; };
  // Nullability: a counted rule's `min` already reflects a nullable body.
  std::vector<char> nullable(n, 0);
  // Visited marks for the walks below: a state is visited in the current walk when its stamp
  // equals `walk`, so no walk clears an array the size of the grammar.
  std::vector<uint32_t> stamp(c.num_states(), 0);
  uint32_t walk = 0;
  auto reaches_accept = [&](int32_t from, const std::vector<char>& callee_ok) {
    std::vector<int32_t> stack{from};
    stamp[from] = ++walk;
    while (!stack.empty()) {
      const int32_t s = stack.back();
      stack.pop_back();
      if (c.accepting(s)) return true;
      for (const auto& e : c.call_edges(s)) {
        if (callee_ok[e.callee] && stamp[e.return_state] != walk) {
          stamp[e.return_state] = walk;
          stack.push_back(e.return_state);
        }
      }
    }
    return false;
  };
  for (bool changed = true; changed;) {
    changed = false;
    for (size_t r = 0; r < n; ++r) {
      if (!laid_out(r) || nullable[r]) continue;
      const auto& info = c.rule(static_cast<RuleId>(r));
      const bool now = info.counted ? info.min == 0 : reaches_accept(info.start, nullable);
      if (now) {
        nullable[r] = 1;
        changed = true;
      }
    }
  }
  for (size_t r = 0; r < n; ++r) {
    if (laid_out(r)) {
      EXPECT_EQ(c.rule(static_cast<RuleId>(r)).nullable, nullable[r] != 0)
          << c.rule(static_cast<RuleId>(r)).name;
    }
  }
  // What a state can read next without leaving its rule's frame: bytes and callee FIRSTs of the
  // states reached through calls to nullable rules; `ends` when an accepting state is among them.
  std::vector<std::bitset<256>> first(n), follow(n);
  auto from_state = [&](int32_t from, bool* ends) {
    std::bitset<256> acc;
    *ends = false;
    std::vector<int32_t> stack{from};
    stamp[from] = ++walk;
    while (!stack.empty()) {
      const int32_t s = stack.back();
      stack.pop_back();
      *ends |= c.accepting(s);
      for (const auto& e : c.byte_edges(s)) {
        for (int b = e.lo; b <= e.hi; ++b) acc.set(b);
      }
      for (const auto& e : c.call_edges(s)) {
        acc |= first[e.callee];
        if (nullable[e.callee] && stamp[e.return_state] != walk) {
          stamp[e.return_state] = walk;
          stack.push_back(e.return_state);
        }
      }
    }
    return acc;
  };
  for (bool changed = true; changed;) {
    changed = false;
    for (size_t r = 0; r < n; ++r) {
      if (!laid_out(r)) continue;
      bool ends;
      const std::bitset<256> now =
          first[r] | from_state(c.rule(static_cast<RuleId>(r)).start, &ends);
      changed |= now != first[r];
      first[r] = now;
    }
  }
  for (bool changed = true; changed;) {
    changed = false;
    for (int32_t s = 0; s < c.num_states(); ++s) {
      for (const auto& e : c.call_edges(s)) {
        bool ends;
        std::bitset<256> now = follow[e.callee] | from_state(e.return_state, &ends);
        if (ends) now |= follow[c.rule_of(s)];
        changed |= now != follow[e.callee];
        follow[e.callee] = now;
      }
    }
  }
  for (size_t r = 0; r < n; ++r) {
    if (!laid_out(r)) continue;
    for (int b = 0; b < 256; ++b) {
      ASSERT_EQ(c.CanStartWith(static_cast<RuleId>(r), static_cast<uint8_t>(b)), first[r].test(b))
          << "FIRST of " << c.rule(static_cast<RuleId>(r)).name << ", byte " << b;
      ASSERT_EQ(c.CanFollow(static_cast<RuleId>(r), static_cast<uint8_t>(b)), follow[r].test(b))
          << "FOLLOW of " << c.rule(static_cast<RuleId>(r)).name << ", byte " << b;
    }
  }
}

// `rules` rules r0 .. r<rules-1>, each built by `body(i)`, the last one calling r<rules> = `last`.
std::string RuleChain(int rules, const std::function<std::string(int)>& body,
                      const std::string& last) {
  std::string text = "root ::= r0\n";
  for (int i = 0; i < rules; ++i) text += "r" + std::to_string(i) + " ::= " + body(i) + "\n";
  return text + "r" + std::to_string(rules) + " ::= " + last + "\n";
}

TEST(Pda, FirstFollowAndNullabilityEqualTheRoundRobinFixpoint) {
  const std::string grammars[] = {
      kJson,
      R"(root ::= (a b)* c? "!"
a ::= "a"? b
b ::= "b"* c?
c ::= "c" | "e" a "d")",
      R"(root ::= x y z "."
x ::= y? "x"
y ::= z? "y"?
z ::= ("z" x)?)",
      R"(root ::= "[" (item ","){0,500} "]"
item ::= "x" | "yy" item)",
  };
  for (const std::string& text : grammars) {
    for (bool simplify : {true, false}) {
      auto c = CompileText(text, simplify);
      ASSERT_TRUE(c.ok()) << c.status().ToString() << "\n" << text;
      ExpectAnalysesMatchRoundRobin(**c);
    }
  }
}

TEST(Pda, LongChainsOfRulesThatWaitOnEachOtherCompileWithExactAnalyses) {
  // Each rule's productivity (first chain), FIRST (second) or nullability and FOLLOW (third)
  // depends on the next rule's, the shape that made round-robin fixpoints quadratic. Simplify is
  // off so the chains reach the compiler as written.
  constexpr int kRules = 3000;
  const std::string productive = RuleChain(
      kRules, [](int i) { return "\"ab\" [0-9]* r" + std::to_string(i + 1); }, "\"end\"");
  auto a = CompileText(productive, /*simplify=*/false);
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_EQ((*a)->stats().live_rules, kRules + 2);
  EXPECT_EQ((*a)->num_states(), 2 + 4 * kRules + 4);
  ExpectAnalysesMatchRoundRobin(**a);

  const std::string left = RuleChain(
      kRules, [](int i) { return "r" + std::to_string(i + 1) + " \"b\" [0-9]*"; }, "\"end\"");
  auto b = CompileText(left, /*simplify=*/false);
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_TRUE((*b)->CanStartWith((*b)->FindRule("r0"), 'e'));
  EXPECT_FALSE((*b)->CanStartWith((*b)->FindRule("r0"), 'b'));
  ExpectAnalysesMatchRoundRobin(**b);

  const std::string nullable = RuleChain(
      kRules,
      [](int i) {
        return "r" + std::to_string(i + 1) + " \"" +
               std::string(1, static_cast<char>('a' + i % 13)) + "\"?";
      },
      "\"y\"?");
  auto n = CompileText(nullable, /*simplify=*/false);
  ASSERT_TRUE(n.ok()) << n.status().ToString();
  const RuleId last = (*n)->FindRule("r" + std::to_string(kRules));
  EXPECT_TRUE((*n)->rule((*n)->FindRule("r0")).nullable);
  // r<i> ::= r<i+1> "<letter i mod 13>"?: every letter a..m may follow the innermost rule, 'y'
  // (what it reads itself) may not.
  EXPECT_TRUE((*n)->CanFollow(last, 'a'));
  EXPECT_TRUE((*n)->CanFollow(last, 'm'));
  EXPECT_FALSE((*n)->CanFollow(last, 'n'));
  EXPECT_FALSE((*n)->CanFollow(last, 'y'));
  ExpectAnalysesMatchRoundRobin(**n);
}

TEST(Pda, ALongLiteralCompilesToOneStatePerByteFromEveryFrontEnd) {
  constexpr int kBytes = 16000;
  const std::string literal(kBytes, 'a');
  auto ebnf = MustCompile("root ::= \"" + literal + "\"");
  ASSERT_NE(ebnf, nullptr);
  EXPECT_EQ(ebnf->num_states(), kBytes + 1);
  // Anchored: an unanchored pattern is a search (.* literal .*), a different automaton.
  auto g = RegexToGrammar("^" + literal + "$");
  ASSERT_TRUE(g.ok()) << g.status().ToString();
  auto simplified = Simplify(*g);
  ASSERT_TRUE(simplified.ok()) << simplified.status().ToString();
  auto regex = CompileGrammar(*simplified);
  ASSERT_TRUE(regex.ok()) << regex.status().ToString();
  EXPECT_EQ((*regex)->num_states(), kBytes + 1);
}

TEST(Pda, TenThousandEnumAlternativesCompileToTheMinimalAutomaton) {
  std::string text = "root ::= ";
  uint32_t x = 0;
  for (int i = 0; i < 10000; ++i) {
    text += i ? " | \"" : "\"";
    x = static_cast<uint32_t>(i) + 7;
    for (int j = 0; j < 20; ++j) {
      x = x * 1103515245u + 12345u;
      text.push_back(static_cast<char>('a' + (x >> 16) % 26));
    }
    text += "\"";
  }
  auto c = MustCompile(text);
  ASSERT_NE(c, nullptr);
  // The prefix trie with equal suffixes merged (the same count fsm_test finds for these words).
  EXPECT_EQ(c->num_states(), 148180);
}

TEST(Pda, StatsStringNamesTheCounts) {
  auto c = MustCompile(kJson);
  ASSERT_NE(c, nullptr);
  const std::string s = c->StatsString();
  EXPECT_NE(s.find("states " + std::to_string(c->num_states())), std::string::npos) << s;
  EXPECT_GT(c->MemorySize(), 0u);
  EXPECT_NE(c->DebugString().find("rule root"), std::string::npos);
}

}  // namespace
}  // namespace sieve
