// Greedy token choice on the GPU: the index of the largest logit of each row.
//
// Same convention as the CPU reference (decoder/cpu_model.h Argmax) so GPU and CPU greedy
// decoding agree on exact ties: the lowest index among equal maxima wins. NaN never wins; a row
// with no comparable value (all NaN) yields 0. -inf is an ordinary value (a fully masked row
// yields index 0). The maximum itself is written too, when asked, so callers can report margins.
// One block of kArgmaxThreads per row: each thread scans a strided slice (16-byte loads, 8 in
// flight, where the row is 16-byte aligned: one SM must pull the whole row, 400 KB at vocab
// 102400, and single 4-byte loads kept ~44 us of it waiting on latency), then a warp argmax and
// a cross-warp pass through shared memory. Any split of the row gives the same answer (largest
// value, lowest index), so the path taken never changes the result.
#ifndef SIEVE_CUDA_SAMPLING_ARGMAX_H_
#define SIEVE_CUDA_SAMPLING_ARGMAX_H_

#include <cuda_runtime.h>

#include <cstdint>

namespace sieve::cuda {

inline constexpr int32_t kArgmaxThreads = 1024;

struct ArgmaxParams {
  const float* logits;    // [rows, logits_stride] fp32
  int64_t logits_stride;  // elements between rows (>= vocab)
  int32_t rows;
  int32_t vocab;       // entries per row considered
  int32_t* out_index;  // [rows] winning index
  float* out_value;    // [rows] winning value, or null
};

// Launches on `stream`; cudaErrorInvalidValue for a bad shape or null pointer; never aborts.
cudaError_t LaunchArgmax(const ArgmaxParams& p, cudaStream_t stream);

}  // namespace sieve::cuda

#endif  // SIEVE_CUDA_SAMPLING_ARGMAX_H_
