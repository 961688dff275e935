// UTF-8 decoding, encoding, validation, and the split of a code point range into UTF-8 byte-range
// sequences that the grammar and regex compilers use to turn character classes into byte automata.
//
// Decoding is strict (RFC 3629 / Unicode 15 Table 3-7): overlong forms, UTF-16 surrogates
// (U+D800..U+DFFF), values above U+10FFFF, stray continuation bytes, the bytes C0, C1, F5..FF and
// truncated sequences are all ill-formed. The well-formed byte sequences are exactly:
//
//   00..7F
//   C2..DF 80..BF
//   E0     A0..BF 80..BF
//   E1..EC 80..BF 80..BF
//   ED     80..9F 80..BF
//   EE..EF 80..BF 80..BF
//   F0     90..BF 80..BF 80..BF
//   F1..F3 80..BF 80..BF 80..BF
//   F4     80..8F 80..BF 80..BF
//
// Utf8RangeSequences(lo, hi) returns byte-range sequences (each one a vector of inclusive byte
// ranges, one per byte position) such that a byte string is matched by some sequence iff it is the
// UTF-8 encoding of a code point in [lo, hi] other than a surrogate, and no string is matched by
// two sequences. The split is the classic one (RE2, utf8-ranges): first by encoded length, then at
// 6-bit boundaries until every sequence is a plain cross product of byte ranges.
#ifndef SIEVE_GRAMMAR_SUPPORT_UTF8_H_
#define SIEVE_GRAMMAR_SUPPORT_UTF8_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sieve {

// Decodes one code point from p[0..n). Returns the number of bytes consumed (1..4) and stores the
// code point in *cp, or returns -1 (leaving *cp untouched) when the bytes at p do not start with
// a well-formed sequence, including n == 0 and sequences cut short by n.
int DecodeUtf8(const uint8_t* p, size_t n, char32_t* cp);

// Number of bytes AppendUtf8 writes for cp: 1..4, or 0 for a surrogate or a value > U+10FFFF.
int Utf8Length(char32_t cp);

// Appends the UTF-8 encoding of cp. Surrogates and values > U+10FFFF are not encodable: U+FFFD
// is appended instead.
void AppendUtf8(std::string* out, char32_t cp);

// True if the whole text is well-formed UTF-8. Otherwise false, and *error_offset (if not null)
// receives the byte offset of the first ill-formed sequence.
bool IsValidUtf8(std::string_view text, size_t* error_offset = nullptr);

// Bytes for a message: printable ASCII and well-formed UTF-8 sequences as they are; \n, \t, \r, a
// backslash and `quote` (when not 0) escaped with a backslash; every other byte as \xHH.
std::string EscapeBytes(std::string_view bytes, char quote = 0);

// One byte position of a sequence: bytes lo..hi inclusive.
using ByteRange = std::pair<uint8_t, uint8_t>;

// See the file comment. Sequences come out in increasing code point order. Empty if lo > hi or
// the range holds only surrogates; hi is clamped to U+10FFFF.
std::vector<std::vector<ByteRange>> Utf8RangeSequences(char32_t lo, char32_t hi);

}  // namespace sieve

#endif  // SIEVE_GRAMMAR_SUPPORT_UTF8_H_
