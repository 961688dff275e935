// Word-level kernels over token bitmask rows (uint32 words, bit i & 31 of word i >> 5), the
// operations a mask fill spends its time in once the per-token work is gone.
//
// Each kernel is compiled twice (AVX2 and baseline x86-64) and picked at load time by the CPU
// (GCC target_clones), so one binary is fast on current servers and still runs everywhere.
// Rows must not overlap unless stated.
#ifndef SIEVE_GRAMMAR_BITMASK_H_
#define SIEVE_GRAMMAR_BITMASK_H_

#include <cstddef>
#include <cstdint>

namespace sieve {

// dst[i] |= src[i]
void OrWords(uint32_t* __restrict dst, const uint32_t* __restrict src, size_t words);
// dst[i] |= a[i] & ~b[i]
void OrAndNotWords(uint32_t* __restrict dst, const uint32_t* __restrict a,
                   const uint32_t* __restrict b, size_t words);
// dst[i] = (inside[i] & mask[i]) | (outside[i] & ~mask[i])
void BlendWords(uint32_t* __restrict dst, const uint32_t* __restrict inside,
                const uint32_t* __restrict outside, const uint32_t* __restrict mask, size_t words);
// Whether a[i] and b[i] agree on the bits of mask[i] for every i < words (stops at the first
// 64-word chunk that differs).
bool SameUnderMask(const uint32_t* a, const uint32_t* b, const uint32_t* mask, size_t words);
// Sets bit id of `row` for each id in ids[0, n).
void SetBits(uint32_t* row, const int32_t* ids, size_t n);
// Clears bit id of `row` for each id in ids[0, n).
void ClearBits(uint32_t* row, const int32_t* ids, size_t n);
// Bits set in words[0, n): the POPCNT instruction where the CPU has it (checked once at run time;
// without -mpopcnt the builtin is a libgcc call per word), else a SWAR count.
size_t CountBits(const uint64_t* words, size_t n);
size_t CountBits(const uint32_t* words, size_t n);
// Bits set in both a[0, n) and b[0, n), counted the same way.
size_t CountCommonBits(const uint32_t* a, const uint32_t* b, size_t n);

}  // namespace sieve

#endif  // SIEVE_GRAMMAR_BITMASK_H_
