// Vocabulary: construction from tokens and from the flat layout, padding, stop tokens.
#include "grammar/tokenizer/vocabulary.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace sieve {
namespace {

TEST(VocabularyTest, FromTokensPadsToTheModelSizeAndDerivesTheIdLists) {
  auto v = Vocabulary::FromTokens(
      {"a", "bc", "<eos>", "<s>"},
      {kTokenNormal, kTokenNormal, kTokenSpecial | kTokenStop, kTokenSpecial}, 6, VocabKind::kRaw);
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_EQ(v->size(), 6u);
  EXPECT_EQ(v->TokenBytes(1), "bc");
  EXPECT_EQ(v->TokenBytes(5), "");
  EXPECT_TRUE(v->IsPadding(4));
  EXPECT_TRUE(v->IsPadding(5));
  EXPECT_FALSE(v->IsPadding(3));
  EXPECT_EQ(v->stop_tokens(), (std::vector<int32_t>{2}));
  EXPECT_EQ(v->special_tokens(), (std::vector<int32_t>{2, 3}));
  EXPECT_GT(v->MemorySize(), 0u);
}

TEST(VocabularyTest, FromTokensRejectsSizesThatDisagree) {
  EXPECT_EQ(Vocabulary::FromTokens({"a", "b"}, {0}, 2, VocabKind::kRaw).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(Vocabulary::FromTokens({"a", "b"}, {0, 0}, 1, VocabKind::kRaw).status().code(),
            StatusCode::kInvalidArgument);
}

TEST(VocabularyTest, PaddingIdsNeverKeepOtherFlags) {
  auto v = Vocabulary::FromFlat(
      "ab", {0, 1, 2, 2}, {kTokenNormal, kTokenNormal, kTokenPadding | kTokenStop | kTokenSpecial},
      VocabKind::kRaw);
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_EQ(v->Flags(2), kTokenPadding);
  EXPECT_TRUE(v->stop_tokens().empty());
  EXPECT_TRUE(v->special_tokens().empty());
}

TEST(VocabularyTest, FromFlatValidatesTheOffsets) {
  EXPECT_FALSE(Vocabulary::FromFlat("ab", {0, 2}, {0, 0}, VocabKind::kRaw).ok());
  EXPECT_FALSE(Vocabulary::FromFlat("ab", {0, 2, 1}, {0, 0}, VocabKind::kRaw).ok());
  EXPECT_FALSE(Vocabulary::FromFlat("ab", {0, 1, 1}, {0, 0}, VocabKind::kRaw).ok());
  EXPECT_FALSE(Vocabulary::FromFlat("ab", {0, 1, 2}, {0, kTokenPadding}, VocabKind::kRaw).ok());
  EXPECT_TRUE(Vocabulary::FromFlat("ab", {0, 1, 2}, {0, 0}, VocabKind::kRaw).ok());
}

TEST(VocabularyTest, PaddedToGrowsButNeverShrinks) {
  auto v = Vocabulary::FromTokens({"x", "y"}, {kTokenNormal, kTokenStop}, 2, VocabKind::kRaw);
  ASSERT_TRUE(v.ok());
  auto p = v->PaddedTo(5);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->size(), 5u);
  EXPECT_EQ(p->TokenBytes(1), "y");
  EXPECT_TRUE(p->IsPadding(4));
  EXPECT_EQ(p->stop_tokens(), (std::vector<int32_t>{1}));
  EXPECT_FALSE(v->PaddedTo(1).ok());
}

TEST(VocabularyTest, AddStopTokenAcceptsOnlyDefinedIds) {
  auto v = Vocabulary::FromTokens({"x", "y"}, {0, 0}, 3, VocabKind::kRaw);
  ASSERT_TRUE(v.ok());
  Vocabulary vocab = std::move(v).value();
  EXPECT_TRUE(vocab.AddStopToken(1).ok());
  EXPECT_EQ(vocab.stop_tokens(), (std::vector<int32_t>{1}));
  EXPECT_TRUE(vocab.IsStop(1));
  EXPECT_EQ(vocab.AddStopToken(2).code(), StatusCode::kInvalidArgument);  // padding
  EXPECT_EQ(vocab.AddStopToken(3).code(), StatusCode::kInvalidArgument);  // out of range
  EXPECT_EQ(vocab.AddStopToken(-1).code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace sieve
