// `sieve bench mask`: the token-mask measurement of bench/mask_bench on any grammar and document.
//
// The document is tokenized with our BPE (no special tokens), the grammar (EBNF, JSON Schema or
// regex) is compiled together with its token-mask cache, and a fresh matcher steps through the
// document token by token, timing FillNextTokenBitmask (the fast, cached path) and AcceptToken at
// every step. The pass runs --repeat times; a step's time is its median over the passes (a
// scheduler tick landing inside one step then does not count), and p50 / p99 / max are taken over
// the steps of those medians, as in bench/mask_bench.cc. compile_ms is the median over as many
// compiles (parse + simplify + automaton + mask cache; the per-vocabulary token trie is built once
// and not counted: every grammar for that vocabulary shares it).
//
// stdout gets exactly one JSON object, whose shape is stable (issue 4):
//   {"tokens": n, "compile_ms": x, "mask_us": {"p50": x, "p99": x, "max": x},
//    "accept_us": {"p50": x, "p99": x, "max": x}, "cache_bytes": n}
// cache_bytes is TokenMaskCache::MemorySize() (the compiled automaton not included).
// Every step also checks that the mask allows the document's token: a document the grammar does
// not accept is exit 1 with the token index and byte offset on stderr.
//
// Like `sieve compile`, this uses the engine's C++ API directly (the timing has to wrap the
// engine's own calls, and the C API has no JSON Schema entry point yet).
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "grammar/compiler.h"
#include "grammar/json_schema.h"
#include "grammar/mask_cache.h"
#include "grammar/matcher.h"
#include "grammar/regex_parser.h"
#include "grammar/support/utf8.h"
#include "grammar/thread_pool.h"
#include "grammar/token_trie.h"
#include "grammar/tokenizer/tokenizer.h"
#include "tools/cli_commands.h"
#include "tools/cli_common.h"
#include "tools/cli_schema_options.h"

namespace sieve_cli {
namespace {

using Clock = std::chrono::steady_clock;

constexpr const char kBenchHelp[] =
    R"(Usage: sieve bench mask --tokenizer DIR (--grammar FILE | --schema FILE | --regex RE)
                        --input DOC [--repeat N] [--threads N] [--root NAME] [SCHEMA OPTIONS]

Measures next-token masks on one grammar and document: compiles the grammar with its token-mask
cache, tokenizes DOC with the tokenizer's BPE, then feeds the tokens one by one to a matcher, timing
the mask (FillNextTokenBitmask) and the accept (AcceptToken) of every step. Prints one JSON object:
  {"tokens": n, "compile_ms": x, "mask_us": {"p50": x, "p99": x, "max": x},
   "accept_us": {"p50": x, "p99": x, "max": x}, "cache_bytes": n}
Per-step times are medians over the passes; p50/p99/max are over the steps. compile_ms (parse,
simplify, automaton and mask cache) is the median over as many compiles. cache_bytes is the mask
cache's memory. Progress goes to stderr when it is a terminal.

  --tokenizer DIR   tokenizer.json or a folder holding it (Hugging Face format)
  --grammar FILE    an EBNF/GBNF grammar
  --schema FILE     a JSON Schema (whitespace defaults to any=64: documents written by people;
                    whitespace around the document's top-level value is trimmed, as the
                    schema's grammar has none there)
  --regex RE        a regular expression (JSON Schema pattern semantics)
  --input DOC       the document ("-" reads stdin)
  --repeat N        passes over the document, and compiles (default 5)
  --threads N       threads building the mask cache (default 1)
  --root NAME       the grammar's start rule (default: root)
)";

constexpr const char kBenchExits[] =
    R"(
Exit codes: 0 ok, 1 the document is not accepted (stderr names the token and byte) or the tokenizer
cannot be loaded, 2 usage error (or DOC cannot be read), 3 the grammar/schema/regex is invalid or
unsupported.
)";

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t i = std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())));
  return v[i];
}

double Median(std::vector<double> v) { return Percentile(std::move(v), 0.5); }

// The grammar source: which flag, its label for messages, and its text.
struct Source {
  enum Kind { kGrammar, kSchema, kRegex } kind;
  std::string label;
  std::string text;
  std::string root;
  sieve::JsonSchemaOptions schema_opts;
};

sieve::Result<std::shared_ptr<const sieve::CompiledGrammar>> CompileAutomaton(const Source& src) {
  sieve::GrammarCompileOptions opts;
  opts.ebnf.root = src.root;
  switch (src.kind) {
    case Source::kGrammar: {
      SIEVE_ASSIGN_OR_RETURN(sieve::CompiledArtifact a, sieve::CompileEbnfText(src.text, opts));
      return a.pda;
    }
    case Source::kSchema: {
      SIEVE_ASSIGN_OR_RETURN(sieve::JsonSchemaGrammar s,
                             sieve::JsonSchemaToGrammar(src.text, src.schema_opts));
      SIEVE_ASSIGN_OR_RETURN(sieve::CompiledArtifact a,
                             sieve::CompileGrammarIr(std::move(s.grammar), opts));
      return a.pda;
    }
    case Source::kRegex: {
      SIEVE_ASSIGN_OR_RETURN(sieve::Grammar g, sieve::RegexToGrammar(src.text));
      SIEVE_ASSIGN_OR_RETURN(sieve::CompiledArtifact a,
                             sieve::CompileGrammarIr(std::move(g), opts));
      return a.pda;
    }
  }
  return sieve::InvalidArgument("unknown grammar source");
}

// A grammar/schema/regex error with its position: line:column for grammar and schema text (the
// schema's JSON pointer too), the byte offset in a regex.
int SpecError(const Source& src, sieve::Status st) {
  if (src.kind != Source::kRegex && st.offset() >= 0 && st.line() == 0) {
    st = sieve::WithLineColumnFromOffset(st, src.text);
  }
  std::cerr << src.label << ": " << st.ToString() << "\n";
  return kExitInvalidSpec;
}

std::string Escape(std::string_view s) { return sieve::EscapeBytes(s); }

void WriteStats(const char* key, const std::vector<double>& steps, bool last) {
  std::printf("\"%s\": {\"p50\": %.3f, \"p99\": %.3f, \"max\": %.3f}%s", key,
              Percentile(steps, 0.5), Percentile(steps, 0.99),
              steps.empty() ? 0.0 : *std::max_element(steps.begin(), steps.end()),
              last ? "" : ", ");
}

int BenchMask(const ArgParser& args) {
  int rc = 0;
  int repeat = 0, threads = 0;
  if (!ParseCountFlag(args, "bench", "repeat", 5, 1000000, &repeat, &rc)) return rc;
  if (!ParseCountFlag(args, "bench", "threads", 1, 1024, &threads, &rc)) return rc;
  auto tokenizer = args.Get("tokenizer");
  if (!tokenizer) return UsageError("bench", "--tokenizer DIR is required");
  auto input = args.Get("input");
  if (!input) return UsageError("bench", "--input DOC is required");
  const int sources = args.Has("grammar") + args.Has("schema") + args.Has("regex");
  if (sources != 1) {
    return UsageError("bench", "give exactly one of --grammar, --schema or --regex");
  }

  Source src;
  src.root = args.Get("root").value_or("root");
  std::string err;
  if (auto path = args.Get("grammar")) {
    src.kind = Source::kGrammar;
    src.label = *path;
    if (!ReadFile(*path, &src.text, &err)) return UsageError("bench", err);
  } else if (auto schema = args.Get("schema")) {
    src.kind = Source::kSchema;
    src.label = *schema;
    if (!ParseSchemaOptions(args, sieve::JsonWhitespace::kAny, &src.schema_opts, &err)) {
      return UsageError("bench", err);
    }
    if (!ReadFile(*schema, &src.text, &err)) return UsageError("bench", err);
  } else {
    src.kind = Source::kRegex;
    src.label = "regex";
    src.text = *args.Get("regex");
  }
  if (src.kind != Source::kSchema) {
    for (const std::string& f : SchemaValueFlags()) {
      if (args.Has(f)) return UsageError("bench", "--" + f + " applies to --schema only");
    }
    for (const std::string& f : SchemaBoolFlags()) {
      if (args.Has(f)) return UsageError("bench", "--" + f + " applies to --schema only");
    }
  }
  std::string doc;
  if (!ReadFile(*input, &doc, &err)) return UsageError("bench", err);
  if (src.kind == Source::kSchema) {
    // A schema's grammar has no whitespace around the top-level value; files usually end with a
    // newline. Trim it (and leading whitespace) rather than fail on it.
    const size_t begin = doc.find_first_not_of(" \t\n\r");
    const size_t end = doc.find_last_not_of(" \t\n\r");
    doc = begin == std::string::npos ? std::string() : doc.substr(begin, end + 1 - begin);
  }

  // The grammar first: an invalid one is exit 3 without loading a tokenizer.
  auto first = CompileAutomaton(src);
  if (!first.ok()) return SpecError(src, first.status());

  auto tok = sieve::Tokenizer::Load(*tokenizer);
  if (!tok.ok()) {
    std::cerr << "sieve bench: cannot load tokenizer: " << tok.status().ToString() << "\n";
    return kExitFailure;
  }
  auto vocab = std::make_shared<const sieve::Vocabulary>((*tok)->vocabulary());
  auto info = sieve::TokenizerInfo::Build(vocab);
  if (!info.ok()) {
    std::cerr << "sieve bench: " << info.status().ToString() << "\n";
    return kExitFailure;
  }
  sieve::TokenMaskCache::PrepareTokenizerInfo(**info);
  const std::vector<int32_t> ids = (*tok)->Encode(doc, /*allow_special=*/false);
  const bool progress = isatty(STDERR_FILENO) != 0;

  std::unique_ptr<sieve::ThreadPool> pool =
      threads > 1 ? std::make_unique<sieve::ThreadPool>(threads) : nullptr;
  std::vector<double> compile_ms;
  std::shared_ptr<const sieve::TokenMaskCache> cache;
  for (int r = 0; r < repeat; ++r) {
    const auto t0 = Clock::now();
    auto pda = CompileAutomaton(src);
    if (!pda.ok()) return SpecError(src, pda.status());
    auto built = sieve::TokenMaskCache::Build(*pda, *info, sieve::MaskCacheOptions(), pool.get());
    if (!built.ok()) return SpecError(src, built.status());
    compile_ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
    cache = *built;
  }
  if (progress) {
    std::fprintf(stderr, "sieve bench: compiled in %.1f ms (median of %d); %zu tokens\n",
                 Median(compile_ms), repeat, ids.size());
  }

  const size_t words = info.value()->words();
  std::vector<uint32_t> mask(words);
  std::vector<std::vector<double>> fill(ids.size()), accept(ids.size());
  for (int pass = 0; pass < repeat; ++pass) {
    sieve::GrammarMatcher m(cache);
    size_t offset = 0;  // byte offset of the current token in the document
    for (size_t i = 0; i < ids.size(); ++i) {
      const int32_t id = ids[i];
      const auto t0 = Clock::now();
      m.FillNextTokenBitmask(mask.data(), words);
      const auto t1 = Clock::now();
      const bool ok = m.AcceptToken(id);
      const auto t2 = Clock::now();
      const bool allowed = (mask[id >> 5] >> (id & 31) & 1) != 0;
      const std::string_view bytes = vocab->TokenBytes(id);
      if (!ok || !allowed) {
        std::cerr << "sieve bench: " << *input << " is not accepted: token " << i << " (id " << id
                  << ", '" << Escape(bytes) << "') at byte " << offset
                  << (ok ? " is accepted but the mask does not allow it (engine bug)"
                         : " is rejected by the grammar")
                  << "\n";
        return kExitRejected;
      }
      fill[i].push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
      accept[i].push_back(std::chrono::duration<double, std::micro>(t2 - t1).count());
      offset += bytes.size();
    }
    if (!m.CanTerminate()) {
      std::cerr << "sieve bench: " << *input << " is not accepted: it ends (token " << ids.size()
                << ", byte " << offset << ") before the grammar does\n";
      return kExitRejected;
    }
    if (progress) std::fprintf(stderr, "sieve bench: pass %d/%d\n", pass + 1, repeat);
  }
  std::vector<double> fill_med, accept_med;
  for (size_t i = 0; i < ids.size(); ++i) {
    fill_med.push_back(Median(fill[i]));
    accept_med.push_back(Median(accept[i]));
  }
  std::printf("{\"tokens\": %zu, \"compile_ms\": %.3f, ", ids.size(), Median(compile_ms));
  WriteStats("mask_us", fill_med, false);
  WriteStats("accept_us", accept_med, false);
  std::printf("\"cache_bytes\": %zu}\n", cache->MemorySize());
  return kExitOk;
}

}  // namespace

int RunBench(int argc, char** argv) {
  std::vector<std::string> value_flags = {"tokenizer", "grammar", "schema",  "regex",
                                          "input",     "repeat",  "threads", "root"};
  std::vector<std::string> bool_flags = {"help"};
  value_flags.insert(value_flags.end(), SchemaValueFlags().begin(), SchemaValueFlags().end());
  bool_flags.insert(bool_flags.end(), SchemaBoolFlags().begin(), SchemaBoolFlags().end());
  ArgParser args(value_flags, bool_flags);
  if (!args.Parse(argc, argv, 2)) return UsageError("bench", args.error());
  if (args.Has("help")) {
    std::cout << kBenchHelp << kSchemaOptionsHelp << kBenchExits;
    return kExitOk;
  }
  const auto& pos = args.positionals();
  if (pos.empty()) return UsageError("bench", "expected a benchmark name: mask");
  if (pos[0] != "mask") {
    return UsageError("bench", "unknown benchmark '" + pos[0] + "' (have: mask)");
  }
  if (pos.size() > 1) return UsageError("bench", "unexpected argument '" + pos[1] + "'");
  return BenchMask(args);
}

}  // namespace sieve_cli
