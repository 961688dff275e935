// The GPU engine backend: a GpuSession (gpu_model.h) plus the fused sampling kernel
// (cuda/sampling/sample.h). Per step:
//   LaunchForward enqueues the forward pass on the session's stream (DecodeStep for one-token
//     inputs; a multi-token input - a prompt or jump-forward tokens - is a Prefill of its own,
//     because GpuSession has no public mixed prefill+decode step; its logits row is copied into a
//     [max_batch, vocab] buffer) and returns without waiting;
//   the engine fills the mask rows in pinned host memory meanwhile;
//   Sample copies masks and row parameters on a second stream, records an event, makes the
//     session's stream wait for exactly that event, launches the sampling kernel after the
//     forward pass, copies the tokens back and waits for them.
// Forward time comes from events around the forward pass. A CUDA failure is kCuda and leaves
// the backend unusable (the session poisons itself as well).
#ifndef SIEVE_DECODER_ENGINE_GPU_BACKEND_H_
#define SIEVE_DECODER_ENGINE_GPU_BACKEND_H_

#include <cuda_runtime.h>

#include <memory>
#include <vector>

#include "cuda/sampling/sample.h"
#include "decoder/cuda_status.h"
#include "decoder/engine_backend.h"
#include "decoder/gpu_model.h"

namespace sieve {

class GpuEngineBackend : public EngineBackend {
 public:
  static Result<std::unique_ptr<GpuEngineBackend>> Create(std::shared_ptr<const GpuModel> model,
                                                          int32_t max_batch, int64_t max_seq_len);
  ~GpuEngineBackend() override;

  std::string name() const override { return "gpu"; }
  int64_t vocab_size() const override { return vocab_; }
  int32_t max_batch() const override { return max_batch_; }
  int64_t max_seq_len() const override { return max_seq_len_; }
  bool mixed_steps() const override { return false; }
  Result<int64_t> AddSequence() override;
  Status RemoveSequence(int64_t seq) override;
  Status LaunchForward(const std::vector<StepInput>& inputs) override;
  uint32_t* MaskRows(int32_t rows, int32_t words) override;
  Result<std::vector<int32_t>> Sample(const std::vector<SampleRow>& rows,
                                      StepTiming* timing) override;
  GpuSession& session() { return *session_; }

 private:
  GpuEngineBackend() = default;
  Status Check(cudaError_t e, const char* what);

  std::unique_ptr<GpuSession> session_;
  int64_t vocab_ = 0;
  int32_t max_batch_ = 0;
  int64_t max_seq_len_ = 0;
  int32_t words_ = 0;       // mask words per row (capacity)
  int32_t mask_words_ = 0;  // words of the current step's rows
  cudaStream_t copy_stream_ = nullptr;
  cudaEvent_t fwd_start_ = nullptr, fwd_done_ = nullptr, mask_ready_ = nullptr, sampled_ = nullptr;
  DeviceAllocation logits_copy_, mask_dev_, params_dev_, tokens_dev_;
  uint32_t* mask_host_ = nullptr;                 // pinned [max_batch, words_]
  cuda::SampleRowParams* params_host_ = nullptr;  // pinned [max_batch]
  int32_t* tokens_host_ = nullptr;                // pinned [max_batch]
  const float* step_logits_ = nullptr;
  bool launched_ = false;
  Status poisoned_;
};

}  // namespace sieve

#endif  // SIEVE_DECODER_ENGINE_GPU_BACKEND_H_
