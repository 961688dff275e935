// C API: the limit fields of sieve_grammar_options and sieve_compiler_options -> sieve::Limits
// (limits.h). A field the caller's struct is too old to have, or that is 0, keeps the default.
#include "grammar/capi_limits.h"

#include <algorithm>
#include <cstddef>

namespace sieve::capi {
namespace {

template <typename T, typename F>
bool Has(const T* o, const F T::*field) {
  if (o == nullptr) return false;
  const size_t end = reinterpret_cast<const char*>(&(o->*field)) -
                     reinterpret_cast<const char*>(o) + sizeof(F);
  return o->struct_size >= end;
}

// Both option structs name their limit fields alike.
template <typename T>
Limits LimitsOf(const T* o) {
  Limits l;
  if (Has(o, &T::max_nesting_depth) && o->max_nesting_depth > 0) {
    l.max_nesting_depth = o->max_nesting_depth;
  }
  if (Has(o, &T::max_compile_ms) && o->max_compile_ms != 0) {
    l.max_compile_ms = std::max<int64_t>(o->max_compile_ms, -1);  // < 0: unlimited
  }
  if (Has(o, &T::max_text_bytes) && o->max_text_bytes > 0) {
    l.max_text_bytes = o->max_text_bytes;
    l.max_pattern_bytes = o->max_text_bytes;  // the one C field covers every text
    l.max_schema_bytes = o->max_text_bytes;
  }
  if (Has(o, &T::max_rules) && o->max_rules > 0) l.max_rules = static_cast<size_t>(o->max_rules);
  if (Has(o, &T::max_repeat_bound) && o->max_repeat_bound > 0) {
    l.max_repeat_bound = o->max_repeat_bound;
  }
  if (Has(o, &T::max_states) && o->max_states > 0) l.max_states = o->max_states;
  if (Has(o, &T::max_rule_states) && o->max_rule_states > 0) {
    l.max_rule_states = o->max_rule_states;
  }
  if (Has(o, &T::max_subset_states) && o->max_subset_states > 0) {
    l.max_subset_states = o->max_subset_states;
  }
  if (Has(o, &T::max_mask_cache_bytes) && o->max_mask_cache_bytes > 0) {
    l.max_mask_cache_bytes = o->max_mask_cache_bytes;
  }
  return l;
}

}  // namespace

Limits GrammarLimits(const sieve_grammar_options* o) { return LimitsOf(o); }
Limits CompilerLimits(const sieve_compiler_options* o) { return LimitsOf(o); }

}  // namespace sieve::capi
