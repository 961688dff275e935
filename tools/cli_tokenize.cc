// `sieve tokenize` and `sieve vocab`: the tokenizer from the command line.
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "grammar/support/utf8.h"
#include "tools/cli_commands.h"
#include "tools/cli_common.h"

namespace sieve_cli {
namespace {

constexpr const char kTokenizeHelp[] =
    R"(Usage: sieve tokenize --tokenizer DIR|FILE [--ids] [--no-special] [--file PATH] [TEXT...]

Encodes TEXT (the positional arguments joined by spaces, or the contents of --file, "-" for stdin)
with a Hugging Face tokenizer.json and prints one token per line: id, then the token's bytes.

  --tokenizer DIR|FILE  tokenizer.json, or a folder holding it (tokenizer_config.json is read too)
  --ids                 print only the ids, space-separated, on one line
  --no-special          encode special-token text (e.g. "<|eot_id|>") as plain text
  --file PATH           read the text from PATH ("-" = stdin) instead of the arguments

Exit codes: 0 ok, 1 failure (tokenizer cannot be loaded), 2 usage error.
)";

constexpr const char kVocabHelp[] =
    R"(Usage: sieve vocab --tokenizer DIR|FILE [--list-special]

Prints facts about a tokenizer's vocabulary: size, kind (byte-level or SentencePiece), special and
stop tokens.

  --tokenizer DIR|FILE  tokenizer.json, or a folder holding it
  --list-special        list every special token (id and text)

Exit codes: 0 ok, 1 failure, 2 usage error.
)";

struct VocabHandle {
  sieve_vocab* v = nullptr;
  ~VocabHandle() { sieve_vocab_free(v); }
};

std::string TokenText(const sieve_vocab* v, int32_t id) {
  const char* bytes = nullptr;
  size_t len = 0;
  if (sieve_vocab_token_bytes(v, id, &bytes, &len) != SIEVE_OK) return "?";
  return sieve::EscapeBytes({bytes, len});
}

}  // namespace

int RunTokenize(int argc, char** argv) {
  ArgParser args({"tokenizer", "file"}, {"ids", "no-special", "help"});
  if (!args.Parse(argc, argv, 2)) return UsageError("tokenize", args.error());
  if (args.Has("help")) {
    std::cout << kTokenizeHelp;
    return kExitOk;
  }
  auto tok_path = args.Get("tokenizer");
  if (!tok_path) return UsageError("tokenize", "--tokenizer is required");
  std::string text;
  if (auto file = args.Get("file")) {
    if (!args.positionals().empty()) return UsageError("tokenize", "give TEXT or --file, not both");
    std::string err;
    if (!ReadFile(*file, &text, &err)) {
      std::cerr << "sieve tokenize: " << err << "\n";
      return kExitFailure;
    }
  } else {
    if (args.positionals().empty()) return UsageError("tokenize", "no TEXT given");
    for (size_t i = 0; i < args.positionals().size(); ++i) {
      if (i > 0) text += ' ';
      text += args.positionals()[i];
    }
  }
  VocabHandle vocab;
  if (sieve_vocab_create_from_file(tok_path->c_str(), &vocab.v) != SIEVE_OK) {
    return ApiError("tokenize", "cannot load tokenizer", kExitFailure);
  }
  size_t n = 0;
  sieve_vocab_encode(vocab.v, text.data(), text.size(), !args.Has("no-special"), nullptr, 0, &n);
  std::vector<int32_t> ids(n);
  if (sieve_vocab_encode(vocab.v, text.data(), text.size(), !args.Has("no-special"), ids.data(),
                         ids.size(), &n) != SIEVE_OK) {
    return ApiError("tokenize", "encode failed", kExitFailure);
  }
  if (args.Has("ids")) {
    for (size_t i = 0; i < ids.size(); ++i) std::cout << (i ? " " : "") << ids[i];
    std::cout << "\n";
    return kExitOk;
  }
  for (int32_t id : ids) {
    std::cout << id << "\t" << TokenText(vocab.v, id);
    if (sieve_vocab_token_flags(vocab.v, id) & SIEVE_TOKEN_SPECIAL) std::cout << "\t(special)";
    std::cout << "\n";
  }
  std::cerr << ids.size() << " tokens, " << text.size() << " bytes\n";
  return kExitOk;
}

int RunVocab(int argc, char** argv) {
  ArgParser args({"tokenizer"}, {"list-special", "help"});
  if (!args.Parse(argc, argv, 2)) return UsageError("vocab", args.error());
  if (args.Has("help")) {
    std::cout << kVocabHelp;
    return kExitOk;
  }
  if (!args.positionals().empty()) return UsageError("vocab", "unexpected argument");
  auto tok_path = args.Get("tokenizer");
  if (!tok_path) return UsageError("vocab", "--tokenizer is required");
  VocabHandle vocab;
  if (sieve_vocab_create_from_file(tok_path->c_str(), &vocab.v) != SIEVE_OK) {
    return ApiError("vocab", "cannot load tokenizer", kExitFailure);
  }
  size_t size = sieve_vocab_size(vocab.v);
  size_t n_special = 0, n_padding = 0, n_fallback = 0;
  std::vector<int32_t> special;
  for (size_t id = 0; id < size; ++id) {
    uint32_t f = sieve_vocab_token_flags(vocab.v, static_cast<int32_t>(id));
    if (f & SIEVE_TOKEN_SPECIAL) {
      ++n_special;
      special.push_back(static_cast<int32_t>(id));
    }
    if (f & SIEVE_TOKEN_PADDING) ++n_padding;
    if (f & SIEVE_TOKEN_BYTE_FALLBACK) ++n_fallback;
  }
  size_t n_stop = 0;
  sieve_vocab_stop_tokens(vocab.v, nullptr, 0, &n_stop);
  std::vector<int32_t> stops(n_stop);
  sieve_vocab_stop_tokens(vocab.v, stops.data(), stops.size(), &n_stop);
  const char* kind = sieve_vocab_get_kind(vocab.v) == SIEVE_VOCAB_BYTE_LEVEL      ? "byte-level"
                     : sieve_vocab_get_kind(vocab.v) == SIEVE_VOCAB_SENTENCEPIECE ? "sentencepiece"
                                                                                   : "raw";
  std::cout << "model:          " << sieve_vocab_describe(vocab.v) << "\n"
            << "size:           " << size << " ids\n"
            << "kind:           " << kind << "\n"
            << "special tokens: " << n_special << "\n"
            << "padding ids:    " << n_padding << "\n"
            << "byte fallback:  " << n_fallback << "\n"
            << "stop tokens:   ";
  for (int32_t id : stops) std::cout << " " << id << " " << TokenText(vocab.v, id);
  std::cout << "\n";
  if (args.Has("list-special")) {
    for (int32_t id : special) std::cout << id << "\t" << TokenText(vocab.v, id) << "\n";
  }
  return kExitOk;
}

}  // namespace sieve_cli
