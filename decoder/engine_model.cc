// EngineModel loading: see engine_model.h.
#include "decoder/engine_model.h"

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <utility>

#include "decoder/engine_builtin.h"
#include "decoder/engine_cpu_backend.h"
#if defined(SIEVE_HAVE_CUDA)
#include <cuda_runtime.h>

#include "decoder/engine_gpu_backend.h"
#include "decoder/gpu_model.h"
#endif

namespace sieve {
namespace fs = std::filesystem;
namespace {

bool GpuPresent() {
#if defined(SIEVE_HAVE_CUDA)
  int n = 0;
  return cudaGetDeviceCount(&n) == cudaSuccess && n > 0;
#else
  return false;
#endif
}

uint64_t SafetensorsBytes(const std::string& folder) {
  uint64_t total = 0;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(folder, ec)) {
    if (e.path().extension() == ".safetensors") total += e.file_size(ec);
  }
  return total;
}

// Deletes a temporary folder on scope exit.
struct TempDir {
  std::string path;
  ~TempDir() {
    std::error_code ec;
    if (!path.empty()) fs::remove_all(path, ec);
  }
};

}  // namespace

EngineModel::~EngineModel() = default;

Result<std::shared_ptr<const EngineModel>> EngineModel::Load(const EngineModelOptions& options) {
  std::shared_ptr<EngineModel> m(new EngineModel());
  TempDir temp;
  std::string folder = options.folder;
  if (folder.empty()) {
    const char* tmp = std::getenv("TMPDIR");
    std::string templ = (fs::path(tmp && *tmp ? tmp : "/tmp") / "sieve-builtin-XXXXXX").string();
    if (mkdtemp(templ.data()) == nullptr) {
      return IoError("cannot create a temporary folder for the built-in model under " +
                     fs::path(templ).parent_path().string());
    }
    temp.path = folder = templ;
    SIEVE_RETURN_IF_ERROR(WriteBuiltinModel(folder, options.builtin_seed));
    m->builtin_ = true;
  } else if (!fs::is_directory(folder)) {
    return IoError(folder +
                   ": not a model folder (expected config.json, *.safetensors, "
                   "tokenizer.json)");
  }
  SIEVE_ASSIGN_OR_RETURN(m->config_, LoadModelConfig((fs::path(folder) / "config.json").string()));
  SIEVE_ASSIGN_OR_RETURN(m->tokenizer_, Tokenizer::Load(folder));
  const Vocabulary& tv = m->tokenizer_->vocabulary();
  if (static_cast<int64_t>(tv.size()) > m->config_.vocab_size) {
    return FormatError(folder + ": the tokenizer defines " + std::to_string(tv.size()) +
                       " ids but the model's vocab_size is " +
                       std::to_string(m->config_.vocab_size));
  }
  SIEVE_ASSIGN_OR_RETURN(Vocabulary padded, tv.PaddedTo(m->config_.vocab_size));
  m->vocab_ = std::make_shared<const Vocabulary>(std::move(padded));
  m->chat_ = LoadChatFormat((fs::path(folder) / "tokenizer_config.json").string());
  m->weight_bytes_ = SafetensorsBytes(folder);

  EngineDevice device = options.device;
  if (device == EngineDevice::kAuto) {
    device = (!m->builtin_ && GpuPresent()) ? EngineDevice::kGpu : EngineDevice::kCpu;
  }
  const auto start = std::chrono::steady_clock::now();
  if (device == EngineDevice::kGpu) {
#if defined(SIEVE_HAVE_CUDA)
    if (!GpuPresent()) return Status(StatusCode::kCuda, "device gpu requested but no CUDA device");
    GpuUploadOptions up;
    if (options.progress) {
      up.progress = [&](const GpuUploadProgress& p) {
        options.progress({p.bytes_done, p.bytes_total, p.seconds, p.bytes_per_second});
      };
    }
    SIEVE_ASSIGN_OR_RETURN(m->gpu_, GpuModel::Load(folder, up));
#else
    return Unsupported("device gpu requested but this sieve was built without CUDA");
#endif
  } else {
    if (options.progress) options.progress({0, m->weight_bytes_, 0, 0});
    SIEVE_ASSIGN_OR_RETURN(m->cpu_, CpuModel::Load(folder));
    if (options.progress) {
      const double s =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      options.progress({m->weight_bytes_, m->weight_bytes_, s, s > 0 ? m->weight_bytes_ / s : 0});
    }
  }
  m->device_ = device;
  m->description_ = (m->builtin_ ? std::string("built-in tiny random model") : options.folder) +
                    " (" + (device == EngineDevice::kGpu ? "gpu" : "cpu") + ")";
  return std::shared_ptr<const EngineModel>(std::move(m));
}

std::vector<int32_t> EngineModel::EncodePrompt(const std::string& text) const {
  std::vector<int32_t> ids;
  const int32_t bos = tokenizer_->bos_token();
  std::vector<int32_t> body = tokenizer_->Encode(text, /*allow_special=*/true);
  if (bos >= 0 && (body.empty() || body.front() != bos)) ids.push_back(bos);
  ids.insert(ids.end(), body.begin(), body.end());
  return ids;
}

Result<std::vector<int32_t>> EngineModel::EncodeChat(
    const std::vector<ChatMessage>& messages) const {
  if (!chat_.ok()) return chat_.status();
  const int32_t bos = tokenizer_->bos_token(), eos = tokenizer_->eos_token();
  const std::string bos_text = bos >= 0 ? std::string(vocab_->TokenBytes(bos)) : "";
  const std::string eos_text = eos >= 0 ? std::string(vocab_->TokenBytes(eos)) : "";
  SIEVE_ASSIGN_OR_RETURN(std::vector<ChatSegment> segs,
                         RenderChat(*chat_, messages, bos_text, eos_text));
  std::vector<int32_t> ids;
  for (const ChatSegment& s : segs) {
    std::vector<int32_t> part = tokenizer_->Encode(s.text, s.special);
    if (s.special && part.size() != 1) {
      return FormatError("the chat format's control token \"" + s.text +
                         "\" is not a single token of this tokenizer");
    }
    ids.insert(ids.end(), part.begin(), part.end());
  }
  return ids;
}

Result<std::unique_ptr<EngineBackend>> EngineModel::CreateBackend(int32_t max_batch,
                                                                  int64_t max_seq_len) const {
  if (max_batch <= 0) return InvalidArgument("max_batch must be > 0");
  if (max_seq_len <= 0) return InvalidArgument("max_seq_len must be > 0");
  if (device_ == EngineDevice::kGpu) {
#if defined(SIEVE_HAVE_CUDA)
    SIEVE_ASSIGN_OR_RETURN(std::unique_ptr<GpuEngineBackend> b,
                           GpuEngineBackend::Create(gpu_, max_batch, max_seq_len));
    return std::unique_ptr<EngineBackend>(std::move(b));
#else
    return InternalError("gpu model without CUDA");
#endif
  }
  return std::unique_ptr<EngineBackend>(new CpuEngineBackend(cpu_, max_batch, max_seq_len));
}

}  // namespace sieve
