// CpuModel: the whole DeepSeek-V2 forward pass in fp32 on the host: the oracle for the GPU
// kernels, and a CPU backend that lets the engine run in CI without a GPU (tiny configs only).
//
// Per layer (reference/deepseek-v2.md §1.3, §2.1, §3.1):
//   x = RMSNorm(h) * input_layernorm
//   q = q_proj x  or  q_b_proj(RMSNorm(q_a_proj x) * q_a_layernorm)  -> per head [nope | rope]
//   [c | k_pe] = kv_a_proj_with_mqa x;  c = RMSNorm(c) * kv_a_layernorm;  rotate k_pe, q_pe
//   the session's latent cache stores [c | k_pe] per token per layer (LatentCacheDim floats)
//   attention, in one of two equivalent forms:
//     plain (prefill):   k_nope, v = kv_b_proj c per cached token
//                        s = scale (q_nope.k_nope + q_pe.k_pe);  o = sum p v
//     absorbed (decode): q_lat = W_UK^T q_nope
//                        s = scale (q_lat.c + q_pe.k_pe);  o = W_UV (sum p c)
//   h += o_proj concat(o);  x = RMSNorm(h) * post_attention_layernorm
//   h += SwiGLU MLP(x) (dense layers)
//     or sum_j w_j Expert_j(x) + SharedExperts(x) (MoE layers; routing in moe_routing.h)
// then RMSNorm(h) * model.norm and lm_head (or the embedding when tied). RMSNorm is
// x * rsqrt(mean(x^2) + eps) in fp32, as transformers computes it; dot products accumulate in
// double so the oracle's own rounding stays far below the tolerances kernels are held to.
//
// Invariants: a CpuSession's cache holds exactly length() tokens, positions 0..length()-1; every
// call appends its tokens and attends causally to the cache (so prefill of a whole sequence and
// token-by-token decode see the same keys); a failed call (bad token id, too long) changes
// nothing. The model is immutable after construction and may be shared by sessions on different
// threads.
#ifndef SIEVE_DECODER_CPU_MODEL_H_
#define SIEVE_DECODER_CPU_MODEL_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "decoder/model_config.h"
#include "decoder/moe_routing.h"
#include "decoder/rope.h"
#include "decoder/weights.h"
#include "grammar/support/status.h"

namespace sieve {

struct CpuModelOptions {
  // Refuse models whose fp32 copy exceeds this many bytes (the CPU model is for tiny configs).
  uint64_t max_weight_bytes = 4ull << 30;
  // Round activations to bf16 exactly where the GPU decoder stores them in bf16 (gpu_model.h):
  // every RMSNorm output that feeds a projection, the cache rows [c | k_pe], q_nope before the
  // W_UK absorption, o_lat, the per-head W_UV output and the SwiGLU activation of dense and
  // shared MLPs (routed experts keep fp32, as expert_ffn.h does). With bf16-rounded weights this
  // makes the CPU a bit-faithful emulation of the GPU's rounding points, so the two differ only
  // by fp32 summation order: the tight oracle for the GPU forward pass. Off by default.
  bool emulate_bf16_activations = false;
};

enum class AttentionForm { kPlain, kAbsorbed };

// Row-major [rows, cols] fp32 matrix.
struct CpuMatrix {
  int64_t rows = 0;
  int64_t cols = 0;
  std::vector<float> data;
  const float* row(int64_t r) const { return data.data() + r * cols; }
};

class CpuModel {
 public:
  struct Mlp {
    CpuMatrix gate, up, down;
  };
  struct Layer {
    std::vector<float> input_norm, post_attention_norm;
    CpuMatrix q_proj;  // when q_lora_rank == 0
    CpuMatrix q_a_proj, q_b_proj;
    std::vector<float> q_a_norm;
    CpuMatrix kv_a_proj, kv_b_proj, o_proj;
    std::vector<float> kv_a_norm;
    bool moe = false;
    Mlp dense;                 // !moe
    CpuMatrix router;          // moe: [E, H]
    std::vector<Mlp> experts;  // moe
    bool has_shared = false;
    Mlp shared;
  };

  static Result<std::shared_ptr<const CpuModel>> FromWeights(const ModelWeights& weights,
                                                             const CpuModelOptions& options = {});
  static Result<std::shared_ptr<const CpuModel>> Load(const std::string& folder,
                                                      const CpuModelOptions& options = {});

  const ModelConfig& config() const { return config_; }
  const RopeTable& rope() const { return rope_; }
  double softmax_scale() const { return softmax_scale_; }
  const RoutingParams& routing() const { return routing_; }
  const std::vector<Layer>& layers() const { return layers_; }
  const CpuMatrix& embedding() const { return embed_; }
  const CpuMatrix& lm_head() const { return config_.tie_word_embeddings ? embed_ : lm_head_; }
  const std::vector<float>& final_norm() const { return final_norm_; }
  bool emulates_bf16() const { return emulate_bf16_; }

 private:
  CpuModel() = default;
  bool emulate_bf16_ = false;
  ModelConfig config_;
  RopeTable rope_;
  double softmax_scale_ = 0;
  RoutingParams routing_;
  CpuMatrix embed_, lm_head_;
  std::vector<float> final_norm_;
  std::vector<Layer> layers_;
};

class CpuSession {
 public:
  explicit CpuSession(std::shared_ptr<const CpuModel> model);

  // Appends `tokens` to the sequence and returns logits: [tokens.size(), vocab] when
  // `all_positions`, else [vocab] for the last token. Empty `tokens` is an error.
  Result<std::vector<float>> Prefill(const std::vector<int32_t>& tokens, bool all_positions = false,
                                     AttentionForm form = AttentionForm::kPlain);
  // Appends one token (absorbed attention) and returns its logits [vocab].
  Result<std::vector<float>> DecodeStep(int32_t token);

  int64_t length() const { return length_; }
  void Reset();
  // The latent cache of `layer`: [length(), LatentCacheDim()] = [c | k_pe] per token.
  const std::vector<float>& latent_cache(int64_t layer) const { return cache_[layer]; }
  // Smallest routing margin (moe_routing.h) over every MoE decision since Reset; +inf if none.
  float min_routing_margin() const { return min_margin_; }
  // Per token of the last Prefill / DecodeStep: its smallest routing margin over all layers.
  const std::vector<float>& last_token_routing_margins() const { return token_margins_; }

 private:
  Result<std::vector<float>> Forward(const std::vector<int32_t>& tokens, AttentionForm form,
                                     bool all_positions);
  void Attention(int64_t layer, const std::vector<float>& x, int64_t n, AttentionForm form,
                 std::vector<float>* out);
  // Returns the decision's routing margin.
  float Moe(const CpuModel::Layer& layer, const float* x, float* out);

  std::shared_ptr<const CpuModel> model_;
  int64_t length_ = 0;
  std::vector<std::vector<float>> cache_;  // per layer
  float min_margin_;
  std::vector<float> token_margins_;
};

// Index of the largest logit (lowest index among ties).
int32_t Argmax(const float* logits, int64_t n);

// Greedy decoding of each prompt (lengths may differ) for up to `max_new_tokens` tokens; a sequence
// stops after emitting `eos_token_id` (>= 0). Returns the generated tokens per prompt.
Result<std::vector<std::vector<int32_t>>> GreedyGenerate(
    std::shared_ptr<const CpuModel> model, const std::vector<std::vector<int32_t>>& prompts,
    int64_t max_new_tokens, int64_t eos_token_id = -1);

}  // namespace sieve

#endif  // SIEVE_DECODER_CPU_MODEL_H_
