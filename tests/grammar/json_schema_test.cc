// JSON Schema front end, driver and combinators: errors with JSON pointers, the report, $ref
// resolution (pointers with escapes, $id/$anchor, recursion, remote refs), draft differences,
// allOf/anyOf/oneOf/not/if-then-else, and the limits that keep pathological schemas bounded.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "tests/grammar/json_schema_test_util.h"
#include "tests/testing/cpu_time.h"

namespace sieve {
namespace {

using testing::CompileSchema;
using testing::SchemaGrammar;

void ExpectLanguage(const std::string& schema, const std::vector<std::string>& accepted,
                    const std::vector<std::string>& rejected,
                    const JsonSchemaOptions& opts = testing::CompactOptions()) {
  SchemaGrammar g = CompileSchema(schema, opts);
  ASSERT_TRUE(g.ok()) << schema << ": " << g.status.ToString();
  for (const std::string& t : accepted)
    EXPECT_TRUE(g.Accepts(t)) << schema << " should accept " << t;
  for (const std::string& t : rejected)
    EXPECT_FALSE(g.Accepts(t)) << schema << " should reject " << t;
}

Status ConvertError(const std::string& schema, JsonSchemaOptions o = testing::CompactOptions()) {
  auto r = JsonSchemaToGrammar(schema, o);
  return r.ok() ? Status::Ok() : r.status();
}

// ---- errors ----

TEST(JsonSchemaErrors, MalformedJsonIsAParseErrorWithAnOffset) {
  Status s = ConvertError(R"({"type": "string",})");
  EXPECT_EQ(s.code(), StatusCode::kParse);
  EXPECT_GE(s.offset(), 17);
}

TEST(JsonSchemaErrors, InvalidKeywordValuesNameTheirPointer) {
  Status s = ConvertError(R"({"properties":{"a":{"minLength":-1}}})");
  EXPECT_EQ(s.code(), StatusCode::kParse);
  EXPECT_EQ(s.json_pointer(), "/properties/a/minLength");
  s = ConvertError(R"({"properties":{"a":{"type":"strin"}}})");
  EXPECT_EQ(s.json_pointer(), "/properties/a/type");
}

TEST(JsonSchemaErrors, UnsatisfiableSchemasAreInvalidArguments) {
  for (const char* s :
       {"false", R"({"type":"string","minLength":3,"maxLength":2})",
        R"({"allOf":[{"type":"string"},{"type":"integer"}]})", R"({"enum":[1,2],"minimum":5})"}) {
    Status st = ConvertError(s);
    EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << s;
    EXPECT_EQ(st.message(), kUnsatisfiableSchemaMessage) << s;
  }
}

TEST(JsonSchemaErrors, IgnoredKeywordsAreListedWithPointers) {
  JsonSchemaOptions o = testing::CompactOptions();
  o.unsupported = UnsupportedPolicy::kIgnore;
  auto r = JsonSchemaToGrammar(R"({"properties":{"tags":{"type":"string","pattern":"(a)\\1"},
                                   "x":{"x-vendor":1,"frobnicate":2}}})",
                               o);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->report.loosened());
  bool saw_unique = false, saw_unknown = false;
  for (const JsonSchemaNote& n : r->report.notes) {
    if (n.pointer == "/properties/tags/pattern")
      saw_unique = n.kind == JsonSchemaNote::Kind::kIgnored;
    if (n.pointer == "/properties/x/frobnicate")
      saw_unknown = n.kind == JsonSchemaNote::Kind::kInfo;
    EXPECT_EQ(n.pointer.find("x-vendor"), std::string::npos);
  }
  EXPECT_TRUE(saw_unique);
  EXPECT_TRUE(saw_unknown);
  EXPECT_NE(r->report.ToString().find("ignored /properties/tags/pattern"), std::string::npos);
}

// ---- references ----

TEST(JsonSchemaRefs, PointersWithEscapesAndPercentEncodingResolve) {
  ExpectLanguage(R"({"$defs":{"a/b":{"type":"integer"},"t~x":{"type":"string"},"p%c":{"const":1},
                     "q\"r":{"const":2}},
                     "properties":{"x":{"$ref":"#/$defs/a~1b"},"y":{"$ref":"#/$defs/t~0x"},
                                   "z":{"$ref":"#/$defs/p%25c"},"w":{"$ref":"#/$defs/q%22r"}}})",
                 {R"({"x":1,"y":"s","z":1,"w":2})"}, {R"({"x":"s"})", R"({"y":1})", R"({"z":2})"});
}

TEST(JsonSchemaRefs, RecursionBecomesRecursiveRules) {
  ExpectLanguage(R"({"$defs":{"node":{"type":"object","properties":{"v":{"type":"integer"},
                     "kids":{"type":"array","items":{"$ref":"#/$defs/node"}}},"required":["v"],
                     "additionalProperties":false}},"$ref":"#/$defs/node"})",
                 {R"({"v":1})", R"({"v":1,"kids":[{"v":2,"kids":[{"v":3}]}]})"},
                 {R"({"v":1,"kids":[{}]})", R"({"kids":[]})"});
}

TEST(JsonSchemaRefs, IdsAnchorsAndDraft7PlainNameIdsResolveLocally) {
  ExpectLanguage(R"({"$id":"http://x.test/root.json","$defs":{
                     "a":{"$id":"sub/a.json","type":"integer"},
                     "b":{"$anchor":"bee","type":"string"}},
                   "properties":{"p":{"$ref":"sub/a.json"},"q":{"$ref":"#bee"},
                                 "r":{"$ref":"http://x.test/sub/a.json"}}})",
                 {R"({"p":1,"q":"s","r":2})"}, {R"({"p":"s"})", R"({"q":1})"});
  JsonSchemaOptions o = testing::CompactOptions();
  o.default_draft = JsonSchemaDraft::kDraft7;
  ExpectLanguage(R"({"definitions":{"a":{"$id":"#foo","type":"integer"}},"$ref":"#foo"})", {"1"},
                 {"\"s\""}, o);
}

// Draft-4 era schemas write whole-document pointers inside a subschema whose `id` makes it a
// resource of its own: the pointer fails there and is resolved from the document root, noted.
TEST(JsonSchemaRefs, APointerMissingInAnEmbeddedResourceResolvesFromTheRoot) {
  const char* schema = R"({"$schema":"http://json-schema.org/draft-04/schema#",
    "definitions":{"res":{"id":"schema/res","definitions":{"u":{"type":"integer"}},
      "properties":{"a":{"$ref":"#/definitions/res/definitions/u"}}}},
    "properties":{"r":{"$ref":"#/definitions/res"}}})";
  ExpectLanguage(schema, {R"({"r":{"a":1}})"}, {R"({"r":{"a":"s"}})"});
  auto g = JsonSchemaToGrammar(schema, testing::CompactOptions());
  ASSERT_TRUE(g.ok());
  bool noted = false;
  for (const auto& n : g->report.notes) {
    noted |= n.pointer == "/definitions/res/properties/a/$ref" &&
             n.message.find("resolved from the document's root") != std::string::npos;
  }
  EXPECT_TRUE(noted) << g->report.ToString();
  // A pointer that resolves nowhere is still an error naming where it failed in the resource.
  Status s = ConvertError(R"({"definitions":{"res":{"$id":"s/res","properties":{
    "a":{"$ref":"#/definitions/nope"}}}},"$ref":"#/definitions/res"})");
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("no 'definitions' at '/definitions/res'"), std::string::npos) << s.message();
}

TEST(JsonSchemaRefs, RemoteRefsAreUnsupportedAndSaySo) {
  Status s = ConvertError(R"({"properties":{"a":{"$ref":"https://example.com/s.json"}}})");
  EXPECT_EQ(s.code(), StatusCode::kUnsupported);
  EXPECT_NE(s.message().find("remote $ref"), std::string::npos);
  EXPECT_EQ(s.json_pointer(), "/properties/a/$ref");
}

// JsonSchemaOptions::load_document: other documents by URI, their own relative references and
// anchors resolved against their URI, cycles across documents, each document asked for once,
// unknown ones still "remote", broken ones an error naming the document, and the limits.
TEST(JsonSchemaRefs, LoadedDocumentsResolveRefsAcrossDocuments) {
  std::map<std::string, std::string> docs = {
      {"https://x.test/defs/common.json",
       R"({"$defs":{"id":{"type":"integer","minimum":1},"name":{"$ref":"names.json#short"},
                   "tree":{"type":"array","items":{"$ref":"https://x.test/main.json"}}}})"},
      {"https://x.test/defs/names.json",
       R"({"$defs":{"s":{"$anchor":"short","type":"string","maxLength":3}}})"},
      {"https://x.test/broken.json", R"({"type": )"}};
  std::map<std::string, int> asked;
  JsonSchemaOptions o = testing::CompactOptions();
  o.load_document = [&](const std::string& uri) -> std::optional<std::string> {
    ++asked[uri];
    auto it = docs.find(uri);
    if (it == docs.end()) return std::nullopt;
    return it->second;
  };
  const std::string main = R"({"$id":"https://x.test/main.json","type":"object",
      "properties":{"id":{"$ref":"defs/common.json#/$defs/id"},
                    "name":{"$ref":"defs/common.json#/$defs/name"},
                    "kids":{"$ref":"defs/common.json#/$defs/tree"}},
      "additionalProperties":false})";
  ExpectLanguage(main, {R"({"id":2,"name":"ab"})", R"({"kids":[{"id":1},{"kids":[]}]})"},
                 {R"({"id":0})", R"({"name":"abcd"})", R"({"kids":[{"id":"x"}]})"}, o);
  EXPECT_EQ(asked["https://x.test/defs/common.json"], 1);
  EXPECT_EQ(asked["https://x.test/defs/names.json"], 1);
  EXPECT_EQ(asked.count("https://x.test/main.json"), 0u);  // the document itself
  // Unknown to the loader: remote, as without one; broken: the document's own error.
  Status s = ConvertError(R"({"$ref":"https://x.test/other.json"})", o);
  EXPECT_EQ(s.code(), StatusCode::kUnsupported) << s.ToString();
  EXPECT_NE(s.message().find("remote $ref"), std::string::npos) << s.ToString();
  s = ConvertError(R"({"properties":{"a":{"$ref":"https://x.test/broken.json"}}})", o);
  EXPECT_EQ(s.code(), StatusCode::kParse) << s.ToString();
  EXPECT_NE(s.message().find("https://x.test/broken.json"), std::string::npos) << s.ToString();
  EXPECT_EQ(s.json_pointer(), "/properties/a/$ref") << s.ToString();
  // An error inside a loaded document points into it.
  docs["https://x.test/bad.json"] = R"({"properties":{"q":{"minimum":"no"}}})";
  s = ConvertError(R"({"$ref":"https://x.test/bad.json"})", o);
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.json_pointer().rfind("https://x.test/bad.json#/properties/q", 0), 0u)
      << s.ToString();
  // More documents than max_documents: a limit error at the $ref past it.
  o.max_documents = 1;
  s = ConvertError(main, o);
  EXPECT_EQ(s.code(), StatusCode::kLimit) << s.ToString();
  EXPECT_NE(s.message().find("max_documents"), std::string::npos) << s.ToString();
}

TEST(JsonSchemaRefs, Draft7IgnoresRefSiblingsAndLaterDraftsApplyThem) {
  const char* s = R"({"definitions":{"r":{"type":"array"}},"$ref":"#/definitions/r","maxItems":1})";
  JsonSchemaOptions o = testing::CompactOptions();
  o.default_draft = JsonSchemaDraft::kDraft7;
  ExpectLanguage(s, {"[1,2]"}, {"1"}, o);
  o.default_draft = JsonSchemaDraft::kDraft2020_12;
  ExpectLanguage(s, {"[1]"}, {"[1,2]"}, o);
  ExpectLanguage(R"({"$schema":"http://json-schema.org/draft-07/schema#",
                    "definitions":{"r":{"type":"array"}},"$ref":"#/definitions/r","maxItems":1})",
                 {"[1,2]"}, {}, o);
}

TEST(JsonSchemaRefs, ARefCycleWithoutStructureIsReported) {
  Status s = ConvertError(R"({"$defs":{"a":{"allOf":[{"$ref":"#/$defs/b"}]},
                               "b":{"anyOf":[{"$ref":"#/$defs/a"}]}},"$ref":"#/$defs/a"})");
  EXPECT_EQ(s.code(), StatusCode::kUnsupported);
}

// ---- combinators ----

TEST(JsonSchemaCombinators, AllOfMergesConstraintsAcrossObjects) {
  ExpectLanguage(R"({"allOf":[{"properties":{"a":{"type":"integer"}},"required":["a"]},
                              {"properties":{"a":{"minimum":3},"b":{"type":"string"}}},
                              {"maxProperties":2}]})",
                 {R"({"a":3})", R"({"a":4,"b":"x"})"},
                 {R"({"a":2})", R"({"b":"x"})", R"({"a":3,"b":1})", R"({"a":3,"b":"x","c":1})"});
  // Each branch's additionalProperties sees only its own properties.
  ExpectLanguage(R"({"allOf":[{"properties":{"a":{}},"additionalProperties":false},
                              {"properties":{"b":{}}}]})",
                 {R"({"a":1})", "{}"}, {R"({"b":1})"});
}

TEST(JsonSchemaCombinators, AnyOfDistributesOverSiblingConstraints) {
  ExpectLanguage(R"({"type":"integer","anyOf":[{"maximum":2},{"minimum":10}]})", {"1", "10", "-4"},
                 {"5", "\"x\"", "2.5"});
}

TEST(JsonSchemaCombinators, DisjointOneOfIsAnyOfAndOverlappingOneOfIsExact) {
  ExpectLanguage(R"({"oneOf":[{"type":"object","properties":{"kind":{"const":"cat"}},
                     "required":["kind"]},{"type":"object","properties":{"kind":{"const":"dog"}},
                     "required":["kind"]}]})",
                 {R"({"kind":"cat"})", R"({"kind":"dog","x":1})"}, {R"({"kind":"cow"})", "{}"});
  ExpectLanguage(R"({"oneOf":[{"type":"integer"},{"minimum":2}]})", {"1", "2.5", "\"s\""},
                 {"3", "1.5"});
  ExpectLanguage(R"({"type":"object","oneOf":[{"required":["a"]},{"required":["b"]}]})",
                 {R"({"a":1})", R"({"b":1})"}, {R"({"a":1,"b":2})", "{}"});
}

TEST(JsonSchemaCombinators, OneOfIsDecidedTypeByType) {
  // JSON Patch (SchemaStore's json-patch.json): no branch says "type": "object", so every
  // non-object matches all three (and is invalid); the objects are told apart by `op`. Only the
  // non-object parts need negating; negating the objects' additionalProperties (which has no
  // grammar) is never needed.
  const char* patch = R"({"oneOf":[
      {"additionalProperties":false,"required":["value","op","path"],
       "properties":{"path":{"type":"string"},"op":{"enum":["add","replace","test"]},"value":{}}},
      {"additionalProperties":false,"required":["op","path"],
       "properties":{"path":{"type":"string"},"op":{"enum":["remove"]}}},
      {"additionalProperties":false,"required":["from","op","path"],
       "properties":{"path":{"type":"string"},"op":{"enum":["move","copy"]},
                     "from":{"type":"string"}}}]})";
  ExpectLanguage(patch,
                 {R"({"value":1,"op":"add","path":"/a"})", R"({"op":"remove","path":"/a"})",
                  R"({"from":"/b","op":"move","path":"/a"})"},
                 {"5", "\"x\"", "null", "[]", R"({"op":"remove","path":"/a","value":1})",
                  R"({"op":"add","path":"/a"})", "{}"});
  // Numbers in [2, 5], strings of 1-3 characters and every other value match both branches.
  ExpectLanguage(R"({"oneOf":[{"minimum":2,"maxLength":3},{"maximum":5,"minLength":1}]})",
                 {"1", "6", "\"\"", "\"abcd\""}, {"3", "2", "5", "\"ab\"", "true", "{}"});
}

TEST(JsonSchemaCombinators, InexpressibleOneOfIsAnErrorOrAReportedAnyOf) {
  const char* s = R"({"oneOf":[{"type":"array","uniqueItems":false},
                               {"type":"array","items":{"type":"integer"},"minItems":1,
                                "uniqueItems":true,"maxItems":3}]})";
  Status st = ConvertError(s);
  EXPECT_EQ(st.code(), StatusCode::kUnsupported);
  JsonSchemaOptions o = testing::CompactOptions();
  o.unsupported = UnsupportedPolicy::kIgnore;
  auto r = JsonSchemaToGrammar(s, o);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(r->report.loosened());
}

// Closed objects (additionalProperties false) whose property names and patterns share no key have
// only {} in common, so exactly-one needs no negation of their patternProperties (package.json's
// "exports": paths "." and "./..." against condition names): {} matches both and is rejected; a
// branch that cannot be empty leaves {} to the other one. Overlapping key languages stay
// unsupported.
TEST(JsonSchemaCombinators, OneOfOfClosedObjectsWithDisjointKeysIsExact) {
  const char* exports = R"({"oneOf":[
      {"type":"string","pattern":"^\\./"},
      {"type":"object","properties":{".":{"type":"string"}},
       "patternProperties":{"^\\./.+":{"type":"string"}},"additionalProperties":false},
      {"type":"object","properties":{"require":{"type":"string"},"import":{"type":"string"}},
       "patternProperties":{"^[^.0-9]+$":{"type":"string"}},"additionalProperties":false}]})";
  ExpectLanguage(
      exports,
      {R"("./a")", R"({".":"./x"})", R"({"./sub":"./y",".":"./x"})", R"({"require":"./x"})",
       R"({"node":"./x","import":"./y"})"},
      {"{}", R"({".":"./x","require":"./y"})", R"({"1x":"./x"})", R"("a")", R"({".":1})"});
  // The second branch needs a key: {} matches only the first.
  ExpectLanguage(R"({"oneOf":[
      {"type":"object","patternProperties":{"^a":{}},"additionalProperties":false},
      {"type":"object","patternProperties":{"^b":{}},"additionalProperties":false,
       "minProperties":1}]})",
                 {"{}", R"({"ab":1})", R"({"b":1})"}, {R"({"a":1,"b":2})", R"({"c":1})"});
  // "^a" and "^ab" share keys: exactly-one would need the negation of patternProperties.
  EXPECT_EQ(ConvertError(R"({"oneOf":[
      {"type":"object","patternProperties":{"^a":{}},"additionalProperties":false},
      {"type":"object","patternProperties":{"^ab":{"type":"integer"}},
       "additionalProperties":false}]})")
                .code(),
            StatusCode::kUnsupported);
}

// Three closed branches; the second and third negated through a second part's patternProperties
// and additionalProperties schema (their keys stay finite: the first part closes them).
const char* const kClosedWithPatterns = R"({"oneOf":[
    {"type":"object","properties":{"a":{},"b":{}},"additionalProperties":false},
    {"allOf":[{"type":"object","properties":{"a":{"type":"string"},"b":{},"z":{}},
               "additionalProperties":false},
              {"patternProperties":{"^b":{"type":"integer"}}}]},
    {"allOf":[{"type":"object","properties":{"a":{},"q":{}},"additionalProperties":false},
              {"properties":{"q":{}},"additionalProperties":{"type":"integer"}}]}]})";

// Branches closed by additionalProperties false over finitely many keys (a versioned
// configuration: SchemaStore's host.json eventHubs, golangci-lint, buildkite): "exactly one"
// negates the other branches only within the keys a branch admits, key by key (the property's
// schema, the patterns that match the key, additionalProperties where neither names it).
TEST(JsonSchemaCombinators, OneOfOfClosedObjectsIsExactWithinTheirKeys) {
  ExpectLanguage(R"({"oneOf":[
      {"type":"object","properties":{"a":{},"b":{}},"additionalProperties":false},
      {"type":"object","properties":{"b":{},"c":{}},"additionalProperties":false},
      {"type":"object","properties":{"c":{"type":"integer"}},"additionalProperties":false}]})",
                 {R"({"a":1})", R"({"a":1,"b":2})", R"({"b":1,"c":2})", R"({"c":"x"})"},
                 {"{}", R"({"b":1})", R"({"c":1})", R"({"a":1,"c":2})", R"({"d":1})"});
  // The values themselves closed objects (host.json's initialOffsetOptions): {"p":{"x":1}}
  // matches both branches.
  ExpectLanguage(R"({"oneOf":[
      {"type":"object","properties":{"p":{"type":"object","properties":{"x":{}},
       "additionalProperties":false}},"required":["p"],"additionalProperties":false},
      {"type":"object","properties":{"p":{"type":"object","properties":{"x":{},"y":{}},
       "additionalProperties":false}},"required":["p"],"additionalProperties":false}]})",
                 {R"({"p":{"y":1}})", R"({"p":{"x":1,"y":2}})"},
                 {R"({"p":{"x":1}})", R"({"p":{}})", R"({"p":{"z":1}})", "{}"});
  // The other branch's patternProperties (in a second part: the branch's keys stay finite) and
  // additionalProperties schema, key by key.
  ExpectLanguage(kClosedWithPatterns,
                 {R"({"a":1.5})", R"({"b":"s"})", R"({"a":"s","z":1})", R"({"q":1})",
                  R"({"a":1,"q":1})"},
                 {"{}", R"({"a":1})", R"({"a":"s"})", R"({"b":1})", R"({"a":"s","b":2})",
                  R"({"z":1,"q":1})"});
  // propertyNames of the other branch, key by key: {"c": 1} matches only the first.
  ExpectLanguage(R"({"oneOf":[
      {"type":"object","properties":{"a":{},"b":{},"c":{}},"additionalProperties":false},
      {"type":"object","properties":{"a":{},"b":{},"c":{}},"additionalProperties":false,
       "propertyNames":{"enum":["a","b"]}}]})",
                 {R"({"c":1})", R"({"a":1,"c":2})"}, {"{}", R"({"a":1})", R"({"a":1,"b":2})"});
  // `not` beside a closed schema: negated within its keys.
  ExpectLanguage(R"({"type":"object","properties":{"a":{},"b":{}},"additionalProperties":false,
                     "not":{"properties":{"a":{"type":"integer"}},"additionalProperties":false}})",
                 {R"({"a":"s"})", R"({"b":1})", R"({"a":1,"b":2})"},
                 {"{}", R"({"a":1})", R"({"c":1})"});
  // `if` closed by additionalProperties false beside a closed schema: its negation within the
  // schema's keys (b present makes `if` false).
  ExpectLanguage(R"({"type":"object","properties":{"a":{},"b":{}},"additionalProperties":false,
                     "if":{"properties":{"a":{"const":1}},"required":["a"],
                           "additionalProperties":false},
                     "then":{"required":["b"]},"else":{"properties":{"b":{"type":"string"}}}})",
                 {R"({"a":1,"b":"x"})", R"({"a":2})", "{}"},
                 {R"({"a":1})", R"({"a":1,"b":2})", R"({"b":3})", R"({"c":1})"});
  // An open branch would need "some key outside the other's": still unsupported.
  EXPECT_EQ(ConvertError(R"({"oneOf":[
      {"type":"object","properties":{"a":{}},"additionalProperties":false},
      {"type":"object","properties":{"a":{"type":"integer"}}}]})")
                .code(),
            StatusCode::kUnsupported);
}

// Every object over a few keys (in schema order) and values, against "exactly one branch"
// computed directly from hand-written branch predicates.
using Branch = std::function<bool(const std::map<std::string, std::string>&)>;

void ExpectExactlyOne(const std::string& schema, const std::vector<std::string>& keys,
                      const std::vector<std::string>& values, const std::vector<Branch>& branches) {
  SchemaGrammar g = CompileSchema(schema);
  ASSERT_TRUE(g.ok()) << schema << ": " << g.status.ToString();
  int accepted = 0, total = 0;
  for (uint32_t subset = 0; subset < (1u << keys.size()); ++subset) {
    std::vector<std::string> present;
    for (size_t k = 0; k < keys.size(); ++k) {
      if (subset & (1u << k)) present.push_back(keys[k]);
    }
    size_t combos = 1;
    for (size_t i = 0; i < present.size(); ++i) combos *= values.size();
    for (size_t combo = 0; combo < combos; ++combo) {
      std::map<std::string, std::string> obj;
      std::string text = "{";
      size_t c = combo;
      for (const std::string& k : present) {
        obj[k] = values[c % values.size()];
        c /= values.size();
        text += (text.size() > 1 ? ",\"" : "\"") + k + "\":" + obj[k];
      }
      text += "}";
      int matches = 0;
      for (const auto& b : branches) matches += b(obj);
      ++total;
      accepted += matches == 1;
      EXPECT_EQ(g.Accepts(text), matches == 1) << text << " matches " << matches << " branches";
    }
  }
  EXPECT_GT(accepted, 0);
  EXPECT_LT(accepted, total);
}

bool KeysWithin(const std::map<std::string, std::string>& o, const std::vector<std::string>& ks) {
  for (const auto& [k, v] : o) {
    if (std::find(ks.begin(), ks.end(), k) == ks.end()) return false;
  }
  return true;
}
bool IsInteger(const std::string& v) { return !v.empty() && v[0] != '"' && v.find('.') == v.npos; }
bool IsString(const std::string& v) { return !v.empty() && v[0] == '"'; }

TEST(JsonSchemaCombinators, OneOfOfClosedObjectsMatchesExactlyOneBranchOnEveryObject) {
  using Obj = std::map<std::string, std::string>;
  ExpectExactlyOne(R"({"oneOf":[
      {"type":"object","properties":{"a":{},"b":{}},"additionalProperties":false},
      {"type":"object","properties":{"b":{},"c":{}},"additionalProperties":false},
      {"type":"object","properties":{"c":{"type":"integer"}},"additionalProperties":false}]})",
                   {"a", "b", "c", "d"}, {"1", "\"x\""},
                   {[](const Obj& o) { return KeysWithin(o, {"a", "b"}); },
                    [](const Obj& o) { return KeysWithin(o, {"b", "c"}); },
                    [](const Obj& o) {
                      return KeysWithin(o, {"c"}) && (!o.count("c") || IsInteger(o.at("c")));
                    }});
  ExpectExactlyOne(
      kClosedWithPatterns,
      {"a", "b", "z", "q"}, {"1", "1.5", "\"s\""},
      {[](const Obj& o) { return KeysWithin(o, {"a", "b"}); },
       [](const Obj& o) {
         return KeysWithin(o, {"a", "b", "z"}) && (!o.count("a") || IsString(o.at("a"))) &&
                (!o.count("b") || IsInteger(o.at("b")));
       },
       [](const Obj& o) {
         return KeysWithin(o, {"a", "q"}) && (!o.count("a") || IsInteger(o.at("a")));
       }});
}

TEST(JsonSchemaCombinators, NotOfTypesAndObjectsIsExpressed) {
  ExpectLanguage(R"({"not":{"type":"object","properties":{"a":{"type":"string"}}}})",
                 {"1", R"({"a":1})", "[]"}, {"{}", R"({"a":"s"})", R"({"b":1})"});
  // `required` and `items` accept every value of other types, so `not` rejects those.
  ExpectLanguage(R"({"not":{"required":["a","b"]}})", {"{}", R"({"a":1})"},
                 {R"({"a":1,"b":2})", "5"});
  ExpectLanguage(R"({"not":{"items":{"type":"integer"}}})", {R"([1,"x"])"}, {"[]", "[1,2]", "3"});
}

TEST(JsonSchemaCombinators, IfThenElseSelectsByTheCondition) {
  ExpectLanguage(R"({"if":{"properties":{"country":{"const":"US"}},"required":["country"]},
                    "then":{"properties":{"zip":{"pattern":"^[0-9]{5}$"}}},
                    "else":{"properties":{"zip":{"pattern":"^[A-Z0-9 ]+$"}}}})",
                 {R"({"country":"US","zip":"12345"})", R"({"country":"CA","zip":"K1A 0B1"})",
                  R"({"zip":"AB1"})"},
                 {R"({"country":"US","zip":"K1A"})", R"({"country":"CA","zip":"k1a"})"});
}

// ---- limits ----

TEST(JsonSchemaLimits, PathologicalSchemasFinishQuickly) {
  std::vector<std::string> schemas;
  std::string deep = R"({"type":"integer"})";
  for (int i = 0; i < 400; ++i)
    deep = R"({"anyOf":[)" + deep + R"(,{"const":)" + std::to_string(i) + "}]}";
  schemas.push_back(deep);
  std::string e = R"({"enum":[)";
  for (int i = 0; i < 10000; ++i) e += (i ? ",\"v" : "\"v") + std::to_string(i) + "\"";
  schemas.push_back(e + "]}");
  std::string p = R"({"type":"object","properties":{)";
  for (int i = 0; i < 5000; ++i)
    p += (i ? ",\"k" : "\"k") + std::to_string(i) + R"(":{"type":"integer"})";
  schemas.push_back(p + "}}");
  // 40 levels of allOf over a two-way anyOf: 2^40 alternatives if distributed blindly.
  std::string x = R"({"type":"integer"})";
  for (int i = 0; i < 40; ++i) {
    x = R"({"allOf":[)" + x + R"(,{"anyOf":[{"minimum":)" + std::to_string(i) +
        R"(},{"multipleOf":)" + std::to_string(i + 2) + "}]}]}";
  }
  schemas.push_back(x);
  JsonSchemaOptions o;
  // The issue's bound (a second) on this thread's CPU time, so a loaded CI machine cannot fail it.
  for (const std::string& s : schemas) {
    const double t0 = testing::ThreadCpuMs();
    auto r = JsonSchemaToGrammar(s, o);
    EXPECT_LT(testing::ThreadCpuMs() - t0, 1000) << s.substr(0, 80);
    if (!r.ok()) {
      EXPECT_EQ(r.status().code(), StatusCode::kLimit) << r.status().ToString();
    }
  }
}

// A conjunct whose combination with the rest of its schema exceeds max_alternatives (allOf items,
// dependencies, a negation) fails the schema by default; with --unsupported ignore that conjunct
// alone is left out, reported as loosened at its keyword, and every other one is still enforced.
// The same for a fifth `contains` on one array (the counting automaton takes four).
TEST(JsonSchemaLimits, ConjunctsOverTheAlternativesLimitAreAnErrorOrLeftOutAndReported) {
  auto two_way = [](const std::string& kw, int n, const std::string& item) {
    std::string s = R"({"type":")" + std::string(kw == "contains" ? "array" : "object") + "\",";
    s += kw == "dependentRequired" ? R"("dependentRequired":{)" : R"("allOf":[)";
    for (int i = 0; i < n; ++i) {
      if (i) s += ',';
      for (char ch : item) s += ch == '#' ? std::to_string(i) : std::string(1, ch);
    }
    return s + (kw == "dependentRequired" ? "}}" : "]}");
  };
  struct Case {
    std::string schema, pointer, what;
    StatusCode error;
    std::vector<std::string> accepted, rejected;  // with kIgnore
  };
  const std::vector<Case> cases = {
      // 2^5 alternatives: item 4 is left out, items 0-3 hold.
      {two_way("allOf", 5, R"({"anyOf":[{"required":["a#"]},{"required":["b#"]}]})"), "/allOf",
       "item 4: ", StatusCode::kLimit,
       {R"({"a0":1,"b1":1,"a2":1,"a3":1})", R"({"a0":1,"a1":1,"a2":1,"a3":1,"b4":1})"},
       {R"({"a1":1,"a2":1,"a3":1,"a4":1})", R"({"a0":1,"a1":1,"a2":1})", "[]"}},
      {two_way("dependentRequired", 5, R"("k#":["m#"])"), "/dependentRequired", "property 'k4': ",
       StatusCode::kLimit,
       {R"({"k4":1})", R"({"k0":1,"m0":1,"k4":1})", "{}"},
       {R"({"k0":1})", R"({"k3":1,"k4":1,"m4":1})"}},
      // not (any of five pairs present): the negation is a product of five two-way choices.
      {R"({"type":"object","not":{"anyOf":[{"required":["a0","b0"]},{"required":["a1","b1"]},
          {"required":["a2","b2"]},{"required":["a3","b3"]},{"required":["a4","b4"]}]}})",
       "/not", "its negation: ", StatusCode::kLimit,
       {"{}", R"({"a0":1,"b0":1})"}, {"[]", "1"}},
      {two_way("contains", 5, R"({"contains":{"const":#}})"), "/allOf/4/contains", "",
       StatusCode::kUnsupported,
       {"[0,1,2,3]", "[3,2,1,0,4]"}, {"[1,2,3,4]", "[0,1,2]", "{}"}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.schema);
    JsonSchemaOptions o = testing::CompactOptions();
    o.max_alternatives = 16;
    EXPECT_EQ(ConvertError(c.schema, o).code(), c.error);
    o.unsupported = UnsupportedPolicy::kIgnore;
    const SchemaGrammar g = CompileSchema(c.schema, o);
    ASSERT_TRUE(g.ok()) << g.status.ToString();
    EXPECT_TRUE(g.report.loosened());
    bool noted = false;
    for (const JsonSchemaNote& n : g.report.notes) {
      noted = noted || (n.kind == JsonSchemaNote::Kind::kLoosened && n.pointer == c.pointer &&
                        n.message.rfind(c.what, 0) == 0);
    }
    EXPECT_TRUE(noted) << "no loosened note at " << c.pointer;
    for (const std::string& t : c.accepted) EXPECT_TRUE(g.Accepts(t)) << t;
    for (const std::string& t : c.rejected) EXPECT_FALSE(g.Accepts(t)) << t;
  }
}

TEST(JsonSchemaLimits, TheGrammarSizeLimitIsEnforced) {
  JsonSchemaOptions o;
  o.max_grammar_exprs = 1000;
  std::string e = R"({"enum":[)";
  for (int i = 0; i < 2000; ++i) e += (i ? ",\"v" : "\"v") + std::to_string(i) + "\"";
  Status s = ConvertError(e + "]}", o);
  EXPECT_EQ(s.code(), StatusCode::kLimit);
}

}  // namespace
}  // namespace sieve
