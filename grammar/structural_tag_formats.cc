// Ready-made structural tags for the tool-call formats models are trained on (structural_tag.h).
// Each mirrors the model's chat template byte for byte, so a constrained call parses with the
// model's own tool-call parser.
#include <string>

#include "grammar/structural_tag.h"

namespace sieve {
namespace {

TagPiece Text(std::string s) { return TagPiece{std::move(s), false}; }
TagPiece Token(std::string s) { return TagPiece{std::move(s), true}; }

// The tool name as a JSON string body (names are [A-Za-z0-9_-] in practice; quotes and
// backslashes are escaped anyway).
std::string JsonEscaped(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  return out;
}

TagContent Schema(const ToolDef& t) {
  TagContent c;
  c.kind = TagContent::Kind::kJsonSchema;
  c.source = t.parameters_schema.empty() ? "{}" : t.parameters_schema;
  c.strict = t.strict;
  return c;
}

}  // namespace

bool ParseToolCallFormat(std::string_view name, ToolCallFormat* out) {
  if (name == "hermes" || name == "qwen") {
    *out = ToolCallFormat::kHermes;
  } else if (name == "deepseek") {
    *out = ToolCallFormat::kDeepSeek;
  } else if (name == "llama3") {
    *out = ToolCallFormat::kLlama3;
  } else {
    return false;
  }
  return true;
}

const char* ToolCallFormatName(ToolCallFormat f) {
  switch (f) {
    case ToolCallFormat::kHermes:
      return "hermes";
    case ToolCallFormat::kDeepSeek:
      return "deepseek";
    case ToolCallFormat::kLlama3:
      return "llama3";
  }
  return "?";
}

StructuralTagSpec ToolCallSpec(ToolCallFormat format, const std::vector<ToolDef>& tools,
                               ToolChoice choice, bool parallel) {
  StructuralTagSpec spec;
  spec.tool_choice = choice;
  spec.parallel = parallel;
  for (const ToolDef& t : tools) {
    StructuralTagItem item;
    item.name = t.name;
    item.content = Schema(t);
    switch (format) {
      case ToolCallFormat::kHermes:
        item.begin = {Text("<tool_call>"),
                      Text("\n{\"name\": \"" + JsonEscaped(t.name) + "\", \"arguments\": ")};
        item.end = {Text("}\n</tool_call>")};
        break;
      case ToolCallFormat::kDeepSeek:
        item.begin = {Token("<｜tool▁call▁begin｜>"), Text("function"), Token("<｜tool▁sep｜>"),
                      Text(t.name + "\n```json\n")};
        item.end = {Text("\n```"), Token("<｜tool▁call▁end｜>")};
        break;
      case ToolCallFormat::kLlama3:
        item.begin = {Text("{\"name\": "), Text("\"" + JsonEscaped(t.name) + "\", \"parameters\": ")};
        item.end = {Text("}")};
        break;
    }
    spec.tags.push_back(std::move(item));
  }
  switch (format) {
    case ToolCallFormat::kHermes:
      spec.triggers = {Text("<tool_call>")};
      break;
    case ToolCallFormat::kDeepSeek:
      spec.section = StructuralTagSpec::Section{{Token("<｜tool▁calls▁begin｜>")},
                                                {Text("\n")},
                                                {Token("<｜tool▁calls▁end｜>")}};
      break;
    case ToolCallFormat::kLlama3:
      spec.triggers = {Text("{\"name\": ")};
      break;
  }
  return spec;
}

StructuralTagSpec ThinkThenJsonSpec(std::string schema_json, bool strict) {
  StructuralTagSpec spec;
  AddThinkBlock(&spec);
  TagContent c;
  c.kind = TagContent::Kind::kJsonSchema;
  c.source = std::move(schema_json);
  c.strict = strict;
  spec.response = std::move(c);
  spec.tool_choice = ToolChoice::kNone;
  return spec;
}

void AddThinkBlock(StructuralTagSpec* spec) {
  spec->reasoning = StructuralTagSpec::Block{{Text("<think>")}, {Text("</think>")}};
  spec->reasoning_required = true;
}

}  // namespace sieve
