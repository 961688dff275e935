// LatentKvCache: MLA's paged latent KV cache in device memory, with its page table.
//
// Per token and layer the cache holds LatentCacheDim() = kv_lora_rank + qk_rope_head_dim bf16
// values [c | k_pe] (576 = 1152 bytes for V2-Lite; 31,104 bytes per token over 27 layers). Each
// layer has its own pool [num_pages, kMlaPageSize, width] inside one allocation; the PageTable
// (page_table.h) maps every sequence's positions to slots, identically for all layers. The
// kernels that write and read it are cuda/attention/latent_cache.h and mla_decode.h.
//
// Capacity: either a token count (rounded up to whole pages) or a byte budget, by default 90% of
// the device's free memory at creation, so a caller that loads the weights first and then makes
// the cache gets the most tokens that fit. CapacityReport() says how many tokens that is.
#ifndef SIEVE_DECODER_KV_CACHE_H_
#define SIEVE_DECODER_KV_CACHE_H_

#include <cuda_bf16.h>

#include <cstdint>
#include <memory>
#include <string>

#include "decoder/cuda_status.h"
#include "decoder/model_config.h"
#include "decoder/page_table.h"
#include "grammar/support/status.h"

namespace sieve {

struct KvCacheOptions {
  int64_t tokens = 0;      // capacity in tokens (rounded up to pages); 0 = fill max_bytes
  uint64_t max_bytes = 0;  // budget when tokens == 0; 0 = 90% of free device memory
};

class LatentKvCache {
 public:
  static uint64_t BytesPerToken(const ModelConfig& c);  // all layers
  static uint64_t BytesPerPage(const ModelConfig& c);
  // Whole pages' worth of tokens that fit in `bytes`.
  static int64_t TokensThatFit(const ModelConfig& c, uint64_t bytes);

  static Result<std::unique_ptr<LatentKvCache>> Create(const ModelConfig& c,
                                                       const KvCacheOptions& options = {});

  PageTable& table() { return table_; }
  const PageTable& table() const { return table_; }
  int32_t width() const { return width_; }
  int32_t page_size() const { return table_.page_size(); }
  // Layer `l`'s pool: [num_pages, page_size, width] bf16.
  __nv_bfloat16* layer(int64_t l) const {
    return memory_.at<__nv_bfloat16>(static_cast<uint64_t>(l) * layer_bytes_);
  }
  uint64_t device_bytes() const { return memory_.bytes(); }
  // "4096 tokens (64 pages of 64) in 127.4 MB, 31104 B/token, 4032 tokens free".
  std::string CapacityReport() const;

 private:
  LatentKvCache(int32_t pages, int32_t page_size) : table_(pages, page_size) {}
  PageTable table_;
  DeviceAllocation memory_;
  int32_t width_ = 0;
  uint64_t layer_bytes_ = 0;
};

}  // namespace sieve

#endif  // SIEVE_DECODER_KV_CACHE_H_
