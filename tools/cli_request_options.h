// OpenAI request inputs shared by `sieve compile`, `sieve validate` and `sieve generate`:
//
//   --response-format FILE   a response_format object ({"type": "json_schema", "json_schema":
//                            {"name", "schema", "strict"}}, or json_object / text), or a whole
//                            Chat Completions request holding one
//   --tools FILE             a tools array, or a whole request holding `tools` (with its
//                            tool_choice, parallel_tool_calls and response_format)
//   --tool-choice C          auto | required | none | NAME (that function): overrides the file's
//
// These are grammar sources next to --schema (a command takes exactly one source). Strict mode
// follows the request (json_schema.strict, function.strict): OpenAI's strict rules are checked and
// strict semantics used where it says so, so --strict is refused with these. A bare object or
// array is wrapped into a request ({"response_format": ...} / {"tools": ...}); errors and notes
// carry JSON pointers into that request (/tools/0/function/parameters/properties/x), and the file's
// line:column of the value they point to (or of its nearest existing ancestor).
#ifndef SIEVE_TOOLS_CLI_REQUEST_OPTIONS_H_
#define SIEVE_TOOLS_CLI_REQUEST_OPTIONS_H_

#include <string>
#include <vector>

#include "grammar/json_schema.h"
#include "grammar/openai_request.h"
#include "grammar/structural_tag.h"
#include "grammar/support/status.h"
#include "tools/cli_common.h"

namespace sieve_cli {

// Flag names (without "--") to append to a command's ArgParser value flags.
const std::vector<std::string>& RequestValueFlags();
// The flags' lines for a command's --help text.
extern const char kRequestOptionsHelp[];

struct RequestInput {
  std::string flag;       // "--response-format" or "--tools"
  std::string path;       // the file as given ("-" = stdin)
  std::string file_text;  // its bytes
  std::string request;    // the request JSON given to the converter
  std::string wrapper;  // "": the file is a request; "/response_format" or "/tools": it holds that
  bool tool_choice_flag = false;  // --tool-choice replaced the file's tool_choice
};

// Whether the command was given --response-format or --tools.
int CountRequestSources(const ArgParser& args);

// Reads the file and builds the request. Returns -1 to go on, or an exit code after printing the
// problem: 2 for usage (unreadable file, bad --tool-choice, --tool-choice without --tools), 3 for a
// file that is not JSON or not a response_format / tools / request (file:line:column, pointer).
int LoadRequest(const std::string& command, const ArgParser& args, RequestInput* in);

// Where a request pointer lies in the file: byte offset, 1-based line and column (code points);
// offset -1 when it is not in the file (a member --tool-choice supplied).
struct FileLocation {
  int64_t offset = -1;
  int line = 0;
  int column = 0;
};
FileLocation LocateRequestPointer(const RequestInput& in, const std::string& pointer);

// "FILE:3:14: invalid argument (request location /tools/0/function/name): name must match ..."
std::string DescribeRequestError(const RequestInput& in, const sieve::Status& st);

struct RequestGrammar {
  sieve::StructuralTagGrammar tag;  // the grammar, token bindings, schema notes (request pointers)
  std::string summary;              // "2 tools (hermes), tool_choice required, one call"
  int tools = 0;
};
// The request's grammar in Hermes format (<tool_call>...</tool_call>), JSON laid out as `json`
// says (its semantics are set per schema from the request's strict flags).
sieve::Result<RequestGrammar> ConvertRequest(const RequestInput& in,
                                             const sieve::JsonSchemaOptions& json);

// For validate: the response_format's JSON Schema and strictness. kInvalidArgument (with the
// pointer) for a request without a json_schema / json_object response_format.
struct ResponseSchema {
  std::string schema;   // JSON text
  std::string pointer;  // of the schema in the request ("/response_format/json_schema/schema")
  bool strict = false;
};
sieve::Result<ResponseSchema> ResponseSchemaOf(const RequestInput& in);

}  // namespace sieve_cli

#endif  // SIEVE_TOOLS_CLI_REQUEST_OPTIONS_H_
