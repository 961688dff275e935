// Unicode character properties and NFC normalisation, for the BPE pre-tokenisers of real
// tokenizers (Llama-3, Qwen3, DeepSeek-V3 split text with \p{L}, \p{N}, \p{M}, \p{P}, \p{S}, \s and
// Qwen3 NFC-normalises first) and for the regex / grammar compilers (\p{..} classes, \s).
//
// Everything is driven by tables generated from the Unicode Character Database by
// scripts/gen-unicode-tables.py into unicode_tables.cc (the version is kUnicodeVersion). There is
// no initialisation step and nothing allocates except the functions returning containers; all
// functions are thread-safe.
//
// GetCategory() is the hot path of pre-tokenisation: it is inline and costs two dependent loads
// from a two-stage table (cp >> 8 selects one of the distinct 256-entry blocks). Code points past
// U+10FFFF, and every code point UnicodeData.txt does not assign, are Cn; surrogates are Cs.
//
// Nfc() implements UAX #15 canonical composition (decompose, canonical reorder, compose, Hangul
// by arithmetic). Bytes that are not well-formed UTF-8 are copied through unchanged and act as
// hard boundaries: nothing reorders or composes across them. Invariant: IsNfcQuickYes(s) implies
// Nfc(s) == s, and Nfc(Nfc(s)) == Nfc(s).
#ifndef SIEVE_GRAMMAR_SUPPORT_UNICODE_H_
#define SIEVE_GRAMMAR_SUPPORT_UNICODE_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sieve::unicode {

// General_Category values. The order is fixed: the generated tables store these numbers.
// clang-format off
enum class Category : uint8_t {
  kLu, kLl, kLt, kLm, kLo,            // letters
  kMn, kMc, kMe,                      // marks
  kNd, kNl, kNo,                      // numbers
  kPc, kPd, kPs, kPe, kPi, kPf, kPo,  // punctuation
  kSm, kSc, kSk, kSo,                 // symbols
  kZs, kZl, kZp,                      // separators
  kCc, kCf, kCs, kCo, kCn,            // other
};
// clang-format on
inline constexpr int kCategoryCount = 30;

// An inclusive code point range.
struct Range {
  char32_t lo, hi;
  bool operator==(const Range&) const = default;
};

inline constexpr char32_t kMaxCodePoint = 0x10FFFF;

namespace internal {
// Generated data (unicode_tables.cc, unicode_tables_norm.cc, unicode_tables_compose.cc,
// unicode_tables_fold.cc); see the comment of unicode_tables.cc for the layout.
struct DecompositionEntry {
  char32_t cp;
  uint16_t offset;  // into kDecompositionPool
  uint8_t length;
};
struct CompositionEntry {
  char32_t first, second, composite;
};
struct CategoryName {
  const char* name;  // loose form: lower case, no ' ', '_' or '-'
  uint32_t mask;     // bit (1 << Category) for each category the name stands for
};
struct CaseFoldEntry {
  char32_t cp, fold;
};
extern const char kUnicodeVersion[];
extern const uint8_t kCategoryStage1[];
extern const uint8_t kCategoryBlocks[];
extern const uint8_t kNormStage1[];
extern const uint16_t kNormBlocks[];
extern const Range kWhiteSpaceRanges[];
extern const size_t kWhiteSpaceRangeCount;
extern const DecompositionEntry kDecompositions[];
extern const size_t kDecompositionCount;
extern const char32_t kDecompositionPool[];
extern const CompositionEntry kCompositions[];
extern const size_t kCompositionCount;
extern const CategoryName kCategoryNames[];
extern const size_t kCategoryNameCount;
extern const CaseFoldEntry kCaseFolds[];
extern const size_t kCaseFoldCount;

inline uint32_t CategoryBit(Category c) { return uint32_t{1} << static_cast<int>(c); }
inline constexpr uint32_t kLetterMask = 0x1F;       // Lu Ll Lt Lm Lo
inline constexpr uint32_t kMarkMask = 0x7 << 5;     // Mn Mc Me
inline constexpr uint32_t kNumberMask = 0x7 << 8;   // Nd Nl No
inline constexpr uint32_t kPunctMask = 0x7F << 11;  // Pc Pd Ps Pe Pi Pf Po
inline constexpr uint32_t kSymbolMask = 0xF << 18;  // Sm Sc Sk So
inline constexpr uint32_t kSepMask = 0x7 << 22;     // Zs Zl Zp
}  // namespace internal

// The Unicode version the tables were generated from, e.g. "15.0.0".
inline const char* UnicodeVersion() { return internal::kUnicodeVersion; }

// General category of a code point; kCn for unassigned code points and anything > U+10FFFF.
inline Category GetCategory(char32_t cp) {
  if (cp > kMaxCodePoint) return Category::kCn;
  return static_cast<Category>(
      internal::kCategoryBlocks[internal::kCategoryStage1[cp >> 8] * 256u + (cp & 0xFFu)]);
}

inline bool IsLetter(char32_t cp) {
  return internal::CategoryBit(GetCategory(cp)) & internal::kLetterMask;
}
inline bool IsMark(char32_t cp) {
  return internal::CategoryBit(GetCategory(cp)) & internal::kMarkMask;
}
inline bool IsNumber(char32_t cp) {
  return internal::CategoryBit(GetCategory(cp)) & internal::kNumberMask;
}
inline bool IsPunctuation(char32_t cp) {
  return internal::CategoryBit(GetCategory(cp)) & internal::kPunctMask;
}
inline bool IsSymbol(char32_t cp) {
  return internal::CategoryBit(GetCategory(cp)) & internal::kSymbolMask;
}
inline bool IsSeparator(char32_t cp) {
  return internal::CategoryBit(GetCategory(cp)) & internal::kSepMask;
}

// PropList.txt White_Space (what \s means in Unicode-aware regex engines): TAB..CR, space, U+0085,
// U+00A0, U+1680, U+2000..U+200A, U+2028, U+2029, U+202F, U+205F, U+3000.
bool IsWhiteSpace(char32_t cp);

// Sorted, non-overlapping, non-adjacent code point ranges of a general category or a group of
// them, named as in \p{...}: short names ("Lu", "L", "LC"), long names ("Uppercase_Letter",
// "Letter", "Cased_Letter") and the UCD aliases ("digit", "punct", "cntrl", "Combining_Mark"),
// matched loosely per UAX #44-LM3 (case, spaces, '_' and '-' ignored), plus "L&" (= LC) and the
// special names "Any" (U+0000..U+10FFFF), "Assigned" (everything but Cn) and "ASCII". Surrogates
// are included where the category asks for them (Cs, C, Any); callers building UTF-8 automata drop
// them (Utf8RangeSequences does). Empty optional if the name is unknown.
std::optional<std::vector<Range>> PropertyRanges(std::string_view name);

// The White_Space ranges, sorted and merged.
std::vector<Range> WhiteSpaceRanges();

// Simple case folding (CaseFolding.txt C + S): the code point itself where it has no fold.
char32_t SimpleCaseFold(char32_t cp);

// Every code point whose simple case fold is the fold of a member of `ranges` (any order,
// overlaps allowed): the set a case-insensitive ECMA-262 /u pattern matches for a character class
// of those members (e.g. {k} -> {K, k, U+212A KELVIN SIGN}). Sorted and merged.
std::vector<Range> CaseClosure(std::vector<Range> ranges);

// Canonical_Combining_Class (0 for starters, unassigned code points and anything > U+10FFFF).
uint8_t CombiningClass(char32_t cp);

// NFC normalisation of UTF-8 text. Ill-formed UTF-8 bytes (see DecodeUtf8 in utf8.h) are copied
// to the output unchanged, one at a time, and split the text: code points on either side never
// reorder or compose across them. Text that passes IsNfcQuickYes is returned as an unchanged copy
// without decoding; otherwise only the spans around code points that fail the quick check are
// rebuilt.
std::string Nfc(std::string_view utf8);

// UAX #15 NFC_Quick_Check == Yes for the whole text (ill-formed bytes count as stable starters).
// True guarantees Nfc(utf8) == utf8. False means "maybe not" (the text may still be normalised,
// e.g. a Maybe character that composes with nothing). Every byte below 0xCC (ASCII and U+0080..
// U+02FF) passes without decoding.
bool IsNfcQuickYes(std::string_view utf8);

}  // namespace sieve::unicode

#endif  // SIEVE_GRAMMAR_SUPPORT_UNICODE_H_
