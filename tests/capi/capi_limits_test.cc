// C API limits (issue 10): the limit fields of sieve_grammar_options turn pathological grammars
// into SIEVE_ERR_LIMIT with a message naming the field; zero keeps the defaults; a struct from
// before the fields existed (smaller struct_size) is read without them.
#include <gtest/gtest.h>

#include <cstddef>
#include <cstdlib>
#include <string>

#include "sieve/sieve.h"
#include "tests/testing/cpu_time.h"
#include "tests/testing/heavy_mask_grammar.h"

namespace {

sieve_status Compile(const std::string& text, const sieve_grammar_options& o) {
  sieve_grammar* g = nullptr;
  sieve_status s = sieve_grammar_compile_ebnf(text.data(), text.size(), &o, &g);
  if (s == SIEVE_OK) {
    EXPECT_NE(g, nullptr);
  } else {
    EXPECT_EQ(g, nullptr);
  }
  sieve_grammar_free(g);
  return s;
}

std::string LastMessage() { return sieve_last_error()->message; }

TEST(CapiLimits, EachLimitFieldIsEnforcedAndNamed) {
  const std::string three_rules = "root ::= a a\na ::= b \"x\"\nb ::= \"y\"\n";
  sieve_grammar_options o;
  sieve_grammar_options_init(&o);
  EXPECT_EQ(Compile(three_rules, o), SIEVE_OK);
  o.max_rules = 2;
  EXPECT_EQ(Compile(three_rules, o), SIEVE_ERR_LIMIT);
  EXPECT_NE(LastMessage().find("max_rules"), std::string::npos) << LastMessage();

  sieve_grammar_options_init(&o);
  o.max_text_bytes = 8;
  EXPECT_EQ(Compile(three_rules, o), SIEVE_ERR_LIMIT);
  EXPECT_NE(LastMessage().find("max_text_bytes"), std::string::npos) << LastMessage();

  sieve_grammar_options_init(&o);
  o.max_repeat_bound = 10;
  EXPECT_EQ(Compile("root ::= \"a\"{0,20}", o), SIEVE_ERR_LIMIT);
  EXPECT_NE(LastMessage().find("max_repeat_bound"), std::string::npos) << LastMessage();

  sieve_grammar_options_init(&o);
  o.max_states = 100;
  EXPECT_EQ(Compile("root ::= \"" + std::string(500, 'q') + "\"", o), SIEVE_ERR_LIMIT);
  EXPECT_NE(LastMessage().find("max_states"), std::string::npos) << LastMessage();

  sieve_grammar_options_init(&o);
  o.max_rule_states = 500;
  EXPECT_EQ(Compile("root ::= [ab]* \"a\" [ab]{12}", o), SIEVE_ERR_LIMIT);
  EXPECT_NE(LastMessage().find("max_rule_states"), std::string::npos) << LastMessage();

  sieve_grammar_options_init(&o);
  o.max_nesting_depth = 10;
  EXPECT_EQ(Compile("root ::= " + std::string(20, '(') + "\"a\"" + std::string(20, ')'), o),
            SIEVE_ERR_LIMIT);
  EXPECT_NE(LastMessage().find("max_nesting_depth"), std::string::npos) << LastMessage();
}

TEST(CapiLimits, CompileTimeBudgetStopsAnExponentialAutomaton) {
  sieve_grammar_options o;
  sieve_grammar_options_init(&o);
  o.max_compile_ms = 100;
  o.max_rule_states = 1 << 30;
  o.max_states = int64_t{1} << 40;
  o.max_subset_states = int64_t{1} << 40;
  EXPECT_EQ(Compile("root ::= [ab]* \"a\" [ab]{24}", o), SIEVE_ERR_LIMIT);
  EXPECT_NE(LastMessage().find("max_compile_ms"), std::string::npos) << LastMessage();
}

TEST(CapiLimits, SubsetBudgetStopsAnUnanchoredPeriodicRegex) {
  sieve_grammar_options o;
  sieve_grammar_options_init(&o);
  o.max_subset_states = 1 << 20;
  const std::string pattern(4000, 'a');
  sieve_grammar* g = nullptr;
  EXPECT_EQ(sieve_grammar_compile_regex(pattern.data(), pattern.size(), &o, &g), SIEVE_ERR_LIMIT);
  EXPECT_EQ(g, nullptr);
  EXPECT_NE(LastMessage().find("max_subset_states"), std::string::npos) << LastMessage();
}

TEST(CapiLimits, AnOlderStructWithoutTheLimitFieldsKeepsTheDefaults) {
  sieve_grammar_options o;
  sieve_grammar_options_init(&o);
  o.max_rules = 1;  // past the old struct's end: must be ignored
  o.struct_size = offsetof(sieve_grammar_options, max_nesting_depth) + sizeof(int32_t);
  EXPECT_EQ(Compile("root ::= a\na ::= \"x\"\n", o), SIEVE_OK) << LastMessage();
}

TEST(CapiLimits, ATinyMaskCacheBudgetStillGivesExactMasks) {
  const char* tokens[] = {"a", "b", "ab", "ba", "abc", "c"};
  size_t lens[] = {1, 1, 2, 2, 3, 1};
  sieve_vocab* v = nullptr;
  ASSERT_EQ(sieve_vocab_create_from_tokens(tokens, lens, nullptr, 6, 6, &v), SIEVE_OK);
  const std::string text = "root ::= (\"ab\" | \"c\")+";
  uint32_t masks[2] = {0, 0};
  for (size_t budget : {size_t{0}, size_t{1}}) {  // 0 = default (512 MiB), 1 = nothing cached
    sieve_grammar_options o;
    sieve_grammar_options_init(&o);
    o.vocab = v;
    o.max_mask_cache_bytes = budget;
    sieve_grammar* g = nullptr;
    ASSERT_EQ(sieve_grammar_compile_ebnf(text.data(), text.size(), &o, &g), SIEVE_OK)
        << LastMessage();
    sieve_matcher* m = nullptr;
    ASSERT_EQ(sieve_matcher_create(g, nullptr, &m), SIEVE_OK);
    ASSERT_EQ(sieve_matcher_fill_next_token_bitmask(m, &masks[budget], 1), SIEVE_OK);
    sieve_matcher_free(m);
    sieve_grammar_free(g);
  }
  EXPECT_EQ(masks[0], masks[1]);
  EXPECT_EQ(masks[0], (1u << 0) | (1u << 2) | (1u << 4) | (1u << 5));  // a ab abc c
  sieve_vocab_free(v);
}

// --- the compile deadline covers the token-mask cache build; the compiler handle's limits ---

using sieve::testing::kQuickCpuMs;
using sieve::testing::ThreadCpuMs;

sieve_vocab* Llama3() {
  const char* d = std::getenv("SIEVE_DATA_DIR");
  const std::string dir =
      d ? d : std::string(std::getenv("HOME") ? std::getenv("HOME") : "") + "/.cache/sieve";
  sieve_vocab* v = nullptr;
  EXPECT_EQ(sieve_vocab_create_from_file((dir + "/tokenizers/llama3").c_str(), &v), SIEVE_OK)
      << LastMessage();
  return v;
}

TEST(CapiLimits, CompileTimeBudgetCoversTheMaskCacheBuild) {
  sieve_vocab* v = Llama3();
  ASSERT_NE(v, nullptr);
  sieve_grammar_options o;
  sieve_grammar_options_init(&o);
  o.vocab = v;
  sieve_grammar* g = nullptr;
  // Builds the vocabulary's token index once (not under a grammar's budget).
  ASSERT_EQ(sieve_grammar_compile_ebnf("root ::= \"a\"", 12, &o, &g), SIEVE_OK) << LastMessage();
  sieve_grammar_free(g);
  g = nullptr;
  o.max_compile_ms = 20;  // the automaton takes ~16 ms CPU, the mask cache ~2 s
  const std::string text = sieve::testing::HeavyMaskGrammar();
  const double t0 = ThreadCpuMs();
  EXPECT_EQ(sieve_grammar_compile_ebnf(text.data(), text.size(), &o, &g), SIEVE_ERR_LIMIT);
  const double cpu = ThreadCpuMs() - t0;
  EXPECT_EQ(g, nullptr);
  EXPECT_NE(LastMessage().find("max_compile_ms"), std::string::npos) << LastMessage();
  EXPECT_LT(cpu, kQuickCpuMs) << LastMessage();
  sieve_vocab_free(v);
}

TEST(CapiLimits, TheCompilerHandleAppliesItsLimitsAndDeadline) {
  sieve_vocab* v = Llama3();
  ASSERT_NE(v, nullptr);
  sieve_compiler_options co;
  sieve_compiler_options_init(&co);
  co.max_compile_ms = 20;
  co.max_nesting_depth = 10;
  co.max_repeat_bound = 100;
  sieve_compiler* c = nullptr;
  ASSERT_EQ(sieve_compiler_create(v, &co, &c), SIEVE_OK) << LastMessage();
  sieve_grammar* g = nullptr;
  ASSERT_EQ(sieve_compiler_compile_ebnf(c, "root ::= \"a\"", 12, nullptr, &g), SIEVE_OK)
      << LastMessage();
  sieve_grammar_free(g);
  g = nullptr;

  const std::string text = sieve::testing::HeavyMaskGrammar();
  const double t0 = ThreadCpuMs();
  EXPECT_EQ(sieve_compiler_compile_ebnf(c, text.data(), text.size(), nullptr, &g), SIEVE_ERR_LIMIT);
  const double cpu = ThreadCpuMs() - t0;
  EXPECT_EQ(g, nullptr);
  EXPECT_NE(LastMessage().find("max_compile_ms"), std::string::npos) << LastMessage();
  EXPECT_LT(cpu, kQuickCpuMs) << LastMessage();

  const std::string deep = "root ::= " + std::string(20, '(') + "\"a\"" + std::string(20, ')');
  EXPECT_EQ(sieve_compiler_compile_ebnf(c, deep.data(), deep.size(), nullptr, &g), SIEVE_ERR_LIMIT);
  EXPECT_NE(LastMessage().find("max_nesting_depth"), std::string::npos) << LastMessage();
  const std::string re = std::string(20, '(') + "a" + std::string(20, ')');
  EXPECT_EQ(sieve_compiler_compile_regex(c, re.data(), re.size(), &g), SIEVE_ERR_LIMIT);
  EXPECT_NE(LastMessage().find("max_nesting_depth"), std::string::npos) << LastMessage();
  const std::string rep = "root ::= \"a\"{0,500}";
  EXPECT_EQ(sieve_compiler_compile_ebnf(c, rep.data(), rep.size(), nullptr, &g), SIEVE_ERR_LIMIT);
  EXPECT_NE(LastMessage().find("max_repeat_bound"), std::string::npos) << LastMessage();
  EXPECT_EQ(g, nullptr);
  sieve_compiler_free(c);

  // The same handle made from an older struct (no limit fields) keeps the defaults.
  sieve_compiler_options_init(&co);
  co.max_nesting_depth = 10;  // past the old struct's end: ignored
  co.struct_size = offsetof(sieve_compiler_options, ignore_lookahead) + sizeof(int);
  ASSERT_EQ(sieve_compiler_create(v, &co, &c), SIEVE_OK) << LastMessage();
  EXPECT_EQ(sieve_compiler_compile_ebnf(c, deep.data(), deep.size(), nullptr, &g), SIEVE_OK)
      << LastMessage();
  sieve_grammar_free(g);
  sieve_compiler_free(c);
  sieve_vocab_free(v);
}

TEST(CapiLimits, TheCompilerHandleBoundsSchemas) {
  sieve_vocab* v = Llama3();
  ASSERT_NE(v, nullptr);
  sieve_compiler_options co;
  sieve_compiler_options_init(&co);
  co.max_text_bytes = 64;
  sieve_compiler* c = nullptr;
  ASSERT_EQ(sieve_compiler_create(v, &co, &c), SIEVE_OK) << LastMessage();
  const std::string schema = "{\"type\": \"string\", \"description\": \"" + std::string(100, 'x') + "\"}";
  sieve_grammar* g = nullptr;
  EXPECT_EQ(sieve_compiler_compile_json_schema(c, schema.data(), schema.size(), nullptr, &g),
            SIEVE_ERR_LIMIT);
  EXPECT_NE(LastMessage().find("max_schema_bytes"), std::string::npos) << LastMessage();
  EXPECT_EQ(g, nullptr);
  sieve_compiler_free(c);
  sieve_vocab_free(v);
}

}  // namespace
