// EngineModel: what the generation engine needs to know about one model, loaded once and shared:
// the config, the tokenizer and its vocabulary padded to the model's vocab, the chat format, and
// the weights on the CPU (fp32 reference, cpu_model.h) or the GPU (bf16, gpu_model.h).
//
// Sources: a Hugging Face DeepSeek-V2 folder (config.json, *.safetensors, tokenizer.json,
// tokenizer_config.json), or the built-in tiny random model (engine_builtin.h), written to a
// temporary folder, loaded and deleted. Device kAuto picks the GPU when sieve was built with CUDA
// and a device is present (the built-in model always runs on the CPU under kAuto); kGpu without
// one is an error, never a silent CPU run. A chat template sieve does not recognise is reported
// when a chat is rendered, not at load (plain prompts still work).
#ifndef SIEVE_DECODER_ENGINE_MODEL_H_
#define SIEVE_DECODER_ENGINE_MODEL_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "decoder/chat_template.h"
#include "decoder/cpu_model.h"
#include "decoder/engine_backend.h"
#include "decoder/model_config.h"
#include "grammar/support/status.h"
#include "grammar/tokenizer/tokenizer.h"
#include "grammar/tokenizer/vocabulary.h"

namespace sieve {

class GpuModel;

enum class EngineDevice { kAuto, kCpu, kGpu };

struct LoadProgress {
  uint64_t bytes_done = 0;
  uint64_t bytes_total = 0;
  double seconds = 0;
  double bytes_per_second = 0;
};

struct EngineModelOptions {
  std::string folder;  // empty: the built-in tiny random model
  uint64_t builtin_seed = 0;
  EngineDevice device = EngineDevice::kAuto;
  std::function<void(const LoadProgress&)> progress;  // weight loading (upload chunks on the GPU)
};

class EngineModel {
 public:
  static Result<std::shared_ptr<const EngineModel>> Load(const EngineModelOptions& options);
  ~EngineModel();

  const ModelConfig& config() const { return config_; }
  const Tokenizer& tokenizer() const { return *tokenizer_; }
  // The tokenizer's vocabulary padded to config().vocab_size (padding ids never allowed).
  const std::shared_ptr<const Vocabulary>& vocab() const { return vocab_; }
  EngineDevice device() const { return device_; }  // kCpu or kGpu
  bool builtin() const { return builtin_; }
  // "built-in tiny random model (cpu)", "/path (gpu)" ...
  const std::string& description() const { return description_; }
  uint64_t weight_bytes() const { return weight_bytes_; }
  // The chat format of tokenizer_config.json (kNone without one); chat_status() holds the error
  // when the template is one sieve does not render.
  ChatFormat chat_format() const { return chat_.ok() ? *chat_ : ChatFormat::kNone; }
  const Status& chat_status() const { return chat_.status(); }

  // bos (when the tokenizer has one and the text does not start with it) + the text's tokens
  // (special tokens written in the text become their ids).
  std::vector<int32_t> EncodePrompt(const std::string& text) const;
  // The chat rendered in the model's format; message text never becomes control tokens.
  Result<std::vector<int32_t>> EncodeChat(const std::vector<ChatMessage>& messages) const;

  // A backend holding up to max_batch sequences of max_seq_len tokens.
  Result<std::unique_ptr<EngineBackend>> CreateBackend(int32_t max_batch,
                                                       int64_t max_seq_len) const;

 private:
  EngineModel() = default;
  ModelConfig config_;
  std::shared_ptr<const Tokenizer> tokenizer_;
  std::shared_ptr<const Vocabulary> vocab_;
  Result<ChatFormat> chat_ = ChatFormat::kNone;
  EngineDevice device_ = EngineDevice::kCpu;
  bool builtin_ = false;
  std::string description_;
  uint64_t weight_bytes_ = 0;
  std::shared_ptr<const CpuModel> cpu_;
  std::shared_ptr<const GpuModel> gpu_;
};

}  // namespace sieve

#endif  // SIEVE_DECODER_ENGINE_MODEL_H_
