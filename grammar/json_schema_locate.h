// JSON Schema validation through the grammar, with the schema location of a rejection.
//
// JsonSchemaValidator converts a schema (json_schema.h) and compiles the grammar with rule
// inlining and deduplication off and tail-call absorption (pda.cc) only where it loses no schema
// location, so that every rule the converter emitted for a location survives into the automaton
// under its own name; JsonSchemaGrammar::rule_locations maps
// those names to the JSON pointer of the subschema each rule was emitted for. Validate() steps the
// document byte by byte. When a byte cannot be read (or the document ends before the grammar does),
// the stacks alive just before it name the subschemas that were being matched: per stack, the
// locations of its frames from the bottom up (frames of shared rules such as whitespace or "any
// JSON value" have none). Lists that are a prefix of another list add nothing (a stack in the
// whitespace before a value); of the rest, a single one names its innermost subschema, and
// diverging ones (the branches of anyOf/oneOf, or alternative readings) their deepest common
// subschema, the one whose alternatives all failed.
//
// The language is exactly the grammar's: a document is accepted here iff a matcher over the
// normally compiled grammar of the same schema and options accepts it (only inlining and tail
// absorption differ).
// Whitespace around the top-level value is the caller's business (the grammar has none there).
#ifndef SIEVE_GRAMMAR_JSON_SCHEMA_LOCATE_H_
#define SIEVE_GRAMMAR_JSON_SCHEMA_LOCATE_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "grammar/json_schema.h"
#include "grammar/pda.h"
#include "grammar/pda_stepper.h"
#include "grammar/support/status.h"

namespace sieve {

struct JsonSchemaVerdict {
  bool accepted = false;
  // Rejected: the offset of the first byte that no continuation can read, or the document's
  // length when it is a valid but incomplete prefix (ended_early).
  size_t byte = 0;
  bool ended_early = false;
  // Rejected: JSON pointer of the innermost subschema that was matching at `byte` ("" = root).
  std::string location;
  // A stack-depth or closure limit refused the document (deeply nested input), not the schema.
  bool limit_hit = false;
  // The byte ends an array item equal to an earlier one where uniqueItems holds; `location` is
  // then that uniqueItems keyword's pointer.
  bool repeated_item = false;
  // The byte ends a key that the object (one whose many properties may come in any order, its
  // keys checked by the matcher) already has; `location` is the object's pointer.
  bool repeated_key = false;
};

class JsonSchemaValidator {
 public:
  // Converts and compiles; errors are the converter's (kUnsupported with json_pointer(), ...).
  static Result<JsonSchemaValidator> Create(std::string_view schema_json,
                                            const JsonSchemaOptions& opts = JsonSchemaOptions(),
                                            const StepperLimits& limits = StepperLimits());

  JsonSchemaVerdict Validate(std::string_view document) const;

  const JsonSchemaReport& report() const { return report_; }
  const CompiledGrammar& grammar() const { return *pda_; }
  // The JSON pointer a rule of grammar() stands for, or nullptr for a shared rule.
  const std::string* RuleLocation(RuleId r) const {
    return rule_loc_[r] < 0 ? nullptr : &locations_[rule_loc_[r]];
  }

 private:
  JsonSchemaValidator() = default;
  std::string LocationOf(const StackSet& set, const PdaStepper& stepper) const;
  std::string UniqueItemsLocation(const StackSet& set, const PdaStepper& stepper, bool key) const;

  std::shared_ptr<const CompiledGrammar> pda_;
  JsonSchemaReport report_;
  StepperLimits limits_;
  std::vector<std::string> locations_;  // distinct pointers
  std::vector<int32_t> rule_loc_;       // per automaton rule: index into locations_, or -1
};

}  // namespace sieve

#endif  // SIEVE_GRAMMAR_JSON_SCHEMA_LOCATE_H_
