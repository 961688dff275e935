// OpenAI compatibility: a Chat Completions request's `response_format`, `tools`, `tool_choice` and
// `parallel_tool_calls` -> a StructuralTagSpec (structural_tag.h) -> a grammar.
//
// Read from the request object (other members such as `model` and `messages` are ignored):
//  - response_format: {"type": "text"} (no constraint), {"type": "json_object"} (any JSON object),
//    {"type": "json_schema", "json_schema": {"name": ..., "schema": {...}, "strict": bool}}.
//  - tools: [{"type": "function", "function": {"name", "description", "parameters", "strict"}}];
//    names match ^[a-zA-Z0-9_-]{1,64}$ and are unique; no `parameters` means no arguments ({}).
//  - tool_choice: "none" | "auto" (default with tools) | "required" |
//    {"type": "function", "function": {"name": ...}} (that tool, required).
//  - parallel_tool_calls: bool, default true.
// Tool calls are written in the model's format (OpenAiRequestOptions::format). With both tools and
// a response_format, tool_choice auto means "either the calls or the formatted response".
//
// Strict mode (json_schema.strict or function.strict = true) follows OpenAI's Structured Outputs
// rules; a schema that breaks one is an error naming the rule and its JSON pointer:
//  1. the root is an object (`type: "object"`), not anyOf;
//  2. every object sets `additionalProperties: false` and lists every property in `required`
//     (optional fields are written as a union with null: "type": ["string", "null"]);
//  3. only these keywords: type, properties, required, additionalProperties, items, enum, const,
//     anyOf, $ref, $defs, definitions, description, title, $schema, $id, $comment, default,
//     examples, pattern, format (date-time, time, date, duration, email, hostname, ipv4, ipv6,
//     uuid), minimum, maximum, exclusiveMinimum, exclusiveMaximum, multipleOf, minItems, maxItems;
//  4. at most 10 levels of object nesting, 5000 object properties in total, 1000 enum values in
//     total, and 120,000 characters over all property names, definition names, enum and const
//     values.
// The grammar then uses strict semantics (every property present, no others) in schema order, so
// the output is what OpenAI's strict mode promises. Non-strict schemas use standard JSON Schema
// semantics; a keyword sieve cannot enforce is an error (never a silently looser grammar).
#ifndef SIEVE_GRAMMAR_OPENAI_REQUEST_H_
#define SIEVE_GRAMMAR_OPENAI_REQUEST_H_

#include <string>
#include <string_view>
#include <vector>

#include "grammar/structural_tag.h"
#include "grammar/support/status.h"

namespace sieve {

struct OpenAiRequestOptions {
  ToolCallFormat format = ToolCallFormat::kHermes;
  bool think = false;  // a <think>...</think> block comes first (reasoning models)
};

struct OpenAiStructure {
  StructuralTagSpec spec;
  std::vector<std::string> tool_names;  // in request order
  std::string summary;  // one line, e.g. "2 tools (hermes), tool_choice auto, parallel"
  // Where each tag's content schema (spec.tags order) and the response schema sit in the request
  // ("/tools/3/function/parameters", "/response_format/json_schema/schema"): errors and notes of
  // the grammar carry pointers into the request, not into the structural tag built from it.
  std::vector<std::string> tag_schema_pointers;
  std::string response_schema_pointer;
};

// Parses the request (UTF-8 JSON text). Errors: kParse with the byte offset for malformed JSON,
// kInvalidArgument with the JSON pointer (into the request) for a bad member or strict-rule breach.
Result<OpenAiStructure> StructureFromOpenAiRequest(std::string_view request_json,
                                                   const OpenAiRequestOptions& opts);

// The entry point the CLI calls: request -> grammar (+ token bindings, + schema report). Schema
// errors and notes point into the request (/tools/0/function/parameters/properties/x).
// `opts.vocab` is needed for formats with token pieces (deepseek).
Result<StructuralTagGrammar> OpenAiRequestToGrammar(std::string_view request_json,
                                                    const OpenAiRequestOptions& request_opts,
                                                    const StructuralTagOptions& opts);

// Checks OpenAI's strict-mode rules (see above) on a schema. Error pointers are `pointer_prefix`
// followed by the pointer inside the schema.
Status CheckOpenAiStrictSchema(std::string_view schema_json, const std::string& pointer_prefix);

}  // namespace sieve

#endif  // SIEVE_GRAMMAR_OPENAI_REQUEST_H_
