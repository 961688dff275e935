// Vocabulary: what the grammar engine needs to know about a model's tokens.
//
// Every token id maps to the raw bytes it stands for (after undoing the byte-level / SentencePiece
// surface encoding), plus flags. The grammar engine only ever sees bytes: a token is allowed when its
// bytes continue a sentence of the grammar. Invariants:
//  - ids are dense in [0, size()); ids the tokenizer does not define (holes, or padding up to the model's
//    vocab size) are flagged kPadding and are never allowed by any mask;
//  - special/control tokens (added tokens with special=true) are flagged kSpecial; a grammar never matches
//    them by their text, only stop tokens are allowed, and only when the grammar can end;
//  - stop tokens are the eos token(s) from tokenizer_config.json / known end-of-turn tokens.
// A Vocabulary is immutable after construction and safe to share across threads.
#ifndef SIEVE_GRAMMAR_TOKENIZER_VOCABULARY_H_
#define SIEVE_GRAMMAR_TOKENIZER_VOCABULARY_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "grammar/support/status.h"

namespace sieve {

enum TokenFlags : uint8_t {
  kTokenNormal = 0,
  kTokenSpecial = 1 << 0,   // control token (added token with special=true)
  kTokenAdded = 1 << 1,     // added token (matched verbatim in text before BPE)
  kTokenStop = 1 << 2,      // ends generation (eos, eot, im_end ...)
  kTokenPadding = 1 << 3,   // id not defined by the tokenizer (hole or model padding)
  kTokenByteFallback = 1 << 4,  // SentencePiece <0xNN> byte token
};

enum class VocabKind : uint8_t {
  kByteLevel,      // GPT-2 byte-to-unicode surface form (Llama-3, Qwen, DeepSeek)
  kSentencePiece,  // U+2581 for space, <0xNN> byte fallback
  kRaw,            // token bytes given directly by the user
};

class Vocabulary {
 public:
  Vocabulary() = default;

  // Builds a vocabulary from raw token bytes (one entry per id) and per-id flags. `model_vocab_size`
  // may exceed tokens.size(): the extra ids are padding. Fails when sizes disagree.
  static Result<Vocabulary> FromTokens(std::vector<std::string> tokens, std::vector<uint8_t> flags,
                                       size_t model_vocab_size, VocabKind kind);
  // Same from a flat layout (no per-token strings; what Tokenizer::Load uses): token i's bytes are
  // bytes[offsets[i], offsets[i+1]); `offsets` has flags.size()+1 non-decreasing entries, the first
  // 0 and the last bytes.size().
  static Result<Vocabulary> FromFlat(std::string bytes, std::vector<uint32_t> offsets,
                                     std::vector<uint8_t> flags, VocabKind kind);

  size_t size() const { return bytes_offsets_.empty() ? 0 : bytes_offsets_.size() - 1; }
  VocabKind kind() const { return kind_; }

  std::string_view TokenBytes(int32_t id) const {
    return std::string_view(bytes_.data() + bytes_offsets_[id],
                            bytes_offsets_[id + 1] - bytes_offsets_[id]);
  }
  uint8_t Flags(int32_t id) const { return flags_[id]; }
  bool IsSpecial(int32_t id) const { return flags_[id] & kTokenSpecial; }
  bool IsPadding(int32_t id) const { return flags_[id] & kTokenPadding; }
  bool IsStop(int32_t id) const { return flags_[id] & kTokenStop; }
  const std::vector<int32_t>& stop_tokens() const { return stop_tokens_; }
  const std::vector<int32_t>& special_tokens() const { return special_tokens_; }

  // Returns a copy with the vocab padded to `model_vocab_size` ids (>= size()).
  Result<Vocabulary> PaddedTo(size_t model_vocab_size) const;
  // Marks `id` as a stop token (e.g. from a generation config). Fails for an undefined id.
  Status AddStopToken(int32_t id);

  // Heap bytes owned (for cache budgets).
  size_t MemorySize() const;

 private:
  VocabKind kind_ = VocabKind::kRaw;
  std::string bytes_;                   // all token bytes, concatenated
  std::vector<uint32_t> bytes_offsets_;  // size()+1 offsets into bytes_
  std::vector<uint8_t> flags_;          // size() entries
  std::vector<int32_t> stop_tokens_;
  std::vector<int32_t> special_tokens_;
};

}  // namespace sieve

#endif  // SIEVE_GRAMMAR_TOKENIZER_VOCABULARY_H_
