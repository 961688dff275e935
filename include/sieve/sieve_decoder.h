/* sieve_decoder.h: constrained generation with sieve's own DeepSeek-V2 decoder (C99).
 *
 * Load a model (a Hugging Face DeepSeek-V2 folder, or the built-in tiny random model), create an
 * engine over it, submit requests (a prompt or chat messages, a structure: JSON Schema, EBNF
 * grammar, regex or none, sampling parameters, stop conditions), then step the engine or run it to
 * completion; tokens stream through a callback and finished results are taken one by one. The
 * engine batches requests continuously (they join and leave between steps), overlaps the grammar
 * masks with the forward pass, samples with a fused mask + temperature/top-k/top-p kernel (seeded,
 * reproducible: the same seed gives the same output on the same backend, whatever the batch), and
 * appends grammar-forced text without sampling (jump-forward).
 *
 * Conventions (as sieve.h): opaque handles; *_free(NULL) is a no-op; every fallible call returns a
 * sieve_status with details in sieve_last_error() (message, byte offset / line:column for grammar
 * and regex errors, JSON pointer for schema errors); options structs start with struct_size (use
 * the *_init functions; fields past a caller's struct_size keep their defaults). Nothing aborts the
 * process: CUDA failures are SIEVE_ERR_CUDA and poison the engine.
 *
 * Random weights (the built-in model, or folders written by sieve-make-model) produce outputs that
 * follow the structure exactly but mean nothing.
 */
#ifndef SIEVE_SIEVE_DECODER_H_
#define SIEVE_SIEVE_DECODER_H_

#include <stddef.h>
#include <stdint.h>

#include "sieve/sieve.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- models ------------------------------------------------------------------------------------
 */

typedef struct sieve_model sieve_model;

typedef enum sieve_device {
  SIEVE_DEVICE_AUTO = 0, /* the GPU when sieve has CUDA and a device is present (the built-in model:
                            the CPU) */
  SIEVE_DEVICE_CPU = 1,  /* the fp32 reference model: tiny models only (fp32 weights <= 4 GiB) */
  SIEVE_DEVICE_GPU = 2   /* bf16 weights on CUDA device 0; an error when there is none */
} sieve_device;

/* Called during weight loading (after every upload chunk on the GPU; at start and end on the CPU).
 * Runs on the loading thread. */
typedef void (*sieve_load_progress_fn)(uint64_t bytes_done, uint64_t bytes_total,
                                       double bytes_per_second, void* user_data);

typedef struct sieve_model_options {
  size_t struct_size;              /* sizeof(sieve_model_options) */
  const char* path;                /* model folder (config.json, *.safetensors, tokenizer.json,
                                      tokenizer_config.json); NULL or "" = the built-in tiny random model */
  sieve_device device;             /* default SIEVE_DEVICE_AUTO */
  uint64_t builtin_seed;           /* weights of the built-in model; default 0 */
  sieve_load_progress_fn progress; /* may be NULL */
  void* progress_user_data;
} sieve_model_options;

SIEVE_API void sieve_model_options_init(sieve_model_options* opts);

/* Loads a model. opts may be NULL (the built-in model). Errors: SIEVE_ERR_IO (missing folder or
 * file), SIEVE_ERR_FORMAT (bad config.json / safetensors / tokenizer.json, naming the file and
 * entry), SIEVE_ERR_UNSUPPORTED (a config the decoder cannot run), SIEVE_ERR_CUDA. Caller owns
 * *out; the model is immutable, reference-counted and may be shared by engines on any thread. */
SIEVE_API sieve_status sieve_model_load(const sieve_model_options* opts, sieve_model** out);
SIEVE_API sieve_model* sieve_model_retain(sieve_model* model);
/* Drops the caller's reference; engines keep their own. NULL is a no-op. */
SIEVE_API void sieve_model_free(sieve_model* model);

typedef struct sieve_model_info {
  size_t struct_size;     /* set by the caller to sizeof(sieve_model_info) */
  int64_t vocab_size;     /* logits per token (the model's vocab) */
  int64_t tokenizer_size; /* ids the tokenizer defines (the rest are padding, never sampled) */
  int32_t num_layers;
  int32_t hidden_size;
  sieve_device device;   /* where it runs: SIEVE_DEVICE_CPU or SIEVE_DEVICE_GPU */
  int builtin;           /* nonzero for the built-in random model */
  uint64_t weight_bytes; /* safetensors bytes read */
  const char*
      description; /* e.g. "built-in tiny random model (cpu)"; valid while the model lives */
  const char* chat_format; /* "deepseek-v2", "deepseek-v3", "none", or "unsupported" */
} sieve_model_info;

SIEVE_API sieve_status sieve_model_get_info(const sieve_model* model, sieve_model_info* out);

/* ---- engines -----------------------------------------------------------------------------------
 */

typedef struct sieve_engine sieve_engine;

typedef struct sieve_engine_options {
  size_t struct_size;  /* sizeof(sieve_engine_options) */
  int32_t max_batch;   /* sequences decoded together; default 8 */
  int64_t max_seq_len; /* prompt + output tokens per sequence; default 4096 */
  int32_t
      mask_threads; /* CPU threads filling masks (the engine's own included); 0 = min(4, cores) */
} sieve_engine_options;

SIEVE_API void sieve_engine_options_init(sieve_engine_options* opts);

/* Creates an engine (its KV cache, streams, grammar cache). opts may be NULL. The engine holds a
 * reference to the model. Caller owns *out. An engine is used by one thread at a time. */
SIEVE_API sieve_status sieve_engine_create(sieve_model* model, const sieve_engine_options* opts,
                                           sieve_engine** out);
SIEVE_API void sieve_engine_free(sieve_engine* engine);

typedef enum sieve_structure_kind {
  SIEVE_STRUCTURE_NONE = 0,        /* free text (padding ids still never sampled) */
  SIEVE_STRUCTURE_JSON_SCHEMA = 1, /* structure_text is a JSON Schema (drafts 4 to 2020-12) */
  SIEVE_STRUCTURE_GRAMMAR = 2,     /* EBNF / GBNF text; grammar_root names the start rule */
  SIEVE_STRUCTURE_REGEX = 3        /* an ECMA-262 pattern (JSON Schema `pattern` semantics) */
} sieve_structure_kind;

typedef struct sieve_chat_message {
  const char* role; /* "system", "user" or "assistant" */
  const char* content;
} sieve_chat_message;

typedef struct sieve_request {
  size_t struct_size;                 /* sizeof(sieve_request) */
  const char* prompt;                 /* raw prompt text (bos prepended; special tokens written in
                                         it are read as such); used when n_messages == 0 */
  const sieve_chat_message* messages; /* rendered with the model's chat format (DeepSeek-V2 / V3;
                                        other templates are SIEVE_ERR_UNSUPPORTED) */
  size_t n_messages;
  sieve_structure_kind structure;
  const char* structure_text;                    /* schema / grammar / pattern */
  size_t structure_len;                          /* 0 = strlen(structure_text) */
  const char* grammar_root;                      /* NULL = "root" */
  const sieve_json_schema_options* json_options; /* NULL = standard semantics, compact whitespace */
  float temperature;                             /* 0 = greedy (default 1.0) */
  int32_t top_k;                                 /* 0 = off (default) */
  float top_p;                                   /* 1 = off (default) */
  uint64_t seed;                                 /* default 0 */
  int32_t max_tokens;                            /* default 256 */
  const char* const* stop_strings;               /* output is cut before the first one found */
  size_t n_stop_strings;
  const int32_t* stop_tokens; /* in addition to the tokenizer's eos / end-of-turn tokens */
  size_t n_stop_tokens;
  int jump_forward; /* nonzero (default): append grammar-forced tokens unsampled */
} sieve_request;

SIEVE_API void sieve_request_init(sieve_request* req);

/* Validates the request, encodes the prompt and compiles the structure (cached per engine), then
 * queues it; *id_out (may be NULL) receives its id. Errors: SIEVE_ERR_INVALID_ARGUMENT
 * (parameters), SIEVE_ERR_PARSE / SIEVE_ERR_UNSUPPORTED / SIEVE_ERR_LIMIT for the structure (with
 * its position). The request's pointers need only live during the call. */
SIEVE_API sieve_status sieve_engine_submit(sieve_engine* engine, const sieve_request* req,
                                           int64_t* id_out);

/* Receives each request's output as it grows: `piece` (not NUL-terminated, `len` bytes; text that
 * might begin a stop string is held back until it cannot), and done = 1 exactly once, with the
 * last piece. Runs on the thread calling step/run. NULL removes the callback. */
typedef void (*sieve_token_fn)(int64_t request_id, const char* piece, size_t len, int done,
                               void* user_data);
SIEVE_API sieve_status sieve_engine_set_token_callback(sieve_engine* engine, sieve_token_fn fn,
                                                       void* user_data);

/* One decode step for every running request (waiting requests join first). *more (may be NULL) is
 * 1 while requests are running or waiting. A backend failure finishes every running request with
 * an error and is returned. */
SIEVE_API sieve_status sieve_engine_step(sieve_engine* engine, int* more);
/* Steps until every submitted request has finished. */
SIEVE_API sieve_status sieve_engine_run(sieve_engine* engine);

/* ---- results -----------------------------------------------------------------------------------
 */

typedef struct sieve_result sieve_result;

typedef enum sieve_finish_reason {
  SIEVE_FINISH_STOP = 1,        /* a stop token (allowed by the grammar only where it can end) */
  SIEVE_FINISH_GRAMMAR_END = 2, /* the structure admits nothing more */
  SIEVE_FINISH_STOP_STRING = 3, /* a stop string (cut off) */
  SIEVE_FINISH_MAX_TOKENS = 4,  /* max_tokens reached */
  SIEVE_FINISH_MAX_LENGTH = 5,  /* the engine's max_seq_len reached */
  SIEVE_FINISH_ERROR = 6        /* see sieve_result_error */
} sieve_finish_reason;

/* The next finished result, in finishing order; *out = NULL when none is ready. Caller owns it. */
SIEVE_API sieve_status sieve_engine_take_result(sieve_engine* engine, sieve_result** out);
SIEVE_API void sieve_result_free(sieve_result* result);

SIEVE_API int64_t sieve_result_id(const sieve_result* result);
/* The generated bytes (stop token excluded); *len (may be NULL) = their count. NUL-terminated;
 * valid while the result lives. */
SIEVE_API const char* sieve_result_text(const sieve_result* result, size_t* len);
SIEVE_API sieve_finish_reason sieve_result_finish(const sieve_result* result);
/* Nonzero when the text is a whole sentence of the structure (for free text: when a stop token or
 * string ended it). Only such outputs should be used as complete. */
SIEVE_API int sieve_result_complete(const sieve_result* result);
/* For SIEVE_FINISH_ERROR: the error's status and message (valid while the result lives). */
SIEVE_API sieve_status sieve_result_error(const sieve_result* result, const char** message);

typedef struct sieve_result_stats {
  size_t struct_size; /* set by the caller to sizeof(sieve_result_stats) */
  int32_t prompt_tokens;
  int32_t output_tokens; /* sampled + forced (a sampled stop token included) */
  int32_t forced_tokens; /* appended by jump-forward without sampling */
  int32_t steps_saved;   /* decode steps jump-forward saved */
  double first_token_ms;
  double total_ms;
} sieve_result_stats;

SIEVE_API sieve_status sieve_result_get_stats(const sieve_result* result, sieve_result_stats* out);
/* The generated token ids; *n = their count. Valid while the result lives. */
SIEVE_API const int32_t* sieve_result_tokens(const sieve_result* result, size_t* n);

/* ---- metrics -----------------------------------------------------------------------------------
 */

typedef struct sieve_engine_metrics {
  size_t struct_size; /* set by the caller to sizeof(sieve_engine_metrics) */
  int64_t requests;   /* finished since the last reset */
  int64_t steps;
  int64_t output_tokens;
  int64_t prompt_tokens;
  int64_t forced_tokens;
  int64_t steps_saved;             /* by jump-forward */
  double seconds;                  /* wall time inside step/run */
  double tokens_per_second;        /* output tokens / seconds */
  double time_per_output_token_ms; /* mean over requests of (total - first token) / (tokens - 1) */
  double step_ms_p50;
  double mask_us_p50; /* CPU mask work per step: accept, jump-forward, bitmask fill */
  double mask_us_p99;
  double mask_hidden_fraction; /* share of the mask work that ran while the forward pass did */
  double forward_ms_p50;
  int64_t jump_forward_deferred; /* forced strings sampled through the mask instead of appended:
                                    on the GPU backend jump-forward runs at batch 1 only (each run
                                    is a forward pass of its own there) */
} sieve_engine_metrics;

SIEVE_API sieve_status sieve_engine_get_metrics(const sieve_engine* engine,
                                                sieve_engine_metrics* out);
SIEVE_API void sieve_engine_reset_metrics(sieve_engine* engine);

#ifdef __cplusplus
}
#endif

#endif /* SIEVE_SIEVE_DECODER_H_ */
