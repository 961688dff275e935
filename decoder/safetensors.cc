// Safetensors reader and writer; the format and the reader's invariants are described in
// safetensors.h. Every check below happens before any tensor is handed out.
#include "decoder/safetensors.h"

#include <fcntl.h>
#include <rapidjson/document.h>
#include <rapidjson/error/en.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <utility>

namespace sieve {
namespace {

namespace fs = std::filesystem;

// Element sizes of every dtype the safetensors format defines. Only BF16/F16/F32 are computed with;
// the others are recognised so that a valid file is reported as unsupported, not as malformed.
int64_t KnownDTypeSize(std::string_view name) {
  static const std::pair<const char*, int64_t> kTable[] = {
      {"BOOL", 1}, {"U8", 1},  {"I8", 1},  {"F8_E5M2", 1}, {"F8_E4M3", 1}, {"F8_E8M0", 1},
      {"I16", 2},  {"U16", 2}, {"F16", 2}, {"BF16", 2},    {"I32", 4},     {"U32", 4},
      {"F32", 4},  {"F64", 8}, {"I64", 8}, {"U64", 8},     {"C64", 8}};
  for (const auto& [n, size] : kTable) {
    if (name == n) return size;
  }
  return 0;
}

std::string Quote(const std::string& s) { return "\"" + s + "\""; }

Status Bad(const std::string& path, const std::string& what) {
  return FormatError(path + ": " + what);
}

Status BadTensor(const std::string& path, const std::string& tensor, const std::string& what) {
  return FormatError(path + ": tensor " + Quote(tensor) + ": " + what);
}

bool IsNonNegativeInteger(const rapidjson::Value& v) { return v.IsUint64(); }

Result<std::string> ReadWholeFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) return IoError(p.string() + ": cannot open");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) return IoError(p.string() + ": read failed");
  return text;
}

}  // namespace

uint64_t TensorInfo::numel() const {
  uint64_t n = 1;
  for (int64_t d : shape) n *= static_cast<uint64_t>(d);
  return n;
}

std::string ShapeString(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ", ";
    s += std::to_string(shape[i]);
  }
  return s + "]";
}

// ---- reader --------------------------------------------------------------------------

Result<std::vector<TensorInfo>> SafetensorsFile::ParseHeader(
    const uint8_t* bytes, uint64_t size, const std::string& path,
    std::map<std::string, std::string>* metadata, uint64_t* data_start) {
  if (size < 8) {
    return Bad(path, "file is " + std::to_string(size) +
                         " bytes, too short for the 8-byte header length (truncated?)");
  }
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | bytes[i];
  if (n > size - 8) {
    return Bad(path, "header length " + std::to_string(n) + " exceeds the " +
                         std::to_string(size - 8) + " bytes after it (truncated or corrupt file)");
  }
  if (n > kMaxSafetensorsHeaderBytes) {
    return Bad(path, "header length " + std::to_string(n) + " exceeds the format's limit of " +
                         std::to_string(kMaxSafetensorsHeaderBytes) + " bytes");
  }
  const uint64_t data_size = size - 8 - n;
  rapidjson::Document doc;
  doc.Parse<rapidjson::kParseValidateEncodingFlag>(reinterpret_cast<const char*>(bytes + 8), n);
  if (doc.HasParseError()) {
    return Bad(path, std::string("header is not valid JSON: ") +
                         rapidjson::GetParseError_En(doc.GetParseError()) + " at header byte " +
                         std::to_string(doc.GetErrorOffset()))
        .WithOffset(static_cast<int64_t>(8 + doc.GetErrorOffset()));
  }
  if (!doc.IsObject()) return Bad(path, "header must be a JSON object");

  std::vector<TensorInfo> infos;
  std::set<std::string> seen;
  std::string unsupported;  // first tensor of a valid but uncomputed dtype
  std::string unsupported_dtype;
  for (auto it = doc.MemberBegin(); it != doc.MemberEnd(); ++it) {
    std::string name(it->name.GetString(), it->name.GetStringLength());
    if (!seen.insert(name).second) return Bad(path, "key " + Quote(name) + " appears twice");
    const rapidjson::Value& v = it->value;
    if (name == "__metadata__") {
      if (v.IsNull()) continue;
      if (!v.IsObject()) return Bad(path, "__metadata__ must be an object of strings");
      for (auto m = v.MemberBegin(); m != v.MemberEnd(); ++m) {
        if (!m->value.IsString()) {
          return Bad(path, "__metadata__ value " + Quote(m->name.GetString()) + " is not a string");
        }
        if (metadata) {
          (*metadata)[std::string(m->name.GetString(), m->name.GetStringLength())] =
              std::string(m->value.GetString(), m->value.GetStringLength());
        }
      }
      continue;
    }
    if (!v.IsObject()) return BadTensor(path, name, "entry must be an object");
    auto dt = v.FindMember("dtype");
    auto sh = v.FindMember("shape");
    auto off = v.FindMember("data_offsets");
    if (dt == v.MemberEnd() || !dt->value.IsString()) {
      return BadTensor(path, name, "\"dtype\" is missing or not a string");
    }
    if (sh == v.MemberEnd() || !sh->value.IsArray()) {
      return BadTensor(path, name, "\"shape\" is missing or not an array");
    }
    if (off == v.MemberEnd() || !off->value.IsArray() || off->value.Size() != 2) {
      return BadTensor(path, name, "\"data_offsets\" must be an array of two integers");
    }
    std::string dtype_name(dt->value.GetString(), dt->value.GetStringLength());
    const int64_t elem = KnownDTypeSize(dtype_name);
    if (dtype_name == "F4" || dtype_name == "F6_E2M3" || dtype_name == "F6_E3M2") {
      // Sub-byte types: valid safetensors, but sized in bits; nothing here computes with them.
      return Unsupported(path + ": tensor " + Quote(name) + " has dtype " + dtype_name +
                         " (supported: BF16, F16, F32)");
    }
    if (elem == 0) return BadTensor(path, name, "unknown dtype " + Quote(dtype_name));

    TensorInfo info;
    info.name = name;
    uint64_t numel = 1;
    for (const auto& d : sh->value.GetArray()) {
      if (d.IsInt64() && d.GetInt64() < 0) {
        return BadTensor(path, name, "negative dimension " + std::to_string(d.GetInt64()));
      }
      if (!IsNonNegativeInteger(d) || d.GetUint64() > static_cast<uint64_t>(INT64_MAX)) {
        return BadTensor(path, name, "shape entries must be non-negative integers");
      }
      info.shape.push_back(static_cast<int64_t>(d.GetUint64()));
      if (__builtin_mul_overflow(numel, d.GetUint64(), &numel)) {
        return BadTensor(path, name, "element count of shape overflows 64 bits");
      }
    }
    uint64_t nbytes = 0;
    if (__builtin_mul_overflow(numel, static_cast<uint64_t>(elem), &nbytes)) {
      return BadTensor(path, name, "byte size of shape overflows 64 bits");
    }
    const auto& o = off->value;
    if (!IsNonNegativeInteger(o[0]) || !IsNonNegativeInteger(o[1])) {
      return BadTensor(path, name, "data_offsets must be non-negative integers");
    }
    info.begin = o[0].GetUint64();
    info.end = o[1].GetUint64();
    if (info.begin > info.end) {
      return BadTensor(path, name,
                       "data_offsets [" + std::to_string(info.begin) + ", " +
                           std::to_string(info.end) + ") are reversed");
    }
    if (info.end > data_size) {
      return BadTensor(path, name,
                       "data_offsets end " + std::to_string(info.end) + " lies beyond the " +
                           std::to_string(data_size) + "-byte data region (truncated file?)");
    }
    if (info.end - info.begin != nbytes) {
      return BadTensor(path, name,
                       "data_offsets span " + std::to_string(info.end - info.begin) +
                           " bytes but shape " + ShapeString(info.shape) + " x " + dtype_name +
                           " needs " + std::to_string(nbytes));
    }
    auto supported = DTypeFromName(dtype_name);
    if (supported) {
      info.dtype = *supported;
    } else if (unsupported.empty()) {
      unsupported = name;
      unsupported_dtype = dtype_name;
    }
    infos.push_back(std::move(info));
  }

  // The tensors must tile the data region: sorted by offset, each starts where the previous ended.
  std::sort(infos.begin(), infos.end(), [](const TensorInfo& a, const TensorInfo& b) {
    return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
  });
  uint64_t cursor = 0;
  const TensorInfo* prev = nullptr;
  for (const TensorInfo& t : infos) {
    if (t.begin < cursor) {
      return BadTensor(path, t.name,
                       "bytes [" + std::to_string(t.begin) + ", " + std::to_string(t.end) +
                           ") overlap tensor " + Quote(prev->name) + " [" +
                           std::to_string(prev->begin) + ", " + std::to_string(prev->end) + ")");
    }
    if (t.begin > cursor) {
      return BadTensor(path, t.name,
                       "data bytes [" + std::to_string(cursor) + ", " + std::to_string(t.begin) +
                           ") before it belong to no tensor");
    }
    cursor = t.end;
    prev = &t;
  }
  if (cursor != data_size) {
    return Bad(path, "data bytes [" + std::to_string(cursor) + ", " + std::to_string(data_size) +
                         ") after the last tensor belong to no tensor");
  }
  if (!unsupported.empty()) {
    return Unsupported(path + ": tensor " + Quote(unsupported) + " has dtype " + unsupported_dtype +
                       " (supported: BF16, F16, F32)");
  }
  *data_start = 8 + n;
  return infos;
}

Result<SafetensorsFile> SafetensorsFile::Open(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return IoError(path + ": cannot open: " + std::strerror(errno));
  struct stat st;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return IoError(path + ": not a regular file");
  }
  const uint64_t size = static_cast<uint64_t>(st.st_size);
  SafetensorsFile f;
  f.path_ = path;
  f.size_ = size;
  if (size > 0) {
    void* p = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
      int err = errno;
      ::close(fd);
      return IoError(path + ": mmap failed: " + std::strerror(err));
    }
    f.base_ = static_cast<const uint8_t*>(p);
  }
  ::close(fd);
  static const uint8_t kEmpty[1] = {0};
  auto infos = ParseHeader(f.base_ ? f.base_ : kEmpty, size, path, &f.metadata_, &f.data_start_);
  if (!infos.ok()) return infos.status();  // f's destructor unmaps
  f.tensors_ = std::move(infos).value();
  for (size_t i = 0; i < f.tensors_.size(); ++i) f.by_name_.emplace(f.tensors_[i].name, i);
  return f;
}

SafetensorsFile::SafetensorsFile(SafetensorsFile&& o) noexcept { *this = std::move(o); }

SafetensorsFile& SafetensorsFile::operator=(SafetensorsFile&& o) noexcept {
  if (this != &o) {
    Release();
    path_ = std::move(o.path_);
    base_ = std::exchange(o.base_, nullptr);
    size_ = std::exchange(o.size_, 0);
    data_start_ = o.data_start_;
    tensors_ = std::move(o.tensors_);
    by_name_ = std::move(o.by_name_);
    metadata_ = std::move(o.metadata_);
  }
  return *this;
}

SafetensorsFile::~SafetensorsFile() { Release(); }

void SafetensorsFile::Release() {
  if (base_) ::munmap(const_cast<uint8_t*>(base_), size_);
  base_ = nullptr;
}

const TensorInfo* SafetensorsFile::Find(std::string_view name) const {
  auto it = by_name_.find(std::string(name));
  return it == by_name_.end() ? nullptr : &tensors_[it->second];
}

// ---- checkpoint folders --------------------------------------------------------------

Result<SafetensorsCheckpoint> SafetensorsCheckpoint::Open(const std::string& folder) {
  std::error_code ec;
  fs::path dir(folder);
  if (!fs::is_directory(dir, ec)) return IoError(folder + ": not a directory");
  SafetensorsCheckpoint ck;
  const fs::path index_path = dir / "model.safetensors.index.json";
  std::map<std::string, std::string> weight_map;  // tensor -> shard
  std::vector<fs::path> shards;
  const bool indexed = fs::exists(index_path, ec);
  if (indexed) {
    SIEVE_ASSIGN_OR_RETURN(std::string text, ReadWholeFile(index_path));
    const std::string ip = index_path.string();
    rapidjson::Document doc;
    doc.Parse<rapidjson::kParseValidateEncodingFlag>(text.data(), text.size());
    if (doc.HasParseError()) {
      return Bad(ip,
                 std::string("invalid JSON: ") + rapidjson::GetParseError_En(doc.GetParseError()))
          .WithOffset(static_cast<int64_t>(doc.GetErrorOffset()));
    }
    if (!doc.IsObject()) return Bad(ip, "top level must be a JSON object");
    auto wm = doc.FindMember("weight_map");
    if (wm == doc.MemberEnd() || !wm->value.IsObject()) {
      return Bad(ip, "\"weight_map\" is missing or not an object");
    }
    std::set<std::string> shard_names;
    for (auto m = wm->value.MemberBegin(); m != wm->value.MemberEnd(); ++m) {
      std::string tensor(m->name.GetString(), m->name.GetStringLength());
      if (!m->value.IsString()) return Bad(ip, "weight_map[" + Quote(tensor) + "] is not a string");
      std::string shard(m->value.GetString(), m->value.GetStringLength());
      // A shard must be a plain file name in the folder: no directories, no escaping it.
      if (shard.empty() || shard == "." || shard == ".." || shard.find('/') != std::string::npos ||
          shard.find('\\') != std::string::npos) {
        return Bad(ip, "weight_map[" + Quote(tensor) + "] = " + Quote(shard) +
                           " is not a file name inside the folder");
      }
      if (!weight_map.emplace(tensor, shard).second) {
        return Bad(ip, "weight_map names tensor " + Quote(tensor) + " twice");
      }
      shard_names.insert(shard);
    }
    for (const auto& s : shard_names) shards.push_back(dir / s);
  } else if (fs::exists(dir / "model.safetensors", ec)) {
    shards.push_back(dir / "model.safetensors");
  } else {
    for (const auto& e : fs::directory_iterator(dir, ec)) {
      if (e.path().extension() == ".safetensors") shards.push_back(e.path());
    }
    std::sort(shards.begin(), shards.end());
    if (shards.empty()) return IoError(folder + ": no *.safetensors files");
  }

  for (const fs::path& p : shards) {
    SIEVE_ASSIGN_OR_RETURN(SafetensorsFile f, SafetensorsFile::Open(p.string()));
    ck.files_.push_back(std::make_unique<SafetensorsFile>(std::move(f)));
    const SafetensorsFile* file = ck.files_.back().get();
    const std::string shard = p.filename().string();
    for (const TensorInfo& t : file->tensors()) {
      if (indexed) {
        auto it = weight_map.find(t.name);
        if (it == weight_map.end()) {
          return Bad(p.string(),
                     "tensor " + Quote(t.name) + " is not listed in model.safetensors.index.json");
        }
        if (it->second != shard) {
          return Bad(p.string(), "tensor " + Quote(t.name) + " is mapped to " + Quote(it->second) +
                                     " by the index, not to this shard");
        }
      }
      auto [it, inserted] = ck.entries_.emplace(t.name, Entry{file, &t});
      if (!inserted) {
        return Bad(p.string(),
                   "tensor " + Quote(t.name) + " also appears in " + it->second.file->path());
      }
    }
  }
  for (const auto& [tensor, shard] : weight_map) {
    if (!ck.entries_.count(tensor)) {
      return Bad((dir / shard).string(),
                 "tensor " + Quote(tensor) + " named by the index is not in this shard");
    }
  }
  return ck;
}

SafetensorsCheckpoint::Entry SafetensorsCheckpoint::Find(std::string_view name) const {
  auto it = entries_.find(std::string(name));
  return it == entries_.end() ? Entry{nullptr, nullptr} : it->second;
}

std::vector<std::string> SafetensorsCheckpoint::Names() const {
  std::vector<std::string> names;
  names.reserve(entries_.size());
  for (const auto& [name, e] : entries_) names.push_back(name);
  std::sort(names.begin(), names.end());
  return names;
}

// ---- writer --------------------------------------------------------------------------

SafetensorsWriter::~SafetensorsWriter() {
  if (out_) {  // never finished: do not leave a truncated file that looks like a checkpoint
    std::fclose(out_);
    std::remove(path_.c_str());
  }
}

Status SafetensorsWriter::Add(const std::string& name, DType dtype,
                              const std::vector<int64_t>& shape) {
  if (out_) return InvalidArgument("SafetensorsWriter: Add after Begin");
  if (name.empty() || name == "__metadata__") {
    return InvalidArgument("SafetensorsWriter: invalid tensor name " + Quote(name));
  }
  if (by_name_.count(name)) return InvalidArgument("SafetensorsWriter: duplicate tensor " + name);
  uint64_t n = DTypeSize(dtype);
  for (int64_t d : shape) {
    if (d < 0 || __builtin_mul_overflow(n, static_cast<uint64_t>(d), &n)) {
      return InvalidArgument("SafetensorsWriter: bad shape " + ShapeString(shape) + " for " + name);
    }
  }
  TensorInfo t;
  t.name = name;
  t.dtype = dtype;
  t.shape = shape;
  t.begin = data_size_;
  t.end = data_size_ + n;
  data_size_ = t.end;
  by_name_.emplace(name, tensors_.size());
  tensors_.push_back(std::move(t));
  return Status::Ok();
}

std::string SafetensorsWriter::Header() const {
  rapidjson::StringBuffer sb;
  rapidjson::Writer<rapidjson::StringBuffer> w(sb);
  w.StartObject();
  w.Key("__metadata__");
  w.StartObject();
  for (const auto& [k, v] : metadata_) {
    w.Key(k.c_str(), static_cast<rapidjson::SizeType>(k.size()));
    w.String(v.c_str(), static_cast<rapidjson::SizeType>(v.size()));
  }
  w.EndObject();
  for (const TensorInfo& t : tensors_) {
    w.Key(t.name.c_str(), static_cast<rapidjson::SizeType>(t.name.size()));
    w.StartObject();
    w.Key("dtype");
    w.String(DTypeName(t.dtype));
    w.Key("shape");
    w.StartArray();
    for (int64_t d : t.shape) w.Int64(d);
    w.EndArray();
    w.Key("data_offsets");
    w.StartArray();
    w.Uint64(t.begin);
    w.Uint64(t.end);
    w.EndArray();
    w.EndObject();
  }
  w.EndObject();
  std::string h(sb.GetString(), sb.GetSize());
  while ((8 + h.size()) % 8 != 0) h.push_back(' ');
  return h;
}

uint64_t SafetensorsWriter::FileSize() const { return 8 + Header().size() + data_size_; }

Status SafetensorsWriter::Begin(const std::string& path) {
  if (out_) return InvalidArgument("SafetensorsWriter: Begin called twice");
  path_ = path;
  out_ = std::fopen(path.c_str(), "wb");
  if (!out_) return IoError(path + ": cannot create: " + std::strerror(errno));
  std::setvbuf(out_, nullptr, _IOFBF, 1 << 20);
  const std::string h = Header();
  uint8_t len[8];
  for (int i = 0; i < 8; ++i)
    len[i] = static_cast<uint8_t>(static_cast<uint64_t>(h.size()) >> (8 * i));
  if (std::fwrite(len, 1, 8, out_) != 8 || std::fwrite(h.data(), 1, h.size(), out_) != h.size()) {
    return IoError(path + ": write failed: " + std::strerror(errno));
  }
  written_ = 0;
  return Status::Ok();
}

Status SafetensorsWriter::Write(const void* bytes, uint64_t n) {
  if (!out_) return InvalidArgument("SafetensorsWriter: Write before Begin");
  if (n > data_size_ - written_) {
    return InvalidArgument(path_ + ": writing " + std::to_string(n) + " bytes past the declared " +
                           std::to_string(data_size_) + "-byte data region");
  }
  if (n > 0 && std::fwrite(bytes, 1, n, out_) != n) {
    return IoError(path_ + ": write failed: " + std::strerror(errno));
  }
  written_ += n;
  return Status::Ok();
}

Status SafetensorsWriter::WriteF32(const float* values, uint64_t n) {
  if (!out_) return InvalidArgument("SafetensorsWriter: Write before Begin");
  if (n == 0) return Status::Ok();
  // The tensor the next byte belongs to (tensors are contiguous and in order).
  auto it = std::upper_bound(tensors_.begin(), tensors_.end(), written_,
                             [](uint64_t off, const TensorInfo& t) { return off < t.end; });
  if (it == tensors_.end()) return InvalidArgument(path_ + ": WriteF32 past the last tensor");
  const uint64_t bytes = n * DTypeSize(it->dtype);
  if (bytes > it->end - written_) {
    return InvalidArgument(path_ + ": WriteF32 of " + std::to_string(n) +
                           " values crosses the end of tensor " + it->name);
  }
  scratch_.resize(bytes);
  ConvertFromF32(it->dtype, values, n, scratch_.data());
  return Write(scratch_.data(), bytes);
}

Status SafetensorsWriter::Finish() {
  if (!out_) return InvalidArgument("SafetensorsWriter: Finish before Begin");
  if (written_ != data_size_) {
    return InvalidArgument(path_ + ": only " + std::to_string(written_) + " of " +
                           std::to_string(data_size_) + " data bytes were written");
  }
  std::FILE* f = std::exchange(out_, nullptr);
  if (std::fflush(f) != 0 || std::ferror(f)) {
    std::fclose(f);
    return IoError(path_ + ": write failed: " + std::strerror(errno));
  }
  if (std::fclose(f) != 0) return IoError(path_ + ": close failed: " + std::strerror(errno));
  return Status::Ok();
}

Status WriteSafetensors(const std::string& path, const std::vector<TensorData>& tensors) {
  SafetensorsWriter w;
  for (const TensorData& t : tensors) SIEVE_RETURN_IF_ERROR(w.Add(t.name, t.dtype, t.shape));
  for (size_t i = 0; i < tensors.size(); ++i) {
    if (tensors[i].bytes.size() != w.tensors()[i].nbytes()) {
      return InvalidArgument(path + ": tensor " + tensors[i].name + " has " +
                             std::to_string(tensors[i].bytes.size()) + " bytes, shape needs " +
                             std::to_string(w.tensors()[i].nbytes()));
    }
  }
  SIEVE_RETURN_IF_ERROR(w.Begin(path));
  for (const TensorData& t : tensors)
    SIEVE_RETURN_IF_ERROR(w.Write(t.bytes.data(), t.bytes.size()));
  return w.Finish();
}

}  // namespace sieve
