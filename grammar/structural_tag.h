// Structural tags: the grammar of a model turn that mixes free text with tool calls.
//
// A turn is an optional reasoning block, then a body. The body is either a response (content
// constrained by a JSON Schema, EBNF or regex), or free text in which *triggers* start tagged
// calls: a tag is begin marker, content, end marker (one tag per tool). Once a trigger appears, the
// text that follows must complete one of the tags that start with it; free text never contains a
// trigger. Several tags may follow one another (parallel calls), optionally wrapped in a section
// (DeepSeek's <｜tool▁calls▁begin｜> ... <｜tool▁calls▁end｜>). tool_choice: kAuto (text, calls
// optional), kRequired (calls only, at least one), kNone (text or response only).
//
// Markers are sequences of pieces; a piece is literal text or a *token*: a vocabulary token named by
// its text (a special token such as Llama-3's <|python_tag|>, or an added token such as DeepSeek's
// <｜tool▁sep｜>). A token piece matches that token id only, never its text spelled by other tokens,
// and the token's text in free text is just text. The engine matches bytes, so each token piece is
// compiled to a sentinel: a code point in U+10FF00..U+10FFFF that no normal token may produce (see
// structural_tag_tokens.h, which maps the token id to its sentinel at run time and removes every
// normal token holding a byte 0xF4, i.e. plane-16 code points U+100000..U+10FFFF, from the masks).
//
// Free text that must not contain the triggers is a regular language built as one repetition (no
// recursion, so the matcher's stack stays flat over long text). The construction needs that no
// string trigger's first character appears later in any string trigger (true of every format in
// use: "<tool_call>", "<think>", "{\"name\": "); other triggers are kUnsupported, naming the pointer.
//
// Errors carry the JSON pointer of the offending spec member (ParseStructuralTag) or of the tag
// (StructuralTagToGrammar: "/tags/2/content/json_schema/properties/x" for a schema error).
#ifndef SIEVE_GRAMMAR_STRUCTURAL_TAG_H_
#define SIEVE_GRAMMAR_STRUCTURAL_TAG_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "grammar/grammar.h"
#include "grammar/json_schema.h"
#include "grammar/support/status.h"
#include "grammar/tokenizer/vocabulary.h"

namespace sieve {

struct TagPiece {
  std::string text;
  bool token = false;  // a vocabulary token named by its text
  bool operator==(const TagPiece&) const = default;
};
using TagMarker = std::vector<TagPiece>;

struct TagContent {
  enum class Kind { kJsonSchema, kEbnf, kRegex, kText };
  Kind kind = Kind::kText;
  std::string source;  // schema JSON, EBNF text or regex; unused for kText
  // kJsonSchema: OpenAI strict semantics (every property required, no additional properties; the
  // schema must follow OpenAI's strict-mode rules, see openai_request.h).
  bool strict = false;
};

struct StructuralTagItem {
  std::string name;  // the tool's name, for messages
  TagMarker begin;
  TagContent content;
  TagMarker end;
};

enum class ToolChoice { kAuto, kRequired, kNone };

struct StructuralTagSpec {
  struct Block {
    TagMarker begin;
    TagMarker end;
  };
  std::optional<Block> reasoning;  // free text between begin and end, before the body
  bool reasoning_required = true;
  std::optional<TagContent> response;  // the body's content when not calling tools
  std::vector<StructuralTagItem> tags;
  std::vector<TagPiece> triggers;  // empty: the first piece of every tag's begin
  ToolChoice tool_choice = ToolChoice::kAuto;
  bool parallel = true;  // several calls in one turn
  struct Section {
    TagMarker begin;
    TagMarker separator;  // between calls inside the section
    TagMarker end;
  };
  std::optional<Section> section;  // calls are wrapped in one section, the trigger is its begin
};

struct StructuralTagOptions {
  JsonSchemaOptions json;        // for kJsonSchema contents (semantics set per content)
  const Vocabulary* vocab = nullptr;  // resolves token pieces; required when there are any
};

// A token piece of the spec: the token id and the bytes that stand for it in the grammar.
struct TokenBinding {
  int32_t id = -1;
  std::string text;      // the token's text as named in the spec
  std::string sentinel;  // UTF-8 of a code point in U+10FF00..U+10FFFF
};

struct StructuralTagGrammar {
  Grammar grammar;
  std::vector<TokenBinding> tokens;
  JsonSchemaReport report;  // notes of every JSON Schema content, pointers prefixed by the tag's
};

// Reads a spec from JSON (README "Structural tags" documents the format). Errors: kParse with the
// byte offset for malformed JSON, kInvalidArgument with the JSON pointer for a bad member.
Result<StructuralTagSpec> ParseStructuralTag(std::string_view json);

Result<StructuralTagGrammar> StructuralTagToGrammar(const StructuralTagSpec& spec,
                                                    const StructuralTagOptions& opts);

// Copies every rule of `src` into `dst` with names prefixed by `prefix`; returns the id of src's
// root in dst.
Result<RuleId> ImportGrammar(const Grammar& src, const std::string& prefix, Grammar* dst);

// ---- ready-made formats (structural_tag_formats.cc) ----

struct ToolDef {
  std::string name;
  std::string parameters_schema = "{}";  // JSON Schema of the arguments object
  bool strict = false;
};

enum class ToolCallFormat {
  kHermes,    // <tool_call>\n{"name": "f", "arguments": {...}}\n</tool_call> (Qwen, Hermes)
  kDeepSeek,  // <｜tool▁calls▁begin｜><｜tool▁call▁begin｜>function<｜tool▁sep｜>f\n```json\n{...}\n```
              // <｜tool▁call▁end｜>...<｜tool▁calls▁end｜> (DeepSeek-V2.5/V3 added tokens)
  kLlama3,    // {"name": "f", "parameters": {...}} (Llama-3.1 JSON tool calls), calls separated by ;
};

// "hermes", "deepseek", "llama3" -> format; false for an unknown name.
bool ParseToolCallFormat(std::string_view name, ToolCallFormat* out);
const char* ToolCallFormatName(ToolCallFormat f);

StructuralTagSpec ToolCallSpec(ToolCallFormat format, const std::vector<ToolDef>& tools,
                               ToolChoice choice, bool parallel);
// <think>...</think> (free text), then whitespace, then JSON matching `schema_json`.
StructuralTagSpec ThinkThenJsonSpec(std::string schema_json, bool strict);
// Adds a reasoning block <think>...</think> in front of any spec.
void AddThinkBlock(StructuralTagSpec* spec);

}  // namespace sieve

#endif  // SIEVE_GRAMMAR_STRUCTURAL_TAG_H_
