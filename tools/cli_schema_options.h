// The JSON Schema options shared by `sieve compile`, `sieve validate` (and later `sieve generate`):
//
//   --strict                       OpenAI strict semantics (default: standard JSON Schema)
//   --whitespace compact|any[=N]|indent=N
//                                  layout of the JSON text (any: runs of at most N bytes, default
//                                  64)
//   --any-order                    properties in any order (default: the command's; compile and
//                                  generate keep schema order, validate accepts any order unless
//                                  --strict)
//   --unsupported error|ignore     an unenforceable keyword is an error (default) or dropped and
//                                  listed in the report with its JSON pointer
//
// A command adds kSchemaValueFlags / kSchemaBoolFlags to its ArgParser, then calls
// ParseSchemaOptions with its own default layout and property order.
#ifndef SIEVE_TOOLS_CLI_SCHEMA_OPTIONS_H_
#define SIEVE_TOOLS_CLI_SCHEMA_OPTIONS_H_

#include <string>
#include <vector>

#include "grammar/json_schema.h"
#include "tools/cli_common.h"

namespace sieve_cli {

// Flag names (without "--") to append to a command's ArgParser lists.
const std::vector<std::string>& SchemaValueFlags();
const std::vector<std::string>& SchemaBoolFlags();
// The options' lines for a command's --help text.
extern const char kSchemaOptionsHelp[];

// Fills `out` from the flags; `default_whitespace` applies without --whitespace. False with a
// message in `error` for a bad value.
bool ParseSchemaOptions(const ArgParser& args, sieve::JsonWhitespace default_whitespace,
                        sieve::JsonPropertyOrder default_order, sieve::JsonSchemaOptions* out,
                        std::string* error);
// The same with the converter's default order (schema order under --strict, any order otherwise).
bool ParseSchemaOptions(const ArgParser& args, sieve::JsonWhitespace default_whitespace,
                        sieve::JsonSchemaOptions* out, std::string* error);

// "compact", "any=64", "indent=2": the layout as the flag spells it (reports, --json).
std::string WhitespaceName(const sieve::JsonSchemaOptions& opts);

}  // namespace sieve_cli

#endif  // SIEVE_TOOLS_CLI_SCHEMA_OPTIONS_H_
