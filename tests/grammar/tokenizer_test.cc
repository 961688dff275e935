// Tokenizer tests: the three real tokenizers (vocabulary facts, hand-picked encodings whose ids
// come from the vocab itself, round trips, added tokens), loading errors, and small synthetic
// tokenizer.json files for SentencePiece-style BPE and added-token rules.
//
// Real tokenizers are read from $SIEVE_DATA_DIR/tokenizers/<name> (default ~/.cache/sieve; see
// scripts/fetch-tokenizers.sh). A missing one is a failure, not a skip.
#include "grammar/tokenizer/tokenizer.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "rapidjson/stringbuffer.h"
#include "rapidjson/writer.h"
#include "tests/testing/scoped_temp_dir.h"

namespace sieve {
namespace {

std::string DataDir() {
  if (const char* d = std::getenv("SIEVE_DATA_DIR"); d != nullptr && *d != '\0') return d;
  const char* home = std::getenv("HOME");
  return std::string(home ? home : ".") + "/.cache/sieve";
}

// Loads each real tokenizer once per process.
std::shared_ptr<const Tokenizer> Real(const std::string& name) {
  static std::mutex mu;
  static std::map<std::string, std::shared_ptr<const Tokenizer>> cache;
  std::lock_guard<std::mutex> lock(mu);
  auto it = cache.find(name);
  if (it != cache.end()) return it->second;
  auto tok = Tokenizer::Load(DataDir() + "/tokenizers/" + name);
  if (!tok.ok()) {
    ADD_FAILURE() << tok.status().ToString() << " (run scripts/fetch-tokenizers.sh)";
    return nullptr;
  }
  cache[name] = tok.value();
  return tok.value();
}

#define REAL_OR_RETURN(var, name) \
  auto var = Real(name);          \
  ASSERT_NE(var, nullptr)

// Ids of surface forms, failing the test when one is not a token.
std::vector<int32_t> Ids(const Tokenizer& tok, const std::vector<std::string>& surfaces) {
  std::vector<int32_t> ids;
  for (const std::string& s : surfaces) {
    const int32_t id = tok.TokenToId(s);
    EXPECT_GE(id, 0) << "'" << s << "' is not a token";
    ids.push_back(id);
  }
  return ids;
}

size_t CountFlag(const Vocabulary& v, uint8_t flag) {
  size_t n = 0;
  for (size_t i = 0; i < v.size(); ++i) n += (v.Flags(static_cast<int32_t>(i)) & flag) != 0;
  return n;
}

// ---- the real tokenizers ---------------------------------------------------------------------

TEST(RealTokenizerTest, Llama3HasItsVocabularySpecialsAndStopTokens) {
  REAL_OR_RETURN(tok, "llama3");
  const Vocabulary& v = tok->vocabulary();
  EXPECT_EQ(v.size(), 128256u);
  EXPECT_EQ(v.kind(), VocabKind::kByteLevel);
  EXPECT_EQ(CountFlag(v, kTokenPadding), 0u);
  EXPECT_EQ(CountFlag(v, kTokenAdded), 256u);
  EXPECT_EQ(v.special_tokens().size(), 256u);
  EXPECT_EQ(tok->bos_token(), 128000);
  EXPECT_EQ(tok->eos_token(), 128001);
  EXPECT_EQ(tok->TokenToId("<|eot_id|>"), 128009);
  EXPECT_EQ(v.stop_tokens(), (std::vector<int32_t>{128001, 128009}));
  EXPECT_EQ(v.Flags(128009), kTokenSpecial | kTokenAdded | kTokenStop);
  EXPECT_EQ(v.TokenBytes(128009), "<|eot_id|>");
  EXPECT_EQ(v.TokenBytes(9906), "Hello");
  EXPECT_EQ(v.TokenBytes(220), " ");
  EXPECT_EQ(v.TokenBytes(271), "\n\n");
  EXPECT_EQ(v.Flags(9906), kTokenNormal);
}

TEST(RealTokenizerTest, DeepSeekV3HasItsVocabularySpecialsAndStopTokens) {
  REAL_OR_RETURN(tok, "deepseek_v3");
  const Vocabulary& v = tok->vocabulary();
  EXPECT_EQ(v.size(), 128815u);  // 128,000 BPE ids + 815 added past them
  EXPECT_EQ(v.kind(), VocabKind::kByteLevel);
  EXPECT_EQ(CountFlag(v, kTokenAdded), 818u);
  EXPECT_EQ(v.special_tokens().size(), 804u);
  EXPECT_EQ(CountFlag(v, kTokenPadding), 0u);
  const std::string eos =
      "<\xEF\xBD\x9C"
      "end\xE2\x96\x81of\xE2\x96\x81sentence\xEF\xBD\x9C>";
  EXPECT_EQ(tok->eos_token(), 1);
  EXPECT_EQ(tok->bos_token(), 0);
  EXPECT_EQ(tok->TokenToId(eos), 1);
  EXPECT_EQ(v.TokenBytes(1), eos);  // outside the byte map: kept verbatim
  EXPECT_EQ(v.stop_tokens(), (std::vector<int32_t>{1}));
  // "<｜User｜>" is an added token that is not special.
  const int32_t user = tok->TokenToId("<\xEF\xBD\x9CUser\xEF\xBD\x9C>");
  EXPECT_EQ(user, 128803);
  EXPECT_EQ(v.Flags(user), kTokenAdded);
}

TEST(RealTokenizerTest, Qwen3HasItsVocabularySpecialsAndStopTokens) {
  REAL_OR_RETURN(tok, "qwen3");
  const Vocabulary& v = tok->vocabulary();
  EXPECT_EQ(v.size(), 151669u);  // 151,643 BPE ids + 26 added
  EXPECT_EQ(CountFlag(v, kTokenAdded), 26u);
  EXPECT_EQ(v.special_tokens().size(), 14u);
  EXPECT_EQ(tok->bos_token(), -1);
  EXPECT_EQ(tok->eos_token(), tok->TokenToId("<|im_end|>"));
  EXPECT_EQ(v.stop_tokens(), (std::vector<int32_t>{151643, 151645}));
  EXPECT_EQ(v.Flags(tok->TokenToId("<think>")), kTokenAdded);
}

TEST(RealTokenizerTest, Llama3EncodesHandPickedStringsToTheirVocabIds) {
  REAL_OR_RETURN(tok, "llama3");
  const Tokenizer& t = *tok;
  EXPECT_EQ(t.Encode("Hello, world!"), Ids(t, {"Hello", ",", "\xC4\xA0world", "!"}));
  // "  hello": the space run leaves one space for the word.
  EXPECT_EQ(t.Encode("  hello"), Ids(t, {"\xC4\xA0", "\xC4\xA0hello"}));
  EXPECT_EQ(t.Encode("12345"), Ids(t, {"123", "45"}));
  EXPECT_EQ(t.Encode("don't DON'T"), Ids(t, {"don", "'t",
                                             "\xC4\xA0"
                                             "DON",
                                             "'T"}));
  EXPECT_EQ(t.Encode(" $100"), Ids(t, {"\xC4\xA0$", "100"}));
  EXPECT_EQ(
      t.Encode("hello   \n\n  world"),
      Ids(t, {"hello", "\xC4\xA0\xC4\xA0\xC4\xA0\xC4\x8A\xC4\x8A", "\xC4\xA0", "\xC4\xA0world"}));
  EXPECT_TRUE(t.Encode("").empty());
}

TEST(RealTokenizerTest, DeepSeekV3EncodesHandPickedStringsToTheirVocabIds) {
  REAL_OR_RETURN(tok, "deepseek_v3");
  const Tokenizer& t = *tok;
  EXPECT_EQ(t.Encode("Hello, world!"), Ids(t, {"Hello", ",", "\xC4\xA0world", "!"}));
  EXPECT_EQ(t.Encode("12345"), Ids(t, {"123", "45"}));
  // CJK runs are their own pieces: "你好" is one token.
  EXPECT_EQ(t.Encode("\xE4\xBD\xA0\xE5\xA5\xBD"),
            Ids(t, {"\xC3\xA4\xC2\xBD\xC5\x82\xC3\xA5\xC2\xA5\xC2\xBD"}));
  EXPECT_EQ(t.Encode("don't"), Ids(t, {"don", "'t"}));
}

TEST(RealTokenizerTest, Qwen3EncodesDigitsSinglyAndNormalizesToNfc) {
  REAL_OR_RETURN(tok, "qwen3");
  const Tokenizer& t = *tok;
  EXPECT_EQ(t.Encode("12345"), Ids(t, {"1", "2", "3", "4", "5"}));
  EXPECT_EQ(t.Encode("Hello, world!"), Ids(t, {"Hello", ",", "\xC4\xA0world", "!"}));
  // "e" + U+0301 is "é" after NFC.
  EXPECT_EQ(t.Encode("caf"
                     "e\xCC\x81"),
            t.Encode("caf\xC3\xA9"));
  EXPECT_EQ(t.Decode(t.Encode("caf"
                              "e\xCC\x81")),
            "caf\xC3\xA9");
}

TEST(RealTokenizerTest, SpecialTokensInTextBecomeTheirIdsOnlyWhenAllowed) {
  REAL_OR_RETURN(tok, "llama3");
  const std::string text = "hi<|eot_id|>there";
  const std::vector<int32_t> allowed = tok->Encode(text, /*allow_special=*/true);
  EXPECT_EQ(allowed, (std::vector<int32_t>{tok->TokenToId("hi"), 128009, tok->TokenToId("there")}));
  const std::vector<int32_t> plain = tok->Encode(text, /*allow_special=*/false);
  EXPECT_EQ(std::count(plain.begin(), plain.end(), 128009), 0);
  EXPECT_GT(plain.size(), 3u);
  EXPECT_EQ(tok->Decode(plain), text);
  EXPECT_EQ(tok->Decode(allowed), text);
}

TEST(RealTokenizerTest, NonSpecialAddedTokensMatchEvenWhenSpecialsAreNot) {
  REAL_OR_RETURN(tok, "qwen3");
  const int32_t think = tok->TokenToId("<think>");
  const std::vector<int32_t> ids = tok->Encode("<think>x</think><|im_end|>", false);
  EXPECT_EQ(ids.front(), think);
  EXPECT_EQ(std::count(ids.begin(), ids.end(), tok->TokenToId("</think>")), 1);
  EXPECT_EQ(std::count(ids.begin(), ids.end(), tok->TokenToId("<|im_end|>")), 0);
}

// Strings mixing everything the pre-tokenizers distinguish, ill-formed bytes included.
std::vector<std::string> RoundTripStrings(bool ill_formed) {
  const std::vector<std::string> pool = {" ",
                                         "  ",
                                         "\n",
                                         "\r\n",
                                         "\t",
                                         "\xC2\xA0",
                                         "\xE3\x80\x80",
                                         "a",
                                         "Hello",
                                         " world",
                                         "'s",
                                         "'T",
                                         "0",
                                         "123456",
                                         "\xD9\xA3",
                                         ".",
                                         "...",
                                         "$",
                                         "{\"",
                                         "\xE2\x80\x94",
                                         "\xC3\xA9",
                                         "e\xCC\x81",
                                         "\xE4\xBD\xA0\xE5\xA5\xBD",
                                         "\xE3\x82\xAB",
                                         "\xED\x95\x9C",
                                         "\xF0\x9F\x98\x80",
                                         "\xE2\x80\x8D",
                                         "\xD0\xB6",
                                         "\xD8\xA7",
                                         "<|eot_id|>",
                                         "<think>",
                                         "\xC2\x85",
                                         "\x00",
                                         "\xE2\x96\x81"};
  std::mt19937 rng(7);
  std::vector<std::string> out = {"",
                                  "a",
                                  " ",
                                  "\n\n\n",
                                  std::string(3000, 'a'),
                                  std::string(2000, ' ') + "x",
                                  "x" + std::string(2000, '\n')};
  for (int i = 0; i < 400; ++i) {
    std::string s;
    const int n = 1 + static_cast<int>(rng() % 30);
    for (int k = 0; k < n; ++k) s += pool[rng() % pool.size()];
    if (ill_formed && i % 3 == 0)
      s.insert(rng() % (s.size() + 1), 1, static_cast<char>(0x80 + rng() % 128));
    out.push_back(s);
  }
  return out;
}

TEST(RealTokenizerTest, DecodeOfEncodeIsTheTextForByteLevelTokenizers) {
  for (const char* name : {"llama3", "deepseek_v3"}) {
    REAL_OR_RETURN(tok, name);
    for (const std::string& s : RoundTripStrings(/*ill_formed=*/true)) {
      for (bool special : {true, false}) {
        const std::vector<int32_t> ids = tok->Encode(s, special);
        ASSERT_EQ(tok->Decode(ids), s) << name << " '" << s << "'";
        for (int32_t id : ids) ASSERT_FALSE(tok->vocabulary().IsPadding(id));
      }
    }
  }
}

TEST(RealTokenizerTest, Qwen3RoundTripsNfcText) {
  REAL_OR_RETURN(tok, "qwen3");
  for (const std::string& s : RoundTripStrings(/*ill_formed=*/false)) {
    const std::vector<int32_t> ids = tok->Encode(s);
    EXPECT_EQ(tok->Decode(ids), tok->Decode(tok->Encode(tok->Decode(ids)))) << s;
  }
  for (const std::string s : {"Hello, world!", "\xE4\xBD\xA0\xE5\xA5\xBD 12", "caf\xC3\xA9\n\n"}) {
    EXPECT_EQ(tok->Decode(tok->Encode(s)), s);
  }
}

TEST(RealTokenizerTest, EncodeGivesTheSameIdsFromSeveralThreads) {
  REAL_OR_RETURN(tok, "llama3");
  const std::vector<std::string> texts = RoundTripStrings(false);
  std::vector<std::vector<int32_t>> expected;
  for (const std::string& s : texts) expected.push_back(tok->Encode(s));
  std::vector<int> mismatches(2, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < 2; ++t) {
    threads.emplace_back([&, t] {
      for (size_t i = 0; i < texts.size(); ++i)
        mismatches[t] += tok->Encode(texts[i]) != expected[i];
    });
  }
  for (std::thread& th : threads) th.join();
  EXPECT_EQ(mismatches[0] + mismatches[1], 0);
}

TEST(RealTokenizerTest, LongInputsEncodeLikeTheirRepeatedParts) {
  // Long inputs go through a per-call pre-token cache; the ids must not change.
  for (const char* name : {"llama3", "deepseek_v3", "qwen3"}) {
    REAL_OR_RETURN(tok, name);
    const std::string part = "Hello, world! 12345 don't \xE4\xBD\xA0\xE5\xA5\xBD\n";
    std::string text;
    std::vector<int32_t> expected;
    const std::vector<int32_t> part_ids = tok->Encode(part);
    for (int i = 0; i < 200; ++i) {
      text += part;
      expected.insert(expected.end(), part_ids.begin(), part_ids.end());
    }
    EXPECT_EQ(tok->Encode(text), expected) << name;
  }
}

TEST(RealTokenizerTest, LoadsFromTheJsonFileAndDescribesItself) {
  auto tok = Tokenizer::Load(DataDir() + "/tokenizers/llama3/tokenizer.json");
  ASSERT_TRUE(tok.ok()) << tok.status().ToString();
  EXPECT_EQ((*tok)->eos_token(), 128001);  // the sibling tokenizer_config.json was read
  const std::string d = (*tok)->Describe();
  EXPECT_NE(d.find("byte-level"), std::string::npos) << d;
  EXPECT_NE(d.find("Split(llama3)"), std::string::npos) << d;
  EXPECT_NE(d.find("128256 ids"), std::string::npos) << d;
}

// ---- loading errors -----------------------------------------------------------------------------

// A small byte-level tokenizer.json: the 256 one-byte tokens (ids 0..255) plus `extra` tokens
// (ids from 256), the given merges, pre-tokenizer and added tokens.
struct TinySpec {
  std::vector<std::string> extra;
  std::vector<std::pair<std::string, std::string>> merges;
  std::string model_type = "BPE";
  std::string pre_tokenizer = R"({"type": "ByteLevel", "add_prefix_space": false})";
  std::string normalizer = "null";
  std::string added = "[]";
  bool merges_as_strings = true;
};

std::string ByteSurface(unsigned char b) {
  const bool self = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE;
  int cp = b;
  if (!self) {
    int n = 0;
    for (int x = 0; x < b; ++x) {
      const bool s = (x >= '!' && x <= '~') || (x >= 0xA1 && x <= 0xAC) || x >= 0xAE;
      n += !s;
    }
    cp = 256 + n;
  }
  std::string out;
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
  return out;
}

std::string TinyJson(const TinySpec& spec) {
  rapidjson::StringBuffer vocab_buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(vocab_buf);
  w.StartObject();
  for (int b = 0; b < 256; ++b) {
    w.Key(ByteSurface(static_cast<unsigned char>(b)).c_str());
    w.Int(b);
  }
  for (size_t i = 0; i < spec.extra.size(); ++i) {
    w.Key(spec.extra[i].c_str());
    w.Int(static_cast<int>(256 + i));
  }
  w.EndObject();
  rapidjson::StringBuffer merges_buf;
  rapidjson::Writer<rapidjson::StringBuffer> m(merges_buf);
  m.StartArray();
  for (const auto& [a, b] : spec.merges) {
    if (spec.merges_as_strings) {
      m.String((a + " " + b).c_str());
    } else {
      m.StartArray();
      m.String(a.c_str());
      m.String(b.c_str());
      m.EndArray();
    }
  }
  m.EndArray();
  return std::string(R"({"version": "1.0", "added_tokens": )") + spec.added +
         R"(, "normalizer": )" + spec.normalizer + R"(, "pre_tokenizer": )" + spec.pre_tokenizer +
         R"(, "decoder": {"type": "ByteLevel"}, "model": {"type": ")" + spec.model_type +
         R"(", "vocab": )" + vocab_buf.GetString() + R"(, "merges": )" + merges_buf.GetString() +
         "}}";
}

TEST(TokenizerErrorTest, TinyTokenizerLoadsAndMerges) {
  TinySpec spec;
  spec.extra = {"ab", "abc"};
  spec.merges = {{"a", "b"}, {"ab", "c"}};
  for (bool as_strings : {true, false}) {
    spec.merges_as_strings = as_strings;
    auto tok = Tokenizer::FromJson(TinyJson(spec), "", "tiny");
    ASSERT_TRUE(tok.ok()) << tok.status().ToString();
    EXPECT_EQ((*tok)->Encode("abcab"), (std::vector<int32_t>{257, 256}));
    EXPECT_EQ((*tok)->vocabulary().size(), 258u);
  }
}

TEST(TokenizerErrorTest, MissingFileIsAnIoErrorNamingThePath) {
  auto tok = Tokenizer::Load("/no/such/dir/tokenizer.json");
  ASSERT_FALSE(tok.ok());
  EXPECT_EQ(tok.status().code(), StatusCode::kIo);
  EXPECT_NE(tok.status().message().find("/no/such/dir/tokenizer.json"), std::string::npos);
}

TEST(TokenizerErrorTest, BrokenJsonIsAFormatErrorWithItsOffset) {
  testing::ScopedTempDir dir;
  const std::string text = R"({"model": {"type": "BPE", "vocab": {"a": 0,, }}})";
  std::ofstream(dir.File("tokenizer.json")) << text;
  auto tok = Tokenizer::Load(dir.path().string());
  ASSERT_FALSE(tok.ok());
  EXPECT_EQ(tok.status().code(), StatusCode::kFormat);
  EXPECT_EQ(tok.status().offset(), static_cast<int64_t>(text.find(",,") + 1));
  EXPECT_NE(tok.status().message().find(dir.File("tokenizer.json")), std::string::npos);
}

TEST(TokenizerErrorTest, BrokenConfigIsAFormatErrorNamingTheConfig) {
  testing::ScopedTempDir dir;
  std::ofstream(dir.File("tokenizer.json")) << TinyJson(TinySpec{});
  std::ofstream(dir.File("tokenizer_config.json")) << R"({"eos_token": )";
  auto tok = Tokenizer::Load(dir.path().string());
  ASSERT_FALSE(tok.ok());
  EXPECT_EQ(tok.status().code(), StatusCode::kFormat);
  EXPECT_NE(tok.status().message().find("tokenizer_config.json"), std::string::npos);
}

TEST(TokenizerErrorTest, ConfigEosThatIsNoTokenIsAFormatError) {
  auto tok =
      Tokenizer::FromJson(TinyJson(TinySpec{}), R"({"eos_token": {"content": "<nope>"}})", "tiny");
  ASSERT_FALSE(tok.ok());
  EXPECT_EQ(tok.status().code(), StatusCode::kFormat);
  EXPECT_NE(tok.status().message().find("<nope>"), std::string::npos);
}

TEST(TokenizerErrorTest, UnknownModelTypeIsUnsupported) {
  TinySpec spec;
  spec.model_type = "WordPiece";
  auto tok = Tokenizer::FromJson(TinyJson(spec), "", "tiny");
  ASSERT_FALSE(tok.ok());
  EXPECT_EQ(tok.status().code(), StatusCode::kUnsupported);
  EXPECT_NE(tok.status().message().find("WordPiece"), std::string::npos);
}

TEST(TokenizerErrorTest, MergeNamingNoTokenIsAFormatErrorNamingTheMergeIndex) {
  TinySpec spec;
  spec.extra = {"ab"};
  spec.merges = {{"a", "b"}, {"ab", "zz"}};
  const std::string json = TinyJson(spec);
  auto tok = Tokenizer::FromJson(json, "", "tiny.json");
  ASSERT_FALSE(tok.ok());
  EXPECT_EQ(tok.status().code(), StatusCode::kFormat);
  EXPECT_NE(tok.status().message().find("merges[1]"), std::string::npos) << tok.status().message();
  EXPECT_NE(tok.status().message().find("'zz'"), std::string::npos) << tok.status().message();
  EXPECT_NE(tok.status().message().find("tiny.json"), std::string::npos);
  EXPECT_EQ(tok.status().json_pointer(), "/model/merges/1");
  EXPECT_EQ(tok.status().offset(), static_cast<int64_t>(json.find("\"ab zz\"") + 1));
}

TEST(TokenizerErrorTest, MergeWhoseResultIsNoTokenIsAFormatError) {
  TinySpec spec;
  spec.merges = {{"a", "b"}};
  auto tok = Tokenizer::FromJson(TinyJson(spec), "", "tiny");
  ASSERT_FALSE(tok.ok());
  EXPECT_EQ(tok.status().code(), StatusCode::kFormat);
  EXPECT_NE(tok.status().message().find("merges[0]"), std::string::npos);
  EXPECT_NE(tok.status().message().find("'ab'"), std::string::npos) << tok.status().message();
}

TEST(TokenizerErrorTest, MalformedMergeStringIsAFormatError) {
  TinySpec spec;
  spec.extra = {"ab"};
  spec.merges = {{"a", "b c"}};
  auto tok = Tokenizer::FromJson(TinyJson(spec), "", "tiny");
  ASSERT_FALSE(tok.ok());
  EXPECT_EQ(tok.status().code(), StatusCode::kFormat);
  EXPECT_EQ(tok.status().json_pointer(), "/model/merges/0");
}

TEST(TokenizerErrorTest, UnknownSplitRegexIsUnsupportedAndNamesThePattern) {
  TinySpec spec;
  spec.pre_tokenizer =
      R"({"type": "Split", "pattern": {"Regex": "\\p{L}+|[0-9]{1,4}"}, "behavior": "Isolated",)"
      R"( "invert": false})";
  auto tok = Tokenizer::FromJson(TinyJson(spec), "", "tiny");
  ASSERT_FALSE(tok.ok());
  EXPECT_EQ(tok.status().code(), StatusCode::kUnsupported);
  EXPECT_NE(tok.status().message().find("\\p{L}+|[0-9]{1,4}"), std::string::npos)
      << tok.status().message();
}

TEST(TokenizerErrorTest, NonIsolatedSplitAndUnknownStepsAreUnsupported) {
  TinySpec spec;
  spec.pre_tokenizer = R"({"type": "Split", "pattern": {"Regex": "\\p{N}{1,3}"}, )"
                       R"("behavior": "Removed", "invert": false})";
  auto tok = Tokenizer::FromJson(TinyJson(spec), "", "tiny");
  ASSERT_FALSE(tok.ok());
  EXPECT_EQ(tok.status().code(), StatusCode::kUnsupported);
  EXPECT_NE(tok.status().message().find("Removed"), std::string::npos);

  spec = TinySpec{};
  spec.normalizer = R"({"type": "NFKC"})";
  tok = Tokenizer::FromJson(TinyJson(spec), "", "tiny");
  ASSERT_FALSE(tok.ok());
  EXPECT_EQ(tok.status().code(), StatusCode::kUnsupported);
  EXPECT_NE(tok.status().message().find("NFKC"), std::string::npos);

  spec = TinySpec{};
  spec.pre_tokenizer = R"({"type": "Whitespace"})";
  tok = Tokenizer::FromJson(TinyJson(spec), "", "tiny");
  ASSERT_FALSE(tok.ok());
  EXPECT_EQ(tok.status().code(), StatusCode::kUnsupported);
  EXPECT_EQ(tok.status().json_pointer(), "/pre_tokenizer/type");
}

TEST(TokenizerErrorTest, VocabIdsMustBeDistinctNonNegativeIntegers) {
  auto tok =
      Tokenizer::FromJson(R"({"model": {"type": "BPE", "vocab": {"a": 0, "b": -1}, "merges": []}, )"
                          R"("decoder": {"type": "ByteLevel"}})",
                          "", "tiny");
  ASSERT_FALSE(tok.ok());
  EXPECT_EQ(tok.status().code(), StatusCode::kFormat);
  EXPECT_NE(tok.status().message().find("'b'"), std::string::npos) << tok.status().message();

  tok =
      Tokenizer::FromJson(R"({"model": {"type": "BPE", "vocab": {"a": 0, "b": 0}, "merges": []}, )"
                          R"("decoder": {"type": "ByteLevel"}})",
                          "", "tiny");
  ASSERT_FALSE(tok.ok());
  EXPECT_EQ(tok.status().code(), StatusCode::kFormat);
  EXPECT_NE(tok.status().message().find("id 0"), std::string::npos) << tok.status().message();

  tok = Tokenizer::FromJson(R"({"model": {"type": "BPE", "vocab": [], "merges": []}})", "", "t");
  ASSERT_FALSE(tok.ok());
  EXPECT_EQ(tok.status().code(), StatusCode::kFormat);
  EXPECT_EQ(tok.status().json_pointer(), "/model/vocab");
}

TEST(TokenizerErrorTest, SurfaceFormMustBeKnown) {
  auto tok = Tokenizer::FromJson(R"({"model": {"type": "BPE", "vocab": {"a": 0}, "merges": []}})",
                                 "", "tiny");
  ASSERT_FALSE(tok.ok());
  EXPECT_EQ(tok.status().code(), StatusCode::kUnsupported);
}

// ---- added-token rules --------------------------------------------------------------------------

TEST(AddedTokenTest, LstripAndRstripSwallowTheWhitespaceAround) {
  TinySpec spec;
  spec.added = R"([{"id": 300, "content": "<mask>", "special": true, "lstrip": true,)"
               R"( "rstrip": true, "normalized": false, "single_word": false}])";
  auto tok = Tokenizer::FromJson(TinyJson(spec), "", "tiny");
  ASSERT_TRUE(tok.ok()) << tok.status().ToString();
  EXPECT_EQ((*tok)->vocabulary().size(), 301u);
  EXPECT_TRUE((*tok)->vocabulary().IsPadding(256));  // the gap before id 300
  EXPECT_EQ((*tok)->Encode("a  <mask> \tb"), (std::vector<int32_t>{'a', 300, 'b'}));
}

TEST(AddedTokenTest, SingleWordTokensMatchOnlyWholeWords) {
  TinySpec spec;
  spec.added = R"([{"id": 256, "content": "cat", "special": false, "lstrip": false,)"
               R"( "rstrip": false, "normalized": false, "single_word": true}])";
  auto tok = Tokenizer::FromJson(TinyJson(spec), "", "tiny");
  ASSERT_TRUE(tok.ok()) << tok.status().ToString();
  EXPECT_EQ((*tok)->Encode("cat"), (std::vector<int32_t>{256}));
  EXPECT_EQ((*tok)->Encode("a cat."), (std::vector<int32_t>{'a', ' ', 256, '.'}));
  EXPECT_EQ((*tok)->Encode("cats"), (std::vector<int32_t>{'c', 'a', 't', 's'}));
}

TEST(AddedTokenTest, LongestAddedTokenWinsAtTheLeftmostPosition) {
  TinySpec spec;
  spec.added = R"([{"id": 256, "content": "<a>", "special": true},)"
               R"( {"id": 257, "content": "<a><b>", "special": true},)"
               R"( {"id": 258, "content": "b>", "special": false, "normalized": false}])";
  auto tok = Tokenizer::FromJson(TinyJson(spec), "", "tiny");
  ASSERT_TRUE(tok.ok()) << tok.status().ToString();
  EXPECT_EQ((*tok)->Encode("x<a><b>"), (std::vector<int32_t>{'x', 257}));
  EXPECT_EQ((*tok)->Encode("<a><c"), (std::vector<int32_t>{256, '<', 'c'}));
  // A special token that is not allowed still hides the tokens inside it.
  EXPECT_EQ((*tok)->Encode("<a><b>", false), (std::vector<int32_t>{'<', 'a', '>', '<', 'b', '>'}));
}

// ---- SentencePiece-style BPE --------------------------------------------------------------------

// A Llama-2-style tokenizer.json: <unk> <s> </s>, the 256 byte-fallback tokens, then pieces.
std::string SentencePieceJson(bool metaspace) {
  const std::string sp = "\xE2\x96\x81";
  const std::vector<std::string> pieces = {
      sp,       "h",        "e",         "l",          "o",         "w",          "r",
      "d",      sp + "h",   "ll",        sp + "he",    sp + "hell", sp + "hello", "or",
      sp + "w", sp + "wor", sp + "worl", sp + "world", sp + sp};
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.StartObject();
  const char* controls[] = {"<unk>", "<s>", "</s>"};
  for (int i = 0; i < 3; ++i) {
    w.Key(controls[i]);
    w.Int(i);
  }
  for (int b = 0; b < 256; ++b) {
    char name[8];
    std::snprintf(name, sizeof(name), "<0x%02X>", b);
    w.Key(name);
    w.Int(3 + b);
  }
  for (size_t i = 0; i < pieces.size(); ++i) {
    w.Key(pieces[i].c_str());
    w.Int(static_cast<int>(259 + i));
  }
  w.EndObject();
  const std::vector<std::pair<std::string, std::string>> merges = {
      {sp, sp},          {sp, "h"},          {"l", "l"},        {sp + "h", "e"},
      {sp + "he", "ll"}, {sp + "hell", "o"}, {"o", "r"},        {sp, "w"},
      {sp + "w", "or"},  {sp + "wor", "l"},  {sp + "worl", "d"}};
  rapidjson::StringBuffer mbuf;
  rapidjson::Writer<rapidjson::StringBuffer> m(mbuf);
  m.StartArray();
  for (const auto& [a, b] : merges) m.String((a + " " + b).c_str());
  m.EndArray();
  const std::string added =
      R"([{"id": 0, "content": "<unk>", "special": true, "normalized": false},)"
      R"( {"id": 1, "content": "<s>", "special": true, "normalized": false},)"
      R"( {"id": 2, "content": "</s>", "special": true, "normalized": false}])";
  const std::string normalizer =
      metaspace ? "null"
                : R"({"type": "Sequence", "normalizers": [{"type": "Prepend", "prepend": ")" + sp +
                      R"("}, {"type": "Replace", "pattern": {"String": " "}, "content": ")" + sp +
                      R"("}]})";
  const std::string pre = metaspace ? R"({"type": "Metaspace", "replacement": ")" + sp +
                                          R"(", "prepend_scheme": "first", "split": false})"
                                    : "null";
  const std::string decoder =
      metaspace
          ? R"({"type": "Metaspace", "replacement": ")" + sp +
                R"(", "prepend_scheme": "first", "split": false})"
          : R"({"type": "Sequence", "decoders": [{"type": "Replace", "pattern": {"String": ")" +
                sp +
                R"("}, "content": " "}, {"type": "ByteFallback"}, {"type": "Fuse"},)"
                R"( {"type": "Strip", "content": " ", "start": 1, "stop": 0}]})";
  return R"({"added_tokens": )" + added + R"(, "normalizer": )" + normalizer +
         R"(, "pre_tokenizer": )" + pre + R"(, "decoder": )" + decoder +
         R"(, "model": {"type": "BPE", "unk_token": "<unk>", "fuse_unk": true,)"
         R"( "byte_fallback": true, "vocab": )" +
         buf.GetString() + R"(, "merges": )" + mbuf.GetString() + "}}";
}

TEST(SentencePieceTest, EncodesWithThePrefixSpaceAndMerges) {
  auto tok = Tokenizer::FromJson(SentencePieceJson(false), R"({"eos_token": "</s>"})", "sp");
  ASSERT_TRUE(tok.ok()) << tok.status().ToString();
  const Tokenizer& t = **tok;
  const std::string sp = "\xE2\x96\x81";
  EXPECT_EQ(t.vocabulary().kind(), VocabKind::kSentencePiece);
  EXPECT_EQ(t.Encode("hello world"), Ids(t, {sp + "hello", sp + "world"}));
  // Two spaces: the normalizer gives "▁hello▁▁world"; ▁▁ (rank 0) merges first.
  EXPECT_EQ(t.Encode("hello  world"), Ids(t, {sp + "hello", sp + sp, "w", "or", "l", "d"}));
  EXPECT_EQ(t.Encode("<s>hello"), Ids(t, {"<s>", sp + "hello"}));
  EXPECT_EQ(t.eos_token(), 2);
  EXPECT_EQ(t.vocabulary().stop_tokens(), (std::vector<int32_t>{2}));
}

TEST(SentencePieceTest, UnknownCharactersFallBackToBytes) {
  auto tok = Tokenizer::FromJson(SentencePieceJson(false), "", "sp");
  ASSERT_TRUE(tok.ok()) << tok.status().ToString();
  const Tokenizer& t = **tok;
  // "é" is C3 A9: <0xC3> <0xA9>.
  EXPECT_EQ(t.Encode("h\xC3\xA9"), Ids(t, {"\xE2\x96\x81h", "<0xC3>", "<0xA9>"}));
  const Vocabulary& v = t.vocabulary();
  const int32_t c3 = t.TokenToId("<0xC3>");
  EXPECT_EQ(v.TokenBytes(c3), "\xC3");
  EXPECT_TRUE(v.Flags(c3) & kTokenByteFallback);
  EXPECT_EQ(v.TokenBytes(t.TokenToId("\xE2\x96\x81hello")), " hello");
}

TEST(SentencePieceTest, DecodeStripsTheLeadingSpaceTheNormalizerAdded) {
  auto tok = Tokenizer::FromJson(SentencePieceJson(false), "", "sp");
  ASSERT_TRUE(tok.ok()) << tok.status().ToString();
  for (const std::string s : {"hello world", "hello  w\xC3\xA9rld\n", "z", " lead"}) {
    EXPECT_EQ((*tok)->Decode((*tok)->Encode(s)), s);
  }
}

TEST(SentencePieceTest, MetaspaceFirstPrependsOnlyAtTheStartOfTheInput) {
  auto tok = Tokenizer::FromJson(SentencePieceJson(true), "", "sp");
  ASSERT_TRUE(tok.ok()) << tok.status().ToString();
  const Tokenizer& t = **tok;
  const std::string sp = "\xE2\x96\x81";
  EXPECT_EQ(t.Encode("hello world"), Ids(t, {sp + "hello", sp + "world"}));
  // After an added token the text no longer starts the input: no ▁ is prepended.
  EXPECT_EQ(t.Encode("<s>hello"), Ids(t, {"<s>", "h", "e", "ll", "o"}));
  EXPECT_EQ(t.Decode(t.Encode("hello world")), "hello world");
}

TEST(SentencePieceTest, UnknownCharactersWithoutByteTokensFuseIntoOneUnk) {
  std::string json = SentencePieceJson(false);
  // Drop byte fallback: unknown characters become one fused <unk>.
  json.replace(json.find("\"byte_fallback\": true"), 21, "\"byte_fallback\": false");
  auto tok = Tokenizer::FromJson(json, "", "sp");
  ASSERT_TRUE(tok.ok()) << tok.status().ToString();
  EXPECT_EQ((*tok)->Encode("h\xC3\xA9\xC3\xA9h"), Ids(**tok, {"\xE2\x96\x81h", "<unk>", "h"}));
}

}  // namespace
}  // namespace sieve
