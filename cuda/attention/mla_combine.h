// The split-KV combine behind LaunchMlaDecode (mla_decode.h): the split kernel's normalised
// partial outputs and their lse values merged into o_lat (and lse). Internal to cuda/attention:
// callers use LaunchMlaDecode, which validates `p` and launches the split kernel first.
#ifndef SIEVE_CUDA_ATTENTION_MLA_COMBINE_H_
#define SIEVE_CUDA_ATTENTION_MLA_COMBINE_H_

#include <cuda_runtime.h>

#include "cuda/attention/mla_decode.h"

namespace sieve::cuda {

// Combines p's num_splits > 1 partials into p.out (and p.lse when set); `early`: LaunchMlaDecode's
// combine_early. Returns the launch's error.
cudaError_t LaunchMlaCombine(const MlaDecodeParams& p, cudaStream_t stream, bool pdl, bool early);

}  // namespace sieve::cuda

#endif  // SIEVE_CUDA_ATTENTION_MLA_COMBINE_H_
