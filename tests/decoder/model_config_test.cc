#include "decoder/model_config.h"

#include <gtest/gtest.h>

#include <string>

namespace sieve {
namespace {

// DeepSeek-V2-Lite's published config.json (fields the decoder reads).
constexpr const char kV2Lite[] = R"({
  "architectures": ["DeepseekV2ForCausalLM"], "model_type": "deepseek_v2",
  "vocab_size": 102400, "hidden_size": 2048, "num_hidden_layers": 27, "num_attention_heads": 16,
  "num_key_value_heads": 16, "q_lora_rank": null, "kv_lora_rank": 512, "qk_nope_head_dim": 128,
  "qk_rope_head_dim": 64, "v_head_dim": 128, "intermediate_size": 10944,
  "moe_intermediate_size": 1408, "n_routed_experts": 64, "n_shared_experts": 2,
  "num_experts_per_tok": 6, "first_k_dense_replace": 1, "moe_layer_freq": 1,
  "topk_method": "greedy", "n_group": 1, "topk_group": 1, "norm_topk_prob": false,
  "routed_scaling_factor": 1.0, "scoring_func": "softmax", "rope_theta": 10000,
  "rope_scaling": {"type": "yarn", "factor": 40, "original_max_position_embeddings": 4096,
                   "beta_fast": 32, "beta_slow": 1, "mscale": 0.707, "mscale_all_dim": 0.707},
  "max_position_embeddings": 163840, "rms_norm_eps": 1e-06, "tie_word_embeddings": false,
  "bos_token_id": 100000, "eos_token_id": 100001, "torch_dtype": "bfloat16"})";

TEST(ModelConfig, ParsesDeepSeekV2LiteConfig) {
  auto c = ParseModelConfig(kV2Lite, "config.json");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->hidden_size, 2048);
  EXPECT_EQ(c->q_lora_rank, 0);
  EXPECT_EQ(c->LatentCacheDim(), 576);
  EXPECT_EQ(c->qk_head_dim(), 192);
  EXPECT_TRUE(c->yarn.enabled);
  EXPECT_DOUBLE_EQ(c->yarn.mscale_all_dim, 0.707);
  EXPECT_FALSE(c->IsMoeLayer(0));
  EXPECT_TRUE(c->IsMoeLayer(1));
  EXPECT_EQ(c->topk_method, TopkMethod::kGreedy);
}

TEST(ModelConfig, ReadsTransformers5RopeParameters) {
  std::string json = kV2Lite;
  json.replace(json.find("\"rope_scaling\""), std::string("\"rope_scaling\"").size(),
               "\"rope_parameters\"");
  json.replace(json.find("\"type\": \"yarn\""), std::string("\"type\": \"yarn\"").size(),
               "\"rope_type\": \"yarn\", \"rope_theta\": 5000");
  auto c = ParseModelConfig(json, "config.json");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_TRUE(c->yarn.enabled);
  EXPECT_DOUBLE_EQ(c->rope_theta, 5000);
}

TEST(ModelConfig, NullTokenIdsMeanNoSuchToken) {
  std::string json = kV2Lite;
  json.replace(json.find("100000"), 6, "null");
  json.replace(json.find("100001"), 6, "null");
  auto c = ParseModelConfig(json, "config.json");
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  EXPECT_EQ(c->bos_token_id, -1);
  EXPECT_EQ(c->eos_token_id, -1);
  json.replace(json.find("null"), 4, "\"x\"");
  EXPECT_FALSE(ParseModelConfig(json, "config.json").ok());
}

TEST(ModelConfig, NamesAMissingRequiredField) {
  std::string json = kV2Lite;
  json.replace(json.find("\"kv_lora_rank\": 512,"), std::string("\"kv_lora_rank\": 512,").size(),
               "");
  auto c = ParseModelConfig(json, "m/config.json");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), StatusCode::kFormat);
  EXPECT_NE(c.status().message().find("kv_lora_rank"), std::string::npos);
  EXPECT_NE(c.status().message().find("m/config.json"), std::string::npos);
}

TEST(ModelConfig, RejectsInconsistentRouting) {
  std::string json = kV2Lite;
  json.replace(json.find("\"num_experts_per_tok\": 6"),
               std::string("\"num_experts_per_tok\": 6").size(), "\"num_experts_per_tok\": 65");
  auto c = ParseModelConfig(json, "config.json");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("num_experts_per_tok"), std::string::npos);
}

TEST(ModelConfig, ReportsBrokenJsonWithOffset) {
  auto c = ParseModelConfig("{\"model_type\": ", "config.json");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), StatusCode::kFormat);
  EXPECT_GE(c.status().offset(), 0);
}

TEST(ModelConfig, RejectsOtherArchitectures) {
  auto c = ParseModelConfig(R"({"model_type": "llama"})", "config.json");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), StatusCode::kUnsupported);
}

TEST(ModelConfig, MissingFileIsAnIoError) {
  auto c = LoadModelConfig("/nonexistent/model");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), StatusCode::kIo);
}

}  // namespace
}  // namespace sieve
