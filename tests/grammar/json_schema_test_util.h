// Helpers for the JSON Schema tests: compile a schema through the real pipeline (converter ->
// simplify -> automaton) and ask the matcher whether a text is a complete sentence.
#ifndef SIEVE_TESTS_GRAMMAR_JSON_SCHEMA_TEST_UTIL_H_
#define SIEVE_TESTS_GRAMMAR_JSON_SCHEMA_TEST_UTIL_H_

#include <memory>
#include <string>
#include <string_view>

#include "grammar/compiler.h"
#include "grammar/json_schema.h"
#include "grammar/matcher.h"

namespace sieve::testing {

struct SchemaGrammar {
  Status status;
  std::shared_ptr<const CompiledGrammar> pda;
  JsonSchemaReport report;
  bool ok() const { return status.ok(); }
  // The whole text is accepted and the grammar can end there.
  bool Accepts(std::string_view text) const {
    if (!pda) return false;
    GrammarMatcher m(pda);
    return m.AcceptString(text) && m.CanTerminate();
  }
};

// `text` as the body of a JSON string (backslashes and quotes escaped; enough for patterns).
inline std::string JsonEscaped(std::string_view text) {
  std::string out;
  for (const char ch : text) {
    if (ch == '\\' || ch == '"') out += '\\';
    out += ch;
  }
  return out;
}

inline JsonSchemaOptions CompactOptions() {
  JsonSchemaOptions o;
  o.whitespace = JsonWhitespace::kCompact;
  return o;
}

inline SchemaGrammar CompileSchema(std::string_view schema,
                                   const JsonSchemaOptions& opts = CompactOptions()) {
  SchemaGrammar out;
  auto g = JsonSchemaToGrammar(schema, opts);
  if (!g.ok()) {
    out.status = g.status();
    return out;
  }
  out.report = g->report;
  auto c = CompileGrammarIr(std::move(g->grammar), GrammarCompileOptions());
  if (!c.ok()) {
    out.status = c.status();
    return out;
  }
  out.pda = c->pda;
  return out;
}

}  // namespace sieve::testing

#endif  // SIEVE_TESTS_GRAMMAR_JSON_SCHEMA_TEST_UTIL_H_
