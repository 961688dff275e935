// PDL timeline trace, host side (issue 7, session 8, second round). Only built with the
// compile-time switch SIEVE_PDL_TRACE (a separate build directory: the production build has no
// trace code at all, pdl.cuh). With it, thread 0 of every block of every kernel that calls
// PdlWait / PdlLaunchDependents (or opens SIEVE_PDL_TRACE_SCOPE) appends a Record with
// %globaltimer to a device buffer: block entry, the trigger (before PdlLaunchDependents), PdlWait
// returning (its predecessor grid completed) and block exit (thread 0's). Records of one launch
// share %gridid. scripts/gpu/pdl-trace.py turns a dump into a per-kernel timeline.
//
// Each translation unit compiled by nvcc without -rdc owns its own copy of the device pointer,
// so every .cu file that includes pdl_trace.cuh registers an installer here at static
// initialisation, and Install() sets all of them.
#ifndef SIEVE_CUDA_COMMON_PDL_TRACE_H_
#define SIEVE_CUDA_COMMON_PDL_TRACE_H_

#include <cuda_runtime.h>

#include <cstdint>
#include <vector>

namespace sieve::cuda::pdl_trace {

// kStage0..3: points inside a kernel's own phases (fused_routing.cu's last block, say).
enum Event : uint16_t {
  kEnter = 0,
  kTrigger = 1,
  kWaited = 2,
  kExit = 3,
  kStage0 = 4,
  kStage1 = 5,
  kStage2 = 6,
  kStage3 = 7,
};

// Kernel tags (SIEVE_PDL_TRACE_SCOPE's argument; 0 = a kernel without a scope, known by gridid).
enum Tag : uint16_t {
  kUntagged = 0,
  kGemv = 1,
  kGemvNorm = 2,
  kQAbsorb = 3,
  kMlaSplit = 4,
  kMlaCombine = 5,
  kValueUp = 6,
  kLatentAppend = 7,
  kExpertGateUp = 8,
  kExpertDownCombine = 9,
  kExpertDown = 10,
  kExpertCombine = 11,
  kRouteFused = 12,
  kRmsNorm = 13,
  kArgmax = 14,
  kGemvRouted = 15,
};

struct Record {      // 32 bytes
  uint64_t grid;     // %gridid of the launch
  uint64_t ns;       // %globaltimer
  uint32_t block;    // linear block index
  uint32_t blocks;   // blocks in the grid
  uint16_t event;    // Event
  uint16_t tag;      // Tag (0 unless the event came from a scope)
  uint16_t sm;       // %smid
  uint16_t threads;  // threads per block
};

struct Buffer {
  Record* records = nullptr;  // [capacity] device
  uint32_t* count = nullptr;  // device; records appended (may exceed capacity: those are lost)
  uint32_t capacity = 0;
};

using Installer = cudaError_t (*)(const Buffer&);

inline std::vector<Installer>& Installers() {
  static std::vector<Installer> installers;
  return installers;
}

// Points every registered translation unit at `b` (a default Buffer turns tracing off).
inline cudaError_t Install(const Buffer& b) {
  for (Installer f : Installers()) {
    const cudaError_t e = f(b);
    if (e != cudaSuccess) return e;
  }
  return cudaSuccess;
}

}  // namespace sieve::cuda::pdl_trace

#endif  // SIEVE_CUDA_COMMON_PDL_TRACE_H_
