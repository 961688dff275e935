// Kernel for latent_cache.h: one block of kNormThreads per token; the RMSNorm reduction is a
// block sum, the rope pairs are spread over the first rope_dim / 2 threads (latent_append.cuh).
#include "cuda/attention/latent_append.cuh"
#include "cuda/attention/latent_cache.h"
#include "cuda/common/pdl.cuh"
#include "cuda/config.h"

namespace sieve::cuda {
namespace {

__global__ void __launch_bounds__(kNormThreads) LatentAppendKernel(LatentAppendParams p) {
  SIEVE_PDL_TRACE_SCOPE(pdl_trace::kLatentAppend);
  __shared__ float scratch[32];
  PdlLaunchDependents();
  PdlWait();  // launched with PDL: kv_a is final from here
  AppendLatentRow(p, blockIdx.x, scratch);
}

}  // namespace

cudaError_t LaunchLatentAppend(const LatentAppendParams& p, cudaStream_t stream, bool pdl) {
  if (!LatentAppendValid(p)) return cudaErrorInvalidValue;
  if (p.tokens == 0) return cudaSuccess;
  return LaunchKernel(LatentAppendKernel, dim3(p.tokens), kNormThreads, 0, stream, pdl, p);
}

}  // namespace sieve::cuda
