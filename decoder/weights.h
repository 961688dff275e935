// Model weights: the tensors a DeepSeek-V2 config implies, and loading them from a model folder.
//
// ExpectedTensors(config) is the single source of truth for tensor names and shapes (hub layout,
// reference/deepseek-v2.md §1.3, `[out, in]` row-major): embedding; per layer the two norms, MLA
// (`q_proj`, or `q_a_proj` -> `q_a_layernorm` -> `q_b_proj` when q_lora_rank > 0;
// `kv_a_proj_with_mqa` [kv_lora + rope, H], `kv_a_layernorm`, `kv_b_proj` [heads x (nope + v),
// kv_lora], `o_proj`); a dense SwiGLU MLP for non-MoE layers; for MoE layers the router
// `mlp.gate.weight` [E, H], per-expert `mlp.experts.{e}.{gate,up,down}_proj.weight` and, when
// n_shared_experts > 0, one fused `mlp.shared_experts.*` MLP of intermediate n_shared x
// moe_intermediate; the final norm; `lm_head` unless tie_word_embeddings.
//
// LoadModelWeights(folder) reads config.json, opens every safetensors file (SafetensorsCheckpoint
// validates each file completely) and then checks the set of tensors against ExpectedTensors: a
// missing tensor, an extra tensor, a wrong shape or (when LoadOptions::dtype is set) a wrong dtype
// is a kFormat error naming the tensor. After it succeeds every expected name resolves to a tensor
// of the expected shape, so consumers need no further checks. The mapped files stay open for the
// lifetime of ModelWeights; ReadF32 makes host fp32 copies (for the CPU reference; bf16 and f16
// widen exactly).
#ifndef SIEVE_DECODER_WEIGHTS_H_
#define SIEVE_DECODER_WEIGHTS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "decoder/dtype.h"
#include "decoder/model_config.h"
#include "decoder/safetensors.h"
#include "grammar/support/status.h"

namespace sieve {

struct TensorSpec {
  std::string name;
  std::vector<int64_t> shape;
  uint64_t numel() const;
};

// "model.layers.{layer}."
std::string LayerPrefix(int64_t layer);
// "model.layers.{layer}.mlp.experts.{expert}."
std::string ExpertPrefix(int64_t layer, int64_t expert);

// Every tensor of a checkpoint for `config`, in a canonical order (embedding, layers in order,
// final norm, lm_head).
std::vector<TensorSpec> ExpectedTensors(const ModelConfig& config);
// Sum of the element counts of ExpectedTensors (15,706,484,224 for V2-Lite).
uint64_t ParameterCount(const ModelConfig& config);

struct LoadOptions {
  // When set, every tensor must have this dtype (the GPU path wants bf16); otherwise any of BF16,
  // F16, F32 is accepted per tensor.
  std::optional<DType> dtype;
};

class ModelWeights {
 public:
  const ModelConfig& config() const { return config_; }
  const std::string& folder() const { return folder_; }
  const std::vector<TensorSpec>& specs() const { return specs_; }
  const SafetensorsCheckpoint& checkpoint() const { return checkpoint_; }

  // A validated tensor; {nullptr, nullptr} for a name not in specs().
  SafetensorsCheckpoint::Entry Get(std::string_view name) const { return checkpoint_.Find(name); }
  // Host fp32 copy of a tensor.
  Result<std::vector<float>> ReadF32(std::string_view name) const;

 private:
  friend Result<ModelWeights> LoadModelWeights(const std::string& folder,
                                               const LoadOptions& options);
  ModelConfig config_;
  std::string folder_;
  std::vector<TensorSpec> specs_;
  SafetensorsCheckpoint checkpoint_;
};

// Checks the checkpoint's tensors against `config` (presence, extras, shapes, dtype); `where`
// prefixes messages. Used by LoadModelWeights.
Status CheckTensors(const ModelConfig& config, const SafetensorsCheckpoint& checkpoint,
                    const LoadOptions& options, const std::string& where);

Result<ModelWeights> LoadModelWeights(const std::string& folder, const LoadOptions& options = {});

}  // namespace sieve

#endif  // SIEVE_DECODER_WEIGHTS_H_
