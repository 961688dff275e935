// The fp32 CPU reference model on tiny random checkpoints: absorbed and plain attention agree,
// token-by-token decode reproduces prefill at every position, batched greedy generation matches
// recomputation without a cache, and every non-expert tensor actually reaches the logits.
#include "decoder/cpu_model.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "decoder/random_model.h"
#include "tests/testing/model_folder.h"
#include "tests/testing/scoped_temp_dir.h"

namespace sieve {
namespace {

using ::sieve::testing::ScopedTempDir;

float MaxAbsDiff(const float* a, const float* b, size_t n) {
  float m = 0;
  for (size_t i = 0; i < n; ++i) m = std::max(m, std::fabs(a[i] - b[i]));
  return m;
}

float MaxAbs(const std::vector<float>& v) {
  float m = 0;
  for (float x : v) m = std::max(m, std::fabs(x));
  return m;
}

std::vector<int32_t> Tokens(int n, int vocab, int salt) {
  std::vector<int32_t> t(n);
  for (int i = 0; i < n; ++i) t[i] = (i * 37 + salt * 11 + 5) % vocab;
  return t;
}

// One tiny model per preset, written once for the whole suite.
class CpuModelTest : public ::testing::TestWithParam<const char*> {
 protected:
  static void SetUpTestSuite() { dir_ = new ScopedTempDir(); }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }
  void SetUp() override {
    const std::string folder = dir_->File(GetParam());
    if (!std::filesystem::exists(folder)) {
      auto c = PresetConfig(GetParam(), 128);
      ASSERT_TRUE(c.ok());
      RandomModelOptions o;
      o.out_dir = folder;
      o.seed = 42;
      o.dtype = DType::kF32;
      auto r = WriteRandomModel(*c, o);
      ASSERT_TRUE(r.ok()) << r.status().ToString();
    }
    auto m = CpuModel::Load(folder);
    ASSERT_TRUE(m.ok()) << m.status().ToString();
    model_ = *m;
    vocab_ = static_cast<int>(model_->config().vocab_size);
  }
  static ScopedTempDir* dir_;
  std::shared_ptr<const CpuModel> model_;
  int vocab_ = 0;
};
ScopedTempDir* CpuModelTest::dir_ = nullptr;

TEST_P(CpuModelTest, AbsorbedAttentionMatchesPlainAttentionOnAWholePrefill) {
  const std::vector<int32_t> t = Tokens(13, vocab_, 1);
  CpuSession plain(model_), absorbed(model_);
  auto a = plain.Prefill(t, /*all_positions=*/true, AttentionForm::kPlain);
  auto b = absorbed.Prefill(t, /*all_positions=*/true, AttentionForm::kAbsorbed);
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_EQ(a->size(), t.size() * vocab_);
  EXPECT_GT(MaxAbs(*a), 0.1f) << "logits are degenerate";
  EXPECT_LE(MaxAbsDiff(a->data(), b->data(), a->size()), 1e-5f);
  // Layer 0's cache does not depend on attention; deeper layers' differ by rounding only.
  EXPECT_EQ(plain.latent_cache(0), absorbed.latent_cache(0));
  for (int64_t l = 1; l < model_->config().num_hidden_layers; ++l) {
    const auto& x = plain.latent_cache(l);
    ASSERT_EQ(x.size(), absorbed.latent_cache(l).size());
    EXPECT_LE(MaxAbsDiff(x.data(), absorbed.latent_cache(l).data(), x.size()), 1e-5f);
  }
}

TEST_P(CpuModelTest, DecodingTokenByTokenReproducesPrefillLogitsAtEveryPosition) {
  const std::vector<int32_t> t = Tokens(17, vocab_, 2);
  CpuSession full(model_);
  auto want = full.Prefill(t, /*all_positions=*/true);
  ASSERT_TRUE(want.ok());
  CpuSession step(model_);
  for (size_t i = 0; i < t.size(); ++i) {
    auto got = i == 0 ? step.Prefill({t[0]}) : step.DecodeStep(t[i]);
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    ASSERT_EQ(got->size(), static_cast<size_t>(vocab_));
    EXPECT_LE(MaxAbsDiff(got->data(), want->data() + i * vocab_, vocab_), 1e-5f)
        << "position " << i;
  }
  EXPECT_EQ(step.length(), 17);
  EXPECT_EQ(step.latent_cache(0).size(), 17u * model_->config().LatentCacheDim());
}

TEST_P(CpuModelTest, ChunkedPrefillMatchesOnePrefill) {
  const std::vector<int32_t> t = Tokens(12, vocab_, 3);
  CpuSession full(model_), chunked(model_);
  auto want = full.Prefill(t, true);
  ASSERT_TRUE(chunked.Prefill({t.begin(), t.begin() + 5}).ok());
  auto got = chunked.Prefill({t.begin() + 5, t.end()}, true);
  ASSERT_TRUE(want.ok() && got.ok());
  EXPECT_LE(MaxAbsDiff(got->data(), want->data() + 5 * vocab_, 7 * vocab_), 1e-5f);
}

TEST_P(CpuModelTest, LaterTokensDoNotChangeEarlierLogits) {
  std::vector<int32_t> t = Tokens(9, vocab_, 4);
  CpuSession a(model_), b(model_);
  auto x = a.Prefill(t, true);
  t.back() = (t.back() + 1) % vocab_;
  auto y = b.Prefill(t, true);
  ASSERT_TRUE(x.ok() && y.ok());
  EXPECT_EQ(MaxAbsDiff(x->data(), y->data(), 8 * vocab_), 0.0f);
  EXPECT_GT(MaxAbsDiff(x->data() + 8 * vocab_, y->data() + 8 * vocab_, vocab_), 1e-3f);
}

TEST_P(CpuModelTest, BatchedGreedyGenerationMatchesRecomputingWithoutACache) {
  const std::vector<std::vector<int32_t>> prompts = {Tokens(1, vocab_, 5), Tokens(6, vocab_, 6),
                                                     Tokens(11, vocab_, 7)};
  const int64_t n = 8;
  auto gen = GreedyGenerate(model_, prompts, n);
  ASSERT_TRUE(gen.ok()) << gen.status().ToString();
  ASSERT_EQ(gen->size(), prompts.size());
  for (size_t b = 0; b < prompts.size(); ++b) {
    ASSERT_EQ((*gen)[b].size(), static_cast<size_t>(n));
    std::vector<int32_t> seq = prompts[b];
    for (int64_t k = 0; k < n; ++k) {
      CpuSession fresh(model_);
      auto logits = fresh.Prefill(seq);
      ASSERT_TRUE(logits.ok());
      ASSERT_EQ((*gen)[b][k], Argmax(logits->data(), vocab_)) << "prompt " << b << " step " << k;
      seq.push_back((*gen)[b][k]);
    }
    auto alone = GreedyGenerate(model_, {prompts[b]}, n);
    ASSERT_TRUE(alone.ok());
    EXPECT_EQ((*alone)[0], (*gen)[b]);
  }
}

TEST_P(CpuModelTest, GenerationStopsAfterEndOfSequence) {
  const std::vector<int32_t> prompt = Tokens(4, vocab_, 8);
  auto free_run = GreedyGenerate(model_, {prompt}, 6);
  ASSERT_TRUE(free_run.ok());
  const int32_t eos = (*free_run)[0][2];
  auto stopped = GreedyGenerate(model_, {prompt}, 6, eos);
  ASSERT_TRUE(stopped.ok());
  const auto& s = (*stopped)[0];
  ASSERT_FALSE(s.empty());
  EXPECT_EQ(s.back(), eos);
  EXPECT_LE(s.size(), 3u);
}

TEST_P(CpuModelTest, BadTokenIsRejectedAndLeavesTheSessionUnchanged) {
  CpuSession s(model_);
  ASSERT_TRUE(s.Prefill({1, 2, 3}).ok());
  auto r = s.DecodeStep(vocab_);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_FALSE(s.Prefill({4, -1}).ok());
  EXPECT_FALSE(s.Prefill({}).ok());
  EXPECT_EQ(s.length(), 3);
  EXPECT_EQ(s.latent_cache(0).size(), 3u * model_->config().LatentCacheDim());
  s.Reset();
  EXPECT_EQ(s.length(), 0);
}

TEST_P(CpuModelTest, DecisiveRoutingKeepsTopKAwayFromTies) {
  CpuSession s(model_);
  ASSERT_TRUE(s.Prefill(Tokens(16, vocab_, 9)).ok());
  EXPECT_GT(s.min_routing_margin(), 0.0f);
  EXPECT_TRUE(std::isfinite(s.min_routing_margin()));
}

INSTANTIATE_TEST_SUITE_P(Presets, CpuModelTest, ::testing::Values("tiny", "tiny-qlora-grouped"),
                         [](const auto& info) {
                           std::string n = info.param;
                           std::replace(n.begin(), n.end(), '-', '_');
                           return n;
                         });

TEST(CpuModel, RefusesModelsOverItsMemoryBudget) {
  ScopedTempDir dir;
  auto c = PresetConfig("tiny", 64);
  ASSERT_TRUE(c.ok());
  RandomModelOptions o;
  o.out_dir = dir.File("m");
  ASSERT_TRUE(WriteRandomModel(*c, o).ok());
  CpuModelOptions small;
  small.max_weight_bytes = 1000;
  auto m = CpuModel::Load(dir.File("m"), small);
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.status().code(), StatusCode::kLimit);
}

// Every tensor outside the routed experts is on the path of every token: perturbing any one of them
// must move the logits (catches a norm weight or projection that the forward silently skips). The
// perturbation is non-uniform, since a uniform scale of q_a_proj or of the latent part of
// kv_a_proj is undone by the RMSNorm that follows it.
TEST(CpuModel, EveryNonExpertTensorInfluencesTheLogits) {
  ScopedTempDir dir;
  auto c = PresetConfig("tiny-qlora-grouped", 48);
  ASSERT_TRUE(c.ok());
  RandomModelOptions o;
  o.out_dir = dir.File("base");
  o.dtype = DType::kF32;
  ASSERT_TRUE(WriteRandomModel(*c, o).ok());
  auto tensors = ::sieve::testing::ReadAllTensors(o.out_dir);
  ASSERT_TRUE(tensors.ok());
  const std::vector<int32_t> prompt = {3, 14, 15, 9, 26};
  auto logits_of = [&](const std::string& folder) -> std::vector<float> {
    auto m = CpuModel::Load(folder);
    EXPECT_TRUE(m.ok()) << m.status().ToString();
    if (!m.ok()) return {};
    CpuSession s(*m);
    auto l = s.Prefill(prompt, true);
    return l.ok() ? *l : std::vector<float>{};
  };
  const std::vector<float> base = logits_of(o.out_dir);
  ASSERT_FALSE(base.empty());
  int checked = 0;
  for (const auto& [name, t] : *tensors) {
    if (name.find(".experts.") != std::string::npos) continue;
    auto edited = *tensors;
    auto& values = edited[name].values;
    for (size_t i = 0; i < values.size(); ++i) values[i] *= 1.0f + 0.5f * std::sin(float(i));
    const std::string folder = dir.File(std::to_string(checked++));
    ASSERT_TRUE(::sieve::testing::WriteModelFolder(folder, o.out_dir, edited).ok());
    const std::vector<float> l = logits_of(folder);
    ASSERT_EQ(l.size(), base.size()) << name;
    EXPECT_GT(MaxAbsDiff(l.data(), base.data(), l.size()), 1e-4f) << name << " has no effect";
    std::filesystem::remove_all(folder);
  }
  EXPECT_GT(checked, 40);
}

}  // namespace
}  // namespace sieve
