// Tests for grammar/support/unicode.h: general categories of sample code points across scripts
// and of the UnicodeData.txt "First>/Last>" ranges, per-category code point totals (from the
// UCD's extracted/DerivedGeneralCategory.txt, an independent derivation), \p{..} name lookup,
// White_Space, combining classes, and NFC. NFC is checked against tests/data/unicode_nfc_cases.txt,
// a sample of the UCD's NormalizationTest.txt written by scripts/gen-unicode-tables.py, including
// the "every code point not listed in Part 1 is unchanged" invariant, plus targeted cases for
// Hangul, exclusions, reordering, ill-formed bytes and long texts.
//
// The expected numbers are those of Unicode 15.0; regenerating the tables for another version
// makes these tests fail until the numbers are updated, on purpose.
#include "grammar/support/unicode.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "grammar/support/utf8.h"

namespace sieve::unicode {
namespace {

std::string U8(std::u32string_view cps) {
  std::string s;
  for (char32_t cp : cps) AppendUtf8(&s, cp);
  return s;
}

std::string Hex(std::string_view utf8) {
  std::ostringstream os;
  const uint8_t* p = reinterpret_cast<const uint8_t*>(utf8.data());
  size_t i = 0;
  while (i < utf8.size()) {
    char32_t cp;
    int len = DecodeUtf8(p + i, utf8.size() - i, &cp);
    if (i) os << ' ';
    if (len < 0) {
      os << "byte:" << std::hex << int{p[i]};
      len = 1;
    } else {
      os << std::hex << std::uppercase << static_cast<uint32_t>(cp);
    }
    i += len;
  }
  return os.str();
}

TEST(Unicode, TablesAreUnicodeFifteen) { EXPECT_STREQ(UnicodeVersion(), "15.0.0"); }

TEST(Unicode, CategoriesOfSampleCodePointsAcrossScripts) {
  // clang-format off
  const std::pair<char32_t, Category> kCases[] = {
      {U'A', Category::kLu},     {U'z', Category::kLl},     {0x01C5, Category::kLt},
      {0x02B0, Category::kLm},   {0x4E2D, Category::kLo},   {0x0301, Category::kMn},
      {0x0903, Category::kMc},   {0x20DD, Category::kMe},   {U'7', Category::kNd},
      {0x0663, Category::kNd},   {0x2167, Category::kNl},   {0x00B2, Category::kNo},
      {U'_', Category::kPc},     {U'-', Category::kPd},     {U'(', Category::kPs},
      {U')', Category::kPe},     {0x00AB, Category::kPi},   {0x00BB, Category::kPf},
      {U'!', Category::kPo},     {U'+', Category::kSm},     {U'$', Category::kSc},
      {U'^', Category::kSk},     {0x00A9, Category::kSo},   {U' ', Category::kZs},
      {0x2028, Category::kZl},   {0x2029, Category::kZp},   {0x0000, Category::kCc},
      {0x200B, Category::kCf},   {0xD800, Category::kCs},   {0xE000, Category::kCo},
      {0x0378, Category::kCn},   {0x0410, Category::kLu},   {0x044F, Category::kLl},
      {0x03A9, Category::kLu},   {0x05D0, Category::kLo},   {0x0627, Category::kLo},
      {0x0915, Category::kLo},   {0x093F, Category::kMc},   {0x0E01, Category::kLo},
      {0x0E31, Category::kMn},   {0x3042, Category::kLo},   {0x30A2, Category::kLo},
      {0x1100, Category::kLo},   {0xFF10, Category::kNd},   {0x1D7CE, Category::kNd},
      {0x1F600, Category::kSo},  {0x1F3FB, Category::kSk},  {0xFE0F, Category::kMn},
      {0x200D, Category::kCf},   {0xFEFF, Category::kCf},   {0x00A0, Category::kZs},
      {0x3000, Category::kZs},   {0x3001, Category::kPo},   {0x300C, Category::kPs},
      {0x20AC, Category::kSc},   {0x2212, Category::kSm},   {0x00AD, Category::kCf},
      {0xE0001, Category::kCf},  {0xFFFF, Category::kCn},   {0x10FFFF, Category::kCn},
      {0x110000, Category::kCn}, {0xFFFFFFFF, Category::kCn},
      // New in Unicode 15.0: Nag Mundari, Kawi, CJK Extension H.
      {0x1E4D0, Category::kLo},  {0x11F04, Category::kLo},  {0x31350, Category::kLo},
  };
  // clang-format on
  for (const auto& [cp, category] : kCases) {
    EXPECT_EQ(static_cast<int>(GetCategory(cp)), static_cast<int>(category))
        << "U+" << std::hex << static_cast<uint32_t>(cp);
  }
}

TEST(Unicode, FirstLastRangesOfUnicodeDataAreFilledIn) {
  // CJK Extension A 3400..4DBF, CJK 4E00..9FFF, Hangul AC00..D7A3, Tangut 17000..187F7,
  // Extension B 20000..2A6DF, planes 15-16 private use.
  EXPECT_EQ(GetCategory(0x3400), Category::kLo);
  EXPECT_EQ(GetCategory(0x4DBF), Category::kLo);
  EXPECT_EQ(GetCategory(0x4DC0), Category::kSo);
  EXPECT_EQ(GetCategory(0x9FFF), Category::kLo);
  EXPECT_EQ(GetCategory(0xAC00), Category::kLo);
  EXPECT_EQ(GetCategory(0xD7A3), Category::kLo);
  EXPECT_EQ(GetCategory(0xD7A4), Category::kCn);
  EXPECT_EQ(GetCategory(0x187F7), Category::kLo);
  EXPECT_EQ(GetCategory(0x2A6DF), Category::kLo);
  EXPECT_EQ(GetCategory(0x2A6E0), Category::kCn);
  EXPECT_EQ(GetCategory(0xDBFF), Category::kCs);
  EXPECT_EQ(GetCategory(0xDFFF), Category::kCs);
  EXPECT_EQ(GetCategory(0xF8FF), Category::kCo);
  EXPECT_EQ(GetCategory(0xF0000), Category::kCo);
  EXPECT_EQ(GetCategory(0xFFFFD), Category::kCo);
  EXPECT_EQ(GetCategory(0xFFFFE), Category::kCn);
  EXPECT_EQ(GetCategory(0x10FFFD), Category::kCo);
}

TEST(Unicode, CategoryTotalsMatchDerivedGeneralCategory) {
  // From extracted/DerivedGeneralCategory.txt of Unicode 15.0, in Category enum order.
  // clang-format off
  const int kTotals[kCategoryCount] = {
      1831, 2233, 31, 397, 131612,               // Lu Ll Lt Lm Lo
      1985, 452, 13,                             // Mn Mc Me
      680, 236, 915,                             // Nd Nl No
      10, 26, 79, 77, 12, 10, 628,               // Pc Pd Ps Pe Pi Pf Po
      948, 63, 125, 6634,                        // Sm Sc Sk So
      17, 1, 1,                                  // Zs Zl Zp
      65, 170, 2048, 137468, 825345,             // Cc Cf Cs Co Cn
  };
  // clang-format on
  int counts[kCategoryCount] = {};
  for (char32_t cp = 0; cp <= kMaxCodePoint; ++cp) ++counts[static_cast<int>(GetCategory(cp))];
  for (int c = 0; c < kCategoryCount; ++c) EXPECT_EQ(counts[c], kTotals[c]) << "category " << c;
}

TEST(Unicode, ClassPredicatesAgreeWithCategories) {
  for (char32_t cp = 0; cp <= kMaxCodePoint + 1; ++cp) {
    int c = static_cast<int>(GetCategory(cp));
    ASSERT_EQ(IsLetter(cp), c <= 4) << static_cast<uint32_t>(cp);
    ASSERT_EQ(IsMark(cp), c >= 5 && c <= 7) << static_cast<uint32_t>(cp);
    ASSERT_EQ(IsNumber(cp), c >= 8 && c <= 10) << static_cast<uint32_t>(cp);
    ASSERT_EQ(IsPunctuation(cp), c >= 11 && c <= 17) << static_cast<uint32_t>(cp);
    ASSERT_EQ(IsSymbol(cp), c >= 18 && c <= 21) << static_cast<uint32_t>(cp);
    ASSERT_EQ(IsSeparator(cp), c >= 22 && c <= 24) << static_cast<uint32_t>(cp);
  }
  EXPECT_TRUE(IsLetter(0x00E9));
  EXPECT_TRUE(IsNumber(0x0669));
  EXPECT_TRUE(IsMark(0x0308));
  EXPECT_TRUE(IsPunctuation(0x060C));
  EXPECT_TRUE(IsSymbol(0x1F4A9));
  EXPECT_FALSE(IsLetter(U'1'));
}

size_t Count(const std::vector<Range>& ranges) {
  size_t n = 0;
  for (const Range& r : ranges) n += r.hi - r.lo + 1;
  return n;
}

// Ranges must be sorted, disjoint, non-adjacent, inside the code space, and contain exactly the
// code points for which in(cp) holds.
template <typename Pred>
void ExpectRangesAre(const std::vector<Range>& ranges, Pred in, const std::string& what) {
  for (size_t k = 0; k < ranges.size(); ++k) {
    ASSERT_LE(ranges[k].lo, ranges[k].hi) << what;
    ASSERT_LE(ranges[k].hi, kMaxCodePoint) << what;
    if (k > 0) {
      ASSERT_GT(ranges[k].lo, ranges[k - 1].hi + 1) << what << ": unsorted or unmerged";
    }
  }
  size_t k = 0;
  for (char32_t cp = 0; cp <= kMaxCodePoint; ++cp) {
    while (k < ranges.size() && ranges[k].hi < cp) ++k;
    bool listed = k < ranges.size() && ranges[k].lo <= cp;
    ASSERT_EQ(listed, in(cp)) << what << " U+" << std::hex << static_cast<uint32_t>(cp);
  }
}

TEST(Unicode, PropertyRangesOfEveryCategoryMatchGetCategory) {
  const char* kShort[kCategoryCount] = {"Lu", "Ll", "Lt", "Lm", "Lo", "Mn", "Mc", "Me", "Nd", "Nl",
                                        "No", "Pc", "Pd", "Ps", "Pe", "Pi", "Pf", "Po", "Sm", "Sc",
                                        "Sk", "So", "Zs", "Zl", "Zp", "Cc", "Cf", "Cs", "Co", "Cn"};
  for (int c = 0; c < kCategoryCount; ++c) {
    auto ranges = PropertyRanges(kShort[c]);
    ASSERT_TRUE(ranges.has_value()) << kShort[c];
    ExpectRangesAre(
        *ranges, [c](char32_t cp) { return static_cast<int>(GetCategory(cp)) == c; }, kShort[c]);
  }
  const std::pair<const char*, std::pair<int, int>> kMajor[] = {
      {"L", {0, 4}},   {"M", {5, 7}},   {"N", {8, 10}},  {"P", {11, 17}},
      {"S", {18, 21}}, {"Z", {22, 24}}, {"C", {25, 29}}, {"LC", {0, 2}},
  };
  for (const auto& [name, span] : kMajor) {
    auto ranges = PropertyRanges(name);
    ASSERT_TRUE(ranges.has_value()) << name;
    int lo = span.first, hi = span.second;
    ExpectRangesAre(
        *ranges,
        [lo, hi](char32_t cp) {
          int c = static_cast<int>(GetCategory(cp));
          return c >= lo && c <= hi;
        },
        name);
  }
}

TEST(Unicode, PropertyNamesMatchLooselyIncludingLongNamesAndAliases) {
  auto letters = PropertyRanges("L");
  ASSERT_TRUE(letters.has_value());
  EXPECT_EQ(Count(*letters), 1831u + 2233 + 31 + 397 + 131612);
  for (const char* name : {"Letter", "letter", "LETTER", "l"}) {
    EXPECT_EQ(PropertyRanges(name), letters) << name;
  }
  auto upper = PropertyRanges("Lu");
  for (const char* name :
       {"Uppercase_Letter", "uppercase letter", "Uppercase-Letter", "UPPERCASELETTER"}) {
    EXPECT_EQ(PropertyRanges(name), upper) << name;
  }
  EXPECT_EQ(PropertyRanges("digit"), PropertyRanges("Nd"));
  EXPECT_EQ(PropertyRanges("Decimal_Number"), PropertyRanges("Nd"));
  EXPECT_EQ(PropertyRanges("punct"), PropertyRanges("P"));
  EXPECT_EQ(PropertyRanges("Punctuation"), PropertyRanges("P"));
  EXPECT_EQ(PropertyRanges("cntrl"), PropertyRanges("Cc"));
  EXPECT_EQ(PropertyRanges("Combining_Mark"), PropertyRanges("M"));
  EXPECT_EQ(PropertyRanges("Mark"), PropertyRanges("M"));
  EXPECT_EQ(PropertyRanges("Symbol"), PropertyRanges("S"));
  EXPECT_EQ(PropertyRanges("Number"), PropertyRanges("N"));
  EXPECT_EQ(PropertyRanges("Separator"), PropertyRanges("Z"));
  EXPECT_EQ(PropertyRanges("Other"), PropertyRanges("C"));
  EXPECT_EQ(PropertyRanges("Cased_Letter"), PropertyRanges("LC"));
  EXPECT_EQ(PropertyRanges("L&"), PropertyRanges("LC"));
  EXPECT_EQ(PropertyRanges("Unassigned"), PropertyRanges("Cn"));
  EXPECT_EQ(Count(*PropertyRanges("Cn")), 825345u);
  EXPECT_EQ(PropertyRanges("Any"), (std::vector<Range>{{0, 0x10FFFF}}));
  EXPECT_EQ(PropertyRanges("ASCII"), (std::vector<Range>{{0, 0x7F}}));
  EXPECT_EQ(Count(*PropertyRanges("Assigned")), 0x110000u - 825345);
  EXPECT_EQ(PropertyRanges("Nd")->front(), (Range{U'0', U'9'}));
  for (const char* bad : {"", "Foo", "Lx", "Latin", "L_&", "Letters"}) {
    EXPECT_FALSE(PropertyRanges(bad).has_value()) << bad;
  }
}

TEST(Unicode, WhiteSpaceIsPropListWhiteSpace) {
  // clang-format off
  const std::vector<Range> kExpected = {
      {0x09, 0x0D}, {0x20, 0x20},     {0x85, 0x85},     {0xA0, 0xA0},     {0x1680, 0x1680},
      {0x2000, 0x200A}, {0x2028, 0x2029}, {0x202F, 0x202F}, {0x205F, 0x205F}, {0x3000, 0x3000},
  };
  // clang-format on
  EXPECT_EQ(WhiteSpaceRanges(), kExpected);
  ExpectRangesAre(WhiteSpaceRanges(), IsWhiteSpace, "White_Space");
  EXPECT_TRUE(IsWhiteSpace(U'\n'));
  EXPECT_TRUE(IsWhiteSpace(0x3000));
  EXPECT_FALSE(IsWhiteSpace(0x200B));  // zero width space is Cf, not White_Space
  EXPECT_FALSE(IsWhiteSpace(0x180E));  // Mongolian vowel separator left White_Space in 6.3
  EXPECT_FALSE(IsWhiteSpace(0xFEFF));
  EXPECT_FALSE(IsWhiteSpace(0x1C));
  EXPECT_FALSE(IsWhiteSpace(0x110020));
}

TEST(Unicode, SimpleCaseFoldsOfSampleCodePoints) {
  EXPECT_EQ(SimpleCaseFold('A'), U'a');
  EXPECT_EQ(SimpleCaseFold('a'), U'a');
  EXPECT_EQ(SimpleCaseFold(0x212A), U'k');      // KELVIN SIGN (C)
  EXPECT_EQ(SimpleCaseFold(0x017F), U's');      // LATIN SMALL LETTER LONG S (C)
  EXPECT_EQ(SimpleCaseFold(0x1E9E), 0xDFu);     // CAPITAL SHARP S: simple fold (S) is U+00DF
  EXPECT_EQ(SimpleCaseFold(0x0130), 0x0130u);   // I WITH DOT ABOVE folds only fully (F): itself
  EXPECT_EQ(SimpleCaseFold(0x10400), 0x10428u); // DESERET CAPITAL LONG I
  EXPECT_EQ(SimpleCaseFold('5'), U'5');
}

// CaseClosure against its definition, over every code point: c is in the closure of S exactly
// when c's fold is the fold of a member of S.
TEST(Unicode, CaseClosureIsEveryCodePointFoldingLikeAMember) {
  const std::vector<std::vector<Range>> sets = {
      {{'k', 'k'}}, {{'A', 'Z'}}, {{'0', '9'}, {'A', 'Z'}, {'_', '_'}, {'a', 'z'}},
      {{0xDF, 0xDF}}, {{0x3A3, 0x3A3}}, {{0x10400, 0x10410}, {'x', 'x'}}, {{0x130, 0x131}}};
  for (const std::vector<Range>& set : sets) {
    std::vector<char32_t> folds;
    for (const Range& r : set) {
      for (char32_t c = r.lo; c <= r.hi; ++c) folds.push_back(SimpleCaseFold(c));
    }
    const std::vector<Range> closure = CaseClosure(set);
    size_t at = 0;
    for (char32_t c = 0; c <= kMaxCodePoint; ++c) {
      while (at < closure.size() && closure[at].hi < c) ++at;
      const bool in = at < closure.size() && closure[at].lo <= c;
      const bool want =
          std::find(folds.begin(), folds.end(), SimpleCaseFold(c)) != folds.end();
      ASSERT_EQ(in, want) << "U+" << std::hex << static_cast<uint32_t>(c) << " for a set from U+"
                          << static_cast<uint32_t>(set[0].lo);
    }
  }
  // Sorted and merged.
  const std::vector<Range> word = CaseClosure({{'a', 'z'}, {'_', '_'}, {'A', 'Z'}, {'0', '9'}});
  for (size_t i = 1; i < word.size(); ++i) EXPECT_GT(word[i].lo, word[i - 1].hi + 1);
}

TEST(Unicode, CombiningClassesOfSampleCodePoints) {
  EXPECT_EQ(CombiningClass(U'a'), 0);
  EXPECT_EQ(CombiningClass(0x0301), 230);
  EXPECT_EQ(CombiningClass(0x0316), 220);
  EXPECT_EQ(CombiningClass(0x0334), 1);
  EXPECT_EQ(CombiningClass(0x05B0), 10);
  EXPECT_EQ(CombiningClass(0x0F71), 129);
  EXPECT_EQ(CombiningClass(0x0F72), 130);
  EXPECT_EQ(CombiningClass(0x1D16D), 226);
  EXPECT_EQ(CombiningClass(0x3099), 8);
  EXPECT_EQ(CombiningClass(0x093C), 7);
  EXPECT_EQ(CombiningClass(0x094D), 9);
  EXPECT_EQ(CombiningClass(0x0E38), 103);
  EXPECT_EQ(CombiningClass(0x1161), 0);
  EXPECT_EQ(CombiningClass(0x110000), 0);
  int nonzero = 0;
  for (char32_t cp = 0; cp <= kMaxCodePoint; ++cp) nonzero += CombiningClass(cp) != 0;
  EXPECT_EQ(nonzero, 922);  // DerivedCombiningClass.txt 15.0: code points with ccc != 0
}

TEST(Unicode, NfcComposesDecomposedAccents) {
  EXPECT_EQ(Nfc(U8(U"e\u0301")), U8(U"\u00E9"));
  EXPECT_EQ(Nfc(U8(U"Cafe\u0301 au lait")), U8(U"Caf\u00E9 au lait"));
  EXPECT_EQ(Nfc(U8(U"A\u030A")), U8(U"\u00C5"));
  EXPECT_EQ(Nfc(U8(U"o\u0308\u0304")), U8(U"\u022B"));       // two-step composition
  EXPECT_EQ(Nfc(U8(U"\u1E9B\u0323")), U8(U"\u1E9B\u0323"));  // long s with dot: stays
  EXPECT_EQ(Nfc(U8(U"a\u0323\u0302")), U8(U"\u1EAD"));
  EXPECT_EQ(Nfc(U8(U"a\u0302\u0323")), U8(U"\u1EAD"));  // reorder, then compose both
  EXPECT_EQ(Nfc(U8(U"\u0041\u0301\u0301")), U8(U"\u00C1\u0301"));
}

TEST(Unicode, NfcReordersMarksByCombiningClass) {
  EXPECT_EQ(Nfc(U8(U"q\u0307\u0323")), U8(U"q\u0323\u0307"));
  EXPECT_EQ(Nfc(U8(U"\u1E0B\u0323")), U8(U"\u1E0D\u0307"));
  // Equal classes keep their order: a + grave + acute composes the grave only.
  EXPECT_EQ(Nfc(U8(U"a\u0300\u0301")), U8(U"\u00E0\u0301"));
  // A class 0 character between base and accent blocks the composition ...
  EXPECT_EQ(Nfc(U8(U"a\u0903\u0301")), U8(U"a\u0903\u0301"));
  // ... a mark of a lower non-zero class does not.
  EXPECT_EQ(Nfc(U8(U"a\u0CBC\u0301")), U8(U"\u00E1\u0CBC"));
  // Leading non-starter with nothing to attach to.
  EXPECT_EQ(Nfc(U8(U"\u0301\u0316a")), U8(U"\u0316\u0301a"));
}

TEST(Unicode, NfcHandlesHangulAlgorithmically) {
  EXPECT_EQ(Nfc(U8(U"\u1100\u1161")), U8(U"\uAC00"));
  EXPECT_EQ(Nfc(U8(U"\u1100\u1161\u11A8")), U8(U"\uAC01"));
  EXPECT_EQ(Nfc(U8(U"\uAC00\u11A8")), U8(U"\uAC01"));
  EXPECT_EQ(Nfc(U8(U"\u1112\u1175\u11C2")), U8(U"\uD7A3"));
  EXPECT_EQ(Nfc(U8(U"\uAC01\u11A8")), U8(U"\uAC01\u11A8"));        // LVT takes no second T
  EXPECT_EQ(Nfc(U8(U"\u1100\u11A8")), U8(U"\u1100\u11A8"));        // L + T: nothing
  EXPECT_EQ(Nfc(U8(U"\u1100\u1161\u11A7")), U8(U"\uAC00\u11A7"));  // 11A7 is not a T jamo
  EXPECT_EQ(Nfc(U8(U"\uD55C\uAD6D\uC5B4")), U8(U"\uD55C\uAD6D\uC5B4"));
}

TEST(Unicode, NfcAppliesSingletonsAndCompositionExclusions) {
  EXPECT_EQ(Nfc(U8(U"\u212B")), U8(U"\u00C5"));        // ANGSTROM SIGN
  EXPECT_EQ(Nfc(U8(U"\u2126")), U8(U"\u03A9"));        // OHM SIGN
  EXPECT_EQ(Nfc(U8(U"\u0958")), U8(U"\u0915\u093C"));  // excluded: stays decomposed
  EXPECT_EQ(Nfc(U8(U"\u0915\u093C")), U8(U"\u0915\u093C"));
  EXPECT_EQ(Nfc(U8(U"\u0344")), U8(U"\u0308\u0301"));  // non-starter decomposition
  EXPECT_EQ(Nfc(U8(U"\u0F73")), U8(U"\u0F71\u0F72"));
  EXPECT_EQ(Nfc(U8(U"\u2ADC")), U8(U"\u2ADD\u0338"));  // post-composition-version exclusion
  EXPECT_EQ(Nfc(U8(U"\U0001D15E")), U8(U"\U0001D157\U0001D165"));
  EXPECT_EQ(Nfc(U8(U"\uFB1D")), U8(U"\u05D9\u05B4"));
  // Compatibility characters are not touched by NFC.
  EXPECT_EQ(Nfc(U8(U"\uFB01\u2460\uFF21")), U8(U"\uFB01\u2460\uFF21"));
}

TEST(Unicode, NfcPassesIllFormedBytesThroughAsBoundaries) {
  EXPECT_EQ(Nfc("\xFF"), "\xFF");
  EXPECT_EQ(Nfc("e\xCC"), "e\xCC");                  // truncated sequence at the end
  EXPECT_EQ(Nfc("e\x80\xCC\x81"), "e\x80\xCC\x81");  // no composition across the stray byte
  EXPECT_EQ(Nfc("a\xCC\x81\xFF"), "\xC3\xA1\xFF");   // composition before it still happens
  EXPECT_EQ(Nfc("\xED\xA0\x80\xCC\x81"), "\xED\xA0\x80\xCC\x81");  // encoded surrogate
  EXPECT_EQ(Nfc("x\xE0\x80\x80o\xCC\x88"), "x\xE0\x80\x80\xC3\xB6");
  std::string s = std::string("\xC0\xAF") + U8(U"A\u030A") + "\xF5";
  EXPECT_EQ(Nfc(s), std::string("\xC0\xAF") + U8(U"\u00C5") + "\xF5");
  // Marks on both sides of a stray byte are ordered independently.
  EXPECT_EQ(Nfc(U8(U"a\u0307") + "\xFE" + U8(U"\u0307\u0323")),
            std::string("\xC8\xA7\xFE") + U8(U"\u0323\u0307"));
}

TEST(Unicode, NfcQuickCheckSkipsNormalisedText) {
  EXPECT_TRUE(IsNfcQuickYes(""));
  EXPECT_TRUE(IsNfcQuickYes("plain ASCII"));
  EXPECT_TRUE(IsNfcQuickYes(U8(U"caf\u00E9 \u4E2D\u6587 \uD55C\uAD6D\uC5B4 \U0001F600")));
  EXPECT_FALSE(IsNfcQuickYes(U8(U"cafe\u0301")));     // 0301 is NFC_QC Maybe
  EXPECT_FALSE(IsNfcQuickYes(U8(U"\u212B")));         // NFC_QC No
  EXPECT_FALSE(IsNfcQuickYes(U8(U"q\u0307\u0323")));  // classes out of order
  // Already normalised, but 0323 and 0307 are Maybe: the quick check cannot say Yes.
  EXPECT_FALSE(IsNfcQuickYes(U8(U"q\u0323\u0307")));
  EXPECT_EQ(Nfc(U8(U"q\u0323\u0307")), U8(U"q\u0323\u0307"));
  EXPECT_TRUE(IsNfcQuickYes("\xFF\xFE"));
  std::string ascii(100000, 'x');
  EXPECT_EQ(Nfc(ascii), ascii);
}

TEST(Unicode, NfcOfLongTextOnlyRebuildsTheSpansThatNeedIt) {
  std::string text, expected;
  for (int i = 0; i < 2000; ++i) {
    text += U8(U"Voil\u00E0 \u4E2D\u6587 ");
    expected += U8(U"Voil\u00E0 \u4E2D\u6587 ");
    if (i % 97 == 0) {
      text += U8(U"e\u0301\u0323 \u1100\u1161\u11A8 \u212B");
      expected += U8(U"\u1EB9\u0301 \uAC01 \u00C5");
    }
  }
  EXPECT_TRUE(Nfc(text) == expected);
  EXPECT_TRUE(Nfc(expected) == expected);
}

// tests/data/unicode_nfc_cases.txt; SIEVE_TEST_DATA_DIR may point at tests/data, else the path is
// found relative to this source file.
std::string NfcCasesPath() {
#ifdef SIEVE_TEST_DATA_DIR
  return std::string(SIEVE_TEST_DATA_DIR) + "/unicode_nfc_cases.txt";
#else
  std::string here = __FILE__;
  return here.substr(0, here.rfind('/')) + "/../data/unicode_nfc_cases.txt";
#endif
}

std::u32string ParseHex(const std::string& field) {
  std::u32string out;
  std::istringstream is(field);
  std::string word;
  while (is >> word) out.push_back(static_cast<char32_t>(std::stoul(word, nullptr, 16)));
  return out;
}

struct NfcData {
  std::vector<std::pair<std::u32string, std::u32string>> cases;
  std::vector<Range> part1;
};

NfcData LoadNfcData() {
  NfcData data;
  std::ifstream in(NfcCasesPath());
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    if (line.rfind("@part1 ", 0) == 0) {
      std::istringstream is(line.substr(7));
      std::string lo, hi;
      is >> lo >> hi;
      data.part1.push_back(Range{static_cast<char32_t>(std::stoul(lo, nullptr, 16)),
                                 static_cast<char32_t>(std::stoul(hi, nullptr, 16))});
      continue;
    }
    size_t semi = line.find(';');
    data.cases.emplace_back(ParseHex(line.substr(0, semi)), ParseHex(line.substr(semi + 1)));
  }
  return data;
}

TEST(Unicode, NfcMatchesNormalizationTestCases) {
  NfcData data = LoadNfcData();
  ASSERT_GT(data.cases.size(), 5000u) << "cannot read " << NfcCasesPath();
  int failures = 0;
  for (const auto& [src, nfc] : data.cases) {
    std::string s = U8(src), want = U8(nfc);
    std::string got = Nfc(s);
    if (got != want && ++failures <= 20) {
      ADD_FAILURE() << "NFC(" << Hex(s) << ") = " << Hex(got) << ", want " << Hex(want);
    }
    EXPECT_EQ(Nfc(want), want) << Hex(want);
    if (IsNfcQuickYes(s)) {
      EXPECT_EQ(s, want) << "quick check passed " << Hex(s);
    }
  }
  EXPECT_EQ(failures, 0);
}

TEST(Unicode, NfcMatchesNormalizationTestCasesConcatenatedIntoOneText) {
  // '\n' is a stable starter that composes with nothing, so NFC distributes over the joins.
  NfcData data = LoadNfcData();
  ASSERT_GT(data.cases.size(), 5000u);
  std::string text, expected;
  for (const auto& [src, nfc] : data.cases) {
    text += U8(src) + "\n";
    expected += U8(nfc) + "\n";
  }
  EXPECT_TRUE(Nfc(text) == expected);
  // With a stray byte between every two code points nothing composes or reorders: each code
  // point is normalised on its own.
  std::string split, split_expected;
  for (size_t k = 0; k < data.cases.size(); k += 7) {
    for (char32_t cp : data.cases[k].first) {
      split += U8(std::u32string(1, cp)) + "\xFF";
      split_expected += Nfc(U8(std::u32string(1, cp))) + "\xFF";
    }
  }
  EXPECT_TRUE(Nfc(split) == split_expected);
}

TEST(Unicode, NfcLeavesEveryCodePointNotInPartOneUnchanged) {
  NfcData data = LoadNfcData();
  ASSERT_GT(data.part1.size(), 100u) << "cannot read " << NfcCasesPath();
  size_t k = 0;
  int checked = 0;
  for (char32_t cp = 0; cp <= kMaxCodePoint; ++cp) {
    if (cp >= 0xD800 && cp <= 0xDFFF) continue;
    while (k < data.part1.size() && data.part1[k].hi < cp) ++k;
    if (k < data.part1.size() && data.part1[k].lo <= cp) continue;
    std::string s = U8(std::u32string(1, cp));
    ASSERT_EQ(Nfc(s), s) << "U+" << std::hex << static_cast<uint32_t>(cp);
    ++checked;
  }
  EXPECT_GT(checked, 1000000);
}

}  // namespace
}  // namespace sieve::unicode
