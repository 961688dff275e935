// Scalar dtype conversions: bf16 and f16 against independent oracles and hand-picked edge cases.
#include "decoder/dtype.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>

namespace sieve {
namespace {

uint32_t Bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}
float FromBits(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

// Oracle: of the two bf16 neighbours of f, the nearer one (ties to the even mantissa), chosen by
// exact double arithmetic.
uint16_t Bf16Oracle(float f) {
  const uint16_t lo = static_cast<uint16_t>(Bits(f) >> 16);
  const uint16_t hi = static_cast<uint16_t>(lo + 1);
  const double dlo = std::fabs(static_cast<double>(f) - Bf16ToF32(lo));
  const double dhi = std::fabs(static_cast<double>(f) - Bf16ToF32(hi));
  if (dlo < dhi) return lo;
  if (dhi < dlo) return hi;
  return (lo & 1) ? hi : lo;
}

TEST(Dtype, Bf16RoundsTiesToEven) {
  EXPECT_EQ(F32ToBf16(FromBits(0x3f808000u)), 0x3f80);  // tie, even below
  EXPECT_EQ(F32ToBf16(FromBits(0x3f818000u)), 0x3f82);  // tie, even above
  EXPECT_EQ(F32ToBf16(FromBits(0x3f808001u)), 0x3f81);  // just above the tie
  EXPECT_EQ(F32ToBf16(FromBits(0x3f807fffu)), 0x3f80);  // just below the tie
  EXPECT_EQ(F32ToBf16(1.0f), 0x3f80);
  EXPECT_EQ(F32ToBf16(-2.0f), 0xc000);
}

TEST(Dtype, Bf16MatchesNearestNeighbourOracleOnRandomFloats) {
  std::mt19937 rng(7);
  int checked = 0;
  for (int i = 0; i < 200000; ++i) {
    const float f = FromBits(rng());
    if (!std::isfinite(f) || std::fabs(f) > 3.3e38f) continue;  // overflow cases tested separately
    ASSERT_EQ(F32ToBf16(f), Bf16Oracle(f)) << std::hexfloat << f;
    ++checked;
  }
  EXPECT_GT(checked, 150000);
}

TEST(Dtype, Bf16KeepsInfinitiesAndNansAndOverflowsToInfinity) {
  const float inf = std::numeric_limits<float>::infinity();
  EXPECT_EQ(F32ToBf16(inf), 0x7f80);
  EXPECT_EQ(F32ToBf16(-inf), 0xff80);
  EXPECT_EQ(F32ToBf16(std::numeric_limits<float>::max()), 0x7f80);
  const uint16_t nan = F32ToBf16(FromBits(0x7f800001u));  // signalling NaN with a low payload
  EXPECT_TRUE(std::isnan(Bf16ToF32(nan)));
  EXPECT_TRUE(std::isnan(Bf16ToF32(F32ToBf16(-std::nanf("")))));
  EXPECT_TRUE(std::signbit(Bf16ToF32(F32ToBf16(-std::nanf("")))));
}

TEST(Dtype, EveryFiniteBf16SurvivesARoundTripThroughF32) {
  for (uint32_t b = 0; b < 0x10000; ++b) {
    const float f = Bf16ToF32(static_cast<uint16_t>(b));
    if (std::isnan(f)) continue;
    ASSERT_EQ(F32ToBf16(f), b);
  }
}

TEST(Dtype, F16DecodesNormalsSubnormalsAndSpecials) {
  EXPECT_EQ(F16ToF32(0x3c00), 1.0f);
  EXPECT_EQ(F16ToF32(0xc000), -2.0f);
  EXPECT_EQ(F16ToF32(0x7bff), 65504.0f);
  EXPECT_EQ(F16ToF32(0x0001), std::ldexp(1.0f, -24));
  EXPECT_EQ(F16ToF32(0x03ff), std::ldexp(1023.0f, -24));
  EXPECT_EQ(F16ToF32(0x0400), std::ldexp(1.0f, -14));
  EXPECT_TRUE(std::signbit(F16ToF32(0x8000)));
  EXPECT_EQ(F16ToF32(0x7c00), std::numeric_limits<float>::infinity());
  EXPECT_TRUE(std::isnan(F16ToF32(0x7e00)));
}

TEST(Dtype, EveryF16SurvivesARoundTripAndHalfwayValuesRoundToEven) {
  for (uint32_t h = 0; h < 0x10000; ++h) {
    const float f = F16ToF32(static_cast<uint16_t>(h));
    if (std::isnan(f)) continue;
    ASSERT_EQ(F32ToF16(f), h) << h;
  }
  EXPECT_EQ(F32ToF16(65519.0f), 0x7bff);
  EXPECT_EQ(F32ToF16(65520.0f), 0x7c00);               // halfway to 65536 rounds to even = inf
  EXPECT_EQ(F32ToF16(std::ldexp(1.0f, -25)), 0x0000);  // half the smallest subnormal: even = 0
  EXPECT_EQ(F32ToF16(std::ldexp(1.5f, -25)), 0x0001);
  EXPECT_EQ(F32ToF16(std::ldexp(3.0f, -25)), 0x0002);         // 1.5 ulp: tie between 1 and 2 -> 2
  EXPECT_EQ(F32ToF16(1.0f + std::ldexp(1.0f, -11)), 0x3c00);  // tie -> even
}

TEST(Dtype, NamesRoundTripAndUnknownNamesAreRejected) {
  for (DType t : {DType::kBF16, DType::kF16, DType::kF32}) {
    EXPECT_EQ(DTypeFromName(DTypeName(t)), t);
  }
  EXPECT_FALSE(DTypeFromName("F64").has_value());
  EXPECT_FALSE(DTypeFromName("bf16").has_value());
}

}  // namespace
}  // namespace sieve
