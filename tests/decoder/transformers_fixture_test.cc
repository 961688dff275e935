// The CPU reference model against Hugging Face transformers (5.17, float64), on fixtures made by
// scripts/gpu/make-deepseek-fixtures.py and committed under tests/data/deepseek_*/.
//
// Two directions, four fixtures:
//   transformers -> sieve: deepseek_tiny (q_lora_rank null, greedy routing, V2-Lite yarn) and
//     deepseek_tiny_qlora (q_lora_rank, group_limited_greedy, V2 yarn, nope != rope != v). Each
//     folder is what DeepseekV2ForCausalLM.save_pretrained wrote (config.json with
//     `rope_parameters`, model.safetensors) plus expected.json; our loader reads it as is.
//   sieve -> transformers: deepseek_sieve_tiny and deepseek_sieve_tiny_qlora hold only
//     expected.json: transformers' from_pretrained read the folder that `sieve-make-model --dtype
//     f32 --vocab 256 --seed 0` wrote. The test regenerates that folder with WriteRandomModel and
//     first checks the FNV-1a hash of model.safetensors, so a change to the random writer reads as
//     "regenerate the fixture", not as a numerical failure.
// Checked per prompt (lengths 1, 6, 23): logits at every prompt position with both attention
// forms, relative error ||a - b|| / ||b|| <= 1e-4 per position; 32 greedy tokens identical through
// the absorbed decode path; the last decode step's logits within the same tolerance. A negative
// control shows the fixtures would catch a missing mscale^2 softmax factor.
#include <gtest/gtest.h>
#include <rapidjson/document.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include "decoder/cpu_model.h"
#include "decoder/random_model.h"
#include "decoder/rope.h"
#include "tests/testing/scoped_temp_dir.h"

namespace sieve {
namespace {

namespace fs = std::filesystem;
using ::sieve::testing::ScopedTempDir;

constexpr double kTolerance = 1e-4;

struct PromptCase {
  std::vector<int32_t> tokens;
  std::vector<std::vector<float>> logits;  // one row per prompt position
  std::vector<int32_t> greedy;
  std::vector<float> final_logits;  // the step that produced greedy.back()
};

struct Fixture {
  std::string direction;
  // sieve -> transformers: how the model folder was written.
  std::string preset;
  uint64_t seed = 0;
  int64_t vocab = 0;
  std::string fnv1a64;
  double scaling_expected = 0;  // the softmax scale transformers was run with
  std::vector<PromptCase> prompts;
};

std::string ReadText(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

std::string Fnv1a64Hex(const fs::path& p) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : ReadText(p)) h = (h ^ c) * 0x100000001b3ull;
  char buf[17];
  std::snprintf(buf, sizeof(buf), "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

template <typename T>
bool ReadArray(const rapidjson::Value& v, std::vector<T>* out) {
  if (!v.IsArray()) return false;
  out->clear();
  for (const auto& x : v.GetArray()) {
    if (!x.IsNumber()) return false;
    out->push_back(static_cast<T>(x.GetDouble()));
  }
  return true;
}

// Parses expected.json; an empty direction means the file is missing or malformed.
Fixture ReadFixture(const fs::path& path, std::string* error) {
  Fixture f;
  rapidjson::Document doc;
  const std::string text = ReadText(path);
  doc.Parse(text.c_str(), text.size());
  if (doc.HasParseError() || !doc.IsObject() || !doc.HasMember("direction") ||
      !doc.HasMember("prompts") || !doc["prompts"].IsArray()) {
    *error = path.string() + ": missing or not a fixture";
    return f;
  }
  if (doc.HasMember("model")) {
    const auto& m = doc["model"];
    if (!m.IsObject() || !m.HasMember("preset") || !m["preset"].IsString() ||
        !m.HasMember("seed") || !m["seed"].IsUint64() || !m.HasMember("vocab") ||
        !m["vocab"].IsInt64() || !m.HasMember("safetensors_fnv1a64") ||
        !m["safetensors_fnv1a64"].IsString()) {
      *error = path.string() + ": malformed \"model\"";
      return f;
    }
    f.preset = m["preset"].GetString();
    f.seed = m["seed"].GetUint64();
    f.vocab = m["vocab"].GetInt64();
    f.fnv1a64 = m["safetensors_fnv1a64"].GetString();
  }
  if (doc.HasMember("transformers") && doc["transformers"].IsObject() &&
      doc["transformers"].HasMember("scaling_expected") &&
      doc["transformers"]["scaling_expected"].IsNumber()) {
    f.scaling_expected = doc["transformers"]["scaling_expected"].GetDouble();
  }
  for (const auto& p : doc["prompts"].GetArray()) {
    PromptCase c;
    if (!p.IsObject() || !p.HasMember("tokens") || !p.HasMember("greedy") ||
        !p.HasMember("final_logits") || !p.HasMember("logits")) {
      *error = path.string() + ": malformed prompt entry";
      return f;
    }
    bool ok = ReadArray(p["tokens"], &c.tokens) && ReadArray(p["greedy"], &c.greedy) &&
              ReadArray(p["final_logits"], &c.final_logits) && p["logits"].IsArray();
    for (const auto& row : p["logits"].GetArray()) {
      c.logits.emplace_back();
      ok = ok && ReadArray(row, &c.logits.back());
    }
    if (!ok) {
      *error = path.string() + ": malformed prompt entry";
      return f;
    }
    f.prompts.push_back(std::move(c));
  }
  if (!doc["direction"].IsString()) {
    *error = path.string() + ": \"direction\" must be a string";
    return f;
  }
  f.direction = doc["direction"].GetString();
  return f;
}

double RelError(const float* got, const std::vector<float>& want) {
  double num = 0, den = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    const double d = static_cast<double>(got[i]) - want[i];
    num += d * d;
    den += static_cast<double>(want[i]) * want[i];
  }
  return std::sqrt(num / den);
}

class TransformersFixtureTest : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override {
    const fs::path dir = fs::path(SIEVE_TEST_DATA_DIR) / GetParam();
    std::string error;
    fixture_ = ReadFixture(dir / "expected.json", &error);
    ASSERT_FALSE(fixture_.direction.empty()) << error;
    ASSERT_FALSE(fixture_.prompts.empty());
    folder_ = dir.string();
    if (fixture_.direction == "sieve_to_transformers") {
      // Rebuild exactly the folder transformers read.
      auto config = PresetConfig(fixture_.preset, fixture_.vocab);
      ASSERT_TRUE(config.ok()) << config.status().ToString();
      RandomModelOptions o;
      o.out_dir = tmp_.File("model");
      o.seed = fixture_.seed;
      o.dtype = DType::kF32;
      auto r = WriteRandomModel(*config, o);
      ASSERT_TRUE(r.ok()) << r.status().ToString();
      ASSERT_EQ(Fnv1a64Hex(fs::path(o.out_dir) / "model.safetensors"), fixture_.fnv1a64)
          << "WriteRandomModel no longer writes the weights transformers saw; rerun "
             "scripts/gpu/make-deepseek-fixtures.py on the GPU machine";
      folder_ = o.out_dir;
    } else {
      ASSERT_EQ(fixture_.direction, "transformers_to_sieve");
    }
    auto model = CpuModel::Load(folder_);
    ASSERT_TRUE(model.ok()) << model.status().ToString();
    model_ = *model;
  }

  Fixture fixture_;
  ScopedTempDir tmp_;
  std::string folder_;
  std::shared_ptr<const CpuModel> model_;
};

TEST_P(TransformersFixtureTest, SoftmaxScaleIsTheOneTransformersWasRunWith) {
  ASSERT_GT(fixture_.scaling_expected, 0);
  EXPECT_NEAR(model_->softmax_scale(), fixture_.scaling_expected, 1e-12);
  // Every fixture uses yarn with mscale_all_dim set, so the factor is really exercised.
  EXPECT_GT(model_->softmax_scale(), 1.2 / std::sqrt(model_->config().qk_head_dim()));
}

TEST_P(TransformersFixtureTest, PrefillLogitsMatchTransformersAtEveryPosition) {
  const int64_t vocab = model_->config().vocab_size;
  double worst = 0;
  for (AttentionForm form : {AttentionForm::kPlain, AttentionForm::kAbsorbed}) {
    for (const PromptCase& c : fixture_.prompts) {
      CpuSession s(model_);
      auto logits = s.Prefill(c.tokens, /*all_positions=*/true, form);
      ASSERT_TRUE(logits.ok()) << logits.status().ToString();
      ASSERT_EQ(logits->size(), c.tokens.size() * vocab);
      ASSERT_EQ(c.logits.size(), c.tokens.size());
      for (size_t j = 0; j < c.tokens.size(); ++j) {
        ASSERT_EQ(c.logits[j].size(), static_cast<size_t>(vocab));
        const double err = RelError(logits->data() + j * vocab, c.logits[j]);
        worst = std::max(worst, err);
        EXPECT_LE(err, kTolerance)
            << "prompt length " << c.tokens.size() << ", position " << j << ", form "
            << (form == AttentionForm::kPlain ? "plain" : "absorbed");
      }
    }
  }
  RecordProperty("max_relative_error", std::to_string(worst));
  std::printf("  %s: largest relative error %.3g\n", GetParam(), worst);
}

TEST_P(TransformersFixtureTest, GreedyDecodeMatchesTransformersTokenForToken) {
  const int64_t vocab = model_->config().vocab_size;
  for (const PromptCase& c : fixture_.prompts) {
    ASSERT_EQ(c.greedy.size(), 32u);
    CpuSession s(model_);
    auto logits = s.Prefill(c.tokens);
    ASSERT_TRUE(logits.ok()) << logits.status().ToString();
    std::vector<int32_t> got = {Argmax(logits->data(), vocab)};
    for (size_t i = 0; i + 1 < c.greedy.size(); ++i) {
      // Feed transformers' token so one early slip cannot hide later agreement.
      logits = s.DecodeStep(c.greedy[i]);
      ASSERT_TRUE(logits.ok()) << logits.status().ToString();
      got.push_back(Argmax(logits->data(), vocab));
    }
    EXPECT_EQ(got, c.greedy) << "prompt length " << c.tokens.size();
    EXPECT_LE(RelError(logits->data(), c.final_logits), kTolerance)
        << "prompt length " << c.tokens.size();
    // The batched generator agrees too.
    auto batch = GreedyGenerate(model_, {c.tokens}, 32);
    ASSERT_TRUE(batch.ok()) << batch.status().ToString();
    EXPECT_EQ((*batch)[0], c.greedy);
  }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, TransformersFixtureTest,
                         ::testing::Values("deepseek_tiny", "deepseek_tiny_qlora",
                                           "deepseek_sieve_tiny", "deepseek_sieve_tiny_qlora"),
                         [](const auto& info) { return std::string(info.param); });

TEST(TransformersFixture, CoversBothAttentionInputsAndBothRoutingMethods) {
  auto tiny = LoadModelConfig(std::string(SIEVE_TEST_DATA_DIR) + "/deepseek_tiny");
  auto qlora = LoadModelConfig(std::string(SIEVE_TEST_DATA_DIR) + "/deepseek_tiny_qlora");
  ASSERT_TRUE(tiny.ok()) << tiny.status().ToString();
  ASSERT_TRUE(qlora.ok()) << qlora.status().ToString();
  EXPECT_EQ(tiny->q_lora_rank, 0);
  EXPECT_EQ(tiny->topk_method, TopkMethod::kGreedy);
  EXPECT_GT(qlora->q_lora_rank, 0);
  EXPECT_EQ(qlora->topk_method, TopkMethod::kGroupLimitedGreedy);
  EXPECT_NE(qlora->qk_nope_head_dim, qlora->v_head_dim);
  EXPECT_TRUE(tiny->yarn.enabled && qlora->yarn.enabled);
}

// Negative control: the same checkpoint with mscale/mscale_all_dim removed (bare qk^-0.5 softmax
// scale, unchanged rope since the two mscales were equal) must miss the tolerance by far.
TEST(TransformersFixture, WithoutTheMscaleSquaredFactorTheLogitsDisagree) {
  const fs::path src = fs::path(SIEVE_TEST_DATA_DIR) / "deepseek_tiny";
  std::string error;
  const Fixture f = ReadFixture(src / "expected.json", &error);
  ASSERT_FALSE(f.direction.empty()) << error;
  ScopedTempDir tmp;
  std::string config = ReadText(src / "config.json");
  for (const char* key : {"\"mscale\"", "\"mscale_all_dim\""}) {
    const size_t at = config.find(key);
    ASSERT_NE(at, std::string::npos) << key;
    const size_t colon = config.find(':', at);
    const size_t end = config.find_first_of(",}", colon);
    config.replace(colon + 1, end - colon - 1, " 0.0");
  }
  std::ofstream(tmp.File("config.json"), std::ios::binary) << config;
  fs::copy_file(src / "model.safetensors", tmp.path() / "model.safetensors");
  auto model = CpuModel::Load(tmp.path().string());
  ASSERT_TRUE(model.ok()) << model.status().ToString();
  EXPECT_NEAR((*model)->softmax_scale(), 1.0 / std::sqrt((*model)->config().qk_head_dim()), 1e-12);
  const PromptCase& c = f.prompts.back();
  CpuSession s(*model);
  auto logits = s.Prefill(c.tokens, /*all_positions=*/true);
  ASSERT_TRUE(logits.ok()) << logits.status().ToString();
  const int64_t vocab = (*model)->config().vocab_size;
  EXPECT_GT(RelError(logits->data() + (c.tokens.size() - 1) * vocab, c.logits.back()), 1e-2);
}

}  // namespace
}  // namespace sieve
