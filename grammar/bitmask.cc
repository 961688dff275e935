// Bitmask kernels (see bitmask.h). Plain loops the compiler vectorises; target_clones gives each an
// AVX2 body next to the baseline one on x86-64.
#include "grammar/bitmask.h"

#include <cstring>

namespace sieve {

// Not under ThreadSanitizer: the clones' ifunc resolver runs during relocation, before the TSan
// runtime is up, and its instrumentation crashes every binary at start-up (make test-tsan).
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(__SANITIZE_THREAD__)
#define SIEVE_VECTOR_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define SIEVE_VECTOR_CLONES
#endif

SIEVE_VECTOR_CLONES
void OrWords(uint32_t* __restrict dst, const uint32_t* __restrict src, size_t words) {
  for (size_t i = 0; i < words; ++i) dst[i] |= src[i];
}

SIEVE_VECTOR_CLONES
void OrAndNotWords(uint32_t* __restrict dst, const uint32_t* __restrict a,
                   const uint32_t* __restrict b, size_t words) {
  for (size_t i = 0; i < words; ++i) dst[i] |= a[i] & ~b[i];
}

SIEVE_VECTOR_CLONES
void BlendWords(uint32_t* __restrict dst, const uint32_t* __restrict inside,
                const uint32_t* __restrict outside, const uint32_t* __restrict mask,
                size_t words) {
  for (size_t i = 0; i < words; ++i) dst[i] = (inside[i] & mask[i]) | (outside[i] & ~mask[i]);
}

SIEVE_VECTOR_CLONES
bool SameUnderMask(const uint32_t* a, const uint32_t* b, const uint32_t* mask, size_t words) {
  for (size_t w0 = 0; w0 < words; w0 += 64) {
    const size_t w1 = w0 + 64 < words ? w0 + 64 : words;
    uint32_t diff = 0;
    for (size_t i = w0; i < w1; ++i) diff |= (a[i] ^ b[i]) & mask[i];
    if (diff != 0) return false;
  }
  return true;
}

void SetBits(uint32_t* row, const int32_t* ids, size_t n) {
  for (size_t i = 0; i < n; ++i) row[ids[i] >> 5] |= uint32_t{1} << (ids[i] & 31);
}

void ClearBits(uint32_t* row, const int32_t* ids, size_t n) {
  for (size_t i = 0; i < n; ++i) row[ids[i] >> 5] &= ~(uint32_t{1} << (ids[i] & 31));
}

namespace {

size_t CountSwar(uint64_t x) {
  x -= (x >> 1) & 0x5555555555555555ull;
  x = (x & 0x3333333333333333ull) + ((x >> 2) & 0x3333333333333333ull);
  x = (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0full;
  return static_cast<size_t>((x * 0x0101010101010101ull) >> 56);
}

template <typename Word>
size_t CountBitsSwar(const Word* words, size_t n) {
  size_t c = 0;
  for (size_t i = 0; i < n; ++i) c += CountSwar(words[i]);
  return c;
}

size_t CountCommonSwar(const uint32_t* a, const uint32_t* b, size_t n) {
  size_t c = 0;
  for (size_t i = 0; i < n; ++i) c += CountSwar(a[i] & b[i]);
  return c;
}

#if defined(__x86_64__) && defined(__GNUC__)
// Two 32-bit words as one 64-bit word (little-endian order does not matter to a count).
inline uint64_t Pair(const uint32_t* p) {
  uint64_t x;
  std::memcpy(&x, p, sizeof x);
  return x;
}

__attribute__((target("popcnt"))) size_t CountBitsHw(const uint64_t* words, size_t n) {
  size_t c = 0;
  for (size_t i = 0; i < n; ++i) c += static_cast<size_t>(__builtin_popcountll(words[i]));
  return c;
}

__attribute__((target("popcnt"))) size_t CountBitsHw(const uint32_t* words, size_t n) {
  size_t c = 0, i = 0;
  for (; i + 2 <= n; i += 2) c += static_cast<size_t>(__builtin_popcountll(Pair(words + i)));
  if (i < n) c += static_cast<size_t>(__builtin_popcount(words[i]));
  return c;
}

__attribute__((target("popcnt"))) size_t CountCommonHw(const uint32_t* a, const uint32_t* b,
                                                        size_t n) {
  size_t c = 0, i = 0;
  for (; i + 2 <= n; i += 2) {
    c += static_cast<size_t>(__builtin_popcountll(Pair(a + i) & Pair(b + i)));
  }
  if (i < n) c += static_cast<size_t>(__builtin_popcount(a[i] & b[i]));
  return c;
}

bool HasPopcnt() {
  static const bool hw = __builtin_cpu_supports("popcnt");
  return hw;
}

template <typename Word>
size_t Count(const Word* words, size_t n) {
  return HasPopcnt() ? CountBitsHw(words, n) : CountBitsSwar(words, n);
}

size_t CountCommon(const uint32_t* a, const uint32_t* b, size_t n) {
  return HasPopcnt() ? CountCommonHw(a, b, n) : CountCommonSwar(a, b, n);
}
#else
template <typename Word>
size_t Count(const Word* words, size_t n) {
  return CountBitsSwar(words, n);
}

size_t CountCommon(const uint32_t* a, const uint32_t* b, size_t n) {
  return CountCommonSwar(a, b, n);
}
#endif

}  // namespace

size_t CountBits(const uint64_t* words, size_t n) { return Count(words, n); }

size_t CountBits(const uint32_t* words, size_t n) { return Count(words, n); }

size_t CountCommonBits(const uint32_t* a, const uint32_t* b, size_t n) {
  return CountCommon(a, b, n);
}

}  // namespace sieve
