// Memory accounting of the mask cache, the token trie and the grammar cache against the real heap
// (alloc_counter.h): MemorySize() must be within 10% of the bytes a build leaves allocated, and
// destroying the object must give them all back.
#include <gtest/gtest.h>

#include <string>

#include "grammar/grammar_cache.h"
#include "tests/grammar/alloc_counter.h"
#include "tests/grammar/mask_test_util.h"

namespace sieve {
namespace {

using mask_test::CompileText;
using mask_test::GrammarPath;
using mask_test::InfoOf;
using mask_test::ReadFile;
using mask_test::RealTokenizer;
using mask_test::VocabOf;
using testing_alloc::LiveBytes;

TEST(MaskMemory, MaskCacheMemorySizeIsWithinTenPercentOfItsHeapBytes) {
  auto tok = RealTokenizer("llama3");
  ASSERT_NE(tok, nullptr);
  auto vocab = VocabOf(*tok);
  auto info = InfoOf(vocab);
  // The long-token tries belong to the vocabulary's trie, built once with it (as every front door
  // does), not to a cache.
  TokenMaskCache::PrepareTokenizerInfo(*info);
  for (const char* name : {"json", "c_like", "nested_bounds", "csv"}) {
    SCOPED_TRACE(name);
    auto g = CompileText(ReadFile(GrammarPath(std::string(name) + ".ebnf")));
    ASSERT_NE(g, nullptr);
    const int64_t before = LiveBytes();
    {
      auto cache = TokenMaskCache::Build(g, info);
      ASSERT_TRUE(cache.ok()) << cache.status().ToString();
      const int64_t held = LiveBytes() - before;
      const auto reported = static_cast<int64_t>((*cache)->MemorySize());
      EXPECT_GT(reported, 0);
      EXPECT_LE(std::abs(held - reported), reported / 10)
          << "heap " << held << " bytes, MemorySize " << reported;
    }
    EXPECT_EQ(LiveBytes(), before) << "the cache must free everything it allocated";
  }
}

TEST(MaskMemory, TokenizerInfoMemorySizeIsWithinTenPercentOfItsHeapBytes) {
  auto tok = RealTokenizer("llama3");
  ASSERT_NE(tok, nullptr);
  auto vocab = VocabOf(*tok);
  const int64_t before = LiveBytes();
  {
    auto info = TokenizerInfo::Build(vocab);
    ASSERT_TRUE(info.ok());
    const int64_t held = LiveBytes() - before;
    const auto reported = static_cast<int64_t>((*info)->MemorySize());
    EXPECT_LE(std::abs(held - reported), reported / 10) << held << " vs " << reported;
  }
  EXPECT_EQ(LiveBytes(), before);
}

TEST(MaskMemory, GrammarCacheChargesWhatItsEntriesHold) {
  auto tok = RealTokenizer("llama3");
  ASSERT_NE(tok, nullptr);
  auto vocab = VocabOf(*tok);
  GrammarCache cache;
  ASSERT_TRUE(cache.GetTokenizerInfo(vocab).ok());  // per vocabulary, reported apart
  const int64_t before = LiveBytes();
  for (const char* name : {"json", "pgn", "unicode"}) {
    ASSERT_TRUE(
        cache.GetOrCompileEbnf(ReadFile(GrammarPath(std::string(name) + ".ebnf")), vocab).ok());
  }
  const int64_t held = LiveBytes() - before;
  const auto charged = static_cast<int64_t>(cache.MemorySize());
  EXPECT_EQ(cache.stats().entries, 3u);
  // Entries also hold small bookkeeping (keys, list and map nodes) that is not charged.
  EXPECT_LE(std::abs(held - charged), charged / 10) << held << " vs " << charged;
  cache.Clear();
  EXPECT_LE(LiveBytes() - before, 4096);
}

}  // namespace
}  // namespace sieve
