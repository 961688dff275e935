// Code-point automata (see json_schema_automaton.h): Thompson construction from character-level
// expressions, subset construction over elementary code-point intervals, products, complement,
// length bounds, trimming and Moore minimisation.
//
// Everything here is small-automaton code: the automata come from one pattern, one format or one
// numeric bound, so the simple algorithms (sorted vectors, std::map keyed by state sets, Moore's
// refinement) are fast enough; what matters is that every loop is bounded by the state budget.
#include "grammar/json_schema_automaton.h"

#include <algorithm>
#include <deque>
#include <map>
#include <string>
#include <unordered_map>
#include <utility>

#include "grammar/regex_parser.h"
#include "grammar/support/utf8.h"

namespace sieve::jsonschema {
namespace {

constexpr char32_t kMaxCp = 0x10FFFF;
// DfaFromExpr's work budget per allowed DFA state (NFA states in subsets plus edges examined).
constexpr int64_t kDfaWorkPerState = 2000;

// The scalar values as two ranges (surrogates excluded).
constexpr CpDfa::Edge kAllRanges[2] = {{0, 0xD7FF, 0}, {0xE000, kMaxCp, 0}};

struct Nfa {
  struct Edge {
    char32_t lo, hi;
    int32_t to;
  };
  std::vector<std::vector<Edge>> edges;
  std::vector<std::vector<int32_t>> eps;
  int32_t Add() {
    edges.emplace_back();
    eps.emplace_back();
    return static_cast<int32_t>(edges.size() - 1);
  }
};

struct Frag {
  int32_t start, end;
};

class NfaBuilder {
 public:
  NfaBuilder(const Grammar& g, Nfa* nfa, int64_t max_states,
             const std::vector<std::pair<ExprId, char32_t>>* markers, const DfaRuleRefs* refs)
      : g_(g), nfa_(nfa), max_states_(max_states), refs_(refs) {
    if (markers != nullptr) markers_.insert(markers->begin(), markers->end());
  }

  Result<Frag> Build(ExprId e, int depth) {
    if (depth > 2000) return LimitError("pattern nests too deeply for the string automaton");
    if (static_cast<int64_t>(nfa_->edges.size()) > max_states_) {
      return LimitError("string automaton exceeds max_automaton_states (NFA)");
    }
    const Expr& x = g_.expr(e);
    switch (x.kind) {
      case ExprKind::kEmpty: {
        int32_t s = nfa_->Add();
        if (const auto m = markers_.find(e); m != markers_.end()) {
          const int32_t t = nfa_->Add();  // a word-boundary marker: an edge on its code point
          nfa_->edges[s].push_back({m->second, m->second, t});
          return Frag{s, t};
        }
        return Frag{s, s};
      }
      case ExprKind::kBytes: {
        std::string_view b = g_.bytes(x);
        int32_t s = nfa_->Add(), cur = s;
        size_t i = 0;
        while (i < b.size()) {
          char32_t cp;
          int n = DecodeUtf8(reinterpret_cast<const uint8_t*>(b.data()) + i, b.size() - i, &cp);
          if (n < 0) return InternalError("ill-formed UTF-8 in a literal");
          i += n;
          int32_t t = nfa_->Add();
          nfa_->edges[cur].push_back({cp, cp, t});
          cur = t;
        }
        return Frag{s, cur};
      }
      case ExprKind::kCharClass: {
        int32_t s = nfa_->Add(), t = nfa_->Add();
        for (const CodepointRange& r : g_.ranges(x)) nfa_->edges[s].push_back({r.lo, r.hi, t});
        return Frag{s, t};
      }
      case ExprKind::kSequence: {
        int32_t s = nfa_->Add(), cur = s;
        for (ExprId c : g_.children(x)) {
          auto f = Build(c, depth + 1);
          if (!f.ok()) return f.status();
          nfa_->eps[cur].push_back(f->start);
          cur = f->end;
        }
        return Frag{s, cur};
      }
      case ExprKind::kChoice: {
        int32_t s = nfa_->Add(), t = nfa_->Add();
        for (ExprId c : g_.children(x)) {
          auto f = Build(c, depth + 1);
          if (!f.ok()) return f.status();
          nfa_->eps[s].push_back(f->start);
          nfa_->eps[f->end].push_back(t);
        }
        return Frag{s, t};
      }
      case ExprKind::kRepeat: {
        ExprId item = g_.children(x)[0];
        int32_t s = nfa_->Add(), cur = s;
        for (int32_t i = 0; i < x.min; ++i) {
          auto f = Build(item, depth + 1);
          if (!f.ok()) return f.status();
          nfa_->eps[cur].push_back(f->start);
          cur = f->end;
        }
        if (x.max == kUnbounded) {
          auto f = Build(item, depth + 1);
          if (!f.ok()) return f.status();
          int32_t t = nfa_->Add();
          nfa_->eps[cur].push_back(f->start);
          nfa_->eps[cur].push_back(t);
          nfa_->eps[f->end].push_back(cur);
          return Frag{s, t};
        }
        int32_t t = nfa_->Add();
        nfa_->eps[cur].push_back(t);
        for (int32_t i = x.min; i < x.max; ++i) {
          auto f = Build(item, depth + 1);
          if (!f.ok()) return f.status();
          nfa_->eps[cur].push_back(f->start);
          nfa_->eps[f->end].push_back(t);
          cur = f->end;
        }
        return Frag{s, t};
      }
      case ExprKind::kRuleRef:
        return BuildRule(x.rule, depth);
    }
    return InternalError("unknown expression kind");
  }

 private:
  Result<Frag> BuildRule(RuleId r, int depth) {
    if (refs_ == nullptr) {
      return Unsupported("a rule reference cannot be part of a string automaton");
    }
    if (refs_->automaton) {
      auto d = refs_->automaton(r);
      if (!d.ok()) return d.status();
      if (*d != nullptr) return Splice(**d);
    }
    const Rule& rule = g_.rule(r);
    if (rule.lookahead != kNoExpr) {
      return Unsupported("rule '" + rule.name + "' has a lookahead assertion");
    }
    if (active_.size() < g_.num_rules()) active_.resize(g_.num_rules(), 0);
    if (active_[r]) {
      return Unsupported("rule '" + rule.name + "' refers to itself, so its language need not "
                         "be regular");
    }
    if (refs_->read != nullptr) refs_->read->push_back(r);
    active_[r] = 1;
    auto f = Build(rule.body, depth + kRuleReadDepth);
    active_[r] = 0;
    return f;
  }

  // A finished automaton as a fragment: its states and edges, its accepting states joined to
  // the fragment's end.
  Frag Splice(const CpDfa& d) {
    const int32_t base = static_cast<int32_t>(nfa_->edges.size());
    for (int32_t s = 0; s < d.num_states(); ++s) nfa_->Add();
    const int32_t end = nfa_->Add();
    for (int32_t s = 0; s < d.num_states(); ++s) {
      for (const CpDfa::Edge& e : d.edges(s)) {
        nfa_->edges[base + s].push_back({e.lo, e.hi, base + e.to});
      }
      if (d.accepting(s)) nfa_->eps[base + s].push_back(end);
    }
    return Frag{base, end};
  }

  const Grammar& g_;
  Nfa* nfa_;
  int64_t max_states_;
  std::unordered_map<ExprId, char32_t> markers_;  // word-boundary markers (DfaFromExpr)
  const DfaRuleRefs* refs_;
  std::vector<uint8_t> active_;  // rules being read in place (BuildRule)
};

void Closure(const Nfa& nfa, std::vector<int32_t>* set, std::vector<uint8_t>* mark) {
  std::vector<int32_t> stack(set->begin(), set->end());
  for (int32_t s : *set) (*mark)[s] = 1;
  while (!stack.empty()) {
    int32_t s = stack.back();
    stack.pop_back();
    for (int32_t t : nfa.eps[s]) {
      if (!(*mark)[t]) {
        (*mark)[t] = 1;
        set->push_back(t);
        stack.push_back(t);
      }
    }
  }
  for (int32_t s : *set) (*mark)[s] = 0;
  std::sort(set->begin(), set->end());
}

// Intersection of two sorted, disjoint range lists, reporting each overlap.
template <typename F>
void ForEachOverlap(const std::vector<CpDfa::Edge>& a, const std::vector<CpDfa::Edge>& b, F f) {
  size_t i = 0, j = 0;
  while (i < a.size() && j < b.size()) {
    char32_t lo = std::max(a[i].lo, b[j].lo), hi = std::min(a[i].hi, b[j].hi);
    if (lo <= hi) f(lo, hi, a[i].to, b[j].to);
    if (a[i].hi < b[j].hi) {
      ++i;
    } else {
      ++j;
    }
  }
}

// The edges of `s` made total over the scalar values: gaps go to `dead`.
std::vector<CpDfa::Edge> Totalize(const std::vector<CpDfa::Edge>& edges, int32_t dead) {
  std::vector<CpDfa::Edge> out;
  for (const CpDfa::Edge& all : kAllRanges) {
    char32_t next = all.lo;
    for (const CpDfa::Edge& e : edges) {
      if (e.hi < all.lo || e.lo > all.hi) continue;
      if (e.lo > next) out.push_back({next, e.lo - 1, dead});
      out.push_back({std::max(e.lo, all.lo), std::min(e.hi, all.hi), e.to});
      next = std::min(e.hi, all.hi) + 1;
    }
    if (next <= all.hi) out.push_back({next, all.hi, dead});
  }
  return out;
}

// Product of two automata; `accept(a_acc, b_acc)` decides acceptance. With `total`, missing edges
// go to a virtual dead state (-1) on each side, so unions see every string.
template <typename Acc>
Result<CpDfa> Product(const CpDfa& a, const CpDfa& b, int32_t max_states, bool total, Acc accept) {
  CpDfa out;
  // States are numbered in discovery order and the queue is that order (state i is the pair
  // queue[i]); pairs are found through an open-addressing table of state numbers (-1: empty),
  // hashed by the packed pair (-1, the dead side of a total product, packed as 0).
  std::vector<std::pair<int32_t, int32_t>> queue;
  std::vector<int32_t> table(64, -1);
  auto pack = [](int32_t x, int32_t y) {
    return static_cast<uint64_t>(static_cast<uint32_t>(x + 1)) << 32 | static_cast<uint32_t>(y + 1);
  };
  auto slot_of = [&](uint64_t key) {
    const size_t mask = table.size() - 1;
    size_t slot = static_cast<size_t>((key * 0x9E3779B97F4A7C15ull) >> 20) & mask;
    while (table[slot] >= 0 && pack(queue[table[slot]].first, queue[table[slot]].second) != key) {
      slot = (slot + 1) & mask;
    }
    return slot;
  };
  auto id_of = [&](int32_t x, int32_t y) -> int32_t {
    const uint64_t key = pack(x, y);
    size_t slot = slot_of(key);
    if (table[slot] >= 0) return table[slot];
    const int32_t id = out.num_states();
    bool ax = x >= 0 && a.accepting(x), ay = y >= 0 && b.accepting(y);
    out.AddState(accept(ax, ay));
    queue.emplace_back(x, y);
    if (queue.size() * 2 > table.size()) {  // grow (at most half full), re-placing every pair
      table.assign(table.size() * 2, -1);
      for (int32_t i = 0; i < static_cast<int32_t>(queue.size()); ++i) {
        table[slot_of(pack(queue[i].first, queue[i].second))] = i;
      }
    } else {
      table[slot] = id;
    }
    return id;
  };
  id_of(a.num_states() ? 0 : -1, b.num_states() ? 0 : -1);
  static const std::vector<CpDfa::Edge> kNone;
  for (size_t head = 0; head < queue.size(); ++head) {
    const auto [x, y] = queue[head];
    const auto from = static_cast<int32_t>(head);
    if (out.num_states() > max_states) return LimitError("automaton exceeds max_automaton_states");
    const auto& ea = x >= 0 ? a.edges(x) : kNone;
    const auto& eb = y >= 0 ? b.edges(y) : kNone;
    if (total) {
      ForEachOverlap(Totalize(ea, -1), Totalize(eb, -1),
                     [&](char32_t lo, char32_t hi, int32_t tx, int32_t ty) {
                       if (tx < 0 && ty < 0) return;
                       out.AddEdge(from, lo, hi, id_of(tx, ty));
                     });
    } else {
      ForEachOverlap(ea, eb, [&](char32_t lo, char32_t hi, int32_t tx, int32_t ty) {
        out.AddEdge(from, lo, hi, id_of(tx, ty));
      });
    }
  }
  out.Normalize();
  return out;
}

// States that can reach an accepting state.
std::vector<uint8_t> CoReachable(const CpDfa& a) {
  // Reverse edges in one array (rev_begin[t]..rev_begin[t + 1] are t's predecessors).
  const int32_t n = a.num_states();
  std::vector<int32_t> rev_begin(n + 1, 0);
  for (int32_t s = 0; s < n; ++s) {
    for (const CpDfa::Edge& e : a.edges(s)) ++rev_begin[e.to + 1];
  }
  for (int32_t t = 0; t < n; ++t) rev_begin[t + 1] += rev_begin[t];
  std::vector<int32_t> rev(rev_begin[n]);
  {
    std::vector<int32_t> fill(rev_begin.begin(), rev_begin.end() - 1);
    for (int32_t s = 0; s < n; ++s) {
      for (const CpDfa::Edge& e : a.edges(s)) rev[fill[e.to]++] = s;
    }
  }
  std::vector<uint8_t> live(a.num_states(), 0);
  std::vector<int32_t> stack;
  for (int32_t s = 0; s < a.num_states(); ++s) {
    if (a.accepting(s)) {
      live[s] = 1;
      stack.push_back(s);
    }
  }
  while (!stack.empty()) {
    int32_t s = stack.back();
    stack.pop_back();
    for (int32_t k = rev_begin[s]; k < rev_begin[s + 1]; ++k) {
      const int32_t p = rev[k];
      if (!live[p]) {
        live[p] = 1;
        stack.push_back(p);
      }
    }
  }
  return live;
}

// Minimisation of an acyclic automaton in one pass: states in reverse topological order get the
// class of their signature (acceptance, ranges, target classes), which are final by then. Exact for
// acyclic automata, and linear where Moore's refinement needs one round per length (the products
// with a length bound are acyclic). Returns false (and does nothing) on a cycle.
bool AcyclicMinimize(const CpDfa& a, const std::vector<int32_t>& order,
                     const std::vector<int32_t>& id, std::vector<int32_t>* cls,
                     int32_t* num_classes) {
  const int32_t n = static_cast<int32_t>(order.size());
  std::vector<int8_t> color(n, 0);
  std::vector<int32_t> post;
  post.reserve(n);
  std::vector<std::pair<int32_t, size_t>> stack{{0, 0}};
  color[0] = 1;
  while (!stack.empty()) {
    auto& [i, k] = stack.back();
    const auto& edges = a.edges(order[i]);
    if (k < edges.size()) {
      int32_t t = id[edges[k++].to];
      if (t < 0) continue;
      if (color[t] == 1) return false;
      if (color[t] == 0) {
        color[t] = 1;
        stack.push_back({t, 0});
      }
      continue;
    }
    color[i] = 2;
    post.push_back(i);
    stack.pop_back();
  }
  std::map<std::vector<int64_t>, int32_t> sigs;
  std::vector<int64_t> sig;
  for (int32_t i : post) {  // successors first
    sig.assign(1, a.accepting(order[i]) ? 1 : 0);
    int64_t last_hi = -2, last_cls = -1;
    for (const CpDfa::Edge& e : a.edges(order[i])) {
      if (id[e.to] < 0) continue;
      int64_t tc = (*cls)[id[e.to]];
      if (tc == last_cls && static_cast<int64_t>(e.lo) == last_hi + 1) {
        sig[sig.size() - 2] = e.hi;
      } else {
        sig.push_back(e.lo);
        sig.push_back(e.hi);
        sig.push_back(tc);
      }
      last_hi = e.hi;
      last_cls = tc;
    }
    auto [it, fresh] = sigs.emplace(sig, static_cast<int32_t>(sigs.size()));
    (*cls)[i] = it->second;
  }
  *num_classes = static_cast<int32_t>(sigs.size());
  return true;
}

}  // namespace

int32_t CpDfa::AddState(bool accepting) {
  out_.emplace_back();
  accept_.push_back(accepting ? 1 : 0);
  return static_cast<int32_t>(out_.size() - 1);
}

void CpDfa::Normalize() {
  for (auto& v : out_) {
    std::sort(v.begin(), v.end(), [](const Edge& x, const Edge& y) { return x.lo < y.lo; });
    // Merge adjacent ranges with the same target.
    std::vector<Edge> merged;
    for (const Edge& e : v) {
      if (!merged.empty() && merged.back().to == e.to && merged.back().hi + 1 == e.lo) {
        merged.back().hi = e.hi;
      } else {
        merged.push_back(e);
      }
    }
    v = std::move(merged);
  }
}

int32_t CpDfa::Step(int32_t s, char32_t c) const {
  const auto& v = out_[s];
  auto it =
      std::upper_bound(v.begin(), v.end(), c, [](char32_t x, const Edge& e) { return x < e.lo; });
  if (it == v.begin()) return -1;
  --it;
  return c <= it->hi ? it->to : -1;
}

bool CpDfa::Accepts(std::string_view utf8) const {
  if (out_.empty()) return false;
  int32_t s = 0;
  size_t i = 0;
  while (i < utf8.size()) {
    char32_t cp;
    int n = DecodeUtf8(reinterpret_cast<const uint8_t*>(utf8.data()) + i, utf8.size() - i, &cp);
    if (n < 0) return false;
    i += n;
    s = Step(s, cp);
    if (s < 0) return false;
  }
  return accepting(s);
}

size_t CpDfa::num_edges() const {
  size_t n = 0;
  for (const auto& v : out_) n += v.size();
  return n;
}

CpDfa EmptyDfa() {
  CpDfa d;
  d.AddState(false);
  return d;
}

CpDfa AnyStringDfa() {
  CpDfa d;
  d.AddState(true);
  for (const CpDfa::Edge& e : kAllRanges) d.AddEdge(0, e.lo, e.hi, 0);
  return d;
}

CpDfa LiteralSetDfa(const std::vector<std::string>& strings) {
  CpDfa d;
  d.AddState(false);
  std::vector<std::map<char32_t, int32_t>> kids(1);
  for (const std::string& s : strings) {
    int32_t cur = 0;
    size_t i = 0;
    bool ok = true;
    while (i < s.size()) {
      char32_t cp;
      int n = DecodeUtf8(reinterpret_cast<const uint8_t*>(s.data()) + i, s.size() - i, &cp);
      if (n < 0) {
        ok = false;
        break;
      }
      i += n;
      auto it = kids[cur].find(cp);
      if (it == kids[cur].end()) {
        int32_t t = d.AddState(false);
        kids.emplace_back();
        kids[cur][cp] = t;
        cur = t;
      } else {
        cur = it->second;
      }
    }
    if (ok) d.set_accepting(cur, true);
  }
  for (int32_t s = 0; s < d.num_states(); ++s) {
    for (auto [cp, t] : kids[s]) d.AddEdge(s, cp, cp, t);
  }
  d.Normalize();
  return d;
}

// Word boundaries: `a` reads the marker code points kWordBoundaryMarker / kNonWordBoundaryMarker
// (regex_parser.h: surrogates) where the pattern asserts. The result accepts the strings s such
// that `a` accepts s with markers put between its code points (any number at one place), each of
// them true there (DfaFromExpr's comment).
static Result<CpDfa> EliminateBoundaryMarkers(const CpDfa& a, int32_t max_states) {
  if (a.num_states() == 0) return EmptyDfa();
  auto is_word = [](char32_t c) {
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || c == '_' || (c >= 'a' && c <= 'z');
  };
  // What the next code point must be after the markers passed so far: anything, a word
  // character, or a non-word character or the end.
  enum Need : uint8_t { kAny = 0, kWord = 1, kNonWord = 2 };
  // A state of the result: the word-ness of the code point read last (false at the start) and
  // the states of `a` it may be in, sorted (markers are taken lazily, when the next code point or
  // the end is known).
  using Key = std::pair<bool, std::vector<int32_t>>;
  CpDfa out;
  std::map<Key, int32_t> ids;
  std::deque<Key> queue;
  auto id_of = [&](Key key) {
    auto [it, fresh] = ids.emplace(key, out.num_states());
    if (fresh) {
      out.AddState(false);
      queue.push_back(std::move(key));
    }
    return it->second;
  };
  id_of({false, {0}});
  // Code points where word-ness changes (each starts an interval of equal word-ness).
  static constexpr char32_t kWordCuts[] = {'0', '9' + 1, 'A', 'Z' + 1, '_', '_' + 1, 'a', 'z' + 1};
  std::vector<std::pair<int32_t, Need>> closure;
  std::vector<char32_t> cuts;
  while (!queue.empty()) {
    const Key key = std::move(queue.front());
    queue.pop_front();
    const int32_t from = ids[key];
    if (out.num_states() > max_states) {
      return LimitError("the word-boundary automaton exceeds its limit of " +
                        std::to_string(max_states) + " states");
    }
    const bool last_word = key.first;
    // The markers' closure: (state, need) pairs; a marker turns "anything" into a need, and a
    // need that contradicts the new one kills the path.
    closure.clear();
    for (const int32_t q : key.second) closure.push_back({q, kAny});
    for (size_t i = 0; i < closure.size(); ++i) {
      const auto [q, need] = closure[i];
      for (const char32_t m : {kWordBoundaryMarker, kNonWordBoundaryMarker}) {
        const int32_t t = a.Step(q, m);
        if (t < 0) continue;
        const bool next_word = (m == kWordBoundaryMarker) != last_word;
        const Need want = next_word ? kWord : kNonWord;
        if (need != kAny && need != want) continue;
        if (std::find(closure.begin(), closure.end(), std::make_pair(t, want)) == closure.end()) {
          closure.push_back({t, want});
        }
      }
    }
    bool accepting = false;
    cuts.assign(std::begin(kWordCuts), std::end(kWordCuts));
    for (const auto& [q, need] : closure) {
      accepting = accepting || (a.accepting(q) && need != kWord);
      for (const CpDfa::Edge& e : a.edges(q)) {
        cuts.push_back(e.lo);
        if (e.hi < kMaxCp) cuts.push_back(e.hi + 1);
      }
    }
    out.set_accepting(from, accepting);
    cuts.push_back(0);
    std::sort(cuts.begin(), cuts.end());
    cuts.erase(std::unique(cuts.begin(), cuts.end()), cuts.end());
    for (size_t i = 0; i < cuts.size(); ++i) {
      const char32_t lo = cuts[i];
      const char32_t hi = i + 1 < cuts.size() ? cuts[i + 1] - 1 : kMaxCp;
      if (lo >= 0xD800 && hi <= 0xDFFF) continue;  // markers and other surrogates: not text
      const bool word = is_word(lo);
      std::vector<int32_t> next;
      for (const auto& [q, need] : closure) {
        if (need == (word ? kNonWord : kWord)) continue;
        const int32_t t = a.Step(q, lo);
        if (t >= 0) next.push_back(t);
      }
      if (next.empty()) continue;
      std::sort(next.begin(), next.end());
      next.erase(std::unique(next.begin(), next.end()), next.end());
      const int32_t to = id_of({word, std::move(next)});
      out.AddEdge(from, lo, hi, to);
    }
  }
  out.Normalize();
  return out;
}

Result<CpDfa> DfaFromExpr(const Grammar& g, ExprId e, int32_t max_states,
                          const std::vector<std::pair<ExprId, char32_t>>* markers,
                          const DfaRuleRefs* refs) {
  Nfa nfa;
  NfaBuilder builder(g, &nfa, int64_t{max_states} * 8, markers, refs);
  auto frag = builder.Build(e, 0);
  if (!frag.ok()) return frag.status();
  // Work: NFA states over all subsets, and edges examined. Large repetition counts (capped
  // patterns) make subsets of thousands of NFA states; without a bound one pattern took 20 s.
  const int64_t max_work = int64_t{max_states} * kDfaWorkPerState;
  int64_t work = 0;
  std::vector<uint8_t> mark(nfa.edges.size(), 0);
  CpDfa out;
  std::map<std::vector<int32_t>, int32_t> ids;
  std::deque<std::vector<int32_t>> queue;
  auto id_of = [&](std::vector<int32_t> set) -> int32_t {
    Closure(nfa, &set, &mark);
    work += static_cast<int64_t>(set.size());
    auto it = ids.find(set);
    if (it != ids.end()) return it->second;
    bool acc = std::binary_search(set.begin(), set.end(), frag->end);
    int32_t id = out.AddState(acc);
    ids.emplace(set, id);
    queue.push_back(std::move(set));
    return id;
  };
  id_of({frag->start});
  std::vector<Nfa::Edge> edges;
  std::vector<char32_t> cuts;
  std::vector<size_t> active;
  std::vector<int32_t> targets;
  while (!queue.empty()) {
    std::vector<int32_t> set = std::move(queue.front());
    queue.pop_front();
    int32_t from = ids[set];
    if (out.num_states() > max_states) {
      return LimitError("string automaton exceeds max_automaton_states");
    }
    if (work > max_work) {
      return LimitError("string automaton needs more than " + std::to_string(max_work) +
                        " steps of subset construction (max_automaton_states x " +
                        std::to_string(kDfaWorkPerState) + ")");
    }
    edges.clear();
    cuts.clear();
    for (int32_t s : set) {
      for (const Nfa::Edge& x : nfa.edges[s]) {
        edges.push_back(x);
        cuts.push_back(x.lo);
        cuts.push_back(x.hi + 1);
      }
    }
    if (edges.empty()) continue;
    work += static_cast<int64_t>(edges.size());
    std::sort(cuts.begin(), cuts.end());
    cuts.erase(std::unique(cuts.begin(), cuts.end()), cuts.end());
    std::sort(edges.begin(), edges.end(),
              [](const Nfa::Edge& a, const Nfa::Edge& b) { return a.lo < b.lo; });
    // Sweep the pieces between cuts left to right; an edge is active from the piece starting at
    // its lo (every lo is a cut) until a piece starts past its hi.
    active.clear();
    size_t next = 0;
    for (size_t i = 0; i + 1 < cuts.size(); ++i) {
      const char32_t lo = cuts[i], hi = cuts[i + 1] - 1;
      size_t kept = 0;
      for (const size_t a : active) {
        if (edges[a].hi >= lo) active[kept++] = a;
      }
      active.resize(kept);
      while (next < edges.size() && edges[next].lo == lo) active.push_back(next++);
      if (active.empty()) continue;
      targets.clear();
      for (const size_t a : active) targets.push_back(edges[a].to);
      work += static_cast<int64_t>(targets.size());
      std::sort(targets.begin(), targets.end());
      targets.erase(std::unique(targets.begin(), targets.end()), targets.end());
      out.AddEdge(from, lo, hi, id_of(targets));
    }
  }
  out.Normalize();
  // Word boundaries go here; other markers (lookarounds: regex_lookaround_dfa.h) stay on edges.
  if (markers == nullptr || !HasWordBoundaryMarkers(*markers)) return out;
  return EliminateBoundaryMarkers(out, max_states);
}

Result<CpDfa> Intersect(const CpDfa& a, const CpDfa& b, int32_t max_states) {
  return Product(a, b, max_states, false, [](bool x, bool y) { return x && y; });
}

Result<CpDfa> Union(const CpDfa& a, const CpDfa& b, int32_t max_states) {
  return Product(a, b, max_states, true, [](bool x, bool y) { return x || y; });
}

CpDfa Complement(const CpDfa& a) {
  CpDfa out;
  int32_t n = a.num_states();
  for (int32_t s = 0; s < n; ++s) out.AddState(!a.accepting(s));
  int32_t dead = out.AddState(true);
  if (n == 0) {
    for (const CpDfa::Edge& e : kAllRanges) out.AddEdge(dead, e.lo, e.hi, dead);
    out.Normalize();
    return out;
  }
  for (int32_t s = 0; s < n; ++s) {
    for (const CpDfa::Edge& e : Totalize(a.edges(s), dead)) out.AddEdge(s, e.lo, e.hi, e.to);
  }
  for (const CpDfa::Edge& e : kAllRanges) out.AddEdge(dead, e.lo, e.hi, dead);
  out.Normalize();
  return out;
}

Result<CpDfa> BoundLength(const CpDfa& a, int64_t min, int64_t max, int32_t max_states) {
  // Counter c: exact up to `max` (bounded), saturating at `min` otherwise.
  int64_t cap = max >= 0 ? max : min;
  if (a.num_states() == 0) return EmptyDfa();
  CpDfa out;
  std::map<std::pair<int32_t, int64_t>, int32_t> ids;
  std::deque<std::pair<int32_t, int64_t>> queue;
  auto id_of = [&](int32_t s, int64_t c) {
    auto [it, fresh] = ids.emplace(std::make_pair(s, c), out.num_states());
    if (fresh) {
      out.AddState(a.accepting(s) && c >= min);
      queue.emplace_back(s, c);
    }
    return it->second;
  };
  id_of(0, 0);
  while (!queue.empty()) {
    auto [s, c] = queue.front();
    queue.pop_front();
    if (out.num_states() > max_states) {
      return LimitError("length-bounded string automaton exceeds max_automaton_states");
    }
    int32_t from = ids[{s, c}];
    if (max >= 0 && c >= max) continue;
    int64_t next = std::min(c + 1, cap);
    for (const CpDfa::Edge& e : a.edges(s)) out.AddEdge(from, e.lo, e.hi, id_of(e.to, next));
  }
  out.Normalize();
  return out;
}

CpDfa Minimize(const CpDfa& a) {
  if (a.num_states() == 0) return EmptyDfa();
  std::vector<uint8_t> live = CoReachable(a);
  if (!live[0]) return EmptyDfa();
  // Reachable and live states, renumbered.
  std::vector<int32_t> id(a.num_states(), -1), order;
  id[0] = 0;
  order.push_back(0);
  for (size_t i = 0; i < order.size(); ++i) {
    for (const CpDfa::Edge& e : a.edges(order[i])) {
      if (live[e.to] && id[e.to] < 0) {
        id[e.to] = static_cast<int32_t>(order.size());
        order.push_back(e.to);
      }
    }
  }
  const int32_t n = static_cast<int32_t>(order.size());
  std::vector<int32_t> cls(n);
  int32_t num_classes = 0;
  if (!AcyclicMinimize(a, order, id, &cls, &num_classes)) {
    for (int32_t i = 0; i < n; ++i) cls[i] = a.accepting(order[i]) ? 1 : 0;
    // Moore refinement: a state's signature is its class and its edges' (range, target class)
    // with adjacent ranges to one class merged. Signatures go to one flat buffer per round and
    // are numbered through an open-addressing table of (hash, first state with it).
    std::vector<int64_t> pool;
    std::vector<size_t> sig_begin(n + 1);
    std::vector<uint64_t> sig_hash(n);
    std::vector<int32_t> table, first_of_class;
    std::vector<int32_t> next(n);
    for (;;) {
      pool.clear();
      for (int32_t i = 0; i < n; ++i) {
        sig_begin[i] = pool.size();
        pool.push_back(cls[i]);
        int64_t last_hi = -2, last_cls = -1;
        for (const CpDfa::Edge& e : a.edges(order[i])) {
          if (id[e.to] < 0) continue;
          int64_t tc = cls[id[e.to]];
          if (tc == last_cls && static_cast<int64_t>(e.lo) == last_hi + 1) {
            pool[pool.size() - 2] = e.hi;  // extend the previous range
          } else {
            pool.push_back(e.lo);
            pool.push_back(e.hi);
            pool.push_back(tc);
          }
          last_hi = e.hi;
          last_cls = tc;
        }
        uint64_t h = 1469598103934665603ull;
        for (size_t k = sig_begin[i]; k < pool.size(); ++k) {
          h = (h ^ static_cast<uint64_t>(pool[k])) * 1099511628211ull;
        }
        sig_hash[i] = h;
      }
      sig_begin[n] = pool.size();
      size_t cap = 16;
      while (cap < 2 * static_cast<size_t>(n)) cap *= 2;
      table.assign(cap, -1);
      first_of_class.clear();
      for (int32_t i = 0; i < n; ++i) {
        const int64_t* si = pool.data() + sig_begin[i];
        const size_t len = sig_begin[i + 1] - sig_begin[i];
        for (size_t slot = sig_hash[i] & (cap - 1);; slot = (slot + 1) & (cap - 1)) {
          const int32_t c = table[slot];
          if (c < 0) {
            table[slot] = static_cast<int32_t>(first_of_class.size());
            next[i] = static_cast<int32_t>(first_of_class.size());
            first_of_class.push_back(i);
            break;
          }
          const int32_t j = first_of_class[c];
          if (sig_hash[j] == sig_hash[i] && sig_begin[j + 1] - sig_begin[j] == len &&
              std::equal(si, si + len, pool.data() + sig_begin[j])) {
            next[i] = c;
            break;
          }
        }
      }
      int32_t count = static_cast<int32_t>(first_of_class.size());
      cls.swap(next);
      if (count == num_classes) break;
      num_classes = count;
    }
  }
  // Renumber classes so that the start's class is state 0, in BFS order.
  std::vector<int32_t> cid(num_classes, -1), rep;
  CpDfa out;
  cid[cls[0]] = out.AddState(a.accepting(order[0]));
  rep.push_back(0);
  for (size_t k = 0; k < rep.size(); ++k) {
    int32_t i = rep[k];
    for (const CpDfa::Edge& e : a.edges(order[i])) {
      if (id[e.to] < 0) continue;
      int32_t c = cls[id[e.to]];
      if (cid[c] < 0) {
        cid[c] = out.AddState(a.accepting(e.to));
        rep.push_back(id[e.to]);
      }
      out.AddEdge(static_cast<int32_t>(k), e.lo, e.hi, cid[c]);
    }
  }
  out.Normalize();
  return out;
}

bool IsEmptyLanguage(const CpDfa& a) {
  if (a.num_states() == 0) return true;
  return !CoReachable(a)[0];
}

bool LengthRange(const CpDfa& a, int64_t* min, int64_t* max) {
  CpDfa m = Minimize(a);
  if (IsEmptyLanguage(m)) return false;
  const int32_t n = m.num_states();
  // Shortest: BFS.
  std::vector<int64_t> dist(n, -1);
  dist[0] = 0;
  std::deque<int32_t> q{0};
  *min = -1;
  while (!q.empty()) {
    int32_t s = q.front();
    q.pop_front();
    if (m.accepting(s) && *min < 0) *min = dist[s];
    for (const CpDfa::Edge& e : m.edges(s)) {
      if (dist[e.to] < 0) {
        dist[e.to] = dist[s] + 1;
        q.push_back(e.to);
      }
    }
  }
  // Longest: DFS with cycle detection over the trimmed automaton (all states live).
  std::vector<int8_t> color(n, 0);
  std::vector<int64_t> longest(n, -1);
  std::vector<std::pair<int32_t, size_t>> stack{{0, 0}};
  color[0] = 1;
  while (!stack.empty()) {
    auto& [s, i] = stack.back();
    const auto& edges = m.edges(s);
    if (i < edges.size()) {
      int32_t t = edges[i++].to;
      if (color[t] == 1) {
        *max = -1;
        return true;
      }
      if (color[t] == 0) {
        color[t] = 1;
        stack.push_back({t, 0});
      }
      continue;
    }
    int64_t best = m.accepting(s) ? 0 : -1;
    for (const CpDfa::Edge& e : edges) {
      if (longest[e.to] >= 0) best = std::max(best, longest[e.to] + 1);
    }
    longest[s] = best;
    color[s] = 2;
    stack.pop_back();
  }
  *max = longest[0];
  return true;
}

}  // namespace sieve::jsonschema
