// Expected tensor lists (names, shapes, parameter counts of the published models) and the checked
// loader: a missing, extra, misshapen or wrong-dtype tensor is an error naming it.
#include "decoder/weights.h"

#include <gtest/gtest.h>

#include <map>
#include <string>

#include "decoder/random_model.h"
#include "tests/testing/model_folder.h"
#include "tests/testing/scoped_temp_dir.h"

namespace sieve {
namespace {

using ::sieve::testing::ReadAllTensors;
using ::sieve::testing::ScopedTempDir;
using ::sieve::testing::TensorMap;
using ::sieve::testing::WriteModelFolder;

std::map<std::string, std::vector<int64_t>> SpecMap(const ModelConfig& c) {
  std::map<std::string, std::vector<int64_t>> m;
  for (const TensorSpec& s : ExpectedTensors(c)) m[s.name] = s.shape;
  return m;
}

TEST(Weights, V2LiteTensorShapesMatchTheHubCheckpoint) {
  auto c = PresetConfig("v2-lite");
  ASSERT_TRUE(c.ok());
  auto m = SpecMap(*c);
  using V = std::vector<int64_t>;
  EXPECT_EQ(m["model.embed_tokens.weight"], (V{102400, 2048}));
  EXPECT_EQ(m["lm_head.weight"], (V{102400, 2048}));
  EXPECT_EQ(m["model.layers.0.self_attn.q_proj.weight"], (V{3072, 2048}));
  EXPECT_EQ(m["model.layers.0.self_attn.kv_a_proj_with_mqa.weight"], (V{576, 2048}));
  EXPECT_EQ(m["model.layers.0.self_attn.kv_a_layernorm.weight"], (V{512}));
  EXPECT_EQ(m["model.layers.0.self_attn.kv_b_proj.weight"], (V{4096, 512}));
  EXPECT_EQ(m["model.layers.0.self_attn.o_proj.weight"], (V{2048, 2048}));
  EXPECT_EQ(m["model.layers.0.mlp.gate_proj.weight"], (V{10944, 2048}));
  EXPECT_EQ(m["model.layers.0.mlp.down_proj.weight"], (V{2048, 10944}));
  EXPECT_EQ(m.count("model.layers.0.mlp.gate.weight"), 0u) << "layer 0 is dense";
  EXPECT_EQ(m["model.layers.1.mlp.gate.weight"], (V{64, 2048}));
  EXPECT_EQ(m["model.layers.26.mlp.experts.63.up_proj.weight"], (V{1408, 2048}));
  EXPECT_EQ(m["model.layers.26.mlp.experts.63.down_proj.weight"], (V{2048, 1408}));
  EXPECT_EQ(m["model.layers.1.mlp.shared_experts.gate_proj.weight"], (V{2816, 2048}));
  EXPECT_EQ(m["model.layers.1.mlp.shared_experts.down_proj.weight"], (V{2048, 2816}));
  EXPECT_EQ(m.count("model.layers.0.self_attn.q_a_proj.weight"), 0u);
  EXPECT_EQ(m.count("model.layers.27.input_layernorm.weight"), 0u);
  // embed, norm, lm_head + layer 0 (7 attention/norm + 3 mlp) + 26 x (7 + router + 64 x 3 + 3).
  EXPECT_EQ(m.size(), 3u + 10u + 26u * 203u);
  EXPECT_EQ(ParameterCount(*c), 15'706'484'224ull);
}

TEST(Weights, V2TensorShapesUseQLoraAndMatchThePublishedParameterCount) {
  auto c = PresetConfig("v2");
  ASSERT_TRUE(c.ok());
  auto m = SpecMap(*c);
  using V = std::vector<int64_t>;
  EXPECT_EQ(m["model.layers.5.self_attn.q_a_proj.weight"], (V{1536, 5120}));
  EXPECT_EQ(m["model.layers.5.self_attn.q_a_layernorm.weight"], (V{1536}));
  EXPECT_EQ(m["model.layers.5.self_attn.q_b_proj.weight"], (V{24576, 1536}));
  EXPECT_EQ(m["model.layers.5.self_attn.kv_b_proj.weight"], (V{32768, 512}));
  EXPECT_EQ(m["model.layers.5.self_attn.o_proj.weight"], (V{5120, 16384}));
  EXPECT_EQ(m["model.layers.5.mlp.shared_experts.up_proj.weight"], (V{3072, 5120}));
  EXPECT_EQ(m["model.layers.59.mlp.experts.159.gate_proj.weight"], (V{1536, 5120}));
  EXPECT_EQ(m.count("model.layers.5.self_attn.q_proj.weight"), 0u);
  EXPECT_EQ(ParameterCount(*c), 235'741'434'880ull);
}

TEST(Weights, TiedEmbeddingsHaveNoLmHead) {
  auto c = PresetConfig("tiny");
  ASSERT_TRUE(c.ok());
  c->tie_word_embeddings = true;
  EXPECT_EQ(SpecMap(*c).count("lm_head.weight"), 0u);
  c->tie_word_embeddings = false;
  EXPECT_EQ(SpecMap(*c).count("lm_head.weight"), 1u);
}

class WeightsFolder : public ::testing::Test {
 protected:
  void SetUp() override {
    auto c = PresetConfig("tiny", 96);
    ASSERT_TRUE(c.ok());
    config_ = *c;
    RandomModelOptions o;
    o.out_dir = dir_.File("good");
    o.seed = 11;
    o.dtype = DType::kF32;
    ASSERT_TRUE(WriteRandomModel(config_, o).ok());
    auto t = ReadAllTensors(o.out_dir);
    ASSERT_TRUE(t.ok()) << t.status().ToString();
    tensors_ = *t;
  }
  // Writes `tensors` as a folder and loads it.
  Result<ModelWeights> LoadEdited(const TensorMap& tensors, const LoadOptions& opt = {}) {
    const std::string d = dir_.File("edited" + std::to_string(n_++));
    Status s = WriteModelFolder(d, dir_.File("good"), tensors);
    if (!s.ok()) return s;
    return LoadModelWeights(d, opt);
  }
  ScopedTempDir dir_;
  ModelConfig config_;
  TensorMap tensors_;
  int n_ = 0;
};

TEST_F(WeightsFolder, RandomModelLoadsAndReadsBackItsValues) {
  auto w = LoadModelWeights(dir_.File("good"));
  ASSERT_TRUE(w.ok()) << w.status().ToString();
  EXPECT_EQ(w->config().vocab_size, 96);
  EXPECT_EQ(w->specs().size(), ExpectedTensors(config_).size());
  const std::string name = "model.layers.1.mlp.experts.3.up_proj.weight";
  auto v = w->ReadF32(name);
  ASSERT_TRUE(v.ok());
  ASSERT_EQ(v->size(), 32u * 64u);
  for (uint64_t i : {0ull, 1ull, 2047ull}) {
    EXPECT_EQ((*v)[i], RandomWeightValue(11, name, {32, 64}, RoutingMode::kDecisive, i));
  }
  EXPECT_FALSE(w->ReadF32("model.nothing").ok());
}

TEST_F(WeightsFolder, MissingTensorIsAFormatErrorNamingIt) {
  TensorMap t = tensors_;
  t.erase("model.layers.2.self_attn.kv_a_layernorm.weight");
  auto w = LoadEdited(t);
  ASSERT_FALSE(w.ok());
  EXPECT_EQ(w.status().code(), StatusCode::kFormat);
  EXPECT_NE(w.status().message().find("missing tensor \"model.layers.2.self_attn.kv_a_layernorm"),
            std::string::npos)
      << w.status().message();
}

TEST_F(WeightsFolder, MissingExpertIsAFormatErrorNamingIt) {
  TensorMap t = tensors_;
  t.erase("model.layers.1.mlp.experts.7.down_proj.weight");
  auto w = LoadEdited(t);
  ASSERT_FALSE(w.ok());
  EXPECT_NE(w.status().message().find("model.layers.1.mlp.experts.7.down_proj.weight"),
            std::string::npos);
}

TEST_F(WeightsFolder, ExtraTensorIsAFormatErrorNamingIt) {
  TensorMap t = tensors_;
  t["model.layers.0.self_attn.rotary_emb.inv_freq"] = {DType::kF32, {8}, std::vector<float>(8)};
  auto w = LoadEdited(t);
  ASSERT_FALSE(w.ok());
  EXPECT_EQ(w.status().code(), StatusCode::kFormat);
  EXPECT_NE(w.status().message().find("unexpected tensor \"model.layers.0.self_attn.rotary_emb"),
            std::string::npos)
      << w.status().message();
}

TEST_F(WeightsFolder, WrongShapeIsAFormatErrorNamingTensorAndBothShapes) {
  TensorMap t = tensors_;
  auto& kvb = t["model.layers.1.self_attn.kv_b_proj.weight"];
  kvb.shape = {32, 128};  // transposed [128, 32]
  auto w = LoadEdited(t);
  ASSERT_FALSE(w.ok());
  EXPECT_EQ(w.status().code(), StatusCode::kFormat);
  const std::string& m = w.status().message();
  EXPECT_NE(m.find("\"model.layers.1.self_attn.kv_b_proj.weight\""), std::string::npos) << m;
  EXPECT_NE(m.find("[32, 128]"), std::string::npos) << m;
  EXPECT_NE(m.find("expected [128, 32]"), std::string::npos) << m;
}

TEST_F(WeightsFolder, RequiredDtypeIsEnforcedPerTensor) {
  TensorMap t = tensors_;
  for (auto& [name, v] : t) v.dtype = DType::kBF16;
  t["model.norm.weight"].dtype = DType::kF32;
  LoadOptions bf16;
  bf16.dtype = DType::kBF16;
  auto w = LoadEdited(t, bf16);
  ASSERT_FALSE(w.ok());
  EXPECT_NE(w.status().message().find("\"model.norm.weight\" has dtype F32, expected BF16"),
            std::string::npos)
      << w.status().message();
  EXPECT_TRUE(LoadEdited(t).ok()) << "mixed float dtypes are fine without a required dtype";
}

TEST_F(WeightsFolder, MissingConfigIsAnIoError) {
  std::filesystem::remove(dir_.File("good") + "/config.json");
  auto w = LoadModelWeights(dir_.File("good"));
  ASSERT_FALSE(w.ok());
  EXPECT_EQ(w.status().code(), StatusCode::kIo);
}

}  // namespace
}  // namespace sieve
