// Regex front end (dialect: see regex_parser.h): ECMA-262 pattern text -> Grammar IR.
//
// One left-to-right pass with an explicit stack of open groups (no recursion, so a pattern of a
// million '(' costs heap, not C++ stack, and is refused by max_nesting_depth anyway). A frame holds
// the finished alternatives and the terms of the current one; ')' and the end of the pattern fold
// them into a single Piece.
//
// Anchors. JSON Schema patterns are searched, not matched, so `^` and `$` decide which sides of a
// match may meet other text. Rather than allowing them only at the very ends, every Piece keeps up
// to four expressions, one per anchor category: the matches along paths through no anchor (F),
// through some `^` but no `$` (S), through `$` but no `^` (E), and through both (B). A path through
// `^` needs everything matched before it to be empty, a path through `$` everything after it (no
// m flag: `^` and `$` are the ends of the input, never line boundaries), so concatenation pairs
// categories and replaces the side that must be empty by "", or drops the pair when that side
// cannot match "". Choice is per category. The language is then
//   search:  .* F .*  |  S .*  |  .* E  |  B        (.* = any code points, line terminators too)
//   full:    F | S | E | B.
// This gives `^a|b$`, `(?:^|,)x(?:,|$)` and `^(?:a|b)$` their exact ECMA meaning. A quantifier
// over a group containing an anchor is supported for `?` only (kUnsupported otherwise); a pattern
// whose every path is impossible (`a^b`, `a$b`, `[]`) matches no string: kUnsupported, or kNoExpr
// with RegexOptions::matches_nothing. With no anchor in a term (the common case) only F exists and
// nothing is ever copied; pairing categories can need one sub-expression twice, which copies it
// (the IR is a tree), within max_exprs.
//
// Where the text meets .* the pattern is trimmed first: at an unanchored end `x*` and `x{0,n}`
// drop out and `x{m,n}` becomes `x{m}` (the same set of strings contains, starts or ends with a
// match), so an unanchored `[^"]{0,8000}` costs nothing and `\d{3,1000}` costs `\d{3}`.
//
// ECMA corners (and why): the pattern is read with the `u` flag's meaning of characters (code
// points, \u{...}, \p{...}, surrogate pairs in \uHHHH\uHHHH form one code point, a lone surrogate
// matches nothing in UTF-8 text) but with Annex B's leniency where real schemas rely on it and RE2
// agrees: `{` that does not start a well-formed {n} {n,} {n,m} is a literal (`a{`, `x{,5}`), a lone
// `}` or `]` is a literal, and in a class a `-` next to a class escape is a literal (`[\w-.]`).
// A well-formed braced quantifier with nothing before it (`{2}`) is an error, as in both. Identity
// escapes are allowed for ASCII punctuation only: `\e`, `\A`, `\z`, `\h` mean different things in
// PCRE, and Annex B would silently read them as letters. Octal escapes are refused (use \xHH).
// Lazy quantifiers have the same language as greedy ones; a quantifier after a quantifier (PCRE's
// possessive `a*+`) is a syntax error in ECMA and here. Error codes: kParse for text ECMA rejects
// or we refuse as malformed, kUnsupported for valid ECMA we cannot enforce (backreferences,
// lookaround, \b \B unless the caller takes their markers (RegexOptions::boundary_markers),
// the multiline flag, script and most binary properties), kLimit for limits.
//
// Flags: ES2025 modifier groups (?i:...), (?s:...), (?-i:...), (?i-s:...) set or clear the
// case-insensitive and dotAll flags inside the group, and a bare (?i) / (?s) / (?is) at the very
// start of the pattern (the Python / PCRE spelling real schemas use) sets them for the whole
// pattern; a bare flag group anywhere else is kUnsupported (its scope differs between engines),
// `m` is kUnsupported (^ and $ at line ends). Case-insensitive matching is the /ui one: a literal
// or class matches every code point whose simple case fold (CaseFolding.txt C + S) is that of a
// member, folded before a class is negated ([^a] matches neither a nor A; \w matches U+017F and
// U+212A). dotAll makes `.` match line terminators too.
#include "grammar/regex_parser.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <limits>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "grammar/support/unicode.h"
#include "grammar/support/utf8.h"

namespace sieve {
namespace {

constexpr ExprId kNever = -2;  // the empty language (no string at all)
constexpr int kStartBit = 1;   // category bit: the path went through `^`
constexpr int kEndBit = 2;     // category bit: the path went through `$`
constexpr int kCats = 4;       // F, S, E, B

using Ranges = std::vector<CodepointRange>;

// A parsed term, group or sequence: one expression per anchor category (see the file comment).
struct Piece {
  std::array<ExprId, kCats> e{kNever, kNever, kNever, kNever};
  std::array<bool, kCats> nullable{};
  // Nullable when word-boundary markers count as empty (they read no text but are not "": see
  // Concat).
  std::array<bool, kCats> nullable_zw{};
  int depth = 0;               // nesting (groups and quantifiers) below this piece
  int32_t anchor_offset = -1;  // first `^`/`$` inside, for errors
  int32_t marker_offset = -1;  // first \b / \B inside (RegexOptions::boundary_markers)
  bool assertion = false;      // a bare `^` or `$`: not quantifiable
  bool quantified = false;     // a second quantifier is an error
  std::string literal;         // e[0] == kNoExpr: literal text not yet added (a run of code points)
  size_t last_len = 0;         // bytes of its last code point (a quantifier splits it off)
  bool FreeOnly() const { return e[1] == kNever && e[2] == kNever && e[3] == kNever; }
};

// A class atom: one code point, or a set (\d, \p{..}) with any negation already applied.
struct ClassAtom {
  bool is_set = false;
  char32_t cp = 0;
  Ranges set;
};

// The flags in effect (see the file comment).
struct Flags {
  bool icase = false;   // i
  bool dot_all = false; // s
};

struct Frame {
  int32_t offset = 0;  // of the '('
  std::vector<Piece> alts;
  std::vector<Piece> seq;
  Flags flags;  // inside this group
};

// Property names as ECMA-262 spells them (exactly: no loose matching), space separated.
// General_Category values, short and long (PropertyValueAliases.txt):
constexpr std::string_view kGeneralCategories =
    " C Other Cc Control cntrl Cf Format Cn Unassigned Co Private_Use Cs Surrogate L Letter LC"
    " Cased_Letter Ll Lowercase_Letter Lm Modifier_Letter Lo Other_Letter Lt Titlecase_Letter Lu"
    " Uppercase_Letter M Mark Combining_Mark Mc Spacing_Mark Me Enclosing_Mark Mn Nonspacing_Mark"
    " N Number Nd Decimal_Number digit Nl Letter_Number No Other_Number P Punctuation punct Pc"
    " Connector_Punctuation Pd Dash_Punctuation Pe Close_Punctuation Pf Final_Punctuation Pi"
    " Initial_Punctuation Po Other_Punctuation Ps Open_Punctuation S Symbol Sc Currency_Symbol Sk"
    " Modifier_Symbol Sm Math_Symbol So Other_Symbol Z Separator Zl Line_Separator Zp"
    " Paragraph_Separator Zs Space_Separator ";
// Binary properties we have no tables for (valid ECMA, so kUnsupported rather than kParse):
constexpr std::string_view kOtherBinaryProperties =
    " Alphabetic Alpha Bidi_Control Bidi_C Bidi_Mirrored Bidi_M Case_Ignorable CI Cased"
    " Changes_When_Casefolded CWCF Changes_When_Casemapped CWCM Changes_When_Lowercased CWL"
    " Changes_When_NFKC_Casefolded CWKCF Changes_When_Titlecased CWT Changes_When_Uppercased CWU"
    " Dash Default_Ignorable_Code_Point DI Deprecated Dep Diacritic Dia Emoji Emoji_Component"
    " EComp Emoji_Modifier EMod Emoji_Modifier_Base EBase Emoji_Presentation EPres"
    " Extended_Pictographic ExtPict Extender Ext Grapheme_Base Gr_Base Grapheme_Extend Gr_Ext"
    " Hex_Digit Hex IDS_Binary_Operator IDSB IDS_Trinary_Operator IDST ID_Continue IDC ID_Start"
    " IDS Ideographic Ideo Join_Control Join_C Logical_Order_Exception LOE Lowercase Lower Math"
    " Noncharacter_Code_Point NChar Pattern_Syntax Pat_Syn Pattern_White_Space Pat_WS"
    " Quotation_Mark QMark Radical Regional_Indicator RI Sentence_Terminal STerm Soft_Dotted SD"
    " Terminal_Punctuation Term Unified_Ideograph UIdeo Uppercase Upper Variation_Selector VS"
    " XID_Continue XIDC XID_Start XIDS ";

bool InList(std::string_view list, std::string_view name) {
  return !name.empty() && name.find(' ') == std::string_view::npos &&
         list.find(" " + std::string(name) + " ") != std::string_view::npos;
}

// ECMA \s: WhiteSpace (TAB VT FF SP NBSP ZWNBSP and every Zs) plus LineTerminator (LF CR LS PS).
constexpr CodepointRange kSpace[] = {
    {0x09, 0x0D},     {0x20, 0x20},     {0xA0, 0xA0},     {0x1680, 0x1680}, {0x2000, 0x200A},
    {0x2028, 0x2029}, {0x202F, 0x202F}, {0x205F, 0x205F}, {0x3000, 0x3000}, {0xFEFF, 0xFEFF}};
constexpr CodepointRange kWord[] = {{'0', '9'}, {'A', 'Z'}, {'_', '_'}, {'a', 'z'}};
constexpr CodepointRange kDigit[] = {{'0', '9'}};
// `.`: every code point but the line terminators \n \r U+2028 U+2029.
constexpr CodepointRange kDot[] = {{0, 0x09}, {0x0B, 0x0C}, {0x0E, 0x2027}, {0x202A, 0x10FFFF}};

template <size_t N>
Ranges ToRanges(const CodepointRange (&a)[N]) {
  return Ranges(std::begin(a), std::end(a));
}
Ranges ToRanges(const std::vector<unicode::Range>& in) {
  Ranges out;
  for (const unicode::Range& r : in) out.push_back({r.lo, r.hi});
  return out;
}

// The ranges' case closure (unicode::CaseClosure): what they match under the i flag.
Ranges FoldClosure(const Ranges& ranges) {
  std::vector<unicode::Range> in;
  in.reserve(ranges.size());
  for (const CodepointRange& r : ranges) in.push_back({r.lo, r.hi});
  return ToRanges(unicode::CaseClosure(std::move(in)));
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}
bool IsSurrogate(char32_t cp) { return cp >= 0xD800 && cp <= 0xDFFF; }

class RegexParser {
 public:
  RegexParser(std::string_view pattern, Grammar* g, const RegexOptions& opts)
      : p_(pattern), g_(g), opts_(opts) {}

  Result<ExprId> Run();

 private:
  // ---- errors ----
  static Status Err(StatusCode code, size_t offset, std::string message) {
    Status s(code, std::move(message));
    s.WithOffset(static_cast<int64_t>(offset));
    return s;
  }
  // The pattern text from `from` to the current position, for messages.
  std::string Text(size_t from) const { return std::string(p_.substr(from, pos_ - from)); }

  // ---- lexing ----
  bool AtEnd() const { return pos_ >= p_.size(); }
  char Peek(size_t k = 0) const { return pos_ + k < p_.size() ? p_[pos_ + k] : '\0'; }
  char32_t NextCodePoint() {  // the pattern was validated as UTF-8 up front
    char32_t cp = 0;
    const int n =
        DecodeUtf8(reinterpret_cast<const uint8_t*>(p_.data()) + pos_, p_.size() - pos_, &cp);
    pos_ += static_cast<size_t>(n > 0 ? n : 1);
    return cp;
  }

  Status ParseGroupOpen(std::vector<Frame>* frames);
  // After "(?" at the first flag letter or '-': ims letters, an optional '-' and more, then ':'
  // (a modifier group, *is_group) or ')' (a bare flag group); *flags updated.
  Status ParseFlags(size_t start, Flags* flags, bool* is_group);
  Status ParseLookaround(size_t start, bool behind, bool negative, std::vector<Frame>* frames);
  Status ParseEscape(bool in_class, ClassAtom* out);
  Status ParseUnicodeEscape(size_t start, char32_t* cp);
  Status ParseProperty(bool negate, size_t start, Ranges* out);
  Status ParseClass(Piece* out);
  Status ParseClassAtom(ClassAtom* out);
  // {n} {n,} {n,m} at pos_ (which is at '{'): true and the bounds when well formed (bounds
  // saturate at 2^40; max = -1 for no upper bound), with *end just past the '}'.
  bool TryBraces(int64_t* min, int64_t* max, size_t* end) const;
  Status ApplyQuantifier(Frame* f, size_t start, int64_t min, int64_t max);

  // ---- building ----
  Piece Empty() {
    Piece p;
    p.e[0] = g_->AddEmpty();
    p.nullable[0] = true;
    p.nullable_zw[0] = true;
    return p;
  }
  // Appends a literal code point, extending a literal run at the end of `seq` (a class of its
  // case variants when the i flag is on and it has some).
  void PushLiteral(std::vector<Piece>* seq, char32_t cp) {
    if (IsSurrogate(cp)) {  // never: UTF-8 text holds no surrogates
      seq->emplace_back();
      return;
    }
    if (flags_.icase) {
      Ranges closure = FoldClosure({{cp, cp}});
      if (closure.size() != 1 || closure[0].lo != closure[0].hi) {
        seq->push_back(FoldedClass(std::move(closure), false, pos_));
        return;
      }
    }
    if (seq->empty() || seq->back().e[0] != kNoExpr || seq->back().quantified) {
      seq->emplace_back();
      seq->back().e[0] = kNoExpr;
    }
    Piece& p = seq->back();
    const size_t before = p.literal.size();
    AppendUtf8(&p.literal, cp);
    p.last_len = p.literal.size() - before;
  }
  // A class of `ranges` (negated when `negate`), case-closed first under the i flag.
  Piece Class(Ranges ranges, bool negate, size_t offset);
  // The same for ranges that are already what the flags make them.
  Piece FoldedClass(Ranges ranges, bool negate, size_t offset);
  void Materialize(Piece* p) {
    if (p->e[0] == kNoExpr) p->e[0] = g_->AddBytes(p->literal);
  }
  Result<Piece> FinishSequence(std::vector<Piece>* seq);
  Result<Piece> FinishAlternatives(std::vector<Piece>* alts);
  Result<Piece> Concat(const Piece& a, const Piece& b);
  Result<Piece> Repeat(Piece p, int32_t min, int32_t max, size_t offset);
  Result<ExprId> Assemble(const Piece& p);
  ExprId TrimForSearch(ExprId id, bool front, bool back);
  ExprId AnyText() {
    return g_->AddRepeat(g_->AddCharClass({{0, 0x10FFFF}}, false), 0, kUnbounded);
  }
  // `id` the first time, a fresh copy afterwards (an expression has one parent).
  Result<ExprId> Use(ExprId id, int* uses);
  ExprId CopyTree(ExprId root);
  Status CheckDepth(int depth, size_t offset) const {
    if (depth <= opts_.max_nesting_depth) return Status::Ok();
    return Err(StatusCode::kLimit, offset,
               "pattern nests deeper than max_nesting_depth (" +
                   std::to_string(opts_.max_nesting_depth) + " levels)");
  }

  std::string_view p_;
  Grammar* g_;
  const RegexOptions& opts_;
  std::unordered_map<ExprId, char32_t> marker_of_;  // the markers added (opts_.boundary_markers)
  Flags flags_;  // those of the innermost open group (frames.back().flags)
  size_t pos_ = 0;
  size_t expr_limit_ = 0;
};

Result<ExprId> RegexParser::Run() {
  if (p_.size() > opts_.max_pattern_bytes ||
      p_.size() > static_cast<size_t>(std::numeric_limits<int32_t>::max())) {
    return Err(StatusCode::kLimit, 0,
               "pattern of " + std::to_string(p_.size()) + " bytes exceeds max_pattern_bytes (" +
                   std::to_string(opts_.max_pattern_bytes) + ")");
  }
  size_t bad = 0;
  if (!IsValidUtf8(p_, &bad)) return Err(StatusCode::kParse, bad, "pattern is not valid UTF-8");
  expr_limit_ = g_->num_exprs() + opts_.max_exprs;

  std::vector<Frame> frames(1);
  while (!AtEnd()) {
    const size_t start = pos_;
    const char c = p_[pos_];
    switch (c) {
      case '|': {
        Frame& f = frames.back();
        SIEVE_ASSIGN_OR_RETURN(Piece alt, FinishSequence(&f.seq));
        f.alts.push_back(std::move(alt));
        ++pos_;
        break;
      }
      case '(':
        SIEVE_RETURN_IF_ERROR(ParseGroupOpen(&frames));
        break;
      case ')': {
        if (frames.size() == 1) return Err(StatusCode::kParse, start, "unmatched ')'");
        Frame& f = frames.back();
        SIEVE_ASSIGN_OR_RETURN(Piece last, FinishSequence(&f.seq));
        f.alts.push_back(std::move(last));
        SIEVE_ASSIGN_OR_RETURN(Piece group, FinishAlternatives(&f.alts));
        frames.pop_back();
        flags_ = frames.back().flags;
        group.depth += 1;
        SIEVE_RETURN_IF_ERROR(CheckDepth(group.depth, start));
        frames.back().seq.push_back(std::move(group));
        ++pos_;
        break;
      }
      case '*':
      case '+':
      case '?':
        ++pos_;
        SIEVE_RETURN_IF_ERROR(
            ApplyQuantifier(&frames.back(), start, c == '+' ? 1 : 0, c == '?' ? 1 : -1));
        break;
      case '{': {
        int64_t min = 0, max = 0;
        size_t end = 0;
        if (TryBraces(&min, &max, &end)) {
          if (max >= 0 && min > max) {
            pos_ = end;
            return Err(StatusCode::kParse, start,
                       "numbers out of order in quantifier " + Text(start));
          }
          const int64_t bound = std::max(min, max);
          if (bound > opts_.max_repeat_bound) {
            pos_ = end;
            return Err(StatusCode::kLimit, start,
                       "repetition bound in " + Text(start) + " exceeds max_repeat_bound (" +
                           std::to_string(opts_.max_repeat_bound) + ")");
          }
          pos_ = end;
          SIEVE_RETURN_IF_ERROR(ApplyQuantifier(&frames.back(), start, min, max));
        } else {
          ++pos_;  // Annex B: a '{' that starts no quantifier is itself
          PushLiteral(&frames.back().seq, '{');
        }
        break;
      }
      case '^':
      case '$': {
        Piece p;
        const int cat = c == '^' ? kStartBit : kEndBit;
        p.e[cat] = g_->AddEmpty(static_cast<int32_t>(start));
        p.nullable[cat] = true;
        p.nullable_zw[cat] = true;
        p.assertion = true;
        p.anchor_offset = static_cast<int32_t>(start);
        frames.back().seq.push_back(std::move(p));
        ++pos_;
        break;
      }
      case '[': {
        Piece p;
        SIEVE_RETURN_IF_ERROR(ParseClass(&p));
        frames.back().seq.push_back(std::move(p));
        break;
      }
      case '.':
        ++pos_;
        frames.back().seq.push_back(
            Class(flags_.dot_all ? Ranges{{0, 0x10FFFF}} : ToRanges(kDot), false, start));
        break;
      case '\\': {
        if (flags_.icase && (Peek(1) == 'b' || Peek(1) == 'B')) {
          // ECMA's \b under i counts U+017F and U+212A as word characters; the boundary
          // automaton's word set is the ASCII one.
          pos_ += 2;
          return Err(StatusCode::kUnsupported, start,
                     Text(start) + " with the case-insensitive flag i is not supported");
        }
        if (opts_.boundary_markers != nullptr && (Peek(1) == 'b' || Peek(1) == 'B')) {
          // A word-boundary assertion: zero-width, read by the automaton as its marker
          // (RegexOptions::boundary_markers). Not "" for the anchors' pairing: a path that needs
          // it to be empty text (`\b^a`, `a$\b`) is refused in Concat.
          Piece p;
          p.e[0] = g_->AddEmpty(static_cast<int32_t>(start));
          p.nullable_zw[0] = true;
          p.marker_offset = static_cast<int32_t>(start);
          const char32_t m = Peek(1) == 'b' ? kWordBoundaryMarker : kNonWordBoundaryMarker;
          opts_.boundary_markers->push_back({p.e[0], m});
          marker_of_[p.e[0]] = m;
          p.assertion = true;
          frames.back().seq.push_back(std::move(p));
          pos_ += 2;
          break;
        }
        ClassAtom a;
        SIEVE_RETURN_IF_ERROR(ParseEscape(/*in_class=*/false, &a));
        if (a.is_set) {
          frames.back().seq.push_back(Class(std::move(a.set), false, start));
        } else {
          PushLiteral(&frames.back().seq, a.cp);
        }
        break;
      }
      default:
        PushLiteral(&frames.back().seq, NextCodePoint());
        break;
    }
  }
  if (frames.size() > 1) {
    return Err(StatusCode::kParse, static_cast<size_t>(frames.back().offset),
               "missing ')' for the group opened here");
  }
  Frame& top = frames.back();
  SIEVE_ASSIGN_OR_RETURN(Piece last, FinishSequence(&top.seq));
  top.alts.push_back(std::move(last));
  SIEVE_ASSIGN_OR_RETURN(Piece all, FinishAlternatives(&top.alts));
  return Assemble(all);
}

// A lookaround anywhere (RegexOptions::lookarounds): its own pattern is kept as text, to the
// group's ')' (groups, classes and escapes skipped), and a zero-width marker stands where it is,
// like \b's (the automaton reads it: regex_lookaround_dfa.h).
Status RegexParser::ParseLookaround(size_t start, bool behind, bool negative,
                                    std::vector<Frame>* frames) {
  const size_t body = pos_;
  int depth = 0;
  bool in_class = false;
  for (; !AtEnd(); ++pos_) {
    const char c = Peek();
    if (c == '\\') {
      ++pos_;  // the escaped character (an escape's further characters are ordinary)
    } else if (in_class) {
      in_class = c != ']';
    } else if (c == '[') {
      in_class = true;
      if (Peek(1) == ']') ++pos_;  // `[]` is a class (an empty one), its ']' not a literal
    } else if (c == '(') {
      ++depth;
    } else if (c == ')') {
      if (depth-- == 0) break;
    }
  }
  if (AtEnd()) return Err(StatusCode::kParse, start, "unterminated group");
  const size_t next_marker = opts_.lookarounds->size();
  if (next_marker > kLastLookaroundMarker - kFirstLookaroundMarker) {
    return Err(StatusCode::kLimit, start, "more lookarounds than one pattern may hold");
  }
  RegexLookaround look;
  look.marker = kFirstLookaroundMarker + static_cast<char32_t>(next_marker);
  look.behind = behind;
  look.negated = negative;
  look.pattern = std::string(p_.substr(body, pos_ - body));
  if (flags_.icase || flags_.dot_all) {  // the flags in effect here hold inside it too
    look.pattern = std::string("(?") + (flags_.icase ? "i" : "") + (flags_.dot_all ? "s" : "") +
                   ":" + look.pattern + ")";
  }
  look.offset = start;
  ++pos_;  // ')'
  Piece p;
  p.e[0] = g_->AddEmpty(static_cast<int32_t>(start));
  p.nullable_zw[0] = true;
  p.marker_offset = static_cast<int32_t>(start);
  opts_.boundary_markers->push_back({p.e[0], look.marker});
  marker_of_[p.e[0]] = look.marker;
  p.assertion = true;
  opts_.lookarounds->push_back(std::move(look));
  frames->back().seq.push_back(std::move(p));
  return Status::Ok();
}

Status RegexParser::ParseGroupOpen(std::vector<Frame>* frames) {
  const size_t start = pos_;
  if (Peek(1) != '?') {
    pos_ += 1;
  } else {
    const char k = Peek(2);
    if (k == ':') {
      pos_ += 3;
    } else if (k == '=' || k == '!' || (k == '<' && (Peek(3) == '=' || Peek(3) == '!'))) {
      const bool behind = k == '<', negative = Peek(behind ? 3 : 2) == '!';
      pos_ += behind ? 4 : 3;
      if (opts_.lookarounds == nullptr || opts_.boundary_markers == nullptr) {
        return Err(StatusCode::kUnsupported, start,
                   std::string(negative ? "negative " : "") +
                       (behind ? "lookbehind " : "lookahead ") + Text(start) + " is not supported");
      }
      return ParseLookaround(start, behind, negative, frames);
    } else if (k == '<') {
      // Named group: RegExpIdentifierName, approximated as [$_A-Za-z or letter][$_ alnum]*.
      pos_ += 3;
      const size_t name_start = pos_;
      while (!AtEnd() && Peek() != '>') {
        const size_t at = pos_;
        const char32_t cp = NextCodePoint();
        const bool ascii_ok =
            cp < 0x80 && (cp == '$' || cp == '_' || (cp >= 'a' && cp <= 'z') ||
                          (cp >= 'A' && cp <= 'Z') || (at > name_start && cp >= '0' && cp <= '9'));
        const bool other_ok =
            cp >= 0x80 && (unicode::IsLetter(cp) ||
                           (at > name_start && (unicode::IsMark(cp) || unicode::IsNumber(cp))));
        if (!ascii_ok && !other_ok) {
          return Err(StatusCode::kParse, at, "invalid character in group name");
        }
      }
      if (AtEnd()) return Err(StatusCode::kParse, start, "missing '>' after the group name");
      if (pos_ == name_start) return Err(StatusCode::kParse, start, "empty group name");
      ++pos_;
    } else if (k == 'P') {
      return Err(StatusCode::kParse, start,
                 "invalid group '(?P': ECMA-262 writes named groups as (?<name>...)");
    } else if (k != '\0' && std::string_view("imsxu-").find(k) != std::string_view::npos) {
      pos_ += 2;
      Flags flags = flags_;
      bool is_group = false;
      SIEVE_RETURN_IF_ERROR(ParseFlags(start, &flags, &is_group));
      if (!is_group) {  // a bare (?i): the whole pattern's flags, only at its very start
        if (start != 0) {
          return Err(StatusCode::kUnsupported, start,
                     "inline flags " + Text(start) +
                         " after the start of the pattern (engines differ on their scope): "
                         "write a modifier group (?" + Text(start).substr(2, pos_ - start - 3) +
                         ":...)");
        }
        frames->back().flags = flags_ = flags;
        return Status::Ok();
      }
      SIEVE_RETURN_IF_ERROR(CheckDepth(static_cast<int>(frames->size()), start));
      Frame f;
      f.offset = static_cast<int32_t>(start);
      f.flags = flags_ = flags;
      frames->push_back(std::move(f));
      return Status::Ok();
    } else {
      pos_ = std::min(p_.size(), pos_ + 3);
      return Err(StatusCode::kParse, start, "invalid group " + Text(start));
    }
  }
  SIEVE_RETURN_IF_ERROR(CheckDepth(static_cast<int>(frames->size()), start));
  Frame f;
  f.offset = static_cast<int32_t>(start);
  f.flags = flags_;
  frames->push_back(std::move(f));
  return Status::Ok();
}

Status RegexParser::ParseFlags(size_t start, Flags* flags, bool* is_group) {
  bool seen[3] = {false, false, false};  // i m s, on either side of '-'
  bool minus = false, any = false;
  for (;;) {
    if (AtEnd()) return Err(StatusCode::kParse, start, "unterminated group " + Text(start));
    const char c = Peek();
    if (c == ':' || c == ')') {
      ++pos_;
      *is_group = c == ':';
      break;
    }
    ++pos_;
    if (c == '-' && !minus) {
      minus = true;
      continue;
    }
    const size_t i = std::string_view("ims").find(c);
    if (i == std::string_view::npos) {
      while (!AtEnd() && Peek() != ':' && Peek() != ')') ++pos_;
      if (!AtEnd()) ++pos_;
      return Err(StatusCode::kParse, start,
                 "invalid flags in " + Text(start) + ": ECMA-262 modifiers are i, m and s");
    }
    if (seen[i]) return Err(StatusCode::kParse, start, "flag repeated in " + Text(start));
    seen[i] = any = true;
    if (c == 'm') {
      while (!AtEnd() && Peek() != ':' && Peek() != ')') ++pos_;
      if (!AtEnd()) ++pos_;
      return Err(StatusCode::kUnsupported, start,
                 "the multiline flag in " + Text(start) +
                     " (^ and $ at line ends) is not supported");
    }
    (c == 'i' ? flags->icase : flags->dot_all) = !minus;
  }
  if (!any) return Err(StatusCode::kParse, start, "no flag in " + Text(start));
  if (!*is_group && minus) {
    return Err(StatusCode::kUnsupported, start,
               "inline flags " + Text(start) + " that clear a flag");
  }
  return Status::Ok();
}

Status RegexParser::ParseEscape(bool in_class, ClassAtom* out) {
  const size_t start = pos_;
  ++pos_;
  if (AtEnd()) return Err(StatusCode::kParse, start, "pattern ends with '\\'");
  if (static_cast<unsigned char>(Peek()) >= 0x80) {
    NextCodePoint();
    return Err(StatusCode::kParse, start, "invalid escape " + Text(start));
  }
  const char c = p_[pos_++];
  auto set = [&](const Ranges& r, bool negate) {
    out->is_set = true;
    out->set = Grammar::NormalizeRanges(r, negate);
    return Status::Ok();
  };
  auto cp = [&](char32_t v) {
    out->is_set = false;
    out->cp = v;
    return Status::Ok();
  };
  if (c == 'd' || c == 'D') return set(ToRanges(kDigit), c == 'D');
  if (c == 'w' || c == 'W') {
    // With the i flag, ECMA's WordCharacters take in what folds into them (U+017F, U+212A)
    // before \W complements them.
    Ranges word = ToRanges(kWord);
    if (flags_.icase) word = FoldClosure(word);
    return set(word, c == 'W');
  }
  if (c == 's' || c == 'S') return set(ToRanges(kSpace), c == 'S');
  if (c == 'p' || c == 'P') {
    out->is_set = true;
    return ParseProperty(c == 'P', start, &out->set);
  }
  if (const size_t k = std::string_view("ntrfv").find(c); k != std::string_view::npos) {
    return cp(static_cast<char32_t>("\n\t\r\f\v"[k]));
  }
  switch (c) {
    case 'b':
      if (in_class) return cp('\b');
      return Err(StatusCode::kUnsupported, start, "word boundary \\b is not supported");
    case 'B':
      if (in_class) return Err(StatusCode::kParse, start, "\\B is not valid in a class");
      return Err(StatusCode::kUnsupported, start, "non-word boundary \\B is not supported");
    case '0':
      if (IsDigit(Peek())) {
        return Err(StatusCode::kParse, start, "octal escapes are not supported (use \\xHH)");
      }
      return cp(0);
    case 'x': {
      const int hi = HexValue(Peek()), lo = HexValue(Peek(1));
      if (hi < 0 || lo < 0) return Err(StatusCode::kParse, start, "\\x needs two hex digits");
      pos_ += 2;
      return cp(static_cast<char32_t>(hi * 16 + lo));
    }
    case 'u': {
      char32_t v = 0;
      SIEVE_RETURN_IF_ERROR(ParseUnicodeEscape(start, &v));
      return cp(v);
    }
    case 'c': {
      const char l = Peek();
      if (!((l >= 'a' && l <= 'z') || (l >= 'A' && l <= 'Z'))) {
        return Err(StatusCode::kParse, start, "\\c needs a letter A-Z or a-z");
      }
      ++pos_;
      return cp(static_cast<char32_t>(l % 32));
    }
    case 'k':
      if (!in_class && Peek() == '<') {
        while (!AtEnd() && Peek() != '>') ++pos_;
        if (!AtEnd()) ++pos_;
        return Err(StatusCode::kUnsupported, start,
                   "backreference " + Text(start) + " is not supported");
      }
      return Err(StatusCode::kParse, start, "invalid escape \\k");
    default:
      break;
  }
  if (c >= '1' && c <= '9') {
    if (in_class) {
      return Err(StatusCode::kParse, start,
                 "invalid escape " + Text(start) + " in a class (octal escapes are not supported)");
    }
    while (IsDigit(Peek())) ++pos_;
    return Err(StatusCode::kUnsupported, start,
               "backreference " + Text(start) + " is not supported");
  }
  // Identity escapes: ASCII punctuation and space (a superset of ECMA's SyntaxCharacter, '/' and
  // '-'); letters and digits with no ECMA meaning are errors rather than Annex B's literal letter.
  const bool alnum = IsDigit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
  if (!alnum && c >= 0x20 && c < 0x7F) return cp(static_cast<char32_t>(c));
  return Err(StatusCode::kParse, start, "invalid escape " + Text(start));
}

// After "\u": HHHH (a high surrogate followed by \uLOW forms one code point) or {H...}.
Status RegexParser::ParseUnicodeEscape(size_t start, char32_t* cp) {
  if (Peek() == '{') {
    ++pos_;
    char32_t v = 0;
    size_t digits = 0;
    while (HexValue(Peek()) >= 0) {
      v = v * 16 + static_cast<char32_t>(HexValue(Peek()));
      ++pos_;
      if (v > 0x10FFFF) return Err(StatusCode::kParse, start, "\\u{...} above U+10FFFF");
      ++digits;
    }
    if (digits == 0 || Peek() != '}') {
      return Err(StatusCode::kParse, start, "\\u{ needs hex digits and '}'");
    }
    ++pos_;
    *cp = v;
    return Status::Ok();
  }
  auto hex4 = [&](size_t at, char32_t* v) {
    *v = 0;
    for (size_t i = 0; i < 4; ++i) {
      const int h = at + i < p_.size() ? HexValue(p_[at + i]) : -1;
      if (h < 0) return false;
      *v = *v * 16 + static_cast<char32_t>(h);
    }
    return true;
  };
  if (!hex4(pos_, cp)) return Err(StatusCode::kParse, start, "\\u needs four hex digits");
  pos_ += 4;
  char32_t low = 0;
  if (*cp >= 0xD800 && *cp <= 0xDBFF && Peek() == '\\' && Peek(1) == 'u' && hex4(pos_ + 2, &low) &&
      low >= 0xDC00 && low <= 0xDFFF) {
    *cp = 0x10000 + ((*cp - 0xD800) << 10) + (low - 0xDC00);
    pos_ += 6;
  }
  return Status::Ok();
}

// After "\p" / "\P": {Value}, {General_Category=Value} or {gc=Value}; a few binary properties.
Status RegexParser::ParseProperty(bool negate, size_t start, Ranges* out) {
  if (Peek() != '{') {
    return Err(StatusCode::kParse, start, "\\p and \\P need a property in braces: \\p{L}");
  }
  const size_t close = p_.find('}', pos_);
  if (close == std::string_view::npos) {
    return Err(StatusCode::kParse, start, "missing '}' after \\p{");
  }
  const std::string_view body = p_.substr(pos_ + 1, close - pos_ - 1);
  pos_ = close + 1;
  const size_t eq = body.find('=');
  std::optional<std::vector<unicode::Range>> ranges;
  if (eq != std::string_view::npos) {
    const std::string_view name = body.substr(0, eq), value = body.substr(eq + 1);
    if (name == "General_Category" || name == "gc") {
      if (InList(kGeneralCategories, value)) ranges = unicode::PropertyRanges(value);
    } else if (name == "Script" || name == "sc" || name == "Script_Extensions" || name == "scx") {
      return Err(StatusCode::kUnsupported, start,
                 "Unicode script property " + Text(start) + " is not supported");
    }
  } else if (InList(kGeneralCategories, body) || body == "Any" || body == "ASCII" ||
             body == "Assigned") {
    ranges = unicode::PropertyRanges(body);
  } else if (body == "White_Space" || body == "space") {
    ranges = unicode::WhiteSpaceRanges();
  } else if (body == "ASCII_Hex_Digit" || body == "AHex") {
    ranges = std::vector<unicode::Range>{{'0', '9'}, {'A', 'F'}, {'a', 'f'}};
  } else if (InList(kOtherBinaryProperties, body)) {
    return Err(StatusCode::kUnsupported, start,
               "Unicode binary property " + Text(start) + " is not supported");
  }
  if (!ranges) return Err(StatusCode::kParse, start, "unknown Unicode property " + Text(start));
  *out = Grammar::NormalizeRanges(ToRanges(*ranges), negate);
  return Status::Ok();
}

Status RegexParser::ParseClassAtom(ClassAtom* out) {
  if (Peek() == '\\') return ParseEscape(/*in_class=*/true, out);
  out->is_set = false;
  out->cp = NextCodePoint();
  return Status::Ok();
}

Status RegexParser::ParseClass(Piece* out) {
  const size_t start = pos_;
  ++pos_;
  const bool negate = Peek() == '^';
  if (negate) ++pos_;
  Ranges ranges;
  auto add = [&ranges](const ClassAtom& a) {
    if (a.is_set) {
      ranges.insert(ranges.end(), a.set.begin(), a.set.end());
    } else {
      ranges.push_back({a.cp, a.cp});
    }
  };
  for (;;) {
    if (AtEnd()) return Err(StatusCode::kParse, start, "missing ']' for the class opened here");
    if (Peek() == ']') {
      ++pos_;
      break;
    }
    const size_t atom_start = pos_;
    ClassAtom a;
    SIEVE_RETURN_IF_ERROR(ParseClassAtom(&a));
    if (Peek() == '-' && pos_ + 1 < p_.size() && p_[pos_ + 1] != ']') {
      ++pos_;
      ClassAtom b;
      SIEVE_RETURN_IF_ERROR(ParseClassAtom(&b));
      if (a.is_set || b.is_set) {  // Annex B: [\w-.] is \w, '-' and '.'
        add(a);
        ranges.push_back({'-', '-'});
        add(b);
      } else if (a.cp > b.cp) {
        return Err(StatusCode::kParse, atom_start,
                   "range out of order in class: " + Text(atom_start));
      } else {
        ranges.push_back({a.cp, b.cp});
      }
    } else {
      add(a);
    }
  }
  *out = Class(std::move(ranges), negate, start);
  return Status::Ok();
}

Piece RegexParser::Class(Ranges ranges, bool negate, size_t offset) {
  if (flags_.icase) ranges = FoldClosure(ranges);
  return FoldedClass(std::move(ranges), negate, offset);
}

Piece RegexParser::FoldedClass(Ranges ranges, bool negate, size_t offset) {
  Piece p;
  if (Grammar::NormalizeRanges(ranges, negate).empty()) return p;  // [] and [^\s\S]: never
  p.e[0] = g_->AddCharClass(std::move(ranges), negate, static_cast<int32_t>(offset));
  return p;
}

bool RegexParser::TryBraces(int64_t* min, int64_t* max, size_t* end) const {
  constexpr int64_t kSaturate = int64_t{1} << 40;
  size_t i = pos_ + 1;
  auto number = [&](int64_t* v) {
    const size_t from = i;
    *v = 0;
    while (i < p_.size() && IsDigit(p_[i])) {
      *v = std::min(kSaturate, *v * 10 + (p_[i] - '0'));
      ++i;
    }
    return i > from;
  };
  if (!number(min)) return false;
  *max = *min;
  if (i < p_.size() && p_[i] == ',') {
    ++i;
    if (!number(max)) *max = -1;
  }
  if (i >= p_.size() || p_[i] != '}') return false;
  *end = i + 1;
  return true;
}

Status RegexParser::ApplyQuantifier(Frame* f, size_t start, int64_t min, int64_t max) {
  const std::string text = Text(start);
  if (Peek() == '?') ++pos_;  // lazy: same language
  if (f->seq.empty() || f->seq.back().assertion) {
    return Err(StatusCode::kParse, start, "nothing to repeat before quantifier " + text);
  }
  if (f->seq.back().quantified) {
    return Err(StatusCode::kParse, start,
               "quantifier " + text + " follows another quantifier" +
                   (text == "+" ? " (ECMA-262 has no possessive quantifiers)" : ""));
  }
  Piece& last = f->seq.back();
  if (last.e[0] == kNoExpr && last.literal.size() > last.last_len) {  // "abc*": split off "c"
    Piece tail;
    tail.e[0] = kNoExpr;
    tail.literal = last.literal.substr(last.literal.size() - last.last_len);
    last.literal.resize(last.literal.size() - last.last_len);
    f->seq.push_back(std::move(tail));
  }
  Piece p = std::move(f->seq.back());
  f->seq.pop_back();
  SIEVE_ASSIGN_OR_RETURN(Piece q, Repeat(std::move(p), static_cast<int32_t>(min),
                                         max < 0 ? kUnbounded : static_cast<int32_t>(max), start));
  q.quantified = true;
  SIEVE_RETURN_IF_ERROR(CheckDepth(q.depth, start));
  f->seq.push_back(std::move(q));
  return Status::Ok();
}

Result<Piece> RegexParser::Repeat(Piece p, int32_t min, int32_t max, size_t offset) {
  Materialize(&p);
  if (max == 0) return Empty();
  if (min == 1 && max == 1) return p;
  Piece r = p;
  r.depth = p.depth + 1;
  if (p.FreeOnly()) {
    if (p.e[0] == kNever) return min == 0 ? Empty() : p;
    r.e[0] = g_->AddRepeat(p.e[0], min, max, static_cast<int32_t>(offset));
    r.nullable[0] = min == 0 || p.nullable[0];
    r.nullable_zw[0] = min == 0 || p.nullable_zw[0];
    return r;
  }
  if (min == 0 && max == 1) {  // (^a)? = "" | ^a: zero iterations are an anchor-free ""
    r.e[0] = p.e[0] == kNever ? g_->AddEmpty() : g_->AddRepeat(p.e[0], 0, 1);
    r.nullable[0] = true;
    r.nullable_zw[0] = true;
    return r;
  }
  return Err(StatusCode::kUnsupported, static_cast<size_t>(p.anchor_offset),
             "anchor '" + std::string(1, p_[p.anchor_offset]) +
                 "' inside a repeated group is not supported (only '?' may follow such a group)");
}

Result<Piece> RegexParser::FinishSequence(std::vector<Piece>* seq) {
  std::vector<Piece> items = std::move(*seq);
  seq->clear();
  if (items.empty()) return Empty();
  const bool all_free =
      std::all_of(items.begin(), items.end(), [](const Piece& p) { return p.FreeOnly(); });
  if (all_free) {
    Piece r;
    std::vector<ExprId> exprs;
    bool nullable = true, nullable_zw = true;
    std::string run;
    auto flush = [&]() {
      if (run.empty()) return;
      exprs.push_back(g_->AddBytes(run));
      nullable = nullable_zw = false;
      run.clear();
    };
    for (const Piece& p : items) {
      if (p.e[0] == kNever) return Piece();  // one impossible item: the sequence is impossible
      r.depth = std::max(r.depth, p.depth);
      if (r.marker_offset < 0) r.marker_offset = p.marker_offset;
      if (p.e[0] == kNoExpr) {
        run += p.literal;
        continue;
      }
      flush();
      exprs.push_back(p.e[0]);
      nullable = nullable && p.nullable[0];
      nullable_zw = nullable_zw && p.nullable_zw[0];
    }
    flush();
    r.e[0] = exprs.size() == 1 ? exprs[0] : g_->AddSequence(exprs);
    r.nullable[0] = nullable;
    r.nullable_zw[0] = nullable_zw;
    return r;
  }
  // Anchors: fold runs of anchor-free items as one piece, then pair categories with Concat.
  std::optional<Piece> acc;
  std::vector<Piece> run;
  auto take = [&](Piece p) -> Status {
    if (!acc) {
      acc = std::move(p);
      return Status::Ok();
    }
    SIEVE_ASSIGN_OR_RETURN(Piece c, Concat(*acc, p));
    acc = std::move(c);
    if (acc->depth <= opts_.max_nesting_depth) return Status::Ok();
    return Err(StatusCode::kLimit, static_cast<size_t>(std::max(0, p.anchor_offset)),
               "too many terms with anchors in one sequence (each one nests the expression; "
               "max_nesting_depth is " +
                   std::to_string(opts_.max_nesting_depth) + ")");
  };
  for (Piece& p : items) {
    if (p.FreeOnly()) {
      run.push_back(std::move(p));
      continue;
    }
    if (!run.empty()) {
      SIEVE_ASSIGN_OR_RETURN(Piece free_run, FinishSequence(&run));
      SIEVE_RETURN_IF_ERROR(take(std::move(free_run)));
    }
    SIEVE_RETURN_IF_ERROR(take(std::move(p)));
  }
  if (!run.empty()) {
    SIEVE_ASSIGN_OR_RETURN(Piece free_run, FinishSequence(&run));
    SIEVE_RETURN_IF_ERROR(take(std::move(free_run)));
  }
  acc->assertion = false;
  acc->quantified = false;
  return std::move(*acc);
}

Result<Piece> RegexParser::Concat(const Piece& a, const Piece& b) {
  Piece r;
  r.depth = std::max(a.depth, b.depth) + 2;
  r.anchor_offset = a.anchor_offset >= 0 ? a.anchor_offset : b.anchor_offset;
  r.marker_offset = a.marker_offset >= 0 ? a.marker_offset : b.marker_offset;
  std::array<std::vector<ExprId>, kCats> parts;
  std::array<int, kCats> a_uses{}, b_uses{};
  for (int ma = 0; ma < kCats; ++ma) {
    if (a.e[ma] == kNever) continue;
    for (int mb = 0; mb < kCats; ++mb) {
      if (b.e[mb] == kNever) continue;
      // A `^` in b needs a's part empty; a `$` in a needs b's part empty.
      const bool a_empty = (mb & kStartBit) != 0, b_empty = (ma & kEndBit) != 0;
      if ((a_empty && !a.nullable[ma]) || (b_empty && !b.nullable[mb])) {
        // Empty only through a word boundary: the path is real (the boundary is checked at the
        // end of the input), but the categories cannot keep the marker: refused, not dropped.
        const Piece* w = a_empty && !a.nullable[ma] && a.nullable_zw[ma]   ? &a
                         : b_empty && !b.nullable[mb] && b.nullable_zw[mb] ? &b
                                                                          : nullptr;
        if (w != nullptr) {
          return Err(StatusCode::kUnsupported, static_cast<size_t>(std::max(0, w->marker_offset)),
                     "a word boundary where an anchor needs empty text (as in \\b^ or $\\b) is "
                     "not supported");
        }
        continue;
      }
      std::vector<ExprId> items;
      if (!a_empty) {
        SIEVE_ASSIGN_OR_RETURN(ExprId x, Use(a.e[ma], &a_uses[ma]));
        items.push_back(x);
      }
      if (!b_empty) {
        SIEVE_ASSIGN_OR_RETURN(ExprId y, Use(b.e[mb], &b_uses[mb]));
        items.push_back(y);
      }
      const int m = ma | mb;
      parts[m].push_back(items.empty()       ? g_->AddEmpty()
                         : items.size() == 1 ? items[0]
                                             : g_->AddSequence(items));
      r.nullable[m] = r.nullable[m] || ((a_empty || a.nullable[ma]) && (b_empty || b.nullable[mb]));
      r.nullable_zw[m] = r.nullable_zw[m] ||
                         ((a_empty || a.nullable_zw[ma]) && (b_empty || b.nullable_zw[mb]));
    }
  }
  for (int m = 0; m < kCats; ++m) {
    if (parts[m].empty()) continue;
    r.e[m] = parts[m].size() == 1 ? parts[m][0] : g_->AddChoice(parts[m]);
  }
  return r;
}

Result<Piece> RegexParser::FinishAlternatives(std::vector<Piece>* alts) {
  std::vector<Piece> items = std::move(*alts);
  alts->clear();
  if (items.size() == 1) return std::move(items[0]);
  Piece r;
  for (int m = 0; m < kCats; ++m) {
    std::vector<ExprId> choices;
    for (const Piece& p : items) {
      if (p.e[m] == kNever) continue;  // a|[] is a
      choices.push_back(p.e[m]);
      r.nullable[m] = r.nullable[m] || p.nullable[m];
      r.nullable_zw[m] = r.nullable_zw[m] || p.nullable_zw[m];
    }
    if (!choices.empty()) r.e[m] = choices.size() == 1 ? choices[0] : g_->AddChoice(choices);
  }
  for (const Piece& p : items) {
    r.depth = std::max(r.depth, p.depth + 1);
    if (r.anchor_offset < 0) r.anchor_offset = p.anchor_offset;
    if (r.marker_offset < 0) r.marker_offset = p.marker_offset;
  }
  return r;
}

Result<ExprId> RegexParser::Use(ExprId id, int* uses) {
  if ((*uses)++ == 0) return id;
  const ExprId copy = CopyTree(id);
  if (g_->num_exprs() > expr_limit_) {
    return Err(StatusCode::kLimit, 0,
               "anchors inside the pattern expand it past max_exprs (" +
                   std::to_string(opts_.max_exprs) + " expressions)");
  }
  return copy;
}

// Copies the tree under `root` (post-order, explicit stack: trees may be deep).
ExprId RegexParser::CopyTree(ExprId root) {
  struct Item {
    ExprId src;
    std::vector<ExprId> copied;  // copies of the children done so far
  };
  std::vector<Item> stack = {{root, {}}};
  for (;;) {
    Item& top = stack.back();
    const Expr e = g_->expr(top.src);  // by value: adding expressions moves the arena
    const bool inner =
        e.kind == ExprKind::kSequence || e.kind == ExprKind::kChoice || e.kind == ExprKind::kRepeat;
    if (inner && top.copied.size() < e.size) {
      stack.push_back({g_->children(e)[top.copied.size()], {}});
      continue;
    }
    const int32_t off = e.source_offset;
    ExprId made = kNoExpr;
    switch (e.kind) {
      case ExprKind::kEmpty:
        made = g_->AddEmpty(off);
        if (const auto m = marker_of_.find(top.src); m != marker_of_.end()) {
          const char32_t code = m->second;  // a copied marker stays a marker
          opts_.boundary_markers->push_back({made, code});
          marker_of_[made] = code;
        }
        break;
      case ExprKind::kBytes:
        made = g_->AddBytes(std::string(g_->bytes(e)), off);
        break;
      case ExprKind::kCharClass: {
        // Only a class's `begin` indexes the ranges (a literal's indexes the bytes): asking for
        // the ranges of any other kind formed an out-of-bounds pointer (fuzz_regex, UBSan).
        const std::span<const CodepointRange> r = g_->ranges(e);
        made = g_->AddCharClass(Ranges(r.begin(), r.end()), false, off);
        break;
      }
      case ExprKind::kRuleRef:
        made = g_->AddRuleRef(e.rule, off);
        break;
      case ExprKind::kSequence:
        made = g_->AddSequence(top.copied, off);
        break;
      case ExprKind::kChoice:
        made = g_->AddChoice(top.copied, off);
        break;
      case ExprKind::kRepeat:
        made = g_->AddRepeat(top.copied[0], e.min, e.max, off);
        break;
    }
    stack.pop_back();
    if (stack.empty()) return made;
    stack.back().copied.push_back(made);
  }
}

// See the file comment: trims optional repetition where the text meets `.*`.
ExprId RegexParser::TrimForSearch(ExprId id, bool front, bool back) {
  auto shorten = [&](ExprId item) -> ExprId {  // x{m,n} -> x{m}; kNoExpr when m == 0
    const Expr e = g_->expr(item);
    if (e.kind != ExprKind::kRepeat) return item;
    if (e.min == 0) return kNoExpr;
    if (e.max == e.min) return item;
    return g_->AddRepeat(g_->children(e)[0], e.min, e.min, e.source_offset);
  };
  const Expr e = g_->expr(id);
  if (e.kind == ExprKind::kRepeat) {
    const ExprId s = shorten(id);
    return s == kNoExpr ? g_->AddEmpty() : s;
  }
  if (e.kind != ExprKind::kSequence) return id;
  const std::span<const ExprId> kids = g_->children(e);
  std::vector<ExprId> items(kids.begin(), kids.end());
  // Drops x{0,n} items from the open end, then shortens the first x{m,n} (m > 0) it meets.
  for (const bool at_back : {true, false}) {
    if (!(at_back ? back : front)) continue;
    while (!items.empty()) {
      ExprId& end = at_back ? items.back() : items.front();
      const ExprId s = shorten(end);
      if (s != kNoExpr) {
        end = s;
        break;
      }
      items.erase(at_back ? items.end() - 1 : items.begin());
    }
  }
  if (items.empty()) return g_->AddEmpty();
  if (items.size() == 1) return items[0];
  return g_->AddSequence(items, e.source_offset);
}

Result<ExprId> RegexParser::Assemble(const Piece& p) {
  std::vector<ExprId> terms;
  for (int m = 0; m < kCats; ++m) {
    if (p.e[m] == kNever) continue;
    if (!opts_.search_semantics) {
      terms.push_back(p.e[m]);
      continue;
    }
    const bool open_front = (m & kStartBit) == 0, open_back = (m & kEndBit) == 0;
    std::vector<ExprId> items;
    if (open_front) items.push_back(AnyText());
    items.push_back(TrimForSearch(p.e[m], open_front, open_back));
    if (open_back) items.push_back(AnyText());
    terms.push_back(items.size() == 1 ? items[0] : g_->AddSequence(items));
  }
  if (terms.empty()) {
    if (opts_.matches_nothing == nullptr) {
      return Err(StatusCode::kUnsupported, 0, "the pattern matches no string");
    }
    *opts_.matches_nothing = true;
    return kNoExpr;
  }
  return terms.size() == 1 ? terms[0] : g_->AddChoice(terms);
}

}  // namespace

Result<ExprId> RegexToExpr(std::string_view pattern, Grammar* g, const RegexOptions& opts) {
  if (g == nullptr) return InvalidArgument("RegexToExpr: null grammar");
  RegexParser parser(pattern, g, opts);
  return parser.Run();
}

}  // namespace sieve
