// ModelConfig: a DeepSeek-V2-style config.json, parsed and checked.
//
// Reads the Hugging Face config.json fields the decoder needs (DeepSeek-V2 and V2-Lite, as written by
// the hub and by transformers 5.x save_pretrained, which may store yarn parameters as `rope_parameters`
// instead of `rope_scaling`). Every field is validated before anything is allocated: a missing required
// field, a wrong type, or inconsistent values (e.g. experts_per_tok > n_routed_experts) is a kFormat
// error naming the field. Derived sizes (per-token latent cache bytes, parameter counts) live here so
// the loader, the KV cache and the roofline agree on them.
#ifndef SIEVE_DECODER_MODEL_CONFIG_H_
#define SIEVE_DECODER_MODEL_CONFIG_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "grammar/support/status.h"

namespace sieve {

enum class TopkMethod { kGreedy, kGroupLimitedGreedy };

struct YarnRope {
  bool enabled = false;
  double factor = 1.0;
  int64_t original_max_position_embeddings = 0;
  double beta_fast = 32.0;
  double beta_slow = 1.0;
  double mscale = 1.0;
  double mscale_all_dim = 0.0;
};

struct ModelConfig {
  std::string model_type;
  int64_t vocab_size = 0;
  int64_t hidden_size = 0;
  int64_t num_hidden_layers = 0;
  int64_t num_attention_heads = 0;
  int64_t q_lora_rank = 0;  // 0 = no q compression (plain q_proj)
  int64_t kv_lora_rank = 0;
  int64_t qk_nope_head_dim = 0;
  int64_t qk_rope_head_dim = 0;
  int64_t v_head_dim = 0;
  int64_t intermediate_size = 0;      // dense MLP (first_k_dense_replace layers)
  int64_t moe_intermediate_size = 0;  // one routed / shared expert
  int64_t n_routed_experts = 0;
  int64_t n_shared_experts = 0;
  int64_t num_experts_per_tok = 0;
  int64_t first_k_dense_replace = 0;
  int64_t moe_layer_freq = 1;
  TopkMethod topk_method = TopkMethod::kGreedy;
  int64_t n_group = 1;
  int64_t topk_group = 1;
  bool norm_topk_prob = false;
  double routed_scaling_factor = 1.0;
  double rope_theta = 10000.0;
  YarnRope yarn;
  int64_t max_position_embeddings = 0;
  double rms_norm_eps = 1e-6;
  bool tie_word_embeddings = false;
  int64_t bos_token_id = -1;
  int64_t eos_token_id = -1;

  int64_t qk_head_dim() const { return qk_nope_head_dim + qk_rope_head_dim; }
  // True when layer `i` uses MoE (else the dense MLP).
  bool IsMoeLayer(int64_t i) const {
    return n_routed_experts > 0 && i >= first_k_dense_replace && i % moe_layer_freq == 0;
  }
  // Latent KV cache elements per token per layer: the compressed kv plus the shared rope key.
  int64_t LatentCacheDim() const { return kv_lora_rank + qk_rope_head_dim; }
};

// Parses config.json text; `name` (the file path) prefixes error messages.
Result<ModelConfig> ParseModelConfig(std::string_view json, const std::string& name);
// Reads and parses a file (or DIR/config.json when `path` is a folder).
Result<ModelConfig> LoadModelConfig(const std::string& path);

}  // namespace sieve

#endif  // SIEVE_DECODER_MODEL_CONFIG_H_
