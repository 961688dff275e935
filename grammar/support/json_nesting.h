// CheckJsonNesting: refuses JSON text that nests deeper than a bound, before a parser sees it.
//
// RapidJSON's default parser recurses once per array/object level, and code that walks a parsed
// Document (Accept into a Writer, member lookups down a tree) recurses too: a request of 200 KB of
// `[` would overflow any thread's stack. Callers that parse untrusted JSON into a Document
// (structural tags, OpenAI requests, tokenizer files) call this first and parse with
// kParseIterativeFlag, so both the parse and every later walk are bounded by `max_depth` levels.
// The scan is linear and needs no valid JSON: it counts '[' and '{' outside strings (honouring
// backslash escapes); malformed text is left for the parser to report.
#ifndef SIEVE_GRAMMAR_SUPPORT_JSON_NESTING_H_
#define SIEVE_GRAMMAR_SUPPORT_JSON_NESTING_H_

#include <string>
#include <string_view>

#include "grammar/support/status.h"

namespace sieve {

// Nesting allowed in JSON documents that are not schemas (a schema embedded in one is converted
// with JsonSchemaOptions::max_schema_depth, which is lower).
inline constexpr int kMaxJsonNesting = 256;

// OK, or kLimit "<what> nests deeper than N levels" with the byte offset of the first bracket
// past the bound.
inline Status CheckJsonNesting(std::string_view text, int max_depth, std::string_view what) {
  int depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;  // the escaped byte cannot end the string
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > max_depth) {
        return LimitError(std::string(what) + " nests deeper than " + std::to_string(max_depth) +
                          " levels of arrays and objects")
            .WithOffset(static_cast<int64_t>(i));
      }
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return Status::Ok();
}

}  // namespace sieve

#endif  // SIEVE_GRAMMAR_SUPPORT_JSON_NESTING_H_
