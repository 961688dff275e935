#include "decoder/model_config.h"

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <utility>

namespace sieve {
namespace {

using rapidjson::Value;

// Field readers: absent + optional -> keep the default; absent + required, or a wrong type -> error.
class Reader {
 public:
  Reader(const Value& obj, const std::string& name) : obj_(obj), name_(name) {}

  Status Int(const char* key, int64_t* out, bool required, bool null_is_zero = false) {
    auto it = obj_.FindMember(key);
    if (it == obj_.MemberEnd()) return required ? Missing(key) : Status::Ok();
    if (it->value.IsNull() && null_is_zero) {
      *out = 0;
      return Status::Ok();
    }
    if (!it->value.IsInt64()) return WrongType(key, "an integer");
    *out = it->value.GetInt64();
    return Status::Ok();
  }
  Status Double(const char* key, double* out, bool required) {
    auto it = obj_.FindMember(key);
    if (it == obj_.MemberEnd()) return required ? Missing(key) : Status::Ok();
    if (!it->value.IsNumber()) return WrongType(key, "a number");
    *out = it->value.GetDouble();
    return Status::Ok();
  }
  Status Bool(const char* key, bool* out) {
    auto it = obj_.FindMember(key);
    if (it == obj_.MemberEnd()) return Status::Ok();
    if (!it->value.IsBool()) return WrongType(key, "true or false");
    *out = it->value.GetBool();
    return Status::Ok();
  }
  Status String(const char* key, std::string* out, bool required) {
    auto it = obj_.FindMember(key);
    if (it == obj_.MemberEnd()) return required ? Missing(key) : Status::Ok();
    if (!it->value.IsString()) return WrongType(key, "a string");
    out->assign(it->value.GetString(), it->value.GetStringLength());
    return Status::Ok();
  }

 private:
  Status Missing(const char* key) {
    return FormatError(name_ + ": required field \"" + key + "\" is missing");
  }
  Status WrongType(const char* key, const char* want) {
    return FormatError(name_ + ": field \"" + key + "\" must be " + want);
  }
  const Value& obj_;
  const std::string& name_;
};

Status ParseYarn(const Value& v, const std::string& name, YarnRope* yarn) {
  if (v.IsNull()) return Status::Ok();
  if (!v.IsObject()) return FormatError(name + ": rope_scaling must be an object or null");
  std::string type;
  Reader r(v, name);
  SIEVE_RETURN_IF_ERROR(r.String("type", &type, false));
  if (type.empty()) SIEVE_RETURN_IF_ERROR(r.String("rope_type", &type, false));
  if (type == "default" || type.empty()) return Status::Ok();
  if (type != "yarn") {
    return Status(StatusCode::kUnsupported,
                  name + ": rope scaling type \"" + type + "\" is not supported (only yarn)");
  }
  yarn->enabled = true;
  SIEVE_RETURN_IF_ERROR(r.Double("factor", &yarn->factor, true));
  SIEVE_RETURN_IF_ERROR(
      r.Int("original_max_position_embeddings", &yarn->original_max_position_embeddings, true));
  SIEVE_RETURN_IF_ERROR(r.Double("beta_fast", &yarn->beta_fast, false));
  SIEVE_RETURN_IF_ERROR(r.Double("beta_slow", &yarn->beta_slow, false));
  SIEVE_RETURN_IF_ERROR(r.Double("mscale", &yarn->mscale, false));
  SIEVE_RETURN_IF_ERROR(r.Double("mscale_all_dim", &yarn->mscale_all_dim, false));
  if (yarn->factor <= 0 || yarn->original_max_position_embeddings <= 0) {
    return FormatError(name + ": yarn factor and original_max_position_embeddings must be > 0");
  }
  return Status::Ok();
}

Status Check(bool ok, const std::string& name, const std::string& what) {
  return ok ? Status::Ok() : FormatError(name + ": " + what);
}

}  // namespace

Result<ModelConfig> ParseModelConfig(std::string_view json, const std::string& name) {
  rapidjson::Document doc;
  doc.Parse(json.data(), json.size());
  if (doc.HasParseError()) {
    return FormatError(name + ": invalid JSON: " + rapidjson::GetParseError_En(doc.GetParseError()))
        .WithOffset(static_cast<int64_t>(doc.GetErrorOffset()));
  }
  if (!doc.IsObject()) return FormatError(name + ": top level must be a JSON object");
  ModelConfig c;
  Reader r(doc, name);
  SIEVE_RETURN_IF_ERROR(r.String("model_type", &c.model_type, true));
  if (c.model_type != "deepseek_v2" && c.model_type != "deepseek_v3") {
    return Status(StatusCode::kUnsupported,
                  name + ": model_type \"" + c.model_type + "\" is not a DeepSeek-V2-style model");
  }
  SIEVE_RETURN_IF_ERROR(r.Int("vocab_size", &c.vocab_size, true));
  SIEVE_RETURN_IF_ERROR(r.Int("hidden_size", &c.hidden_size, true));
  SIEVE_RETURN_IF_ERROR(r.Int("num_hidden_layers", &c.num_hidden_layers, true));
  SIEVE_RETURN_IF_ERROR(r.Int("num_attention_heads", &c.num_attention_heads, true));
  SIEVE_RETURN_IF_ERROR(r.Int("q_lora_rank", &c.q_lora_rank, false, /*null_is_zero=*/true));
  SIEVE_RETURN_IF_ERROR(r.Int("kv_lora_rank", &c.kv_lora_rank, true));
  SIEVE_RETURN_IF_ERROR(r.Int("qk_nope_head_dim", &c.qk_nope_head_dim, true));
  SIEVE_RETURN_IF_ERROR(r.Int("qk_rope_head_dim", &c.qk_rope_head_dim, true));
  SIEVE_RETURN_IF_ERROR(r.Int("v_head_dim", &c.v_head_dim, true));
  SIEVE_RETURN_IF_ERROR(r.Int("intermediate_size", &c.intermediate_size, true));
  SIEVE_RETURN_IF_ERROR(r.Int("moe_intermediate_size", &c.moe_intermediate_size, false));
  SIEVE_RETURN_IF_ERROR(r.Int("n_routed_experts", &c.n_routed_experts, false, true));
  SIEVE_RETURN_IF_ERROR(r.Int("n_shared_experts", &c.n_shared_experts, false, true));
  SIEVE_RETURN_IF_ERROR(r.Int("num_experts_per_tok", &c.num_experts_per_tok, false, true));
  SIEVE_RETURN_IF_ERROR(r.Int("first_k_dense_replace", &c.first_k_dense_replace, false));
  SIEVE_RETURN_IF_ERROR(r.Int("moe_layer_freq", &c.moe_layer_freq, false));
  std::string topk = "greedy";
  SIEVE_RETURN_IF_ERROR(r.String("topk_method", &topk, false));
  if (topk == "greedy") {
    c.topk_method = TopkMethod::kGreedy;
  } else if (topk == "group_limited_greedy") {
    c.topk_method = TopkMethod::kGroupLimitedGreedy;
  } else {
    return Status(StatusCode::kUnsupported, name + ": topk_method \"" + topk + "\" is not supported");
  }
  SIEVE_RETURN_IF_ERROR(r.Int("n_group", &c.n_group, false, true));
  SIEVE_RETURN_IF_ERROR(r.Int("topk_group", &c.topk_group, false, true));
  SIEVE_RETURN_IF_ERROR(r.Bool("norm_topk_prob", &c.norm_topk_prob));
  SIEVE_RETURN_IF_ERROR(r.Double("routed_scaling_factor", &c.routed_scaling_factor, false));
  std::string scoring = "softmax";
  SIEVE_RETURN_IF_ERROR(r.String("scoring_func", &scoring, false));
  if (scoring != "softmax") {
    return Status(StatusCode::kUnsupported,
                  name + ": scoring_func \"" + scoring + "\" is not supported (softmax only)");
  }
  SIEVE_RETURN_IF_ERROR(r.Int("max_position_embeddings", &c.max_position_embeddings, false));
  SIEVE_RETURN_IF_ERROR(r.Double("rms_norm_eps", &c.rms_norm_eps, false));
  SIEVE_RETURN_IF_ERROR(r.Bool("tie_word_embeddings", &c.tie_word_embeddings));
  // transformers writes null token ids for configs that set none; null keeps -1 (no such token).
  for (auto [key, out] :
       {std::pair{"bos_token_id", &c.bos_token_id}, std::pair{"eos_token_id", &c.eos_token_id}}) {
    auto it = doc.FindMember(key);
    if (it != doc.MemberEnd() && it->value.IsNull()) continue;
    SIEVE_RETURN_IF_ERROR(r.Int(key, out, false));
  }
  SIEVE_RETURN_IF_ERROR(r.Double("rope_theta", &c.rope_theta, false));
  // transformers 5.x may write rope parameters (theta included) as `rope_parameters`.
  for (const char* key : {"rope_scaling", "rope_parameters"}) {
    auto it = doc.FindMember(key);
    if (it == doc.MemberEnd()) continue;
    if (it->value.IsObject()) {
      Reader rr(it->value, name);
      SIEVE_RETURN_IF_ERROR(rr.Double("rope_theta", &c.rope_theta, false));
    }
    SIEVE_RETURN_IF_ERROR(ParseYarn(it->value, name, &c.yarn));
  }

  SIEVE_RETURN_IF_ERROR(Check(c.vocab_size > 0 && c.hidden_size > 0 && c.num_hidden_layers > 0 &&
                                  c.num_attention_heads > 0,
                              name, "vocab_size, hidden_size, layers and heads must be > 0"));
  SIEVE_RETURN_IF_ERROR(Check(c.kv_lora_rank > 0 && c.qk_nope_head_dim > 0 &&
                                  c.qk_rope_head_dim > 0 && c.qk_rope_head_dim % 2 == 0 &&
                                  c.v_head_dim > 0,
                              name, "MLA dims must be > 0 and qk_rope_head_dim even"));
  SIEVE_RETURN_IF_ERROR(Check(c.q_lora_rank >= 0, name, "q_lora_rank must be >= 0 or null"));
  SIEVE_RETURN_IF_ERROR(Check(c.moe_layer_freq > 0, name, "moe_layer_freq must be > 0"));
  if (c.n_routed_experts > 0) {
    SIEVE_RETURN_IF_ERROR(Check(c.moe_intermediate_size > 0, name,
                                "moe_intermediate_size must be > 0 with routed experts"));
    SIEVE_RETURN_IF_ERROR(Check(
        c.num_experts_per_tok > 0 && c.num_experts_per_tok <= c.n_routed_experts, name,
        "num_experts_per_tok must be in [1, n_routed_experts]"));
    if (c.topk_method == TopkMethod::kGroupLimitedGreedy) {
      SIEVE_RETURN_IF_ERROR(Check(c.n_group > 0 && c.n_routed_experts % c.n_group == 0, name,
                                  "n_routed_experts must be divisible by n_group"));
      SIEVE_RETURN_IF_ERROR(Check(c.topk_group > 0 && c.topk_group <= c.n_group, name,
                                  "topk_group must be in [1, n_group]"));
      SIEVE_RETURN_IF_ERROR(
          Check(c.num_experts_per_tok <= c.topk_group * (c.n_routed_experts / c.n_group), name,
                "num_experts_per_tok exceeds the experts in topk_group groups"));
    }
  }
  return c;
}

Result<ModelConfig> LoadModelConfig(const std::string& path) {
  std::filesystem::path p(path);
  std::error_code ec;
  if (std::filesystem::is_directory(p, ec)) p /= "config.json";
  std::ifstream in(p, std::ios::binary);
  if (!in) return IoError(p.string() + ": cannot open");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return ParseModelConfig(text, p.string());
}

}  // namespace sieve
