// Tail-call absorption (pda.cc): rules referenced only in tail position are built into their
// referrer's automaton. The language must not change, nothing may be duplicated, and a chain of
// thousands of tail calls must compile without deep recursion.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "grammar/compiler.h"
#include "grammar/ebnf_parser.h"
#include "grammar/json_schema.h"
#include "grammar/matcher.h"
#include "grammar/pda.h"

namespace sieve {
namespace {

namespace fs = std::filesystem;

std::shared_ptr<const CompiledGrammar> CompileAsWritten(const std::string& text, bool absorb) {
  auto g = ParseEbnf(text);
  EXPECT_TRUE(g.ok()) << g.status().ToString();
  if (!g.ok()) return nullptr;
  CompileOptions opts;
  opts.absorb_tail_calls = absorb;
  auto c = CompileGrammar(*g, opts);
  EXPECT_TRUE(c.ok()) << c.status().ToString();
  return c.ok() ? *c : nullptr;
}

// Bytes of `s` a fresh matcher reads before the first rejected one (s.size() when all are read),
// and whether the whole is a sentence.
struct Outcome {
  size_t read = 0;
  bool complete = false;
  bool operator==(const Outcome&) const = default;
};

Outcome Feed(const std::shared_ptr<const CompiledGrammar>& c, std::string_view s) {
  GrammarMatcher m(c);
  Outcome r;
  while (r.read < s.size() && m.AcceptByte(static_cast<uint8_t>(s[r.read]))) ++r.read;
  r.complete = r.read == s.size() && m.CanTerminate();
  return r;
}

// Whether rule `name` has an automaton of its own (absorbed rules keep their entry, unlaid).
bool LaidOut(const CompiledGrammar& c, const char* name) {
  const RuleId r = c.FindRule(name);
  return r >= 0 && c.rule(r).start != kNoState;
}

std::string Lines(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST(TailAbsorption, ARightLinearChainOfThousandsOfRulesIsOneAutomaton) {
  constexpr int kRules = 3000;
  std::string text = "root ::= \"x\" r1 | \"y\"\n";
  for (int i = 1; i < kRules; ++i) {
    text += "r" + std::to_string(i) + " ::= \"x\" r" + std::to_string(i + 1) + " | \"y\"\n";
  }
  text += "r" + std::to_string(kRules) + " ::= \"z\"\n";
  auto absorbed = CompileAsWritten(text, true);
  auto called = CompileAsWritten(text, false);
  ASSERT_NE(absorbed, nullptr);
  ASSERT_NE(called, nullptr);
  EXPECT_EQ(absorbed->stats().live_rules, 1);
  EXPECT_EQ(called->stats().live_rules, kRules + 1);
  for (const std::string& s :
       {std::string("y"), std::string("xxxy"), std::string("xxz"), std::string(kRules, 'x') + "z",
        std::string(kRules, 'x') + "y", std::string(kRules - 1, 'x') + "y",
        std::string(kRules + 1, 'x') + "z"}) {
    EXPECT_EQ(Feed(absorbed, s), Feed(called, s)) << s.size() << " bytes";
  }
  EXPECT_TRUE(Feed(absorbed, std::string(kRules, 'x') + "z").complete);
  EXPECT_FALSE(Feed(absorbed, std::string(kRules, 'x') + "y").complete);
}

TEST(TailAbsorption, RulesCalledAnywhereElseStayRules) {
  // `a` is followed by "!" in one place: it must stay a callable rule; `b` is only ever the last
  // thing `a` reads, so it disappears into `a`; the root is never absorbed.
  const char* text = R"(root ::= a "!" | "x" a
a ::= "a" b
b ::= "b" | "c" b)";
  auto absorbed = CompileAsWritten(text, true);
  ASSERT_NE(absorbed, nullptr);
  EXPECT_EQ(absorbed->stats().live_rules, 2);
  EXPECT_TRUE(LaidOut(*absorbed, "a"));
  EXPECT_FALSE(LaidOut(*absorbed, "b"));
  auto called = CompileAsWritten(text, false);
  for (const char* s : {"ab!", "accb!", "xab", "xaccb", "xab!", "ab", "ac!", "x"}) {
    EXPECT_EQ(Feed(absorbed, s), Feed(called, s)) << s;
  }
}

TEST(TailAbsorption, ARuleWithReferrersInTwoAutomataIsNotDuplicated) {
  // `s` ends both `p` (a rule of its own: it is followed by ")") and the root (through `q`): it
  // would have to be copied into both, so it stays a rule; `q` goes into the root.
  const char* text = R"g(root ::= "(" p ")" q
p ::= "p" s
q ::= "q" s
s ::= "s" | "t" s)g";
  auto absorbed = CompileAsWritten(text, true);
  ASSERT_NE(absorbed, nullptr);
  EXPECT_EQ(absorbed->stats().live_rules, 3);
  EXPECT_TRUE(LaidOut(*absorbed, "s"));
  EXPECT_FALSE(LaidOut(*absorbed, "q"));
  auto called = CompileAsWritten(text, false);
  for (const char* s : {"(ps)qs", "(ptts)qts", "(ps)q", "(pt)qs", "(ps)qtts", "(p"}) {
    EXPECT_EQ(Feed(absorbed, s), Feed(called, s)) << s;
  }
}

TEST(TailAbsorption, MutualTailRecursionBecomesALoop) {
  // even/odd by mutual tail recursion: a regular language, so one automaton without a stack.
  const char* text = R"(root ::= "<" even
even ::= ">" | "a" odd
odd ::= "a" even)";
  auto absorbed = CompileAsWritten(text, true);
  ASSERT_NE(absorbed, nullptr);
  EXPECT_EQ(absorbed->stats().live_rules, 1);
  auto called = CompileAsWritten(text, false);
  for (const char* s : {"<>", "<aa>", "<a>", "<aaaa>", "<aaa>", "<aaaaaaaaaa>", "<aa"}) {
    EXPECT_EQ(Feed(absorbed, s), Feed(called, s)) << s;
  }
  EXPECT_TRUE(Feed(absorbed, "<aaaa>").complete);
  EXPECT_FALSE(Feed(absorbed, "<aaa>").complete);
}

TEST(TailAbsorption, RightRecursionThroughTheRuleItselfIsALoop) {
  // The root (never absorbed) and a called rule that reach themselves in tail position, also
  // through an optional (x? is x | ""): loops of their own automaton, so a sentence longer than
  // the matcher's stack limit (65,536 frames) is read without a frame per iteration.
  const char* text = R"(root ::= "<" list ">" | "a" tail?
tail ::= "b" root
list ::= "x" ("," list)?)";
  auto c = CompileAsWritten(text, true);
  ASSERT_NE(c, nullptr);
  for (int32_t s = 0; s < c->num_states(); ++s) {
    for (const CompiledGrammar::CallEdge& e : c->call_edges(s)) {
      EXPECT_NE(e.callee, c->rule_of(s)) << "rule '" << c->rule(e.callee).name << "' calls itself";
    }
  }
  EXPECT_FALSE(LaidOut(*c, "tail"));
  auto called = CompileAsWritten(text, false);
  for (const char* s : {"a", "ab", "aba", "abab", "<x>", "<x,x,x>", "<x,>", "ab<x,x>", "abb"}) {
    EXPECT_EQ(Feed(c, s), Feed(called, s)) << s;
  }
  std::string ab;
  for (int i = 0; i < 70000; ++i) ab += "ab";
  ab += "a";
  EXPECT_TRUE(Feed(c, ab).complete);
  std::string xs = "<x";
  for (int i = 0; i < 70000; ++i) xs += ",x";
  EXPECT_TRUE(Feed(c, xs + ">").complete);
}

TEST(TailAbsorption, AnAutomatonThatWouldExplodeKeepsItsCalls) {
  // (a|b)* a (a|b){20} written as right-linear rules: one automaton for all of them needs 2^21
  // states (over CompileOptions::max_rule_states); as calls, each rule is tiny and the matcher
  // keeps the guesses as separate stacks. The compile must fall back, not fail.
  constexpr int kTail = 20;
  std::string text = "root ::= s\ns ::= \"a\" s | \"b\" s | \"a\" t1\n";
  for (int i = 1; i < kTail; ++i) {
    text += "t" + std::to_string(i) + " ::= \"a\" t" + std::to_string(i + 1) + " | \"b\" t" +
            std::to_string(i + 1) + "\n";
  }
  text += "t" + std::to_string(kTail) + " ::= \"a\" | \"b\"\n";
  auto c = CompileAsWritten(text, true);
  ASSERT_NE(c, nullptr);
  EXPECT_GT(c->stats().live_rules, kTail / 2);
  std::string yes = "bb" + std::string("a") + std::string(kTail, 'b');
  std::string no = "bb" + std::string("b") + std::string(kTail, 'b');
  EXPECT_TRUE(Feed(c, yes).complete);
  EXPECT_FALSE(Feed(c, no).complete);
}

TEST(TailAbsorption, AQuadraticSubsetConstructionKeepsItsCalls) {
  // 1,500 optional properties in schema order: after each one any later one may follow, so the
  // subset construction of the absorbed chain holds O(n^2) NFA states (a 2,000-property schema
  // spent 457 ms there). Past a budget proportional to the NFA, the chain is called instead.
  constexpr int kProps = 1500;
  std::string schema = R"({"type":"object","properties":{)";
  for (int i = 0; i < kProps; ++i) {
    schema += (i ? "," : "") + std::string("\"p") + std::to_string(i) + R"(":{"type":"integer"})";
  }
  schema += "}}";
  JsonSchemaOptions o;
  o.whitespace = JsonWhitespace::kCompact;
  o.property_order = JsonPropertyOrder::kSchema;
  auto g = JsonSchemaToGrammar(schema, o);
  ASSERT_TRUE(g.ok()) << g.status().ToString();
  auto c = CompileGrammarIr(std::move(g->grammar), {});
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_GT(c->pda->stats().live_rules, kProps / 10);  // the chain's rules kept as calls
  EXPECT_TRUE(Feed(c->pda, R"({"p0":1,"p7":2,"p1499":3})").complete);
  EXPECT_TRUE(Feed(c->pda, R"({"p3":1,"x":true})").complete);  // additional properties allowed
  EXPECT_FALSE(Feed(c->pda, R"({"p7":1,"p3":2})").complete);   // schema order
  EXPECT_FALSE(Feed(c->pda, R"({"p3":"a"})").complete);
}

// Every example schema, compiled with and without absorption: the same bytes read and the same
// verdict on every valid and invalid instance, and fewer rules in all (synthesized counted rules
// stay: they are calls by nature).
TEST(TailAbsorption, TheExampleSchemasKeepTheirLanguage) {
  const fs::path dir = fs::path(SIEVE_SOURCE_DIR) / "schemas";
  int64_t rules_absorbed = 0, rules_called = 0;
  int schemas = 0, documents = 0;
  for (const auto& entry : fs::directory_iterator(dir)) {
    const std::string file = entry.path().filename().string();
    const std::string suffix = ".schema.json";
    if (file.size() <= suffix.size() || file.substr(file.size() - suffix.size()) != suffix) {
      continue;
    }
    const std::string stem = file.substr(0, file.size() - suffix.size());
    JsonSchemaOptions jopts;  // standard semantics, any whitespace: the instances as written
    std::shared_ptr<const CompiledGrammar> compiled[2];
    for (int absorb = 0; absorb < 2; ++absorb) {
      auto g = JsonSchemaToGrammar(Lines(entry.path()), jopts);
      ASSERT_TRUE(g.ok()) << file << ": " << g.status().ToString();
      GrammarCompileOptions copts;
      copts.pda.absorb_tail_calls = absorb == 1;
      auto c = CompileGrammarIr(std::move(g->grammar), copts);
      ASSERT_TRUE(c.ok()) << file << ": " << c.status().ToString();
      compiled[absorb] = c->pda;
    }
    rules_called += compiled[0]->stats().live_rules;
    rules_absorbed += compiled[1]->stats().live_rules;
    ++schemas;
    for (const char* kind : {".valid.jsonl", ".invalid.jsonl"}) {
      std::istringstream in(Lines(dir / (stem + kind)));
      std::string line;
      while (std::getline(in, line)) {
        if (line.empty()) continue;
        ++documents;
        const Outcome want = Feed(compiled[0], line);
        EXPECT_EQ(Feed(compiled[1], line), want) << stem << kind << ": " << line;
        if (std::string(kind) == ".valid.jsonl") {
          EXPECT_TRUE(want.complete) << stem << ": " << line;
        }
      }
    }
  }
  EXPECT_GE(schemas, 40);
  EXPECT_GE(documents, 200);
  EXPECT_LT(rules_absorbed, rules_called);
  std::printf("[absorption] %d schemas, %d documents; live rules %lld absorbed vs %lld called\n",
              schemas, documents, static_cast<long long>(rules_absorbed),
              static_cast<long long>(rules_called));
}

}  // namespace
}  // namespace sieve
