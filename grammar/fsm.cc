// Determinisation, minimisation, trimming and byte loops for per-rule automata (see fsm.h).
//
// Subset construction keys a DFA state by its "important" NFA states only: those with a byte or
// call edge, and the accepting state. Two epsilon closures with the same important states behave
// the same, so keying this way merges them early and keeps the pre-minimisation count honest but
// small. The sets live back to back in one pool (SetTable); a DFA state's byte edges come from one
// sweep over its NFA edges ordered by first byte, cut at every range boundary, so each piece of
// [0, 255] is covered entirely or not at all by each active edge.
//
// Minimisation first looks for a cycle among the reachable states. Without one (a literal, a set
// of enum alternatives, any finite language) it classifies states bottom-up in one depth-first
// pass (AcyclicClasses): a state's class is its flags plus its edges' target classes, looked up in
// a hash table. With one, it runs Hopcroft's refinement (HopcroftClasses, see fsm.h), which keeps
// the partition as one array of states in which every block is a contiguous slice; a state knows
// its position, so moving it to the tail of its block and cutting the tail off as a new block
// costs O(1) per moved state. For a splitter B, the incoming edges of B's states are grouped by
// source with a counting pass; each source's "signature" is the merged byte ranges and the callees
// that lead into B. Sources are grouped by block, again by counting, and a block whose members
// disagree is sorted by signature and cut into one piece per signature, members with no edge into
// B staying behind in the original block. Both paths compute the same partition (the coarsest one
// that respects the flags and is stable), and the output is numbered from it alone.
#include "grammar/fsm.h"

#include <algorithm>
#include <string>
#include <utility>

namespace sieve {
namespace {

uint64_t HashSet(std::span<const int32_t> v) {
  uint64_t h = 0x9e3779b97f4a7c15ull ^ v.size();
  for (int32_t x : v) {
    h ^= static_cast<uint32_t>(x);
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 32;
  }
  return h;
}

// Interned sets of NFA states: ids are dense and given in insertion order.
class SetTable {
 public:
  SetTable() : slots_(64, -1) {}

  int32_t size() const { return static_cast<int32_t>(hash_.size()); }
  std::span<const int32_t> Get(int32_t id) const {
    return {pool_.data() + begin_[id], begin_[id + 1] - begin_[id]};
  }
  // The id of `set`, or -1.
  int32_t Find(std::span<const int32_t> set, uint64_t hash) const {
    const size_t mask = slots_.size() - 1;
    for (size_t i = hash & mask;; i = (i + 1) & mask) {
      const int32_t id = slots_[i];
      if (id < 0) return -1;
      if (hash_[id] == hash) {
        std::span<const int32_t> other = Get(id);
        if (std::equal(set.begin(), set.end(), other.begin(), other.end())) return id;
      }
    }
  }
  // Adds a set that Find does not know; returns its id.
  int32_t Insert(std::span<const int32_t> set, uint64_t hash) {
    const auto id = static_cast<int32_t>(hash_.size());
    pool_.insert(pool_.end(), set.begin(), set.end());
    begin_.push_back(pool_.size());
    hash_.push_back(hash);
    if (hash_.size() * 2 > slots_.size()) {
      Rehash(slots_.size() * 2);
    } else {
      Place(id);
    }
    return id;
  }

 private:
  void Place(int32_t id) {
    const size_t mask = slots_.size() - 1;
    size_t i = hash_[id] & mask;
    while (slots_[i] >= 0) i = (i + 1) & mask;
    slots_[i] = id;
  }
  void Rehash(size_t capacity) {
    slots_.assign(capacity, -1);
    for (int32_t id = 0; id < size(); ++id) Place(id);
  }

  std::vector<int32_t> pool_;
  std::vector<size_t> begin_{0};
  std::vector<uint64_t> hash_;
  std::vector<int32_t> slots_;  // open addressing, -1 = empty; capacity a power of two
};

// The edges of an Nfa grouped by source state (a counting pass per kind; each state's edges keep
// the order they were added) and which states are "important".
class NfaIndex {
 public:
  explicit NfaIndex(const Nfa& nfa) {
    const int32_t n = nfa.num_states();
    Group(n, nfa.epsilon_edges(), &eps_begin_, &eps_);
    Group(n, nfa.byte_edges(), &byte_begin_, &bytes_);
    Group(n, nfa.call_edges(), &call_begin_, &calls_);
    important_.resize(n);
    for (int32_t s = 0; s < n; ++s) {
      important_[s] = byte_begin_[s] < byte_begin_[s + 1] || call_begin_[s] < call_begin_[s + 1] ||
                      s == nfa.accept();
    }
  }

  std::span<const int32_t> epsilon(int32_t s) const { return Slice(eps_begin_, eps_, s); }
  std::span<const Nfa::ByteEdge> byte_edges(int32_t s) const {
    return Slice(byte_begin_, bytes_, s);
  }
  std::span<const Nfa::CallEdge> call_edges(int32_t s) const {
    return Slice(call_begin_, calls_, s);
  }
  bool important(int32_t s) const { return important_[s] != 0; }

 private:
  template <typename E>
  static void Group(int32_t n, std::span<const Nfa::From<E>> in, std::vector<int32_t>* begin,
                    std::vector<E>* out) {
    begin->assign(n + 1, 0);
    for (const auto& x : in) ++(*begin)[x.from + 1];
    for (int32_t s = 0; s < n; ++s) (*begin)[s + 1] += (*begin)[s];
    out->resize(in.size());
    std::vector<int32_t> fill(begin->begin(), begin->end() - 1);
    for (const auto& x : in) (*out)[fill[x.from]++] = x.edge;
  }
  template <typename E>
  static std::span<const E> Slice(const std::vector<int32_t>& begin, const std::vector<E>& v,
                                  int32_t s) {
    return {v.data() + begin[s], static_cast<size_t>(begin[s + 1] - begin[s])};
  }

  std::vector<int32_t> eps_begin_, byte_begin_, call_begin_;  // num_states + 1 each
  std::vector<int32_t> eps_;
  std::vector<Nfa::ByteEdge> bytes_;
  std::vector<Nfa::CallEdge> calls_;
  std::vector<char> important_;
};

// Epsilon closures over an NFA, reusing one visited-stamp array.
class ClosureComputer {
 public:
  explicit ClosureComputer(const NfaIndex& nfa, int32_t num_states)
      : nfa_(nfa), stamp_(num_states, 0) {}

  // The important states of the closure of `seeds`, sorted, into *out; returns the number of
  // states visited.
  int64_t Close(std::span<const int32_t> seeds, std::vector<int32_t>* out) {
    ++generation_;
    out->clear();
    stack_.clear();
    int64_t visited = 0;
    for (int32_t s : seeds) Push(s);
    while (!stack_.empty()) {
      int32_t s = stack_.back();
      stack_.pop_back();
      ++visited;
      if (nfa_.important(s)) out->push_back(s);
      for (int32_t t : nfa_.epsilon(s)) Push(t);
    }
    std::sort(out->begin(), out->end());
    return visited;
  }

 private:
  void Push(int32_t s) {
    if (stamp_[s] == generation_) return;
    stamp_[s] = generation_;
    stack_.push_back(s);
  }

  const NfaIndex& nfa_;
  std::vector<uint32_t> stamp_;
  std::vector<int32_t> stack_;
  uint32_t generation_ = 0;
};

// The partition of Minimize: states (local indices) in one array, each block a contiguous slice.
class Partition {
 public:
  explicit Partition(int32_t n) : elems_(n), pos_(n), block_(n) {}

  int32_t num_blocks() const { return static_cast<int32_t>(first_.size()); }
  int32_t block(int32_t s) const { return block_[s]; }
  int32_t first(int32_t b) const { return first_[b]; }
  int32_t end(int32_t b) const { return end_[b]; }
  int32_t size(int32_t b) const { return end_[b] - first_[b]; }
  int32_t elem(int32_t i) const { return elems_[i]; }

  // Places `s` at position `i` (initial layout) in the block that starts at the next AddBlock.
  void Set(int32_t i, int32_t s) {
    elems_[i] = s;
    pos_[s] = i;
  }
  // Declares [first, end) a block; its states are those Set there.
  int32_t AddBlock(int32_t first, int32_t end) {
    const auto b = static_cast<int32_t>(first_.size());
    first_.push_back(first);
    end_.push_back(end);
    for (int32_t i = first; i < end; ++i) block_[elems_[i]] = b;
    return b;
  }
  // Moves `s` to the tail of its block and shrinks the block by one; CutTail then makes the
  // moved states a block.
  void MoveToTail(int32_t s) {
    const int32_t b = block_[s];
    const int32_t last = --end_[b];
    const int32_t other = elems_[last];
    const int32_t p = pos_[s];
    elems_[p] = other;
    pos_[other] = p;
    elems_[last] = s;
    pos_[s] = last;
  }
  int32_t CutTail(int32_t b, int32_t old_end) { return AddBlock(end_[b], old_end); }

 private:
  std::vector<int32_t> elems_, pos_, block_;
  std::vector<int32_t> first_, end_;
};

// Signature entries: a byte range is lo << 8 | hi (below 65536); a call is 65536 + callee.
constexpr int64_t kCallToken = 65536;

}  // namespace

// ---- Nfa / Fsm basics
// ----------------------------------------------------------------------------

int32_t Fsm::AddState() {
  states_.emplace_back();
  return static_cast<int32_t>(states_.size()) - 1;
}

void Fsm::Canonicalize() {
  // In place and without allocating: builders call this once per automaton, and most states are
  // already sorted.
  for (State& st : states_) {
    auto by_lo = [](const ByteEdge& x, const ByteEdge& y) { return x.lo < y.lo; };
    if (!std::is_sorted(st.bytes.begin(), st.bytes.end(), by_lo)) {
      std::sort(st.bytes.begin(), st.bytes.end(), by_lo);
    }
    size_t w = 0;
    for (size_t i = 0; i < st.bytes.size(); ++i) {
      const ByteEdge e = st.bytes[i];
      if (w > 0 && st.bytes[w - 1].target == e.target && st.bytes[w - 1].hi + 1 == e.lo) {
        st.bytes[w - 1].hi = e.hi;
      } else {
        st.bytes[w++] = e;
      }
    }
    st.bytes.resize(w);
    auto by_callee = [](const CallEdge& x, const CallEdge& y) {
      return x.callee != y.callee ? x.callee < y.callee : x.target < y.target;
    };
    if (!std::is_sorted(st.calls.begin(), st.calls.end(), by_callee)) {
      std::sort(st.calls.begin(), st.calls.end(), by_callee);
    }
    st.calls.erase(std::unique(st.calls.begin(), st.calls.end()), st.calls.end());
  }
}

int32_t Fsm::Step(int32_t s, uint8_t b) const {
  for (const ByteEdge& e : states_[s].bytes) {
    if (b < e.lo) break;
    if (b <= e.hi) return e.target;
  }
  return kNoState;
}

size_t Fsm::num_byte_edges() const {
  size_t n = 0;
  for (const State& st : states_) n += st.bytes.size();
  return n;
}

size_t Fsm::num_call_edges() const {
  size_t n = 0;
  for (const State& st : states_) n += st.calls.size();
  return n;
}

bool Fsm::HasCalls() const {
  for (const State& st : states_) {
    if (!st.calls.empty()) return true;
  }
  return false;
}

bool Fsm::IsPrefixFree() const {
  for (const State& st : states_) {
    if (st.accepting && (!st.bytes.empty() || !st.calls.empty())) return false;
  }
  return true;
}

Status Fsm::Validate() const {
  const int32_t n = num_states();
  if (n == 0) {
    return start_ == kNoState ? Status::Ok() : InternalError("fsm: empty automaton with a start");
  }
  if (start_ < 0 || start_ >= n) return InternalError("fsm: start state out of range");
  for (int32_t s = 0; s < n; ++s) {
    const State& st = states_[s];
    for (size_t i = 0; i < st.bytes.size(); ++i) {
      const ByteEdge& e = st.bytes[i];
      if (e.lo > e.hi || e.target < 0 || e.target >= n) {
        return InternalError("fsm: bad byte edge at state " + std::to_string(s));
      }
      if (i > 0 && st.bytes[i - 1].hi >= e.lo) {
        return InternalError("fsm: overlapping or unsorted byte edges at state " +
                             std::to_string(s));
      }
    }
    for (size_t i = 0; i < st.calls.size(); ++i) {
      const CallEdge& e = st.calls[i];
      if (e.callee < 0 || e.target < 0 || e.target >= n) {
        return InternalError("fsm: bad call edge at state " + std::to_string(s));
      }
      if (i > 0 && st.calls[i - 1].callee >= e.callee) {
        return InternalError("fsm: two call edges for one callee at state " + std::to_string(s));
      }
    }
  }
  return Status::Ok();
}

bool Fsm::operator==(const Fsm& other) const {
  return start_ == other.start_ && states_ == other.states_;
}

std::string Fsm::DebugString() const {
  static const char kHex[] = "0123456789abcdef";
  auto hex = [](std::string* out, uint8_t b) {
    out->push_back(kHex[b >> 4]);
    out->push_back(kHex[b & 15]);
  };
  std::string out;
  for (int32_t s = 0; s < num_states(); ++s) {
    const State& st = states_[s];
    out += std::to_string(s);
    if (s == start_) out += "^";
    if (st.accepting) out += "*";
    if (st.loop_head) out += " loop";
    out += ":";
    for (const ByteEdge& e : st.bytes) {
      out += " [";
      hex(&out, e.lo);
      if (e.hi != e.lo) {
        out += "-";
        hex(&out, e.hi);
      }
      out += "]->" + std::to_string(e.target);
    }
    for (const CallEdge& e : st.calls) {
      out += " call(" + std::to_string(e.callee) + ")->" + std::to_string(e.target);
    }
    out += "\n";
  }
  return out;
}

// ---- Determinize --------------------------------------------------------------------------------

Result<Fsm> Determinize(const Nfa& nfa, int32_t max_states, FsmWork* work,
                        int64_t max_subset_states, const Deadline* deadline) {
  Fsm dfa;
  if (nfa.start() == kNoState) return InternalError("determinize: NFA without a start state");
  const NfaIndex index(nfa);
  ClosureComputer closer(index, nfa.num_states());
  SetTable sets;  // DFA state -> important NFA states; ids equal DFA state numbers
  int64_t units = 0;
  int64_t held = 0;  // NFA states over all interned sets
  std::vector<int32_t> closure;

  // The DFA state of a single seed's closure, once known (-1 before): most transitions lead to
  // one NFA state (a literal's next byte, a class's next UTF-8 byte), and many DFA states share
  // them (every state of a string body loops back to the same entry), so the closure, its hash and
  // the table probe are spent once per NFA state rather than once per transition.
  std::vector<int32_t> single(nfa.num_states(), -1);

  // The DFA state of the closure of `seeds`, added (and so queued: states are processed in id
  // order) when new; false with `error` set over a limit. (Not a Status return: this runs once
  // per transition, and even an OK Status costs a 88-byte clear.)
  Status error;
  auto intern = [&](std::span<const int32_t> seeds, int32_t* id) -> bool {
    if (seeds.size() == 1 && single[seeds[0]] >= 0) {
      *id = single[seeds[0]];
      return true;
    }
    units += closer.Close(seeds, &closure);
    const uint64_t hash = HashSet(closure);
    *id = sets.Find(closure, hash);
    if (*id >= 0) {
      if (seeds.size() == 1) single[seeds[0]] = *id;
      return true;
    }
    if (dfa.num_states() >= max_states) {
      error = LimitError("a rule's automaton needs more than " + std::to_string(max_states) +
                         " states (CompileOptions::max_rule_states)");
      return false;
    }
    held += static_cast<int64_t>(closure.size());
    if (held > max_subset_states) {
      error =
          LimitError("subset construction holds more than " + std::to_string(max_subset_states) +
                     " NFA states in its DFA state sets (CompileOptions::max_subset_states, "
                     "Limits::max_subset_states; an unanchored pattern around a long "
                     "repetitive literal costs O(length^2) here)");
      return false;
    }
    *id = dfa.AddState();
    dfa.set_accepting(*id, std::binary_search(closure.begin(), closure.end(), nfa.accept()));
    sets.Insert(closure, hash);
    if (seeds.size() == 1) single[seeds[0]] = *id;
    return true;
  };

  int32_t start_id;
  const int32_t start_seed = nfa.start();
  if (!intern({&start_seed, 1}, &start_id)) return error;
  dfa.set_start(start_id);

  std::vector<Nfa::ByteEdge> edges;
  std::vector<Nfa::CallEdge> calls;
  std::vector<int32_t> seeds;
  std::vector<Nfa::ByteEdge> by_lo;
  std::vector<int> cuts;
  std::vector<size_t> active;
  for (int32_t d = 0; d < dfa.num_states(); ++d) {
    if (deadline != nullptr && (d & 255) == 255) {
      SIEVE_RETURN_IF_ERROR(deadline->Check("building a rule's automaton (subset construction)"));
    }
    // Gather first: interning appends to the pool that Get() points into.
    edges.clear();
    calls.clear();
    for (int32_t s : sets.Get(d)) {
      for (const Nfa::ByteEdge& e : index.byte_edges(s)) edges.push_back(e);
      for (const Nfa::CallEdge& e : index.call_edges(s)) calls.push_back(e);
    }
    units += static_cast<int64_t>(edges.size() + calls.size());
    // Bytes: cut [0, 255] at every range boundary and sweep the pieces left to right, keeping the
    // edges that cover the current piece in `active`. An edge starts at a cut, so it becomes active
    // exactly at its first piece; it expires once a piece starts past its end. Few edges (the
    // usual case) are sorted; many are bucketed by first byte, so a state with k edges costs
    // O(min(k log k, k + 256)) before the closures.
    if (!edges.empty()) {
      cuts.clear();
      if (edges.size() <= 32) {
        by_lo.assign(edges.begin(), edges.end());
        std::sort(by_lo.begin(), by_lo.end(),
                  [](const Nfa::ByteEdge& x, const Nfa::ByteEdge& y) { return x.lo < y.lo; });
        for (const Nfa::ByteEdge& e : edges) {
          cuts.push_back(e.lo);
          cuts.push_back(e.hi + 1);
        }
        std::sort(cuts.begin(), cuts.end());
        cuts.erase(std::unique(cuts.begin(), cuts.end()), cuts.end());
      } else {
        int32_t count[257] = {};
        bool cut[257] = {};
        for (const Nfa::ByteEdge& e : edges) {
          ++count[e.lo + 1];
          cut[e.lo] = true;
          cut[e.hi + 1] = true;
        }
        for (int b = 0; b < 256; ++b) count[b + 1] += count[b];
        by_lo.resize(edges.size());
        for (const Nfa::ByteEdge& e : edges) by_lo[count[e.lo]++] = e;
        for (int b = 0; b <= 256; ++b) {
          if (cut[b]) cuts.push_back(b);
        }
      }
      dfa.ReserveEdges(d, cuts.size() - 1, 0);  // one edge per piece at most
      active.clear();
      size_t next = 0;
      for (size_t c = 0; c + 1 < cuts.size(); ++c) {
        const int lo = cuts[c];
        const int hi = cuts[c + 1] - 1;
        size_t kept = 0;
        for (size_t a : active) {
          if (by_lo[a].hi >= lo) active[kept++] = a;
        }
        active.resize(kept);
        while (next < by_lo.size() && by_lo[next].lo == lo) active.push_back(next++);
        if (active.empty()) continue;
        seeds.clear();
        for (size_t a : active) seeds.push_back(by_lo[a].target);
        units += static_cast<int64_t>(seeds.size());
        int32_t target;
        if (!intern(seeds, &target)) return error;
        dfa.AddByteEdge(d, static_cast<uint8_t>(lo), static_cast<uint8_t>(hi), target);
      }
    }
    // Calls: one symbol per callee.
    std::sort(calls.begin(), calls.end(),
              [](const Nfa::CallEdge& x, const Nfa::CallEdge& y) { return x.callee < y.callee; });
    for (size_t i = 0; i < calls.size();) {
      size_t j = i;
      seeds.clear();
      while (j < calls.size() && calls[j].callee == calls[i].callee) {
        seeds.push_back(calls[j++].target);
      }
      int32_t target;
      if (!intern(seeds, &target)) return error;
      dfa.AddCallEdge(d, calls[i].callee, target);
      i = j;
    }
  }
  dfa.Canonicalize();
  if (work != nullptr) work->determinize += units;
  return dfa;
}

// ---- Minimize -----------------------------------------------------------------------------------

namespace {

// Hopcroft's refinement (see the file comment) of the reachable states `order` (`local` maps a
// state to its index in `order`). Fills (*cls)[i] with the class of order[i]; returns the number of
// classes.
int32_t HopcroftClasses(const Fsm& dfa, const std::vector<int32_t>& order,
                        const std::vector<int32_t>& local, std::vector<int32_t>* cls,
                        FsmWork* counts) {
  const auto m = static_cast<int32_t>(order.size());
  // Incoming edges per target (local numbering), as (source, ref): ref < #byte edges of the source
  // is a byte edge's index, the rest are call edges after them. Sorting (source, ref) pairs thus
  // lists a source's byte edges by first byte, then its calls by callee.
  std::vector<int32_t> rev_begin(m + 1, 0);
  for (int32_t s : order) {
    for (const Fsm::ByteEdge& e : dfa.byte_edges(s)) ++rev_begin[local[e.target] + 1];
    for (const Fsm::CallEdge& e : dfa.call_edges(s)) ++rev_begin[local[e.target] + 1];
  }
  for (int32_t t = 0; t < m; ++t) rev_begin[t + 1] += rev_begin[t];
  std::vector<std::pair<int32_t, int32_t>> rev(rev_begin[m]);
  {
    std::vector<int32_t> fill(rev_begin.begin(), rev_begin.end() - 1);
    for (int32_t ls = 0; ls < m; ++ls) {
      const int32_t s = order[ls];
      auto bytes = dfa.byte_edges(s);
      auto calls = dfa.call_edges(s);
      for (size_t k = 0; k < bytes.size(); ++k) {
        rev[fill[local[bytes[k].target]]++] = {ls, static_cast<int32_t>(k)};
      }
      for (size_t k = 0; k < calls.size(); ++k) {
        rev[fill[local[calls[k].target]]++] = {ls, static_cast<int32_t>(bytes.size() + k)};
      }
    }
  }

  // Initial blocks: one per combination of flags present. All are queued: the automaton is partial
  // (a missing edge leads nowhere), so even a single block may need splitting by which symbols
  // its states can read at all, and stability with respect to every block says exactly that.
  Partition part(m);
  std::vector<char> queued;
  std::vector<int32_t> worklist;
  {
    auto key = [&](int32_t ls) {
      return (dfa.accepting(order[ls]) ? 1 : 0) | (dfa.loop_head(order[ls]) ? 2 : 0);
    };
    int32_t count[5] = {};
    for (int32_t ls = 0; ls < m; ++ls) ++count[key(ls) + 1];
    for (int k = 0; k < 4; ++k) count[k + 1] += count[k];
    int32_t fill[4] = {count[0], count[1], count[2], count[3]};
    for (int32_t ls = 0; ls < m; ++ls) part.Set(fill[key(ls)]++, ls);
    for (int k = 0; k < 4; ++k) {
      if (count[k + 1] > count[k]) {
        worklist.push_back(part.AddBlock(count[k], count[k + 1]));
        queued.push_back(1);
      }
    }
  }

  int64_t units = 0;
  int64_t splitters = 0;
  // Per splitter: the sources of edges into it ("touched" states), each with the refs of those
  // edges (grouped by a counting pass, not a sort of all edges) and its signature.
  struct Touched {
    int32_t state;
    int32_t block;
    uint64_t hash;  // of the signature: sorting by it first leaves full comparisons for ties
    uint32_t refs_begin;
    uint32_t sig_begin;
    uint32_t sig_end;
  };
  std::vector<Touched> touched;
  std::vector<int32_t> slot(m, -1);  // touched index of a source in the current splitter, or -1
  std::vector<int32_t> refs;         // edge refs, grouped by source
  std::vector<int64_t> sig;
  std::vector<int32_t> block_slot;                 // run index of a block in `runs`, or -1
  std::vector<std::pair<int32_t, uint32_t>> runs;  // touched blocks, in order of first touch
  std::vector<Touched> grouped;                    // `touched`, grouped by block
  std::vector<int32_t> moved_end;                  // scratch: new blocks of one split
  while (!worklist.empty()) {
    const int32_t splitter = worklist.back();
    worklist.pop_back();
    queued[splitter] = 0;
    ++splitters;
    // Snapshot the edges into the splitter before any block (the splitter included) is cut:
    // count them per source, then place each source's refs in its slice of `refs`.
    touched.clear();
    for (int32_t i = part.first(splitter); i < part.end(splitter); ++i) {
      const int32_t t = part.elem(i);
      for (int32_t k = rev_begin[t]; k < rev_begin[t + 1]; ++k) {
        const int32_t ls = rev[k].first;
        if (slot[ls] < 0) {
          slot[ls] = static_cast<int32_t>(touched.size());
          touched.push_back({ls, part.block(ls), 0, 0, 0, 0});
        }
        ++touched[slot[ls]].refs_begin;  // a count until the prefix sum below
      }
    }
    if (touched.empty()) continue;
    uint32_t total = 0;
    for (Touched& x : touched) {
      const uint32_t count = x.refs_begin;
      x.refs_begin = total;
      x.sig_begin = total;  // the fill cursor for now
      total += count;
    }
    units += total;
    refs.resize(total);
    for (int32_t i = part.first(splitter); i < part.end(splitter); ++i) {
      const int32_t t = part.elem(i);
      for (int32_t k = rev_begin[t]; k < rev_begin[t + 1]; ++k) {
        refs[touched[slot[rev[k].first]].sig_begin++] = rev[k].second;
      }
    }
    // One signature per source: merged byte ranges into the splitter, then callees into it.
    // Sorting a source's refs (usually one or two) lists its byte edges by first byte, then calls.
    sig.clear();
    for (Touched& x : touched) {
      slot[x.state] = -1;
      const uint32_t refs_end = x.sig_begin;
      std::sort(refs.begin() + x.refs_begin, refs.begin() + refs_end);
      const int32_t s = order[x.state];
      auto bytes = dfa.byte_edges(s);
      auto calls = dfa.call_edges(s);
      x.sig_begin = static_cast<uint32_t>(sig.size());
      int prev_hi = -2;
      for (uint32_t k = x.refs_begin; k < refs_end; ++k) {
        const auto ref = static_cast<size_t>(refs[k]);
        if (ref < bytes.size()) {
          const Fsm::ByteEdge& e = bytes[ref];
          if (prev_hi + 1 == e.lo) {
            sig.back() = (sig.back() & ~int64_t{0xff}) | e.hi;
          } else {
            sig.push_back(int64_t{e.lo} << 8 | e.hi);
          }
          prev_hi = e.hi;
        } else {
          sig.push_back(kCallToken + calls[ref - bytes.size()].callee);
          prev_hi = -2;
        }
      }
      x.sig_end = static_cast<uint32_t>(sig.size());
      uint64_t h = 0x9e3779b97f4a7c15ull;
      for (uint32_t k = x.sig_begin; k < x.sig_end; ++k) {
        h ^= static_cast<uint64_t>(sig[k]);
        h *= 0xff51afd7ed558ccdull;
        h ^= h >> 32;
      }
      x.hash = h;
    }
    units += static_cast<int64_t>(sig.size());
    // Group by block with a counting pass over block ids, then by signature inside each block.
    // Usually all of a block's touched states share one signature; that is checked in one pass and
    // needs no sort.
    auto sig_equal = [&](const Touched& x, const Touched& y) {
      return x.hash == y.hash && std::equal(sig.begin() + x.sig_begin, sig.begin() + x.sig_end,
                                            sig.begin() + y.sig_begin, sig.begin() + y.sig_end);
    };
    auto sig_less = [&](const Touched& x, const Touched& y) {
      if (x.hash != y.hash) return x.hash < y.hash;
      return std::lexicographical_compare(sig.begin() + x.sig_begin, sig.begin() + x.sig_end,
                                          sig.begin() + y.sig_begin, sig.begin() + y.sig_end);
    };
    if (block_slot.size() < static_cast<size_t>(part.num_blocks())) {
      block_slot.resize(part.num_blocks(), -1);
    }
    runs.clear();  // (block, end of its run in `grouped`)
    for (const Touched& x : touched) {
      int32_t& run = block_slot[x.block];
      if (run < 0) {
        run = static_cast<int32_t>(runs.size());
        runs.push_back({x.block, 0});
      }
      ++runs[run].second;
    }
    uint32_t run_begin = 0;
    for (auto& [block, end] : runs) {
      const uint32_t count = end;
      end = run_begin;
      run_begin += count;
    }
    grouped.resize(touched.size());
    for (const Touched& x : touched) grouped[runs[block_slot[x.block]].second++] = x;
    for (const auto& [block, end] : runs) block_slot[block] = -1;
    // Cut each touched block into one piece per signature.
    size_t i = 0;
    for (const auto& [block, run_end] : runs) {
      const size_t j = run_end;
      bool uniform = true;
      for (size_t k = i + 1; k < j && uniform; ++k) uniform = sig_equal(grouped[i], grouped[k]);
      const int32_t untouched = part.size(block) - static_cast<int32_t>(j - i);
      if (uniform && untouched == 0) {
        i = j;
        continue;
      }
      if (!uniform) std::sort(grouped.begin() + i, grouped.begin() + j, sig_less);
      // States without an edge into the splitter stay in `block`; when there are none, so do the
      // states of the last signature.
      size_t moved_until = j;
      if (untouched == 0) {
        moved_until = j - 1;
        while (moved_until > i && sig_equal(grouped[moved_until - 1], grouped[j - 1])) {
          --moved_until;
        }
      }
      moved_end.clear();
      for (size_t g = i; g < moved_until;) {
        const int32_t old_end = part.end(block);
        size_t h = g;
        while (h < moved_until && sig_equal(grouped[g], grouped[h])) {
          part.MoveToTail(grouped[h].state);
          ++h;
        }
        units += static_cast<int64_t>(h - g);
        moved_end.push_back(part.CutTail(block, old_end));
        queued.push_back(0);
        g = h;
      }
      // Hopcroft's rule: a block still queued is split in the queue; otherwise every piece but
      // the largest is queued, which keeps each state's re-examinations logarithmic.
      int32_t largest = block;
      for (int32_t b : moved_end) {
        if (part.size(b) > part.size(largest)) largest = b;
      }
      const bool all = queued[block] != 0;
      moved_end.push_back(block);
      for (int32_t b : moved_end) {
        if (!queued[b] && (all || b != largest)) {
          queued[b] = 1;
          worklist.push_back(b);
        }
      }
      i = j;
    }
  }
  counts->minimize += units;
  counts->splitters += splitters;
  for (int32_t ls = 0; ls < m; ++ls) (*cls)[ls] = part.block(ls);
  return part.num_blocks();
}

// The exact linear-time method for acyclic automata (finite languages: literals, enums), after
// Revuz: in an acyclic automaton, a state's class is determined by its flags and the classes of
// its edges' targets, so classifying states in depth-first postorder (every target before its
// sources) needs one hash lookup per state and no refinement at all. Returns false, having
// classified nothing, when the reachable part has a cycle.
bool AcyclicClasses(const Fsm& dfa, const std::vector<int32_t>& order,
                    const std::vector<int32_t>& local, std::vector<int32_t>* cls,
                    int32_t* num_classes, FsmWork* counts) {
  const auto m = static_cast<int32_t>(order.size());
  // Iterative depth-first search; colour 0 = new, 1 = on the path, 2 = done. An edge to a state on
  // the path closes a cycle.
  std::vector<char> colour(m, 0);
  std::vector<int32_t> post;
  post.reserve(m);
  struct Frame {
    int32_t ls;
    uint32_t next;  // next edge: byte edges first, then calls
  };
  std::vector<Frame> path{{0, 0}};
  colour[0] = 1;
  int64_t units = 0;
  while (!path.empty()) {
    Frame& f = path.back();
    const int32_t s = order[f.ls];
    auto bytes = dfa.byte_edges(s);
    auto calls = dfa.call_edges(s);
    if (f.next < bytes.size() + calls.size()) {
      const int32_t t =
          f.next < bytes.size() ? bytes[f.next].target : calls[f.next - bytes.size()].target;
      ++f.next;
      ++units;
      const int32_t lt = local[t];
      if (colour[lt] == 1) return false;
      if (colour[lt] == 0) {
        colour[lt] = 1;
        path.push_back({lt, 0});  // invalidates `f`
      }
      continue;
    }
    colour[f.ls] = 2;
    post.push_back(f.ls);
    path.pop_back();
  }
  // Signatures: flags, then (range, target class) with adjacent ranges into one class merged, then
  // (callee, target class). Classes are interned in an open-addressing table over `pool`.
  std::vector<int64_t> pool;
  std::vector<uint32_t> class_begin{0};
  std::vector<uint64_t> class_hash;
  std::vector<int32_t> slots(64, -1);
  std::vector<int64_t> sig;
  auto place = [&](int32_t c) {
    const size_t mask = slots.size() - 1;
    size_t i = class_hash[c] & mask;
    while (slots[i] >= 0) i = (i + 1) & mask;
    slots[i] = c;
  };
  for (int32_t ls : post) {
    const int32_t s = order[ls];
    sig.clear();
    sig.push_back((dfa.accepting(s) ? 1 : 0) | (dfa.loop_head(s) ? 2 : 0));
    int prev_hi = -2;
    int32_t prev_class = -1;
    for (const Fsm::ByteEdge& e : dfa.byte_edges(s)) {
      const int32_t c = (*cls)[local[e.target]];
      if (prev_hi + 1 == e.lo && prev_class == c) {
        sig[sig.size() - 2] = (sig[sig.size() - 2] & ~int64_t{0xff}) | e.hi;
      } else {
        sig.push_back(int64_t{e.lo} << 8 | e.hi);
        sig.push_back(c);
      }
      prev_hi = e.hi;
      prev_class = c;
    }
    for (const Fsm::CallEdge& e : dfa.call_edges(s)) {
      sig.push_back(kCallToken + e.callee);
      sig.push_back((*cls)[local[e.target]]);
    }
    units += static_cast<int64_t>(sig.size());
    uint64_t h = 0x9e3779b97f4a7c15ull ^ sig.size();
    for (int64_t x : sig) {
      h ^= static_cast<uint64_t>(x);
      h *= 0xff51afd7ed558ccdull;
      h ^= h >> 32;
    }
    const size_t mask = slots.size() - 1;
    int32_t found = -1;
    for (size_t i = h & mask; slots[i] >= 0; i = (i + 1) & mask) {
      const int32_t c = slots[i];
      if (class_hash[c] == h && std::equal(sig.begin(), sig.end(), pool.begin() + class_begin[c],
                                           pool.begin() + class_begin[c + 1])) {
        found = c;
        break;
      }
    }
    if (found < 0) {
      found = static_cast<int32_t>(class_hash.size());
      pool.insert(pool.end(), sig.begin(), sig.end());
      class_begin.push_back(static_cast<uint32_t>(pool.size()));
      class_hash.push_back(h);
      if (class_hash.size() * 2 > slots.size()) {
        slots.assign(slots.size() * 2, -1);
        for (int32_t c = 0; c < static_cast<int32_t>(class_hash.size()); ++c) place(c);
      } else {
        place(found);
      }
    }
    (*cls)[ls] = found;
  }
  counts->minimize += units;
  *num_classes = static_cast<int32_t>(class_hash.size());
  return true;
}

}  // namespace

Fsm Minimize(const Fsm& dfa, FsmWork* work) {
  if (dfa.empty()) return Fsm();
  const int32_t n = dfa.num_states();
  // Reachable states in breadth-first order; `local` numbers them 0..m-1 in that order and drops
  // the rest.
  std::vector<int32_t> local(n, -1);
  std::vector<int32_t> order{dfa.start()};
  local[dfa.start()] = 0;
  for (size_t i = 0; i < order.size(); ++i) {
    auto visit = [&](int32_t t) {
      if (local[t] < 0) {
        local[t] = static_cast<int32_t>(order.size());
        order.push_back(t);
      }
    };
    for (const Fsm::ByteEdge& e : dfa.byte_edges(order[i])) visit(e.target);
    for (const Fsm::CallEdge& e : dfa.call_edges(order[i])) visit(e.target);
  }
  const auto m = static_cast<int32_t>(order.size());

  // Classes of the reachable states: acyclic automata take the linear path, others Hopcroft's.
  FsmWork counts;
  std::vector<int32_t> cls_of(m, -1);
  int32_t num_classes = 0;
  if (!AcyclicClasses(dfa, order, local, &cls_of, &num_classes, &counts)) {
    num_classes = HopcroftClasses(dfa, order, local, &cls_of, &counts);
  }
  if (work != nullptr) {
    work->minimize += counts.minimize;
    work->splitters += counts.splitters;
  }

  // Number classes in breadth-first order from the start's class, following a representative's
  // edges (byte edges by first byte, then calls by callee). Equivalent states reach the same
  // blocks in the same order of first bytes and callees, so the numbering does not depend on
  // which representative is taken, nor on how the partition was found.
  std::vector<int32_t> rep(num_classes, -1);
  for (int32_t ls = 0; ls < m; ++ls) {
    if (rep[cls_of[ls]] < 0) rep[cls_of[ls]] = order[ls];
  }
  auto cls = [&](int32_t s) { return cls_of[local[s]]; };
  std::vector<int32_t> renum(num_classes, -1);
  std::vector<int32_t> bfs{cls(dfa.start())};
  renum[bfs[0]] = 0;
  for (size_t i = 0; i < bfs.size(); ++i) {
    const int32_t s = rep[bfs[i]];
    auto visit = [&](int32_t t) {
      if (renum[cls(t)] < 0) {
        renum[cls(t)] = static_cast<int32_t>(bfs.size());
        bfs.push_back(cls(t));
      }
    };
    for (const Fsm::ByteEdge& e : dfa.byte_edges(s)) visit(e.target);
    for (const Fsm::CallEdge& e : dfa.call_edges(s)) visit(e.target);
  }
  Fsm out;
  for (size_t i = 0; i < bfs.size(); ++i) out.AddState();
  for (size_t i = 0; i < bfs.size(); ++i) {
    const int32_t s = rep[bfs[i]];
    const auto id = static_cast<int32_t>(i);
    out.set_accepting(id, dfa.accepting(s));
    out.set_loop_head(id, dfa.loop_head(s));
    out.ReserveEdges(id, dfa.byte_edges(s).size(), dfa.call_edges(s).size());
    for (const Fsm::ByteEdge& e : dfa.byte_edges(s)) {
      out.AddByteEdge(id, e.lo, e.hi, renum[cls(e.target)]);
    }
    for (const Fsm::CallEdge& e : dfa.call_edges(s)) {
      out.AddCallEdge(id, e.callee, renum[cls(e.target)]);
    }
  }
  out.set_start(0);
  out.Canonicalize();
  return out;
}

// ---- Trim ---------------------------------------------------------------------------------------

namespace {

// What Trim keeps and how it numbers it; IsTrimmed compares the plan with the input instead of
// building the output.
struct TrimPlan {
  std::vector<int32_t> call_begin;  // per state: index of its first call edge in `allowed`
  std::vector<char> allowed;        // per call edge: whether its callee passes `callable`
  std::vector<int32_t> renum;       // per state: new number, -1 when dropped
  std::vector<int32_t> bfs;         // kept states in their new order (empty: dead start)
};

TrimPlan PlanTrim(const Fsm& dfa, const std::function<bool(RuleId)>& callable) {
  TrimPlan plan;
  const int32_t n = dfa.num_states();
  // Whether each call edge survives, asked once per edge, in state order.
  plan.call_begin.assign(n + 1, 0);
  for (int32_t s = 0; s < n; ++s) {
    plan.call_begin[s + 1] = plan.call_begin[s] + static_cast<int32_t>(dfa.call_edges(s).size());
  }
  plan.allowed.resize(plan.call_begin[n]);
  for (int32_t s = 0; s < n; ++s) {
    auto calls = dfa.call_edges(s);
    for (size_t k = 0; k < calls.size(); ++k) {
      plan.allowed[plan.call_begin[s] + k] = callable(calls[k].callee) ? 1 : 0;
    }
  }
  auto allowed = [&](int32_t s, size_t k) { return plan.allowed[plan.call_begin[s] + k] != 0; };
  // Reverse edges (only allowed calls) in one array, for co-reachability.
  std::vector<int32_t> rev_begin(n + 1, 0);
  for (int32_t s = 0; s < n; ++s) {
    for (const Fsm::ByteEdge& e : dfa.byte_edges(s)) ++rev_begin[e.target + 1];
    auto calls = dfa.call_edges(s);
    for (size_t k = 0; k < calls.size(); ++k) {
      if (allowed(s, k)) ++rev_begin[calls[k].target + 1];
    }
  }
  for (int32_t t = 0; t < n; ++t) rev_begin[t + 1] += rev_begin[t];
  std::vector<int32_t> rev(rev_begin[n]);
  {
    std::vector<int32_t> fill(rev_begin.begin(), rev_begin.end() - 1);
    for (int32_t s = 0; s < n; ++s) {
      for (const Fsm::ByteEdge& e : dfa.byte_edges(s)) rev[fill[e.target]++] = s;
      auto calls = dfa.call_edges(s);
      for (size_t k = 0; k < calls.size(); ++k) {
        if (allowed(s, k)) rev[fill[calls[k].target]++] = s;
      }
    }
  }
  std::vector<char> live(n, 0);
  std::vector<int32_t> work;
  for (int32_t s = 0; s < n; ++s) {
    if (dfa.accepting(s)) {
      live[s] = 1;
      work.push_back(s);
    }
  }
  while (!work.empty()) {
    const int32_t t = work.back();
    work.pop_back();
    for (int32_t i = rev_begin[t]; i < rev_begin[t + 1]; ++i) {
      const int32_t s = rev[i];
      if (!live[s]) {
        live[s] = 1;
        work.push_back(s);
      }
    }
  }
  plan.renum.assign(n, -1);
  if (!live[dfa.start()]) return plan;
  plan.bfs.push_back(dfa.start());
  plan.renum[dfa.start()] = 0;
  for (size_t i = 0; i < plan.bfs.size(); ++i) {
    const int32_t s = plan.bfs[i];
    auto visit = [&](int32_t t) {
      if (live[t] && plan.renum[t] < 0) {
        plan.renum[t] = static_cast<int32_t>(plan.bfs.size());
        plan.bfs.push_back(t);
      }
    };
    for (const Fsm::ByteEdge& e : dfa.byte_edges(s)) visit(e.target);
    auto calls = dfa.call_edges(s);
    for (size_t k = 0; k < calls.size(); ++k) {
      if (allowed(s, k)) visit(calls[k].target);
    }
  }
  return plan;
}

}  // namespace

Fsm Trim(const Fsm& dfa, const std::function<bool(RuleId)>& callable) {
  if (dfa.empty()) return Fsm();
  const TrimPlan plan = PlanTrim(dfa, callable);
  if (plan.bfs.empty()) return Fsm();
  Fsm out;
  for (size_t i = 0; i < plan.bfs.size(); ++i) out.AddState();
  for (size_t i = 0; i < plan.bfs.size(); ++i) {
    const int32_t s = plan.bfs[i];
    const auto id = static_cast<int32_t>(i);
    out.set_accepting(id, dfa.accepting(s));
    out.set_loop_head(id, dfa.loop_head(s));
    out.ReserveEdges(id, dfa.byte_edges(s).size(), dfa.call_edges(s).size());
    for (const Fsm::ByteEdge& e : dfa.byte_edges(s)) {
      if (plan.renum[e.target] >= 0) out.AddByteEdge(id, e.lo, e.hi, plan.renum[e.target]);
    }
    auto calls = dfa.call_edges(s);
    for (size_t k = 0; k < calls.size(); ++k) {
      if (plan.renum[calls[k].target] >= 0 && plan.allowed[plan.call_begin[s] + k]) {
        out.AddCallEdge(id, calls[k].callee, plan.renum[calls[k].target]);
      }
    }
  }
  out.set_start(0);
  out.Canonicalize();
  return out;
}

bool IsTrimmed(const Fsm& dfa, const std::function<bool(RuleId)>& callable) {
  if (dfa.empty()) return true;
  // Canonical edge lists first (Trim canonicalises its output), then the plan keeps every state
  // and edge and numbers each state as it already is.
  for (int32_t s = 0; s < dfa.num_states(); ++s) {
    auto bytes = dfa.byte_edges(s);
    for (size_t i = 1; i < bytes.size(); ++i) {
      if (bytes[i - 1].hi >= bytes[i].lo) return false;
      if (bytes[i - 1].target == bytes[i].target && bytes[i - 1].hi + 1 == bytes[i].lo) {
        return false;
      }
    }
    auto calls = dfa.call_edges(s);
    for (size_t i = 1; i < calls.size(); ++i) {
      if (!(calls[i - 1].callee < calls[i].callee)) return false;
    }
  }
  const TrimPlan plan = PlanTrim(dfa, callable);
  if (plan.bfs.size() != static_cast<size_t>(dfa.num_states()) || dfa.start() != 0) return false;
  for (int32_t s = 0; s < dfa.num_states(); ++s) {
    if (plan.renum[s] != s) return false;
  }
  for (char a : plan.allowed) {
    if (!a) return false;
  }
  return true;
}

// ---- MakeByteLoop -------------------------------------------------------------------------------

Fsm MakeByteLoop(const Fsm& body) {
  Fsm loop;
  const int32_t n = body.num_states();
  for (int32_t s = 0; s < n; ++s) loop.AddState();
  const int32_t head = loop.AddState();
  auto retarget = [&](int32_t t) { return body.accepting(t) ? head : t; };
  for (int32_t s = 0; s < n; ++s) {
    for (const Fsm::ByteEdge& e : body.byte_edges(s)) {
      loop.AddByteEdge(s, e.lo, e.hi, retarget(e.target));
    }
  }
  for (const Fsm::ByteEdge& e : body.byte_edges(body.start())) {
    loop.AddByteEdge(head, e.lo, e.hi, retarget(e.target));
  }
  loop.set_accepting(head, true);
  loop.set_loop_head(head, true);
  loop.set_start(head);
  loop.Canonicalize();
  return Minimize(Trim(loop, [](RuleId) { return true; }));
}

}  // namespace sieve
