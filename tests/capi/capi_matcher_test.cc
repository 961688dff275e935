// Compiled grammars and matchers through the C API, as an embedder sees them.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "sieve/sieve.h"

namespace {

bool Allowed(const std::vector<uint32_t>& mask, int id) { return (mask[id >> 5] >> (id & 31)) & 1u; }

struct Fixture {
  sieve_vocab* vocab = nullptr;
  sieve_grammar* grammar = nullptr;
  sieve_matcher* matcher = nullptr;
  ~Fixture() {
    sieve_matcher_free(matcher);
    sieve_grammar_free(grammar);
    sieve_vocab_free(vocab);
  }
};

// ids: 0 "a", 1 "b", 2 "ab", 3 ",", 4 "[", 5 "]", 6 <eos> (special stop), 7 "x"; model vocab 40.
void MakeListGrammar(Fixture* f) {
  const char* toks[] = {"a", "b", "ab", ",", "[", "]", "</s>", "x"};
  size_t lens[] = {1, 1, 2, 1, 1, 1, 4, 1};
  uint32_t flags[] = {0, 0, 0, 0, 0, 0, SIEVE_TOKEN_SPECIAL | SIEVE_TOKEN_STOP, 0};
  ASSERT_EQ(sieve_vocab_create_from_tokens(toks, lens, flags, 8, 40, &f->vocab), SIEVE_OK);
  const char* text = "root ::= \"[\" item (\",\" item)* \"]\"\nitem ::= [ab]+\n";
  sieve_grammar_options opts;
  sieve_grammar_options_init(&opts);
  opts.vocab = f->vocab;
  ASSERT_EQ(sieve_grammar_compile_ebnf(text, std::string(text).size(), &opts, &f->grammar), SIEVE_OK)
      << sieve_last_error()->message;
  ASSERT_EQ(sieve_matcher_create(f->grammar, nullptr, &f->matcher), SIEVE_OK);
}

TEST(CApiMatcher, MasksAcceptsAndTerminates) {
  Fixture f;
  MakeListGrammar(&f);
  std::vector<uint32_t> mask(2);
  ASSERT_EQ(sieve_matcher_fill_next_token_bitmask(f.matcher, mask.data(), mask.size()), SIEVE_OK);
  for (int id = 0; id < 40; ++id) EXPECT_EQ(Allowed(mask, id), id == 4) << id;
  EXPECT_EQ(sieve_matcher_accept_token(f.matcher, 0), SIEVE_REJECTED);
  ASSERT_EQ(sieve_matcher_accept_token(f.matcher, 4), SIEVE_OK);
  ASSERT_EQ(sieve_matcher_fill_next_token_bitmask(f.matcher, mask.data(), mask.size()), SIEVE_OK);
  EXPECT_TRUE(Allowed(mask, 0) && Allowed(mask, 1) && Allowed(mask, 2));
  EXPECT_FALSE(Allowed(mask, 3) || Allowed(mask, 5) || Allowed(mask, 6) || Allowed(mask, 7));
  ASSERT_EQ(sieve_matcher_accept_token(f.matcher, 2), SIEVE_OK);
  ASSERT_EQ(sieve_matcher_accept_token(f.matcher, 5), SIEVE_OK);
  EXPECT_TRUE(sieve_matcher_can_terminate(f.matcher));
  ASSERT_EQ(sieve_matcher_fill_next_token_bitmask(f.matcher, mask.data(), mask.size()), SIEVE_OK);
  for (int id = 0; id < 40; ++id) EXPECT_EQ(Allowed(mask, id), id == 6) << id;
  EXPECT_FALSE(sieve_matcher_is_terminated(f.matcher));
  ASSERT_EQ(sieve_matcher_accept_token(f.matcher, 6), SIEVE_OK);
  EXPECT_TRUE(sieve_matcher_is_terminated(f.matcher));
}

// A rejection forced by the matcher's stack-depth limit is told apart from one the grammar makes.
TEST(CApiMatcher, LimitHitTellsALimitFromARejection) {
  const char* text = "root ::= \"(\" root \")\" | \"\"\n";
  sieve_grammar* grammar = nullptr;
  ASSERT_EQ(sieve_grammar_compile_ebnf(text, std::string(text).size(), nullptr, &grammar),
            SIEVE_OK)
      << sieve_last_error()->message;
  sieve_matcher* plain = nullptr;
  sieve_matcher* deep = nullptr;
  ASSERT_EQ(sieve_matcher_create(grammar, nullptr, &plain), SIEVE_OK);
  ASSERT_EQ(sieve_matcher_create(grammar, nullptr, &deep), SIEVE_OK);
  EXPECT_EQ(sieve_matcher_accept_string(plain, "(()", 3), SIEVE_OK);
  EXPECT_EQ(sieve_matcher_accept_string(plain, "x", 1), SIEVE_REJECTED);
  EXPECT_EQ(sieve_matcher_limit_hit(plain), 0);
  const std::string opens(70000, '(');  // the default stack depth is 65,536 frames
  EXPECT_EQ(sieve_matcher_accept_string(deep, opens.data(), opens.size()), SIEVE_REJECTED);
  EXPECT_EQ(sieve_matcher_limit_hit(deep), 1);
  EXPECT_EQ(sieve_matcher_limit_hit(nullptr), 0);
  sieve_matcher_free(plain);
  sieve_matcher_free(deep);
  sieve_grammar_free(grammar);
}

TEST(CApiMatcher, RollbackForkAndJumpForward) {
  Fixture f;
  MakeListGrammar(&f);
  const char* bytes = nullptr;
  size_t len = 0;
  ASSERT_EQ(sieve_matcher_jump_forward(f.matcher, &bytes, &len), SIEVE_OK);
  EXPECT_EQ(std::string(bytes, len), "[");
  ASSERT_EQ(sieve_matcher_accept_string(f.matcher, "[a", 2), SIEVE_OK);
  sieve_matcher* fork = nullptr;
  ASSERT_EQ(sieve_matcher_fork(f.matcher, &fork), SIEVE_OK);
  ASSERT_EQ(sieve_matcher_accept_string(fork, "]", 1), SIEVE_OK);
  EXPECT_TRUE(sieve_matcher_can_terminate(fork));
  EXPECT_FALSE(sieve_matcher_can_terminate(f.matcher));  // the original did not move
  sieve_matcher_free(fork);
  ASSERT_EQ(sieve_matcher_accept_string(f.matcher, ",b]", 3), SIEVE_OK);
  EXPECT_TRUE(sieve_matcher_can_terminate(f.matcher));
  ASSERT_EQ(sieve_matcher_rollback(f.matcher, 1), SIEVE_OK);
  EXPECT_FALSE(sieve_matcher_can_terminate(f.matcher));
  EXPECT_EQ(sieve_matcher_rollback(f.matcher, 10), SIEVE_ERR_INVALID_ARGUMENT);
  sieve_matcher_reset(f.matcher);
  EXPECT_EQ(sieve_matcher_accept_string(f.matcher, "a", 1), SIEVE_REJECTED);
}

TEST(CApiMatcher, ParseErrorsCarryLineAndColumn) {
  sieve_grammar* g = reinterpret_cast<sieve_grammar*>(0x1);
  const char* text = "root ::= item\nitem ::= \"a\" | (\"b\"\n";
  EXPECT_EQ(sieve_grammar_compile_ebnf(text, std::string(text).size(), nullptr, &g), SIEVE_ERR_PARSE);
  EXPECT_EQ(g, nullptr);
  const sieve_error* e = sieve_last_error();
  EXPECT_EQ(e->status, SIEVE_ERR_PARSE);
  EXPECT_EQ(e->line, 2);
  EXPECT_GT(e->column, 0);
  EXPECT_GE(e->offset, 14);
}

TEST(CApiMatcher, TooSmallBitmaskIsAnError) {
  Fixture f;
  MakeListGrammar(&f);
  uint32_t words[3] = {0, 0, 0};
  // The model vocab has 40 ids: two words are needed, three are fine (ids past 40 stay 0), one is not.
  EXPECT_EQ(sieve_matcher_fill_next_token_bitmask(f.matcher, words, 3), SIEVE_OK);
  EXPECT_EQ(words[2], 0u);
  EXPECT_EQ(sieve_matcher_fill_next_token_bitmask(f.matcher, words, 1), SIEVE_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(sieve_matcher_accept_token(f.matcher, 99), SIEVE_ERR_INVALID_ARGUMENT);
}

TEST(CApiMatcher, StatsAndPrint) {
  Fixture f;
  MakeListGrammar(&f);
  sieve_grammar_stats st;
  st.struct_size = sizeof st;
  ASSERT_EQ(sieve_grammar_get_stats(f.grammar, &st), SIEVE_OK);
  EXPECT_EQ(st.rules, 2);
  EXPECT_GT(st.states, 0);
  EXPECT_LE(st.states, st.dfa_states);
  size_t n = 0;
  sieve_grammar_print(f.grammar, 0, nullptr, 0, &n);
  std::string text(n, '\0');
  ASSERT_EQ(sieve_grammar_print(f.grammar, 0, text.data(), text.size(), &n), SIEVE_OK);
  EXPECT_NE(text.find("item ::="), std::string::npos);
}

TEST(CApiMatcher, UnusedRulesAreWarnings) {
  sieve_grammar* g = nullptr;
  const char* text = "root ::= \"a\"\nunused ::= \"b\"\n";
  ASSERT_EQ(sieve_grammar_compile_ebnf(text, std::string(text).size(), nullptr, &g), SIEVE_OK);
  ASSERT_NE(sieve_grammar_warning(g, 0), nullptr);
  EXPECT_NE(std::string(sieve_grammar_warning(g, 0)).find("unused"), std::string::npos);
  EXPECT_EQ(sieve_grammar_warning(g, 1), nullptr);
  sieve_grammar_free(g);
}

TEST(CApiMatcher, CompilesARegexWithSchemaPatternSemantics) {
  sieve_grammar* g = nullptr;
  const char* re = "^[a-z]+@[a-z]+\\.(com|org)$";
  ASSERT_EQ(sieve_grammar_compile_regex(re, std::string(re).size(), nullptr, &g), SIEVE_OK)
      << sieve_last_error()->message;
  sieve_matcher* m = nullptr;
  ASSERT_EQ(sieve_matcher_create(g, nullptr, &m), SIEVE_OK);
  ASSERT_EQ(sieve_matcher_accept_string(m, "ab@cd.org", 9), SIEVE_OK);
  EXPECT_TRUE(sieve_matcher_can_terminate(m));
  EXPECT_EQ(sieve_matcher_accept_string(m, "x", 1), SIEVE_REJECTED);
  sieve_matcher_free(m);
  sieve_grammar_free(g);
  // Unanchored: anything may surround the match.
  ASSERT_EQ(sieve_grammar_compile_regex("b+", 2, nullptr, &g), SIEVE_OK);
  ASSERT_EQ(sieve_matcher_create(g, nullptr, &m), SIEVE_OK);
  ASSERT_EQ(sieve_matcher_accept_string(m, "xxbyy", 5), SIEVE_OK);
  EXPECT_TRUE(sieve_matcher_can_terminate(m));
  sieve_matcher_free(m);
  sieve_grammar_free(g);
}

TEST(CApiMatcher, RegexBackreferenceIsUnsupportedWithItsOffset) {
  sieve_grammar* g = nullptr;
  EXPECT_EQ(sieve_grammar_compile_regex("(a)\\1", 5, nullptr, &g), SIEVE_ERR_UNSUPPORTED);
  EXPECT_EQ(g, nullptr);
  EXPECT_EQ(sieve_last_error()->offset, 3);
}

}  // namespace
