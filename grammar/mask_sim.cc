// SetSimulator (see mask_sim.h): hash-consed frames, interned sets, memoised transitions.
#include "grammar/mask_sim.h"

#include <algorithm>
#include <cstring>
#include <limits>

#include "grammar/support/byte_set.h"

namespace sieve {
namespace {

constexpr uint32_t kEmptySlot = 0xFFFFFFFFu;

inline uint64_t HashSim(int32_t state, int32_t counter, uint32_t parent) {
  uint64_t h = (static_cast<uint64_t>(static_cast<uint32_t>(state)) << 32) ^
               (static_cast<uint64_t>(static_cast<uint32_t>(counter)) * 0x9e3779b97f4a7c15ull);
  h ^= static_cast<uint64_t>(parent) * 0xc2b2ae3d27d4eb4full;
  h ^= h >> 29;
  h *= 0xbf58476d1ce4e5b9ull;
  return h ^ (h >> 32);
}

}  // namespace

SetSimulator::SetSimulator(const CompiledGrammar& g) : g_(g), table_(1024, kEmptySlot) {
  set_table_.assign(1024, -1);
  trans_.push_back({-1, false, 0, 0, 0, 0, 0, 0});  // the dead transition
  pop_pool_.push_back(0);                           // kOnePop
  for (std::vector<Start>& v : starts_) v.assign(g.num_states(), {-2, false, 0, 0});
  loose_starts_.assign(g.num_states(), {-2, false, 0, 0});
  // Whether each rule start can return at once: delegating closures need it, and computing it
  // inside a closure would nest closures.
  start_pops_.assign(g.num_states(), 0);
  for (size_t r = 0; r < g.num_rules(); ++r) {
    const int32_t start = g.rule(static_cast<RuleId>(r)).start;
    if (start != kNoState) start_pops_[start] = FrameStart(start, kExact).pops;
  }
}

uint32_t SetSimulator::Intern(int32_t state, int32_t counter, uint32_t parent) {
  size_t mask = table_.size() - 1;
  size_t i = HashSim(state, counter, parent) & mask;
  for (;; i = (i + 1) & mask) {
    const uint32_t id = table_[i];
    if (id == kEmptySlot) break;
    const SimNode& n = nodes_[id];
    if (n.state == state && n.counter == counter && n.parent == parent) return id;
  }
  const auto id = static_cast<uint32_t>(nodes_.size());
  nodes_.push_back({state, counter, parent});
  if (2 * nodes_.size() > table_.size()) {
    table_.assign(table_.size() * 2, kEmptySlot);
    mask = table_.size() - 1;
    for (uint32_t k = 0; k < nodes_.size(); ++k) {
      const SimNode& n = nodes_[k];
      size_t j = HashSim(n.state, n.counter, n.parent) & mask;
      while (table_[j] != kEmptySlot) j = (j + 1) & mask;
      table_[j] = k;
    }
  } else {
    table_[i] = id;
  }
  return id;
}

int32_t SetSimulator::InternSet(const std::vector<SimStack>& stacks, Mode mode) {
  uint64_t h = 0x2545f4914f6cdd1dull * (static_cast<uint64_t>(mode) + 1);
  for (const SimStack& st : stacks) {
    h = (h * 0x100000001b3ull) ^ HashSim(st.state, st.counter, st.parent);
  }
  size_t mask = set_table_.size() - 1;
  size_t i = h & mask;
  for (;; i = (i + 1) & mask) {
    const int32_t id = set_table_[i];
    if (id < 0) break;
    const SetInfo& info = sets_[id];
    if (set_hashes_[id] == h && info.mode == mode && info.size == stacks.size() &&
        std::equal(stacks.begin(), stacks.end(), set_stacks_.begin() + info.begin)) {
      return id;
    }
  }
  const auto id = static_cast<int32_t>(sets_.size());
  SetInfo info{static_cast<uint32_t>(set_stacks_.size()),
               static_cast<uint32_t>(stacks.size()),
               mode,
               {0, 0, 0, 0}};
  // Cells start as {-1, kUncomputed}: all bytes 0xFF, so a memset (the element-wise fill of
  // resize(n, value) was 5% of a mask build).
  static_assert(sizeof(Cell) == 8 && kUncomputed == 0xFFFFFFFFu);
  const size_t old_rows = rows_.size();
  rows_.resize(old_rows + 256);
  std::memset(rows_.data() + old_rows, 0xFF, 256 * sizeof(Cell));
  for (const SimStack& st : stacks) {
    for (const CompiledGrammar::ByteEdge& e : g_.byte_edges(st.state)) {
      AddByteRange(info.first, e.lo, e.hi);
    }
  }
  sets_.push_back(info);
  set_hashes_.push_back(h);
  set_stacks_.insert(set_stacks_.end(), stacks.begin(), stacks.end());
  if (2 * sets_.size() > set_table_.size()) {
    set_table_.assign(set_table_.size() * 2, -1);
    mask = set_table_.size() - 1;
    for (int32_t k = 0; k < static_cast<int32_t>(sets_.size()); ++k) {
      size_t j = set_hashes_[k] & mask;
      while (set_table_[j] >= 0) j = (j + 1) & mask;
      set_table_[j] = k;
    }
  } else {
    set_table_[i] = id;
  }
  return id;
}

void SetSimulator::Visit(const SimStack& s, uint32_t fresh) {
  for (Item& v : visited_) {
    if (v.stack == s) {
      if (fresh < v.fresh) {  // fewer fresh frames allow strictly more pops: revisit
        v.fresh = fresh;
        work_.push_back({s, fresh});
      }
      return;
    }
  }
  visited_.push_back({s, fresh});
  work_.push_back({s, fresh});
}

void SetSimulator::Close(const SimStack* raw, size_t n, Mode mode) {
  closed_.clear();
  pop_ks_.clear();
  calls_.clear();
  bool all_plain = true;
  for (size_t i = 0; i < n && all_plain; ++i) {
    all_plain = (g_.flags(raw[i].state) & CompiledGrammar::kPlain) != 0;
  }
  if (all_plain) {  // reads bytes, no calls, cannot accept: closes to itself
    closed_.assign(raw, raw + n);
  } else {
    work_.clear();
    visited_.clear();
    for (size_t i = 0; i < n; ++i) Visit(raw[i], 0);
    while (!work_.empty()) {
      const Item it = work_.back();
      work_.pop_back();
      const SimStack s = it.stack;
      const uint8_t f = g_.flags(s.state);
      const bool bottom = s.parent == kBottom;
      const bool relaxed = mode == kRelaxed && bottom;
      if ((f & CompiledGrammar::kHasBytes) && (relaxed || ReadsBytes(s.state, s.counter))) {
        closed_.push_back(s);
      }
      if (f & CompiledGrammar::kHasCalls) {
        int32_t counter = s.counter;
        bool ok = true;
        if (relaxed) {
          if (f & CompiledGrammar::kLoopHead) ++counter;
        } else {
          ok = BeginIteration(s.state, s.counter, &counter);
        }
        const bool delegate =
            mode == kDelegating && bottom && !g_.rule(g_.rule_of(s.state)).counted;
        if (ok) {
          for (const CompiledGrammar::CallEdge& e : g_.call_edges(s.state)) {
            if (delegate) {
              calls_.push_back({e.callee_start, e.return_state});
              // An empty match of the callee returns at once (never into a loop head: that would
              // be an empty iteration).
              if (start_pops_[e.callee_start] && !g_.loop_head(e.return_state)) {
                Visit({e.return_state, counter, kBottom}, it.fresh);
              }
              continue;
            }
            const uint32_t caller = Intern(e.return_state, counter, s.parent);
            Visit({e.callee_start, 0, caller}, it.fresh + 1);
          }
        }
      }
      const bool accept =
          relaxed ? (f & CompiledGrammar::kAccepting) != 0 : Accepts(s.state, s.counter);
      if (!accept) continue;
      if (bottom) {
        if (std::find(pop_ks_.begin(), pop_ks_.end(), s.counter) == pop_ks_.end()) {
          pop_ks_.push_back(mode == kRelaxed ? s.counter : 0);
        }
        continue;
      }
      const SimNode caller = nodes_[s.parent];
      // Popping a frame pushed in this closure into a loop head = an empty iteration: skip.
      if (it.fresh == 0 || !g_.loop_head(caller.state)) {
        Visit({caller.state, caller.counter, caller.parent}, it.fresh > 0 ? it.fresh - 1 : 0);
      }
    }
  }
  if (closed_.size() > 1) {
    std::sort(closed_.begin(), closed_.end());
    closed_.erase(std::unique(closed_.begin(), closed_.end()), closed_.end());
  }
  std::sort(pop_ks_.begin(), pop_ks_.end());
  pop_ks_.erase(std::unique(pop_ks_.begin(), pop_ks_.end()), pop_ks_.end());
  if (calls_.size() > 1) {
    std::sort(calls_.begin(), calls_.end(), [](const Delegation& a, const Delegation& b) {
      return a.callee_start != b.callee_start ? a.callee_start < b.callee_start : a.ret < b.ret;
    });
    calls_.erase(std::unique(calls_.begin(), calls_.end()), calls_.end());
  }
}

int32_t SetSimulator::BottomIterations(const SimStack& s) const {
  if (s.parent == kBottom) return s.counter;
  uint32_t id = s.parent;
  while (nodes_[id].parent != kBottom) id = nodes_[id].parent;
  return nodes_[id].counter;
}

uint32_t SetSimulator::SavePops() {
  const auto offset = static_cast<uint32_t>(pop_pool_.size());
  pop_pool_.insert(pop_pool_.end(), pop_ks_.begin(), pop_ks_.end());
  return offset;
}

uint32_t SetSimulator::SaveCalls() {
  const auto offset = static_cast<uint32_t>(call_pool_.size());
  call_pool_.insert(call_pool_.end(), calls_.begin(), calls_.end());
  return offset;
}

const SetSimulator::Start& SetSimulator::FrameStart(int32_t state, Mode mode) {
  Start& memo = starts_[mode][state];
  if (memo.set == -2) memo = CloseStart(state, 0, mode);
  return memo;
}

const SetSimulator::Start& SetSimulator::FrameStartLoose(int32_t state) {
  Start& memo = loose_starts_[state];
  if (memo.set == -2) memo = CloseStart(state, -1, kDelegating);
  return memo;
}

SetSimulator::Start SetSimulator::CloseStart(int32_t state, int32_t counter, Mode mode) {
  const SimStack start{state, counter, kBottom};
  Close(&start, 1, mode);
  Start s;
  s.set = closed_.empty() ? -1 : InternSet(closed_, mode);
  s.pops = !pop_ks_.empty();
  s.num_calls = static_cast<uint32_t>(calls_.size());
  s.calls = SaveCalls();
  return s;
}

const SetSimulator::Trans& SetSimulator::Transition(int32_t set, uint8_t b) {
  const SetInfo info = sets_[set];
  raw_.clear();
  for (uint32_t k = info.begin; k < info.begin + info.size; ++k) {
    const SimStack st = set_stacks_[k];
    const int32_t next = g_.Step(st.state, b);
    if (next == kNoState) continue;
    int32_t counter = st.counter;
    if (info.mode == kRelaxed && st.parent == kBottom) {
      if (g_.loop_head(st.state)) ++counter;
    } else if (!BeginIteration(st.state, st.counter, &counter)) {
      continue;
    }
    raw_.push_back({next, counter, st.parent});
  }
  if (!raw_.empty()) {
    for (const RecentRaw& r : recent_raw_) {
      if (r.set == set && r.raw == raw_) {
        rows_[static_cast<size_t>(set) * 256 + b] = r.cell;
        return trans_[r.cell.trans & kIndexMask];
      }
    }
  }
  uint32_t index = 0;
  int32_t next = -1;
  uint32_t flags = 0;
  if (!raw_.empty()) {
    Trans t{-1, true, 0, 0, 0, 0, 0, 0};
    if (info.mode == kRelaxed) {
      t.kmin = std::numeric_limits<int32_t>::max();
      for (const SimStack& st : raw_) t.kmin = std::min(t.kmin, BottomIterations(st));
    }
    Close(raw_.data(), raw_.size(), info.mode);
    if (info.mode == kRelaxed && !closed_.empty()) {
      // Keep relaxed sets free of the iteration count: subtract the smallest (the set then
      // repeats every iteration, so loops hit the memo) and report it as dk.
      bool bottom_only = true;
      int32_t base = std::numeric_limits<int32_t>::max();
      for (const SimStack& st : closed_) {
        bottom_only = bottom_only && st.parent == kBottom;
        base = std::min(base, st.counter);
      }
      if (bottom_only) {
        for (SimStack& st : closed_) st.counter -= base;
        t.dk = base;
      }
    }
    if (!closed_.empty()) t.next = InternSet(closed_, info.mode);
    t.num_pops = static_cast<uint16_t>(pop_ks_.size());
    t.pops = SavePops();
    t.num_calls = static_cast<uint32_t>(calls_.size());
    t.calls = SaveCalls();
    index = static_cast<uint32_t>(trans_.size());
    trans_.push_back(t);
    next = t.next;
    // Plain: no delegated call, at most one pop, and for relaxed sets every count the walk needs
    // (kmin, the pop's k, dk) equal to 0 or 1 alike, so the cell alone carries them.
    bool plain = t.num_calls == 0;
    int32_t k = 0;
    if (info.mode == kRelaxed) {
      k = t.kmin;
      plain = plain && (k == 0 || k == 1) && (t.next < 0 || t.dk == k) &&
              (t.num_pops == 0 || (t.num_pops == 1 && pop_pool_[t.pops] == k));
    }
    if (plain) {
      flags = kPlainBit | (k == 1 ? kOneBit : 0);
      if (t.num_pops > 0) {
        flags |= kPopsBit;
        if (info.mode != kRelaxed) trans_.back().pops = kOnePop;  // the one pop, k = 0
      }
    }
  }
  // (Close may have added sets, and rows with them: the cell is looked up only now.)
  const Cell cell{next, index | flags};
  rows_[static_cast<size_t>(set) * 256 + b] = cell;
  if (!raw_.empty()) {
    RecentRaw& r = recent_raw_[recent_next_++ % kRecentRaw];
    r.set = set;
    r.raw = raw_;
    r.cell = cell;
  }
  return trans_[index];
}

const uint64_t* SetSimulator::ComputeLoopBytes(int32_t set, bool no_pops) {
  if (loops_.size() <= static_cast<size_t>(set)) {
    loops_.resize(sets_.size());
    loops_done_.resize(sets_.size(), 0);
  }
  if (!loops_done_[set]) {
    // A relaxed set loops only where each byte is one more iteration (k = 1), so a token made of
    // loop bytes begins exactly as many iterations as it has bytes.
    const bool relaxed = sets_[set].mode == kRelaxed;
    std::array<uint64_t, 8> m{};
    for (int b = 0; b < 256; ++b) {
      if (!CanRead(set, static_cast<uint8_t>(b))) continue;
      int32_t next;
      bool pops;
      int32_t k;
      if (!StepPlain(set, static_cast<uint8_t>(b), &next, &pops, &k)) {
        Step(set, static_cast<uint8_t>(b));
        if (!StepPlain(set, static_cast<uint8_t>(b), &next, &pops, &k)) continue;
      }
      if (next != set || k != (relaxed ? 1 : 0)) continue;
      m[b >> 6] |= uint64_t{1} << (b & 63);
      if (!pops) m[4 + (b >> 6)] |= uint64_t{1} << (b & 63);
    }
    if (loops_.size() <= static_cast<size_t>(set)) {  // Step may have added sets
      loops_.resize(sets_.size());
      loops_done_.resize(sets_.size(), 0);
    }
    loops_[set] = m;
    loops_done_[set] = 1;
  }
  return loops_[set].data() + (no_pops ? 4 : 0);
}

}  // namespace sieve
