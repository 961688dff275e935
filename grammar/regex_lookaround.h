// Lookaround at the anchored ends of a pattern, as intersections.
//
// ECMA-262 lookaround is not part of the regex IR (a tree of sequences, choices and repeats has no
// intersection or complement), but where the text around an assertion is pinned by an anchor, the
// assertion is a regular constraint on the whole string:
//   ^(?=X)R  (search semantics)  = L(^R) and L(^(?:X))      (X read from the start, then anything)
//   ^(?!X)R                      = L(^R) and not L(^(?:X))
//   R(?<=Y)$                     = L(R$) and L((?:Y)$)       (Y read up to the end)
//   R(?<!Y)$                     = L(R$) and not L((?:Y)$)
// Several assertions may follow one another (`^(?!-)(?!.*--)...`), the anchor may come before or
// after the leading ones, and the assertions themselves may hold anything a pattern may. The rest
// must not have a top-level `|` (the assertion would bind one branch only). Lookaround anywhere
// else (inside a group, a repetition, the middle of a sequence) is left to the regex parser, which
// reports it as unsupported.
#ifndef SIEVE_GRAMMAR_REGEX_LOOKAROUND_H_
#define SIEVE_GRAMMAR_REGEX_LOOKAROUND_H_

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sieve {

struct AnchoredLookarounds {
  struct Part {
    std::string pattern;  // a pattern (search semantics) whose language the string must be in...
    bool negated = false; // ...or must not be in
  };
  std::string main;         // the pattern without the assertions, anchors kept
  std::vector<Part> parts;  // one per assertion, in pattern order
};

// The decomposition above, or nullopt when `pattern` has no assertion at an anchored end (or has
// one the decomposition does not cover). Only syntax is examined: the parts are patterns to parse.
std::optional<AnchoredLookarounds> SplitAnchoredLookarounds(std::string_view pattern);

}  // namespace sieve

#endif  // SIEVE_GRAMMAR_REGEX_LOOKAROUND_H_
