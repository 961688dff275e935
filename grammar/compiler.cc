#include "grammar/compiler.h"

#include <chrono>

namespace sieve {
namespace {

double MsSince(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

Status WithLineColumnFromOffset(Status status, std::string_view text) {
  if (status.ok() || status.line() > 0 || status.offset() < 0 ||
      static_cast<size_t>(status.offset()) > text.size()) {
    return status;
  }
  int line = 1, column = 1;
  for (size_t i = 0; i < static_cast<size_t>(status.offset()); ++i) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    if (c == '\n') {
      ++line;
      column = 1;
    } else if ((c & 0xc0) != 0x80) {  // count code points, not continuation bytes
      ++column;
    }
  }
  status.WithLineColumn(line, column);
  return status;
}

namespace {

// The stages after parsing, under one deadline (started by the caller, so parsing counts too).
Result<CompiledArtifact> CompileIr(Grammar grammar, const GrammarCompileOptions& opts,
                                   const Deadline& deadline) {
  SimplifyOptions simplify_opts = opts.simplify;
  if (!simplify_opts.deadline.active()) simplify_opts.deadline = deadline;
  CompileOptions pda_opts = opts.pda;
  if (!pda_opts.deadline.active()) pda_opts.deadline = deadline;
  CompiledArtifact out;
  auto t0 = std::chrono::steady_clock::now();
  auto simplified = Simplify(grammar, simplify_opts);
  if (!simplified.ok()) return simplified.status();
  out.simplify_ms = MsSince(t0);
  auto pda = CompileValidatedGrammar(*simplified, pda_opts);  // Simplify validated its output
  if (!pda.ok()) return pda.status();
  out.parsed = std::move(grammar);
  out.simplified = std::move(simplified).value();
  out.pda = std::move(pda).value();
  return out;
}

}  // namespace

Result<CompiledArtifact> CompileGrammarIr(Grammar grammar, const GrammarCompileOptions& opts) {
  return CompileIr(std::move(grammar), opts, Deadline::AfterMs(opts.max_compile_ms));
}

Result<CompiledArtifact> CompileEbnfText(std::string_view text, const GrammarCompileOptions& opts) {
  std::vector<std::string> warnings;
  EbnfOptions ebnf = opts.ebnf;
  ebnf.warnings = &warnings;
  const Deadline deadline = Deadline::AfterMs(opts.max_compile_ms);
  auto t0 = std::chrono::steady_clock::now();
  auto parsed = ParseEbnf(text, ebnf);
  if (!parsed.ok()) return WithLineColumnFromOffset(parsed.status(), text);
  double parse_ms = MsSince(t0);
  auto compiled = CompileIr(std::move(parsed).value(), opts, deadline);
  if (!compiled.ok()) return WithLineColumnFromOffset(compiled.status(), text);
  compiled->warnings = std::move(warnings);
  compiled->parse_ms = parse_ms;
  return compiled;
}

}  // namespace sieve
