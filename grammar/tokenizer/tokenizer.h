// Tokenizer: a Hugging Face tokenizer.json (+ tokenizer_config.json) loaded for encode and decode.
//
// Supports the BPE models used by the LLMs sieve targets: byte-level BPE (GPT-2 byte-to-unicode mapping;
// Llama-3, Qwen2/3, DeepSeek-V2/V3) with their Split pre-tokenizers, and SentencePiece-style BPE (U+2581
// for space, <0xNN> byte fallback; Llama-2, Mistral). Added tokens are matched in text before the model
// runs (special tokens only when allowed). Encode reproduces the `tokenizers` library's
// `encode(text, add_special_tokens=False)` id for id, and Decode reproduces its decode (for byte-level
// models without a normalizer, Decode(Encode(s)) == s for every valid UTF-8 s; a normalizer such as
// Qwen3's NFC changes s, exactly as the reference library does).
// Loading validates everything: a missing file, broken JSON, an unknown model or pre-tokenizer type, a
// merges entry naming no token are errors naming the file and the offending entry.
// A Tokenizer is immutable after Load and safe to share across threads.
#ifndef SIEVE_GRAMMAR_TOKENIZER_TOKENIZER_H_
#define SIEVE_GRAMMAR_TOKENIZER_TOKENIZER_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "grammar/support/status.h"
#include "grammar/tokenizer/vocabulary.h"

namespace sieve {

class TokenizerImpl;

class Tokenizer {
 public:
  // `path` is a tokenizer.json file or a folder holding tokenizer.json (and optionally
  // tokenizer_config.json, which supplies eos/bos and extra stop tokens).
  static Result<std::shared_ptr<const Tokenizer>> Load(const std::string& path);
  // Same from in-memory JSON texts (config may be empty). `name` is used in error messages.
  static Result<std::shared_ptr<const Tokenizer>> FromJson(std::string_view tokenizer_json,
                                                           std::string_view config_json,
                                                           const std::string& name);
  ~Tokenizer();

  // Encodes UTF-8 text. With `allow_special`, special added tokens written in the text become their
  // ids (like HF's default); without, they are encoded as plain text.
  std::vector<int32_t> Encode(std::string_view text, bool allow_special = true) const;
  // Concatenates token bytes (special tokens included as their text). The result may be invalid UTF-8
  // when `ids` cut a multi-byte character.
  std::string Decode(const std::vector<int32_t>& ids) const;

  const Vocabulary& vocabulary() const;
  // Human-readable model facts: "BPE (byte-level)", pre-tokenizer kind, normalizer.
  std::string Describe() const;
  int32_t bos_token() const;  // -1 when none
  int32_t eos_token() const;  // -1 when none
  // Id of an exact token string (surface form as in tokenizer.json, or an added token), -1 if absent.
  int32_t TokenToId(std::string_view surface) const;

 private:
  explicit Tokenizer(std::unique_ptr<TokenizerImpl> impl);
  std::unique_ptr<TokenizerImpl> impl_;
};

}  // namespace sieve

#endif  // SIEVE_GRAMMAR_TOKENIZER_TOKENIZER_H_
