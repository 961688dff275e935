// Time bounds in tests are on this thread's CPU time, so a loaded CI machine cannot fail them; and
// the budget a "quick" failure may take (sanitizers slow code down ~5x). Header only, standard
// library and POSIX only (the C API tests use it too).
#ifndef SIEVE_TESTS_TESTING_CPU_TIME_H_
#define SIEVE_TESTS_TESTING_CPU_TIME_H_

#include <time.h>

namespace sieve::testing {

inline double ThreadCpuMs() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
}

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
inline constexpr double kQuickCpuMs = 5000;
#else
inline constexpr double kQuickCpuMs = 1000;
#endif

}  // namespace sieve::testing

#endif  // SIEVE_TESTS_TESTING_CPU_TIME_H_
