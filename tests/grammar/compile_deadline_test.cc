// The compile deadline (Limits::max_compile_ms) covers the token-mask cache build (issue 10): a
// grammar whose mask build takes far longer than a tiny budget fails with kLimit naming
// max_compile_ms, quickly, whether the build is called directly, through GrammarCache, or through
// the C API's compiler handle (tests/capi/capi_limits_test.cc). Time bounds are on this thread's
// CPU time, so a loaded CI machine cannot fail them; each test can fail: without the deadline the
// build succeeds (and takes long).
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <string>

#include "grammar/grammar_cache.h"
#include "grammar/limits.h"
#include "grammar/mask_cache.h"
#include "tests/grammar/mask_test_util.h"
#include "tests/testing/cpu_time.h"
#include "tests/testing/heavy_mask_grammar.h"

namespace sieve {
namespace {

using mask_test::BuildCache;
using mask_test::CompileText;
using mask_test::InfoOf;
using mask_test::RealTokenizer;
using mask_test::VocabOf;
using testing::HeavyMaskGrammar;
using testing::kQuickCpuMs;
using testing::ThreadCpuMs;


bool Mentions(const Status& s, const std::string& what) {
  return s.message().find(what) != std::string::npos;
}

TEST(CompileDeadline, ExpiredBudgetStopsTheMaskCacheBuildWithLimit) {
  auto tok = RealTokenizer("llama3");
  ASSERT_NE(tok, nullptr);
  auto info = InfoOf(VocabOf(*tok));
  auto g = CompileText(HeavyMaskGrammar());
  ASSERT_NE(g, nullptr);
  MaskCacheOptions opts;
  opts.deadline = Deadline::AfterMs(20);
  const double t0 = ThreadCpuMs();
  auto built = TokenMaskCache::Build(g, info, opts);
  const double cpu = ThreadCpuMs() - t0;
  ASSERT_FALSE(built.ok()) << "the whole mask build fit a 20 ms budget: make the grammar heavier";
  const Status& s = built.status();
  EXPECT_EQ(s.code(), StatusCode::kLimit) << s.ToString();
  EXPECT_TRUE(Mentions(s, "max_compile_ms")) << s.ToString();
  EXPECT_TRUE(Mentions(s, "building the token-mask cache")) << s.ToString();
  EXPECT_TRUE(Mentions(s, "states classified")) << s.ToString();
  EXPECT_LT(cpu, kQuickCpuMs) << s.ToString();
}

TEST(CompileDeadline, AThreadPoolBuildStopsToo) {
  auto tok = RealTokenizer("llama3");
  ASSERT_NE(tok, nullptr);
  auto info = InfoOf(VocabOf(*tok));
  auto g = CompileText(HeavyMaskGrammar());
  ASSERT_NE(g, nullptr);
  ThreadPool pool(3);
  MaskCacheOptions opts;
  opts.deadline = Deadline::AfterMs(20);
  const auto t0 = std::chrono::steady_clock::now();
  auto built = TokenMaskCache::Build(g, info, opts, &pool);
  ASSERT_FALSE(built.ok());
  EXPECT_EQ(built.status().code(), StatusCode::kLimit) << built.status().ToString();
  EXPECT_TRUE(Mentions(built.status(), "building the token-mask cache"));
  // The workers stop too (wall time here: the caller's CPU time does not include them).
  const double wall = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_LT(wall, 10 * kQuickCpuMs) << built.status().ToString();
}

TEST(CompileDeadline, AnUnexpiredBudgetChangesNothing) {
  auto tok = RealTokenizer("llama3");
  ASSERT_NE(tok, nullptr);
  auto vocab = VocabOf(*tok);
  auto g = CompileText("root ::= \"{\\\"a\\\": \" [0-9]{1,3} \"}\"");
  ASSERT_NE(g, nullptr);
  MaskCacheOptions opts;
  opts.deadline = Deadline::AfterMs(600000);
  auto with = BuildCache(g, vocab, opts);
  auto without = BuildCache(g, vocab);
  ASSERT_NE(with, nullptr);
  ASSERT_NE(without, nullptr);
  EXPECT_EQ(with->stats().cached_states, without->stats().cached_states);
  EXPECT_EQ(with->MemorySize(), without->MemorySize());
}

TEST(CompileDeadline, GrammarCacheAppliesMaxCompileMsToTheMaskBuild) {
  auto tok = RealTokenizer("llama3");
  ASSERT_NE(tok, nullptr);
  auto vocab = VocabOf(*tok);
  GrammarCache cache;
  ASSERT_TRUE(cache.GetTokenizerInfo(vocab).ok());  // per vocabulary, not under the budget
  GrammarCacheOptions opts;
  Limits limits;
  limits.max_compile_ms = 20;
  ApplyLimits(limits, &opts);
  EXPECT_EQ(opts.max_compile_ms, 20);
  // Parse, simplify and the automaton get a generous deadline of their own (a set deadline wins),
  // so only the mask build can run out of the 20 ms whatever the machine's load.
  opts.simplify.deadline = Deadline::AfterMs(600000);
  opts.compile.deadline = Deadline::AfterMs(600000);
  const std::string text = HeavyMaskGrammar();
  const double t0 = ThreadCpuMs();
  auto r = cache.GetOrCompileEbnf(text, vocab, opts);
  const double cpu = ThreadCpuMs() - t0;
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kLimit) << r.status().ToString();
  EXPECT_TRUE(Mentions(r.status(), "max_compile_ms")) << r.status().ToString();
  EXPECT_TRUE(Mentions(r.status(), "building the token-mask cache")) << r.status().ToString();
  EXPECT_LT(cpu, kQuickCpuMs + 500) << r.status().ToString();  // + parse and automaton
  EXPECT_EQ(cache.stats().entries, 0u);  // a failed compile is not cached

  // The IR entry point too.
  auto ir = ParseEbnf(text);
  ASSERT_TRUE(ir.ok());
  auto r2 = cache.GetOrCompile(*ir, vocab, opts);
  ASSERT_FALSE(r2.ok());
  EXPECT_EQ(r2.status().code(), StatusCode::kLimit) << r2.status().ToString();
  EXPECT_TRUE(Mentions(r2.status(), "building the token-mask cache")) << r2.status().ToString();
}

TEST(CompileDeadline, GrammarCacheAppliesTheOtherLimits) {
  auto tok = RealTokenizer("llama3");
  ASSERT_NE(tok, nullptr);
  auto vocab = VocabOf(*tok);
  GrammarCache cache;
  GrammarCacheOptions opts;
  Limits limits;
  limits.max_nesting_depth = 10;
  limits.max_states = 50;
  ApplyLimits(limits, &opts);
  auto deep = cache.GetOrCompileEbnf(
      "root ::= " + std::string(20, '(') + "\"a\"" + std::string(20, ')'), vocab, opts);
  ASSERT_FALSE(deep.ok());
  EXPECT_EQ(deep.status().code(), StatusCode::kLimit);
  EXPECT_TRUE(Mentions(deep.status(), "max_nesting_depth")) << deep.status().ToString();
  auto big = cache.GetOrCompileEbnf("root ::= \"" + std::string(200, 'q') + "\"", vocab, opts);
  ASSERT_FALSE(big.ok());
  EXPECT_EQ(big.status().code(), StatusCode::kLimit);
  EXPECT_TRUE(Mentions(big.status(), "max_states")) << big.status().ToString();
}

}  // namespace
}  // namespace sieve
