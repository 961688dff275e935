// Page bookkeeping of the latent KV cache; see page_table.h.
#include "decoder/page_table.h"

#include <string>

namespace sieve {

PageTable::PageTable(int32_t num_pages, int32_t page_size)
    : num_pages_(num_pages < 0 ? 0 : num_pages), page_size_(page_size < 1 ? 1 : page_size) {
  for (int32_t p = 0; p < num_pages_; ++p) free_.insert(free_.end(), p);
}

int64_t PageTable::AddSequence() {
  const int64_t id = next_id_++;
  seqs_.emplace(id, Seq{});
  return id;
}

Status PageTable::RemoveSequence(int64_t seq) {
  auto it = seqs_.find(seq);
  if (it == seqs_.end()) return InvalidArgument("no sequence " + std::to_string(seq));
  for (int32_t p : it->second.pages) free_.insert(p);
  seqs_.erase(it);
  return Status::Ok();
}

int32_t PageTable::PagesNeeded(int64_t seq, int64_t tokens) const {
  auto it = seqs_.find(seq);
  if (it == seqs_.end() || tokens <= 0) return 0;
  const int64_t have = static_cast<int64_t>(it->second.pages.size());
  const int64_t need = (it->second.length + tokens + page_size_ - 1) / page_size_;
  return static_cast<int32_t>(need > have ? need - have : 0);
}

Result<std::vector<int64_t>> PageTable::Append(const std::vector<int64_t>& seqs,
                                               const std::vector<int64_t>& tokens) {
  if (seqs.size() != tokens.size()) {
    return InvalidArgument("PageTable::Append: " + std::to_string(seqs.size()) + " sequences but " +
                           std::to_string(tokens.size()) + " token counts");
  }
  int64_t pages = 0;
  std::set<int64_t> seen;
  for (size_t i = 0; i < seqs.size(); ++i) {
    if (!seqs_.count(seqs[i])) return InvalidArgument("no sequence " + std::to_string(seqs[i]));
    if (!seen.insert(seqs[i]).second) {
      return InvalidArgument("sequence " + std::to_string(seqs[i]) + " listed twice in one step");
    }
    if (tokens[i] < 0) return InvalidArgument("negative token count");
    pages += PagesNeeded(seqs[i], tokens[i]);
  }
  if (pages > free_pages()) {
    return LimitError("KV cache full: the step needs " + std::to_string(pages) + " more pages of " +
                      std::to_string(page_size_) + " tokens, " + std::to_string(free_pages()) +
                      " of " + std::to_string(num_pages_) + " are free");
  }
  std::vector<int64_t> starts(seqs.size());
  for (size_t i = 0; i < seqs.size(); ++i) {
    Seq& s = seqs_[seqs[i]];
    for (int32_t n = PagesNeeded(seqs[i], tokens[i]); n > 0; --n) {
      s.pages.push_back(*free_.begin());
      free_.erase(free_.begin());
    }
    starts[i] = s.length;
    s.length += tokens[i];
  }
  return starts;
}

int64_t PageTable::length(int64_t seq) const {
  auto it = seqs_.find(seq);
  return it == seqs_.end() ? 0 : it->second.length;
}

const std::vector<int32_t>& PageTable::pages(int64_t seq) const {
  static const std::vector<int32_t> kEmpty;
  auto it = seqs_.find(seq);
  return it == seqs_.end() ? kEmpty : it->second.pages;
}

int64_t PageTable::Slot(int64_t seq, int64_t pos) const {
  const std::vector<int32_t>& p = pages(seq);
  return static_cast<int64_t>(p[pos / page_size_]) * page_size_ + pos % page_size_;
}

}  // namespace sieve
