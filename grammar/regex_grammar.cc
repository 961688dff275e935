// RegexToGrammar (regex_parser.h): a whole grammar for a pattern, as `sieve regex`, `--regex`
// grammars, the C API's regex sources and structural tags' regex content take it.
//
// The pattern goes through RegexToExpr. When that reports lookaround, and the lookaround stands at
// an anchored end of the pattern (regex_lookaround.h: `^(?!all$).*$`, `^(?!-)(?!.*--)[a-z-]+$`,
// `.*(?<!-)$`), the pattern is the intersection of its parts' code-point automata, negated parts
// complemented, exactly as JSON Schema `pattern` reads it (json_schema_string.cc): each part is
// parsed and made an automaton (json_schema_automaton.h), and the minimised product is written out
// as one rule per state. Lookaround anywhere else, and word boundaries (\b \B), go through
// RegexToDfa (regex_lookaround_dfa.h): the parser marks each assertion where it stands and the
// pattern's automaton enforces it.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "grammar/dfa_rules.h"
#include "grammar/json_schema_automaton.h"
#include "grammar/regex_lookaround.h"
#include "grammar/regex_lookaround_dfa.h"
#include "grammar/regex_parser.h"

namespace sieve {

namespace {

// States of one part's automaton and of the product (the JSON Schema front end's default).
constexpr int32_t kMaxLookaroundStates = 20000;

// Where an error at `offset` in `piece` (an assertion's pattern, `^(?:X)` or `(?:X)$`, X copied
// from `pattern`) lies in `pattern`, or -1.
int64_t OffsetInPattern(std::string_view pattern, std::string_view piece, int64_t offset) {
  size_t prefix = 0;
  if (piece.rfind("^(?:", 0) == 0) {
    prefix = 4;
  } else if (piece.rfind("(?:", 0) == 0) {
    prefix = 3;
  } else {
    return -1;
  }
  const size_t suffix = piece.size() >= 2 && piece.substr(piece.size() - 2) == ")$" ? 2 : 1;
  if (piece.size() < prefix + suffix) return -1;
  const std::string_view x = piece.substr(prefix, piece.size() - prefix - suffix);
  const size_t at = pattern.find(x);
  if (at == std::string_view::npos || offset < static_cast<int64_t>(prefix) ||
      offset >= static_cast<int64_t>(prefix + x.size())) {
    return -1;
  }
  return static_cast<int64_t>(at) + offset - static_cast<int64_t>(prefix);
}

// A pattern's automaton, word boundaries (\b \B) and lookarounds anywhere taken
// (regex_lookaround_dfa.h).
Result<jsonschema::CpDfa> PatternDfa(std::string_view text, const RegexOptions& opts) {
  return RegexToDfa(text, opts, kMaxLookaroundStates);
}

// The language of `split`: its main pattern (with the caller's options) and every part (search
// semantics, as regex_lookaround.h defines them), intersected. Errors in a part carry their offset
// in `pattern` where it can be found.
Result<jsonschema::CpDfa> LookaroundDfa(std::string_view pattern, const AnchoredLookarounds& split,
                                        const RegexOptions& opts) {
  std::vector<std::pair<std::string, bool>> texts{{split.main, false}};
  for (const AnchoredLookarounds::Part& part : split.parts) {
    texts.push_back({part.pattern, part.negated});
  }
  std::optional<jsonschema::CpDfa> acc;
  for (size_t i = 0; i < texts.size(); ++i) {
    const auto& [text, negated] = texts[i];
    RegexOptions o = opts;
    if (i > 0) o.search_semantics = true;
    auto d = PatternDfa(text, o);
    if (!d.ok()) {
      Status s(d.status().code(), "read as '" + text + "' (" +
                                      (i == 0 ? "the pattern without its lookarounds"
                                              : "a lookaround at an anchored end") +
                                      "): " + d.status().message());
      if (i > 0 && d.status().offset() >= 0) {
        if (const int64_t at = OffsetInPattern(pattern, text, d.status().offset()); at >= 0) {
          s.WithOffset(at);
        }
      }
      return s;
    }
    const jsonschema::CpDfa side = negated ? jsonschema::Complement(*d) : std::move(*d);
    if (!acc) {
      acc = side;
      continue;
    }
    auto both = jsonschema::Intersect(*acc, side, kMaxLookaroundStates);
    if (!both.ok()) {
      return Status(both.status().code(),
                    "intersecting the lookarounds: " + both.status().message());
    }
    acc = std::move(*both);
  }
  return jsonschema::Minimize(*acc);
}

}  // namespace

Result<Grammar> RegexToGrammar(std::string_view pattern, const RegexOptions& opts) {
  Grammar g;
  const RuleId root = g.AddRule("root", 0);
  auto body = RegexToExpr(pattern, &g, opts);
  if (body.ok()) {
    g.SetRuleBody(root, *body);
    g.set_root(root);
    return g;
  }
  if (body.status().code() != StatusCode::kUnsupported) return body.status();
  // Word boundaries and anchored lookaround: through automata.
  const std::optional<AnchoredLookarounds> split = SplitAnchoredLookarounds(pattern);
  auto d = split ? LookaroundDfa(pattern, *split, opts) : PatternDfa(pattern, opts);
  if (!d.ok()) return d.status();
  const jsonschema::CpDfa m = jsonschema::Minimize(*d);
  if (jsonschema::IsEmptyLanguage(m)) {
    return Unsupported("the pattern matches no string (its lookarounds or word boundaries "
                       "exclude every match)");
  }
  Grammar out;
  const RuleId start = out.AddRule("root");
  AddDfaRules(m, start, &out);
  out.set_root(start);
  return out;
}

}  // namespace sieve
