// OpenAI requests (openai_request.h): errors and notes of the schemas inside a request point into
// the request (/tools/i/function/parameters/..., /response_format/json_schema/schema/...), not
// into the structural tag built from it, also when tool_choice names one tool out of several.
#include <gtest/gtest.h>

#include <string>

#include "grammar/openai_request.h"

namespace sieve {
namespace {

TEST(OpenAiRequestPointers, SchemaErrorsPointIntoTheRequest) {
  const char* req = R"({"tools": [
      {"type": "function", "function": {"name": "a", "parameters": {"type": "object"}}},
      {"type": "function", "function": {"name": "b", "parameters": {"type": "object",
        "properties": {"x": {"type": "string", "pattern": "(a)\\1"}}}}}]})";
  auto r = OpenAiRequestToGrammar(req, OpenAiRequestOptions(), StructuralTagOptions());
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().json_pointer(), "/tools/1/function/parameters/properties/x/pattern");
  // The named tool is the only tag: its pointer is still its index in the request.
  const std::string named = std::string(req).substr(0, std::string(req).size() - 1) +
                            R"(, "tool_choice": {"type": "function", "function": {"name": "b"}}})";
  auto n = OpenAiRequestToGrammar(named, OpenAiRequestOptions(), StructuralTagOptions());
  ASSERT_FALSE(n.ok());
  EXPECT_EQ(n.status().json_pointer(), "/tools/1/function/parameters/properties/x/pattern");
}

TEST(OpenAiRequestPointers, NotesPointIntoTheRequest) {
  const char* req = R"({"response_format": {"type": "json_schema", "json_schema": {"name": "r",
      "schema": {"type": "object", "properties": {"x": {"type": "string", "format": "iban"}}}}}})";
  StructuralTagOptions so;
  so.json.unsupported = UnsupportedPolicy::kIgnore;
  auto r = OpenAiRequestToGrammar(req, OpenAiRequestOptions(), so);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->report.notes.size(), 1u);
  EXPECT_EQ(r->report.notes[0].pointer, "/response_format/json_schema/schema/properties/x/format");
}

}  // namespace
}  // namespace sieve
