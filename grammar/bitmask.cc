// Bitmask kernels (see bitmask.h). Plain loops the compiler vectorises; target_clones gives each an
// AVX2 body next to the baseline one on x86-64.
#include "grammar/bitmask.h"

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

void SetBits(uint32_t* row, const int32_t* ids, size_t n) {
  for (size_t i = 0; i < n; ++i) row[ids[i] >> 5] |= uint32_t{1} << (ids[i] & 31);
}

void ClearBits(uint32_t* row, const int32_t* ids, size_t n) {
  for (size_t i = 0; i < n; ++i) row[ids[i] >> 5] &= ~(uint32_t{1} << (ids[i] & 31));
}

}  // namespace sieve
