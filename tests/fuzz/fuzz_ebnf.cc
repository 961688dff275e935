// Fuzz target: EBNF/GBNF text -> parser -> simplify -> pushdown automaton.
//
// Checks beyond "no crash, no sanitizer report, no kInternal": a grammar that parses prints back
// to EBNF that parses again and prints identically (the printer's round trip), and a grammar that
// compiles yields a matcher that can be stepped with the input's own bytes without breaking.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "grammar/compiler.h"
#include "grammar/ebnf_parser.h"
#include "grammar/grammar_printer.h"
#include "grammar/matcher.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace sieve;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const GrammarCompileOptions opts = fuzz::FuzzCompileOptions();

  // Token references (<[id]>, <text>) become sentinel code points: parsed with somewhere to put
  // them, as the compilers bound to a vocabulary do.
  std::vector<EbnfTokenRef> refs;
  EbnfOptions eo = opts.ebnf;
  eo.tokens = &refs;
  auto parsed = ParseEbnf(text, eo);
  if (!parsed.ok()) {
    fuzz::CheckNotInternal(parsed.status(), "ParseEbnf");
    return 0;
  }
  fuzz::Check(refs.size() <= kEbnfMaxTokenRefs, "more token references than the limit");
  const std::string printed = PrintEbnf(*parsed);
  // The printed text may be longer than the source and hold more rules (a complement `~x` prints
  // as the rules of its automaton): it is held to the parser's other limits, not to the fuzz
  // profile's small text and rule caps, which bound the source.
  EbnfOptions reparse = opts.ebnf;
  if (printed.size() > reparse.max_text_bytes) reparse.max_text_bytes = printed.size();
  if (parsed->num_rules() > reparse.max_rules) reparse.max_rules = parsed->num_rules();
  auto reparsed = ParseEbnf(printed, reparse);
  fuzz::Check(reparsed.ok(), "printed grammar does not parse: " + reparsed.status().ToString() +
                                 "\n--- printed:\n" + printed);
  fuzz::Check(PrintEbnf(*reparsed) == printed, "print -> parse -> print differs:\n" + printed);

  std::vector<EbnfTokenRef> compile_refs;
  GrammarCompileOptions with_refs = opts;
  with_refs.ebnf.tokens = &compile_refs;
  auto compiled = CompileEbnfText(text, with_refs);
  if (!compiled.ok()) {
    fuzz::CheckNotInternal(compiled.status(), "CompileEbnfText");
    return 0;
  }
  GrammarMatcher m(compiled->pda);
  for (size_t i = 0; i < size && i < 256; ++i) {
    const bool could = m.NextBytes().test(data[i]);
    const bool did = m.AcceptByte(data[i]);
    fuzz::Check(could == did, "NextBytes and AcceptByte disagree at byte " + std::to_string(i));
    if (!did) break;
  }
  (void)m.FindJumpForwardString();
  return 0;
}
