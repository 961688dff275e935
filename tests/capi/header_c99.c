/* Proves include/sieve/sieve.h compiles as strict C99 (-std=c99 -pedantic -Werror), and that its
 * types and declarations are usable from C: every handle, options struct and enum is named here. */
#include "sieve/sieve.h"

int sieve_c99_header_check(void);
int sieve_c99_header_check(void) {
  sieve_vocab* vocab = 0;
  sieve_compiler* compiler = 0;
  sieve_grammar* grammar = 0;
  sieve_matcher* matcher = 0;
  const sieve_error* err = 0;
  sieve_grammar_options gopts;
  sieve_compiler_options copts;
  sieve_json_schema_options jopts;
  sieve_openai_options oopts;
  sieve_matcher_options mopts;
  sieve_compiler_stats cstats;
  sieve_schema_note note;
  sieve_note_kind kind = SIEVE_NOTE_IGNORED;
  sieve_json_whitespace ws = SIEVE_JSON_WS_INDENT;
  sieve_json_property_order order = SIEVE_JSON_ORDER_ANY;
  sieve_status (*batch)(sieve_matcher* const*, size_t, uint32_t*, size_t, int32_t) =
      sieve_matcher_fill_next_token_bitmask_batch;
  sieve_status (*load)(const char*, size_t, const sieve_vocab*, sieve_grammar**) =
      sieve_grammar_deserialize;
  gopts.struct_size = sizeof gopts;
  copts.struct_size = sizeof copts;
  jopts.struct_size = sizeof jopts;
  oopts.struct_size = sizeof oopts;
  mopts.struct_size = sizeof mopts;
  cstats.struct_size = sizeof cstats;
  note.struct_size = sizeof note;
  (void)vocab;
  (void)compiler;
  (void)grammar;
  (void)matcher;
  (void)err;
  (void)batch;
  (void)load;
  return SIEVE_OK + SIEVE_VERSION_MAJOR + (int)kind + (int)ws + (int)order;
}
