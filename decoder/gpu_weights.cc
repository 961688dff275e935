// Device layout planning and the pipelined upload; see gpu_weights.h.
#include "decoder/gpu_weights.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <functional>
#include <thread>
#include <type_traits>
#include <utility>

#include "decoder/dtype.h"

namespace sieve {
namespace {

constexpr uint64_t kAlign = 256;

uint64_t AlignUp(uint64_t v, uint64_t a) { return (v + a - 1) / a * a; }

// One checkpoint tensor copied to [offset, offset + numel * dst_bytes) of the device image.
struct Job {
  const SafetensorsFile* file;
  const TensorInfo* info;
  uint64_t offset;
  int dst_bytes;  // 2 = bf16, 4 = fp32
  uint64_t end() const { return offset + info->numel() * dst_bytes; }
};

// Converts elements [e0, e1) of `job`'s source into `out`.
void ConvertRange(const Job& job, uint64_t e0, uint64_t e1, uint8_t* out) {
  const DType src_type = job.info->dtype;
  const uint8_t* src = job.file->Data(*job.info) + e0 * DTypeSize(src_type);
  const uint64_t n = e1 - e0;
  if (job.dst_bytes == 4) {
    ConvertToF32(src_type, src, n, reinterpret_cast<float*>(out));
    return;
  }
  switch (src_type) {
    case DType::kBF16:
      std::memcpy(out, src, n * 2);
      return;
    case DType::kF32:
      for (uint64_t i = 0; i < n; ++i) {
        float f;
        std::memcpy(&f, src + 4 * i, 4);
        const uint16_t b = F32ToBf16(f);
        std::memcpy(out + 2 * i, &b, 2);
      }
      return;
    case DType::kF16:
      for (uint64_t i = 0; i < n; ++i) {
        uint16_t h;
        std::memcpy(&h, src + 2 * i, 2);
        const uint16_t b = F32ToBf16(F16ToF32(h));
        std::memcpy(out + 2 * i, &b, 2);
      }
      return;
  }
}

// Index of the first job that may overlap byte `lo` (jobs sorted by offset, non-overlapping).
size_t FirstJob(const std::vector<Job>& jobs, uint64_t lo) {
  auto it = std::upper_bound(jobs.begin(), jobs.end(), lo,
                             [](uint64_t v, const Job& j) { return v < j.offset; });
  return it == jobs.begin() ? 0 : static_cast<size_t>(it - jobs.begin()) - 1;
}

// Fills device-image bytes [lo, hi) into `out` (out[0] is byte lo). Gaps (alignment padding)
// are left as they are. lo, hi and every job offset are multiples of 4 bytes.
void FillRange(const std::vector<Job>& jobs, uint64_t lo, uint64_t hi, uint8_t* out) {
  for (size_t i = FirstJob(jobs, lo); i < jobs.size() && jobs[i].offset < hi; ++i) {
    const Job& j = jobs[i];
    const uint64_t b0 = std::max(lo, j.offset), b1 = std::min(hi, j.end());
    if (b0 >= b1) continue;
    ConvertRange(j, (b0 - j.offset) / j.dst_bytes, (b1 - j.offset) / j.dst_bytes, out + (b0 - lo));
  }
}

// Asks the kernel to read ahead the file pages behind device bytes [lo, hi).
void Prefetch(const std::vector<Job>& jobs, uint64_t lo, uint64_t hi) {
  static const uint64_t page = static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
  for (size_t i = FirstJob(jobs, lo); i < jobs.size() && jobs[i].offset < hi; ++i) {
    const Job& j = jobs[i];
    const uint64_t b0 = std::max(lo, j.offset), b1 = std::min(hi, j.end());
    if (b0 >= b1) continue;
    const uint64_t es = DTypeSize(j.info->dtype);
    const uintptr_t s0 =
        reinterpret_cast<uintptr_t>(j.file->Data(*j.info)) + (b0 - j.offset) / j.dst_bytes * es;
    const uintptr_t s1 = s0 + (b1 - b0) / j.dst_bytes * es;
    const uintptr_t a0 = s0 / page * page;
    madvise(reinterpret_cast<void*>(a0), s1 - a0, MADV_WILLNEED);  // advisory; errors ignored
  }
}

// Pinned buffers, streams and events of one upload; released on every path.
struct Pipeline {
  std::vector<void*> staging;
  std::vector<cudaEvent_t> events;
  cudaStream_t streams[2] = {nullptr, nullptr};
  ~Pipeline() {
    for (cudaStream_t s : streams) {
      if (s) {
        cudaStreamSynchronize(s);
        cudaStreamDestroy(s);
      }
    }
    for (cudaEvent_t e : events) cudaEventDestroy(e);
    for (void* p : staging) cudaFreeHost(p);
  }
};

}  // namespace

Result<std::unique_ptr<GpuWeights>> GpuWeights::Upload(const ModelWeights& weights,
                                                       const GpuUploadOptions& options,
                                                       GpuUploadReport* report) {
  using Clock = std::chrono::steady_clock;
  const auto start = Clock::now();
  const ModelConfig& c = weights.config();
  std::unique_ptr<GpuWeights> w(new GpuWeights());
  w->config_ = c;
  w->layers_.resize(c.num_hidden_layers);

  // ---- plan: offsets for every tensor, and pointer fix-ups once the base is known ----
  std::vector<Job> jobs;
  std::vector<std::function<void(char*)>> fixups;
  uint64_t next = 0;
  uint64_t tensor_bytes = 0;
  auto reserve = [&](uint64_t bytes) {
    const uint64_t off = AlignUp(next, kAlign);
    next = off + bytes;
    tensor_bytes += bytes;
    return off;
  };
  // Places tensor `name` at `offset` (converted to `dst_bytes`-wide elements).
  auto place_at = [&](const std::string& name, uint64_t offset, int dst_bytes) -> Status {
    auto e = weights.Get(name);
    if (!e.info) return InternalError("GpuWeights: tensor " + name + " missing after validation");
    jobs.push_back({e.file, e.info, offset, dst_bytes});
    w->entries_.push_back({name, offset, dst_bytes, e.info->numel()});
    return Status::Ok();
  };
  auto bind = [&](auto& field, uint64_t offset) {
    using T = std::remove_reference_t<decltype(field)>;
    fixups.push_back([&field, offset](char* base) { field = reinterpret_cast<T>(base + offset); });
  };
  // A whole tensor at a fresh offset, bound to `field`.
  auto place = [&](const std::string& name, auto& field, int dst_bytes = 2) -> Status {
    auto e = weights.Get(name);
    if (!e.info) return InternalError("GpuWeights: tensor " + name + " missing after validation");
    const uint64_t off = reserve(e.info->numel() * dst_bytes);
    bind(field, off);
    return place_at(name, off, dst_bytes);
  };
  const int64_t h = c.hidden_size;
  auto place_mlp = [&](const std::string& prefix, int64_t inter, GpuMlpWeights* m) -> Status {
    m->inter = inter;
    const uint64_t gu = reserve(static_cast<uint64_t>(2 * inter * h) * 2);
    bind(m->gate_up, gu);
    SIEVE_RETURN_IF_ERROR(place_at(prefix + "gate_proj.weight", gu, 2));
    SIEVE_RETURN_IF_ERROR(place_at(prefix + "up_proj.weight", gu + inter * h * 2, 2));
    return place(prefix + "down_proj.weight", m->down);
  };

  SIEVE_RETURN_IF_ERROR(place("model.embed_tokens.weight", w->embedding_));
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) {
    GpuLayerWeights& l = w->layers_[i];
    const std::string p = LayerPrefix(i), a = p + "self_attn.";
    SIEVE_RETURN_IF_ERROR(place(p + "input_layernorm.weight", l.input_norm));
    if (c.q_lora_rank > 0) {
      SIEVE_RETURN_IF_ERROR(place(a + "q_a_proj.weight", l.q_a_proj));
      SIEVE_RETURN_IF_ERROR(place(a + "q_a_layernorm.weight", l.q_a_norm));
      SIEVE_RETURN_IF_ERROR(place(a + "q_b_proj.weight", l.q_b_proj));
    } else {
      SIEVE_RETURN_IF_ERROR(place(a + "q_proj.weight", l.q_proj));
    }
    SIEVE_RETURN_IF_ERROR(place(a + "kv_a_proj_with_mqa.weight", l.kv_a_proj));
    SIEVE_RETURN_IF_ERROR(place(a + "kv_a_layernorm.weight", l.kv_a_norm));
    SIEVE_RETURN_IF_ERROR(place(a + "kv_b_proj.weight", l.kv_b_proj));
    SIEVE_RETURN_IF_ERROR(place(a + "o_proj.weight", l.o_proj));
    SIEVE_RETURN_IF_ERROR(place(p + "post_attention_layernorm.weight", l.post_attention_norm));
    l.moe = c.IsMoeLayer(i);
    if (!l.moe) {
      SIEVE_RETURN_IF_ERROR(place_mlp(p + "mlp.", c.intermediate_size, &l.dense));
      continue;
    }
    SIEVE_RETURN_IF_ERROR(place(p + "mlp.gate.weight", l.router, 4));
    const int64_t inter = c.moe_intermediate_size, n_exp = c.n_routed_experts;
    const uint64_t expert13 = static_cast<uint64_t>(2 * inter * h) * 2;
    const uint64_t expert2 = static_cast<uint64_t>(h * inter) * 2;
    const uint64_t w13 = reserve(expert13 * n_exp);
    const uint64_t w2 = reserve(expert2 * n_exp);
    bind(l.experts_w13, w13);
    bind(l.experts_w2, w2);
    for (int64_t e = 0; e < n_exp; ++e) {
      const std::string ep = ExpertPrefix(i, e);
      SIEVE_RETURN_IF_ERROR(place_at(ep + "gate_proj.weight", w13 + e * expert13, 2));
      SIEVE_RETURN_IF_ERROR(place_at(ep + "up_proj.weight", w13 + e * expert13 + inter * h * 2, 2));
      SIEVE_RETURN_IF_ERROR(place_at(ep + "down_proj.weight", w2 + e * expert2, 2));
    }
    l.has_shared = c.n_shared_experts > 0;
    if (l.has_shared) {
      SIEVE_RETURN_IF_ERROR(
          place_mlp(p + "mlp.shared_experts.", c.n_shared_experts * inter, &l.shared));
    }
  }
  SIEVE_RETURN_IF_ERROR(place("model.norm.weight", w->final_norm_));
  if (!c.tie_word_embeddings) SIEVE_RETURN_IF_ERROR(place("lm_head.weight", w->lm_head_));
  const uint64_t total = AlignUp(next, kAlign);
  std::sort(jobs.begin(), jobs.end(),
            [](const Job& x, const Job& y) { return x.offset < y.offset; });
  uint64_t source_bytes = 0;
  for (const Job& j : jobs) source_bytes += j.info->nbytes();

  // ---- allocate ----
  size_t free_bytes = 0, total_bytes = 0;
  SIEVE_RETURN_IF_ERROR(CudaStatus(cudaMemGetInfo(&free_bytes, &total_bytes), "cudaMemGetInfo"));
  const uint64_t limit = options.max_device_bytes ? options.max_device_bytes : free_bytes;
  if (total > limit) {
    return LimitError("GpuWeights: " + weights.folder() + " needs " + std::to_string(total) +
                      " bytes of device memory, over the " +
                      (options.max_device_bytes ? "configured limit of " : "free ") +
                      std::to_string(limit) + " bytes");
  }
  SIEVE_RETURN_IF_ERROR(w->memory_.Allocate(total, "model weights"));
  char* base = w->memory_.at<char>(0);
  for (auto& f : fixups) f(base);
  if (c.tie_word_embeddings) w->lm_head_ = w->embedding_;

  // ---- stream the image through pinned staging buffers ----
  const uint64_t chunk =
      std::min<uint64_t>(AlignUp(std::max<uint64_t>(options.chunk_bytes, 1), kAlign), total);
  const int nbuf = std::max(2, options.staging_buffers);
  const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  const int threads = options.threads > 0 ? options.threads : static_cast<int>(std::min(8u, cores));
  Pipeline pipe;
  for (cudaStream_t& s : pipe.streams) {
    SIEVE_RETURN_IF_ERROR(CudaStatus(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking),
                                     "upload weights: cudaStreamCreate"));
  }
  for (int i = 0; i < nbuf; ++i) {
    void* p = nullptr;
    SIEVE_RETURN_IF_ERROR(
        CudaStatus(cudaHostAlloc(&p, chunk, cudaHostAllocDefault),
                   "upload weights: cudaHostAlloc " + std::to_string(chunk) + " bytes"));
    pipe.staging.push_back(p);
    cudaEvent_t e = nullptr;
    SIEVE_RETURN_IF_ERROR(CudaStatus(cudaEventCreateWithFlags(&e, cudaEventDisableTiming),
                                     "upload weights: cudaEventCreate"));
    pipe.events.push_back(e);
  }
  double fill_s = 0, wait_s = 0;
  const uint64_t chunks = (total + chunk - 1) / chunk;
  if (chunks > 0) Prefetch(jobs, 0, std::min(total, chunk));
  for (uint64_t k = 0; k < chunks; ++k) {
    const int slot = static_cast<int>(k % nbuf);
    const uint64_t lo = k * chunk, hi = std::min(total, lo + chunk);
    auto t0 = Clock::now();
    SIEVE_RETURN_IF_ERROR(
        CudaStatus(cudaEventSynchronize(pipe.events[slot]), "upload weights: staging wait"));
    auto t1 = Clock::now();
    if (hi < total) Prefetch(jobs, hi, std::min(total, hi + chunk));
    uint8_t* out = static_cast<uint8_t*>(pipe.staging[slot]);
    // Split the chunk over threads at 256-byte boundaries.
    const uint64_t per = AlignUp((hi - lo + threads - 1) / threads, kAlign);
    std::vector<std::thread> pool;
    for (uint64_t s = lo + per; s < hi; s += per) {
      const uint64_t e = std::min(hi, s + per);
      pool.emplace_back([&jobs, s, e, out, lo] { FillRange(jobs, s, e, out + (s - lo)); });
    }
    FillRange(jobs, lo, std::min(hi, lo + per), out);
    for (std::thread& t : pool) t.join();
    auto t2 = Clock::now();
    cudaStream_t stream = pipe.streams[k % 2];
    SIEVE_RETURN_IF_ERROR(
        CudaStatus(cudaMemcpyAsync(base + lo, out, hi - lo, cudaMemcpyHostToDevice, stream),
                   "upload weights: cudaMemcpyAsync"));
    SIEVE_RETURN_IF_ERROR(
        CudaStatus(cudaEventRecord(pipe.events[slot], stream), "upload weights: cudaEventRecord"));
    wait_s += std::chrono::duration<double>(t1 - t0).count();
    fill_s += std::chrono::duration<double>(t2 - t1).count();
    if (options.progress) {
      GpuUploadProgress pr;
      pr.bytes_done = hi;
      pr.bytes_total = total;
      pr.seconds = std::chrono::duration<double>(Clock::now() - start).count();
      pr.bytes_per_second = pr.seconds > 0 ? hi / pr.seconds : 0;
      options.progress(pr);
    }
  }
  for (cudaStream_t s : pipe.streams) {
    SIEVE_RETURN_IF_ERROR(CudaStatus(cudaStreamSynchronize(s), "upload weights: final sync"));
  }
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  if (options.progress) {
    // Once more after the last copy landed, so the final rate is the real one.
    options.progress({total, total, seconds, seconds > 0 ? total / seconds : 0});
  }
  if (report) {
    report->device_bytes = total;
    report->tensor_bytes = tensor_bytes;
    report->source_bytes = source_bytes;
    report->seconds = seconds;
    report->host_fill_seconds = fill_s;
    report->host_wait_seconds = wait_s;
  }
  return w;
}

GpuWeights::Placement GpuWeights::Find(const std::string& name) const {
  for (const Entry& e : entries_) {
    if (e.name == name) return {memory_.at<char>(e.offset), e.element_bytes, e.numel};
  }
  return {nullptr, 0, 0};
}

}  // namespace sieve
