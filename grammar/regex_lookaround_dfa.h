// Patterns with lookaround anywhere, and with word boundaries, as code-point automata.
//
// RegexToDfa parses the pattern with its assertions as zero-width markers (RegexOptions::
// boundary_markers and ::lookarounds), builds its automaton over the code points and the markers
// (jsonschema::DfaFromExpr) and then removes the markers:
//  - word boundaries (\b \B) against the code points around them (json_schema_automaton.h);
//  - lookarounds by a subset construction over configurations (q, b, S): q a state of the
//    pattern's automaton; b, for every lookbehind, the state of its automaton L((?:Y)$) ("the text
//    so far ends with Y") run from the start of the text; S the pending lookaheads, each a state
//    of its automaton L(^(?:X)) ("the rest of the text starts with X") run from where its marker
//    was passed. A marker is an epsilon move: a lookbehind there checks its run's verdict, a
//    lookahead starts a run. A configuration accepts at the end of the text when q does, every
//    positive lookahead's run accepts and no negative one's does; a positive run that dies kills
//    its configuration, a negative one that dies is satisfied (and the converse for runs that
//    reach a state accepting every continuation).
// This is ECMA-262's meaning: a string matches when some path through the pattern has each of its
// assertions true where it stands; nested lookarounds are built the same way, recursively.
// kUnsupported: an assertion whose own pattern holds `^` (lookahead), `$` (lookbehind), a word
// boundary or a lookaround of the other direction (each would look outside the text the
// assertion reads), and word boundaries together with lookarounds in one pattern under a modifier
// group such as (?i: (without one, RegexToDfa reads each \b / \B as the lookarounds it
// abbreviates, so one construction takes both). kLimit past max_states automaton states.
#ifndef SIEVE_GRAMMAR_REGEX_LOOKAROUND_DFA_H_
#define SIEVE_GRAMMAR_REGEX_LOOKAROUND_DFA_H_

#include <cstdint>
#include <string_view>
#include <utility>
#include <vector>

#include "grammar/json_schema_automaton.h"
#include "grammar/regex_parser.h"
#include "grammar/support/status.h"

namespace sieve {

// The minimised automaton of `pattern` (opts: the pattern's semantics and limits; the marker
// fields are set here). Errors carry the byte offset in `pattern` where one is known.
Result<jsonschema::CpDfa> RegexToDfa(std::string_view pattern, const RegexOptions& opts,
                                     int32_t max_states);

// The same for a pattern RegexToExpr has already read into `g` as `e`, with its markers and
// lookarounds (RegexOptions::boundary_markers / ::lookarounds) and the options it was read with;
// kUnsupported for word boundaries together with lookarounds (RegexToDfa reads the text again).
Result<jsonschema::CpDfa> ParsedRegexToDfa(
    const Grammar& g, ExprId e, const std::vector<std::pair<ExprId, char32_t>>& markers,
    const std::vector<RegexLookaround>& looks, const RegexOptions& opts, int32_t max_states);

}  // namespace sieve

#endif  // SIEVE_GRAMMAR_REGEX_LOOKAROUND_DFA_H_
