// C API internals: reads the limit fields of sieve_grammar_options and sieve_compiler_options
// (issue 10). Not a public header.
#ifndef SIEVE_GRAMMAR_CAPI_LIMITS_H_
#define SIEVE_GRAMMAR_CAPI_LIMITS_H_

#include "grammar/limits.h"
#include "sieve/sieve.h"

namespace sieve::capi {

// The limits `opts` asks for (NULL: the defaults); ApplyLimits() copies them into each stage.
Limits GrammarLimits(const sieve_grammar_options* opts);
Limits CompilerLimits(const sieve_compiler_options* opts);

}  // namespace sieve::capi

#endif  // SIEVE_GRAMMAR_CAPI_LIMITS_H_
