// Strings: JSON spelling of code points, patterns, and the combination of pattern, format, length
// bounds, enum/const and their negations into one grammar.
//
// Spelling. The languages of `pattern`, `format`, minLength/maxLength are over the *decoded* string
// (code points); the grammar reads JSON text. Unit(set) is the JSON spelling of one code point of
// a set: the raw UTF-8 character when JSON allows it unescaped, `\"` `\\` `\/`, the short escapes
// \b \f \n \r \t and \u00XX (either hex case) for control characters, \uXXXX (either case;
// a surrogate pair for an astral character) for non-ASCII ones, as ASCII-only serializers such as
// Python's json.dumps write them; for the set of all code points every \uXXXX escape. Not read:
// printable ASCII spelt as \uXXXX ("\u0041" for "A": no common serializer writes it, and an
// escape branch beside every literal character would multiply the automata), nor \uXXXX for
// non-ASCII inside the exclusion trie of an object's undeclared keys (past the trie, every escape
// is). Lengths count code points, so an escape is one unit.
//
// Combination (EmitString), cheapest path first:
//  1. enum/const: the listed strings that satisfy everything else, as literals;
//  2. no pattern/format/negation: '"' unit{min,max} '"' (a counted repetition, never unrolled);
//  3. one pattern or format whose length range already lies within minLength/maxLength: the
//     pattern's expression, re-spelt (no automaton);
//  4. otherwise the automaton path: the intersection of the pattern/format automata, the
//     complements of negated ones and of excluded values, then the length bound (a product with a
//     counter, within max_automaton_states). An intersection that does not fit is unsupported
//     (kError) or drops the length bound with a kIgnored note (kIgnore); it is never silent.
#include <algorithm>
#include <cstdint>
#include <functional>

#include "grammar/json_schema_internal.h"
#include "grammar/regex_lookaround.h"
#include "grammar/regex_lookaround_dfa.h"
#include "grammar/regex_parser.h"
#include "grammar/support/utf8.h"

namespace sieve::jsonschema {

namespace {

bool Contains(const std::vector<CodepointRange>& rs, char32_t cp) {
  for (const CodepointRange& r : rs) {
    if (r.lo <= cp && cp <= r.hi) return true;
  }
  return false;
}

bool IsPlain(char32_t cp) { return cp >= 0x20 && cp != '"' && cp != '\\' && cp != '/'; }

// Length range of a character-level expression (code points); max -1 = unbounded.
void ExprLength(const Grammar& g, ExprId e, int64_t* min, int64_t* max) {
  const Expr& x = g.expr(e);
  switch (x.kind) {
    case ExprKind::kEmpty:
      *min = *max = 0;
      return;
    case ExprKind::kBytes: {
      int64_t n = 0;
      for (unsigned char c : g.bytes(x)) n += (c & 0xC0) != 0x80;
      *min = *max = n;
      return;
    }
    case ExprKind::kCharClass:
      *min = *max = 1;
      return;
    case ExprKind::kRuleRef:
      *min = 0;
      *max = -1;
      return;
    case ExprKind::kSequence: {
      *min = 0;
      *max = 0;
      for (ExprId c : g.children(x)) {
        int64_t a, b;
        ExprLength(g, c, &a, &b);
        *min += a;
        *max = (*max < 0 || b < 0) ? -1 : *max + b;
      }
      return;
    }
    case ExprKind::kChoice: {
      bool first = true;
      for (ExprId c : g.children(x)) {
        int64_t a, b;
        ExprLength(g, c, &a, &b);
        if (first) {
          *min = a;
          *max = b;
          first = false;
        } else {
          *min = std::min(*min, a);
          *max = (*max < 0 || b < 0) ? -1 : std::max(*max, b);
        }
      }
      return;
    }
    case ExprKind::kRepeat: {
      int64_t a, b;
      ExprLength(g, g.children(x)[0], &a, &b);
      *min = a * x.min;
      *max = (x.max == kUnbounded || b < 0) ? (b == 0 ? 0 : -1) : b * x.max;
      return;
    }
  }
}

// Nodes in an expression tree.
int64_t ExprSize(const Grammar& g, ExprId e) {
  const Expr& x = g.expr(e);
  int64_t n = 1;
  if (x.kind == ExprKind::kSequence || x.kind == ExprKind::kChoice || x.kind == ExprKind::kRepeat) {
    for (ExprId c : g.children(x)) n += ExprSize(g, c);
  }
  return n;
}

// The unbounded parts of `e`, as CapToLength budgets them: none when its length is bounded (an
// IPv6 address: its want is finite and water-filling serves it first); else a loop (a repetition
// of more than one item) is one part, whatever its items hold; a sequence has the sum of its
// children's, a choice the most of its alternatives', an optional item its item's.
int64_t VariableParts(const Grammar& g, ExprId e) {
  int64_t mn, mx;
  ExprLength(g, e, &mn, &mx);
  if (mx >= 0) return 0;
  const Expr& x = g.expr(e);
  switch (x.kind) {
    case ExprKind::kSequence: {
      int64_t n = 0;
      for (ExprId c : g.children(x)) n += VariableParts(g, c);
      return n;
    }
    case ExprKind::kChoice: {
      int64_t n = 0;
      for (ExprId c : g.children(x)) n = std::max(n, VariableParts(g, c));
      return std::max<int64_t>(n, 1);
    }
    case ExprKind::kRepeat:
      if (x.max != kUnbounded && x.max <= 1) {
        return std::max<int64_t>(VariableParts(g, g.children(x)[0]), 1);
      }
      return 1;
    default:
      return 1;
  }
}

// A sub-language of `e` (in the same grammar) whose strings are at most `budget` code points:
// unbounded repetitions get counts and item budgets that fit (a sequence shares its slack among
// its children, water-filling; a choice keeps the alternatives that fit). kNoExpr when even the
// shortest strings of `e` are longer. The caller reports the narrowing.
ExprId CapToLength(Grammar* g, ExprId e, int64_t budget, int* splits_left) {
  int64_t mn, mx;
  ExprLength(*g, e, &mn, &mx);
  if (mn > budget) return kNoExpr;
  if (mx >= 0 && mx <= budget) return e;
  const Expr x = g->expr(e);
  switch (x.kind) {
    case ExprKind::kSequence: {
      std::vector<ExprId> kids(g->children(x).begin(), g->children(x).end());
      const size_t n = kids.size();
      std::vector<int64_t> lo(n), hi(n), give(n, 0);
      int64_t slack = budget;
      for (size_t i = 0; i < n; ++i) {
        ExprLength(*g, kids[i], &lo[i], &hi[i]);
        slack -= lo[i];
      }
      // Water-filling. Children of bounded length first, smallest want first, each at most an
      // equal share of what is left; then the unbounded ones in proportion to their unbounded
      // parts (VariableParts), so that budgets do not shrink level by level (equal shares per
      // child left a URI with maxLength 255 five characters of host: 63 for its hierarchical
      // part, of which 15 for the authority's four parts).
      std::vector<int64_t> parts(n);
      int64_t parts_left = 0;
      for (size_t i = 0; i < n; ++i) {
        parts[i] = hi[i] < 0 ? VariableParts(*g, kids[i]) : 0;
        parts_left += parts[i];
      }
      auto want = [&](size_t i) { return hi[i] < 0 ? INT64_MAX : hi[i] - lo[i]; };
      std::vector<size_t> order;
      for (size_t i = 0; i < n; ++i) {
        if (hi[i] >= 0 && want(i) > 0) order.push_back(i);
      }
      std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return want(a) < want(b); });
      int64_t variable = 0;
      for (size_t i = 0; i < n; ++i) variable += want(i) > 0;
      for (size_t i : order) {
        give[i] = std::min(want(i), slack / variable--);
        slack -= give[i];
      }
      for (size_t i = 0; i < n; ++i) {
        if (hi[i] >= 0) continue;
        give[i] = static_cast<int64_t>(static_cast<__int128>(slack) * parts[i] / parts_left);
        slack -= give[i];
        parts_left -= parts[i];
      }
      // Two children that both want more than their share (local part and domain; first label
      // and the rest): a union of three splits of their joint budget, 1:3, 1:1 and 3:1.
      std::vector<size_t> elastic;
      for (size_t i = 0; i < n; ++i) {
        if (want(i) > give[i]) elastic.push_back(i);
      }
      std::vector<std::vector<int64_t>> splits{give};
      if (elastic.size() == 2 && *splits_left > 0 &&
          ExprSize(*g, kids[elastic[0]]) + ExprSize(*g, kids[elastic[1]]) <= 64) {
        --*splits_left;
        const size_t a = elastic[0], b = elastic[1];
        const int64_t joint = give[a] + give[b];
        for (int64_t num : {1, 3}) {
          std::vector<int64_t> alt = give;
          alt[a] = std::min(want(a), joint * num / 4);
          alt[b] = std::min(want(b), joint - alt[a]);
          splits.push_back(alt);
        }
      }
      std::vector<ExprId> variants;
      for (const std::vector<int64_t>& split : splits) {
        std::vector<ExprId> out;
        for (size_t i = 0; i < n && (out.size() == i); ++i) {
          ExprId c = CapToLength(g, kids[i], lo[i] + split[i], splits_left);
          if (c != kNoExpr) out.push_back(c);
        }
        if (out.size() == n) variants.push_back(g->AddSequence(out));
      }
      if (variants.empty()) return kNoExpr;
      return variants.size() == 1 ? variants[0] : g->AddChoice(variants);
    }
    case ExprKind::kChoice: {
      std::vector<ExprId> out;
      std::vector<ExprId> kids(g->children(x).begin(), g->children(x).end());
      for (ExprId k : kids) {
        ExprId c = CapToLength(g, k, budget, splits_left);
        if (c != kNoExpr) out.push_back(c);
      }
      if (out.empty()) return kNoExpr;
      return out.size() == 1 ? out[0] : g->AddChoice(out);
    }
    case ExprKind::kRepeat: {
      // A union of regimes "items of at most b characters, as many as fit in the budget" for
      // shrinking b: few long items or many short ones, each regime within the budget.
      const ExprId item = g->children(x)[0];
      int64_t imn, imx;
      ExprLength(*g, item, &imn, &imx);
      const int64_t m = x.min;
      const int64_t top = x.max == kUnbounded ? INT64_MAX : x.max;
      if (imn > 0 && budget / imn < m) return kNoExpr;
      std::vector<ExprId> regimes;
      // Item budgets from the largest useful one down by about a third each time; each capped item
      // repeats as often as fits when every repetition is as long as that item can be.
      int64_t last_len = -1, last_count = -1;
      int64_t item_budget = imx >= 0 ? std::min(budget, imx) : budget;
      if (m > 0) item_budget = std::min(item_budget, budget / m);
      for (; item_budget >= std::max<int64_t>(imn, 1) && regimes.size() < 6;
           item_budget = item_budget * 2 / 3) {
        ExprId it = CapToLength(g, item, item_budget, splits_left);
        if (it == kNoExpr) break;
        int64_t it_min, it_max;
        ExprLength(*g, it, &it_min, &it_max);
        if (it_max == last_len) continue;
        last_len = it_max;
        const int64_t count = it_max > 0 ? std::min(top, budget / it_max) : std::min(top, m);
        // A regime with shorter items is subsumed unless it allows more of them.
        if (count < m || count <= last_count) continue;
        last_count = count;
        regimes.push_back(g->AddRepeat(it, static_cast<int32_t>(m),
                                       static_cast<int32_t>(std::min<int64_t>(count, 1 << 30))));
        // Items that cannot get shorter: no further regime. (Short items of several lengths, a
        // character or a %XX escape, keep the one-character regime: a host of 30 letters in 30.)
        if (it_max <= imn) break;
      }
      if (regimes.empty()) return m == 0 ? g->AddEmpty() : kNoExpr;
      return regimes.size() == 1 ? regimes[0] : g->AddChoice(regimes);
    }
    default:
      return kNoExpr;
  }
}

}  // namespace

ExprId Converter::HexDigits(uint32_t lo, uint32_t hi, int width) {
  // The hex spellings (either case) of the numbers lo..hi in `width` digits: per leading digit,
  // the partial first and last ranges and the full ones between (as a numeric range regex).
  if (width == 0) return kNoExpr;
  auto digit = [&](uint32_t a, uint32_t b) {
    std::vector<CodepointRange> cls;
    if (a <= 9) cls.push_back({'0' + a, '0' + std::min<uint32_t>(b, 9)});
    if (b >= 10) {
      const uint32_t x = std::max<uint32_t>(a, 10) - 10, y = b - 10;
      cls.push_back({'a' + x, 'a' + y});
      cls.push_back({'A' + x, 'A' + y});
    }
    return g_.AddCharClass(cls, false);
  };
  const uint32_t unit = uint32_t{1} << (4 * (width - 1));
  const uint32_t dl = lo / unit, dh = hi / unit, rl = lo % unit, rh = hi % unit;
  if (dl == dh) return Seq({digit(dl, dl), HexDigits(rl, rh, width - 1)});
  std::vector<ExprId> alts;
  uint32_t mid_lo = dl, mid_hi = dh;
  if (rl != 0) {
    alts.push_back(Seq({digit(dl, dl), HexDigits(rl, unit - 1, width - 1)}));
    ++mid_lo;
  }
  if (rh != unit - 1) {
    alts.push_back(Seq({digit(dh, dh), HexDigits(0, rh, width - 1)}));
    --mid_hi;
  }
  if (mid_lo <= mid_hi)
    alts.push_back(Seq({digit(mid_lo, mid_hi), HexDigits(0, unit - 1, width - 1)}));
  return Alt(std::move(alts));
}

ExprId Converter::UnicodeEscapes(const std::vector<CodepointRange>& set) {
  // After "\\u": four hex digits of a BMP code point (surrogates excluded), or a high surrogate's,
  // "\\u" and a low surrogate's for an astral one.
  std::vector<ExprId> alts;
  auto pairs = [&](uint32_t h0, uint32_t h1, uint32_t l0, uint32_t l1) {
    alts.push_back(Seq({HexDigits(0xD800 + h0, 0xD800 + h1, 4), Lit("\\u"),
                        HexDigits(0xDC00 + l0, 0xDC00 + l1, 4)}));
  };
  for (const CodepointRange& r : set) {
    if (r.lo <= std::min<char32_t>(r.hi, 0xD7FF)) {
      alts.push_back(HexDigits(r.lo, std::min<char32_t>(r.hi, 0xD7FF), 4));
    }
    if (std::max<char32_t>(r.lo, 0xE000) <= std::min<char32_t>(r.hi, 0xFFFF)) {
      alts.push_back(
          HexDigits(std::max<char32_t>(r.lo, 0xE000), std::min<char32_t>(r.hi, 0xFFFF), 4));
    }
    if (r.hi < 0x10000) continue;
    // Astral: offsets a..b past U+10000, high surrogate index >> 10, low one & 0x3FF.
    const uint32_t a = std::max<char32_t>(r.lo, 0x10000) - 0x10000, b = r.hi - 0x10000;
    const uint32_t ha = a >> 10, hb = b >> 10, la = a & 0x3FF, lb = b & 0x3FF;
    if (ha == hb) {
      pairs(ha, ha, la, lb);
      continue;
    }
    uint32_t mid_lo = ha, mid_hi = hb;
    if (la != 0) {
      pairs(ha, ha, la, 0x3FF);
      ++mid_lo;
    }
    if (lb != 0x3FF) {
      pairs(hb, hb, 0, lb);
      --mid_hi;
    }
    if (mid_lo <= mid_hi) pairs(mid_lo, mid_hi, 0, 0x3FF);
  }
  return alts.empty() ? kNoExpr : Alt(std::move(alts));
}

ExprId Converter::Unit(const std::vector<CodepointRange>& in, bool wide_escapes) {
  std::vector<CodepointRange> set = Grammar::NormalizeRanges(in, false);
  const bool full = set == Grammar::NormalizeRanges({{0, 0x10FFFF}}, false);
  std::vector<ExprId> alts;
  std::vector<CodepointRange> raw;
  for (CodepointRange r : set) {
    // Remove controls, '"' and '\\' from the raw part.
    if (r.hi < 0x20) continue;
    r.lo = std::max<char32_t>(r.lo, 0x20);
    for (char32_t cut : {char32_t{'"'}, char32_t{'\\'}}) {
      if (r.lo <= cut && cut <= r.hi) {
        if (r.lo < cut) raw.push_back({r.lo, cut - 1});
        r.lo = cut + 1;
      }
    }
    if (r.lo <= r.hi) raw.push_back(r);
  }
  if (!raw.empty()) alts.push_back(g_.AddCharClass(raw, false));
  if (Contains(set, '"')) alts.push_back(Lit("\\\""));
  if (Contains(set, '\\')) alts.push_back(Lit("\\\\"));
  if (Contains(set, '/')) alts.push_back(Lit("\\/"));
  static const std::pair<char32_t, const char*> kShort[] = {
      {'\b', "\\b"}, {'\f', "\\f"}, {'\n', "\\n"}, {'\r', "\\r"}, {'\t', "\\t"}};
  for (const auto& [cp, esc] : kShort) {
    if (Contains(set, cp)) alts.push_back(Lit(esc));
  }
  auto hex = [&]() { return g_.AddCharClass({{'0', '9'}, {'a', 'f'}, {'A', 'F'}}, false); };
  if (full) {
    // Any \uXXXX: a non-surrogate, or a high surrogate followed by a low one.
    ExprId non_sur = Alt(
        {Seq({g_.AddCharClass({{'0', '9'}, {'a', 'c'}, {'A', 'C'}, {'e', 'f'}, {'E', 'F'}}, false),
              hex(), hex(), hex()}),
         Seq({g_.AddCharClass({{'d', 'd'}, {'D', 'D'}}, false),
              g_.AddCharClass({{'0', '7'}}, false), hex(), hex()})});
    ExprId pair = Seq({g_.AddCharClass({{'d', 'd'}, {'D', 'D'}}, false),
                       g_.AddCharClass({{'8', '9'}, {'a', 'b'}, {'A', 'B'}}, false), hex(), hex(),
                       Lit("\\u"), g_.AddCharClass({{'d', 'd'}, {'D', 'D'}}, false),
                       g_.AddCharClass({{'c', 'f'}, {'C', 'F'}}, false), hex(), hex()});
    alts.push_back(Seq({Lit("\\u"), Alt({non_sur, pair})}));
    // Inline, not a shared rule: a rule call per character costs a call/return per byte in the
    // matcher and makes the mask cache resolve every string state through the call (measured:
    // `{"type": "object"}` built its Llama-3 mask cache in ~180 ms with a `char` rule, ~7 ms
    // inline).
    return Alt(std::move(alts));
  }
  // \uXXXX for the non-ASCII code points in the set (what an ASCII-only serializer such as
  // Python's json.dumps writes for them).
  std::vector<CodepointRange> wide;
  for (const CodepointRange& r : set) {
    if (r.hi >= 0x80 && wide_escapes) wide.push_back({std::max<char32_t>(r.lo, 0x80), r.hi});
  }
  if (wide.size() == 1 && wide[0].lo == wide[0].hi) {  // one character: inline
    if (const ExprId one = UnicodeEscapes(wide); one != kNoExpr) {
      alts.push_back(Seq({Lit("\\u"), one}));
    }
  } else if (!wide.empty()) {
    // One rule per set, called from every unit of it (a key's exclusion trie has dozens of units
    // with the same non-ASCII part): the escape is rare text, so a call costs nothing that
    // matters, and the grammar stays small.
    std::string key;
    for (const CodepointRange& r : wide) {
      key.append(reinterpret_cast<const char*>(&r.lo), sizeof(r.lo));
      key.append(reinterpret_cast<const char*>(&r.hi), sizeof(r.hi));
    }
    auto [it, fresh] = escape_rules_.try_emplace(key, -1);
    if (fresh) {
      const ExprId body = UnicodeEscapes(wide);  // kNoExpr: only surrogates, nothing to spell
      if (body != kNoExpr) {
        it->second = NewSharedRule("uescape");
        g_.SetRuleBody(it->second, body);
      }
    }
    if (it->second >= 0) alts.push_back(Seq({Lit("\\u"), Ref(it->second)}));
  }
  // \u00XX for the control characters in the set.
  bool all_controls = true;
  for (char32_t cp = 0; cp < 0x20; ++cp) all_controls &= Contains(set, cp);
  if (all_controls) {
    alts.push_back(Seq({Lit("\\u00"), g_.AddCharClass({{'0', '1'}}, false), hex()}));
  } else {
    for (char32_t cp = 0; cp < 0x20; ++cp) {
      if (!Contains(set, cp)) continue;
      static const char kDigits[] = "0123456789abcdef";
      char lo = kDigits[cp & 15];
      std::vector<CodepointRange> cls{{static_cast<char32_t>(lo), static_cast<char32_t>(lo)}};
      if (lo >= 'a')
        cls.push_back({static_cast<char32_t>(lo - 32), static_cast<char32_t>(lo - 32)});
      alts.push_back(
          Seq({Lit(std::string("\\u00") + kDigits[cp >> 4]), g_.AddCharClass(cls, false)}));
    }
  }
  return Alt(std::move(alts));
}

ExprId Converter::EmitStringLiteral(const std::string& s) {
  std::vector<ExprId> items{Lit("\"")};
  std::string run;
  size_t i = 0;
  while (i < s.size()) {
    char32_t cp;
    int n = DecodeUtf8(reinterpret_cast<const uint8_t*>(s.data()) + i, s.size() - i, &cp);
    if (n < 0) {  // cannot happen for values RapidJSON validated; keep the byte
      cp = 0xFFFD;
      n = 1;
    }
    // A non-ASCII character takes its \uXXXX spelling too, within a budget per schema: each one
    // adds a branch of about five automaton states (a 10,000-value CJK enum would triple its
    // automaton); past it, raw only, reported once.
    const bool wide = cp >= 0x80 && IsPlain(cp);
    if (wide && literal_escapes_left_ == 0 && !literal_escapes_noted_) {
      literal_escapes_noted_ = true;
      Note(JsonSchemaNote::Kind::kNarrowed, loc_node_, "",
           "non-ASCII characters of string literals (enum, const, property names) past the first " +
               std::to_string(kLiteralEscapeBudget) +
               " are accepted only as themselves, not as \\uXXXX escapes");
    }
    if ((IsPlain(cp) && cp < 0x80) || (wide && literal_escapes_left_ == 0)) {
      run.append(s, i, n);
    } else {
      if (wide) --literal_escapes_left_;
      if (!run.empty()) items.push_back(Lit(run));
      run.clear();
      items.push_back(Unit({{cp, cp}}));
    }
    i += n;
  }
  if (!run.empty()) items.push_back(Lit(run));
  items.push_back(Lit("\""));
  return Seq(std::move(items));
}

ExprId Converter::EmitDfaString(const CpDfa& d, const std::string& name, bool wide_escapes) {
  ExprId body = EmitDfaRules(
      this, d, name,
      [this, wide_escapes](const std::vector<CodepointRange>& r) { return Unit(r, wide_escapes); });
  if (body == kNoExpr) return kNoExpr;
  return Seq({Lit("\""), body, Lit("\"")});
}

Result<LangId> Converter::AddPattern(const std::string& pattern, int32_t src) {
  auto key = std::make_pair(false, pattern);
  auto it = lang_ids_.find(key);
  if (it != lang_ids_.end()) return it->second;
  if (std::optional<AnchoredLookarounds> split = SplitAnchoredLookarounds(pattern)) {
    Lang lang;
    lang.text = pattern;
    lang.src = src;
    std::vector<std::pair<std::string, bool>> texts{{split->main, false}};
    for (const AnchoredLookarounds::Part& part : split->parts) {
      texts.push_back({part.pattern, part.negated});
    }
    for (const auto& [text, negated] : texts) {
      auto id = AddPattern(text, src);
      if (!id.ok()) {
        return Status(id.status().code(), "pattern '" + pattern + "', read as '" + text +
                                              "' and its lookarounds: " + id.status().message());
      }
      lang.parts.push_back({*id, negated});
    }
    langs_.push_back(std::move(lang));
    const LangId id = static_cast<LangId>(langs_.size() - 1);
    // The intersection now, so that a pattern matching nothing or too large an automaton is
    // reported at its keyword (as the regex parser reports its own errors).
    auto d = LangDfa(id);
    if (!d.ok()) {
      if (d.status().code() == StatusCode::kUnsupported) return d.status();
      return Unsupported("pattern '" + pattern + "': " + d.status().message());
    }
    lang_ids_[key] = id;
    return id;
  }
  RegexOptions ro;
  ro.search_semantics = true;
  std::vector<std::pair<ExprId, char32_t>> markers;
  std::vector<RegexLookaround> looks;
  bool nothing = false;
  ro.boundary_markers = &markers;
  ro.lookarounds = &looks;
  ro.matches_nothing = &nothing;
  auto e = RegexToExpr(pattern, &lang_grammar_, ro);
  if (!e.ok()) {
    if (e.status().code() == StatusCode::kUnsupported) {
      return Unsupported("pattern '" + pattern + "': " + e.status().message());
    }
    return ErrorAt(ParseError("pattern '" + pattern + "': " + e.status().message()), src,
                   "pattern");
  }
  Lang lang;
  lang.text = pattern;
  lang.src = src;
  if (nothing) {
    SetEmpty(&lang);
  } else if (markers.empty()) {
    lang.expr = *e;
  } else {
    // Word boundaries (\b \B) and lookarounds: the language is an automaton only (the
    // expression ignores them; regex_lookaround_dfa.h).
    // (Both kinds of assertion: RegexToDfa reads \b as lookarounds, from the text.)
    auto d = !looks.empty() && HasWordBoundaryMarkers(markers)
                 ? RegexToDfa(pattern, ro, opts_.max_automaton_states)
                 : ParsedRegexToDfa(lang_grammar_, *e, markers, looks, ro,
                                    opts_.max_automaton_states);
    if (!d.ok()) return Unsupported("pattern '" + pattern + "': " + d.status().message());
    lang.dfa = Minimize(*d);
    if (IsEmptyLanguage(*lang.dfa)) SetEmpty(&lang);
  }
  langs_.push_back(std::move(lang));
  LangId id = static_cast<LangId>(langs_.size() - 1);
  lang_ids_[key] = id;
  return id;
}

Result<const CpDfa*> Converter::LangDfa(LangId id) {
  if (!langs_[id].dfa && !langs_[id].parts.empty()) {
    const std::vector<std::pair<LangId, bool>> parts = langs_[id].parts;  // LangDfa may grow langs_
    std::optional<CpDfa> acc;
    for (const auto& [part, negated] : parts) {
      auto d = LangDfa(part);
      if (!d.ok()) return d.status();
      const CpDfa side = negated ? Complement(**d) : **d;
      if (!acc) {
        acc = side;
        continue;
      }
      auto both = Intersect(*acc, side, opts_.max_automaton_states);
      if (!both.ok()) return both.status();
      acc = Minimize(*both);
    }
    langs_[id].dfa = std::move(acc);
    if (IsEmptyLanguage(*langs_[id].dfa)) SetEmpty(&langs_[id]);
  }
  Lang& l = langs_[id];
  if (!l.dfa) {
    auto d = DfaFromExpr(lang_grammar_, l.expr, opts_.max_automaton_states);
    if (!d.ok()) return d.status();
    l.dfa = Minimize(*d);
  }
  return &*l.dfa;
}

namespace {

// Copies a character-level expression from the language grammar into the output grammar,
// spelling every code point the JSON way.
ExprId Respell(Converter* conv, const Grammar& src, ExprId e) {
  const Expr& x = src.expr(e);
  Grammar& g = conv->grammar();
  switch (x.kind) {
    case ExprKind::kEmpty:
      return g.AddEmpty();
    case ExprKind::kBytes: {
      std::string_view b = src.bytes(x);
      std::vector<ExprId> items;
      std::string run;
      size_t i = 0;
      while (i < b.size()) {
        char32_t cp;
        int n = DecodeUtf8(reinterpret_cast<const uint8_t*>(b.data()) + i, b.size() - i, &cp);
        if (n < 0) break;
        if (IsPlain(cp)) {
          run.append(b.substr(i, n));
        } else {
          if (!run.empty()) items.push_back(conv->Lit(run));
          run.clear();
          items.push_back(conv->Unit({{cp, cp}}));
        }
        i += n;
      }
      if (!run.empty()) items.push_back(conv->Lit(run));
      return conv->Seq(std::move(items));
    }
    case ExprKind::kCharClass: {
      auto r = src.ranges(x);
      return conv->Unit(std::vector<CodepointRange>(r.begin(), r.end()));
    }
    case ExprKind::kSequence:
    case ExprKind::kChoice: {
      std::vector<ExprId> kids;
      for (ExprId c : src.children(x)) kids.push_back(Respell(conv, src, c));
      if (x.kind == ExprKind::kSequence) return conv->Seq(std::move(kids));
      return conv->Alt(std::move(kids));
    }
    case ExprKind::kRepeat:
      return g.AddRepeat(Respell(conv, src, src.children(x)[0]), x.min, x.max);
    case ExprKind::kRuleRef:
      return g.AddEmpty();  // not produced by the regex front end
  }
  return g.AddEmpty();
}

}  // namespace

void Converter::SetEmpty(Lang* lang) {
  lang->empty = true;
  lang->expr = kNoExpr;
  lang->dfa = Minimize(LiteralSetDfa({}));
  Note(JsonSchemaNote::Kind::kInfo, lang->src, "pattern",
       "pattern '" + lang->text + "' matches no string: no string is valid where it applies");
}

Result<ExprId> Converter::EmitString(const StrC& c) {
  for (LangId id : c.langs) {
    if (langs_[id].empty) return kNoExpr;  // no string can match it
  }
  if (c.allowed) {
    StrC rest = c;
    rest.allowed.reset();
    std::vector<ExprId> alts;
    for (const std::string& s : *c.allowed) {
      if (StringMatches(s, rest)) alts.push_back(EmitStringLiteral(s));
    }
    return Alt(std::move(alts));
  }
  if (c.max_len >= 0 && c.min_len > c.max_len) return kNoExpr;
  const int32_t max32 = c.max_len < 0 || c.max_len > (int64_t{1} << 30)
                            ? kUnbounded
                            : static_cast<int32_t>(c.max_len);
  const int32_t min32 = static_cast<int32_t>(std::min<int64_t>(c.min_len, int64_t{1} << 30));
  if (c.langs.empty() && c.not_langs.empty() && c.excluded.empty()) {
    if (min32 == 0 && max32 == kUnbounded) {
      auto it = shared_rules_.find("string");
      if (it != shared_rules_.end()) return Ref(it->second);
      RuleId r = NewSharedRule("string");
      shared_rules_["string"] = r;
      ExprId ch = Unit({{0, 0x10FFFF}});
      g_.SetRuleBody(r, Seq({Lit("\""), g_.AddRepeat(ch, 0, kUnbounded), Lit("\"")}));
      return Ref(r);
    }
    return Seq({Lit("\""), g_.AddRepeat(Unit({{0, 0x10FFFF}}), min32, max32), Lit("\"")});
  }
  if (c.langs.size() == 1 && c.not_langs.empty() && c.excluded.empty() &&
      langs_[c.langs[0]].expr != kNoExpr) {
    const Lang& l = langs_[c.langs[0]];
    int64_t lo, hi;
    ExprLength(lang_grammar_, l.expr, &lo, &hi);
    bool implied = lo >= c.min_len && (c.max_len < 0 || (hi >= 0 && hi <= c.max_len));
    if (implied) return Seq({Lit("\""), Respell(this, lang_grammar_, l.expr), Lit("\"")});
  }
  // One pattern or format with a maximum length. Capping its repetitions so that every string
  // fits gives a compact expression; when that is the exact language (`[a-z]([-a-z]*[a-z])?` with
  // maxLength 63 is `[a-z]([-a-z]{0,61}[a-z])?`) it is used as is. Otherwise the exact product
  // automaton (pattern x length counter) is used when small, and the capped expression, a
  // reported narrowing, when the product would be large (max_exact_length_product_states; the
  // format automata have hundreds of states). The product is a chain of one rule per state, a
  // call per character in the matcher and the mask cache: the compact form is worth an
  // equivalence check.
  if (c.langs.size() == 1 && c.not_langs.empty() && c.excluded.empty() && c.max_len >= 0 &&
      langs_[c.langs[0]].expr != kNoExpr) {
    auto d = LangDfa(c.langs[0]);
    const int64_t estimate = d.ok() ? int64_t{(*d)->num_states()} * (c.max_len + 1) : 0;
    const Lang& l = langs_[c.langs[0]];
    int splits = 2;  // three-way budget splits, each triples a subtree: a few at most
    ExprId capped = d.ok() ? CapToLength(&lang_grammar_, l.expr, c.max_len, &splits) : kNoExpr;
    int64_t lo = 0, hi = 0;
    if (capped != kNoExpr) ExprLength(lang_grammar_, capped, &lo, &hi);
    if (capped != kNoExpr && lo >= c.min_len && estimate <= opts_.max_length_product_states &&
        CappedIsExact(**d, capped, c)) {
      return Seq({Lit("\""), Respell(this, lang_grammar_, capped), Lit("\"")});
    }
    if (d.ok() && estimate > std::min(opts_.max_length_product_states,
                                      opts_.max_exact_length_product_states)) {
      if (capped != kNoExpr && lo >= c.min_len) {
        Note(JsonSchemaNote::Kind::kNarrowed, c.len_src, "maxLength",
             std::string(l.is_format ? "format '" : "pattern '") + l.text + "' with maxLength " +
                 std::to_string(c.max_len) + ": repetitions are capped so that every string fits");
        return Seq({Lit("\""), Respell(this, lang_grammar_, capped), Lit("\"")});
      }
    }
  }
  auto dfa = StringConstraintDfa(c);
  if (!dfa.ok()) return dfa.status();
  return EmitDfaString(*dfa, "str");
}

bool Converter::CappedIsExact(const CpDfa& lang, ExprId capped, const StrC& c) {
  const int32_t budget = opts_.max_automaton_states;
  auto capped_dfa = DfaFromExpr(lang_grammar_, capped, budget);
  auto exact = BoundLength(lang, c.min_len, c.max_len, budget);
  if (!capped_dfa.ok() || !exact.ok()) return false;
  const CpDfa a = Minimize(*capped_dfa), b = Minimize(*exact);
  for (const auto& [x, y] : {std::pair{&a, &b}, std::pair{&b, &a}}) {
    auto diff = Intersect(*x, Complement(*y), budget);
    if (!diff.ok() || !IsEmptyLanguage(Minimize(*diff))) return false;
  }
  return true;
}

Result<CpDfa> Converter::StringConstraintDfa(const StrC& c) {
  const int32_t budget = opts_.max_automaton_states;
  if (c.allowed) {
    StrC rest = c;
    rest.allowed.reset();
    std::vector<std::string> keep;
    for (const std::string& s : *c.allowed) {
      if (StringMatches(s, rest)) keep.push_back(s);
    }
    return Minimize(LiteralSetDfa(keep));
  }
  CpDfa acc = AnyStringDfa();
  for (int pass = 0; pass < 2; ++pass) {
    for (LangId id : pass == 0 ? c.langs : c.not_langs) {
      const Lang& l = langs_[id];
      const char* kw = l.is_format ? "format" : "pattern";
      auto d = LangDfa(id);
      Result<CpDfa> next = d.ok() ? Intersect(acc, pass == 0 ? **d : Complement(**d), budget)
                                  : Result<CpDfa>(d.status());
      if (!next.ok()) {
        SIEVE_RETURN_IF_ERROR(
            Unenforceable(l.src, kw,
                          std::string(pass == 0 ? "" : "the negation of ") + kw + " '" + l.text +
                              "' combined with the other string constraints exceeds " +
                              "max_automaton_states (" + next.status().message() + ")"));
        continue;
      }
      acc = Minimize(*next);
    }
  }
  if (!c.excluded.empty()) {
    auto next = Intersect(acc, Complement(LiteralSetDfa(c.excluded)), budget);
    if (!next.ok()) return next.status();
    acc = Minimize(*next);
  }
  if (c.min_len > 0 || c.max_len >= 0) {
    int64_t lo, hi;
    bool implied = false;
    if (LengthRange(acc, &lo, &hi)) {
      implied = lo >= c.min_len && (c.max_len < 0 || (hi >= 0 && hi <= c.max_len));
    }
    const int64_t cap = c.max_len >= 0 ? c.max_len : c.min_len;
    if (!implied && int64_t{acc.num_states()} * (cap + 1) > opts_.max_length_product_states) {
      SIEVE_RETURN_IF_ERROR(
          Unenforceable(c.len_src, c.max_len >= 0 ? "maxLength" : "minLength",
                        "the length bound combined with pattern/format needs more than "
                        "max_length_product_states automaton states"));
      implied = true;
    }
    if (!implied) {
      auto bounded = BoundLength(acc, c.min_len, c.max_len, budget);
      if (bounded.ok()) {
        acc = Minimize(*bounded);
      } else {
        SIEVE_RETURN_IF_ERROR(Unenforceable(
            c.len_src, c.max_len >= 0 ? "maxLength" : "minLength",
            "the length bound combined with pattern/format exceeds max_automaton_states"));
      }
    }
  }
  return acc;
}

}  // namespace sieve::jsonschema
