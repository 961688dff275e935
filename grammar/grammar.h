// Grammar IR: the one representation every front end (EBNF/GBNF text, JSON Schema, regex) produces and
// the compiler consumes.
//
// A grammar is a list of rules; each rule has a body expression and an optional lookahead assertion
// (XGrammar's `rule ::= body (= lookahead)`: the text after the rule must start with a match of it; it is
// never consumed, and compiled only where the grammar implies it: lookahead_check.h). Expressions live in one flat arena
// (`exprs_`), children are index lists into `children_`, literal bytes into `bytes_`, and character-class
// ranges into `ranges_`: cheap to copy, hash and print, no pointer chasing.
//
// Invariants (checked by Validate()):
//  - every ExprId refers to an existing expression; the expression graph inside a rule is a tree
//    (an expression has one parent), rules refer to each other only through kRuleRef;
//  - kBytes holds 1+ bytes of valid UTF-8 (front ends reject invalid UTF-8 with a position);
//  - kCharClass holds 1+ sorted, non-overlapping, non-adjacent inclusive code-point ranges (after
//    negation is applied by the builder: `negated` is kept for printing only), surrogates excluded;
//  - kRepeat: 0 <= min <= max, max == kUnbounded for `*`/`+`/`{m,}`;
//  - kSequence / kChoice have 2+ children after simplification (1+ while building).
#ifndef SIEVE_GRAMMAR_GRAMMAR_H_
#define SIEVE_GRAMMAR_GRAMMAR_H_

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "grammar/support/status.h"

namespace sieve {

using ExprId = int32_t;
using RuleId = int32_t;
inline constexpr ExprId kNoExpr = -1;
inline constexpr int32_t kUnbounded = -1;

enum class ExprKind : uint8_t {
  kEmpty,      // matches ""
  kBytes,      // a literal byte string
  kCharClass,  // one code point from a set of ranges (UTF-8 encoded in the input)
  kRuleRef,    // a reference to another rule
  kSequence,   // children in order
  kChoice,     // any one child
  kRepeat,     // child repeated min..max times
};

struct CodepointRange {
  char32_t lo;
  char32_t hi;  // inclusive
  bool operator==(const CodepointRange&) const = default;
};

struct Expr {
  ExprKind kind = ExprKind::kEmpty;
  bool negated = false;      // kCharClass: written as [^...] (ranges are already the complement)
  int32_t min = 0;           // kRepeat
  int32_t max = 0;           // kRepeat, kUnbounded for no upper bound
  RuleId rule = -1;          // kRuleRef
  uint32_t begin = 0;        // kSequence/kChoice/kRepeat: into children_; kBytes: into bytes_;
                             // kCharClass: into ranges_
  uint32_t size = 0;         // number of children / bytes / ranges
  int32_t source_offset = -1;  // byte offset in the source text, for errors; -1 if synthetic
};

// Rule::unique_items.
inline constexpr uint8_t kUniqueNone = 0;
inline constexpr uint8_t kUniqueCheck = 1;      // array items, or object keys, pairwise distinct
inline constexpr uint8_t kUniqueKeysLive = 2;   // object keys distinct, and every prefix live

struct Rule {
  std::string name;
  ExprId body = kNoExpr;
  ExprId lookahead = kNoExpr;  // optional lookahead assertion
  int32_t source_offset = -1;
  // A JSON array ("[" ... "]", its '[' the rule's first byte) whose items must be pairwise distinct
  // (JSON Schema `uniqueItems`), or a JSON object ("{" ... "}") whose keys must be (an object in
  // any order with too many properties for the grammar to track). No grammar can say this; the
  // matcher checks it when an item or key ends (unique_items.h). Such rules are never inlined,
  // merged with unflagged ones or absorbed. kUniqueKeysLive: an object whose key being written must
  // also stay completable to one not written yet (a closed object: after "name", `"na` may have
  // no other completion), so the matcher refuses such a prefix (unique_items.h).
  uint8_t unique_items = kUniqueNone;
};

class Grammar {
 public:
  // ---- building ----
  ExprId AddEmpty(int32_t offset = -1);
  ExprId AddBytes(std::string_view bytes, int32_t offset = -1);
  // `ranges` need not be sorted or disjoint; they are normalised. With `negate`, the complement over
  // [0, 0x10FFFF] minus surrogates is stored. An empty result is allowed here; Validate() rejects it.
  ExprId AddCharClass(std::vector<CodepointRange> ranges, bool negate, int32_t offset = -1);
  // The normalisation AddCharClass applies: drops ranges with lo > hi, clamps to U+10FFFF, removes
  // surrogates, sorts and merges overlapping/adjacent ranges, then complements when `negate`.
  static std::vector<CodepointRange> NormalizeRanges(std::vector<CodepointRange> ranges,
                                                     bool negate);
  ExprId AddRuleRef(RuleId rule, int32_t offset = -1);
  ExprId AddSequence(std::span<const ExprId> items, int32_t offset = -1);
  ExprId AddChoice(std::span<const ExprId> items, int32_t offset = -1);
  ExprId AddRepeat(ExprId item, int32_t min, int32_t max, int32_t offset = -1);

  // Declares a rule (body set later), returning its id; names are unique.
  RuleId AddRule(std::string name, int32_t offset = -1);
  void SetRuleBody(RuleId rule, ExprId body) { rules_[rule].body = body; }
  void SetRuleLookahead(RuleId rule, ExprId la) { rules_[rule].lookahead = la; }
  void SetRuleUniqueItems(RuleId rule, uint8_t kind) { rules_[rule].unique_items = kind; }
  RuleId FindRule(std::string_view name) const;  // -1 if absent
  void set_root(RuleId root) { root_ = root; }

  // ---- reading ----
  RuleId root() const { return root_; }
  size_t num_rules() const { return rules_.size(); }
  size_t num_exprs() const { return exprs_.size(); }
  const Rule& rule(RuleId id) const { return rules_[id]; }
  const Expr& expr(ExprId id) const { return exprs_[id]; }
  std::span<const ExprId> children(const Expr& e) const {
    return {children_.data() + e.begin, e.size};
  }
  std::string_view bytes(const Expr& e) const { return {bytes_.data() + e.begin, e.size}; }
  std::span<const CodepointRange> ranges(const Expr& e) const {
    return {ranges_.data() + e.begin, e.size};
  }

  // Checks the invariants above; errors carry the source offset of the offending expression.
  Status Validate() const;
  // Heap bytes owned.
  size_t MemorySize() const;
  // Structural equality: same root, rule names, bodies and lookaheads, compared as trees. Source
  // offsets, unused arena entries and the printing-only `negated` flag are ignored.
  bool Equals(const Grammar& other) const;

 private:
  std::vector<Rule> rules_;
  std::vector<Expr> exprs_;
  std::vector<ExprId> children_;
  std::string bytes_;
  std::vector<CodepointRange> ranges_;
  RuleId root_ = -1;
};

}  // namespace sieve

#endif  // SIEVE_GRAMMAR_GRAMMAR_H_
