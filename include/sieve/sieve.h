/* sieve.h: the C API of sieve, a structured-generation engine.
 *
 * Conventions (every declaration below follows them):
 *  - Functions are sieve_<noun>_<verb>. Handles are opaque. sieve_<noun>_create(..., **out) stores a new
 *    handle in *out that the caller owns and releases with sieve_<noun>_free (NULL is a no-op).
 *  - Every fallible call returns sieve_status: < 0 error, 0 OK, > 0 informational. On error, *out is set
 *    to NULL and sieve_last_error() (thread-local) says what went wrong, where (byte offset, line:column,
 *    JSON pointer) and why. No exception crosses this boundary; bad input never aborts the process.
 *  - Options structs begin with struct_size (set it to sizeof the struct); newer fields are appended.
 *  - Hot paths write into caller-provided buffers.
 *  - Vocabularies are immutable, reference-counted and safe to share between threads.
 *
 * This header compiles as C99 and as C++.
 */
#ifndef SIEVE_SIEVE_H_
#define SIEVE_SIEVE_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(SIEVE_BUILDING_LIBRARY)
#define SIEVE_API __attribute__((visibility("default")))
#else
#define SIEVE_API
#endif

#define SIEVE_VERSION_MAJOR 0
#define SIEVE_VERSION_MINOR 1
#define SIEVE_VERSION_PATCH 0
#define SIEVE_VERSION_STRING "0.1.0"

typedef enum sieve_status {
  SIEVE_OK = 0,
  SIEVE_REJECTED = 1,               /* informational: the input was well-formed but not accepted */
  SIEVE_ERR_INVALID_ARGUMENT = -1,  /* bad caller input (NULL handle, out-of-range id, small buffer) */
  SIEVE_ERR_PARSE = -2,             /* malformed grammar / schema / regex / JSON text */
  SIEVE_ERR_UNSUPPORTED = -3,       /* valid input sieve cannot enforce */
  SIEVE_ERR_LIMIT = -4,             /* a configured limit was exceeded */
  SIEVE_ERR_IO = -5,                /* a file is missing or unreadable */
  SIEVE_ERR_FORMAT = -6,            /* a file's content is wrong */
  SIEVE_ERR_CUDA = -7,              /* a CUDA call failed */
  SIEVE_ERR_INTERNAL = -8           /* a bug in sieve */
} sieve_status;

/* ---- version and errors ---------------------------------------------------------------------------- */

/* The library's version string, e.g. "0.1.0". Static storage; never NULL. */
SIEVE_API const char* sieve_version(void);

typedef struct sieve_error {
  sieve_status status;    /* the status of the last failed call on this thread (SIEVE_OK if none) */
  const char* message;    /* human-readable, never NULL ("" when none) */
  int64_t offset;         /* byte offset into the input text, -1 when unknown */
  int32_t line;           /* 1-based line, 0 when unknown */
  int32_t column;         /* 1-based column, 0 when unknown */
  const char* json_pointer; /* JSON pointer into a schema, "" when none */
} sieve_error;

/* The last error raised on the calling thread. The pointers stay valid until the next failing sieve call
 * on this thread. Never NULL. */
SIEVE_API const sieve_error* sieve_last_error(void);

/* Static name of a status code, e.g. "parse error". Never NULL. */
SIEVE_API const char* sieve_status_name(sieve_status status);

/* ---- vocabulary / tokenizer ---------------------------------------------------------------------------- */

typedef struct sieve_vocab sieve_vocab;

typedef enum sieve_vocab_kind {
  SIEVE_VOCAB_BYTE_LEVEL = 0,    /* GPT-2 byte-level BPE (Llama-3, Qwen, DeepSeek) */
  SIEVE_VOCAB_SENTENCEPIECE = 1, /* U+2581 spaces, <0xNN> byte fallback */
  SIEVE_VOCAB_RAW = 2            /* token bytes supplied by the caller */
} sieve_vocab_kind;

/* Per-token flags (sieve_vocab_token_flags). */
#define SIEVE_TOKEN_SPECIAL 0x01u
#define SIEVE_TOKEN_ADDED 0x02u
#define SIEVE_TOKEN_STOP 0x04u
#define SIEVE_TOKEN_PADDING 0x08u
#define SIEVE_TOKEN_BYTE_FALLBACK 0x10u

/* Loads a Hugging Face tokenizer: `path` is tokenizer.json or a folder holding it (tokenizer_config.json
 * beside it is read when present). The vocabulary can encode and decode text. Caller owns *out. */
SIEVE_API sieve_status sieve_vocab_create_from_file(const char* path, sieve_vocab** out);

/* Builds a vocabulary from raw token bytes, for users with their own tokenizer. tokens[i] points to
 * token_lens[i] bytes (copied). flags may be NULL (all normal) or n_tokens SIEVE_TOKEN_* masks.
 * model_vocab_size >= n_tokens (the extra ids are padding, never allowed). Encode is unavailable on
 * such a vocabulary. Caller owns *out. */
SIEVE_API sieve_status sieve_vocab_create_from_tokens(const char* const* tokens, const size_t* token_lens,
                                                      const uint32_t* flags, size_t n_tokens,
                                                      size_t model_vocab_size, sieve_vocab** out);

/* Adds a reference; returns `vocab`. NULL-safe. */
SIEVE_API sieve_vocab* sieve_vocab_retain(sieve_vocab* vocab);
/* Drops a reference; frees at zero. NULL is a no-op. */
SIEVE_API void sieve_vocab_free(sieve_vocab* vocab);

/* Number of ids (padding included). 0 for NULL. */
SIEVE_API size_t sieve_vocab_size(const sieve_vocab* vocab);
SIEVE_API sieve_vocab_kind sieve_vocab_get_kind(const sieve_vocab* vocab);
/* SIEVE_TOKEN_* flags of `id`; 0 for an out-of-range id. */
SIEVE_API uint32_t sieve_vocab_token_flags(const sieve_vocab* vocab, int32_t id);
/* Raw bytes of token `id`: *bytes points into the vocabulary (valid while it lives). */
SIEVE_API sieve_status sieve_vocab_token_bytes(const sieve_vocab* vocab, int32_t id, const char** bytes,
                                               size_t* len);
/* Stop-token ids. Writes up to `cap` ids to `ids` (may be NULL when cap is 0); *n_out = total count. */
SIEVE_API sieve_status sieve_vocab_stop_tokens(const sieve_vocab* vocab, int32_t* ids, size_t cap,
                                               size_t* n_out);

/* Encodes UTF-8 text (special-token text becomes special ids when allow_special != 0). Writes up to
 * `cap` ids; *n_out = the number of ids the text needs. If *n_out > cap, the output is truncated and the
 * call returns SIEVE_ERR_INVALID_ARGUMENT so that callers can retry with a larger buffer. */
SIEVE_API sieve_status sieve_vocab_encode(const sieve_vocab* vocab, const char* text, size_t text_len,
                                          int allow_special, int32_t* ids, size_t cap, size_t* n_out);
/* Decodes ids to bytes. Writes up to `cap` bytes (no terminator); *n_out = bytes needed; returns
 * SIEVE_ERR_INVALID_ARGUMENT when cap is too small, or for an id out of range. */
SIEVE_API sieve_status sieve_vocab_decode(const sieve_vocab* vocab, const int32_t* ids, size_t n_ids,
                                          char* out, size_t cap, size_t* n_out);
/* One-line description of the tokenizer model ("BPE (byte-level), pre-tokenizer llama3, ..."). Static
 * for the vocabulary's lifetime. */
SIEVE_API const char* sieve_vocab_describe(const sieve_vocab* vocab);


/* ---- compiled grammars ------------------------------------------------------------------------------ */

typedef struct sieve_grammar sieve_grammar;

typedef struct sieve_grammar_options {
  size_t struct_size;      /* sizeof(sieve_grammar_options) */
  const char* root;        /* root rule name; NULL = "root" */
  const sieve_vocab* vocab; /* vocabulary the grammar's matchers will mask; NULL = bytes only. The
                              grammar keeps its own reference. */
  int ignore_lookahead;    /* nonzero: treat `(= ...)` lookahead assertions as hints (XGrammar's
                              convention); zero: a grammar that uses one is SIEVE_ERR_UNSUPPORTED */
  int32_t max_nesting_depth; /* grammar text nesting limit; 0 = default (1000) */
} sieve_grammar_options;

/* Fills `opts` with defaults (struct_size set). */
SIEVE_API void sieve_grammar_options_init(sieve_grammar_options* opts);

/* Compiles EBNF / GBNF text (llama.cpp GBNF and XGrammar EBNF are read unchanged) into a pushdown
 * automaton. opts may be NULL (defaults). Errors: SIEVE_ERR_PARSE with line:column, SIEVE_ERR_LIMIT,
 * SIEVE_ERR_UNSUPPORTED (e.g. left recursion that cannot be rewritten; the cycle is named).
 * Caller owns *out; the grammar is immutable and may be shared between threads. */
SIEVE_API sieve_status sieve_grammar_compile_ebnf(const char* text, size_t text_len,
                                                  const sieve_grammar_options* opts,
                                                  sieve_grammar** out);
/* Compiles an ECMA-262-style regular expression with JSON Schema `pattern` semantics (unanchored unless
 * written ^...$) into a grammar; opts->root is ignored. Backreferences, lookaround and \b are
 * SIEVE_ERR_UNSUPPORTED with the construct's byte offset. Caller owns *out. */
SIEVE_API sieve_status sieve_grammar_compile_regex(const char* pattern, size_t pattern_len,
                                                   const sieve_grammar_options* opts,
                                                   sieve_grammar** out);
SIEVE_API sieve_grammar* sieve_grammar_retain(sieve_grammar* grammar);
SIEVE_API void sieve_grammar_free(sieve_grammar* grammar);

typedef struct sieve_grammar_stats {
  size_t struct_size;        /* set by the caller to sizeof(sieve_grammar_stats) */
  int32_t rules;             /* rules as written */
  int32_t live_rules;        /* rules in the automaton (after simplify, synthesized ones included) */
  int32_t counted_rules;     /* bounded repetitions compiled to counters instead of unrolled */
  int64_t nfa_states;        /* before determinisation */
  int64_t dfa_states;        /* after determinisation, before merging */
  int64_t states;            /* after equivalent-state merging and trimming */
  size_t memory_bytes;       /* automaton bytes */
  double compile_ms;         /* parse + simplify + automaton */
  size_t num_warnings;       /* see sieve_grammar_warning */
} sieve_grammar_stats;

SIEVE_API sieve_status sieve_grammar_get_stats(const sieve_grammar* grammar, sieve_grammar_stats* out);
/* The i-th compile warning (e.g. an unused rule with its line); NULL when out of range. Valid while the
 * grammar lives. */
SIEVE_API const char* sieve_grammar_warning(const sieve_grammar* grammar, size_t i);
/* The grammar printed back as EBNF: as written (simplified = 0) or after simplification (nonzero).
 * Writes up to cap bytes; *n_out = bytes needed (error when cap is too small). */
SIEVE_API sieve_status sieve_grammar_print(const sieve_grammar* grammar, int simplified, char* out,
                                           size_t cap, size_t* n_out);

/* ---- matchers ----------------------------------------------------------------------------------------- */

typedef struct sieve_matcher sieve_matcher;

typedef struct sieve_matcher_options {
  size_t struct_size;           /* sizeof(sieve_matcher_options) */
  int32_t max_rollback_tokens;  /* history kept for rollback; 0 = default (64) */
} sieve_matcher_options;

SIEVE_API void sieve_matcher_options_init(sieve_matcher_options* opts);

/* A matcher walks `grammar` token by token. It keeps its own reference to the grammar. One thread at a
 * time per matcher (forks share internal state: keep a matcher and its forks on one thread). */
SIEVE_API sieve_status sieve_matcher_create(const sieve_grammar* grammar,
                                            const sieve_matcher_options* opts, sieve_matcher** out);
SIEVE_API void sieve_matcher_free(sieve_matcher* matcher);

/* Accepts one token of the grammar's vocabulary. SIEVE_OK: accepted; SIEVE_REJECTED: not accepted
 * (the matcher is unchanged); < 0: error (no vocabulary, id out of range). A stop token is accepted
 * only where the grammar can end; it terminates the matcher. */
SIEVE_API sieve_status sieve_matcher_accept_token(sieve_matcher* matcher, int32_t id);
/* Accepts raw bytes (one history step). SIEVE_OK or SIEVE_REJECTED (matcher unchanged). */
SIEVE_API sieve_status sieve_matcher_accept_string(sieve_matcher* matcher, const char* bytes,
                                                   size_t len);
/* Nonzero when a stop token has been accepted. */
SIEVE_API int sieve_matcher_is_terminated(const sieve_matcher* matcher);
/* Nonzero when the input so far is a complete sentence of the grammar. */
SIEVE_API int sieve_matcher_can_terminate(const sieve_matcher* matcher);
/* Undoes the last n accepted steps (tokens or strings); error when n exceeds the kept history. */
SIEVE_API sieve_status sieve_matcher_rollback(sieve_matcher* matcher, int32_t n);
SIEVE_API void sieve_matcher_reset(sieve_matcher* matcher);
/* A new matcher in the same state (cheap: stacks are shared). Caller owns *out. */
SIEVE_API sieve_status sieve_matcher_fork(const sieve_matcher* matcher, sieve_matcher** out);
/* The longest byte string every continuation must start with. *bytes points into the matcher (valid
 * until its next call). */
SIEVE_API sieve_status sieve_matcher_jump_forward(sieve_matcher* matcher, const char** bytes,
                                                  size_t* len);
/* Writes the next-token bitmask: `words` uint32 words (>= ceil(vocab size / 32); a wider mask covers a
 * padded model vocabulary), bit (id & 31) of word (id >> 5), 1 = allowed. Padding ids and ids past the
 * vocabulary are 0; special tokens are 0 except stop tokens where the grammar can end. */
SIEVE_API sieve_status sieve_matcher_fill_next_token_bitmask(sieve_matcher* matcher, uint32_t* bitmask,
                                                             size_t words);

#ifdef __cplusplus
}  /* extern "C" */
#endif

#endif /* SIEVE_SIEVE_H_ */
