// The formula algebra behind allOf, not, oneOf and if/then/else.
//
// Merge (conjunction) distributes: (a1 | a2) & (b1 | b2) = a1&b1 | a1&b2 | ..., each pair merged
// clause by clause (types intersect, bounds take the tighter value, patterns and `contains`
// accumulate, tuple positions and property values become And terms, object parts are kept side by
// side so that each part's additionalProperties still sees only its own properties). Clauses that
// are provably empty are dropped; a type whose constraints are provably empty is removed from its
// clause (LiveTypes).
//
// Negation is De Morgan over the same structure: !(c1 | c2) = !c1 & !c2, and a clause is negated
// atom by atom (other types, or this type with one constraint flipped: minimum <-> exclusive
// maximum, pattern <-> a complemented pattern, required k <-> property k forbidden, properties
// {k: S} <-> k present with a value in !S, contains <-> minContains/maxContains flipped, items S
// <-> contains !S). What has no expressible negation (uniqueItems, additionalProperties with other
// properties, propertyNames, enum of arrays/objects) is kUnsupported and the caller decides
// (error, or a reported relaxation). Conjoined with clauses that admit finitely many keys (closed
// by additionalProperties false), additionalProperties, patternProperties and propertyNames do
// have a negation there: one of those keys present with a value outside a schema the part applies
// to it, or a key propertyNames rejects present (MinusWithinKeys: oneOf between closed branches,
// `not` beside a closed schema).
//
// oneOf is anyOf when the branches are pairwise provably disjoint (different types, disjoint
// enum/const values or ranges, a required property whose values are disjoint, ...); otherwise each
// branch is conjoined with the negation of the branches it may overlap, which is exact whenever
// those negations are expressible.
#include <algorithm>
#include <optional>
#include <unordered_set>
#include <utility>

#include "grammar/json_schema_internal.h"

namespace sieve::jsonschema {

namespace {

bool NumDefault(const NumC& n) {
  return !n.integer && !n.not_integer && !n.lo && !n.hi && n.multiple_of.empty() &&
         n.not_multiple_of.empty() && n.excluded.empty() && !n.allowed;
}
bool StrDefault(const StrC& s) {
  return s.min_len == 0 && s.max_len < 0 && s.langs.empty() && s.not_langs.empty() && !s.allowed &&
         s.excluded.empty();
}
bool ArrDefault(const ArrC& a) {
  return a.prefix.empty() && a.rest == kTrueTerm && a.min == 0 && a.max < 0 && a.contains.empty() &&
         !a.unique && !a.allowed;
}
bool ObjDefault(const ObjC& o) {
  return o.parts.empty() && o.required.empty() && o.min == 0 && o.max < 0 && o.names == kTrueTerm &&
         !o.allowed;
}
bool IsTrivial(const Clause& c) {
  return c.types == kTAll && c.bools == 3 && NumDefault(c.num) && StrDefault(c.str) &&
         ArrDefault(c.arr) && ObjDefault(c.obj);
}

void AddUniqueDecimal(std::vector<Decimal>* v, const Decimal& d) {
  for (const Decimal& x : *v) {
    if (Compare(x, d) == 0) return;
  }
  v->push_back(d);
}

int64_t MinMax(int64_t a, int64_t b) {  // min of two upper bounds, -1 = unbounded
  if (a < 0) return b;
  if (b < 0) return a;
  return std::min(a, b);
}

// The intersection of two optional enum/const value lists (array or object values; nullopt = any).
std::optional<std::vector<int32_t>> IntersectValues(const JDoc& doc,
                                                    const std::optional<std::vector<int32_t>>& p,
                                                    const std::optional<std::vector<int32_t>>& q) {
  if (!p || !q) return p ? p : q;
  std::vector<int32_t> keep;
  for (int32_t v : *p) {
    for (int32_t w : *q) {
      if (doc.Equal(v, w)) {
        keep.push_back(v);
        break;
      }
    }
  }
  return keep;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Conjunction

namespace {

NumC MergeNum(const NumC& a, const NumC& b) {
  NumC n = a;
  n.integer |= b.integer;
  n.not_integer |= b.not_integer;
  if (b.lo && (!n.lo || Compare(b.lo->value, n.lo->value) > 0 ||
               (Compare(b.lo->value, n.lo->value) == 0 && b.lo->exclusive))) {
    n.lo = b.lo;
  }
  if (b.hi && (!n.hi || Compare(b.hi->value, n.hi->value) < 0 ||
               (Compare(b.hi->value, n.hi->value) == 0 && b.hi->exclusive))) {
    n.hi = b.hi;
  }
  for (const Decimal& d : b.multiple_of) AddUniqueDecimal(&n.multiple_of, d);
  for (const Decimal& d : b.not_multiple_of) AddUniqueDecimal(&n.not_multiple_of, d);
  for (const Decimal& d : b.excluded) AddUniqueDecimal(&n.excluded, d);
  if (b.allowed) {
    if (!n.allowed) {
      n.allowed = b.allowed;
    } else {
      std::vector<Decimal> keep;
      for (const Decimal& x : *n.allowed) {
        for (const Decimal& y : *b.allowed) {
          if (Compare(x, y) == 0) {
            keep.push_back(x);
            break;
          }
        }
      }
      n.allowed = std::move(keep);
    }
  }
  if (n.src < 0) n.src = b.src;
  return n;
}

StrC MergeStr(const StrC& a, const StrC& b) {
  StrC s = a;
  s.min_len = std::max(a.min_len, b.min_len);
  s.max_len = MinMax(a.max_len, b.max_len);
  for (LangId l : b.langs) {
    if (std::find(s.langs.begin(), s.langs.end(), l) == s.langs.end()) s.langs.push_back(l);
  }
  for (LangId l : b.not_langs) {
    if (std::find(s.not_langs.begin(), s.not_langs.end(), l) == s.not_langs.end()) {
      s.not_langs.push_back(l);
    }
  }
  if (b.allowed) {
    if (!s.allowed) {
      s.allowed = b.allowed;
    } else {
      std::vector<std::string> keep;
      for (const std::string& x : *s.allowed) {
        if (std::find(b.allowed->begin(), b.allowed->end(), x) != b.allowed->end()) {
          keep.push_back(x);
        }
      }
      s.allowed = std::move(keep);
    }
  }
  for (const std::string& e : b.excluded) {
    if (std::find(s.excluded.begin(), s.excluded.end(), e) == s.excluded.end()) {
      s.excluded.push_back(e);
    }
  }
  if (s.len_src < 0) s.len_src = b.len_src;
  return s;
}

}  // namespace

Status Converter::AlternativesLimit(int32_t node, const std::string& keyword) {
  return ErrorAt(LimitError("combining subschemas yields more than max_alternatives (" +
                            std::to_string(opts_.max_alternatives) + ") alternatives"),
                 node >= 0 ? node : doc_.root(), keyword);
}

Result<Formula> Converter::Merge(const Formula& a, const Formula& b, int32_t src) {
  if (a.clauses.size() * b.clauses.size() > static_cast<size_t>(opts_.max_alternatives) * 4) {
    return AlternativesLimit(src);
  }
  Formula out;
  for (const Clause& x : a.clauses) {
    for (const Clause& y : b.clauses) {
      Clause c;
      if (IsTrivial(x)) {
        c = y;
      } else if (IsTrivial(y)) {
        c = x;
      } else {
        c.origin = -1;
        c.types = x.types & y.types;
        c.bools = x.bools & y.bools;
        if (c.types & kTNumber) c.num = MergeNum(x.num, y.num);
        if (c.types & kTString) c.str = MergeStr(x.str, y.str);
        if (c.types & kTArray) {
          const ArrC &p = x.arr, &q = y.arr;
          ArrC& r = c.arr;
          size_t n = std::max(p.prefix.size(), q.prefix.size());
          for (size_t i = 0; i < n; ++i) {
            TermId pi = i < p.prefix.size() ? p.prefix[i] : p.rest;
            TermId qi = i < q.prefix.size() ? q.prefix[i] : q.rest;
            r.prefix.push_back(And({pi, qi}));
          }
          r.rest = And({p.rest, q.rest});
          r.min = std::max(p.min, q.min);
          r.max = MinMax(p.max, q.max);
          r.contains = p.contains;
          r.contains.insert(r.contains.end(), q.contains.begin(), q.contains.end());
          r.unique = p.unique || q.unique;
          r.unique_src = p.unique ? p.unique_src : q.unique_src;
          r.allowed = IntersectValues(doc_, p.allowed, q.allowed);
        }
        if (c.types & kTObject) {
          const ObjC &p = x.obj, &q = y.obj;
          ObjC& r = c.obj;
          r.parts = p.parts;
          r.parts.insert(r.parts.end(), q.parts.begin(), q.parts.end());
          r.required = p.required;
          std::unordered_set<std::string> have(p.required.begin(), p.required.end());
          for (const std::string& k : q.required) {
            if (have.insert(k).second) r.required.push_back(k);
          }
          r.min = std::max(p.min, q.min);
          r.max = MinMax(p.max, q.max);
          r.names = And({p.names, q.names});
          r.src = p.src >= 0 ? p.src : q.src;
          r.allowed = IntersectValues(doc_, p.allowed, q.allowed);
        }
      }
      if (!Satisfiable(c, 0)) continue;
      out.clauses.push_back(std::move(c));
    }
  }
  if (static_cast<int32_t>(out.clauses.size()) > opts_.max_alternatives) {
    return AlternativesLimit(src);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Satisfiability (conservative: false only when provably empty)

TermId Converter::ValueTermForKey(const ObjC& o, const std::string& key, const PropIndex* index) {
  std::vector<TermId> conj;
  for (size_t pi = 0; pi < o.parts.size(); ++pi) {
    const ObjPart& p = o.parts[pi];
    std::vector<TermId> here;
    if (index) {
      auto it = (*index)[pi].find(key);
      if (it != (*index)[pi].end()) here = it->second;
    } else {
      for (const auto& [name, t] : p.props) {
        if (name == key) here.push_back(t);
      }
    }
    for (const auto& [lang, t] : p.patterns) {
      auto d = LangDfa(lang);
      if (!d.ok() || (*d)->Accepts(key)) here.push_back(t);
    }
    if (here.empty()) here.push_back(p.additional);
    conj.insert(conj.end(), here.begin(), here.end());
  }
  if (o.names != kTrueTerm) {
    auto f = Eval(o.names);
    bool ok = !f.ok();  // an error surfaces at emission; assume the name is fine here
    if (f.ok()) {
      for (const Clause& c : (*f)->clauses) {
        if ((c.types & kTString) && StringMatches(key, c.str)) ok = true;
      }
    }
    if (!ok) return kFalseTerm;
  }
  return And(std::move(conj));
}

bool Converter::TermSatisfiable(TermId t, int depth) {
  if (t == kTrueTerm) return true;
  if (t == kFalseTerm) return false;
  if (evaluating_[t]) return true;
  if (!Eval(t).ok()) return true;
  for (Clause& c : formulas_[t]->clauses) {
    if (Satisfiable(c, depth)) return true;
  }
  return false;
}

bool Converter::Satisfiable(Clause& c, int depth) {
  uint8_t live = c.types;
  if ((live & kTBool) && c.bools == 0) live &= ~kTBool;
  if (live & kTNumber) {
    const NumC& n = c.num;
    bool ok = !(n.integer && n.not_integer);
    if (ok && n.lo && n.hi) {
      int cmp = Compare(n.lo->value, n.hi->value);
      if (cmp > 0 || (cmp == 0 && (n.lo->exclusive || n.hi->exclusive))) ok = false;
      if (ok && cmp == 0) ok = NumberMatches(n.lo->value, n);
    }
    if (ok && n.allowed) {
      NumC rest = n;
      rest.allowed.reset();
      ok = false;
      for (const Decimal& v : *n.allowed) ok = ok || NumberMatches(v, rest);
    }
    if (!ok) live &= ~kTNumber;
  }
  if (live & kTString) {
    const StrC& s = c.str;
    bool ok = s.max_len < 0 || s.min_len <= s.max_len;
    // A narrowed format's automaton rejects some values the format accepts, so it cannot show
    // that no value satisfies the clause (oneOf would take overlapping branches for disjoint
    // ones): its superset (Lang::wide) stands in.
    std::vector<LangId> langs = s.langs;
    for (LangId& l : langs) {
      if (langs_[l].narrowed) l = langs_[l].wide;
    }
    if (ok && s.allowed) {
      StrC rest = s;
      rest.allowed.reset();
      rest.langs = langs;
      ok = false;
      for (const std::string& v : *s.allowed) ok = ok || StringMatches(v, rest);
    }
    if (ok && !s.allowed && depth > 0 && s.langs.size() + s.not_langs.size() >= 2) {
      // Pattern/format intersections: decide with automata when they are small.
      Result<CpDfa> acc = AnyStringDfa();
      for (LangId l : langs) {
        auto d = LangDfa(l);
        if (!d.ok() || !acc.ok()) break;
        acc = Intersect(*acc, **d, 2000);
      }
      for (LangId l : s.not_langs) {
        auto d = LangDfa(l);
        if (!d.ok() || !acc.ok()) break;
        acc = Intersect(*acc, Complement(**d), 2000);
      }
      if (acc.ok() && IsEmptyLanguage(*acc)) ok = false;
    }
    if (!ok) live &= ~kTString;
  }
  if (live & kTArray) {
    const ArrC& a = c.arr;
    int64_t max = a.max;
    if (a.rest == kFalseTerm) max = MinMax(max, static_cast<int64_t>(a.prefix.size()));
    bool ok = max < 0 || a.min <= max;
    for (const ContainsC& cc : a.contains) {
      if (!ok) break;
      if (cc.max >= 0 && cc.min > cc.max) ok = false;
      if (cc.min > 0 && max >= 0 && cc.min > max) ok = false;
      if (ok && cc.min > 0 && depth > 0) ok = TermSatisfiable(cc.schema, depth - 1);
    }
    for (int64_t i = 0; ok && i < a.min && depth > 0 && i < 64; ++i) {
      TermId t = i < static_cast<int64_t>(a.prefix.size()) ? a.prefix[i] : a.rest;
      ok = TermSatisfiable(t, depth - 1);
    }
    if (ok && a.min > static_cast<int64_t>(a.prefix.size()) && a.rest == kFalseTerm) ok = false;
    if (ok && a.allowed) {
      Clause rest;
      rest.types = kTArray;
      rest.arr = a;
      rest.arr.allowed.reset();
      ok = false;
      for (int32_t v : *a.allowed) ok = ok || ClauseMatches(v, rest, 8);
    }
    if (!ok) live &= ~kTArray;
  }
  if (live & kTObject) {
    const ObjC& o = c.obj;
    bool ok = o.max < 0 || (o.min <= o.max && static_cast<int64_t>(o.required.size()) <= o.max);
    PropIndex index(o.parts.size());
    for (size_t pi = 0; pi < o.parts.size(); ++pi) {
      for (const auto& [name, t] : o.parts[pi].props) index[pi][name].push_back(t);
    }
    for (const std::string& k : o.required) {
      if (!ok) break;
      TermId v = ValueTermForKey(o, k, &index);
      ok = v != kFalseTerm && (depth == 0 || TermSatisfiable(v, depth - 1));
    }
    if (ok && o.min > 0) {
      // Closed parts bound the possible keys.
      bool closed = false;
      for (const ObjPart& p : o.parts) closed |= p.additional == kFalseTerm && p.patterns.empty();
      if (closed) {
        int64_t possible = 0;
        std::unordered_set<std::string> seen;
        for (const ObjPart& p : o.parts) {
          for (const auto& [name, t] : p.props) {
            if (!seen.insert(name).second) continue;
            if (ValueTermForKey(o, name, &index) != kFalseTerm) ++possible;
          }
        }
        if (possible < o.min) ok = false;
      }
    }
    if (ok && o.min > 0 && NoKeyPossible(o)) ok = false;
    if (ok && o.allowed) {
      Clause rest;
      rest.types = kTObject;
      rest.obj = o;
      rest.obj.allowed.reset();
      ok = false;
      for (int32_t v : *o.allowed) ok = ok || ClauseMatches(v, rest, 8);
    }
    if (!ok) live &= ~kTObject;
  }
  c.types = live;
  return live != 0;
}

bool Converter::NoKeyPossible(const ObjC& o) {
  // A narrowed language stands for fewer keys than the keyword allows: its superset stands in.
  auto dfa = [&](LangId l) -> const CpDfa* {
    if (langs_[l].narrowed) l = langs_[l].wide;
    if (l < 0) return nullptr;
    auto d = LangDfa(l);
    return d.ok() ? *d : nullptr;
  };
  // Whether `key` may be a member under closed part `p` (unsure: yes).
  auto admits = [&](const ObjPart& p, const std::string& key) {
    for (const auto& [name, t] : p.props) {
      if (name == key) return true;
    }
    for (const auto& [lang, t] : p.patterns) {
      const CpDfa* d = dfa(lang);
      if (d == nullptr || d->Accepts(key)) return true;
    }
    return false;
  };
  std::vector<const ObjPart*> closed;
  for (const ObjPart& p : o.parts) {
    if (p.additional == kFalseTerm) closed.push_back(&p);
  }
  for (size_t i = 0; i < closed.size(); ++i) {
    for (size_t j = i + 1; j < closed.size(); ++j) {
      const ObjPart& p = *closed[i];
      const ObjPart& q = *closed[j];
      bool disjoint = true;
      for (const auto& [name, t] : p.props) disjoint = disjoint && !admits(q, name);
      for (const auto& [name, t] : q.props) disjoint = disjoint && !admits(p, name);
      for (size_t x = 0; x < p.patterns.size() && disjoint; ++x) {
        for (size_t y = 0; y < q.patterns.size() && disjoint; ++y) {
          const CpDfa* a = dfa(p.patterns[x].first);
          const CpDfa* b = dfa(q.patterns[y].first);
          if (a == nullptr || b == nullptr) {
            disjoint = false;
            break;
          }
          auto both = Intersect(*a, *b, 2000);
          disjoint = both.ok() && IsEmptyLanguage(*both);
        }
      }
      if (disjoint) return true;
    }
  }
  return false;
}

bool Converter::OnlyEmptyObjectInCommon(const Formula& a, const Formula& b, int32_t src) {
  for (const Clause& x : a.clauses) {
    for (const Clause& y : b.clauses) {
      Formula fx, fy;
      fx.clauses.push_back(x);
      fy.clauses.push_back(y);
      auto m = Merge(fx, fy, src);
      if (!m.ok()) return false;
      for (Clause& c : m->clauses) {
        if (!(c.types & kTObject)) continue;
        if (c.types != kTObject) return false;  // only object parts are compared here
        c.obj.min = std::max<int64_t>(c.obj.min, 1);
        if (Satisfiable(c, 3)) return false;
      }
    }
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// Negation

namespace {

Clause OfType(uint8_t t) {
  Clause c;
  c.types = t;
  return c;
}

}  // namespace

std::optional<std::vector<std::string>> Converter::ClosedKeys(const Clause& c) {
  if (!(c.types & kTObject)) return std::vector<std::string>{};  // it admits no object
  const ObjC& o = c.obj;
  if (o.allowed) return std::nullopt;
  const ObjPart* closed = nullptr;
  for (const ObjPart& p : o.parts) {
    if (p.additional == kFalseTerm && p.patterns.empty()) {
      closed = &p;
      break;
    }
  }
  if (!closed) return std::nullopt;
  std::vector<std::string> keys;
  for (const auto& [key, term] : closed->props) {
    const std::string& k = key;  // (clang before 16: no structured bindings in lambdas)
    bool allowed = term != kFalseTerm;
    for (const ObjPart& q : o.parts) {
      if (&q == closed || !allowed || q.additional != kFalseTerm) continue;
      bool in = std::any_of(q.props.begin(), q.props.end(),
                            [&](const auto& kv) { return kv.first == k; });
      for (const auto& [lang, t] : q.patterns) {
        auto d = LangDfa(lang);
        in = in || !d.ok() || (*d)->Accepts(k);  // unsure (no automaton): kept
      }
      allowed = in;
    }
    if (allowed) keys.push_back(k);
  }
  return keys;
}

Result<Formula> Converter::MinusWithinKeys(const Formula& a, const Formula& b, int32_t src) {
  Formula out;
  for (const Clause& x : a.clauses) {
    const std::optional<std::vector<std::string>> keys = ClosedKeys(x);
    if (!keys) {
      return ErrorAt(Unsupported("the negation of additionalProperties/patternProperties is not "
                                 "supported"),
                     src);
    }
    SIEVE_ASSIGN_OR_RETURN(Formula neg, Negate(b, src, &*keys));
    Formula fx;
    fx.clauses.push_back(x);
    SIEVE_ASSIGN_OR_RETURN(Formula m, Merge(fx, neg, src));
    for (Clause& c : m.clauses) out.clauses.push_back(std::move(c));
    if (static_cast<int32_t>(out.clauses.size()) > opts_.max_alternatives) {
      return AlternativesLimit(src);
    }
  }
  return out;
}

Result<Formula> Converter::Negate(const Formula& f, int32_t src,
                                  const std::vector<std::string>* keys) {
  Formula acc;
  acc.clauses.emplace_back();
  for (const Clause& c : f.clauses) {
    Formula n;
    uint8_t other = kTAll & ~c.types;
    if (other) n.clauses.push_back(OfType(other));
    if ((c.types & kTBool) && c.bools != 3 && (3 & ~c.bools)) {
      Clause x = OfType(kTBool);
      x.bools = 3 & ~c.bools;
      n.clauses.push_back(x);
    }
    if (c.types & kTNumber) {
      const NumC& m = c.num;
      auto push = [&](auto fill) {
        Clause x = OfType(kTNumber);
        x.num.src = m.src;
        fill(x.num);
        n.clauses.push_back(std::move(x));
      };
      if (m.integer) push([](NumC& x) { x.not_integer = true; });
      if (m.not_integer) push([](NumC& x) { x.integer = true; });
      if (m.lo) push([&](NumC& x) { x.hi = Bound{m.lo->value, !m.lo->exclusive}; });
      if (m.hi) push([&](NumC& x) { x.lo = Bound{m.hi->value, !m.hi->exclusive}; });
      for (const Decimal& d : m.multiple_of) push([&](NumC& x) { x.not_multiple_of = {d}; });
      for (const Decimal& d : m.not_multiple_of) push([&](NumC& x) { x.multiple_of = {d}; });
      for (const Decimal& d : m.excluded) push([&](NumC& x) { x.allowed = std::vector{d}; });
      if (m.allowed) push([&](NumC& x) { x.excluded = *m.allowed; });
    }
    if (c.types & kTString) {
      const StrC& s = c.str;
      auto push = [&](auto fill) {
        Clause x = OfType(kTString);
        x.str.len_src = s.len_src;
        fill(x.str);
        n.clauses.push_back(std::move(x));
      };
      if (s.min_len > 0) push([&](StrC& x) { x.max_len = s.min_len - 1; });
      if (s.max_len >= 0) push([&](StrC& x) { x.min_len = s.max_len + 1; });
      for (LangId l : s.langs) {
        // A narrowed format's complement holds values the format accepts; its superset's
        // complement holds none (a narrowing, said at the format).
        if (langs_[l].narrowed) {
          Note(JsonSchemaNote::Kind::kNarrowed, langs_[l].src, "format",
               "negated (not, the negation of if, oneOf): rejected are also the values of a "
               "superset of format '" + langs_[l].text + "' that the format itself rejects");
        }
        const LangId neg = langs_[l].narrowed ? langs_[l].wide : l;
        push([&](StrC& x) { x.not_langs = {neg}; });
      }
      for (LangId l : s.not_langs) push([&](StrC& x) { x.langs = {l}; });
      if (s.allowed) push([&](StrC& x) { x.excluded = *s.allowed; });
      for (const std::string& e : s.excluded) {
        push([&](StrC& x) { x.allowed = std::vector<std::string>{e}; });
      }
    }
    if (c.types & kTArray) {
      const ArrC& a = c.arr;
      auto push = [&](auto fill) {
        Clause x = OfType(kTArray);
        fill(x.arr);
        n.clauses.push_back(std::move(x));
      };
      if (a.unique) {
        return ErrorAt(Unsupported("the negation of uniqueItems (an array with a duplicate) "
                                   "cannot be expressed by a grammar"),
                       a.unique_src >= 0 ? a.unique_src : src, "uniqueItems");
      }
      if (a.allowed) {
        return ErrorAt(Unsupported("the negation of an enum/const of arrays is not supported"),
                       src);
      }
      if (a.min > 0) push([&](ArrC& x) { x.max = a.min - 1; });
      if (a.max >= 0) push([&](ArrC& x) { x.min = a.max + 1; });
      for (size_t i = 0; i < a.prefix.size(); ++i) {
        if (a.prefix[i] == kTrueTerm) continue;
        push([&](ArrC& x) {
          x.min = static_cast<int64_t>(i) + 1;
          x.prefix.assign(i, kTrueTerm);
          x.prefix.push_back(Not(a.prefix[i]));
        });
      }
      if (a.rest != kTrueTerm) {
        if (!a.prefix.empty()) {
          return ErrorAt(Unsupported("the negation of items after a tuple is not supported"), src);
        }
        push([&](ArrC& x) { x.contains.push_back({Not(a.rest), 1, -1, src}); });
      }
      for (const ContainsC& cc : a.contains) {
        if (cc.min > 0)
          push([&](ArrC& x) { x.contains.push_back({cc.schema, 0, cc.min - 1, cc.src}); });
        if (cc.max >= 0)
          push([&](ArrC& x) { x.contains.push_back({cc.schema, cc.max + 1, -1, cc.src}); });
      }
    }
    if (c.types & kTObject) {
      const ObjC& o = c.obj;
      auto push = [&](auto fill) {
        Clause x = OfType(kTObject);
        x.obj.src = o.src;
        fill(x.obj);
        n.clauses.push_back(std::move(x));
      };
      if (o.allowed) {
        return ErrorAt(Unsupported("the negation of an enum/const of objects is not supported"),
                       src);
      }
      if (o.names != kTrueTerm && !keys) {
        return ErrorAt(Unsupported("the negation of propertyNames is not supported"), src);
      }
      if (o.names != kTrueTerm) {
        // Only keys from *keys occur: propertyNames is violated where one of them that its
        // schema rejects (as a string) is present.
        SIEVE_ASSIGN_OR_RETURN(const Formula* names, Eval(o.names));
        for (const std::string& k : *keys) {
          bool ok = false;
          for (const Clause& nc : names->clauses) {
            ok = ok || ((nc.types & kTString) && StringMatches(k, nc.str));
          }
          if (!ok) push([&](ObjC& x) { x.required.push_back(k); });
        }
      }
      if (o.min > 0) push([&](ObjC& x) { x.max = o.min - 1; });
      if (o.max >= 0) push([&](ObjC& x) { x.min = o.max + 1; });
      for (const std::string& k : o.required) {
        push([&](ObjC& x) {
          ObjPart p;
          p.props.emplace_back(k, kFalseTerm);
          x.parts.push_back(std::move(p));
        });
      }
      for (const ObjPart& p : o.parts) {
        if (keys) {
          // Only keys from *keys occur: the part is violated where one of them is present with a
          // value outside a schema the part applies to it (its property's, those of the
          // patterns that match it, additionalProperties' where neither names it).
          for (const std::string& k : *keys) {
            std::vector<TermId> applied;
            bool named = false;
            for (const auto& [key, term] : p.props) {
              if (key != k) continue;
              named = true;
              if (term != kTrueTerm) applied.push_back(term);
            }
            for (const auto& [lang, term] : p.patterns) {
              SIEVE_ASSIGN_OR_RETURN(const CpDfa* d, LangDfa(lang));
              if (!d->Accepts(k)) continue;
              named = true;
              if (term != kTrueTerm) applied.push_back(term);
            }
            if (!named && p.additional != kTrueTerm) applied.push_back(p.additional);
            for (const TermId t : applied) {
              push([&](ObjC& x) {
                x.required.push_back(k);
                ObjPart q;
                q.props.emplace_back(k, Not(t));
                x.parts.push_back(std::move(q));
              });
            }
          }
          continue;
        }
        if (!p.patterns.empty() || p.additional != kTrueTerm) {
          return ErrorAt(Unsupported("the negation of additionalProperties/patternProperties "
                                     "is not supported"),
                         p.src >= 0 ? p.src : src);
        }
        for (const auto& [key, term] : p.props) {
          // Named copies: clang before 16 cannot capture structured bindings (issue 10's clang
          // fuzz build compiles this file).
          const auto& k = key;
          const auto& t = term;
          if (t == kTrueTerm) continue;
          push([&](ObjC& x) {
            x.required.push_back(k);
            ObjPart q;
            q.props.emplace_back(k, Not(t));
            x.parts.push_back(std::move(q));
          });
        }
      }
    }
    auto m = Merge(acc, n, src);
    if (!m.ok()) return m.status();
    acc = std::move(m).value();
  }
  return acc;
}

// ---------------------------------------------------------------------------------------------
// oneOf

namespace {

// The literal values a term allows for a discriminator property, as canonical strings, when they
// are finitely many strings, numbers or booleans.
bool DiscriminatorValues(Converter* conv, TermId t, std::vector<std::string>* out) {
  auto f = conv->Eval(t);
  if (!f.ok()) return false;
  for (const Clause& c : (*f)->clauses) {
    if (c.types & ~(kTString | kTNumber | kTBool | kTNull)) return false;
    if ((c.types & kTString) && !c.str.allowed) return false;
    if ((c.types & kTNumber) && !c.num.allowed) return false;
    if (c.types & kTString) {
      for (const std::string& v : *c.str.allowed) out->push_back(std::string("s").append(v));
    }
    if (c.types & kTNumber) {
      for (const Decimal& v : *c.num.allowed) out->push_back(std::string("n").append(v.ToString()));
    }
    if (c.types & kTBool) {
      if (c.bools & 1) out->push_back("false");
      if (c.bools & 2) out->push_back("true");
    }
    if (c.types & kTNull) out->push_back("null");
  }
  return true;
}

}  // namespace

// Objects told apart by a required property with disjoint literal values (a discriminator, as in
// OpenAPI/Pydantic tagged unions): linear instead of the pairwise check.
static bool DisjointByDiscriminator(Converter* conv, const std::vector<const Formula*>& fs) {
  if (fs.empty() || fs[0]->clauses.empty()) return false;
  for (const Formula* f : fs) {
    for (const Clause& c : f->clauses) {
      if (c.types != kTObject || c.obj.allowed) return false;
    }
  }
  for (const std::string& key : fs[0]->clauses[0].obj.required) {
    std::unordered_set<std::string> seen;
    bool ok = true;
    for (size_t i = 0; i < fs.size() && ok; ++i) {
      std::vector<std::string> mine;
      for (const Clause& c : fs[i]->clauses) {
        const auto& req = c.obj.required;
        if (std::find(req.begin(), req.end(), key) == req.end() ||
            !DiscriminatorValues(conv, conv->ValueTermForKey(c.obj, key), &mine)) {
          ok = false;
          break;
        }
      }
      std::sort(mine.begin(), mine.end());
      mine.erase(std::unique(mine.begin(), mine.end()), mine.end());
      for (const std::string& v : mine) ok = ok && seen.insert(v).second;
    }
    if (ok) return true;
  }
  return false;
}

// Which pairs of formulas may both admit a value: not when their objects are told apart by a
// discriminator, else when some pair of clauses (one from each) merges into a satisfiable one.
static Result<std::vector<std::vector<uint8_t>>> Overlaps(Converter* conv,
                                                          const std::vector<const Formula*>& fs,
                                                          int32_t src) {
  const size_t n = fs.size();
  std::vector<std::vector<uint8_t>> overlap(n, std::vector<uint8_t>(n, 0));
  if (DisjointByDiscriminator(conv, fs)) return overlap;
  for (size_t i = 0; i < n; ++i) {
    for (size_t j = i + 1; j < n; ++j) {
      bool disjoint = true;
      for (size_t x = 0; x < fs[i]->clauses.size() && disjoint; ++x) {
        for (size_t y = 0; y < fs[j]->clauses.size() && disjoint; ++y) {
          Formula a, b;
          a.clauses.push_back(fs[i]->clauses[x]);
          b.clauses.push_back(fs[j]->clauses[y]);
          auto m = conv->Merge(a, b, src);
          if (!m.ok()) return m.status();
          for (Clause& c : m->clauses) disjoint = disjoint && !conv->Satisfiable(c, 3);
        }
      }
      overlap[i][j] = overlap[j][i] = !disjoint;
    }
  }
  return overlap;
}

Result<Formula> Converter::PerTypeOneOf(const std::vector<const Formula*>& fs, int32_t src) {
  const size_t n = fs.size();
  Formula out;
  for (const uint8_t t : {kTNull, kTBool, kTNumber, kTString, kTArray, kTObject}) {
    std::vector<Formula> part(n);
    std::vector<const Formula*> parts;
    for (size_t i = 0; i < n; ++i) {
      for (const Clause& c : fs[i]->clauses) {
        if (!(c.types & t)) continue;
        part[i].clauses.push_back(c);
        part[i].clauses.back().types = t;
        part[i].clauses.back().origin = -1;  // no longer Eval(origin): emitted anew
      }
      parts.push_back(&part[i]);
    }
    SIEVE_ASSIGN_OR_RETURN(const auto overlap, Overlaps(this, parts, src));
    for (size_t i = 0; i < n; ++i) {
      Formula acc = part[i];
      for (size_t j = 0; j < n && !acc.clauses.empty(); ++j) {
        if (j == i || !overlap[i][j]) continue;
        Result<Formula> neg = Negate(part[j], src);
        if (!neg.ok() && neg.status().code() == StatusCode::kUnsupported && t == kTObject) {
          // Branches closed by additionalProperties false (versioned configurations): part[j]
          // negated within the keys each clause of acc admits.
          auto within = MinusWithinKeys(acc, part[j], src);
          if (within.ok()) {
            acc = std::move(within).value();
            continue;
          }
          if (within.status().code() != StatusCode::kUnsupported) return within.status();
        }
        if (!neg.ok() && neg.status().code() == StatusCode::kUnsupported && t == kTObject &&
            OnlyEmptyObjectInCommon(part[i], part[j], src)) {
          // Objects the negation cannot say (additionalProperties, patternProperties) but whose
          // only possible common value is {} (closed branches with disjoint keys): part[i] minus
          // part[j] is part[i]'s non-empty objects when part[j] admits {}, all of part[i] when
          // it does not.
          int empty = 0;  // part[j] admits {}: 1 surely, 0 surely not, -1 unsure
          for (const Clause& y : part[j].clauses) {
            if (y.obj.allowed) {
              empty = -1;
              break;
            }
            if (y.obj.required.empty() && y.obj.min == 0) empty = 1;
          }
          if (empty >= 0) {
            Clause objects = OfType(kTObject);
            if (empty == 1) objects.obj.min = 1;
            neg = Formula{{objects}};
          }
        }
        if (!neg.ok()) return neg.status();
        SIEVE_ASSIGN_OR_RETURN(acc, Merge(acc, *neg, src));
      }
      for (Clause& c : acc.clauses) out.clauses.push_back(std::move(c));
    }
  }
  return out;
}

Result<Formula> Converter::OneOf(const std::vector<TermId>& branches, int32_t src) {
  const size_t n = branches.size();
  std::vector<const Formula*> fs;
  for (TermId b : branches) {
    auto f = Eval(b);
    if (!f.ok()) return f.status();
    fs.push_back(*f);
  }
  SIEVE_ASSIGN_OR_RETURN(const auto overlap, Overlaps(this, fs, src));
  bool any = false;
  for (const auto& row : overlap) any = any || std::find(row.begin(), row.end(), 1) != row.end();
  Formula out;
  auto union_of_branches = [&]() {
    Formula u;
    for (size_t i = 0; i < n; ++i) {
      for (const Clause& c : fs[i]->clauses) u.clauses.push_back(c);
    }
    return u;
  };
  if (!any) return union_of_branches();
  // Exactly one branch, type by type: a value of type t matches a branch iff it matches the
  // branch's clauses restricted to t, so only the types where branches overlap need negations,
  // and those only of the branches' t parts (a JSON Patch operation's branches all admit every
  // non-object, which no branch constrains, while their objects are told apart by `op`: the
  // negation of their objects' additionalProperties is never needed).
  {
    auto per_type = PerTypeOneOf(fs, src);
    if (per_type.ok()) return std::move(*per_type);
    if (per_type.status().code() != StatusCode::kUnsupported &&
        per_type.status().code() != StatusCode::kLimit) {
      return per_type.status();
    }
  }
  for (size_t i = 0; i < n; ++i) {
    std::vector<TermId> conj{branches[i]};
    for (size_t j = 0; j < n; ++j) {
      if (j != i && overlap[i][j]) conj.push_back(Not(branches[j]));
    }
    auto f = Eval(And(conj));
    if (!f.ok()) {
      if (f.status().code() != StatusCode::kUnsupported && !IsAlternativesLimit(f.status())) {
        return f.status();
      }
      size_t a = 0, b = 0;
      for (size_t x = 0; x < n; ++x) {
        for (size_t y = x + 1; y < n; ++y) {
          if (overlap[x][y] && a == b) {
            a = x;
            b = y;
          }
        }
      }
      SIEVE_RETURN_IF_ERROR(
          Unenforceable(src, "oneOf",
                        "branches " + std::to_string(a) + " and " + std::to_string(b) +
                            " may both match and exactly-one cannot be expressed (" +
                            f.status().message() + "); oneOf treated as anyOf",
                        JsonSchemaNote::Kind::kLoosened));
      return union_of_branches();
    }
    for (const Clause& c : (*f)->clauses) out.clauses.push_back(c);
  }
  return out;
}

}  // namespace sieve::jsonschema
