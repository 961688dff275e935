// Tile sizes and launch shapes of sieve's decoder kernels, in one place (FlashMLA style), so a
// tuning change is one edit and the launchers, tests and host code agree on the limits.
//
// The limits below are what the kernels hold in registers or shared memory (MLA decode: split-KV
// blocks of 8 consumer warps and a TMA producer warp per (split, row, 16 heads); experts: a
// persistent streamed-mma kernel per projection wherever the shapes allow it, CUDA-core GEMVs for
// the others; see each kernel's header), and every launcher rejects a shape that exceeds them with
// cudaErrorInvalidValue instead of computing garbage.
#ifndef SIEVE_CUDA_CONFIG_H_
#define SIEVE_CUDA_CONFIG_H_

#include <cstdint>

namespace sieve::cuda {

// Paged latent KV cache: tokens per page (FlashMLA's block size; V2-Lite: 576 bf16 per token).
inline constexpr int32_t kMlaPageSize = 64;

// MLA decode: warps per block, query heads per block (the 16 rows of an m16n8k16 tile), tokens
// per shared-memory tile, and the largest latent (kv_lora_rank) and latent + rope widths a block
// holds (kv_lora must be a multiple of 8, <= 64 per warp; kv_lora + rope a multiple of 8).
inline constexpr int32_t kMlaDecodeWarps = 8;
inline constexpr int32_t kMlaHeadsPerBlock = 16;
inline constexpr int32_t kMlaTileTokens = 64;
inline constexpr int32_t kMlaMaxLatent = 512;
inline constexpr int32_t kMlaMaxHeadDim = 640;  // kv_lora + rope (576 for V2 and V2-Lite)

// RMSNorm and latent append: threads per row.
inline constexpr int32_t kNormThreads = 256;
inline constexpr int32_t kMaxNormDim = 16384;

// RoPE: largest rotary dim (64 for V2).
inline constexpr int32_t kMaxRopeDim = 256;

// MoE routing: tokens (warps) per block, largest expert count and top-k.
inline constexpr int32_t kRoutingWarps = 4;
inline constexpr int32_t kMaxExperts = 512;
inline constexpr int32_t kMaxTopK = 16;
inline constexpr int32_t kMaxGroups = 64;

// Expert FFNs (grouped): warps per block, output rows per warp (computed together), pairs of
// one expert per pass over its weights, and the widest hidden / intermediate size the shared
// memory staging holds.
inline constexpr int32_t kExpertWarps = 8;
inline constexpr int32_t kExpertRowsPerWarp = 2;
inline constexpr int32_t kExpertRowsPerBlock = kExpertWarps * kExpertRowsPerWarp;
inline constexpr int32_t kExpertPairsPerPass = 8;
inline constexpr int32_t kExpertMaxWidth = 6144;

}  // namespace sieve::cuda

#endif  // SIEVE_CUDA_CONFIG_H_
