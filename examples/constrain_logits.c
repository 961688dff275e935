/* constrain_logits: constrain a model's logits with a JSON Schema, without a model.
 *
 * The smallest complete use of the C API: a vocabulary (a tiny built-in one, or a real tokenizer
 * with --tokenizer), a compiler, a grammar from a JSON Schema, a matcher, and the decode loop every
 * inference engine runs: fill the next-token bitmask, mask the logits (-inf where the bit is 0),
 * pick a token (argmax here; sampling works the same), accept it. The "model" is a pseudo-random
 * logits generator, so whatever it prefers, the output is a document that matches the schema.
 *
 *   constrain_logits [--tokenizer DIR] [--schema FILE] [--seed N]
 *
 * Prints the generated document; exits 0 when it is complete (the stop token was accepted).
 * Builds as C99 against the installed library: see examples/CMakeLists.txt (find_package(sieve))
 * or `cc constrain_logits.c $(pkg-config --cflags --libs sieve)`. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sieve/sieve.h"

static const char* kDefaultSchema =
    "{\"type\": \"object\", \"properties\": {"
    "\"name\": {\"type\": \"string\", \"pattern\": \"^[A-Z][a-z]{1,7}$\"},"
    "\"age\": {\"type\": \"integer\", \"minimum\": 0, \"maximum\": 120},"
    "\"tags\": {\"type\": \"array\", \"items\": {\"enum\": [\"admin\", \"dev\", \"ops\"]}, \"maxItems\": 3}},"
    "\"required\": [\"name\", \"age\"], \"additionalProperties\": false}";

static int Fail(const char* what) {
  const sieve_error* e = sieve_last_error();
  fprintf(stderr, "constrain_logits: %s: %s (%s)\n", what, e->message, sieve_status_name(e->status));
  return 1;
}

/* A toy tokenizer: printable ASCII one byte per token, a few merged tokens, and a stop token. */
static sieve_status ToyVocab(sieve_vocab** out) {
  static char singles[95][2];
  const char* merged[] = {"{\"", "\":", "\",\"", "name", "age", "tags", "admin", "\"]", "ops"};
  const char* tokens[95 + 9 + 1];
  size_t lens[95 + 9 + 1];
  uint32_t flags[95 + 9 + 1];
  size_t n = 0, i;
  for (i = 0; i < 95; ++i, ++n) {
    singles[i][0] = (char)(0x20 + i);
    tokens[n] = singles[i];
    lens[n] = 1;
    flags[n] = 0;
  }
  for (i = 0; i < 9; ++i, ++n) {
    tokens[n] = merged[i];
    lens[n] = strlen(merged[i]);
    flags[n] = 0;
  }
  tokens[n] = "</s>";
  lens[n] = 4;
  flags[n] = SIEVE_TOKEN_SPECIAL | SIEVE_TOKEN_STOP;
  ++n;
  return sieve_vocab_create_from_tokens(tokens, lens, flags, n, n, out);
}

static char* ReadFile(const char* path) {
  FILE* f = fopen(path, "rb");
  long size;
  char* text;
  if (f == NULL) return NULL;
  fseek(f, 0, SEEK_END);
  size = ftell(f);
  fseek(f, 0, SEEK_SET);
  text = (char*)malloc((size_t)size + 1);
  if (text != NULL && fread(text, 1, (size_t)size, f) == (size_t)size) {
    text[size] = '\0';
  } else {
    free(text);
    text = NULL;
  }
  fclose(f);
  return text;
}

int main(int argc, char** argv) {
  const char* tokenizer = NULL;
  const char* schema_path = NULL;
  unsigned long seed = 42;
  char* schema_text = NULL;
  sieve_vocab* vocab = NULL;
  sieve_compiler* compiler = NULL;
  sieve_grammar* grammar = NULL;
  sieve_matcher* matcher = NULL;
  sieve_json_schema_options jopts;
  size_t vocab_size, words, step, n_tokens = 0;
  uint32_t* mask;
  float* logits;
  int i, rc = 1;

  for (i = 1; i < argc; ++i) {
    if (strcmp(argv[i], "--tokenizer") == 0 && i + 1 < argc) {
      tokenizer = argv[++i];
    } else if (strcmp(argv[i], "--schema") == 0 && i + 1 < argc) {
      schema_path = argv[++i];
    } else if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc) {
      seed = strtoul(argv[++i], NULL, 10);
    } else {
      fprintf(stderr, "usage: constrain_logits [--tokenizer DIR] [--schema FILE] [--seed N]\n");
      return 2;
    }
  }
  if (schema_path != NULL && (schema_text = ReadFile(schema_path)) == NULL) {
    fprintf(stderr, "constrain_logits: cannot read %s\n", schema_path);
    return 1;
  }

  if ((tokenizer ? sieve_vocab_create_from_file(tokenizer, &vocab) : ToyVocab(&vocab)) != SIEVE_OK) {
    return Fail("vocabulary");
  }
  if (sieve_compiler_create(vocab, NULL, &compiler) != SIEVE_OK) return Fail("compiler");
  sieve_json_schema_options_init(&jopts);
  jopts.whitespace = SIEVE_JSON_WS_COMPACT;
  {
    const char* s = schema_text ? schema_text : kDefaultSchema;
    if (sieve_compiler_compile_json_schema(compiler, s, strlen(s), &jopts, &grammar) != SIEVE_OK) {
      const sieve_error* e = sieve_last_error();
      fprintf(stderr, "constrain_logits: schema: %s at %s\n", e->message,
              e->json_pointer[0] ? e->json_pointer : "(root)");
      return 1;
    }
  }
  if (sieve_matcher_create(grammar, NULL, &matcher) != SIEVE_OK) return Fail("matcher");

  vocab_size = sieve_vocab_size(vocab);
  words = (vocab_size + 31) / 32;
  mask = (uint32_t*)malloc(words * sizeof *mask);
  logits = (float*)malloc(vocab_size * sizeof *logits);
  if (mask == NULL || logits == NULL) return 1;

  for (step = 0; step < 512 && !sieve_matcher_is_terminated(matcher); ++step) {
    size_t id, best = vocab_size;
    /* The "model": pseudo-random logits. */
    for (id = 0; id < vocab_size; ++id) {
      seed = seed * 6364136223846793005ul + 1442695040888963407ul;
      logits[id] = (float)((seed >> 33) % 1000) / 100.0f;
    }
    if (sieve_matcher_fill_next_token_bitmask(matcher, mask, words) != SIEVE_OK) return Fail("mask");
    for (id = 0; id < vocab_size; ++id) {
      if (!((mask[id >> 5] >> (id & 31)) & 1u)) logits[id] = -INFINITY;
      if (logits[id] != -INFINITY && (best == vocab_size || logits[id] > logits[best])) best = id;
    }
    if (best == vocab_size) {
      fprintf(stderr, "constrain_logits: no token is allowed (the grammar is stuck)\n");
      break;
    }
    if (sieve_matcher_accept_token(matcher, (int32_t)best) != SIEVE_OK) return Fail("accept");
    if (!sieve_matcher_is_terminated(matcher)) {
      const char* bytes;
      size_t len;
      sieve_vocab_token_bytes(vocab, (int32_t)best, &bytes, &len);
      fwrite(bytes, 1, len, stdout);
    }
    ++n_tokens;
  }
  printf("\n");
  if (sieve_matcher_is_terminated(matcher)) {
    fprintf(stderr, "constrain_logits: complete document in %lu tokens\n", (unsigned long)n_tokens);
    rc = 0;
  } else {
    fprintf(stderr, "constrain_logits: stopped after %lu tokens without finishing\n",
            (unsigned long)n_tokens);
  }
  free(logits);
  free(mask);
  free(schema_text);
  sieve_matcher_free(matcher);
  sieve_grammar_free(grammar);
  sieve_compiler_free(compiler);
  sieve_vocab_free(vocab);
  return rc;
}
