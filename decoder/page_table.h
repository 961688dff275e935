// PageTable: host-side bookkeeping of the paged latent KV cache (which pages each sequence owns).
//
// The cache is a pool of `num_pages` pages of `page_size` tokens (cuda/config.h kMlaPageSize = 64,
// FlashMLA's block size). A sequence is a list of page ids (its block table) and a length; token
// t of a sequence lives in row t % page_size of page pages[t / page_size], i.e. at cache slot
// pages[t / page_size] * page_size + t % page_size. The same page ids serve every layer (each
// layer has its own pool of the same shape), so one table describes all layers.
//
// Invariants: a page belongs to at most one sequence; a sequence owns exactly
// ceil(length / page_size) pages once Append returns; Append either reserves everything it needs
// or changes nothing (kLimit when the pool is short), so a failed step leaves the table as it was;
// Remove returns the pages to the pool. Free pages are handed out lowest id first, which keeps
// allocation deterministic (tests and reproducible layouts). Sequence ids are never reused.
// Host-only (no CUDA) so it is tested in CI; decoder/kv_cache.h adds the device storage.
#ifndef SIEVE_DECODER_PAGE_TABLE_H_
#define SIEVE_DECODER_PAGE_TABLE_H_

#include <cstdint>
#include <map>
#include <set>
#include <vector>

#include "grammar/support/status.h"

namespace sieve {

class PageTable {
 public:
  PageTable(int32_t num_pages, int32_t page_size);

  int32_t num_pages() const { return num_pages_; }
  int32_t page_size() const { return page_size_; }
  int32_t free_pages() const { return static_cast<int32_t>(free_.size()); }
  // Tokens the whole pool holds, and tokens still unallocated (whole free pages only).
  int64_t capacity_tokens() const { return static_cast<int64_t>(num_pages_) * page_size_; }
  int64_t free_tokens() const { return static_cast<int64_t>(free_pages()) * page_size_; }

  // A new, empty sequence.
  int64_t AddSequence();
  // Frees a sequence's pages; kInvalidArgument for an unknown id.
  Status RemoveSequence(int64_t seq);
  bool HasSequence(int64_t seq) const { return seqs_.count(seq) != 0; }
  int64_t num_sequences() const { return static_cast<int64_t>(seqs_.size()); }

  // Pages needed to grow `seq` by `tokens` (0 for an unknown sequence).
  int32_t PagesNeeded(int64_t seq, int64_t tokens) const;
  // Grows every listed sequence by the matching count, all or nothing: kLimit (naming the pages
  // needed and free) when the pool cannot hold them all, kInvalidArgument for an unknown or
  // repeated id. On success returns each sequence's previous length (its first new position).
  Result<std::vector<int64_t>> Append(const std::vector<int64_t>& seqs,
                                      const std::vector<int64_t>& tokens);

  int64_t length(int64_t seq) const;                     // 0 for an unknown sequence
  const std::vector<int32_t>& pages(int64_t seq) const;  // empty for an unknown sequence
  // Cache slot of position `pos` (< length) of `seq`.
  int64_t Slot(int64_t seq, int64_t pos) const;

 private:
  struct Seq {
    int64_t length = 0;
    std::vector<int32_t> pages;
  };
  int32_t num_pages_;
  int32_t page_size_;
  std::set<int32_t> free_;
  std::map<int64_t, Seq> seqs_;
  int64_t next_id_ = 0;
};

}  // namespace sieve

#endif  // SIEVE_DECODER_PAGE_TABLE_H_
