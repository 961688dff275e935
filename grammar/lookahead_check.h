// Lookahead assertions that a grammar already implies.
//
// XGrammar writes `rule ::= body (= la)`: the text after a match of `rule` starts with a match of
// `la`. The automaton cannot enforce such an assertion, but the ones written in practice mostly
// restate the grammar (XGrammar's builtin JSON grammar: a value is followed by whitespace, ',', '}'
// or ']'). CheckLookaheadsImplied proves that, on the compiled automaton, for every rule with an
// assertion: from every state a call of the rule returns to, every continuation starts with a
// match of `la`, or reaches the end of the text before one is complete (there is nothing to assert
// about: XGrammar's JSON grammar ends a document with rules that ask for a separator, and its
// matcher accepts the end there). Such an assertion removes nothing, so compiling the grammar
// without it is exact.
//
// The continuations are read without the stack: a rule that ends returns to every state any call
// of it returns to. That over-approximates the texts that can follow, so a proof is sound; a
// grammar whose assertion holds only through the stack is refused although it is implied (the
// error says so). Counters are not applied (more continuations again).
//
// Errors: kUnsupported naming the rule and a continuation the assertion excludes (a prefix of
// text that can follow the rule, in the over-approximation), or saying that the proof was not
// attempted: an assertion that is not a regular language without counted repetitions
// (recursive rules, bounds too large to unroll), or a search past `max_configurations` pairs of
// (grammar state, assertion state).
#ifndef SIEVE_GRAMMAR_LOOKAHEAD_CHECK_H_
#define SIEVE_GRAMMAR_LOOKAHEAD_CHECK_H_

#include <cstdint>

#include "grammar/grammar.h"
#include "grammar/limits.h"
#include "grammar/pda.h"
#include "grammar/support/status.h"

namespace sieve {

// `pda` is `g` compiled with its assertions ignored (rule ids as in `g`). `deadline` (may be null)
// is polled during the search.
Status CheckLookaheadsImplied(const Grammar& g, const CompiledGrammar& pda,
                              const Deadline* deadline = nullptr,
                              int64_t max_configurations = int64_t{1} << 18);

}  // namespace sieve

#endif  // SIEVE_GRAMMAR_LOOKAHEAD_CHECK_H_
