// C API: the compiler handle (JSON Schema, EBNF, regex, structural tags, OpenAI requests) over the
// content-keyed GrammarCache, schema notes, and grammar images (include/sieve/sieve.h).
//
// Two caches: the front cache maps (source kind, options, text) to the grammar IR the front end
// produced (plus its notes, warnings and token bindings), so a repeated compile skips parsing and
// JSON Schema conversion; the GrammarCache maps that IR to the automaton and token-mask cache.
// Both are guarded by mutexes and compile outside them, so threads compile in parallel.
#include <algorithm>
#include <chrono>
#include <cstring>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "grammar/capi_internal.h"
#include "grammar/capi_json_options.h"
#include "grammar/capi_limits.h"
#include "grammar/ebnf_parser.h"
#include "grammar/grammar_cache.h"
#include "grammar/grammar_serialize.h"
#include "grammar/limits.h"
#include "grammar/mask_cache.h"
#include "grammar/openai_request.h"
#include "grammar/regex_parser.h"
#include "grammar/simplify.h"
#include "grammar/structural_tag.h"
#include "grammar/thread_pool.h"
#include "grammar/token_trie.h"

using sieve::StatusCode;
using sieve::capi::Guard;
using sieve::capi::SetError;

namespace {

// What a front end produced: enough to compile (and to print, serialise and report).
struct Front {
  sieve::Grammar ir;
  std::vector<std::string> warnings;
  std::vector<sieve::JsonSchemaNote> notes;
  std::vector<sieve::TokenBinding> tokens;
};

constexpr size_t kMaxFrontEntries = 256;

template <typename T>
bool HasField(const T* opts, size_t offset, size_t size) {
  return opts != nullptr && opts->struct_size >= offset + size;
}
#define SIEVE_HAS(opts, T, field) HasField(opts, offsetof(T, field), sizeof(((T*)nullptr)->field))

double MsSince(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

sieve::Status WithLineColumn(sieve::Status s, std::string_view text) {
  if (s.offset() >= 0 && s.line() == 0 && static_cast<size_t>(s.offset()) <= text.size()) {
    int line = 0, col = 0;
    sieve::OffsetToLineColumn(text, static_cast<size_t>(s.offset()), &line, &col);
    s.WithLineColumn(line, col);
  }
  return s;
}

sieve::JsonSchemaOptions JsonOptions(const sieve_json_schema_options* o) {
  sieve::JsonSchemaOptions j;
  sieve::capi::ApplyJsonSchemaOptions(o, &j);
  return j;
}

std::string JsonOptionsKey(const sieve::JsonSchemaOptions& j) {
  return std::to_string(static_cast<int>(j.semantics)) + "," +
         std::to_string(static_cast<int>(j.whitespace)) + "," + std::to_string(j.indent) + "," +
         std::to_string(static_cast<int>(j.property_order)) + "," +
         std::to_string(static_cast<int>(j.unsupported)) + "," +
         std::to_string(j.max_whitespace_run) + "," + std::to_string(j.closed_by_default) + "," +
         std::to_string(j.item_separator.size()) +
         ":" + j.item_separator + j.key_separator;
}

}  // namespace

struct sieve_compiler {
  sieve_vocab* vocab = nullptr;  // one reference held
  std::unique_ptr<sieve::ThreadPool> pool;
  std::unique_ptr<sieve::GrammarCache> cache;
  sieve::Limits limits;                // from sieve_compiler_options (SECURITY.md)
  sieve::GrammarCacheOptions compile;  // the limits applied
  std::mutex front_mu;
  std::list<std::pair<std::string, std::shared_ptr<const Front>>> front_lru;  // newest first
  std::unordered_map<std::string, decltype(front_lru)::iterator> front_index;

  std::shared_ptr<const Front> LookupFront(const std::string& key) {
    std::lock_guard<std::mutex> lock(front_mu);
    auto it = front_index.find(key);
    if (it == front_index.end()) return nullptr;
    front_lru.splice(front_lru.begin(), front_lru, it->second);
    return it->second->second;
  }
  void InsertFront(const std::string& key, std::shared_ptr<const Front> f) {
    std::lock_guard<std::mutex> lock(front_mu);
    if (front_index.count(key)) return;
    front_lru.emplace_front(key, std::move(f));
    front_index[key] = front_lru.begin();
    while (front_lru.size() > kMaxFrontEntries) {
      front_index.erase(front_lru.back().first);
      front_lru.pop_back();
    }
  }
};

namespace {

// Runs `make` (the front end) unless the front cache has `key`, then compiles through the
// GrammarCache and wraps the result in a new grammar handle.
template <typename Make>
sieve_status CompileWith(sieve_compiler* c, const std::string& key, Make make, sieve_grammar** out) {
  const auto t0 = std::chrono::steady_clock::now();
  // An empty key: the front end depends on more than the text (a document loader); no caching.
  std::shared_ptr<const Front> front = key.empty() ? nullptr : c->LookupFront(key);
  if (front == nullptr) {
    sieve::Result<Front> made = make();
    if (!made.ok()) return SetError(made.status());
    front = std::make_shared<const Front>(std::move(made).value());
    if (!key.empty()) c->InsertFront(key, front);
  }
  // One budget for the whole compile: the front end's time is taken off the cache's.
  sieve::GrammarCacheOptions opts = c->compile;
  if (opts.max_compile_ms > 0) {
    opts.max_compile_ms = std::max<int64_t>(1, opts.max_compile_ms -
                                                   static_cast<int64_t>(MsSince(t0)));
  }
  auto compiled = c->cache->GetOrCompile(front->ir, c->vocab->vocab, opts);
  if (!compiled.ok()) return SetError(compiled.status());
  auto* g = new sieve_grammar;
  g->mask_cache = std::move(compiled).value();
  g->pda = g->mask_cache->grammar();
  g->vocab = c->vocab->vocab;
  g->source = front->ir;
  g->rules = static_cast<int32_t>(front->ir.num_rules());
  g->warnings = front->warnings;
  g->notes = front->notes;
  g->ignore_lookahead = c->compile.compile.ignore_lookahead;
  if (!front->tokens.empty()) {
    g->bindings = std::make_shared<const sieve::TokenBindings>(front->tokens, *g->vocab);
  }
  g->compile_ms = MsSince(t0);
  *out = g;
  return SIEVE_OK;
}

sieve_status CheckCompile(sieve_compiler* c, const char* text, size_t len, sieve_grammar** out) {
  if (out == nullptr) return SetError(StatusCode::kInvalidArgument, "out is NULL");
  *out = nullptr;
  if (c == nullptr) return SetError(StatusCode::kInvalidArgument, "compiler is NULL");
  if (text == nullptr && len > 0) return SetError(StatusCode::kInvalidArgument, "text is NULL");
  return SIEVE_OK;
}

sieve::Result<Front> FromStructuralTag(sieve::Result<sieve::StructuralTagGrammar> st) {
  if (!st.ok()) return st.status();
  Front f;
  f.ir = std::move(st->grammar);
  f.notes = std::move(st->report.notes);
  f.tokens = std::move(st->tokens);
  return f;
}

}  // namespace

extern "C" {

void sieve_compiler_options_init(sieve_compiler_options* opts) {
  if (opts == nullptr) return;
  std::memset(opts, 0, sizeof *opts);
  opts->struct_size = sizeof *opts;
}

void sieve_json_schema_options_init(sieve_json_schema_options* opts) {
  if (opts == nullptr) return;
  std::memset(opts, 0, sizeof *opts);
  opts->struct_size = sizeof *opts;
}

void sieve_openai_options_init(sieve_openai_options* opts) {
  if (opts == nullptr) return;
  std::memset(opts, 0, sizeof *opts);
  opts->struct_size = sizeof *opts;
}

sieve_status sieve_compiler_create(const sieve_vocab* vocab, const sieve_compiler_options* opts,
                                   sieve_compiler** out) {
  if (out == nullptr) return SetError(StatusCode::kInvalidArgument, "out is NULL");
  *out = nullptr;
  if (vocab == nullptr) return SetError(StatusCode::kInvalidArgument, "vocab is NULL");
  if (opts != nullptr && opts->struct_size < sizeof(size_t)) {
    return SetError(StatusCode::kInvalidArgument, "opts->struct_size is not set");
  }
  return Guard([&] {
    using T = sieve_compiler_options;
    auto c = std::make_unique<sieve_compiler>();
    size_t bytes = size_t{512} << 20;
    if (SIEVE_HAS(opts, T, cache_bytes) && opts->cache_bytes > 0) bytes = opts->cache_bytes;
    if (SIEVE_HAS(opts, T, num_threads) && opts->num_threads > 1) {
      c->pool = std::make_unique<sieve::ThreadPool>(std::min<int32_t>(opts->num_threads, 256));
    }
    c->limits = sieve::capi::CompilerLimits(opts);
    sieve::ApplyLimits(c->limits, &c->compile);
    if (SIEVE_HAS(opts, T, ignore_lookahead)) {
      c->compile.compile.ignore_lookahead = opts->ignore_lookahead != 0;
    }
    c->cache = std::make_unique<sieve::GrammarCache>(bytes, c->pool.get());
    c->vocab = sieve_vocab_retain(const_cast<sieve_vocab*>(vocab));
    *out = c.release();
    return SIEVE_OK;
  });
}

void sieve_compiler_free(sieve_compiler* compiler) {
  if (compiler == nullptr) return;
  sieve_vocab* v = compiler->vocab;
  delete compiler;
  sieve_vocab_free(v);
}

sieve_status sieve_compiler_compile_ebnf(sieve_compiler* compiler, const char* text, size_t text_len,
                                         const char* root, sieve_grammar** out) {
  if (sieve_status s = CheckCompile(compiler, text, text_len, out); s != SIEVE_OK) return s;
  return Guard([&] {
    const std::string_view input(text ? text : "", text_len);
    const std::string root_name = root ? root : "root";
    const std::string key = "ebnf:" + root_name + std::string(1, '\0') + std::string(input);
    return CompileWith(compiler, key, [&]() -> sieve::Result<Front> {
      Front f;
      sieve::EbnfOptions eo = compiler->compile.ebnf;  // the limits
      eo.root = root_name;
      eo.warnings = &f.warnings;
      std::vector<sieve::EbnfTokenRef> refs;
      eo.tokens = &refs;
      auto g = sieve::ParseEbnf(input, eo);
      if (!g.ok()) return WithLineColumn(g.status(), input);
      f.ir = std::move(g).value();
      auto bound = sieve::BindTokenRefs(refs, *compiler->vocab->vocab, input);
      if (!bound.ok()) return bound.status();
      f.tokens = std::move(bound).value();
      return f;
    }, out);
  });
}

sieve_status sieve_compiler_compile_json_schema(sieve_compiler* compiler, const char* schema,
                                                size_t schema_len,
                                                const sieve_json_schema_options* opts,
                                                sieve_grammar** out) {
  if (sieve_status s = CheckCompile(compiler, schema, schema_len, out); s != SIEVE_OK) return s;
  if (opts != nullptr && opts->struct_size < sizeof(size_t)) {
    return SetError(StatusCode::kInvalidArgument, "opts->struct_size is not set");
  }
  return Guard([&] {
    const std::string_view input(schema ? schema : "", schema_len);
    sieve::JsonSchemaOptions jo = JsonOptions(opts);
    sieve::ApplyLimits(compiler->limits, &jo);
    const std::string key =
        jo.load_document ? std::string() : "json:" + JsonOptionsKey(jo) + ":" + std::string(input);
    return CompileWith(compiler, key, [&]() -> sieve::Result<Front> {
      auto js = sieve::JsonSchemaToGrammar(input, jo);
      if (!js.ok()) return WithLineColumn(js.status(), input);
      Front f;
      f.ir = std::move(js->grammar);
      f.notes = std::move(js->report.notes);
      return f;
    }, out);
  });
}

sieve_status sieve_compiler_compile_regex(sieve_compiler* compiler, const char* pattern,
                                          size_t pattern_len, sieve_grammar** out) {
  if (sieve_status s = CheckCompile(compiler, pattern, pattern_len, out); s != SIEVE_OK) return s;
  return Guard([&] {
    const std::string_view input(pattern ? pattern : "", pattern_len);
    return CompileWith(compiler, "regex:" + std::string(input), [&]() -> sieve::Result<Front> {
      sieve::RegexOptions ro;
      sieve::ApplyLimits(compiler->limits, &ro);
      auto g = sieve::RegexToGrammar(input, ro);
      if (!g.ok()) return WithLineColumn(g.status(), input);
      Front f;
      f.ir = std::move(g).value();
      return f;
    }, out);
  });
}

sieve_status sieve_compiler_compile_structural_tag(sieve_compiler* compiler, const char* json,
                                                   size_t json_len,
                                                   const sieve_json_schema_options* json_opts,
                                                   sieve_grammar** out) {
  if (sieve_status s = CheckCompile(compiler, json, json_len, out); s != SIEVE_OK) return s;
  return Guard([&] {
    const std::string_view input(json ? json : "", json_len);
    sieve::StructuralTagOptions so;
    so.json = JsonOptions(json_opts);
    sieve::ApplyLimits(compiler->limits, &so.json);
    so.vocab = compiler->vocab->vocab.get();
    const std::string key = so.json.load_document
                                ? std::string()
                                : "stag:" + JsonOptionsKey(so.json) + ":" + std::string(input);
    return CompileWith(compiler, key, [&]() -> sieve::Result<Front> {
      auto spec = sieve::ParseStructuralTag(input);
      if (!spec.ok()) return WithLineColumn(spec.status(), input);
      return FromStructuralTag(sieve::StructuralTagToGrammar(*spec, so));
    }, out);
  });
}

sieve_status sieve_compiler_compile_openai(sieve_compiler* compiler, const char* request,
                                           size_t request_len, const sieve_openai_options* opts,
                                           sieve_grammar** out) {
  if (sieve_status s = CheckCompile(compiler, request, request_len, out); s != SIEVE_OK) return s;
  if (opts != nullptr && opts->struct_size < sizeof(size_t)) {
    return SetError(StatusCode::kInvalidArgument, "opts->struct_size is not set");
  }
  return Guard([&] {
    using T = sieve_openai_options;
    sieve::OpenAiRequestOptions ro;
    if (SIEVE_HAS(opts, T, tool_format) && opts->tool_format != nullptr &&
        !sieve::ParseToolCallFormat(opts->tool_format, &ro.format)) {
      return SetError(StatusCode::kInvalidArgument,
                      std::string("unknown tool_format \"") + opts->tool_format +
                          "\" (expected hermes, deepseek or llama3)");
    }
    if (SIEVE_HAS(opts, T, think)) ro.think = opts->think != 0;
    sieve_json_schema_options jso;
    sieve_json_schema_options_init(&jso);
    if (SIEVE_HAS(opts, T, whitespace)) jso.whitespace = opts->whitespace;
    sieve::StructuralTagOptions so;
    so.json = JsonOptions(&jso);
    sieve::ApplyLimits(compiler->limits, &so.json);
    so.vocab = compiler->vocab->vocab.get();
    const std::string_view input(request ? request : "", request_len);
    const std::string key = std::string("openai:") + sieve::ToolCallFormatName(ro.format) +
                            (ro.think ? ":think:" : ":") + JsonOptionsKey(so.json) + ":" +
                            std::string(input);
    return CompileWith(compiler, key, [&]() -> sieve::Result<Front> {
      auto st = sieve::OpenAiRequestToGrammar(input, ro, so);
      if (!st.ok()) return WithLineColumn(st.status(), input);
      return FromStructuralTag(std::move(st));
    }, out);
  });
}

sieve_status sieve_compiler_get_stats(const sieve_compiler* compiler, sieve_compiler_stats* out) {
  if (compiler == nullptr || out == nullptr || out->struct_size < sizeof(sieve_compiler_stats)) {
    return SetError(StatusCode::kInvalidArgument, "NULL argument or struct_size too small");
  }
  const sieve::GrammarCacheStats s = compiler->cache->stats();
  out->cache_hits = s.hits;
  out->cache_misses = s.misses;
  out->cache_evictions = s.evictions;
  out->cache_entries = s.entries;
  out->cache_bytes = s.bytes;
  return SIEVE_OK;
}

size_t sieve_grammar_num_notes(const sieve_grammar* grammar) {
  return grammar == nullptr ? 0 : grammar->notes.size();
}

sieve_status sieve_grammar_get_note(const sieve_grammar* grammar, size_t i, sieve_schema_note* out) {
  if (grammar == nullptr || out == nullptr || out->struct_size < sizeof(sieve_schema_note)) {
    return SetError(StatusCode::kInvalidArgument, "NULL argument or struct_size too small");
  }
  if (i >= grammar->notes.size()) {
    return SetError(StatusCode::kInvalidArgument, "note " + std::to_string(i) + " out of range");
  }
  const sieve::JsonSchemaNote& n = grammar->notes[i];
  out->kind = static_cast<sieve_note_kind>(n.kind);
  out->json_pointer = n.pointer.c_str();
  out->keyword = n.keyword.c_str();
  out->message = n.message.c_str();
  return SIEVE_OK;
}

int sieve_grammar_is_loosened(const sieve_grammar* grammar) {
  if (grammar == nullptr) return 0;
  for (const sieve::JsonSchemaNote& n : grammar->notes) {
    if (n.kind == sieve::JsonSchemaNote::Kind::kIgnored ||
        n.kind == sieve::JsonSchemaNote::Kind::kLoosened) {
      return 1;
    }
  }
  return 0;
}

sieve_status sieve_grammar_serialize(const sieve_grammar* grammar, char* out, size_t cap,
                                     size_t* n_out) {
  if (grammar == nullptr || n_out == nullptr || (cap > 0 && out == nullptr)) {
    return SetError(StatusCode::kInvalidArgument, "NULL argument");
  }
  return Guard([&] {
    sieve_grammar* g = const_cast<sieve_grammar*>(grammar);
    sieve::capi::EnsurePrinted(g);  // makes the simplified IR once
    if (!g->print_status.ok()) return SetError(g->print_status);
    sieve::GrammarImage img;
    img.simplified = g->simplified;
    img.source = g->source;
    img.ignore_lookahead = g->ignore_lookahead;
    img.rules = g->rules;
    img.warnings = g->warnings;
    img.notes = g->notes;
    if (g->bindings != nullptr) img.tokens = g->bindings->bindings();
    if (g->vocab != nullptr) {
      img.vocab_fingerprint = g->mask_cache != nullptr
                                  ? g->mask_cache->tokenizer_info()->fingerprint()
                                  : sieve::VocabularyFingerprint(*g->vocab);
      img.vocab_size = g->vocab->size();
    }
    img.pda = g->pda;  // format 2: the automaton and the mask cache are stored, not rebuilt
    img.mask_cache = g->mask_cache;
    return sieve::capi::CopyOut(sieve::SerializeGrammarImage(img), out, cap, n_out);
  });
}

sieve_status sieve_grammar_deserialize(const char* bytes, size_t len, const sieve_vocab* vocab,
                                       sieve_grammar** out) {
  if (out == nullptr) return SetError(StatusCode::kInvalidArgument, "out is NULL");
  *out = nullptr;
  if (bytes == nullptr && len > 0) return SetError(StatusCode::kInvalidArgument, "bytes is NULL");
  return Guard([&] {
    const auto t0 = std::chrono::steady_clock::now();
    // The vocabulary's token trie (built once per sieve_vocab) carries its fingerprint, which the
    // image is checked against before its mask cache is read.
    std::shared_ptr<const sieve::TokenizerInfo> info;
    if (vocab != nullptr) {
      sieve_vocab* v = const_cast<sieve_vocab*>(vocab);  // only its trie cache is filled
      std::lock_guard<std::mutex> lock(v->info_mu);
      if (v->info == nullptr) {
        auto built = sieve::TokenizerInfo::Build(v->vocab);
        if (!built.ok()) return SetError(built.status());
        v->info = std::move(built).value();
        sieve::TokenMaskCache::PrepareTokenizerInfo(*v->info);
      }
      info = v->info;
    }
    auto img = sieve::DeserializeGrammarImage(std::string_view(bytes ? bytes : "", len), info);
    if (!img.ok()) return SetError(img.status());
    if (img->vocab_size > 0 && vocab == nullptr) {
      return SetError(StatusCode::kInvalidArgument,
                      "the image was compiled for a vocabulary of " +
                          std::to_string(img->vocab_size) + " ids: pass it");
    }
    for (const sieve::TokenBinding& t : img->tokens) {
      if (vocab == nullptr || static_cast<size_t>(t.id) >= vocab->vocab->size() ||
          vocab->vocab->TokenBytes(t.id) != t.text) {
        return SetError(sieve::FormatError("grammar image: token binding \"" + t.text +
                                           "\" does not match the vocabulary"));
      }
    }
    auto g = std::make_unique<sieve_grammar>();
    // What is rebuilt (a format-1 image, or an image made without a vocabulary) runs under the
    // default compile budget, as a compile would: an image is input too.
    const sieve::Deadline deadline = sieve::Deadline::AfterMs(sieve::kDefaultMaxCompileMs);
    if (img->pda != nullptr) {
      g->pda = std::move(img->pda);
    } else {  // format 1: rebuilt from the simplified IR
      sieve::CompileOptions co;
      co.ignore_lookahead = img->ignore_lookahead;
      co.deadline = deadline;
      auto pda = sieve::CompileGrammar(img->simplified, co);
      if (!pda.ok()) return SetError(pda.status());
      g->pda = std::move(pda).value();
    }
    // An image made without a vocabulary is vocabulary-independent: given one, it is built for it.
    if (vocab != nullptr) {
      g->vocab = vocab->vocab;
      if (img->mask_cache != nullptr) {
        g->mask_cache = std::move(img->mask_cache);
      } else {
        sieve::MaskCacheOptions mo;
        mo.deadline = deadline;
        auto cache = sieve::TokenMaskCache::Build(g->pda, info, mo);
        if (!cache.ok()) return SetError(cache.status());
        g->mask_cache = std::move(cache).value();
      }
      if (!img->tokens.empty()) {
        g->bindings = std::make_shared<const sieve::TokenBindings>(img->tokens, *g->vocab);
      }
    }
    g->source = std::move(img->source);
    g->simplified = std::move(img->simplified);
    g->ignore_lookahead = img->ignore_lookahead;
    g->rules = img->rules;
    g->warnings = std::move(img->warnings);
    g->notes = std::move(img->notes);
    g->compile_ms = MsSince(t0);
    *out = g.release();
    return SIEVE_OK;
  });
}

}  // extern "C"
