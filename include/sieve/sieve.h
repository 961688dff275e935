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
 *  - Thread safety (each declaration repeats what applies to it): vocabularies, compilers and
 *    compiled grammars are immutable (a compiler's cache is internally locked), reference-counted
 *    where they have _retain, and safe to use from any number of threads at once. A matcher is used
 *    by one thread at a time, and so are its forks (they share internal state). Creating and
 *    freeing distinct objects is thread-safe; freeing an object while another thread uses it is not.
 *    sieve_last_error() is per thread.
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

/* Adds a reference; returns `vocab`. NULL-safe. Thread-safe. */
SIEVE_API sieve_vocab* sieve_vocab_retain(sieve_vocab* vocab);
/* Drops a reference; frees at zero. NULL is a no-op. Thread-safe (not while this thread's reference
 * is still in use elsewhere). */
SIEVE_API void sieve_vocab_free(sieve_vocab* vocab);

/* Number of ids (padding included). 0 for NULL. The accessors below are thread-safe. */
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
                              convention); zero: one the grammar implies is compiled (exact), any
                              other is SIEVE_ERR_UNSUPPORTED */
  int32_t max_nesting_depth; /* grammar text nesting limit; 0 = default (500) */
  /* Limits that protect a server (SECURITY.md lists them). 0 = the default; exceeding one fails with
   * SIEVE_ERR_LIMIT and a message naming the field. */
  int64_t max_compile_ms;      /* wall time of parse + simplify + automaton and, with a vocab,
                                  the token-mask cache build; default 10000; < 0 = unlimited */
  size_t max_text_bytes;       /* grammar text; default 16 MiB (regex patterns: 1 MiB) */
  int32_t max_rules;           /* rules as written; default 100000 */
  int32_t max_repeat_bound;    /* the numbers in x{m,n}; default 1000000 */
  int64_t max_states;          /* automaton states in total; default 4194304 */
  int32_t max_rule_states;     /* DFA states of one rule before minimisation; default 262144 */
  int64_t max_subset_states;   /* NFA states held by one rule's subset construction; default 2^25 */
  size_t max_mask_cache_bytes; /* token-mask cache of a grammar compiled with a vocabulary; default
                                  512 MiB; states over it are served token by token (slower, exact) */
} sieve_grammar_options;

/* Fills `opts` with defaults (struct_size set). Thread-safe (writes only *opts). */
SIEVE_API void sieve_grammar_options_init(sieve_grammar_options* opts);

/* Compiles EBNF / GBNF text (llama.cpp GBNF and XGrammar EBNF are read unchanged) into a pushdown
 * automaton. opts may be NULL (defaults). Errors: SIEVE_ERR_PARSE with line:column, SIEVE_ERR_LIMIT,
 * SIEVE_ERR_UNSUPPORTED (e.g. left recursion that cannot be rewritten, the cycle named; token
 * references without opts->vocab, which binds them as sieve_compiler_compile_ebnf does).
 * Caller owns *out; the grammar is immutable and may be shared between threads. */
SIEVE_API sieve_status sieve_grammar_compile_ebnf(const char* text, size_t text_len,
                                                  const sieve_grammar_options* opts,
                                                  sieve_grammar** out);
/* Compiles an ECMA-262-style regular expression with JSON Schema `pattern` semantics (unanchored unless
 * written ^...$) into a grammar; opts->root is ignored. Backreferences and lookaround other than
 * at an anchored end are SIEVE_ERR_UNSUPPORTED with the construct's byte offset (\b and \B are
 * supported). Caller owns *out. */
SIEVE_API sieve_status sieve_grammar_compile_regex(const char* pattern, size_t pattern_len,
                                                   const sieve_grammar_options* opts,
                                                   sieve_grammar** out);
/* Adds a reference; returns `grammar`. NULL-safe. Thread-safe. */
SIEVE_API sieve_grammar* sieve_grammar_retain(sieve_grammar* grammar);
/* Drops a reference; frees at zero (matchers keep what they need). NULL is a no-op. Thread-safe. */
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

/* Fills *out (out->struct_size set by the caller). Thread-safe. */
SIEVE_API sieve_status sieve_grammar_get_stats(const sieve_grammar* grammar, sieve_grammar_stats* out);
/* The i-th compile warning (e.g. an unused rule with its line); NULL when out of range. Valid while the
 * grammar lives. Thread-safe. */
SIEVE_API const char* sieve_grammar_warning(const sieve_grammar* grammar, size_t i);
/* The grammar printed back as EBNF: as written (simplified = 0) or after simplification (nonzero).
 * Writes up to cap bytes; *n_out = bytes needed (error when cap is too small). Thread-safe (the
 * printed forms are made once, on first use). */
SIEVE_API sieve_status sieve_grammar_print(const sieve_grammar* grammar, int simplified, char* out,
                                           size_t cap, size_t* n_out);

/* Schema notes of a grammar compiled from a JSON Schema (or a structural tag / OpenAI request with
 * schemas): every keyword not enforced exactly, with its JSON pointer. */
typedef enum sieve_note_kind {
  SIEVE_NOTE_IGNORED = 0,  /* not enforced at all (ignore_unsupported was set) */
  SIEVE_NOTE_LOOSENED = 1, /* enforced partially: the grammar accepts more than the schema */
  SIEVE_NOTE_NARROWED = 2, /* the grammar accepts fewer documents than the schema (always sound) */
  SIEVE_NOTE_INFO = 3      /* an unknown keyword read as an annotation, and similar remarks */
} sieve_note_kind;

typedef struct sieve_schema_note {
  size_t struct_size;       /* set by the caller to sizeof(sieve_schema_note) */
  sieve_note_kind kind;
  const char* json_pointer; /* into the schema ("" = its root); valid while the grammar lives */
  const char* keyword;
  const char* message;
} sieve_schema_note;

/* Number of schema notes (0 for EBNF / regex grammars). Thread-safe (the grammar is immutable). */
SIEVE_API size_t sieve_grammar_num_notes(const sieve_grammar* grammar);
/* Fills *out with note i. SIEVE_ERR_INVALID_ARGUMENT when i is out of range. Thread-safe. */
SIEVE_API sieve_status sieve_grammar_get_note(const sieve_grammar* grammar, size_t i,
                                              sieve_schema_note* out);
/* Nonzero when some note is SIEVE_NOTE_IGNORED or SIEVE_NOTE_LOOSENED: the grammar may accept a
 * document the schema rejects. Thread-safe. */
SIEVE_API int sieve_grammar_is_loosened(const sieve_grammar* grammar);

/* ---- compiler: JSON Schema, EBNF, regex, structural tags, OpenAI requests ----------------------------
 *
 * A compiler holds a vocabulary and a cache of compiled grammars keyed by content (text, options,
 * vocabulary), so compiling the same thing twice is a lookup. It is thread-safe: any number of
 * threads may compile with one compiler at once. Grammars it returns are owned by the caller
 * (sieve_grammar_free), immutable and shareable across threads; they stay valid after the compiler
 * is freed. */

typedef struct sieve_compiler sieve_compiler;

typedef struct sieve_compiler_options {
  size_t struct_size;     /* sizeof(sieve_compiler_options) */
  size_t cache_bytes;     /* memory budget of the grammar cache; 0 = 512 MiB; the least recently
                             used grammars are evicted beyond it */
  int32_t num_threads;    /* threads that build one grammar's token-mask cache; 0 or 1 = the
                             calling thread only */
  int ignore_lookahead;   /* EBNF: treat (= ...) lookaheads as hints instead of refusing those
                             the grammar does not imply */
  /* Limits applied to every compile of this compiler (SECURITY.md), as in sieve_grammar_options:
   * 0 = the default; exceeding one fails with SIEVE_ERR_LIMIT and a message naming the field. */
  int64_t max_compile_ms;      /* wall time of one compile on a cache miss: front end (schema
                                  conversion, parsing), simplify, automaton and the token-mask cache
                                  build together; default 10000; < 0 = unlimited */
  int32_t max_nesting_depth;   /* grammar/regex text nesting; default 500 */
  size_t max_text_bytes;       /* grammar text, regex pattern and schema document; defaults 16 MiB,
                                  1 MiB (regex), 16 MiB (schema) */
  int32_t max_rules;           /* rules as written; default 100000 */
  int32_t max_repeat_bound;    /* the numbers in x{m,n}; default 1000000 */
  int64_t max_states;          /* automaton states in total; default 4194304 */
  int32_t max_rule_states;     /* DFA states of one rule before minimisation; default 262144 */
  int64_t max_subset_states;   /* NFA states held by one rule's subset construction; default 2^25 */
  size_t max_mask_cache_bytes; /* one grammar's token-mask cache; default 512 MiB; states over it
                                  are served token by token (slower, exact) */
} sieve_compiler_options;

SIEVE_API void sieve_compiler_options_init(sieve_compiler_options* opts);

/* Creates a compiler for `vocab` (required; the compiler keeps its own reference). opts may be
 * NULL. Caller owns *out. */
SIEVE_API sieve_status sieve_compiler_create(const sieve_vocab* vocab,
                                             const sieve_compiler_options* opts,
                                             sieve_compiler** out);
/* Frees the compiler and its cache (grammars already returned stay valid). NULL is a no-op. Not
 * concurrently with other calls on the same compiler. */
SIEVE_API void sieve_compiler_free(sieve_compiler* compiler);

typedef enum sieve_json_whitespace {
  SIEVE_JSON_WS_ANY = 0,     /* bounded runs of [ \t\n\r] wherever JSON allows whitespace */
  SIEVE_JSON_WS_COMPACT = 1, /* no whitespace at all */
  SIEVE_JSON_WS_INDENT = 2   /* exactly json.dumps(indent=N) layout */
} sieve_json_whitespace;

typedef enum sieve_json_property_order {
  SIEVE_JSON_ORDER_DEFAULT = 0, /* schema order in strict mode, any order in standard mode */
  SIEVE_JSON_ORDER_SCHEMA = 1,  /* properties in the schema's order */
  SIEVE_JSON_ORDER_ANY = 2      /* any order, each key at most once */
} sieve_json_property_order;

typedef struct sieve_json_schema_options {
  size_t struct_size;                       /* sizeof(sieve_json_schema_options) */
  int strict;                               /* nonzero: OpenAI strict semantics: every property
                                               required, additionalProperties false by default */
  sieve_json_whitespace whitespace;         /* default SIEVE_JSON_WS_ANY */
  int32_t indent;                           /* SIEVE_JSON_WS_INDENT: spaces per level; 0 = 2 */
  sieve_json_property_order property_order; /* default SIEVE_JSON_ORDER_DEFAULT */
  int ignore_unsupported;                   /* nonzero: a keyword sieve cannot enforce is dropped
                                               and reported as a note (sieve_grammar_get_note);
                                               zero: it is SIEVE_ERR_UNSUPPORTED with its pointer */
  /* The other schema documents the schema's "$ref"s name (sieve fetches nothing itself). NULL:
   * only references within the schema document; a "$ref" to another document is then
   * SIEVE_ERR_UNSUPPORTED with its pointer. Called during the compile call, on its thread, once
   * per distinct document (at most 64 per compile, else SIEVE_ERR_LIMIT), with the document's
   * absolute URI without fragment (resolved against the referring document's $id; a relative
   * reference from a document without one stays relative, e.g. "common.json"). Return 0 and set
   * *text / *text_len to its JSON (read before the callback returns to sieve's next step; the
   * memory only has to live until load_document is called again or the compile call returns), or
   * nonzero when the document is unknown (the "$ref" is then unsupported, as without a loader).
   * A compile with a loader never reuses the compiler's cached conversion of the same schema
   * text (the documents may have changed); the compiled automaton is still shared by content. */
  int (*load_document)(void* user, const char* uri, const char** text, size_t* text_len);
  void* load_document_user; /* passed to load_document as `user` */
  int32_t max_whitespace_run; /* SIEVE_JSON_WS_ANY: the longest whitespace run at one place
                                 (XGrammar's max_whitespace_cnt); 0 = 64 */
  /* SIEVE_JSON_WS_COMPACT: what goes between items / members and between a key and its value,
   * as json.dumps(separators=(item, key)): NULL = "," / ":"; ", " and ": " give json.dumps'
   * default layout (XGrammar's any_whitespace=False). Each is its punctuation with optional
   * spaces, tabs and newlines around it (else SIEVE_ERR_INVALID_ARGUMENT). A schema's own
   * llguidance "x-guidance" layout takes precedence over the whitespace options. */
  const char* item_separator;
  const char* key_separator;
  int closed_by_default; /* nonzero: additionalProperties and the items after prefixItems are
                            false unless the schema states them (XGrammar's strict_mode) */
} sieve_json_schema_options;

SIEVE_API void sieve_json_schema_options_init(sieve_json_schema_options* opts);

/* Compiles EBNF/GBNF text (see sieve_grammar_compile_ebnf); root NULL = "root". Thread-safe.
 * Token references (llama.cpp's syntax: <[id]>, <|special|>, (!<x>)* ) are bound to the compiler's
 * vocabulary: the token matches only as its id (accept, masks and jump-forward follow); an unknown
 * name or id is SIEVE_ERR_INVALID_ARGUMENT with line:column. Caller owns *out. */
SIEVE_API sieve_status sieve_compiler_compile_ebnf(sieve_compiler* compiler, const char* text,
                                                   size_t text_len, const char* root,
                                                   sieve_grammar** out);
/* Compiles a JSON Schema (drafts 4 to 2020-12). opts may be NULL (defaults). Errors carry the JSON
 * pointer of the offending keyword (sieve_last_error()->json_pointer) or the byte offset of a JSON
 * syntax error. Thread-safe. Caller owns *out. */
SIEVE_API sieve_status sieve_compiler_compile_json_schema(sieve_compiler* compiler,
                                                          const char* schema, size_t schema_len,
                                                          const sieve_json_schema_options* opts,
                                                          sieve_grammar** out);
/* Compiles a regular expression (see sieve_grammar_compile_regex). Thread-safe. Caller owns *out. */
SIEVE_API sieve_status sieve_compiler_compile_regex(sieve_compiler* compiler, const char* pattern,
                                                    size_t pattern_len, sieve_grammar** out);
/* Compiles a structural tag given as JSON (README "Structural tags": free text with triggered
 * tags, tool_choice, parallel calls, sections, reasoning blocks, token pieces). json_opts apply to
 * its JSON Schema contents (may be NULL). Thread-safe. Caller owns *out. */
SIEVE_API sieve_status sieve_compiler_compile_structural_tag(sieve_compiler* compiler,
                                                             const char* json, size_t json_len,
                                                             const sieve_json_schema_options* json_opts,
                                                             sieve_grammar** out);

typedef struct sieve_openai_options {
  size_t struct_size;      /* sizeof(sieve_openai_options) */
  const char* tool_format; /* "hermes" (default when NULL; Qwen/Hermes <tool_call>), "deepseek"
                              (DeepSeek-V3 tool-call tokens), "llama3" (Llama-3.1 JSON calls) */
  int think;               /* nonzero: a <think>...</think> block comes first */
  sieve_json_whitespace whitespace; /* of the JSON inside calls and responses */
} sieve_openai_options;

SIEVE_API void sieve_openai_options_init(sieve_openai_options* opts);

/* Compiles the output structure of an OpenAI Chat Completions request body: response_format
 * (text, json_object, json_schema with strict), tools, tool_choice (none, auto, required, a named
 * function), parallel_tool_calls. Strict schemas must follow OpenAI's strict-mode rules (README);
 * a breach is SIEVE_ERR_INVALID_ARGUMENT with the JSON pointer into the request. opts may be NULL.
 * Thread-safe. Caller owns *out. */
SIEVE_API sieve_status sieve_compiler_compile_openai(sieve_compiler* compiler, const char* request,
                                                     size_t request_len,
                                                     const sieve_openai_options* opts,
                                                     sieve_grammar** out);

typedef struct sieve_compiler_stats {
  size_t struct_size;     /* set by the caller to sizeof(sieve_compiler_stats) */
  int64_t cache_hits;
  int64_t cache_misses;
  int64_t cache_evictions;
  size_t cache_entries;
  size_t cache_bytes;
} sieve_compiler_stats;

/* Cache counters. Thread-safe. */
SIEVE_API sieve_status sieve_compiler_get_stats(const sieve_compiler* compiler,
                                                sieve_compiler_stats* out);

/* ---- serialisation of compiled grammars ---------------------------------------------------------------
 *
 * sieve_grammar_serialize writes a versioned, checksummed byte image of a compiled grammar (format
 * 2): its grammar IR, compile options, schema notes, token pieces, the vocabulary's fingerprint and
 * size, the compiled pushdown automaton and, for a grammar compiled with a vocabulary, its
 * token-mask cache. sieve_grammar_deserialize checks magic, format version, length, checksum and
 * every length, offset and index in the image (against the vocabulary too), then uses the stored
 * automaton and mask cache as they are: loading skips parsing, JSON Schema conversion,
 * simplification, automaton construction and the per-token mask precomputation, so it is many
 * times faster than compiling (bench/README.md, issue 9) and gives the same masks. Images are
 * little-endian, tied to the vocabulary (not to the machine or process), and larger than format 1
 * (the mask cache is most of them: sieve_grammar_serialize with cap 0 reports the size).
 * Format-1 images (written before) are still read: their automaton and mask cache are rebuilt.
 * Corrupted, truncated or foreign bytes are SIEVE_ERR_FORMAT with the byte offset; an image made
 * for another vocabulary (size or fingerprint differs) is SIEVE_ERR_INVALID_ARGUMENT saying so. */

/* Writes up to `cap` bytes (out may be NULL when cap is 0); *n_out = the image size. Returns
 * SIEVE_ERR_INVALID_ARGUMENT when cap is too small (call again with *n_out bytes). Thread-safe. */
SIEVE_API sieve_status sieve_grammar_serialize(const sieve_grammar* grammar, char* out, size_t cap,
                                               size_t* n_out);
/* Loads a grammar from an image for `vocab`: the vocabulary it was compiled for (the grammar keeps
 * a reference), or, for an image of a grammar compiled without one, any vocabulary (its mask cache
 * is then built) or NULL.
 * Thread-safe. Caller owns *out. */
SIEVE_API sieve_status sieve_grammar_deserialize(const char* bytes, size_t len,
                                                 const sieve_vocab* vocab, sieve_grammar** out);

/* ---- matchers ----------------------------------------------------------------------------------------- */

typedef struct sieve_matcher sieve_matcher;

typedef struct sieve_matcher_options {
  size_t struct_size;           /* sizeof(sieve_matcher_options) */
  int32_t max_rollback_tokens;  /* history kept for rollback; 0 = default (64) */
} sieve_matcher_options;

/* Fills `opts` with defaults (struct_size set). */
SIEVE_API void sieve_matcher_options_init(sieve_matcher_options* opts);

/* A matcher walks `grammar` token by token. It keeps its own reference to the grammar. One thread at a
 * time per matcher (forks share internal state: keep a matcher and its forks on one thread). */
SIEVE_API sieve_status sieve_matcher_create(const sieve_grammar* grammar,
                                            const sieve_matcher_options* opts, sieve_matcher** out);
/* Frees the matcher (not its grammar's other users). NULL is a no-op. Not while it is in use. */
SIEVE_API void sieve_matcher_free(sieve_matcher* matcher);

/* Accepts one token of the grammar's vocabulary. SIEVE_OK: accepted; SIEVE_REJECTED: not accepted
 * (the matcher is unchanged); < 0: error (no vocabulary, id out of range). A stop token is accepted
 * only where the grammar can end; it terminates the matcher. */
SIEVE_API sieve_status sieve_matcher_accept_token(sieve_matcher* matcher, int32_t id);
/* Accepts raw bytes (one history step). SIEVE_OK or SIEVE_REJECTED (matcher unchanged). */
SIEVE_API sieve_status sieve_matcher_accept_string(sieve_matcher* matcher, const char* bytes,
                                                   size_t len);
/* The calls below act on one matcher: one thread at a time per matcher (and its forks). */
/* Nonzero when a stop token has been accepted. */
SIEVE_API int sieve_matcher_is_terminated(const sieve_matcher* matcher);
/* Nonzero when the input so far is a complete sentence of the grammar. */
SIEVE_API int sieve_matcher_can_terminate(const sieve_matcher* matcher);
/* Nonzero when, since creation or the last reset, a stack-depth or closure limit of the matcher
 * refused input (the accept call then returned SIEVE_REJECTED although the grammar might have
 * continued): a rejection that says nothing about the input. */
SIEVE_API int sieve_matcher_limit_hit(const sieve_matcher* matcher);
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

/* Fills one mask row per matcher: row i (words_per_row uint32 words, words_per_row >= ceil(vocab
 * size / 32)) of `bitmask` gets matchers[i]'s next-token mask, as sieve_matcher_fill_next_token_bitmask
 * would write it. num_threads <= 1 fills on the calling thread; more uses a process-wide pool of
 * that many threads (created on first use, kept until exit). The matchers must not be used by any
 * other thread during the call; distinct matchers (forks included) may appear in one batch. */
SIEVE_API sieve_status sieve_matcher_fill_next_token_bitmask_batch(sieve_matcher* const* matchers,
                                                                   size_t n_matchers,
                                                                   uint32_t* bitmask,
                                                                   size_t words_per_row,
                                                                   int32_t num_threads);

#ifdef __cplusplus
}  /* extern "C" */
#endif

#endif /* SIEVE_SIEVE_H_ */
