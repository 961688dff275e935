// Fuzz target: regex pattern -> grammar -> simplify -> pushdown automaton.
//
// Checks beyond "no crash, no sanitizer report, no kInternal": a compiled pattern's matcher agrees
// with itself (NextBytes vs AcceptByte) along the pattern's own bytes.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "grammar/compiler.h"
#include "grammar/matcher.h"
#include "grammar/regex_parser.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace sieve;
  if (size == 0) return 0;
  // First byte: options; the rest is the pattern.
  RegexOptions ro;
  ApplyLimits(fuzz::FuzzLimits(), &ro);
  ro.search_semantics = (data[0] & 1) == 0;
  const std::string_view pattern(reinterpret_cast<const char*>(data) + 1, size - 1);
  auto grammar = RegexToGrammar(pattern, ro);
  if (!grammar.ok()) {
    fuzz::CheckNotInternal(grammar.status(), "RegexToGrammar");
    return 0;
  }
  auto compiled = CompileGrammarIr(std::move(grammar).value(), fuzz::FuzzCompileOptions());
  if (!compiled.ok()) {
    fuzz::CheckNotInternal(compiled.status(), "CompileGrammarIr");
    return 0;
  }
  GrammarMatcher m(compiled->pda);
  for (size_t i = 0; i < pattern.size() && i < 256; ++i) {
    const uint8_t b = static_cast<uint8_t>(pattern[i]);
    const bool could = m.NextBytes().test(b);
    const bool did = m.AcceptByte(b);
    fuzz::Check(could == did, "NextBytes and AcceptByte disagree at byte " + std::to_string(i));
    if (!did) break;
  }
  return 0;
}
