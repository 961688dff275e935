// Element types of checkpoint tensors and the scalar conversions between them.
//
// The decoder stores weights as bf16 (the hub format), reads fp16 and fp32 checkpoints, and
// computes its CPU reference in fp32. This header names those types (with the safetensors spellings
// "BF16", "F16", "F32") and converts single values:
//   * Bf16ToF32 is exact (bf16 is the top half of an fp32).
//   * F32ToBf16 rounds to nearest, ties to even (what torch's `.to(torch.bfloat16)` does); NaN
//     stays a quiet NaN with its sign, +-inf stay infinite, and values that round past the
//     largest finite bf16 become +-inf, as IEEE rounding requires.
//   * F16ToF32 is exact, subnormals, infinities and NaNs included; F32ToF16 rounds to nearest even
//     (subnormal results included) and overflows to +-inf.
// Raw-byte helpers read through memcpy so a tensor in a mapped file need not be aligned.
#ifndef SIEVE_DECODER_DTYPE_H_
#define SIEVE_DECODER_DTYPE_H_

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string_view>

namespace sieve {

enum class DType { kBF16, kF16, kF32 };

constexpr size_t DTypeSize(DType t) { return t == DType::kF32 ? 4 : 2; }

// The safetensors spelling: "BF16", "F16", "F32".
const char* DTypeName(DType t);
// Inverse of DTypeName; nullopt for any other string.
std::optional<DType> DTypeFromName(std::string_view name);

inline float Bf16ToF32(uint16_t b) {
  uint32_t u = static_cast<uint32_t>(b) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

inline uint16_t F32ToBf16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) {  // NaN: keep sign and force a quiet NaN
    return static_cast<uint16_t>((u >> 16) | 0x0040u);
  }
  // Round to nearest even: add 0x7fff plus the lowest kept bit; a carry into the exponent is the
  // correct result (including overflow to infinity).
  uint32_t lsb = (u >> 16) & 1u;
  u += 0x7fffu + lsb;
  return static_cast<uint16_t>(u >> 16);
}

inline float F16ToF32(uint16_t h) {
  uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1fu;
  uint32_t man = h & 0x3ffu;
  uint32_t u;
  if (exp == 0x1f) {
    u = sign | 0x7f800000u | (man << 13);  // inf or NaN (payload kept)
  } else if (exp != 0) {
    u = sign | ((exp + 112) << 23) | (man << 13);  // normal: rebias 15 -> 127
  } else if (man == 0) {
    u = sign;  // +-0
  } else {
    // Subnormal: value = man * 2^-24; normalise the mantissa.
    int e = -1;
    do {
      man <<= 1;
      ++e;
    } while ((man & 0x400u) == 0);
    u = sign | (static_cast<uint32_t>(112 - e) << 23) | ((man & 0x3ffu) << 13);
  }
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

// Converts `n` elements of `type` at `src` (any alignment) to fp32.
void ConvertToF32(DType type, const void* src, size_t n, float* dst);
uint16_t F32ToF16(float f);

// Converts `n` fp32 values to `type` (rounding to nearest even).
void ConvertFromF32(DType type, const float* src, size_t n, void* dst);

}  // namespace sieve

#endif  // SIEVE_DECODER_DTYPE_H_
