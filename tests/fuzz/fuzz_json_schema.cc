// Fuzz target: JSON Schema text -> grammar (converter) -> simplify -> pushdown automaton.
//
// The first byte picks the converter options (whitespace, semantics, property order, policy for
// unsupported keywords, whether other documents can be loaded, closed objects with json.dumps
// separators); the rest is the schema (its top-level "x-guidance" is read too). With
// the loader bit, text after the first NUL byte is every other document a `$ref` names (one
// document per URI, so references into it, its own references back and cycles between the copies
// are all reachable: JsonSchemaOptions::load_document). Checks: no crash, no sanitizer report,
// no kInternal; a successful conversion compiles or fails with a proper status.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "grammar/compiler.h"
#include "grammar/json_schema.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace sieve;
  if (size == 0) return 0;
  const uint8_t sel = data[0];
  JsonSchemaOptions so;
  ApplyLimits(fuzz::FuzzLimits(), &so);
  so.max_convert_ms = 1000;
  so.whitespace = static_cast<JsonWhitespace>(sel % 3);
  so.semantics = (sel & 4) ? JsonSchemaSemantics::kStrict : JsonSchemaSemantics::kStandard;
  so.property_order = static_cast<JsonPropertyOrder>((sel >> 3) % 3);
  so.unsupported = (sel & 32) ? UnsupportedPolicy::kIgnore : UnsupportedPolicy::kError;
  if (sel & 128) {  // XGrammar's layout and strict_mode: json.dumps separators, closed objects
    so.closed_by_default = true;
    if (so.whitespace == JsonWhitespace::kCompact) {
      so.item_separator = ", ";
      so.key_separator = ": ";
    }
  }
  std::string_view schema(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (sel & 64) {
    const size_t nul = schema.find('\0');
    const std::string other(nul == std::string_view::npos ? std::string_view()
                                                          : schema.substr(nul + 1));
    if (nul != std::string_view::npos) schema = schema.substr(0, nul);
    so.max_documents = 8;
    so.load_document = [other](const std::string& uri) -> std::optional<std::string> {
      if (other.empty() || uri.empty() || uri.back() == 'x') return std::nullopt;  // some unknown
      return other;
    };
  }
  auto converted = JsonSchemaToGrammar(schema, so);
  if (!converted.ok()) {
    fuzz::CheckNotInternal(converted.status(), "JsonSchemaToGrammar");
    return 0;
  }
  auto compiled = CompileGrammarIr(std::move(converted->grammar), fuzz::FuzzCompileOptions());
  if (!compiled.ok()) fuzz::CheckNotInternal(compiled.status(), "CompileGrammarIr");
  return 0;
}
