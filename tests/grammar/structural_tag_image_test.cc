// Grammar images (grammar_serialize.h): round trips, and hostile bytes with a *valid* checksum (the
// checksum alone would stop random damage before the reader sees it) are refused with kFormat or
// give a valid grammar; never a crash, hang or out-of-bounds read (the ASan job runs this).
#include <gtest/gtest.h>

#include <random>
#include <string>

#include "grammar/grammar_serialize.h"
#include "grammar/json_schema.h"
#include "grammar/pda.h"
#include "grammar/structural_tag.h"

namespace sieve {
namespace {

GrammarImage SampleImage() {
  GrammarImage img;
  auto js = JsonSchemaToGrammar(
      R"({"type":"object","properties":{"a":{"type":"string","maxLength":5},"b":{"enum":[1,"x",null]}},"required":["a"]})");
  EXPECT_TRUE(js.ok());
  img.source = js->grammar;
  img.simplified = js->grammar;
  img.rules = static_cast<int32_t>(img.source.num_rules());
  img.warnings = {"rule 'x' is never used"};
  JsonSchemaNote n;
  n.kind = JsonSchemaNote::Kind::kNarrowed;
  n.pointer = "/properties/a";
  n.keyword = "maxLength";
  n.message = "m";
  img.notes = {n};
  img.tokens = {TokenBinding{7, "<t>", "\xF4\x8F\xBC\x80"}};
  img.vocab_fingerprint = 0x1234;
  img.vocab_size = 99;
  return img;
}

TEST(GrammarImage, RoundTripsEveryField) {
  const GrammarImage img = SampleImage();
  const std::string bytes = SerializeGrammarImage(img);
  auto back = DeserializeGrammarImage(bytes);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_TRUE(back->simplified.Equals(img.simplified));
  EXPECT_TRUE(back->source.Equals(img.source));
  EXPECT_EQ(back->warnings, img.warnings);
  ASSERT_EQ(back->notes.size(), 1u);
  EXPECT_EQ(back->notes[0].pointer, "/properties/a");
  ASSERT_EQ(back->tokens.size(), 1u);
  EXPECT_EQ(back->tokens[0].id, 7);
  EXPECT_EQ(back->vocab_fingerprint, 0x1234u);
  EXPECT_EQ(back->vocab_size, 99u);
  EXPECT_EQ(SerializeGrammarImage(*back), bytes);  // deterministic
  // The resealed image is still accepted (the reseal helper is right).
  EXPECT_TRUE(DeserializeGrammarImage(ResealGrammarImage(bytes)).ok());
}

TEST(GrammarImage, HostileResealedBytesNeverCrash) {
  const std::string bytes = SerializeGrammarImage(SampleImage());
  std::mt19937 rng(1);
  int refused = 0, accepted = 0;
  for (int i = 0; i < 3000; ++i) {
    std::string bad = bytes;
    const int edits = 1 + static_cast<int>(rng() % 4);
    for (int k = 0; k < edits; ++k) {
      const size_t at = 32 + rng() % (bad.size() - 32);
      switch (rng() % 3) {
        case 0:
          bad[at] = static_cast<char>(rng());
          break;
        case 1:
          bad.erase(at, 1 + rng() % 8);
          break;
        default:
          bad.insert(at, std::string(1 + rng() % 4, static_cast<char>(rng())));
      }
      if (bad.size() <= 32) bad = bytes;
    }
    auto r = DeserializeGrammarImage(ResealGrammarImage(bad));
    if (r.ok()) {
      ++accepted;  // then the grammar is valid IR: it compiles or fails cleanly
      auto pda = CompileGrammar(r->simplified);
      (void)pda;
    } else {
      ++refused;
      EXPECT_EQ(r.status().code(), StatusCode::kFormat) << r.status().ToString();
      EXPECT_GE(r.status().offset(), 0);
    }
  }
  EXPECT_GT(refused, 2500);
}

}  // namespace
}  // namespace sieve
