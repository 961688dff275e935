// Regex front end: an ECMA-262-style regular expression -> Grammar IR expression.
//
// JSON Schema `pattern` semantics: the pattern is searched, so a side of a match that no `^` / `$`
// pins may meet any text (`.*` in the dotall sense, over all code points); `sieve regex` and
// `--regex` grammars use the same rule so that one pattern means one language everywhere.
// Supported: literals and escapes (\n \t \r \f \v \0 \cX \xHH \uHHHH, surrogate pairs \uHHHH\uHHHH,
// \u{H...}, identity escapes of ASCII punctuation), classes [...] [^...] with ranges ([] matches
// nothing, [^] any code point; \b in a class is U+0008), \d \w \s \D \W \S (ECMA definitions:
// \d = [0-9], \w = [A-Za-z0-9_], \s = ECMA WhiteSpace+LineTerminator), \p{..} / \P{..} with a
// General_Category value (short or long name, optionally as gc=.. / General_Category=..) or one of
// Any ASCII Assigned White_Space ASCII_Hex_Digit, `.` (any code point except the line terminators
// \n \r U+2028 U+2029), groups ( ), non-capturing (?: ), named groups (?<name> ), alternation |,
// quantifiers * + ? {n} {n,} {n,m} and their lazy forms (same language), anchors ^ $ anywhere a
// path through them can match (`^a|b$`, `(?:^|,)x`; a quantifier other than `?` over a group
// holding an anchor is kUnsupported). Annex B leniency: `{` that starts no well-formed quantifier,
// a lone `}` or `]`, and `-` next to a class escape inside a class are literals (RE2 agrees).
// Bounded quantifiers become kRepeat (never unrolled here). Errors carry the byte offset:
//  - kUnsupported (valid ECMA that sieve cannot enforce), the message naming the construct:
//    backreferences \1 \k<name>, lookaround (?= (?! (?<= (?<! (RegexToGrammar takes it at an
//    anchored end: see below), \b \B (unless RegexOptions::boundary_markers: RegexToGrammar and
//    JSON Schema take them through automata), modifier groups (?i) (?i: ,
//    \p{Script=..} / \p{sc=..} / scx, other binary properties, and patterns that match no string
//    (`a$b`, `[]`);
//  - kParse: unbalanced parentheses, unterminated classes, [z-a], unknown or malformed escapes
//    (\e \A \x4 \u12 octal \01), nothing to repeat (`*a`, `{2}`, `^*`), a quantifier after a
//    quantifier (`a**`, possessive `a*+`), {5,2}, unknown properties, invalid UTF-8 in the pattern;
//  - kLimit: max_pattern_bytes, max_repeat_bound, max_nesting_depth (groups, quantifiers and
//    anchor-bearing terms of one sequence; the parser itself never recurses), max_exprs.
// Code points, not bytes: the grammar matches UTF-8 encodings of the code points. On error the
// grammar may hold unreferenced expressions (harmless: nothing reaches them).
#ifndef SIEVE_GRAMMAR_REGEX_PARSER_H_
#define SIEVE_GRAMMAR_REGEX_PARSER_H_

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "grammar/grammar.h"
#include "grammar/support/status.h"

namespace sieve {

// One lookaround of a pattern (RegexOptions::lookarounds).
struct RegexLookaround {
  char32_t marker = 0;   // its code point on automaton edges
  bool behind = false;   // (?<= (?<! rather than (?= (?!
  bool negated = false;  // (?! (?<!
  std::string pattern;   // the assertion's own pattern, as written
  size_t offset = 0;     // of its "(?" in the pattern
};

struct RegexOptions {
  // JSON Schema semantics (unanchored sides match anything). With false, the whole pattern must
  // match the whole input (as if written ^(...)$).
  bool search_semantics = true;
  int max_nesting_depth = 500;  // Limits::max_nesting_depth (stack bound: SECURITY.md)
  size_t max_pattern_bytes = size_t{1} << 20;
  int max_repeat_bound = 1000000;
  // Expressions one call may add. Only anchors in the middle of a pattern can copy
  // sub-expressions (the IR is a tree); ordinary patterns add O(pattern bytes).
  size_t max_exprs = size_t{1} << 22;
  // Where \b and \B (outside classes) go: with null they are kUnsupported; otherwise each becomes
  // an empty expression listed here with its marker code point (kWordBoundaryMarker,
  // kNonWordBoundaryMarker), copies the parser makes included. Read on its own the expression
  // then ignores the assertions: it must go through jsonschema::DfaFromExpr with these markers
  // (json_schema_automaton.h), as RegexToGrammar and JSON Schema `pattern` do.
  std::vector<std::pair<ExprId, char32_t>>* boundary_markers = nullptr;
  // Where lookarounds go: with null (or without boundary_markers) they are kUnsupported;
  // otherwise each (?= (?! (?<= (?<! becomes a zero-width marker in boundary_markers with its own
  // code point (kFirstLookaroundMarker + its index here) and its pattern is kept below. The
  // expression then ignores them: regex_lookaround_dfa.h makes the automaton that enforces them.
  std::vector<RegexLookaround>* lookarounds = nullptr;
  // Where a pattern whose every path is impossible (`a^b`, `a$b`, `[]`) goes: with null it is
  // kUnsupported ("the pattern matches no string"); otherwise *matches_nothing is set to true and
  // the result is kNoExpr (JSON Schema `pattern`: no string satisfies the keyword, exactly).
  bool* matches_nothing = nullptr;
};


// The code points that stand for \b and \B on automaton edges (RegexOptions::boundary_markers):
// surrogates, which UTF-8 text never holds.
inline constexpr char32_t kWordBoundaryMarker = 0xD800;
inline constexpr char32_t kNonWordBoundaryMarker = 0xD801;
// The code points of lookaround markers (RegexOptions::lookarounds): the other surrogates.
inline constexpr char32_t kFirstLookaroundMarker = 0xD802;
inline constexpr char32_t kLastLookaroundMarker = 0xDFFF;

// Whether `markers` (RegexOptions::boundary_markers) holds a \b or \B (not only lookarounds).
inline bool HasWordBoundaryMarkers(const std::vector<std::pair<ExprId, char32_t>>& markers) {
  for (const auto& [e, m] : markers) {
    if (m == kWordBoundaryMarker || m == kNonWordBoundaryMarker) return true;
  }
  return false;
}

// Adds the pattern's language to `g` as an expression and returns its id. Errors carry the byte
// offset into `pattern`.
Result<ExprId> RegexToExpr(std::string_view pattern, Grammar* g, const RegexOptions& opts = {});
// A whole grammar whose root rule matches the pattern's language. Unlike RegexToExpr it also takes
// lookaround at the anchored ends of the pattern (regex_lookaround.h; `^(?!all$).*$`), as JSON
// Schema `pattern` does: the grammar is then the minimised intersection of the pieces' automata,
// one rule per state (regex_grammar.cc). Lookaround elsewhere stays kUnsupported. Word boundaries
// \b and \B (ECMA-262: ASCII word characters, the ends of the input count as non-word) go the
// same way, anywhere in the pattern (jsonschema::DfaFromExpr with the parser's markers).
Result<Grammar> RegexToGrammar(std::string_view pattern, const RegexOptions& opts = {});

}  // namespace sieve

#endif  // SIEVE_GRAMMAR_REGEX_PARSER_H_
