// Constrained vs unconstrained generation throughput, in one run (issue 8's speed target:
// constrained >= 98% of unconstrained tokens/s at batch 1 and 64 on the H100 with V2-Lite-size
// random weights).
//
//   engine_bench [--model=DIR] [--device=auto|cpu|gpu] [--batches=1,64] [--tokens=128]
//                [Google Benchmark flags, e.g. --benchmark_repetitions=5]
//
// Without --model: the built-in tiny model on the CPU (a smoke run; its numbers say nothing about
// the GPU). Every benchmark decodes `batch` requests with the same prompt for exactly `tokens`
// tokens each (stop tokens ignored), so both sides do the same forward passes:
//   engine/none/batch:B    no structure (the mask row is the vocabulary's base mask)
//   engine/schema/batch:B  a JSON Schema (an array of at least 1000 weather-report objects: enum,
//                          string, integer and number fields, so masks run through keys, values
//                          and separators and no output can finish early), jump-forward off so the
//                          step sequence is the same as unconstrained
//   engine/schema_jf/batch:1  the same schema with jump-forward on (forced tokens, steps saved)
// Counters: tokens_per_second, mask_us_p50/p99 (CPU mask work per step), hidden (fraction of the
// mask work that ran while the forward pass did), forward_ms_p50, steps, forced, saved.
// After the table, a summary prints the median tokens/s per batch and the ratio
// constrained / unconstrained measured in this run.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "decoder/engine.h"
#include "decoder/engine_model.h"

namespace {

using sieve::Engine;
using sieve::EngineModel;

const char kSchema[] = R"({
  "type": "array", "minItems": 1000,
  "items": {
    "type": "object",
    "properties": {
      "city": {"type": "string", "maxLength": 24},
      "units": {"enum": ["celsius", "fahrenheit", "kelvin"]},
      "temperature": {"type": "number", "minimum": -90, "maximum": 60},
      "humidity": {"type": "integer", "minimum": 0, "maximum": 100},
      "conditions": {"enum": ["clear", "cloudy", "rain", "snow", "storm", "fog"]}
    },
    "required": ["city", "units", "temperature", "humidity", "conditions"],
    "additionalProperties": false
  }
})";

struct Config {
  std::string model;
  sieve::EngineDevice device = sieve::EngineDevice::kAuto;
  std::vector<int> batches = {1, 64};
  int tokens = 128;
};

Config g_config;
std::shared_ptr<const EngineModel> g_model;
std::map<std::string, std::vector<double>> g_tokens_per_second;  // by benchmark family

std::map<int, std::unique_ptr<Engine>>& Engines() {
  static std::map<int, std::unique_ptr<Engine>> engines;
  return engines;
}

Engine* EngineFor(int batch) {
  auto& e = Engines()[batch];
  if (!e) {
    auto backend = g_model->CreateBackend(batch, g_config.tokens + 256);
    if (!backend.ok()) {
      std::fprintf(stderr, "backend: %s\n", backend.status().ToString().c_str());
      return nullptr;
    }
    auto engine = Engine::Create(g_model, std::move(*backend));
    if (!engine.ok()) return nullptr;
    e = std::move(*engine);
  }
  return e.get();
}

void RunEngine(benchmark::State& state, const std::string& family, bool schema, bool jump_forward) {
  const int batch = static_cast<int>(state.range(0));
  Engine* engine = EngineFor(batch);
  if (engine == nullptr) {
    state.SkipWithError("no engine");
    return;
  }
  auto make = [&](uint64_t seed) {
    sieve::GenerationRequest r;
    r.prompt = "Weather reports for the 1000 largest cities, as a JSON array:";
    if (schema) {
      r.structure.kind = sieve::StructureKind::kJsonSchema;
      r.structure.text = kSchema;
      r.structure.json = Engine::DefaultJsonOptions();
    }
    r.sampling.temperature = 1.0f;
    r.sampling.seed = seed;
    r.max_tokens = g_config.tokens;
    r.ignore_stop_tokens = true;
    r.jump_forward = jump_forward;
    return r;
  };
  // Compile the schema once outside the timing (later submits hit the grammar cache).
  if (schema && !engine->Submit(make(0)).ok()) {
    state.SkipWithError("schema did not compile");
    return;
  }
  engine->RunToCompletion();
  engine->TakeFinished();
  sieve::EngineMetrics total;
  double hidden = 0, mask_p50 = 0, mask_p99 = 0, fwd = 0;
  int64_t tokens = 0, steps = 0, forced = 0, saved = 0, deferred = 0;
  double seconds = 0;
  int iterations = 0;
  for (auto _ : state) {
    engine->ResetMetrics();
    for (int i = 0; i < batch; ++i) {
      auto id = engine->Submit(make(static_cast<uint64_t>(iterations * batch + i + 1)));
      if (!id.ok()) {
        state.SkipWithError(id.status().ToString().c_str());
        return;
      }
    }
    if (!engine->RunToCompletion().ok()) {
      state.SkipWithError("generation failed");
      return;
    }
    for (const auto& r : engine->TakeFinished()) {
      if (r.finish != sieve::FinishReason::kMaxTokens) {
        state.SkipWithError("a request ended before max_tokens; lengths would differ");
        return;
      }
    }
    total = engine->metrics();
    tokens += total.output_tokens;
    seconds += total.seconds;
    steps += total.steps;
    forced += total.forced_tokens;
    saved += total.steps_saved;
    deferred += total.jump_forward_deferred;
    hidden += total.mask_hidden_fraction;
    mask_p50 += total.mask_us_p50;
    mask_p99 += total.mask_us_p99;
    fwd += total.forward_ms_p50;
    ++iterations;
  }
  if (iterations == 0) return;
  const double tps = seconds > 0 ? static_cast<double>(tokens) / seconds : 0;
  state.counters["tokens_per_second"] = tps;
  state.counters["mask_us_p50"] = mask_p50 / iterations;
  state.counters["mask_us_p99"] = mask_p99 / iterations;
  state.counters["hidden"] = hidden / iterations;
  state.counters["forward_ms_p50"] = fwd / iterations;
  state.counters["steps"] = static_cast<double>(steps) / iterations;
  state.counters["forced"] = static_cast<double>(forced) / iterations;
  state.counters["saved"] = static_cast<double>(saved) / iterations;
  if (deferred > 0) state.counters["jf_deferred"] = static_cast<double>(deferred) / iterations;
  g_tokens_per_second[family + "/batch:" + std::to_string(batch)].push_back(tps);
}

double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

bool ParseArgs(int* argc, char** argv) {
  int out = 1;
  for (int i = 1; i < *argc; ++i) {
    std::string a = argv[i];
    auto value = [&](const char* name) -> const char* {
      const size_t n = std::strlen(name);
      return a.compare(0, n, name) == 0 ? argv[i] + n : nullptr;
    };
    if (const char* v = value("--model=")) {
      g_config.model = v;
    } else if (const char* v = value("--device=")) {
      const std::string d = v;
      if (d == "cpu")
        g_config.device = sieve::EngineDevice::kCpu;
      else if (d == "gpu")
        g_config.device = sieve::EngineDevice::kGpu;
      else if (d != "auto")
        return false;
    } else if (const char* v = value("--batches=")) {
      g_config.batches.clear();
      std::stringstream ss(v);
      std::string item;
      while (std::getline(ss, item, ',')) g_config.batches.push_back(std::stoi(item));
    } else if (const char* v = value("--tokens=")) {
      g_config.tokens = std::stoi(v);
    } else {
      argv[out++] = argv[i];
    }
  }
  *argc = out;
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  if (!ParseArgs(&argc, argv)) {
    std::fprintf(stderr, "engine_bench: --device must be auto, cpu or gpu\n");
    return 2;
  }
  sieve::EngineModelOptions mo;
  mo.folder = g_config.model;
  mo.device = g_config.device;
  mo.progress = [](const sieve::LoadProgress& p) {
    if (p.bytes_done == p.bytes_total) {
      std::fprintf(stderr, "loaded %.2f GiB in %.1f s\n", p.bytes_total / 1073741824.0, p.seconds);
    }
  };
  auto model = EngineModel::Load(mo);
  if (!model.ok()) {
    std::fprintf(stderr, "engine_bench: %s\n", model.status().ToString().c_str());
    return 1;
  }
  g_model = *model;
  std::fprintf(stderr, "model: %s, vocab %lld, %lld layers\n", g_model->description().c_str(),
               static_cast<long long>(g_model->config().vocab_size),
               static_cast<long long>(g_model->config().num_hidden_layers));
  for (int b : g_config.batches) {
    benchmark::RegisterBenchmark("engine/none",
                                 [](benchmark::State& s) { RunEngine(s, "none", false, false); })
        ->Arg(b)
        ->ArgName("batch")
        ->Unit(benchmark::kMillisecond)
        ->UseRealTime();
    benchmark::RegisterBenchmark("engine/schema",
                                 [](benchmark::State& s) { RunEngine(s, "schema", true, false); })
        ->Arg(b)
        ->ArgName("batch")
        ->Unit(benchmark::kMillisecond)
        ->UseRealTime();
  }
  benchmark::RegisterBenchmark("engine/schema_jf",
                               [](benchmark::State& s) { RunEngine(s, "schema_jf", true, true); })
      ->Arg(1)
      ->ArgName("batch")
      ->Unit(benchmark::kMillisecond)
      ->UseRealTime();
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  std::printf("\nsummary (median tokens/s over repetitions, %d tokens per request, %s):\n",
              g_config.tokens, g_model->description().c_str());
  std::printf("%-8s %14s %14s %10s\n", "batch", "unconstrained", "schema", "ratio");
  for (int b : g_config.batches) {
    const double u = Median(g_tokens_per_second["none/batch:" + std::to_string(b)]);
    const double c = Median(g_tokens_per_second["schema/batch:" + std::to_string(b)]);
    std::printf("%-8d %14.1f %14.1f %9.1f%%\n", b, u, c, u > 0 ? 100.0 * c / u : 0.0);
  }
  Engines().clear();
  benchmark::Shutdown();
  return 0;
}
