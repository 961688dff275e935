// Byte-level reading and writing for grammar images (grammar_serialize.h), shared by the stages
// that put their own state in an image: the grammar IR (grammar_serialize.cc), the automaton
// (pda_serialize.cc) and the token-mask cache (mask_cache_serialize.cc). Not a public header.
//
// Everything is little-endian. Arrays of integers are a u64 element count followed by the raw
// elements (read with one memcpy on little-endian hosts: what makes loading an image much faster
// than compiling). ImageReader never trusts the bytes: every read is bounds-checked, an array's
// count is checked against the bytes left before anything is allocated, and every failure is
// kFormat naming what was wrong and its byte offset in the whole image.
#ifndef SIEVE_GRAMMAR_IMAGE_IO_H_
#define SIEVE_GRAMMAR_IMAGE_IO_H_

#include <bit>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "grammar/support/status.h"

namespace sieve {

static_assert(std::endian::native == std::endian::little,
              "grammar images are read and written with memcpy: little-endian hosts only");

class CompiledGrammar;
class TokenMaskCache;
class TokenizerInfo;

class ImageWriter {
 public:
  void U8(uint8_t v) { out_.push_back(static_cast<char>(v)); }
  void U16(uint16_t v) { Raw(&v, 2); }
  void U32(uint32_t v) { Raw(&v, 4); }
  void U64(uint64_t v) { Raw(&v, 8); }
  void I32(int32_t v) { U32(static_cast<uint32_t>(v)); }
  void I64(int64_t v) { U64(static_cast<uint64_t>(v)); }
  void F64(double v) { Raw(&v, 8); }
  void Str(std::string_view s) {
    U32(static_cast<uint32_t>(s.size()));
    out_.append(s);
  }
  template <typename T>
  void Array(const std::vector<T>& v) {
    static_assert(std::is_integral_v<T>);
    U64(v.size());
    Raw(v.data(), v.size() * sizeof(T));
  }
  void Raw(const void* p, size_t n) { out_.append(static_cast<const char*>(p), n); }
  std::string& out() { return out_; }
  size_t size() const { return out_.size(); }

 private:
  std::string out_;
};

class ImageReader {
 public:
  // `data` starts at byte `base` of the whole image (for error offsets).
  ImageReader(std::string_view data, size_t base) : data_(data), base_(base) {}

  Status Fail(const std::string& what) const { return FailAt(what, pos_); }
  Status FailAt(const std::string& what, size_t pos) const {
    return FormatError("grammar image: " + what + " at byte " + std::to_string(base_ + pos))
        .WithOffset(static_cast<int64_t>(base_ + pos));
  }
  bool Need(size_t n) const { return data_.size() - pos_ >= n; }
  size_t pos() const { return pos_; }
  size_t left() const { return data_.size() - pos_; }
  bool AtEnd() const { return pos_ == data_.size(); }

  Result<uint8_t> U8() {
    if (!Need(1)) return Fail("truncated");
    return static_cast<uint8_t>(data_[pos_++]);
  }
  Result<uint16_t> U16() { return Fixed<uint16_t>(); }
  Result<uint32_t> U32() { return Fixed<uint32_t>(); }
  Result<uint64_t> U64() { return Fixed<uint64_t>(); }
  Result<int32_t> I32() { return Fixed<int32_t>(); }
  Result<int64_t> I64() { return Fixed<int64_t>(); }
  Result<double> F64() { return Fixed<double>(); }
  Result<std::string> Str() {
    SIEVE_ASSIGN_OR_RETURN(uint32_t n, U32());
    if (!Need(n)) return Fail("string of " + std::to_string(n) + " bytes runs past the end");
    std::string s(data_.substr(pos_, n));
    pos_ += n;
    return s;
  }
  // An integer array written by ImageWriter::Array; `what` names it in errors.
  template <typename T>
  Status Array(std::vector<T>* out, const char* what) {
    static_assert(std::is_integral_v<T>);
    const size_t at = pos_;
    SIEVE_ASSIGN_OR_RETURN(uint64_t n, U64());
    if (n > left() / sizeof(T)) {
      return FailAt(std::string(what) + ": " + std::to_string(n) + " elements run past the end",
                    at);
    }
    out->resize(static_cast<size_t>(n));
    if (n > 0) std::memcpy(out->data(), data_.data() + pos_, static_cast<size_t>(n) * sizeof(T));
    pos_ += static_cast<size_t>(n) * sizeof(T);
    return Status();
  }
  // A count of records of at least `min_bytes` each, checked against the bytes left.
  Result<uint64_t> Count(size_t min_bytes, const char* what) {
    const size_t at = pos_;
    SIEVE_ASSIGN_OR_RETURN(uint64_t n, U64());
    if (min_bytes > 0 && n > left() / min_bytes) {
      return FailAt(std::string(what) + ": count " + std::to_string(n) + " exceeds the data", at);
    }
    return n;
  }
  // The next n bytes as a view (for a nested section); advances past them.
  Result<std::string_view> Bytes(size_t n) {
    if (!Need(n)) return Fail("section of " + std::to_string(n) + " bytes runs past the end");
    std::string_view v = data_.substr(pos_, n);
    pos_ += n;
    return v;
  }
  size_t base() const { return base_; }

 private:
  template <typename T>
  Result<T> Fixed() {
    if (!Need(sizeof(T))) return Fail("truncated");
    T v;
    std::memcpy(&v, data_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }

  std::string_view data_;
  size_t base_;
  size_t pos_ = 0;
};

// The automaton (pda_serialize.cc). Reading checks every state, edge, rule and table index against
// the sizes read, so the matcher can never index out of bounds, whatever the bytes.
void WriteCompiledGrammar(const CompiledGrammar& g, ImageWriter* w);
Result<std::shared_ptr<const CompiledGrammar>> ReadCompiledGrammar(ImageReader* r);

// The token-mask cache of `grammar` for `info`'s vocabulary (mask_cache_serialize.cc). Reading
// checks every set, list, trie and table reference, and every token id against the vocabulary;
// what the cache derives from the grammar and vocabulary alone is recomputed, not read.
void WriteTokenMaskCache(const TokenMaskCache& c, ImageWriter* w);
Result<std::shared_ptr<const TokenMaskCache>> ReadTokenMaskCache(
    ImageReader* r, std::shared_ptr<const CompiledGrammar> grammar,
    std::shared_ptr<const TokenizerInfo> info);

}  // namespace sieve

#endif  // SIEVE_GRAMMAR_IMAGE_IO_H_
