// A code-point automaton (jsonschema::CpDfa) written as grammar rules, for the front ends that
// compute a language with automata and hand it to the grammar compiler: regexes with lookaround or
// word boundaries (regex_grammar.cc) and EBNF's `&` / `~` (ebnf_boolean.h).
#ifndef SIEVE_GRAMMAR_DFA_RULES_H_
#define SIEVE_GRAMMAR_DFA_RULES_H_

#include "grammar/grammar.h"
#include "grammar/json_schema_automaton.h"

namespace sieve {

// One rule per state: the state's self-loops as a repetition of one class, then a choice of one
// class per successor followed by that successor's rule (tail references: the compiler builds the
// chain into one automaton), and the empty string where the state accepts. State 0's body is set
// on `start`; the other states become new rules named `<start's name>_s<N>` (made unique). `d`
// must be minimised and accept some string, so that every state has an alternative.
void AddDfaRules(const jsonschema::CpDfa& d, RuleId start, Grammar* g);

}  // namespace sieve

#endif  // SIEVE_GRAMMAR_DFA_RULES_H_
