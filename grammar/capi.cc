// The C API (include/sieve/sieve.h) over the grammar engine.
//
// Every entry point converts internal Status values into sieve_status plus the thread-local last error;
// nothing throws across the boundary (internals do not throw; std::bad_alloc is caught at the edge and
// reported as SIEVE_ERR_INTERNAL). Handles are heap objects with an atomic reference count.
#include <algorithm>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "grammar/capi_internal.h"
#include "grammar/support/status.h"
#include "grammar/tokenizer/tokenizer.h"
#include "grammar/tokenizer/vocabulary.h"
#include "sieve/sieve.h"

namespace {
using sieve::capi::Guard;
using sieve::capi::SetError;
}  // namespace

extern "C" {

const char* sieve_version(void) { return SIEVE_VERSION_STRING; }

const sieve_error* sieve_last_error(void) { return &sieve::capi::LastError().error; }

const char* sieve_status_name(sieve_status status) {
  if (status == SIEVE_REJECTED) return "rejected";
  return sieve::StatusCodeName(static_cast<sieve::StatusCode>(status));
}

sieve_status sieve_vocab_create_from_file(const char* path, sieve_vocab** out) {
  if (out == nullptr) return SetError(sieve::StatusCode::kInvalidArgument, "out is NULL");
  *out = nullptr;
  if (path == nullptr) return SetError(sieve::StatusCode::kInvalidArgument, "path is NULL");
  return Guard([&] {
    auto tok = sieve::Tokenizer::Load(path);
    if (!tok.ok()) return SetError(tok.status());
    auto* v = new sieve_vocab;
    v->tokenizer = std::move(tok).value();
    v->vocab = std::shared_ptr<const sieve::Vocabulary>(v->tokenizer, &v->tokenizer->vocabulary());
    v->description = v->tokenizer->Describe();
    *out = v;
    return SIEVE_OK;
  });
}

sieve_status sieve_vocab_create_from_tokens(const char* const* tokens, const size_t* token_lens,
                                            const uint32_t* flags, size_t n_tokens,
                                            size_t model_vocab_size, sieve_vocab** out) {
  if (out == nullptr) return SetError(sieve::StatusCode::kInvalidArgument, "out is NULL");
  *out = nullptr;
  if (n_tokens > 0 && (tokens == nullptr || token_lens == nullptr)) {
    return SetError(sieve::StatusCode::kInvalidArgument, "tokens or token_lens is NULL");
  }
  return Guard([&] {
    std::vector<std::string> bytes(n_tokens);
    std::vector<uint8_t> fl(n_tokens, sieve::kTokenNormal);
    for (size_t i = 0; i < n_tokens; ++i) {
      if (tokens[i] == nullptr && token_lens[i] > 0) {
        return SetError(sieve::StatusCode::kInvalidArgument,
                        "tokens[" + std::to_string(i) + "] is NULL");
      }
      bytes[i].assign(tokens[i] ? tokens[i] : "", token_lens[i]);
      if (flags != nullptr) fl[i] = static_cast<uint8_t>(flags[i] & 0x1f);
    }
    auto vocab = sieve::Vocabulary::FromTokens(std::move(bytes), std::move(fl), model_vocab_size,
                                               sieve::VocabKind::kRaw);
    if (!vocab.ok()) return SetError(vocab.status());
    auto* v = new sieve_vocab;
    v->vocab = std::make_shared<const sieve::Vocabulary>(std::move(vocab).value());
    v->description = "raw vocabulary of " + std::to_string(v->vocab->size()) + " ids";
    *out = v;
    return SIEVE_OK;
  });
}

sieve_vocab* sieve_vocab_retain(sieve_vocab* vocab) {
  if (vocab != nullptr) vocab->refs.fetch_add(1, std::memory_order_relaxed);
  return vocab;
}

void sieve_vocab_free(sieve_vocab* vocab) {
  if (vocab != nullptr && vocab->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) delete vocab;
}

size_t sieve_vocab_size(const sieve_vocab* vocab) { return vocab ? vocab->vocab->size() : 0; }

sieve_vocab_kind sieve_vocab_get_kind(const sieve_vocab* vocab) {
  if (vocab == nullptr) return SIEVE_VOCAB_RAW;
  return static_cast<sieve_vocab_kind>(vocab->vocab->kind());
}

uint32_t sieve_vocab_token_flags(const sieve_vocab* vocab, int32_t id) {
  if (vocab == nullptr || id < 0 || static_cast<size_t>(id) >= vocab->vocab->size()) return 0;
  return vocab->vocab->Flags(id);
}

sieve_status sieve_vocab_token_bytes(const sieve_vocab* vocab, int32_t id, const char** bytes,
                                     size_t* len) {
  if (vocab == nullptr || bytes == nullptr || len == nullptr) {
    return SetError(sieve::StatusCode::kInvalidArgument, "NULL argument");
  }
  if (id < 0 || static_cast<size_t>(id) >= vocab->vocab->size()) {
    return SetError(sieve::StatusCode::kInvalidArgument,
                    "token id " + std::to_string(id) + " out of range [0, " +
                        std::to_string(vocab->vocab->size()) + ")");
  }
  std::string_view b = vocab->vocab->TokenBytes(id);
  *bytes = b.data();
  *len = b.size();
  return SIEVE_OK;
}

sieve_status sieve_vocab_stop_tokens(const sieve_vocab* vocab, int32_t* ids, size_t cap,
                                     size_t* n_out) {
  if (vocab == nullptr || n_out == nullptr || (cap > 0 && ids == nullptr)) {
    return SetError(sieve::StatusCode::kInvalidArgument, "NULL argument");
  }
  const auto& stops = vocab->vocab->stop_tokens();
  *n_out = stops.size();
  for (size_t i = 0; i < stops.size() && i < cap; ++i) ids[i] = stops[i];
  return SIEVE_OK;
}

sieve_status sieve_vocab_encode(const sieve_vocab* vocab, const char* text, size_t text_len,
                                int allow_special, int32_t* ids, size_t cap, size_t* n_out) {
  if (vocab == nullptr || n_out == nullptr || (text == nullptr && text_len > 0) ||
      (cap > 0 && ids == nullptr)) {
    return SetError(sieve::StatusCode::kInvalidArgument, "NULL argument");
  }
  *n_out = 0;
  if (vocab->tokenizer == nullptr) {
    return SetError(sieve::StatusCode::kInvalidArgument,
                    "this vocabulary was built from raw tokens and has no encoder");
  }
  return Guard([&] {
    std::vector<int32_t> out =
        vocab->tokenizer->Encode(std::string_view(text ? text : "", text_len), allow_special != 0);
    *n_out = out.size();
    const size_t n = std::min(cap, out.size());
    if (n > 0) std::memcpy(ids, out.data(), n * sizeof(int32_t));  // ids may be NULL when cap is 0
    if (out.size() > cap) {
      return SetError(sieve::StatusCode::kInvalidArgument,
                      "ids buffer too small: need " + std::to_string(out.size()));
    }
    return SIEVE_OK;
  });
}

sieve_status sieve_vocab_decode(const sieve_vocab* vocab, const int32_t* ids, size_t n_ids, char* out,
                                size_t cap, size_t* n_out) {
  if (vocab == nullptr || n_out == nullptr || (ids == nullptr && n_ids > 0) ||
      (cap > 0 && out == nullptr)) {
    return SetError(sieve::StatusCode::kInvalidArgument, "NULL argument");
  }
  *n_out = 0;
  return Guard([&] {
    std::string text;
    for (size_t i = 0; i < n_ids; ++i) {
      if (ids[i] < 0 || static_cast<size_t>(ids[i]) >= vocab->vocab->size()) {
        return SetError(sieve::StatusCode::kInvalidArgument,
                        "ids[" + std::to_string(i) + "] = " + std::to_string(ids[i]) +
                            " is out of range");
      }
      text.append(vocab->vocab->TokenBytes(ids[i]));
    }
    return sieve::capi::CopyOut(text, out, cap, n_out);
  });
}

const char* sieve_vocab_describe(const sieve_vocab* vocab) {
  if (vocab == nullptr) return "";
  return vocab->description.c_str();
}

}  // extern "C"

// Keeps the enum values of the two layers in lockstep.
static_assert(static_cast<int>(sieve::StatusCode::kLimit) == SIEVE_ERR_LIMIT);
static_assert(static_cast<int>(sieve::StatusCode::kInternal) == SIEVE_ERR_INTERNAL);
static_assert(static_cast<int>(sieve::VocabKind::kSentencePiece) == SIEVE_VOCAB_SENTENCEPIECE);
static_assert(static_cast<int>(sieve::kTokenPadding) == SIEVE_TOKEN_PADDING);
