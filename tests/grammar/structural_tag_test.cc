// Structural tags: every ready-made format accepts hand-written and generated transcripts and
// rejects malformed ones at the right byte; spec errors carry JSON pointers. Token pieces (DeepSeek)
// are covered through the C API in tests/capi/capi_structural_tag_test.cc.
#include "grammar/structural_tag.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "grammar/compiler.h"
#include "grammar/matcher.h"
#include "grammar/openai_request.h"
#include "grammar/support/utf8.h"
#include "rapidjson/document.h"

namespace sieve {
namespace {

const char* kWeather =
    R"({"type":"object","properties":{"city":{"type":"string","maxLength":20},)"
    R"("days":{"type":"integer","minimum":1,"maximum":7}},"required":["city"],)"
    R"("additionalProperties":false})";
const char* kTime = R"({"type":"object","properties":{"tz":{"enum":["UTC","CET"]}},)"
                    R"("required":["tz"],"additionalProperties":false})";

std::vector<ToolDef> Tools() { return {{"get_weather", kWeather, false}, {"get_time", kTime, false}}; }

std::shared_ptr<const CompiledGrammar> Compile(const StructuralTagSpec& spec) {
  auto g = StructuralTagToGrammar(spec, StructuralTagOptions());
  EXPECT_TRUE(g.ok()) << g.status().ToString();
  if (!g.ok()) return nullptr;
  auto c = CompileGrammarIr(std::move(g->grammar), GrammarCompileOptions());
  EXPECT_TRUE(c.ok()) << c.status().ToString();
  return c.ok() ? c->pda : nullptr;
}

// Feeds `text` byte by byte: the offset of the first rejected byte, or -1 when all are accepted
// and the grammar can end there, or -2 when all are accepted but the text is incomplete.
int64_t RejectAt(const std::shared_ptr<const CompiledGrammar>& g, const std::string& text) {
  GrammarMatcher m(g);
  for (size_t i = 0; i < text.size(); ++i) {
    if (!m.AcceptByte(static_cast<uint8_t>(text[i]))) return static_cast<int64_t>(i);
  }
  return m.CanTerminate() ? -1 : -2;
}

std::string Hermes(const std::string& name, const std::string& args) {
  return "<tool_call>\n{\"name\": \"" + name + "\", \"arguments\": " + args + "}\n</tool_call>";
}

TEST(StructuralTag, HermesAcceptsTextAndParallelCalls) {
  auto g = Compile(ToolCallSpec(ToolCallFormat::kHermes, Tools(), ToolChoice::kAuto, true));
  ASSERT_NE(g, nullptr);
  EXPECT_EQ(RejectAt(g, "Just text, with a < sign and <tool> and <tool_cal."), -1);
  EXPECT_EQ(RejectAt(g, ""), -1);
  const std::string call = Hermes("get_weather", R"({"city": "Paris", "days": 3})");
  EXPECT_EQ(RejectAt(g, "Let me check. " + call), -1);
  EXPECT_EQ(RejectAt(g, call + "\n" + Hermes("get_time", R"({"tz": "UTC"})") + "\nDone."), -1);
  // Unknown tool: rejected at the first byte of its name that no tool has.
  const std::string bad = "Hi <tool_call>\n{\"name\": \"get_x";
  EXPECT_EQ(RejectAt(g, bad + "\"}"), static_cast<int64_t>(bad.size() - 1));
  // Arguments against the schema: days out of range, an extra property.
  const std::string pre = "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"P\", \"days\": ";
  EXPECT_EQ(RejectAt(g, pre + "9}}"), static_cast<int64_t>(pre.size()));
  const std::string pre2 = "<tool_call>\n{\"name\": \"get_time\", \"arguments\": {\"tz\": \"UTC\", ";
  EXPECT_EQ(RejectAt(g, pre2 + "\"x\": 1}}"), static_cast<int64_t>(pre2.size() - 2));
  // A call left open cannot end the turn.
  EXPECT_EQ(RejectAt(g, pre + "2}"), -2);
}

TEST(StructuralTag, RequiredAndSingleCallAndNone) {
  auto req = Compile(ToolCallSpec(ToolCallFormat::kHermes, Tools(), ToolChoice::kRequired, true));
  ASSERT_NE(req, nullptr);
  const std::string call = Hermes("get_time", R"({"tz": "CET"})");
  EXPECT_EQ(RejectAt(req, call), -1);
  EXPECT_EQ(RejectAt(req, call + "\n" + call), -1);
  EXPECT_EQ(RejectAt(req, "Sure: " + call), 0);
  EXPECT_EQ(RejectAt(req, ""), -2);

  auto one = Compile(ToolCallSpec(ToolCallFormat::kHermes, Tools(), ToolChoice::kAuto, false));
  ASSERT_NE(one, nullptr);
  EXPECT_EQ(RejectAt(one, "a " + call + " b"), -1);
  // The second trigger is refused at its last byte (before that it is still text: "<tool_cal").
  const std::string two = "a " + call + " b " + "<tool_call>";
  EXPECT_EQ(RejectAt(one, two), static_cast<int64_t>(two.size() - 1));

  auto none = Compile(ToolCallSpec(ToolCallFormat::kHermes, Tools(), ToolChoice::kNone, true));
  ASSERT_NE(none, nullptr);
  EXPECT_EQ(RejectAt(none, "any text at all <tool_call>"), -1);
}

TEST(StructuralTag, Llama3JsonCalls) {
  auto g = Compile(ToolCallSpec(ToolCallFormat::kLlama3, Tools(), ToolChoice::kAuto, true));
  ASSERT_NE(g, nullptr);
  EXPECT_EQ(RejectAt(g, R"({"name": "get_weather", "parameters": {"city": "Oslo"}})"), -1);
  EXPECT_EQ(RejectAt(g, R"(The answer is {"a": 1} maybe.)"), -1);  // JSON that is not a call
  const std::string bad = R"({"name": "delete_all)";
  EXPECT_EQ(RejectAt(g, bad), static_cast<int64_t>(std::string(R"({"name": "d)").size() - 1));
  auto req = Compile(ToolCallSpec(ToolCallFormat::kLlama3, Tools(), ToolChoice::kRequired, true));
  ASSERT_NE(req, nullptr);
  EXPECT_EQ(RejectAt(req, R"({"name": "get_time", "parameters": {"tz": "UTC"}})"), -1);
  EXPECT_EQ(RejectAt(req, "x"), 0);
}

TEST(StructuralTag, ThinkThenStrictJson) {
  auto g = Compile(ThinkThenJsonSpec(
      R"({"type":"object","properties":{"answer":{"type":"integer"}},"required":["answer"],"additionalProperties":false})",
      true));
  ASSERT_NE(g, nullptr);
  EXPECT_EQ(RejectAt(g, "<think>6 times 7, carry the <b> tag</think>\n{\"answer\": 42}"), -1);
  EXPECT_EQ(RejectAt(g, "<think></think>{\"answer\":1}"), -1);
  EXPECT_EQ(RejectAt(g, "{\"answer\": 42}"), 0);                 // reasoning block required
  const std::string pre = "<think>x</think>\n{\"answer\": ";
  EXPECT_EQ(RejectAt(g, pre + "\"no\"}"), static_cast<int64_t>(pre.size()));
  EXPECT_EQ(RejectAt(g, "<think>x</think>{}"), 17);  // strict: "answer" is required
}

TEST(StructuralTag, SpecJsonMatchesFormatAndReportsPointers) {
  auto spec = ParseStructuralTag(R"({
    "tags": [{"name": "f", "begin": ["<f>", "{\"a\": "], "content": {"regex": "[0-9]+"}, "end": "}</f>"}],
    "triggers": ["<f>"], "tool_choice": "auto", "parallel": false})");
  ASSERT_TRUE(spec.ok()) << spec.status().ToString();
  auto g = Compile(*spec);
  ASSERT_NE(g, nullptr);
  EXPECT_EQ(RejectAt(g, "t <f>{\"a\": 12}</f> u"), -1);
  EXPECT_EQ(RejectAt(g, "t <f>{\"a\": x"), 11);

  auto e1 = ParseStructuralTag(R"({"tags": [{"begin": "a", "content": {"regexp": "x"}, "end": "b"}]})");
  ASSERT_FALSE(e1.ok());
  EXPECT_EQ(e1.status().json_pointer(), "/tags/0/content/regexp");
  auto e2 = ParseStructuralTag(R"({"tags": [}")");
  ASSERT_FALSE(e2.ok());
  EXPECT_EQ(e2.status().code(), StatusCode::kParse);
  EXPECT_EQ(e2.status().offset(), 10);
  auto e3 = ParseStructuralTag(R"({"tool_choice": "sometimes"})");
  ASSERT_FALSE(e3.ok());
  EXPECT_EQ(e3.status().json_pointer(), "/tool_choice");

  // A trigger whose first character repeats inside it cannot be excluded from free text simply.
  StructuralTagSpec rep = ToolCallSpec(ToolCallFormat::kHermes, Tools(), ToolChoice::kAuto, true);
  rep.triggers = {TagPiece{"<<x<", false}};
  for (auto& t : rep.tags) t.begin[0].text = "<<x<";
  auto r = StructuralTagToGrammar(rep, StructuralTagOptions());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnsupported);
  EXPECT_EQ(r.status().json_pointer(), "/triggers");
  // A tag that does not start with a trigger.
  StructuralTagSpec nt = ToolCallSpec(ToolCallFormat::kHermes, Tools(), ToolChoice::kAuto, true);
  nt.tags[1].begin = {TagPiece{"[call]", false}};
  r = StructuralTagToGrammar(nt, StructuralTagOptions());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().json_pointer(), "/tags/1/begin");
  // A schema error inside a tag points into the tag's schema.
  std::vector<ToolDef> bad = {{"f", R"({"type":"object","properties":{"x":{"type":"strin"}}})", false}};
  r = StructuralTagToGrammar(ToolCallSpec(ToolCallFormat::kHermes, bad, ToolChoice::kAuto, true),
                             StructuralTagOptions());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().json_pointer().rfind("/tags/0/content/json_schema/properties/x", 0), 0u)
      << r.status().json_pointer();
  // Token pieces need a vocabulary.
  r = StructuralTagToGrammar(ToolCallSpec(ToolCallFormat::kDeepSeek, Tools(), ToolChoice::kAuto, true),
                             StructuralTagOptions());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().json_pointer(), "/section/begin/0");
}

// Oracle for Hermes transcripts: free text without "<tool_call>" and well-formed calls to known
// tools whose arguments satisfy kWeather / kTime. Written independently of the grammar.
bool HermesOracle(const std::string& t) {
  if (!IsValidUtf8(t)) return false;  // the engine only ever accepts UTF-8 text
  const std::string open = "<tool_call>\n{\"name\": \"";
  size_t pos = 0;
  while (true) {
    const size_t at = t.find("<tool_call>", pos);
    if (at == std::string::npos) return true;
    if (t.compare(at, open.size(), open) != 0) return false;
    size_t p = at + open.size();
    const size_t q = t.find('"', p);
    if (q == std::string::npos) return false;
    const std::string name = t.substr(p, q - p);
    const std::string mid = "\", \"arguments\": ";
    if (t.compare(q, mid.size(), mid) != 0) return false;
    p = q + mid.size();
    const size_t close = t.find("}\n</tool_call>", p);
    if (close == std::string::npos) return false;
    rapidjson::Document d;
    const std::string args = t.substr(p, close - p);
    d.Parse(args.c_str(), args.size());
    if (args.find('\0') != std::string::npos || d.HasParseError() || !d.IsObject()) return false;
    if (name == "get_weather") {
      if (!d.HasMember("city") || !d["city"].IsString() || d["city"].GetStringLength() > 20) return false;
      for (auto it = d.MemberBegin(); it != d.MemberEnd(); ++it) {
        const std::string k = it->name.GetString();
        if (k == "days") {
          if (!it->value.IsInt() || it->value.GetInt() < 1 || it->value.GetInt() > 7) return false;
        } else if (k != "city") {
          return false;
        }
      }
    } else if (name == "get_time") {
      if (d.MemberCount() != 1 || !d.HasMember("tz") || !d["tz"].IsString()) return false;
      const std::string tz = d["tz"].GetString();
      if (tz != "UTC" && tz != "CET") return false;
    } else {
      return false;
    }
    pos = close + std::string("}\n</tool_call>").size();
  }
}

TEST(StructuralTag, GeneratedHermesTranscriptsAgreeWithAnOracle) {
  auto g = Compile(ToolCallSpec(ToolCallFormat::kHermes, Tools(), ToolChoice::kAuto, true));
  ASSERT_NE(g, nullptr);
  std::mt19937 rng(7);
  auto pick = [&](std::vector<std::string> v) { return v[rng() % v.size()]; };
  int accepted = 0, mutants_rejected = 0, mutants_valid = 0;
  for (int i = 0; i < 200; ++i) {
    std::string t;
    const int parts = 1 + static_cast<int>(rng() % 4);
    for (int k = 0; k < parts; ++k) {
      if (rng() % 2) {
        t += pick({"Sure. ", "x < y ", "<tool> ", "<tool_cal ", "ünï ", "\n", "{\"json\": 1} "});
      } else if (rng() % 2) {
        t += Hermes("get_weather", "{\"city\": \"" + pick({"Paris", "", "Zürich"}) + "\"" +
                                       pick({"", ", \"days\": 1", ",\"days\":7"}) + "}");
      } else {
        t += Hermes("get_time", "{\"tz\": \"" + pick({"UTC", "CET"}) + "\"}");
      }
    }
    ASSERT_TRUE(HermesOracle(t)) << t;
    ASSERT_EQ(RejectAt(g, t), -1) << t;
    ++accepted;
    // Mutants: one byte changed. The grammar and the oracle must agree on every mutant that the
    // grammar accepts completely; rejection is fine whenever the oracle rejects.
    for (int m = 0; m < 10; ++m) {
      std::string u = t;
      u[rng() % u.size()] = "<>{}\":, az0\n"[rng() % 12];
      const int64_t r = RejectAt(g, u);
      if (r == -1) {
        ASSERT_TRUE(HermesOracle(u)) << "grammar accepted an invalid transcript: " << u;
        ++mutants_valid;
      } else {
        if (HermesOracle(u)) {
          // The oracle allows free text that happens to contain an unmatched prefix; the grammar
          // must agree on complete valid transcripts.
          ADD_FAILURE() << "grammar rejected a valid transcript at byte " << r << ": " << u;
        }
        ++mutants_rejected;
      }
    }
  }
  EXPECT_EQ(accepted, 200);
  EXPECT_GT(mutants_rejected, 200);
  EXPECT_GT(mutants_valid, 50);
}

// Generated transcripts for the Llama-3 and think+JSON formats: accepted whole, and every strict
// prefix is either incomplete (-2) or, when it ends inside free text, complete (-1); never refused.
TEST(StructuralTag, GeneratedLlama3AndThinkTranscripts) {
  auto llama = Compile(ToolCallSpec(ToolCallFormat::kLlama3, Tools(), ToolChoice::kAuto, true));
  auto think = Compile(ThinkThenJsonSpec(kWeather, false));
  ASSERT_NE(llama, nullptr);
  ASSERT_NE(think, nullptr);
  std::mt19937 rng(11);
  auto pick = [&](std::vector<std::string> v) { return v[rng() % v.size()]; };
  for (int i = 0; i < 100; ++i) {
    std::string t = pick({"", "Calling. ", "{\"note\": 1} ", "x"});
    const int calls = 1 + static_cast<int>(rng() % 3);
    for (int k = 0; k < calls; ++k) {
      if (k > 0) t += pick({"; ", "\n", " and "});
      t += rng() % 2 ? R"({"name": "get_time", "parameters": {"tz": ")" + pick({"UTC", "CET"}) + "\"}}"
                     : R"({"name": "get_weather", "parameters": {"city": ")" + pick({"Rome", "N"}) +
                           "\"" + pick({"", ", \"days\": 2"}) + "}}";
    }
    ASSERT_EQ(RejectAt(llama, t), -1) << t;
    for (size_t cut = 0; cut < t.size(); ++cut) ASSERT_LT(RejectAt(llama, t.substr(0, cut)), 0) << cut;
    // A wrong tool name inside a call is refused at its first byte.
    const std::string bad = t + R"( {"name": "get_tx)";
    EXPECT_EQ(RejectAt(llama, bad), static_cast<int64_t>(bad.size() - 1)) << bad;

    const std::string doc = "<think>" + pick({"", "Paris? </b> <think>", "hmm\n"}) + "</think>" +
                            pick({"", "\n", "\n\n"}) + "{\"city\": \"" + pick({"Rome", ""}) + "\"}";
    ASSERT_EQ(RejectAt(think, doc), -1) << doc;
    const std::string open = doc.substr(0, doc.find("</think>"));
    EXPECT_EQ(RejectAt(think, open + "{"), -2) << "JSON inside the think block is just text";
  }
}

TEST(StructuralTag, OpenAiStrictRulesAreChecked) {
  const std::string ok = R"({"response_format": {"type": "json_schema", "json_schema": {"name": "r",
    "strict": true, "schema": {"type": "object", "properties": {"a": {"type": ["string", "null"]}},
    "required": ["a"], "additionalProperties": false}}}})";
  auto s = StructureFromOpenAiRequest(ok, OpenAiRequestOptions());
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  auto g = Compile(s->spec);
  ASSERT_NE(g, nullptr);
  EXPECT_EQ(RejectAt(g, R"({"a": null})"), -1);
  EXPECT_EQ(RejectAt(g, R"({})"), 1);
  struct Case {
    const char* schema;
    const char* pointer;
  } cases[] = {
      {R"({"type":"object","properties":{"a":{"type":"string"}},"additionalProperties":false})",
       "/properties/a"},
      {R"({"type":"object","properties":{},"required":[]})", ""},
      {R"({"type":"object","properties":{"a":{"type":"string","minLength":2}},"required":["a"],"additionalProperties":false})",
       "/properties/a/minLength"},
      {R"({"anyOf":[{"type":"object"}]})", ""},
      {R"({"type":"object","properties":{"a":{"type":"string","format":"uri"}},"required":["a"],"additionalProperties":false})",
       "/properties/a/format"},
  };
  for (const Case& c : cases) {
    const std::string req = std::string(R"({"response_format": {"type": "json_schema", "json_schema": {"name": "r", "strict": true, "schema": )") +
                            c.schema + "}}}";
    auto r = StructureFromOpenAiRequest(req, OpenAiRequestOptions());
    ASSERT_FALSE(r.ok()) << c.schema;
    EXPECT_EQ(r.status().json_pointer(), std::string("/response_format/json_schema/schema") + c.pointer)
        << r.status().ToString();
  }
  auto named = StructureFromOpenAiRequest(R"({"tools": [{"type": "function", "function": {"name": "a"}}],
      "tool_choice": {"type": "function", "function": {"name": "b"}}})", OpenAiRequestOptions());
  ASSERT_FALSE(named.ok());
  EXPECT_EQ(named.status().json_pointer(), "/tool_choice/function/name");
}

}  // namespace
}  // namespace sieve
