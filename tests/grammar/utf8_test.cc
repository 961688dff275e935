// Tests for grammar/support/utf8.h: strict decoding checked exhaustively against an independent
// statement of the well-formed byte sequences (every 1-, 2- and 3-byte string, and every 4-byte
// string whose trailing bytes are at the interesting edges), encoding round trips for every code
// point, validation offsets, and Utf8RangeSequences checked for every code point 0..U+10FFFF
// against many ranges: each encoding of a code point in the range is matched by exactly one
// sequence, nothing outside the range is matched, and the sequences match no more byte strings
// than the range has encodable code points (so no ill-formed string is matched either).
#include "grammar/support/utf8.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace sieve {
namespace {

using Sequences = std::vector<std::vector<ByteRange>>;

// Reference: the well-formedness table of Unicode 15, Table 3-7, written out independently.
bool ReferenceWellFormed(const uint8_t* s, size_t n) {
  struct Row {
    uint8_t lead_lo, lead_hi, second_lo, second_hi;
    int length;
  };
  // clang-format off
  static const Row kRows[] = {
      {0x00, 0x7F, 0, 0, 1},       {0xC2, 0xDF, 0x80, 0xBF, 2}, {0xE0, 0xE0, 0xA0, 0xBF, 3},
      {0xE1, 0xEC, 0x80, 0xBF, 3}, {0xED, 0xED, 0x80, 0x9F, 3}, {0xEE, 0xEF, 0x80, 0xBF, 3},
      {0xF0, 0xF0, 0x90, 0xBF, 4}, {0xF1, 0xF3, 0x80, 0xBF, 4}, {0xF4, 0xF4, 0x80, 0x8F, 4},
  };
  // clang-format on
  if (n == 0) return false;
  for (const Row& row : kRows) {
    if (s[0] < row.lead_lo || s[0] > row.lead_hi) continue;
    if (static_cast<int>(n) != row.length) return false;
    if (row.length == 1) return true;
    if (s[1] < row.second_lo || s[1] > row.second_hi) return false;
    for (size_t i = 2; i < n; ++i) {
      if (s[i] < 0x80 || s[i] > 0xBF) return false;
    }
    return true;
  }
  return false;
}

std::string Encode(char32_t cp) {
  std::string s;
  AppendUtf8(&s, cp);
  return s;
}

bool IsSurrogate(char32_t cp) { return cp >= 0xD800 && cp <= 0xDFFF; }

int DecodeAll(const std::vector<uint8_t>& s, char32_t* cp) {
  return DecodeUtf8(s.data(), s.size(), cp);
}

std::string Str(const uint8_t* s, size_t n) {
  return std::string(reinterpret_cast<const char*>(s), n);
}

TEST(Utf8, DecodesEveryShortByteStringExactlyWhenWellFormed) {
  char32_t cp;
  int valid = 0;
  for (uint32_t v = 0; v < 0x1000000; ++v) {
    const uint8_t three[3] = {static_cast<uint8_t>(v >> 16), static_cast<uint8_t>(v >> 8),
                              static_cast<uint8_t>(v)};
    bool whole = DecodeUtf8(three, 3, &cp) == 3;
    if (whole != ReferenceWellFormed(three, 3)) FAIL() << std::hex << v;
    if (whole) {
      ++valid;
      ASSERT_EQ(Encode(cp), Str(three, 3)) << std::hex << v;
    }
    if (v < 0x10000) {
      ASSERT_EQ(DecodeUtf8(three + 1, 2, &cp) == 2, ReferenceWellFormed(three + 1, 2)) << v;
    }
    if (v < 0x100) {
      ASSERT_EQ(DecodeUtf8(three + 2, 1, &cp) == 1, ReferenceWellFormed(three + 2, 1)) << v;
    }
  }
  EXPECT_EQ(valid, 0x10000 - 0x800 - 0x800);  // three-byte code points minus surrogates
}

TEST(Utf8, DecodesFourByteStringsExactlyWhenWellFormed) {
  // Every lead and second byte, with the third and fourth bytes at the edges of 80..BF and just
  // outside it.
  const uint8_t kEdges[] = {0x00, 0x7F, 0x80, 0x81, 0x9F, 0xA0, 0xBE, 0xBF, 0xC0, 0xFF};
  char32_t cp;
  for (int b0 = 0; b0 < 256; ++b0) {
    for (int b1 = 0; b1 < 256; ++b1) {
      for (uint8_t b2 : kEdges) {
        for (uint8_t b3 : kEdges) {
          const uint8_t s[4] = {static_cast<uint8_t>(b0), static_cast<uint8_t>(b1), b2, b3};
          bool ok = DecodeUtf8(s, 4, &cp) == 4;
          if (ok != ReferenceWellFormed(s, 4)) {
            FAIL() << b0 << " " << b1 << " " << int{b2} << " " << int{b3};
          }
          if (ok) {
            ASSERT_EQ(Encode(cp), Str(s, 4));
          }
        }
      }
    }
  }
}

TEST(Utf8, RoundTripsEveryCodePointAndRejectsTruncations) {
  for (char32_t cp = 0; cp <= 0x10FFFF; ++cp) {
    if (IsSurrogate(cp)) continue;
    std::string s = Encode(cp);
    ASSERT_EQ(static_cast<int>(s.size()), Utf8Length(cp));
    const uint8_t* p = reinterpret_cast<const uint8_t*>(s.data());
    char32_t out = 0;
    ASSERT_EQ(DecodeUtf8(p, s.size(), &out), static_cast<int>(s.size()));
    ASSERT_EQ(out, cp);
    for (size_t cut = 0; cut < s.size(); ++cut) ASSERT_EQ(DecodeUtf8(p, cut, &out), -1);
  }
}

TEST(Utf8, RejectsOverlongsSurrogatesAndOutOfRangeValues) {
  // clang-format off
  const std::vector<std::vector<uint8_t>> kBad = {
      {0xC0, 0x80},             // overlong NUL
      {0xC1, 0xBF},             // overlong U+007F
      {0xE0, 0x80, 0x80},       // overlong NUL
      {0xE0, 0x9F, 0xBF},       // overlong U+07FF
      {0xF0, 0x80, 0x80, 0x80}, // overlong NUL
      {0xF0, 0x8F, 0xBF, 0xBF}, // overlong U+FFFF
      {0xED, 0xA0, 0x80},       // U+D800
      {0xED, 0xBF, 0xBF},       // U+DFFF
      {0xF4, 0x90, 0x80, 0x80}, // U+110000
      {0xF5, 0x80, 0x80, 0x80}, // lead past F4
      {0xFF},                   // never valid
      {0x80},                   // stray continuation
      {0xC3, 0x28},             // bad continuation
  };
  // clang-format on
  for (const auto& s : kBad) {
    char32_t cp = 0x1234;
    EXPECT_EQ(DecodeAll(s, &cp), -1) << int{s[0]};
    EXPECT_EQ(cp, 0x1234u) << "cp must be left untouched";
  }
  char32_t cp;
  EXPECT_EQ(DecodeUtf8(nullptr, 0, &cp), -1);
}

TEST(Utf8, AppendsReplacementCharacterForUnencodableValues) {
  EXPECT_EQ(Encode(0xD800), "\xEF\xBF\xBD");
  EXPECT_EQ(Encode(0x110000), "\xEF\xBF\xBD");
  EXPECT_EQ(Utf8Length(0xDFFF), 0);
  EXPECT_EQ(Utf8Length(0x110000), 0);
  EXPECT_EQ(Encode(0x10FFFF), "\xF4\x8F\xBF\xBF");
  EXPECT_EQ(Encode(0x20AC), "\xE2\x82\xAC");
}

TEST(Utf8, ValidationReportsTheFirstIllFormedOffset) {
  size_t offset = 99;
  EXPECT_TRUE(IsValidUtf8("", &offset));
  EXPECT_TRUE(IsValidUtf8("plain ascii text that is longer than eight bytes", &offset));
  EXPECT_TRUE(IsValidUtf8("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80", &offset));
  EXPECT_EQ(offset, 99u) << "offset must be untouched on success";
  EXPECT_FALSE(IsValidUtf8("abcdefghij\xC3", &offset));
  EXPECT_EQ(offset, 10u);
  EXPECT_FALSE(IsValidUtf8("0123456789abcdef\xED\xA0\x80xyz", &offset));
  EXPECT_EQ(offset, 16u);
  EXPECT_FALSE(IsValidUtf8("\xC3\xA9\x80", &offset));
  EXPECT_EQ(offset, 2u);
  EXPECT_FALSE(IsValidUtf8(std::string_view("a\xC0\x80", 3), nullptr));
  EXPECT_TRUE(IsValidUtf8(std::string_view("a\0b", 3), nullptr));
}

// Checks Utf8RangeSequences(lo, hi) against every code point; see the file comment.
void CheckSequences(char32_t lo, char32_t hi) {
  SCOPED_TRACE(testing::Message() << std::hex << "range " << static_cast<uint32_t>(lo) << ".."
                                  << static_cast<uint32_t>(hi));
  Sequences seqs = Utf8RangeSequences(lo, hi);
  // Sequences by length, and the number of byte strings they match.
  std::vector<const std::vector<ByteRange>*> by_length[5];
  uint64_t matched_strings = 0;
  for (const auto& seq : seqs) {
    ASSERT_GE(seq.size(), 1u);
    ASSERT_LE(seq.size(), 4u);
    uint64_t product = 1;
    for (const ByteRange& r : seq) {
      ASSERT_LE(r.first, r.second);
      product *= r.second - r.first + 1;
    }
    matched_strings += product;
    by_length[seq.size()].push_back(&seq);
  }
  uint64_t expected_count = 0;
  for (char32_t cp = 0; cp <= 0x10FFFF; ++cp) {
    if (IsSurrogate(cp)) continue;
    bool in_range = cp >= lo && cp <= hi;
    expected_count += in_range;
    uint8_t bytes[4];
    size_t n = 0;
    if (cp < 0x80) {
      bytes[n++] = static_cast<uint8_t>(cp);
    } else if (cp < 0x800) {
      bytes[n++] = static_cast<uint8_t>(0xC0 | (cp >> 6));
      bytes[n++] = static_cast<uint8_t>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      bytes[n++] = static_cast<uint8_t>(0xE0 | (cp >> 12));
      bytes[n++] = static_cast<uint8_t>(0x80 | ((cp >> 6) & 0x3F));
      bytes[n++] = static_cast<uint8_t>(0x80 | (cp & 0x3F));
    } else {
      bytes[n++] = static_cast<uint8_t>(0xF0 | (cp >> 18));
      bytes[n++] = static_cast<uint8_t>(0x80 | ((cp >> 12) & 0x3F));
      bytes[n++] = static_cast<uint8_t>(0x80 | ((cp >> 6) & 0x3F));
      bytes[n++] = static_cast<uint8_t>(0x80 | (cp & 0x3F));
    }
    int matches = 0;
    for (const auto* seq : by_length[n]) {
      bool match = true;
      for (size_t i = 0; i < n && match; ++i) {
        match = bytes[i] >= (*seq)[i].first && bytes[i] <= (*seq)[i].second;
      }
      matches += match;
    }
    ASSERT_EQ(matches, in_range ? 1 : 0) << "code point " << std::hex << static_cast<uint32_t>(cp);
  }
  EXPECT_EQ(matched_strings, expected_count) << "sequences match ill-formed byte strings";
}

TEST(Utf8, RangeSequencesMatchExactlyTheCodePointsOfBoundaryRanges) {
  // clang-format off
  const std::pair<char32_t, char32_t> kRanges[] = {
      {0, 0x10FFFF},     {0, 0x7F},        {0x7F, 0x80},     {0x80, 0x7FF},  {0x7FF, 0x800},
      {0x800, 0xFFFF},   {0xD7FF, 0xE000}, {0xD800, 0xDFFF}, {0xD900, 0xDA00}, {0xFFFF, 0x10000},
      {0x10000, 0x10FFFF}, {0x10FFFF, 0x10FFFF}, {0x61, 0x7A}, {0x3B1, 0x3C9}, {0x4E00, 0x9FFF},
      {0x1F600, 0x1F64F}, {0x41, 0x10FFFF}, {0x100, 0x10FFFE}, {0x3FFFF, 0x40000},
      {0x7FE, 0x10001},  {0xFFF, 0x1000},  {0x20000, 0x2FFFF}, {0x10000, 0x3FFFF},
      {0xE000, 0xFFFD},
  };
  // clang-format on
  for (const auto& [lo, hi] : kRanges) CheckSequences(lo, hi);
}

TEST(Utf8, RangeSequencesMatchExactlyTheCodePointsOfRandomRanges) {
  std::mt19937 rng(20240601);
  for (int k = 0; k < 12; ++k) {
    // Mix short and long ranges anywhere in the code space.
    char32_t lo = rng() % 0x110000;
    char32_t span = (k % 3 == 0) ? rng() % 0x110000 : (k % 3 == 1) ? rng() % 0x1000 : rng() % 64;
    char32_t hi = std::min<char32_t>(0x10FFFF, lo + span);
    CheckSequences(lo, hi);
  }
}

TEST(Utf8, SingleCodePointRangesGiveOneSequenceSpellingTheEncoding) {
  for (char32_t cp = 0; cp <= 0x10FFFF; ++cp) {
    Sequences seqs = Utf8RangeSequences(cp, cp);
    if (IsSurrogate(cp)) {
      ASSERT_TRUE(seqs.empty());
      continue;
    }
    std::string s = Encode(cp);
    ASSERT_EQ(seqs.size(), 1u);
    ASSERT_EQ(seqs[0].size(), s.size());
    for (size_t i = 0; i < s.size(); ++i) {
      ASSERT_EQ(seqs[0][i].first, static_cast<uint8_t>(s[i]));
      ASSERT_EQ(seqs[0][i].second, static_cast<uint8_t>(s[i]));
    }
  }
}

TEST(Utf8, RangeSequencesAreFewAndOrdered) {
  Sequences all = Utf8RangeSequences(0, 0x10FFFF);
  // The canonical split of the whole space: 00-7F; C2-DF; E0 A0-BF; E1-EC; ED 80-9F; EE-EF;
  // F0 90-BF; F1-F3; F4 80-8F.
  ASSERT_EQ(all.size(), 9u);
  EXPECT_EQ(all[0], (std::vector<ByteRange>{{0x00, 0x7F}}));
  EXPECT_EQ(all[1], (std::vector<ByteRange>{{0xC2, 0xDF}, {0x80, 0xBF}}));
  EXPECT_EQ(all[4], (std::vector<ByteRange>{{0xED, 0xED}, {0x80, 0x9F}, {0x80, 0xBF}}));
  EXPECT_EQ(all[8],
            (std::vector<ByteRange>{{0xF4, 0xF4}, {0x80, 0x8F}, {0x80, 0xBF}, {0x80, 0xBF}}));
  EXPECT_TRUE(Utf8RangeSequences(0x20, 0x10).empty());
  EXPECT_TRUE(Utf8RangeSequences(0xD800, 0xDFFF).empty());
  EXPECT_EQ(Utf8RangeSequences(0x110000, 0x200000).size(), 0u);
  EXPECT_EQ(Utf8RangeSequences(0x61, 0x7A), (Sequences{{{0x61, 0x7A}}}));
}

TEST(Utf8, EscapeBytesKeepsTextAndCompleteCharactersAndEscapesTheRest) {
  EXPECT_EQ(EscapeBytes("a b\n\t\r\\"), "a b\\n\\t\\r\\\\");
  EXPECT_EQ(EscapeBytes("caf\xC3\xA9 \xF0\x9F\x98\x80"), "caf\xC3\xA9 \xF0\x9F\x98\x80");
  // A cut sequence, a stray continuation byte, a byte that never leads, control characters.
  EXPECT_EQ(EscapeBytes("\xC3"), "\\xc3");
  EXPECT_EQ(EscapeBytes("\x80x"), "\\x80x");
  EXPECT_EQ(EscapeBytes("\xC0\x80"), "\\xc0\\x80");
  // Sequences of the right shape that are not UTF-8: overlong, a surrogate, past U+10FFFF.
  EXPECT_EQ(EscapeBytes("\xE0\x80\x80"), "\\xe0\\x80\\x80");
  EXPECT_EQ(EscapeBytes("\xED\xA0\x80"), "\\xed\\xa0\\x80");
  EXPECT_EQ(EscapeBytes("\xF4\x90\x80\x80"), "\\xf4\\x90\\x80\\x80");
  EXPECT_EQ(EscapeBytes(std::string("\x00\x1f\x7f", 3)), "\\x00\\x1f\\x7f");
  // The quote, when given, is escaped too; otherwise it is text.
  EXPECT_EQ(EscapeBytes("say \"hi\""), "say \"hi\"");
  EXPECT_EQ(EscapeBytes("say \"hi\"", '"'), "say \\\"hi\\\"");
}

}  // namespace
}  // namespace sieve
