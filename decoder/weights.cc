// Expected tensor list for a DeepSeek-V2 config and the checked loader; see weights.h.
#include "decoder/weights.h"

#include <filesystem>
#include <unordered_map>
#include <utility>

namespace sieve {

uint64_t TensorSpec::numel() const {
  uint64_t n = 1;
  for (int64_t d : shape) n *= static_cast<uint64_t>(d);
  return n;
}

std::string LayerPrefix(int64_t layer) { return "model.layers." + std::to_string(layer) + "."; }

std::string ExpertPrefix(int64_t layer, int64_t expert) {
  return LayerPrefix(layer) + "mlp.experts." + std::to_string(expert) + ".";
}

namespace {

void AddMlp(std::vector<TensorSpec>* out, const std::string& prefix, int64_t hidden,
            int64_t intermediate) {
  out->push_back({prefix + "gate_proj.weight", {intermediate, hidden}});
  out->push_back({prefix + "up_proj.weight", {intermediate, hidden}});
  out->push_back({prefix + "down_proj.weight", {hidden, intermediate}});
}

}  // namespace

std::vector<TensorSpec> ExpectedTensors(const ModelConfig& c) {
  const int64_t h = c.hidden_size;
  const int64_t nh = c.num_attention_heads;
  std::vector<TensorSpec> out;
  out.push_back({"model.embed_tokens.weight", {c.vocab_size, h}});
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) {
    const std::string p = LayerPrefix(i);
    out.push_back({p + "input_layernorm.weight", {h}});
    const std::string a = p + "self_attn.";
    if (c.q_lora_rank > 0) {
      out.push_back({a + "q_a_proj.weight", {c.q_lora_rank, h}});
      out.push_back({a + "q_a_layernorm.weight", {c.q_lora_rank}});
      out.push_back({a + "q_b_proj.weight", {nh * c.qk_head_dim(), c.q_lora_rank}});
    } else {
      out.push_back({a + "q_proj.weight", {nh * c.qk_head_dim(), h}});
    }
    out.push_back({a + "kv_a_proj_with_mqa.weight", {c.kv_lora_rank + c.qk_rope_head_dim, h}});
    out.push_back({a + "kv_a_layernorm.weight", {c.kv_lora_rank}});
    out.push_back(
        {a + "kv_b_proj.weight", {nh * (c.qk_nope_head_dim + c.v_head_dim), c.kv_lora_rank}});
    out.push_back({a + "o_proj.weight", {h, nh * c.v_head_dim}});
    out.push_back({p + "post_attention_layernorm.weight", {h}});
    if (c.IsMoeLayer(i)) {
      out.push_back({p + "mlp.gate.weight", {c.n_routed_experts, h}});
      for (int64_t e = 0; e < c.n_routed_experts; ++e) {
        AddMlp(&out, ExpertPrefix(i, e), h, c.moe_intermediate_size);
      }
      if (c.n_shared_experts > 0) {
        AddMlp(&out, p + "mlp.shared_experts.", h, c.n_shared_experts * c.moe_intermediate_size);
      }
    } else {
      AddMlp(&out, p + "mlp.", h, c.intermediate_size);
    }
  }
  out.push_back({"model.norm.weight", {h}});
  if (!c.tie_word_embeddings) out.push_back({"lm_head.weight", {c.vocab_size, h}});
  return out;
}

uint64_t ParameterCount(const ModelConfig& config) {
  uint64_t n = 0;
  for (const TensorSpec& s : ExpectedTensors(config)) n += s.numel();
  return n;
}

Status CheckTensors(const ModelConfig& config, const SafetensorsCheckpoint& checkpoint,
                    const LoadOptions& options, const std::string& where) {
  const std::vector<TensorSpec> specs = ExpectedTensors(config);
  std::unordered_map<std::string, const TensorSpec*> expected;
  for (const TensorSpec& s : specs) expected.emplace(s.name, &s);
  // Missing and mismatched tensors first (canonical order), then extras (sorted), so the first
  // error a user sees is deterministic.
  for (const TensorSpec& s : specs) {
    auto e = checkpoint.Find(s.name);
    if (!e.info) {
      return FormatError(where + ": missing tensor \"" + s.name + "\" (expected shape " +
                         ShapeString(s.shape) + ")");
    }
    if (e.info->shape != s.shape) {
      return FormatError(e.file->path() + ": tensor \"" + s.name + "\" has shape " +
                         ShapeString(e.info->shape) + ", expected " + ShapeString(s.shape));
    }
    if (options.dtype && e.info->dtype != *options.dtype) {
      return FormatError(e.file->path() + ": tensor \"" + s.name + "\" has dtype " +
                         DTypeName(e.info->dtype) + ", expected " + DTypeName(*options.dtype));
    }
  }
  for (const std::string& name : checkpoint.Names()) {
    if (!expected.count(name)) {
      return FormatError(checkpoint.Find(name).file->path() + ": unexpected tensor \"" + name +
                         "\" (not part of the model the config describes)");
    }
  }
  return Status::Ok();
}

Result<std::vector<float>> ModelWeights::ReadF32(std::string_view name) const {
  auto e = checkpoint_.Find(name);
  if (!e.info) return InvalidArgument("no tensor \"" + std::string(name) + "\" in " + folder_);
  std::vector<float> out(e.info->numel());
  ConvertToF32(e.info->dtype, e.file->Data(*e.info), out.size(), out.data());
  return out;
}

Result<ModelWeights> LoadModelWeights(const std::string& folder, const LoadOptions& options) {
  ModelWeights w;
  SIEVE_ASSIGN_OR_RETURN(w.config_, LoadModelConfig(folder));
  SIEVE_ASSIGN_OR_RETURN(w.checkpoint_, SafetensorsCheckpoint::Open(folder));
  SIEVE_RETURN_IF_ERROR(CheckTensors(w.config_, w.checkpoint_, options, folder));
  w.folder_ = folder;
  w.specs_ = ExpectedTensors(w.config_);
  return w;
}

}  // namespace sieve
