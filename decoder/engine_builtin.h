// The built-in model: a tiny random-weight DeepSeek-V2 (random_model.h's `tiny` preset, fp32)
// with a small built-in byte-level BPE tokenizer, so `sieve generate` and `make run` work on any
// machine with no download and no GPU. Random weights produce text that follows the requested
// structure exactly but means nothing.
//
// The tokenizer is a real Hugging Face tokenizer.json (loaded through the same Tokenizer code as
// real models): the 256 GPT-2 byte symbols, merges for common JSON punctuation and English/JSON
// words, GPT-2 pre-tokenization, and the DeepSeek special tokens <｜begin▁of▁sentence｜> (bos),
// <｜end▁of▁sentence｜> (eos), <｜User｜>, <｜Assistant｜>. The model's vocab is padded past the
// tokenizer's by at least 32 ids (as DeepSeek-V2's 102400 pads its ~100k tokens), so the
// never-sample-padding rule is exercised by every run. The lm_head rows of tokens holding `"`, `}`,
// `]` or `,` are scaled x3 so that random text closes strings and brackets within tens of tokens
// (documented in engine_builtin.cc; outputs only get shorter, never more valid).
#ifndef SIEVE_DECODER_ENGINE_BUILTIN_H_
#define SIEVE_DECODER_ENGINE_BUILTIN_H_

#include <cstdint>
#include <string>

#include "grammar/support/status.h"

namespace sieve {

// tokenizer.json and tokenizer_config.json texts of the built-in tokenizer.
std::string BuiltinTokenizerJson();
std::string BuiltinTokenizerConfigJson();
// The number of ids the built-in tokenizer defines.
int64_t BuiltinTokenizerSize();

// Writes the built-in model (config.json, model.safetensors, tokenizer.json,
// tokenizer_config.json) into `dir` (created). Weights are a pure function of `seed`.
Status WriteBuiltinModel(const std::string& dir, uint64_t seed);

}  // namespace sieve

#endif  // SIEVE_DECODER_ENGINE_BUILTIN_H_
