// Limits: the server-facing budget of one compile, in one place.
//
// sieve compiles untrusted text (grammars, regexes, JSON Schemas) inside servers, so every stage
// where input sizes multiply has a limit: text size, nesting depth, rule count, repetition bounds,
// NFA/DFA states per rule and in total, the NFA states held by subset construction (the O(n^2) of
// an unanchored periodic regex), schema size and depth, enum size, wall time, mask-cache bytes.
// Each stage keeps its own options struct (EbnfOptions, RegexOptions, SimplifyOptions,
// CompileOptions, JsonSchemaOptions, MaskCacheOptions); `Limits` is the summary a server sets once
// and ApplyLimits() copies into those structs. Exceeding a limit is a kLimit status
// (SIEVE_ERR_LIMIT) whose message names the limit and the option that raises it. SECURITY.md lists
// the defaults and why.
//
// Deadline is the wall-time budget: one is made when a compile starts (GrammarCompileOptions::
// max_compile_ms, GrammarCacheOptions::max_compile_ms) and handed to every stage that can run long
// (simplify, subset construction, automaton layout, the token-mask cache build), which polls it
// every so often and stops with kLimit. A default Deadline never
// expires. Polling reads the steady clock (tens of nanoseconds), so stages poll once per unit of
// real work (a rule, a few hundred DFA states), never per byte.
#ifndef SIEVE_GRAMMAR_LIMITS_H_
#define SIEVE_GRAMMAR_LIMITS_H_

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "grammar/support/status.h"

namespace sieve {

// The default wall-time budget of one grammar compile (parse + simplify + automaton), in ms.
inline constexpr int64_t kDefaultMaxCompileMs = 10000;

class Deadline {
 public:
  Deadline() = default;  // never expires
  // A deadline `ms` milliseconds from now; ms <= 0 gives one that never expires.
  static Deadline AfterMs(int64_t ms);

  bool active() const { return budget_ms_ > 0; }
  int64_t budget_ms() const { return budget_ms_; }
  bool Expired() const { return active() && std::chrono::steady_clock::now() >= at_; }
  // OK, or kLimit "compile time budget of N ms (max_compile_ms) exceeded while <during>; ...".
  Status Check(std::string_view during) const {
    return Expired() ? ExpiredError(during) : Status::Ok();
  }
  Status ExpiredError(std::string_view during) const;

 private:
  std::chrono::steady_clock::time_point at_{};
  int64_t budget_ms_ = 0;
};

// Every limit, with the defaults a server gets. Zero means "keep the stage's own default" for the
// fields a stage already defaults (so a zero-initialised C struct behaves like the defaults).
struct Limits {
  // Size of a grammar text (bytes).
  size_t max_text_bytes = size_t{16} << 20;
  // Size of a regex pattern (bytes).
  size_t max_pattern_bytes = size_t{1} << 20;
  // Size of a JSON Schema document (bytes).
  size_t max_schema_bytes = size_t{16} << 20;
  // Nesting of grammar and regex text (groups, quantifiers) and of expression trees (2x this).
  int max_nesting_depth = 500;  // the stack bound (SECURITY.md) sets this
  // Nesting of a JSON Schema document (JSON levels) and of subschemas.
  int32_t max_schema_depth = 128;
  // Rules in a grammar as written.
  size_t max_rules = 100000;
  // The numbers in x{m,n} (grammar, regex).
  int max_repeat_bound = 1000000;
  // Expressions a front end (regex, JSON Schema) may build; the automaton compiler accepts 4x
  // this many (grammars from text are bounded by max_text_bytes).
  size_t max_grammar_exprs = size_t{1} << 22;
  // NFA states of one rule; DFA states of one rule before minimisation; states in total.
  int64_t max_nfa_states = int64_t{1} << 22;
  int32_t max_rule_states = 1 << 18;
  int64_t max_states = int64_t{1} << 22;
  // NFA state ids held by all DFA states of one rule's subset construction (memory: 4 bytes each).
  int64_t max_subset_states = int64_t{1} << 25;
  // Values of one JSON Schema `enum`.
  int32_t max_enum_values = 100000;
  // Wall time of one compile (grammar) or conversion (JSON Schema), ms; <= 0 = unlimited. Where a
  // compile also builds the token-mask cache (GrammarCache, the C API with a vocabulary), that
  // build is inside the same budget.
  int64_t max_compile_ms = kDefaultMaxCompileMs;
  // Bytes of one grammar's token-mask cache (states over it are served token by token).
  size_t max_mask_cache_bytes = size_t{512} << 20;
};

struct GrammarCompileOptions;  // compiler.h
struct GrammarCacheOptions;    // grammar_cache.h
struct RegexOptions;           // regex_parser.h
struct JsonSchemaOptions;      // json_schema.h
struct MaskCacheOptions;       // mask_cache.h

// Copy `limits` into each stage's options (other fields are left alone).
void ApplyLimits(const Limits& limits, GrammarCompileOptions* opts);
void ApplyLimits(const Limits& limits, GrammarCacheOptions* opts);
void ApplyLimits(const Limits& limits, RegexOptions* opts);
void ApplyLimits(const Limits& limits, JsonSchemaOptions* opts);
void ApplyLimits(const Limits& limits, MaskCacheOptions* opts);

}  // namespace sieve

#endif  // SIEVE_GRAMMAR_LIMITS_H_
