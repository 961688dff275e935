// C API: compiled grammars and matchers (include/sieve/sieve.h). See capi_internal.h for the error
// and handle conventions.
#include <algorithm>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "grammar/capi_internal.h"
#include "grammar/capi_limits.h"
#include "grammar/compiler.h"
#include "grammar/grammar_printer.h"
#include "grammar/simplify.h"
#include "grammar/thread_pool.h"
#include "grammar/regex_parser.h"

using sieve::StatusCode;
using sieve::capi::CopyOut;
using sieve::capi::Guard;
using sieve::capi::SetError;

namespace {

template <typename T>
bool StructOk(const T* opts) {
  return opts == nullptr || opts->struct_size >= sizeof(size_t);
}

// Reads a field of an options struct only when the caller's struct is new enough to have it.
template <typename T, typename F>
bool HasField(const T* opts, const F T::*field) {
  if (opts == nullptr) return false;
  const size_t end = reinterpret_cast<const char*>(&(opts->*field)) -
                     reinterpret_cast<const char*>(opts) + sizeof(F);
  return opts->struct_size >= end;
}

}  // namespace

void sieve::capi::EnsurePrinted(sieve_grammar* g) {
  std::call_once(g->print_once, [g] {
    g->parsed_text = sieve::PrintEbnf(g->source);
    if (g->simplified.num_rules() == 0) {
      auto simple = sieve::Simplify(g->source);
      if (!simple.ok()) {
        g->print_status = simple.status();
        return;
      }
      g->simplified = std::move(simple).value();
    }
    g->simplified_text = sieve::PrintEbnf(g->simplified);
  });
}

namespace {

// Process-wide pools for batch fills, one per thread count (ThreadPool serialises concurrent loops).
sieve::ThreadPool* SharedPool(int32_t threads) {
  static std::mutex mu;
  static std::vector<std::unique_ptr<sieve::ThreadPool>>* pools =
      new std::vector<std::unique_ptr<sieve::ThreadPool>>();  // never destroyed: outlives callers
  threads = std::min<int32_t>(threads, 256);
  std::lock_guard<std::mutex> lock(mu);
  for (const auto& p : *pools) {
    if (p->num_threads() == threads) return p.get();
  }
  pools->push_back(std::make_unique<sieve::ThreadPool>(threads));
  return pools->back().get();
}

}  // namespace

extern "C" {

void sieve_grammar_options_init(sieve_grammar_options* opts) {
  if (opts == nullptr) return;
  std::memset(opts, 0, sizeof *opts);
  opts->struct_size = sizeof *opts;
}

}  // extern "C"

namespace {

enum class Source { kEbnf, kRegex };

sieve_status CompileText(Source source, const char* text, size_t text_len,
                         const sieve_grammar_options* opts, sieve_grammar** out) {
  if (out == nullptr) return SetError(StatusCode::kInvalidArgument, "out is NULL");
  *out = nullptr;
  if (text == nullptr && text_len > 0) return SetError(StatusCode::kInvalidArgument, "text is NULL");
  if (!StructOk(opts)) return SetError(StatusCode::kInvalidArgument, "opts->struct_size is not set");
  return Guard([&] {
    sieve::GrammarCompileOptions o;
    const sieve::Limits limits = sieve::capi::GrammarLimits(opts);  // SECURITY.md
    sieve::ApplyLimits(limits, &o);
    // One deadline for parse, simplify, automaton and the mask-cache build (limits.h).
    const sieve::Deadline deadline = sieve::Deadline::AfterMs(limits.max_compile_ms);
    o.simplify.deadline = deadline;
    o.pda.deadline = deadline;
    if (HasField(opts, &sieve_grammar_options::root) && opts->root != nullptr) {
      o.ebnf.root = opts->root;
    }
    if (HasField(opts, &sieve_grammar_options::ignore_lookahead)) {
      o.pda.ignore_lookahead = opts->ignore_lookahead != 0;
    }
    if (HasField(opts, &sieve_grammar_options::max_nesting_depth) &&
        opts->max_nesting_depth > 0) {
      o.ebnf.max_nesting_depth = opts->max_nesting_depth;
    }
    std::string_view input(text ? text : "", text_len);
    const bool has_vocab = HasField(opts, &sieve_grammar_options::vocab) && opts->vocab != nullptr;
    std::vector<sieve::EbnfTokenRef> refs;  // token references, bound to the vocabulary below
    sieve::Result<sieve::CompiledArtifact> compiled = sieve::InternalError("unreachable");
    if (source == Source::kEbnf) {
      if (has_vocab) o.ebnf.tokens = &refs;
      compiled = sieve::CompileEbnfText(input, o);
    } else {
      sieve::RegexOptions regex_opts;
      sieve::ApplyLimits(limits, &regex_opts);
      auto grammar = sieve::RegexToGrammar(input, regex_opts);
      compiled = grammar.ok() ? sieve::CompileGrammarIr(std::move(grammar).value(), o)
                              : sieve::Result<sieve::CompiledArtifact>(grammar.status());
      if (!compiled.ok()) return SetError(sieve::WithLineColumnFromOffset(compiled.status(), input));
    }
    if (!compiled.ok()) return SetError(compiled.status());
    auto* g = new sieve_grammar;
    sieve::CompiledArtifact art = std::move(compiled).value();
    g->pda = art.pda;
    g->rules = static_cast<int32_t>(art.parsed.num_rules());
    g->compile_ms = art.parse_ms + art.simplify_ms + art.pda->stats().compile_ms;
    g->warnings = std::move(art.warnings);
    g->ignore_lookahead = o.pda.ignore_lookahead;
    g->source = std::move(art.parsed);
    g->simplified = std::move(art.simplified);
    if (has_vocab) {
      sieve_vocab* v = const_cast<sieve_vocab*>(opts->vocab);  // only its trie cache is filled
      g->vocab = v->vocab;
      if (!refs.empty()) {
        auto bound = sieve::BindTokenRefs(refs, *v->vocab, input);
        if (!bound.ok()) {
          delete g;
          return SetError(bound.status());
        }
        g->bindings = std::make_shared<const sieve::TokenBindings>(std::move(bound).value(),
                                                                   *v->vocab);
      }
      std::shared_ptr<const sieve::TokenizerInfo> info;
      {
        std::lock_guard<std::mutex> lock(v->info_mu);
        if (v->info == nullptr) {
          auto built = sieve::TokenizerInfo::Build(v->vocab);
          if (!built.ok()) {
            delete g;
            return SetError(built.status());
          }
          v->info = std::move(built).value();
          sieve::TokenMaskCache::PrepareTokenizerInfo(*v->info);
        }
        info = v->info;
      }
      sieve::MaskCacheOptions mask_opts;
      sieve::ApplyLimits(limits, &mask_opts);
      mask_opts.deadline = deadline;
      auto cache = sieve::TokenMaskCache::Build(g->pda, std::move(info), mask_opts);
      if (!cache.ok()) {
        delete g;
        return SetError(cache.status());
      }
      g->mask_cache = std::move(cache).value();
    }
    *out = g;
    return SIEVE_OK;
  });
}

}  // namespace

extern "C" {

sieve_status sieve_grammar_compile_ebnf(const char* text, size_t text_len,
                                        const sieve_grammar_options* opts, sieve_grammar** out) {
  return CompileText(Source::kEbnf, text, text_len, opts, out);
}

sieve_status sieve_grammar_compile_regex(const char* pattern, size_t pattern_len,
                                         const sieve_grammar_options* opts, sieve_grammar** out) {
  return CompileText(Source::kRegex, pattern, pattern_len, opts, out);
}

sieve_grammar* sieve_grammar_retain(sieve_grammar* grammar) {
  if (grammar != nullptr) grammar->refs.fetch_add(1, std::memory_order_relaxed);
  return grammar;
}

void sieve_grammar_free(sieve_grammar* grammar) {
  if (grammar != nullptr && grammar->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) {
    delete grammar;
  }
}

sieve_status sieve_grammar_get_stats(const sieve_grammar* grammar, sieve_grammar_stats* out) {
  if (grammar == nullptr || out == nullptr || out->struct_size < sizeof(sieve_grammar_stats)) {
    return SetError(StatusCode::kInvalidArgument, "NULL argument or struct_size too small");
  }
  const sieve::GrammarStats& st = grammar->pda->stats();
  out->rules = grammar->rules;
  out->live_rules = st.live_rules;
  out->counted_rules = st.counted_rules;
  out->nfa_states = st.nfa_states;
  out->dfa_states = st.dfa_states;
  out->states = st.states;
  out->memory_bytes = grammar->pda->MemorySize();
  out->compile_ms = grammar->compile_ms;
  out->num_warnings = grammar->warnings.size();
  return SIEVE_OK;
}

const char* sieve_grammar_warning(const sieve_grammar* grammar, size_t i) {
  if (grammar == nullptr || i >= grammar->warnings.size()) return nullptr;
  return grammar->warnings[i].c_str();
}

sieve_status sieve_grammar_print(const sieve_grammar* grammar, int simplified, char* out, size_t cap,
                                 size_t* n_out) {
  if (grammar == nullptr || n_out == nullptr || (cap > 0 && out == nullptr)) {
    return SetError(StatusCode::kInvalidArgument, "NULL argument");
  }
  return Guard([&] {
    sieve_grammar* g = const_cast<sieve_grammar*>(grammar);  // printed forms are made once
    sieve::capi::EnsurePrinted(g);
    if (simplified && !g->print_status.ok()) return SetError(g->print_status);
    return CopyOut(simplified ? g->simplified_text : g->parsed_text, out, cap, n_out);
  });
}

void sieve_matcher_options_init(sieve_matcher_options* opts) {
  if (opts == nullptr) return;
  std::memset(opts, 0, sizeof *opts);
  opts->struct_size = sizeof *opts;
}

sieve_status sieve_matcher_create(const sieve_grammar* grammar, const sieve_matcher_options* opts,
                                  sieve_matcher** out) {
  if (out == nullptr) return SetError(StatusCode::kInvalidArgument, "out is NULL");
  *out = nullptr;
  if (grammar == nullptr) return SetError(StatusCode::kInvalidArgument, "grammar is NULL");
  if (!StructOk(opts)) return SetError(StatusCode::kInvalidArgument, "opts->struct_size is not set");
  return Guard([&] {
    sieve::MatcherOptions mo;
    if (HasField(opts, &sieve_matcher_options::max_rollback_tokens) &&
        opts->max_rollback_tokens > 0) {
      mo.max_rollback_tokens = opts->max_rollback_tokens;
    }
    auto* m = new sieve_matcher(
        grammar->mask_cache != nullptr
            ? sieve::GrammarMatcher(grammar->mask_cache, mo)
            : sieve::GrammarMatcher(grammar->pda, grammar->vocab, mo));
    m->bindings = grammar->bindings;
    *out = m;
    return SIEVE_OK;
  });
}

void sieve_matcher_free(sieve_matcher* matcher) { delete matcher; }

sieve_status sieve_matcher_accept_token(sieve_matcher* matcher, int32_t id) {
  if (matcher == nullptr) return SetError(StatusCode::kInvalidArgument, "matcher is NULL");
  const sieve::Vocabulary* v = matcher->matcher.vocabulary();
  if (v == nullptr) {
    return SetError(StatusCode::kInvalidArgument,
                    "the grammar was compiled without a vocabulary: use accept_string");
  }
  if (id < 0 || static_cast<size_t>(id) >= v->size()) {
    return SetError(StatusCode::kInvalidArgument, "token id " + std::to_string(id) +
                                                      " out of range [0, " +
                                                      std::to_string(v->size()) + ")");
  }
  return Guard([&] {
    const bool ok = matcher->bindings != nullptr
                        ? matcher->bindings->AcceptToken(&matcher->matcher, id)
                        : matcher->matcher.AcceptToken(id);
    return ok ? SIEVE_OK : SIEVE_REJECTED;
  });
}

sieve_status sieve_matcher_accept_string(sieve_matcher* matcher, const char* bytes, size_t len) {
  if (matcher == nullptr || (bytes == nullptr && len > 0)) {
    return SetError(StatusCode::kInvalidArgument, "NULL argument");
  }
  const std::string_view text(bytes ? bytes : "", len);
  if (matcher->bindings != nullptr && !sieve::TokenBindings::StringAllowed(text)) {
    // Bytes 0xF4 stand for the grammar's token pieces (structural_tag_tokens.h).
    return SIEVE_REJECTED;
  }
  return Guard([&] { return matcher->matcher.AcceptString(text) ? SIEVE_OK : SIEVE_REJECTED; });
}

int sieve_matcher_is_terminated(const sieve_matcher* matcher) {
  return matcher != nullptr && matcher->matcher.IsTerminated();
}

int sieve_matcher_can_terminate(const sieve_matcher* matcher) {
  return matcher != nullptr && matcher->matcher.CanTerminate();
}

int sieve_matcher_limit_hit(const sieve_matcher* matcher) {
  return matcher != nullptr && matcher->matcher.limit_hit();
}

sieve_status sieve_matcher_rollback(sieve_matcher* matcher, int32_t n) {
  if (matcher == nullptr || n < 0) return SetError(StatusCode::kInvalidArgument, "bad argument");
  if (!matcher->matcher.Rollback(n)) {
    return SetError(StatusCode::kInvalidArgument,
                    "cannot roll back " + std::to_string(n) + " steps: only " +
                        std::to_string(matcher->matcher.NumRollbackSteps()) + " kept");
  }
  return SIEVE_OK;
}

void sieve_matcher_reset(sieve_matcher* matcher) {
  if (matcher != nullptr) matcher->matcher.Reset();
}

sieve_status sieve_matcher_fork(const sieve_matcher* matcher, sieve_matcher** out) {
  if (out == nullptr) return SetError(StatusCode::kInvalidArgument, "out is NULL");
  *out = nullptr;
  if (matcher == nullptr) return SetError(StatusCode::kInvalidArgument, "matcher is NULL");
  return Guard([&] {
    auto* m = new sieve_matcher(matcher->matcher.Fork());
    m->bindings = matcher->bindings;
    *out = m;
    return SIEVE_OK;
  });
}

sieve_status sieve_matcher_jump_forward(sieve_matcher* matcher, const char** bytes, size_t* len) {
  if (matcher == nullptr || bytes == nullptr || len == nullptr) {
    return SetError(StatusCode::kInvalidArgument, "NULL argument");
  }
  return Guard([&] {
    matcher->scratch = matcher->matcher.FindJumpForwardString();
    if (matcher->bindings != nullptr) sieve::TokenBindings::TrimJumpForward(&matcher->scratch);
    *bytes = matcher->scratch.data();
    *len = matcher->scratch.size();
    return SIEVE_OK;
  });
}

sieve_status sieve_matcher_fill_next_token_bitmask(sieve_matcher* matcher, uint32_t* bitmask,
                                                   size_t words) {
  if (matcher == nullptr || bitmask == nullptr) {
    return SetError(StatusCode::kInvalidArgument, "NULL argument");
  }
  const sieve::Vocabulary* v = matcher->matcher.vocabulary();
  if (v == nullptr) {
    return SetError(StatusCode::kInvalidArgument, "the grammar was compiled without a vocabulary");
  }
  if (words * 32 < v->size()) {
    return SetError(StatusCode::kInvalidArgument,
                    "bitmask of " + std::to_string(words) + " words is too small for " +
                        std::to_string(v->size()) + " ids");
  }
  return Guard([&] {
    matcher->matcher.FillNextTokenBitmask(bitmask, words);  // cached fast path
    if (matcher->bindings != nullptr) matcher->bindings->FixMask(matcher->matcher, bitmask, words);
    return SIEVE_OK;
  });
}

sieve_status sieve_matcher_fill_next_token_bitmask_batch(sieve_matcher* const* matchers,
                                                         size_t n_matchers, uint32_t* bitmask,
                                                         size_t words_per_row,
                                                         int32_t num_threads) {
  if (n_matchers == 0) return SIEVE_OK;
  if (matchers == nullptr || bitmask == nullptr) {
    return SetError(StatusCode::kInvalidArgument, "NULL argument");
  }
  std::vector<sieve::GrammarMatcher*> ms(n_matchers);
  for (size_t i = 0; i < n_matchers; ++i) {
    if (matchers[i] == nullptr) {
      return SetError(StatusCode::kInvalidArgument, "matchers[" + std::to_string(i) + "] is NULL");
    }
    const sieve::Vocabulary* v = matchers[i]->matcher.vocabulary();
    if (v == nullptr) {
      return SetError(StatusCode::kInvalidArgument, "matchers[" + std::to_string(i) +
                                                        "]: grammar compiled without a vocabulary");
    }
    if (words_per_row * 32 < v->size()) {
      return SetError(StatusCode::kInvalidArgument,
                      "rows of " + std::to_string(words_per_row) + " words are too small for " +
                          std::to_string(v->size()) + " ids");
    }
    ms[i] = &matchers[i]->matcher;
  }
  return Guard([&] {
    sieve::ThreadPool* pool = num_threads > 1 ? SharedPool(num_threads) : nullptr;
    sieve::GrammarMatcher::FillNextTokenBitmaskBatch(ms, bitmask, words_per_row, pool);
    // Token pieces fork the matcher (which writes its node pool): on this thread, after the loop.
    for (size_t i = 0; i < n_matchers; ++i) {
      if (matchers[i]->bindings != nullptr) {
        matchers[i]->bindings->FixMask(matchers[i]->matcher, bitmask + i * words_per_row,
                                       words_per_row);
      }
    }
    return SIEVE_OK;
  });
}

}  // extern "C"
