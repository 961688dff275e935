// PageTable (the KV cache's host bookkeeping) without a GPU: pages handed out lowest first and
// returned on removal, slots for positions across page boundaries, all-or-nothing appends when
// the pool runs short, and rejection of unknown or repeated sequences.
#include "decoder/page_table.h"

#include <gtest/gtest.h>

#include <vector>

namespace sieve {
namespace {

TEST(PageTable, AppendGrowsPagesAsPositionsCrossPageBoundaries) {
  PageTable t(8, 64);
  const int64_t a = t.AddSequence();
  auto s = t.Append({a}, {63});
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ((*s)[0], 0);
  EXPECT_EQ(t.pages(a).size(), 1u);
  s = t.Append({a}, {1});  // position 63: still the first page
  ASSERT_TRUE(s.ok());
  EXPECT_EQ((*s)[0], 63);
  EXPECT_EQ(t.pages(a).size(), 1u);
  s = t.Append({a}, {1});  // position 64: a second page
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(t.pages(a).size(), 2u);
  EXPECT_EQ(t.length(a), 65);
  EXPECT_EQ(t.free_pages(), 6);
  EXPECT_EQ(t.Slot(a, 0), 0);
  EXPECT_EQ(t.Slot(a, 63), 63);
  EXPECT_EQ(t.Slot(a, 64), 1 * 64 + 0);
}

TEST(PageTable, InterleavedSequencesGetDistinctPagesAndSlots) {
  PageTable t(8, 4);
  const int64_t a = t.AddSequence(), b = t.AddSequence();
  ASSERT_TRUE(t.Append({a, b}, {5, 3}).ok());  // a: pages 0, 1; b: page 2
  ASSERT_TRUE(t.Append({b, a}, {2, 1}).ok());  // b grows into page 3
  EXPECT_EQ(t.pages(a), (std::vector<int32_t>{0, 1}));
  EXPECT_EQ(t.pages(b), (std::vector<int32_t>{2, 3}));
  EXPECT_EQ(t.Slot(a, 5), 1 * 4 + 1);
  EXPECT_EQ(t.Slot(b, 4), 3 * 4 + 0);
}

TEST(PageTable, AFullPoolRejectsTheWholeStepAndChangesNothing) {
  PageTable t(3, 64);
  const int64_t a = t.AddSequence(), b = t.AddSequence();
  ASSERT_TRUE(t.Append({a}, {128}).ok());
  auto s = t.Append({a, b}, {1, 1});  // needs 2 pages, 1 free
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), StatusCode::kLimit);
  EXPECT_NE(s.status().message().find("KV cache full"), std::string::npos);
  EXPECT_EQ(t.length(a), 128);
  EXPECT_EQ(t.length(b), 0);
  EXPECT_EQ(t.free_pages(), 1);
  EXPECT_TRUE(t.Append({b}, {64}).ok());
}

TEST(PageTable, RemovingASequenceReturnsItsPagesLowestFirst) {
  PageTable t(4, 16);
  const int64_t a = t.AddSequence(), b = t.AddSequence();
  ASSERT_TRUE(t.Append({a}, {40}).ok());  // pages 0, 1, 2
  ASSERT_TRUE(t.Append({b}, {1}).ok());   // page 3
  EXPECT_EQ(t.free_pages(), 0);
  ASSERT_TRUE(t.RemoveSequence(a).ok());
  EXPECT_EQ(t.free_pages(), 3);
  EXPECT_FALSE(t.HasSequence(a));
  const int64_t c = t.AddSequence();
  EXPECT_NE(c, a);  // ids are not reused
  ASSERT_TRUE(t.Append({c}, {17}).ok());
  EXPECT_EQ(t.pages(c), (std::vector<int32_t>{0, 1}));
  EXPECT_EQ(t.capacity_tokens(), 64);
  EXPECT_EQ(t.free_tokens(), 16);
}

TEST(PageTable, UnknownAndRepeatedSequencesAreInvalidArguments) {
  PageTable t(4, 16);
  const int64_t a = t.AddSequence();
  EXPECT_EQ(t.Append({a + 7}, {1}).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(t.Append({a, a}, {1, 1}).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(t.Append({a}, {1, 2}).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(t.RemoveSequence(a + 7).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(t.length(a), 0);
  EXPECT_EQ(t.free_pages(), 4);
}

}  // namespace
}  // namespace sieve
