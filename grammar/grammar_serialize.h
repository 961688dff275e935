// Grammar images: a compiled grammar's reproducible parts as versioned, checksummed bytes, so that
// another process can rebuild it without parsing, converting or simplifying (C API
// sieve_grammar_serialize / sieve_grammar_deserialize).
//
// Layout (little-endian): "SIEVEGRM" | u32 format version (kGrammarImageVersion) | u32 0 |
// u64 payload bytes | u64 ContentHasher checksum of the payload | payload. The payload holds the
// simplified grammar IR (what the automaton is built from: rules as prefix-order expression trees),
// the IR as written (for printing), compile flags, warnings, schema notes, token bindings and the
// vocabulary's fingerprint and size. The automaton and the token-mask cache are rebuilt from the
// simplified IR on load: both are deterministic functions of it, so the masks are identical.
//
// Reading never trusts the bytes: every length and index is bounds-checked, expression nesting is
// limited, the rebuilt grammar is Validate()d, and any failure is kFormat with the byte offset
// (into the whole image) of what was wrong. A different format version is kFormat naming both.
#ifndef SIEVE_GRAMMAR_GRAMMAR_SERIALIZE_H_
#define SIEVE_GRAMMAR_GRAMMAR_SERIALIZE_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "grammar/grammar.h"
#include "grammar/json_schema.h"
#include "grammar/structural_tag.h"
#include "grammar/support/status.h"

namespace sieve {

inline constexpr uint32_t kGrammarImageVersion = 1;

struct GrammarImage {
  Grammar simplified;
  Grammar source;
  bool ignore_lookahead = false;
  int32_t rules = 0;
  std::vector<std::string> warnings;
  std::vector<JsonSchemaNote> notes;
  std::vector<TokenBinding> tokens;
  uint64_t vocab_fingerprint = 0;  // 0 with vocab_size 0: compiled without a vocabulary
  uint64_t vocab_size = 0;
};

std::string SerializeGrammarImage(const GrammarImage& image);
Result<GrammarImage> DeserializeGrammarImage(std::string_view bytes);

}  // namespace sieve

#endif  // SIEVE_GRAMMAR_GRAMMAR_SERIALIZE_H_
