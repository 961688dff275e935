// 256-bit sets of bytes as four uint64_t words (bit b of word b / 64).
#ifndef SIEVE_GRAMMAR_SUPPORT_BYTE_SET_H_
#define SIEVE_GRAMMAR_SUPPORT_BYTE_SET_H_

#include <cstdint>

namespace sieve {

// Adds the bytes lo..hi (inclusive, lo <= hi <= 255) to `words` a word at a time.
inline void AddByteRange(uint64_t* words, int lo, int hi) {
  for (int w = lo >> 6; w <= hi >> 6; ++w) {
    const int a = w == lo >> 6 ? lo & 63 : 0;
    const int b = w == hi >> 6 ? hi & 63 : 63;
    words[w] |= (~uint64_t{0} >> (63 - b)) & (~uint64_t{0} << a);
  }
}

}  // namespace sieve

#endif  // SIEVE_GRAMMAR_SUPPORT_BYTE_SET_H_
