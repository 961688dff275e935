// Random-weight DeepSeek-V2 model folders in the Hugging Face layout, for tests and benchmarks.
//
// WriteRandomModel writes config.json (the hub's DeepSeek-V2 format: model_type deepseek_v2,
// architectures [DeepseekV2ForCausalLM], rope_scaling {type: yarn, ...}), the weights as
// model.safetensors or, above max_shard_bytes, as model-0000i-of-0000n.safetensors shards plus
// model.safetensors.index.json, and optionally a copy of a tokenizer.json. Tensor names and shapes
// come from ExpectedTensors (hub-style per-expert names), so transformers'
// DeepseekV2ForCausalLM.from_pretrained and our LoadModelWeights read the same folder.
//
// Weights (documented so results can be reproduced and reasoned about):
//   * every value is a pure function of (seed, tensor name, element index): a counter-based
//     splitmix64 stream, so contents do not depend on dtype, sharding or chunking, and a 31 GB
//     model is streamed in 1 Mi-element chunks without holding it in memory;
//   * "normal" is the Irwin-Hall sum of four 16-bit uniforms, rescaled to mean 0 and variance 1
//     (bounded at +-3.46 sigma; plenty for random weights, and ~1 ns per value);
//   * linear layers [out, in]: std = min(0.1, 1/sqrt(in)) (0.1 for the tiny presets' 32-128 wide
//     inputs, 0.022 for V2-Lite), so each projection roughly preserves activation RMS;
//   * embedding: std 1.0, so the residual stream starts at RMS ~1 and tokens stay distinct;
//   * RMSNorm weights: 1 + 0.1 * normal (about 1, but not exactly, so a skipped norm weight shows);
//   * router `mlp.gate.weight`: `decisive` routing uses std 4/sqrt(H), making router logits about
//     N(0, 4^2), so the k-th and (k+1)-th expert scores are rarely within rounding noise of each
//     other (they can still tie by chance; CpuSession::min_routing_margin measures it); `uniform`
//     uses std 1e-3/sqrt(H), so softmax scores are ~equal and top-k picks spread evenly over
//     experts (the regime of the roofline benchmarks).
//
// Presets: `tiny` (vocab 1000, hidden 64, 3 layers with 1 dense, 4 heads, kv_lora 32, rope/nope/v
// 16, 8 experts top-2, 2 shared, greedy, V2-Lite's yarn), `tiny-qlora-grouped` (q_lora_rank 48, 4
// layers, group_limited_greedy with n_group 4 / topk_group 2, routed_scaling_factor 16, V2's yarn
// mscale), `v2-lite` and `v2` (the published configs). `max_position_embeddings` is always factor x
// original_max_position_embeddings, as reference/deepseek-v2.md recommends.
#ifndef SIEVE_DECODER_RANDOM_MODEL_H_
#define SIEVE_DECODER_RANDOM_MODEL_H_

#include <cstdint>
#include <string>
#include <vector>

#include "decoder/dtype.h"
#include "decoder/model_config.h"
#include "grammar/support/status.h"

namespace sieve {

enum class RoutingMode { kDecisive, kUniform };

struct RandomModelOptions {
  std::string out_dir;
  uint64_t seed = 0;
  DType dtype = DType::kBF16;  // BF16 or F32
  RoutingMode routing = RoutingMode::kDecisive;
  std::string tokenizer;  // tokenizer.json, or a folder holding one; copied when set
  // Shard when the weights exceed this many bytes (HF's default 5 GB); 0 = always one file.
  uint64_t max_shard_bytes = 5'000'000'000;
  bool dry_run = false;   // compute files and sizes only; write nothing
  bool progress = false;  // progress lines on stderr
};

struct RandomModelFile {
  std::string name;
  uint64_t bytes = 0;
  uint64_t tensors = 0;
};

struct RandomModelReport {
  uint64_t parameters = 0;
  uint64_t total_bytes = 0;  // all files written (or that would be)
  std::vector<RandomModelFile> files;
  double seconds = 0;
};

// The preset names: tiny, tiny-qlora-grouped, v2-lite, v2. `vocab_size` > 0 overrides the preset's.
Result<ModelConfig> PresetConfig(const std::string& preset, int64_t vocab_size = 0);
// config.json text for `config` in the hub's format (torch_dtype from `dtype`).
std::string ModelConfigJson(const ModelConfig& config, DType dtype);

// The deterministic initial value of element `index` of tensor `name` (before dtype rounding).
float RandomWeightValue(uint64_t seed, const std::string& name, const std::vector<int64_t>& shape,
                        RoutingMode routing, uint64_t index);

Result<RandomModelReport> WriteRandomModel(const ModelConfig& config,
                                           const RandomModelOptions& options);

}  // namespace sieve

#endif  // SIEVE_DECODER_RANDOM_MODEL_H_
