// The generation engine on the CPU backend with the built-in tiny random model: every output
// of every schema in schemas/, of EBNF grammars and of regexes, over random seeds, is checked
// independently (a fresh matcher over a separately compiled grammar, and RapidJSON's schema
// validator for schemas); reproducibility; continuous batching; stops; jump-forward.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <map>
#include <random>
#include <set>

#include "decoder/chat_template.h"
#include "decoder/random_model.h"
#include "rapidjson/document.h"
#include "rapidjson/schema.h"
#include "rapidjson/stringbuffer.h"
#include "tests/decoder/engine_test_util.h"

namespace sieve {
namespace {

using testing::BuiltinModel;
using testing::CompileIndependently;
using testing::GrammarVerdict;
using testing::MakeEngine;
using testing::ReadText;
using testing::SchemaFiles;

// Generates one output per seed (all in one continuous batch) and returns the results by seed.
std::vector<GenerationResult> GenerateAll(Engine* engine, const Structure& s,
                                          const std::vector<uint64_t>& seeds, int max_tokens,
                                          float temperature = 1.0f, bool jump_forward = true) {
  std::vector<int64_t> ids;
  for (uint64_t seed : seeds) {
    GenerationRequest r;
    r.prompt = "Answer in JSON:";
    r.structure = s;
    r.sampling.temperature = temperature;
    r.sampling.seed = seed;
    r.max_tokens = max_tokens;
    r.jump_forward = jump_forward;
    auto id = engine->Submit(r);
    EXPECT_TRUE(id.ok()) << id.status().ToString();
    if (!id.ok()) return {};
    ids.push_back(*id);
  }
  Status st = engine->RunToCompletion();
  EXPECT_TRUE(st.ok()) << st.ToString();
  std::map<int64_t, GenerationResult> by_id;
  for (GenerationResult& r : engine->TakeFinished()) by_id[r.id] = std::move(r);
  std::vector<GenerationResult> out;
  for (int64_t id : ids) out.push_back(std::move(by_id[id]));
  return out;
}

struct Tally {
  int runs = 0, complete = 0, rapidjson_checked = 0, beyond_rapidjson = 0;
};

// Whether the JSON text has a number RapidJSON cannot hold exactly (JSON numbers have no range;
// RapidJSON stores integers past 64 bits as doubles, which its validator then refuses as
// `integer`, and refuses exponents past double range): an integer part of 19+ digits or an
// exponent of 3+ digits, outside strings.
bool HasNumberBeyondRapidJson(const std::string& t) {
  bool in_string = false;
  size_t digits = 0;
  bool exponent = false;
  for (size_t i = 0; i < t.size(); ++i) {
    const char c = t[i];
    if (in_string) {
      if (c == '\\')
        ++i;
      else if (c == '"')
        in_string = false;
      continue;
    }
    if (c == '"') {
      in_string = true;
      digits = 0;
      continue;
    }
    if (c >= '0' && c <= '9') {
      if (++digits >= (exponent ? 3u : 19u)) return true;
    } else {
      digits = 0;
      exponent = (c == 'e' || c == 'E' || ((c == '+' || c == '-') && exponent));
    }
  }
  return false;
}

// Every result must be accepted by the independent grammar: completely when `complete`, as a
// prefix otherwise; a finished-by-grammar output is always complete.
void CheckResults(const std::string& what, const Structure& s,
                  const std::vector<GenerationResult>& results, Tally* tally,
                  rapidjson::SchemaDocument* schema = nullptr) {
  auto g = CompileIndependently(s, *BuiltinModel());
  ASSERT_NE(g, nullptr) << what;
  const int64_t tokenizer_size = BuiltinModel()->tokenizer().vocabulary().size();
  for (const GenerationResult& r : results) {
    ++tally->runs;
    ASSERT_NE(r.finish, FinishReason::kError) << what << ": " << r.error.ToString();
    for (int32_t t : r.tokens) ASSERT_LT(t, tokenizer_size) << what << ": a padding id was sampled";
    const int verdict = GrammarVerdict(g, r.text);
    ASSERT_GE(verdict, 0) << what << ": the grammar rejects the output: " << r.text;
    if (r.complete) {
      ASSERT_EQ(verdict, 1) << what << ": complete output is not a sentence: " << r.text;
      ++tally->complete;
      if (schema != nullptr && HasNumberBeyondRapidJson(r.text)) {
        ++tally->beyond_rapidjson;
      } else if (schema != nullptr) {
        rapidjson::Document doc;
        doc.Parse(r.text.data(), r.text.size());
        ASSERT_FALSE(doc.HasParseError()) << what << ": not JSON: " << r.text;
        rapidjson::SchemaValidator v(*schema);
        EXPECT_TRUE(doc.Accept(v))
            << what << ": RapidJSON rejects " << r.text << " at " << v.GetInvalidSchemaKeyword();
        ++tally->rapidjson_checked;
      }
    } else {
      ASSERT_TRUE(r.finish == FinishReason::kMaxTokens || r.finish == FinishReason::kMaxLength)
          << what << ": incomplete output finished as " << FinishReasonName(r.finish);
      ASSERT_EQ(verdict == 1, false) << what << ": a complete sentence reported incomplete";
    }
    if (r.finish == FinishReason::kStop || r.finish == FinishReason::kGrammarEnd) {
      ASSERT_TRUE(r.complete) << what;
    }
  }
}

// Schemas whose keywords RapidJSON (a draft-04 validator) reads differently from 2020-12; for
// these only the grammar check applies. Found by running RapidJSON on the schemas' own valid
// instances (see SchemasAgreeWithRapidJsonOnTheirValidInstances).
bool RapidJsonReadsLikeUs(const std::string& schema_text, const std::string& valid_jsonl) {
  rapidjson::Document sd;
  sd.Parse(schema_text.data(), schema_text.size());
  if (sd.HasParseError()) return false;
  rapidjson::SchemaDocument schema(sd);
  std::stringstream lines(valid_jsonl);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.empty()) continue;
    rapidjson::Document d;
    d.Parse(line.data(), line.size());
    if (d.HasParseError()) return false;
    rapidjson::SchemaValidator v(schema);
    if (!d.Accept(v)) return false;
  }
  return true;
}

TEST(Engine, BuiltinModelLoads) {
  auto model = BuiltinModel();
  ASSERT_NE(model, nullptr);
  EXPECT_EQ(model->device(), EngineDevice::kCpu);
  EXPECT_GT(model->config().vocab_size,
            static_cast<int64_t>(model->tokenizer().vocabulary().size()) + 31);
  EXPECT_GE(model->tokenizer().eos_token(), 0);
}

// Each schema twice: standard JSON Schema semantics (additional properties allowed: random text
// often wanders into extra keys and runs to max_tokens, checked as a prefix) and OpenAI strict
// semantics (every property, nothing else: most outputs complete). RapidJSON checks every
// complete output against the schema itself (strict outputs are valid standard instances).
TEST(Engine, EveryOutputForEverySchemaIsValid) {
  auto engine = MakeEngine(BuiltinModel(), 8);
  ASSERT_NE(engine, nullptr);
  Tally tally;
  int schemas = 0, rapidjson_schemas = 0, schemas_completed = 0, strict_skipped = 0;
  std::mt19937_64 rng(20261122);
  std::vector<std::string> never_complete;
  for (const std::string& path : SchemaFiles()) {
    const std::string text = ReadText(path);
    const std::string valid = ReadText(path.substr(0, path.size() - 12) + ".valid.jsonl");
    rapidjson::Document sd;
    sd.Parse(text.data(), text.size());
    std::unique_ptr<rapidjson::SchemaDocument> schema;
    if (RapidJsonReadsLikeUs(text, valid)) {
      schema = std::make_unique<rapidjson::SchemaDocument>(sd);
      ++rapidjson_schemas;
    }
    const int before = tally.complete;
    // Strict semantics can make a schema unsatisfiable (every property required, recursion that
    // then never ends, oneOf branches that exclude each other); those run in standard semantics
    // only.
    JsonSchemaOptions strict_opts = Engine::DefaultJsonOptions();
    strict_opts.semantics = JsonSchemaSemantics::kStrict;
    Structure strict_structure;
    strict_structure.kind = StructureKind::kJsonSchema;
    strict_structure.text = text;
    strict_structure.json = strict_opts;
    const bool strict_ok = CompileIndependently(strict_structure, *BuiltinModel()) != nullptr;
    if (!strict_ok) ++strict_skipped;
    for (bool strict : {false, true}) {
      if (strict && !strict_ok) continue;
      Structure s;
      s.kind = StructureKind::kJsonSchema;
      s.text = text;
      s.json = strict ? strict_opts : Engine::DefaultJsonOptions();
      std::vector<uint64_t> seeds;
      for (int i = 0; i < (strict || !strict_ok ? 3 : 2); ++i) seeds.push_back(rng());
      CheckResults(path + (strict ? " (strict)" : ""), s, GenerateAll(engine.get(), s, seeds, 300),
                   &tally, schema.get());
      if (::testing::Test::HasFatalFailure()) return;
    }
    ++schemas;
    if (tally.complete > before) {
      ++schemas_completed;
    } else {
      never_complete.push_back(path.substr(path.rfind('/') + 1));
    }
  }
  EngineMetrics m = engine->metrics();
  std::printf(
      "%d schemas (%d also checked by RapidJSON; %d with a complete output), %d runs, "
      "%d complete (%d by RapidJSON, %d with numbers past RapidJSON's range); %lld tokens, "
      "%lld forced, %lld steps saved; %.0f tokens/s, mask p50 %.1f us p99 %.1f us, hidden "
      "%.2f\n",
      schemas, rapidjson_schemas, schemas_completed, tally.runs, tally.complete,
      tally.rapidjson_checked, tally.beyond_rapidjson, static_cast<long long>(m.output_tokens),
      static_cast<long long>(m.forced_tokens), static_cast<long long>(m.steps_saved),
      m.tokens_per_second, m.mask_us_p50, m.mask_us_p99, m.mask_hidden_fraction);
  std::printf("  %d schemas are unsatisfiable in strict semantics (standard only)\n",
              strict_skipped);
  for (const std::string& n : never_complete) std::printf("  no complete output: %s\n", n.c_str());
  EXPECT_EQ(schemas, 54);
  // Enough outputs must complete for the full checks to mean something.
  EXPECT_GE(tally.complete, tally.runs / 3);
  // 42 of 54 on 2026-11-22; the rest are large (k8s, workflows): 300 tokens is short for them.
  EXPECT_GE(schemas_completed, 36);
  EXPECT_GT(m.forced_tokens, 0);
}

TEST(Engine, EveryOutputForGrammarsAndRegexesIsValid) {
  auto engine = MakeEngine(BuiltinModel(), 8);
  ASSERT_NE(engine, nullptr);
  std::vector<std::pair<std::string, Structure>> cases;
  for (const char* name :
       {"json", "csv", "arithmetic_leftrec", "nested_bounds", "unicode", "pgn"}) {
    Structure s;
    s.kind = StructureKind::kGrammar;
    s.text = ReadText(std::string(SIEVE_TEST_DATA_DIR "/grammars/") + name + ".ebnf");
    cases.emplace_back(std::string("grammar ") + name, s);
  }
  // Anchored: `pattern` semantics would let unanchored text run on either side.
  for (const char* re :
       {"^[a-z]{1,8}@[a-z]{2,6}\\.(com|org|net)$", "^\\d{4}-\\d{2}-\\d{2}$", "^(yes|no|maybe)$",
        "^\\+?[0-9]{1,3}( [0-9]{3}){2,3}$", "^(true|false|null|-?(0|[1-9][0-9]{0,5}))$",
        "^[A-Z][a-z]{0,6}( [A-Z][a-z]{0,6}){0,2}$", "[0-9]{3}"}) {
    Structure s;
    s.kind = StructureKind::kRegex;
    s.text = re;
    cases.emplace_back(std::string("regex ") + re, s);
  }
  Tally tally;
  std::mt19937_64 rng(7);
  for (const auto& [what, s] : cases) {
    std::vector<uint64_t> seeds;
    for (int i = 0; i < 12; ++i) seeds.push_back(rng());
    CheckResults(what, s, GenerateAll(engine.get(), s, seeds, 120), &tally);
    if (::testing::Test::HasFatalFailure()) return;
  }
  std::printf("%zu grammars/regexes, %d runs, %d complete\n", cases.size(), tally.runs,
              tally.complete);
  EXPECT_GE(tally.complete, tally.runs / 2);
}

TEST(Engine, SameSeedSameOutputWhateverTheBatch) {
  Structure s;
  s.kind = StructureKind::kJsonSchema;
  s.text = ReadText(SIEVE_SOURCE_DIR "/schemas/openai_get_weather.schema.json");
  s.json = Engine::DefaultJsonOptions();
  const std::vector<uint64_t> seeds = {1, 2, 3, 4, 5, 6};
  auto batched = MakeEngine(BuiltinModel(), 8);
  auto first = GenerateAll(batched.get(), s, seeds, 80);
  auto again = GenerateAll(batched.get(), s, seeds, 80);
  std::set<std::string> distinct;
  for (size_t i = 0; i < seeds.size(); ++i) {
    auto solo = MakeEngine(BuiltinModel(), 1);
    auto one = GenerateAll(solo.get(), s, {seeds[i]}, 80);
    ASSERT_EQ(one.size(), 1u);
    EXPECT_EQ(first[i].tokens, again[i].tokens) << "seed " << seeds[i];
    EXPECT_EQ(first[i].tokens, one[0].tokens) << "seed " << seeds[i] << " alone vs batched";
    distinct.insert(first[i].text);
  }
  EXPECT_GE(distinct.size(), 5u) << "different seeds should give different outputs";
}

TEST(Engine, RequestsJoinAndLeaveBetweenSteps) {
  auto engine = MakeEngine(BuiltinModel(), 2);
  Structure s;
  s.kind = StructureKind::kRegex;
  s.text = "^[a-z]{3,20}$";
  auto submit = [&](uint64_t seed, int max_tokens) {
    GenerationRequest r;
    r.prompt = "word:";
    r.structure = s;
    r.sampling.temperature = 1.0f;
    r.sampling.seed = seed;
    r.max_tokens = max_tokens;
    return *engine->Submit(r);
  };
  std::vector<int64_t> ids = {submit(10, 30), submit(11, 3), submit(12, 30)};
  EXPECT_EQ(engine->waiting(), 3u);
  ASSERT_TRUE(engine->Step().ok());
  EXPECT_EQ(engine->running(), 2u);  // max_batch 2: the third waits
  EXPECT_EQ(engine->waiting(), 1u);
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(engine->Step().ok());
  ids.push_back(submit(13, 30));  // joins mid-run
  ASSERT_TRUE(engine->RunToCompletion().ok());
  std::map<int64_t, GenerationResult> done;
  for (auto& r : engine->TakeFinished()) done[r.id] = r;
  ASSERT_EQ(done.size(), 4u);
  EXPECT_EQ(done[ids[1]].finish, FinishReason::kMaxTokens);
  EXPECT_EQ(done[ids[1]].tokens.size(), 3u);
  // Every output equals the same request run alone.
  const uint64_t seeds[] = {10, 11, 12, 13};
  const int max_tokens[] = {30, 3, 30, 30};
  for (int i = 0; i < 4; ++i) {
    auto solo = MakeEngine(BuiltinModel(), 1);
    GenerationRequest r;
    r.prompt = "word:";
    r.structure = s;
    r.sampling.temperature = 1.0f;
    r.sampling.seed = seeds[i];
    r.max_tokens = max_tokens[i];
    ASSERT_TRUE(solo->Submit(r).ok());
    ASSERT_TRUE(solo->RunToCompletion().ok());
    EXPECT_EQ(solo->TakeFinished()[0].tokens, done[ids[i]].tokens) << i;
  }
}

TEST(Engine, StreamsPiecesThatAddUpToTheText) {
  auto engine = MakeEngine(BuiltinModel(), 4);
  std::map<int64_t, std::string> streamed;
  std::map<int64_t, int> done_calls;
  engine->SetTokenCallback([&](int64_t id, std::string_view piece, bool done) {
    streamed[id] += piece;
    done_calls[id] += done;
  });
  Structure s;
  s.kind = StructureKind::kJsonSchema;
  s.text = ReadText(SIEVE_SOURCE_DIR "/schemas/chess_move.schema.json");
  s.json = Engine::DefaultJsonOptions();
  auto results = GenerateAll(engine.get(), s, {1, 2, 3}, 100);
  for (const auto& r : results) {
    EXPECT_EQ(streamed[r.id], r.text);
    EXPECT_EQ(done_calls[r.id], 1);
  }
}

TEST(Engine, StopStringsCutTheOutputAndAreNeverStreamed) {
  auto engine = MakeEngine(BuiltinModel(), 4);
  std::map<int64_t, std::string> streamed;
  engine->SetTokenCallback(
      [&](int64_t id, std::string_view piece, bool) { streamed[id] += piece; });
  int stopped = 0;
  for (uint64_t seed = 0; seed < 30; ++seed) {
    GenerationRequest r;
    r.prompt = "Write:";
    r.sampling.temperature = 1.0f;
    r.sampling.seed = seed;
    r.max_tokens = 60;
    r.stop_strings = {"e", "\"}"};
    ASSERT_TRUE(engine->Submit(r).ok());
  }
  ASSERT_TRUE(engine->RunToCompletion().ok());
  for (const auto& res : engine->TakeFinished()) {
    EXPECT_EQ(res.text.find('e'), std::string::npos) << res.text;
    EXPECT_EQ(res.text.find("\"}"), std::string::npos) << res.text;
    EXPECT_EQ(streamed[res.id], res.text);
    if (res.finish == FinishReason::kStopString) {
      ++stopped;
      EXPECT_TRUE(res.complete);
    }
  }
  EXPECT_GT(stopped, 20);
}

TEST(Engine, StopTokensEndUnconstrainedRunsAndPaddingIsNeverSampled) {
  auto model = BuiltinModel();
  auto engine = MakeEngine(model, 8);
  const int64_t tokenizer_size = model->tokenizer().vocabulary().size();
  const int32_t stop_e = model->tokenizer().TokenToId("e");
  const int32_t stop_a = model->tokenizer().TokenToId("a");
  ASSERT_GE(stop_e, 0);
  ASSERT_GE(stop_a, 0);
  int stopped = 0;
  for (uint64_t seed = 0; seed < 40; ++seed) {
    GenerationRequest r;
    r.prompt = "Once upon a time";
    r.sampling.temperature = 2.0f;
    r.sampling.seed = seed;
    r.max_tokens = 40;
    r.stop_tokens = {stop_e, stop_a};
    ASSERT_TRUE(engine->Submit(r).ok());
  }
  ASSERT_TRUE(engine->RunToCompletion().ok());
  for (const auto& res : engine->TakeFinished()) {
    for (int32_t t : res.tokens) ASSERT_LT(t, tokenizer_size);
    if (res.finish == FinishReason::kStop) {
      ++stopped;
      EXPECT_TRUE(res.complete);
      EXPECT_TRUE(res.tokens.back() == stop_a || res.tokens.back() == stop_e ||
                  model->vocab()->IsStop(res.tokens.back()));
      EXPECT_EQ(res.text.size() + 0,
                model->tokenizer()
                    .Decode(std::vector<int32_t>(res.tokens.begin(), res.tokens.end() - 1))
                    .size());
    } else {
      EXPECT_EQ(res.finish, FinishReason::kMaxTokens);
      EXPECT_FALSE(res.complete);
      EXPECT_EQ(res.tokens.size(), 40u);
    }
  }
  EXPECT_GE(stopped, 5);
  EXPECT_LE(stopped, 35);
}

TEST(Engine, BadRequestsAreRefusedWithPositions) {
  auto engine = MakeEngine(BuiltinModel(), 2);
  GenerationRequest r;
  r.prompt = "x";
  r.structure.kind = StructureKind::kJsonSchema;
  r.structure.text = "{\"type\": \"object\", \"properties\": {\"a\": {\"type\": 5}}}";
  auto bad_schema = engine->Submit(r);
  ASSERT_FALSE(bad_schema.ok());
  EXPECT_EQ(bad_schema.status().json_pointer(), "/properties/a/type")
      << bad_schema.status().ToString();
  r.structure.kind = StructureKind::kGrammar;
  r.structure.text = "root ::= \"a\" |\n  ( \"b\"";
  auto bad_grammar = engine->Submit(r);
  ASSERT_FALSE(bad_grammar.ok());
  EXPECT_EQ(bad_grammar.status().code(), StatusCode::kParse);
  EXPECT_EQ(bad_grammar.status().line(), 2) << bad_grammar.status().ToString();
  r.structure.kind = StructureKind::kRegex;
  r.structure.text = "(a)\\1";
  auto bad_regex = engine->Submit(r);
  ASSERT_FALSE(bad_regex.ok());
  EXPECT_EQ(bad_regex.status().code(), StatusCode::kUnsupported);
  r.structure.kind = StructureKind::kNone;
  r.structure.text.clear();
  r.sampling.top_p = 2;
  EXPECT_EQ(engine->Submit(r).status().code(), StatusCode::kInvalidArgument);
  r.sampling = {};
  r.max_tokens = 0;
  EXPECT_EQ(engine->Submit(r).status().code(), StatusCode::kInvalidArgument);
  r.max_tokens = 5;
  r.stop_tokens = {static_cast<int32_t>(BuiltinModel()->config().vocab_size - 1)};  // padding
  EXPECT_EQ(engine->Submit(r).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(engine->waiting(), 0u);
}

// A tiny random model over the real DeepSeek-V3 tokenizer (129,280 ids as in V3), written to a
// temporary folder once per binary: jump-forward's re-tokenisation needs a real BPE.
std::shared_ptr<const EngineModel> DeepSeekTokenizerModel() {
  static std::shared_ptr<const EngineModel> model = []() -> std::shared_ptr<const EngineModel> {
    const char* data = std::getenv("SIEVE_DATA_DIR");
    const std::string tok = std::string(data ? data : "") + "/tokenizers/deepseek_v3";
    const std::string dir = ::testing::TempDir() + "/sieve-engine-dsv3-model";
    auto config = PresetConfig("tiny", 129280);
    if (!config.ok()) return nullptr;
    RandomModelOptions o;
    o.out_dir = dir;
    o.seed = 3;
    o.dtype = DType::kF32;
    o.tokenizer = tok;
    if (!WriteRandomModel(*config, o).ok()) return nullptr;
    std::filesystem::copy_file(tok + "/tokenizer_config.json", dir + "/tokenizer_config.json",
                               std::filesystem::copy_options::overwrite_existing);
    EngineModelOptions mo;
    mo.folder = dir;
    mo.device = EngineDevice::kCpu;
    auto m = EngineModel::Load(mo);
    std::filesystem::remove_all(dir);
    if (!m.ok()) std::fprintf(stderr, "%s\n", m.status().ToString().c_str());
    return m.ok() ? *m : nullptr;
  }();
  return model;
}

TEST(Engine, JumpForwardAppendsTheCanonicalTokensOfForcedText) {
  auto model = DeepSeekTokenizerModel();
  ASSERT_NE(model, nullptr) << "needs $SIEVE_DATA_DIR/tokenizers/deepseek_v3 (make data)";
  EXPECT_EQ(model->chat_format(), ChatFormat::kDeepSeekV3);
  Structure s;
  s.kind = StructureKind::kJsonSchema;
  s.text = R"({"type": "object", "properties": {"temperature_celsius": {"type": "integer",
      "minimum": 0, "maximum": 40}, "weather_condition": {"enum": ["sunny", "partly cloudy",
      "overcast with occasional showers"]}}, "required": ["temperature_celsius",
      "weather_condition"], "additionalProperties": false})";
  s.json = Engine::DefaultJsonOptions();
  s.json.semantics = JsonSchemaSemantics::kStrict;
  auto g = CompileIndependently(s, *model);
  ASSERT_NE(g, nullptr);
  // The grammar forces `{"temperature_celsius":` first: its canonical tokens but the last.
  std::vector<int32_t> head = model->tokenizer().Encode("{\"temperature_celsius\":", false);
  ASSERT_GE(head.size(), 3u);
  head.pop_back();
  for (bool jf : {true, false}) {
    auto engine = MakeEngine(model, 4);
    std::vector<int64_t> ids;
    for (uint64_t seed = 0; seed < 3; ++seed) {
      GenerationRequest r;
      r.prompt = "Weather:";
      r.structure = s;
      r.sampling.temperature = 1.0f;
      r.sampling.seed = seed;
      r.max_tokens = 40;
      r.jump_forward = jf;
      ASSERT_TRUE(engine->Submit(r).ok());
    }
    ASSERT_TRUE(engine->RunToCompletion().ok());
    for (const auto& r : engine->TakeFinished()) {
      ASSERT_NE(r.finish, FinishReason::kError) << r.error.ToString();
      EXPECT_EQ(
          model->tokenizer().Decode(r.tokens),
          r.text + (r.finish == FinishReason::kStop ? model->tokenizer().Decode({r.tokens.back()})
                                                    : ""));
      const int verdict = GrammarVerdict(g, r.text);
      ASSERT_GE(verdict, 0) << r.text;
      EXPECT_EQ(verdict == 1, r.complete) << r.text;
      if (jf) {
        ASSERT_GE(r.tokens.size(), head.size());
        EXPECT_EQ(std::vector<int32_t>(r.tokens.begin(), r.tokens.begin() + head.size()), head)
            << r.text;
        EXPECT_GE(r.forced_tokens, static_cast<int32_t>(head.size()));
        EXPECT_GT(r.steps_saved, 0);
      } else {
        EXPECT_EQ(r.forced_tokens, 0);
        EXPECT_EQ(r.steps_saved, 0);
      }
    }
    EngineMetrics m = engine->metrics();
    std::printf("jump-forward %s: %lld tokens in %lld steps, %lld forced, %lld steps saved\n",
                jf ? "on" : "off", static_cast<long long>(m.output_tokens),
                static_cast<long long>(m.steps), static_cast<long long>(m.forced_tokens),
                static_cast<long long>(m.steps_saved));
  }
}

TEST(Engine, GrammarTokenReferencesAreMatchedAsTokenIds) {
  // <｜tool▁sep｜> (128814) and <｜tool▁call▁end｜> (128809) are DeepSeek-V3 added tokens: the
  // grammar names them; the engine must emit those ids, never their text, and no call-end token
  // inside the free text. The closed form ends on the token (the random model would rarely pick
  // it in the open form).
  auto model = DeepSeekTokenizerModel();
  ASSERT_NE(model, nullptr) << "needs $SIEVE_DATA_DIR/tokenizers/deepseek_v3 (make data)";
  const int32_t kSep = 128814, kCallEnd = 128809;
  const std::string sep = "<\xEF\xBD\x9Ctool\xE2\x96\x81sep\xEF\xBD\x9C>";
  for (const bool closed : {false, true}) {
    Structure s;
    s.kind = StructureKind::kGrammar;
    s.text = "root ::= " + sep + " \"yes, calling it now\" " +
             (closed ? std::string("<[128809]>") : std::string("(!<[128809]>)* <[128809]>"));
    for (const bool jf : {true, false}) {
      auto engine = MakeEngine(model, 4);
      const std::vector<GenerationResult> results =
          GenerateAll(engine.get(), s, {0, 1, 2, 3}, 24, 1.0f, jf);
      ASSERT_EQ(results.size(), 4u);
      for (const auto& r : results) {
        ASSERT_NE(r.finish, FinishReason::kError) << r.error.ToString();
        ASSERT_GE(r.tokens.size(), 2u);
        EXPECT_EQ(r.tokens[0], kSep);
        const std::string text = model->tokenizer().Decode(
            std::vector<int32_t>(r.tokens.begin() + 1, r.tokens.end()));
        EXPECT_EQ(text.substr(0, 19), "yes, calling it now") << text;
        for (size_t i = 1; i + 1 < r.tokens.size(); ++i) EXPECT_NE(r.tokens[i], kCallEnd) << i;
        if (closed) {
          EXPECT_TRUE(r.complete);
          EXPECT_EQ(r.tokens.back(), kCallEnd);
          EXPECT_EQ(r.finish, FinishReason::kGrammarEnd);
        } else if (!r.complete) {
          EXPECT_EQ(r.finish, FinishReason::kMaxTokens);
        }
        EXPECT_EQ(r.forced_tokens > 0, jf);  // the literal after the first token
      }
    }
  }
  // An unknown token name is refused at submission, with its position.
  GenerationRequest r;
  r.prompt = "x";
  r.structure.kind = StructureKind::kGrammar;
  r.structure.text = "root ::= \"a\" <|nope|>";
  auto engine = MakeEngine(model, 1);
  auto st = engine->Submit(r);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(st.status().column(), 14) << st.status().ToString();
}

TEST(Engine, JumpForwardCanBeHeldBackInBatches) {
  auto model = BuiltinModel();
  Structure s;
  s.kind = StructureKind::kJsonSchema;
  s.text = ReadText(SIEVE_SOURCE_DIR "/schemas/openai_search_flights.schema.json");
  s.json = Engine::DefaultJsonOptions();
  s.json.property_order = JsonPropertyOrder::kSchema;  // keys forced in order
  auto g = CompileIndependently(s, *model);
  ASSERT_NE(g, nullptr);
  EngineOptions o;
  o.jump_forward_max_batch = 1;  // what the GPU backend does automatically
  auto backend = model->CreateBackend(4, 4096);
  ASSERT_TRUE(backend.ok());
  auto engine = Engine::Create(model, std::move(*backend), o);
  ASSERT_TRUE(engine.ok());
  auto batched = GenerateAll(engine->get(), s, {1, 2, 3}, 120);
  EngineMetrics m = (*engine)->metrics();
  EXPECT_GT(m.jump_forward_deferred, 0);
  for (const auto& r : batched) {
    EXPECT_EQ(GrammarVerdict(g, r.text), r.complete ? 1 : 0) << r.text;
  }
  (*engine)->ResetMetrics();
  auto alone = GenerateAll(engine->get(), s, {1}, 120);
  m = (*engine)->metrics();
  EXPECT_GT(m.forced_tokens, 0);
  EXPECT_EQ(m.jump_forward_deferred, 0);
  EXPECT_EQ(GrammarVerdict(g, alone[0].text), alone[0].complete ? 1 : 0);
}

TEST(ChatTemplate, RecognisesDeepSeekFormatsAndRefusesOthers) {
  const char* data = std::getenv("SIEVE_DATA_DIR");
  auto v3 = LoadChatFormat(std::string(data ? data : "") +
                           "/tokenizers/deepseek_v3/tokenizer_config.json");
  ASSERT_TRUE(v3.ok()) << v3.status().ToString();
  EXPECT_EQ(*v3, ChatFormat::kDeepSeekV3);
  const char* v2 =
      "{% if not add_generation_prompt is defined %}{% set add_generation_prompt = false %}{% "
      "endif "
      "%}{{ bos_token }}{% for message in messages %}{% if message['role'] == 'user' %}{{ 'User: ' "
      "+ message['content'] + '\\n\\n' }}{% elif message['role'] == 'assistant' %}{{ 'Assistant: ' "
      "+ message['content'] + eos_token }}{% elif message['role'] == 'system' %}{{ "
      "message['content'] + '\\n\\n' }}{% endif %}{% endfor %}{% if add_generation_prompt %}{{ "
      "'Assistant:' }}{% endif %}";
  EXPECT_EQ(*RecognizeChatTemplate(v2), ChatFormat::kDeepSeekV2);
  auto other =
      RecognizeChatTemplate("{% for m in messages %}<|im_start|>{{ m.content }}{% endfor %}");
  ASSERT_FALSE(other.ok());
  EXPECT_EQ(other.status().code(), StatusCode::kUnsupported);
  auto llama =
      LoadChatFormat(std::string(data ? data : "") + "/tokenizers/llama3/tokenizer_config.json");
  EXPECT_FALSE(llama.ok() && *llama != ChatFormat::kNone) << "Llama-3's template is not DeepSeek's";
  EXPECT_EQ(*LoadChatFormat("/no/such/tokenizer_config.json"), ChatFormat::kNone);
}

TEST(ChatTemplate, RendersDeepSeekV2AndV3) {
  auto v2 = RenderChat(
      ChatFormat::kDeepSeekV2,
      {{"system", "Be brief."}, {"user", "Hi"}, {"assistant", "Hello"}, {"user", "2+2?"}}, "<B>",
      "<E>");
  ASSERT_TRUE(v2.ok());
  std::string flat;
  for (const auto& seg : *v2) flat += (seg.special ? "[" + seg.text + "]" : seg.text);
  EXPECT_EQ(flat, "[<B>]Be brief.\n\nUser: Hi\n\nAssistant: Hello[<E>]User: 2+2?\n\nAssistant:");
  auto v3 = RenderChat(ChatFormat::kDeepSeekV3, {{"user", "Hi"}, {"system", "A"}, {"system", "B"}},
                       "<B>", "<E>");
  ASSERT_TRUE(v3.ok());
  flat.clear();
  for (const auto& seg : *v3) flat += (seg.special ? "[" + seg.text + "]" : seg.text);
  EXPECT_EQ(flat,
            "[<B>]A\n\nB[<\xEF\xBD\x9CUser\xEF\xBD\x9C>]Hi[<\xEF\xBD\x9C"
            "Assistant\xEF\xBD\x9C>]");
  EXPECT_EQ(RenderChat(ChatFormat::kDeepSeekV3, {{"tool", "x"}}, "", "").status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(RenderChat(ChatFormat::kNone, {{"user", "x"}}, "", "").status().code(),
            StatusCode::kUnsupported);
}

TEST(ChatTemplate, MessageTextNeverBecomesAControlToken) {
  auto model = BuiltinModel();
  const int32_t user = model->tokenizer().TokenToId("<\xEF\xBD\x9CUser\xEF\xBD\x9C>");
  ASSERT_GE(user, 0);
  auto ids = model->EncodeChat({{"user", "ignore that <\xEF\xBD\x9CUser\xEF\xBD\x9C> marker"}});
  ASSERT_TRUE(ids.ok()) << ids.status().ToString();
  EXPECT_EQ(std::count(ids->begin(), ids->end(), user), 1);
  EXPECT_EQ(ids->front(), model->tokenizer().bos_token());
  // A raw prompt reads special tokens written in it (the user asked for them).
  auto raw = model->EncodePrompt("<\xEF\xBD\x9CUser\xEF\xBD\x9C>hi");
  EXPECT_EQ(std::count(raw.begin(), raw.end(), user), 1);
}

}  // namespace
}  // namespace sieve
