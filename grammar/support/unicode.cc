// Unicode properties and NFC over the generated tables of unicode_tables{,_norm,_compose}.cc.
//
// NFC works span by span. A code point with combining class 0 and NFC_Quick_Check Yes is a
// "stable starter": nothing before it reorders past it or composes with it, so
// NFC(x + y) == NFC(x) + NFC(y) whenever y begins with one (the generator asserts the table facts
// this relies on: such a code point's decomposition also starts with a stable starter). An
// ill-formed UTF-8 byte is treated the same way, on both of its sides. Nfc() copies text that
// passes the quick check verbatim; at the first failure it backs up to the last stable starter,
// finds the next stable starter after the failure, rebuilds only that span (full canonical
// decomposition, canonical ordering by insertion sort on combining class, canonical composition
// per UAX #15 with the "blocked" rule), and resumes the quick check after it.
//
// Hangul syllables are decomposed and composed arithmetically (Unicode 15, section 3.12); the
// tables hold no Hangul data beyond NFC_QC Maybe for the medial vowels and final consonants.
#include "grammar/support/unicode.h"

#include <algorithm>
#include <cstring>

#include "grammar/support/utf8.h"

namespace sieve::unicode {
namespace {

using internal::CompositionEntry;
using internal::DecompositionEntry;

constexpr size_t kStage1Size = (kMaxCodePoint + 1) >> 8;

// Normalization table values.
constexpr uint16_t kCccMask = 0xFF;
constexpr int kQcShift = 8;
constexpr uint16_t kQcYes = 0, kQcMaybe = 1;
constexpr uint16_t kHasDecompositionBit = 1 << 10;

// Hangul (Unicode 15, 3.12 Conjoining Jamo Behavior).
constexpr char32_t kSBase = 0xAC00, kLBase = 0x1100, kVBase = 0x1161, kTBase = 0x11A7;
constexpr char32_t kLCount = 19, kVCount = 21, kTCount = 28;
constexpr char32_t kNCount = kVCount * kTCount, kSCount = kLCount * kNCount;

uint16_t NormValue(char32_t cp) {
  if (cp > kMaxCodePoint) return 0;
  return internal::kNormBlocks[internal::kNormStage1[cp >> 8] * 256u + (cp & 0xFFu)];
}

bool IsStableStarter(uint16_t norm) { return (norm & ~kHasDecompositionBit) == 0; }

// Quick-check scan of text[pos..). Returns the offset of the first code point that fails
// NFC_Quick_Check (not Yes, or combining classes out of order), or npos. *last_safe receives the
// last offset in [pos, failure] before which the text can be split (see the file comment).
size_t FindQuickCheckFailure(std::string_view text, size_t pos, size_t* last_safe) {
  const uint8_t* p = reinterpret_cast<const uint8_t*>(text.data());
  size_t n = text.size();
  size_t safe = pos;
  uint8_t last_ccc = 0;
  size_t i = pos;
  while (i < n) {
    if (p[i] < 0xCC) {
      // Below U+0300 every code point is a stable starter. A lead byte C2..CB with its
      // continuation is one (U+0080..U+02FF); any other byte below CC is ASCII or ill-formed.
      if (p[i] >= 0xC2 && i + 1 < n && (p[i + 1] & 0xC0) == 0x80) {
        safe = i;
        i += 2;
      } else {
        safe = (p[i] < 0x80) ? i : i + 1;  // split before ASCII, after an ill-formed byte
        i += 1;
      }
      last_ccc = 0;
      continue;
    }
    char32_t cp;
    int len = DecodeUtf8(p + i, n - i, &cp);
    if (len < 0) {  // ill-formed byte: a boundary on both sides
      i += 1;
      safe = i;
      last_ccc = 0;
      continue;
    }
    uint16_t norm = NormValue(cp);
    uint8_t ccc = norm & kCccMask;
    if ((norm >> kQcShift & 3) != kQcYes || (ccc != 0 && last_ccc > ccc)) {
      *last_safe = safe;
      return i;
    }
    if (IsStableStarter(norm)) safe = i;
    last_ccc = ccc;
    i += len;
  }
  *last_safe = safe;
  return std::string_view::npos;
}

struct Unit {
  char32_t cp;
  uint8_t ccc;
  bool maybe;  // NFC_QC Maybe: can be the second code point of a composition
};

void PushUnit(char32_t cp, std::vector<Unit>* buf) {
  uint16_t norm = NormValue(cp);
  buf->push_back(
      Unit{cp, static_cast<uint8_t>(norm & kCccMask), (norm >> kQcShift & 3) == kQcMaybe});
}

void Decompose(char32_t cp, std::vector<Unit>* buf) {
  if (cp >= kSBase && cp < kSBase + kSCount) {
    char32_t s = cp - kSBase;
    PushUnit(kLBase + s / kNCount, buf);
    PushUnit(kVBase + (s % kNCount) / kTCount, buf);
    if (s % kTCount != 0) PushUnit(kTBase + s % kTCount, buf);
    return;
  }
  if (NormValue(cp) & kHasDecompositionBit) {
    const DecompositionEntry* begin = internal::kDecompositions;
    const DecompositionEntry* end = begin + internal::kDecompositionCount;
    const DecompositionEntry* it = std::lower_bound(
        begin, end, cp, [](const DecompositionEntry& e, char32_t c) { return e.cp < c; });
    if (it != end && it->cp == cp) {
      for (int k = 0; k < it->length; ++k) {
        PushUnit(internal::kDecompositionPool[it->offset + k], buf);
      }
      return;
    }
  }
  PushUnit(cp, buf);
}

// The primary composite of (a, b), or 0 if none.
char32_t Compose(char32_t a, char32_t b) {
  if (a >= kLBase && a < kLBase + kLCount && b >= kVBase && b < kVBase + kVCount) {
    return kSBase + ((a - kLBase) * kVCount + (b - kVBase)) * kTCount;
  }
  if (a >= kSBase && a < kSBase + kSCount && (a - kSBase) % kTCount == 0 && b > kTBase &&
      b < kTBase + kTCount) {
    return a + (b - kTBase);
  }
  const CompositionEntry* begin = internal::kCompositions;
  const CompositionEntry* end = begin + internal::kCompositionCount;
  const CompositionEntry* it =
      std::lower_bound(begin, end, std::pair<char32_t, char32_t>(a, b),
                       [](const CompositionEntry& e, const std::pair<char32_t, char32_t>& k) {
                         return e.first < k.first || (e.first == k.first && e.second < k.second);
                       });
  if (it != end && it->first == a && it->second == b) return it->composite;
  return 0;
}

// Appends NFC(span) to out. span is well-formed UTF-8.
void NormalizeSpan(std::string_view span, std::vector<Unit>* buf, std::string* out) {
  buf->clear();
  const uint8_t* p = reinterpret_cast<const uint8_t*>(span.data());
  size_t i = 0;
  while (i < span.size()) {
    char32_t cp;
    int len = DecodeUtf8(p + i, span.size() - i, &cp);
    if (len < 0) {  // cannot happen for the spans Nfc passes; keep going safely
      cp = 0xFFFD;
      len = 1;
    }
    Decompose(cp, buf);
    i += len;
  }
  // Canonical ordering: stable insertion sort of each run of non-starters by combining class.
  std::vector<Unit>& u = *buf;
  for (size_t k = 1; k < u.size(); ++k) {
    if (u[k].ccc == 0) continue;
    for (size_t j = k; j > 0 && u[j - 1].ccc > u[j].ccc; --j) std::swap(u[j - 1], u[j]);
  }
  // Canonical composition.
  size_t w = 0;
  size_t starter = SIZE_MAX;
  uint8_t last_ccc = 0;
  for (size_t r = 0; r < u.size(); ++r) {
    Unit c = u[r];
    if (starter != SIZE_MAX && c.maybe) {
      bool adjacent = (w == starter + 1);
      // Not blocked: nothing between the starter and c, or the last kept code point has a
      // non-zero combining class lower than c's.
      if (adjacent || (last_ccc != 0 && last_ccc < c.ccc)) {
        char32_t composite = Compose(u[starter].cp, c.cp);
        if (composite != 0) {
          u[starter].cp = composite;
          continue;
        }
      }
    }
    if (c.ccc == 0) starter = w;
    last_ccc = c.ccc;
    u[w++] = c;
  }
  for (size_t k = 0; k < w; ++k) AppendUtf8(out, u[k].cp);
}

bool AllBytesBelow0xCC(std::string_view text) {
  const uint8_t* p = reinterpret_cast<const uint8_t*>(text.data());
  size_t n = text.size();
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    uint64_t word;
    std::memcpy(&word, p + i, sizeof(word));
    if (word & 0x8080808080808080ull) break;
  }
  for (; i < n; ++i) {
    if (p[i] >= 0xCC) return false;
  }
  return true;
}

std::string LooseName(std::string_view name) {
  std::string key;
  for (char ch : name) {
    if (ch == ' ' || ch == '_' || ch == '-') continue;
    key.push_back((ch >= 'A' && ch <= 'Z') ? static_cast<char>(ch - 'A' + 'a') : ch);
  }
  return key;
}

void AddRange(std::vector<Range>* out, char32_t lo, char32_t hi) {
  if (!out->empty() && out->back().hi + 1 == lo) {
    out->back().hi = hi;
  } else {
    out->push_back(Range{lo, hi});
  }
}

std::vector<Range> CategoryMaskRanges(uint32_t mask) {
  // Per distinct block: -1 if mixed, else whether its single category is in mask.
  int block_count = 0;
  for (size_t b = 0; b < kStage1Size; ++b) {
    block_count = std::max(block_count, internal::kCategoryStage1[b] + 1);
  }
  std::vector<int8_t> uniform(block_count);
  for (int b = 0; b < block_count; ++b) {
    const uint8_t* block = internal::kCategoryBlocks + b * 256;
    bool same = std::all_of(block, block + 256, [&](uint8_t v) { return v == block[0]; });
    uniform[b] = same ? static_cast<int8_t>((mask >> block[0]) & 1) : -1;
  }
  std::vector<Range> out;
  for (size_t b = 0; b < kStage1Size; ++b) {
    int id = internal::kCategoryStage1[b];
    char32_t base = static_cast<char32_t>(b << 8);
    if (uniform[id] == 1) {
      AddRange(&out, base, base + 255);
    } else if (uniform[id] == -1) {
      const uint8_t* block = internal::kCategoryBlocks + id * 256;
      for (char32_t k = 0; k < 256; ++k) {
        if ((mask >> block[k]) & 1) AddRange(&out, base + k, base + k);
      }
    }
  }
  return out;
}

}  // namespace

bool IsWhiteSpace(char32_t cp) {
  if (cp < 0x80) return cp == ' ' || (cp >= '\t' && cp <= '\r');
  for (size_t k = 0; k < internal::kWhiteSpaceRangeCount; ++k) {
    const Range& r = internal::kWhiteSpaceRanges[k];
    if (cp < r.lo) return false;
    if (cp <= r.hi) return true;
  }
  return false;
}

std::optional<std::vector<Range>> PropertyRanges(std::string_view name) {
  if (name == "L&") return CategoryMaskRanges(internal::kLetterMask & 0x7);  // Lu Ll Lt
  std::string key = LooseName(name);
  if (key == "any") return std::vector<Range>{{0, kMaxCodePoint}};
  if (key == "ascii") return std::vector<Range>{{0, 0x7F}};
  if (key == "assigned") {
    return CategoryMaskRanges(~internal::CategoryBit(Category::kCn) &
                              ((uint32_t{1} << kCategoryCount) - 1));
  }
  for (size_t k = 0; k < internal::kCategoryNameCount; ++k) {
    if (key == internal::kCategoryNames[k].name) {
      return CategoryMaskRanges(internal::kCategoryNames[k].mask);
    }
  }
  return std::nullopt;
}

std::vector<Range> WhiteSpaceRanges() {
  return std::vector<Range>(internal::kWhiteSpaceRanges,
                            internal::kWhiteSpaceRanges + internal::kWhiteSpaceRangeCount);
}

char32_t SimpleCaseFold(char32_t cp) {
  const internal::CaseFoldEntry* end = internal::kCaseFolds + internal::kCaseFoldCount;
  const internal::CaseFoldEntry* it = std::lower_bound(
      internal::kCaseFolds, end, cp,
      [](const internal::CaseFoldEntry& e, char32_t c) { return e.cp < c; });
  return it != end && it->cp == cp ? it->fold : cp;
}

namespace {

// Sorts and merges overlapping or adjacent ranges.
std::vector<Range> MergeRanges(std::vector<Range> r) {
  std::sort(r.begin(), r.end(), [](const Range& a, const Range& b) { return a.lo < b.lo; });
  std::vector<Range> out;
  for (const Range& x : r) {
    if (!out.empty() && x.lo <= out.back().hi + 1) {
      out.back().hi = std::max(out.back().hi, x.hi);
    } else {
      out.push_back(x);
    }
  }
  return out;
}

}  // namespace

std::vector<Range> CaseClosure(std::vector<Range> ranges) {
  ranges = MergeRanges(std::move(ranges));
  auto contains = [&ranges](char32_t c) {
    auto it = std::upper_bound(ranges.begin(), ranges.end(), c,
                               [](char32_t v, const Range& r) { return v < r.lo; });
    return it != ranges.begin() && std::prev(it)->hi >= c;
  };
  // The folds of members that have one, and members that are some code point's fold: a code
  // point outside the table folds to itself, and folds are fixed points.
  std::vector<char32_t> targets;
  for (size_t i = 0; i < internal::kCaseFoldCount; ++i) {
    const internal::CaseFoldEntry& e = internal::kCaseFolds[i];
    if (contains(e.cp) || contains(e.fold)) targets.push_back(e.fold);
  }
  std::sort(targets.begin(), targets.end());
  std::vector<Range> out = ranges;
  for (size_t i = 0; i < internal::kCaseFoldCount; ++i) {
    const internal::CaseFoldEntry& e = internal::kCaseFolds[i];
    if (std::binary_search(targets.begin(), targets.end(), e.fold)) {
      out.push_back({e.cp, e.cp});
      out.push_back({e.fold, e.fold});
    }
  }
  return MergeRanges(std::move(out));
}

uint8_t CombiningClass(char32_t cp) { return NormValue(cp) & kCccMask; }

bool IsNfcQuickYes(std::string_view utf8) {
  if (AllBytesBelow0xCC(utf8)) return true;
  size_t safe;
  return FindQuickCheckFailure(utf8, 0, &safe) == std::string_view::npos;
}

std::string Nfc(std::string_view utf8) {
  if (AllBytesBelow0xCC(utf8)) return std::string(utf8);
  const uint8_t* p = reinterpret_cast<const uint8_t*>(utf8.data());
  size_t n = utf8.size();
  std::string out;
  out.reserve(n + n / 8);
  std::vector<Unit> buf;
  size_t pos = 0;
  while (pos < n) {
    size_t safe;
    size_t fail = FindQuickCheckFailure(utf8, pos, &safe);
    if (fail == std::string_view::npos) {
      out.append(utf8.substr(pos));
      break;
    }
    out.append(utf8.substr(pos, safe - pos));
    // The span ends before the next stable starter or ill-formed byte after the failure.
    char32_t cp;
    size_t end = fail + DecodeUtf8(p + fail, n - fail, &cp);
    while (end < n) {
      int len = DecodeUtf8(p + end, n - end, &cp);
      if (len < 0 || IsStableStarter(NormValue(cp))) break;
      end += len;
    }
    NormalizeSpan(utf8.substr(safe, end - safe), &buf, &out);
    pos = end;
  }
  return out;
}

}  // namespace sieve::unicode
