// SetSimulator: the PDA simulation behind the mask-cache builder (mask_builder.h), as a lazily
// built DFA over interned stack sets.
//
// The builder simulates tokens from one frame whose stack below is unknown: the "bottom". Stacks
// here are PdaStepper stacks (pda_stepper.h) whose chain of caller frames ends in kBottom instead
// of the real caller; frames are hash-consed into builder-local node ids. A closed set of such
// stacks is interned once and gets an id; reading byte b from set X (step every stack, then close)
// gives a Trans that is computed on first use and looked up afterwards. Most trie nodes of the
// builder's walk are therefore one table lookup.
//
// A Trans reports: whether some stack read the byte ("alive": the token may end here), the closed
// set of what did (-1 when empty), the bottom frame's pops in that closure (the bottom's rule ended
// and the rest of the token must be read below it), and, per mode:
//  - kRelaxed: the bottom frame belongs to a counted rule (a byte loop) whose counter is unknown.
//    Its guards are deferred: every iteration is allowed and counted in the frame's counter field
//    (k, relative to the unknown start), pops are reported with their k, and `kmin` is the fewest
//    iterations among the stacks that read the byte. Sets are stored with the count subtracted
//    (reported as the transition's dk), so a loop revisits the same set: all counts are relative
//    to the set they were read from, and the caller keeps the running total. The caller applies
//    c + k <= max and min <= c + k at run time.
//  - kDelegating: calls made by the bottom frame are not pushed; they are reported as Delegations
//    (callee start, return state) and the builder classifies the callee separately. An empty match
//    of the callee still returns into the bottom frame right away, as the real closure would.
//  - kExact: plain simulation, every guard applied (frames above the bottom have known counters).
// Everything else mirrors PdaStepper::Close exactly: counter guards, the "fresh" frames rule (a
// frame pushed and popped in one closure never re-enters a loop head), visited-set revisits.
//
// Not thread-safe; one per builder. Everything grows monotonically and is shared by every state the
// builder classifies (sets mean the same in every walk).
#ifndef SIEVE_GRAMMAR_MASK_SIM_H_
#define SIEVE_GRAMMAR_MASK_SIM_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "grammar/pda.h"

namespace sieve {

class SetSimulator {
 public:
  static constexpr uint32_t kBottom = 0xFFFFFFFEu;  // parent of the bottom frame
  enum Mode : uint8_t { kExact = 0, kRelaxed = 1, kDelegating = 2 };

  struct SimStack {
    int32_t state;
    int32_t counter;
    uint32_t parent;
    bool operator==(const SimStack& o) const {
      return state == o.state && counter == o.counter && parent == o.parent;
    }
    bool operator<(const SimStack& o) const {
      if (state != o.state) return state < o.state;
      if (counter != o.counter) return counter < o.counter;
      return parent < o.parent;
    }
  };
  struct Delegation {
    int32_t callee_start;
    int32_t ret;  // the bottom frame's state when the callee returns
    bool operator==(const Delegation&) const = default;
  };
  struct Trans {
    int32_t next;  // closed set, -1 when empty
    bool alive;
    uint16_t num_pops;
    uint32_t pops;  // into pops(): iteration counts (kRelaxed) or one 0
    int32_t kmin;   // kRelaxed only
    uint32_t num_calls;
    uint32_t calls;  // into calls(): kDelegating only
    int32_t dk;      // kRelaxed: iterations subtracted from the next set's counters
  };
  // The closure of a single frame (state, counter 0) over the bottom.
  struct Start {
    int32_t set;  // -1 when empty
    bool pops;    // the frame can return without reading
    uint32_t num_calls;
    uint32_t calls;
  };

  explicit SetSimulator(const CompiledGrammar& g);

  const Start& FrameStart(int32_t state, Mode mode);
  // FrameStart(state, kDelegating) for a frame of a counted rule whose walk reads fewer bytes than
  // the rule's max (a callee started below a trie node no deeper than that): its counter counts
  // only up to the rule's min, as if the max were unbounded, so the sets of a loop repeat (a
  // length-bounded string body called from a pattern's run is then one set per position in a
  // character, as an unbounded one). Exact for such walks: the max is never reached there.
  // Loose counters are stored negative (-1 - iterations begun).
  const Start& FrameStartLoose(int32_t state);
  // The transition of `set` on byte b: memoised, computed on first use.
  const Trans& Step(int32_t set, uint8_t b) {
    const Cell& c = rows_[static_cast<size_t>(set) * 256 + b];
    if (c.trans != kUncomputed) return trans_[c.trans & kIndexMask];
    return Transition(set, b);
  }
  // The common transition, in one load (once computed): some stack read b, no call was
  // delegated, and at most one pop. Then `*next` is the closed set (-1 when empty), `*pops`
  // whether the bottom frame popped, and `*k` (0 or 1) the iterations it began: kmin, dk and the
  // pop's k alike (always 0 outside relaxed sets).
  bool StepPlain(int32_t set, uint8_t b, int32_t* next, bool* pops, int32_t* k) const {
    const Cell& c = rows_[static_cast<size_t>(set) * 256 + b];
    *next = c.next;
    *pops = (c.trans & kPopsBit) != 0;
    *k = (c.trans & kOneBit) != 0 ? 1 : 0;
    return c.trans != kUncomputed && (c.trans & kPlainBit) != 0;
  }
  // The bytes on which `set` steps to itself with no call delegated (and, with `no_pops`, no pop
  // either), in relaxed sets beginning one iteration each: a token made only of them is read in
  // full. Computed on first use.
  const uint64_t* LoopBytes(int32_t set, bool no_pops) {
    if (static_cast<size_t>(set) < loops_done_.size() && loops_done_[set]) {
      return loops_[set].data() + (no_pops ? 4 : 0);
    }
    return ComputeLoopBytes(set, no_pops);
  }
  bool Computed(int32_t set, uint8_t b) const {
    return rows_[static_cast<size_t>(set) * 256 + b].trans != kUncomputed;
  }
  // Computed, and no stack read b.
  bool Dead(int32_t set, uint8_t b) const {
    return rows_[static_cast<size_t>(set) * 256 + b].trans == 0;
  }
  // pops() offset of a single pop with k = 0.
  static constexpr uint32_t kOnePop = 0;
  // Bytes some stack of `set` can read.
  bool CanRead(int32_t set, uint8_t b) const { return sets_[set].first[b >> 6] >> (b & 63) & 1; }
  void FirstBytes(int32_t set, uint64_t out[4]) const {
    for (int w = 0; w < 4; ++w) out[w] = set < 0 ? 0 : sets_[set].first[w];
  }
  const int32_t* pops(uint32_t offset) const { return pop_pool_.data() + offset; }
  const Delegation* calls(uint32_t offset) const { return call_pool_.data() + offset; }
  int32_t num_sets() const { return static_cast<int32_t>(sets_.size()); }

 private:
  struct SimNode {
    int32_t state;
    int32_t counter;
    uint32_t parent;
  };
  struct SetInfo {
    uint32_t begin;
    uint32_t size;
    Mode mode;
    uint64_t first[4];
  };
  // One memoised transition: the next set and an index into trans_, flagged when plain.
  struct Cell {
    int32_t next;
    uint32_t trans;
  };
  static constexpr uint32_t kUncomputed = 0xFFFFFFFFu;
  static constexpr uint32_t kPlainBit = 0x40000000u;
  static constexpr uint32_t kPopsBit = 0x20000000u;
  static constexpr uint32_t kOneBit = 0x10000000u;
  static constexpr uint32_t kIndexMask = 0x0FFFFFFFu;
  struct Item {
    SimStack stack;
    uint32_t fresh;
  };

  const Trans& Transition(int32_t set, uint8_t b);
  Start CloseStart(int32_t state, int32_t counter, Mode mode);
  // The counter guards of CompiledGrammar (CanBeginIteration, CanReadBytes, CanAccept), also for
  // loose counters (FrameStartLoose).
  bool BeginIteration(int32_t s, int32_t c, int32_t* next) const {
    if (c >= 0) return g_.CanBeginIteration(s, c, next);
    const bool more = g_.loop_head(s) && -1 - c < g_.rule(g_.rule_of(s)).min;
    *next = more ? c - 1 : c;
    return true;
  }
  bool ReadsBytes(int32_t s, int32_t c) const {
    return c >= 0 ? g_.CanReadBytes(s, c) : (g_.flags(s) & CompiledGrammar::kHasBytes) != 0;
  }
  bool Accepts(int32_t s, int32_t c) const {
    if (c >= 0) return g_.CanAccept(s, c);
    const uint8_t f = g_.flags(s);
    if (!(f & CompiledGrammar::kAccepting)) return false;
    return !(f & CompiledGrammar::kLoopHead) || -1 - c >= g_.rule(g_.rule_of(s)).min;
  }
  uint32_t Intern(int32_t state, int32_t counter, uint32_t parent);
  int32_t InternSet(const std::vector<SimStack>& stacks, Mode mode);
  const uint64_t* ComputeLoopBytes(int32_t set, bool no_pops);
  // Closes `raw` into closed_, pops into pop_ks_, delegations into calls_.
  void Close(const SimStack* raw, size_t n, Mode mode);
  void Visit(const SimStack& s, uint32_t fresh);
  int32_t BottomIterations(const SimStack& s) const;
  // Appends pop_ks_ / calls_ to the pools.
  uint32_t SavePops();
  uint32_t SaveCalls();

  const CompiledGrammar& g_;
  std::vector<SimNode> nodes_;
  std::vector<uint32_t> table_;  // node hash table: open addressing, power of two
  std::vector<SimStack> set_stacks_;
  std::vector<SetInfo> sets_;
  std::vector<uint64_t> set_hashes_;
  std::vector<int32_t> set_table_;              // open addressing, power of two, -1 empty
  std::vector<Cell> rows_;                      // 256 per set
  std::vector<std::array<uint64_t, 8>> loops_;  // per set: loop bytes (any, no pops)
  std::vector<uint8_t> loops_done_;
  std::vector<Trans> trans_;  // trans_[0]: nothing read the byte
  std::vector<int32_t> pop_pool_;
  std::vector<Delegation> call_pool_;
  std::vector<Start> starts_[3];     // per mode, per state; set == -2: not computed
  std::vector<Start> loose_starts_;  // FrameStartLoose, per state, likewise
  std::vector<uint8_t> start_pops_;  // per state: an exact start frame can return at once
  // Closure scratch.
  std::vector<Item> work_;
  std::vector<Item> visited_;
  std::vector<int32_t> pop_ks_;
  std::vector<Delegation> calls_;
  std::vector<SimStack> raw_;
  std::vector<SimStack> closed_;
  // A transition depends on the byte only through the stacks it leaves before the closure (raw_):
  // the bytes of one character class lead to the same cell. The last few computed, per set.
  struct RecentRaw {
    int32_t set = -1;
    std::vector<SimStack> raw;
    Cell cell{};
  };
  static constexpr size_t kRecentRaw = 8;
  std::array<RecentRaw, kRecentRaw> recent_raw_;
  size_t recent_next_ = 0;
};

}  // namespace sieve

#endif  // SIEVE_GRAMMAR_MASK_SIM_H_
