// The word kernels of bitmask.h against plain per-bit loops, on random rows of lengths around the
// kernels' chunk and pair boundaries (and the Llama-3 row of 4,008 words).
#include "grammar/bitmask.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <vector>

namespace sieve {
namespace {

constexpr size_t kLengths[] = {0, 1, 2, 3, 63, 64, 65, 127, 128, 129, 4008};

std::vector<uint32_t> RandomRow(std::mt19937* rng, size_t n) {
  std::vector<uint32_t> row(n);
  for (uint32_t& w : row) w = static_cast<uint32_t>((*rng)());
  return row;
}

size_t NaiveCount(const std::vector<uint32_t>& row) {
  size_t c = 0;
  for (const uint32_t w : row) {
    for (int b = 0; b < 32; ++b) c += w >> b & 1;
  }
  return c;
}

TEST(Bitmask, CountBitsMatchesPerBitCount) {
  std::mt19937 rng(7);
  for (const size_t n : kLengths) {
    SCOPED_TRACE(n);
    const std::vector<uint32_t> row = RandomRow(&rng, n);
    EXPECT_EQ(CountBits(row.data(), n), NaiveCount(row));
    std::vector<uint64_t> wide((n + 1) / 2, 0);
    for (size_t i = 0; i < n; ++i) wide[i / 2] |= uint64_t{row[i]} << (32 * (i % 2));
    EXPECT_EQ(CountBits(wide.data(), wide.size()), NaiveCount(row));
    const std::vector<uint32_t> other = RandomRow(&rng, n);
    std::vector<uint32_t> both(n);
    for (size_t i = 0; i < n; ++i) both[i] = row[i] & other[i];
    EXPECT_EQ(CountCommonBits(row.data(), other.data(), n), NaiveCount(both));
  }
}

TEST(Bitmask, BlendWordsTakesInsideBitsUnderTheMask) {
  std::mt19937 rng(11);
  for (const size_t n : kLengths) {
    SCOPED_TRACE(n);
    const std::vector<uint32_t> inside = RandomRow(&rng, n), outside = RandomRow(&rng, n);
    const std::vector<uint32_t> mask = RandomRow(&rng, n);
    std::vector<uint32_t> out(n, 0xdeadbeef);
    BlendWords(out.data(), inside.data(), outside.data(), mask.data(), n);
    for (size_t i = 0; i < n; ++i) {
      for (int b = 0; b < 32; ++b) {
        const uint32_t from = (mask[i] >> b & 1) ? inside[i] : outside[i];
        ASSERT_EQ(out[i] >> b & 1, from >> b & 1) << "word " << i << " bit " << b;
      }
    }
  }
}

TEST(Bitmask, SameUnderMaskSeesOnlyMaskedDifferences) {
  std::mt19937 rng(13);
  for (const size_t n : kLengths) {
    SCOPED_TRACE(n);
    const std::vector<uint32_t> a = RandomRow(&rng, n), mask = RandomRow(&rng, n);
    std::vector<uint32_t> b = a;
    EXPECT_TRUE(SameUnderMask(a.data(), b.data(), mask.data(), n));
    // A difference outside the mask at every word: still the same.
    for (size_t i = 0; i < n; ++i) b[i] ^= ~mask[i];
    EXPECT_TRUE(SameUnderMask(a.data(), b.data(), mask.data(), n));
    // One masked bit flipped, at each position in turn (first word, chunk edges, last word).
    for (size_t i = 0; i < n; ++i) {
      if (mask[i] == 0) continue;
      const uint32_t bit = mask[i] & (0u - mask[i]);
      b[i] ^= bit;
      ASSERT_FALSE(SameUnderMask(a.data(), b.data(), mask.data(), n)) << "word " << i;
      b[i] ^= bit;
    }
    EXPECT_TRUE(SameUnderMask(a.data(), b.data(), mask.data(), n));
  }
}

}  // namespace
}  // namespace sieve
