// Shared internals of the C API implementation (capi*.cc): handle structs, the thread-local last
// error, and the guard that keeps exceptions (only std::bad_alloc can arise) from crossing the C
// boundary. Not a public header.
#ifndef SIEVE_GRAMMAR_CAPI_INTERNAL_H_
#define SIEVE_GRAMMAR_CAPI_INTERNAL_H_

#include <atomic>
#include <algorithm>
#include <mutex>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include "grammar/grammar.h"
#include "grammar/json_schema.h"
#include "grammar/mask_cache.h"
#include "grammar/matcher.h"
#include "grammar/pda.h"
#include "grammar/structural_tag_tokens.h"
#include "grammar/token_trie.h"
#include "grammar/support/status.h"
#include "grammar/tokenizer/tokenizer.h"
#include "grammar/tokenizer/vocabulary.h"
#include "sieve/sieve.h"

struct sieve_vocab {
  std::atomic<int> refs{1};
  std::shared_ptr<const sieve::Tokenizer> tokenizer;  // null for raw vocabularies
  std::shared_ptr<const sieve::Vocabulary> vocab;
  std::string description;
  // The sorted token trie the mask cache needs, built on first use and shared by every grammar
  // compiled for this vocabulary.
  std::mutex info_mu;
  std::shared_ptr<const sieve::TokenizerInfo> info;
};

struct sieve_grammar {
  std::atomic<int> refs{1};
  std::shared_ptr<const sieve::CompiledGrammar> pda;
  std::shared_ptr<const sieve::Vocabulary> vocab;  // may be null (byte-level use only)
  std::shared_ptr<const sieve::TokenMaskCache> mask_cache;  // set when compiled with a vocabulary
  std::shared_ptr<const sieve::TokenBindings> bindings;     // token pieces of structural tags
  sieve::Grammar source;       // the grammar IR as written or generated (print, serialisation)
  sieve::Grammar simplified;   // what the automaton was built from; empty until printed/serialised
                               // for grammars compiled through a sieve_compiler (computed once)
  bool ignore_lookahead = false;
  int32_t rules = 0;           // rules as written
  double compile_ms = 0;       // front end + simplify + automaton (+ mask cache, compiler path)
  std::vector<std::string> warnings;
  std::vector<sieve::JsonSchemaNote> notes;
  // Printed forms, made on first use (grammars are shared between threads).
  std::once_flag print_once;
  std::string parsed_text;
  std::string simplified_text;
  sieve::Status print_status;
};

struct sieve_matcher {
  explicit sieve_matcher(sieve::GrammarMatcher m) : matcher(std::move(m)) {}
  std::shared_ptr<const sieve::TokenBindings> bindings;  // null unless the grammar has token pieces
  sieve::GrammarMatcher matcher;
  std::string scratch;  // jump-forward string storage
};

namespace sieve::capi {

struct ErrorState {
  std::string message;
  std::string pointer;
  sieve_error error{SIEVE_OK, "", -1, 0, 0, ""};
};

inline ErrorState& LastError() {
  thread_local ErrorState state;
  return state;
}

inline sieve_status SetError(const Status& s) {
  ErrorState& e = LastError();
  e.message = s.ToString();
  e.pointer = s.json_pointer();
  e.error.status = static_cast<sieve_status>(s.code());
  e.error.message = e.message.c_str();
  e.error.offset = s.offset();
  e.error.line = s.line();
  e.error.column = s.column();
  e.error.json_pointer = e.pointer.c_str();
  return e.error.status;
}

inline sieve_status SetError(StatusCode code, std::string message) {
  return SetError(Status(code, std::move(message)));
}

// Runs `body` (returning sieve_status), turning allocation failure into an error instead of a crash.
template <typename F>
sieve_status Guard(F&& body) {
  try {
    return body();
  } catch (const std::bad_alloc&) {
    return SetError(StatusCode::kInternal, "out of memory");
  } catch (...) {
    return SetError(StatusCode::kInternal, "unexpected exception");
  }
}

// Makes the printed forms and the simplified IR of `g` once (thread-safe; errors in print_status).
void EnsurePrinted(sieve_grammar* g);

// Copies `text` into a caller buffer: *n_out = full size; error when cap is too small.
inline sieve_status CopyOut(const std::string& text, char* out, size_t cap, size_t* n_out) {
  *n_out = text.size();
  if (out != nullptr && cap > 0) text.copy(out, std::min(cap, text.size()));
  if (text.size() > cap) {
    return SetError(StatusCode::kInvalidArgument,
                    "output buffer too small: need " + std::to_string(text.size()) + " bytes");
  }
  return SIEVE_OK;
}

}  // namespace sieve::capi

#endif  // SIEVE_GRAMMAR_CAPI_INTERNAL_H_
