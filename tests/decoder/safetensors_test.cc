// Safetensors reader/writer: round trips, sharded folders, and every malformed-file case the reader
// must turn into an error (naming file and tensor) instead of an out-of-bounds read.
#include "decoder/safetensors.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "tests/testing/scoped_temp_dir.h"

namespace sieve {
namespace {

using ::sieve::testing::ScopedTempDir;

std::vector<uint8_t> Pattern(size_t n, uint8_t seed) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>(seed + 7 * i);
  return v;
}

// Writes an 8-byte length (the header's, unless `claimed_len` >= 0), the header and `data`.
void WriteRaw(const std::string& path, const std::string& header, const std::vector<uint8_t>& data,
              int64_t claimed_len = -1) {
  std::ofstream out(path, std::ios::binary);
  uint64_t n = claimed_len >= 0 ? static_cast<uint64_t>(claimed_len) : header.size();
  for (int i = 0; i < 8; ++i) out.put(static_cast<char>((n >> (8 * i)) & 0xff));
  out << header;
  out.write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size()));
}

std::vector<uint8_t> ReadBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<uint8_t>((std::istreambuf_iterator<char>(in)),
                              std::istreambuf_iterator<char>());
}

// Opens `path`, expects failure with `code` and every string of `needles` in the message.
void ExpectOpenError(const std::string& path, StatusCode code,
                     const std::vector<std::string>& needles) {
  auto f = SafetensorsFile::Open(path);
  ASSERT_FALSE(f.ok()) << "opened a malformed file";
  EXPECT_EQ(f.status().code(), code) << f.status().ToString();
  for (const std::string& n : needles) {
    EXPECT_NE(f.status().message().find(n), std::string::npos)
        << "message lacks \"" << n << "\": " << f.status().message();
  }
}

TEST(Safetensors, WriterOutputReadsBackWithSameNamesShapesDtypesAndBytes) {
  ScopedTempDir dir;
  std::vector<TensorData> tensors = {
      {"a.weight", DType::kBF16, {3, 5}, Pattern(30, 1)},
      {"b.bias", DType::kF32, {7}, Pattern(28, 2)},
      {"c.half", DType::kF16, {2, 2, 2}, Pattern(16, 3)},
      {"empty", DType::kF32, {0, 4}, {}},
      {"scalar", DType::kF32, {}, Pattern(4, 4)},
  };
  const std::string path = dir.File("t.safetensors");
  ASSERT_TRUE(WriteSafetensors(path, tensors).ok());
  auto f = SafetensorsFile::Open(path);
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  EXPECT_EQ(f->tensors().size(), tensors.size());
  EXPECT_EQ(f->metadata().at("format"), "pt");
  for (const TensorData& t : tensors) {
    const TensorInfo* info = f->Find(t.name);
    ASSERT_NE(info, nullptr) << t.name;
    EXPECT_EQ(info->dtype, t.dtype);
    EXPECT_EQ(info->shape, t.shape);
    ASSERT_EQ(info->nbytes(), t.bytes.size());
    EXPECT_EQ(std::vector<uint8_t>(f->Data(*info), f->Data(*info) + info->nbytes()), t.bytes);
  }
  EXPECT_EQ(f->Find("nope"), nullptr);
  // The header is padded so the data region (and the first tensor) is 8-byte aligned.
  EXPECT_EQ((f->Data(*f->Find("a.weight")) - f->Data(f->tensors()[0])) % 8, 0);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(f->Data(f->tensors()[0])) % 8, 0u);
}

TEST(Safetensors, StreamingChunkedWritesProduceTheSameFileAsOneShotWrites) {
  ScopedTempDir dir;
  std::vector<TensorData> tensors = {{"x", DType::kBF16, {100}, Pattern(200, 9)},
                                     {"y", DType::kF32, {10, 3}, Pattern(120, 5)}};
  ASSERT_TRUE(WriteSafetensors(dir.File("one.safetensors"), tensors).ok());
  SafetensorsWriter w;
  ASSERT_TRUE(w.Add("x", DType::kBF16, {100}).ok());
  ASSERT_TRUE(w.Add("y", DType::kF32, {10, 3}).ok());
  ASSERT_TRUE(w.Begin(dir.File("chunked.safetensors")).ok());
  std::vector<uint8_t> all = tensors[0].bytes;
  all.insert(all.end(), tensors[1].bytes.begin(), tensors[1].bytes.end());
  for (size_t i = 0; i < all.size(); i += 37) {
    ASSERT_TRUE(w.Write(all.data() + i, std::min<size_t>(37, all.size() - i)).ok());
  }
  ASSERT_TRUE(w.Finish().ok());
  EXPECT_EQ(ReadBytes(dir.File("one.safetensors")), ReadBytes(dir.File("chunked.safetensors")));
  EXPECT_EQ(w.FileSize(), ReadBytes(dir.File("one.safetensors")).size());
}

TEST(Safetensors, WriteF32ConvertsToEachTensorsDtype) {
  ScopedTempDir dir;
  SafetensorsWriter w;
  ASSERT_TRUE(w.Add("b", DType::kBF16, {2}).ok());
  ASSERT_TRUE(w.Add("f", DType::kF32, {2}).ok());
  ASSERT_TRUE(w.Begin(dir.File("c.safetensors")).ok());
  const float bv[2] = {1.00390625f, -3.5f};  // 1 + 2^-8 is a bf16 tie: rounds to 1.0
  const float fv[2] = {0.1f, 2.5f};
  ASSERT_TRUE(w.WriteF32(bv, 2).ok());
  EXPECT_FALSE(w.WriteF32(fv, 3).ok()) << "crossed the end of tensor f";
  ASSERT_TRUE(w.WriteF32(fv, 2).ok());
  ASSERT_TRUE(w.Finish().ok());
  auto f = SafetensorsFile::Open(dir.File("c.safetensors"));
  ASSERT_TRUE(f.ok());
  float out[2];
  ConvertToF32(DType::kBF16, f->Data(*f->Find("b")), 2, out);
  EXPECT_EQ(out[0], 1.0f);
  EXPECT_EQ(out[1], -3.5f);
  ConvertToF32(DType::kF32, f->Data(*f->Find("f")), 2, out);
  EXPECT_EQ(out[0], 0.1f);
}

TEST(Safetensors, WriterRejectsOverrunsShortFilesAndBadDeclarations) {
  ScopedTempDir dir;
  {
    SafetensorsWriter w;
    EXPECT_FALSE(w.Add("", DType::kF32, {1}).ok());
    EXPECT_FALSE(w.Add("__metadata__", DType::kF32, {1}).ok());
    EXPECT_FALSE(w.Add("neg", DType::kF32, {-1}).ok());
    ASSERT_TRUE(w.Add("t", DType::kF32, {2}).ok());
    EXPECT_FALSE(w.Add("t", DType::kF32, {2}).ok()) << "duplicate name";
    ASSERT_TRUE(w.Begin(dir.File("short.safetensors")).ok());
    const uint8_t bytes[12] = {};
    EXPECT_FALSE(w.Write(bytes, 12).ok()) << "12 bytes into an 8-byte region";
    ASSERT_TRUE(w.Write(bytes, 4).ok());
    EXPECT_FALSE(w.Finish().ok()) << "4 of 8 bytes written";
  }
  {
    SafetensorsWriter w;
    ASSERT_TRUE(w.Add("t", DType::kF32, {2}).ok());
    ASSERT_TRUE(w.Begin(dir.File("abandoned.safetensors")).ok());
  }  // destroyed without Finish: the partial file is removed
  EXPECT_FALSE(std::filesystem::exists(dir.File("abandoned.safetensors")));
}

TEST(Safetensors, FileShorterThanTheLengthFieldIsAFormatErrorNamingTheFile) {
  ScopedTempDir dir;
  const std::string p = dir.File("tiny.safetensors");
  std::ofstream(p, std::ios::binary) << "abc";
  ExpectOpenError(p, StatusCode::kFormat, {p, "too short"});
  std::ofstream(dir.File("empty.safetensors"), std::ios::binary).flush();
  ExpectOpenError(dir.File("empty.safetensors"), StatusCode::kFormat, {"empty.safetensors"});
}

TEST(Safetensors, HeaderLengthBeyondTheFileIsAFormatError) {
  ScopedTempDir dir;
  const std::string p = dir.File("h.safetensors");
  WriteRaw(p, "{}", {}, /*claimed_len=*/1000);
  ExpectOpenError(p, StatusCode::kFormat, {p, "header length 1000"});
  WriteRaw(p, "{}", {}, /*claimed_len=*/int64_t{1} << 62);
  ExpectOpenError(p, StatusCode::kFormat, {p, "header length"});
}

TEST(Safetensors, TruncatedDataRegionIsAFormatErrorNamingTheTensor) {
  ScopedTempDir dir;
  const std::string p = dir.File("t.safetensors");
  ASSERT_TRUE(WriteSafetensors(p, {{"first", DType::kF32, {4}, Pattern(16, 1)},
                                   {"second", DType::kF32, {4}, Pattern(16, 2)}})
                  .ok());
  std::vector<uint8_t> bytes = ReadBytes(p);
  bytes.resize(bytes.size() - 5);
  std::ofstream(p, std::ios::binary | std::ios::trunc)
      .write(reinterpret_cast<const char*>(bytes.data()),
             static_cast<std::streamsize>(bytes.size()));
  ExpectOpenError(p, StatusCode::kFormat, {p, "\"second\"", "beyond"});
}

TEST(Safetensors, EveryTruncationOfAValidFileIsRejectedWithoutReadingPastIt) {
  ScopedTempDir dir;
  const std::string good = dir.File("good.safetensors");
  ASSERT_TRUE(WriteSafetensors(good, {{"a", DType::kBF16, {3}, Pattern(6, 1)},
                                      {"b", DType::kF32, {2}, Pattern(8, 2)}})
                  .ok());
  const std::vector<uint8_t> bytes = ReadBytes(good);
  const std::string p = dir.File("cut.safetensors");
  for (size_t len = 0; len < bytes.size(); ++len) {
    std::ofstream(p, std::ios::binary | std::ios::trunc)
        .write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(len));
    auto f = SafetensorsFile::Open(p);
    ASSERT_FALSE(f.ok()) << "accepted a file cut to " << len << " bytes";
    EXPECT_EQ(f.status().code(), StatusCode::kFormat) << len;
  }
}

TEST(Safetensors, CorruptedHeaderBytesNeverExposeATensorOutsideTheFile) {
  ScopedTempDir dir;
  const std::string good = dir.File("good.safetensors");
  ASSERT_TRUE(WriteSafetensors(good, {{"a", DType::kBF16, {3, 2}, Pattern(12, 1)},
                                      {"b", DType::kF32, {2}, Pattern(8, 2)}})
                  .ok());
  const std::vector<uint8_t> bytes = ReadBytes(good);
  std::mt19937 rng(3);
  const std::string p = dir.File("bad.safetensors");
  int accepted = 0;
  for (int trial = 0; trial < 500; ++trial) {
    std::vector<uint8_t> b = bytes;
    const size_t header_end = 8 + (b[0] | (b[1] << 8));
    for (int k = 0; k < 2; ++k) {
      b[rng() % header_end] = static_cast<uint8_t>("0123456789[]{},\":-x"[rng() % 19]);
    }
    std::ofstream(p, std::ios::binary | std::ios::trunc)
        .write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
    auto f = SafetensorsFile::Open(p);
    if (!f.ok()) continue;
    ++accepted;
    uint64_t header_len = 0;
    for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | b[i];
    const uint64_t data_size = b.size() - 8 - header_len;
    for (const TensorInfo& t : f->tensors()) {
      ASSERT_LE(t.end, data_size) << t.name;
      ASSERT_EQ(t.nbytes(), t.numel() * DTypeSize(t.dtype)) << t.name;
    }
  }
  EXPECT_LT(accepted, 500);
}

TEST(Safetensors, OffsetsBeyondTheDataRegionAreAFormatErrorNamingTheTensor) {
  ScopedTempDir dir;
  const std::string p = dir.File("o.safetensors");
  WriteRaw(p, R"({"w":{"dtype":"F32","shape":[25],"data_offsets":[0,100]}})", Pattern(16, 0));
  ExpectOpenError(p, StatusCode::kFormat, {p, "\"w\"", "beyond"});
}

TEST(Safetensors, OverlappingTensorsAreAFormatErrorNamingBoth) {
  ScopedTempDir dir;
  const std::string p = dir.File("ov.safetensors");
  WriteRaw(p,
           R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},)"
           R"("b":{"dtype":"F32","shape":[4],"data_offsets":[8,24]}})",
           Pattern(24, 0));
  ExpectOpenError(p, StatusCode::kFormat, {p, "\"b\"", "overlap", "\"a\""});
}

TEST(Safetensors, GapsAndTrailingBytesInTheDataRegionAreFormatErrors) {
  ScopedTempDir dir;
  const std::string p = dir.File("gap.safetensors");
  WriteRaw(p,
           R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
           R"("b":{"dtype":"F32","shape":[2],"data_offsets":[16,24]}})",
           Pattern(24, 0));
  ExpectOpenError(p, StatusCode::kFormat, {p, "\"b\"", "belong to no tensor"});
  WriteRaw(p, R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", Pattern(12, 0));
  ExpectOpenError(p, StatusCode::kFormat, {p, "after the last tensor"});
}

TEST(Safetensors, ShapeThatDisagreesWithOffsetsIsAFormatErrorNamingTheTensor) {
  ScopedTempDir dir;
  const std::string p = dir.File("s.safetensors");
  WriteRaw(p, R"({"m.w":{"dtype":"BF16","shape":[3,3],"data_offsets":[0,16]}})", Pattern(16, 0));
  ExpectOpenError(p, StatusCode::kFormat, {p, "\"m.w\"", "[3, 3]", "needs 18"});
}

TEST(Safetensors, InvalidJsonHeaderIsAFormatErrorWithItsOffset) {
  ScopedTempDir dir;
  const std::string p = dir.File("j.safetensors");
  WriteRaw(p, R"({"a": {"dtype": "F32", )", {});
  auto f = SafetensorsFile::Open(p);
  ASSERT_FALSE(f.ok());
  EXPECT_EQ(f.status().code(), StatusCode::kFormat);
  EXPECT_NE(f.status().message().find("not valid JSON"), std::string::npos);
  EXPECT_NE(f.status().message().find(p), std::string::npos);
  EXPECT_GE(f.status().offset(), 8);
  WriteRaw(p, "[1, 2]", {});
  ExpectOpenError(p, StatusCode::kFormat, {"JSON object"});
  WriteRaw(p, "{\"\xff\": 1}", {});
  ExpectOpenError(p, StatusCode::kFormat, {"not valid JSON"});
}

TEST(Safetensors, UnknownDtypeIsAFormatErrorAndUnsupportedDtypeIsUnsupported) {
  ScopedTempDir dir;
  const std::string p = dir.File("d.safetensors");
  WriteRaw(p, R"({"q":{"dtype":"Q7","shape":[2],"data_offsets":[0,2]}})", Pattern(2, 0));
  ExpectOpenError(p, StatusCode::kFormat, {p, "\"q\"", "unknown dtype \"Q7\""});
  WriteRaw(p, R"({"d":{"dtype":"F64","shape":[2],"data_offsets":[0,16]}})", Pattern(16, 0));
  ExpectOpenError(p, StatusCode::kUnsupported, {p, "\"d\"", "F64"});
  WriteRaw(p, R"({"f4":{"dtype":"F4","shape":[2],"data_offsets":[0,1]}})", Pattern(1, 0));
  ExpectOpenError(p, StatusCode::kUnsupported, {p, "\"f4\"", "F4"});
  // A structural error elsewhere wins over an unsupported dtype: the file is broken either way.
  WriteRaw(p, R"({"d":{"dtype":"I32","shape":[2],"data_offsets":[0,16]}})", Pattern(16, 0));
  ExpectOpenError(p, StatusCode::kFormat, {"\"d\"", "needs 8"});
}

TEST(Safetensors, NegativeOrNonIntegerDimensionsAndReversedOffsetsAreFormatErrors) {
  ScopedTempDir dir;
  const std::string p = dir.File("n.safetensors");
  WriteRaw(p, R"({"n":{"dtype":"F32","shape":[-1,4],"data_offsets":[0,0]}})", {});
  ExpectOpenError(p, StatusCode::kFormat, {"\"n\"", "negative dimension -1"});
  WriteRaw(p, R"({"n":{"dtype":"F32","shape":[1.5],"data_offsets":[0,0]}})", {});
  ExpectOpenError(p, StatusCode::kFormat, {"\"n\"", "non-negative integers"});
  WriteRaw(p, R"({"n":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}})", Pattern(4, 0));
  ExpectOpenError(p, StatusCode::kFormat, {"\"n\"", "reversed"});
  WriteRaw(p, R"({"n":{"dtype":"F32","shape":[1],"data_offsets":[0]}})", Pattern(4, 0));
  ExpectOpenError(p, StatusCode::kFormat, {"\"n\"", "data_offsets"});
  WriteRaw(p, R"({"n":{"dtype":"F32","data_offsets":[0,4]}})", Pattern(4, 0));
  ExpectOpenError(p, StatusCode::kFormat, {"\"n\"", "shape"});
}

TEST(Safetensors, ShapesWhoseSizeOverflowsAreFormatErrors) {
  ScopedTempDir dir;
  const std::string p = dir.File("big.safetensors");
  WriteRaw(p, R"({"o":{"dtype":"F32","shape":[4294967296,4294967296,2],"data_offsets":[0,0]}})",
           {});
  ExpectOpenError(p, StatusCode::kFormat, {"\"o\"", "overflows"});
  WriteRaw(p, R"({"o":{"dtype":"F32","shape":[4611686018427387904,2],"data_offsets":[0,0]}})", {});
  ExpectOpenError(p, StatusCode::kFormat, {"\"o\"", "overflows"});
}

TEST(Safetensors, DuplicateKeysAndBadMetadataAreFormatErrors) {
  ScopedTempDir dir;
  const std::string p = dir.File("dup.safetensors");
  WriteRaw(p,
           R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
           R"("a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
           Pattern(8, 0));
  ExpectOpenError(p, StatusCode::kFormat, {"\"a\"", "twice"});
  WriteRaw(p, R"({"__metadata__":{"format":3}})", {});
  ExpectOpenError(p, StatusCode::kFormat, {"__metadata__"});
}

// ---- folders -------------------------------------------------------------------------

void WriteIndex(const ScopedTempDir& dir, const std::string& weight_map) {
  std::ofstream(dir.File("model.safetensors.index.json"))
      << R"({"metadata": {"total_size": 0}, "weight_map": )" << weight_map << "}";
}

TEST(SafetensorsCheckpoint, ShardedFolderResolvesEveryTensorToItsShard) {
  ScopedTempDir dir;
  ASSERT_TRUE(
      WriteSafetensors(dir.File("s1.safetensors"), {{"a", DType::kF32, {1}, Pattern(4, 1)}}).ok());
  ASSERT_TRUE(WriteSafetensors(
                  dir.File("s2.safetensors"),
                  {{"b", DType::kF32, {2}, Pattern(8, 2)}, {"c", DType::kBF16, {2}, Pattern(4, 3)}})
                  .ok());
  WriteIndex(dir, R"({"a": "s1.safetensors", "b": "s2.safetensors", "c": "s2.safetensors"})");
  auto ck = SafetensorsCheckpoint::Open(dir.path().string());
  ASSERT_TRUE(ck.ok()) << ck.status().ToString();
  EXPECT_EQ(ck->Names(), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(ck->files().size(), 2u);
  auto c = ck->Find("c");
  ASSERT_NE(c.info, nullptr);
  EXPECT_NE(c.file->path().find("s2.safetensors"), std::string::npos);
  EXPECT_EQ(c.file->Data(*c.info)[0], 3);
  EXPECT_EQ(ck->Find("zzz").info, nullptr);
}

TEST(SafetensorsCheckpoint, IndexAndShardsThatDisagreeAreFormatErrorsNamingTheTensor) {
  ScopedTempDir dir;
  ASSERT_TRUE(
      WriteSafetensors(dir.File("s1.safetensors"), {{"a", DType::kF32, {1}, Pattern(4, 1)},
                                                    {"extra", DType::kF32, {1}, Pattern(4, 1)}})
          .ok());
  WriteIndex(dir, R"({"a": "s1.safetensors"})");
  auto ck = SafetensorsCheckpoint::Open(dir.path().string());
  ASSERT_FALSE(ck.ok());
  EXPECT_EQ(ck.status().code(), StatusCode::kFormat);
  EXPECT_NE(ck.status().message().find("\"extra\""), std::string::npos) << ck.status().message();

  WriteIndex(dir,
             R"({"a": "s1.safetensors", "extra": "s1.safetensors", "ghost": "s1.safetensors"})");
  ck = SafetensorsCheckpoint::Open(dir.path().string());
  ASSERT_FALSE(ck.ok());
  EXPECT_NE(ck.status().message().find("\"ghost\""), std::string::npos) << ck.status().message();

  WriteIndex(dir, R"({"a": "../s1.safetensors", "extra": "s1.safetensors"})");
  ck = SafetensorsCheckpoint::Open(dir.path().string());
  ASSERT_FALSE(ck.ok());
  EXPECT_NE(ck.status().message().find("not a file name inside the folder"), std::string::npos);

  WriteIndex(dir, R"({"a": "missing.safetensors", "extra": "s1.safetensors"})");
  ck = SafetensorsCheckpoint::Open(dir.path().string());
  ASSERT_FALSE(ck.ok());
  EXPECT_EQ(ck.status().code(), StatusCode::kIo);
  EXPECT_NE(ck.status().message().find("missing.safetensors"), std::string::npos);
}

TEST(SafetensorsCheckpoint, UnindexedFilesWithTheSameTensorTwiceAreRejected) {
  ScopedTempDir dir;
  ASSERT_TRUE(
      WriteSafetensors(dir.File("x.safetensors"), {{"a", DType::kF32, {1}, Pattern(4, 1)}}).ok());
  ASSERT_TRUE(
      WriteSafetensors(dir.File("y.safetensors"), {{"a", DType::kF32, {1}, Pattern(4, 1)}}).ok());
  auto ck = SafetensorsCheckpoint::Open(dir.path().string());
  ASSERT_FALSE(ck.ok());
  EXPECT_NE(ck.status().message().find("\"a\" also appears in"), std::string::npos);
}

TEST(SafetensorsCheckpoint, FolderWithoutSafetensorsIsAnIoError) {
  ScopedTempDir dir;
  auto ck = SafetensorsCheckpoint::Open(dir.path().string());
  ASSERT_FALSE(ck.ok());
  EXPECT_EQ(ck.status().code(), StatusCode::kIo);
  EXPECT_FALSE(SafetensorsCheckpoint::Open(dir.File("no-such-dir")).ok());
}

}  // namespace
}  // namespace sieve
