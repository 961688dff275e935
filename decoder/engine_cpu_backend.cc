// CpuEngineBackend: see engine_cpu_backend.h.
#include "decoder/engine_cpu_backend.h"

#include <chrono>
#include <string>
#include <utility>

namespace sieve {

CpuEngineBackend::CpuEngineBackend(std::shared_ptr<const CpuModel> model, int32_t max_batch,
                                   int64_t max_seq_len)
    : model_(std::move(model)), max_batch_(max_batch), max_seq_len_(max_seq_len) {
  worker_ = std::thread(&CpuEngineBackend::WorkerLoop, this);
}

CpuEngineBackend::~CpuEngineBackend() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  worker_.join();
}

void CpuEngineBackend::WorkerLoop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    cv_.wait(lock, [&] { return stop_ || pending_; });
    if (stop_) return;
    running_ = true;
    lock.unlock();
    Status st = RunForward(step_);
    lock.lock();
    result_ = std::move(st);
    running_ = false;
    pending_ = false;
    cv_.notify_all();
  }
}

Result<int64_t> CpuEngineBackend::AddSequence() {
  if (static_cast<int32_t>(sessions_.size()) >= max_batch_) {
    return InvalidArgument("the CPU backend holds " + std::to_string(max_batch_) +
                           " sequences at most");
  }
  const int64_t id = next_seq_++;
  sessions_[id] = std::make_unique<CpuSession>(model_);
  return id;
}

Status CpuEngineBackend::RemoveSequence(int64_t seq) {
  if (launched_) return InternalError("RemoveSequence during a forward pass");
  if (sessions_.erase(seq) == 0) return InvalidArgument("unknown sequence " + std::to_string(seq));
  return Status::Ok();
}

Status CpuEngineBackend::RunForward(const std::vector<StepInput>& inputs) {
  const auto start = std::chrono::steady_clock::now();
  for (size_t r = 0; r < inputs.size(); ++r) {
    CpuSession* s = sessions_.at(inputs[r].seq).get();
    Result<std::vector<float>> logits = inputs[r].tokens.size() == 1
                                            ? s->DecodeStep(inputs[r].tokens[0])
                                            : s->Prefill(inputs[r].tokens);
    if (!logits.ok()) return logits.status();
    logits_[r] = std::move(logits).value();
  }
  forward_ms_ =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  return Status::Ok();
}

Status CpuEngineBackend::LaunchForward(const std::vector<StepInput>& inputs) {
  if (launched_) return InternalError("LaunchForward before the previous step's Sample");
  for (const StepInput& in : inputs) {
    auto it = sessions_.find(in.seq);
    if (it == sessions_.end()) return InvalidArgument("unknown sequence " + std::to_string(in.seq));
    if (in.tokens.empty()) return InvalidArgument("a step input needs at least one token");
    if (it->second->length() + static_cast<int64_t>(in.tokens.size()) > max_seq_len_) {
      return LimitError("sequence of " + std::to_string(it->second->length() + in.tokens.size()) +
                        " tokens exceeds max_seq_len " + std::to_string(max_seq_len_));
    }
  }
  logits_.assign(inputs.size(), {});
  {
    std::lock_guard<std::mutex> lock(mu_);
    step_ = inputs;
    pending_ = true;
    launched_ = true;
  }
  cv_.notify_all();
  return Status::Ok();
}

uint32_t* CpuEngineBackend::MaskRows(int32_t rows, int32_t words) {
  masks_.assign(static_cast<size_t>(rows) * words, 0u);
  mask_words_ = words;
  return masks_.data();
}

Result<std::vector<int32_t>> CpuEngineBackend::Sample(const std::vector<SampleRow>& rows,
                                                      StepTiming* timing) {
  if (!launched_) return InternalError("Sample without LaunchForward");
  const auto start = std::chrono::steady_clock::now();
  Status st;
  {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return !pending_; });
    st = std::move(result_);
    launched_ = false;
  }
  if (!st.ok()) return st;
  std::vector<int32_t> out(rows.size(), -1);
  const int32_t vocab = static_cast<int32_t>(model_->config().vocab_size);
  for (size_t i = 0; i < rows.size(); ++i) {
    const std::vector<float>& logits = logits_.at(rows[i].logits_row);
    out[i] = SampleToken(logits.data(), vocab, masks_.data() + i * mask_words_, mask_words_,
                         rows[i].params, rows[i].index);
  }
  if (timing != nullptr) {
    timing->forward_ms = forward_ms_;
    timing->wait_ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  }
  return out;
}

}  // namespace sieve
