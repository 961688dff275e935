// JSON Schema front end: a JSON Schema document -> Grammar IR whose language is the JSON texts that
// the schema accepts (in the chosen whitespace layout), plus a report of everything the grammar
// does not enforce exactly.
//
// Drafts 4, 6, 7, 2019-09 and 2020-12 are read as users write them: `definitions` and `$defs`,
// `items` as an array (tuple) or a schema, `prefixItems`, `additionalItems`, `dependencies` and
// `dependentRequired`/`dependentSchemas`, boolean schemas, OpenAPI's `nullable`. The draft comes
// from `$schema` when present, else from JsonSchemaOptions::default_draft; it decides the few
// places where drafts disagree ($ref siblings are ignored up to draft 7, draft 4's boolean
// exclusiveMinimum/exclusiveMaximum, `id` vs `$id`).
//
// The contract (docs: the supported-keyword table in schemas/README.md):
//  - Every keyword the converter understands is enforced exactly, or the grammar is *narrower* than
//    the schema (it accepts a subset of the valid documents, never an invalid one) and the report
//    says so (Kind::kNarrowed: e.g. exponent notation is not generated for bounded numbers, keys of
//    a large object follow the schema order).
//  - A keyword that cannot be enforced is an error (StatusCode::kUnsupported, the message names the
//    keyword, json_pointer() the schema location) with UnsupportedPolicy::kError, the default. With
//    kIgnore the keyword is dropped (Kind::kIgnored) or relaxed (Kind::kLoosened, e.g. "oneOf
//    treated as anyOf") and listed in the report with its JSON pointer: never a silently looser
//    grammar.
//  - Unknown keywords are annotations (JSON Schema semantics) and listed as Kind::kInfo, except
//    `x-` vendor extensions and the usual annotations (title, description, default, examples...).
//  - `$ref` resolves within the document: JSON pointers (with ~0 ~1 and percent-encoding), `$id`
//    based URIs of embedded resources, `$anchor` and draft-7 `#name` ids, recursion. Anything else
//    (a remote document) is unenforceable ("remote $ref"): kUnsupported, or ignored and reported.
//  - `format` is an assertion (the listed formats are enforced; unknown ones are unenforceable).
//  - Numbers follow JSON Schema's data model: `1`, `1.0` and `1.00` are one value for enum, const
//    and bounds.
//  - A schema that accepts no value at all (`false`, contradictory constraints) is
//    StatusCode::kInvalidArgument with the message kUnsatisfiableSchemaMessage.
//  - Limits (schema size and depth, grammar size, automaton sizes, alternatives from distributing
//    combinators, wall time) fail with kLimit naming the option; nothing hangs.
//
// Whitespace. kCompact: none. kAny: runs of [ \t\n\r] of at most max_whitespace_run bytes where
// JSON allows whitespace (inside objects and arrays; none before or after the top-level value).
// kIndent: exactly the layout of Python's json.dumps(indent=N) and RapidJSON's PrettyWriter with an
// N-space indent ("key": value, one member or item per line, `{}` and `[]` when empty); nesting
// deeper than max_indent_depth falls back to kAny whitespace for the deeper levels.
//
// Semantics. kStandard is JSON Schema: properties are optional unless required and
// additionalProperties defaults to any value. kStrict is OpenAI structured-output semantics: every
// listed property is required and additionalProperties defaults to false.
// Property order. kSchema: known properties appear in schema order (extra properties, when allowed,
// after them). kAny: any order, each key at most once, exact (required keys present, counts,
// dependencies). Within max_any_order_states the grammar alone says it (an automaton over the set
// of keys written); a larger object counts required keys and members in the grammar and leaves
// "each key at most once" to the matcher (Rule::unique_items on the object, an info note; a closed
// object's is kUniqueKeysLive, so that no key prefix is left with only repeats to complete it);
// a larger one with patternProperties or propertyNames falls back to schema order (reported as
// kNarrowed). kDefault is kSchema in strict
// mode and kAny in standard mode.
#ifndef SIEVE_GRAMMAR_JSON_SCHEMA_H_
#define SIEVE_GRAMMAR_JSON_SCHEMA_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "grammar/grammar.h"
#include "grammar/support/status.h"

namespace sieve {

enum class JsonSchemaDraft { kDraft4, kDraft6, kDraft7, kDraft2019_09, kDraft2020_12 };
enum class JsonWhitespace { kCompact, kAny, kIndent };
enum class JsonSchemaSemantics { kStandard, kStrict };
enum class JsonPropertyOrder { kDefault, kSchema, kAny };
enum class UnsupportedPolicy { kError, kIgnore };

struct JsonSchemaOptions {
  JsonSchemaSemantics semantics = JsonSchemaSemantics::kStandard;
  JsonWhitespace whitespace = JsonWhitespace::kAny;
  // kAny: the longest whitespace run accepted at one place (bounded so that a model cannot emit
  // whitespace forever). 64 fits a newline plus the indentation of pretty-printed JSON 15 levels
  // deep with a 4-space indent; above the automaton compiler's unroll limits (32; 63 for one ASCII
  // class, CompileOptions::max_unroll_byte_class_copies) the bound is an iteration counter, not
  // 64 copies of the whitespace class at every separator.
  int32_t max_whitespace_run = 64;
  // kCompact: json.dumps(separators=(item_separator, key_separator)); each is its punctuation
  // with optional [ \t\n\r] around it (else kInvalidArgument). ", " / ": " is json.dumps'
  // default layout (XGrammar's any_whitespace=False).
  std::string item_separator = ",";
  std::string key_separator = ":";
  // kIndent: spaces per level, and the depth after which kAny whitespace is used.
  int32_t indent = 2;
  int32_t max_indent_depth = 24;
  JsonPropertyOrder property_order = JsonPropertyOrder::kDefault;
  // additionalProperties (of an object schema with properties or patternProperties) and the
  // items after prefixItems (or an `items` array) are false unless the schema states them
  // (XGrammar's strict_mode), in standard semantics too. kStrict closes every object anyway.
  bool closed_by_default = false;
  UnsupportedPolicy unsupported = UnsupportedPolicy::kError;
  // Used when the schema has no (recognised) `$schema`.
  JsonSchemaDraft default_draft = JsonSchemaDraft::kDraft2020_12;
  // JSON Schema's data model says 1.0 is an integer. Generated integers are plain digits unless
  // this is set, in which case `type: integer` also accepts a zero fraction ("1.0", "-3.00").
  bool integer_allows_zero_fraction = false;
  // The other schema documents a `$ref` may name (sieve never fetches anything): called once per
  // document, with its absolute URI (no fragment; a relative reference from a document without a
  // base URI stays relative, e.g. "common.json"), before conversion; its JSON text, or nullopt
  // when it is unknown (the `$ref` is then "remote", unsupported). A loaded document's own `$id`
  // and relative references resolve against that URI. Unset: only the schema document itself.
  std::function<std::optional<std::string>(const std::string& uri)> load_document;
  int32_t max_documents = 64;  // documents load_document may add (a limit error past it)

  // ---- limits (exceeding one is kLimit naming it) ----
  size_t max_schema_bytes = size_t{64} << 20;
  // Nesting of the schema document (JSON levels: `{"anyOf": [{...}]}` is two per schema level),
  // and of subschemas evaluated into one another (2x this: a $ref chain nests subschemas without
  // nesting the document). The default keeps the worst case within a 1 MiB stack (SECURITY.md).
  int32_t max_schema_depth = 128;
  // Expressions in the output grammar.
  size_t max_grammar_exprs = size_t{1} << 22;
  // Values of one `enum` (issue 10: a limit where input sizes multiply).
  int32_t max_enum_values = 100000;
  // Alternatives one subschema may expand to when allOf/anyOf/oneOf/not/if are distributed.
  int32_t max_alternatives = 2048;
  // States of one any-order property automaton: 2^(known keys) x (count states); 128 is 7 keys.
  // Above it the object uses schema order (reported as kNarrowed). The automaton's size grows
  // with this quickly (each state offers every remaining key).
  int32_t max_any_order_states = 128;
  // Past max_any_order_states, objects with patternProperties/propertyNames also leave "each key
  // once" to the matcher instead of taking schema order, and closed objects skip the liveness
  // check: exact, but a generator can then write a key prefix whose only completions are keys
  // already written and be left with no allowed token. For checking complete documents:
  // JsonSchemaValidator (`sieve validate`) sets it.
  bool checked_keys_without_liveness = false;
  // States of one string or number automaton (pattern with length bounds, negated patterns,
  // numeric bounds with multipleOf...). Above it the keyword is unsupported.
  int32_t max_automaton_states = 20000;
  // States of the exact product "pattern/format automaton x length counter" for minLength and
  // maxLength. A single pattern or format past it has its repetitions capped to fit maxLength
  // instead (kNarrowed); several combined ones are unsupported.
  int64_t max_length_product_states = 4096;
  // A single pattern or format with maxLength whose exact product automaton has more states than
  // this is emitted with its repetitions capped to fit maxLength (kNarrowed) instead, unless the
  // capped form is exact anyway. The product becomes one grammar rule per state, a call per
  // character for the matcher and the mask cache: past a few hundred states that makes the mask
  // cache take seconds (Kubernetes label keys with maxLength 63: 30 s with Llama-3).
  int64_t max_exact_length_product_states = 256;
  // multipleOf is enforced through a residue automaton: the scaled divisor must not exceed this.
  int64_t max_multiple_of_modulus = 10000;
  // Wall time of the conversion (not of the automaton compile that follows).
  int64_t max_convert_ms = 2000;
  // Name of the root rule.
  std::string root_rule_name = "root";
};

struct JsonSchemaNote {
  enum class Kind {
    kIgnored,   // a keyword not enforced at all (UnsupportedPolicy::kIgnore)
    kLoosened,  // enforced partially: the grammar accepts more than the schema (kIgnore only)
    kNarrowed,  // the grammar accepts fewer documents than the schema (always sound)
    kInfo,      // an unknown keyword read as an annotation, and similar remarks
  };
  Kind kind = Kind::kInfo;
  std::string pointer;  // JSON pointer of the schema location ("" is the root)
  std::string keyword;
  std::string message;
};

struct JsonSchemaReport {
  std::vector<JsonSchemaNote> notes;
  // Whether some invalid document may be accepted (a kIgnored or kLoosened note).
  bool loosened() const;
  // One line per note: "ignored /properties/tags/uniqueItems: uniqueItems: ..."
  std::string ToString() const;
};

struct JsonSchemaStats {
  int32_t subschemas = 0;  // distinct (sub)schema terms evaluated
  int32_t rules = 0;       // rules in the output grammar
  size_t exprs = 0;        // expressions in the output grammar
  double convert_ms = 0;
};

struct JsonSchemaGrammar {
  Grammar grammar;
  JsonSchemaReport report;
  JsonSchemaStats stats;
  // Rule name -> JSON pointer of the subschema whose emission created the rule ("" is the root).
  // Rules shared by many locations (whitespace, any JSON value, the string and number building
  // blocks) have no entry. Lets a rejection be traced back to a schema location
  // (json_schema_locate.h); rule names survive compilation when inlining is off.
  std::unordered_map<std::string, std::string> rule_locations;
};

// The message of the kInvalidArgument status for a schema that no JSON value satisfies.
inline constexpr std::string_view kUnsatisfiableSchemaMessage = "the schema accepts no JSON value";

// Converts a JSON Schema document (UTF-8 JSON text). See the file comment.
Result<JsonSchemaGrammar> JsonSchemaToGrammar(std::string_view schema_json,
                                              const JsonSchemaOptions& opts = JsonSchemaOptions());

// The grammar of any JSON value in the options' whitespace layout (the grammar of `{}` and
// `true` schemas). Only the whitespace options and root_rule_name are read.
Grammar BuiltinJsonGrammar(const JsonSchemaOptions& opts = JsonSchemaOptions());

const char* JsonSchemaNoteKindName(JsonSchemaNote::Kind kind);

}  // namespace sieve

#endif  // SIEVE_GRAMMAR_JSON_SCHEMA_H_
