// Grammar IR -> EBNF text, for golden tests, error reports and `sieve compile --print`.
//
// The output is deterministic and reads back through ParseEbnf to a grammar that Equals() the input
// whenever the input is one ParseEbnf or Simplify can produce (every sequence and choice has 2+
// items; rule names are [a-zA-Z0-9_-] with interior dots). One rule per line, in rule-id order, so
// rule ids survive the round trip. Parentheses are written only where the structure needs them.
// Literals and classes print printable ASCII as is and escape everything else: \n \r \t, \xHH below
// U+0080, \uHHHH, \UHHHHHHHH. The text is also valid llama.cpp GBNF when the grammar has no
// lookahead assertion (XGrammar syntax) and its rule names use only [a-zA-Z0-9-] (llama.cpp
// accepts neither '_' nor '.' in names). A unique-items rule (Rule::unique_items) is preceded by a
// `#!unique_items NAME` line, which ParseEbnf reads back and other tools take for a comment (so
// they do not check the items, or an object's keys).
#ifndef SIEVE_GRAMMAR_GRAMMAR_PRINTER_H_
#define SIEVE_GRAMMAR_GRAMMAR_PRINTER_H_

#include <string>

#include "grammar/grammar.h"

namespace sieve {

// The whole grammar, one `name ::= body` line per rule (plus the directive above), each ending in
// '\n'.
std::string PrintEbnf(const Grammar& g);

// One expression, as it would appear inside a rule body.
std::string PrintExpr(const Grammar& g, ExprId e);

}  // namespace sieve

#endif  // SIEVE_GRAMMAR_GRAMMAR_PRINTER_H_
