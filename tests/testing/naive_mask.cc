// The naive next-token mask (see naive_mask.h).
#include "tests/testing/naive_mask.h"

#include <cstring>

namespace sieve {

void NaiveNextTokenBitmask(const GrammarMatcher& matcher, uint32_t* bitmask, size_t bitmask_words) {
  std::memset(bitmask, 0, bitmask_words * sizeof(uint32_t));
  const Vocabulary* vocab = matcher.vocabulary();
  if (vocab == nullptr) return;
  for (size_t i = 0; i < vocab->size() && i < bitmask_words * 32; ++i) {
    GrammarMatcher fork = matcher.Fork();
    if (fork.AcceptToken(static_cast<int32_t>(i))) bitmask[i >> 5] |= uint32_t{1} << (i & 31);
  }
}

std::vector<uint32_t> NaiveNextTokenBitmask(const GrammarMatcher& matcher) {
  const Vocabulary* vocab = matcher.vocabulary();
  std::vector<uint32_t> mask(vocab == nullptr ? 0 : (vocab->size() + 31) / 32);
  NaiveNextTokenBitmask(matcher, mask.data(), mask.size());
  return mask;
}

}  // namespace sieve
