// Limits and Deadline (see limits.h).
#include "grammar/limits.h"

#include <algorithm>
#include <string>

#include "grammar/compiler.h"
#include "grammar/grammar_cache.h"
#include "grammar/json_schema.h"
#include "grammar/mask_cache.h"
#include "grammar/regex_parser.h"

namespace sieve {

Deadline Deadline::AfterMs(int64_t ms) {
  Deadline d;
  if (ms <= 0) return d;
  d.budget_ms_ = ms;
  d.at_ = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
  return d;
}

Status Deadline::ExpiredError(std::string_view during) const {
  return LimitError("compile time budget of " + std::to_string(budget_ms_) +
                    " ms exceeded while " + std::string(during) +
                    " (raise Limits::max_compile_ms, or max_compile_ms in sieve_grammar_options)");
}

namespace {

void ApplyTo(const Limits& l, EbnfOptions* ebnf, SimplifyOptions* simplify, CompileOptions* pda) {
  ebnf->max_text_bytes = l.max_text_bytes;
  ebnf->max_nesting_depth = l.max_nesting_depth;
  ebnf->max_rules = l.max_rules;
  ebnf->max_repeat_bound = l.max_repeat_bound;
  // Simplify and the automaton recurse over expression trees, which are deeper than the text's
  // nesting (a group level can be a choice and a sequence; a quantifier counts as a level of its
  // own): 2x, as the defaults, which keep the recursion within the 1 MiB stack bound (SECURITY.md).
  simplify->max_expr_depth = 2 * l.max_nesting_depth;
  pda->max_expr_depth = 2 * l.max_nesting_depth + 96;
  pda->max_grammar_exprs = 4 * l.max_grammar_exprs;
  pda->max_nfa_states = l.max_nfa_states;
  pda->max_rule_states = l.max_rule_states;
  pda->max_states = l.max_states;
  pda->max_subset_states = l.max_subset_states;
}

}  // namespace

void ApplyLimits(const Limits& l, GrammarCompileOptions* o) {
  ApplyTo(l, &o->ebnf, &o->simplify, &o->pda);
  o->max_compile_ms = l.max_compile_ms;
}

void ApplyLimits(const Limits& l, GrammarCacheOptions* o) {
  ApplyTo(l, &o->ebnf, &o->simplify, &o->compile);
  ApplyLimits(l, &o->mask);
  o->max_compile_ms = l.max_compile_ms;
}

void ApplyLimits(const Limits& l, RegexOptions* o) {
  o->max_pattern_bytes = l.max_pattern_bytes;
  o->max_nesting_depth = l.max_nesting_depth;
  o->max_repeat_bound = l.max_repeat_bound;
  o->max_exprs = l.max_grammar_exprs;
}

void ApplyLimits(const Limits& l, JsonSchemaOptions* o) {
  o->max_schema_bytes = l.max_schema_bytes;
  o->max_schema_depth = l.max_schema_depth;
  o->max_grammar_exprs = l.max_grammar_exprs;
  o->max_enum_values = l.max_enum_values;
  o->max_convert_ms = l.max_compile_ms;
}

void ApplyLimits(const Limits& l, MaskCacheOptions* o) { o->max_bytes = l.max_mask_cache_bytes; }

}  // namespace sieve
