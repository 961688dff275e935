// sieve-make-model: writes a random-weight DeepSeek-V2 model folder (config.json, safetensors,
// optional tokenizer.json) that both sieve's loader and transformers'
// DeepseekV2ForCausalLM.from_pretrained read.
//
// A developer tool, not part of the public CLI: it links the decoder library directly (the random
// model writer in decoder/random_model.h does the work; this file only parses flags and prints).
// Big presets stream to disk in chunks with progress on stderr; --dry-run prints the files and
// sizes without writing. Exit codes: 0 ok, 1 failure, 2 usage error.
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "decoder/random_model.h"
#include "decoder/weights.h"

namespace {

constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;

const char kUsage[] =
    "Usage: sieve-make-model --preset NAME --out DIR [OPTIONS]\n"
    "\n"
    "Writes a random-weight Hugging Face-style DeepSeek-V2 model folder.\n"
    "\n"
    "Presets: tiny, tiny-qlora-grouped, v2-lite (~31 GB bf16), v2 (~471 GB bf16)\n"
    "\n"
    "Options:\n"
    "  --preset NAME           model shape (required)\n"
    "  --out DIR               output folder (required unless --dry-run)\n"
    "  --seed N                weight seed (default 0)\n"
    "  --dtype bf16|f32        tensor dtype (default bf16)\n"
    "  --vocab N               vocabulary size (default: the preset's; tiny = 1000)\n"
    "  --routing decisive|uniform\n"
    "                          decisive (default): router logits ~N(0,16), top-k rarely near a "
    "tie;\n"
    "                          uniform: tiny router weights, experts picked evenly (benchmarks)\n"
    "  --tokenizer PATH        copy this tokenizer.json (or DIR/tokenizer.json) into the folder\n"
    "  --shard-size BYTES      shard above this many weight bytes (default 5000000000; 0 = one "
    "file;\n"
    "                          suffixes K, M, G = 1e3, 1e6, 1e9)\n"
    "  --dry-run               print the files and sizes, write nothing\n"
    "  --quiet                 no progress on stderr\n"
    "  --help                  this text\n";

int Usage(const std::string& message) {
  std::fprintf(stderr, "sieve-make-model: %s\n(run 'sieve-make-model --help' for usage)\n",
               message.c_str());
  return kExitUsage;
}

bool ParseUint(const std::string& s, uint64_t* out) {
  if (s.empty()) return false;
  uint64_t mult = 1;
  std::string digits = s;
  switch (s.back()) {
    case 'K':
    case 'k':
      mult = 1000;
      break;
    case 'M':
      mult = 1000000;
      break;
    case 'G':
      mult = 1000000000;
      break;
    default:
      break;
  }
  if (mult != 1) digits.pop_back();
  if (digits.empty() || digits.find_first_not_of("0123456789") != std::string::npos) return false;
  errno = 0;
  char* end = nullptr;
  unsigned long long v = std::strtoull(digits.c_str(), &end, 10);
  if (errno != 0 || *end != '\0') return false;
  if (v > UINT64_MAX / mult) return false;
  *out = v * mult;
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  sieve::RandomModelOptions opt;
  opt.progress = true;
  std::string preset;
  uint64_t vocab = 0;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    std::string value;
    const bool takes_value = a == "--preset" || a == "--out" || a == "--seed" || a == "--dtype" ||
                             a == "--vocab" || a == "--routing" || a == "--tokenizer" ||
                             a == "--shard-size";
    if (a.rfind("--", 0) == 0 && a.find('=') != std::string::npos) {
      value = a.substr(a.find('=') + 1);
      a = a.substr(0, a.find('='));
    } else if (takes_value) {
      if (i + 1 >= argc) return Usage("flag " + a + " needs a value");
      value = argv[++i];
    }
    if (a == "--help" || a == "-h") {
      std::fputs(kUsage, stdout);
      return kExitOk;
    } else if (a == "--preset") {
      preset = value;
    } else if (a == "--out") {
      opt.out_dir = value;
    } else if (a == "--seed") {
      if (!ParseUint(value, &opt.seed)) return Usage("--seed needs a non-negative integer");
    } else if (a == "--vocab") {
      if (!ParseUint(value, &vocab) || vocab == 0 || vocab > (1u << 31)) {
        return Usage("--vocab needs a positive integer");
      }
    } else if (a == "--dtype") {
      if (value == "bf16") {
        opt.dtype = sieve::DType::kBF16;
      } else if (value == "f32") {
        opt.dtype = sieve::DType::kF32;
      } else {
        return Usage("--dtype must be bf16 or f32");
      }
    } else if (a == "--routing") {
      if (value == "decisive") {
        opt.routing = sieve::RoutingMode::kDecisive;
      } else if (value == "uniform") {
        opt.routing = sieve::RoutingMode::kUniform;
      } else {
        return Usage("--routing must be decisive or uniform");
      }
    } else if (a == "--tokenizer") {
      opt.tokenizer = value;
    } else if (a == "--shard-size") {
      if (!ParseUint(value, &opt.max_shard_bytes)) return Usage("--shard-size needs a byte count");
    } else if (a == "--dry-run") {
      opt.dry_run = true;
    } else if (a == "--quiet") {
      opt.progress = false;
    } else {
      return Usage("unknown argument " + a);
    }
  }
  if (preset.empty()) return Usage("--preset is required");
  if (opt.out_dir.empty() && !opt.dry_run) return Usage("--out is required");

  auto config = sieve::PresetConfig(preset, static_cast<int64_t>(vocab));
  if (!config.ok()) return Usage(config.status().message());
  auto report = sieve::WriteRandomModel(*config, opt);
  if (!report.ok()) {
    std::fprintf(stderr, "sieve-make-model: %s\n", report.status().ToString().c_str());
    return kExitFailure;
  }
  std::printf("%s %s: %llu parameters, %s, seed %llu, %s routing\n",
              opt.dry_run ? "would write" : "wrote", preset.c_str(),
              static_cast<unsigned long long>(report->parameters), sieve::DTypeName(opt.dtype),
              static_cast<unsigned long long>(opt.seed),
              opt.routing == sieve::RoutingMode::kDecisive ? "decisive" : "uniform");
  for (const auto& f : report->files) {
    std::printf("  %-40s %15llu bytes", f.name.c_str(), static_cast<unsigned long long>(f.bytes));
    if (f.tensors) std::printf("  (%llu tensors)", static_cast<unsigned long long>(f.tensors));
    std::printf("\n");
  }
  std::printf("total %llu bytes (%.2f GB)", static_cast<unsigned long long>(report->total_bytes),
              report->total_bytes / 1e9);
  if (!opt.dry_run) {
    std::printf(" in %.2f s to %s", report->seconds, opt.out_dir.c_str());
  }
  std::printf("\n");
  return kExitOk;
}
