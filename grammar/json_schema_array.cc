// Arrays: tuples (prefixItems / items arrays), the items after them, minItems/maxItems, contains
// with minContains/maxContains, uniqueItems over finite item domains, and enum/const arrays.
//
// Without `contains`, an array is a nested expression: the tuple positions in order (each optional
// once minItems is reached), then `(sep item){a,b}`: a counted repetition, so maxItems: 10000 costs
// nothing. With `contains` the array is an automaton over items whose states count matching items
// (exactly up to the bound that matters, saturating above): an item is labelled with the set of
// `contains` schemas it is asserted to match; a `contains` with maxContains needs the items outside
// it to be asserted to *not* match, i.e. the negation of its schema (json_schema_algebra.cc): when
// that negation is not expressible maxContains is unsupported. minContains alone needs no
// negation: an array is valid iff some choice of items counts enough matches.
//
// uniqueItems cannot be expressed by a context-free grammar in general (it compares arbitrary
// subtrees). The grammar enforces it when it holds trivially (at most one item) or when every item
// position has a small finite domain (booleans, null, enum/const values: at most 16 values, kMaxUniqueEdgeBytes of enumeration), by an
// automaton over the set of values already used; otherwise the array becomes a rule flagged
// Rule::unique_items and the matcher checks each item as it ends (unique_items.h).
#include <algorithm>
#include <bit>
#include <deque>
#include <map>
#include <utility>

#include "grammar/json_schema_internal.h"

namespace sieve::jsonschema {

namespace {

constexpr size_t kMaxUniqueDomain = 16;
// The enumeration has a state per set of values used and an edge per value not yet used from it
// (u * 2^(u-1) edges for u values), each spelling its value: beyond this many bytes of edges the
// grammar (and its mask cache) would be large, and the matcher's check is used instead. 15 string
// values of ~10 bytes would take ~2.4 million automaton states and minutes of mask building.
constexpr int64_t kMaxUniqueEdgeBytes = int64_t{1} << 14;

// Bytes spelling value node v compactly, roughly (strings without their escapes).
int64_t SpelledSize(const JDoc& doc, int32_t v) {
  const JNode& n = doc.at(v);
  int64_t size = static_cast<int64_t>(n.text.size()) + 2;
  for (const int32_t kid : n.kids) {
    size += SpelledSize(doc, kid) + static_cast<int64_t>(doc.at(kid).key.size()) + 4;
  }
  return size;
}

int32_t Clamp32(int64_t v) { return static_cast<int32_t>(std::min<int64_t>(v, int64_t{1} << 30)); }

}  // namespace

// The values a term admits when they are finitely many (at most kMaxUniqueDomain), as value nodes.
static std::optional<std::vector<int32_t>> FiniteDomain(Converter* conv, JDoc* doc, TermId t) {
  if (t == kFalseTerm) return std::vector<int32_t>{};
  if (t == kTrueTerm) return std::nullopt;
  auto f = conv->Eval(t);
  if (!f.ok()) return std::nullopt;
  std::vector<int32_t> out;
  auto add = [&](int32_t v, const Clause& c) {
    if (!conv->ClauseMatches(v, c, 64)) return;
    for (int32_t w : out) {
      if (doc->Equal(v, w)) return;
    }
    out.push_back(v);
  };
  const std::vector<Clause> clauses = (*f)->clauses;
  for (const Clause& c : clauses) {
    if ((c.types & kTNumber) && !c.num.allowed) return std::nullopt;
    if ((c.types & kTString) && !c.str.allowed) return std::nullopt;
    if ((c.types & kTArray) && !c.arr.allowed) return std::nullopt;
    if ((c.types & kTObject) && !c.obj.allowed) return std::nullopt;
    if (c.types & kTNull) add(doc->AddValue(JNode::kNull, ""), c);
    if (c.types & kTBool) {
      if (c.bools & 1) add(doc->AddValue(JNode::kFalse, ""), c);
      if (c.bools & 2) add(doc->AddValue(JNode::kTrue, ""), c);
    }
    if (c.types & kTNumber) {
      for (const Decimal& d : *c.num.allowed) add(doc->AddValue(JNode::kNumber, d.ToString()), c);
    }
    if (c.types & kTString) {
      for (const std::string& s : *c.str.allowed) add(doc->AddValue(JNode::kString, s), c);
    }
    if (c.types & kTArray) {
      for (int32_t v : *c.arr.allowed) add(v, c);
    }
    if (c.types & kTObject) {
      for (int32_t v : *c.obj.allowed) add(v, c);
    }
    if (out.size() > kMaxUniqueDomain) return std::nullopt;
  }
  return out;
}

Result<ExprId> Converter::EmitArray(const ArrC& in, Ctx ctx) {
  const Ctx child = Child(ctx);
  ArrC c = in;
  if (c.allowed) {
    Clause rest;
    rest.types = kTArray;
    rest.arr = c;
    rest.arr.allowed.reset();
    return EmitAllowedLiterals(*c.allowed, rest, ctx);
  }
  const int64_t k = static_cast<int64_t>(c.prefix.size());
  if (c.rest == kFalseTerm) c.max = c.max < 0 ? k : std::min(c.max, k);
  if (c.max >= 0 && c.min > c.max) return kNoExpr;
  Status failure;
  auto item_ref = [&](TermId t) -> ExprId {
    auto r = EmitTerm(t, child);
    if (!r.ok()) {
      failure = r.status();
      return Lit("null");
    }
    return Ref(*r);
  };

  // ---- uniqueItems ----
  if (c.unique && (c.max < 0 || c.max > 1)) {
    std::vector<std::optional<std::vector<int32_t>>> domains;
    bool finite = true;
    int64_t positions = c.max >= 0 ? std::min(c.max, k + 1) : k + 1;
    for (int64_t i = 0; i < positions && finite; ++i) {
      TermId t = i < k ? c.prefix[i] : c.rest;
      domains.push_back(FiniteDomain(this, &doc_, t));
      finite = domains.back().has_value();
    }
    std::vector<int32_t> universe;
    if (finite) {
      for (const auto& d : domains) {
        for (int32_t v : *d) {
          bool seen = false;
          for (int32_t w : universe) seen = seen || doc_.Equal(v, w);
          if (!seen) universe.push_back(v);
        }
      }
      finite = universe.size() <= kMaxUniqueDomain;
    }
    if (finite && !universe.empty()) {
      int64_t bytes = 0;
      for (const int32_t v : universe) bytes += SpelledSize(doc_, v);
      const int64_t u = static_cast<int64_t>(universe.size());
      finite = (int64_t{1} << (u - 1)) * bytes <= kMaxUniqueEdgeBytes;  // u * 2^(u-1) * mean
    }
    if (!finite) {
      // The array in a rule of its own, flagged for the matcher's item check (unique_items.h).
      ArrC plain = c;
      plain.unique = false;
      SIEVE_ASSIGN_OR_RETURN(ExprId body, EmitArray(plain, ctx));
      if (body == kNoExpr) return kNoExpr;
      const RuleId r = NewRule("uarr");
      g_.SetRuleBody(r, body);
      g_.SetRuleUniqueItems(r, true);
      Note(JsonSchemaNote::Kind::kInfo, c.unique_src, "uniqueItems",
           "items are checked for repeats by the matcher as each one ends (no grammar can say "
           "it; exported EBNF carries it as a #!unique_items directive)");
      return g_.AddRuleRef(r);
    } else {
      // Automaton over (position, set of values used).
      const int32_t u = static_cast<int32_t>(universe.size());
      std::vector<uint32_t> contains_masks;
      for (const ContainsC& cc : c.contains) {
        uint32_t m = 0;
        for (int32_t i = 0; i < u; ++i) m |= Matches(universe[i], cc.schema, 64) ? 1u << i : 0;
        contains_masks.push_back(m);
      }
      SeqAutomaton a;
      std::map<std::pair<int64_t, uint32_t>, int32_t> ids;
      std::deque<std::pair<int64_t, uint32_t>> queue;
      auto state = [&](int64_t pos, uint32_t mask) {
        auto [it, fresh] = ids.emplace(std::make_pair(pos, mask), 0);
        if (fresh) {
          int64_t n = std::popcount(mask);
          bool acc = n >= c.min && (c.max < 0 || n <= c.max);
          for (size_t j = 0; j < c.contains.size() && acc; ++j) {
            int64_t m = std::popcount(mask & contains_masks[j]);
            acc = m >= c.contains[j].min && (c.contains[j].max < 0 || m <= c.contains[j].max);
          }
          it->second = a.AddState(acc);
          queue.emplace_back(pos, mask);
        }
        return it->second;
      };
      state(0, 0);
      while (!queue.empty()) {
        auto [pos, mask] = queue.front();
        queue.pop_front();
        int32_t from = ids[{pos, mask}];
        // Positions past the tuple share the rest's domain (index k).
        if (pos >= static_cast<int64_t>(domains.size())) continue;
        if (c.max >= 0 && std::popcount(mask) >= c.max) continue;
        for (int32_t v : *domains[pos]) {
          int32_t label = 0;
          while (!doc_.Equal(universe[label], v)) ++label;
          if (mask >> label & 1) continue;
          int32_t to = state(std::min(pos + 1, k), mask | (1u << label));
          a.edges[from].push_back({label, to});
        }
      }
      auto item = [&](int32_t label) -> ExprId {
        auto e = EmitLiteral(universe[label], child);
        if (!e.ok()) {
          failure = e.status();
          return Lit("null");
        }
        return *e;
      };
      ExprId out = EmitSeqAutomaton(a, '[', ctx, item, "uarr");
      if (!failure.ok()) return failure;
      return out;
    }
  }

  // ---- contains: an automaton counting matches ----
  if (!c.contains.empty()) {
    for (ContainsC& cc : c.contains) {
      if (cc.max < 0) continue;
      auto neg = Eval(Not(cc.schema));
      if (neg.ok()) continue;
      if (neg.status().code() != StatusCode::kUnsupported) return neg.status();
      SIEVE_RETURN_IF_ERROR(Unenforceable(cc.src, "maxContains",
                                          "needs the negation of the contains schema, which "
                                          "cannot be expressed (" +
                                              neg.status().message() + ")",
                                          JsonSchemaNote::Kind::kLoosened));
      cc.max = -1;
    }
    if (c.contains.size() > 4) {
      if (opts_.unsupported == UnsupportedPolicy::kError) {
        return ErrorAt(Unsupported("more than 4 contains constraints on one array"),
                       c.contains[0].src, "contains");
      }
      for (size_t j = 4; j < c.contains.size(); ++j) {  // the automaton counts 4 at most
        Note(JsonSchemaNote::Kind::kLoosened, c.contains[j].src, "contains",
             "more than 4 contains constraints on one array; this one is not enforced");
      }
      c.contains.resize(4);
    }
    const size_t m = c.contains.size();
    std::vector<int64_t> caps;
    for (const ContainsC& cc : c.contains) caps.push_back(cc.max >= 0 ? cc.max : cc.min);
    const int64_t len_cap = std::max(k, c.max >= 0 ? c.max : c.min);
    SeqAutomaton a;
    std::vector<TermId> label_terms;
    std::map<TermId, int32_t> label_of;
    std::map<std::vector<int64_t>, int32_t> ids;
    std::deque<std::vector<int64_t>> queue;  // [len, counts...]
    bool over = false;
    auto state = [&](std::vector<int64_t> key) {
      auto [it, fresh] = ids.emplace(key, 0);
      if (fresh) {
        bool acc = key[0] >= c.min && (c.max < 0 || key[0] <= c.max);
        for (size_t j = 0; j < m && acc; ++j) acc = key[1 + j] >= c.contains[j].min;
        it->second = a.AddState(acc);
        queue.push_back(std::move(key));
        over |= static_cast<int32_t>(ids.size()) > opts_.max_automaton_states;
      }
      return it->second;
    };
    state(std::vector<int64_t>(1 + m, 0));
    while (!queue.empty() && !over) {
      std::vector<int64_t> key = std::move(queue.front());
      queue.pop_front();
      int32_t from = ids[key];
      const int64_t len = key[0];
      if (c.max >= 0 && len >= c.max) continue;
      TermId pos_term = len < k ? c.prefix[len] : c.rest;
      if (pos_term == kFalseTerm) continue;
      for (uint32_t set = 0; set < (1u << m); ++set) {
        std::vector<TermId> conj{pos_term};
        std::vector<int64_t> next = key;
        next[0] = std::min(len + 1, len_cap);
        bool ok = true;
        for (size_t j = 0; j < m && ok; ++j) {
          const ContainsC& cc = c.contains[j];
          if (set >> j & 1) {
            conj.push_back(cc.schema);
            next[1 + j] = key[1 + j] + 1;
            if (cc.max >= 0 && next[1 + j] > cc.max) ok = false;
            next[1 + j] = std::min(next[1 + j], caps[j]);
          } else if (cc.max >= 0) {
            conj.push_back(Not(cc.schema));
          }
        }
        if (!ok) continue;
        TermId t = And(std::move(conj));
        if (t == kFalseTerm || !TermSatisfiable(t, 1)) continue;
        auto [it, fresh] = label_of.emplace(t, static_cast<int32_t>(label_terms.size()));
        if (fresh) label_terms.push_back(t);
        int32_t to = state(std::move(next));
        a.edges[from].push_back({it->second, to});
      }
    }
    if (over) {
      return ErrorAt(Unsupported("contains with these counts needs more than "
                                 "max_automaton_states states"),
                     c.contains[0].src, "contains");
    }
    ExprId out = EmitSeqAutomaton(
        a, '[', ctx, [&](int32_t l) { return item_ref(label_terms[l]); }, "carr");
    if (!failure.ok()) return failure;
    return out;
  }

  // ---- plain arrays: nested tuple positions, then a counted repetition ----
  if (c.max == 0) return c.min == 0 ? Empty('[', ctx) : kNoExpr;
  for (int64_t i = 0; i < k && i < c.min; ++i) {
    if (c.prefix[i] == kFalseTerm) return c.min == 0 ? Empty('[', ctx) : kNoExpr;
  }
  // tail(i): the items from position i on, each preceded by a separator.
  ExprId tail = kNoExpr;
  if (c.rest != kFalseTerm && (c.max < 0 || c.max > k)) {
    int64_t lo = std::max<int64_t>(0, c.min - std::max<int64_t>(k, 1));
    int64_t hi = c.max < 0 ? -1 : c.max - std::max<int64_t>(k, 1);
    if (k > 0 || hi != 0) {
      tail = g_.AddRepeat(Seq({Sep(ctx), item_ref(c.rest)}), Clamp32(lo),
                          hi < 0 ? kUnbounded : Clamp32(hi));
    }
  }
  ExprId first;
  if (k == 0) {
    first = item_ref(c.rest);
  } else {
    for (int64_t i = k - 1; i >= 1; --i) {
      if (c.max >= 0 && i >= c.max) {
        tail = kNoExpr;
        continue;
      }
      if (c.prefix[i] == kFalseTerm) {
        tail = kNoExpr;
        continue;
      }
      ExprId here = Seq({Sep(ctx), item_ref(c.prefix[i]), tail});
      tail = i >= c.min ? g_.AddRepeat(here, 0, 1) : here;
    }
    if (c.prefix[0] == kFalseTerm) return c.min == 0 ? Empty('[', ctx) : kNoExpr;
    first = item_ref(c.prefix[0]);
  }
  std::vector<ExprId> alts;
  if (c.min == 0) alts.push_back(Empty('[', ctx));
  alts.push_back(Seq({Open('[', ctx), first, tail, Close(']', ctx)}));
  if (!failure.ok()) return failure;
  return Alt(std::move(alts));
}

}  // namespace sieve::jsonschema
