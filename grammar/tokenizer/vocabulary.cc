// Vocabulary: construction and validation of the flat id -> bytes table.
//
// All token bytes live in one string; offsets_[i]..offsets_[i+1] is token i. Construction derives
// the stop and special id lists from the flags, so the lists and the flags never disagree. Padding
// ids always have empty bytes and carry only kTokenPadding (a padding id is never special or a stop
// token, whatever the caller's flags said).
#include "grammar/tokenizer/vocabulary.h"

#include <limits>
#include <utility>

namespace sieve {
namespace {

// Recomputes the derived id lists from the flags.
void CollectLists(const std::vector<uint8_t>& flags, std::vector<int32_t>* stops,
                  std::vector<int32_t>* specials) {
  stops->clear();
  specials->clear();
  for (size_t i = 0; i < flags.size(); ++i) {
    if (flags[i] & kTokenPadding) continue;
    if (flags[i] & kTokenStop) stops->push_back(static_cast<int32_t>(i));
    if (flags[i] & kTokenSpecial) specials->push_back(static_cast<int32_t>(i));
  }
}

constexpr size_t kMaxIds = static_cast<size_t>(std::numeric_limits<int32_t>::max());

}  // namespace

Result<Vocabulary> Vocabulary::FromTokens(std::vector<std::string> tokens,
                                          std::vector<uint8_t> flags, size_t model_vocab_size,
                                          VocabKind kind) {
  if (flags.size() != tokens.size()) {
    return InvalidArgument("vocabulary: " + std::to_string(tokens.size()) + " tokens but " +
                           std::to_string(flags.size()) + " flags");
  }
  if (model_vocab_size < tokens.size()) {
    return InvalidArgument("vocabulary: model vocab size " + std::to_string(model_vocab_size) +
                           " is smaller than the " + std::to_string(tokens.size()) + " tokens");
  }
  if (model_vocab_size > kMaxIds) {
    return InvalidArgument("vocabulary: model vocab size " + std::to_string(model_vocab_size) +
                           " does not fit 32-bit ids");
  }
  size_t total = 0;
  for (const std::string& t : tokens) total += t.size();
  if (total > std::numeric_limits<uint32_t>::max()) {
    return LimitError("vocabulary: token bytes exceed 4 GiB");
  }
  std::string bytes;
  bytes.reserve(total);
  std::vector<uint32_t> offsets;
  offsets.reserve(model_vocab_size + 1);
  offsets.push_back(0);
  for (const std::string& t : tokens) {
    bytes += t;
    offsets.push_back(static_cast<uint32_t>(bytes.size()));
  }
  flags.resize(model_vocab_size, kTokenPadding);
  offsets.resize(model_vocab_size + 1, static_cast<uint32_t>(bytes.size()));
  return FromFlat(std::move(bytes), std::move(offsets), std::move(flags), kind);
}

Result<Vocabulary> Vocabulary::FromFlat(std::string bytes, std::vector<uint32_t> offsets,
                                        std::vector<uint8_t> flags, VocabKind kind) {
  if (offsets.size() != flags.size() + 1) {
    return InvalidArgument("vocabulary: " + std::to_string(flags.size()) + " flags need " +
                           std::to_string(flags.size() + 1) + " offsets, got " +
                           std::to_string(offsets.size()));
  }
  if (flags.size() > kMaxIds) return InvalidArgument("vocabulary: too many ids for 32-bit ids");
  if (offsets.front() != 0 || offsets.back() != bytes.size()) {
    return InvalidArgument("vocabulary: offsets must start at 0 and end at the byte count");
  }
  for (size_t i = 0; i + 1 < offsets.size(); ++i) {
    if (offsets[i] > offsets[i + 1]) {
      return InvalidArgument("vocabulary: offsets decrease at id " + std::to_string(i));
    }
    if ((flags[i] & kTokenPadding) && offsets[i] != offsets[i + 1]) {
      return InvalidArgument("vocabulary: padding id " + std::to_string(i) + " has bytes");
    }
  }
  for (uint8_t& f : flags) {
    if (f & kTokenPadding) f = kTokenPadding;
  }
  Vocabulary v;
  v.kind_ = kind;
  v.bytes_ = std::move(bytes);
  v.bytes_offsets_ = std::move(offsets);
  v.flags_ = std::move(flags);
  CollectLists(v.flags_, &v.stop_tokens_, &v.special_tokens_);
  return v;
}

Result<Vocabulary> Vocabulary::PaddedTo(size_t model_vocab_size) const {
  if (model_vocab_size < size()) {
    return InvalidArgument("vocabulary: cannot pad " + std::to_string(size()) + " ids down to " +
                           std::to_string(model_vocab_size));
  }
  if (model_vocab_size > kMaxIds) {
    return InvalidArgument("vocabulary: model vocab size " + std::to_string(model_vocab_size) +
                           " does not fit 32-bit ids");
  }
  std::vector<uint32_t> offsets = bytes_offsets_;
  if (offsets.empty()) offsets.push_back(0);
  offsets.resize(model_vocab_size + 1, static_cast<uint32_t>(bytes_.size()));
  std::vector<uint8_t> flags = flags_;
  flags.resize(model_vocab_size, kTokenPadding);
  return FromFlat(bytes_, std::move(offsets), std::move(flags), kind_);
}

Status Vocabulary::AddStopToken(int32_t id) {
  if (id < 0 || static_cast<size_t>(id) >= size()) {
    return InvalidArgument("stop token " + std::to_string(id) + " is outside the vocabulary of " +
                           std::to_string(size()) + " ids");
  }
  if (IsPadding(id)) {
    return InvalidArgument("stop token " + std::to_string(id) + " is not defined (padding id)");
  }
  flags_[id] |= kTokenStop;
  CollectLists(flags_, &stop_tokens_, &special_tokens_);
  return Status::Ok();
}

size_t Vocabulary::MemorySize() const {
  return bytes_.capacity() + bytes_offsets_.capacity() * sizeof(uint32_t) + flags_.capacity() +
         (stop_tokens_.capacity() + special_tokens_.capacity()) * sizeof(int32_t);
}

}  // namespace sieve
