// Pre-tokenizer scanners: Oniguruma semantics of the known Split regexes, by hand.
//
// Text is first decoded into CharInfo records (code point, byte offset, class bits), then each
// pattern is a function Match(chars, n, i) returning where the regex's match starting at char i
// ends (i when no alternative matches there). The Isolated split loop is Oniguruma's find_iter:
// try start positions left to right, take the first alternative that matches at the leftmost
// start, continue after the match, and emit the gaps between matches as pieces too. Each Split
// runs on each piece separately, so "end of string" in a lookahead is the end of the piece.
//
// How each backtracking construct resolves (n = piece length, run = maximal run of a class):
//  - `X?Y+` (X, Y disjoint or not): the optional char is taken when it qualifies and a Y follows,
//    otherwise the match is Y+ from i (or fails).
//  - `\s*[\r\n]+`: \s* takes the whole whitespace run and gives back until a CR/LF can follow,
//    so the match ends just after the last CR or LF of the run (fails if the run has none).
//  - `\s+(?!\S)`: the whole run when it reaches the end of the piece; otherwise the run minus its
//    last char when the run has >= 2 chars (that char is whitespace, so (?!\S) holds); otherwise it
//    fails and `\s+` takes the single whitespace char.
//  - `(?i:'s|...)`: Unicode simple case folding; the only non-ASCII char folding onto one of
//    s,t,r,e,v,m,l,d is U+017F LATIN SMALL LETTER LONG S (-> s).
// These rules (U+0085 in \s and the long-s fold included) were checked against the reference
// library (tokenizers 0.23.2, Oniguruma) on the golden corpus and on ~6,300 fuzzed strings.
#include "grammar/tokenizer/pretokenizer.h"

#include <array>

#include "grammar/support/unicode.h"
#include "grammar/support/utf8.h"

namespace sieve::tokenizer_internal {
namespace {

// Class bits.
enum : uint16_t {
  kL = 1 << 0,           // \p{L}
  kN = 1 << 1,           // \p{N}
  kM = 1 << 2,           // \p{M}
  kP = 1 << 3,           // \p{P}
  kS = 1 << 4,           // \p{S}
  kWs = 1 << 5,          // \s
  kCrLf = 1 << 6,        // \r or \n
  kCjk = 1 << 7,         // U+4E00..9FA5, U+3040..309F, U+30A0..30FF
  kAsciiAlpha = 1 << 8,  // [A-Za-z]
  kAsciiPunct = 1 << 9,  // [!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~]
};

constexpr char32_t kBadByte = 0xFFFFFFFF;

uint16_t ClassifyNonAscii(char32_t cp) {
  using unicode::internal::kLetterMask;
  using unicode::internal::kMarkMask;
  using unicode::internal::kNumberMask;
  using unicode::internal::kPunctMask;
  using unicode::internal::kSepMask;
  using unicode::internal::kSymbolMask;
  const uint32_t bit = unicode::internal::CategoryBit(unicode::GetCategory(cp));
  uint16_t c = 0;
  if (bit & kLetterMask) c |= kL;
  if (bit & kNumberMask) c |= kN;
  if (bit & kMarkMask) c |= kM;
  if (bit & kPunctMask) c |= kP;
  if (bit & kSymbolMask) c |= kS;
  if ((bit & kSepMask) || cp == 0x85) c |= kWs;
  if ((cp >= 0x4E00 && cp <= 0x9FA5) || (cp >= 0x3040 && cp <= 0x30FF)) c |= kCjk;
  return c;
}

constexpr std::array<uint16_t, 128> MakeAsciiTable() {
  std::array<uint16_t, 128> t{};
  for (int c = 0; c < 128; ++c) {
    uint16_t v = 0;
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')) v |= kL | kAsciiAlpha;
    if (c >= '0' && c <= '9') v |= kN;
    if ((c >= 9 && c <= 13) || c == ' ') v |= kWs;
    if (c == '\r' || c == '\n') v |= kCrLf;
    const bool graphic = c > ' ' && c < 127;
    const bool alnum = (v & (kL | kN)) != 0;
    if (graphic && !alnum) {
      v |= kAsciiPunct;
      // General categories of ASCII punctuation: Sm, Sc, Sk are symbols, the rest are P*.
      const bool symbol = c == '$' || c == '+' || c == '<' || c == '=' || c == '>' || c == '^' ||
                          c == '`' || c == '|' || c == '~';
      v |= symbol ? kS : kP;
    }
    t[c] = v;
  }
  return t;
}
constexpr std::array<uint16_t, 128> kAsciiClass = MakeAsciiTable();

// Appends CharInfo records for buf[begin, end).
void Classify(const std::string& buf, uint32_t begin, uint32_t end, std::vector<CharInfo>* out) {
  const uint8_t* p = reinterpret_cast<const uint8_t*>(buf.data());
  uint32_t i = begin;
  while (i < end) {
    const uint8_t b = p[i];
    if (b < 0x80) {
      out->push_back({b, i, kAsciiClass[b]});
      ++i;
      continue;
    }
    char32_t cp = 0;
    const int len = DecodeUtf8(p + i, end - i, &cp);
    if (len <= 0) {
      out->push_back({kBadByte, i, 0});
      ++i;
      continue;
    }
    out->push_back({cp, i, ClassifyNonAscii(cp)});
    i += static_cast<uint32_t>(len);
  }
}

// End of the run of chars having any of `mask`, starting at i.
inline size_t RunOf(const CharInfo* c, size_t n, size_t i, uint16_t mask) {
  while (i < n && (c[i].cls & mask)) ++i;
  return i;
}

inline char32_t FoldContraction(char32_t cp) {
  if (cp >= 'A' && cp <= 'Z') return cp + ('a' - 'A');
  if (cp == 0x017F) return 's';
  return cp;
}

// 's|'t|'re|'ve|'m|'ll|'d at i (folding case when `fold`); returns i when none matches.
inline size_t MatchContraction(const CharInfo* c, size_t n, size_t i, bool fold) {
  if (c[i].cp != '\'' || i + 1 >= n) return i;
  const char32_t a = fold ? FoldContraction(c[i + 1].cp) : c[i + 1].cp;
  if (a == 's' || a == 't' || a == 'm' || a == 'd') return i + 2;
  if (i + 2 < n) {
    const char32_t b = fold ? FoldContraction(c[i + 2].cp) : c[i + 2].cp;
    if ((a == 'r' || a == 'v') && b == 'e') return i + 3;
    if (a == 'l' && b == 'l') return i + 3;
  }
  return i;
}

// ` ?X+` for the class mask X: a leading U+0020 is taken only when an X follows it.
inline size_t MatchSpaceThenRun(const CharInfo* c, size_t n, size_t i, uint16_t mask) {
  if (c[i].cp == ' ' && i + 1 < n && (c[i + 1].cls & mask)) return RunOf(c, n, i + 1, mask);
  if (c[i].cls & mask) return RunOf(c, n, i, mask);
  return i;
}

// ` ?[^\s\p{L}\p{N}]+` (no trailing newline part): "other" = none of \s, L, N.
inline bool IsOther(const CharInfo& c) { return (c.cls & (kWs | kL | kN)) == 0; }
inline size_t MatchSpaceThenOthers(const CharInfo* c, size_t n, size_t i) {
  size_t j = i;
  if (c[i].cp == ' ' && i + 1 < n && IsOther(c[i + 1])) j = i + 1;
  if (!IsOther(c[j])) return i;
  while (j < n && IsOther(c[j])) ++j;
  return j;
}

// `\s*[\r\n]+|\s+(?!\S)|\s+` (with_newline_alt) or `\s+(?!\S)|\s+` at i.
inline size_t MatchWhitespace(const CharInfo* c, size_t n, size_t i, bool with_newline_alt) {
  if (!(c[i].cls & kWs)) return i;
  size_t q = i;
  size_t after_last_newline = i;
  while (q < n && (c[q].cls & kWs)) {
    if (c[q].cls & kCrLf) after_last_newline = q + 1;
    ++q;
  }
  if (with_newline_alt && after_last_newline > i) return after_last_newline;
  if (q == n) return q;          // \s+(?!\S) at the end of the piece
  if (q - i >= 2) return q - 1;  // \s+(?!\S) gives back the last whitespace char
  return q;                      // \s+
}

inline size_t SkipNewlines(const CharInfo* c, size_t n, size_t j) {
  while (j < n && (c[j].cls & kCrLf)) ++j;
  return j;
}

size_t MatchGpt2(const CharInfo* c, size_t n, size_t i) {
  size_t e = MatchContraction(c, n, i, /*fold=*/false);
  if (e > i) return e;
  if ((e = MatchSpaceThenRun(c, n, i, kL)) > i) return e;
  if ((e = MatchSpaceThenRun(c, n, i, kN)) > i) return e;
  if ((e = MatchSpaceThenOthers(c, n, i)) > i) return e;
  return MatchWhitespace(c, n, i, /*with_newline_alt=*/false);
}

// Llama-3 (max_digits 3) and Qwen2 (max_digits 1).
size_t MatchLlama3(const CharInfo* c, size_t n, size_t i, size_t max_digits) {
  size_t e = MatchContraction(c, n, i, /*fold=*/true);
  if (e > i) return e;
  const uint16_t cls = c[i].cls;
  // [^\r\n\p{L}\p{N}]?\p{L}+
  if (cls & kL) return RunOf(c, n, i, kL);
  if (!(cls & (kN | kCrLf)) && i + 1 < n && (c[i + 1].cls & kL)) return RunOf(c, n, i + 1, kL);
  // \p{N}{1,max}
  if (cls & kN) {
    e = i + 1;
    while (e < n && e - i < max_digits && (c[e].cls & kN)) ++e;
    return e;
  }
  // ` ?[^\s\p{L}\p{N}]+[\r\n]*`
  if ((e = MatchSpaceThenOthers(c, n, i)) > i) return SkipNewlines(c, n, e);
  return MatchWhitespace(c, n, i, /*with_newline_alt=*/true);
}

size_t MatchDeepSeekWords(const CharInfo* c, size_t n, size_t i) {
  const uint16_t cls = c[i].cls;
  // [!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+
  if ((cls & kAsciiPunct) && i + 1 < n && (c[i + 1].cls & kAsciiAlpha)) {
    return RunOf(c, n, i + 1, kAsciiAlpha);
  }
  // [^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+ (a mark may also be the optional char: same end)
  if (cls & (kL | kM)) return RunOf(c, n, i, kL | kM);
  if (!(cls & (kCrLf | kL | kP | kS)) && i + 1 < n && (c[i + 1].cls & (kL | kM))) {
    return RunOf(c, n, i + 1, kL | kM);
  }
  // ` ?[\p{P}\p{S}]+[\r\n]*`
  size_t e = MatchSpaceThenRun(c, n, i, kP | kS);
  if (e > i) return SkipNewlines(c, n, e);
  return MatchWhitespace(c, n, i, /*with_newline_alt=*/true);
}

inline size_t Match(SplitPattern p, const CharInfo* c, size_t n, size_t i) {
  switch (p) {
    case SplitPattern::kGpt2:
      return MatchGpt2(c, n, i);
    case SplitPattern::kLlama3:
      return MatchLlama3(c, n, i, 3);
    case SplitPattern::kQwen2:
      return MatchLlama3(c, n, i, 1);
    case SplitPattern::kDeepSeekDigits: {
      size_t e = i;
      while (e < n && e - i < 3 && (c[e].cls & kN)) ++e;
      return e;
    }
    case SplitPattern::kDeepSeekCjk:
      return RunOf(c, n, i, kCjk);
    case SplitPattern::kDeepSeekWords:
      return MatchDeepSeekWords(c, n, i);
  }
  return i;
}

// Isolated split of chars [0, n) (absolute char indices base..base+n); appends [begin, end)
// index pairs to `out`.
void SplitChars(SplitPattern p, const CharInfo* c, uint32_t base, size_t n,
                std::vector<uint32_t>* out) {
  size_t gap = 0;
  size_t i = 0;
  while (i < n) {
    const size_t e = Match(p, c, n, i);
    if (e == i) {
      ++i;
      continue;
    }
    if (gap < i) {
      out->push_back(base + static_cast<uint32_t>(gap));
      out->push_back(base + static_cast<uint32_t>(i));
    }
    out->push_back(base + static_cast<uint32_t>(i));
    out->push_back(base + static_cast<uint32_t>(e));
    i = gap = e;
  }
  if (gap < n) {
    out->push_back(base + static_cast<uint32_t>(gap));
    out->push_back(base + static_cast<uint32_t>(n));
  }
}

struct PatternText {
  SplitPattern pattern;
  const char* name;
  std::string_view regex;
};

// The pattern texts, split into adjacent literals to fit the line length.
constexpr PatternText kPatterns[] = {
    {SplitPattern::kGpt2, "gpt2",
     R"re('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)re"},
    {SplitPattern::kLlama3, "llama3",
     R"re((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3})re"
     R"re(| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)re"},
    {SplitPattern::kQwen2, "qwen2",
     R"re((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N})re"
     R"re(| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)re"},
    {SplitPattern::kDeepSeekDigits, "deepseek-digits", R"re(\p{N}{1,3})re"},
    {SplitPattern::kDeepSeekCjk, "deepseek-cjk",
     "[\xE4\xB8\x80-\xE9\xBE\xA5\xE3\x81\x80-\xE3\x82\x9F\xE3\x82\xA0-\xE3\x83\xBF]+"},
    {SplitPattern::kDeepSeekWords, "deepseek-words",
     R"re([!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+)re"
     R"re(|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+| ?[\p{P}\p{S}]+[\r\n]*)re"
     R"re(|\s*[\r\n]+|\s+(?!\S)|\s+)re"},
};

}  // namespace

std::optional<SplitPattern> RecognizeSplitPattern(std::string_view regex) {
  // A literal CR or LF inside the pattern means the same as \r or \n (DeepSeek-V3 ships them raw).
  std::string canonical;
  canonical.reserve(regex.size() + 8);
  for (char ch : regex) {
    if (ch == '\r') {
      canonical += "\\r";
    } else if (ch == '\n') {
      canonical += "\\n";
    } else {
      canonical += ch;
    }
  }
  for (const PatternText& p : kPatterns) {
    if (p.regex == canonical) return p.pattern;
  }
  return std::nullopt;
}

const char* SplitPatternName(SplitPattern pattern) {
  for (const PatternText& p : kPatterns) {
    if (p.pattern == pattern) return p.name;
  }
  return "?";
}

std::string_view SplitPatternRegex(SplitPattern pattern) {
  for (const PatternText& p : kPatterns) {
    if (p.pattern == pattern) return p.regex;
  }
  return {};
}

std::vector<std::string_view> SplitIsolated(SplitPattern pattern, std::string_view text) {
  PreTokenizer pre({PreTokenizerStep{PreTokenizerStep::Kind::kSplit, pattern, "",
                                     PrependScheme::kNever, false}});
  PreTokenizer::Scratch s;
  pre.Run(text, true, &s);
  std::vector<std::string_view> out;
  for (const Piece& p : s.pieces) out.push_back(text.substr(p.begin, p.end - p.begin));
  return out;
}

void PreTokenizer::Run(std::string_view text, bool at_origin, Scratch* s) const {
  s->buf.assign(text.data(), text.size());
  s->pieces.clear();
  if (!text.empty()) s->pieces.push_back({0, static_cast<uint32_t>(text.size()), at_origin});
  size_t i = 0;
  while (i < steps_.size() && !s->pieces.empty()) {
    const PreTokenizerStep& step = steps_[i];
    if (step.kind == PreTokenizerStep::Kind::kSplit) {
      size_t j = i;
      while (j < steps_.size() && steps_[j].kind == PreTokenizerStep::Kind::kSplit) ++j;
      RunSplits(i, j, s);
      i = j;
      continue;
    }
    if (step.kind == PreTokenizerStep::Kind::kPrefixSpace) {
      RunPrefixSpace(s);
    } else {
      RunMetaspace(step, s);
    }
    ++i;
  }
}

// Runs Split steps [first, last) over the current pieces, classifying the text once.
void PreTokenizer::RunSplits(size_t first, size_t last, Scratch* s) const {
  s->chars.clear();
  s->ranges.clear();
  for (const Piece& p : s->pieces) {
    const uint32_t b = static_cast<uint32_t>(s->chars.size());
    Classify(s->buf, p.begin, p.end, &s->chars);
    const uint32_t e = static_cast<uint32_t>(s->chars.size());
    s->chars.push_back({0, p.end, 0});  // sentinel: gives the end offset of the last char
    s->ranges.push_back(b);
    s->ranges.push_back(e);
  }
  for (size_t k = first; k < last; ++k) {
    s->next_ranges.clear();
    for (size_t r = 0; r < s->ranges.size(); r += 2) {
      const uint32_t b = s->ranges[r];
      SplitChars(steps_[k].pattern, s->chars.data() + b, b, s->ranges[r + 1] - b, &s->next_ranges);
    }
    s->ranges.swap(s->next_ranges);
  }
  const bool origin = s->pieces.front().at_origin;
  const uint32_t origin_begin = s->pieces.front().begin;
  s->pieces.clear();
  for (size_t r = 0; r < s->ranges.size(); r += 2) {
    const uint32_t b = s->chars[s->ranges[r]].offset;
    const uint32_t e = s->chars[s->ranges[r + 1]].offset;
    s->pieces.push_back({b, e, origin && r == 0 && b == origin_begin});
  }
}

void PreTokenizer::RunPrefixSpace(Scratch* s) const {
  for (Piece& p : s->pieces) {
    if (s->buf[p.begin] == ' ') continue;
    const uint32_t b = static_cast<uint32_t>(s->buf.size());
    const uint32_t len = p.end - p.begin;
    s->buf.reserve(s->buf.size() + 1 + len);  // no reallocation below: the source stays valid
    s->buf.push_back(' ');
    s->buf.append(s->buf.data() + p.begin, len);
    p.begin = b;
    p.end = static_cast<uint32_t>(s->buf.size());
  }
}

void PreTokenizer::RunMetaspace(const PreTokenizerStep& step, Scratch* s) const {
  const std::string& rep = step.replacement;
  s->next.clear();
  for (const Piece& p : s->pieces) {
    const uint32_t b = static_cast<uint32_t>(s->buf.size());
    // ' ' -> replacement first, then prepend unless the result starts with the replacement.
    const bool starts_with_rep =
        s->buf[p.begin] == ' ' ||
        std::string_view(s->buf).substr(p.begin, p.end - p.begin).starts_with(rep);
    const bool prepend =
        !starts_with_rep && (step.prepend_scheme == PrependScheme::kAlways ||
                             (step.prepend_scheme == PrependScheme::kFirst && p.at_origin));
    if (prepend) s->buf += rep;
    for (uint32_t k = p.begin; k < p.end; ++k) {
      const char ch = s->buf[k];
      if (ch == ' ') {
        s->buf += rep;
      } else {
        s->buf.push_back(ch);
      }
    }
    const uint32_t e = static_cast<uint32_t>(s->buf.size());
    if (!step.split || rep.empty()) {
      s->next.push_back({b, e, p.at_origin});
      continue;
    }
    // MergedWithNext: every occurrence of the replacement starts a new piece.
    const std::string_view all(s->buf);
    uint32_t start = b;
    size_t at = all.find(rep, b);
    while (at != std::string_view::npos && at < e) {
      if (at > start) s->next.push_back({start, static_cast<uint32_t>(at), false});
      start = static_cast<uint32_t>(at);
      at = all.find(rep, at + rep.size());
    }
    if (start < e) s->next.push_back({start, e, false});
  }
  if (!s->next.empty() && !s->pieces.empty())
    s->next.front().at_origin = s->pieces.front().at_origin;
  s->pieces.swap(s->next);
}

std::string PreTokenizer::Describe() const {
  if (steps_.empty()) return "none";
  std::string out;
  for (const PreTokenizerStep& st : steps_) {
    if (!out.empty()) out += " > ";
    switch (st.kind) {
      case PreTokenizerStep::Kind::kSplit:
        out += std::string("Split(") + SplitPatternName(st.pattern) + ")";
        break;
      case PreTokenizerStep::Kind::kPrefixSpace:
        out += "PrefixSpace";
        break;
      case PreTokenizerStep::Kind::kMetaspace:
        out += st.split ? "Metaspace(split)" : "Metaspace";
        break;
    }
  }
  return out;
}

}  // namespace sieve::tokenizer_internal
