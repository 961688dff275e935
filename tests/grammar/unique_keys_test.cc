// Objects with more known properties than an exact any-order automaton holds (JSON Schema,
// any order): the grammar counts required keys and members, the matcher refuses a key written
// twice (grammar/unique_items.h on an object). Documents in every order against an oracle, counts,
// the token mask against the naive oracle with Llama-3, generation never left without a token,
// and what stays in schema order (closed objects, restricted keys).
#include <gtest/gtest.h>

#include <algorithm>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "grammar/compiler.h"
#include "grammar/ebnf_parser.h"
#include "grammar/grammar_printer.h"
#include "grammar/grammar_serialize.h"
#include "grammar/json_schema.h"
#include "grammar/json_schema_locate.h"
#include "grammar/matcher.h"
#include "tests/grammar/mask_test_util.h"

namespace sieve {
namespace {

// Ten properties, "id" and "name" required; "name"/"names" and "id"/"ids" share prefixes.
constexpr const char* kTen = R"({"type":"object","properties":{
  "id":{"type":"integer"},"ids":{"type":"array","items":{"type":"integer"}},
  "name":{"type":"string"},"names":{"type":"array","items":{"type":"string"}},
  "a":{"type":"boolean"},"b":{"type":"null"},"c":{"type":"integer"},"d":{"type":"integer"},
  "e":{"type":"string"},"f":{"type":"number"}},"required":["id","name"]})";

JsonSchemaOptions AnyOrder() {
  JsonSchemaOptions o;
  o.property_order = JsonPropertyOrder::kAny;
  return o;
}

std::shared_ptr<const CompiledGrammar> Compile(const std::string& schema,
                                               JsonSchemaReport* report) {
  auto g = JsonSchemaToGrammar(schema, AnyOrder());
  EXPECT_TRUE(g.ok()) << g.status().ToString();
  if (!g.ok()) return nullptr;
  if (report != nullptr) *report = g->report;
  auto c = CompileGrammarIr(std::move(g->grammar), GrammarCompileOptions());
  EXPECT_TRUE(c.ok()) << c.status().ToString();
  return c.ok() ? c->pda : nullptr;
}

bool Accepts(const std::shared_ptr<const CompiledGrammar>& g, const std::string& doc) {
  GrammarMatcher m(g);
  return m.AcceptString(doc) && m.CanTerminate();
}

std::string ValueFor(const std::string& key) {
  if (key == "id" || key == "c" || key == "d") return "7";
  if (key == "ids") return "[1,2]";
  if (key == "name" || key == "e") return "\"x\"";
  if (key == "names") return "[\"p\"]";
  if (key == "a") return "true";
  if (key == "b") return "null";
  if (key == "f") return "1.5";
  return "{\"k\":[1,{}]}";  // any other key: any value
}

TEST(UniqueKeys, LargeOpenObjectAcceptsEveryOrderAndRefusesRepeats) {
  JsonSchemaReport report;
  auto g = Compile(kTen, &report);
  ASSERT_NE(g, nullptr);
  EXPECT_TRUE(g->HasUniqueItems());
  for (const JsonSchemaNote& n : report.notes) {
    EXPECT_NE(n.kind, JsonSchemaNote::Kind::kNarrowed) << n.pointer << ": " << n.message;
  }
  auto v = JsonSchemaValidator::Create(kTen, AnyOrder());
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  const std::vector<std::string> pool = {"id", "ids",  "name", "names", "a", "b", "c",
                                         "d",  "e",   "f",    "nam",   "idx", "zz", "nameses"};
  std::mt19937 rng(11);
  int accepted = 0, rejected = 0;
  for (int round = 0; round < 1500; ++round) {
    std::vector<std::string> keys;
    if (rng() % 5 != 0) keys.push_back("id");
    if (rng() % 5 != 0) keys.push_back("name");
    for (int i = static_cast<int>(rng() % 7); i > 0; --i) keys.push_back(pool[rng() % pool.size()]);
    std::shuffle(keys.begin(), keys.end(), rng);
    const std::set<std::string> distinct(keys.begin(), keys.end());
    const bool expect = distinct.size() == keys.size() && distinct.count("id") > 0 &&
                        distinct.count("name") > 0;
    std::string doc = "{";
    for (size_t i = 0; i < keys.size(); ++i) {
      doc += (i ? (rng() % 2 ? ", " : ",") : "") + ("\"" + keys[i] + "\":") + ValueFor(keys[i]);
    }
    doc += "}";
    EXPECT_EQ(Accepts(g, doc), expect) << doc;
    const JsonSchemaVerdict r = v->Validate(doc);
    EXPECT_EQ(r.accepted, expect) << doc;
    (expect ? accepted : rejected)++;
  }
  EXPECT_GT(accepted, 100);
  EXPECT_GT(rejected, 100);
  // A repeat is named as such, at the closing quote of the second key, with the object's pointer.
  const std::string doc = R"({"c":1,"name":"x","id":2,"c":3})";
  const JsonSchemaVerdict r = v->Validate(doc);
  EXPECT_FALSE(r.accepted);
  EXPECT_TRUE(r.repeated_key);
  EXPECT_FALSE(r.repeated_item);
  EXPECT_EQ(r.byte, doc.find("\"c\":3") + 2);
  EXPECT_EQ(r.location, "");
  // Keys compare after unescaping; a nested plain object may repeat its own keys.
  EXPECT_FALSE(Accepts(g, R"({"id":1,"name":"x","z\n":1,"z\u000a":2})"));
  EXPECT_TRUE(Accepts(g, R"({"id":1,"name":"x","zz":{"q":1,"q":2}})"));
}

TEST(UniqueKeys, CountsAreExact) {
  const std::string schema = R"({"type":"object","minProperties":3,"maxProperties":4,
      "properties":{"p0":{},"p1":{},"p2":{},"p3":{},"p4":{},"p5":{},"p6":{},"p7":{},"p8":{}},
      "required":["p5"]})";
  JsonSchemaReport report;
  auto g = Compile(schema, &report);
  ASSERT_NE(g, nullptr);
  EXPECT_TRUE(g->HasUniqueItems());
  std::mt19937 rng(3);
  for (int round = 0; round < 600; ++round) {
    const int n = static_cast<int>(rng() % 7);
    std::vector<std::string> keys;
    for (int i = 0; i < n; ++i) {
      keys.push_back(rng() % 4 == 0 ? "x" + std::to_string(rng() % 3)
                                    : "p" + std::to_string(rng() % 9));
    }
    const std::set<std::string> distinct(keys.begin(), keys.end());
    const bool expect = distinct.size() == keys.size() && distinct.count("p5") > 0 && n >= 3 &&
                        n <= 4;
    std::string doc = "{";
    for (size_t i = 0; i < keys.size(); ++i) doc += (i ? "," : "") + ("\"" + keys[i] + "\":0");
    doc += "}";
    EXPECT_EQ(Accepts(g, doc), expect) << doc;
  }
}

TEST(UniqueKeys, RestrictedOtherKeysKeepSchemaOrder) {
  // patternProperties / propertyNames: the liveness search could not end in their languages, so
  // for generation such objects stay in schema order, narrowed.
  for (const char* extra : {R"("patternProperties":{"^x":{}},"additionalProperties":false)",
                            R"("propertyNames":{"maxLength":5})"}) {
    SCOPED_TRACE(extra);
    std::string schema = R"({"type":"object","properties":{"k0":{},"k1":{},"k2":{},"k3":{},)"
                         R"("k4":{},"k5":{},"k6":{},"k7":{}},)" +
                         std::string(extra) + "}";
    JsonSchemaReport report;
    auto g = Compile(schema, &report);
    ASSERT_NE(g, nullptr);
    EXPECT_FALSE(g->HasUniqueItems());
    bool narrowed = false;
    for (const JsonSchemaNote& n : report.notes) {
      narrowed |= n.kind == JsonSchemaNote::Kind::kNarrowed && n.keyword == "properties";
    }
    EXPECT_TRUE(narrowed);
    EXPECT_TRUE(Accepts(g, R"({"k0":1,"k7":2})"));
    EXPECT_FALSE(Accepts(g, R"({"k7":1,"k0":2})"));
  }
}

// kTen closed: only its ten keys.
std::string ClosedTen() {
  std::string s = kTen;
  return s.substr(0, s.size() - 1) + R"(,"additionalProperties":false})";
}

TEST(UniqueKeys, ClosedObjectRefusesPrefixesThatCanOnlyRepeat) {
  JsonSchemaReport report;
  auto g = Compile(ClosedTen(), &report);
  ASSERT_NE(g, nullptr);
  EXPECT_TRUE(g->HasUniqueItems());
  for (const JsonSchemaNote& n : report.notes) {
    EXPECT_NE(n.kind, JsonSchemaNote::Kind::kNarrowed) << n.pointer << ": " << n.message;
  }
  EXPECT_TRUE(Accepts(g, R"({"f":1,"name":"x","b":null,"id":3})"));
  EXPECT_FALSE(Accepts(g, R"({"f":1,"name":"x","b":null,"id":3,"f":2})"));
  EXPECT_FALSE(Accepts(g, R"({"name":"x","zz":1,"id":3})"));
  // Prefixes: "na" can still become "names"; after both, neither "na" nor "n" can.
  auto prefix = [&](const std::string& text) {
    GrammarMatcher m(g);
    return m.AcceptString(text);
  };
  EXPECT_TRUE(prefix(R"({"id":1,"name":"x","na)"));
  EXPECT_TRUE(prefix(R"({"id":1,"name":"x","names)"));
  EXPECT_FALSE(prefix(R"({"id":1,"name":"x","name")"));
  EXPECT_FALSE(prefix(R"({"id":1,"name":"x","names":[],"n)"));
  EXPECT_FALSE(prefix(R"({"id":1,"name":"x","names":[],"na)"));
  EXPECT_TRUE(prefix(R"({"id":1,"name":"x","names":[],"i)"));  // "ids"
  EXPECT_FALSE(prefix(R"({"id":1,"ids":[],"name":"x","names":[],"i)"));
  // Every key written: no comma (no key could follow it).
  const std::string all =
      R"({"id":1,"ids":[],"name":"x","names":[],"a":true,"b":null,"c":1,"d":2,"e":"y","f":1.5)";
  EXPECT_TRUE(prefix(all));
  EXPECT_FALSE(prefix(all + ","));
  EXPECT_TRUE(Accepts(g, all + "}"));
  // The validator agrees.
  auto v = JsonSchemaValidator::Create(ClosedTen(), AnyOrder());
  ASSERT_TRUE(v.ok());
  EXPECT_TRUE(v->Validate(all + "}").accepted);
  EXPECT_FALSE(v->Validate(all + R"(,"a":false})").accepted);
}

TEST(UniqueKeys, RollbackDoesNotReuseAnotherPathsAnswer) {
  // Closed keys ab, ac, x0..x6. After ab and ac, `"a` can only repeat; after ab and x0 it can
  // still become ac. The same count of keys and the same prefix, answered apart.
  std::string s = R"({"type":"object","additionalProperties":false,"properties":{"ab":{},"ac":{})";
  for (int i = 0; i < 7; ++i) s += ",\"x" + std::to_string(i) + "\":{}";
  s += "}}";
  auto g = Compile(s, nullptr);
  ASSERT_NE(g, nullptr);
  ASSERT_TRUE(g->HasUniqueItems());
  GrammarMatcher m(g);
  ASSERT_TRUE(m.AcceptString(R"({"ab":1,)"));
  ASSERT_TRUE(m.AcceptString(R"("ac":1,)"));
  EXPECT_FALSE(m.AcceptString(R"("a)"));
  ASSERT_TRUE(m.Rollback(1));
  ASSERT_TRUE(m.AcceptString(R"("x0":1,)"));
  EXPECT_TRUE(m.AcceptString(R"("a)"));
  EXPECT_TRUE(m.AcceptString(R"(c":2})"));
  EXPECT_TRUE(m.CanTerminate());
}

TEST(UniqueKeys, LiveFlagSurvivesEbnfAndImages) {
  for (const bool closed : {true, false}) {
    SCOPED_TRACE(closed);
    auto g = JsonSchemaToGrammar(closed ? ClosedTen() : std::string(kTen), AnyOrder());
    ASSERT_TRUE(g.ok()) << g.status().ToString();
    const std::string text = PrintEbnf(g->grammar);
    EXPECT_EQ(text.find("#!unique_keys ") != std::string::npos, closed) << text;
    EXPECT_EQ(text.find("#!unique_items ") != std::string::npos, !closed) << text;
    auto back = ParseEbnf(text);
    ASSERT_TRUE(back.ok()) << back.status().ToString();
    EXPECT_TRUE(back->Equals(g->grammar));
    auto compiled = CompileGrammarIr(g->grammar, GrammarCompileOptions());
    ASSERT_TRUE(compiled.ok());
    GrammarImage img;
    img.simplified = compiled->simplified;
    img.source = g->grammar;
    img.pda = compiled->pda;
    auto loaded = DeserializeGrammarImage(SerializeGrammarImage(img));
    ASSERT_TRUE(loaded.ok()) << loaded.status().ToString();
    EXPECT_TRUE(loaded->source.Equals(g->grammar));
    ASSERT_NE(loaded->pda, nullptr);
    // The closed object's prefix check comes back with the automaton.
    const std::string dead = R"({"id":1,"name":"x","names":[],"na)";
    GrammarMatcher m(loaded->pda);
    EXPECT_EQ(m.AcceptString(dead), !closed);
  }
  auto bad = ParseEbnf("root ::= \"{\" \"}\"\n#!unique_keys\n");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("#!unique_keys needs a rule name"), std::string::npos)
      << bad.status().ToString();
}

TEST(UniqueKeys, TheValidatorChecksClosedAndRestrictedObjectsToo) {
  // Complete documents only: no generator to be left without a token.
  for (const char* extra : {R"("additionalProperties":false)",
                            R"("patternProperties":{"^x":{"type":"integer"}},)"
                            R"("additionalProperties":false)",
                            R"("propertyNames":{"maxLength":2})"}) {
    SCOPED_TRACE(extra);
    const std::string schema =
        R"({"type":"object","required":["k7"],"properties":{"k0":{},"k1":{},"k2":{},"k3":{},)"
        R"("k4":{},"k5":{},"k6":{},"k7":{}},)" +
        std::string(extra) + "}";
    auto v = JsonSchemaValidator::Create(schema, AnyOrder());
    ASSERT_TRUE(v.ok()) << v.status().ToString();
    for (const JsonSchemaNote& n : v->report().notes) {
      EXPECT_NE(n.kind, JsonSchemaNote::Kind::kNarrowed) << n.pointer << ": " << n.message;
    }
    EXPECT_TRUE(v->Validate(R"({"k7":1,"k0":2})").accepted);
    EXPECT_TRUE(v->Validate(R"({"k3":1,"k7":2,"k1":3})").accepted);
    EXPECT_FALSE(v->Validate(R"({"k3":1,"k1":3})").accepted);  // k7 required
    const JsonSchemaVerdict r = v->Validate(R"({"k7":1,"k3":1,"k3":2})");
    EXPECT_FALSE(r.accepted);
    EXPECT_TRUE(r.repeated_key);
    EXPECT_FALSE(v->Validate(R"({"k7":1,"zzz":1})").accepted);  // no other key fits
  }
  // The pattern's keys and their values are still checked.
  auto v = JsonSchemaValidator::Create(
      R"({"type":"object","properties":{"k0":{},"k1":{},"k2":{},"k3":{},"k4":{},"k5":{},)"
      R"("k6":{},"k7":{}},"patternProperties":{"^x":{"type":"integer"}},)"
      R"("additionalProperties":false})",
      AnyOrder());
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_TRUE(v->Validate(R"({"x1":1,"k2":0,"x2":5})").accepted);
  EXPECT_FALSE(v->Validate(R"({"x1":"a","k2":0})").accepted);
  EXPECT_FALSE(v->Validate(R"({"x1":1,"k2":0,"x1":2})").accepted);
}

TEST(UniqueKeys, TokenMaskEqualsTheNaiveMaskAndNeverEmptiesWithLlama3) {
  auto tok = mask_test::RealTokenizer("llama3");
  ASSERT_NE(tok, nullptr);
  auto vocab = mask_test::VocabOf(*tok);
  const size_t words = BitmaskWords(vocab->size());
  const std::string nested =
      R"({"type":"array","uniqueItems":true,"items":)" + std::string(kTen) + "}";
  for (const std::string& schema : {std::string(kTen), nested, ClosedTen()}) {
    SCOPED_TRACE(schema.substr(0, 40));
    auto cache = mask_test::BuildCache(Compile(schema, nullptr), vocab);
    ASSERT_NE(cache, nullptr);
    std::mt19937 rng(5);
    for (int walk = 0; walk < 4; ++walk) {
      GrammarMatcher m(cache);
      ASSERT_GE(mask_test::CheckRandomWalk(&m, &rng, 25, "walk"), 0);
    }
    // Generation: walks that prefer tokens repeating what was written (so that keys already
    // written, and their prefixes, come up again) are never left without a token.
    for (int walk = 0; walk < 40; ++walk) {
      GrammarMatcher m(cache);
      std::string text;
      bool done = false;
      for (int step = 0; step < 120 && !done; ++step) {
        const std::vector<int32_t> allowed = mask_test::AllowedIds(m);
        if (allowed.empty() && m.CanTerminate()) break;  // a complete document
        ASSERT_FALSE(allowed.empty()) << "walk " << walk << " step " << step << " after "
                                      << text;
        std::vector<int32_t> keyish;  // where few tokens are allowed (at a key)
        for (size_t k = 0; k < allowed.size() && allowed.size() < 4000; ++k) {
          const std::string_view t = vocab->TokenBytes(allowed[k]);
          if (!t.empty() && (text.find(t) != std::string::npos || t[0] == ',')) {
            keyish.push_back(allowed[k]);
          }
        }
        const std::vector<int32_t>& from = !keyish.empty() && rng() % 4 != 0 ? keyish : allowed;
        const int32_t id = from[rng() % from.size()];
        if (vocab->IsStop(id)) {
          done = true;
          continue;
        }
        ASSERT_TRUE(m.AcceptToken(id)) << id;
        text += vocab->TokenBytes(id);
      }
    }
  }
  // The filter removes the repeat: after {"id":1,"id every token that closes the key ('"',
  // '":', ...) is refused; "s" (on to "ids") is not. The cached mask alone allows both.
  auto cache = mask_test::BuildCache(Compile(kTen, nullptr), vocab);
  ASSERT_NE(cache, nullptr);
  GrammarMatcher m(cache);
  ASSERT_TRUE(m.AcceptString(R"({"id":1,"id)"));
  std::vector<uint32_t> mask(words);
  m.FillNextTokenBitmask(mask.data(), words);
  int closing = 0;
  for (size_t id = 0; id < vocab->size(); ++id) {
    const std::string_view t = vocab->TokenBytes(static_cast<int32_t>(id));
    if (t.empty() || t[0] != '"') continue;
    EXPECT_FALSE(mask[id >> 5] >> (id & 31) & 1) << t;
    ++closing;
  }
  EXPECT_GT(closing, 100);
  const auto s_id = tok->Encode("s", false);
  ASSERT_EQ(s_id.size(), 1u);
  EXPECT_TRUE(mask[s_id[0] >> 5] >> (s_id[0] & 31) & 1);
  std::string why;
  EXPECT_TRUE(mask_test::SameMask(m, words, &why, /*fork_oracle=*/true)) << why;
  for (const char* text : {R"(":)", R"(s":)"}) {
    GrammarMatcher probe(cache);
    ASSERT_TRUE(probe.AcceptString(R"({"id":1,"id)"));
    EXPECT_EQ(probe.AcceptString(text), text[0] == 's') << text;
  }
}

}  // namespace
}  // namespace sieve
