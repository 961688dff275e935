// Byte automata for one grammar rule: an NFA built from the rule's expression, its determinisation,
// and minimisation (equivalent-state merging).
//
// Alphabet. An edge reads one byte in an inclusive range [lo, hi], or "calls" another rule (the
// callee's whole match is consumed as one symbol; the pushdown automaton in pda.h gives calls their
// meaning). NFAs also have epsilon edges; DFAs have none.
//
// Determinism (an Fsm produced by Determinize, Minimize, Trim or MakeByteLoop):
//  - per state, byte edges are sorted by `lo` and pairwise disjoint, so at most one edge reads a
//    byte;
//  - per state, call edges are sorted by callee with at most one edge per callee. A state may both
//    read bytes and call rules: which path is right depends on the callee and is resolved at run
//    time by keeping several stacks (see matcher.h);
//  - every state is reachable from the start state.
// Trim additionally guarantees that every state can reach an accepting state, so a byte that leads
// anywhere leads to a completable prefix.
//
// Loop heads. A state flagged `loop_head` belongs to a counted repetition (pda.h): every edge that
// leaves it, byte or call, begins one more iteration of the repetition, and its acceptance is
// guarded by the iteration counter. Minimisation never merges a loop head with a state that is not
// one.
//
// Minimisation merges states whose flags agree and whose every byte and every callee leads to
// equivalent states (or nowhere, in both): the coarsest such partition, which for a trimmed
// automaton is the Myhill-Nerode equivalence of the call-labelled alphabet, so the result is the
// minimal automaton, numbered canonically (see Minimize). Two exact methods compute it:
//  - Acyclic automata (literals, enum alternatives, any finite language) are classified bottom-up
//    in one depth-first pass, every state after the targets of its edges, by hashing its flags and
//    its edges' target classes (Revuz's method): O(E) for E edges.
//  - Other automata use Hopcroft's partition refinement, in the form that suits partial automata
//    with range-labelled edges. The partition starts from the flags (accepting, loop head) and is
//    refined until every block is "stable": for every block B, the states of a block agree on
//    which bytes and which callees lead into B. A block is used as a splitter with all symbols at
//    once (the byte set that leads into it, as merged ranges, plus the callees that do), so edges
//    are never expanded to one transition per byte or byte class. Splitting a block that has
//    already served as a splitter re-queues every piece but the largest ("process the smaller
//    half"), which bounds the number of times a state's incoming edges are examined by
//    log2(states): O(E log n) for n states (times a log factor where a block must be sorted).
// Either way the cost does not depend on the automaton's shape: a chain or a cycle of 16,000
// states, which Moore's round-by-round refinement (used before) needed 16,000 rounds of
// O(n log n) for, costs no more than a tree of the same size.
//
// Subset construction costs, per DFA state, O(min(k log k, k + 256)) for the k NFA edges leaving
// its set (the byte ranges are swept once, not probed byte by byte) plus its successors' closures,
// and interns NFA state sets in one pool with an open-addressing table, so a set costs no
// allocation of its own. What it cannot avoid is the size of the sets themselves: an unanchored
// search for a periodic literal (the regex "aaaa...a" without anchors, i.e. .*a{n}.*) has DFA
// states whose sets hold O(n) NFA states, so that input costs O(n^2) here however the sets are
// handled; a literal, an anchored pattern or a set of alternatives has small sets and costs O(n).
//
// FsmWork counts abstract work units (edges examined, states moved between blocks) so tests can
// guard these bounds without measuring time.
#ifndef SIEVE_GRAMMAR_FSM_H_
#define SIEVE_GRAMMAR_FSM_H_

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "grammar/grammar.h"
#include "grammar/limits.h"
#include "grammar/support/status.h"

namespace sieve {

inline constexpr int32_t kNoState = -1;

// A nondeterministic byte automaton with epsilon and call edges, a single start and a single
// accepting state (Thompson style). Edges are kept in three flat lists in the order they were
// added, each with its source state: an NFA is built once and read once (Determinize indexes the
// lists by source), and a list per state would cost an allocation or three per state.
class Nfa {
 public:
  struct ByteEdge {
    uint8_t lo;
    uint8_t hi;
    int32_t target;
  };
  struct CallEdge {
    RuleId callee;
    int32_t target;
  };
  template <typename E>
  struct From {
    int32_t from;
    E edge;
  };

  int32_t AddState() { return num_states_++; }
  void AddEpsilon(int32_t from, int32_t to) { epsilon_.push_back({from, to}); }
  void AddBytes(int32_t from, uint8_t lo, uint8_t hi, int32_t to) {
    bytes_.push_back({from, {lo, hi, to}});
  }
  void AddCall(int32_t from, RuleId callee, int32_t to) { calls_.push_back({from, {callee, to}}); }
  void set_start(int32_t s) { start_ = s; }
  void set_accept(int32_t s) { accept_ = s; }

  int32_t num_states() const { return num_states_; }
  int32_t start() const { return start_; }
  int32_t accept() const { return accept_; }
  // Every edge of a kind, in the order added.
  std::span<const From<int32_t>> epsilon_edges() const { return epsilon_; }
  std::span<const From<ByteEdge>> byte_edges() const { return bytes_; }
  std::span<const From<CallEdge>> call_edges() const { return calls_; }

 private:
  int32_t num_states_ = 0;
  std::vector<From<int32_t>> epsilon_;
  std::vector<From<ByteEdge>> bytes_;
  std::vector<From<CallEdge>> calls_;
  int32_t start_ = kNoState;
  int32_t accept_ = kNoState;
};

// A deterministic byte automaton with call edges (see the file comment for the invariants).
class Fsm {
 public:
  struct ByteEdge {
    uint8_t lo;
    uint8_t hi;
    int32_t target;
    bool operator==(const ByteEdge&) const = default;
  };
  struct CallEdge {
    RuleId callee;
    int32_t target;
    bool operator==(const CallEdge&) const = default;
  };

  // ---- building (callers keep the invariants; Validate() checks them) ----
  int32_t AddState();
  void AddByteEdge(int32_t from, uint8_t lo, uint8_t hi, int32_t to) {
    states_[from].bytes.push_back({lo, hi, to});
  }
  void AddCallEdge(int32_t from, RuleId callee, int32_t to) {
    states_[from].calls.push_back({callee, to});
  }
  // Room for `bytes` byte edges and `calls` call edges at `s`: one allocation each where known,
  // rather than a series of doublings per state.
  void ReserveEdges(int32_t s, size_t bytes, size_t calls) {
    states_[s].bytes.reserve(bytes);
    states_[s].calls.reserve(calls);
  }
  void set_accepting(int32_t s, bool v) { states_[s].accepting = v; }
  void set_loop_head(int32_t s, bool v) { states_[s].loop_head = v; }
  void set_start(int32_t s) { start_ = s; }
  // Sorts each state's edges and merges adjacent byte edges with the same target.
  void Canonicalize();

  // ---- reading ----
  int32_t num_states() const { return static_cast<int32_t>(states_.size()); }
  bool empty() const { return states_.empty(); }
  int32_t start() const { return start_; }
  bool accepting(int32_t s) const { return states_[s].accepting; }
  bool loop_head(int32_t s) const { return states_[s].loop_head; }
  std::span<const ByteEdge> byte_edges(int32_t s) const { return states_[s].bytes; }
  std::span<const CallEdge> call_edges(int32_t s) const { return states_[s].calls; }
  // The target of the byte edge reading `b` from `s`, or kNoState.
  int32_t Step(int32_t s, uint8_t b) const;
  size_t num_byte_edges() const;
  size_t num_call_edges() const;

  bool HasCalls() const;
  // True when no accepting state has an outgoing edge: no accepted string is a proper prefix of
  // another, so the end of a match is known the moment its last byte is read.
  bool IsPrefixFree() const;
  // Checks the determinism invariants; kInternal on violation.
  Status Validate() const;
  // Structural equality (same numbering).
  bool operator==(const Fsm& other) const;
  // One line per state: "3* loop: [61-62]->4 call(2)->5" (* = accepting), for tests and debugging.
  std::string DebugString() const;

 private:
  struct State {
    std::vector<ByteEdge> bytes;
    std::vector<CallEdge> calls;
    bool accepting = false;
    bool loop_head = false;
    bool operator==(const State&) const = default;
  };
  std::vector<State> states_;
  int32_t start_ = kNoState;
};

// Work units spent by Determinize and Minimize (see the file comment); each call adds to the
// fields. Units are deterministic functions of the input, so tests may bound them exactly.
struct FsmWork {
  int64_t determinize = 0;  // NFA edges and closure states examined
  int64_t minimize = 0;     // incoming edges examined, signature entries built, states moved
  int64_t splitters = 0;    // blocks used as splitters by Minimize
};

// Subset construction. Calls with the same callee are one symbol. kLimit when more than
// `max_states` DFA states would be needed, when the DFA states' NFA state sets would hold more than
// `max_subset_states` entries in all (the memory and time of the O(n^2) case above), or when
// `deadline` (limits.h; null = none) expires.
Result<Fsm> Determinize(const Nfa& nfa, int32_t max_states, FsmWork* work = nullptr,
                        int64_t max_subset_states = INT64_MAX, const Deadline* deadline = nullptr);

// Merges equivalent states and drops unreachable ones. The start state becomes state 0 and the rest
// are numbered in breadth-first order (byte edges by their first byte, then calls by callee), so
// equal languages give identical automata.
Fsm Minimize(const Fsm& dfa, FsmWork* work = nullptr);

// Drops call edges whose callee fails `callable`, then every state that is unreachable or cannot
// reach an accepting state. Returns an empty Fsm (no states, start kNoState) when the start state
// itself is dead. Numbering as Minimize.
Fsm Trim(const Fsm& dfa, const std::function<bool(RuleId)>& callable);

// Whether Trim(dfa, callable) == dfa: nothing to drop, states already numbered as Trim numbers them
// and edges canonical. Costs what Trim costs minus building the copy, which is most of Trim's time
// on large automata, so callers that usually find nothing to trim ask this first.
bool IsTrimmed(const Fsm& dfa, const std::function<bool(RuleId)>& callable);

// Builds the byte-level loop `body*` with one iteration per body match, for a call-free,
// prefix-free body whose start state is not accepting (callers check). The result's start state is
// the loop head: accepting, flagged loop_head, with the body's first edges; every edge that
// completes a body match returns to it. The result is trimmed and minimised.
Fsm MakeByteLoop(const Fsm& body);

}  // namespace sieve

#endif  // SIEVE_GRAMMAR_FSM_H_
