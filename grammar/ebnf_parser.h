// EBNF front end: grammar text -> Grammar IR.
//
// One dialect reads both llama.cpp GBNF and XGrammar EBNF unchanged:
//
//   # comment to the end of the line
//   root    ::= value ("," value)*          a rule; it may span several lines: the next rule starts
//   value   ::= "lit" | 'lit' | [a-z0-9_] | [^"\\] | . | name | ( ... ) | ""
//   item    ::= x* | x+ | x? | x{3} | x{2,} | x{2,5} | x{,5}
//   str     ::= "\"" [^"]* "\"" (= [,}])   XGrammar lookahead assertion, only at the end of a body
//   word    ::= [a-z]+ & ~("if" | "else")   XGrammar intersection and complement of regular
//                                           languages (ebnf_boolean.h): '&' binds tighter than
//                                           '|' and looser than a sequence, '~' applies to the
//                                           element after it, before its quantifier
//   #!unique_items arr                      sieve: rule `arr` is a JSON array whose items (or a
//                                           JSON object whose keys) must be distinct (checked by
//                                           the matcher; a comment to other tools, which then do
//                                           not enforce it)
//   call    ::= <[128010]> args <|eom_id|>   llama.cpp token references: a token by id or by its
//   think   ::= <think> (!</think>)* </think>  text, `!` = any text without that token (only under
//                                           '*' or '+'); see EbnfTokenRef
//   #!unique_keys obj                       sieve: rule `obj` is a JSON object whose keys must be
//                                           distinct, every key prefix completable to an unused
//                                           key (a closed object's; the matcher refuses others)
//
// Rule names are [a-zA-Z0-9_-]+ (llama.cpp's [a-zA-Z0-9-] plus XGrammar's '_') with interior dots
// allowed (XGrammar: `a.b`); a '.' that is not between two name characters is the any-character
// wildcard. A new rule starts wherever a name is followed by '::=', so bodies may continue across
// lines without a trailing '|' (XGrammar) and GBNF's line-oriented layout reads the same.
// Escapes, in literals and classes: \n \t \r \f \v \0 \\ \" \' \[ \] \- \^ and the other regex
// punctuation, \xHH, \uHHHH, \UHHHHHHHH (all name code points, so "\xe9" is U+00E9, as in
// llama.cpp and XGrammar); in classes also \d \w \s \D \W \S.
// Single-quoted literals are an extension (neither GBNF nor XGrammar has them).
//
// The parser never recurses: groups are parsed with an explicit stack, and nesting (groups and
// stacked quantifiers) deeper than max_nesting_depth is a kLimit error, so later recursive stages
// see trees of bounded depth. Errors are kParse (kLimit for limits) with the byte offset, a 1-based
// line and a 1-based column counted in code points, and what was expected.
//
// Output: rule ids in definition order (so PrintEbnf -> ParseEbnf reproduces ids), no
// simplification (a group adds no node; a one-item sequence or choice is the item itself; `""` and
// empty alternatives are kEmpty). Rules unreachable from the root are kept and reported through
// `warnings`; Simplify() removes them.
#ifndef SIEVE_GRAMMAR_EBNF_PARSER_H_
#define SIEVE_GRAMMAR_EBNF_PARSER_H_

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "grammar/grammar.h"
#include "grammar/support/status.h"

namespace sieve {

// A token reference (llama.cpp's syntax): `<[id]>` names a vocabulary token by id, `<text>` the
// special or added token whose text is exactly `<text>`; `!<...>` (only under '*' or '+') is text
// without that token. The grammar stands for each referenced token by a sentinel code point
// (kEbnfTokenSentinelBase + index, as structural tags do: structural_tag_tokens.h binds them to
// ids at run time), so the token matches only as that id, never as its text spelled by others.
inline constexpr char32_t kEbnfTokenSentinelBase = 0x10FF00;
inline constexpr size_t kEbnfMaxTokenRefs = 256;
struct EbnfTokenRef {
  int32_t id = -1;       // <[id]>; -1 for <text>
  std::string text;      // <text>, brackets included; empty for <[id]>
  std::string sentinel;  // UTF-8 of the code point standing for the token
  int32_t offset = 0;    // byte offset of the first reference
};

struct EbnfOptions {
  std::string root = "root";
  size_t max_text_bytes = size_t{16} << 20;
  int max_nesting_depth = 500;  // Limits::max_nesting_depth (stack bound: SECURITY.md)
  size_t max_rules = 100000;
  // Upper limit for the numbers in {m,n}; larger bounds are a kLimit error.
  int max_repeat_bound = 1000000;
  // Automaton states of one `&` / `~` (ebnf_boolean.h); more is a kLimit error.
  int32_t max_boolean_states = 20000;
  // When set, receives one line per warning (e.g. "rule 'foo' (line 3) is never used").
  std::vector<std::string>* warnings = nullptr;
  // Receives the token references in order of first use; null: a grammar with token references
  // is kUnsupported (no vocabulary to bind them to).
  std::vector<EbnfTokenRef>* tokens = nullptr;
};

Result<Grammar> ParseEbnf(std::string_view text, const EbnfOptions& opts = EbnfOptions());

// 1-based line and column (in code points) of a byte offset in text, for error messages.
void OffsetToLineColumn(std::string_view text, size_t offset, int* line, int* column);

}  // namespace sieve

#endif  // SIEVE_GRAMMAR_EBNF_PARSER_H_
