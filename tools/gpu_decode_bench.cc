// sieve-gpu-bench: loads a DeepSeek-V2 model folder onto the GPU and times greedy decoding.
//
// Issue 7's evidence: decode ms/step at batch 1, 8, 64 with every sequence at --context tokens
// (default 4096: the first context - prompt-len positions are appended without compute over a
// cache filled with hash-random bf16, GpuSession::ExtendWithoutCompute, then a real prompt is
// prefilled), achieved GB/s and % of the HBM floor (weights + KV bytes a step must read), a
// per-stage breakdown, prefill tokens/s and TFLOP/s for one --prefill-len prompt, and the most KV
// tokens that fit next to the weights.
//
// A developer tool (links the decoder library directly, like sieve-make-model), used by
// scripts/gpu/issue7-check.sh (and decoder-check.sh) on the GPU machine; results and the command
// are recorded in bench/README.md. It reports what the CLI will care about:
// load time and rate (pinned, double-buffered upload; gpu_weights.h), device memory taken by the
// weights and by a session (KV cache + workspace), then for each batch size the prefill time of
// random prompts and decode steps (DecodeStep + device argmax + copy of the B token ids, i.e. what
// one greedy step costs the host) after warm-up: median and mean ms per step, tokens per second,
// GPU time per forward (CUDA events), and the step's HBM floor: the weight bytes one step must
// read (attention, dense MLP, shared experts, router, lm_head and the expected number of distinct
// routed experts under uniform routing, E (1 - (1 - k/E)^B)) plus every sequence's KV cache, over
// --bandwidth. Timed steps replay the session's CUDA graph for the batch size. After them, a few
// more run with GpuSession stage timing on (eager launches with CUDA events between stages, so
// slower than the graph) to show where a step's GPU time goes. A benchmark: it never asserts. --load-only stops after the load (e.g. a cold-cache load).
// Exit codes: 0 ok, 1 failure, 2 usage error. The last lines are a summary table.
#include <cuda_runtime.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <numeric>
#include <sstream>
#include <string>
#include <vector>

#if defined(SIEVE_PDL_TRACE)
#include "cuda/common/pdl_trace.h"
#endif
#include "decoder/gpu_model.h"
#include "decoder/weights.h"

namespace {

using Clock = std::chrono::steady_clock;
using sieve::Status;

const char kUsage[] =
    "Usage: sieve-gpu-bench --model DIR [OPTIONS]\n"
    "\n"
    "Loads a DeepSeek-V2 model onto the GPU and times greedy decode steps.\n"
    "\n"
    "Options:\n"
    "  --model DIR          model folder (config.json + safetensors; required)\n"
    "  --batch LIST         batch sizes, comma-separated (default 1,8,64)\n"
    "  --context N          cached tokens per sequence before the timed steps (default 4096)\n"
    "  --prompt-len N       real prompt tokens at the end of that context (default 32)\n"
    "  --prefill-len N      time the prefill of one prompt of N tokens (default 4096; 0 = skip)\n"
    "  --prefill-chunk N    tokens per prefill forward: max_step_tokens of a session of its own,\n"
    "                       made after the decode runs (default 4095: the most a session takes)\n"
    "  --prefill-stages     one more prefill with stage timing: GPU ms per stage over the prompt\n"
    "  --steps N            timed decode steps per batch size (default 16)\n"
    "  --warmup N           untimed decode steps first (default 3)\n"
    "  --bandwidth GBPS     HBM bandwidth for the floor estimate (default 3000, H100 copy)\n"
    "  --chunk-mb N         upload staging chunk in MiB (default 64)\n"
    "  --threads N          upload conversion threads (default min(8, cores))\n"
    "  --load-only          report the load and exit\n"
    "  --no-pdl             launch batch-1/2 kernel chains without programmatic dependent launch\n"
    "  --help               this text\n";

int Usage(const std::string& m) {
  std::fprintf(stderr, "sieve-gpu-bench: %s\n(run 'sieve-gpu-bench --help' for usage)\n",
               m.c_str());
  return 2;
}

int Fail(const Status& s) {
  std::fprintf(stderr, "sieve-gpu-bench: %s\n", s.ToString().c_str());
  return 1;
}

bool ParseInt(const std::string& s, long long lo, long long* out) {
  char* end = nullptr;
  const long long v = std::strtoll(s.c_str(), &end, 10);
  if (s.empty() || *end != '\0' || v < lo) return false;
  *out = v;
  return true;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

// Weight bytes one decode step of `batch` sequences must read (bf16), uniform routing.
double StepWeightBytes(const sieve::ModelConfig& c, int batch) {
  const double h = c.hidden_size, nh = c.num_attention_heads;
  const double qk = c.qk_head_dim(), lat = c.kv_lora_rank, rd = c.qk_rope_head_dim;
  double attn = c.q_lora_rank > 0 ? c.q_lora_rank * h + nh * qk * c.q_lora_rank : nh * qk * h;
  attn += (lat + rd) * h + nh * (c.qk_nope_head_dim + c.v_head_dim) * lat + h * nh * c.v_head_dim;
  double params = attn * c.num_hidden_layers + c.vocab_size * h;  // + lm_head
  const double e = c.n_routed_experts, k = c.num_experts_per_tok;
  const double expert = 3 * h * c.moe_intermediate_size;
  const double touched = e > 0 ? e * (1 - std::pow(1 - k / e, batch)) : 0;
  for (int64_t l = 0; l < c.num_hidden_layers; ++l) {
    if (c.IsMoeLayer(l)) {
      params += e * h + c.n_shared_experts * expert + touched * expert;
    } else {
      params += 3 * h * c.intermediate_size;
    }
  }
  return params * 2;
}

// FLOPs of a T-token prefill: 2 x the weights each token multiplies (attention, dense MLP or
// router + shared + top-k routed experts; lm_head for the last row only) + causal attention in
// the MHA form (q.k over qk_head_dim and p.v over v_head_dim, T (T + 1) / 2 pairs per head).
double PrefillFlops(const sieve::ModelConfig& c, double t) {
  const double h = c.hidden_size, nh = c.num_attention_heads;
  const double qk = c.qk_head_dim(), lat = c.kv_lora_rank, rd = c.qk_rope_head_dim;
  double attn = c.q_lora_rank > 0 ? c.q_lora_rank * h + nh * qk * c.q_lora_rank : nh * qk * h;
  attn += (lat + rd) * h + nh * (c.qk_nope_head_dim + c.v_head_dim) * lat + h * nh * c.v_head_dim;
  const double expert = 3 * h * c.moe_intermediate_size;
  double per_token = attn * c.num_hidden_layers;
  for (int64_t l = 0; l < c.num_hidden_layers; ++l) {
    per_token += c.IsMoeLayer(l) ? c.n_routed_experts * h + c.n_shared_experts * expert +
                                       c.num_experts_per_tok * expert
                                 : 3 * h * c.intermediate_size;
  }
  const double pairs = t * (t + 1) / 2;
  const double attention = 2 * pairs * nh * (qk + c.v_head_dim) * c.num_hidden_layers;
  return 2 * per_token * t + attention + 2 * c.vocab_size * h;
}

struct Row {
  int batch;
  double prefill_ms, step_median_ms, step_mean_ms, gpu_ms, floor_ms, bytes;
  std::string tokens;
};

}  // namespace

int main(int argc, char** argv) {
  std::string model_dir;
  std::vector<int> batches = {1, 8, 64};
  long long prompt_len = 32, steps = 16, warmup = 3, bandwidth = 3000, chunk_mb = 64, threads = 0;
  long long context = 4096, prefill_len = 4096, prefill_chunk = 4095;
  bool load_only = false, pdl = true, prefill_stages = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--help" || a == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    }
    if (a == "--load-only") {
      load_only = true;
      continue;
    }
    if (a == "--no-pdl") {
      pdl = false;
      continue;
    }
    if (a == "--prefill-stages") {
      prefill_stages = true;
      continue;
    }
    if (i + 1 >= argc) return Usage("unknown argument or missing value: " + a);
    const std::string v = argv[++i];
    if (a == "--model") {
      model_dir = v;
    } else if (a == "--batch") {
      batches.clear();
      std::stringstream ss(v);
      std::string item;
      while (std::getline(ss, item, ',')) {
        long long b = 0;
        if (!ParseInt(item, 1, &b) || b > 4096) return Usage("--batch needs positive integers");
        batches.push_back(static_cast<int>(b));
      }
      if (batches.empty()) return Usage("--batch needs positive integers");
    } else if (a == "--context") {
      if (!ParseInt(v, 1, &context)) return Usage("--context needs a positive integer");
    } else if (a == "--prefill-len") {
      if (!ParseInt(v, 0, &prefill_len)) return Usage("--prefill-len needs an integer >= 0");
    } else if (a == "--prefill-chunk") {
      if (!ParseInt(v, 1, &prefill_chunk) || prefill_chunk > 4095) {
        return Usage("--prefill-chunk needs an integer in [1, 4095]");
      }
    } else if (a == "--prompt-len") {
      if (!ParseInt(v, 1, &prompt_len)) return Usage("--prompt-len needs a positive integer");
    } else if (a == "--steps") {
      if (!ParseInt(v, 1, &steps)) return Usage("--steps needs a positive integer");
    } else if (a == "--warmup") {
      if (!ParseInt(v, 0, &warmup)) return Usage("--warmup needs a non-negative integer");
    } else if (a == "--bandwidth") {
      if (!ParseInt(v, 1, &bandwidth)) return Usage("--bandwidth needs a positive integer");
    } else if (a == "--chunk-mb") {
      if (!ParseInt(v, 1, &chunk_mb)) return Usage("--chunk-mb needs a positive integer");
    } else if (a == "--threads") {
      if (!ParseInt(v, 1, &threads)) return Usage("--threads needs a positive integer");
    } else {
      return Usage("unknown argument " + a);
    }
  }
  if (model_dir.empty()) return Usage("--model is required");
  if (context < prompt_len) context = prompt_len;

  cudaDeviceProp prop{};
  if (cudaGetDeviceProperties(&prop, 0) != cudaSuccess) {
    return Fail(sieve::CudaStatus(cudaErrorNoDevice, "no CUDA device"));
  }
  cudaFree(nullptr);  // create the context before measuring memory
  size_t free0 = 0, total = 0;
  cudaMemGetInfo(&free0, &total);
  std::printf("device: %s, %.1f GiB, %.1f GiB free\n", prop.name, total / 1073741824.0,
              free0 / 1073741824.0);

  sieve::GpuUploadOptions up;
  up.chunk_bytes = static_cast<uint64_t>(chunk_mb) << 20;
  up.threads = static_cast<int32_t>(threads);
  auto last = Clock::now();
  up.progress = [&](const sieve::GpuUploadProgress& p) {
    const auto now = Clock::now();
    if (now - last < std::chrono::seconds(2) && p.bytes_done != p.bytes_total) return;
    last = now;
    std::fprintf(stderr, "load: %6.2f / %.2f GB  %5.1f s  %.2f GB/s\n", p.bytes_done / 1e9,
                 p.bytes_total / 1e9, p.seconds, p.bytes_per_second / 1e9);
  };
  const auto t0 = Clock::now();
  auto weights = sieve::LoadModelWeights(model_dir);
  if (!weights.ok()) return Fail(weights.status());
  const double open_s = std::chrono::duration<double>(Clock::now() - t0).count();
  sieve::GpuUploadReport report;
  auto model = sieve::GpuModel::FromWeights(*weights, up, &report);
  if (!model.ok()) return Fail(model.status());
  const double load_s = std::chrono::duration<double>(Clock::now() - t0).count();
  size_t free1 = 0;
  cudaMemGetInfo(&free1, &total);
  const sieve::ModelConfig& c = (*model)->config();
  std::printf("model: %s, %lld parameters, %d layers, vocab %lld\n", model_dir.c_str(),
              static_cast<long long>(sieve::ParameterCount(c)),
              static_cast<int>(c.num_hidden_layers), static_cast<long long>(c.vocab_size));
  std::printf(
      "load: %.2f s total (open + validate %.2f s, upload %.2f s: %.2f GB at %.2f GB/s; "
      "host fill %.2f s, waiting for staging %.2f s)\n",
      load_s, open_s, report.seconds, report.device_bytes / 1e9,
      report.device_bytes / 1e9 / std::max(report.seconds, 1e-9), report.host_fill_seconds,
      report.host_wait_seconds);
  std::printf("device memory: weights %.2f GiB (cudaMemGetInfo delta %.2f GiB)\n",
              report.device_bytes / 1073741824.0, (free0 - free1) / 1073741824.0);
  if (load_only) return 0;

  const int max_batch = *std::max_element(batches.begin(), batches.end());
  sieve::GpuSessionOptions so;
  so.max_batch = max_batch;
  so.max_step_tokens = 256;  // the decode session (prefill gets its own: --prefill-chunk)
  so.programmatic_launch = pdl;
  if (!pdl) std::printf("programmatic dependent launch off (--no-pdl)\n");
  constexpr int kProfiled = 4;
  so.max_seq_len = std::max(context + warmup + steps + kProfiled + 8, prefill_len + 8);
  // Every batch's sequences at max_seq_len; the prefill sequence fits in the same pages.
  auto session = sieve::GpuSession::Create(*model, so);
  if (!session.ok()) return Fail(session.status());
  sieve::GpuSession& s = **session;
  size_t free2 = 0;
  cudaMemGetInfo(&free2, &total);
  std::printf(
      "session: KV cache %s; workspace %.1f MB; device memory now %.2f GiB used, %.2f "
      "GiB free\n",
      s.cache().CapacityReport().c_str(), s.workspace_bytes() / 1e6, (total - free2) / 1073741824.0,
      free2 / 1073741824.0);
  const uint64_t per_token = sieve::LatentKvCache::BytesPerToken(c);
  constexpr uint64_t kHeadroom = 1ull << 30;  // cuBLAS, graphs, other allocations
  const int64_t fit_more =
      free2 > kHeadroom ? sieve::LatentKvCache::TokensThatFit(c, free2 - kHeadroom) : 0;
  const int64_t max_kv = s.cache().table().capacity_tokens() + fit_more;
  std::printf(
      "KV cache: %llu B/token (%lld per layer = (kv_lora_rank %lld + rope %lld) x 2 B); at most "
      "%lld tokens (%.1f GiB) fit next to the weights (this session's cache + free memory less "
      "1 GiB headroom)\n",
      static_cast<unsigned long long>(per_token),
      static_cast<long long>(per_token / c.num_hidden_layers),
      static_cast<long long>(c.kv_lora_rank), static_cast<long long>(c.qk_rope_head_dim),
      static_cast<long long>(max_kv), max_kv * static_cast<double>(per_token) / 1073741824.0);
  {
    Status st = s.FillCacheForBenchmark(12345);
    if (!st.ok()) return Fail(st);
  }

  // Warm-up (cuBLAS heuristics, first launches) outside every measurement.
  {
    auto seq = s.AddSequence();
    if (!seq.ok()) return Fail(seq.status());
    Status st = s.Prefill(*seq, std::vector<int32_t>(prompt_len, 1));
    if (st.ok()) st = s.DecodeStep({*seq}, {2});
    if (st.ok()) st = s.Synchronize();
    if (!st.ok()) return Fail(st);
    (void)s.RemoveSequence(*seq);
  }
  cudaEvent_t ev0, ev1;
  cudaEventCreate(&ev0);
  cudaEventCreate(&ev1);
  std::vector<Row> rows;
  std::vector<std::string> breakdowns;
  for (int batch : batches) {
    Row row{batch, 0, 0, 0, 0, 0, 0, ""};
    std::vector<int64_t> seqs;
    std::vector<int32_t> next;
    const auto p0 = Clock::now();
    for (int b = 0; b < batch; ++b) {
      std::vector<int32_t> prompt(prompt_len);
      for (long long i = 0; i < prompt_len; ++i) {
        prompt[i] = static_cast<int32_t>((i * 7919 + b * 104729 + 17) % c.vocab_size);
      }
      auto seq = s.AddSequence();
      if (!seq.ok()) return Fail(seq.status());
      Status st = s.ExtendWithoutCompute(*seq, context - prompt_len);
      if (st.ok()) st = s.Prefill(*seq, prompt);
      if (!st.ok()) return Fail(st);
      auto best = s.ArgmaxToHost();
      if (!best.ok()) return Fail(best.status());
      seqs.push_back(*seq);
      next.push_back((*best)[0]);
    }
    row.prefill_ms = std::chrono::duration<double, std::milli>(Clock::now() - p0).count() / batch;
    std::vector<double> host_ms, gpu_ms;
    std::vector<int32_t> first_tokens = {next[0]};
    for (long long step = 0; step < warmup + steps; ++step) {
      const auto h0 = Clock::now();
      cudaEventRecord(ev0, s.stream());
      Status st = s.DecodeStep(seqs, next);
      if (!st.ok()) return Fail(st);
      cudaEventRecord(ev1, s.stream());
      auto best = s.ArgmaxToHost();  // synchronises
      if (!best.ok()) return Fail(best.status());
      const double h = std::chrono::duration<double, std::milli>(Clock::now() - h0).count();
      float g = 0;
      cudaEventElapsedTime(&g, ev0, ev1);
      next = *best;
      if (first_tokens.size() < 8) first_tokens.push_back(next[0]);
      if (step >= warmup) {
        host_ms.push_back(h);
        gpu_ms.push_back(g);
      }
    }
    row.step_median_ms = Median(host_ms);
    row.step_mean_ms = std::accumulate(host_ms.begin(), host_ms.end(), 0.0) / host_ms.size();
    row.gpu_ms = Median(gpu_ms);
    // Bytes a step must read: weights + every sequence's KV cache (~context + steps / 2 tokens).
    row.bytes = StepWeightBytes(c, batch) +
                static_cast<double>(batch) * (context + warmup + steps / 2.0) * per_token;
    row.floor_ms = row.bytes / (bandwidth * 1e9) * 1e3;
    for (int32_t t : first_tokens) row.tokens += std::to_string(t) + " ";
#if defined(SIEVE_PDL_TRACE)
    // Trace build only (pdl_trace.h): three more graph-replayed steps with every traced block's
    // entry / trigger / wait / exit times, written to $SIEVE_PDL_TRACE_DIR/trace-b<batch>.csv.
    {
      namespace pt = sieve::cuda::pdl_trace;
      constexpr uint32_t kCapacity = 1u << 19;
      pt::Buffer tb;
      tb.capacity = kCapacity;
      if (cudaMalloc(&tb.records, sizeof(pt::Record) * kCapacity) != cudaSuccess ||
          cudaMalloc(&tb.count, sizeof(uint32_t)) != cudaSuccess ||
          pt::Install(tb) != cudaSuccess) {
        std::fprintf(stderr, "pdl trace: allocation or install failed\n");
        return 1;
      }
      const char* dir = std::getenv("SIEVE_PDL_TRACE_DIR");
      const std::string path =
          std::string(dir ? dir : ".") + "/trace-b" + std::to_string(batch) + ".csv";
      FILE* f = std::fopen(path.c_str(), "w");
      if (!f) {
        std::fprintf(stderr, "pdl trace: cannot write %s\n", path.c_str());
        return 1;
      }
      std::fprintf(f, "step,grid,block,blocks,threads,event,tag,sm,ns\n");
      std::vector<pt::Record> recs;
      for (int step = 0; step < 3; ++step) {
        cudaMemsetAsync(tb.count, 0, sizeof(uint32_t), s.stream());
        Status st = s.DecodeStep(seqs, next);
        if (!st.ok()) return Fail(st);
        auto best = s.ArgmaxToHost();  // synchronises
        if (!best.ok()) return Fail(best.status());
        next = *best;
        uint32_t n = 0;
        cudaMemcpy(&n, tb.count, sizeof(n), cudaMemcpyDeviceToHost);
        if (n > kCapacity) std::fprintf(stderr, "pdl trace: %u records, %u kept\n", n, kCapacity);
        n = std::min(n, kCapacity);
        recs.resize(n);
        cudaMemcpy(recs.data(), tb.records, sizeof(pt::Record) * n, cudaMemcpyDeviceToHost);
        for (const pt::Record& r : recs) {
          std::fprintf(f, "%d,%llu,%u,%u,%u,%u,%u,%u,%llu\n", step,
                       static_cast<unsigned long long>(r.grid), r.block, r.blocks, r.threads,
                       r.event, r.tag, r.sm, static_cast<unsigned long long>(r.ns));
        }
        std::printf("pdl trace: batch %d step %d: %u records\n", batch, step, n);
      }
      std::fclose(f);
      (void)pt::Install(pt::Buffer{});
      cudaFree(tb.records);
      cudaFree(tb.count);
    }
#endif
    // Where the GPU time goes: a few more steps with stage events.
    s.SetStageTiming(true);
    (void)s.TakeStageTimes();
    for (int step = 0; step < kProfiled; ++step) {
      Status st = s.DecodeStep(seqs, next);
      if (!st.ok()) return Fail(st);
      auto best = s.ArgmaxToHost();
      if (!best.ok()) return Fail(best.status());
      next = *best;
    }
    auto stages = s.TakeStageTimes();
    s.SetStageTiming(false);
    if (!stages.ok()) return Fail(stages.status());
    std::string line = "batch " + std::to_string(batch) + " GPU ms/step by stage:";
    for (const auto& [name, ms] : *stages) {
      char buf[64];
      std::snprintf(buf, sizeof(buf), " %s %.3f", name.c_str(), ms / kProfiled);
      line += buf;
    }
    breakdowns.push_back(line);
    std::printf(
        "batch %d, context %lld: prefill %.1f ms per %lld-token prompt; decode median %.2f "
        "ms/step (mean %.2f, GPU %.2f), %.0f tok/s; %.2f GB/step -> %.0f GB/s; floor %.2f ms "
        "(%.0f%% of it reached); greedy tokens of sequence 0: %s\n",
        batch, context, row.prefill_ms, prompt_len, row.step_median_ms, row.step_mean_ms,
        row.gpu_ms, batch * 1e3 / row.step_median_ms, row.bytes / 1e9,
        row.bytes / 1e6 / row.step_median_ms, row.floor_ms, 100 * row.floor_ms / row.step_median_ms,
        row.tokens.c_str());
    for (int64_t id : seqs) (void)s.RemoveSequence(id);
    rows.push_back(row);
  }
  // Prefill of one long prompt (chunks of --prefill-chunk tokens), after the decode
  // measurements, in a session of its own (the decode session's memory is released first).
  double prefill_s = 0, prefill_flops = 0;
  if (prefill_len > 0) {
    session->reset();
    so.max_batch = 1;
    so.max_step_tokens = static_cast<int32_t>(prefill_chunk);
    so.max_seq_len = prefill_len + 8;
    auto prefill_session = sieve::GpuSession::Create(*model, so);
    if (!prefill_session.ok()) return Fail(prefill_session.status());
    sieve::GpuSession& s = **prefill_session;
    std::vector<int32_t> prompt(prefill_len);
    for (long long i = 0; i < prefill_len; ++i) {
      prompt[i] = static_cast<int32_t>((i * 7919 + 31) % c.vocab_size);
    }
    for (int rep = 0; rep < 2; ++rep) {  // the first run warms up the prefill shapes
      auto seq = s.AddSequence();
      if (!seq.ok()) return Fail(seq.status());
      Status st = s.Synchronize();
      const auto p0 = Clock::now();
      if (st.ok()) st = s.Prefill(*seq, rep == 0 ? std::vector<int32_t>(prompt.begin(),
                                                                        prompt.begin() + 256)
                                                 : prompt);
      if (st.ok()) st = s.Synchronize();
      if (!st.ok()) return Fail(st);
      prefill_s = std::chrono::duration<double>(Clock::now() - p0).count();
      (void)s.RemoveSequence(*seq);
    }
    prefill_flops = PrefillFlops(c, static_cast<double>(prefill_len));
    std::printf(
        "prefill: %lld tokens in %.3f s = %.0f tokens/s, %.1f TFLOP/s (%.2f TFLOP, MHA-form "
        "count; %.1f%% of the 800 TFLOP/s bf16 ceiling)\n",
        prefill_len, prefill_s, prefill_len / prefill_s, prefill_flops / prefill_s / 1e12,
        prefill_flops / 1e12, 100 * prefill_flops / prefill_s / 800e12);
    if (prefill_stages) {  // eager launches with events between stages: slower than the timing
      auto seq = s.AddSequence();
      if (!seq.ok()) return Fail(seq.status());
      s.SetStageTiming(true);
      (void)s.TakeStageTimes();
      Status st = s.Prefill(*seq, prompt);
      if (st.ok()) st = s.Synchronize();
      auto stages = s.TakeStageTimes();
      s.SetStageTiming(false);
      if (!st.ok()) return Fail(st);
      if (!stages.ok()) return Fail(stages.status());
      std::string line = "prefill " + std::to_string(prefill_len) + " (chunks of " +
                         std::to_string(prefill_chunk) + ") GPU ms by stage:";
      double sum = 0;
      for (const auto& [name, ms] : *stages) {
        char buf[64];
        std::snprintf(buf, sizeof(buf), " %s %.2f", name.c_str(), ms);
        line += buf;
        sum += ms;
      }
      std::printf("%s (sum %.1f)\n", line.c_str(), sum);
      (void)s.RemoveSequence(*seq);
    }
  }

  std::printf("\n== sieve-gpu-bench summary (%s)\n", prop.name);
  std::printf("load %.1f s (%.2f GB/s), weights %.2f GiB on device\n", load_s,
              report.device_bytes / 1e9 / std::max(report.seconds, 1e-9),
              report.device_bytes / 1073741824.0);
  std::printf("context %lld tokens per sequence; floor = (weights + KV bytes) / %lld GB/s\n",
              context, bandwidth);
  std::printf("%6s %14s %12s %10s %10s %9s %8s\n", "batch", "decode_ms/step", "gpu_ms/step",
              "tok/s", "GB/s", "floor_ms", "of_floor");
  for (const Row& r : rows) {
    std::printf("%6d %14.2f %12.2f %10.0f %10.0f %9.2f %7.0f%%\n", r.batch, r.step_median_ms,
                r.gpu_ms, r.batch * 1e3 / r.step_median_ms, r.bytes / 1e6 / r.step_median_ms,
                r.floor_ms, 100 * r.floor_ms / r.step_median_ms);
  }
  if (prefill_len > 0) {
    std::printf("prefill %lld tokens: %.0f tokens/s, %.1f TFLOP/s\n", prefill_len,
                prefill_len / prefill_s, prefill_flops / prefill_s / 1e12);
  }
  std::printf("max KV tokens next to the weights: %lld\n", static_cast<long long>(max_kv));
  for (const std::string& b : breakdowns) std::printf("%s\n", b.c_str());
  return 0;
}
