// ContentHasher: a fast, non-cryptographic 64-bit hash of byte content, for cache keys (compiled
// grammars by text or IR, vocabularies by contents).
//
// Eight bytes at a time through a multiply-xorshift mix (the wyhash / splitmix family), with the
// length folded in at the end so that "ab"+"c" and "a"+"bc" fed as separate Add() calls hash the
// same as one call only when the concatenation and the call boundaries agree (each Add mixes its
// own length). Collisions are possible in principle: caches that use it also compare the keyed
// content before trusting a hit.
#ifndef SIEVE_GRAMMAR_CONTENT_HASH_H_
#define SIEVE_GRAMMAR_CONTENT_HASH_H_

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace sieve {

class ContentHasher {
 public:
  explicit ContentHasher(uint64_t seed = 0x5ca1ab1e0ddba11ull) : h_(seed) {}

  void Add(const void* data, size_t n) {
    const auto* p = static_cast<const unsigned char*>(data);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
      uint64_t w;
      std::memcpy(&w, p + i, 8);
      Mix(w);
    }
    uint64_t tail = 0;
    if (i < n) std::memcpy(&tail, p + i, n - i);
    Mix(tail ^ (static_cast<uint64_t>(n) << 56));
  }
  void Add(std::string_view s) { Add(s.data(), s.size()); }
  void AddU64(uint64_t v) { Mix(v ^ 0x9e3779b97f4a7c15ull); }

  uint64_t Finish() const {
    uint64_t x = h_;
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    return x ^ (x >> 33);
  }

 private:
  void Mix(uint64_t w) {
    h_ ^= w + 0x9e3779b97f4a7c15ull + (h_ << 6) + (h_ >> 2);
    h_ *= 0xbf58476d1ce4e5b9ull;
    h_ ^= h_ >> 31;
  }
  uint64_t h_;
};

}  // namespace sieve

#endif  // SIEVE_GRAMMAR_CONTENT_HASH_H_
