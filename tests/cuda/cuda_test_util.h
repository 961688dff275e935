// Helpers for the kernel tests: device detection (tests GTEST_SKIP without a device), a RAII
// device buffer, bf16 host conversion (decoder/dtype.h rounding, to nearest even) and an
// element-wise comparison that requires every element to be finite where the reference is, within
// atol + rtol * |ref|, and that names the first failing index.
#ifndef SIEVE_TESTS_CUDA_CUDA_TEST_UTIL_H_
#define SIEVE_TESTS_CUDA_CUDA_TEST_UTIL_H_

#include <cuda_bf16.h>
#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "decoder/dtype.h"

namespace sieve::cuda::testing {

inline bool HaveDevice() {
  int n = 0;
  return cudaGetDeviceCount(&n) == cudaSuccess && n > 0;
}

inline __nv_bfloat16 ToBf16(float f) {
  __nv_bfloat16_raw raw;
  raw.x = F32ToBf16(f);
  return __nv_bfloat16(raw);
}

inline float FromBf16(__nv_bfloat16 b) {
  const __nv_bfloat16_raw raw(b);
  return Bf16ToF32(raw.x);
}

// Rounds through bf16, so host references see exactly the values the device reads.
inline float RoundBf16(float f) { return FromBf16(ToBf16(f)); }

inline std::vector<__nv_bfloat16> ToBf16(const std::vector<float>& v) {
  std::vector<__nv_bfloat16> out(v.size());
  for (size_t i = 0; i < v.size(); ++i) out[i] = ToBf16(v[i]);
  return out;
}

inline std::vector<float> FromBf16(const std::vector<__nv_bfloat16>& v) {
  std::vector<float> out(v.size());
  for (size_t i = 0; i < v.size(); ++i) out[i] = FromBf16(v[i]);
  return out;
}

// Values rounded to bf16 (so device and host read the same numbers).
inline std::vector<float> RandomBf16Values(size_t n, float stddev, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, stddev);
  std::vector<float> v(n);
  for (float& x : v) x = RoundBf16(dist(rng));
  return v;
}

template <typename T>
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  explicit DeviceBuffer(size_t n) { Allocate(n); }
  explicit DeviceBuffer(const std::vector<T>& host) {
    Allocate(host.size());
    if (ptr_ && !host.empty()) {
      ok_ = cudaMemcpy(ptr_, host.data(), host.size() * sizeof(T), cudaMemcpyHostToDevice) ==
            cudaSuccess;
    }
  }
  ~DeviceBuffer() {
    if (ptr_) cudaFree(ptr_);
  }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;

  T* get() const { return ptr_; }
  bool ok() const { return ok_; }
  size_t size() const { return n_; }
  // Fills every byte with `byte` (0xff makes fp32 and bf16 NaN: poison for "was it written").
  bool Poison(int byte = 0xff) { return cudaMemset(ptr_, byte, n_ * sizeof(T)) == cudaSuccess; }
  // Copies `host` (exactly size() elements) into the buffer.
  bool Upload(const std::vector<T>& host) {
    return host.size() == n_ &&
           (n_ == 0 ||
            cudaMemcpy(ptr_, host.data(), n_ * sizeof(T), cudaMemcpyHostToDevice) == cudaSuccess);
  }
  std::vector<T> Download() const {
    std::vector<T> host(n_);
    if (n_ &&
        cudaMemcpy(host.data(), ptr_, n_ * sizeof(T), cudaMemcpyDeviceToHost) != cudaSuccess) {
      host.clear();
    }
    return host;
  }

 private:
  void Allocate(size_t n) {
    n_ = n;
    ok_ = cudaMalloc(&ptr_, std::max<size_t>(n, 1) * sizeof(T)) == cudaSuccess;
    if (!ok_) ptr_ = nullptr;
  }
  T* ptr_ = nullptr;
  size_t n_ = 0;
  bool ok_ = false;
};

// The same size and the same bytes (bit-for-bit comparisons: NaN payloads and signed zeros
// count).
template <typename T>
bool SameBits(const std::vector<T>& a, const std::vector<T>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0;
}

// Expects `launch` to refuse, with cudaErrorInvalidValue, a copy of the accepted params `p`
// changed by `edit`; `what` names the case in a failure.
template <typename Params, typename Launch, typename Edit>
void ExpectRefused(const Params& p, const Launch& launch, const char* what, const Edit& edit) {
  Params q = p;
  edit(q);
  EXPECT_EQ(launch(q), cudaErrorInvalidValue) << what;
}

// Every element: finite exactly where `want` is, and |got - want| <= atol + rtol |want|.
inline ::testing::AssertionResult AllClose(const std::vector<float>& got,
                                           const std::vector<float>& want, double atol,
                                           double rtol) {
  if (got.size() != want.size()) {
    return ::testing::AssertionFailure() << "size " << got.size() << " != expected " << want.size();
  }
  for (size_t i = 0; i < got.size(); ++i) {
    const bool fg = std::isfinite(got[i]), fw = std::isfinite(want[i]);
    const bool ok = fw ? fg && std::fabs(static_cast<double>(got[i]) - want[i]) <=
                                   atol + rtol * std::fabs(static_cast<double>(want[i]))
                       : (std::isnan(want[i]) ? std::isnan(got[i]) : got[i] == want[i]);
    if (!ok) {
      return ::testing::AssertionFailure()
             << "index " << i << ": got " << got[i] << ", expected " << want[i];
    }
  }
  return ::testing::AssertionSuccess();
}

}  // namespace sieve::cuda::testing

#endif  // SIEVE_TESTS_CUDA_CUDA_TEST_UTIL_H_
