// DType names and bulk conversions; see dtype.h.
#include "decoder/dtype.h"

namespace sieve {

const char* DTypeName(DType t) {
  switch (t) {
    case DType::kBF16:
      return "BF16";
    case DType::kF16:
      return "F16";
    case DType::kF32:
      return "F32";
  }
  return "?";
}

std::optional<DType> DTypeFromName(std::string_view name) {
  if (name == "BF16") return DType::kBF16;
  if (name == "F16") return DType::kF16;
  if (name == "F32") return DType::kF32;
  return std::nullopt;
}

uint16_t F32ToF16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  uint16_t sign = static_cast<uint16_t>((u >> 16) & 0x8000u);
  uint32_t abs = u & 0x7fffffffu;
  if (abs > 0x7f800000u) return static_cast<uint16_t>(sign | 0x7e00u | ((abs >> 13) & 0x3ffu));
  if (abs >= 0x477ff000u) return static_cast<uint16_t>(sign | 0x7c00u);  // rounds to >= 65520: inf
  int32_t exp = static_cast<int32_t>(abs >> 23) - 127;
  if (exp >= -14) {
    // Normal half: keep 10 mantissa bits, round to nearest even on the 13 dropped bits.
    uint32_t rebased = abs - (112u << 23);  // exponent 127-bias -> 15-bias
    uint32_t lsb = (rebased >> 13) & 1u;
    rebased += 0xfffu + lsb;
    return static_cast<uint16_t>(sign | (rebased >> 13));
  }
  if (exp < -25) return sign;  // below half of the smallest subnormal: +-0
  // Subnormal half: value = m * 2^-24 with m = round(abs_value * 2^24).
  uint32_t man = (abs & 0x7fffffu) | 0x800000u;  // 24-bit significand, value = man * 2^(exp-23)
  int shift = -exp - 1;                          // man * 2^(exp-23) / 2^-24 = man >> (-1 - exp)
  uint32_t kept = man >> shift;
  uint32_t rem = man & ((1u << shift) - 1u);
  uint32_t half = 1u << (shift - 1);
  if (rem > half || (rem == half && (kept & 1u))) ++kept;
  return static_cast<uint16_t>(sign | kept);
}

void ConvertToF32(DType type, const void* src, size_t n, float* dst) {
  const auto* p = static_cast<const uint8_t*>(src);
  switch (type) {
    case DType::kF32:
      std::memcpy(dst, p, n * 4);
      return;
    case DType::kBF16:
      for (size_t i = 0; i < n; ++i) {
        uint16_t v;
        std::memcpy(&v, p + 2 * i, 2);
        dst[i] = Bf16ToF32(v);
      }
      return;
    case DType::kF16:
      for (size_t i = 0; i < n; ++i) {
        uint16_t v;
        std::memcpy(&v, p + 2 * i, 2);
        dst[i] = F16ToF32(v);
      }
      return;
  }
}

void ConvertFromF32(DType type, const float* src, size_t n, void* dst) {
  auto* p = static_cast<uint8_t*>(dst);
  switch (type) {
    case DType::kF32:
      std::memcpy(p, src, n * 4);
      return;
    case DType::kBF16:
      for (size_t i = 0; i < n; ++i) {
        uint16_t v = F32ToBf16(src[i]);
        std::memcpy(p + 2 * i, &v, 2);
      }
      return;
    case DType::kF16:
      for (size_t i = 0; i < n; ++i) {
        uint16_t v = F32ToF16(src[i]);
        std::memcpy(p + 2 * i, &v, 2);
      }
      return;
  }
}

}  // namespace sieve
