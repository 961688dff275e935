// sieve-load: compile + match cycles over the example schemas on many threads (issue 10).
//
//   sieve-load [--cycles N] [--threads T] [--schemas DIR] [--tokenizer DIR] [--cache-bytes B]
//              [--mask-cache-bytes B] [--max-compile-ms MS] [--quiet]
//
// What one cycle does: take schema i = cycle mod S from DIR (*.schema.json with their .valid.jsonl
// and .invalid.jsonl instances), convert it to a grammar, compile it (simplify, automaton, token-
// mask cache), either directly or through a GrammarCache shared by all threads (every other
// cycle), then walk every instance token by token: at each step the next-token mask is filled and
// folded into a digest, the instance's token must be allowed and accepted, and at the end the
// stop token must be allowed (valid instances) or the first rejected token is recorded (invalid
// ones). The cycle's digest must equal the digest of a single-threaded reference run made first.
//
// What it checks (exit 1 otherwise, with the reason):
//  - identical results: every cycle's digest equals the single-threaded one for its schema;
//  - no leak: live heap bytes (replaced operator new/delete, tests/grammar/alloc_counter.cc) return
//    to the baseline taken after the reference run, within a small slack (thread start-up);
//  - budgets: the shared GrammarCache never holds more than --cache-bytes, and every mask cache
//    stays within --mask-cache-bytes (plus its per-state index, which the budget does not count).
// Progress goes to stderr every 10% of the cycles; the summary to stdout.
//
// The vocabulary is synthetic by default (every single byte plus JSON pieces, greedy longest-match
// tokenisation), which keeps a cycle to milliseconds so CI can afford a run; --tokenizer uses a
// real Hugging Face tokenizer instead (Llama-3: mask caches take ~100x longer to build).
#include <malloc.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "grammar/grammar_cache.h"
#include "grammar/json_schema.h"
#include "grammar/limits.h"
#include "grammar/mask_cache.h"
#include "grammar/matcher.h"
#include "grammar/pda.h"
#include "grammar/simplify.h"
#include "grammar/token_trie.h"
#include "grammar/tokenizer/tokenizer.h"
#include "grammar/tokenizer/vocabulary.h"
#include "tests/grammar/alloc_counter.h"

namespace sieve {
namespace {

namespace fs = std::filesystem;

struct Args {
  int64_t cycles = 10000;
  int threads = 0;  // 0 = hardware concurrency
  std::string schemas = SIEVE_SOURCE_DIR "/schemas";
  std::string tokenizer;
  size_t cache_bytes = size_t{8} << 20;
  size_t mask_cache_bytes = size_t{64} << 20;
  // GrammarCacheOptions::max_compile_ms of the cached compiles (<= 0: none). The default is the
  // library's; the CTest under the sanitizers (10-20x slower, on a shared machine) turns it off,
  // since a compile that runs out of wall time is not what this run checks.
  int64_t max_compile_ms = GrammarCacheOptions().max_compile_ms;
  bool quiet = false;
};

struct Instance {
  std::vector<int32_t> ids;
  bool valid = false;
};

struct Schema {
  std::string name;
  std::string text;
  std::vector<Instance> instances;
};

// A vocabulary for the load: every single byte, plus pieces common in JSON documents.
std::shared_ptr<const Vocabulary> SyntheticVocab() {
  std::vector<std::string> tokens;
  for (int b = 0; b < 256; ++b) tokens.push_back(std::string(1, static_cast<char>(b)));
  const char* pieces[] = {"{\"", "\":", "\": ", "\", \"", "\",", ", \"", "\"}", "}}", "]}", "[{",
                          "}, {", "true", "false", "null", "name", "id", "type", "value", "date",
                          "email", "url", "status", "items", "2024", "00", "-0", ".0", "  ",
                          "    ", "\n", "\n  ", "\\n", "\\\"", "http", "https://", ".com", "the",
                          "an", "er", "in", "on", "re", "ing", "ion", "é", "á"};
  for (const char* p : pieces) tokens.push_back(p);
  std::vector<uint8_t> flags(tokens.size(), kTokenNormal);
  tokens.push_back("<eos>");
  flags.push_back(kTokenSpecial | kTokenStop);
  const size_t n = tokens.size();
  auto v = Vocabulary::FromTokens(std::move(tokens), std::move(flags), n + 3, VocabKind::kRaw);
  if (!v.ok()) {
    std::fprintf(stderr, "sieve-load: %s\n", v.status().ToString().c_str());
    std::exit(2);
  }
  return std::make_shared<const Vocabulary>(std::move(v).value());
}

// Greedy longest match (every single byte is a token, so it always succeeds).
std::vector<int32_t> GreedyEncode(const Vocabulary& v, std::string_view text) {
  std::vector<int32_t> ids;
  size_t i = 0;
  while (i < text.size()) {
    int32_t best = -1;
    size_t best_len = 0;
    for (size_t id = 0; id < v.size(); ++id) {
      if (v.Flags(static_cast<int32_t>(id)) & kTokenSpecial) continue;
      std::string_view t = v.TokenBytes(static_cast<int32_t>(id));
      if (t.size() > best_len && text.substr(i, t.size()) == t) {
        best = static_cast<int32_t>(id);
        best_len = t.size();
      }
    }
    ids.push_back(best);
    i += best_len;
  }
  return ids;
}

std::string ReadFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

uint64_t Mix(uint64_t h, uint64_t v) {
  h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
  return h * 0xff51afd7ed558ccdull;
}

struct Shared {
  std::shared_ptr<const Vocabulary> vocab;
  std::shared_ptr<const TokenizerInfo> info;
  JsonSchemaOptions schema_opts;
  MaskCacheOptions mask_opts;
  GrammarCacheOptions cache_opts;
  std::unique_ptr<GrammarCache> cache;
  int32_t stop = -1;
};

struct CycleResult {
  uint64_t digest = 0;
  int64_t masks = 0;
  size_t mask_cache_bytes = 0;
  int32_t num_states = 0;
  std::string error;
};

// One compile + match cycle.
CycleResult RunCycle(const Shared& sh, const Schema& s, bool through_cache) {
  CycleResult out;
  auto converted = JsonSchemaToGrammar(s.text, sh.schema_opts);
  if (!converted.ok()) {
    out.error = "convert: " + converted.status().ToString();
    return out;
  }
  std::shared_ptr<const TokenMaskCache> cache;
  if (through_cache) {
    auto got = sh.cache->GetOrCompile(converted->grammar, sh.vocab, sh.cache_opts);
    if (!got.ok()) {
      out.error = "cache compile: " + got.status().ToString();
      return out;
    }
    cache = std::move(got).value();
  } else {
    auto simple = Simplify(converted->grammar);
    if (!simple.ok()) {
      out.error = "simplify: " + simple.status().ToString();
      return out;
    }
    CompileOptions co;
    co.deadline = Deadline::AfterMs(kDefaultMaxCompileMs);
    auto pda = CompileGrammar(*simple, co);
    if (!pda.ok()) {
      out.error = "compile: " + pda.status().ToString();
      return out;
    }
    auto built = TokenMaskCache::Build(std::move(pda).value(), sh.info, sh.mask_opts);
    if (!built.ok()) {
      out.error = "mask cache: " + built.status().ToString();
      return out;
    }
    cache = std::move(built).value();
    out.mask_cache_bytes = cache->MemorySize();
    out.num_states = cache->grammar()->num_states();
  }
  std::vector<uint32_t> mask(BitmaskWords(sh.vocab->size()));
  uint64_t h = 0;
  for (const Instance& inst : s.instances) {
    GrammarMatcher m(cache);
    int64_t rejected_at = -1;
    for (size_t i = 0; i <= inst.ids.size(); ++i) {
      m.FillNextTokenBitmask(mask.data(), mask.size());
      ++out.masks;
      for (uint32_t w : mask) h = Mix(h, w);
      if (i == inst.ids.size()) break;
      const int32_t id = inst.ids[i];
      const bool allowed = mask[id >> 5] >> (id & 31) & 1;
      const bool accepted = m.AcceptToken(id);
      if (allowed != accepted) {
        out.error = s.name + ": mask and AcceptToken disagree on token " + std::to_string(id);
        return out;
      }
      if (!accepted) {
        rejected_at = static_cast<int64_t>(i);
        break;
      }
    }
    const bool can_end = rejected_at < 0 && m.CanTerminate();
    if (inst.valid && !can_end) {
      out.error = s.name + ": a valid instance is not accepted (rejected at token " +
                  std::to_string(rejected_at) + ")";
      return out;
    }
    h = Mix(h, static_cast<uint64_t>(rejected_at + 2));
    h = Mix(h, can_end ? 1 : 0);
  }
  out.digest = h;
  return out;
}

std::vector<Schema> LoadSchemas(const Args& a, const Shared& sh, const Tokenizer* tok) {
  std::vector<Schema> out;
  std::vector<fs::path> files;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(a.schemas, ec)) {
    const std::string n = e.path().filename().string();
    if (n.size() > 12 && n.ends_with(".schema.json")) files.push_back(e.path());
  }
  if (ec || files.empty()) {
    std::fprintf(stderr, "sieve-load: no *.schema.json in %s\n", a.schemas.c_str());
    std::exit(2);
  }
  std::sort(files.begin(), files.end());
  for (const fs::path& f : files) {
    Schema s;
    const std::string n = f.filename().string();
    s.name = n.substr(0, n.size() - 12);
    s.text = ReadFile(f);
    for (bool valid : {true, false}) {
      std::ifstream in(f.parent_path() / (s.name + (valid ? ".valid.jsonl" : ".invalid.jsonl")));
      std::string line;
      while (std::getline(in, line)) {
        if (line.empty()) continue;
        Instance inst;
        inst.valid = valid;
        inst.ids = tok ? tok->Encode(line, false) : GreedyEncode(*sh.vocab, line);
        s.instances.push_back(std::move(inst));
      }
    }
    out.push_back(std::move(s));
  }
  return out;
}

int64_t RssKb() {
  std::ifstream in("/proc/self/statm");
  int64_t pages = 0, rss = 0;
  in >> pages >> rss;
  return rss * 4;
}

double Mb(int64_t b) { return static_cast<double>(b) / (1 << 20); }

int Usage(const char* msg) {
  std::fprintf(stderr,
               "sieve-load: %s\nUsage: sieve-load [--cycles N] [--threads T] [--schemas DIR] "
               "[--tokenizer DIR] [--cache-bytes B] [--mask-cache-bytes B] [--max-compile-ms MS] "
               "[--quiet]\n",
               msg);
  return 2;
}

int Main(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    const std::string f = argv[i];
    auto next = [&]() -> const char* { return i + 1 < argc ? argv[++i] : nullptr; };
    const char* v = nullptr;
    if (f == "--quiet") {
      a.quiet = true;
    } else if (f == "--help" || f == "-h") {
      Usage("compile + match cycles over schemas/ on many threads");
      return 0;
    } else if ((v = next()) == nullptr) {
      return Usage(("missing value or unknown flag " + f).c_str());
    } else if (f == "--cycles") {
      a.cycles = std::atoll(v);
    } else if (f == "--threads") {
      a.threads = std::atoi(v);
    } else if (f == "--schemas") {
      a.schemas = v;
    } else if (f == "--tokenizer") {
      a.tokenizer = v;
    } else if (f == "--cache-bytes") {
      a.cache_bytes = std::strtoull(v, nullptr, 10);
    } else if (f == "--mask-cache-bytes") {
      a.mask_cache_bytes = std::strtoull(v, nullptr, 10);
    } else if (f == "--max-compile-ms") {
      a.max_compile_ms = std::atoll(v);
    } else {
      return Usage(("unknown flag " + f).c_str());
    }
  }
  if (a.cycles <= 0) return Usage("--cycles must be positive");
  if (a.threads <= 0) a.threads = std::max(2u, std::thread::hardware_concurrency());

  Shared sh;
  std::shared_ptr<const Tokenizer> tok;
  if (!a.tokenizer.empty()) {
    auto t = Tokenizer::Load(a.tokenizer);
    if (!t.ok()) {
      std::fprintf(stderr, "sieve-load: %s\n", t.status().ToString().c_str());
      return 2;
    }
    tok = std::move(t).value();
    sh.vocab = std::shared_ptr<const Vocabulary>(tok, &tok->vocabulary());
  } else {
    sh.vocab = SyntheticVocab();
  }
  auto info = TokenizerInfo::Build(sh.vocab);
  if (!info.ok()) {
    std::fprintf(stderr, "sieve-load: %s\n", info.status().ToString().c_str());
    return 2;
  }
  sh.info = std::move(info).value();
  sh.mask_opts.max_bytes = a.mask_cache_bytes;
  sh.cache_opts.max_compile_ms = a.max_compile_ms;
  // Budgets the whole run fits under (SECURITY.md): the schema options are the defaults.
  sh.cache = std::make_unique<GrammarCache>(a.cache_bytes);
  const std::vector<Schema> schemas = LoadSchemas(a, sh, tok.get());
  size_t n_instances = 0;
  for (const Schema& s : schemas) n_instances += s.instances.size();

  // Reference: one thread, direct compiles.
  const auto t_ref = std::chrono::steady_clock::now();
  std::vector<uint64_t> reference(schemas.size());
  int64_t ref_masks = 0;
  for (size_t i = 0; i < schemas.size(); ++i) {
    CycleResult r = RunCycle(sh, schemas[i], false);
    if (!r.error.empty()) {
      std::fprintf(stderr, "sieve-load: reference run: %s: %s\n", schemas[i].name.c_str(),
                   r.error.c_str());
      return 1;
    }
    reference[i] = r.digest;
    ref_masks += r.masks;
  }
  const double ref_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t_ref).count();
  // The same once more through the cache, so that lazily built statics exist before the baseline.
  for (size_t i = 0; i < schemas.size(); ++i) (void)RunCycle(sh, schemas[i], true);
  sh.cache->Clear();
  const int64_t base_live = testing_alloc::LiveBytes();
  const int64_t base_rss = RssKb();
  const size_t base_arena = mallinfo2().uordblks;
  std::printf("sieve-load: %zu schemas, %zu instances, vocabulary %s (%zu ids), %d threads\n",
              schemas.size(), n_instances, tok ? tok->Describe().c_str() : "synthetic",
              sh.vocab->size(), a.threads);
  std::printf("reference (1 thread): %zu compiles, %lld masks in %.2f s\n", schemas.size(),
              static_cast<long long>(ref_masks), ref_s);
  std::fflush(stdout);

  std::atomic<int64_t> next{0}, done{0}, masks{0}, mismatches{0}, peak_live{base_live};
  std::atomic<size_t> max_cache_bytes{0}, max_mask_cache_over{0};
  std::atomic<size_t> max_mask_cache_bytes{0};
  std::mutex err_mu;
  std::string first_error;
  const auto t0 = std::chrono::steady_clock::now();
  auto worker = [&] {
    for (;;) {
      const int64_t c = next.fetch_add(1);
      if (c >= a.cycles) return;
      const size_t si = static_cast<size_t>(c) % schemas.size();
      CycleResult r = RunCycle(sh, schemas[si], (c / static_cast<int64_t>(schemas.size())) % 2);
      masks += r.masks;
      if (!r.error.empty() || r.digest != reference[si]) {
        ++mismatches;
        std::lock_guard<std::mutex> lock(err_mu);
        if (first_error.empty()) {
          first_error = "cycle " + std::to_string(c) + " (" + schemas[si].name + "): " +
                        (r.error.empty() ? "result differs from the single-threaded run" : r.error);
        }
      }
      const size_t cb = sh.cache->MemorySize();
      size_t prev = max_cache_bytes.load();
      while (cb > prev && !max_cache_bytes.compare_exchange_weak(prev, cb)) {
      }
      prev = max_mask_cache_bytes.load();
      while (r.mask_cache_bytes > prev &&
             !max_mask_cache_bytes.compare_exchange_weak(prev, r.mask_cache_bytes)) {
      }
      // The budget counts the cached sets; the per-state index (4 bytes a state) comes on top.
      const size_t allowed = a.mask_cache_bytes + 4 * static_cast<size_t>(r.num_states) + 4096;
      if (r.mask_cache_bytes > allowed) {
        size_t over = r.mask_cache_bytes - allowed;
        prev = max_mask_cache_over.load();
        while (over > prev && !max_mask_cache_over.compare_exchange_weak(prev, over)) {
        }
      }
      int64_t live = testing_alloc::LiveBytes();
      int64_t p = peak_live.load();
      while (live > p && !peak_live.compare_exchange_weak(p, live)) {
      }
      const int64_t d = ++done;
      if (!a.quiet && a.cycles >= 10 && d % (a.cycles / 10) == 0) {
        const double s =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        std::fprintf(stderr, "  %lld/%lld cycles, %.1f s, live heap %.1f MiB\n",
                     static_cast<long long>(d), static_cast<long long>(a.cycles), s,
                     Mb(testing_alloc::LiveBytes()));
      }
    }
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < a.threads; ++t) threads.emplace_back(worker);
  for (std::thread& t : threads) t.join();
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const GrammarCacheStats cs = sh.cache->stats();
  sh.cache->Clear();
  const int64_t end_live = testing_alloc::LiveBytes();
  const int64_t end_rss = RssKb();
  const size_t end_arena = mallinfo2().uordblks;
  const int64_t leaked = end_live - base_live;
  constexpr int64_t kSlack = 64 << 10;  // allocator and thread start-up noise, far below a leak

  std::printf("load: %lld cycles on %d threads in %.2f s (%.0f cycles/s), %lld masks, "
              "%lld mismatches\n",
              static_cast<long long>(a.cycles), a.threads, secs, a.cycles / secs,
              static_cast<long long>(masks.load()), static_cast<long long>(mismatches.load()));
  std::printf("live heap: baseline %.2f MiB, peak %.2f MiB, after %.2f MiB (%+lld bytes); "
              "malloc main arena %+lld bytes; RSS %.1f -> %.1f MiB\n",
              Mb(base_live), Mb(peak_live.load()), Mb(end_live), static_cast<long long>(leaked),
              static_cast<long long>(end_arena) - static_cast<long long>(base_arena),
              base_rss / 1024.0, end_rss / 1024.0);
  std::printf("grammar cache: budget %.2f MiB, largest %.2f MiB, %lld hits, %lld misses, "
              "%lld evictions\n",
              Mb(static_cast<int64_t>(a.cache_bytes)), Mb(static_cast<int64_t>(max_cache_bytes)),
              static_cast<long long>(cs.hits), static_cast<long long>(cs.misses),
              static_cast<long long>(cs.evictions));
  std::printf("mask caches: budget %.2f MiB, largest %.2f MiB\n",
              Mb(static_cast<int64_t>(a.mask_cache_bytes)),
              Mb(static_cast<int64_t>(max_mask_cache_bytes)));
  bool ok = true;
  if (mismatches > 0) {
    std::printf("FAIL: %lld cycles differ from the single-threaded run; first: %s\n",
                static_cast<long long>(mismatches.load()), first_error.c_str());
    ok = false;
  }
  if (leaked > kSlack) {
    std::printf("FAIL: %lld bytes still live after the run (slack %lld): a leak\n",
                static_cast<long long>(leaked), static_cast<long long>(kSlack));
    ok = false;
  }
  if (max_cache_bytes > a.cache_bytes) {
    std::printf("FAIL: the grammar cache exceeded its budget\n");
    ok = false;
  }
  if (max_mask_cache_over > 0) {
    std::printf("FAIL: a mask cache exceeded its budget by %zu bytes\n",
                max_mask_cache_over.load());
    ok = false;
  }
  std::printf("%s\n", ok ? "OK" : "FAILED");
  return ok ? 0 : 1;
}

}  // namespace
}  // namespace sieve

int main(int argc, char** argv) { return sieve::Main(argc, argv); }
