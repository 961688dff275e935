// `format: "regex"`: the patterns JavaScript's `new RegExp(s)` accepts (ECMA-262 with the Annex B
// web-compatibility grammar, no flags: what JSON Schema validators run), as a regular language.
//
// The pattern grammar is context-free only through balanced groups, so nesting is bounded: the
// Disjunction of level k mentions level k-1 once (inside its groups), so the text grows linearly
// with kRegexFormatDepth, while the minimal automaton holds one copy of the per-level states for
// every shape the stack of open groups can have. That product is what bounds everything here: the
// automaton (and the token-mask cache, about 0.15 ms per state with a 128k vocabulary: nearly every
// token continues a pattern) grows with (stack shapes) x (states of one level), so every fact that
// needs memory at each level is either cheap or narrowed:
//  - a lookbehind may not be quantified, so after its ')' the automaton must know the group was a
//    lookbehind: a bit per level would make 2^depth stack shapes, so a lookbehind's contents hold
//    no groups and lookbehinds stand outside groups (one extra stack shape in all);
//  - group names must be distinct and \k<name> must name a group: not regular (a name has no
//    bound) and even "at most one named group" doubles the automaton, so named groups are
//    rejected, and so is \k (without named groups it is an identity escape nobody writes);
//  - {n,m} needs n <= m: the automaton remembers a one-digit n; a two-digit n needs an m of three
//    or more digits; longer n, and leading zeros, are rejected;
//  - a class range needs lo <= hi: RegexFormatClassCheck remembers only the kind of the lower
//    endpoint (first digit, other digit, first upper/lower letter, other letter, class escape,
//    other), so ranges within digits and letters are accepted from the first or to the last
//    member (0-9 1-9 0-5 a-z g-z A-F) and across them upwards (0-z A-z); a class escape on either
//    side is always accepted (Annex B); every other range is rejected ([2-5], [ -~], [\x00-\x1f],
//    [\u4e00-\u9fa5]);
//  - identity escapes of letters (\a \e \p \P ...) are rejected: valid under Annex B but errors
//    with the u flag and nearly always a mistake (\p{L} is not a property without u);
//    JSON-Schema-Test-Suite's ecmascript-regex also expects \a to be rejected;
//  - in classes only \d \D \s \S \w \W, \xHH, \uHHHH, \cX (a letter, digit or '_'), \b \f \n \r
//    \t \v and identity escapes of non-alphanumerics are accepted (no \0-\9);
//  - an unescaped literal '{' is not followed by a digit (`{1}` in atom position is a SyntaxError,
//    `{1` alone is the narrowing).
// Exact: alternation with empty alternatives, groups (...) (?:...), lookahead (quantifiable under
// Annex B), lookbehind and ^ $ \b \B (not quantifiable), * + ? {n} {n,} {n,m} with the lazy '?',
// "nothing to repeat" (`*a`, `a**`, `a*??`, `(?:+)`, `^*`, `x{1}{2}`), Annex B literals (']', '}',
// '{' starting no quantifier), classes including [] and [^] (their contents: see above), escapes
// outside classes (\d \w \s \t \n \v \f \r \0 \cX \xHH \uHHHH, \1-\9... as backreferences or
// legacy octal, identity escapes of non-letters; \u{2} is \u then a quantifier, while \u{1F600}
// falls under the '{' narrowing), a trailing lone backslash. The instance is the decoded JSON
// string, like every format's. Not counted: capture groups (ECMA-262 sets no limit; V8 refuses
// more than 32,767, i.e. patterns of 65,536 characters or more of nothing but groups).
// Negated (not, if, oneOf), the format stands for a superset of itself (Lang::wide in
// json_schema_format.cc), so a negation narrows as well.
#include "grammar/json_schema_regex_format.h"

#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

namespace sieve::jsonschema {
namespace {

// "(a|b|...)".
std::string Alt(const std::vector<std::string>& alts) {
  std::string out;
  for (const std::string& a : alts) out += (out.empty() ? "(" : "|") + a;
  return out + ")";
}

// Quantifiers with the lazy suffix.
std::string Quantifier() {
  std::vector<std::string> braced = {"[0-9]+,?", "0,[0-9]+"};
  for (int d = 1; d <= 9; ++d) {
    braced.push_back(std::to_string(d) + ",([" + std::to_string(d) + "-9]|[1-9][0-9]+)");
  }
  braced.push_back("[1-9][0-9],[1-9][0-9][0-9]+");
  return R"((([*+?]|\{)" + Alt(braced) + R"(\})\??))";
}

// The Disjunction of level k (k more groups may open inside it): (Term | '|')*, where a Term is
// an atom with an optional quantifier or an assertion. Level k mentions level k-1 once.
std::string Disjunction(int k, const std::string& quant, const std::string& cls) {
  std::string atom = R"(\.|[^\^$\\.*+?()\[{|0-9]|\\[^BbkA-Za-z]|\\[cdDfnrsStuvwWx]|)" + cls;
  std::string assertion = R"(\^|\$|\\[bB]|\|)";
  if (k > 0) {
    atom += R"(|\((\?[:=!])?)" + Disjunction(k - 1, quant, cls) + R"(\))";
  }
  if (k == kRegexFormatDepth && k > 0) {
    assertion += R"(|\(\?<[=!])" + Disjunction(kRegexLookbehindDepth, quant, cls) + R"(\))";
  }
  // Digits are atoms of their own so that an unquantified '{' is never followed by one.
  return R"(((\{*()" + atom + ")|[0-9])" + quant + R"(?|\{*()" + assertion + R"())*\{*)";
}

// Kinds of a lower range endpoint (kD0: '0', kD: another digit, kU0: 'A', kU: another upper case
// letter, kL0 / kL likewise, kC: a class escape, kX: anything else).
enum Kind { kD0, kD, kU0, kU, kL0, kL, kC, kX, kKinds };

Kind LowKind(char32_t c) {
  if (c == '0') return kD0;
  if (c >= '1' && c <= '9') return kD;
  if (c == 'A') return kU0;
  if (c >= 'B' && c <= 'Z') return kU;
  if (c == 'a') return kL0;
  if (c >= 'b' && c <= 'z') return kL;
  return kX;
}

// Whether lo-hi is accepted for a literal upper endpoint hi (lo not a class escape): digits <
// upper case < lower case; within one group only from its first or to its last member.
bool RangeOk(Kind lo, char32_t hi) {
  const int g = hi >= '0' && hi <= '9'   ? 0
                : hi >= 'A' && hi <= 'Z' ? 1
                : hi >= 'a' && hi <= 'z' ? 2
                                         : -1;
  if (g < 0 || lo >= kC) return false;
  const int lg = lo / 2;
  if (lg != g) return lg < g;
  return lo % 2 == 0 || hi == U"9Zz"[g];
}

}  // namespace

std::string RegexFormatStructure() {
  return Disjunction(kRegexFormatDepth, Quantifier(), R"(\[(\\[^k]|[^\]\\])*\])");
}

// Classes are scanned as JavaScript pairs their atoms: an atom followed by '-' and another atom is
// a range ('-' itself may be the lower end); after a single atom the next one may start a range.
// Outside classes it only steps over escapes. Every state accepts (the structure decides the
// rest): a missing edge is what rejects.
CpDfa RegexFormatClassCheck() {
  CpDfa d;
  auto state = [&] { return d.AddState(true); };
  const int32_t out = state(), out_esc = state(), start = state(), p = state();
  const int32_t esc_lo = state(), esc_hi = state(), esc_hi_c = state();
  const int32_t ctl_lo = state(), ctl_hi = state();
  int32_t pend[kKinds], dash[kKinds], skip_lo[4], skip_hi[4];
  for (int32_t& s : pend) s = state();
  for (int32_t& s : dash) s = state();
  for (int32_t& s : skip_lo) s = state();
  for (int32_t& s : skip_hi) s = state();
  constexpr char32_t kMax = 0x10FFFF;
  auto edge = [&](int32_t from, char32_t lo, char32_t hi, int32_t to) {
    if (lo <= 0xD7FF) d.AddEdge(from, lo, std::min<char32_t>(hi, 0xD7FF), to);
    if (hi >= 0xE000) d.AddEdge(from, std::max<char32_t>(lo, 0xE000), hi, to);
  };
  auto all_but = [&](int32_t from, std::u32string special, int32_t to) {
    std::sort(special.begin(), special.end());
    char32_t next = 0;
    for (char32_t c : special) {
      if (c > next) edge(from, next, c - 1, to);
      next = c + 1;
    }
    edge(from, next, kMax, to);
  };
  auto each = [&](int32_t from, std::u32string_view chars, int32_t to) {
    for (char32_t c : chars) d.AddEdge(from, c, c, to);
  };
  const std::u32string_view class_escapes = U"dDsSwW", hex = U"0123456789ABCDEFabcdef";
  // Escapes that are not single-character atoms here: digits, class escapes, \x \u \c (read
  // above), \k, and the identity escapes of letters (\a \e \p ...: valid under Annex B, errors
  // with the u flag, and nearly always a mistake: rejected). \b \f \n \r \t \v remain.
  const std::u32string kNotIdentity = U"0123456789dDsSwWxuckaeghijlmopqyzABCEFGHIJKLMNOPQRTUVXYZ";
  const std::u32string_view ctl_letters =
      U"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz";

  all_but(out, U"[\\", out);
  d.AddEdge(out, '\\', '\\', out_esc);
  d.AddEdge(out, '[', '[', start);
  edge(out_esc, 0, kMax, out);

  // A new atom: ']' closes, an escape or a character is held in pend[kind] (it may become a lower
  // endpoint). `dash_ok`: whether '-' is an atom here (not right after a held atom).
  auto atom = [&](int32_t from, bool dash_ok) {
    d.AddEdge(from, ']', ']', out);
    d.AddEdge(from, '\\', '\\', esc_lo);
    for (char32_t c = 0; c < 128; ++c) {
      if (c == ']' || c == '\\' || (c == '-' && !dash_ok) || (from == start && c == '^')) continue;
      d.AddEdge(from, c, c, pend[LowKind(c)]);
    }
    edge(from, 128, kMax, pend[kX]);
  };
  atom(start, true);
  d.AddEdge(start, '^', '^', p);
  atom(p, true);

  // Escapes as lower endpoints (or single atoms): class escapes are kC, the others kX once their
  // fixed-length tail is read. \0-\9 and \k are rejected.
  each(esc_lo, class_escapes, pend[kC]);
  d.AddEdge(esc_lo, 'x', 'x', skip_lo[1]);
  d.AddEdge(esc_lo, 'u', 'u', skip_lo[3]);
  d.AddEdge(esc_lo, 'c', 'c', ctl_lo);
  all_but(esc_lo, kNotIdentity, pend[kX]);
  each(ctl_lo, ctl_letters, pend[kX]);
  for (int i = 3; i > 0; --i) each(skip_lo[i], hex, skip_lo[i - 1]);
  each(skip_lo[0], hex, pend[kX]);

  // Escapes as upper endpoints: a class escape always; another only after a class-escape lower
  // endpoint (esc_hi_c).
  each(esc_hi, class_escapes, p);
  each(esc_hi_c, class_escapes, p);
  d.AddEdge(esc_hi_c, 'x', 'x', skip_hi[1]);
  d.AddEdge(esc_hi_c, 'u', 'u', skip_hi[3]);
  d.AddEdge(esc_hi_c, 'c', 'c', ctl_hi);
  all_but(esc_hi_c, kNotIdentity, p);
  each(ctl_hi, ctl_letters, p);
  for (int i = 3; i > 0; --i) each(skip_hi[i], hex, skip_hi[i - 1]);
  each(skip_hi[0], hex, p);

  for (int k = 0; k < kKinds; ++k) {
    // A held atom followed by '-' is a lower endpoint, unless ']' follows ('-' is then literal).
    atom(pend[k], false);
    d.AddEdge(pend[k], '-', '-', dash[k]);
    d.AddEdge(dash[k], ']', ']', out);
    d.AddEdge(dash[k], '\\', '\\', k == kC ? esc_hi_c : esc_hi);
    for (char32_t c = 0; c < 128; ++c) {
      if (c == ']' || c == '\\') continue;
      if (k == kC || RangeOk(static_cast<Kind>(k), c)) d.AddEdge(dash[k], c, c, p);
    }
    if (k == kC) edge(dash[k], 128, kMax, p);
  }
  d.Normalize();
  return d;
}

std::string RegexFormatNarrowing() {
  return "format 'regex' is enforced as a regular language (bounded ECMA-262 pattern syntax); "
         "valid patterns rejected: groups nested deeper than " +
         std::to_string(kRegexFormatDepth) +
         " levels, lookbehinds inside groups and groups inside lookbehinds, named groups and "
         "\\k, {n,m} with n >= 10 unless n has two digits and m three or more, a literal '{' "
         "followed by a digit, identity escapes of letters (\\a, \\p), and in classes: \\0-\\9, "
         "incomplete \\x \\u \\c, and ranges other than within digits or letters from the first "
         "or to the last member ([0-5], [g-z]), upwards across them ([0-z]) or with a class "
         "escape ([\\w-.])";
}

}  // namespace sieve::jsonschema
