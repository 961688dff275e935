// Helpers shared by the libFuzzer targets (SECURITY.md says how to build and run them).
//
// A target reports a bug by aborting with a message: libFuzzer then saves the input as a crash.
// "Bug" means a broken promise of the code under test: a crash or sanitizer report (found by the
// instrumentation), a kInternal status (a broken invariant: never a valid answer to bad input), or
// an oracle disagreement the target checks itself. Every other error status is a correct answer.
//
// The limits here are tighter than the defaults so that each input finishes in milliseconds
// (libFuzzer's -timeout catches anything slower): a fuzz run explores shapes, not sizes.
#ifndef SIEVE_TESTS_FUZZ_FUZZ_UTIL_H_
#define SIEVE_TESTS_FUZZ_FUZZ_UTIL_H_

#include <cstdio>
#include <cstdlib>
#include <string>

#include "grammar/compiler.h"
#include "grammar/limits.h"
#include "grammar/support/status.h"

namespace sieve::fuzz {

[[noreturn]] inline void Fail(const std::string& what) {
  std::fprintf(stderr, "FUZZ CHECK FAILED: %s\n", what.c_str());
  std::abort();
}

inline void Check(bool ok, const std::string& what) {
  if (!ok) Fail(what);
}

// Any status but kInternal is an acceptable answer to arbitrary input.
inline void CheckNotInternal(const Status& s, const char* stage) {
  if (s.code() == StatusCode::kInternal) Fail(std::string(stage) + ": " + s.ToString());
}

// Limits for fuzzing: small enough that one input costs milliseconds.
inline Limits FuzzLimits() {
  Limits l;
  l.max_text_bytes = 1 << 16;
  l.max_nesting_depth = 200;
  l.max_rules = 2000;
  l.max_states = 1 << 16;
  l.max_rule_states = 1 << 14;
  l.max_nfa_states = 1 << 16;
  l.max_repeat_bound = 100000;
  l.max_compile_ms = 2000;
  l.max_mask_cache_bytes = size_t{16} << 20;
  return l;
}

inline GrammarCompileOptions FuzzCompileOptions() {
  GrammarCompileOptions o;
  ApplyLimits(FuzzLimits(), &o);
  return o;
}

}  // namespace sieve::fuzz

#endif  // SIEVE_TESTS_FUZZ_FUZZ_UTIL_H_
