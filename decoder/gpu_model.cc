// GpuModel loading and GpuSession bookkeeping (sequences, step uploads, logits); the forward
// pass itself is in gpu_forward.cc. See gpu_model.h.
#include "decoder/gpu_model.h"

#include <algorithm>
#include <cstring>
#include <string>
#include <type_traits>
#include <utility>

#include "cuda/attention/mha_prefill.h"
#include "cuda/config.h"
#include "cuda/elementwise/elementwise.h"
#include "cuda/sampling/argmax.h"
#include "decoder/rope.h"

namespace sieve {
namespace {

constexpr size_t kAlign = 256;

size_t AlignUp(size_t v) { return (v + kAlign - 1) / kAlign * kAlign; }

}  // namespace

// ---- GpuModel ----------------------------------------------------------------------------

Status GpuModel::CheckSupported(const ModelConfig& c) {
  auto unsupported = [&](const std::string& what) {
    return Unsupported("the GPU decoder cannot run this config: " + what);
  };
  if (c.kv_lora_rank <= 0 || c.kv_lora_rank > cuda::kMlaMaxLatent) {
    return unsupported("kv_lora_rank " + std::to_string(c.kv_lora_rank) + " (limit " +
                       std::to_string(cuda::kMlaMaxLatent) + ")");
  }
  if (c.kv_lora_rank % 8 != 0 || c.LatentCacheDim() % 8 != 0) {
    return unsupported("kv_lora_rank " + std::to_string(c.kv_lora_rank) +
                       " and kv_lora_rank + qk_rope_head_dim must be multiples of 8 (16-byte "
                       "cache rows for the MLA kernel)");
  }
  if (c.LatentCacheDim() > cuda::kMlaMaxHeadDim) {
    return unsupported("kv_lora_rank + qk_rope_head_dim " + std::to_string(c.LatentCacheDim()) +
                       " (limit " + std::to_string(cuda::kMlaMaxHeadDim) + ")");
  }
  if (c.qk_rope_head_dim <= 0 || c.qk_rope_head_dim % 2 != 0 ||
      c.qk_rope_head_dim > cuda::kMaxRopeDim) {
    return unsupported("qk_rope_head_dim " + std::to_string(c.qk_rope_head_dim));
  }
  if (c.hidden_size > cuda::kMaxNormDim || c.q_lora_rank > cuda::kMaxNormDim) {
    return unsupported("hidden_size or q_lora_rank over " + std::to_string(cuda::kMaxNormDim));
  }
  if (c.n_routed_experts > 0) {
    if (c.n_routed_experts > cuda::kMaxExperts) {
      return unsupported(std::to_string(c.n_routed_experts) + " routed experts (limit " +
                         std::to_string(cuda::kMaxExperts) + ")");
    }
    if (c.hidden_size > cuda::kExpertMaxWidth || c.moe_intermediate_size > cuda::kExpertMaxWidth) {
      return unsupported("hidden_size or moe_intermediate_size over " +
                         std::to_string(cuda::kExpertMaxWidth) + " (expert kernels)");
    }
    if (c.num_experts_per_tok <= 0 || c.num_experts_per_tok > cuda::kMaxTopK ||
        c.num_experts_per_tok > c.n_routed_experts) {
      return unsupported("num_experts_per_tok " + std::to_string(c.num_experts_per_tok));
    }
    if (c.topk_method == TopkMethod::kGroupLimitedGreedy && c.n_group > 1 &&
        (c.n_group > cuda::kMaxGroups || c.n_routed_experts % c.n_group != 0)) {
      return unsupported("n_group " + std::to_string(c.n_group));
    }
  }
  if (c.vocab_size <= 0 || c.vocab_size > INT32_MAX / 2) return unsupported("vocab_size");
  return Status::Ok();
}

Result<std::shared_ptr<const GpuModel>> GpuModel::Load(const std::string& folder,
                                                       const GpuUploadOptions& options,
                                                       GpuUploadReport* report) {
  SIEVE_ASSIGN_OR_RETURN(ModelWeights w, LoadModelWeights(folder));
  return FromWeights(w, options, report);
}

Result<std::shared_ptr<const GpuModel>> GpuModel::FromWeights(const ModelWeights& weights,
                                                              const GpuUploadOptions& options,
                                                              GpuUploadReport* report) {
  const ModelConfig& c = weights.config();
  SIEVE_RETURN_IF_ERROR(CheckSupported(c));
  std::shared_ptr<GpuModel> m(new GpuModel());
  SIEVE_ASSIGN_OR_RETURN(m->weights_, GpuWeights::Upload(weights, options, report));
  const RopeTable rope = ComputeRope(c);
  std::vector<float> inv_freq(rope.inv_freq.begin(), rope.inv_freq.end());
  SIEVE_RETURN_IF_ERROR(m->rope_.Allocate(inv_freq.size() * sizeof(float), "rope table"));
  SIEVE_RETURN_IF_ERROR(
      CudaStatus(cudaMemcpy(m->rope_.get(), inv_freq.data(), inv_freq.size() * sizeof(float),
                            cudaMemcpyHostToDevice),
                 "upload rope table"));
  m->attention_factor_ = static_cast<float>(rope.attention_factor);
  m->softmax_scale_ = static_cast<float>(SoftmaxScale(c));
  m->routing_ = RoutingParams::FromConfig(c);
  return std::shared_ptr<const GpuModel>(std::move(m));
}

// ---- GpuSession: setup -------------------------------------------------------------------

Result<std::unique_ptr<GpuSession>> GpuSession::Create(std::shared_ptr<const GpuModel> model,
                                                       const GpuSessionOptions& options) {
  if (!model) return InvalidArgument("GpuSession: no model");
  std::unique_ptr<GpuSession> s(new GpuSession(std::move(model)));
  SIEVE_RETURN_IF_ERROR(s->Init(options));
  return s;
}

Status GpuSession::Init(const GpuSessionOptions& options) {
  const ModelConfig& c = model_->config();
  options_ = options;
  if (options_.max_batch < 1 || options_.max_step_tokens < 1 || options_.max_seq_len < 1) {
    return InvalidArgument("GpuSession: max_batch, max_step_tokens and max_seq_len must be >= 1");
  }
  if (c.max_position_embeddings > 0) {
    options_.max_seq_len = std::min(options_.max_seq_len, c.max_position_embeddings);
  }
  max_tokens_ = std::max(options_.max_step_tokens, options_.max_batch);
  {
    const int64_t per_token =
        (c.kv_lora_rank + c.qk_rope_head_dim +
         c.num_attention_heads * (c.qk_nope_head_dim + c.v_head_dim)) * 2;
    const bool dims = c.qk_nope_head_dim == cuda::kMhaNope &&
                      c.qk_rope_head_dim == cuda::kMhaRope && c.v_head_dim == cuda::kMhaV;
    mha_max_context_ =
        dims ? std::min(kMhaMaxContext, kMhaMaxScratchBytes / std::max<int64_t>(per_token, 1))
             : 0;
  }
  if (options_.max_logits_rows < 0) {
    return InvalidArgument("GpuSession: max_logits_rows must be >= 0");
  }
  max_logits_ = options_.max_logits_rows == 0
                    ? max_tokens_
                    : std::min(max_tokens_, std::max(options_.max_logits_rows, options_.max_batch));
  const int64_t top_k = std::max<int64_t>(c.num_experts_per_tok, 1);
  if (static_cast<int64_t>(max_tokens_) * top_k > 65535 ||
      static_cast<int64_t>(max_tokens_) * c.num_attention_heads > 65535) {
    return InvalidArgument("GpuSession: " + std::to_string(max_tokens_) +
                           " tokens per step exceed the kernels' grid limit (tokens x top_k and "
                           "tokens x heads must stay <= 65535)");
  }
  max_pages_ =
      static_cast<int32_t>((options_.max_seq_len + cuda::kMlaPageSize - 1) / cuda::kMlaPageSize);
  KvCacheOptions co;
  // Default: room for max_batch sequences of max_seq_len, each rounded up to whole pages (a
  // sequence never shares a page, so tokens alone would undercount).
  co.tokens = options_.cache_tokens > 0
                  ? options_.cache_tokens
                  : static_cast<int64_t>(options_.max_batch) * max_pages_ * cuda::kMlaPageSize;
  SIEVE_ASSIGN_OR_RETURN(cache_, LatentKvCache::Create(c, co));

  SIEVE_RETURN_IF_ERROR(CudaStatus(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking),
                                   "GpuSession: cudaStreamCreate"));
  SIEVE_RETURN_IF_ERROR(CudaStatus(cudaStreamCreateWithFlags(&aux_stream_, cudaStreamNonBlocking),
                                   "GpuSession: cudaStreamCreate (side stream)"));
  SIEVE_RETURN_IF_ERROR(CudaStatus(cudaEventCreateWithFlags(&fork_, cudaEventDisableTiming),
                                   "GpuSession: cudaEventCreate"));
  SIEVE_RETURN_IF_ERROR(CudaStatus(cudaEventCreateWithFlags(&join_, cudaEventDisableTiming),
                                   "GpuSession: cudaEventCreate"));
  SIEVE_RETURN_IF_ERROR(CublasStatus(cublasCreate(&cublas_), "GpuSession: cublasCreate"));
  // A fixed workspace, so cuBLAS never allocates while a decode graph is being captured (32 MiB:
  // NVIDIA's recommendation for Hopper).
  constexpr size_t kCublasWorkspace = 32u << 20;
  SIEVE_RETURN_IF_ERROR(CudaStatus(cudaMalloc(&cublas_workspace_, kCublasWorkspace),
                                   "GpuSession: cuBLAS workspace"));
  SIEVE_RETURN_IF_ERROR(CublasStatus(
      cublasSetWorkspace(cublas_, cublas_workspace_, kCublasWorkspace), "cublasSetWorkspace"));
  // The side stream's GEMMs (kv_a_proj alongside q_proj) may run while the main stream's do:
  // a handle and workspace of their own.
  SIEVE_RETURN_IF_ERROR(
      CublasStatus(cublasCreate(&aux_cublas_), "GpuSession: cublasCreate (side stream)"));
  SIEVE_RETURN_IF_ERROR(CudaStatus(cudaMalloc(&aux_cublas_workspace_, kCublasWorkspace),
                                   "GpuSession: cuBLAS workspace (side stream)"));
  SIEVE_RETURN_IF_ERROR(
      CublasStatus(cublasSetWorkspace(aux_cublas_, aux_cublas_workspace_, kCublasWorkspace),
                   "cublasSetWorkspace (side stream)"));
  SIEVE_RETURN_IF_ERROR(CudaStatus(cudaEventCreateWithFlags(&upload_done_, cudaEventDisableTiming),
                                   "GpuSession: cudaEventCreate"));

  {
    int device = 0;
    SIEVE_RETURN_IF_ERROR(CudaStatus(cudaGetDevice(&device), "GpuSession: cudaGetDevice"));
    SIEVE_RETURN_IF_ERROR(CudaStatus(
        cudaDeviceGetAttribute(&sm_count_, cudaDevAttrMultiProcessorCount, device),
        "GpuSession: multiprocessor count"));
    int major = 0;  // programmatic dependent launch needs compute capability 9.0 (Hopper)
    SIEVE_RETURN_IF_ERROR(CudaStatus(
        cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device),
        "GpuSession: compute capability"));
    pdl_capable_ = major >= 9;
  }

  // Step indices: int32 arrays of max_tokens_ (tokens, positions, seq_lens, row_seq, logit rows),
  // int64 slots, and the block table [max_batch, max_pages_].
  const size_t t = static_cast<size_t>(max_tokens_);
  size_t off = 0;
  auto take = [&](size_t bytes) {
    const size_t at = off;
    off = AlignUp(off + bytes);
    return at;
  };
  step_.tokens = take(t * 4);
  step_.positions = take(t * 4);
  step_.seq_lens = take(t * 4);
  step_.row_seq = take(t * 4);
  step_.logit_rows = take(t * 4);
  step_.slots = take(t * 8);
  step_.table = take(static_cast<size_t>(options_.max_batch) * max_pages_ * 4);
  step_.bytes = off;
  SIEVE_RETURN_IF_ERROR(CudaStatus(cudaHostAlloc(&step_host_, step_.bytes, cudaHostAllocDefault),
                                   "GpuSession: cudaHostAlloc step indices"));
  std::memset(step_host_, 0, step_.bytes);
  SIEVE_RETURN_IF_ERROR(step_device_.Allocate(step_.bytes, "step indices"));
  SIEVE_RETURN_IF_ERROR(CudaStatus(
      cudaHostAlloc(reinterpret_cast<void**>(&argmax_host_), t * 4, cudaHostAllocDefault),
      "GpuSession: cudaHostAlloc argmax"));

  // Workspace: two passes over the same layout, sizing then binding.
  const size_t H = c.hidden_size, nh = c.num_attention_heads, qk = c.qk_head_dim();
  const size_t lat = c.kv_lora_rank, rd = c.qk_rope_head_dim, nope = c.qk_nope_head_dim;
  const size_t vd = c.v_head_dim, ql = std::max<int64_t>(c.q_lora_rank, 1);
  const size_t E = std::max<int64_t>(c.n_routed_experts, 1), k = top_k;
  const size_t moe_i = std::max<int64_t>(c.moe_intermediate_size, 1);
  const size_t inter =
      std::max<int64_t>({c.intermediate_size, c.n_shared_experts * c.moe_intermediate_size, 1});
  const size_t V = c.vocab_size;
  auto layout = [&](char* base) {
    size_t at = 0;
    auto bind = [&](auto*& ptr, size_t count) {
      using T = std::remove_reference_t<decltype(*ptr)>;
      ptr = reinterpret_cast<T*>(base + at);
      at = AlignUp(at + count * sizeof(T));
    };
    bind(h_, t * H);
    bind(h_alt_, t * H);
    bind(y_, t * H);
    bind(shared_out_, t * H);
    bind(x_, t * H);
    bind(x_rows_, t * H);
    bind(q_, t * nh * qk);
    bind(q_a_, t * ql);
    bind(q_a_norm_, t * ql);
    bind(kv_a_, t * (lat + rd));
    bind(q_nope_, t * nh * nope);
    bind(q_abs_, t * nh * (lat + rd));
    bind(o_lat_, t * nh * lat);
    bind(o_, t * nh * vd);
    bind(gate_up_, t * 2 * inter);
    bind(act_, t * inter);
    bind(router_logits_, t * E);
    bind(topk_ids_, t * k);
    bind(topk_weights_, t * k);
    bind(expert_offsets_, E + 1);
    bind(sorted_pairs_, t * k);
    bind(sorted_experts_, t * k);
    bind(expert_act_, t * k * moe_i);
    bind(pair_out_, t * k * H);
    // Split-KV partials: splits x rows x head groups <= sm_count (MlaDecodeSplits).
    const size_t groups = (nh + cuda::kMlaHeadsPerBlock - 1) / cuda::kMlaHeadsPerBlock;
    bind(mla_partial_, static_cast<size_t>(sm_count_) * groups * cuda::kMlaHeadsPerBlock * lat);
    bind(mla_partial_lse_, static_cast<size_t>(sm_count_) * groups * cuda::kMlaHeadsPerBlock);
    bind(route_counter_, 1);
    bind(logits_, static_cast<size_t>(max_logits_) * V);
    bind(argmax_, t);
    return at;
  };
  const size_t bytes = layout(nullptr);
  SIEVE_RETURN_IF_ERROR(workspace_.Allocate(bytes, "decoder workspace"));
  layout(workspace_.at<char>(0));
  // The fused routing kernel counts its blocks here and leaves it at zero after every launch.
  return CudaStatus(cudaMemsetAsync(route_counter_, 0, sizeof(uint32_t), stream_),
                    "GpuSession: zero the routing counter");
}

GpuSession::~GpuSession() {
  if (stream_) cudaStreamSynchronize(stream_);
  if (aux_stream_) cudaStreamSynchronize(aux_stream_);
  for (auto& [batch, exec] : graphs_) cudaGraphExecDestroy(exec);
  if (cublas_workspace_) cudaFree(cublas_workspace_);
  if (aux_cublas_workspace_) cudaFree(aux_cublas_workspace_);
  for (cudaEvent_t e : events_) cudaEventDestroy(e);
  if (cublas_) cublasDestroy(cublas_);
  if (aux_cublas_) cublasDestroy(aux_cublas_);
  if (upload_done_) cudaEventDestroy(upload_done_);
  if (fork_) cudaEventDestroy(fork_);
  if (join_) cudaEventDestroy(join_);
  if (aux_stream_) cudaStreamDestroy(aux_stream_);
  if (stream_) cudaStreamDestroy(stream_);
  if (step_host_) cudaFreeHost(step_host_);
  if (argmax_host_) cudaFreeHost(argmax_host_);
}

Status GpuSession::Check(cudaError_t e, const char* what) {
  if (e == cudaSuccess) return Status::Ok();
  if (poisoned_.ok()) poisoned_ = CudaStatus(e, std::string("GpuSession: ") + what);
  return poisoned_;
}

void GpuSession::Mark(const char* stage) {
  if (!timing_) return;
  const size_t i = marks_.size();
  if (i == events_.size()) {
    cudaEvent_t e = nullptr;
    if (cudaEventCreate(&e) != cudaSuccess) return;  // timing is best effort
    events_.push_back(e);
  }
  if (cudaEventRecord(events_[i], stream_) == cudaSuccess) marks_.emplace_back(i, stage);
}

Result<std::vector<std::pair<std::string, double>>> GpuSession::TakeStageTimes() {
  SIEVE_RETURN_IF_ERROR(Synchronize());
  std::vector<std::pair<std::string, double>> out;
  for (size_t k = 0; k + 1 < marks_.size(); ++k) {
    const std::string stage = marks_[k].second;
    if (stage == "end") continue;  // host time between forwards
    float ms = 0;
    SIEVE_RETURN_IF_ERROR(
        Check(cudaEventElapsedTime(&ms, events_[marks_[k].first], events_[marks_[k + 1].first]),
              "stage timing"));
    auto it = std::find_if(out.begin(), out.end(), [&](const auto& p) { return p.first == stage; });
    if (it == out.end()) {
      out.emplace_back(stage, ms);
    } else {
      it->second += ms;
    }
  }
  marks_.clear();
  return out;
}

Status GpuSession::Synchronize() {
  if (!poisoned_.ok()) return poisoned_;
  return Check(cudaStreamSynchronize(stream_), "cudaStreamSynchronize");
}

// ---- GpuSession: sequences and steps ----------------------------------------------------

Result<int64_t> GpuSession::AddSequence() {
  if (!poisoned_.ok()) return poisoned_;
  return cache_->table().AddSequence();
}

Status GpuSession::RemoveSequence(int64_t seq) {
  // Pages may still be read by queued work; the next step's writes are stream-ordered after it.
  return cache_->table().RemoveSequence(seq);
}

Status GpuSession::CheckTokens(const int32_t* tokens, size_t n) const {
  const int64_t vocab = model_->config().vocab_size;
  for (size_t i = 0; i < n; ++i) {
    if (tokens[i] < 0 || tokens[i] >= vocab) {
      return InvalidArgument("GpuSession: token id " + std::to_string(tokens[i]) +
                             " is outside [0, " + std::to_string(vocab) + ")");
    }
  }
  return Status::Ok();
}

Status GpuSession::Prefill(int64_t seq, const std::vector<int32_t>& tokens, bool all_positions) {
  if (!poisoned_.ok()) return poisoned_;
  const PageTable& table = cache_->table();
  if (tokens.empty()) return InvalidArgument("GpuSession: no tokens to prefill");
  if (!table.HasSequence(seq))
    return InvalidArgument("GpuSession: no sequence " + std::to_string(seq));
  SIEVE_RETURN_IF_ERROR(CheckTokens(tokens.data(), tokens.size()));
  const int64_t n = static_cast<int64_t>(tokens.size());
  if (table.length(seq) + n > options_.max_seq_len) {
    return LimitError("GpuSession: " + std::to_string(table.length(seq) + n) +
                      " positions exceed the session's max_seq_len " +
                      std::to_string(options_.max_seq_len));
  }
  if (all_positions && n > std::min(options_.max_step_tokens, max_logits_)) {
    return InvalidArgument("GpuSession: logits for all " + std::to_string(n) +
                           " positions need a prompt of at most max_step_tokens (" +
                           std::to_string(options_.max_step_tokens) + ") and of the session's " +
                           std::to_string(max_logits_) + " logits rows (max_logits_rows)");
  }
  if (table.PagesNeeded(seq, n) > table.free_pages()) {
    return LimitError("GpuSession: KV cache full: the prompt needs " +
                      std::to_string(table.PagesNeeded(seq, n)) + " pages, " +
                      std::to_string(table.free_pages()) + " are free");
  }
  for (int64_t off = 0; off < n; off += options_.max_step_tokens) {
    const int64_t count = std::min<int64_t>(options_.max_step_tokens, n - off);
    SIEVE_RETURN_IF_ERROR(RunStep({{seq, tokens.data() + off, count, all_positions}}));
  }
  return Status::Ok();
}

Status GpuSession::ExtendWithoutCompute(int64_t seq, int64_t tokens) {
  if (!poisoned_.ok()) return poisoned_;
  const PageTable& table = cache_->table();
  if (!table.HasSequence(seq))
    return InvalidArgument("GpuSession: no sequence " + std::to_string(seq));
  if (tokens < 0) return InvalidArgument("GpuSession: negative token count");
  if (table.length(seq) + tokens > options_.max_seq_len) {
    return LimitError("GpuSession: " + std::to_string(table.length(seq) + tokens) +
                      " positions exceed the session's max_seq_len " +
                      std::to_string(options_.max_seq_len));
  }
  if (tokens == 0) return Status::Ok();
  return cache_->table().Append({seq}, {tokens}).status();
}

Status GpuSession::FillCacheForBenchmark(uint32_t seed) {
  if (!poisoned_.ok()) return poisoned_;
  cuda::FillHashParams p{cache_->layer(0),
                         static_cast<int64_t>(cache_->device_bytes() / sizeof(__nv_bfloat16)),
                         seed, 1.0f};
  SIEVE_RETURN_IF_ERROR(Check(cuda::LaunchFillHash(p, stream_), "fill KV cache"));
  return Synchronize();
}

Status GpuSession::DecodeStep(const std::vector<int64_t>& seqs,
                              const std::vector<int32_t>& tokens) {
  if (!poisoned_.ok()) return poisoned_;
  if (seqs.empty() || seqs.size() != tokens.size()) {
    return InvalidArgument("GpuSession: DecodeStep needs one token per sequence (got " +
                           std::to_string(seqs.size()) + " sequences, " +
                           std::to_string(tokens.size()) + " tokens)");
  }
  if (seqs.size() > static_cast<size_t>(options_.max_batch)) {
    return InvalidArgument("GpuSession: " + std::to_string(seqs.size()) +
                           " sequences exceed max_batch " + std::to_string(options_.max_batch));
  }
  SIEVE_RETURN_IF_ERROR(CheckTokens(tokens.data(), tokens.size()));
  std::vector<Part> parts;
  for (size_t i = 0; i < seqs.size(); ++i) {
    if (!cache_->table().HasSequence(seqs[i])) {
      return InvalidArgument("GpuSession: no sequence " + std::to_string(seqs[i]));
    }
    if (cache_->table().length(seqs[i]) + 1 > options_.max_seq_len) {
      return LimitError("GpuSession: sequence " + std::to_string(seqs[i]) + " is at max_seq_len " +
                        std::to_string(options_.max_seq_len));
    }
    parts.push_back({seqs[i], &tokens[i], 1, false});
  }
  return RunStep(parts);
}

Status GpuSession::RunStep(const std::vector<Part>& parts) {
  int64_t n_tokens = 0, n_rows = 0;
  std::vector<int64_t> seqs, counts;
  for (const Part& p : parts) {
    n_tokens += p.count;
    n_rows += p.all_positions ? p.count : 1;
    seqs.push_back(p.seq);
    counts.push_back(p.count);
  }
  if (n_tokens <= 0 || n_tokens > max_tokens_ || n_rows > max_logits_ ||
      parts.size() > static_cast<size_t>(options_.max_batch)) {
    return InternalError("GpuSession: step of " + std::to_string(n_tokens) + " tokens over " +
                         std::to_string(parts.size()) + " sequences exceeds the workspace");
  }
  // All validation is done; from here the table changes and a failure poisons the session.
  SIEVE_ASSIGN_OR_RETURN(std::vector<int64_t> starts, cache_->table().Append(seqs, counts));
  mha_first_position_ = options_.mha_prefill && parts.size() == 1 &&
                                parts[0].count >= kMhaMinTokens &&
                                starts[0] + parts[0].count <= mha_max_context_
                            ? static_cast<int32_t>(starts[0])
                            : -1;
  SIEVE_RETURN_IF_ERROR(Check(cudaEventSynchronize(upload_done_), "wait for step upload"));
  int32_t* tok = HostStep<int32_t>(step_.tokens);
  int32_t* pos = HostStep<int32_t>(step_.positions);
  int32_t* lens = HostStep<int32_t>(step_.seq_lens);
  int32_t* row_seq = HostStep<int32_t>(step_.row_seq);
  int32_t* rows = HostStep<int32_t>(step_.logit_rows);
  int64_t* slots = HostStep<int64_t>(step_.slots);
  int32_t* table = HostStep<int32_t>(step_.table);
  const PageTable& pt = cache_->table();
  int64_t t = 0, r = 0;
  for (size_t i = 0; i < parts.size(); ++i) {
    const Part& p = parts[i];
    for (int64_t j = 0; j < p.count; ++j, ++t) {
      const int64_t position = starts[i] + j;
      tok[t] = p.tokens[j];
      pos[t] = static_cast<int32_t>(position);
      lens[t] = static_cast<int32_t>(position + 1);
      row_seq[t] = static_cast<int32_t>(i);
      slots[t] = pt.Slot(p.seq, position);
      if (p.all_positions || j == p.count - 1) rows[r++] = static_cast<int32_t>(t);
    }
    const std::vector<int32_t>& pages = pt.pages(p.seq);
    int32_t* row = table + i * max_pages_;
    for (int32_t k = 0; k < max_pages_; ++k) {
      row[k] = k < static_cast<int32_t>(pages.size()) ? pages[k] : 0;
    }
  }
  SIEVE_RETURN_IF_ERROR(Check(
      cudaMemcpyAsync(step_device_.get(), step_host_, step_.bytes, cudaMemcpyHostToDevice, stream_),
      "upload step indices"));
  SIEVE_RETURN_IF_ERROR(Check(cudaEventRecord(upload_done_, stream_), "record step upload"));
  // A decode step (one token per sequence) replays its batch size's graph.
  const bool decode = n_tokens == static_cast<int64_t>(parts.size()) && n_rows == n_tokens;
  if (decode && options_.cuda_graphs && !timing_) {
    SIEVE_RETURN_IF_ERROR(ForwardGraph(static_cast<int32_t>(n_tokens)));
  } else {
    SIEVE_RETURN_IF_ERROR(
        Forward(static_cast<int32_t>(n_tokens), static_cast<int32_t>(n_rows), n_rows == n_tokens));
  }
  logits_rows_ = static_cast<int32_t>(n_rows);
  return Status::Ok();
}

Status GpuSession::ForwardGraph(int32_t batch) {
  auto it = graphs_.find(batch);
  if (it == graphs_.end()) {
    SIEVE_RETURN_IF_ERROR(Check(
        cudaStreamBeginCapture(stream_, cudaStreamCaptureModeThreadLocal), "begin graph capture"));
    const Status forward = Forward(batch, batch, true);
    cudaGraph_t graph = nullptr;
    const cudaError_t end = cudaStreamEndCapture(stream_, &graph);
    if (!forward.ok()) {
      if (graph) cudaGraphDestroy(graph);
      return forward;  // already poisoned
    }
    SIEVE_RETURN_IF_ERROR(Check(end, "end graph capture"));
    cudaGraphExec_t exec = nullptr;
    const cudaError_t inst = cudaGraphInstantiate(&exec, graph, 0);
    cudaGraphDestroy(graph);
    SIEVE_RETURN_IF_ERROR(Check(inst, "instantiate decode graph"));
    it = graphs_.emplace(batch, exec).first;
  }
  return Check(cudaGraphLaunch(it->second, stream_), "launch decode graph");
}

Result<std::vector<float>> GpuSession::LogitsToHost() {
  if (!poisoned_.ok()) return poisoned_;
  const size_t n = static_cast<size_t>(logits_rows_) * model_->config().vocab_size;
  std::vector<float> out(n);
  if (n == 0) return out;
  SIEVE_RETURN_IF_ERROR(Check(
      cudaMemcpyAsync(out.data(), logits_, n * sizeof(float), cudaMemcpyDeviceToHost, stream_),
      "copy logits to host"));
  SIEVE_RETURN_IF_ERROR(Check(cudaStreamSynchronize(stream_), "sync logits copy"));
  return out;
}

Result<std::vector<int32_t>> GpuSession::ArgmaxToHost() {
  if (!poisoned_.ok()) return poisoned_;
  if (logits_rows_ == 0) return std::vector<int32_t>();
  const int32_t vocab = static_cast<int32_t>(model_->config().vocab_size);
  cuda::ArgmaxParams p{logits_, vocab, logits_rows_, vocab, argmax_, nullptr};
  SIEVE_RETURN_IF_ERROR(Check(cuda::LaunchArgmax(p, stream_), "argmax"));
  SIEVE_RETURN_IF_ERROR(Check(cudaMemcpyAsync(argmax_host_, argmax_, logits_rows_ * sizeof(int32_t),
                                              cudaMemcpyDeviceToHost, stream_),
                              "copy argmax to host"));
  SIEVE_RETURN_IF_ERROR(Check(cudaStreamSynchronize(stream_), "sync argmax"));
  return std::vector<int32_t>(argmax_host_, argmax_host_ + logits_rows_);
}

// ---- greedy generation -------------------------------------------------------------------

Result<std::vector<std::vector<int32_t>>> GpuGreedyGenerate(
    GpuSession* session, const std::vector<std::vector<int32_t>>& prompts, int64_t max_new_tokens,
    int64_t eos_token_id) {
  if (!session) return InvalidArgument("GpuGreedyGenerate: no session");
  std::vector<int64_t> ids;
  auto cleanup = [&] {
    for (int64_t id : ids) (void)session->RemoveSequence(id);
  };
  std::vector<std::vector<int32_t>> out(prompts.size());
  std::vector<int32_t> next(prompts.size());
  std::vector<bool> done(prompts.size(), max_new_tokens <= 0);
  for (size_t b = 0; b < prompts.size(); ++b) {
    auto id = session->AddSequence();
    if (!id.ok()) {
      cleanup();
      return id.status();
    }
    ids.push_back(*id);
    Status s = session->Prefill(*id, prompts[b]);
    auto best = s.ok() ? session->ArgmaxToHost() : Result<std::vector<int32_t>>(s);
    if (!best.ok()) {
      cleanup();
      return best.status();
    }
    next[b] = (*best)[0];
  }
  const size_t max_batch = static_cast<size_t>(session->options().max_batch);
  for (int64_t step = 0; step < max_new_tokens; ++step) {
    std::vector<size_t> live;
    for (size_t b = 0; b < prompts.size(); ++b) {
      if (done[b]) continue;
      out[b].push_back(next[b]);
      if (next[b] == eos_token_id || static_cast<int64_t>(out[b].size()) == max_new_tokens) {
        done[b] = true;
        continue;
      }
      live.push_back(b);
    }
    for (size_t first = 0; first < live.size(); first += max_batch) {
      const size_t last = std::min(live.size(), first + max_batch);
      std::vector<int64_t> seqs;
      std::vector<int32_t> tokens;
      for (size_t i = first; i < last; ++i) {
        seqs.push_back(ids[live[i]]);
        tokens.push_back(next[live[i]]);
      }
      Status s = session->DecodeStep(seqs, tokens);
      auto best = s.ok() ? session->ArgmaxToHost() : Result<std::vector<int32_t>>(s);
      if (!best.ok()) {
        cleanup();
        return best.status();
      }
      for (size_t i = first; i < last; ++i) next[live[i]] = (*best)[i - first];
    }
  }
  cleanup();
  return out;
}

}  // namespace sieve
