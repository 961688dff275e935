// The built-in tokenizer and random model: see engine_builtin.h.
#include "decoder/engine_builtin.h"

#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "decoder/random_model.h"
#include "rapidjson/document.h"

namespace sieve {
namespace {

// Words and punctuation runs that get their own tokens (each prefix becomes a token too).
constexpr const char* kPieces[] = {
    "{\"",    "\":",         "\",",    "\"}",   "\"]",   "[\"",     " \"",    "\":\"",   "\",\"",
    "\":{",   "\":[",        "\":{\"", "}]",    "}}",    "},",      "],",     "[{",      "},{",
    "\"},",   "\"}]",        "\"}}",   ": ",    ", ",    "{}",      "[]",     "name",    "type",
    "id",     "true",        "false",  "null",  "the",   "and",     "ing",    "ion",     "er",
    "in",     "on",          "an",     "re",    "st",    "at",      "en",     "es",      "or",
    "te",     "al",          "ar",     "ed",    "is",    "it",      "user",   "data",    "value",
    "string", "email",       "date",   "time",  "url",   "http",    "com",    "example", "status",
    "items",  "description", "title",  "count", "price", "version", "config", "message", " a",
    " the",   " of",         " to",    " is",   " in",   " and",    "00",     "10",      "20",
    "12",     "19",          "01",
};

constexpr const char* kSpecials[] = {
    "<\xEF\xBD\x9C"
    "begin\xE2\x96\x81of\xE2\x96\x81sentence\xEF\xBD\x9C>",
    "<\xEF\xBD\x9C"
    "end\xE2\x96\x81of\xE2\x96\x81sentence\xEF\xBD\x9C>",
    "<\xEF\xBD\x9CUser\xEF\xBD\x9C>",
    "<\xEF\xBD\x9C"
    "Assistant\xEF\xBD\x9C>",
};

// GPT-2's byte -> code point map (printable Latin-1 bytes map to themselves).
std::vector<std::string> ByteSymbols() {
  std::vector<std::string> out(256);
  int next = 256;
  for (int b = 0; b < 256; ++b) {
    const bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE;
    const int cp = printable ? b : next++;
    std::string s;
    if (cp < 0x80) {
      s.push_back(static_cast<char>(cp));
    } else {
      s.push_back(static_cast<char>(0xC0 | (cp >> 6)));
      s.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
    out[b] = s;
  }
  return out;
}

std::string JsonString(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20) {
      static const char* kHex = "0123456789abcdef";
      out += "\\u00";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

struct Bpe {
  std::vector<std::string> tokens;  // surface forms, id = index + number of specials
  std::vector<std::pair<std::string, std::string>> merges;
};

const Bpe& BuiltinBpe() {
  static const Bpe bpe = [] {
    Bpe b;
    const std::vector<std::string> sym = ByteSymbols();
    std::map<std::string, bool> have;
    for (const std::string& s : sym) {
      b.tokens.push_back(s);
      have[s] = true;
    }
    for (const char* piece : kPieces) {
      std::string text(piece);
      std::string prefix = sym[static_cast<unsigned char>(text[0])];
      for (size_t i = 1; i < text.size(); ++i) {
        const std::string& next = sym[static_cast<unsigned char>(text[i])];
        const std::string merged = prefix + next;
        if (!have[merged]) {
          have[merged] = true;
          b.tokens.push_back(merged);
          b.merges.emplace_back(prefix, next);
        }
        prefix = merged;
      }
    }
    return b;
  }();
  return bpe;
}

// Multiplies the lm_head rows of structural tokens (those holding one of `"` `}` `]` `,`) by
// kStructuralScale in the written model.safetensors (fp32). Random logits are then far more often
// large for these tokens, so random text closes its strings, objects and arrays within tens of
// tokens instead of hundreds: short demos and fast tests. The weights stay random; no output is
// made valid by this (the grammar does that), only shorter.
constexpr float kStructuralScale = 3.0f;

Status ScaleStructuralRows(const std::string& path, int64_t hidden) {
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  if (!f) return IoError("cannot open " + path);
  uint64_t header_len = 0;
  unsigned char len_bytes[8];
  f.read(reinterpret_cast<char*>(len_bytes), 8);
  for (int i = 7; i >= 0; --i) header_len = header_len << 8 | len_bytes[i];
  std::string header(header_len, '\0');
  f.read(header.data(), static_cast<std::streamsize>(header_len));
  rapidjson::Document doc;
  doc.Parse(header.data(), header.size());
  if (doc.HasParseError() || !doc.IsObject() || !doc.HasMember("lm_head.weight")) {
    return InternalError(path + ": the built-in model has no lm_head.weight");
  }
  const auto& t = doc["lm_head.weight"];
  if (std::string(t["dtype"].GetString()) != "F32")
    return InternalError("built-in lm_head not F32");
  const uint64_t begin = t["data_offsets"][0].GetUint64();
  const Bpe& bpe = BuiltinBpe();
  const int64_t n_special = static_cast<int64_t>(std::size(kSpecials));
  const std::vector<std::string> sym = ByteSymbols();
  std::vector<float> row(static_cast<size_t>(hidden));
  for (size_t i = 0; i < bpe.tokens.size(); ++i) {
    const std::string& surface = bpe.tokens[i];
    bool structural = false;
    for (const char* c : {"\"", "}", "]", ","}) structural |= surface.find(c) != std::string::npos;
    if (!structural) continue;
    const uint64_t off = 8 + header_len + begin +
                         static_cast<uint64_t>(n_special + static_cast<int64_t>(i)) * hidden * 4;
    f.seekg(static_cast<std::streamoff>(off));
    f.read(reinterpret_cast<char*>(row.data()), hidden * 4);
    for (float& x : row) x *= kStructuralScale;
    f.seekp(static_cast<std::streamoff>(off));
    f.write(reinterpret_cast<const char*>(row.data()), hidden * 4);
  }
  if (!f.good()) return IoError("cannot rewrite " + path);
  return Status::Ok();
}

}  // namespace

int64_t BuiltinTokenizerSize() {
  return static_cast<int64_t>(BuiltinBpe().tokens.size() + std::size(kSpecials));
}

std::string BuiltinTokenizerJson() {
  const Bpe& bpe = BuiltinBpe();
  const int32_t n_special = static_cast<int32_t>(std::size(kSpecials));
  std::string j = "{\"version\":\"1.0\",\"truncation\":null,\"padding\":null,\"added_tokens\":[";
  for (int32_t i = 0; i < n_special; ++i) {
    if (i) j += ",";
    j += "{\"id\":" + std::to_string(i) + ",\"content\":" + JsonString(kSpecials[i]) +
         ",\"single_word\":false,\"lstrip\":false,\"rstrip\":false,\"normalized\":false,"
         "\"special\":true}";
  }
  j += "],\"normalizer\":null,"
       "\"pre_tokenizer\":{\"type\":\"ByteLevel\",\"add_prefix_space\":false,"
       "\"trim_offsets\":true,\"use_regex\":true},"
       "\"post_processor\":null,"
       "\"decoder\":{\"type\":\"ByteLevel\",\"add_prefix_space\":true,\"trim_offsets\":true,"
       "\"use_regex\":true},"
       "\"model\":{\"type\":\"BPE\",\"dropout\":null,\"unk_token\":null,"
       "\"continuing_subword_prefix\":null,\"end_of_word_suffix\":null,\"fuse_unk\":false,"
       "\"byte_fallback\":false,\"vocab\":{";
  for (size_t i = 0; i < bpe.tokens.size(); ++i) {
    if (i) j += ",";
    j += JsonString(bpe.tokens[i]) + ":" + std::to_string(i + n_special);
  }
  j += "},\"merges\":[";
  for (size_t i = 0; i < bpe.merges.size(); ++i) {
    if (i) j += ",";
    j += "[" + JsonString(bpe.merges[i].first) + "," + JsonString(bpe.merges[i].second) + "]";
  }
  j += "]}}";
  return j;
}

std::string BuiltinTokenizerConfigJson() {
  return std::string("{\"add_bos_token\":true,\"bos_token\":") + JsonString(kSpecials[0]) +
         ",\"eos_token\":" + JsonString(kSpecials[1]) +
         ",\"chat_template\":\"sieve-builtin: deepseek-v3 format\"}";
}

Status WriteBuiltinModel(const std::string& dir, uint64_t seed) {
  const int64_t n = BuiltinTokenizerSize();
  const int64_t vocab = (n + 32 + 31) / 32 * 32;  // >= 32 padding ids past the tokenizer
  SIEVE_ASSIGN_OR_RETURN(ModelConfig config, PresetConfig("tiny", vocab));
  config.bos_token_id = 0;
  config.eos_token_id = 1;
  RandomModelOptions opts;
  opts.out_dir = dir;
  opts.seed = seed;
  opts.dtype = DType::kF32;
  SIEVE_RETURN_IF_ERROR(WriteRandomModel(config, opts).status());
  SIEVE_RETURN_IF_ERROR(ScaleStructuralRows(
      (std::filesystem::path(dir) / "model.safetensors").string(), config.hidden_size));
  const std::pair<const char*, std::string> files[] = {
      {"tokenizer.json", BuiltinTokenizerJson()},
      {"tokenizer_config.json", BuiltinTokenizerConfigJson()}};
  for (const auto& [name, text] : files) {
    const std::string path = (std::filesystem::path(dir) / name).string();
    std::ofstream f(path, std::ios::binary);
    f << text;
    if (!f.good()) return IoError("cannot write " + path);
  }
  return Status::Ok();
}

}  // namespace sieve
