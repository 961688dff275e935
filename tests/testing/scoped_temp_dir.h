// ScopedTempDir: a fresh, uniquely named folder under the system temp dir, removed with its
// contents when the object dies. Tests that write files (safetensors, model folders) use one each
// so parallel CTest runs never share paths.
#ifndef SIEVE_TESTS_TESTING_SCOPED_TEMP_DIR_H_
#define SIEVE_TESTS_TESTING_SCOPED_TEMP_DIR_H_

#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <string>

namespace sieve::testing {

class ScopedTempDir {
 public:
  ScopedTempDir() {
    static std::atomic<uint64_t> counter{0};
    namespace fs = std::filesystem;
    for (;;) {
      path_ = fs::temp_directory_path() /
              ("sieve-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
      std::error_code ec;
      if (fs::create_directory(path_, ec)) break;
    }
  }
  ~ScopedTempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  ScopedTempDir(const ScopedTempDir&) = delete;
  ScopedTempDir& operator=(const ScopedTempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  // path()/name as a string.
  std::string File(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

}  // namespace sieve::testing

#endif  // SIEVE_TESTS_TESTING_SCOPED_TEMP_DIR_H_
