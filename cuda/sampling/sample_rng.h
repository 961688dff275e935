// Counter-based randomness for token sampling, shared bit for bit by the GPU kernel (sample.cu)
// and the CPU sampler (decoder/sampler.cc).
//
// Philox-4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC'11): a keyed
// bijection of a 128-bit counter, ten rounds of 32x32->64 multiplies and xors. Key = the request's
// seed; counter = (token id, output index low, output index high, 0). Every (seed, output index,
// token id) gets its own uniform, so a choice depends only on the logits, the mask, the
// parameters and the seed: not on batch composition, thread count or the device.
//
// Gumbel noise g = -log(-log(u)) turns sampling into an argmax (argmax_i z_i + g_i is distributed
// as softmax(z)), which needs no sorted prefix sums and so is identical on both sides. The log is
// our own (frexp-style split + atanh series with IEEE round-to-nearest adds, multiplies and
// divides; no fused multiply-adds, which nvcc would otherwise contract) so the host and the
// device compute the same bits; accuracy ~1e-7 relative, ample for noise.
#ifndef SIEVE_CUDA_SAMPLING_SAMPLE_RNG_H_
#define SIEVE_CUDA_SAMPLING_SAMPLE_RNG_H_

#include <cstdint>
#include <cstring>

#if defined(__CUDACC__)
#define SIEVE_HD __host__ __device__ __forceinline__
#else
#define SIEVE_HD inline
#endif

namespace sieve::sampling {

struct Philox4 {
  uint32_t v[4];
};

SIEVE_HD void MulHiLo(uint32_t a, uint32_t b, uint32_t* hi, uint32_t* lo) {
  const uint64_t p = static_cast<uint64_t>(a) * static_cast<uint64_t>(b);
  *hi = static_cast<uint32_t>(p >> 32);
  *lo = static_cast<uint32_t>(p);
}

// Philox-4x32 with 10 rounds.
SIEVE_HD Philox4 Philox4x32(Philox4 ctr, uint32_t key0, uint32_t key1) {
  constexpr uint32_t kM0 = 0xD2511F53u, kM1 = 0xCD9E8D57u;
  constexpr uint32_t kW0 = 0x9E3779B9u, kW1 = 0xBB67AE85u;
  for (int round = 0; round < 10; ++round) {
    uint32_t hi0, lo0, hi1, lo1;
    MulHiLo(kM0, ctr.v[0], &hi0, &lo0);
    MulHiLo(kM1, ctr.v[2], &hi1, &lo1);
    Philox4 next;
    next.v[0] = hi1 ^ ctr.v[1] ^ key0;
    next.v[1] = lo1;
    next.v[2] = hi0 ^ ctr.v[3] ^ key1;
    next.v[3] = lo0;
    ctr = next;
    key0 += kW0;
    key1 += kW1;
  }
  return ctr;
}

// A uniform in the open interval (0, 1) for (seed, output index, token id): 24 random bits.
SIEVE_HD float TokenUniform(uint64_t seed, uint64_t index, uint32_t token) {
  Philox4 c{{token, static_cast<uint32_t>(index), static_cast<uint32_t>(index >> 32), 0u}};
  const Philox4 r = Philox4x32(c, static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32));
  return (static_cast<float>(r.v[0] >> 8) + 0.5f) * (1.0f / 16777216.0f);
}

#if defined(__CUDA_ARCH__)
SIEVE_HD float RnAdd(float a, float b) { return __fadd_rn(a, b); }
SIEVE_HD float RnMul(float a, float b) { return __fmul_rn(a, b); }
SIEVE_HD float RnDiv(float a, float b) { return __fdiv_rn(a, b); }
SIEVE_HD uint32_t FloatBits(float f) { return __float_as_uint(f); }
SIEVE_HD float BitsFloat(uint32_t u) { return __uint_as_float(u); }
#else
SIEVE_HD float RnAdd(float a, float b) { return a + b; }
SIEVE_HD float RnMul(float a, float b) { return a * b; }
SIEVE_HD float RnDiv(float a, float b) { return a / b; }
SIEVE_HD uint32_t FloatBits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof(u));
  return u;
}
SIEVE_HD float BitsFloat(uint32_t u) {
  float f;
  std::memcpy(&f, &u, sizeof(f));
  return f;
}
#endif

// Natural log of a positive normal float, the same bits on host and device. x = m * 2^e with m in
// [sqrt(1/2), sqrt(2)); log m = 2 atanh(s), s = (m-1)/(m+1), |s| < 0.172, series to s^11.
SIEVE_HD float PortableLog(float x) {
  const uint32_t bits = FloatBits(x);
  int32_t e = static_cast<int32_t>((bits >> 23) & 0xFF) - 127;
  float m = BitsFloat((bits & 0x007FFFFFu) | 0x3F800000u);  // [1, 2)
  if (m > 1.41421356f) {
    m = RnMul(m, 0.5f);
    e += 1;
  }
  const float s = RnDiv(RnAdd(m, -1.0f), RnAdd(m, 1.0f));
  const float s2 = RnMul(s, s);
  float poly = 1.0f / 11.0f;
  poly = RnAdd(RnMul(poly, s2), 1.0f / 9.0f);
  poly = RnAdd(RnMul(poly, s2), 1.0f / 7.0f);
  poly = RnAdd(RnMul(poly, s2), 1.0f / 5.0f);
  poly = RnAdd(RnMul(poly, s2), 1.0f / 3.0f);
  poly = RnAdd(RnMul(poly, s2), 1.0f);
  const float log_m = RnMul(RnMul(2.0f, s), poly);
  return RnAdd(RnMul(static_cast<float>(e), 0.693147180559945f), log_m);
}

// Gumbel(0, 1) noise for (seed, output index, token id).
SIEVE_HD float GumbelNoise(uint64_t seed, uint64_t index, uint32_t token) {
  const float u = TokenUniform(seed, index, token);
  return -PortableLog(-PortableLog(u));
}

// A total order on floats as unsigned keys (larger float -> larger key; -0 < +0).
SIEVE_HD uint32_t OrderedKey(float f) {
  const uint32_t u = FloatBits(f);
  return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}
SIEVE_HD float KeyToFloat(uint32_t key) {
  return BitsFloat((key & 0x80000000u) ? (key & 0x7FFFFFFFu) : ~key);
}

}  // namespace sieve::sampling

#undef SIEVE_HD

#endif  // SIEVE_CUDA_SAMPLING_SAMPLE_RNG_H_
