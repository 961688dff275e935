// Expression -> NFA: the Thompson construction over one rule body of the Grammar IR.
//
// Each expression is built from an entry state and returns its exit state. The construction never
// adds an edge into an entry state it was given, and every loop gets a fresh head state, so
// fragments can share entry states (a choice builds all alternatives from one state) without
// letting one alternative's loop re-enter another.
//
// Character classes become UTF-8 byte-range sequences (support/utf8.h) that share their common
// suffixes (one state per distinct tail, as RE2 does); literal bytes become chains; a rule
// reference becomes one call edge.
//
// Repetition x{m,n}: small repetitions are unrolled (m copies, then n-m optional copies, or a loop
// for n = infinity). A repetition whose unrolled size would exceed the limits in NfaBuildOptions is
// not unrolled: the builder asks `repeat_rule` for a rule that matches it (the PDA compiler
// synthesises a counted rule, see pda.h) and emits one call edge. The decision is a pure function
// of the expression (UsesCounter), so callers can predict it.
//
// Recursion follows expression nesting, which front ends bound (EbnfOptions::max_nesting_depth);
// deeper nesting than NfaBuildOptions::max_depth is a kLimit error, never a stack overflow.
#ifndef SIEVE_GRAMMAR_FSM_BUILDER_H_
#define SIEVE_GRAMMAR_FSM_BUILDER_H_

#include <cstdint>
#include <functional>
#include <unordered_map>
#include <utility>
#include <vector>

#include "grammar/fsm.h"
#include "grammar/grammar.h"
#include "grammar/support/status.h"

namespace sieve {

struct NfaBuildOptions {
  // A repetition is unrolled only if it needs at most this many copies of its body (n, or m when
  // unbounded) ...
  int32_t max_unroll_copies = 32;
  // ... and copies x estimated body size (NFA states) stays within this.
  int64_t max_unroll_weight = 2048;
  // ... or, for a body that is one ASCII character class, at most this many copies.
  int32_t max_unroll_byte_class_copies = 63;
  int64_t max_nfa_states = int64_t{1} << 22;
  int max_depth = 1096;  // as CompileOptions::max_expr_depth
};

// Whether the item of repetition `e` is in tail position when `e` is: x? (x | "") and x{1}.
inline bool TailChild(const Expr& e) { return e.max == 1 && e.min <= 1; }

class NfaBuilder {
 public:
  // Returns the rule matching repetition expression `repeat` (a kRepeat that UsesCounter()).
  using RepeatRuleFn = std::function<Result<RuleId>(ExprId repeat)>;

  NfaBuilder(const Grammar& g, const NfaBuildOptions& opts, RepeatRuleFn repeat_rule);

  // Whether a rule referenced in tail position is absorbed (see Build).
  using AbsorbFn = std::function<bool(RuleId)>;

  // The NFA of expression `body` (a rule body, or the child of a repetition). A reference in tail
  // position (nothing of the body can follow it) to a rule for which `absorb` says yes is not a
  // call: that rule's body is built into this NFA once, entered by an epsilon edge, and ends
  // where the body ends (the rule's own tail references absorbed the same way). Tail positions:
  // the body itself, the last item of a tail sequence, every alternative of a tail choice, the
  // item of a tail x? or x{1} (TailChild); never inside another repetition. `self`: the rule whose body this is; when `absorb` says yes for it, a
  // tail reference to it loops back to the start (`r ::= "a" r | ""` is a loop, not a call per
  // iteration that the matcher's stack would have to hold).
  Result<Nfa> Build(ExprId body, const AbsorbFn& absorb = nullptr, RuleId self = -1);

  // Whether kRepeat `repeat` is compiled as a counted rule rather than unrolled.
  bool UsesCounter(ExprId repeat);

 private:
  Result<int32_t> BuildExpr(ExprId id, int32_t from, int depth, bool tail);
  Result<int32_t> BuildRepeat(ExprId id, int32_t from, int depth, bool tail);
  int64_t Weight(ExprId id, int depth);
  // The state reading `range` into `next`, shared within one character class (see BuildExpr).
  int32_t SuffixState(std::pair<uint8_t, uint8_t> range, int32_t next);

  const Grammar& g_;
  NfaBuildOptions opts_;
  RepeatRuleFn repeat_rule_;
  std::vector<int64_t> weight_;  // memo, -1 = unknown
  Nfa nfa_;
  AbsorbFn absorb_;
  std::unordered_map<RuleId, int32_t> fragments_;      // absorbed rule -> its entry state
  std::vector<std::pair<RuleId, int32_t>> pending_;  // absorbed, body not built yet
  struct Suffix {
    uint8_t lo, hi;
    int32_t next;
    int32_t state;
  };
  std::vector<Suffix> suffixes_;  // of the character class being built
};

}  // namespace sieve

#endif  // SIEVE_GRAMMAR_FSM_BUILDER_H_
