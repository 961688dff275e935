// The `sieve` command-line tool: dispatches to one command per subcommand name.
#include <cstring>
#include <iostream>

#include "sieve/sieve.h"
#include "tools/cli_commands.h"
#include "tools/cli_common.h"

namespace {

struct Command {
  const char* name;
  int (*run)(int, char**);
  const char* summary;
};

constexpr Command kCommands[] = {
    {"tokenize", sieve_cli::RunTokenize, "encode text with a Hugging Face tokenizer.json"},
    {"vocab", sieve_cli::RunVocab, "facts about a tokenizer's vocabulary"},
    {"grammar", sieve_cli::RunGrammar, "check or print an EBNF/GBNF grammar"},
    {"match", sieve_cli::RunMatch, "check that an input is a sentence of a grammar or regex"},
    {"regex", sieve_cli::RunRegex, "check a regular expression"},
    {"compile", sieve_cli::RunCompile, "compile a JSON Schema; report sizes, times, ignored keywords"},
    {"validate", sieve_cli::RunValidate, "check JSON documents against a JSON Schema"},
    {"bench", sieve_cli::RunBench, "time next-token masks on a grammar and document (bench mask)"},
    {"generate", sieve_cli::RunGenerate, "generate text that follows a schema, grammar or regex"},
};

void PrintHelp() {
  std::cout << "Usage: sieve COMMAND [OPTIONS]\n\n"
               "sieve compiles grammars, JSON Schemas and regexes into pushdown automata and masks\n"
               "language-model tokens with them.\n\nCommands:\n";
  for (const Command& c : kCommands) {
    std::cout << "  " << c.name << std::string(12 - std::strlen(c.name), ' ') << c.summary << "\n";
  }
  std::cout << "\nRun 'sieve COMMAND --help' for a command's options. 'sieve --version' prints the\n"
               "version. Exit codes: 0 ok, 1 failure or rejected input, 2 usage error, 3 invalid or\n"
               "unsupported grammar/schema/regex.\n";
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    PrintHelp();
    return sieve_cli::kExitUsage;
  }
  const char* cmd = argv[1];
  if (std::strcmp(cmd, "--help") == 0 || std::strcmp(cmd, "-h") == 0 ||
      std::strcmp(cmd, "help") == 0) {
    PrintHelp();
    return sieve_cli::kExitOk;
  }
  if (std::strcmp(cmd, "--version") == 0) {
    std::cout << "sieve " << sieve_version() << "\n";
    return sieve_cli::kExitOk;
  }
  for (const Command& c : kCommands) {
    if (std::strcmp(cmd, c.name) == 0) return c.run(argc, argv);
  }
  std::cerr << "sieve: unknown command '" << cmd << "'. Run 'sieve --help' for the list.\n";
  return sieve_cli::kExitUsage;
}
