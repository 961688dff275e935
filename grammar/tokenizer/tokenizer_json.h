// Reading tokenizer.json and tokenizer_config.json into a TokenizerSpec: a validated, plain
// description of the model that tokenizer.cc turns into tables.
//
// tokenizer.json is parsed with RapidJSON's SAX reader in situ: the file text is kept in
// TokenizerSpec::json and every vocab key and merge half is a span of it (no per-token
// allocation). The reader's events build a RapidJSON DOM for everything except /model/vocab and
// /model/merges, which a filtering handler captures straight into compact arrays (a DOM of 400k
// small values would cost more than the parse itself). Byte offsets of strings in the file are
// exact (in-situ decoding leaves each string where its text began), and errors carry them.
//
// What is accepted (anything else is an error, never ignored):
//  - model: BPE only (vocab object, merges as "a b" strings or [a, b] pairs, unk_token,
//    byte_fallback, fuse_unk, ignore_merges; dropout null/0; empty or null subword affixes);
//  - normalizer: null, NFC, Prepend, Replace with a String pattern, Sequence of those;
//  - pre_tokenizer: null, Split with a known regex (pretokenizer.h) and Isolated behavior,
//    ByteLevel, Metaspace, Sequence of those;
//  - decoder: null, ByteLevel, Metaspace, Replace(String), ByteFallback, Fuse, Strip, Sequence;
//  - added_tokens with their flags.
// Error codes: broken JSON and wrong types or values are kFormat (with the byte offset from
// RapidJSON or of the offending string, and a JSON pointer); valid but unsupported features
// (a WordPiece model, an unknown Split regex, an NFKC normalizer) are kUnsupported and name the
// feature. Messages start with the file name given by the caller.
#ifndef SIEVE_GRAMMAR_TOKENIZER_TOKENIZER_JSON_H_
#define SIEVE_GRAMMAR_TOKENIZER_TOKENIZER_JSON_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "grammar/support/status.h"
#include "grammar/tokenizer/pretokenizer.h"
#include "grammar/tokenizer/vocabulary.h"

namespace sieve::tokenizer_internal {

struct NormalizerStep {
  enum class Kind : uint8_t { kNfc, kPrepend, kReplace };
  Kind kind = Kind::kNfc;
  std::string pattern;  // kReplace: the string replaced
  std::string content;  // kPrepend: the prefix; kReplace: the replacement
};

struct AddedTokenSpec {
  int32_t id = -1;
  std::string content;
  bool special = false;
  bool lstrip = false;
  bool rstrip = false;
  bool normalized = false;
  bool single_word = false;
};

// A span of TokenizerSpec::json (offsets keep the entries at 8-16 bytes: a Llama-3 file has
// 128k vocab entries and 280k merges).
struct TextSpan {
  uint32_t offset;
  uint32_t length;
};

struct VocabEntry {
  TextSpan surface;
  int32_t id;
};

struct MergeSpec {
  TextSpan a;
  TextSpan b;  // rank = index in TokenizerSpec::merges; a.offset locates the entry in errors
};

struct TokenizerSpec {
  // The tokenizer.json text after in-situ parsing; `vocab` and `merges` are spans of it.
  std::string json;
  std::string_view Text(TextSpan s) const { return {json.data() + s.offset, s.length}; }

  VocabKind kind = VocabKind::kByteLevel;
  std::vector<VocabEntry> vocab;  // surface form -> id, file order
  std::vector<MergeSpec> merges;  // rank = index
  std::optional<std::string> unk_token;
  bool byte_fallback = false;
  bool fuse_unk = false;
  bool ignore_merges = false;

  std::vector<NormalizerStep> normalizer;
  std::vector<PreTokenizerStep> pre_tokenizer;
  int decoder_strip_spaces = 0;  // leading spaces the decoder removes (SentencePiece)
  std::string decoder_description;
  std::string normalizer_description;

  std::vector<AddedTokenSpec> added_tokens;

  // From tokenizer_config.json (token contents; resolved to ids by the caller).
  std::optional<std::string> bos_token;
  std::optional<std::string> eos_token;
};

// Parses and validates. `json` is consumed (parsed in place). `config_json` may be empty (no
// config). `name` and `config_name` label error messages (file paths for Load).
Result<std::unique_ptr<TokenizerSpec>> ParseTokenizerSpec(std::string json,
                                                          std::string_view config_json,
                                                          const std::string& name,
                                                          const std::string& config_name);

}  // namespace sieve::tokenizer_internal

#endif  // SIEVE_GRAMMAR_TOKENIZER_TOKENIZER_JSON_H_
