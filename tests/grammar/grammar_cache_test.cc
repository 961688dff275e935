// The pieces around the mask cache: the token trie (TokenizerInfo), the thread pool, the batch
// fill, and the compiled-grammar cache (content keys, LRU budget, thread safety).
#include "grammar/grammar_cache.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <random>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "grammar/thread_pool.h"
#include "tests/grammar/mask_test_util.h"

namespace sieve {
namespace {

using mask_test::BuildCache;
using mask_test::CompileText;
using mask_test::GrammarPath;
using mask_test::InfoOf;
using mask_test::ReadFile;
using mask_test::RealTokenizer;
using mask_test::VocabOf;

TEST(TokenTrie, EveryByteTokenSitsAtTheNodeSpellingItsBytesInSortedOrder) {
  auto tok = RealTokenizer("llama3");
  ASSERT_NE(tok, nullptr);
  auto vocab = VocabOf(*tok);
  auto info = InfoOf(vocab);
  ASSERT_NE(info, nullptr);
  size_t tokens = 0;
  std::string prefix;
  for (int32_t n = 1; n < info->num_nodes(); ++n) {
    prefix.resize(info->depth(n) - 1);
    prefix.push_back(static_cast<char>(info->byte(n)));
    ASSERT_GT(info->end(n), n);
    for (const int32_t id : info->node_tokens(n)) {
      ASSERT_EQ(vocab->TokenBytes(id), prefix) << id;
      ++tokens;
    }
  }
  tokens += info->empty_tokens().size();
  EXPECT_EQ(tokens, info->num_byte_tokens());
  EXPECT_EQ(info->num_byte_tokens(), vocab->size() - vocab->special_tokens().size());
  for (size_t i = 1; i < info->sorted_ids().size(); ++i) {
    ASSERT_LE(vocab->TokenBytes(info->sorted_ids()[i - 1]),
              vocab->TokenBytes(info->sorted_ids()[i]));
  }
  // Special tokens are never byte tokens.
  for (const int32_t id : vocab->special_tokens()) {
    EXPECT_FALSE(info->byte_token_mask()[id >> 5] >> (id & 31) & 1) << id;
  }
}

TEST(TokenTrie, SubtreeByteSetsCoverEveryByteBelowTheNode) {
  auto tok = RealTokenizer("llama3");
  ASSERT_NE(tok, nullptr);
  auto info = InfoOf(VocabOf(*tok));
  int checked = 0;
  for (int32_t n = 0; n < info->num_nodes() && checked < 200; ++n) {
    const uint64_t* below = info->subtree_bytes(n);
    if (below == nullptr) continue;
    uint64_t expect[4] = {0, 0, 0, 0};
    for (int32_t m = n + 1; m < info->end(n); ++m) {
      expect[info->byte(m) >> 6] |= uint64_t{1} << (info->byte(m) & 63);
    }
    for (int w = 0; w < 4; ++w) ASSERT_EQ(below[w], expect[w]) << n;
    ++checked;
  }
  EXPECT_EQ(checked, 200);
}

// parents_of_byte(b) is searched by std::lower_bound (MaskBuilder::RecordPopRange): it must be
// exactly the nodes with a child adding b, ascending. Filled in the children's preorder they are
// not: a node P with children "a" and "x", where "a" has a child "x" too, lists P's "a" before P
// for byte 'x', and a binary search in an unsorted range misses nodes.
TEST(TokenTrie, ParentsOfEachByteAreTheNodesWithSuchAChildAscending) {
  auto tok = RealTokenizer("llama3");
  ASSERT_NE(tok, nullptr);
  auto info = InfoOf(VocabOf(*tok));
  std::vector<std::vector<int32_t>> expect(256);
  std::vector<int32_t> open{0};
  for (int32_t n = 1; n < info->num_nodes(); ++n) {
    while (info->end(open.back()) <= n) open.pop_back();
    std::vector<int32_t>& e = expect[info->byte(n)];
    e.push_back(open.back());
    open.push_back(n);
  }
  for (int b = 0; b < 256; ++b) {
    std::sort(expect[b].begin(), expect[b].end());
    const std::span<const int32_t> got = info->parents_of_byte(static_cast<uint8_t>(b));
    ASSERT_EQ(std::vector<int32_t>(got.begin(), got.end()), expect[b]) << "byte " << b;
  }
}

TEST(ThreadPool, RunsEveryIndexOnceOnDistinctWorkers) {
  ThreadPool pool(3);
  EXPECT_EQ(pool.num_threads(), 3);
  for (int round = 0; round < 20; ++round) {
    std::vector<std::atomic<int>> seen(257);
    std::atomic<int> bad_worker{0};
    pool.ParallelFor(seen.size(), [&](size_t i, int worker) {
      if (worker < 0 || worker >= 3) ++bad_worker;
      ++seen[i];
    });
    for (auto& s : seen) ASSERT_EQ(s.load(), 1);
    EXPECT_EQ(bad_worker.load(), 0);
  }
  int inline_calls = 0;
  RunParallel(nullptr, 5, [&](size_t, int worker) { inline_calls += worker == 0; });
  EXPECT_EQ(inline_calls, 5);
  // RunBoth: each function once, on a pool and inline.
  for (ThreadPool* p : {&pool, static_cast<ThreadPool*>(nullptr)}) {
    std::atomic<int> a{0}, b{0};
    RunBoth(p, [&] { ++a; }, [&] { ++b; });
    EXPECT_EQ(a.load(), 1);
    EXPECT_EQ(b.load(), 1);
  }
}

TEST(MaskBatch, BatchRowsEqualSingleFillsOnTwoThreads) {
  auto tok = RealTokenizer("llama3");
  ASSERT_NE(tok, nullptr);
  auto vocab = VocabOf(*tok);
  auto cache = BuildCache(CompileText(ReadFile(GrammarPath("json.ebnf"))), vocab);
  ASSERT_NE(cache, nullptr);
  const std::vector<int32_t> ids = tok->Encode(R"({"a": [1, 2.5, "x\"y"], "b": {"c": null}})");
  std::vector<GrammarMatcher> matchers;
  for (size_t i = 0; i < 64; ++i) {
    matchers.emplace_back(cache);
    for (size_t k = 0; k < i % ids.size(); ++k) ASSERT_TRUE(matchers.back().AcceptToken(ids[k]));
  }
  std::vector<GrammarMatcher*> ptrs;
  for (GrammarMatcher& m : matchers) ptrs.push_back(&m);
  const size_t words = BitmaskWords(vocab->size()) + 3;  // padded rows
  std::vector<uint32_t> batch(words * ptrs.size(), 0xFFFFFFFFu);
  ThreadPool pool(2);
  GrammarMatcher::FillNextTokenBitmaskBatch(ptrs, batch.data(), words, &pool);
  for (size_t i = 0; i < ptrs.size(); ++i) {
    std::vector<uint32_t> row(words);
    ptrs[i]->FillNextTokenBitmaskNaive(row.data(), words);
    ASSERT_TRUE(std::equal(row.begin(), row.end(), batch.begin() + i * words)) << "row " << i;
  }
}

TEST(GrammarCache, ASecondCompileOfTheSameGrammarIsALookup) {
  auto tok = RealTokenizer("llama3");
  ASSERT_NE(tok, nullptr);
  auto vocab = VocabOf(*tok);
  GrammarCache cache;
  const std::string json = ReadFile(GrammarPath("json.ebnf"));
  auto first = cache.GetOrCompileEbnf(json, vocab);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  const auto t0 = std::chrono::steady_clock::now();
  auto second = cache.GetOrCompileEbnf(json, vocab);
  const double us =
      std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count();
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(first->get(), second->get());
  EXPECT_LT(us, 1000.0) << "a hit must not recompile";
  EXPECT_EQ(cache.stats().hits, 1);
  EXPECT_EQ(cache.stats().misses, 1);
  // The same grammar from its IR is its own key; so are other options and other vocabularies.
  auto ir = ParseEbnf(json);
  ASSERT_TRUE(ir.ok());
  auto a = cache.GetOrCompile(*ir, vocab);
  auto b = cache.GetOrCompile(*ir, vocab);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->get(), b->get());
  GrammarCacheOptions other;
  other.mask.build.context_levels = 1;
  auto c = cache.GetOrCompileEbnf(json, vocab, other);
  ASSERT_TRUE(c.ok());
  EXPECT_NE(c->get(), first->get());
  auto padded = vocab->PaddedTo(vocab->size() + 64);
  ASSERT_TRUE(padded.ok());
  auto d = cache.GetOrCompileEbnf(json, std::make_shared<const Vocabulary>(std::move(*padded)));
  ASSERT_TRUE(d.ok());
  EXPECT_NE(d->get(), first->get());
  EXPECT_EQ(cache.stats().entries, 4u);
  // Errors are reported, not cached.
  EXPECT_FALSE(cache.GetOrCompileEbnf("root ::= (", vocab).ok());
  EXPECT_EQ(cache.stats().entries, 4u);
}

TEST(GrammarCache, EvictsTheLeastRecentlyUsedGrammarToStayWithinItsBudget) {
  auto tok = RealTokenizer("llama3");
  ASSERT_NE(tok, nullptr);
  auto vocab = VocabOf(*tok);
  GrammarCache cache;
  const std::string a = ReadFile(GrammarPath("json.ebnf"));
  const std::string b = ReadFile(GrammarPath("pgn.ebnf"));
  const std::string c = ReadFile(GrammarPath("unicode.ebnf"));
  auto ra = cache.GetOrCompileEbnf(a, vocab);
  auto rb = cache.GetOrCompileEbnf(b, vocab);
  auto rc = cache.GetOrCompileEbnf(c, vocab);
  ASSERT_TRUE(ra.ok() && rb.ok() && rc.ok());
  ASSERT_TRUE(cache.GetOrCompileEbnf(a, vocab).ok());  // use order now: b, c, a (most recent)
  const size_t all = cache.MemorySize();
  cache.set_max_bytes(all - 1);  // one must go: the least recently used, b
  EXPECT_LT(cache.MemorySize(), all);
  EXPECT_EQ(cache.stats().evictions, 1);
  const int64_t misses = cache.stats().misses;
  ASSERT_TRUE(cache.GetOrCompileEbnf(a, vocab).ok());
  ASSERT_TRUE(cache.GetOrCompileEbnf(c, vocab).ok());
  EXPECT_EQ(cache.stats().misses, misses) << "a and c were used last: they must have survived";
  ASSERT_TRUE(cache.GetOrCompileEbnf(b, vocab).ok());
  EXPECT_EQ(cache.stats().misses, misses + 1) << "b was the least recently used";
  EXPECT_LE(cache.MemorySize(), all - 1);
  // An evicted grammar stays valid for whoever holds it.
  GrammarMatcher m(*rb);
  EXPECT_TRUE(m.AcceptString("1. e4 e5 1-0"));
  // A grammar larger than the whole budget is returned but not kept.
  cache.set_max_bytes(1000);
  EXPECT_EQ(cache.stats().entries, 0u);
  ASSERT_TRUE(cache.GetOrCompileEbnf(a, vocab).ok());
  EXPECT_EQ(cache.stats().entries, 0u);
}

TEST(GrammarCache, ConcurrentCompilesOfManyGrammarsAgree) {
  auto tok = RealTokenizer("llama3");
  ASSERT_NE(tok, nullptr);
  auto vocab = VocabOf(*tok);
  GrammarCache cache;
  ASSERT_TRUE(cache.GetTokenizerInfo(vocab).ok());
  std::vector<std::string> grammars;
  for (int i = 0; i < 8; ++i) {
    grammars.push_back("root ::= \"v" + std::to_string(i) + "\" [0-9]{1," + std::to_string(40 + i) +
                       "}");
  }
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int k = 0; k < 16; ++k) {
        const std::string& g = grammars[(t + k) % grammars.size()];
        auto r = cache.GetOrCompileEbnf(g, vocab);
        if (!r.ok()) ++failures;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(cache.stats().entries, grammars.size());
  EXPECT_EQ(cache.stats().hits + cache.stats().misses, 64);
}

}  // namespace
}  // namespace sieve
