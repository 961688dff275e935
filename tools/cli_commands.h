// The `sieve` CLI's commands. Each takes the full argv (argv[1] is the command name) and returns the
// process exit code (see cli_common.h).
#ifndef SIEVE_TOOLS_CLI_COMMANDS_H_
#define SIEVE_TOOLS_CLI_COMMANDS_H_

namespace sieve_cli {

int RunTokenize(int argc, char** argv);
int RunVocab(int argc, char** argv);
int RunGrammar(int argc, char** argv);
int RunMatch(int argc, char** argv);
int RunRegex(int argc, char** argv);
int RunCompile(int argc, char** argv);   // cli_schema.cc
int RunValidate(int argc, char** argv);  // cli_schema.cc
int RunBench(int argc, char** argv);     // cli_bench.cc
int RunGenerate(int argc, char** argv);  // cli_generate.cc

}  // namespace sieve_cli

#endif  // SIEVE_TOOLS_CLI_COMMANDS_H_
