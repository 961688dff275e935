// Safetensors: our own reader (mmap) and writer (streaming) for the Hugging Face tensor file
// format.
//
// File layout: an 8-byte little-endian header length N, N bytes of JSON, then the data region. The
// JSON is an object whose keys are tensor names, each {"dtype", "shape", "data_offsets": [begin,
// end]} with offsets relative to the data region, plus an optional "__metadata__" object of string
// values.
//
// Reader invariant: nothing is exposed until the whole header has been validated against the actual
// file size. Checked: the file holds the 8 length bytes; N fits in the file and is at most 100 MB
// (the format's own limit); the JSON parses (valid UTF-8) to an object without duplicate keys;
// every tensor entry has exactly a string dtype, an array shape of non-negative integers and two
// non-negative integer offsets with begin <= end <= data size; the element count and byte size do
// not overflow; the offsets span exactly shape x dtype size bytes; and the tensors tile the data
// region exactly (no overlap, no hole, nothing after the last tensor), as the format specifies. A
// truncated file or a header that lies is a kFormat error whose message names the file and the
// tensor; a well-formed tensor of a type the decoder does not compute with (F64, I32, F8_E4M3, ...)
// is kUnsupported naming the tensor. After Open() succeeds, every TensorInfo's bytes lie inside the
// mapping, so Data() can never read out of bounds (unless another process truncates the file while
// it is mapped, which no reader can prevent).
//
// Checkpoints: SafetensorsCheckpoint opens a model folder: model.safetensors.index.json (its
// "weight_map" names a shard file, a plain name inside the folder, for every tensor; each shard
// must hold exactly the tensors mapped to it), else model.safetensors, else every *.safetensors
// file in the folder. A tensor name that appears twice is an error.
//
// Writer: tensors are declared first (name, dtype, shape), then the header is written and the data
// is streamed in declaration order, so a 31 GB checkpoint never has to sit in memory. The header is
// padded with spaces to a multiple of 8 bytes (as the reference implementation does) so every
// tensor starts 8-byte aligned, and carries __metadata__ {"format": "pt"}, which transformers
// requires.
#ifndef SIEVE_DECODER_SAFETENSORS_H_
#define SIEVE_DECODER_SAFETENSORS_H_

#include <cstdint>
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "decoder/dtype.h"
#include "grammar/support/status.h"

namespace sieve {

// Largest header the reader accepts (the safetensors format's own limit).
inline constexpr uint64_t kMaxSafetensorsHeaderBytes = 100'000'000;

struct TensorInfo {
  std::string name;
  DType dtype = DType::kF32;
  std::vector<int64_t> shape;
  uint64_t begin = 0;  // byte offsets into the data region
  uint64_t end = 0;

  uint64_t numel() const;
  uint64_t nbytes() const { return end - begin; }
};

// "[3, 4]" style rendering for error messages.
std::string ShapeString(const std::vector<int64_t>& shape);

// One safetensors file, memory-mapped read-only. Move-only; unmaps on destruction.
class SafetensorsFile {
 public:
  static Result<SafetensorsFile> Open(const std::string& path);
  // Validates a header against an in-memory file image (used by Open; exposed for tests). `bytes`
  // is the whole file; the returned infos are sorted by offset.
  static Result<std::vector<TensorInfo>> ParseHeader(const uint8_t* bytes, uint64_t size,
                                                     const std::string& path,
                                                     std::map<std::string, std::string>* metadata,
                                                     uint64_t* data_start);

  SafetensorsFile(SafetensorsFile&& other) noexcept;
  SafetensorsFile& operator=(SafetensorsFile&& other) noexcept;
  SafetensorsFile(const SafetensorsFile&) = delete;
  SafetensorsFile& operator=(const SafetensorsFile&) = delete;
  ~SafetensorsFile();

  const std::string& path() const { return path_; }
  uint64_t file_size() const { return size_; }
  // Tensors in data-offset order.
  const std::vector<TensorInfo>& tensors() const { return tensors_; }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  // nullptr when absent.
  const TensorInfo* Find(std::string_view name) const;
  // The tensor's bytes (nbytes() of them; no alignment promised).
  const uint8_t* Data(const TensorInfo& info) const { return base_ + data_start_ + info.begin; }

 private:
  SafetensorsFile() = default;
  void Release();

  std::string path_;
  const uint8_t* base_ = nullptr;  // mmap of the whole file
  uint64_t size_ = 0;
  uint64_t data_start_ = 0;
  std::vector<TensorInfo> tensors_;
  std::unordered_map<std::string, size_t> by_name_;
  std::map<std::string, std::string> metadata_;
};

// A model folder's tensors, over one or many files.
class SafetensorsCheckpoint {
 public:
  static Result<SafetensorsCheckpoint> Open(const std::string& folder);

  struct Entry {
    const SafetensorsFile* file;
    const TensorInfo* info;
  };
  // nullptr-filled Entry when absent.
  Entry Find(std::string_view name) const;
  // Every tensor name, sorted.
  std::vector<std::string> Names() const;
  const std::vector<std::unique_ptr<SafetensorsFile>>& files() const { return files_; }

 private:
  std::vector<std::unique_ptr<SafetensorsFile>> files_;
  std::unordered_map<std::string, Entry> entries_;
};

// Streaming writer. Usage: Add() every tensor, Begin(path), then Write() the bytes of the tensors
// in the order they were added (any chunking), then Finish(). SizeOnly users call FileSize() after
// the Add()s and never touch the disk.
class SafetensorsWriter {
 public:
  SafetensorsWriter() = default;
  SafetensorsWriter(const SafetensorsWriter&) = delete;
  SafetensorsWriter& operator=(const SafetensorsWriter&) = delete;
  ~SafetensorsWriter();

  Status Add(const std::string& name, DType dtype, const std::vector<int64_t>& shape);
  void SetMetadata(const std::string& key, const std::string& value) { metadata_[key] = value; }

  // Size of the file the declared tensors make (header included).
  uint64_t FileSize() const;
  uint64_t DataSize() const { return data_size_; }
  const std::vector<TensorInfo>& tensors() const { return tensors_; }

  Status Begin(const std::string& path);
  Status Write(const void* bytes, uint64_t n);
  // Converts fp32 values to the dtype of the tensor being written and appends them. All values of
  // one call must belong to the same tensor.
  Status WriteF32(const float* values, uint64_t n);
  Status Finish();

 private:
  std::string Header() const;

  std::vector<TensorInfo> tensors_;
  std::unordered_map<std::string, size_t> by_name_;
  std::map<std::string, std::string> metadata_{{"format", "pt"}};
  uint64_t data_size_ = 0;
  std::string path_;
  std::FILE* out_ = nullptr;
  uint64_t written_ = 0;
  std::vector<uint8_t> scratch_;
};

// A tensor held in memory, for small files and tests.
struct TensorData {
  std::string name;
  DType dtype = DType::kF32;
  std::vector<int64_t> shape;
  std::vector<uint8_t> bytes;
};
// Writes `tensors` (in the given order) to `path`.
Status WriteSafetensors(const std::string& path, const std::vector<TensorData>& tensors);

}  // namespace sieve

#endif  // SIEVE_DECODER_SAFETENSORS_H_
