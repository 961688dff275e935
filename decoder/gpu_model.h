// GpuModel and GpuSession: the DeepSeek-V2 forward pass on one CUDA device, bf16 weights.
//
// GpuModel is the immutable part: the uploaded weights (gpu_weights.h), the yarn rope table and
// softmax scale (decoder/rope.h, shared with the CPU reference), the routing parameters. Load()
// refuses configs the kernels cannot run (cuda/config.h limits) with kUnsupported before any
// upload. It may back several sessions.
//
// GpuSession mirrors CpuSession (cpu_model.h) for a batch: it owns a paged latent KV cache
// (kv_cache.h), a stream, a cuBLAS handle and a workspace sized for `max_step_tokens` tokens per
// forward. Sequences are added and removed by id; Prefill appends a prompt to one sequence (in
// chunks of max_step_tokens; logits of the last position, or of every position when the whole
// prompt fits one chunk); DecodeStep appends one token to each of several sequences in one
// batched forward. Logits ([rows, vocab] fp32) stay on the device until LogitsToHost or
// ArgmaxToHost (an argmax kernel; lowest index among ties, like the CPU's Argmax).
//
// The forward per step of T tokens (gpu_forward.cc; shapes in reference/deepseek-v2.md §2.1):
//   h = embed(tokens) (fp32 residual stream)
//   per layer: x = RMSNorm(h) (bf16)  ->  MLA  ->  h += o;  x = RMSNorm(h)  ->  MLP or MoE  ->  h
//   += y MLA, absorbed over the paged cache: q (q_proj, or q_a -> norm -> q_b) and [c | k_pe] =
//     kv_a x (cuBLAS, fp32 out); c normalised, k_pe rotated and both written to the cache
//     (latent_cache.h); q_lat = W_UK^T q_nope per head (strided batched GEMM); q_pe rotated;
//     attention over the cache (mla_decode.h; every prompt token is its own query row with its
//     own causal length); o = W_UV o_lat per head; o_proj. A prompt chunk of >= kMhaMinTokens
//     tokens of one sequence instead makes k_nope / v for its whole context from the cache (one
//     kv_b_proj GEMM) and attends in the MHA form (mha_prefill.h).
//   MoE: fp32 router (router_logits.h), softmax/top-k on the GPU (routing.h), pairs grouped by
//     expert, shared experts as one SwiGLU MLP, routed experts over stacked weights, expert-major
//     so each touched expert is read once per step (expert_ffn.h; grouped tensor-core GEMMs for
//     prompt chunks, expert_gemm.h), combined with the shared output.
//   MLA attention is split-KV over the SMs for decode (mla_decode.h; the split count depends on
//   the batch size and max_seq_len only). A decode step (one token per sequence, stage timing off)
//   replays one CUDA graph per batch size, captured on first use (GpuSessionOptions::cuda_graphs):
//   the forward reads only device-side step indices, so the graph stays valid across steps.
//   final RMSNorm, lm_head -> fp32 logits for the requested rows.
//   Decode-sized steps (1-2 tokens, cuda::kGemvDecoderMaxRows) take fused paths with the same
//   math: the projections run as weight-streaming GEMVs (cuda/gemm/gemv.h; q_proj + kv_a_proj in
//   one launch, SwiGLU in the gate_up launch) that also compute the preceding RMSNorm (the
//   residual stream then alternates between two buffers), cast + W_UK + rope is one kernel
//   (q_absorb.h) and so is W_UV (value_up.h). Up to 16 tokens the router, top-k and align are one
//   launch (fused_routing.h). Work that only shares inputs runs on a side stream (Fork / Join; two
//   branches in the graph): the routing alongside the shared experts, the cache append alongside q
//   absorption, and on cuBLAS steps (more than 2 tokens) kv_a_proj alongside q_proj and the q rope
//   alongside the W_UK GEMM (the side stream has its own cuBLAS handle and workspace). Steps of
//   1-2 tokens instead route inside the shared experts' gate_up launch (cuda/moe/gemv_routed.h) and
//   run the shared down_proj on the side stream beside the routed experts, adding straight into
//   the residual stream; the next layer's first GEMV follows that join (MoeSharedAside). On
//   decode-sized steps the main stream's own kernels (GEMVs, cache append, q absorption, MLA,
//   routed experts) are launched with programmatic dependent launch (cuda/common/pdl.cuh;
//   GpuSessionOptions::programmatic_launch): each starts while its predecessor runs, requests
//   its weights, then waits for it, so launch gaps and first weight round trips overlap. There
//   the cache append joins the main stream's chain instead of the side stream, so no join
//   precedes the MLA split kernel, which copies the cache tiles without this step's tokens
//   before its wait (mla_decode.h, appended_tokens).
// Activations entering a GEMM are bf16; accumulation, norms, softmax, routing and the residual
// stream are fp32. The forward pass knows nothing about grammars.
//
// Errors: bad input (unknown sequence, token id out of range, too long, cache full) is reported
// before anything runs and leaves the session as it was. A CUDA or cuBLAS failure is kCuda and
// poisons the session: every later call returns that same error (device state may be
// half-written). Nothing aborts the process. A session is used by one thread at a time.
#ifndef SIEVE_DECODER_GPU_MODEL_H_
#define SIEVE_DECODER_GPU_MODEL_H_

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "cuda/gemm/gemm.h"
#include "cuda/gemm/gemv.h"
#include "cuda/moe/fused_routing.h"
#include "cuda/rope/rope.h"
#include "decoder/cuda_status.h"
#include "decoder/gpu_weights.h"
#include "decoder/kv_cache.h"
#include "decoder/model_config.h"
#include "decoder/moe_routing.h"
#include "decoder/weights.h"
#include "grammar/support/status.h"

namespace sieve {

class GpuModel {
 public:
  static Result<std::shared_ptr<const GpuModel>> Load(const std::string& folder,
                                                      const GpuUploadOptions& options = {},
                                                      GpuUploadReport* report = nullptr);
  static Result<std::shared_ptr<const GpuModel>> FromWeights(const ModelWeights& weights,
                                                             const GpuUploadOptions& options = {},
                                                             GpuUploadReport* report = nullptr);
  // kUnsupported when a shape exceeds a kernel limit (cuda/config.h).
  static Status CheckSupported(const ModelConfig& config);

  const ModelConfig& config() const { return weights_->config(); }
  const GpuWeights& weights() const { return *weights_; }
  const float* inv_freq() const { return rope_.at<float>(0); }  // device [rope_dim / 2]
  float attention_factor() const { return attention_factor_; }
  float softmax_scale() const { return softmax_scale_; }
  const RoutingParams& routing() const { return routing_; }

 private:
  GpuModel() = default;
  std::unique_ptr<GpuWeights> weights_;
  DeviceAllocation rope_;
  float attention_factor_ = 1;
  float softmax_scale_ = 1;
  RoutingParams routing_;
};

// A forward of one sequence's chunk of at least kMhaMinTokens prompt tokens, whose context
// (chunk included) is at most kMhaMaxContext tokens and whose keys and values fit in
// kMhaMaxScratchBytes, computes its attention in the MHA form (keys and values of the whole
// context from the latent cache: cuda/attention/mha_prefill.h; scratch of (kv_lora + rope +
// heads x (nope + v)) x 2 bytes per context token, 9.3 KB for V2-Lite and 66 KB for V2 with 128
// heads, allocated on first use); other steps and longer contexts take the absorbed decode
// kernel (the same attention to rounding).
inline constexpr int32_t kMhaMinTokens = 128;
inline constexpr int64_t kMhaMaxContext = 65536;
inline constexpr int64_t kMhaMaxScratchBytes = int64_t{1} << 30;

struct GpuSessionOptions {
  int32_t max_batch = 8;            // sequences in one DecodeStep
  int32_t max_step_tokens = 256;    // tokens per forward; longer prompts prefill in chunks
                                    // (prefill is faster in larger chunks: 4095 is 2.7x 256 on
                                    // V2-Lite, bench/README.md; the workspace, logits of every
                                    // row included, grows with it)
  int32_t max_logits_rows = 0;      // logits rows one forward may return (a prefill with
                                    // all_positions needs its prompt's); 0 = max(max_batch,
                                    // max_step_tokens). A [rows, vocab] fp32 buffer: large
                                    // chunks without all_positions need only max_batch rows
  int64_t max_seq_len = 4096;       // positions per sequence (block-table width)
  int64_t cache_tokens = 0;         // KV cache capacity; 0 = max_batch sequences of max_seq_len
                                    // (each rounded up to whole 64-token pages)
  bool cuda_graphs = true;          // decode steps replay one captured CUDA graph per batch size
                                    // (no per-kernel launches; off while stage timing is on)
  bool mha_prefill = true;          // prompt chunks of >= kMhaMinTokens take the MHA form
                                    // (false: the absorbed decode kernel; A/B and tests)
  bool programmatic_launch = true;  // steps of 1-2 tokens launch their kernel chain with
                                    // programmatic dependent launch (same results; speed only;
                                    // on compute capability 9.0+, plain launches below)
};

class GpuSession {
 public:
  static Result<std::unique_ptr<GpuSession>> Create(std::shared_ptr<const GpuModel> model,
                                                    const GpuSessionOptions& options = {});
  ~GpuSession();
  GpuSession(const GpuSession&) = delete;
  GpuSession& operator=(const GpuSession&) = delete;

  // A new empty sequence; its id is never reused.
  Result<int64_t> AddSequence();
  // Frees the sequence's cache pages.
  Status RemoveSequence(int64_t seq);
  int64_t length(int64_t seq) const { return cache_->table().length(seq); }

  // Appends `tokens` (non-empty) to `seq`. Logits rows: one per token when `all_positions`
  // (which needs tokens.size() <= max_step_tokens), else one for the last token.
  Status Prefill(int64_t seq, const std::vector<int32_t>& tokens, bool all_positions = false);
  // For benchmarks: grows `seq` by `tokens` positions without running the model; those
  // positions' cache slots keep whatever the pages hold (FillCacheForBenchmark puts deterministic
  // random bf16 there), so a decode step can be timed at a long context without prefilling it.
  // The logits of the last forward are left as they were.
  Status ExtendWithoutCompute(int64_t seq, int64_t tokens);
  // Fills the whole KV cache (every layer, every page) with hash-random bf16 values in [-1, 1).
  Status FillCacheForBenchmark(uint32_t seed);

  // Appends tokens[i] to seqs[i] (distinct sequences, at most max_batch) in one forward; logits
  // rows in the order given.
  Status DecodeStep(const std::vector<int64_t>& seqs, const std::vector<int32_t>& tokens);

  // The last forward's logits: [logits_rows(), vocab] fp32 on the device (stream-ordered).
  const float* device_logits() const { return logits_; }
  int32_t logits_rows() const { return logits_rows_; }
  Result<std::vector<float>> LogitsToHost();
  // Argmax of every logits row (device kernel), copied to the host.
  Result<std::vector<int32_t>> ArgmaxToHost();

  // Waits for queued work; returns the session's error, if any.
  Status Synchronize();
  // The error that poisoned the session (OK while healthy).
  const Status& status() const { return poisoned_; }
  cudaStream_t stream() const { return stream_; }
  const LatentKvCache& cache() const { return *cache_; }
  const GpuSessionOptions& options() const { return options_; }
  uint64_t workspace_bytes() const { return workspace_.bytes(); }

  // MoE layers of the last forward enqueued (not replayed from a graph) whose shared experts'
  // down_proj ran beside the routed experts (steps of 1-2 tokens, MoeSharedAside); 0 otherwise.
  int32_t shared_aside_layers() const { return shared_aside_layers_; }

  // For benchmarks: while on, every forward records CUDA events at its stage boundaries (embed,
  // attn.qkv, attn.mla, attn.out, moe.norm, moe.shared+route (the shared experts with the routing
  // alongside on the side stream; in steps of 1-2 tokens the shared gate_up GEMV carrying the
  // routing, its down_proj then running beside moe.experts), moe.route (MoE layers without shared
  // experts), moe.experts, mlp.dense, head).
  // TakeStageTimes waits for the stream and returns the GPU milliseconds per stage summed over
  // the forwards since the last call, in first-seen order. Off by default (no events at all).
  void SetStageTiming(bool on) { timing_ = on; }
  Result<std::vector<std::pair<std::string, double>>> TakeStageTimes();

 private:
  struct Part {  // one sequence's tokens in a step
    int64_t seq;
    const int32_t* tokens;
    int64_t count;
    bool all_positions;
  };
  explicit GpuSession(std::shared_ptr<const GpuModel> model) : model_(std::move(model)) {}
  Status Init(const GpuSessionOptions& options);
  Status CheckTokens(const int32_t* tokens, size_t n) const;
  // Appends the parts to the cache table, uploads the step's indices and runs the forward.
  Status RunStep(const std::vector<Part>& parts);
  // Enqueues the forward for the uploaded step (gpu_forward.cc).
  Status Forward(int32_t tokens, int32_t rows, bool identity_rows);
  // A decode step of `batch` sequences (one token each) through its captured graph: captured on
  // first use (the forward only reads device-side step indices, so the graph stays valid), then
  // replayed. A capture or replay failure poisons the session like any CUDA error.
  Status ForwardGraph(int32_t batch);
  // `norm`, where given, is the RMSNorm producing x_ that the first projection fuses (decode
  // steps of up to kGemvDecoderMaxRows tokens; see Forward); null: x_ is already normalised.
  Status Attention(int64_t layer, int32_t tokens, const cuda::GemvNorm* norm);
  // `alongside`, when set, enqueues work on aux_stream_ once x is final (Fork), concurrent with
  // the rest of the MLP; the main stream waits for it before returning (Join).
  Status Mlp(const GpuMlpWeights& m, const __nv_bfloat16* x, float* out, int32_t tokens,
             const cuda::GemvNorm* norm, const std::function<Status()>& alongside);
  // The decode GEMV of an MLP's gate_up with SwiGLU: act_ ([tokens, inter] bf16) from x ([tokens,
  // hidden] bf16), with `norm` fused where given (the caller checks GemvSupported).
  cuda::GemvParams GateUpGemv(const GpuMlpWeights& m, const __nv_bfloat16* x, int32_t tokens,
                              const cuda::GemvNorm* norm) const;
  Status Moe(const GpuLayerWeights& layer, int32_t tokens, const cuda::GemvNorm* norm);
  // A MoE layer of 1-2 tokens with shared experts, where the kernels take its shapes (`done` false:
  // nothing enqueued): the shared gate_up GEMV carrying `norm` and the routing in one launch
  // (cuda/moe/gemv_routed.h), the routed experts after it on the main stream, and the shared
  // down_proj on the side stream beside them, adding its output straight into norm.h_out (the
  // new residual stream, which nothing reads before the next norm; Forward joins before it). So
  // the two weight streams overlap (issue 7, decoder-notes.md step 84); the residual stream
  // then adds the shared and the routed outputs one after the other (not their sum first).
  Status MoeSharedAside(const GpuLayerWeights& layer, int32_t tokens, const cuda::GemvNorm& norm,
                        bool* done);
  // The routed experts over the routing tables into y_ (+ shared_out where given).
  Status RoutedExperts(const GpuLayerWeights& layer, int32_t tokens, const float* shared_out,
                       bool pdl_first, cudaEvent_t gate_up_done = nullptr);
  // Router logits, top-k and align on `stream` (one fused launch for decode-sized steps).
  Status Route(const GpuLayerWeights& layer, int32_t tokens, cudaStream_t stream);
  // The fused launch's params; with `norm` the kernel normalises h + delta itself (the launch
  // may then be unsupported: MoeRouteFusedSupported).
  cuda::MoeRouteFusedParams FusedRouteParams(const GpuLayerWeights& layer, int32_t tokens,
                                             const cuda::GemvNorm* norm);
  // aux_stream_ waits for the work enqueued on stream_ so far / stream_ waits for aux_stream_'s.
  // Both are captured into decode graphs as a fork and a join (two branches of the graph).
  Status Fork();
  Status Join();
  // q_abs from q_ without q_absorb.h: cast q_nope to bf16, strided batched W_UK GEMM, and the q
  // rope on the side stream alongside them (the caller joins).
  Status QAbsorbUnfused(const GpuLayerWeights& layer, int32_t tokens);
  // A prompt chunk's attention in the MHA form (cuda/attention/mha_prefill.h) after q and the
  // cache append: keys and values of the whole context from the latent cache, then o_.
  Status MhaPrefill(int64_t layer, int32_t tokens);
  // rope(q_pe) from q_ into the tail of each q_abs_ head row (positions of this step).
  cuda::RopeParams QRope(int32_t tokens) const;
  // The unfused equivalent of a GemvNorm whose GEMV could not run: h_out = h, then RMSNorm of
  // h_out (+= delta) into x.
  Status NormFallback(const cuda::GemvNorm& n, __nv_bfloat16* x, int32_t tokens, int32_t k);
  // `aside`: on aux_stream_ through aux_cublas_ (between Fork and Join), else on stream_.
  Status Gemm(const __nv_bfloat16* a, const __nv_bfloat16* w, float* c, int32_t m, int32_t n,
              int32_t k, const char* what, bool aside = false);
  // y = x W^T (fp32 [T, n], rows n apart) for one or two weights sharing x ([T, k] bf16, rows k
  // apart): one decode GEMV launch (cuda/gemm/gemv.h) for up to kGemvDecoderMaxRows tokens, else
  // cuBLAS.
  struct Projection {
    const __nv_bfloat16* w;
    int32_t n;
    float* y;
  };
  Status Project(const __nv_bfloat16* x, int32_t T, int32_t k,
                 std::initializer_list<Projection> outs, const char* what,
                 const cuda::GemvNorm* norm = nullptr);
  // Any cuBLAS GEMM (gemm.h); a failure poisons the session with the cuBLAS or CUDA status.
  Status RunGemm(const cuda::GemmParams& g, const char* what, bool aside = false);
  // Records a CUDA error as the session's poison and returns it.
  Status Check(cudaError_t e, const char* what);
  // Records a stage-boundary event when stage timing is on.
  void Mark(const char* stage);

  std::shared_ptr<const GpuModel> model_;
  GpuSessionOptions options_;
  std::unique_ptr<LatentKvCache> cache_;
  cudaStream_t stream_ = nullptr;
  cudaStream_t aux_stream_ = nullptr;  // side branch of a step (Fork / Join)
  cudaEvent_t fork_ = nullptr, join_ = nullptr;
  cublasHandle_t cublas_ = nullptr;
  cublasHandle_t aux_cublas_ = nullptr;  // GEMMs on aux_stream_ (own workspace: they overlap)
  cudaEvent_t upload_done_ = nullptr;
  Status poisoned_;
  int32_t max_tokens_ = 0;    // workspace rows: max(max_step_tokens, max_batch)
  int32_t max_logits_ = 0;    // logits rows: max_logits_rows (>= max_batch) or max_tokens_
  int32_t max_pages_ = 0;     // block-table row width
  int32_t sm_count_ = 1;      // multiprocessors (split-KV and grid sizing)
  bool pdl_capable_ = false;  // the device takes PDL launches (compute capability >= 9.0)
  bool pdl_ = false;          // this forward launches its main-stream kernels with PDL
  bool shared_aside_ = false;     // a shared down_proj runs on the side stream (MoeSharedAside)
  int32_t shared_aside_layers_ = 0;
  // This step is one sequence's chunk of >= kMhaMinTokens tokens starting at this position (its
  // attention takes the MHA form), else -1.
  int32_t mha_first_position_ = -1;
  int64_t mha_max_context_ = 0;  // contexts whose MHA scratch fits kMhaMaxScratchBytes (0 when
                                 // the model's head dims are not mha_prefill.h's)
  DeviceAllocation mha_scratch_;  // [context, width] latent + [context, heads, nope + v] k / v
  int64_t mha_scratch_tokens_ = 0;

  // Per-step indices: the same layout in pinned host memory and on the device.
  struct StepLayout {
    size_t tokens, positions, seq_lens, row_seq, logit_rows, slots, table, bytes;
  } step_;
  void* step_host_ = nullptr;
  DeviceAllocation step_device_;
  template <typename T>
  T* HostStep(size_t off) const {
    return reinterpret_cast<T*>(static_cast<char*>(step_host_) + off);
  }
  template <typename T>
  T* DeviceStep(size_t off) const {
    return step_device_.at<T>(off);
  }

  // Workspace (device); see Init for the shapes.
  DeviceAllocation workspace_;
  float *h_ = nullptr, *y_ = nullptr, *shared_out_ = nullptr;
  float* h_alt_ = nullptr;  // the residual stream's second buffer (fused norms ping-pong)
  __nv_bfloat16 *x_ = nullptr, *x_rows_ = nullptr;
  float *q_ = nullptr, *q_a_ = nullptr, *kv_a_ = nullptr, *q_abs_ = nullptr;
  __nv_bfloat16 *q_a_norm_ = nullptr, *q_nope_ = nullptr, *o_lat_ = nullptr, *o_ = nullptr;
  float* gate_up_ = nullptr;
  __nv_bfloat16* act_ = nullptr;
  float *router_logits_ = nullptr, *topk_weights_ = nullptr;
  int32_t *topk_ids_ = nullptr, *expert_offsets_ = nullptr, *sorted_pairs_ = nullptr,
          *sorted_experts_ = nullptr;
  float *expert_act_ = nullptr, *pair_out_ = nullptr;
  float *mla_partial_ = nullptr, *mla_partial_lse_ = nullptr;  // split-KV scratch
  uint32_t* route_counter_ = nullptr;  // fused routing's block counter (zeroed at Init)
  float* logits_ = nullptr;
  int32_t* argmax_ = nullptr;
  int32_t* argmax_host_ = nullptr;  // pinned [max_tokens_]
  int32_t logits_rows_ = 0;

  std::map<int32_t, cudaGraphExec_t> graphs_;  // decode batch size -> instantiated forward
  void* cublas_workspace_ = nullptr;           // fixed cuBLAS workspace (graph capture)
  void* aux_cublas_workspace_ = nullptr;       // aux_cublas_'s

  bool timing_ = false;
  std::vector<cudaEvent_t> events_;                    // pool, reused after TakeStageTimes
  std::vector<std::pair<size_t, const char*>> marks_;  // (event index, stage) in stream order
};

// Greedy decoding of each prompt on `session` (new sequences, removed afterwards), one batched
// DecodeStep per round over the live sequences, like the CPU GreedyGenerate. A sequence stops
// after emitting eos_token_id (>= 0) or max_new_tokens tokens.
Result<std::vector<std::vector<int32_t>>> GpuGreedyGenerate(
    GpuSession* session, const std::vector<std::vector<int32_t>>& prompts, int64_t max_new_tokens,
    int64_t eos_token_id = -1);

}  // namespace sieve

#endif  // SIEVE_DECODER_GPU_MODEL_H_
