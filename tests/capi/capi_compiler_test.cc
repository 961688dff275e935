// The compiler handle, JSON Schema options and notes, batch fills, grammar images, OpenAI requests
// and structural tags with token pieces, through libsieve only.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "sieve/sieve.h"

namespace {

std::string DataDir() {
  const char* d = std::getenv("SIEVE_DATA_DIR");
  return d ? d : std::string(std::getenv("HOME") ? std::getenv("HOME") : "") + "/.cache/sieve";
}

bool Allowed(const std::vector<uint32_t>& mask, int id) { return (mask[id >> 5] >> (id & 31)) & 1u; }

struct Vocab {
  sieve_vocab* v = nullptr;
  explicit Vocab(const std::string& name) {
    const std::string path = DataDir() + "/tokenizers/" + name;
    EXPECT_EQ(sieve_vocab_create_from_file(path.c_str(), &v), SIEVE_OK) << sieve_last_error()->message;
  }
  ~Vocab() { sieve_vocab_free(v); }
};

struct Compiler {
  sieve_compiler* c = nullptr;
  explicit Compiler(const sieve_vocab* v, int threads = 1) {
    sieve_compiler_options o;
    sieve_compiler_options_init(&o);
    o.num_threads = threads;
    EXPECT_EQ(sieve_compiler_create(v, &o, &c), SIEVE_OK) << sieve_last_error()->message;
  }
  ~Compiler() { sieve_compiler_free(c); }
};

std::vector<int32_t> Encode(const sieve_vocab* v, const std::string& text) {
  std::vector<int32_t> ids(text.size() + 8);
  size_t n = 0;
  EXPECT_EQ(sieve_vocab_encode(v, text.data(), text.size(), 0, ids.data(), ids.size(), &n), SIEVE_OK);
  ids.resize(n);
  return ids;
}

// Accepts ids one by one, checking each against the mask first. Returns the index of the first id
// the matcher refuses (the mask must agree), or -1.
int Feed(sieve_matcher* m, const std::vector<int32_t>& ids, size_t vocab_size) {
  std::vector<uint32_t> mask((vocab_size + 31) / 32);
  for (size_t i = 0; i < ids.size(); ++i) {
    EXPECT_EQ(sieve_matcher_fill_next_token_bitmask(m, mask.data(), mask.size()), SIEVE_OK);
    const sieve_status s = sieve_matcher_accept_token(m, ids[i]);
    EXPECT_EQ(Allowed(mask, ids[i]), s == SIEVE_OK) << "mask and accept disagree at " << i;
    if (s != SIEVE_OK) return static_cast<int>(i);
  }
  return -1;
}

const char* kSchema =
    R"({"type":"object","properties":{"name":{"type":"string"},"age":{"type":"integer"}},"required":["name"]})";

// load_document: the documents a schema's "$ref"s name, from the caller.
struct Documents {
  std::string defs;  // served as "defs.json"
  int calls = 0;
  std::string last_uri;
};

int LoadDocument(void* user, const char* uri, const char** text, size_t* text_len) {
  auto* d = static_cast<Documents*>(user);
  ++d->calls;
  d->last_uri = uri;
  if (d->last_uri != "defs.json") return 1;
  *text = d->defs.data();
  *text_len = d->defs.size();
  return 0;
}

TEST(CApiCompiler, JsonSchemaRefsToOtherDocumentsComeFromTheLoader) {
  Vocab v("llama3");
  Compiler c(v.v);
  const char* schema =
      R"({"type":"object","properties":{"p":{"$ref":"defs.json#/$defs/point"}},)"
      R"("required":["p"],"additionalProperties":false})";
  sieve_json_schema_options o;
  sieve_json_schema_options_init(&o);
  EXPECT_EQ(o.load_document, nullptr);
  o.whitespace = SIEVE_JSON_WS_COMPACT;
  sieve_grammar* g = nullptr;
  // Without a loader a reference to another document is unsupported, and says which.
  EXPECT_EQ(sieve_compiler_compile_json_schema(c.c, schema, strlen(schema), &o, &g),
            SIEVE_ERR_UNSUPPORTED);
  EXPECT_NE(std::string(sieve_last_error()->message).find("defs.json"), std::string::npos);
  Documents d;
  d.defs = R"({"$defs":{"point":{"type":"object","properties":{"x":{"type":"integer"}},)"
           R"("required":["x"],"additionalProperties":false}}})";
  o.load_document = LoadDocument;
  o.load_document_user = &d;
  ASSERT_EQ(sieve_compiler_compile_json_schema(c.c, schema, strlen(schema), &o, &g), SIEVE_OK)
      << sieve_last_error()->message;
  EXPECT_EQ(d.calls, 1);
  EXPECT_EQ(d.last_uri, "defs.json");
  auto accepts = [](sieve_grammar* gr, const std::string& doc) {
    sieve_matcher* m = nullptr;
    EXPECT_EQ(sieve_matcher_create(gr, nullptr, &m), SIEVE_OK);
    const bool ok = sieve_matcher_accept_string(m, doc.data(), doc.size()) == SIEVE_OK &&
                    sieve_matcher_can_terminate(m);
    sieve_matcher_free(m);
    return ok;
  };
  EXPECT_TRUE(accepts(g, R"({"p":{"x":12}})"));
  EXPECT_FALSE(accepts(g, R"({"p":{"x":"a"}})"));
  EXPECT_FALSE(accepts(g, R"({"p":{"y":1}})"));
  // The same schema text again asks the loader again and follows the changed document.
  d.defs = R"({"$defs":{"point":{"type":"object","properties":{"x":{"type":"string"}},)"
           R"("required":["x"],"additionalProperties":false}}})";
  sieve_grammar* g2 = nullptr;
  ASSERT_EQ(sieve_compiler_compile_json_schema(c.c, schema, strlen(schema), &o, &g2), SIEVE_OK);
  EXPECT_EQ(d.calls, 2);
  EXPECT_TRUE(accepts(g2, R"({"p":{"x":"a"}})"));
  EXPECT_FALSE(accepts(g2, R"({"p":{"x":12}})"));
  // A loader that does not know the document: unsupported, as without one.
  d.defs.clear();
  const char* other = R"({"$ref":"other.json"})";
  sieve_grammar* g3 = nullptr;
  EXPECT_EQ(sieve_compiler_compile_json_schema(c.c, other, strlen(other), &o, &g3),
            SIEVE_ERR_UNSUPPORTED);
  EXPECT_EQ(d.last_uri, "other.json");
  EXPECT_EQ(g3, nullptr);
  sieve_grammar_free(g);
  sieve_grammar_free(g2);
}

TEST(CApiCompiler, JsonSchemaOptionsAndCacheHits) {
  Vocab v("llama3");
  Compiler c(v.v);
  sieve_json_schema_options o;
  sieve_json_schema_options_init(&o);
  o.whitespace = SIEVE_JSON_WS_COMPACT;
  sieve_grammar* g = nullptr;
  ASSERT_EQ(sieve_compiler_compile_json_schema(c.c, kSchema, strlen(kSchema), &o, &g), SIEVE_OK)
      << sieve_last_error()->message;
  sieve_matcher* m = nullptr;
  ASSERT_EQ(sieve_matcher_create(g, nullptr, &m), SIEVE_OK);
  EXPECT_EQ(sieve_matcher_accept_string(m, "{\"name\": ", 9), SIEVE_REJECTED);  // compact
  EXPECT_EQ(sieve_matcher_accept_string(m, "{\"age\":3,\"name\":\"x\"}", 20), SIEVE_OK);  // any order
  EXPECT_TRUE(sieve_matcher_can_terminate(m));
  sieve_matcher_free(m);
  // Strict: every property required, schema order.
  o.strict = 1;
  sieve_grammar* gs = nullptr;
  ASSERT_EQ(sieve_compiler_compile_json_schema(c.c, kSchema, strlen(kSchema), &o, &gs), SIEVE_OK);
  ASSERT_EQ(sieve_matcher_create(gs, nullptr, &m), SIEVE_OK);
  EXPECT_EQ(sieve_matcher_accept_string(m, "{\"name\":\"x\"}", 12), SIEVE_REJECTED);
  EXPECT_EQ(sieve_matcher_accept_string(m, "{\"name\":\"x\",\"age\":1}", 20), SIEVE_OK);
  sieve_matcher_free(m);
  // The same schema again is a cache hit.
  sieve_compiler_stats st;
  st.struct_size = sizeof st;
  ASSERT_EQ(sieve_compiler_get_stats(c.c, &st), SIEVE_OK);
  const int64_t hits = st.cache_hits;
  sieve_grammar* g2 = nullptr;
  ASSERT_EQ(sieve_compiler_compile_json_schema(c.c, kSchema, strlen(kSchema), &o, &g2), SIEVE_OK);
  ASSERT_EQ(sieve_compiler_get_stats(c.c, &st), SIEVE_OK);
  EXPECT_EQ(st.cache_hits, hits + 1);
  EXPECT_EQ(st.cache_entries, 2u);
  sieve_grammar_free(g);
  sieve_grammar_free(gs);
  sieve_grammar_free(g2);
}

// json.dumps separators, closed objects (XGrammar's any_whitespace=False, strict_mode) and the
// whitespace run bound: each is part of the cache key (a differing option is a new grammar).
TEST(CApiCompiler, SeparatorsClosedObjectsAndWhitespaceRuns) {
  Vocab v("llama3");
  Compiler c(v.v);
  sieve_json_schema_options o;
  sieve_json_schema_options_init(&o);
  o.whitespace = SIEVE_JSON_WS_COMPACT;
  auto accepts = [&](const std::string& text) {
    sieve_grammar* g = nullptr;
    EXPECT_EQ(sieve_compiler_compile_json_schema(c.c, kSchema, strlen(kSchema), &o, &g), SIEVE_OK)
        << sieve_last_error()->message;
    sieve_matcher* m = nullptr;
    EXPECT_EQ(sieve_matcher_create(g, nullptr, &m), SIEVE_OK);
    const bool ok = sieve_matcher_accept_string(m, text.data(), text.size()) == SIEVE_OK &&
                    sieve_matcher_can_terminate(m);
    sieve_matcher_free(m);
    sieve_grammar_free(g);
    return ok;
  };
  const std::string dumps = R"({"name": "x", "age": 3})";
  EXPECT_FALSE(accepts(dumps));
  o.item_separator = ", ";
  o.key_separator = ": ";
  EXPECT_TRUE(accepts(dumps));
  EXPECT_FALSE(accepts(R"({"name":"x","age":3})"));
  EXPECT_TRUE(accepts(R"({"name": "x", "extra": 1})"));
  o.closed_by_default = 1;
  EXPECT_FALSE(accepts(R"({"name": "x", "extra": 1})"));
  EXPECT_TRUE(accepts(dumps));
  o.item_separator = ";";
  sieve_grammar* bad = nullptr;
  EXPECT_EQ(sieve_compiler_compile_json_schema(c.c, kSchema, strlen(kSchema), &o, &bad),
            SIEVE_ERR_INVALID_ARGUMENT);
  o.item_separator = nullptr;
  o.key_separator = nullptr;
  o.closed_by_default = 0;
  o.whitespace = SIEVE_JSON_WS_ANY;
  o.max_whitespace_run = 2;
  EXPECT_TRUE(accepts("{  \"name\"  :  \"x\"  }"));
  EXPECT_FALSE(accepts("{   \"name\":\"x\"}"));
}

TEST(CApiCompiler, UnsupportedKeywordErrorOrNote) {
  Vocab v("llama3");
  Compiler c(v.v);
  const char* schema = R"({"type":"string","pattern":"^(a+)\\1$"})";  // a backreference
  sieve_grammar* g = nullptr;
  EXPECT_EQ(sieve_compiler_compile_json_schema(c.c, schema, strlen(schema), nullptr, &g),
            SIEVE_ERR_UNSUPPORTED);
  EXPECT_EQ(g, nullptr);
  EXPECT_STREQ(sieve_last_error()->json_pointer, "/pattern");
  sieve_json_schema_options o;
  sieve_json_schema_options_init(&o);
  o.ignore_unsupported = 1;
  ASSERT_EQ(sieve_compiler_compile_json_schema(c.c, schema, strlen(schema), &o, &g), SIEVE_OK);
  ASSERT_GE(sieve_grammar_num_notes(g), 1u);
  EXPECT_TRUE(sieve_grammar_is_loosened(g));
  bool found = false;
  for (size_t i = 0; i < sieve_grammar_num_notes(g); ++i) {
    sieve_schema_note n;
    n.struct_size = sizeof n;
    ASSERT_EQ(sieve_grammar_get_note(g, i, &n), SIEVE_OK);
    if (n.kind == SIEVE_NOTE_IGNORED && std::string(n.keyword) == "pattern") {
      found = std::string(n.json_pointer) == "/pattern";
    }
  }
  EXPECT_TRUE(found);
  sieve_schema_note n;
  n.struct_size = sizeof n;
  EXPECT_EQ(sieve_grammar_get_note(g, 99, &n), SIEVE_ERR_INVALID_ARGUMENT);
  sieve_grammar_free(g);
  // A JSON syntax error has a byte offset and line:column.
  const char* broken = "{\"type\":\n \"object\",,}";
  EXPECT_EQ(sieve_compiler_compile_json_schema(c.c, broken, strlen(broken), nullptr, &g), SIEVE_ERR_PARSE);
  EXPECT_EQ(sieve_last_error()->offset, 19);
  EXPECT_EQ(sieve_last_error()->line, 2);
}

TEST(CApiCompiler, BatchFillEqualsSingleFills) {
  Vocab v("llama3");
  Compiler c(v.v);
  sieve_grammar* g = nullptr;
  ASSERT_EQ(sieve_compiler_compile_json_schema(c.c, kSchema, strlen(kSchema), nullptr, &g), SIEVE_OK);
  const char* prefixes[] = {"", "{", "{\"na", "{\"name\": \"Al", "{\"age\": 1", "{\"age\": 12, \"name\": \"x\"}"};
  std::vector<sieve_matcher*> ms;
  for (const char* p : prefixes) {
    sieve_matcher* m = nullptr;
    ASSERT_EQ(sieve_matcher_create(g, nullptr, &m), SIEVE_OK);
    ASSERT_EQ(sieve_matcher_accept_string(m, p, strlen(p)), SIEVE_OK) << p;
    ms.push_back(m);
  }
  const size_t words = (sieve_vocab_size(v.v) + 31) / 32 + 3;  // padded rows
  for (int threads : {1, 3}) {
    std::vector<uint32_t> batch(words * ms.size(), 0xdeadbeef);
    ASSERT_EQ(sieve_matcher_fill_next_token_bitmask_batch(ms.data(), ms.size(), batch.data(), words,
                                                          threads),
              SIEVE_OK);
    for (size_t i = 0; i < ms.size(); ++i) {
      std::vector<uint32_t> one(words, 0xdeadbeef);
      ASSERT_EQ(sieve_matcher_fill_next_token_bitmask(ms[i], one.data(), words), SIEVE_OK);
      EXPECT_TRUE(std::equal(one.begin(), one.end(), batch.begin() + i * words)) << i;
    }
  }
  std::vector<uint32_t> small(4 * ms.size());
  EXPECT_EQ(sieve_matcher_fill_next_token_bitmask_batch(ms.data(), ms.size(), small.data(), 4, 1),
            SIEVE_ERR_INVALID_ARGUMENT);
  for (sieve_matcher* m : ms) sieve_matcher_free(m);
  sieve_grammar_free(g);
}

TEST(CApiCompiler, ImageRoundTripGivesIdenticalMasksAndRefusesDamage) {
  Vocab v("llama3");
  Compiler c(v.v);
  const std::string schema = R"({"type":"object","properties":{"items":{"type":"array","items":
    {"type":"object","properties":{"id":{"type":"integer","minimum":0,"maximum":99999},
    "tags":{"type":"array","items":{"enum":["a","bb","ccc"]},"maxItems":4},
    "note":{"type":"string","maxLength":40,"pattern":"^[a-z ]*$"}},"required":["id"]}}},"required":["items"]})";
  sieve_grammar* g = nullptr;
  ASSERT_EQ(sieve_compiler_compile_json_schema(c.c, schema.data(), schema.size(), nullptr, &g), SIEVE_OK)
      << sieve_last_error()->message;
  size_t n = 0;
  EXPECT_EQ(sieve_grammar_serialize(g, nullptr, 0, &n), SIEVE_ERR_INVALID_ARGUMENT);
  std::string image(n, '\0');
  ASSERT_EQ(sieve_grammar_serialize(g, image.data(), image.size(), &n), SIEVE_OK);
  sieve_grammar* h = nullptr;
  ASSERT_EQ(sieve_grammar_deserialize(image.data(), image.size(), v.v, &h), SIEVE_OK)
      << sieve_last_error()->message;
  // Same masks along a document.
  const std::string doc = R"({"items": [{"id": 12, "tags": ["a", "ccc"], "note": "hi there"}, {"id": 0}]})";
  const std::vector<int32_t> ids = Encode(v.v, doc);
  sieve_matcher *a = nullptr, *b = nullptr;
  ASSERT_EQ(sieve_matcher_create(g, nullptr, &a), SIEVE_OK);
  ASSERT_EQ(sieve_matcher_create(h, nullptr, &b), SIEVE_OK);
  const size_t words = (sieve_vocab_size(v.v) + 31) / 32;
  std::vector<uint32_t> ma(words), mb(words);
  for (int32_t id : ids) {
    ASSERT_EQ(sieve_matcher_fill_next_token_bitmask(a, ma.data(), words), SIEVE_OK);
    ASSERT_EQ(sieve_matcher_fill_next_token_bitmask(b, mb.data(), words), SIEVE_OK);
    ASSERT_EQ(ma, mb);
    ASSERT_EQ(sieve_matcher_accept_token(a, id), SIEVE_OK);
    ASSERT_EQ(sieve_matcher_accept_token(b, id), SIEVE_OK);
  }
  EXPECT_TRUE(sieve_matcher_can_terminate(b));
  sieve_matcher_free(a);
  sieve_matcher_free(b);
  // Printing works on both.
  size_t pa = 0, pb = 0;
  sieve_grammar_print(g, 1, nullptr, 0, &pa);
  sieve_grammar_print(h, 1, nullptr, 0, &pb);
  EXPECT_EQ(pa, pb);
  EXPECT_GT(pa, 0u);
  sieve_grammar_free(h);

  // Every truncation and single-byte corruption is refused with SIEVE_ERR_FORMAT.
  for (size_t len = 0; len < image.size(); len += 1 + len / 8) {
    ASSERT_EQ(sieve_grammar_deserialize(image.data(), len, v.v, &h), SIEVE_ERR_FORMAT) << len;
    ASSERT_EQ(h, nullptr);
  }
  for (size_t i = 0; i < image.size(); i += 1 + i / 16) {
    std::string bad = image;
    bad[i] = static_cast<char>(bad[i] ^ 0x5a);
    ASSERT_EQ(sieve_grammar_deserialize(bad.data(), bad.size(), v.v, &h), SIEVE_ERR_FORMAT) << i;
    EXPECT_GE(sieve_last_error()->offset, 0);
  }
  std::string versioned = image;
  versioned[8] = 9;
  EXPECT_EQ(sieve_grammar_deserialize(versioned.data(), versioned.size(), v.v, &h), SIEVE_ERR_FORMAT);
  EXPECT_NE(std::string(sieve_last_error()->message).find("version 9"), std::string::npos);
  // Another vocabulary is refused.
  Vocab q("qwen3");
  EXPECT_EQ(sieve_grammar_deserialize(image.data(), image.size(), q.v, &h), SIEVE_ERR_INVALID_ARGUMENT);
  sieve_grammar_free(g);
}

TEST(CApiCompiler, OpenAiToolsRequestDrivesTheMatcher) {
  Vocab v("qwen3");
  Compiler c(v.v);
  const char* req = R"({"model": "x", "messages": [],
    "tools": [{"type": "function", "function": {"name": "get_weather", "strict": true,
      "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                     "required": ["city"], "additionalProperties": false}}}],
    "tool_choice": "required", "parallel_tool_calls": false})";
  sieve_openai_options o;
  sieve_openai_options_init(&o);
  o.tool_format = "hermes";
  sieve_grammar* g = nullptr;
  ASSERT_EQ(sieve_compiler_compile_openai(c.c, req, strlen(req), &o, &g), SIEVE_OK)
      << sieve_last_error()->message;
  sieve_matcher* m = nullptr;
  ASSERT_EQ(sieve_matcher_create(g, nullptr, &m), SIEVE_OK);
  // Qwen3 writes <tool_call> as one added token (151657); its text is the trigger.
  const std::string call =
      "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call>";
  std::vector<int32_t> ids = Encode(v.v, call);
  EXPECT_EQ(ids.front(), 151657);
  EXPECT_EQ(Feed(m, ids, sieve_vocab_size(v.v)), -1);
  EXPECT_TRUE(sieve_matcher_can_terminate(m));
  int32_t stops[8];
  size_t ns = 0;
  ASSERT_EQ(sieve_vocab_stop_tokens(v.v, stops, 8, &ns), SIEVE_OK);
  ASSERT_GT(ns, 0u);
  ASSERT_EQ(sieve_matcher_accept_token(m, stops[0]), SIEVE_OK);
  EXPECT_TRUE(sieve_matcher_is_terminated(m));
  sieve_matcher_free(m);
  sieve_grammar_free(g);
  o.tool_format = "klingon";
  EXPECT_EQ(sieve_compiler_compile_openai(c.c, req, strlen(req), &o, &g), SIEVE_ERR_INVALID_ARGUMENT);
  const char* bad = R"({"tools": [{"type": "function", "function": {"name": "f", "strict": true,
      "parameters": {"type": "object", "properties": {"a": {"type": "string"}}}}}]})";
  EXPECT_EQ(sieve_compiler_compile_openai(c.c, bad, strlen(bad), nullptr, &g), SIEVE_ERR_INVALID_ARGUMENT);
  EXPECT_STREQ(sieve_last_error()->json_pointer, "/tools/0/function/parameters");
}

// DeepSeek-V3's tool-call markers are added tokens: only the token ids open and close calls; the
// same text spelled by other tokens stays free text.
TEST(CApiCompiler, DeepSeekTokenTriggers) {
  Vocab v("deepseek_v3");
  Compiler c(v.v);
  const char* req = R"({"tools": [{"type": "function", "function": {"name": "get_time",
      "parameters": {"type": "object", "properties": {"tz": {"enum": ["UTC", "CET"]}},
                     "required": ["tz"], "additionalProperties": false}}}]})";
  sieve_openai_options o;
  sieve_openai_options_init(&o);
  o.tool_format = "deepseek";
  o.whitespace = SIEVE_JSON_WS_COMPACT;
  sieve_grammar* g = nullptr;
  ASSERT_EQ(sieve_compiler_compile_openai(c.c, req, strlen(req), &o, &g), SIEVE_OK)
      << sieve_last_error()->message;
  const size_t vs = sieve_vocab_size(v.v);
  const int32_t kCallsBegin = 128806, kCallsEnd = 128807, kCallBegin = 128808, kCallEnd = 128809,
                kSep = 128814;
  sieve_matcher* m = nullptr;
  ASSERT_EQ(sieve_matcher_create(g, nullptr, &m), SIEVE_OK);
  std::vector<uint32_t> mask((vs + 31) / 32);
  ASSERT_EQ(sieve_matcher_fill_next_token_bitmask(m, mask.data(), mask.size()), SIEVE_OK);
  EXPECT_TRUE(Allowed(mask, kCallsBegin));
  EXPECT_FALSE(Allowed(mask, kCallBegin));
  EXPECT_FALSE(Allowed(mask, kSep));
  std::vector<int32_t> ids = Encode(v.v, "Let me look.");
  ids.push_back(kCallsBegin);
  ids.push_back(kCallBegin);
  for (int32_t id : Encode(v.v, "function")) ids.push_back(id);
  ids.push_back(kSep);
  for (int32_t id : Encode(v.v, "get_time\n```json\n{\"tz\":\"CET\"}\n```")) ids.push_back(id);
  ids.push_back(kCallEnd);
  ids.push_back(kCallsEnd);
  EXPECT_EQ(Feed(m, ids, vs), -1);
  EXPECT_TRUE(sieve_matcher_can_terminate(m));
  // Generated transcripts: text, then a section of 1-3 calls; a wrong call type is refused at its
  // first token.
  std::mt19937 rng(5);
  for (int i = 0; i < 20; ++i) {
    std::vector<int32_t> t = Encode(v.v, i % 3 == 0 ? "" : (i % 3 == 1 ? "Checking." : "ok\n"));
    t.push_back(kCallsBegin);
    const int calls = 1 + static_cast<int>(rng() % 3);
    for (int k = 0; k < calls; ++k) {
      if (k > 0) t.push_back(Encode(v.v, "\n")[0]);
      t.push_back(kCallBegin);
      for (int32_t id : Encode(v.v, "function")) t.push_back(id);
      t.push_back(kSep);
      const std::string tz = rng() % 2 ? "UTC" : "CET";
      for (int32_t id : Encode(v.v, "get_time\n```json\n{\"tz\":\"" + tz + "\"}\n```")) t.push_back(id);
      t.push_back(kCallEnd);
    }
    t.push_back(kCallsEnd);
    sieve_matcher_reset(m);
    ASSERT_EQ(Feed(m, t, vs), -1) << i;
    ASSERT_TRUE(sieve_matcher_can_terminate(m));
    std::vector<int32_t> wrong = {kCallsBegin, kCallBegin};
    for (int32_t id : Encode(v.v, "method")) wrong.push_back(id);
    sieve_matcher_reset(m);
    ASSERT_EQ(Feed(m, wrong, vs), 2);
  }
  // Inside the section only a call may start: text is refused at that token.
  sieve_matcher_reset(m);
  std::vector<int32_t> bad = {kCallsBegin};
  for (int32_t id : Encode(v.v, "hello")) bad.push_back(id);
  EXPECT_EQ(Feed(m, bad, vs), 1);
  // The marker's text spelled by ordinary tokens is free text, and the token is then refused.
  sieve_matcher_reset(m);
  std::vector<int32_t> spelled;
  // (Encoded in two pieces: the encoder would turn the whole text into the added token.)
  for (const char* piece : {"<\xEF\xBD\x9C", "tool\xE2\x96\x81" "calls\xE2\x96\x81" "begin\xEF\xBD\x9C>"}) {
    for (int32_t id : Encode(v.v, piece)) spelled.push_back(id);
  }
  ASSERT_GT(spelled.size(), 1u);
  spelled.push_back(kCallBegin);
  EXPECT_EQ(Feed(m, spelled, vs), static_cast<int>(spelled.size()) - 1);
  // Jump-forward stops before a token piece.
  sieve_matcher_reset(m);
  ASSERT_EQ(sieve_matcher_accept_token(m, kCallsBegin), SIEVE_OK);
  const char* jf = nullptr;
  size_t jn = 0;
  ASSERT_EQ(sieve_matcher_jump_forward(m, &jf, &jn), SIEVE_OK);
  EXPECT_EQ(jn, 0u);
  ASSERT_EQ(sieve_matcher_accept_token(m, kCallBegin), SIEVE_OK);
  ASSERT_EQ(sieve_matcher_jump_forward(m, &jf, &jn), SIEVE_OK);
  EXPECT_EQ(std::string(jf, jn), "function");
  // A raw string cannot smuggle a sentinel in.
  EXPECT_EQ(sieve_matcher_accept_string(m, "\xF4\x8F\xBC\x81", 4), SIEVE_REJECTED);
  sieve_matcher_free(m);
  // The image keeps the token pieces.
  size_t n = 0;
  sieve_grammar_serialize(g, nullptr, 0, &n);
  std::string image(n, '\0');
  ASSERT_EQ(sieve_grammar_serialize(g, image.data(), n, &n), SIEVE_OK);
  sieve_grammar* h = nullptr;
  ASSERT_EQ(sieve_grammar_deserialize(image.data(), n, v.v, &h), SIEVE_OK) << sieve_last_error()->message;
  ASSERT_EQ(sieve_matcher_create(h, nullptr, &m), SIEVE_OK);
  EXPECT_EQ(Feed(m, ids, vs), -1);
  sieve_matcher_free(m);
  sieve_grammar_free(h);
  sieve_grammar_free(g);
}

TEST(CApiCompiler, StructuralTagJsonWithSpecialTokenTrigger) {
  // A tag may open on a special token (this Llama-3 tokenizer predates <|python_tag|>; a reserved
  // special token stands in for it).
  Vocab v("llama3");
  Compiler c(v.v);
  const char* spec = R"J({"tags": [{"name": "py", "begin": {"token": "<|reserved_special_token_10|>"},
      "content": {"regex": "print\\([0-9]+\\)"}, "end": ""}], "parallel": false})J";
  sieve_grammar* g = nullptr;
  ASSERT_EQ(sieve_compiler_compile_structural_tag(c.c, spec, strlen(spec), nullptr, &g), SIEVE_OK)
      << sieve_last_error()->message;
  sieve_matcher* m = nullptr;
  ASSERT_EQ(sieve_matcher_create(g, nullptr, &m), SIEVE_OK);
  const size_t vs = sieve_vocab_size(v.v);
  const int32_t kPythonTag = 128015;
  std::vector<int32_t> ids = Encode(v.v, "Running it.");
  ids.push_back(kPythonTag);
  for (int32_t id : Encode(v.v, "print(42)")) ids.push_back(id);
  EXPECT_EQ(Feed(m, ids, vs), -1);
  EXPECT_TRUE(sieve_matcher_can_terminate(m));
  sieve_matcher_reset(m);
  std::vector<int32_t> bad = {kPythonTag};
  for (int32_t id : Encode(v.v, "rm -rf")) bad.push_back(id);
  EXPECT_EQ(Feed(m, bad, vs), 1);
  sieve_matcher_free(m);
  sieve_grammar_free(g);
  const char* unknown = R"({"tags": [{"begin": {"token": "<|nope|>"}, "content": {"text": true}, "end": "x"}]})";
  EXPECT_EQ(sieve_compiler_compile_structural_tag(c.c, unknown, strlen(unknown), nullptr, &g),
            SIEVE_ERR_INVALID_ARGUMENT);
  EXPECT_STREQ(sieve_last_error()->json_pointer, "/tags/0/begin/0");
}

TEST(CApiCompiler, EbnfTokenReferencesMatchTheTokenIdOnly) {
  // llama.cpp's syntax: <text> names a special or added token, <[id]> any token by id, and
  // (!<...>)* is text without that token.
  Vocab v("llama3");
  Compiler c(v.v);
  const char* text =
      "root ::= <|start_header_id|> \"assistant\" <|end_header_id|> body <[128015]>\n"
      "body ::= (!<[128015]>)*\n";
  sieve_grammar* g = nullptr;
  ASSERT_EQ(sieve_compiler_compile_ebnf(c.c, text, strlen(text), nullptr, &g), SIEVE_OK)
      << sieve_last_error()->message;
  const size_t vs = sieve_vocab_size(v.v);
  const int32_t kStart = 128006, kEnd = 128007, kReserved10 = 128015;
  sieve_matcher* m = nullptr;
  ASSERT_EQ(sieve_matcher_create(g, nullptr, &m), SIEVE_OK);
  std::vector<uint32_t> mask((vs + 31) / 32);
  ASSERT_EQ(sieve_matcher_fill_next_token_bitmask(m, mask.data(), mask.size()), SIEVE_OK);
  int allowed = 0;
  for (size_t i = 0; i < vs; ++i) allowed += Allowed(mask, static_cast<int>(i));
  EXPECT_EQ(allowed, 1);
  EXPECT_TRUE(Allowed(mask, kStart));
  std::vector<int32_t> ids = {kStart};
  for (int32_t id : Encode(v.v, "assistant")) ids.push_back(id);
  ids.push_back(kEnd);
  for (int32_t id : Encode(v.v, "Hello, <|end_header_id|> is text here")) ids.push_back(id);
  ids.push_back(kEnd);  // another referenced token is "not <[128015]>" too
  ids.push_back(kReserved10);
  EXPECT_EQ(Feed(m, ids, vs), -1);
  EXPECT_TRUE(sieve_matcher_can_terminate(m));
  // The token's text spelled by ordinary tokens is refused where the token is required.
  sieve_matcher_reset(m);
  std::vector<int32_t> spelled = Encode(v.v, "<|start");
  ASSERT_GT(spelled.size(), 0u);
  EXPECT_EQ(Feed(m, spelled, vs), 0);
  sieve_matcher_free(m);
  sieve_grammar_free(g);
  // Errors, with the reference's line and column.
  struct Bad {
    const char* text;
    sieve_status status;
    int32_t column;
  };
  for (const Bad& b : {Bad{"root ::= \"a\" <|nope|>", SIEVE_ERR_INVALID_ARGUMENT, 14},
                       Bad{"root ::= <[200000]>", SIEVE_ERR_INVALID_ARGUMENT, 10},
                       Bad{"root ::= <[128009]> <|eot_id|>", SIEVE_ERR_INVALID_ARGUMENT, 21},
                       Bad{"root ::= !<|eot_id|>", SIEVE_ERR_UNSUPPORTED, 10}}) {
    EXPECT_EQ(sieve_compiler_compile_ebnf(c.c, b.text, strlen(b.text), nullptr, &g), b.status)
        << b.text;
    EXPECT_EQ(sieve_last_error()->line, 1) << b.text;
    EXPECT_EQ(sieve_last_error()->column, b.column)
        << b.text << ": " << sieve_last_error()->message;
  }
  // Without a vocabulary there is nothing to bind the tokens to; with one in the options,
  // sieve_grammar_compile_ebnf binds them too.
  EXPECT_EQ(sieve_grammar_compile_ebnf(text, strlen(text), nullptr, &g), SIEVE_ERR_UNSUPPORTED);
  EXPECT_NE(std::string(sieve_last_error()->message).find("need a vocabulary"), std::string::npos);
  sieve_grammar_options go;
  sieve_grammar_options_init(&go);
  go.vocab = v.v;
  ASSERT_EQ(sieve_grammar_compile_ebnf(text, strlen(text), &go, &g), SIEVE_OK)
      << sieve_last_error()->message;
  ASSERT_EQ(sieve_matcher_create(g, nullptr, &m), SIEVE_OK);
  EXPECT_EQ(Feed(m, ids, vs), -1);
  EXPECT_TRUE(sieve_matcher_can_terminate(m));
  sieve_matcher_free(m);
  sieve_grammar_free(g);
  const char* unknown = "root ::= <|nope|>";
  EXPECT_EQ(sieve_grammar_compile_ebnf(unknown, strlen(unknown), &go, &g),
            SIEVE_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(sieve_last_error()->column, 10);
}

}  // namespace
