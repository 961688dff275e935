// GpuEngineBackend: see engine_gpu_backend.h.
#include "decoder/engine_gpu_backend.h"

#include <chrono>
#include <string>
#include <utility>

namespace sieve {

Status GpuEngineBackend::Check(cudaError_t e, const char* what) {
  if (e == cudaSuccess) return Status::Ok();
  if (poisoned_.ok()) poisoned_ = CudaStatus(e, std::string("engine: ") + what);
  return poisoned_;
}

Result<std::unique_ptr<GpuEngineBackend>> GpuEngineBackend::Create(
    std::shared_ptr<const GpuModel> model, int32_t max_batch, int64_t max_seq_len) {
  std::unique_ptr<GpuEngineBackend> b(new GpuEngineBackend());
  b->vocab_ = model->config().vocab_size;
  b->max_batch_ = max_batch;
  b->max_seq_len_ = max_seq_len;
  b->words_ = static_cast<int32_t>((b->vocab_ + 31) / 32);
  GpuSessionOptions so;
  so.max_batch = max_batch;
  so.max_seq_len = max_seq_len;
  // Prompts prefill in chunks of up to 1024 tokens (grouped expert GEMMs and MHA-form attention
  // from 128 tokens: ~2x the throughput of 256-token chunks on V2-Lite, bench/README.md); the
  // engine reads one logits row per sequence, so the logits buffer stays max_batch rows.
  so.max_step_tokens = 1024;
  so.max_logits_rows = max_batch;
  SIEVE_ASSIGN_OR_RETURN(b->session_, GpuSession::Create(std::move(model), so));
  const size_t rows = static_cast<size_t>(max_batch);
  SIEVE_RETURN_IF_ERROR(b->Check(cudaStreamCreateWithFlags(&b->copy_stream_, cudaStreamNonBlocking),
                                 "mask copy stream"));
  SIEVE_RETURN_IF_ERROR(b->Check(cudaEventCreate(&b->fwd_start_), "event"));
  SIEVE_RETURN_IF_ERROR(b->Check(cudaEventCreate(&b->fwd_done_), "event"));
  SIEVE_RETURN_IF_ERROR(
      b->Check(cudaEventCreateWithFlags(&b->mask_ready_, cudaEventDisableTiming), "event"));
  SIEVE_RETURN_IF_ERROR(
      b->Check(cudaEventCreateWithFlags(&b->sampled_, cudaEventDisableTiming), "event"));
  SIEVE_RETURN_IF_ERROR(
      b->logits_copy_.Allocate(rows * b->vocab_ * sizeof(float), "engine logits rows"));
  SIEVE_RETURN_IF_ERROR(b->mask_dev_.Allocate(rows * b->words_ * sizeof(uint32_t), "masks"));
  SIEVE_RETURN_IF_ERROR(
      b->params_dev_.Allocate(rows * sizeof(cuda::SampleRowParams), "sampling parameters"));
  SIEVE_RETURN_IF_ERROR(b->tokens_dev_.Allocate(rows * sizeof(int32_t), "sampled tokens"));
  SIEVE_RETURN_IF_ERROR(b->Check(
      cudaMallocHost(reinterpret_cast<void**>(&b->mask_host_), rows * b->words_ * sizeof(uint32_t)),
      "pinned masks"));
  SIEVE_RETURN_IF_ERROR(b->Check(cudaMallocHost(reinterpret_cast<void**>(&b->params_host_),
                                                rows * sizeof(cuda::SampleRowParams)),
                                 "pinned parameters"));
  SIEVE_RETURN_IF_ERROR(
      b->Check(cudaMallocHost(reinterpret_cast<void**>(&b->tokens_host_), rows * sizeof(int32_t)),
               "pinned tokens"));
  return b;
}

GpuEngineBackend::~GpuEngineBackend() {
  if (session_) session_->Synchronize();
  if (copy_stream_) {
    cudaStreamSynchronize(copy_stream_);
    cudaStreamDestroy(copy_stream_);
  }
  for (cudaEvent_t e : {fwd_start_, fwd_done_, mask_ready_, sampled_}) {
    if (e) cudaEventDestroy(e);
  }
  if (mask_host_) cudaFreeHost(mask_host_);
  if (params_host_) cudaFreeHost(params_host_);
  if (tokens_host_) cudaFreeHost(tokens_host_);
}

Result<int64_t> GpuEngineBackend::AddSequence() {
  if (!poisoned_.ok()) return poisoned_;
  return session_->AddSequence();
}

Status GpuEngineBackend::RemoveSequence(int64_t seq) {
  if (!poisoned_.ok()) return poisoned_;
  return session_->RemoveSequence(seq);
}

Status GpuEngineBackend::LaunchForward(const std::vector<StepInput>& inputs) {
  if (!poisoned_.ok()) return poisoned_;
  if (launched_) return InternalError("LaunchForward before the previous step's Sample");
  if (static_cast<int32_t>(inputs.size()) > max_batch_) {
    return InvalidArgument("step of " + std::to_string(inputs.size()) + " sequences > max_batch");
  }
  cudaStream_t s = session_->stream();
  SIEVE_RETURN_IF_ERROR(Check(cudaEventRecord(fwd_start_, s), "record forward start"));
  std::vector<int64_t> seqs;
  std::vector<int32_t> tokens;
  std::vector<size_t> single_rows;
  bool any_multi = false;
  for (size_t r = 0; r < inputs.size(); ++r) {
    if (inputs[r].tokens.size() == 1) {
      seqs.push_back(inputs[r].seq);
      tokens.push_back(inputs[r].tokens[0]);
      single_rows.push_back(r);
    } else {
      any_multi = true;
    }
  }
  const size_t row_bytes = static_cast<size_t>(vocab_) * sizeof(float);
  float* copy = logits_copy_.at<float>(0);
  if (!any_multi) {
    SIEVE_RETURN_IF_ERROR(session_->DecodeStep(seqs, tokens));
    step_logits_ = session_->device_logits();
  } else {
    for (size_t r = 0; r < inputs.size(); ++r) {
      if (inputs[r].tokens.size() == 1) continue;
      SIEVE_RETURN_IF_ERROR(session_->Prefill(inputs[r].seq, inputs[r].tokens));
      SIEVE_RETURN_IF_ERROR(Check(cudaMemcpyAsync(copy + r * vocab_, session_->device_logits(),
                                                  row_bytes, cudaMemcpyDeviceToDevice, s),
                                  "copy prefill logits"));
    }
    if (!seqs.empty()) {
      SIEVE_RETURN_IF_ERROR(session_->DecodeStep(seqs, tokens));
      for (size_t k = 0; k < single_rows.size(); ++k) {
        SIEVE_RETURN_IF_ERROR(Check(
            cudaMemcpyAsync(copy + single_rows[k] * vocab_, session_->device_logits() + k * vocab_,
                            row_bytes, cudaMemcpyDeviceToDevice, s),
            "copy decode logits"));
      }
    }
    step_logits_ = copy;
  }
  SIEVE_RETURN_IF_ERROR(Check(cudaEventRecord(fwd_done_, s), "record forward end"));
  launched_ = true;
  return Status::Ok();
}

uint32_t* GpuEngineBackend::MaskRows(int32_t rows, int32_t words) {
  if (rows > max_batch_ || words > words_) return nullptr;
  mask_words_ = words;
  return mask_host_;
}

Result<std::vector<int32_t>> GpuEngineBackend::Sample(const std::vector<SampleRow>& rows,
                                                      StepTiming* timing) {
  if (!poisoned_.ok()) return poisoned_;
  if (!launched_) return InternalError("Sample without LaunchForward");
  launched_ = false;
  const int32_t n = static_cast<int32_t>(rows.size());
  if (n > max_batch_) return InvalidArgument("more sample rows than max_batch");
  cudaStream_t s = session_->stream();
  const auto start = std::chrono::steady_clock::now();
  std::vector<int32_t> out(rows.size(), -1);
  if (n > 0) {
    if (mask_words_ <= 0) return InternalError("Sample before MaskRows");
    for (int32_t i = 0; i < n; ++i) {
      const SampleRow& r = rows[i];
      params_host_[i] = {r.params.temperature, r.params.top_k, r.params.top_p,
                         r.logits_row,         r.params.seed,  r.index};
    }
    // The masks were written after LaunchForward returned: copy them on the side stream and
    // make the sampling kernel (after the forward pass on the session stream) wait for them.
    SIEVE_RETURN_IF_ERROR(
        Check(cudaMemcpyAsync(mask_dev_.get(), mask_host_,
                              static_cast<size_t>(n) * mask_words_ * sizeof(uint32_t),
                              cudaMemcpyHostToDevice, copy_stream_),
              "copy masks"));
    SIEVE_RETURN_IF_ERROR(
        Check(cudaMemcpyAsync(params_dev_.get(), params_host_, n * sizeof(cuda::SampleRowParams),
                              cudaMemcpyHostToDevice, copy_stream_),
              "copy sampling parameters"));
    SIEVE_RETURN_IF_ERROR(Check(cudaEventRecord(mask_ready_, copy_stream_), "record mask copy"));
    SIEVE_RETURN_IF_ERROR(Check(cudaStreamWaitEvent(s, mask_ready_, 0), "wait for masks"));
    cuda::SampleParams p{};
    p.logits = step_logits_;
    p.logits_stride = vocab_;
    p.vocab = static_cast<int32_t>(vocab_);
    p.rows = n;
    p.bitmask = mask_dev_.at<uint32_t>(0);
    p.mask_words = mask_words_;
    p.row_params = params_dev_.at<cuda::SampleRowParams>(0);
    p.out_tokens = tokens_dev_.at<int32_t>(0);
    SIEVE_RETURN_IF_ERROR(Check(cuda::LaunchSample(p, s), "sampling kernel"));
    SIEVE_RETURN_IF_ERROR(Check(cudaMemcpyAsync(tokens_host_, tokens_dev_.get(),
                                                n * sizeof(int32_t), cudaMemcpyDeviceToHost, s),
                                "copy tokens"));
  }
  SIEVE_RETURN_IF_ERROR(Check(cudaEventRecord(sampled_, s), "record sampled"));
  SIEVE_RETURN_IF_ERROR(Check(cudaEventSynchronize(sampled_), "wait for sampled tokens"));
  for (int32_t i = 0; i < n; ++i) out[i] = tokens_host_[i];
  if (timing != nullptr) {
    float ms = 0;
    SIEVE_RETURN_IF_ERROR(Check(cudaEventElapsedTime(&ms, fwd_start_, fwd_done_), "forward time"));
    timing->forward_ms = ms;
    timing->wait_ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  }
  return out;
}

}  // namespace sieve
