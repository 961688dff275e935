// Fuzz target: grammar images (format 2: grammar IR + automaton + token-mask cache) with a valid
// checksum, i.e. what an attacker who can write image bytes controls entirely.
//
// Setup (once): a small byte-level vocabulary (all 256 single bytes and a few dozen multi-byte JSON
// pieces) and real images of three grammars compiled for it (a JSON Schema with counted strings
// and arrays, an EBNF expression grammar, a regex), payloads only.
//
// Input: byte 0 picks the base image (low two bits) and the mode. Mode "edit" (top bit clear): the
// rest is a list of 6-byte edits applied to the base payload: u32 offset (modulo the size), an
// opcode (set / xor / insert / erase) and a value byte. Mode "raw" (top bit set): the rest is the
// payload itself. The payload is resealed (length and checksum recomputed) and loaded for the
// vocabulary. Checks: loading never crashes, hangs or reports kInternal; a refusal is kFormat with
// a byte offset (or kInvalidArgument for a vocabulary mismatch); a loaded grammar drives a matcher
// (mask fills and token steps from the input's bytes) without any sanitizer report.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "grammar/bitmask.h"
#include "grammar/compiler.h"
#include "grammar/grammar_serialize.h"
#include "grammar/json_schema.h"
#include "grammar/mask_cache.h"
#include "grammar/matcher.h"
#include "grammar/regex_parser.h"
#include "grammar/token_trie.h"
#include "grammar/tokenizer/vocabulary.h"
#include "tests/fuzz/fuzz_util.h"

namespace {

using namespace sieve;

constexpr size_t kHeader = 32;

struct Setup {
  std::shared_ptr<const TokenizerInfo> info;
  std::vector<std::string> images;  // whole images; the fuzzer edits their payloads
};

std::string ImageOf(Result<CompiledArtifact> art,
                    const std::shared_ptr<const TokenizerInfo>& info) {
  fuzz::Check(art.ok(), "setup compile: " + art.status().ToString());
  auto cache = TokenMaskCache::Build(art->pda, info);
  fuzz::Check(cache.ok(), "setup mask cache: " + cache.status().ToString());
  GrammarImage img;
  img.simplified = art->simplified;
  img.source = art->parsed;
  img.vocab_fingerprint = info->fingerprint();
  img.vocab_size = info->vocab().size();
  img.pda = art->pda;
  img.mask_cache = *cache;
  return SerializeGrammarImage(img);
}

const Setup& GetSetup() {
  static const Setup setup = [] {
    Setup s;
    std::vector<std::string> tokens;
    for (int b = 0; b < 256; ++b) tokens.push_back(std::string(1, static_cast<char>(b)));
    for (const char* t :
         {"\"",  "\":", "\",\"", "{\"", "\"}", "true", "false",    "null",
          "12",  "345", "ab",    "abc", "a\"", "\"a",  ", ",       "],",
          "[\"", "0,",  "x\"}",  "(a",  "+b",  ")*",   "\xC3\xA9", "\xE2\x82\xAC"}) {
      tokens.push_back(t);
    }
    std::vector<uint8_t> flags(tokens.size(), kTokenNormal);
    auto v = Vocabulary::FromTokens(tokens, flags, tokens.size() + 3, VocabKind::kRaw);
    fuzz::Check(v.ok(), "setup vocabulary");
    auto info = TokenizerInfo::Build(std::make_shared<const Vocabulary>(std::move(v).value()));
    fuzz::Check(info.ok(), "setup token trie");
    s.info = *info;
    auto js = JsonSchemaToGrammar(R"({"type":"object","properties":{
        "a":{"type":"string","maxLength":40},"b":{"type":"array","items":{"type":"integer"},
        "maxItems":6},"c":{"enum":["abc","ab",true,null]}},"required":["a"]})");
    fuzz::Check(js.ok(), "setup schema");
    s.images.push_back(ImageOf(CompileGrammarIr(std::move(js->grammar), {}), s.info));
    s.images.push_back(ImageOf(CompileEbnfText(R"G(root ::= e
e ::= t ("+" t)*
t ::= f ("*" f)*
f ::= [a-z]{1,3} | "(" e ")"
)G",
                                               {}),
                               s.info));
    auto re = RegexToGrammar("^[a-f0-9]{2,12}(,[a-z\\u00e9]+)*$");
    fuzz::Check(re.ok(), "setup regex");
    s.images.push_back(ImageOf(CompileGrammarIr(std::move(re).value(), {}), s.info));
    return s;
  }();
  return setup;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const Setup& s = GetSetup();
  if (size == 0) return 0;
  const std::string& base = s.images[(data[0] & 3) % s.images.size()];
  std::string payload;
  const uint8_t* rest = data + 1;
  size_t left = size - 1;
  if (data[0] & 0x80) {
    payload.assign(reinterpret_cast<const char*>(rest), left);
  } else {
    payload = base.substr(kHeader);
    for (; left >= 6 && !payload.empty(); rest += 6, left -= 6) {
      uint32_t off;
      std::memcpy(&off, rest, 4);
      const size_t at = off % payload.size();
      const uint8_t op = rest[4], value = rest[5];
      switch (op & 3) {
        case 0:
          payload[at] = static_cast<char>(value);
          break;
        case 1:
          payload[at] = static_cast<char>(payload[at] ^ value);
          break;
        case 2:
          payload.insert(at, 1 + (op >> 2) % 8, static_cast<char>(value));
          break;
        default:
          payload.erase(at, 1 + value % 16);
      }
    }
  }
  auto r = DeserializeGrammarImage(ResealGrammarImage(base.substr(0, kHeader) + payload), s.info);
  if (!r.ok()) {
    fuzz::CheckNotInternal(r.status(), "DeserializeGrammarImage");
    fuzz::Check(r.status().code() == StatusCode::kFormat ||
                    r.status().code() == StatusCode::kInvalidArgument,
                "unexpected refusal: " + r.status().ToString());
    fuzz::Check(r.status().code() != StatusCode::kFormat || r.status().offset() >= 0,
                "kFormat without a byte offset: " + r.status().ToString());
    return 0;
  }
  if (r->mask_cache == nullptr) return 0;
  // Loaded: the tables are the attacker's, so masks may be wrong, but every step must be safe.
  GrammarMatcher m(r->mask_cache);
  const size_t words = BitmaskWords(s.info->vocab().size());
  std::vector<uint32_t> mask(words);
  for (size_t i = 0; i < 32 && !m.IsTerminated(); ++i) {
    m.FillNextTokenBitmask(mask.data(), words);
    int32_t pick = -1;  // the i-th allowed token, if any
    size_t seen = 0;
    for (size_t w = 0; w < words && pick < 0; ++w) {
      for (uint32_t b = mask[w]; b != 0 && pick < 0; b &= b - 1, ++seen) {
        if (seen == i % 7) pick = static_cast<int32_t>(w * 32 + __builtin_ctz(b));
      }
    }
    m.AcceptToken(pick >= 0 ? pick : static_cast<int32_t>(data[i % size] % 300));
  }
  return 0;
}
