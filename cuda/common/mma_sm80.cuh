// Tensor-core building blocks shared by the tiled GEMM-like kernels (cuda/moe/expert_gemm.cu,
// cuda/attention/mha_prefill.cu): 16-byte cp.async copies into shared memory (zero-filled when a
// source row does not exist), ldmatrix fragment loads (plain and transposed, four 8 x 8 bf16
// matrices per warp) and the bf16 m16n8k16 mma with fp32 accumulators.
#ifndef SIEVE_CUDA_COMMON_MMA_SM80_CUH_
#define SIEVE_CUDA_COMMON_MMA_SM80_CUH_

#include <cuda_bf16.h>

#include <cstdint>

namespace sieve::cuda {

__device__ __forceinline__ uint32_t SharedAddress(const void* p) {
  return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}

// 16 bytes global -> shared (a shared-memory address), bypassing L1; zeros, no read, when !valid.
__device__ __forceinline__ void CpAsync16Zfill(uint32_t dst, const void* src, bool valid) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(dst), "l"(src),
               "r"(valid ? 16 : 0)
               : "memory");
}

__device__ __forceinline__ void LdMatrixX4(uint32_t addr, uint32_t (&r)[4]) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(addr));
}

__device__ __forceinline__ void LdMatrixX4Trans(uint32_t addr, uint32_t (&r)[4]) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(addr));
}

// c += a (16 x 16, row-major fragments) * b (16 x 8, column fragments b0, b1).
__device__ __forceinline__ void MmaBf16(float (&c)[4], const uint32_t (&a)[4], uint32_t b0,
                                       uint32_t b1) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, "
      "{%8,%9}, {%0,%1,%2,%3};\n"
      : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

}  // namespace sieve::cuda

#endif  // SIEVE_CUDA_COMMON_MMA_SM80_CUH_
