// The matcher with a real 128k vocabulary: JSON documents tokenized by our BPE are accepted token by
// token, and at every step the bitmask allows the next token of each document that shares the prefix,
// forbids every special and padding id, and agrees with the reference recogniser on sampled tokens.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "grammar/compiler.h"
#include "grammar/matcher.h"
#include "grammar/tokenizer/tokenizer.h"
#include "tests/testing/reference_recognizer.h"

namespace sieve {
namespace {

std::string DataDir() {
  const char* d = std::getenv("SIEVE_DATA_DIR");
  return d ? d : std::string(std::getenv("HOME") ? std::getenv("HOME") : "") + "/.cache/sieve";
}

std::string ReadText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

bool Allowed(const std::vector<uint32_t>& mask, int32_t id) {
  return (mask[id >> 5] >> (id & 31)) & 1u;
}

// Documents that share prefixes, so one step checks several continuations at once.
const std::vector<std::string> kDocs = {
    R"({"name": "sieve", "version": 1, "tags": ["grammar", "mask"], "ok": true})",
    R"({"name": "sieve", "version": 1.5e-3, "tags": [], "ok": null})",
    R"({"name": "sieve", "nested": {"a": [1, 2, {"b": "\u00e9\n"}]}, "ok": false})",
    R"({"name": "s\"ieve", "version": -0, "emoji": "😀 漢字"})",
    "[1, 2, 3, \"four\", {\"five\": [6]}, -7.25E+10]",
    "\"just a string with spaces   and\\ttabs\"",
};

TEST(MatcherLlama3, BitmaskAllowsEveryNextTokenOfJsonDocuments) {
  auto tok = Tokenizer::Load(DataDir() + "/tokenizers/llama3");
  ASSERT_TRUE(tok.ok()) << tok.status().ToString() << " (run scripts/fetch-tokenizers.sh)";
  std::shared_ptr<const Vocabulary> vocab(*tok, &(*tok)->vocabulary());
  auto compiled = CompileEbnfText(ReadText(std::string(SIEVE_TEST_DATA_DIR) + "/grammars/json.ebnf"),
                                  GrammarCompileOptions());
  ASSERT_TRUE(compiled.ok()) << compiled.status().ToString();

  // prefix (as token ids) -> next tokens seen in some document
  std::vector<std::vector<int32_t>> docs;
  for (const std::string& d : kDocs) docs.push_back((*tok)->Encode(d, /*allow_special=*/false));
  std::map<std::vector<int32_t>, std::vector<int32_t>> next_tokens;
  for (const auto& ids : docs) {
    for (size_t i = 0; i < ids.size(); ++i) {
      next_tokens[std::vector<int32_t>(ids.begin(), ids.begin() + i)].push_back(ids[i]);
    }
  }
  std::mt19937 rng(7);
  const size_t words = (vocab->size() + 31) / 32;
  std::vector<uint32_t> mask(words);
  for (size_t d = 0; d < docs.size(); ++d) {
    SCOPED_TRACE("document " + std::to_string(d));
    GrammarMatcher m(compiled->pda, vocab);
    std::string text;
    for (size_t i = 0; i <= docs[d].size(); ++i) {
      m.FillNextTokenBitmaskNaive(mask.data(), words);
      std::vector<int32_t> prefix(docs[d].begin(), docs[d].begin() + i);
      for (int32_t next : next_tokens[prefix]) {
        ASSERT_TRUE(Allowed(mask, next)) << "step " << i << ": token " << next << " '"
                                          << vocab->TokenBytes(next) << "' after '" << text << "'";
      }
      for (int32_t id : vocab->special_tokens()) {
        if (!vocab->IsStop(id)) {
          ASSERT_FALSE(Allowed(mask, id)) << "special token " << id;
        }
      }
      // Sampled tokens agree with the reference recogniser's prefix test.
      for (int k = 0; k < 20; ++k) {
        int32_t id = std::uniform_int_distribution<int32_t>(0, 127999)(rng);
        bool valid = ReferenceIsPrefix(compiled->simplified, text + std::string(vocab->TokenBytes(id)));
        ASSERT_EQ(Allowed(mask, id), valid) << "token " << id << " '" << vocab->TokenBytes(id)
                                            << "' after '" << text << "'";
      }
      if (i == docs[d].size()) break;
      ASSERT_TRUE(m.AcceptToken(docs[d][i])) << "step " << i;
      text += vocab->TokenBytes(docs[d][i]);
    }
    EXPECT_TRUE(m.CanTerminate());
    EXPECT_EQ(text, kDocs[d]);
    // The end: only stop tokens are allowed, and accepting one terminates.
    int32_t eot = 128009;
    ASSERT_TRUE(Allowed(mask, eot));
    ASSERT_TRUE(m.AcceptToken(eot));
    EXPECT_TRUE(m.IsTerminated());
  }
}

}  // namespace
}  // namespace sieve
