// The C API through libsieve, as an embedder sees it.
#include "sieve/sieve.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>
#include <vector>

namespace {

std::string DataDir() {
  const char* d = std::getenv("SIEVE_DATA_DIR");
  return d ? d : std::string(std::getenv("HOME") ? std::getenv("HOME") : "") + "/.cache/sieve";
}

TEST(CApi, ReportsItsVersion) {
  EXPECT_STREQ(sieve_version(), SIEVE_VERSION_STRING);
}

TEST(CApi, FreeOfNullIsANoOp) {
  sieve_vocab_free(nullptr);
  EXPECT_EQ(sieve_vocab_size(nullptr), 0u);
}

TEST(CApi, MissingTokenizerIsAnIoErrorWithThePath) {
  sieve_vocab* v = reinterpret_cast<sieve_vocab*>(0x1);
  EXPECT_EQ(sieve_vocab_create_from_file("/no/such/tokenizer.json", &v), SIEVE_ERR_IO);
  EXPECT_EQ(v, nullptr);
  const sieve_error* e = sieve_last_error();
  EXPECT_EQ(e->status, SIEVE_ERR_IO);
  EXPECT_NE(std::string(e->message).find("/no/such/tokenizer.json"), std::string::npos);
}

TEST(CApi, RawVocabularyPadsToTheModelSize) {
  const char* toks[] = {"a", "bc", "\xff"};
  size_t lens[] = {1, 2, 1};
  sieve_vocab* v = nullptr;
  ASSERT_EQ(sieve_vocab_create_from_tokens(toks, lens, nullptr, 3, 40, &v), SIEVE_OK);
  EXPECT_EQ(sieve_vocab_size(v), 40u);
  EXPECT_EQ(sieve_vocab_get_kind(v), SIEVE_VOCAB_RAW);
  EXPECT_TRUE(sieve_vocab_token_flags(v, 39) & SIEVE_TOKEN_PADDING);
  EXPECT_FALSE(sieve_vocab_token_flags(v, 1) & SIEVE_TOKEN_PADDING);
  const char* bytes = nullptr;
  size_t len = 0;
  ASSERT_EQ(sieve_vocab_token_bytes(v, 1, &bytes, &len), SIEVE_OK);
  EXPECT_EQ(std::string(bytes, len), "bc");
  EXPECT_EQ(sieve_vocab_token_bytes(v, 40, &bytes, &len), SIEVE_ERR_INVALID_ARGUMENT);
  size_t n = 0;
  int32_t ids[2];
  EXPECT_EQ(sieve_vocab_encode(v, "a", 1, 1, ids, 2, &n), SIEVE_ERR_INVALID_ARGUMENT);
  sieve_vocab_free(v);
}

TEST(CApi, EncodesAndDecodesWithTheRealLlama3Tokenizer) {
  sieve_vocab* v = nullptr;
  std::string path = DataDir() + "/tokenizers/llama3";
  ASSERT_EQ(sieve_vocab_create_from_file(path.c_str(), &v), SIEVE_OK)
      << sieve_last_error()->message << " (run scripts/fetch-tokenizers.sh)";
  EXPECT_EQ(sieve_vocab_size(v), 128256u);
  std::string text = "Hello, world! {\"a\": 1}";
  size_t n = 0;
  // First ask for the size, then fill.
  EXPECT_EQ(sieve_vocab_encode(v, text.data(), text.size(), 1, nullptr, 0, &n),
            SIEVE_ERR_INVALID_ARGUMENT);
  ASSERT_GT(n, 0u);
  std::vector<int32_t> ids(n);
  ASSERT_EQ(sieve_vocab_encode(v, text.data(), text.size(), 1, ids.data(), ids.size(), &n), SIEVE_OK);
  EXPECT_EQ(ids[0], 9906);  // "Hello" in Llama-3
  std::string back(text.size(), '\0');
  size_t m = 0;
  ASSERT_EQ(sieve_vocab_decode(v, ids.data(), ids.size(), back.data(), back.size(), &m), SIEVE_OK);
  EXPECT_EQ(back.substr(0, m), text);
  size_t n_stop = 0;
  ASSERT_EQ(sieve_vocab_stop_tokens(v, nullptr, 0, &n_stop), SIEVE_OK);
  EXPECT_GE(n_stop, 1u);
  sieve_vocab* w = sieve_vocab_retain(v);
  sieve_vocab_free(v);
  EXPECT_EQ(sieve_vocab_size(w), 128256u);  // still alive through the second reference
  sieve_vocab_free(w);
}

}  // namespace
