// Test helpers for model folders: read every tensor of a checkpoint as fp32, edit the set (drop,
// add, reshape, scale), and write it back as a new folder with a given config.json. Used to build
// the malformed and perturbed checkpoints the loader and CPU-model tests need.
#ifndef SIEVE_TESTS_TESTING_MODEL_FOLDER_H_
#define SIEVE_TESTS_TESTING_MODEL_FOLDER_H_

#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "decoder/safetensors.h"
#include "grammar/support/status.h"

namespace sieve::testing {

struct FolderTensor {
  DType dtype = DType::kF32;
  std::vector<int64_t> shape;
  std::vector<float> values;
};
using TensorMap = std::map<std::string, FolderTensor>;

inline Result<TensorMap> ReadAllTensors(const std::string& folder) {
  SIEVE_ASSIGN_OR_RETURN(SafetensorsCheckpoint ck, SafetensorsCheckpoint::Open(folder));
  TensorMap out;
  for (const std::string& name : ck.Names()) {
    auto e = ck.Find(name);
    FolderTensor t;
    t.dtype = e.info->dtype;
    t.shape = e.info->shape;
    t.values.resize(e.info->numel());
    ConvertToF32(t.dtype, e.file->Data(*e.info), t.values.size(), t.values.data());
    out.emplace(name, std::move(t));
  }
  return out;
}

// Writes config.json (a copy of `config_from`/config.json) and one model.safetensors.
inline Status WriteModelFolder(const std::string& dir, const std::string& config_from,
                               const TensorMap& tensors) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::create_directories(dir, ec);
  fs::copy_file(fs::path(config_from) / "config.json", fs::path(dir) / "config.json",
                fs::copy_options::overwrite_existing, ec);
  if (ec) return IoError("copy config.json: " + ec.message());
  SafetensorsWriter w;
  for (const auto& [name, t] : tensors) SIEVE_RETURN_IF_ERROR(w.Add(name, t.dtype, t.shape));
  SIEVE_RETURN_IF_ERROR(w.Begin((fs::path(dir) / "model.safetensors").string()));
  for (const auto& [name, t] : tensors) {
    SIEVE_RETURN_IF_ERROR(w.WriteF32(t.values.data(), t.values.size()));
  }
  return w.Finish();
}

}  // namespace sieve::testing

#endif  // SIEVE_TESTS_TESTING_MODEL_FOLDER_H_
