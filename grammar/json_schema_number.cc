// Numbers: exact decimals and the digit automata that enforce numeric keywords without unrolling.
//
// A number's text is a sign and a magnitude (`0|[1-9][0-9]*` with an optional `.digits`). Every
// numeric constraint becomes an automaton over the magnitude's characters, and the automata are
// intersected (json_schema_automaton.h) and minimised:
//  - the syntax automaton: integer (no fraction, or only zeros with integer_allows_zero_fraction),
//    non-integer (a non-zero fraction digit), or any magnitude;
//  - a comparison automaton per bound B: it reads the integer digits while tracking how many were
//    read (up to len(B)+1: a longer integer part is larger, since there are no leading zeros) and
//    the lexicographic relation with B's digits, then the fraction digits against B's fraction;
//    its accepting states are the ones whose final relation (<, =, >) the bound allows. Size is
//    linear in the length of B, so `maximum: 1e300` costs 300 states, not 10^300;
//  - a residue automaton per multipleOf D = p * 10^e: with k = max(0, -e) and m = p * 10^max(0, e),
//    x is a multiple of D iff x * 10^k is an integer (fraction digits past the k-th are zeros) that
//    is 0 mod m. It tracks the residue mod m of the digits read (integer digits, then the first k
//    fraction digits); m above max_multiple_of_modulus is unsupported;
//  - `not` of these (excluded values, non-multiples) flips the accepting sets.
// The sign is handled by building the magnitude automaton twice: for x >= 0 and for -x (bounds
// mirrored). Exponent notation is accepted in full for unconstrained numbers and for numbers
// bounded only at zero (the sign decides). Under other bounds the set of all exponent forms in range
// is not regular (10^n written as 1, n zeros, e-n, compares a length with a decimal number), so
// only the scientific form is generated, exactly: a mantissa M = d or d.ddd (d in 1-9) and an
// exponent E, value M x 10^E. A bound b = B x 10^eb (B in [1, 10)) is then decided by E alone for
// E != eb and by M against B at E = eb (see ScientificForms), so the forms in range are a few
// mantissa automata, each followed by the exponents that pair with it (an integer interval written
// with optional sign and leading zeros); zero mantissas (0e5, 0.0E-3) wherever 0 is in range.
// Other exponent forms (12e3, 0.5e1) and exponents under multipleOf or excluded values are not
// generated (reported as kNarrowed). Enumerated values
// (enum/const) are filtered with exact decimal arithmetic and each becomes an equality automaton,
// so `1`, `1.0` and `1.00` are all the value 1.
#include <algorithm>
#include <string>
#include <utility>

#include "grammar/json_schema_internal.h"

namespace sieve::jsonschema {

// ---------------------------------------------------------------------------------------------
// Decimal

std::optional<Decimal> Decimal::Parse(std::string_view s) {
  constexpr int64_t kMaxExp = 100000;
  Decimal d;
  size_t i = 0;
  bool neg = false;
  if (i < s.size() && s[i] == '-') {
    neg = true;
    ++i;
  }
  std::string mant;
  int64_t frac_len = 0;
  bool any = false;
  while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
    mant.push_back(s[i++]);
    any = true;
  }
  if (i < s.size() && s[i] == '.') {
    ++i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
      mant.push_back(s[i++]);
      ++frac_len;
      any = true;
    }
  }
  if (!any) return std::nullopt;
  int64_t exp = 0;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    bool eneg = false;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) eneg = s[i++] == '-';
    if (i >= s.size()) return std::nullopt;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
      exp = exp * 10 + (s[i++] - '0');
      if (exp > kMaxExp * 10) return std::nullopt;
    }
    if (eneg) exp = -exp;
  }
  if (i != s.size()) return std::nullopt;
  size_t lead = mant.find_first_not_of('0');
  if (lead == std::string::npos) return Decimal();
  mant.erase(0, lead);
  size_t trail = mant.find_last_not_of('0');
  int64_t dropped = static_cast<int64_t>(mant.size() - trail - 1);
  mant.erase(trail + 1);
  d.neg = neg;
  d.digits = std::move(mant);
  d.exp = exp - frac_len + dropped;
  if (d.exp > kMaxExp || d.exp < -kMaxExp) return std::nullopt;
  return d;
}

Decimal Decimal::FromInt(int64_t v) { return *Parse(std::to_string(v)); }

Decimal Decimal::Negated() const {
  Decimal d = *this;
  if (!d.digits.empty()) d.neg = !d.neg;
  return d;
}

std::string Decimal::IntDigits() const {
  if (digits.empty()) return "0";
  int64_t pos = static_cast<int64_t>(digits.size()) + exp;
  if (pos <= 0) return "0";
  if (exp >= 0) return digits + std::string(exp, '0');
  return digits.substr(0, pos);
}

std::string Decimal::FracDigits() const {
  if (exp >= 0) return "";
  int64_t pos = static_cast<int64_t>(digits.size()) + exp;
  if (pos >= 0) return digits.substr(pos);
  return std::string(-pos, '0') + digits;
}

std::string Decimal::ToString() const {
  std::string out = neg ? "-" : "";
  out += IntDigits();
  std::string f = FracDigits();
  if (!f.empty()) out.append(".").append(f);
  return out;
}

int Compare(const Decimal& a, const Decimal& b) {
  int sa = a.is_zero() ? 0 : (a.neg ? -1 : 1);
  int sb = b.is_zero() ? 0 : (b.neg ? -1 : 1);
  if (sa != sb) return sa < sb ? -1 : 1;
  if (sa == 0) return 0;
  int64_t pa = static_cast<int64_t>(a.digits.size()) + a.exp;
  int64_t pb = static_cast<int64_t>(b.digits.size()) + b.exp;
  int mag = 0;
  if (pa != pb) {
    mag = pa < pb ? -1 : 1;
  } else {
    size_t n = std::max(a.digits.size(), b.digits.size());
    for (size_t i = 0; i < n && mag == 0; ++i) {
      char x = i < a.digits.size() ? a.digits[i] : '0';
      char y = i < b.digits.size() ? b.digits[i] : '0';
      if (x != y) mag = x < y ? -1 : 1;
    }
  }
  return sa > 0 ? mag : -mag;
}

std::optional<bool> Decimal::MultipleOf(const Decimal& d) const {
  if (is_zero()) return true;
  if (d.is_zero() || d.digits.size() > 18) return std::nullopt;
  if (exp < d.exp) return false;  // digits has no trailing zeros: 10^k never divides it
  unsigned __int128 m = std::stoull(d.digits), r = 0;
  for (char c : digits) r = (r * 10 + (c - '0')) % m;
  for (int64_t k = exp - d.exp; k > 0 && r != 0; --k) r = r * 10 % m;
  return r == 0;
}

// ---------------------------------------------------------------------------------------------
// Magnitude automata

namespace {

constexpr char32_t kDot = '.';

void Digits(CpDfa* d, int32_t from, char lo, char hi, int32_t to) {
  if (lo <= hi) d->AddEdge(from, static_cast<char32_t>(lo), static_cast<char32_t>(hi), to);
}

enum class Syntax { kAny, kInteger, kIntegerZeroFraction, kNonInteger };

CpDfa SyntaxDfa(Syntax syn) {
  CpDfa d;
  int32_t start = d.AddState(false);
  int32_t zero = d.AddState(true);
  int32_t intn = d.AddState(true);
  Digits(&d, start, '0', '0', zero);
  Digits(&d, start, '1', '9', intn);
  Digits(&d, intn, '0', '9', intn);
  if (syn == Syntax::kNonInteger) {
    d.set_accepting(zero, false);
    d.set_accepting(intn, false);
  }
  if (syn != Syntax::kInteger) {
    int32_t dot = d.AddState(false);
    d.AddEdge(zero, kDot, kDot, dot);
    d.AddEdge(intn, kDot, kDot, dot);
    if (syn == Syntax::kAny) {
      int32_t frac = d.AddState(true);
      Digits(&d, dot, '0', '9', frac);
      Digits(&d, frac, '0', '9', frac);
    } else if (syn == Syntax::kIntegerZeroFraction) {
      int32_t frac = d.AddState(true);
      Digits(&d, dot, '0', '0', frac);
      Digits(&d, frac, '0', '0', frac);
    } else {
      int32_t zeros = d.AddState(false), nz = d.AddState(true);
      Digits(&d, dot, '0', '0', zeros);
      Digits(&d, zeros, '0', '0', zeros);
      Digits(&d, dot, '1', '9', nz);
      Digits(&d, zeros, '1', '9', nz);
      Digits(&d, nz, '0', '9', nz);
    }
  }
  d.Normalize();
  return d;
}

// Relations a comparison automaton may accept: bit 0 <, bit 1 =, bit 2 >.
constexpr int kLt = 1, kEq = 2, kGt = 4;

// Magnitudes x (syntactically valid, no leading zeros) whose relation to |b| is in `rels`.
CpDfa CompareDfa(const Decimal& b, int rels) {
  const std::string bi = b.IntDigits(), bf = b.FracDigits();
  const int32_t L = static_cast<int32_t>(bi.size()), F = static_cast<int32_t>(bf.size());
  CpDfa d;
  // Decided states.
  auto rel_ok = [&](int r) { return (rels & r) != 0; };
  int32_t start = d.AddState(false);
  int32_t dec_lt = d.AddState(rel_ok(kLt));
  int32_t dec_gt = d.AddState(rel_ok(kGt));
  d.AddEdge(dec_lt, '0', '9', dec_lt);
  d.AddEdge(dec_lt, kDot, kDot, dec_lt);
  d.AddEdge(dec_gt, '0', '9', dec_gt);
  d.AddEdge(dec_gt, kDot, kDot, dec_gt);
  // Fraction phase (integer parts equal): frac[j] after j fraction digits, all equal so far.
  std::vector<int32_t> frac(F + 1);
  for (int32_t j = 0; j <= F; ++j) frac[j] = d.AddState(rel_ok(j < F ? kLt : kEq));
  for (int32_t j = 0; j < F; ++j) {
    char bd = bf[j];
    Digits(&d, frac[j], '0', bd - 1, dec_lt);
    Digits(&d, frac[j], bd, bd, frac[j + 1]);
    Digits(&d, frac[j], bd + 1, '9', dec_gt);
  }
  Digits(&d, frac[F], '0', '0', frac[F]);
  Digits(&d, frac[F], '1', '9', dec_gt);
  // Integer phase: state (n, rel) after n <= L digits.
  auto int_state = [&](int32_t n, int rel, std::vector<int32_t>* ids) -> int32_t& {
    return (*ids)[n * 3 + (rel == kLt ? 0 : rel == kEq ? 1 : 2)];
  };
  std::vector<int32_t> ids((L + 1) * 3, -1);
  auto final_rel = [&](int32_t n, int rel) {
    if (n < L) return kLt;
    if (rel != kEq) return rel;
    return F > 0 ? kLt : kEq;
  };
  for (int32_t n = 1; n <= L; ++n) {
    for (int rel : {kLt, kEq, kGt}) int_state(n, rel, &ids) = d.AddState(rel_ok(final_rel(n, rel)));
  }
  auto on_digits = [&](int32_t from, int32_t n, int rel) {
    // Reading the (n+1)-th integer digit.
    if (n + 1 > L) {
      d.AddEdge(from, '0', '9', dec_gt);
      return;
    }
    if (rel != kEq) {
      d.AddEdge(from, '0', '9', int_state(n + 1, rel, &ids));
      return;
    }
    char bd = bi[n];
    Digits(&d, from, '0', bd - 1, int_state(n + 1, kLt, &ids));
    Digits(&d, from, bd, bd, int_state(n + 1, kEq, &ids));
    Digits(&d, from, bd + 1, '9', int_state(n + 1, kGt, &ids));
  };
  on_digits(start, 0, kEq);
  for (int32_t n = 1; n <= L; ++n) {
    for (int rel : {kLt, kEq, kGt}) {
      int32_t s = int_state(n, rel, &ids);
      on_digits(s, n, rel);
      int fr = n < L ? kLt : rel;
      d.AddEdge(s, kDot, kDot, fr == kLt ? dec_lt : fr == kGt ? dec_gt : frac[0]);
    }
  }
  d.Normalize();
  return d;
}

// Magnitudes that are (or, with `negate`, are not) multiples of m after scaling by 10^k.
CpDfa ResidueDfa(uint64_t m, int64_t k, bool negate) {
  CpDfa d;
  auto pow10mod = [&](int64_t e) {
    uint64_t r = 1 % m;
    for (int64_t i = 0; i < e; ++i) r = r * 10 % m;
    return r;
  };
  // int phase states 0..m-1 (state id = r), fraction phase (j, r) for j in 1..k.
  for (uint64_t r = 0; r < m; ++r) {
    bool mult = (r * pow10mod(k)) % m == 0;
    d.AddState(mult != negate);
  }
  auto frac_id = [&](int64_t j, uint64_t r) { return static_cast<int32_t>(m * j + r); };
  for (int64_t j = 1; j <= k; ++j) {
    uint64_t p = pow10mod(k - j);
    for (uint64_t r = 0; r < m; ++r) d.AddState(((r * p) % m == 0) != negate);
  }
  // The '.' goes to fraction phase j=0 with the same residue: reuse a dedicated layer.
  int32_t dot_base = d.num_states();
  for (uint64_t r = 0; r < m; ++r) {
    bool mult = (r * pow10mod(k)) % m == 0;
    d.AddState(mult != negate);
  }
  int32_t bad = negate ? d.AddState(true) : -1;
  if (bad >= 0) d.AddEdge(bad, '0', '9', bad);
  auto layer = [&](int64_t j, uint64_t r) -> int32_t {
    return j == 0 ? dot_base + static_cast<int32_t>(r) : frac_id(j, r);
  };
  for (uint64_t r = 0; r < m; ++r) {
    for (int dgt = 0; dgt <= 9; ++dgt) {
      uint64_t r2 = (r * 10 + dgt) % m;
      d.AddEdge(static_cast<int32_t>(r), '0' + dgt, '0' + dgt, static_cast<int32_t>(r2));
    }
    d.AddEdge(static_cast<int32_t>(r), kDot, kDot, layer(0, r));
  }
  for (int64_t j = 0; j <= k; ++j) {
    for (uint64_t r = 0; r < m; ++r) {
      int32_t s = layer(j, r);
      if (j < k) {
        for (int dgt = 0; dgt <= 9; ++dgt) {
          d.AddEdge(s, '0' + dgt, '0' + dgt, layer(j + 1, (r * 10 + dgt) % m));
        }
      } else {
        d.AddEdge(s, '0', '0', s);
        if (bad >= 0) d.AddEdge(s, '1', '9', bad);
      }
    }
  }
  d.Normalize();
  return d;
}

// Scientific mantissas: d or d.ddd with d in 1-9 (values in [1, 10)).
CpDfa MantissaDfa() {
  CpDfa d;
  int32_t start = d.AddState(false);
  int32_t lead = d.AddState(true);
  int32_t dot = d.AddState(false);
  int32_t frac = d.AddState(true);
  Digits(&d, start, '1', '9', lead);
  d.AddEdge(lead, kDot, kDot, dot);
  Digits(&d, dot, '0', '9', frac);
  Digits(&d, frac, '0', '9', frac);
  d.Normalize();
  return d;
}

// The relations to b.v a magnitude may have under bound b.
int Relations(const MagBound& b) {
  return b.lower ? (b.excl ? kGt : kGt | kEq) : (b.excl ? kLt : kLt | kEq);
}

// Position of x's leading digit (x != 0): x = X * 10^Lead(x) with X in [1, 10).
int64_t Lead(const Decimal& x) { return static_cast<int64_t>(x.digits.size()) + x.exp - 1; }

// x * 10^-shift (the same digits).
Decimal Shifted(const Decimal& x, int64_t shift) {
  Decimal d = x;
  d.exp -= shift;
  return d;
}

}  // namespace

Result<ExprId> Converter::EmitNumber(const NumC& c) {
  const int32_t budget = opts_.max_automaton_states;
  Syntax syn = c.integer ? (opts_.integer_allows_zero_fraction ? Syntax::kIntegerZeroFraction
                                                               : Syntax::kInteger)
                         : (c.not_integer ? Syntax::kNonInteger : Syntax::kAny);
  if (c.integer && c.not_integer) return kNoExpr;

  if (c.allowed) {
    // Each member is a literal: its digits, then the zero padding the syntax allows (1 = 1.0);
    // for any number also its scientific form (1.5 = 1.5e0 = 1.50E+0; 0 = 0e7), exactly.
    NumC rest = c;
    rest.allowed.reset();
    std::vector<ExprId> alts;
    auto zeros = [&] { return g_.AddRepeat(Lit("0"), 0, kUnbounded); };
    bool scientific = false;
    for (const Decimal& v : *c.allowed) {
      if (!NumberMatches(v, rest)) continue;
      const std::string frac = v.FracDigits();
      ExprId tail = kNoExpr;
      if (frac.empty()) {
        if (syn != Syntax::kInteger) tail = ZeroFraction();
      } else {
        tail = Seq({Lit("." + frac), zeros()});
      }
      ExprId mag = Seq({Lit(v.IntDigits()), tail});
      if (syn == Syntax::kAny) {
        // Mantissa d[.ddd] of |v|, then zero padding, then its one exponent (any for 0).
        const std::string lead = v.is_zero() ? "0" : v.digits.substr(0, 1);
        const std::string rest_digits = v.is_zero() ? "" : v.digits.substr(1);
        ExprId m_tail =
            rest_digits.empty() ? ZeroFraction() : Seq({Lit("." + rest_digits), zeros()});
        const std::optional<int64_t> e =
            v.is_zero() ? std::nullopt : std::optional<int64_t>(Lead(v));
        mag = Alt({mag, Seq({Lit(lead), m_tail, ExponentRange(e, e)})});
        scientific = true;
      }
      alts.push_back(v.is_zero() ? Seq({g_.AddRepeat(Lit("-"), 0, 1), mag})
                     : v.neg     ? Seq({Lit("-"), mag})
                                 : mag);
    }
    if (scientific) {
      Note(JsonSchemaNote::Kind::kNarrowed, c.src, "",
           "enumerated numbers accept exponent notation only in scientific form (one digit before "
           "the point, as 1.5e0 for 1.5)");
    }
    if (alts.empty()) return kNoExpr;
    return Alt(std::move(alts));
  }

  const bool bounded = c.lo || c.hi;
  const bool trivial = !bounded && c.multiple_of.empty() && c.not_multiple_of.empty() &&
                       c.excluded.empty() && !c.not_integer;
  auto exponent = [&]() {
    ExprId e = g_.AddCharClass({{'e', 'e'}, {'E', 'E'}}, false);
    ExprId sign = g_.AddRepeat(g_.AddCharClass({{'+', '+'}, {'-', '-'}}, false), 0, 1);
    ExprId digits = g_.AddRepeat(g_.AddCharClass({{'0', '9'}}, false), 1, kUnbounded);
    return g_.AddRepeat(Seq({e, sign, digits}), 0, 1);
  };
  if (trivial) {
    std::string name = syn == Syntax::kAny       ? "number"
                       : syn == Syntax::kInteger ? "integer"
                                                 : "integer_z";
    auto it = shared_rules_.find(name);
    if (it != shared_rules_.end()) return Ref(it->second);
    RuleId r = NewSharedRule(name);
    shared_rules_[name] = r;
    ExprId mag = EmitRawDfa(this, SyntaxDfa(syn), name + "_mag");
    ExprId body = Seq({g_.AddRepeat(Lit("-"), 0, 1), mag});
    if (syn == Syntax::kAny) body = Seq({body, exponent()});
    g_.SetRuleBody(r, body);
    return Ref(r);
  }

  // Exponent notation stays exact when every bound is at zero (the sign decides) and nothing
  // else looks at the digits; under other bounds alone, its scientific form (ScientificForms).
  auto zero_bound = [](const std::optional<Bound>& b) { return !b || b->value.is_zero(); };
  const bool digits_free =
      c.multiple_of.empty() && c.not_multiple_of.empty() && c.excluded.empty();
  const bool exp_ok = syn == Syntax::kAny && zero_bound(c.lo) && zero_bound(c.hi) && digits_free;
  const bool sci_ok = syn == Syntax::kAny && !exp_ok && digits_free;
  if (sci_ok) {
    Note(JsonSchemaNote::Kind::kNarrowed, c.src, "",
         "numbers with bounds accept exponent notation only in scientific form (one non-zero "
         "digit before the point, as 1.5e3 or 2E-7)");
  } else if (syn == Syntax::kAny && !exp_ok) {
    Note(JsonSchemaNote::Kind::kNarrowed, c.src, "",
         "numbers with multipleOf or excluded values are accepted without exponent notation");
  }

  auto intersect = [&](CpDfa* acc, const CpDfa& d) -> Status {
    auto r = Intersect(*acc, d, budget);
    if (!r.ok()) return r.status();
    *acc = Minimize(*r);
    return Status::Ok();
  };
  // Signed bounds on x -> bounds on the magnitude m (x = m or x = -m); nullopt when no magnitude
  // of that sign can satisfy them.
  auto magnitude_bounds = [&](bool negative) -> std::optional<std::vector<MagBound>> {
    std::vector<MagBound> bounds;
    auto mirror = [&](const std::optional<Bound>& b, bool is_lower) -> bool {
      if (!b) return true;
      // x >= v  <=>  (positive) m >= v ; (negative) m <= -v.
      bool lower = negative ? !is_lower : is_lower;
      Decimal v = negative ? b->value.Negated() : b->value;
      if (v.neg) {
        return lower;  // m >= negative: always; m <= negative: never
      }
      if (v.is_zero()) {
        if (lower && !b->exclusive) return true;   // m >= 0
        if (!lower && b->exclusive) return false;  // m < 0
      }
      bounds.push_back({v, b->exclusive, lower});
      return true;
    };
    if (!mirror(c.lo, true) || !mirror(c.hi, false)) return std::nullopt;
    return bounds;
  };
  // Builds the magnitude automaton of one sign.
  auto build = [&](bool negative) -> Result<std::optional<CpDfa>> {
    const std::optional<std::vector<MagBound>> bounds = magnitude_bounds(negative);
    if (!bounds) return std::optional<CpDfa>();
    CpDfa acc = SyntaxDfa(syn);
    for (const MagBound& b : *bounds) {
      SIEVE_RETURN_IF_ERROR(intersect(&acc, CompareDfa(b.v, Relations(b))));
    }
    for (const Decimal& e : c.excluded) {
      if (e.is_zero() || e.neg == negative) {
        SIEVE_RETURN_IF_ERROR(intersect(&acc, CompareDfa(e, kLt | kGt)));
      }
    }
    for (int pass = 0; pass < 2; ++pass) {
      for (const Decimal& dv : pass == 0 ? c.multiple_of : c.not_multiple_of) {
        // dv = p * 10^e; modulus m = p * 10^max(0,e), scale k = max(0,-e).
        uint64_t m = 0;
        bool ok = dv.digits.size() <= 18;
        if (ok) m = std::stoull(dv.digits);
        for (int64_t i = 0; ok && i < dv.exp; ++i) {
          ok = m <= static_cast<uint64_t>(opts_.max_multiple_of_modulus) / 10;
          m *= 10;
        }
        if (!ok || m > static_cast<uint64_t>(opts_.max_multiple_of_modulus)) {
          return Unsupported("multipleOf " + dv.ToString() + " needs a residue automaton over " +
                             "more than max_multiple_of_modulus (" +
                             std::to_string(opts_.max_multiple_of_modulus) + ") states");
        }
        SIEVE_RETURN_IF_ERROR(
            intersect(&acc, ResidueDfa(m, std::max<int64_t>(0, -dv.exp), pass == 1)));
      }
    }
    if (IsEmptyLanguage(acc)) return std::optional<CpDfa>();
    return std::optional<CpDfa>(std::move(acc));
  };
  auto pos = build(false);
  if (!pos.ok()) return pos.status();
  auto neg = build(true);
  if (!neg.ok()) return neg.status();
  std::vector<ExprId> alts;
  for (const bool negative : {true, false}) {
    const std::optional<CpDfa>& plain = negative ? *neg : *pos;
    if (!plain) continue;
    std::vector<ExprId> forms{EmitRawDfa(this, *plain, "num")};
    if (sci_ok) {
      auto sci = ScientificForms(*magnitude_bounds(negative));
      if (!sci.ok()) return sci.status();
      if (*sci != kNoExpr) forms.push_back(*sci);
    }
    ExprId mag = forms.size() == 1 ? forms[0] : Alt(std::move(forms));
    alts.push_back(negative ? Seq({Lit("-"), mag}) : mag);
  }
  if (alts.empty()) return kNoExpr;
  ExprId body = Alt(std::move(alts));
  if (exp_ok) body = Seq({body, exponent()});
  return body;
}

// Magnitudes m = M x 10^E in scientific form within `bounds` (at most one lower and one upper,
// as magnitude_bounds gives them). For a lower bound a = A x 10^ea: E > ea always satisfies it
// (m >= 10^(ea+1) > a), E < ea never (m < 10^(E+1) <= 10^ea <= a), E = ea iff M against A; an
// upper bound b = B x 10^eb mirrors that. So the forms are: M against A at ea, M against B at eb
// (both at once when ea == eb), any M for E strictly between, and the zero mantissas at any E
// where 0 is in range (no lower bound left: magnitude_bounds drops m >= 0).
Result<ExprId> Converter::ScientificForms(const std::vector<MagBound>& bounds) {
  const int32_t budget = opts_.max_automaton_states;
  const MagBound* lower = nullptr;
  const MagBound* upper = nullptr;
  for (const MagBound& b : bounds) (b.lower ? lower : upper) = &b;
  std::vector<ExprId> alts;
  if (!lower) {
    alts.push_back(Seq({Lit("0"), ZeroFraction(), ExponentRange(std::nullopt, std::nullopt)}));
  }
  if (upper && upper->v.is_zero()) return alts.empty() ? kNoExpr : Alt(std::move(alts));
  // A lower bound at zero (m > 0) holds for every non-zero mantissa.
  if (lower && lower->v.is_zero()) lower = nullptr;
  const std::optional<int64_t> ea = lower ? std::optional<int64_t>(Lead(lower->v)) : std::nullopt;
  const std::optional<int64_t> eb = upper ? std::optional<int64_t>(Lead(upper->v)) : std::nullopt;
  // Mantissas against the bounds whose exponent is e, followed by exponent e.
  auto at = [&](int64_t e) -> Status {
    CpDfa acc = MantissaDfa();
    for (const MagBound* b : {lower, upper}) {
      if (!b || Lead(b->v) != e) continue;
      auto r = Intersect(acc, CompareDfa(Shifted(b->v, e), Relations(*b)), budget);
      if (!r.ok()) return r.status();
      acc = Minimize(*r);
    }
    if (IsEmptyLanguage(acc)) return Status::Ok();
    alts.push_back(Seq({EmitRawDfa(this, acc, "num_sci"), ExponentRange(e, e)}));
    return Status::Ok();
  };
  if (ea && eb && *ea > *eb) return alts.empty() ? kNoExpr : Alt(std::move(alts));
  if (ea) SIEVE_RETURN_IF_ERROR(at(*ea));
  if (eb && eb != ea) SIEVE_RETURN_IF_ERROR(at(*eb));
  const std::optional<int64_t> from = ea ? std::optional<int64_t>(*ea + 1) : std::nullopt;
  const std::optional<int64_t> to = eb ? std::optional<int64_t>(*eb - 1) : std::nullopt;
  if (!from || !to || *from <= *to) {
    alts.push_back(Seq({EmitRawDfa(this, MantissaDfa(), "num_sci"), ExponentRange(from, to)}));
  }
  return alts.empty() ? kNoExpr : Alt(std::move(alts));
}

// `e` or `E` and an exponent in [from, to] (each end optional: unbounded), as JSON writes it: an
// optional sign (`-` only for negative values; `+` or none otherwise; either for zero) and digits
// with any leading zeros. kNoExpr when the interval is empty.
ExprId Converter::ExponentRange(std::optional<int64_t> from, std::optional<int64_t> to) {
  // (Expressions form a tree: each use builds its own.)
  auto e = [&] { return g_.AddCharClass({{'e', 'e'}, {'E', 'E'}}, false); };
  auto zeros = [&] { return g_.AddRepeat(Lit("0"), 0, kUnbounded); };
  // Digits (no leading zero) of the integers in [lo, hi] (hi optional), lo >= 1.
  auto magnitudes = [&](int64_t lo, std::optional<int64_t> hi) -> ExprId {
    CpDfa acc = SyntaxDfa(Syntax::kInteger);
    // Linear in the digits of lo and hi (at most 20 states each): no budget to exceed.
    acc = Minimize(*Intersect(acc, CompareDfa(Decimal::FromInt(lo), kGt | kEq), 1 << 20));
    if (hi) acc = Minimize(*Intersect(acc, CompareDfa(Decimal::FromInt(*hi), kLt | kEq), 1 << 20));
    return EmitRawDfa(this, acc, "num_exp");
  };
  std::vector<ExprId> alts;
  // E >= 1: [max(from, 1), to].
  const int64_t pos_lo = std::max<int64_t>(from.value_or(1), 1);
  if (!to || *to >= pos_lo) {
    alts.push_back(Seq({e(), g_.AddRepeat(Lit("+"), 0, 1), zeros(), magnitudes(pos_lo, to)}));
  }
  if ((!from || *from <= 0) && (!to || *to >= 0)) {
    ExprId sign = g_.AddRepeat(g_.AddCharClass({{'+', '+'}, {'-', '-'}}, false), 0, 1);
    alts.push_back(Seq({e(), sign, g_.AddRepeat(Lit("0"), 1, kUnbounded)}));
  }
  // E <= -1: |E| in [max(-to, 1), -from].
  const int64_t neg_lo = std::max<int64_t>(to ? -*to : 1, 1);
  const std::optional<int64_t> neg_hi = from ? std::optional<int64_t>(-*from) : std::nullopt;
  if (!neg_hi || *neg_hi >= neg_lo) {
    alts.push_back(Seq({e(), Lit("-"), zeros(), magnitudes(neg_lo, neg_hi)}));
  }
  if (alts.empty()) return kNoExpr;
  return alts.size() == 1 ? alts[0] : Alt(std::move(alts));
}

}  // namespace sieve::jsonschema
