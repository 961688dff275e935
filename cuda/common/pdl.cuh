// Programmatic dependent launch (PDL, sm_90): a kernel launched with `pdl` may start its blocks
// while the previous kernel on the stream is still running, so its launch, block start and first
// independent loads (weights) overlap that kernel's tail instead of following its completion.
//
// The contract, for every kernel a launcher may start with `pdl`:
//   * before PdlWait a thread touches only memory no earlier kernel of the step writes (weights,
//     shared memory, registers) and writes nothing in global memory;
//   * every thread calls PdlWait before its first access to anything else, and before exiting
//     (a grid then completes only after its predecessors did, which the kernels after it rely on:
//     their own PdlWait waits for this grid alone);
//   * PdlLaunchDependents, called just before PdlWait, lets the next PDL kernel start its blocks
//     as soon as every block of this one has started: in a chain of small kernels each one's
//     blocks are placed (and request their weights) while earlier kernels still run, as far as
//     registers and shared memory allow. This cannot starve a kernel: a grid's dependents start
//     only once all of its own blocks are resident (or done). Called just after PdlWait instead
//     (a late trigger), it lets the dependents start only once everything before this kernel has
//     completed: they may then read what those kernels wrote before their own wait (the routed
//     experts' gate/up does so for the down + combine kernel, which reads the routing and
//     requests its weights early: expert_ffn.cu).
//   * a kernel whose stream has just waited for another stream's work (an event join) may be
//     launched with PDL too: its wait then also covers the other stream's kernels (eagerly the
//     join holds the launch back; in a captured graph the edge from the other stream's kernel is
//     waited for as well). tests/cuda/gemv_test.cc holds this with a slow side-stream GEMV that
//     triggers at once. The decoder's batch-1 MoE layers rely on it (the next layer's first
//     GEMV follows the join of the shared experts' down_proj: ~0.11 ms per V2-Lite step against
//     a plain launch, decoder-notes.md step 84). One earlier arrangement of this kind gave wrong
//     results with its cause not established (issue 7 session 6: the combine launched with PDL
//     after such a join); the kernels' contract above is what makes it safe, so a kernel that
//     follows a join must read nothing but weights before its wait.
// In a grid launched without PDL both are no-ops, so the same kernels serve both launches and the
// results are identical (only the start times move). CUDA graphs capture the programmatic edges.
#ifndef SIEVE_CUDA_COMMON_PDL_CUH_
#define SIEVE_CUDA_COMMON_PDL_CUH_

#include <cuda_runtime.h>

#include <utility>

// Compile-time switch for a separate build directory (-DSIEVE_PDL_TRACE in the CUDA and C++
// flags): a %globaltimer record per block at entry, trigger, wait and exit (pdl_trace.h). Without
// it the macros below are empty and the kernels are unchanged.
#if defined(SIEVE_PDL_TRACE)
#include "cuda/common/pdl_trace.cuh"
#define SIEVE_PDL_TRACE_MARK(event) ::sieve::cuda::pdl_trace::Mark(::sieve::cuda::pdl_trace::event)
#else
#define SIEVE_PDL_TRACE_SCOPE(tag)
#define SIEVE_PDL_TRACE_MARK(event)
#endif

namespace sieve::cuda {

// Waits until every grid this one depends on programmatically has completed and its memory
// operations are visible (griddepcontrol.wait); returns at once in a grid launched without PDL.
__device__ __forceinline__ void PdlWait() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.wait;\n" ::: "memory");
#endif
  SIEVE_PDL_TRACE_MARK(kWaited);
}

// Allows the next kernel on the stream, if launched with PDL, to start (once every block of this
// grid has called it or exited).
__device__ __forceinline__ void PdlLaunchDependents() {
  SIEVE_PDL_TRACE_MARK(kTrigger);
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.launch_dependents;\n" ::: "memory");
#endif
}

// The current device's multiprocessor count (launchers size persistent and one-wave grids by it).
inline cudaError_t CurrentDeviceSmCount(int* sms) {
  int device = 0;
  const cudaError_t err = cudaGetDevice(&device);
  if (err != cudaSuccess) return err;
  return cudaDeviceGetAttribute(sms, cudaDevAttrMultiProcessorCount, device);
}

// Launches `kernel` on `stream`, with programmatic stream serialisation when `pdl` (else exactly
// like <<<grid, block, smem, stream>>>). Returns the launch's error.
template <typename... Params, typename... Args>
cudaError_t LaunchKernel(void (*kernel)(Params...), dim3 grid, dim3 block, size_t smem,
                         cudaStream_t stream, bool pdl, Args&&... args) {
  cudaLaunchAttribute attr[1];
  attr[0].id = cudaLaunchAttributeProgrammaticStreamSerialization;
  attr[0].val.programmaticStreamSerializationAllowed = 1;
  cudaLaunchConfig_t cfg{};
  cfg.gridDim = grid;
  cfg.blockDim = block;
  cfg.dynamicSmemBytes = smem;
  cfg.stream = stream;
  cfg.attrs = attr;
  cfg.numAttrs = pdl ? 1 : 0;
  return cudaLaunchKernelEx(&cfg, kernel, std::forward<Args>(args)...);
}

}  // namespace sieve::cuda

#endif  // SIEVE_CUDA_COMMON_PDL_CUH_
