// Tests for the compile limits (grammar/limits.h): every limit turns a pathological input into a
// kLimit status that names the limit, quickly; the defaults of Limits are the stages' defaults; the
// Simplify inlining and the subset construction stay within their budgets.
#include "grammar/limits.h"

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <string>
#include <thread>

#include "grammar/compiler.h"
#include "grammar/grammar_cache.h"
#include "grammar/json_schema.h"
#include "grammar/mask_cache.h"
#include "grammar/regex_parser.h"

namespace sieve {
namespace {

// "Fails fast": well under a second in a normal build; sanitizers slow everything down ~5x.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr double kFastMs = 5000;
#else
constexpr double kFastMs = 1000;
#endif

template <typename F>
Status TimedStatus(F&& f, double* ms) {
  const auto t0 = std::chrono::steady_clock::now();
  Status s = f();
  *ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  return s;
}

Status CompileWith(const Limits& limits, const std::string& text) {
  GrammarCompileOptions o;
  ApplyLimits(limits, &o);
  auto r = CompileEbnfText(text, o);
  return r.ok() ? Status::Ok() : r.status();
}

void ExpectLimit(const Status& s, double ms, const std::string& names) {
  EXPECT_EQ(s.code(), StatusCode::kLimit) << s.ToString();
  EXPECT_NE(s.message().find(names), std::string::npos) << s.ToString();
  EXPECT_LT(ms, kFastMs) << s.ToString();
}

std::string Chain(int n, const std::string& shape) {
  std::string text = "root ::= r0\n";
  for (int i = 0; i + 1 < n; ++i) {
    std::string body = shape;
    body.replace(body.find('@'), 1, "r" + std::to_string(i + 1));
    text += "r" + std::to_string(i) + " ::= " + body + "\n";
  }
  return text + "r" + std::to_string(n - 1) + " ::= \"c\"\n";
}

TEST(Limits, DefaultsAreTheStagesDefaults) {
  GrammarCompileOptions o;
  ApplyLimits(Limits(), &o);
  const GrammarCompileOptions d;
  EXPECT_EQ(o.ebnf.max_text_bytes, d.ebnf.max_text_bytes);
  EXPECT_EQ(o.ebnf.max_nesting_depth, d.ebnf.max_nesting_depth);
  EXPECT_EQ(o.ebnf.max_rules, d.ebnf.max_rules);
  EXPECT_EQ(o.ebnf.max_repeat_bound, d.ebnf.max_repeat_bound);
  EXPECT_EQ(o.simplify.max_expr_depth, d.simplify.max_expr_depth);
  EXPECT_EQ(o.pda.max_expr_depth, d.pda.max_expr_depth);
  EXPECT_EQ(o.pda.max_grammar_exprs, d.pda.max_grammar_exprs);
  EXPECT_EQ(o.pda.max_nfa_states, d.pda.max_nfa_states);
  EXPECT_EQ(o.pda.max_rule_states, d.pda.max_rule_states);
  EXPECT_EQ(o.pda.max_states, d.pda.max_states);
  EXPECT_EQ(o.pda.max_subset_states, d.pda.max_subset_states);
  EXPECT_EQ(o.max_compile_ms, d.max_compile_ms);
  RegexOptions r;
  ApplyLimits(Limits(), &r);
  EXPECT_EQ(r.max_pattern_bytes, RegexOptions().max_pattern_bytes);
  EXPECT_EQ(r.max_nesting_depth, RegexOptions().max_nesting_depth);
  JsonSchemaOptions j;
  ApplyLimits(Limits(), &j);
  EXPECT_EQ(j.max_enum_values, JsonSchemaOptions().max_enum_values);
  EXPECT_EQ(j.max_grammar_exprs, JsonSchemaOptions().max_grammar_exprs);
  EXPECT_EQ(j.max_schema_depth, JsonSchemaOptions().max_schema_depth);
  MaskCacheOptions m;
  ApplyLimits(Limits(), &m);
  EXPECT_EQ(m.max_bytes, MaskCacheOptions().max_bytes);
}

TEST(Limits, GrammarCacheDefaultsAreTheLimitsDefaults) {
  GrammarCacheOptions o;
  ApplyLimits(Limits(), &o);
  const GrammarCacheOptions d;
  EXPECT_EQ(SerializeOptions(o), SerializeOptions(d));  // every keyed option
  EXPECT_EQ(o.max_compile_ms, d.max_compile_ms);
  Limits l;
  l.max_nesting_depth = 10;
  l.max_mask_cache_bytes = 1234;
  l.max_compile_ms = 77;
  ApplyLimits(l, &o);
  EXPECT_EQ(o.ebnf.max_nesting_depth, 10);
  EXPECT_EQ(o.simplify.max_expr_depth, 20);
  EXPECT_EQ(o.compile.max_expr_depth, 20 + 96);
  EXPECT_EQ(o.mask.max_bytes, 1234u);
  EXPECT_EQ(o.max_compile_ms, 77);
}

TEST(Limits, DeadlineExpiresAndNamesTheOption) {
  EXPECT_FALSE(Deadline().Expired());
  EXPECT_FALSE(Deadline::AfterMs(0).active());
  EXPECT_TRUE(Deadline::AfterMs(-5).Check("x").ok());
  const Deadline d = Deadline::AfterMs(1);
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  const Status s = d.Check("building rule 'a'");
  EXPECT_EQ(s.code(), StatusCode::kLimit);
  EXPECT_NE(s.message().find("1 ms exceeded while building rule 'a'"), std::string::npos);
  EXPECT_NE(s.message().find("max_compile_ms"), std::string::npos);
}

TEST(Limits, GrammarTextSizeIsLimited) {
  Limits l;
  l.max_text_bytes = 1000;
  double ms = 0;
  Status s = TimedStatus([&] { return CompileWith(l, "root ::= \"" + std::string(2000, 'a') + "\""); },
                         &ms);
  ExpectLimit(s, ms, "max_text_bytes");
}

TEST(Limits, NestingDepthIsLimited) {
  Limits l;
  l.max_nesting_depth = 50;
  const std::string deep = "root ::= " + std::string(60, '(') + "\"a\"" + std::string(60, ')');
  double ms = 0;
  ExpectLimit(TimedStatus([&] { return CompileWith(l, deep); }, &ms), ms, "max_nesting_depth");
  const std::string ok = "root ::= " + std::string(40, '(') + "\"a\"" + std::string(40, ')');
  EXPECT_TRUE(CompileWith(l, ok).ok());
}

TEST(Limits, RuleCountIsLimited) {
  Limits l;
  l.max_rules = 100;
  double ms = 0;
  ExpectLimit(TimedStatus([&] { return CompileWith(l, Chain(150, "\"a\" @")); }, &ms), ms,
              "max_rules");
}

TEST(Limits, RepetitionBoundIsLimited) {
  Limits l;
  l.max_repeat_bound = 1000;
  double ms = 0;
  ExpectLimit(TimedStatus([&] { return CompileWith(l, "root ::= \"a\"{0,5000}"); }, &ms), ms,
              "max_repeat_bound");
}

TEST(Limits, TotalStatesAreLimited) {
  Limits l;
  l.max_states = 1000;
  double ms = 0;
  Status s = TimedStatus(
      [&] { return CompileWith(l, "root ::= \"" + std::string(5000, 'x') + "\""); }, &ms);
  ExpectLimit(s, ms, "max_states");
}

TEST(Limits, NfaStatesPerRuleAreLimited) {
  Limits l;
  l.max_nfa_states = 1000;
  double ms = 0;
  Status s = TimedStatus(
      [&] { return CompileWith(l, "root ::= \"" + std::string(5000, 'x') + "\""); }, &ms);
  ExpectLimit(s, ms, "max_nfa_states");
}

TEST(Limits, DfaStatesPerRuleAreLimited) {
  // The classic exponential determinisation: the 13th byte from the end must be an 'a'.
  Limits l;
  l.max_rule_states = 1000;
  double ms = 0;
  Status s = TimedStatus([&] { return CompileWith(l, "root ::= [ab]* \"a\" [ab]{12}"); }, &ms);
  ExpectLimit(s, ms, "max_rule_states");
}

TEST(Limits, GrammarExpressionsAreLimited) {
  Limits l;
  l.max_grammar_exprs = 100;  // the automaton compiler takes 4x as many
  double ms = 0;
  ExpectLimit(TimedStatus([&] { return CompileWith(l, Chain(220, "\"a\" @ | \"b\"")); }, &ms),
              ms, "max_grammar_exprs");
}

TEST(Limits, CompileTimeIsLimited) {
  // 2^25 DFA states: without a deadline this runs for minutes (every other limit raised).
  Limits l;
  l.max_rule_states = 1 << 30;
  l.max_states = int64_t{1} << 40;
  l.max_subset_states = int64_t{1} << 40;
  l.max_compile_ms = 100;
  double ms = 0;
  Status s = TimedStatus([&] { return CompileWith(l, "root ::= [ab]* \"a\" [ab]{24}"); }, &ms);
  ExpectLimit(s, ms, "max_compile_ms");
  EXPECT_NE(s.message().find("compile time budget of 100 ms"), std::string::npos);
}

TEST(Limits, SubsetConstructionOfAnUnanchoredPeriodicLiteralIsBudgeted) {
  // An unanchored regex around a long run of one byte has DFA states holding O(n) NFA states
  // each: O(n^2) memory and time. The budget stops it early with a message that says why.
  RegexOptions ro;
  auto g = RegexToGrammar(std::string(4000, 'a'), ro);
  ASSERT_TRUE(g.ok()) << g.status().ToString();
  Limits l;
  l.max_subset_states = 1 << 20;
  GrammarCompileOptions o;
  ApplyLimits(l, &o);
  double ms = 0;
  Status s = TimedStatus(
      [&] {
        auto r = CompileGrammarIr(*g, o);
        return r.ok() ? Status::Ok() : r.status();
      },
      &ms);
  ExpectLimit(s, ms, "max_subset_states");
  // The same pattern, 400 bytes long, fits the default budget.
  auto small = RegexToGrammar(std::string(400, 'a'), ro);
  ASSERT_TRUE(small.ok());
  EXPECT_TRUE(CompileGrammarIr(std::move(small).value(), GrammarCompileOptions()).ok());
}

TEST(Limits, RegexTextIsLimited) {
  RegexOptions ro;
  Limits l;
  l.max_pattern_bytes = 100;
  ApplyLimits(l, &ro);
  auto g = RegexToGrammar(std::string(200, 'a'), ro);
  ASSERT_FALSE(g.ok());
  EXPECT_EQ(g.status().code(), StatusCode::kLimit) << g.status().ToString();
}

TEST(Limits, SchemaEnumSizeIsLimited) {
  std::string schema = "{\"enum\": [";
  for (int i = 0; i < 200; ++i) schema += (i ? "," : "") + std::to_string(i);
  schema += "]}";
  JsonSchemaOptions o;
  Limits l;
  l.max_enum_values = 100;
  ApplyLimits(l, &o);
  auto r = JsonSchemaToGrammar(schema, o);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kLimit);
  EXPECT_NE(r.status().message().find("max_enum_values"), std::string::npos)
      << r.status().ToString();
  EXPECT_EQ(r.status().json_pointer(), "/enum");
  l.max_enum_values = 200;
  ApplyLimits(l, &o);
  EXPECT_TRUE(JsonSchemaToGrammar(schema, o).ok());
}

TEST(Limits, SchemaSizeAndDepthAreLimited) {
  JsonSchemaOptions o;
  Limits l;
  l.max_schema_bytes = 64;
  l.max_schema_depth = 16;
  ApplyLimits(l, &o);
  auto big = JsonSchemaToGrammar("{\"description\": \"" + std::string(100, 'x') + "\"}", o);
  ASSERT_FALSE(big.ok());
  EXPECT_EQ(big.status().code(), StatusCode::kLimit);
  EXPECT_NE(big.status().message().find("max_schema_bytes"), std::string::npos);
  l.max_schema_bytes = 4096;
  ApplyLimits(l, &o);
  std::string deep;
  for (int i = 0; i < 20; ++i) deep += "{\"items\":";
  deep += "{}" + std::string(20, '}');
  auto d = JsonSchemaToGrammar(deep, o);
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.status().code(), StatusCode::kLimit) << d.status().ToString();
  EXPECT_NE(d.status().message().find("max_schema_depth"), std::string::npos)
      << d.status().ToString();
}

TEST(Limits, ChainsOfSingleUseRulesSimplifyInLinearTime) {
  // Inlining a chain of n single-use rules used to copy a body of size O(i) at link i: 4,000
  // rules took 3 s and 1.3 GB, 20,000 would take minutes. Now it is linear, so 20,000 rules fit
  // a budget that the quadratic version misses by far.
  GrammarCompileOptions o;
  o.max_compile_ms = 5000;
  auto r = CompileEbnfText(Chain(20000, "(\"a\" | \"b\") @ \"c\""), o);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  // Single-use bodies are inlined up to inline_single_use_max_nodes, so the chain becomes a few
  // hundred rules, not one rule of 60,000 items and not 20,000 rules.
  EXPECT_LT(r->simplified.num_rules(), 20000u / 16);
  EXPECT_GT(r->simplified.num_rules(), 1u);
}

}  // namespace
}  // namespace sieve
