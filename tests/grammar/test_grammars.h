// EBNF grammars shared by the matcher suites, each chosen to exercise one part of the back end.
#ifndef SIEVE_TESTS_GRAMMAR_TEST_GRAMMARS_H_
#define SIEVE_TESTS_GRAMMAR_TEST_GRAMMARS_H_

namespace sieve::testing_grammars {

// JSON (RFC 8259 minus surrounding whitespace): recursion, classes, nullable ws.
inline constexpr char kJson[] = R"GR(
root   ::= value
value  ::= object | array | string | number | "true" | "false" | "null"
object ::= "{" ws ( member ( "," ws member )* )? "}"
member ::= string ws ":" ws value ws
array  ::= "[" ws ( value ws ( "," ws value ws )* )? "]"
string ::= "\"" ( [^"\\\x00-\x1f] | "\\" ( ["\\/bfnrt] | "u" [0-9a-fA-F]{4} ) )* "\""
number ::= "-"? ( "0" | [1-9] [0-9]* ) ( "." [0-9]+ )? ( [eE] [-+]? [0-9]+ )?
ws     ::= [ \t\n\r]*
)GR";

// Arithmetic with left recursion (Simplify removes it).
inline constexpr char kArithmetic[] = R"GR(
root   ::= expr
expr   ::= expr ("+" | "-") term | term
term   ::= term ("*" | "/") factor | factor
factor ::= [0-9]+ | "(" expr ")" | "-" factor
)GR";

// CSV with quoted fields; empty fields and an optional final newline make it ambiguous-ish.
inline constexpr char kCsv[] = R"GR(
root  ::= row ("\n" row)* "\n"?
row   ::= field ("," field)*
field ::= [^,\n"]* | "\"" ([^"] | "\"\"")* "\""
)GR";

// Counted repetitions nested in counted repetitions: a call loop over a byte loop.
inline constexpr char kNestedBounds[] = R"GR(
root ::= "[" (item ("," item){0,99})? "]"
item ::= "\"" [a-z]{1,100} "\"" | [0-9]{1,3}
)GR";

// Unicode classes, with a counted loop over 3-byte code points.
inline constexpr char kUnicode[] = R"GR(
root ::= [α-ωа-я]{1,50} ("·" [一-龥]{0,40})? ("!" | "¡")
)GR";

}  // namespace sieve::testing_grammars

#endif  // SIEVE_TESTS_GRAMMAR_TEST_GRAMMARS_H_
