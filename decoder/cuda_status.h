// CUDA and cuBLAS failures as sieve Status values (code kCuda), and a RAII device allocation.
//
// The decoder never aborts on a CUDA error: every runtime call's result goes through
// CudaStatus(), which names the operation and the CUDA error ("upload weights: cudaMemcpyAsync:
// out of memory (cudaErrorMemoryAllocation)"), and the caller returns it. Sessions that see one
// keep it (they are poisoned; see gpu_model.h), since a failed kernel can leave device state
// half-written.
#ifndef SIEVE_DECODER_CUDA_STATUS_H_
#define SIEVE_DECODER_CUDA_STATUS_H_

#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <cstddef>
#include <string>
#include <utility>

#include "grammar/support/status.h"

namespace sieve {

inline Status CudaStatus(cudaError_t e, const std::string& what) {
  if (e == cudaSuccess) return Status::Ok();
  return Status(StatusCode::kCuda,
                what + ": " + cudaGetErrorString(e) + " (" + cudaGetErrorName(e) + ")");
}

inline Status CublasStatus(cublasStatus_t s, const std::string& what) {
  if (s == CUBLAS_STATUS_SUCCESS) return Status::Ok();
  return Status(StatusCode::kCuda, what + ": cuBLAS status " + std::to_string(static_cast<int>(s)));
}

// One cudaMalloc'd block, freed on destruction. Move-only.
class DeviceAllocation {
 public:
  DeviceAllocation() = default;
  DeviceAllocation(DeviceAllocation&& o) noexcept
      : ptr_(std::exchange(o.ptr_, nullptr)), bytes_(std::exchange(o.bytes_, 0)) {}
  DeviceAllocation& operator=(DeviceAllocation&& o) noexcept {
    if (this != &o) {
      Reset();
      ptr_ = std::exchange(o.ptr_, nullptr);
      bytes_ = std::exchange(o.bytes_, 0);
    }
    return *this;
  }
  DeviceAllocation(const DeviceAllocation&) = delete;
  DeviceAllocation& operator=(const DeviceAllocation&) = delete;
  ~DeviceAllocation() { Reset(); }

  // Allocates `bytes` (at least 1); `what` names the allocation in the error.
  Status Allocate(size_t bytes, const std::string& what) {
    Reset();
    void* p = nullptr;
    SIEVE_RETURN_IF_ERROR(CudaStatus(cudaMalloc(&p, bytes ? bytes : 1),
                                     "cudaMalloc " + std::to_string(bytes) + " bytes for " + what));
    ptr_ = p;
    bytes_ = bytes;
    return Status::Ok();
  }
  void Reset() {
    if (ptr_) cudaFree(ptr_);
    ptr_ = nullptr;
    bytes_ = 0;
  }
  void* get() const { return ptr_; }
  size_t bytes() const { return bytes_; }
  template <typename T>
  T* at(size_t byte_offset) const {
    return reinterpret_cast<T*>(static_cast<char*>(ptr_) + byte_offset);
  }

 private:
  void* ptr_ = nullptr;
  size_t bytes_ = 0;
};

}  // namespace sieve

#endif  // SIEVE_DECODER_CUDA_STATUS_H_
