// Validation of literal JSON values against terms: the exact filter applied to enum/const values
// (an `enum` next to other keywords keeps only the members that satisfy them), to keys against
// propertyNames, and to the satisfiability checks of json_schema_algebra.cc.
//
// It evaluates the same formulas the grammar is emitted from, so "valid" here means valid for the
// constraints the converter enforces. Where an exact answer is out of reach (a multipleOf beyond
// 64-bit arithmetic, a pattern whose automaton exceeds the budget) the value is rejected: dropping
// an enum member narrows the grammar, keeping it could loosen it.
#include <algorithm>

#include "grammar/json_schema_internal.h"
#include "grammar/support/utf8.h"

namespace sieve::jsonschema {

namespace {

int64_t CodePoints(const std::string& s) {
  int64_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

}  // namespace

bool Converter::NumberMatches(const Decimal& v, const NumC& n) {
  if (n.integer && !v.IsInteger()) return false;
  if (n.not_integer && v.IsInteger()) return false;
  if (n.lo) {
    int c = Compare(v, n.lo->value);
    if (c < 0 || (c == 0 && n.lo->exclusive)) return false;
  }
  if (n.hi) {
    int c = Compare(v, n.hi->value);
    if (c > 0 || (c == 0 && n.hi->exclusive)) return false;
  }
  for (const Decimal& d : n.multiple_of) {
    auto m = v.MultipleOf(d);
    if (!m || !*m) return false;
  }
  for (const Decimal& d : n.not_multiple_of) {
    auto m = v.MultipleOf(d);
    if (!m || *m) return false;
  }
  for (const Decimal& e : n.excluded) {
    if (Compare(v, e) == 0) return false;
  }
  if (n.allowed) {
    bool found = false;
    for (const Decimal& a : *n.allowed) found = found || Compare(v, a) == 0;
    if (!found) return false;
  }
  return true;
}

bool Converter::StringMatches(const std::string& s, const StrC& c) {
  int64_t len = CodePoints(s);
  if (len < c.min_len || (c.max_len >= 0 && len > c.max_len)) return false;
  if (c.allowed && std::find(c.allowed->begin(), c.allowed->end(), s) == c.allowed->end()) {
    return false;
  }
  if (std::find(c.excluded.begin(), c.excluded.end(), s) != c.excluded.end()) return false;
  for (LangId l : c.langs) {
    auto d = LangDfa(l);
    if (!d.ok() || !(*d)->Accepts(s)) return false;
  }
  for (LangId l : c.not_langs) {
    auto d = LangDfa(l);
    if (!d.ok() || (*d)->Accepts(s)) return false;
  }
  return true;
}

bool Converter::ClauseMatches(int32_t value, const Clause& c, int depth) {
  if (depth <= 0) return false;
  const JNode& n = doc_.at(value);
  switch (n.kind) {
    case JNode::kNull:
      return c.types & kTNull;
    case JNode::kFalse:
      return (c.types & kTBool) && (c.bools & 1);
    case JNode::kTrue:
      return (c.types & kTBool) && (c.bools & 2);
    case JNode::kNumber: {
      if (!(c.types & kTNumber)) return false;
      auto d = Decimal::Parse(n.text);
      return d && NumberMatches(*d, c.num);
    }
    case JNode::kString:
      return (c.types & kTString) && StringMatches(n.text, c.str);
    case JNode::kArray: {
      if (!(c.types & kTArray)) return false;
      const ArrC& a = c.arr;
      const int64_t len = static_cast<int64_t>(n.kids.size());
      if (len < a.min || (a.max >= 0 && len > a.max)) return false;
      for (int64_t i = 0; i < len; ++i) {
        TermId t = i < static_cast<int64_t>(a.prefix.size()) ? a.prefix[i] : a.rest;
        if (!Matches(n.kids[i], t, depth - 1)) return false;
      }
      for (const ContainsC& cc : a.contains) {
        int64_t count = 0;
        for (int32_t k : n.kids) count += Matches(k, cc.schema, depth - 1);
        if (count < cc.min || (cc.max >= 0 && count > cc.max)) return false;
      }
      if (a.unique) {
        for (size_t i = 0; i < n.kids.size(); ++i) {
          for (size_t j = i + 1; j < n.kids.size(); ++j) {
            if (doc_.Equal(n.kids[i], n.kids[j])) return false;
          }
        }
      }
      if (a.allowed) {
        bool found = false;
        for (int32_t v : *a.allowed) found = found || doc_.Equal(v, value);
        if (!found) return false;
      }
      return true;
    }
    case JNode::kObject: {
      if (!(c.types & kTObject)) return false;
      const ObjC& o = c.obj;
      const int64_t count = static_cast<int64_t>(n.kids.size());
      if (count < o.min || (o.max >= 0 && count > o.max)) return false;
      for (const std::string& r : o.required) {
        if (doc_.Member(value, r) < 0) return false;
      }
      for (int32_t k : n.kids) {
        if (!Matches(k, ValueTermForKey(o, doc_.at(k).key), depth - 1)) return false;
      }
      if (o.allowed) {
        bool found = false;
        for (int32_t v : *o.allowed) found = found || doc_.Equal(v, value);
        if (!found) return false;
      }
      return true;
    }
  }
  return false;
}

bool Converter::Matches(int32_t value, TermId t, int depth) {
  if (t == kTrueTerm) return true;
  if (t == kFalseTerm || depth <= 0) return false;
  auto f = Eval(t);
  if (!f.ok()) return false;
  for (const Clause& c : (*f)->clauses) {
    if (ClauseMatches(value, c, depth)) return true;
  }
  return false;
}

}  // namespace sieve::jsonschema
