/* generate.c: constrained JSON generation through sieve's decoder C API (sieve_decoder.h).
 *
 *   generate [MODEL_DIR]
 *
 * Loads a DeepSeek-V2 model folder (or, without an argument, sieve's built-in tiny model with
 * random weights: the JSON is valid but meaningless), submits three requests for the same JSON
 * Schema with different seeds, streams their text as it is generated, and prints each result and
 * the engine's metrics. Exit status 0 when every output completed its schema.
 */
#include <stdio.h>
#include <string.h>

#include "sieve/sieve.h"
#include "sieve/sieve_decoder.h"

static const char kSchema[] =
    "{\"type\": \"object\","
    " \"properties\": {"
    "   \"city\": {\"type\": \"string\", \"maxLength\": 12},"
    "   \"unit\": {\"enum\": [\"celsius\", \"fahrenheit\"]},"
    "   \"days\": {\"type\": \"integer\", \"minimum\": 1, \"maximum\": 14}},"
    " \"required\": [\"city\", \"unit\", \"days\"],"
    " \"additionalProperties\": false}";

static void on_token(int64_t id, const char* piece, size_t len, int done, void* user) {
  (void)user;
  if (len > 0) printf("[request %lld] +%.*s\n", (long long)id, (int)len, piece);
  if (done) printf("[request %lld] done\n", (long long)id);
}

static int fail(const char* what) {
  const sieve_error* e = sieve_last_error();
  fprintf(stderr, "generate: %s: %s\n", what, e->message);
  return 1;
}

int main(int argc, char** argv) {
  sieve_model_options mo;
  sieve_model_options_init(&mo);
  mo.path = argc > 1 ? argv[1] : NULL; /* NULL: the built-in random model */
  sieve_model* model = NULL;
  if (sieve_model_load(&mo, &model) != SIEVE_OK) return fail("loading the model");

  sieve_model_info info;
  info.struct_size = sizeof info;
  sieve_model_get_info(model, &info);
  printf("model: %s, vocab %lld\n", info.description, (long long)info.vocab_size);

  sieve_engine_options eo;
  sieve_engine_options_init(&eo);
  eo.max_batch = 4;
  sieve_engine* engine = NULL;
  if (sieve_engine_create(model, &eo, &engine) != SIEVE_OK) {
    sieve_model_free(model);
    return fail("creating the engine");
  }
  sieve_model_free(model); /* the engine holds its own reference */
  sieve_engine_set_token_callback(engine, on_token, NULL);

  for (uint64_t seed = 1; seed <= 3; ++seed) {
    sieve_request req;
    sieve_request_init(&req);
    req.prompt = "The weather request as JSON:";
    req.structure = SIEVE_STRUCTURE_JSON_SCHEMA;
    req.structure_text = kSchema;
    req.seed = seed;
    req.temperature = 1.0f;
    req.max_tokens = 200;
    if (sieve_engine_submit(engine, &req, NULL) != SIEVE_OK) {
      sieve_engine_free(engine);
      return fail("submitting a request");
    }
  }
  if (sieve_engine_run(engine) != SIEVE_OK) {
    sieve_engine_free(engine);
    return fail("generating");
  }

  int incomplete = 0;
  sieve_result* r = NULL;
  while (sieve_engine_take_result(engine, &r) == SIEVE_OK && r != NULL) {
    size_t len = 0;
    const char* text = sieve_result_text(r, &len);
    sieve_result_stats st;
    st.struct_size = sizeof st;
    sieve_result_get_stats(r, &st);
    printf("request %lld: %s (%d tokens, %d forced by the schema)\n  %.*s\n",
           (long long)sieve_result_id(r), sieve_result_complete(r) ? "complete" : "INCOMPLETE",
           st.output_tokens, st.forced_tokens, (int)len, text);
    if (!sieve_result_complete(r)) ++incomplete;
    sieve_result_free(r);
  }

  sieve_engine_metrics m;
  m.struct_size = sizeof m;
  sieve_engine_get_metrics(engine, &m);
  printf(
      "%.0f tokens/s, mask %.1f us per step (p50), %.0f%% of it hidden behind the forward pass, "
      "%lld decode steps saved by jump-forward\n",
      m.tokens_per_second, m.mask_us_p50, 100.0 * m.mask_hidden_fraction, (long long)m.steps_saved);
  sieve_engine_free(engine);
  return incomplete == 0 ? 0 : 1;
}
