// GpuWeights: a checkpoint's tensors in device memory, laid out for the GPU forward pass.
//
// Layout. One cudaMalloc holds every tensor, each at a 256-byte aligned offset. Everything is bf16
// except the MoE router (`mlp.gate.weight`), kept fp32 because top-k over nearly equal scores is
// rounding-sensitive (cuda/moe/router_logits.h); for bf16 checkpoints that copy is exact. Matrices
// keep the checkpoint's [out, in] row-major layout, with two regroupings so one kernel or GEMM
// reads what several tensors held:
//   * every SwiGLU MLP (dense layers, shared experts) gets gate_up = [gate_proj; up_proj]
//     ([2I, H]: one GEMM, then SiluMul);
//   * routed experts are stacked per layer like transformers 5.x holds them in memory:
//     experts_w13 [E, 2I, H] (rows 0..I-1 gate, I..2I-1 up of each expert) and experts_w2
//     [E, H, I], the layout cuda/moe/expert_ffn.h reads.
//
// Upload. The device image is filled as one byte stream in address order, in chunks of
// chunk_bytes through `staging_buffers` pinned host buffers: for chunk k the host waits until
// the buffer's previous copy finished (an event), converts the source bytes (bf16 / fp16 / fp32
// on disk, read through the checkpoint's mmap, on `threads` threads) into it, and queues one
// cudaMemcpyAsync on one of two streams; meanwhile the GPU copies chunk k - 1 and the kernel reads
// ahead chunk k + 1's file pages (madvise WILLNEED). So disk reads, conversion and H2D copies
// overlap. The progress callback sees bytes and rate after every chunk. Nothing is left
// allocated on failure; every CUDA error is a kCuda Status.
//
// Before allocating, the total is checked against the device's free memory (or
// GpuUploadOptions::max_device_bytes): too large is a kLimit error naming both sizes.
#ifndef SIEVE_DECODER_GPU_WEIGHTS_H_
#define SIEVE_DECODER_GPU_WEIGHTS_H_

#include <cuda_bf16.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "decoder/cuda_status.h"
#include "decoder/model_config.h"
#include "decoder/weights.h"
#include "grammar/support/status.h"

namespace sieve {

struct GpuUploadProgress {
  uint64_t bytes_done = 0;
  uint64_t bytes_total = 0;
  double seconds = 0;
  double bytes_per_second = 0;
};

struct GpuUploadOptions {
  uint64_t chunk_bytes = 64ull << 20;  // staging chunk (rounded up to 256 bytes)
  int32_t staging_buffers = 3;         // pinned buffers in flight (>= 2 for overlap)
  int32_t threads = 0;                 // host conversion threads; 0 = min(8, cores)
  // Refuse to allocate more than this many device bytes; 0 = the device's free memory.
  uint64_t max_device_bytes = 0;
  std::function<void(const GpuUploadProgress&)> progress;  // called after every chunk
};

struct GpuUploadReport {
  uint64_t device_bytes = 0;     // the allocation (tensors plus alignment padding)
  uint64_t tensor_bytes = 0;     // sum of the device tensors' sizes
  uint64_t source_bytes = 0;     // bytes read from the checkpoint
  double seconds = 0;            // whole upload, allocation included
  double host_fill_seconds = 0;  // host time spent reading and converting into staging buffers
  double host_wait_seconds = 0;  // host time spent waiting for a staging buffer to free up
};

struct GpuMlpWeights {
  const __nv_bfloat16* gate_up = nullptr;  // [2 * inter, hidden]
  const __nv_bfloat16* down = nullptr;     // [hidden, inter]
  int64_t inter = 0;
};

struct GpuLayerWeights {
  const __nv_bfloat16* input_norm = nullptr;           // [H]
  const __nv_bfloat16* post_attention_norm = nullptr;  // [H]
  const __nv_bfloat16* q_proj = nullptr;     // [heads * qk_head_dim, H] (q_lora_rank == 0)
  const __nv_bfloat16* q_a_proj = nullptr;   // [q_lora, H]
  const __nv_bfloat16* q_a_norm = nullptr;   // [q_lora]
  const __nv_bfloat16* q_b_proj = nullptr;   // [heads * qk_head_dim, q_lora]
  const __nv_bfloat16* kv_a_proj = nullptr;  // [kv_lora + rope, H]
  const __nv_bfloat16* kv_a_norm = nullptr;  // [kv_lora]
  const __nv_bfloat16* kv_b_proj = nullptr;  // [heads * (nope + v), kv_lora]
  const __nv_bfloat16* o_proj = nullptr;     // [H, heads * v]
  bool moe = false;
  GpuMlpWeights dense;                         // !moe
  const float* router = nullptr;               // [E, H] fp32
  const __nv_bfloat16* experts_w13 = nullptr;  // [E, 2I, H]
  const __nv_bfloat16* experts_w2 = nullptr;   // [E, H, I]
  bool has_shared = false;
  GpuMlpWeights shared;  // inter = n_shared_experts * moe_intermediate_size
};

class GpuWeights {
 public:
  // Uploads every tensor of `weights` to the current CUDA device. `report` may be null.
  static Result<std::unique_ptr<GpuWeights>> Upload(const ModelWeights& weights,
                                                    const GpuUploadOptions& options = {},
                                                    GpuUploadReport* report = nullptr);

  const ModelConfig& config() const { return config_; }
  const __nv_bfloat16* embedding() const { return embedding_; }    // [vocab, H]
  const __nv_bfloat16* final_norm() const { return final_norm_; }  // [H]
  // [vocab, H]; the embedding when tie_word_embeddings.
  const __nv_bfloat16* lm_head() const { return lm_head_; }
  const std::vector<GpuLayerWeights>& layers() const { return layers_; }
  uint64_t device_bytes() const { return memory_.bytes(); }

  // Where a checkpoint tensor went: device pointer, element size (2 or 4) and element count.
  // For tests and tools; {nullptr, 0, 0} for an unknown name.
  struct Placement {
    const void* data;
    int element_bytes;
    uint64_t numel;
  };
  Placement Find(const std::string& name) const;

 private:
  GpuWeights() = default;

  ModelConfig config_;
  DeviceAllocation memory_;
  const __nv_bfloat16* embedding_ = nullptr;
  const __nv_bfloat16* final_norm_ = nullptr;
  const __nv_bfloat16* lm_head_ = nullptr;
  std::vector<GpuLayerWeights> layers_;
  struct Entry {
    std::string name;
    uint64_t offset;
    int element_bytes;
    uint64_t numel;
  };
  std::vector<Entry> entries_;
};

}  // namespace sieve

#endif  // SIEVE_DECODER_GPU_WEIGHTS_H_
