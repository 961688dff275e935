// Grammar simplification (see simplify.h for what each pass does and guarantees).
//
// The passes work on a private tree form (Node: an expression owning its children) rather than on
// the append-only arena, because they rewrite freely; the result is emitted into a fresh Grammar.
// Tree recursion is safe because the input height is checked (iteratively) against max_expr_depth
// first, and the passes add only a bounded amount: inlining only substitutes bodies at most
// inline_max_depth deep, and the left-recursion rewrite adds two levels.
//
// Order: remove dead rules -> normalise -> rewrite left recursion -> inline (normalising what it
// changed) -> merge equal rules -> remove dead rules. Rule graphs can have 100k rules, so graph
// algorithms (reachability, Tarjan's strongly connected components, nullability) are iterative with
// worklists.
#include "grammar/simplify.h"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "grammar/support/utf8.h"

namespace sieve {
namespace {

struct Node {
  ExprKind kind = ExprKind::kEmpty;
  bool negated = false;
  int32_t min = 0, max = 0;
  RuleId rule = -1;
  int32_t offset = -1;
  std::string bytes;
  std::vector<CodepointRange> ranges;  // normalised (negation applied)
  std::vector<Node> kids;
};

Node MakeNode(ExprKind kind, std::vector<Node> kids, int32_t min = 0, int32_t max = 0) {
  Node n;
  n.kind = kind;
  n.kids = std::move(kids);
  n.min = min;
  n.max = max;
  return n;
}

bool IsComposite(ExprKind k) {
  return k == ExprKind::kSequence || k == ExprKind::kChoice || k == ExprKind::kRepeat;
}

// ---- conversion between the arena and trees ----

int ArenaHeight(const Grammar& g, ExprId root) {
  int best = 0;
  std::vector<std::pair<ExprId, int>> stack{{root, 1}};
  while (!stack.empty()) {
    auto [id, d] = stack.back();
    stack.pop_back();
    best = std::max(best, d);
    const Expr& e = g.expr(id);
    if (IsComposite(e.kind)) {
      for (ExprId c : g.children(e)) stack.push_back({c, d + 1});
    }
  }
  return best;
}

Node FromArena(const Grammar& g, ExprId id) {
  const Expr& e = g.expr(id);
  Node n;
  n.kind = e.kind;
  n.negated = e.negated;
  n.min = e.min;
  n.max = e.max;
  n.rule = e.rule;
  n.offset = e.source_offset;
  if (e.kind == ExprKind::kBytes) n.bytes = std::string(g.bytes(e));
  if (e.kind == ExprKind::kCharClass) n.ranges.assign(g.ranges(e).begin(), g.ranges(e).end());
  if (IsComposite(e.kind)) {
    n.kids.reserve(e.size);
    for (ExprId c : g.children(e)) n.kids.push_back(FromArena(g, c));
  }
  return n;
}

ExprId ToArena(const Node& n, const std::vector<RuleId>& new_id, Grammar* out) {
  switch (n.kind) {
    case ExprKind::kEmpty:
      return out->AddEmpty(n.offset);
    case ExprKind::kBytes:
      return out->AddBytes(n.bytes, n.offset);
    case ExprKind::kCharClass:
      // AddCharClass re-applies the negation, so a negated class passes its complement.
      return out->AddCharClass(n.negated ? Grammar::NormalizeRanges(n.ranges, true) : n.ranges,
                               n.negated, n.offset);
    case ExprKind::kRuleRef:
      return out->AddRuleRef(new_id[n.rule], n.offset);
    case ExprKind::kRepeat:
      return out->AddRepeat(ToArena(n.kids[0], new_id, out), n.min, n.max, n.offset);
    case ExprKind::kSequence:
    case ExprKind::kChoice: {
      std::vector<ExprId> ids;
      ids.reserve(n.kids.size());
      for (const Node& k : n.kids) ids.push_back(ToArena(k, new_id, out));
      return n.kind == ExprKind::kSequence ? out->AddSequence(ids, n.offset)
                                           : out->AddChoice(ids, n.offset);
    }
  }
  return kNoExpr;
}

// ---- tree utilities ----

size_t CountNodes(const Node& n) {
  size_t c = 1;
  for (const Node& k : n.kids) c += CountNodes(k);
  return c;
}

// Whether Height(n) > limit, visiting only the top `limit + 1` levels.
bool HeightAbove(const Node& n, int limit) {
  if (limit < 1) return true;
  for (const Node& k : n.kids) {
    if (HeightAbove(k, limit - 1)) return true;
  }
  return false;
}

// CountNodes(n), but stops counting at `cap` (so a large body costs O(cap) to reject). A literal
// counts one node per 16 bytes begun: adjacent literals merge into one node, so a rule used twice
// by each of n rules (r0 ::= r1 r1, ..., rn ::= "q") would otherwise stay "one node" while its
// text doubles at every level (2^30 bytes for n = 30: seconds and gigabytes).
size_t CountNodesUpTo(const Node& n, size_t cap) {
  size_t c = n.kind == ExprKind::kBytes ? std::max<size_t>(1, (n.bytes.size() + 15) / 16) : 1;
  for (const Node& k : n.kids) {
    if (c >= cap) break;
    c += CountNodesUpTo(k, cap - c);
  }
  return c;
}

// A canonical text form: equal keys <=> structurally equal trees (offsets and `negated` ignored).
void AppendKey(const Node& n, std::string* key) {
  key->push_back(static_cast<char>('A' + static_cast<int>(n.kind)));
  switch (n.kind) {
    case ExprKind::kEmpty:
      break;
    case ExprKind::kBytes:
      *key += std::to_string(n.bytes.size()) + ":" + n.bytes;
      break;
    case ExprKind::kCharClass:
      for (const CodepointRange& r : n.ranges) {
        *key += std::to_string(r.lo) + "-" + std::to_string(r.hi) + ",";
      }
      break;
    case ExprKind::kRuleRef:
      *key += std::to_string(n.rule);
      break;
    case ExprKind::kRepeat:
      *key += std::to_string(n.min) + "," + std::to_string(n.max);
      [[fallthrough]];
    case ExprKind::kSequence:
    case ExprKind::kChoice:
      key->push_back('(');
      for (const Node& k : n.kids) AppendKey(k, key);
      key->push_back(')');
      break;
  }
}

uint64_t MixHash(uint64_t h, uint64_t v) {
  h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
  return h * 0xbf58476d1ce4e5b9ull;
}

// The hash of the top `depth` levels of a tree (below them only the number of children counts):
// equal trees still hash equal, and hashing the alternatives of nested choices at every level of
// Normalize's bottom-up walk costs O(alternatives) per level rather than O(subtree).
constexpr int kAltHashDepth = 4;

uint64_t ShallowHash(const Node& n, int depth) {
  uint64_t h = MixHash(0x5157, static_cast<uint64_t>(n.kind));
  switch (n.kind) {
    case ExprKind::kEmpty:
      break;
    case ExprKind::kBytes:
      h = MixHash(h, std::hash<std::string_view>()(n.bytes));
      break;
    case ExprKind::kCharClass:
      for (const CodepointRange& r : n.ranges) h = MixHash(h, (uint64_t{r.lo} << 32) | r.hi);
      break;
    case ExprKind::kRuleRef:
      h = MixHash(h, static_cast<uint32_t>(n.rule));
      break;
    case ExprKind::kRepeat:
      h = MixHash(h, (static_cast<uint64_t>(static_cast<uint32_t>(n.min)) << 32) |
                         static_cast<uint32_t>(n.max));
      [[fallthrough]];
    case ExprKind::kSequence:
    case ExprKind::kChoice:
      h = MixHash(h, n.kids.size());
      if (depth > 0) {
        for (const Node& k : n.kids) h = MixHash(h, ShallowHash(k, depth - 1));
      }
      break;
  }
  return h;
}

// Equal for trees that AppendKey gives equal keys (offsets and `negated` ignored), without building
// text; collisions are settled by SameNode.
uint64_t HashNode(const Node& n) { return ShallowHash(n, std::numeric_limits<int>::max()); }

bool SameNode(const Node& a, const Node& b) {
  if (a.kind != b.kind) return false;
  switch (a.kind) {
    case ExprKind::kEmpty:
      return true;
    case ExprKind::kBytes:
      return a.bytes == b.bytes;
    case ExprKind::kCharClass:
      return a.ranges == b.ranges;
    case ExprKind::kRuleRef:
      return a.rule == b.rule;
    case ExprKind::kRepeat:
      if (a.min != b.min || a.max != b.max) return false;
      [[fallthrough]];
    case ExprKind::kSequence:
    case ExprKind::kChoice:
      if (a.kids.size() != b.kids.size()) return false;
      for (size_t i = 0; i < a.kids.size(); ++i) {
        if (!SameNode(a.kids[i], b.kids[i])) return false;
      }
      return true;
  }
  return false;
}


// The alternatives kept so far by one NormalizeChoice, up to structural equality (a hash, then
// SameNode): indices into the caller's vector, which must not move its elements while the set is
// used. A linear scan while small (most choices), an open-addressing table beyond that; either
// way one or two allocations per choice rather than one per distinct hash.
class AltSet {
 public:
  explicit AltSet(const std::vector<Node>& nodes) : nodes_(nodes) {}

  bool Contains(const Node& n, uint64_t h) const {
    if (slots_.empty()) {
      for (const auto& [eh, index] : entries_) {
        if (eh == h && SameNode(nodes_[index], n)) return true;
      }
      return false;
    }
    const size_t mask = slots_.size() - 1;
    for (size_t i = h & mask; slots_[i] >= 0; i = (i + 1) & mask) {
      const auto& [eh, index] = entries_[slots_[i]];
      if (eh == h && SameNode(nodes_[index], n)) return true;
    }
    return false;
  }
  void Add(uint32_t index, uint64_t h) {
    entries_.push_back({h, index});
    if (entries_.size() <= kLinear) return;
    if (entries_.size() * 2 > slots_.size()) {
      slots_.assign(std::max<size_t>(64, slots_.size() * 2), -1);
      for (size_t e = 0; e < entries_.size(); ++e) Place(static_cast<int32_t>(e));
    } else {
      Place(static_cast<int32_t>(entries_.size() - 1));
    }
  }

 private:
  static constexpr size_t kLinear = 16;
  void Place(int32_t e) {
    const size_t mask = slots_.size() - 1;
    size_t i = entries_[e].first & mask;
    while (slots_[i] >= 0) i = (i + 1) & mask;
    slots_[i] = e;
  }

  const std::vector<Node>& nodes_;
  std::vector<std::pair<uint64_t, uint32_t>> entries_;
  std::vector<int32_t> slots_;  // empty while linear
};

template <typename F>
void ForEachRef(const Node& n, F&& f) {
  if (n.kind == ExprKind::kRuleRef) f(n.rule);
  for (const Node& k : n.kids) ForEachRef(k, f);
}

bool Nullable(const Node& n, const std::vector<bool>& nullable_rules) {
  switch (n.kind) {
    case ExprKind::kEmpty:
      return true;
    case ExprKind::kBytes:
      return n.bytes.empty();
    case ExprKind::kCharClass:
      return false;
    case ExprKind::kRuleRef:
      return nullable_rules[n.rule];
    case ExprKind::kRepeat:
      return n.min == 0 || Nullable(n.kids[0], nullable_rules);
    case ExprKind::kSequence:
      for (const Node& k : n.kids) {
        if (!Nullable(k, nullable_rules)) return false;
      }
      return true;
    case ExprKind::kChoice:
      for (const Node& k : n.kids) {
        if (Nullable(k, nullable_rules)) return true;
      }
      return false;
  }
  return false;
}

// Rules that can be referenced at the very start of n (through nullable prefixes).
void LeftCorner(const Node& n, const std::vector<bool>& nullable_rules, std::vector<RuleId>* out) {
  switch (n.kind) {
    case ExprKind::kRuleRef:
      out->push_back(n.rule);
      break;
    case ExprKind::kSequence:
      for (const Node& k : n.kids) {
        LeftCorner(k, nullable_rules, out);
        if (!Nullable(k, nullable_rules)) break;
      }
      break;
    case ExprKind::kChoice:
      for (const Node& k : n.kids) LeftCorner(k, nullable_rules, out);
      break;
    case ExprKind::kRepeat:
      if (n.max != 0) LeftCorner(n.kids[0], nullable_rules, out);
      break;
    default:
      break;
  }
}

// Nullability of every rule by worklist: a rule is re-evaluated when a rule it uses becomes
// nullable. `eval(r, nullable)` evaluates rule r's body; `uses[r]` lists the rules r references.
template <typename Eval>
std::vector<bool> NullableFixpoint(const std::vector<std::vector<RuleId>>& uses, Eval eval) {
  const size_t n = uses.size();
  std::vector<std::vector<RuleId>> users(n);
  for (size_t r = 0; r < n; ++r) {
    for (RuleId u : uses[r]) users[u].push_back(static_cast<RuleId>(r));
  }
  std::vector<bool> nullable(n, false);
  std::vector<RuleId> work;
  for (size_t r = n; r-- > 0;) work.push_back(static_cast<RuleId>(r));
  while (!work.empty()) {
    RuleId r = work.back();
    work.pop_back();
    if (nullable[r] || !eval(r, nullable)) continue;
    nullable[r] = true;
    for (RuleId u : users[r]) {
      if (!nullable[u]) work.push_back(u);
    }
  }
  return nullable;
}

// Tarjan's strongly connected components, iteratively. Components come out callees first (a
// component is emitted after every component it can reach).
std::vector<std::vector<int>> StronglyConnected(const std::vector<std::vector<int>>& adj) {
  const int n = static_cast<int>(adj.size());
  std::vector<int> index(n, -1), low(n, 0);
  std::vector<bool> on_stack(n, false);
  std::vector<int> stack;
  std::vector<std::pair<int, size_t>> call;  // (node, next edge)
  std::vector<std::vector<int>> out;
  int counter = 0;
  for (int s = 0; s < n; ++s) {
    if (index[s] >= 0) continue;
    call.push_back({s, 0});
    while (!call.empty()) {
      auto& [v, edge] = call.back();
      if (edge == 0 && index[v] < 0) {
        index[v] = low[v] = counter++;
        stack.push_back(v);
        on_stack[v] = true;
      }
      if (edge < adj[v].size()) {
        int w = adj[v][edge++];
        if (index[w] < 0) {
          call.push_back({w, 0});
        } else if (on_stack[w]) {
          low[v] = std::min(low[v], index[w]);
        }
        continue;
      }
      const int done = v;
      call.pop_back();
      if (!call.empty()) low[call.back().first] = std::min(low[call.back().first], low[done]);
      if (low[done] == index[done]) {
        std::vector<int> comp;
        int w;
        do {
          w = stack.back();
          stack.pop_back();
          on_stack[w] = false;
          comp.push_back(w);
        } while (w != done);
        std::sort(comp.begin(), comp.end());
        out.push_back(std::move(comp));
      }
    }
  }
  return out;
}

// ---- normalisation ----

bool SingleCodepoint(const Node& n, char32_t* cp) {
  if (n.kind == ExprKind::kCharClass) {
    if (n.ranges.size() != 1 || n.ranges[0].lo != n.ranges[0].hi) return false;
    *cp = n.ranges[0].lo;
    return true;
  }
  if (n.kind == ExprKind::kBytes) {
    int len = DecodeUtf8(reinterpret_cast<const uint8_t*>(n.bytes.data()), n.bytes.size(), cp);
    return len > 0 && static_cast<size_t>(len) == n.bytes.size();
  }
  return false;
}

void Hoist(Node* n, size_t kid) {
  Node tmp = std::move(n->kids[kid]);
  *n = std::move(tmp);
}

void MakeEmpty(Node* n) {
  int32_t off = n->offset;
  *n = Node();
  n->offset = off;
}

void Normalize(Node* n);
void NormalizeTop(Node* n);
void NormalizeRepeat(Node* n);

void NormalizeSequence(Node* n) {
  // Usually nothing changes (items normalised, none empty or a sequence, no two literals side by
  // side): then the items stay where they are.
  bool settled = n->kids.size() >= 2;
  for (size_t i = 0; i < n->kids.size() && settled; ++i) {
    const ExprKind k = n->kids[i].kind;
    settled = k != ExprKind::kEmpty && k != ExprKind::kSequence &&
              !(k == ExprKind::kBytes && i > 0 && n->kids[i - 1].kind == ExprKind::kBytes);
  }
  if (settled) return;
  std::vector<Node> out;
  out.reserve(n->kids.size());
  auto push = [&out](Node&& k) {
    if (k.kind == ExprKind::kEmpty) return;
    if (k.kind == ExprKind::kBytes && !out.empty() && out.back().kind == ExprKind::kBytes) {
      out.back().bytes += k.bytes;
      return;
    }
    out.push_back(std::move(k));
  };
  for (Node& k : n->kids) {
    if (k.kind == ExprKind::kSequence) {
      for (Node& kk : k.kids) push(std::move(kk));
    } else {
      push(std::move(k));
    }
  }
  n->kids = std::move(out);
  if (n->kids.empty()) {
    MakeEmpty(n);
  } else if (n->kids.size() == 1) {
    Hoist(n, 0);
  }
}

void NormalizeChoice(Node* n) {
  std::vector<Node> flat;
  const bool nested = std::any_of(n->kids.begin(), n->kids.end(),
                                  [](const Node& k) { return k.kind == ExprKind::kChoice; });
  if (nested) {
    for (Node& k : n->kids) {
      if (k.kind == ExprKind::kChoice) {
        for (Node& kk : k.kids) flat.push_back(std::move(kk));
      } else {
        flat.push_back(std::move(k));
      }
    }
  } else {
    flat = std::move(n->kids);
  }
  bool has_empty = false;
  Node cls;
  cls.kind = ExprKind::kCharClass;
  size_t cls_pos = SIZE_MAX;
  int class_like = 0;
  std::vector<Node> out;
  out.reserve(flat.size());  // `seen` refers into it
  AltSet seen(out);          // equal alternatives: the first one is kept
  for (Node& k : flat) {
    char32_t cp;
    if (k.kind == ExprKind::kEmpty) {
      has_empty = true;
    } else if (k.kind == ExprKind::kCharClass || SingleCodepoint(k, &cp)) {
      // Class-like alternatives merge into one class at the first one's position.
      if (k.kind == ExprKind::kCharClass) {
        cls.ranges.insert(cls.ranges.end(), k.ranges.begin(), k.ranges.end());
      } else {
        cls.ranges.push_back({cp, cp});
      }
      if (cls_pos == SIZE_MAX) {
        cls_pos = out.size();
        cls.offset = k.offset;
        out.push_back(k);  // kept as written if it turns out to be the only class-like one
      }
      ++class_like;
    } else if (const uint64_t h = ShallowHash(k, kAltHashDepth); !seen.Contains(k, h)) {
      out.push_back(std::move(k));
      seen.Add(static_cast<uint32_t>(out.size() - 1), h);
    }
  }
  if (class_like > 1) {
    cls.ranges = Grammar::NormalizeRanges(std::move(cls.ranges), false);
    out[cls_pos] = std::move(cls);
    Normalize(&out[cls_pos]);  // a single code point becomes a literal
  }
  if (out.empty()) {
    MakeEmpty(n);
    return;
  }
  n->kids = std::move(out);
  if (n->kids.size() == 1) Hoist(n, 0);
  if (has_empty) {  // "" | x  ->  x?
    int32_t offset = n->offset;
    *n = MakeNode(ExprKind::kRepeat, {std::move(*n)}, 0, 1);
    n->offset = offset;
    NormalizeRepeat(n);  // the item is already normalised: only the quantifiers may collapse
  }
}

// Nested counts merged by NormalizeRepeat stay within this bound (Limits::max_repeat_bound).
constexpr int64_t kMaxMergedCount = 1000000;

// (x{a,b}){c,d} repeats x k a .. k b times for some k in c .. d; when those ranges leave no gap
// that is x{c a, d b}, returned here, else nullopt (and when a merged bound would pass
// kMaxMergedCount). The ranges for k and k + 1 touch when (k + 1) a <= k b + 1, which, once it
// holds, holds for every larger k: so checking the smallest k that has a successor suffices.
// This is what keeps `((x*){0,99}){0,99}` (llama.cpp's "hang" grammar nests six of them) one x*:
// counted, the matcher's stacks grow with the input, which is regular.
std::optional<std::pair<int32_t, int32_t>> MergedCounts(int32_t a, int32_t b, int32_t c,
                                                         int32_t d) {
  const bool b_inf = b == kUnbounded, d_inf = d == kUnbounded;
  const int64_t lo = int64_t{c} * a;
  const int64_t hi = b_inf || d_inf ? -1 : int64_t{d} * b;
  if (lo > kMaxMergedCount || hi > kMaxMergedCount) return std::nullopt;
  bool gapless = a == 0 || c == d;  // a = 0: every range starts at 0; c = d: one range
  if (!gapless) {
    // Ranges k = c .. d - 1 against their successors; with b unbounded they touch iff
    // (k + 1) a <= inf, except that k = 0 gives only {0}, which touches [a, ..] iff a <= 1.
    const int64_t k = c;
    gapless = b_inf ? (k > 0 || a <= 1) : (k + 1) * a <= k * b + 1;
  }
  if (!gapless) return std::nullopt;
  return std::make_pair(static_cast<int32_t>(lo), hi < 0 ? kUnbounded : static_cast<int32_t>(hi));
}

void NormalizeRepeat(Node* n) {
  Node& k = n->kids[0];
  if (n->max == 0 || k.kind == ExprKind::kEmpty) {
    MakeEmpty(n);
    return;
  }
  if (n->min == 1 && n->max == 1) {
    Hoist(n, 0);
    return;
  }
  if (k.kind == ExprKind::kRepeat) {
    if (const auto counts = MergedCounts(k.min, k.max, n->min, n->max)) {
      Hoist(n, 0);
      n->min = counts->first;
      n->max = counts->second;
      NormalizeRepeat(n);  // x may be a repetition again, or the counts {1,1}
    }
  }
}

// The normalisation step of `n` alone, its children being normalised already.
void NormalizeTop(Node* n) {
  char32_t cp;
  switch (n->kind) {
    case ExprKind::kCharClass:
      if (SingleCodepoint(*n, &cp)) {
        n->kind = ExprKind::kBytes;
        n->ranges.clear();
        n->negated = false;
        AppendUtf8(&n->bytes, cp);
      }
      break;
    case ExprKind::kBytes:
      if (n->bytes.empty()) MakeEmpty(n);
      break;
    case ExprKind::kSequence:
      NormalizeSequence(n);
      break;
    case ExprKind::kChoice:
      NormalizeChoice(n);
      break;
    case ExprKind::kRepeat:
      NormalizeRepeat(n);
      break;
    default:
      break;
  }
}

// Bottom-up. Idempotent: a normalised tree is left as it is, so after a change deep inside one,
// re-running NormalizeTop on the changed node's ancestors (innermost first) equals Normalize.
void Normalize(Node* n) {
  for (Node& k : n->kids) Normalize(&k);
  NormalizeTop(n);
}

// ---- the simplifier ----

using Alt = std::vector<Node>;  // one alternative: a sequence of items

struct RuleData {
  std::string name;
  Node body;
  bool has_lookahead = false;
  Node lookahead;
  int32_t offset = -1;
  uint8_t unique_items = kUniqueNone;  // checked by the matcher: never inlined, merged by kind
};

class Simplifier {
 public:
  Simplifier(const Grammar& g, const SimplifyOptions& opts) : g_(g), opts_(opts) {}

  Result<Grammar> Run() {
    SIEVE_RETURN_IF_ERROR(g_.Validate());
    for (size_t r = 0; r < g_.num_rules(); ++r) {
      const Rule& rule = g_.rule(static_cast<RuleId>(r));
      int h = ArenaHeight(g_, rule.body);
      if (rule.lookahead != kNoExpr) h = std::max(h, ArenaHeight(g_, rule.lookahead));
      if (h > opts_.max_expr_depth) {
        Status s = LimitError("rule '" + rule.name + "' nests expressions " + std::to_string(h) +
                              " deep, over the limit of " + std::to_string(opts_.max_expr_depth) +
                              " (SimplifyOptions::max_expr_depth; Limits::max_nesting_depth)");
        if (rule.source_offset >= 0) s.WithOffset(rule.source_offset);
        return s;
      }
    }
    root_ = g_.root();
    rules_.resize(g_.num_rules());
    // Rules the root cannot reach stay empty trees: MarkAlive below never reaches them either
    // (reachability only shrinks from here on), so no pass reads them.
    const std::vector<char> reachable = ArenaReachable();
    for (size_t r = 0; r < rules_.size(); ++r) {
      const Rule& rule = g_.rule(static_cast<RuleId>(r));
      rules_[r].name = rule.name;
      rules_[r].offset = rule.source_offset;
      rules_[r].unique_items = rule.unique_items;
      if (!reachable[r]) continue;
      rules_[r].body = FromArena(g_, rule.body);
      if (rule.lookahead != kNoExpr) {
        rules_[r].has_lookahead = true;
        rules_[r].lookahead = FromArena(g_, rule.lookahead);
      }
    }
    MarkAlive();
    NormalizeAlive();
    SIEVE_RETURN_IF_ERROR(RewriteLeftRecursion());
    // Rewriting can cut rules off (b in a ::= b "x", b ::= a "y" | "z").
    if (rewrote_left_recursion_) MarkAlive();
    if (opts_.inline_rules) SIEVE_RETURN_IF_ERROR(Inline());  // leaves every rule normalised
    MarkAlive();  // inlined rules are unused now
    if (opts_.dedupe_rules && Dedupe()) MarkAlive();  // merged rules' callees may be unused
    return Emit();
  }

 private:
  // Rules reachable from the root through bodies and lookaheads of the input grammar.
  std::vector<char> ArenaReachable() const {
    std::vector<char> seen(g_.num_rules(), 0);
    std::vector<RuleId> work{g_.root()};
    seen[g_.root()] = 1;
    std::vector<ExprId> stack;
    while (!work.empty()) {
      const Rule& rule = g_.rule(work.back());
      work.pop_back();
      stack.assign(1, rule.body);
      if (rule.lookahead != kNoExpr) stack.push_back(rule.lookahead);
      while (!stack.empty()) {
        const Expr& e = g_.expr(stack.back());
        stack.pop_back();
        if (e.kind == ExprKind::kRuleRef && !seen[e.rule]) {
          seen[e.rule] = 1;
          work.push_back(e.rule);
        }
        if (IsComposite(e.kind)) {
          for (ExprId c : g_.children(e)) stack.push_back(c);
        }
      }
    }
    return seen;
  }

  template <typename F>
  void ForEachRuleRef(RuleId r, F&& f) const {
    ForEachRef(rules_[r].body, f);
    if (rules_[r].has_lookahead) ForEachRef(rules_[r].lookahead, f);
  }

  void NormalizeAlive() {
    for (size_t r = 0; r < rules_.size(); ++r) {
      if (!alive_[r]) continue;
      Normalize(&rules_[r].body);
      if (rules_[r].has_lookahead) Normalize(&rules_[r].lookahead);
    }
  }

  // alive_[r]: r is reachable from the root through bodies and lookaheads.
  void MarkAlive() {
    alive_.assign(g_.num_rules(), false);
    std::vector<RuleId> work{root_};
    alive_[root_] = true;
    while (!work.empty()) {
      RuleId r = work.back();
      work.pop_back();
      ForEachRuleRef(r, [&](RuleId u) {
        if (!alive_[u]) {
          alive_[u] = true;
          work.push_back(u);
        }
      });
    }
  }

  std::vector<bool> ComputeNullable() const {
    std::vector<std::vector<RuleId>> uses(rules_.size());
    for (size_t r = 0; r < rules_.size(); ++r) {
      if (alive_[r]) ForEachRef(rules_[r].body, [&](RuleId u) { uses[r].push_back(u); });
    }
    return NullableFixpoint(uses, [this](RuleId r, const std::vector<bool>& nullable) {
      return alive_[r] && Nullable(rules_[r].body, nullable);
    });
  }

  std::vector<std::vector<int>> LeftCornerGraph(const std::vector<bool>& nullable) const {
    std::vector<std::vector<int>> adj(rules_.size());
    for (size_t r = 0; r < rules_.size(); ++r) {
      if (!alive_[r]) continue;
      LeftCorner(rules_[r].body, nullable, &adj[r]);
      std::sort(adj[r].begin(), adj[r].end());
      adj[r].erase(std::unique(adj[r].begin(), adj[r].end()), adj[r].end());
    }
    return adj;
  }

  static bool IsCyclic(const std::vector<int>& comp, const std::vector<std::vector<int>>& adj) {
    if (comp.size() > 1) return true;
    const std::vector<int>& e = adj[comp[0]];
    return std::binary_search(e.begin(), e.end(), comp[0]);
  }

  // "a -> b -> a": a shortest cycle through comp[0] inside the component.
  std::string DescribeCycle(const std::vector<int>& comp,
                            const std::vector<std::vector<int>>& adj) const {
    const int start = comp[0];
    std::unordered_map<int, int> parent;
    std::vector<int> queue{start};
    int last = -1;
    for (size_t qi = 0; qi < queue.size() && last < 0; ++qi) {
      int v = queue[qi];
      for (int w : adj[v]) {
        if (!std::binary_search(comp.begin(), comp.end(), w)) continue;
        if (w == start) {
          last = v;
          break;
        }
        if (parent.emplace(w, v).second) queue.push_back(w);
      }
    }
    std::vector<int> path{start};
    for (int v = last; v != start && v >= 0; v = parent[v]) path.push_back(v);
    path.push_back(start);
    std::reverse(path.begin() + 1, path.end() - 1);
    std::string s;
    for (size_t i = 0; i < path.size(); ++i) {
      if (i > 0) s += " -> ";
      s += rules_[path[i]].name;
    }
    return s;
  }

  Status RewriteLeftRecursion() {
    std::vector<bool> nullable = ComputeNullable();
    std::vector<std::vector<int>> adj = LeftCornerGraph(nullable);
    bool rewritten = false;
    for (const std::vector<int>& comp : StronglyConnected(adj)) {
      if (!alive_[comp[0]] || !IsCyclic(comp, adj)) continue;
      const std::string cycle = DescribeCycle(comp, adj);
      if (!opts_.rewrite_left_recursion) {
        return Unsupported("left recursion: " + cycle + " (rewriting is disabled)");
      }
      SIEVE_RETURN_IF_ERROR(RewriteComponent(comp, nullable, cycle));
      rewritten = true;
    }
    if (!rewritten) return Status::Ok();  // no cycle, and nothing changed
    rewrote_left_recursion_ = true;
    // Safety net: the rewrite must have removed every cycle.
    adj = LeftCornerGraph(nullable);
    for (const std::vector<int>& comp : StronglyConnected(adj)) {
      if (alive_[comp[0]] && IsCyclic(comp, adj)) {
        return Unsupported("left recursion: " + DescribeCycle(comp, adj) +
                           " (could not be rewritten)");
      }
    }
    return Status::Ok();
  }

  static std::vector<Alt> Alternatives(Node body) {
    std::vector<Alt> alts;
    auto add = [&alts](Node&& n) {
      Alt a;
      if (n.kind == ExprKind::kSequence) {
        a = std::move(n.kids);
      } else if (n.kind != ExprKind::kEmpty) {
        a.push_back(std::move(n));
      }
      alts.push_back(std::move(a));
    };
    if (body.kind == ExprKind::kChoice) {
      for (Node& k : body.kids) add(std::move(k));
    } else {
      add(std::move(body));
    }
    return alts;
  }

  static Node AltsToNode(std::vector<Alt> alts) {
    Node choice = MakeNode(ExprKind::kChoice, {});
    for (Alt& a : alts) choice.kids.push_back(MakeNode(ExprKind::kSequence, std::move(a)));
    Normalize(&choice);
    return choice;
  }

  static std::string AltKey(const Alt& alt) {
    std::string key;
    for (const Node& n : alt) AppendKey(n, &key);
    return key;
  }

  // `head` followed by the items of `alt` after its first.
  static Alt Join(Alt head, const Alt& alt) {
    head.insert(head.end(), alt.begin() + 1, alt.end());
    return head;
  }

  static size_t AltsSize(const std::vector<Alt>& alts) {
    size_t n = 0;
    for (const Alt& a : alts) {
      for (const Node& k : a) n += CountNodes(k);
    }
    return n;
  }

  // Paull's algorithm over one left-recursive component, members in rule-id order.
  Status RewriteComponent(const std::vector<int>& comp, const std::vector<bool>& nullable,
                          const std::string& cycle) {
    std::unordered_map<RuleId, size_t> pos;
    for (size_t i = 0; i < comp.size(); ++i) pos[comp[i]] = i;
    auto member = [&pos](RuleId r) { return pos.count(r) > 0; };
    auto has_member = [&](const Node& n) {
      std::vector<RuleId> lc;
      LeftCorner(n, nullable, &lc);
      return std::any_of(lc.begin(), lc.end(), member);
    };
    auto unsupported = [&cycle](const std::string& why) {
      return Unsupported("left recursion: " + cycle + " (" + why + ")");
    };
    for (size_t i = 0; i < comp.size(); ++i) {
      const RuleId a = comp[i];
      std::vector<Alt> alts = Alternatives(std::move(rules_[a].body));
      // Expose the heads: flatten sequences, distribute choices and quantifiers that hide members,
      // substitute earlier members. An alternative produced before is dropped (a choice is a set;
      // a repeat comes from a cycle of empty derivations, which adds nothing), so this terminates
      // unless alternatives keep growing, which the node budget stops.
      std::unordered_set<std::string> seen;
      for (const Alt& alt : alts) seen.insert(AltKey(alt));
      for (bool changed = true; changed;) {
        changed = false;
        std::vector<Alt> next;
        auto emit = [&](Alt&& x) {
          if (seen.insert(AltKey(x)).second) next.push_back(std::move(x));
        };
        for (Alt& alt : alts) {
          const Node* h = alt.empty() ? nullptr : &alt[0];
          if (h != nullptr && h->kind == ExprKind::kSequence) {
            emit(Join(h->kids, alt));
          } else if (h != nullptr && h->kind == ExprKind::kChoice && has_member(*h)) {
            for (const Node& k : h->kids) emit(Join({k}, alt));
          } else if (h != nullptr && h->kind == ExprKind::kRepeat && h->min == 0 && h->max == 1 &&
                     has_member(*h)) {
            // (x)? rest  ->  x rest | rest   (undoes the "" | x -> x? normalisation)
            emit(Join({h->kids[0]}, alt));
            emit(Join({}, alt));
          } else if (h != nullptr && h->kind == ExprKind::kRepeat && h->min <= 1 &&
                     h->max == kUnbounded && has_member(*h)) {
            // x* rest  ->  rest | x x* rest;   x+ rest  ->  x x* rest
            Node star = *h;
            star.min = 0;
            if (h->min == 0) emit(Join({}, alt));
            emit(Join({h->kids[0], std::move(star)}, alt));
          } else if (h != nullptr && h->kind == ExprKind::kRuleRef && member(h->rule) &&
                     pos[h->rule] < i) {
            for (Alt& sub : Alternatives(rules_[h->rule].body)) emit(Join(std::move(sub), alt));
          } else {
            next.push_back(std::move(alt));
            continue;
          }
          changed = true;
        }
        alts = std::move(next);
        if (AltsSize(alts) > opts_.max_left_recursion_nodes) {
          return LimitError("left recursion: " + cycle + " (rewriting rule '" + rules_[a].name +
                            "' needs more than " + std::to_string(opts_.max_left_recursion_nodes) +
                            " nodes)");
        }
      }
      // Only a plain reference at the head may lead back into the component.
      for (const Alt& alt : alts) {
        for (size_t k = 0; k < alt.size(); ++k) {
          bool head_ref = k == 0 && alt[0].kind == ExprKind::kRuleRef;
          if (!head_ref && has_member(alt[k])) {
            const std::string where = "rule '" + rules_[a].name + "'";
            return unsupported(
                k == 0 ? "the recursion is inside a group or quantifier at the start "
                         "of " +
                             where
                       : "the recursion is hidden behind a nullable prefix in " + where);
          }
          if (!Nullable(alt[k], nullable)) break;
        }
      }
      std::vector<Alt> betas, alphas;
      for (Alt& alt : alts) {
        if (!alt.empty() && alt[0].kind == ExprKind::kRuleRef && alt[0].rule == a) {
          if (alt.size() > 1) alphas.push_back(Join({}, alt));
        } else {
          betas.push_back(std::move(alt));
        }
      }
      if (betas.empty()) {
        return unsupported("every alternative of rule '" + rules_[a].name +
                           "' starts with the recursion, so it matches nothing");
      }
      Node body = AltsToNode(std::move(betas));
      if (!alphas.empty()) {  // A ::= b (a)*
        Node tail = MakeNode(ExprKind::kRepeat, {AltsToNode(std::move(alphas))}, 0, kUnbounded);
        body = MakeNode(ExprKind::kSequence, {std::move(body), std::move(tail)});
      }
      Normalize(&body);
      rules_[a].body = std::move(body);
    }
    return Status::Ok();
  }

  // The reference graph of the live rules (sorted, unique); refcount[u] counts every reference.
  std::vector<std::vector<int>> RefGraph(std::vector<int>* refcount) const {
    std::vector<std::vector<int>> adj(rules_.size());
    refcount->assign(rules_.size(), 0);
    for (size_t r = 0; r < rules_.size(); ++r) {
      if (!alive_[r]) continue;
      ForEachRuleRef(static_cast<RuleId>(r), [&](RuleId u) {
        ++(*refcount)[u];
        adj[r].push_back(u);
      });
      std::sort(adj[r].begin(), adj[r].end());
      adj[r].erase(std::unique(adj[r].begin(), adj[r].end()), adj[r].end());
    }
    return adj;
  }

  Status Inline() {
    std::vector<int> refcount;
    std::vector<std::vector<int>> adj = RefGraph(&refcount);
    std::vector<bool> inlinable(rules_.size(), false);
    for (const std::vector<int>& comp : StronglyConnected(adj)) {
      // Callees come first, so their bodies are final when the callers in this component inline.
      for (int r : comp) {
        if (!alive_[r]) continue;
        // Bodies are normalised already (NormalizeAlive, the left-recursion rewrite), and so are
        // the inlined ones: InlineInto re-normalises only the ancestors of what it replaced, also
        // so that the size below is the final one.
        InlineInto(&rules_[r].body, inlinable, refcount);
        if (rules_[r].has_lookahead) InlineInto(&rules_[r].lookahead, inlinable, refcount);
      }
      if ((++rules_done_ & 255) == 0) SIEVE_RETURN_IF_ERROR(opts_.deadline.Check("inlining rules"));
      const int r = comp[0];
      if (IsCyclic(comp, adj) || !alive_[r] || r == root_ || rules_[r].has_lookahead ||
          rules_[r].unique_items) {
        continue;
      }
      const Node& body = rules_[r].body;
      if (HeightAbove(body, opts_.inline_max_depth)) continue;
      const size_t small = static_cast<size_t>(std::max(opts_.inline_max_nodes, 0));
      const size_t single = std::max(small, opts_.inline_single_use_max_nodes);
      const size_t size = CountNodesUpTo(body, std::max(small, single) + 1);
      inlinable[r] = size <= small || (refcount[r] == 1 && size <= single);
    }
    return Status::Ok();
  }

  // A rule used once is moved, not copied: a chain of single-use rules (r0 ::= "a" r1 "b", r1 ::=
  // "a" r2 "b", ...) would otherwise copy a body of size O(i) at every link, O(n^2) time and memory
  // for n rules (4,000 rules: 3 s and 1.3 GB). The callee is dead afterwards (MarkAlive drops it).
  // Flattening the caller still moves the inlined items once per link, which is why single-use
  // inlining stops at inline_single_use_max_nodes: a chain then costs O(n x that bound).
  // Whether anything was inlined into *n. The callee's body is final (normalised), so only the
  // nodes above an inlined reference need normalising again, each after its children: the same
  // tree as Normalize of the whole body (idempotence), without re-walking what did not change.
  bool InlineInto(Node* n, const std::vector<bool>& inlinable, const std::vector<int>& refcount) {
    if (n->kind == ExprKind::kRuleRef && inlinable[n->rule]) {
      const RuleId callee = n->rule;
      if (refcount[callee] == 1) {
        Node body = std::move(rules_[callee].body);
        rules_[callee].body = Node();
        *n = std::move(body);
      } else {
        *n = rules_[callee].body;  // a small body, copied; the callee's body is already final
      }
      return true;
    }
    bool changed = false;
    for (Node& k : n->kids) changed |= InlineInto(&k, inlinable, refcount);
    if (changed) NormalizeTop(n);
    return changed;
  }

  // Points every reference at its representative (rep[] chains end at a rule mapped to itself).
  static void Remap(Node* n, const std::vector<RuleId>& rep) {
    if (n->kind == ExprKind::kRuleRef) {
      while (rep[n->rule] != n->rule) n->rule = rep[n->rule];
    }
    for (Node& k : n->kids) Remap(&k, rep);
  }

  // Hash-consing: rules with equal bodies and lookaheads are merged (the root, else the first one
  // seen, represents them). Rules are visited callees first, so a caller's key already uses its
  // callees' representatives and one round settles every non-recursive cascade; merges inside
  // recursive components can enable more, so rounds repeat until nothing merges.
  // Whether any rule was merged.
  bool Dedupe() {
    const size_t n = rules_.size();
    bool merged = false;
    std::vector<RuleId> rep(n);
    for (size_t r = 0; r < n; ++r) rep[r] = static_cast<RuleId>(r);
    for (size_t round = 0; round < n; ++round) {
      std::vector<int> unused;
      std::vector<std::vector<int>> adj = RefGraph(&unused);
      // Rules by hash of (body, lookahead, flag); bodies do not change until the round ends.
      std::unordered_map<uint64_t, std::vector<RuleId>> by_hash;
      auto same_rule = [this](RuleId a, RuleId b) {
        const RuleData& x = rules_[a];
        const RuleData& y = rules_[b];
        return x.unique_items == y.unique_items && x.has_lookahead == y.has_lookahead &&
               SameNode(x.body, y.body) && (!x.has_lookahead || SameNode(x.lookahead, y.lookahead));
      };
      // Another round can merge more only when a rule was hashed before one of its callees got
      // a new representative: callers come after their callees' components, so that needs a
      // merge inside a recursive component, or the root taking over an earlier rule's place.
      bool again = false;
      for (const std::vector<int>& comp : StronglyConnected(adj)) {
        const bool cyclic = IsCyclic(comp, adj);
        for (int r : comp) {
          if (!alive_[r]) continue;
          Remap(&rules_[r].body, rep);
          uint64_t h = MixHash(HashNode(rules_[r].body), rules_[r].unique_items);
          if (rules_[r].has_lookahead) {
            Remap(&rules_[r].lookahead, rep);
            h = MixHash(h, HashNode(rules_[r].lookahead));
          }
          std::vector<RuleId>& bucket = by_hash[h];
          auto it = std::find_if(bucket.begin(), bucket.end(),
                                 [&](RuleId k) { return same_rule(k, r); });
          if (it == bucket.end()) {
            bucket.push_back(r);
            continue;
          }
          RuleId keep = *it, drop = r;
          if (drop == root_) std::swap(keep, drop);
          *it = keep;
          rep[drop] = keep;
          alive_[drop] = false;
          merged = true;
          again |= cyclic || drop != r;
        }
      }
      for (size_t r = 0; r < n; ++r) {
        if (!alive_[r]) continue;
        Remap(&rules_[r].body, rep);
        if (rules_[r].has_lookahead) Remap(&rules_[r].lookahead, rep);
      }
      if (!again) return merged;
    }
    return merged;
  }

  Result<Grammar> Emit() const {
    Grammar out;
    std::vector<RuleId> new_id(rules_.size(), -1);
    for (size_t r = 0; r < rules_.size(); ++r) {
      if (!alive_[r]) continue;
      new_id[r] = out.AddRule(rules_[r].name, rules_[r].offset);
      out.SetRuleUniqueItems(new_id[r], rules_[r].unique_items);
    }
    for (size_t r = 0; r < rules_.size(); ++r) {
      if (!alive_[r]) continue;
      out.SetRuleBody(new_id[r], ToArena(rules_[r].body, new_id, &out));
      if (rules_[r].has_lookahead) {
        out.SetRuleLookahead(new_id[r], ToArena(rules_[r].lookahead, new_id, &out));
      }
    }
    out.set_root(new_id[root_]);
    Status valid = out.Validate();
    if (!valid.ok())
      return InternalError("Simplify produced an invalid grammar: " + valid.message());
    return out;
  }

  const Grammar& g_;
  const SimplifyOptions& opts_;
  RuleId root_ = -1;
  std::vector<RuleData> rules_;
  std::vector<bool> alive_;
  size_t rules_done_ = 0;  // deadline polling
  bool rewrote_left_recursion_ = false;
};

}  // namespace

Result<Grammar> Simplify(const Grammar& g, const SimplifyOptions& opts) {
  return Simplifier(g, opts).Run();
}

namespace {

// Fills (*table)[e] for every expression in the tree under `top`, given the rules' nullability.
// Post-order with an explicit stack.
void EvalNullable(const Grammar& g, ExprId top, const std::vector<bool>& nullable_rules,
                  std::vector<bool>* table) {
  std::vector<std::pair<ExprId, bool>> stack{{top, false}};
  while (!stack.empty()) {
    auto [id, expanded] = stack.back();
    const Expr& x = g.expr(id);
    if (!expanded && IsComposite(x.kind)) {
      stack.back().second = true;
      for (ExprId c : g.children(x)) stack.push_back({c, false});
      continue;
    }
    stack.pop_back();
    bool v = x.kind == ExprKind::kEmpty || (x.kind == ExprKind::kBytes && x.size == 0) ||
             (x.kind == ExprKind::kRuleRef && nullable_rules[x.rule]) ||
             (x.kind == ExprKind::kRepeat && (x.min == 0 || (*table)[g.children(x)[0]]));
    if (x.kind == ExprKind::kSequence || x.kind == ExprKind::kChoice) {
      std::span<const ExprId> kids = g.children(x);
      auto is_nullable = [table](ExprId c) { return static_cast<bool>((*table)[c]); };
      v = x.kind == ExprKind::kSequence ? std::all_of(kids.begin(), kids.end(), is_nullable)
                                        : std::any_of(kids.begin(), kids.end(), is_nullable);
    }
    (*table)[id] = v;
  }
}

}  // namespace

std::vector<bool> NullableRules(const Grammar& g) {
  std::vector<std::vector<RuleId>> uses(g.num_rules());
  for (size_t r = 0; r < g.num_rules(); ++r) {
    std::vector<ExprId> stack{g.rule(static_cast<RuleId>(r)).body};
    while (!stack.empty()) {
      const Expr& e = g.expr(stack.back());
      stack.pop_back();
      if (e.kind == ExprKind::kRuleRef) uses[r].push_back(e.rule);
      if (IsComposite(e.kind)) {
        for (ExprId c : g.children(e)) stack.push_back(c);
      }
    }
  }
  std::vector<bool> scratch(g.num_exprs(), false);
  return NullableFixpoint(uses, [&](RuleId r, const std::vector<bool>& nullable) {
    EvalNullable(g, g.rule(r).body, nullable, &scratch);
    return static_cast<bool>(scratch[g.rule(r).body]);
  });
}

std::vector<bool> NullableExprs(const Grammar& g, const std::vector<bool>& nullable_rules) {
  std::vector<bool> table(g.num_exprs(), false);
  for (size_t r = 0; r < g.num_rules(); ++r) {
    const Rule& rule = g.rule(static_cast<RuleId>(r));
    EvalNullable(g, rule.body, nullable_rules, &table);
    if (rule.lookahead != kNoExpr) EvalNullable(g, rule.lookahead, nullable_rules, &table);
  }
  return table;
}

std::vector<RuleId> LeftCornerRules(const Grammar& g, RuleId from,
                                    const std::vector<bool>& nullable_exprs) {
  std::vector<RuleId> out;
  std::vector<ExprId> stack{g.rule(from).body};
  while (!stack.empty()) {
    const Expr& e = g.expr(stack.back());
    stack.pop_back();
    if (e.kind == ExprKind::kRuleRef) out.push_back(e.rule);
    if (e.kind == ExprKind::kChoice || (e.kind == ExprKind::kRepeat && e.max != 0)) {
      for (ExprId c : g.children(e)) stack.push_back(c);
    }
    if (e.kind == ExprKind::kSequence) {
      for (ExprId c : g.children(e)) {
        stack.push_back(c);
        if (!nullable_exprs[c]) break;
      }
    }
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

}  // namespace sieve
