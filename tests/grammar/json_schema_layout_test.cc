// Layouts beyond the whitespace modes (grammar/json_schema_layout.cc): json.dumps separators,
// llguidance's "x-guidance", and closed_by_default (XGrammar's strict_mode).
#include <gtest/gtest.h>

#include <string>

#include "tests/grammar/json_schema_test_util.h"

namespace sieve::testing {
namespace {

constexpr const char kTwoInts[] =
    R"({"type":"object","properties":{"a":{"type":"integer"},"b":{"type":"integer"}},)"
    R"("required":["a","b"],"additionalProperties":false)";

std::string WithXGuidance(const std::string& xg) {
  return std::string(kTwoInts) + R"(,"x-guidance":)" + xg + "}";
}

TEST(JsonSchemaLayout, DumpsSeparatorsAreExact) {
  JsonSchemaOptions o = CompactOptions();
  o.item_separator = ", ";
  o.key_separator = ": ";
  SchemaGrammar g = CompileSchema(std::string(kTwoInts) + "}", o);
  ASSERT_TRUE(g.ok()) << g.status.ToString();
  EXPECT_TRUE(g.Accepts(R"({"a": 1, "b": 2})"));
  EXPECT_FALSE(g.Accepts(R"({"a":1,"b":2})"));
  EXPECT_FALSE(g.Accepts(R"({"a": 1,  "b": 2})"));
  EXPECT_FALSE(g.Accepts(R"({ "a": 1, "b": 2 })"));
  SchemaGrammar arr = CompileSchema(R"({"type":"array","items":{"type":"array"}})", o);
  ASSERT_TRUE(arr.ok());
  EXPECT_TRUE(arr.Accepts("[[1, {\"k\": [true, null]}], []]"));
  EXPECT_FALSE(arr.Accepts("[[1,2]]"));
  // The default pair is plain compact JSON.
  SchemaGrammar compact = CompileSchema(std::string(kTwoInts) + "}");
  EXPECT_TRUE(compact.Accepts(R"({"a":1,"b":2})"));
  EXPECT_FALSE(compact.Accepts(R"({"a": 1, "b": 2})"));
}

TEST(JsonSchemaLayout, SeparatorsMustStayJsonAndCompact) {
  JsonSchemaOptions o = CompactOptions();
  o.item_separator = ";";
  EXPECT_EQ(CompileSchema("{}", o).status.code(), StatusCode::kInvalidArgument);
  o.item_separator = ",\n";
  o.key_separator = "x:";
  EXPECT_EQ(CompileSchema("{}", o).status.code(), StatusCode::kInvalidArgument);
  JsonSchemaOptions any;
  any.item_separator = ", ";
  EXPECT_EQ(CompileSchema("{}", any).status.code(), StatusCode::kInvalidArgument);
}

TEST(JsonSchemaLayout, XGuidanceSeparatorsAreRegexesMatchedWhole) {
  SchemaGrammar g = CompileSchema(WithXGuidance(
      R"({"item_separator":"\\s{0,2},\\s{0,2}","key_separator":"\\s{0,2}:\\s{0,2}",)"
      R"("whitespace_flexible":false})"));
  ASSERT_TRUE(g.ok()) << g.status.ToString();
  EXPECT_TRUE(g.Accepts(R"({"a": 1, "b": 2})"));
  EXPECT_TRUE(g.Accepts(R"({"a":1,"b":2})"));
  EXPECT_TRUE(g.Accepts(R"({"a"  :  1 , "b":2})"));
  EXPECT_FALSE(g.Accepts(R"({"a":1,   "b":2})"));
  EXPECT_FALSE(g.Accepts(R"({"a":1,"b":    2})"));
  // Literal separators, flexible whitespace around them.
  SchemaGrammar f = CompileSchema(WithXGuidance(
      R"({"item_separator":", ","key_separator":": ","whitespace_flexible":true})"));
  ASSERT_TRUE(f.ok());
  EXPECT_TRUE(f.Accepts(R"({"a"  :  1 , "b"  :  2})"));
  EXPECT_FALSE(f.Accepts(R"({"a":1,"b":2})"));
  SchemaGrammar odd = CompileSchema(WithXGuidance(
      R"({"item_separator":"-","key_separator":"_ ","whitespace_flexible":false})"));
  ASSERT_TRUE(odd.ok());
  EXPECT_TRUE(odd.Accepts(R"({"a"_ 1-"b"_ 2})"));
  EXPECT_FALSE(odd.Accepts(R"({"a": 1, "b": 2})"));
  // The layout is reported.
  bool noted = false;
  for (const auto& n : odd.report.notes) noted |= n.pointer == "/x-guidance";
  EXPECT_TRUE(noted);
}

TEST(JsonSchemaLayout, XGuidanceContainerAndPatternWhitespaceAreBounded) {
  SchemaGrammar g = CompileSchema(WithXGuidance(
      R"({"whitespace_flexible":false,"container_whitespace":"\\s{0,8}",)"
      R"("key_separator":"\\s{0,8}:\\s{0,8}","item_separator":"\\s{0,8},\\s{0,8}"})"));
  ASSERT_TRUE(g.ok()) << g.status.ToString();
  EXPECT_TRUE(g.Accepts(R"({        "a": 1, "b": 2})"));
  EXPECT_FALSE(g.Accepts(R"({         "a": 1, "b": 2})"));
  EXPECT_TRUE(g.Accepts(R"({"a": 1, "b": 2        })"));
  EXPECT_FALSE(g.Accepts(R"({"a": 1, "b": 2         })"));
  SchemaGrammar none = CompileSchema(WithXGuidance(
      R"({"whitespace_flexible":false,"item_separator":", ","key_separator":": "})"));
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none.Accepts(R"({ "a": 1, "b": 2 })"));
  EXPECT_TRUE(none.Accepts(R"({"a": 1, "b": 2})"));
  // whitespace_pattern: at most one match per place.
  SchemaGrammar w = CompileSchema(WithXGuidance(R"({"whitespace_pattern":"[ ]{1,2}"})"));
  ASSERT_TRUE(w.ok()) << w.status.ToString();
  EXPECT_TRUE(w.Accepts(R"({  "a"  :  1  ,  "b":2})"));
  EXPECT_FALSE(w.Accepts(R"({   "a":1,"b":2})"));
  EXPECT_FALSE(w.Accepts("{\n\"a\":1,\"b\":2}"));
}

TEST(JsonSchemaLayout, XGuidanceCoerceOneOfAndRefusals) {
  const std::string one_of =
      R"({"oneOf":[{"type":"integer"},{"type":"number","minimum":0}])";
  SchemaGrammar exact = CompileSchema(one_of + "}");
  ASSERT_TRUE(exact.ok());
  EXPECT_FALSE(exact.Accepts("3"));  // both branches: not exactly one
  SchemaGrammar coerced = CompileSchema(one_of + R"(,"x-guidance":{"coerce_one_of":true}})");
  ASSERT_TRUE(coerced.ok());
  EXPECT_TRUE(coerced.Accepts("3"));
  EXPECT_TRUE(coerced.Accepts("-2"));
  // Unknown fields and restricted escapes are not enforced: errors naming them by default.
  SchemaGrammar unknown = CompileSchema(R"({"x-guidance":{"frobnicate":1}})");
  EXPECT_EQ(unknown.status.code(), StatusCode::kUnsupported);
  EXPECT_EQ(unknown.status.json_pointer(), "/x-guidance/frobnicate");
  EXPECT_EQ(CompileSchema(R"({"x-guidance":{"json_allowed_escapes":"nrt"}})").status.code(),
            StatusCode::kUnsupported);
  EXPECT_TRUE(CompileSchema(R"({"x-guidance":{"json_allowed_escapes":"u\"\\nrbtf"}})").ok());
  // lenient: unsupported keywords become notes.
  EXPECT_TRUE(CompileSchema(R"({"x-guidance":{"lenient":true,"frobnicate":1}})").ok());
  SchemaGrammar bad = CompileSchema(R"({"x-guidance":{"item_separator":"(,"}})");
  EXPECT_EQ(bad.status.json_pointer(), "/x-guidance/item_separator");
  EXPECT_FALSE(bad.ok());
  EXPECT_EQ(CompileSchema(R"({"x-guidance":{"whitespace_flexible":1}})").status.code(),
            StatusCode::kInvalidArgument);
}

TEST(JsonSchemaLayout, ClosedByDefaultClosesListedKeysAndTuples) {
  JsonSchemaOptions o = CompactOptions();
  o.closed_by_default = true;
  const char* props = R"({"properties":{"k":{"type":"object"}}})";
  SchemaGrammar g = CompileSchema(props, o);
  ASSERT_TRUE(g.ok());
  EXPECT_TRUE(g.Accepts(R"({"k":{"any":1}})"));  // an object that lists no keys stays open
  EXPECT_FALSE(g.Accepts(R"({"k":{},"extra":1})"));
  EXPECT_TRUE(CompileSchema(props).Accepts(R"({"k":{},"extra":1})"));
  const char* tuple = R"({"type":"array","prefixItems":[{"type":"integer"}]})";
  EXPECT_FALSE(CompileSchema(tuple, o).Accepts("[1,2]"));
  EXPECT_TRUE(CompileSchema(tuple, o).Accepts("[1]"));
  EXPECT_TRUE(CompileSchema(tuple).Accepts("[1,2]"));
  const char* stated = R"({"type":"array","prefixItems":[{"type":"integer"}],"items":true})";
  EXPECT_TRUE(CompileSchema(stated, o).Accepts("[1,\"x\"]"));
  const char* open = R"({"properties":{"k":{}},"additionalProperties":true})";
  EXPECT_TRUE(CompileSchema(open, o).Accepts(R"({"k":1,"z":2})"));
}

}  // namespace
}  // namespace sieve::testing
