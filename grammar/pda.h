// The pushdown automaton: every rule's minimal DFA laid out in one global state space, plus the
// call edges between them. CompileGrammar() builds it from a Grammar; the matcher (matcher.h) runs
// it.
//
// States. Global state ids are dense in [0, num_states()); each rule owns a contiguous block, its
// start state first. Per state: sorted, disjoint byte-range edges (flat arrays + offsets; states
// with many edges also get a 256-entry next-state row), call edges (callee rule, callee start,
// return state), and flags. A state is accepting when the rule may end (return to its caller, or
// end the input for the root rule) there.
//
// Runtime model. A stack is a list of frames (state, counter); the top frame reads bytes with the
// byte edges of its state. A call edge at state s pushes a frame (callee start, 0) on top of the
// caller's frame, which moves to the edge's return state right away; when the top frame is
// accepting it may pop, which resumes the caller at that return state. Several stacks are alive at
// once when the grammar is ambiguous (the matcher keeps a set).
//
// Counted repetition. x{m,n} with a bound too large to unroll (fsm_builder.h) becomes a synthesised
// rule whose frames carry an iteration counter c, starting at 0. Its start state is its only
// accepting state and its loop head: every edge leaving the loop head begins one iteration and is
// allowed only while c < n (always when n is unbounded), setting c to c + 1 (saturating at m when n
// is unbounded, so frames that behave the same are equal); the loop head accepts only when c >= m.
// Two shapes:
//  - byte loop: when x compiles to a call-free, prefix-free automaton (a character class, a
//    literal, a choice of those...), x's states are inlined and each completed match returns to the
//    loop head by a byte edge. For a character class one iteration is one code point.
//  - call loop: otherwise x becomes a rule (or is one, for x = a rule reference) and the loop head
//    has a single call edge to it that returns to the loop head; the counter is bumped on the
//    caller's frame when the call is made. If x can match the empty string, m is lowered to 0
//    (x{m,n} = x{0,n} then) and the matcher never counts an empty iteration, so a closure never
//    enumerates counters.
// Either way the automaton has O(|x|) states, independent of m and n, and the per-byte cost of a
// step does not depend on the bounds.
//
// Tail calls. A rule referenced only as the last thing other rules read, all of which end up in one
// automaton, is built into that automaton rather than called (CompileOptions::absorb_tail_calls,
// see pda.cc): a right-linear chain of rules (one per state of a pattern automaton, the rest of an
// object's members) becomes one automaton, so the matcher pushes no frame per character and the
// mask cache sees the chain's states side by side. Absorbed rules keep their RuleInfo, unlaid
// (start == kNoState). A rule's tail references to itself (`r ::= "a" r | ""`, also through the
// chain: `r ::= "a" s?`, `s ::= "b" r`) loop back to its start instead of calling it, so a loop
// written as right recursion never grows the matcher's stack. Tail positions include the item of
// x? and x{1} (x? is x | "").
//
// Compile-time guarantees (what the matcher relies on):
//  - every rule's DFA is trimmed: every state can reach an accepting state, calls only go to rules
//    that match at least one string, and the root matches at least one string (else an error);
//  - no left recursion: no rule can reach a call to itself without reading a byte (else
//    kUnsupported; Simplify() eliminates left recursion first), so an epsilon closure pushes at
//    most num_rules() frames and always terminates;
//  - limits: grammar size, NFA/DFA states per rule and in total (kLimit with the option to raise).
// A CompiledGrammar is immutable after construction and safe to share across threads.
#ifndef SIEVE_GRAMMAR_PDA_H_
#define SIEVE_GRAMMAR_PDA_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "grammar/fsm.h"
#include "grammar/grammar.h"
#include "grammar/support/status.h"

namespace sieve {

struct CompileOptions {
  // Bounded repetition: unrolled when it needs at most this many copies of its body and the copies
  // stay within the weight (estimated NFA states); otherwise a counted rule.
  int32_t max_unroll_copies = 32;
  int64_t max_unroll_weight = 2048;
  // A repetition of one ASCII character class (a hostname label's [-0-9A-Za-z]{0,61}) is unrolled
  // up to this many copies: a run of single-byte states lets the mask cache accept whole subtrees
  // of that class (bounded runs, mask_builder.h), which a counted rule called from the run does
  // not (k8s_ingress's mask build: 2,280M -> 1,136M instructions). At most 2 states per copy.
  // 63, a DNS label's length: JSON whitespace runs (JsonSchemaOptions::max_whitespace_run, 64)
  // stay counters, not 64 copies of [ \t\n\r] at every separator (5x the automaton).
  int32_t max_unroll_byte_class_copies = 63;
  // Limits; exceeding one is a kLimit error naming the option.
  size_t max_grammar_exprs = size_t{1} << 24;
  int64_t max_nfa_states = int64_t{1} << 22;  // per rule
  int32_t max_rule_states = 1 << 18;          // DFA states per rule, before minimisation
  int64_t max_states = int64_t{1} << 22;      // total states after minimisation
  // NFA states held by one rule's subset construction over all its DFA states (4 bytes each).
  int64_t max_subset_states = int64_t{1} << 25;
  int max_expr_depth = 1096;  // simplify's 1000 + what inlining adds (stack bound: SECURITY.md)
  // States with more byte edges than this get a 256-entry next-state row, within the byte budget.
  int32_t dense_row_min_edges = 4;
  size_t max_dense_row_bytes = size_t{16} << 20;
  // Rule lookahead assertions (`rule ::= body (= la)`) are not enforced by the automaton. By
  // default each must be implied by the grammar (lookahead_check.h: then it removes nothing and
  // the automaton is exact), else the grammar is kUnsupported (never a silently looser grammar);
  // with this set they are ignored as hints unchecked, XGrammar's convention (the writer asserts
  // the grammar already implies them).
  bool ignore_lookahead = false;
  // Build rules referenced only in tail position into their referrer's automaton instead of
  // calling them (see pda.cc, "Tail-call absorption"). Off: one automaton per rule, as written.
  bool absorb_tail_calls = true;
  // With absorb_tail_calls: whether the rule named `rule` may be built into the automaton of the
  // rule named `owner` (empty: always); a refused rule keeps an automaton of its own.
  // JsonSchemaValidator refuses what would lose a rule's schema location.
  std::function<bool(const std::string& rule, const std::string& owner)> absorb_filter;
  // Wall-time budget (limits.h), polled while rules are built. Default: none.
  Deadline deadline;
};

// Counts for `sieve grammar check` and tests.
struct GrammarStats {
  int32_t grammar_rules = 0;      // rules in the input grammar
  int32_t synthesized_rules = 0;  // rules created for counted repetitions and their bodies
  int32_t counted_rules = 0;      // rules with an iteration counter
  int32_t live_rules = 0;         // rules laid out (reachable from the root, non-empty language)
  int64_t nfa_states = 0;         // sum over rules of Thompson NFA states
  int64_t dfa_states = 0;         // sum over rules after subset construction
  int64_t states = 0;             // final: after minimisation and trimming, reachable rules only
  int64_t byte_edges = 0;
  int64_t call_edges = 0;
  int64_t dense_rows = 0;
  size_t memory_bytes = 0;
  double compile_ms = 0;
};

class CompiledGrammar {
 public:
  struct ByteEdge {
    uint8_t lo;
    uint8_t hi;
    int32_t target;
  };
  struct CallEdge {
    RuleId callee;
    int32_t callee_start;
    int32_t return_state;
  };
  struct RuleInfo {
    std::string name;
    int32_t start = kNoState;  // kNoState when the rule is not laid out (unreachable or empty)
    int32_t first_state = 0;
    int32_t num_states = 0;
    bool synthesized = false;
    bool counted = false;   // frames carry an iteration counter
    bool nullable = false;  // matches the empty string
    uint8_t unique_items = kUniqueNone;  // Rule::unique_items: array items / object keys checked
    int32_t min = 0;        // counted rules: iterations, max == kUnbounded for no upper bound
    int32_t max = 0;
  };
  enum StateFlags : uint8_t {
    kAccepting = 1 << 0,
    kLoopHead = 1 << 1,
    kHasBytes = 1 << 2,
    kHasCalls = 1 << 3,
    // Reads bytes, not accepting, no calls: its epsilon closure is the state itself.
    kPlain = 1 << 4,
  };

  // ---- states ----
  int32_t num_states() const { return static_cast<int32_t>(flags_.size()); }
  int32_t root_start() const { return root_start_; }
  RuleId root_rule() const { return root_rule_; }
  uint8_t flags(int32_t s) const { return flags_[s]; }
  bool accepting(int32_t s) const { return flags_[s] & kAccepting; }
  bool loop_head(int32_t s) const { return flags_[s] & kLoopHead; }
  RuleId rule_of(int32_t s) const { return state_rule_[s]; }
  std::span<const ByteEdge> byte_edges(int32_t s) const {
    return {byte_edges_.data() + byte_begin_[s], byte_begin_[s + 1] - byte_begin_[s]};
  }
  std::span<const CallEdge> call_edges(int32_t s) const {
    return {call_edges_.data() + call_begin_[s], call_begin_[s + 1] - call_begin_[s]};
  }
  // The target of the byte edge reading `b` from `s` within s's rule, or kNoState. Counter guards
  // are not applied here (see CanBeginIteration).
  int32_t Step(int32_t s, uint8_t b) const {
    const int32_t row = dense_row_[s];
    if (row >= 0) return dense_[static_cast<size_t>(row) * 256 + b];
    const ByteEdge* e = byte_edges_.data() + byte_begin_[s];
    const ByteEdge* end = byte_edges_.data() + byte_begin_[s + 1];
    for (; e != end; ++e) {
      if (b < e->lo) return kNoState;
      if (b <= e->hi) return e->target;
    }
    return kNoState;
  }

  // ---- counters (only loop heads use them) ----
  // For a frame at loop head `s` with counter c: whether an edge leaving s may be taken, and the
  // counter after it. Non-loop-head states always allow and keep c.
  bool CanBeginIteration(int32_t s, int32_t c, int32_t* next) const {
    if (!(flags_[s] & kLoopHead)) {
      *next = c;
      return true;
    }
    const RuleInfo& r = rules_[state_rule_[s]];
    if (r.max != kUnbounded) {
      if (c >= r.max) return false;
      *next = c + 1;
    } else {
      *next = c < r.min ? c + 1 : c;
    }
    return true;
  }
  // Whether a frame at `s` with counter c may end its rule here.
  bool CanAccept(int32_t s, int32_t c) const {
    const uint8_t f = flags_[s];
    if (!(f & kAccepting)) return false;
    return !(f & kLoopHead) || c >= rules_[state_rule_[s]].min;
  }
  // Whether a frame at `s` with counter c can read some byte (has byte edges, guard allows).
  bool CanReadBytes(int32_t s, int32_t c) const {
    const uint8_t f = flags_[s];
    if (!(f & kHasBytes)) return false;
    if (!(f & kLoopHead)) return true;
    const RuleInfo& r = rules_[state_rule_[s]];
    return r.max == kUnbounded || c < r.max;
  }

  // ---- rules ----
  // Whether some non-empty match of rule r starts with byte b (a superset when counters would
  // forbid it). Lets a closure that knows the next byte skip calls that cannot read it.
  bool CanStartWith(RuleId r, uint8_t b) const {
    return first_bytes_[static_cast<size_t>(r) * 4 + (b >> 6)] >> (b & 63) & 1;
  }
  // The same as a 256-bit set (4 words).
  const uint64_t* StartBytes(RuleId r) const {
    return first_bytes_.data() + static_cast<size_t>(r) * 4;
  }
  // Whether byte b may be read right after a match of rule r ends, in some context (FOLLOW set, a
  // superset). When the next byte cannot follow r, popping r's frame is pointless.
  bool CanFollow(RuleId r, uint8_t b) const {
    return follow_bytes_[static_cast<size_t>(r) * 4 + (b >> 6)] >> (b & 63) & 1;
  }
  // The same as a 256-bit set (4 words).
  const uint64_t* FollowBytes(RuleId r) const {
    return follow_bytes_.data() + static_cast<size_t>(r) * 4;
  }
  // An upper bound on the frames one epsilon closure can push on top of a stack (no left
  // recursion: a chain of pushes without reading a byte never repeats a rule).
  int32_t max_closure_pushes() const { return max_closure_pushes_; }
  size_t num_rules() const { return rules_.size(); }
  const RuleInfo& rule(RuleId r) const { return rules_[r]; }
  // Whether some laid-out rule is a unique-items array (the matcher then runs its item checks).
  bool HasUniqueItems() const {
    for (const RuleInfo& r : rules_) {
      if (r.unique_items && r.start != kNoState) return true;
    }
    return false;
  }
  RuleId FindRule(std::string_view name) const;

  const GrammarStats& stats() const { return stats_; }
  size_t MemorySize() const;
  // Multi-line listing of rules and states, for tests and `sieve grammar check --verbose`.
  std::string DebugString() const;
  // One line: "rules 12 (+3 synthesized, 2 counted), states 84 (dfa 120, nfa 301), ...".
  std::string StatsString() const;

 private:
  friend class PdaCompiler;
  // Grammar images (pda_serialize.cc, declared in image_io.h).
  friend void WriteCompiledGrammar(const CompiledGrammar& g, class ImageWriter* w);
  friend Result<std::shared_ptr<const CompiledGrammar>> ReadCompiledGrammar(class ImageReader* r);
  CompiledGrammar() = default;  // only CompileGrammar() and ReadCompiledGrammar() make one

  std::vector<uint8_t> flags_;
  std::vector<RuleId> state_rule_;
  std::vector<uint32_t> byte_begin_;  // num_states + 1
  std::vector<ByteEdge> byte_edges_;
  std::vector<uint32_t> call_begin_;  // num_states + 1
  std::vector<CallEdge> call_edges_;
  std::vector<int32_t> dense_row_;  // per state: row index into dense_, or -1
  std::vector<int32_t> dense_;      // 256 next states per row
  std::vector<RuleInfo> rules_;
  std::vector<uint64_t> first_bytes_;   // 4 words per rule
  std::vector<uint64_t> follow_bytes_;  // 4 words per rule
  int32_t max_closure_pushes_ = 1;
  RuleId root_rule_ = -1;
  int32_t root_start_ = kNoState;
  GrammarStats stats_;
};

// Compiles a grammar (best after Simplify()) into a CompiledGrammar. The grammar must validate.
Result<std::shared_ptr<const CompiledGrammar>> CompileGrammar(
    const Grammar& g, const CompileOptions& opts = CompileOptions());

// CompileGrammar for a grammar known to pass Grammar::Validate() (Simplify() validates what it
// returns), which CompileGrammar would check a second time. An unvalidated grammar here is a bug.
Result<std::shared_ptr<const CompiledGrammar>> CompileValidatedGrammar(
    const Grammar& g, const CompileOptions& opts = CompileOptions());

}  // namespace sieve

#endif  // SIEVE_GRAMMAR_PDA_H_
