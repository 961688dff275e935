// JsonSchemaValidator: the verdict agrees with a matcher over the normally compiled grammar (same
// language, same rejecting byte) on every instance under schemas/, and a rejection names the
// subschema being matched: a property's schema, a $defs target reached through $ref, the items
// schema, the subschema holding anyOf branches that all fail, the object itself for an unknown key.
#include "grammar/json_schema_locate.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "tests/grammar/json_schema_test_util.h"

namespace sieve {
namespace {

namespace fs = std::filesystem;

std::string ReadFile(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

JsonSchemaValidator Make(const std::string& schema) {
  JsonSchemaOptions opts;  // standard semantics, `any` whitespace
  auto v = JsonSchemaValidator::Create(schema, opts);
  EXPECT_TRUE(v.ok()) << v.status().ToString();
  return std::move(v).value();
}

// The first byte the plain matcher refuses, or the length when it reads everything.
size_t MatcherRejectByte(const testing::SchemaGrammar& g, const std::string& text) {
  GrammarMatcher m(g.pda);
  for (size_t i = 0; i < text.size(); ++i) {
    if (!m.AcceptString(std::string_view(text).substr(i, 1))) return i;
  }
  return text.size();
}

TEST(JsonSchemaLocate, VerdictAndByteAgreeWithTheMatcherOnEveryExampleInstance) {
  const fs::path dir = fs::path(SIEVE_SOURCE_DIR) / "schemas";
  int instances = 0, rejected = 0;
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    if (name.size() <= 12 || name.substr(name.size() - 12) != ".schema.json") continue;
    const std::string stem = name.substr(0, name.size() - 12);
    const std::string schema = ReadFile(e.path());
    JsonSchemaOptions opts;
    auto v = JsonSchemaValidator::Create(schema, opts);
    ASSERT_TRUE(v.ok()) << name << ": " << v.status().ToString();
    testing::SchemaGrammar g = testing::CompileSchema(schema, opts);
    ASSERT_TRUE(g.ok()) << name;
    for (const char* kind : {".valid.jsonl", ".invalid.jsonl"}) {
      std::ifstream in(dir / (stem + kind));
      std::string line;
      while (std::getline(in, line)) {
        if (line.empty() || line[0] == '#') continue;
        ++instances;
        JsonSchemaVerdict r = v->Validate(line);
        EXPECT_EQ(r.accepted, g.Accepts(line)) << name << kind << ": " << line;
        if (!r.accepted) {
          ++rejected;
          EXPECT_EQ(r.byte, MatcherRejectByte(g, line)) << name << ": " << line;
          EXPECT_FALSE(r.limit_hit);
        }
      }
    }
  }
  EXPECT_GT(instances, 200);
  EXPECT_GT(rejected, 100);
}

TEST(JsonSchemaLocate, WrongTypeOfAPropertyNamesThePropertySchema) {
  auto v = Make(R"({"type": "object", "properties": {"name": {"type": "string"},
                   "age": {"type": "integer", "minimum": 0}}})");
  EXPECT_TRUE(v.Validate(R"({"name": "a", "age": 3})").accepted);
  JsonSchemaVerdict r = v.Validate(R"({"name": "a", "age": "3"})");
  EXPECT_FALSE(r.accepted);
  EXPECT_EQ(r.byte, 21u);
  EXPECT_EQ(r.location, "/properties/age");
  r = v.Validate(R"({"name": "a", "age": -3})");
  EXPECT_EQ(r.byte, 22u);  // "-0" is a valid integer >= 0: the 3 is what fails
  EXPECT_EQ(r.location, "/properties/age");
}

TEST(JsonSchemaLocate, LongConstrainedStringsAreNotCutByTheStackLimit) {
  // A pattern with lookaround is one rule per automaton state; built into its owner (same location), a long
  // string is not a frame per character (it was cut at the matcher's 65,536 frames, in
  // quadratic time: found in review with format: regex).
  auto v = Make(R"({"type": "object", "properties": {"p": {"type": "string",
                   "pattern": "^(?!x)(ab|c[de])*$"}}})");
  std::string doc = R"({"p": ")";
  for (int i = 0; i < 40000; ++i) doc += i % 2 ? "ab" : "cd";
  EXPECT_TRUE(v.Validate(doc + "\"}").accepted);
  JsonSchemaVerdict r = v.Validate(doc + "x\"}");
  EXPECT_FALSE(r.accepted);
  EXPECT_FALSE(r.limit_hit);
  EXPECT_EQ(r.byte, doc.size());
  EXPECT_EQ(r.location, "/properties/p");
}

TEST(JsonSchemaLocate, RefTargetsAreReportedAtTheirDefinition) {
  auto v = Make(R"({"$defs": {"Author": {"type": "object", "properties": {
                     "handle": {"type": "string", "pattern": "^@[a-z]+$"}}}},
                   "type": "object", "properties": {"author": {"$ref": "#/$defs/Author"}}})");
  JsonSchemaVerdict r = v.Validate(R"({"author": {"handle": "bob"}})");
  EXPECT_FALSE(r.accepted);
  EXPECT_EQ(r.byte, 23u);
  EXPECT_EQ(r.location, "/$defs/Author/properties/handle");
}

TEST(JsonSchemaLocate, ArrayItemsAndTupleItemsHaveTheirOwnLocation) {
  auto v = Make(R"({"type": "array", "prefixItems": [{"const": "id"}],
                   "items": {"type": "number", "maximum": 10}})");
  EXPECT_TRUE(v.Validate(R"(["id", 1, 2])").accepted);
  JsonSchemaVerdict r = v.Validate(R"(["id", 1, 20])");
  EXPECT_FALSE(r.accepted);
  EXPECT_EQ(r.location, "/items");
  r = v.Validate(R"(["ix", 1])");
  EXPECT_EQ(r.byte, 3u);
  EXPECT_EQ(r.location, "/prefixItems/0");
}

TEST(JsonSchemaLocate, AnyOfWhoseBranchesAllFailIsReportedAtItsHolder) {
  auto v = Make(R"({"type": "object", "properties": {"x": {"anyOf": [
                     {"type": "string"}, {"type": "integer"}]}}})");
  JsonSchemaVerdict r = v.Validate(R"({"x": true})");
  EXPECT_FALSE(r.accepted);
  EXPECT_EQ(r.byte, 6u);
  EXPECT_EQ(r.location, "/properties/x");
  // Once a branch is chosen, the rejection is inside it.
  r = v.Validate(R"({"x": 1.5})");
  EXPECT_EQ(r.byte, 7u);
  EXPECT_EQ(r.location, "/properties/x/anyOf/1");
}

TEST(JsonSchemaLocate, UnknownKeyAndEarlyEndAreReportedAtTheObject) {
  auto v = Make(R"({"type": "object", "properties": {"inner": {"type": "object",
                     "properties": {"a": {"type": "boolean"}}, "additionalProperties": false}}})");
  JsonSchemaVerdict r = v.Validate(R"({"inner": {"b": true}})");
  EXPECT_FALSE(r.accepted);
  EXPECT_EQ(r.byte, 12u);
  EXPECT_EQ(r.location, "/properties/inner");
  r = v.Validate(R"({"inner": {"a": true})");
  EXPECT_FALSE(r.accepted);
  EXPECT_TRUE(r.ended_early);
  EXPECT_EQ(r.byte, 21u);
  EXPECT_EQ(r.location, "");
}

TEST(JsonSchemaLocate, UnsupportedSchemaIsAnErrorNamingItsPointer) {
  auto v = JsonSchemaValidator::Create(
      R"({"properties": {"tags": {"type": "string", "pattern": "(a)\\1"}}})");
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.status().code(), StatusCode::kUnsupported);
  EXPECT_EQ(v.status().json_pointer(), "/properties/tags/pattern");
}

}  // namespace
}  // namespace sieve
