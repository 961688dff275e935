// EBNF `&` (intersection) and prefix `~` (complement), XGrammar's extension of its EBNF, for
// ParseEbnf. Both take regular languages: literals, classes, `.`, groups, choices, quantifiers,
// references to rules whose bodies never reach themselves again, and other `&` / `~`. The
// language is computed with code-point automata (json_schema_automaton.h), so it is exact, and
// written back as rules (dfa_rules.h): the compiled grammar never sees the operators. `~X` is
// every string of Unicode scalar values that X does not match. `a b & c | d` reads
// `((a b) & c) | d`; `~x*` reads `(~x)*`.
#ifndef SIEVE_GRAMMAR_EBNF_BOOLEAN_H_
#define SIEVE_GRAMMAR_EBNF_BOOLEAN_H_

#include <cstdint>
#include <vector>

#include "grammar/grammar.h"
#include "grammar/support/status.h"

namespace sieve {

struct BooleanOp {
  RuleId rule = -1;  // the rule that stands for the result (its body is set here)
  bool complement = false;  // ~operands[0]; else the intersection of all operands
  std::vector<ExprId> operands;
  int32_t offset = -1;  // the operator's byte offset in the grammar text
};

// Sets the body of every op's rule (and adds one rule per further automaton state). On error,
// the status names the op's offset (Status::offset): kUnsupported for an operand that is not a
// regular language, kLimit past `max_states` automaton states, kInvalidArgument for an op that
// matches no string. `read` receives the rules that operands read in place.
Status ResolveBooleanOps(const std::vector<BooleanOp>& ops, int32_t max_states, Grammar* g,
                         std::vector<RuleId>* read);

}  // namespace sieve

#endif  // SIEVE_GRAMMAR_EBNF_BOOLEAN_H_
