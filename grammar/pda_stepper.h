// The byte-stepping core of the matcher: epsilon closure and bulk advance over sets of PDA stacks.
//
// A StackSet is "closed": it holds exactly the stacks whose top frame can read a byte (a state with
// byte edges whose counter guard allows another iteration), after every call has been expanded and
// every possible return taken, plus `can_end`: the root frame can end the input here. Every stack
// in a closed set can still reach the end of the input (the DFAs are trimmed, see pda.h), so a set
// is a valid prefix exactly when it is non-empty or can end.
//
// Closure (Close) is a worklist over stacks:
//  - a call edge pushes (callee start, 0) above the caller frame moved to the return state (the
//    caller's counter bumped when the caller is a loop head, see pda.h);
//  - an accepting frame (counter >= min at a loop head) pops: the caller resumes, or can_end is set
//    for the root frame;
//  - a visited set keyed by the stack makes nullable recursion terminate; the compiler rejects left
//    recursion, so pushes within one closure are bounded by the number of rules;
//  - each item carries how many frames on its stack were pushed during this closure; popping such a
//    "fresh" frame back into a loop head would be an empty iteration, which is never taken (the
//    compiler set min = 0 for nullable bodies), so counters never get enumerated;
//  - a push that would make a stack deeper than max_stack_depth is refused (the continuation is
//    rejected, never an overflow), as is a closure that grows past max_closure_items.
// A state that reads bytes, cannot accept and has no calls ("plain", the common case inside a
// rule) closes to itself; sets made only of those skip the worklist entirely.
//
// When the next byte is known (every byte of Advance but the last), the closure is pruned with the
// compile-time FIRST/FOLLOW byte sets (pda.h): calls into rules that cannot start with the byte are
// not expanded (a nullable one is skipped over to its return state), pops out of rules that the
// byte cannot follow are not taken, and only stacks that can read the byte are kept. The last byte
// of a token needs no closure at all when only acceptance is asked (every stack is completable),
// except near the depth limit.
//
// Advance steps a closed set through a byte string: per byte, each stack's top frame takes the byte
// edge (guarded by its counter), then the result is closed. Buffers are reused, so the common case
// (one stack, plain states) allocates nothing per byte. New frames go to the NodeScratch overlay;
// Commit() promotes what a set uses into the persistent pool and takes references on it.
#ifndef SIEVE_GRAMMAR_PDA_STEPPER_H_
#define SIEVE_GRAMMAR_PDA_STEPPER_H_

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "grammar/pda.h"
#include "grammar/stack_pool.h"

namespace sieve {

struct StackSet {
  std::vector<Stack> stacks;  // sorted, unique
  bool can_end = false;
  bool operator==(const StackSet&) const = default;
};

struct StepperLimits {
  uint32_t max_stack_depth = 1u << 16;
  size_t max_closure_items = size_t{1} << 20;
};

class PdaStepper {
 public:
  PdaStepper(const CompiledGrammar* grammar, StackPool* pool, const StepperLimits& limits);

  // Epsilon closure of `raw` into `out` (which must not alias `raw`). With a `lookahead` byte
  // (0..255), only stacks that can read that byte are kept, and calls into rules that cannot start
  // with it are not expanded (can_end is then meaningless): the set to step that byte from.
  void Close(std::span<const Stack> raw, StackSet* out, int lookahead = -1);
  // Feeds `bytes` to the closed set `from`. True when every byte was read by some stack and the
  // result is a valid prefix; then `out` (if not null; may alias `from`) receives the closed set.
  bool Advance(const StackSet& from, std::string_view bytes, StackSet* out);
  // The bytes some stack of `set` can read next, as a 256-bit set (bit b of word b >> 6).
  void NextBytes(const StackSet& set, uint64_t out[4]) const;

  // Makes `set` persistent: promotes the scratch nodes it uses and references its parents.
  void Commit(StackSet* set);
  // Adds / drops the references a persistent set holds.
  void Retain(const StackSet& set);
  void Release(const StackSet& set);
  void ResetScratch() { scratch_.Reset(); }

  const StackNode& node(NodeId id) const { return scratch_.node(id); }
  // Whether a limit refused something since the last ClearLimitFlag().
  bool limit_hit() const { return limit_hit_; }
  void ClearLimitFlag() { limit_hit_ = false; }
  // For checks layered on the stepper (unique_items.h) that refuse input at a limit of theirs.
  void NoteLimitHit() { limit_hit_ = true; }
  // The smallest stack depth (StackNode::depth) of a frame that a closure popped into since the
  // last reset: what was read below the stacks given. Frames deeper down cannot have changed any
  // result, which lets the mask cache reuse a check for every stack sharing the frames above.
  void ResetReadDepth() { min_read_depth_ = UINT32_MAX; }
  uint32_t min_read_depth() const { return min_read_depth_; }

 private:
  struct Item {
    Stack stack;
    uint32_t fresh;  // frames pushed during this closure
  };
  struct Slot {
    Stack key;
    uint32_t generation;
    uint32_t fresh;
  };
  static constexpr size_t kSmallClosure = 32;
  // Whether the closure of a stack at `state`, before reading `next`, is the stack itself: no
  // calls, and no useful pop (not accepting, or `next` cannot follow the rule). Holds inside string
  // bodies, counted or not, which is where most bytes go.
  bool ClosesToItself(int32_t state, uint8_t next) const {
    const uint8_t f = g_->flags(state);
    if (f & CompiledGrammar::kPlain) return true;
    if (f & CompiledGrammar::kHasCalls) return false;
    return !(f & CompiledGrammar::kAccepting) || !g_->CanFollow(g_->rule_of(state), next);
  }
  void Visit(const Stack& s, uint32_t fresh);
  void Insert(const Slot& v);
  NodeId Promote(NodeId id);

  const CompiledGrammar* g_;
  StackPool* pool_;
  StepperLimits limits_;
  NodeScratch scratch_;
  bool limit_hit_ = false;
  uint32_t min_read_depth_ = UINT32_MAX;
  // Closure scratch.
  std::vector<Item> work_;
  std::vector<Slot> small_;    // the visited set while it is small (linear scan)
  bool hashed_ = false;        // past kSmallClosure: visited_ holds the set
  std::vector<Slot> visited_;  // open addressing, power of two, stamped by generation_
  size_t visited_count_ = 0;
  uint32_t generation_ = 0;
  // Advance scratch.
  std::vector<Stack> raw_;
  StackSet set_;
  // Commit scratch.
  std::vector<NodeId> promoted_;
  std::vector<NodeId> chain_;
};

}  // namespace sieve

#endif  // SIEVE_GRAMMAR_PDA_STEPPER_H_
