// Golden tests: sieve's Encode and Decode against the reference Hugging Face `tokenizers` library.
//
// tests/data/tokenizer_corpus.jsonl holds {"name", "text"} per line; for each real tokenizer,
// tests/data/tokenizer_golden_<name>.jsonl (made by scripts/gpu/make-tokenizer-goldens.py with the
// real library) holds a {"meta": {...}} line and then, in corpus order, {"name", "ids",
// "decoded"} with ids = encode(text, add_special_tokens=False) and decoded = decode(ids,
// skip_special_tokens=False). Every id of every line must match, and Decode(ids) must give
// `decoded` (which is the text itself unless the tokenizer normalizes it, e.g. Qwen3's NFC).
// The golden's meta line must name the corpus by its sha256 (stale goldens fail). A missing
// golden file is a failure with instructions, never a skip.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "grammar/tokenizer/tokenizer.h"
#include "gtest/gtest.h"
#include "rapidjson/document.h"

namespace sieve {
namespace {

std::string DataDir() {
  if (const char* d = std::getenv("SIEVE_DATA_DIR"); d != nullptr && *d != '\0') return d;
  const char* home = std::getenv("HOME");
  return std::string(home ? home : ".") + "/.cache/sieve";
}

struct CorpusEntry {
  std::string name;
  std::string text;
};

std::string Str(const rapidjson::Value& v) {
  return std::string(v.GetString(), v.GetStringLength());
}

// Reads a JSON-lines file; each non-empty line must be a JSON object.
bool ReadJsonLines(const std::string& path, std::vector<rapidjson::Document>* out,
                   std::string* error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    *error = "cannot open " + path;
    return false;
  }
  std::string line;
  int lineno = 0;
  while (std::getline(in, line)) {
    ++lineno;
    if (line.empty()) continue;
    rapidjson::Document d;
    d.Parse(line.data(), line.size());
    if (d.HasParseError() || !d.IsObject()) {
      *error = path + ":" + std::to_string(lineno) + ": not a JSON object";
      return false;
    }
    out->push_back(std::move(d));
  }
  return true;
}

// SHA-256 (FIPS 180-4) of a byte string, as lowercase hex: the goldens record the corpus's.
std::string Sha256Hex(const std::string& data) {
  static constexpr uint32_t kK[64] = {
      0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
      0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
      0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
      0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
      0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
      0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
      0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
      0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
      0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
      0xc67178f2};
  uint32_t h[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                   0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
  std::string msg = data;
  msg.push_back(static_cast<char>(0x80));
  while (msg.size() % 64 != 56) msg.push_back('\0');
  const uint64_t bits = static_cast<uint64_t>(data.size()) * 8;
  for (int i = 7; i >= 0; --i) msg.push_back(static_cast<char>(bits >> (8 * i)));
  auto rotr = [](uint32_t x, int n) { return (x >> n) | (x << (32 - n)); };
  for (size_t block = 0; block < msg.size(); block += 64) {
    uint32_t w[64];
    for (int i = 0; i < 16; ++i) {
      const auto* p = reinterpret_cast<const uint8_t*>(msg.data() + block + 4 * i);
      w[i] = (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
    }
    for (int i = 16; i < 64; ++i) {
      const uint32_t s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >> 3);
      const uint32_t s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >> 10);
      w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7];
    for (int i = 0; i < 64; ++i) {
      const uint32_t t1 =
          hh + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + kK[i] + w[i];
      const uint32_t t2 = (rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
      hh = g;
      g = f;
      f = e;
      e = d + t1;
      d = c;
      c = b;
      b = a;
      a = t1 + t2;
    }
    h[0] += a, h[1] += b, h[2] += c, h[3] += d, h[4] += e, h[5] += f, h[6] += g, h[7] += hh;
  }
  std::string hex;
  for (uint32_t v : h) {
    char buf[9];
    std::snprintf(buf, sizeof(buf), "%08x", v);
    hex += buf;
  }
  return hex;
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

TEST(Sha256Test, MatchesKnownDigests) {
  EXPECT_EQ(Sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(Sha256Hex(std::string(1000, 'a')),
            "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3");
}

std::string Show(const std::vector<int32_t>& ids) {
  std::string s = "[";
  for (size_t i = 0; i < ids.size(); ++i) s += (i ? ", " : "") + std::to_string(ids[i]);
  return s + "]";
}

class TokenizerGoldenTest : public ::testing::TestWithParam<const char*> {};

TEST_P(TokenizerGoldenTest, EncodeAndDecodeMatchTheReferenceLibrary) {
  const std::string name = GetParam();
  const std::string data = SIEVE_TEST_DATA_DIR;
  const std::string golden_path = data + "/tokenizer_golden_" + name + ".jsonl";
  const std::string corpus_path = data + "/tokenizer_corpus.jsonl";

  std::vector<rapidjson::Document> corpus_docs;
  std::string error;
  ASSERT_TRUE(ReadJsonLines(corpus_path, &corpus_docs, &error)) << error;
  std::vector<CorpusEntry> corpus;
  for (const rapidjson::Document& d : corpus_docs) {
    ASSERT_TRUE(d.HasMember("name") && d["name"].IsString() && d.HasMember("text") &&
                d["text"].IsString())
        << corpus_path << ": expected {\"name\", \"text\"} lines";
    corpus.push_back({Str(d["name"]), Str(d["text"])});
  }
  ASSERT_FALSE(corpus.empty()) << corpus_path << " is empty";

  std::vector<rapidjson::Document> golden;
  ASSERT_TRUE(ReadJsonLines(golden_path, &golden, &error))
      << error << "\nThe golden file is missing: generate it on a machine with the reference "
      << "`tokenizers` package:\n  python3 scripts/gpu/make-tokenizer-goldens.py --corpus "
      << corpus_path << " --tokenizer " << name << "=" << DataDir() << "/tokenizers/" << name
      << "/tokenizer.json --out-dir " << data;
  ASSERT_FALSE(golden.empty()) << golden_path << " is empty";
  ASSERT_TRUE(golden[0].HasMember("meta") && golden[0]["meta"].IsObject())
      << golden_path << ": the first line must be {\"meta\": {...}}";
  const rapidjson::Value& meta = golden[0]["meta"];
  ASSERT_TRUE(meta.HasMember("corpus_sha256") && meta["corpus_sha256"].IsString())
      << golden_path << ": the meta line has no corpus_sha256";
  ASSERT_EQ(Str(meta["corpus_sha256"]), Sha256Hex(ReadAll(corpus_path)))
      << golden_path << " was made from a different corpus: regenerate the goldens";
  if (meta.HasMember("entries") && meta["entries"].IsUint()) {
    EXPECT_EQ(meta["entries"].GetUint(), corpus.size());
  }
  ASSERT_EQ(golden.size() - 1, corpus.size())
      << golden_path << " and " << corpus_path << " have different entry counts";

  auto loaded = Tokenizer::Load(DataDir() + "/tokenizers/" + name);
  ASSERT_TRUE(loaded.ok()) << loaded.status().ToString() << " (run scripts/fetch-tokenizers.sh)";
  const Tokenizer& tok = **loaded;
  if (meta.HasMember("vocab_size") && meta["vocab_size"].IsUint()) {
    EXPECT_EQ(tok.vocabulary().size(), meta["vocab_size"].GetUint());
  }

  int encode_mismatches = 0;
  int decode_mismatches = 0;
  constexpr int kShown = 10;
  for (size_t i = 0; i < corpus.size(); ++i) {
    const rapidjson::Document& g = golden[i + 1];
    ASSERT_TRUE(g.HasMember("name") && g["name"].IsString() && g.HasMember("ids") &&
                g["ids"].IsArray() && g.HasMember("decoded") && g["decoded"].IsString())
        << golden_path << ": line " << i + 2 << " is not {\"name\", \"ids\", \"decoded\"}";
    ASSERT_EQ(Str(g["name"]), corpus[i].name)
        << golden_path << ": entry " << i << " is out of step with the corpus";
    std::vector<int32_t> expected;
    for (const rapidjson::Value& id : g["ids"].GetArray()) expected.push_back(id.GetInt());
    const std::vector<int32_t> got = tok.Encode(corpus[i].text);
    if (got != expected && ++encode_mismatches <= kShown) {
      ADD_FAILURE() << name << " " << corpus[i].name << ": Encode differs\n  text: \""
                    << corpus[i].text << "\"\n  sieve:     " << Show(got)
                    << "\n  reference: " << Show(expected);
    }
    const std::string decoded = tok.Decode(expected);
    if (decoded != Str(g["decoded"]) && ++decode_mismatches <= kShown) {
      ADD_FAILURE() << name << " " << corpus[i].name << ": Decode differs\n  sieve:     \""
                    << decoded << "\"\n  reference: \"" << Str(g["decoded"]) << "\"";
    }
  }
  EXPECT_EQ(encode_mismatches, 0) << "of " << corpus.size() << " corpus entries";
  EXPECT_EQ(decode_mismatches, 0) << "of " << corpus.size() << " corpus entries";
}

INSTANTIATE_TEST_SUITE_P(RealTokenizers, TokenizerGoldenTest,
                         ::testing::Values("llama3", "deepseek_v3", "qwen3"),
                         [](const ::testing::TestParamInfo<const char*>& info) {
                           return std::string(info.param);
                         });

}  // namespace
}  // namespace sieve
