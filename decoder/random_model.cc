// Random-weight model folders; presets, weight distributions and file layout are in random_model.h.
#include "decoder/random_model.h"

#include <rapidjson/prettywriter.h>
#include <rapidjson/stringbuffer.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "decoder/safetensors.h"
#include "decoder/weights.h"

namespace sieve {
namespace {

namespace fs = std::filesystem;

uint64_t SplitMix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

uint64_t Fnv1a(const std::string& s) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char ch : s) h = (h ^ ch) * 0x100000001b3ull;
  return h;
}

bool EndsWith(const std::string& s, const char* suffix) {
  const size_t n = std::char_traits<char>::length(suffix);
  return s.size() >= n && s.compare(s.size() - n, n, suffix) == 0;
}

// How a tensor is initialised: value = mean + std * normal.
struct Init {
  float mean = 0;
  float std = 0;
};

Init InitFor(const std::string& name, const std::vector<int64_t>& shape, RoutingMode routing) {
  if (EndsWith(name, "norm.weight")) return {1.0f, 0.1f};  // every RMSNorm weight
  if (name == "model.embed_tokens.weight") return {0.0f, 1.0f};
  const double in = shape.size() == 2 ? static_cast<double>(shape[1]) : 1.0;
  if (EndsWith(name, "mlp.gate.weight")) {
    const double scale = routing == RoutingMode::kDecisive ? 4.0 : 1e-3;
    return {0.0f, static_cast<float>(scale / std::sqrt(in))};
  }
  return {0.0f, static_cast<float>(std::min(0.1, 1.0 / std::sqrt(in)))};
}

uint64_t TensorKey(uint64_t seed, const std::string& name) {
  return SplitMix64(seed ^ Fnv1a(name));
}

// Irwin-Hall(4) of 16-bit uniforms, standardised: mean 0, variance 1.
inline float Normal(uint64_t key, uint64_t index) {
  const uint64_t z = SplitMix64(key + index * 0xd1342543de82ef95ull);
  const float s = static_cast<float>((z & 0xffff) + ((z >> 16) & 0xffff) + ((z >> 32) & 0xffff) +
                                     (z >> 48) + 2) *
                  (1.0f / 65536.0f);  // in (0, 4), mean 2, variance 1/3
  return (s - 2.0f) * 1.7320508f;
}

void FillChunk(uint64_t key, Init init, uint64_t start, uint64_t n, float* out) {
  for (uint64_t i = 0; i < n; ++i) out[i] = init.mean + init.std * Normal(key, start + i);
}

std::string ShardName(size_t i, size_t n) {
  if (n == 1) return "model.safetensors";
  char buf[64];
  std::snprintf(buf, sizeof(buf), "model-%05zu-of-%05zu.safetensors", i + 1, n);
  return buf;
}

Status WriteText(const fs::path& p, const std::string& text) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  if (!out) return IoError(p.string() + ": cannot create");
  out << text;
  out.close();
  if (!out) return IoError(p.string() + ": write failed");
  return Status::Ok();
}

std::string IndexJson(const std::vector<std::vector<TensorSpec>>& shards, uint64_t total_size) {
  rapidjson::StringBuffer sb;
  rapidjson::PrettyWriter<rapidjson::StringBuffer> w(sb);
  w.SetIndent(' ', 2);
  w.StartObject();
  w.Key("metadata");
  w.StartObject();
  w.Key("total_size");
  w.Uint64(total_size);
  w.EndObject();
  w.Key("weight_map");
  w.StartObject();
  for (size_t i = 0; i < shards.size(); ++i) {
    const std::string file = ShardName(i, shards.size());
    for (const TensorSpec& s : shards[i]) {
      w.Key(s.name.c_str());
      w.String(file.c_str());
    }
  }
  w.EndObject();
  w.EndObject();
  return std::string(sb.GetString(), sb.GetSize()) + "\n";
}

class Progress {
 public:
  Progress(bool on, uint64_t total) : on_(on), total_(total), start_(Clock::now()), last_(start_) {}
  void Add(uint64_t bytes, const std::string& file) {
    done_ += bytes;
    if (!on_) return;
    auto now = Clock::now();
    if (now - last_ < std::chrono::seconds(2) && done_ != total_) return;
    last_ = now;
    const double s = std::chrono::duration<double>(now - start_).count();
    std::fprintf(stderr, "sieve-make-model: %s  %.2f / %.2f GB (%.0f%%)  %.0f s  %.0f MB/s\n",
                 file.c_str(), done_ / 1e9, total_ / 1e9,
                 100.0 * done_ / std::max<uint64_t>(total_, 1), s, s > 0 ? done_ / 1e6 / s : 0.0);
  }
  double Seconds() const { return std::chrono::duration<double>(Clock::now() - start_).count(); }

 private:
  using Clock = std::chrono::steady_clock;
  bool on_;
  uint64_t total_;
  uint64_t done_ = 0;
  Clock::time_point start_, last_;
};

}  // namespace

float RandomWeightValue(uint64_t seed, const std::string& name, const std::vector<int64_t>& shape,
                        RoutingMode routing, uint64_t index) {
  const Init init = InitFor(name, shape, routing);
  return init.mean + init.std * Normal(TensorKey(seed, name), index);
}

namespace {

// DeepSeek-V2's routing and its YaRN scaling (V2-Lite keeps greedy top-k and mscale 0.707).
void UseV2Routing(int64_t n_group, int64_t topk_group, ModelConfig* c) {
  c->topk_method = TopkMethod::kGroupLimitedGreedy;
  c->n_group = n_group;
  c->topk_group = topk_group;
  c->routed_scaling_factor = 16.0;
  c->yarn.mscale = 1.0;
  c->yarn.mscale_all_dim = 1.0;
}

}  // namespace

Result<ModelConfig> PresetConfig(const std::string& preset, int64_t vocab_size) {
  ModelConfig c;
  c.model_type = "deepseek_v2";
  c.rope_theta = 10000.0;
  c.rms_norm_eps = 1e-6;
  c.moe_layer_freq = 1;
  c.first_k_dense_replace = 1;
  c.n_shared_experts = 2;
  c.yarn.enabled = true;
  c.yarn.factor = 40;
  c.yarn.original_max_position_embeddings = 4096;
  c.yarn.beta_fast = 32;
  c.yarn.beta_slow = 1;
  c.yarn.mscale = 0.707;
  c.yarn.mscale_all_dim = 0.707;
  c.bos_token_id = 100000;
  c.eos_token_id = 100001;
  if (preset == "tiny" || preset == "tiny-qlora-grouped") {
    c.vocab_size = 1000;
    c.hidden_size = 64;
    c.num_hidden_layers = 3;
    c.num_attention_heads = 4;
    c.kv_lora_rank = 32;
    c.qk_nope_head_dim = 16;
    c.qk_rope_head_dim = 16;
    c.v_head_dim = 16;
    c.intermediate_size = 128;
    c.moe_intermediate_size = 32;
    c.n_routed_experts = 8;
    c.num_experts_per_tok = 2;
    c.bos_token_id = 0;
    c.eos_token_id = 1;
    if (preset == "tiny-qlora-grouped") {
      c.q_lora_rank = 48;
      c.num_hidden_layers = 4;
      UseV2Routing(4, 2, &c);
    }
  } else if (preset == "v2-lite") {
    c.vocab_size = 102400;
    c.hidden_size = 2048;
    c.num_hidden_layers = 27;
    c.num_attention_heads = 16;
    c.kv_lora_rank = 512;
    c.qk_nope_head_dim = 128;
    c.qk_rope_head_dim = 64;
    c.v_head_dim = 128;
    c.intermediate_size = 10944;
    c.moe_intermediate_size = 1408;
    c.n_routed_experts = 64;
    c.num_experts_per_tok = 6;
  } else if (preset == "v2") {
    c.vocab_size = 102400;
    c.hidden_size = 5120;
    c.num_hidden_layers = 60;
    c.num_attention_heads = 128;
    c.q_lora_rank = 1536;
    c.kv_lora_rank = 512;
    c.qk_nope_head_dim = 128;
    c.qk_rope_head_dim = 64;
    c.v_head_dim = 128;
    c.intermediate_size = 12288;
    c.moe_intermediate_size = 1536;
    c.n_routed_experts = 160;
    c.num_experts_per_tok = 6;
    UseV2Routing(8, 3, &c);
  } else {
    return InvalidArgument("unknown preset \"" + preset +
                           "\" (expected tiny, tiny-qlora-grouped, v2-lite or v2)");
  }
  if (vocab_size > 0) {
    c.vocab_size = vocab_size;
    if (c.eos_token_id >= vocab_size) {
      c.bos_token_id = 0;
      c.eos_token_id = vocab_size > 1 ? 1 : 0;
    }
  }
  c.max_position_embeddings =
      static_cast<int64_t>(c.yarn.factor) * c.yarn.original_max_position_embeddings;
  return c;
}

std::string ModelConfigJson(const ModelConfig& c, DType dtype) {
  rapidjson::StringBuffer sb;
  rapidjson::PrettyWriter<rapidjson::StringBuffer> w(sb);
  w.SetIndent(' ', 2);
  auto i64 = [&](const char* k, int64_t v) {
    w.Key(k);
    w.Int64(v);
  };
  auto dbl = [&](const char* k, double v) {
    w.Key(k);
    w.Double(v);
  };
  auto str = [&](const char* k, const char* v) {
    w.Key(k);
    w.String(v);
  };
  auto bln = [&](const char* k, bool v) {
    w.Key(k);
    w.Bool(v);
  };
  w.StartObject();
  w.Key("architectures");
  w.StartArray();
  w.String("DeepseekV2ForCausalLM");
  w.EndArray();
  str("model_type", c.model_type.empty() ? "deepseek_v2" : c.model_type.c_str());
  i64("vocab_size", c.vocab_size);
  i64("hidden_size", c.hidden_size);
  i64("intermediate_size", c.intermediate_size);
  i64("moe_intermediate_size", c.moe_intermediate_size);
  i64("num_hidden_layers", c.num_hidden_layers);
  i64("num_attention_heads", c.num_attention_heads);
  i64("num_key_value_heads", c.num_attention_heads);
  i64("n_shared_experts", c.n_shared_experts);
  i64("n_routed_experts", c.n_routed_experts);
  dbl("routed_scaling_factor", c.routed_scaling_factor);
  i64("kv_lora_rank", c.kv_lora_rank);
  w.Key("q_lora_rank");
  if (c.q_lora_rank > 0) {
    w.Int64(c.q_lora_rank);
  } else {
    w.Null();
  }
  i64("qk_rope_head_dim", c.qk_rope_head_dim);
  i64("v_head_dim", c.v_head_dim);
  i64("qk_nope_head_dim", c.qk_nope_head_dim);
  str("topk_method", c.topk_method == TopkMethod::kGreedy ? "greedy" : "group_limited_greedy");
  i64("n_group", c.n_group);
  i64("topk_group", c.topk_group);
  i64("num_experts_per_tok", c.num_experts_per_tok);
  i64("moe_layer_freq", c.moe_layer_freq);
  i64("first_k_dense_replace", c.first_k_dense_replace);
  bln("norm_topk_prob", c.norm_topk_prob);
  str("scoring_func", "softmax");
  dbl("aux_loss_alpha", 0.001);
  bln("seq_aux", true);
  str("hidden_act", "silu");
  i64("max_position_embeddings", c.max_position_embeddings);
  dbl("initializer_range", 0.02);
  dbl("rms_norm_eps", c.rms_norm_eps);
  bln("use_cache", true);
  i64("bos_token_id", c.bos_token_id);
  i64("eos_token_id", c.eos_token_id);
  bln("tie_word_embeddings", c.tie_word_embeddings);
  dbl("rope_theta", c.rope_theta);
  w.Key("rope_scaling");
  if (c.yarn.enabled) {
    w.StartObject();
    str("type", "yarn");
    dbl("factor", c.yarn.factor);
    i64("original_max_position_embeddings", c.yarn.original_max_position_embeddings);
    dbl("beta_fast", c.yarn.beta_fast);
    dbl("beta_slow", c.yarn.beta_slow);
    dbl("mscale", c.yarn.mscale);
    dbl("mscale_all_dim", c.yarn.mscale_all_dim);
    w.EndObject();
  } else {
    w.Null();
  }
  bln("attention_bias", false);
  dbl("attention_dropout", 0.0);
  str("torch_dtype", dtype == DType::kF32   ? "float32"
                     : dtype == DType::kF16 ? "float16"
                                            : "bfloat16");
  w.EndObject();
  return std::string(sb.GetString(), sb.GetSize()) + "\n";
}

Result<RandomModelReport> WriteRandomModel(const ModelConfig& config,
                                           const RandomModelOptions& options) {
  if (options.dtype != DType::kBF16 && options.dtype != DType::kF32) {
    return InvalidArgument("random models are written as BF16 or F32");
  }
  if (!options.dry_run && options.out_dir.empty()) {
    return InvalidArgument("no output folder given");
  }
  // Round-trip the config through its JSON so what we write is exactly what loaders will read.
  const std::string config_json = ModelConfigJson(config, options.dtype);
  SIEVE_ASSIGN_OR_RETURN(ModelConfig checked, ParseModelConfig(config_json, "config.json"));
  const std::vector<TensorSpec> specs = ExpectedTensors(checked);
  const uint64_t elem = DTypeSize(options.dtype);

  // Greedy sharding in canonical order.
  std::vector<std::vector<TensorSpec>> shards(1);
  uint64_t shard_bytes = 0, total_tensor_bytes = 0;
  for (const TensorSpec& s : specs) {
    const uint64_t bytes = s.numel() * elem;
    if (options.max_shard_bytes > 0 && !shards.back().empty() &&
        shard_bytes + bytes > options.max_shard_bytes) {
      shards.emplace_back();
      shard_bytes = 0;
    }
    shards.back().push_back(s);
    shard_bytes += bytes;
    total_tensor_bytes += bytes;
  }

  RandomModelReport report;
  report.parameters = ParameterCount(checked);
  std::vector<std::unique_ptr<SafetensorsWriter>> writers;
  for (size_t i = 0; i < shards.size(); ++i) {
    auto w = std::make_unique<SafetensorsWriter>();
    for (const TensorSpec& s : shards[i])
      SIEVE_RETURN_IF_ERROR(w->Add(s.name, options.dtype, s.shape));
    report.files.push_back({ShardName(i, shards.size()), w->FileSize(), shards[i].size()});
    writers.push_back(std::move(w));
  }
  const std::string index = shards.size() > 1 ? IndexJson(shards, total_tensor_bytes) : "";
  if (!index.empty()) report.files.push_back({"model.safetensors.index.json", index.size(), 0});
  report.files.push_back({"config.json", config_json.size(), 0});

  fs::path tokenizer_src;
  if (!options.tokenizer.empty()) {
    std::error_code ec;
    tokenizer_src = options.tokenizer;
    if (fs::is_directory(tokenizer_src, ec)) tokenizer_src /= "tokenizer.json";
    if (!fs::is_regular_file(tokenizer_src, ec)) {
      return IoError(tokenizer_src.string() + ": no such tokenizer file");
    }
    report.files.push_back({"tokenizer.json", fs::file_size(tokenizer_src, ec), 0});
  }
  for (const RandomModelFile& f : report.files) report.total_bytes += f.bytes;
  if (options.dry_run) return report;

  const fs::path dir(options.out_dir);
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return IoError(dir.string() + ": cannot create folder: " + ec.message());
  // Remove weights of an earlier write: a stale index or shard would shadow the new files.
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string f = e.path().filename().string();
    if (f == "model.safetensors.index.json" ||
        (f.rfind("model", 0) == 0 && e.path().extension() == ".safetensors")) {
      fs::remove(e.path(), ec);
      if (ec) return IoError(e.path().string() + ": cannot remove stale weights: " + ec.message());
    }
  }
  if (ec) return IoError(dir.string() + ": cannot list folder: " + ec.message());
  Progress progress(options.progress, total_tensor_bytes);
  // Values depend only on (seed, name, index), so chunks are filled and converted by several
  // threads (big presets are otherwise CPU-bound at ~0.4 GB/s) with byte-identical output.
  constexpr uint64_t kChunk = 1 << 22;
  constexpr uint64_t kPerThreadMin = 1 << 16;
  const unsigned threads = std::clamp(std::thread::hardware_concurrency(), 1u, 16u);
  std::vector<float> buf(kChunk);
  std::vector<uint8_t> bytes(kChunk * elem);
  for (size_t i = 0; i < shards.size(); ++i) {
    const std::string name = ShardName(i, shards.size());
    SafetensorsWriter& w = *writers[i];
    SIEVE_RETURN_IF_ERROR(w.Begin((dir / name).string()));
    for (const TensorSpec& s : shards[i]) {
      const Init init = InitFor(s.name, s.shape, options.routing);
      const uint64_t key = TensorKey(options.seed, s.name);
      const uint64_t n = s.numel();
      for (uint64_t start = 0; start < n; start += kChunk) {
        const uint64_t m = std::min(kChunk, n - start);
        auto fill = [&, start](uint64_t a, uint64_t b) {
          FillChunk(key, init, start + a, b - a, buf.data() + a);
          ConvertFromF32(options.dtype, buf.data() + a, b - a, bytes.data() + a * elem);
        };
        const uint64_t parts =
            std::max<uint64_t>(1, std::min<uint64_t>(threads, m / kPerThreadMin));
        const uint64_t per = (m + parts - 1) / parts;
        std::vector<std::thread> pool;
        for (uint64_t a = per; a < m; a += per) pool.emplace_back(fill, a, std::min(m, a + per));
        fill(0, std::min(m, per));
        for (std::thread& t : pool) t.join();
        SIEVE_RETURN_IF_ERROR(w.Write(bytes.data(), m * elem));
        progress.Add(m * elem, name);
      }
    }
    SIEVE_RETURN_IF_ERROR(w.Finish());
  }
  if (!index.empty()) SIEVE_RETURN_IF_ERROR(WriteText(dir / "model.safetensors.index.json", index));
  SIEVE_RETURN_IF_ERROR(WriteText(dir / "config.json", config_json));
  if (!tokenizer_src.empty()) {
    fs::copy_file(tokenizer_src, dir / "tokenizer.json", fs::copy_options::overwrite_existing, ec);
    if (ec) return IoError(tokenizer_src.string() + ": copy failed: " + ec.message());
    const fs::path tc = tokenizer_src.parent_path() / "tokenizer_config.json";
    if (fs::is_regular_file(tc, ec)) {
      fs::copy_file(tc, dir / "tokenizer_config.json", fs::copy_options::overwrite_existing, ec);
      if (ec) return IoError(tc.string() + ": copy failed: " + ec.message());
    }
  }
  report.seconds = progress.Seconds();
  return report;
}

}  // namespace sieve
