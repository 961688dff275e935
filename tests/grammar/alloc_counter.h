// Live heap bytes of the whole process, from replaced global operator new/delete (alloc_counter.cc,
// linked only into the mask-cache test binary): the ground truth that MemorySize() is checked
// against. Counts malloc_usable_size, i.e. what the allocator really handed out.
#ifndef SIEVE_TESTS_GRAMMAR_ALLOC_COUNTER_H_
#define SIEVE_TESTS_GRAMMAR_ALLOC_COUNTER_H_

#include <cstdint>

namespace sieve::testing_alloc {

int64_t LiveBytes();

}  // namespace sieve::testing_alloc

#endif  // SIEVE_TESTS_GRAMMAR_ALLOC_COUNTER_H_
