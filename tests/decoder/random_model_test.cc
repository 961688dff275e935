// Random model folders: presets round-trip through config.json, dry runs size the big presets
// without writing, contents are deterministic and independent of dtype and sharding, and the weight
// distributions are the documented ones.
#include "decoder/random_model.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "decoder/weights.h"
#include "tests/testing/model_folder.h"
#include "tests/testing/scoped_temp_dir.h"

namespace sieve {
namespace {

namespace fs = std::filesystem;
using ::sieve::testing::ReadAllTensors;
using ::sieve::testing::ScopedTempDir;

TEST(RandomModel, EveryPresetRoundTripsThroughItsConfigJson) {
  for (const char* name : {"tiny", "tiny-qlora-grouped", "v2-lite", "v2"}) {
    auto c = PresetConfig(name);
    ASSERT_TRUE(c.ok()) << name;
    const std::string json = ModelConfigJson(*c, DType::kBF16);
    auto back = ParseModelConfig(json, name);
    ASSERT_TRUE(back.ok()) << back.status().ToString();
    EXPECT_EQ(ParameterCount(*back), ParameterCount(*c)) << name;
    EXPECT_EQ(back->q_lora_rank, c->q_lora_rank) << name;
    EXPECT_EQ(back->topk_method, c->topk_method) << name;
    EXPECT_EQ(back->n_group, c->n_group) << name;
    EXPECT_EQ(back->routed_scaling_factor, c->routed_scaling_factor) << name;
    EXPECT_TRUE(back->yarn.enabled) << name;
    EXPECT_EQ(back->yarn.mscale_all_dim, c->yarn.mscale_all_dim) << name;
    EXPECT_EQ(back->max_position_embeddings, static_cast<int64_t>(back->yarn.factor) *
                                                 back->yarn.original_max_position_embeddings);
    EXPECT_NE(json.find("\"DeepseekV2ForCausalLM\""), std::string::npos);
    EXPECT_NE(json.find("\"type\": \"yarn\""), std::string::npos);
  }
  EXPECT_FALSE(PresetConfig("v3").ok());
}

TEST(RandomModel, VocabOverrideKeepsSpecialTokensInsideTheVocabulary) {
  auto c = PresetConfig("tiny", 50);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->vocab_size, 50);
  EXPECT_LT(c->eos_token_id, 50);
  auto big = PresetConfig("v2-lite", 129280);
  ASSERT_TRUE(big.ok());
  EXPECT_EQ(big->eos_token_id, 100001);
}

TEST(RandomModel, DryRunOfV2LiteSizesSevenShardsAndWritesNothing) {
  ScopedTempDir dir;
  auto c = PresetConfig("v2-lite");
  ASSERT_TRUE(c.ok());
  RandomModelOptions o;
  o.out_dir = dir.File("v2lite");
  o.dry_run = true;
  auto r = WriteRandomModel(*c, o);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->parameters, 15'706'484'224ull);
  uint64_t shards = 0, tensors = 0, weight_bytes = 0;
  for (const RandomModelFile& f : r->files) {
    if (f.tensors == 0) continue;
    ++shards;
    tensors += f.tensors;
    weight_bytes += f.bytes;
    EXPECT_LE(f.bytes, 5'000'000'000ull + 1'000'000) << f.name;
  }
  EXPECT_EQ(shards, 7u);
  EXPECT_EQ(tensors, ExpectedTensors(*c).size());
  EXPECT_GT(weight_bytes, 2 * r->parameters);
  EXPECT_LT(weight_bytes, 2 * r->parameters + 7 * 2'000'000);  // headers are small
  EXPECT_EQ(r->files[0].name, "model-00001-of-00007.safetensors");
  EXPECT_FALSE(fs::exists(dir.File("v2lite")));
}

TEST(RandomModel, DryRunOfV2CountsTheFullModel) {
  auto c = PresetConfig("v2");
  ASSERT_TRUE(c.ok());
  RandomModelOptions o;
  o.dry_run = true;
  auto r = WriteRandomModel(*c, o);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->parameters, 235'741'434'880ull);
  EXPECT_GT(r->total_bytes, 471'000'000'000ull);
}

TEST(RandomModel, SameSeedGivesIdenticalFilesAndAnotherSeedDoesNot) {
  ScopedTempDir dir;
  auto c = PresetConfig("tiny", 64);
  ASSERT_TRUE(c.ok());
  RandomModelOptions o;
  auto bytes = [](const std::string& p) {
    std::ifstream in(p, std::ios::binary);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  };
  o.out_dir = dir.File("a");
  ASSERT_TRUE(WriteRandomModel(*c, o).ok());
  o.out_dir = dir.File("b");
  ASSERT_TRUE(WriteRandomModel(*c, o).ok());
  o.out_dir = dir.File("c");
  o.seed = 1;
  ASSERT_TRUE(WriteRandomModel(*c, o).ok());
  EXPECT_EQ(bytes(dir.File("a/model.safetensors")), bytes(dir.File("b/model.safetensors")));
  EXPECT_NE(bytes(dir.File("a/model.safetensors")), bytes(dir.File("c/model.safetensors")));
  EXPECT_EQ(bytes(dir.File("a/config.json")), bytes(dir.File("c/config.json")));
}

TEST(RandomModel, ShardedAndBf16CopiesHoldTheSameValues) {
  ScopedTempDir dir;
  auto c = PresetConfig("tiny-qlora-grouped", 64);
  ASSERT_TRUE(c.ok());
  RandomModelOptions o;
  o.seed = 5;
  o.dtype = DType::kF32;
  o.out_dir = dir.File("single");
  ASSERT_TRUE(WriteRandomModel(*c, o).ok());
  o.out_dir = dir.File("sharded");
  o.max_shard_bytes = 100'000;
  auto r = WriteRandomModel(*c, o);
  ASSERT_TRUE(r.ok());
  EXPECT_GT(r->files.size(), 4u);
  EXPECT_TRUE(fs::exists(dir.File("sharded/model.safetensors.index.json")));
  EXPECT_FALSE(fs::exists(dir.File("sharded/model.safetensors")));
  o.out_dir = dir.File("bf16");
  o.dtype = DType::kBF16;
  o.max_shard_bytes = 0;
  ASSERT_TRUE(WriteRandomModel(*c, o).ok());

  auto single = ReadAllTensors(dir.File("single"));
  auto sharded = ReadAllTensors(dir.File("sharded"));
  auto bf16 = ReadAllTensors(dir.File("bf16"));
  ASSERT_TRUE(single.ok() && sharded.ok() && bf16.ok());
  ASSERT_EQ(single->size(), sharded->size());
  for (const auto& [name, t] : *single) {
    ASSERT_EQ(sharded->at(name).values, t.values) << name;
    const auto& b = bf16->at(name);
    ASSERT_EQ(b.dtype, DType::kBF16);
    for (size_t i = 0; i < t.values.size(); ++i) {
      ASSERT_EQ(b.values[i], Bf16ToF32(F32ToBf16(t.values[i]))) << name << "[" << i << "]";
    }
  }
  EXPECT_TRUE(LoadModelWeights(dir.File("sharded")).ok());
  // Rewriting a sharded folder as one file removes the old index and shards.
  o.out_dir = dir.File("sharded");
  ASSERT_TRUE(WriteRandomModel(*c, o).ok());
  EXPECT_FALSE(fs::exists(dir.File("sharded/model.safetensors.index.json")));
  EXPECT_TRUE(LoadModelWeights(dir.File("sharded")).ok());
}

// Mean and standard deviation of a tensor's initial values.
std::pair<double, double> Moments(const std::string& name, const std::vector<int64_t>& shape,
                                  RoutingMode routing) {
  uint64_t n = 1;
  for (int64_t d : shape) n *= d;
  double s = 0, s2 = 0;
  for (uint64_t i = 0; i < n; ++i) {
    const double v = RandomWeightValue(3, name, shape, routing, i);
    s += v;
    s2 += v * v;
  }
  const double mean = s / n;
  return {mean, std::sqrt(s2 / n - mean * mean)};
}

TEST(RandomModel, WeightDistributionsAreTheDocumentedOnes) {
  auto [m1, s1] =
      Moments("model.layers.0.self_attn.q_proj.weight", {128, 64}, RoutingMode::kDecisive);
  EXPECT_NEAR(m1, 0.0, 0.005);
  EXPECT_NEAR(s1, 0.1, 0.004);  // min(0.1, 1/sqrt(64) = 0.125)
  auto [m2, s2] =
      Moments("model.layers.0.mlp.down_proj.weight", {64, 1024}, RoutingMode::kDecisive);
  EXPECT_NEAR(s2, 1.0 / 32.0, 0.001);  // 1/sqrt(1024) < 0.1
  auto [m3, s3] = Moments("model.layers.0.input_layernorm.weight", {4096}, RoutingMode::kDecisive);
  EXPECT_NEAR(m3, 1.0, 0.01);
  EXPECT_NEAR(s3, 0.1, 0.01);
  auto [m4, s4] = Moments("model.embed_tokens.weight", {100, 64}, RoutingMode::kDecisive);
  EXPECT_NEAR(s4, 1.0, 0.04);
  auto [m5, s5] = Moments("model.layers.1.mlp.gate.weight", {64, 64}, RoutingMode::kDecisive);
  EXPECT_NEAR(s5, 4.0 / 8.0, 0.03);
  auto [m6, s6] = Moments("model.layers.1.mlp.gate.weight", {64, 64}, RoutingMode::kUniform);
  EXPECT_NEAR(s6, 1e-3 / 8.0, 1e-5);
}

TEST(RandomModel, TokenizerIsCopiedAndAMissingOneIsAnError) {
  ScopedTempDir dir;
  std::ofstream(dir.File("tok.json")) << R"({"model": {"type": "BPE"}})";
  auto c = PresetConfig("tiny", 32);
  ASSERT_TRUE(c.ok());
  RandomModelOptions o;
  o.out_dir = dir.File("m");
  o.tokenizer = dir.File("tok.json");
  ASSERT_TRUE(WriteRandomModel(*c, o).ok());
  EXPECT_EQ(fs::file_size(dir.File("m/tokenizer.json")), fs::file_size(dir.File("tok.json")));
  o.tokenizer = dir.File("none.json");
  auto r = WriteRandomModel(*c, o);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kIo);
}

}  // namespace
}  // namespace sieve
