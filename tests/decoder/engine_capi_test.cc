// The decoder C API (sieve_decoder.h) through libsieve only: the built-in model, requests,
// streaming, results, metrics, errors with positions, NULL safety, struct_size handling.
#include <gtest/gtest.h>

#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "sieve/sieve.h"
#include "sieve/sieve_decoder.h"

namespace {

struct Fixture {
  sieve_model* model = nullptr;
  sieve_engine* engine = nullptr;
  Fixture() {
    sieve_model_options mo;
    sieve_model_options_init(&mo);
    EXPECT_EQ(sieve_model_load(&mo, &model), SIEVE_OK) << sieve_last_error()->message;
    sieve_engine_options eo;
    sieve_engine_options_init(&eo);
    eo.max_batch = 4;
    EXPECT_EQ(sieve_engine_create(model, &eo, &engine), SIEVE_OK) << sieve_last_error()->message;
  }
  ~Fixture() {
    sieve_engine_free(engine);
    sieve_model_free(model);
  }
};

TEST(DecoderCapi, BuiltinModelInfo) {
  sieve_model* model = nullptr;
  ASSERT_EQ(sieve_model_load(nullptr, &model), SIEVE_OK);
  sieve_model_info info;
  info.struct_size = sizeof info;
  ASSERT_EQ(sieve_model_get_info(model, &info), SIEVE_OK);
  EXPECT_EQ(info.builtin, 1);
  EXPECT_EQ(info.device, SIEVE_DEVICE_CPU);
  EXPECT_GT(info.vocab_size, info.tokenizer_size);
  EXPECT_STREQ(info.chat_format, "deepseek-v3");
  EXPECT_NE(std::strstr(info.description, "random"), nullptr);
  sieve_model_free(model);
}

TEST(DecoderCapi, GeneratesStreamsAndReportsMetrics) {
  Fixture f;
  std::map<int64_t, std::string> streamed;
  std::map<int64_t, int> done;
  struct Ctx {
    std::map<int64_t, std::string>* streamed;
    std::map<int64_t, int>* done;
  } ctx{&streamed, &done};
  ASSERT_EQ(sieve_engine_set_token_callback(
                f.engine,
                [](int64_t id, const char* piece, size_t len, int d, void* user) {
                  auto* c = static_cast<Ctx*>(user);
                  (*c->streamed)[id].append(piece, len);
                  (*c->done)[id] += d;
                },
                &ctx),
            SIEVE_OK);
  const char* schema =
      R"({"type":"object","properties":{"ok":{"type":"boolean"},"n":{"enum":[1,2,3]}},"required":["ok","n"],"additionalProperties":false})";
  std::vector<int64_t> ids;
  for (uint64_t seed = 0; seed < 6; ++seed) {
    sieve_request req;
    sieve_request_init(&req);
    req.prompt = "JSON:";
    req.structure = SIEVE_STRUCTURE_JSON_SCHEMA;
    req.structure_text = schema;
    req.seed = seed;
    int64_t id = -1;
    ASSERT_EQ(sieve_engine_submit(f.engine, &req, &id), SIEVE_OK) << sieve_last_error()->message;
    ids.push_back(id);
  }
  int more = 1, steps = 0;
  while (more) {
    ASSERT_EQ(sieve_engine_step(f.engine, &more), SIEVE_OK);
    ASSERT_LT(++steps, 1000);
  }
  int results = 0;
  sieve_result* r = nullptr;
  while (sieve_engine_take_result(f.engine, &r) == SIEVE_OK && r != nullptr) {
    ++results;
    size_t len = 0;
    const char* text = sieve_result_text(r, &len);
    EXPECT_EQ(std::strlen(text), len);
    EXPECT_TRUE(sieve_result_complete(r)) << text;
    EXPECT_TRUE(std::string(text) == "{\"ok\":true,\"n\":1}" ||
                std::string(text).find("\"n\":") != std::string::npos);
    EXPECT_EQ(streamed[sieve_result_id(r)], std::string(text, len));
    EXPECT_EQ(done[sieve_result_id(r)], 1);
    sieve_result_stats st;
    st.struct_size = sizeof st;
    ASSERT_EQ(sieve_result_get_stats(r, &st), SIEVE_OK);
    size_t n = 0;
    sieve_result_tokens(r, &n);
    EXPECT_EQ(static_cast<size_t>(st.output_tokens), n);
    EXPECT_GT(st.forced_tokens, 0);  // `{"ok":` is forced
    const char* msg = nullptr;
    EXPECT_EQ(sieve_result_error(r, &msg), SIEVE_OK);
    sieve_result_free(r);
  }
  EXPECT_EQ(results, 6);
  sieve_engine_metrics m;
  m.struct_size = sizeof m;
  ASSERT_EQ(sieve_engine_get_metrics(f.engine, &m), SIEVE_OK);
  EXPECT_EQ(m.requests, 6);
  EXPECT_GT(m.tokens_per_second, 0);
  EXPECT_GT(m.steps_saved, 0);
  EXPECT_GE(m.mask_hidden_fraction, 0.0);
  EXPECT_LE(m.mask_hidden_fraction, 1.0);
  sieve_engine_reset_metrics(f.engine);
  ASSERT_EQ(sieve_engine_get_metrics(f.engine, &m), SIEVE_OK);
  EXPECT_EQ(m.requests, 0);
}

// A request's JSON Schema may "$ref" other documents through json_options' load_document.
TEST(DecoderCapi, SchemaDocumentsComeFromTheRequestsLoader) {
  Fixture f;
  struct Doc {
    int calls = 0;
  } doc;
  sieve_json_schema_options jo;
  sieve_json_schema_options_init(&jo);
  jo.load_document = [](void* user, const char* uri, const char** text, size_t* len) {
    static const char kDefs[] = R"({"$defs":{"flag":{"type":"boolean"}}})";
    ++static_cast<Doc*>(user)->calls;
    if (std::string(uri) != "defs.json") return 1;
    *text = kDefs;
    *len = sizeof kDefs - 1;
    return 0;
  };
  jo.load_document_user = &doc;
  jo.whitespace = SIEVE_JSON_WS_COMPACT;
  const char* schema =
      R"({"type":"object","properties":{"ok":{"$ref":"defs.json#/$defs/flag"}},)"
      R"("required":["ok"],"additionalProperties":false})";
  sieve_request req;
  sieve_request_init(&req);
  req.prompt = "JSON:";
  req.structure = SIEVE_STRUCTURE_JSON_SCHEMA;
  req.structure_text = schema;
  req.json_options = &jo;
  int64_t id = -1;
  ASSERT_EQ(sieve_engine_submit(f.engine, &req, &id), SIEVE_OK) << sieve_last_error()->message;
  EXPECT_EQ(doc.calls, 1);
  int more = 1, steps = 0;
  while (more) {
    ASSERT_EQ(sieve_engine_step(f.engine, &more), SIEVE_OK);
    ASSERT_LT(++steps, 1000);
  }
  sieve_result* r = nullptr;
  ASSERT_EQ(sieve_engine_take_result(f.engine, &r), SIEVE_OK);
  ASSERT_NE(r, nullptr);
  size_t len = 0;
  const std::string text = sieve_result_text(r, &len);
  EXPECT_TRUE(text == "{\"ok\":true}" || text == "{\"ok\":false}") << text;
  sieve_result_free(r);
  // Without the loader the same request is refused, naming the document.
  jo.load_document = nullptr;
  EXPECT_EQ(sieve_engine_submit(f.engine, &req, &id), SIEVE_ERR_UNSUPPORTED);
  EXPECT_NE(std::string(sieve_last_error()->message).find("defs.json"), std::string::npos);
}

TEST(DecoderCapi, ErrorsCarryPositions) {
  Fixture f;
  sieve_request req;
  sieve_request_init(&req);
  req.prompt = "x";
  req.structure = SIEVE_STRUCTURE_GRAMMAR;
  req.structure_text = "root ::= \"a\"\nfoo ::= (\"b\"";
  EXPECT_EQ(sieve_engine_submit(f.engine, &req, nullptr), SIEVE_ERR_PARSE);
  EXPECT_EQ(sieve_last_error()->line, 2) << sieve_last_error()->message;
  req.structure = SIEVE_STRUCTURE_REGEX;
  req.structure_text = "ab(?=^c)";  // '^' inside a lookahead: refused where it stands
  EXPECT_EQ(sieve_engine_submit(f.engine, &req, nullptr), SIEVE_ERR_UNSUPPORTED);
  EXPECT_EQ(sieve_last_error()->offset, 2) << sieve_last_error()->message;
  req.structure = SIEVE_STRUCTURE_NONE;
  req.top_p = 0;
  EXPECT_EQ(sieve_engine_submit(f.engine, &req, nullptr), SIEVE_ERR_INVALID_ARGUMENT);
  EXPECT_NE(std::strstr(sieve_last_error()->message, "top_p"), nullptr);
  req.top_p = 1;
  req.structure = static_cast<sieve_structure_kind>(42);
  EXPECT_EQ(sieve_engine_submit(f.engine, &req, nullptr), SIEVE_ERR_INVALID_ARGUMENT);
  sieve_request bad;
  std::memset(&bad, 0, sizeof bad);
  EXPECT_EQ(sieve_engine_submit(f.engine, &bad, nullptr), SIEVE_ERR_INVALID_ARGUMENT);
  sieve_model_options mo;
  sieve_model_options_init(&mo);
  mo.path = "/no/such/model";
  sieve_model* m = nullptr;
  EXPECT_EQ(sieve_model_load(&mo, &m), SIEVE_ERR_IO);
  EXPECT_EQ(m, nullptr);
  EXPECT_NE(std::strstr(sieve_last_error()->message, "/no/such/model"), nullptr);
}

TEST(DecoderCapi, NullHandlesAreSafe) {
  sieve_model_free(nullptr);
  sieve_engine_free(nullptr);
  sieve_result_free(nullptr);
  sieve_engine_reset_metrics(nullptr);
  EXPECT_EQ(sieve_model_load(nullptr, nullptr), SIEVE_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(sieve_engine_create(nullptr, nullptr, nullptr), SIEVE_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(sieve_engine_step(nullptr, nullptr), SIEVE_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(sieve_engine_run(nullptr), SIEVE_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(sieve_engine_submit(nullptr, nullptr, nullptr), SIEVE_ERR_INVALID_ARGUMENT);
  sieve_result* r = nullptr;
  EXPECT_EQ(sieve_engine_take_result(nullptr, &r), SIEVE_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(sieve_result_text(nullptr, nullptr), nullptr);
  EXPECT_EQ(sieve_result_id(nullptr), -1);
}

}  // namespace
