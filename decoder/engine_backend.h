// EngineBackend: what the generation engine (engine.h) needs from a model runtime, per step.
//
// A step is: LaunchForward(inputs) starts the forward pass over one or more tokens per sequence
// and returns as soon as it can (the GPU backend enqueues on its stream; the CPU backend runs the
// reference model on a worker thread); meanwhile the engine fills MaskRows() on the CPU; then
// Sample(rows) waits for the forward pass and picks one token per requested row with the fused
// mask + temperature/top-k/top-p sampler (GPU: the mask rows travel by an async copy whose event
// the sampling kernel waits on; CPU: decoder/sampler.h). Both backends make the same choice for
// the same logits (sampler.h is the kernel's oracle).
//
// Logits row r of a step belongs to inputs[r] (the logits after its last token). Sample may ask
// for a subset of the rows (a sequence whose next tokens were forced by jump-forward needs none).
// A backend is used by one thread at a time.
#ifndef SIEVE_DECODER_ENGINE_BACKEND_H_
#define SIEVE_DECODER_ENGINE_BACKEND_H_

#include <cstdint>
#include <string>
#include <vector>

#include "decoder/sampler.h"
#include "grammar/support/status.h"

namespace sieve {

struct StepInput {
  int64_t seq = -1;
  std::vector<int32_t> tokens;  // >= 1
};

struct SampleRow {
  int32_t logits_row = 0;  // index into the step's inputs
  SamplingParams params;
  uint64_t index = 0;  // the request's output position (RNG counter)
};

struct StepTiming {
  double forward_ms = 0;  // time the forward pass took (GPU events / worker thread clock)
  double wait_ms = 0;     // time Sample blocked waiting for the forward pass and the sampler
};

class EngineBackend {
 public:
  virtual ~EngineBackend() = default;
  virtual std::string name() const = 0;
  // Logits per row (the model's vocab, >= the tokenizer's).
  virtual int64_t vocab_size() const = 0;
  // Sequences one step may hold.
  virtual int32_t max_batch() const = 0;
  virtual int64_t max_seq_len() const = 0;
  // Whether a multi-token input rides in the same forward pass as the one-token inputs (cost
  // grows with tokens). False when it needs a forward pass of its own (GpuSession today).
  virtual bool mixed_steps() const = 0;

  virtual Result<int64_t> AddSequence() = 0;
  virtual Status RemoveSequence(int64_t seq) = 0;

  virtual Status LaunchForward(const std::vector<StepInput>& inputs) = 0;
  // Host rows the engine fills while the forward pass runs: rows x words, row r for the r-th
  // SampleRow of the coming Sample call. Valid until the next call.
  virtual uint32_t* MaskRows(int32_t rows, int32_t words) = 0;
  // Waits for the forward pass; returns one token per row (-1: nothing allowed).
  virtual Result<std::vector<int32_t>> Sample(const std::vector<SampleRow>& rows,
                                              StepTiming* timing) = 0;
};

}  // namespace sieve

#endif  // SIEVE_DECODER_ENGINE_BACKEND_H_
