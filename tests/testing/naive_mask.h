// The naive next-token mask: the oracle every fast mask path is compared against.
//
// For every token id it forks the matcher and calls AcceptToken: the bit is set exactly when that
// succeeds. It is slow (a fork per token) and obviously right, because it defines the mask by the
// matcher's own token semantics: padding and out-of-vocabulary ids are never allowed, special
// tokens only when they are stop tokens and the grammar can end here, other tokens when their bytes
// keep the input a valid prefix. Never use it outside tests.
#ifndef SIEVE_TESTS_TESTING_NAIVE_MASK_H_
#define SIEVE_TESTS_TESTING_NAIVE_MASK_H_

#include <cstddef>
#include <cstdint>
#include <vector>

#include "grammar/matcher.h"

namespace sieve {

// Writes `bitmask_words` uint32 words: bit i & 31 of word i >> 5 is 1 when token i is allowed.
void NaiveNextTokenBitmask(const GrammarMatcher& matcher, uint32_t* bitmask, size_t bitmask_words);

// Convenience: the mask as a vector of ceil(vocab size / 32) words (0 words without a vocabulary).
std::vector<uint32_t> NaiveNextTokenBitmask(const GrammarMatcher& matcher);

}  // namespace sieve

#endif  // SIEVE_TESTS_TESTING_NAIVE_MASK_H_
