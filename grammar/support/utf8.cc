// UTF-8 primitives; see utf8.h for the exact grammar of well-formed sequences that DecodeUtf8 and
// IsValidUtf8 accept and for what Utf8RangeSequences promises.
//
// DecodeUtf8 checks the second byte against the lead-specific range of the table in utf8.h (which
// is what rules out overlongs, surrogates and values past U+10FFFF) and the remaining bytes
// against 80..BF. Utf8RangeSequences works on ranges whose endpoints have the same encoded length
// and no surrogates, then splits at the largest 6-bit boundary where lo and hi disagree in a
// higher byte, until lo and hi differ only in trailing positions that span full 80..BF ranges;
// then the sequence is the per-position [byte(lo), byte(hi)].
#include "grammar/support/utf8.h"

#include <algorithm>
#include <cstring>

namespace sieve {
namespace {

constexpr char32_t kMaxCodePoint = 0x10FFFF;
constexpr char32_t kSurrogateLo = 0xD800;
constexpr char32_t kSurrogateHi = 0xDFFF;
constexpr char32_t kReplacement = 0xFFFD;

bool IsContinuation(uint8_t b) { return (b & 0xC0) == 0x80; }

// Writes the encoding of cp (not a surrogate, <= U+10FFFF) into buf; returns its length.
int Encode(char32_t cp, uint8_t* buf) {
  if (cp < 0x80) {
    buf[0] = static_cast<uint8_t>(cp);
    return 1;
  }
  if (cp < 0x800) {
    buf[0] = static_cast<uint8_t>(0xC0 | (cp >> 6));
    buf[1] = static_cast<uint8_t>(0x80 | (cp & 0x3F));
    return 2;
  }
  if (cp < 0x10000) {
    buf[0] = static_cast<uint8_t>(0xE0 | (cp >> 12));
    buf[1] = static_cast<uint8_t>(0x80 | ((cp >> 6) & 0x3F));
    buf[2] = static_cast<uint8_t>(0x80 | (cp & 0x3F));
    return 3;
  }
  buf[0] = static_cast<uint8_t>(0xF0 | (cp >> 18));
  buf[1] = static_cast<uint8_t>(0x80 | ((cp >> 12) & 0x3F));
  buf[2] = static_cast<uint8_t>(0x80 | ((cp >> 6) & 0x3F));
  buf[3] = static_cast<uint8_t>(0x80 | (cp & 0x3F));
  return 4;
}

// Appends the sequences for [lo, hi], where lo and hi have the same encoded length and the range
// contains no surrogate.
void SplitSameLength(char32_t lo, char32_t hi, std::vector<std::vector<ByteRange>>* out) {
  int len = Utf8Length(lo);
  for (int i = 1; i < len; ++i) {
    char32_t m = (char32_t{1} << (6 * i)) - 1;  // the low i continuation bytes
    if ((lo & ~m) != (hi & ~m)) {
      if ((lo & m) != 0) {  // lo does not start a full block of i trailing bytes
        SplitSameLength(lo, lo | m, out);
        SplitSameLength((lo | m) + 1, hi, out);
        return;
      }
      if ((hi & m) != m) {  // hi does not end one
        SplitSameLength(lo, (hi & ~m) - 1, out);
        SplitSameLength(hi & ~m, hi, out);
        return;
      }
    }
  }
  uint8_t a[4], b[4];
  Encode(lo, a);
  Encode(hi, b);
  std::vector<ByteRange> seq;
  seq.reserve(len);
  for (int i = 0; i < len; ++i) seq.emplace_back(a[i], b[i]);
  out->push_back(std::move(seq));
}

}  // namespace

int DecodeUtf8(const uint8_t* p, size_t n, char32_t* cp) {
  if (n == 0) return -1;
  uint8_t b0 = p[0];
  if (b0 < 0x80) {
    *cp = b0;
    return 1;
  }
  int len;
  uint8_t lo = 0x80, hi = 0xBF;  // allowed range of the second byte
  char32_t value;
  if (b0 < 0xC2) {
    return -1;  // continuation byte, or C0/C1 (overlong two-byte lead)
  } else if (b0 < 0xE0) {
    len = 2;
    value = b0 & 0x1F;
  } else if (b0 < 0xF0) {
    len = 3;
    value = b0 & 0x0F;
    if (b0 == 0xE0) lo = 0xA0;  // overlong
    if (b0 == 0xED) hi = 0x9F;  // surrogates
  } else if (b0 < 0xF5) {
    len = 4;
    value = b0 & 0x07;
    if (b0 == 0xF0) lo = 0x90;  // overlong
    if (b0 == 0xF4) hi = 0x8F;  // > U+10FFFF
  } else {
    return -1;
  }
  if (n < static_cast<size_t>(len)) return -1;
  if (p[1] < lo || p[1] > hi) return -1;
  value = (value << 6) | (p[1] & 0x3F);
  for (int i = 2; i < len; ++i) {
    if (!IsContinuation(p[i])) return -1;
    value = (value << 6) | (p[i] & 0x3F);
  }
  *cp = value;
  return len;
}

int Utf8Length(char32_t cp) {
  if (cp < 0x80) return 1;
  if (cp < 0x800) return 2;
  if (cp >= kSurrogateLo && cp <= kSurrogateHi) return 0;
  if (cp < 0x10000) return 3;
  if (cp <= kMaxCodePoint) return 4;
  return 0;
}

void AppendUtf8(std::string* out, char32_t cp) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
    return;
  }
  if (Utf8Length(cp) == 0) cp = kReplacement;
  uint8_t buf[4];
  int len = Encode(cp, buf);
  out->append(reinterpret_cast<const char*>(buf), len);
}

bool IsValidUtf8(std::string_view text, size_t* error_offset) {
  const uint8_t* p = reinterpret_cast<const uint8_t*>(text.data());
  size_t n = text.size();
  size_t i = 0;
  while (i < n) {
    // Skip ASCII eight bytes at a time.
    while (i + 8 <= n) {
      uint64_t word;
      std::memcpy(&word, p + i, sizeof(word));
      if (word & 0x8080808080808080ull) break;
      i += 8;
    }
    if (i >= n) break;
    if (p[i] < 0x80) {
      ++i;
      continue;
    }
    char32_t cp;
    int len = DecodeUtf8(p + i, n - i, &cp);
    if (len < 0) {
      if (error_offset != nullptr) *error_offset = i;
      return false;
    }
    i += len;
  }
  return true;
}

std::vector<std::vector<ByteRange>> Utf8RangeSequences(char32_t lo, char32_t hi) {
  std::vector<std::vector<ByteRange>> out;
  hi = std::min(hi, kMaxCodePoint);
  if (lo > hi) return out;
  // Pieces with no surrogates and one encoded length each.
  static constexpr char32_t kBreaks[][2] = {
      {0x0, 0x7F},
      {0x80, 0x7FF},
      {0x800, kSurrogateLo - 1},
      {kSurrogateHi + 1, 0xFFFF},
      {0x10000, kMaxCodePoint},
  };
  for (const auto& piece : kBreaks) {
    char32_t a = std::max(lo, piece[0]);
    char32_t b = std::min(hi, piece[1]);
    if (a <= b) SplitSameLength(a, b, &out);
  }
  return out;
}

std::string EscapeBytes(std::string_view bytes, char quote) {
  static const char* kHex = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < bytes.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(bytes[i]);
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\\' || (quote != 0 && c == static_cast<unsigned char>(quote))) {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else {
      // A well-formed UTF-8 sequence passes through; any other byte is shown as \xHH.
      char32_t cp;
      const int n = DecodeUtf8(reinterpret_cast<const uint8_t*>(bytes.data()) + i,
                               bytes.size() - i, &cp);
      if (n > 1) {
        out.append(bytes.substr(i, static_cast<size_t>(n)));
        i += static_cast<size_t>(n) - 1;
      } else {
        out += "\\x";
        out += kHex[c >> 4];
        out += kHex[c & 15];
      }
    }
  }
  return out;
}

}  // namespace sieve
