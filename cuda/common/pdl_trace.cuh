// PDL timeline trace, device side: included by pdl.cuh only when SIEVE_PDL_TRACE is defined
// (pdl_trace.h says what is recorded and why). Thread (0, 0, 0) of a block writes one Record per
// event; a record costs an atomicAdd and a 32-byte store, so traced steps run slightly slower
// than untraced ones (compare the trace build's step time with the production build's).
#ifndef SIEVE_CUDA_COMMON_PDL_TRACE_CUH_
#define SIEVE_CUDA_COMMON_PDL_TRACE_CUH_

#include <cuda_runtime.h>

#include <cstdint>

#include "cuda/common/pdl_trace.h"

namespace sieve::cuda::pdl_trace {

// One copy per translation unit (whole-program compilation); set through Install().
static __device__ Buffer g_buffer;

__device__ __forceinline__ void Mark(uint16_t event, uint16_t tag = kUntagged) {
  if ((threadIdx.x | threadIdx.y | threadIdx.z) != 0) return;
  const Buffer b = g_buffer;
  if (b.records == nullptr) return;
  uint64_t ns, grid;
  uint32_t sm;
  asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(ns));
  asm volatile("mov.u64 %0, %%gridid;" : "=l"(grid));
  asm volatile("mov.u32 %0, %%smid;" : "=r"(sm));
  const uint32_t i = atomicAdd(b.count, 1u);
  if (i >= b.capacity) return;
  Record r;
  r.grid = grid;
  r.ns = ns;
  r.block = blockIdx.x + gridDim.x * (blockIdx.y + gridDim.y * blockIdx.z);
  r.blocks = gridDim.x * gridDim.y * gridDim.z;
  r.event = event;
  r.tag = tag;
  r.sm = static_cast<uint16_t>(sm);
  r.threads = static_cast<uint16_t>(blockDim.x * blockDim.y * blockDim.z);
  b.records[i] = r;
}

// Block entry at construction, thread 0's exit at destruction (every return path).
struct Scope {
  uint16_t tag;
  __device__ explicit Scope(uint16_t t) : tag(t) { Mark(kEnter, tag); }
  __device__ ~Scope() { Mark(kExit, tag); }
};

static cudaError_t InstallHere(const Buffer& b) {  // static: this TU's g_buffer
  return cudaMemcpyToSymbol(g_buffer, &b, sizeof(b));
}
// Registers this translation unit's installer (one per TU: the variable is static).
[[maybe_unused]] static const bool g_registered = (Installers().push_back(&InstallHere), true);

}  // namespace sieve::cuda::pdl_trace

// `tag`: a pdl_trace::Tag expression (written inside namespace sieve::cuda).
#define SIEVE_PDL_TRACE_SCOPE(tag) ::sieve::cuda::pdl_trace::Scope sieve_pdl_trace_scope_(tag)

#endif  // SIEVE_CUDA_COMMON_PDL_TRACE_CUH_
