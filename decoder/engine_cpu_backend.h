// The CPU engine backend: the fp32 reference model (cpu_model.h), one CpuSession per sequence.
// The forward pass of a step runs on a persistent worker thread (handed over by a condition
// variable, not a thread per step) so the engine's mask work overlaps it, as on the GPU; sampling
// is decoder/sampler.h. For tiny models (CI, the built-in model) and for
// checking the GPU path.
#ifndef SIEVE_DECODER_ENGINE_CPU_BACKEND_H_
#define SIEVE_DECODER_ENGINE_CPU_BACKEND_H_

#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "decoder/cpu_model.h"
#include "decoder/engine_backend.h"

namespace sieve {

class CpuEngineBackend : public EngineBackend {
 public:
  CpuEngineBackend(std::shared_ptr<const CpuModel> model, int32_t max_batch, int64_t max_seq_len);
  ~CpuEngineBackend() override;

  std::string name() const override { return "cpu"; }
  int64_t vocab_size() const override { return model_->config().vocab_size; }
  int32_t max_batch() const override { return max_batch_; }
  int64_t max_seq_len() const override { return max_seq_len_; }
  bool mixed_steps() const override { return true; }  // sequences run one after another anyway
  Result<int64_t> AddSequence() override;
  Status RemoveSequence(int64_t seq) override;
  Status LaunchForward(const std::vector<StepInput>& inputs) override;
  uint32_t* MaskRows(int32_t rows, int32_t words) override;
  Result<std::vector<int32_t>> Sample(const std::vector<SampleRow>& rows,
                                      StepTiming* timing) override;

 private:
  Status RunForward(const std::vector<StepInput>& inputs);
  void WorkerLoop();

  std::shared_ptr<const CpuModel> model_;
  int32_t max_batch_;
  int64_t max_seq_len_;
  int64_t next_seq_ = 0;
  std::map<int64_t, std::unique_ptr<CpuSession>> sessions_;
  std::vector<std::vector<float>> logits_;  // per input row of the running step
  double forward_ms_ = 0;
  // Worker hand-off: `pending_` set by LaunchForward, cleared by the worker with `result_`.
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<StepInput> step_;
  bool pending_ = false, running_ = false, stop_ = false, launched_ = false;
  Status result_;
  std::thread worker_;
  std::vector<uint32_t> masks_;
  int32_t mask_words_ = 0;
};

}  // namespace sieve

#endif  // SIEVE_DECODER_ENGINE_CPU_BACKEND_H_
