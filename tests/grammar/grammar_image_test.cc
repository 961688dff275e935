// Grammar images, format 2 (grammar_serialize.h): the stored automaton and token-mask cache give
// exactly the masks of a freshly compiled grammar at every step (JSON Schema, EBNF and regex
// grammars with the Llama-3 tokenizer: a member added to CompiledGrammar or TokenMaskCache and not
// to the image code fails here), the image is refused for another vocabulary, format-1 images
// still load (without the tables), and hostile bytes with a valid checksum are refused with
// kFormat or load into something the matcher runs safely (the ASan job runs this).
#include <gtest/gtest.h>

#include <cstdlib>
#include <memory>
#include <random>
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
#include "grammar/tokenizer/tokenizer.h"

namespace sieve {
namespace {

std::shared_ptr<const Tokenizer> Llama3() {
  static std::shared_ptr<const Tokenizer> tok = [] {
    const char* dir = std::getenv("SIEVE_DATA_DIR");
    auto t = Tokenizer::Load(std::string(dir ? dir : "") + "/tokenizers/llama3");
    EXPECT_TRUE(t.ok()) << t.status().ToString();
    return t.ok() ? *t : nullptr;
  }();
  return tok;
}

std::shared_ptr<const TokenizerInfo> InfoFor(std::shared_ptr<const Vocabulary> v) {
  auto info = TokenizerInfo::Build(std::move(v));
  EXPECT_TRUE(info.ok()) << info.status().ToString();
  return info.ok() ? *info : nullptr;
}

struct Compiled {
  CompiledArtifact art;
  std::shared_ptr<const TokenMaskCache> cache;
};

Compiled Finish(Result<CompiledArtifact> art, const std::shared_ptr<const TokenizerInfo>& info) {
  EXPECT_TRUE(art.ok()) << art.status().ToString();
  Compiled c{std::move(art).value(), nullptr};
  auto cache = TokenMaskCache::Build(c.art.pda, info);
  EXPECT_TRUE(cache.ok()) << cache.status().ToString();
  c.cache = *cache;
  return c;
}

Compiled FromSchema(const std::string& schema, const std::shared_ptr<const TokenizerInfo>& info) {
  auto js = JsonSchemaToGrammar(schema);
  EXPECT_TRUE(js.ok()) << js.status().ToString();
  return Finish(CompileGrammarIr(std::move(js->grammar), {}), info);
}

Compiled FromRegex(const std::string& re, const std::shared_ptr<const TokenizerInfo>& info) {
  auto g = RegexToGrammar(re);
  EXPECT_TRUE(g.ok()) << g.status().ToString();
  return Finish(CompileGrammarIr(std::move(g).value(), {}), info);
}

std::string ImageOf(const Compiled& c, const TokenizerInfo* info, bool tables = true) {
  GrammarImage img;
  img.simplified = c.art.simplified;
  img.source = c.art.parsed;
  img.rules = static_cast<int32_t>(c.art.parsed.num_rules());
  if (info != nullptr) {
    img.vocab_fingerprint = info->fingerprint();
    img.vocab_size = info->vocab().size();
  }
  if (tables) {
    img.pda = c.art.pda;
    img.mask_cache = c.cache;
  }
  return SerializeGrammarImage(img);
}

// Feeds `ids` to matchers over the fresh and the loaded cache, comparing the full masks before
// every token; then continues with a seeded random walk over allowed tokens. Returns the steps.
int CompareAlong(const std::shared_ptr<const TokenMaskCache>& fresh,
                 const std::shared_ptr<const TokenMaskCache>& loaded,
                 const std::vector<int32_t>& ids, uint32_t seed, const std::string& what) {
  GrammarMatcher a(fresh), b(loaded);
  const size_t words = BitmaskWords(fresh->vocab()->size());
  std::vector<uint32_t> ma(words), mb(words);
  int steps = 0;
  auto same = [&]() {
    a.FillNextTokenBitmask(ma.data(), words);
    b.FillNextTokenBitmask(mb.data(), words);
    ++steps;
    return ma == mb;
  };
  for (size_t i = 0; i < ids.size(); ++i) {
    EXPECT_TRUE(same()) << what << ": masks differ before token " << i;
    const bool ok = a.AcceptToken(ids[i]);
    EXPECT_EQ(b.AcceptToken(ids[i]), ok) << what << " token " << i;
    if (!ok) {
      ADD_FAILURE() << what << ": token " << i << " of the document is rejected";
      return steps;
    }
  }
  EXPECT_TRUE(same()) << what << ": masks differ at the end";
  EXPECT_EQ(a.CanTerminate(), b.CanTerminate());
  std::mt19937 rng(seed);
  a.Reset();
  b.Reset();
  for (int s = 0; s < 80 && !a.IsTerminated(); ++s) {
    if (!same()) {
      ADD_FAILURE() << what << ": masks differ at random step " << s;
      return steps;
    }
    std::vector<int32_t> allowed;
    for (size_t w = 0; w < words; ++w) {
      for (uint32_t bits = ma[w]; bits != 0; bits &= bits - 1) {
        allowed.push_back(static_cast<int32_t>(w * 32 + __builtin_ctz(bits)));
      }
    }
    if (allowed.empty()) break;
    const int32_t id = allowed[rng() % allowed.size()];
    EXPECT_TRUE(a.AcceptToken(id));
    EXPECT_TRUE(b.AcceptToken(id)) << what << ": loaded matcher rejects an allowed token";
  }
  return steps;
}

void RoundTrip(const Compiled& c, const std::shared_ptr<const TokenizerInfo>& info,
               const std::vector<std::string>& docs, const std::string& what) {
  const std::string bytes = ImageOf(c, info.get());
  auto back = DeserializeGrammarImage(bytes, info);
  ASSERT_TRUE(back.ok()) << what << ": " << back.status().ToString();
  EXPECT_EQ(back->version, 2u);  // no rule flags: the oldest format that holds the grammar
  ASSERT_NE(back->pda, nullptr);
  ASSERT_NE(back->mask_cache, nullptr);
  EXPECT_EQ(back->pda->num_states(), c.art.pda->num_states());
  EXPECT_EQ(back->pda->DebugString(), c.art.pda->DebugString()) << what;
  EXPECT_EQ(back->pda->StatsString(), c.art.pda->StatsString());
  const MaskCacheStats &x = c.cache->stats(), &y = back->mask_cache->stats();
  EXPECT_EQ(x.cached_states, y.cached_states);
  EXPECT_EQ(x.uncertain_entries, y.uncertain_entries);
  EXPECT_EQ(x.bitset_sets, y.bitset_sets);
  // Deterministic: the loaded grammar writes the same image.
  GrammarImage again = *back;
  EXPECT_TRUE(SerializeGrammarImage(again) == bytes)
      << what << ": the loaded grammar writes another image";
  int steps = 0;
  for (size_t i = 0; i < docs.size(); ++i) {
    steps += CompareAlong(c.cache, back->mask_cache, Llama3()->Encode(docs[i], false),
                          static_cast<uint32_t>(i + 1), what + " doc " + std::to_string(i));
  }
  EXPECT_GT(steps, 40) << what;
}

TEST(GrammarImageV2, LoadedMasksEqualFreshMasksForSchemaEbnfAndRegexWithLlama3) {
  auto tok = Llama3();
  ASSERT_NE(tok, nullptr);
  auto info = InfoFor(std::make_shared<const Vocabulary>(tok->vocabulary()));
  ASSERT_NE(info, nullptr);
  RoundTrip(FromSchema(R"({"type":"object","properties":{
      "name":{"type":"string","maxLength":12},
      "age":{"type":"integer","minimum":0,"maximum":150},
      "tags":{"type":"array","items":{"enum":["red","green","blue"]},"maxItems":3},
      "email":{"type":"string","format":"email"}},"required":["name","age"]})",
                       info),
            info,
            {R"({"name":"Ada","age":36,"tags":["red","blue"],"email":"ada@example.org"})",
             R"({"name":"","age":0})"},
            "schema");
  const char* ebnf = R"G(root ::= stmt+
stmt ::= ident " = " expr ";\n"
expr ::= term (("+" | "-") term)*
term ::= factor (("*" | "/") factor)*
factor ::= ident | num | "(" expr ")"
ident ::= [a-z] [a-z0-9_]{0,15}
num ::= [0-9]+
)G";
  RoundTrip(Finish(CompileEbnfText(ebnf, {}), info), info,
            {"x = (a+b)*c;\ny2 = 42/x;\n", "zz = ((q));\n"}, "ebnf");
  RoundTrip(FromRegex(R"(^[A-Z][a-z]{1,20}( [A-Z][a-z]{1,20}){0,3}, [0-9]{5}$)", info), info,
            {"Ada Lovelace, 12345", "Bo, 00000"}, "regex");
}

TEST(GrammarImageV2, RefusesAnotherVocabularyAndLoadsWithoutOne) {
  auto tok = Llama3();
  ASSERT_NE(tok, nullptr);
  auto info = InfoFor(std::make_shared<const Vocabulary>(tok->vocabulary()));
  const Compiled c = FromRegex("^(yes|no|maybe)$", info);
  const std::string bytes = ImageOf(c, info.get());
  auto other = Vocabulary::FromTokens({"y", "e", "s", "n", "o"}, std::vector<uint8_t>(5, 0), 5,
                                      VocabKind::kRaw);
  ASSERT_TRUE(other.ok());
  auto other_info = InfoFor(std::make_shared<const Vocabulary>(std::move(other).value()));
  auto r = DeserializeGrammarImage(bytes, other_info);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("different vocabulary (128256 ids"), std::string::npos)
      << r.status().message();
  // Without a vocabulary: the automaton loads, the mask cache section is skipped.
  auto bare = DeserializeGrammarImage(bytes);
  ASSERT_TRUE(bare.ok()) << bare.status().ToString();
  EXPECT_NE(bare->pda, nullptr);
  EXPECT_EQ(bare->mask_cache, nullptr);
  // A mask cache section in an image that names no vocabulary is malformed (vocab_size is the
  // u64 before the section byte).
  std::string no_vocab = bytes;
  const size_t size_at = ImageOf(c, info.get(), /*tables=*/false).size() - 1 - 8;
  for (size_t i = 0; i < 8; ++i) no_vocab[size_at + i] = 0;
  auto malformed = DeserializeGrammarImage(ResealGrammarImage(no_vocab), info);
  ASSERT_FALSE(malformed.ok());
  EXPECT_EQ(malformed.status().code(), StatusCode::kFormat);
  EXPECT_NE(malformed.status().message().find("bad section flags"), std::string::npos)
      << malformed.status().message();
}

TEST(GrammarImageV2, FormatOneImagesStillLoadWithoutTables) {
  auto tok = Llama3();
  ASSERT_NE(tok, nullptr);
  auto info = InfoFor(std::make_shared<const Vocabulary>(tok->vocabulary()));
  const Compiled c = FromRegex("^[a-f0-9]{8}$", info);
  // A format-1 image is a format-2 image without the section byte, under version 1.
  std::string v1 = ImageOf(c, info.get(), /*tables=*/false);
  ASSERT_EQ(v1.back(), '\0');
  v1.pop_back();
  v1[8] = 1;
  auto r = DeserializeGrammarImage(ResealGrammarImage(v1), info);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->version, 1u);
  EXPECT_EQ(r->pda, nullptr);
  EXPECT_EQ(r->mask_cache, nullptr);
  EXPECT_TRUE(r->simplified.Equals(c.art.simplified));
  std::string v4 = ImageOf(c, info.get());
  v4[8] = 4;
  auto bad = DeserializeGrammarImage(v4, info);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("format version 4, this library reads versions 1 to 3"),
            std::string::npos)
      << bad.status().message();
}

// A small raw vocabulary keeps the hostile loop fast while exercising every table: bitsets,
// lists, counted-state levels and clear lists, suffix tries.
std::shared_ptr<const TokenizerInfo> SmallInfo() {
  std::vector<std::string> tokens;
  for (int b = 0; b < 128; ++b) tokens.push_back(std::string(1, static_cast<char>(b)));
  for (const char* t : {"\"", "\":", "\",\"", "{\"", "\"}", "true", "null", "12", "345", "ab",
                        "abc", "a\"", "\"a", ", ", "],", "[\"", "0,", "x\"}"}) {
    tokens.push_back(t);
  }
  std::vector<uint8_t> flags(tokens.size(), 0);
  auto v = Vocabulary::FromTokens(tokens, flags, tokens.size() + 5, VocabKind::kRaw);
  EXPECT_TRUE(v.ok());
  return InfoFor(std::make_shared<const Vocabulary>(std::move(v).value()));
}

TEST(GrammarImageV2, HostileResealedTablesAreRefusedOrRunSafely) {
  auto info = SmallInfo();
  ASSERT_NE(info, nullptr);
  const Compiled c = FromSchema(R"({"type":"object","properties":{"a":{"type":"string",
      "maxLength":40},"b":{"type":"array","items":{"type":"integer"},"maxItems":6},
      "c":{"enum":["abc","ab",true,null]}},"required":["a"]})",
                                info);
  const std::string bytes = ImageOf(c, info.get());
  const size_t tables = ImageOf(c, info.get(), false).size() - 1;  // the section byte
  ASSERT_TRUE(DeserializeGrammarImage(ResealGrammarImage(bytes), info).ok());
  std::mt19937 rng(7);
  int refused = 0, ran = 0;
  const size_t words = BitmaskWords(info->vocab().size());
  std::vector<uint32_t> mask(words);
  for (int i = 0; i < 2500; ++i) {
    std::string bad = bytes;
    const int edits = 1 + static_cast<int>(rng() % 3);
    for (int k = 0; k < edits; ++k) {
      const size_t at = tables + rng() % (bad.size() - tables);
      switch (rng() % 4) {
        case 0:
          bad[at] = static_cast<char>(rng());
          break;
        case 1:
          bad[at] = static_cast<char>(bad[at] ^ (1 << (rng() % 8)));
          break;
        case 2:
          bad.erase(at, 1 + rng() % 8);
          break;
        default:
          bad.insert(at, std::string(1 + rng() % 4, static_cast<char>(rng())));
      }
      if (bad.size() <= tables + 1) bad = bytes;
    }
    auto r = DeserializeGrammarImage(ResealGrammarImage(bad), info);
    if (!r.ok()) {
      ++refused;
      EXPECT_EQ(r.status().code(), StatusCode::kFormat) << r.status().ToString();
      EXPECT_GE(r.status().offset(), 0);
      continue;
    }
    if (r->mask_cache == nullptr) continue;
    // Loaded: masks may be wrong (a resealed image is the attacker's grammar), but every step is
    // memory-safe and terminates.
    ++ran;
    GrammarMatcher m(r->mask_cache);
    for (int s = 0; s < 24 && !m.IsTerminated(); ++s) {
      m.FillNextTokenBitmask(mask.data(), words);
      m.AcceptToken(static_cast<int32_t>(rng() % info->vocab().size()));
      m.AcceptString("{\"a\":\"ab\"");
    }
  }
  EXPECT_GT(refused, 1500);
  std::printf("hostile images: %d refused, %d loaded and run\n", refused, ran);
}

}  // namespace
}  // namespace sieve
