// Device storage of the latent KV cache; see kv_cache.h.
#include "decoder/kv_cache.h"

#include <cstdio>

#include "cuda/config.h"

namespace sieve {

uint64_t LatentKvCache::BytesPerToken(const ModelConfig& c) {
  return static_cast<uint64_t>(c.num_hidden_layers) * c.LatentCacheDim() * 2;
}

uint64_t LatentKvCache::BytesPerPage(const ModelConfig& c) {
  return BytesPerToken(c) * cuda::kMlaPageSize;
}

int64_t LatentKvCache::TokensThatFit(const ModelConfig& c, uint64_t bytes) {
  const uint64_t per_page = BytesPerPage(c);
  return per_page ? static_cast<int64_t>(bytes / per_page) * cuda::kMlaPageSize : 0;
}

Result<std::unique_ptr<LatentKvCache>> LatentKvCache::Create(const ModelConfig& c,
                                                             const KvCacheOptions& options) {
  if (c.num_hidden_layers <= 0 || c.LatentCacheDim() <= 0) {
    return InvalidArgument("LatentKvCache: config has no layers or no latent width");
  }
  const int64_t page = cuda::kMlaPageSize;
  int64_t tokens = options.tokens;
  if (tokens < 0) return InvalidArgument("LatentKvCache: negative token capacity");
  if (tokens == 0) {
    uint64_t budget = options.max_bytes;
    if (budget == 0) {
      size_t free_bytes = 0, total_bytes = 0;
      SIEVE_RETURN_IF_ERROR(
          CudaStatus(cudaMemGetInfo(&free_bytes, &total_bytes), "LatentKvCache: cudaMemGetInfo"));
      budget = free_bytes / 10 * 9;
    }
    tokens = TokensThatFit(c, budget);
    if (tokens == 0) {
      return LimitError("LatentKvCache: " + std::to_string(budget) +
                        " bytes hold no page of the cache (" + std::to_string(BytesPerPage(c)) +
                        " bytes per page)");
    }
  }
  const int64_t pages = (tokens + page - 1) / page;
  if (pages > INT32_MAX) return LimitError("LatentKvCache: too many pages");
  std::unique_ptr<LatentKvCache> cache(
      new LatentKvCache(static_cast<int32_t>(pages), static_cast<int32_t>(page)));
  cache->width_ = static_cast<int32_t>(c.LatentCacheDim());
  cache->layer_bytes_ = static_cast<uint64_t>(pages) * page * cache->width_ * 2;
  SIEVE_RETURN_IF_ERROR(
      cache->memory_.Allocate(cache->layer_bytes_ * c.num_hidden_layers, "latent KV cache"));
  return cache;
}

std::string LatentKvCache::CapacityReport() const {
  char buf[200];
  const uint64_t per_token =
      table_.num_pages() > 0 ? device_bytes() / static_cast<uint64_t>(table_.capacity_tokens()) : 0;
  std::snprintf(
      buf, sizeof(buf), "%lld tokens (%d pages of %d) in %.1f MB, %llu B/token, %lld free",
      static_cast<long long>(table_.capacity_tokens()), table_.num_pages(), table_.page_size(),
      device_bytes() / 1e6, static_cast<unsigned long long>(per_token),
      static_cast<long long>(table_.free_tokens()));
  return buf;
}

}  // namespace sieve
