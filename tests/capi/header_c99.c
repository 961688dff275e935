/* Proves include/sieve/sieve.h compiles as strict C99 (-std=c99 -pedantic -Werror). */
#include "sieve/sieve.h"

int sieve_c99_header_check(void);
int sieve_c99_header_check(void) {
  sieve_vocab* vocab = 0;
  const sieve_error* err = 0;
  (void)vocab;
  (void)err;
  return SIEVE_OK + SIEVE_VERSION_MAJOR;
}
