// Determinisation, minimisation, trimming and byte loops for per-rule automata (see fsm.h).
//
// Subset construction keys a DFA state by its "important" NFA states only: those with a byte or
// call edge, and the accepting state. Two epsilon closures with the same important states behave
// the same, so keying this way merges them early and keeps the pre-minimisation count honest but
// small.
//
// Minimisation sorts states by their signature (current class, the class reached on every byte, the
// class reached by every call, the flags) and renumbers; signatures compare edge lists directly, so
// no per-state 256-entry table is ever built. Rounds repeat until the number of classes stops
// growing.
#include "grammar/fsm.h"

#include <algorithm>
#include <deque>
#include <string>
#include <unordered_map>
#include <utility>

namespace sieve {
namespace {

struct VectorHash {
  size_t operator()(const std::vector<int32_t>& v) const {
    uint64_t h = 0x9e3779b97f4a7c15ull ^ v.size();
    for (int32_t x : v) {
      h ^= static_cast<uint32_t>(x);
      h *= 0xff51afd7ed558ccdull;
      h ^= h >> 32;
    }
    return static_cast<size_t>(h);
  }
};

// Epsilon closures over an NFA, reusing one visited-stamp array.
class ClosureComputer {
 public:
  explicit ClosureComputer(const Nfa& nfa) : nfa_(nfa), stamp_(nfa.num_states(), 0) {}

  // The important states of the closure of `seeds`, sorted.
  std::vector<int32_t> Close(std::span<const int32_t> seeds) {
    ++generation_;
    std::vector<int32_t> out;
    stack_.clear();
    for (int32_t s : seeds) Push(s);
    while (!stack_.empty()) {
      int32_t s = stack_.back();
      stack_.pop_back();
      if (!nfa_.byte_edges(s).empty() || !nfa_.call_edges(s).empty() || s == nfa_.accept()) {
        out.push_back(s);
      }
      for (int32_t t : nfa_.epsilon(s)) Push(t);
    }
    std::sort(out.begin(), out.end());
    return out;
  }

 private:
  void Push(int32_t s) {
    if (stamp_[s] == generation_) return;
    stamp_[s] = generation_;
    stack_.push_back(s);
  }

  const Nfa& nfa_;
  std::vector<uint32_t> stamp_;
  std::vector<int32_t> stack_;
  uint32_t generation_ = 0;
};

// Class of the target of the byte edge of `edges` covering `pos`, -1 if none; *end receives the
// last byte for which the answer stays the same. `i` is a cursor that only moves forward.
inline int32_t ClassAt(std::span<const Fsm::ByteEdge> edges, size_t* i, int pos,
                       const std::vector<int32_t>& cls, int* end) {
  while (*i < edges.size() && edges[*i].hi < pos) ++*i;
  if (*i < edges.size() && edges[*i].lo <= pos) {
    *end = edges[*i].hi;
    return cls[edges[*i].target];
  }
  *end = *i < edges.size() ? edges[*i].lo - 1 : 255;
  return -1;
}

}  // namespace

// ---- Nfa / Fsm basics
// ----------------------------------------------------------------------------

int32_t Nfa::AddState() {
  states_.emplace_back();
  return static_cast<int32_t>(states_.size()) - 1;
}

int32_t Fsm::AddState() {
  states_.emplace_back();
  return static_cast<int32_t>(states_.size()) - 1;
}

void Fsm::Canonicalize() {
  for (State& st : states_) {
    std::sort(st.bytes.begin(), st.bytes.end(),
              [](const ByteEdge& a, const ByteEdge& b) { return a.lo < b.lo; });
    std::vector<ByteEdge> merged;
    merged.reserve(st.bytes.size());
    for (const ByteEdge& e : st.bytes) {
      if (!merged.empty() && merged.back().target == e.target && merged.back().hi + 1 == e.lo) {
        merged.back().hi = e.hi;
      } else {
        merged.push_back(e);
      }
    }
    st.bytes = std::move(merged);
    std::sort(st.calls.begin(), st.calls.end(), [](const CallEdge& a, const CallEdge& b) {
      return a.callee != b.callee ? a.callee < b.callee : a.target < b.target;
    });
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

Result<Fsm> Determinize(const Nfa& nfa, int32_t max_states) {
  Fsm dfa;
  if (nfa.start() == kNoState) return InternalError("determinize: NFA without a start state");
  ClosureComputer closer(nfa);
  std::unordered_map<std::vector<int32_t>, int32_t, VectorHash> ids;
  std::vector<std::vector<int32_t>> sets;  // DFA state -> important NFA states
  std::deque<int32_t> queue;

  auto intern = [&](std::vector<int32_t> set, int32_t* id) -> Status {
    auto it = ids.find(set);
    if (it != ids.end()) {
      *id = it->second;
      return Status::Ok();
    }
    if (dfa.num_states() >= max_states) {
      return LimitError("a rule's automaton needs more than " + std::to_string(max_states) +
                        " states (CompileOptions::max_rule_states)");
    }
    *id = dfa.AddState();
    bool accepting = std::binary_search(set.begin(), set.end(), nfa.accept());
    dfa.set_accepting(*id, accepting);
    ids.emplace(set, *id);
    sets.push_back(std::move(set));
    queue.push_back(*id);
    return Status::Ok();
  };

  int32_t start_id;
  const int32_t start_seed = nfa.start();
  SIEVE_RETURN_IF_ERROR(intern(closer.Close({&start_seed, 1}), &start_id));
  dfa.set_start(start_id);

  std::vector<Nfa::ByteEdge> edges;
  std::vector<Nfa::CallEdge> calls;
  std::vector<int32_t> seeds;
  while (!queue.empty()) {
    const int32_t d = queue.front();
    queue.pop_front();
    edges.clear();
    calls.clear();
    for (int32_t s : sets[d]) {
      for (const Nfa::ByteEdge& e : nfa.byte_edges(s)) edges.push_back(e);
      for (const Nfa::CallEdge& e : nfa.call_edges(s)) calls.push_back(e);
    }
    // Bytes: split [0, 255] at every edge boundary; each piece is covered entirely or not at all
    // by each edge.
    if (!edges.empty()) {
      bool boundary[257] = {};
      for (const Nfa::ByteEdge& e : edges) {
        boundary[e.lo] = true;
        boundary[e.hi + 1] = true;
      }
      int lo = 0;
      while (lo < 256) {
        int hi = lo;
        while (hi + 1 < 256 && !boundary[hi + 1]) ++hi;
        seeds.clear();
        for (const Nfa::ByteEdge& e : edges) {
          if (e.lo <= lo && e.hi >= hi) seeds.push_back(e.target);
        }
        if (!seeds.empty()) {
          int32_t target;
          SIEVE_RETURN_IF_ERROR(intern(closer.Close(seeds), &target));
          dfa.AddByteEdge(d, static_cast<uint8_t>(lo), static_cast<uint8_t>(hi), target);
        }
        lo = hi + 1;
      }
    }
    // Calls: one symbol per callee.
    std::sort(calls.begin(), calls.end(),
              [](const Nfa::CallEdge& a, const Nfa::CallEdge& b) { return a.callee < b.callee; });
    for (size_t i = 0; i < calls.size();) {
      size_t j = i;
      seeds.clear();
      while (j < calls.size() && calls[j].callee == calls[i].callee)
        seeds.push_back(calls[j++].target);
      int32_t target;
      SIEVE_RETURN_IF_ERROR(intern(closer.Close(seeds), &target));
      dfa.AddCallEdge(d, calls[i].callee, target);
      i = j;
    }
  }
  dfa.Canonicalize();
  return dfa;
}

// ---- Minimize -----------------------------------------------------------------------------------

Fsm Minimize(const Fsm& dfa) {
  if (dfa.empty()) return Fsm();
  const int32_t n = dfa.num_states();
  // Reachable states; others are dropped by giving them no class.
  std::vector<char> reached(n, 0);
  std::vector<int32_t> order{dfa.start()};
  reached[dfa.start()] = 1;
  for (size_t i = 0; i < order.size(); ++i) {
    const int32_t s = order[i];
    auto visit = [&](int32_t t) {
      if (!reached[t]) {
        reached[t] = 1;
        order.push_back(t);
      }
    };
    for (const Fsm::ByteEdge& e : dfa.byte_edges(s)) visit(e.target);
    for (const Fsm::CallEdge& e : dfa.call_edges(s)) visit(e.target);
  }

  std::vector<int32_t> cls(n, -1);
  for (int32_t s : order) cls[s] = (dfa.accepting(s) ? 1 : 0) | (dfa.loop_head(s) ? 2 : 0);
  // Three-way comparison of two states' signatures under the current classes.
  auto compare = [&](int32_t a, int32_t b) -> int {
    if (cls[a] != cls[b]) return cls[a] < cls[b] ? -1 : 1;
    auto ea = dfa.byte_edges(a), eb = dfa.byte_edges(b);
    size_t i = 0, j = 0;
    int pos = 0;
    while (pos <= 255) {
      int end_a, end_b;
      int32_t ta = ClassAt(ea, &i, pos, cls, &end_a);
      int32_t tb = ClassAt(eb, &j, pos, cls, &end_b);
      if (ta != tb) return ta < tb ? -1 : 1;
      pos = std::min(end_a, end_b) + 1;
    }
    auto ca = dfa.call_edges(a), cb = dfa.call_edges(b);
    if (ca.size() != cb.size()) return ca.size() < cb.size() ? -1 : 1;
    for (size_t k = 0; k < ca.size(); ++k) {
      if (ca[k].callee != cb[k].callee) return ca[k].callee < cb[k].callee ? -1 : 1;
      int32_t x = cls[ca[k].target], y = cls[cb[k].target];
      if (x != y) return x < y ? -1 : 1;
    }
    return 0;
  };

  std::vector<int32_t> sorted = order;
  std::vector<int32_t> next(n, -1);
  int32_t num_classes = -1;
  for (;;) {
    std::sort(sorted.begin(), sorted.end(),
              [&](int32_t a, int32_t b) { return compare(a, b) < 0; });
    int32_t count = 0;
    for (size_t i = 0; i < sorted.size(); ++i) {
      if (i > 0 && compare(sorted[i - 1], sorted[i]) != 0) ++count;
      next[sorted[i]] = count;
    }
    ++count;
    if (count == num_classes) break;
    num_classes = count;
    for (int32_t s : order) cls[s] = next[s];
  }

  // Number classes in breadth-first order from the start class; build from representatives.
  std::vector<int32_t> rep(num_classes, -1);
  for (int32_t s : order) {
    if (rep[cls[s]] < 0) rep[cls[s]] = s;
  }
  std::vector<int32_t> renum(num_classes, -1);
  std::vector<int32_t> bfs{cls[dfa.start()]};
  renum[bfs[0]] = 0;
  for (size_t i = 0; i < bfs.size(); ++i) {
    const int32_t s = rep[bfs[i]];
    auto visit = [&](int32_t t) {
      if (renum[cls[t]] < 0) {
        renum[cls[t]] = static_cast<int32_t>(bfs.size());
        bfs.push_back(cls[t]);
      }
    };
    for (const Fsm::ByteEdge& e : dfa.byte_edges(s)) visit(e.target);
    for (const Fsm::CallEdge& e : dfa.call_edges(s)) visit(e.target);
  }
  Fsm out;
  for (size_t i = 0; i < bfs.size(); ++i) out.AddState();
  for (size_t i = 0; i < bfs.size(); ++i) {
    const int32_t s = rep[bfs[i]];
    const int32_t id = static_cast<int32_t>(i);
    out.set_accepting(id, dfa.accepting(s));
    out.set_loop_head(id, dfa.loop_head(s));
    for (const Fsm::ByteEdge& e : dfa.byte_edges(s)) {
      out.AddByteEdge(id, e.lo, e.hi, renum[cls[e.target]]);
    }
    for (const Fsm::CallEdge& e : dfa.call_edges(s)) {
      out.AddCallEdge(id, e.callee, renum[cls[e.target]]);
    }
  }
  out.set_start(0);
  out.Canonicalize();
  return out;
}

// ---- Trim ---------------------------------------------------------------------------------------

Fsm Trim(const Fsm& dfa, const std::function<bool(RuleId)>& callable) {
  if (dfa.empty()) return Fsm();
  const int32_t n = dfa.num_states();
  // Reverse edges (only callable calls) for co-reachability.
  std::vector<std::vector<int32_t>> reverse(n);
  for (int32_t s = 0; s < n; ++s) {
    for (const Fsm::ByteEdge& e : dfa.byte_edges(s)) reverse[e.target].push_back(s);
    for (const Fsm::CallEdge& e : dfa.call_edges(s)) {
      if (callable(e.callee)) reverse[e.target].push_back(s);
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
    int32_t t = work.back();
    work.pop_back();
    for (int32_t s : reverse[t]) {
      if (!live[s]) {
        live[s] = 1;
        work.push_back(s);
      }
    }
  }
  if (!live[dfa.start()]) return Fsm();
  std::vector<int32_t> renum(n, -1);
  std::vector<int32_t> bfs{dfa.start()};
  renum[dfa.start()] = 0;
  for (size_t i = 0; i < bfs.size(); ++i) {
    const int32_t s = bfs[i];
    auto visit = [&](int32_t t) {
      if (live[t] && renum[t] < 0) {
        renum[t] = static_cast<int32_t>(bfs.size());
        bfs.push_back(t);
      }
    };
    for (const Fsm::ByteEdge& e : dfa.byte_edges(s)) visit(e.target);
    for (const Fsm::CallEdge& e : dfa.call_edges(s)) {
      if (callable(e.callee)) visit(e.target);
    }
  }
  Fsm out;
  for (size_t i = 0; i < bfs.size(); ++i) out.AddState();
  for (size_t i = 0; i < bfs.size(); ++i) {
    const int32_t s = bfs[i];
    const int32_t id = static_cast<int32_t>(i);
    out.set_accepting(id, dfa.accepting(s));
    out.set_loop_head(id, dfa.loop_head(s));
    for (const Fsm::ByteEdge& e : dfa.byte_edges(s)) {
      if (renum[e.target] >= 0) out.AddByteEdge(id, e.lo, e.hi, renum[e.target]);
    }
    for (const Fsm::CallEdge& e : dfa.call_edges(s)) {
      if (renum[e.target] >= 0 && callable(e.callee))
        out.AddCallEdge(id, e.callee, renum[e.target]);
    }
  }
  out.set_start(0);
  out.Canonicalize();
  return out;
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
