// `format: "regex"`: ECMA-262 pattern syntax (what JavaScript's `new RegExp(s)` accepts, no flags,
// with the Annex B web-compatibility grammar) as a regular language, narrowed where the exact
// language is not regular or its automaton too large. See json_schema_regex_format.cc.
#ifndef SIEVE_GRAMMAR_JSON_SCHEMA_REGEX_FORMAT_H_
#define SIEVE_GRAMMAR_JSON_SCHEMA_REGEX_FORMAT_H_

#include <string>

#include "grammar/json_schema_automaton.h"

namespace sieve::jsonschema {

// Groups nest at most this deep; lookbehinds stand outside groups and their contents nest at most
// kRegexLookbehindDepth. `{"type":"string","format":"regex"}` with Llama-3 (`sieve compile`, 2
// threads): depth 1: 478 states, 65 ms; depth 2: 581 states, 80 ms (with lookbehinds allowed at
// every level it was 683 states, 100 ms); each level costs about 100-200 states.
inline constexpr int kRegexFormatDepth = 2;
inline constexpr int kRegexLookbehindDepth = 0;

// The format is the intersection of these two languages.
// The syntax with bounded nesting, in the format dialect of json_schema_format.cc (classes are
// only delimited here: their contents are RegexFormatClassCheck's).
std::string RegexFormatStructure();
// The patterns whose classes hold only accepted ranges and escapes (a hand-built lexer automaton:
// flat, so it is built once and the intersection adds its states only inside classes).
CpDfa RegexFormatClassCheck();

// The narrowing note: which valid patterns the format rejects.
std::string RegexFormatNarrowing();

}  // namespace sieve::jsonschema

#endif  // SIEVE_GRAMMAR_JSON_SCHEMA_REGEX_FORMAT_H_
