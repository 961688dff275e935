// Shared pieces of the `sieve` CLI: argument parsing, exit codes, error printing.
//
// Every command parses its own flags with ArgParser, answers --help, and returns one of the exit codes
// below. The CLI uses the public C API only (include/sieve), like any other embedder.
#ifndef SIEVE_TOOLS_CLI_COMMON_H_
#define SIEVE_TOOLS_CLI_COMMON_H_

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "sieve/sieve.h"

namespace sieve_cli {

// Exit codes shared by every command. Commands that judge input (match, validate) use kRejected for
// "input not accepted" and kInvalidSpec when the grammar/schema/regex itself is invalid or unsupported.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitRejected = 1;
inline constexpr int kExitUsage = 2;
inline constexpr int kExitInvalidSpec = 3;

// A command's flags: `--name value`, `--name=value`, boolean `--name`, and positionals. `--` ends flags.
class ArgParser {
 public:
  // `value_flags` take a value; `bool_flags` do not. Anything else starting with "--" is an error.
  ArgParser(std::vector<std::string> value_flags, std::vector<std::string> bool_flags);
  // Returns false (with error()) on an unknown flag or a missing value.
  bool Parse(int argc, char** argv, int first);

  bool Has(const std::string& flag) const;
  std::optional<std::string> Get(const std::string& flag) const;
  const std::vector<std::string>& positionals() const { return positionals_; }
  const std::string& error() const { return error_; }

 private:
  std::vector<std::string> value_flags_, bool_flags_;
  std::map<std::string, std::string> values_;
  std::vector<std::string> positionals_;
  std::string error_;
};

// Prints "sieve <command>: <message>" for a usage problem (and a hint to --help); returns kExitUsage.
int UsageError(const std::string& command, const std::string& message);
// Reads the count flag --<flag> of `command` into *out (`def` when absent). A value that is not an
// integer from 1 to `max` prints a usage error and returns false with *rc = kExitUsage.
bool ParseCountFlag(const ArgParser& args, const std::string& command, const std::string& flag,
                    int def, int max, int* out, int* rc);
// Prints the last C API error with its location; returns `exit_code`.
int ApiError(const std::string& command, const std::string& context, int exit_code);

// Reads a whole file ("-" = stdin). Returns false with a message on failure.
bool ReadFile(const std::string& path, std::string* out, std::string* error);

}  // namespace sieve_cli

#endif  // SIEVE_TOOLS_CLI_COMMON_H_
