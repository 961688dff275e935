// The compile pipeline as one call: grammar text -> parse -> simplify -> pushdown automaton.
//
// This is the front door the C API, the CLI and embedders use; each stage stays in its own file
// (ebnf_parser, simplify, pda). The result keeps the parsed grammar (for `sieve grammar print`), the
// simplified one, the automaton and the parser's warnings. Errors keep the stage's code and position;
// positions always refer to the original text.
#ifndef SIEVE_GRAMMAR_COMPILER_H_
#define SIEVE_GRAMMAR_COMPILER_H_

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "grammar/ebnf_parser.h"
#include "grammar/grammar.h"
#include "grammar/limits.h"
#include "grammar/pda.h"
#include "grammar/simplify.h"
#include "grammar/support/status.h"

namespace sieve {

struct GrammarCompileOptions {
  EbnfOptions ebnf;  // root rule name, text limits (its `warnings` field is ignored: see below)
  SimplifyOptions simplify;
  CompileOptions pda;
  // Wall-time budget of the whole compile (parse, simplify, automaton); <= 0 = unlimited. Over it
  // is kLimit naming this option. A deadline already set in `simplify` or `pda` wins.
  int64_t max_compile_ms = kDefaultMaxCompileMs;
};

struct CompiledArtifact {
  Grammar parsed;      // as written (rule order preserved)
  Grammar simplified;  // what the automaton was built from
  std::shared_ptr<const CompiledGrammar> pda;
  std::vector<std::string> warnings;
  double parse_ms = 0;
  double simplify_ms = 0;
};

// Compiles EBNF/GBNF text. On error, the Status carries offset and line:column into `text`.
Result<CompiledArtifact> CompileEbnfText(std::string_view text, const GrammarCompileOptions& opts);
// Compiles an already-built grammar (JSON Schema and regex front ends produce one).
Result<CompiledArtifact> CompileGrammarIr(Grammar grammar, const GrammarCompileOptions& opts);

// Fills line:column of `status` from its byte offset into `text` when the producer gave only the
// offset (columns count code points, 1-based).
Status WithLineColumnFromOffset(Status status, std::string_view text);

}  // namespace sieve

#endif  // SIEVE_GRAMMAR_COMPILER_H_
