// Code-point automata for the JSON Schema front end: the regular-language toolkit that lets string
// and number constraints be combined exactly instead of dropped.
//
// A CpDfa is a deterministic automaton over Unicode scalar values (numbers are spelt in ASCII, so
// the same type serves the digit automata of json_schema_number.cc). State 0 is the start; each
// state has sorted, disjoint, inclusive code-point ranges to its successors (a partial transition
// function: a missing edge rejects) and an accepting flag. Operations:
//  - DfaFromExpr: a character-level Grammar expression (bytes, classes, sequences, choices,
//    repetitions, as RegexToExpr and the format definitions produce; rule references where the
//    caller says how to read them: DfaRuleRefs) -> Thompson NFA over
//    code-point ranges -> subset construction (elementary intervals per subset);
//  - intersection (product), complement (totalised over all scalar values), union, bounding the
//    length in code points (product with a counter that saturates when there is no upper bound),
//    Moore minimisation, emptiness, the length range of the language, membership.
// Every construction takes a state budget and fails with kLimit past it, so a pathological pattern
// costs a bounded amount of time. Surrogates never appear on edges.
#ifndef SIEVE_GRAMMAR_JSON_SCHEMA_AUTOMATON_H_
#define SIEVE_GRAMMAR_JSON_SCHEMA_AUTOMATON_H_

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "grammar/grammar.h"
#include "grammar/support/status.h"

namespace sieve::jsonschema {

class CpDfa {
 public:
  struct Edge {
    char32_t lo;
    char32_t hi;
    int32_t to;
  };

  int32_t AddState(bool accepting);
  // Edges may be added in any order; Normalize() sorts them (they must not overlap).
  void AddEdge(int32_t from, char32_t lo, char32_t hi, int32_t to) {
    out_[from].push_back({lo, hi, to});
  }
  void Normalize();
  void set_accepting(int32_t s, bool a) { accept_[s] = a; }

  int32_t num_states() const { return static_cast<int32_t>(out_.size()); }
  bool accepting(int32_t s) const { return accept_[s] != 0; }
  const std::vector<Edge>& edges(int32_t s) const { return out_[s]; }
  int32_t Step(int32_t s, char32_t c) const;
  // Membership of a UTF-8 string (false for ill-formed UTF-8).
  bool Accepts(std::string_view utf8) const;
  size_t num_edges() const;

 private:
  std::vector<std::vector<Edge>> out_;
  std::vector<uint8_t> accept_;
};

// The empty language, and the language of every string.
CpDfa EmptyDfa();
CpDfa AnyStringDfa();
// A finite set of UTF-8 strings (a trie).
CpDfa LiteralSetDfa(const std::vector<std::string>& strings);

// With `markers` (RegexOptions::boundary_markers), the listed empty expressions are word
// boundaries \b / \B: the automaton accepts the strings the expression matches with every
// boundary true where it stands, in ECMA-262's sense without the i flag (exactly one / neither or
// both of the code points around it a word character [A-Za-z0-9_]; the ends of the string count
// as non-word characters).
// How DfaFromExpr reads rule references (without it they are kUnsupported): a rule for which
// `automaton` gives an automaton is spliced in as that automaton; any other rule's body is read in
// place, except that a rule with a lookahead assertion, or one reached again inside its own body
// (not a regular language), is kUnsupported. `read`, when set, receives each rule read in place.
// A rule read in place counts as kRuleReadDepth levels of the construction's depth bound (its
// recursion runs through two frames per read, so long chains of rules stop early).
struct DfaRuleRefs {
  std::function<Result<const CpDfa*>(RuleId)> automaton;  // null result: read the body
  std::vector<RuleId>* read = nullptr;
};
inline constexpr int kRuleReadDepth = 4;

Result<CpDfa> DfaFromExpr(const Grammar& g, ExprId e, int32_t max_states,
                          const std::vector<std::pair<ExprId, char32_t>>* markers = nullptr,
                          const DfaRuleRefs* refs = nullptr);
Result<CpDfa> Intersect(const CpDfa& a, const CpDfa& b, int32_t max_states);
Result<CpDfa> Union(const CpDfa& a, const CpDfa& b, int32_t max_states);
CpDfa Complement(const CpDfa& a);
// Strings of a with min <= length <= max code points (max < 0: no upper bound).
Result<CpDfa> BoundLength(const CpDfa& a, int64_t min, int64_t max, int32_t max_states);
// Removes states that cannot reach an accepting state, then merges equivalent states.
CpDfa Minimize(const CpDfa& a);
bool IsEmptyLanguage(const CpDfa& a);
// Shortest and longest accepted length in code points (*max = -1 when unbounded); false when the
// language is empty.
bool LengthRange(const CpDfa& a, int64_t* min, int64_t* max);

}  // namespace sieve::jsonschema

#endif  // SIEVE_GRAMMAR_JSON_SCHEMA_AUTOMATON_H_
