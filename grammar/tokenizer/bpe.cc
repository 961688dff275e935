// BPE tables and the merge loop; see bpe.h for the model and the invariants.
//
// The two merge loops are equivalent: both repeatedly apply the adjacent pair of minimum
// (rank, position). The scan keeps the live symbols in a linked list over stack arrays, with the
// rank of the pair each symbol starts, and after a merge recomputes only the two pairs that touch
// the merged symbol; it is O(n^2) but has no allocation, shifting or heap traffic and wins for the
// short pieces that pre-tokenizers produce. The
// heap version is the library's algorithm (stale entries are detected by re-looking up the pair
// at the entry's position and checking the merged id) and is used beyond kMaxScanSymbols.
#include "grammar/tokenizer/bpe.h"

#include <algorithm>
#include <bit>

#include "grammar/support/utf8.h"
#include "grammar/tokenizer/byte_level.h"

namespace sieve::tokenizer_internal {
namespace {

constexpr uint32_t kNoRank = PairMap::kNotFound;

// Power of two with a load factor of at most 2/3.
size_t TableSizeFor(size_t n) {
  size_t cap = 16;
  while (cap * 2 < n * 3) cap <<= 1;
  return cap;
}

}  // namespace

// ---- StringIdMap ------------------------------------------------------------------------------

void StringIdMap::Reserve(size_t keys, size_t key_bytes) {
  arena_.reserve(key_bytes);
  const size_t cap = TableSizeFor(keys);
  if (cap <= slots_.size()) return;
  std::vector<Slot> old = std::move(slots_);
  slots_.assign(cap, Slot{-1, 0, 0});
  mask_ = cap - 1;
  shift_ = 64 - std::countr_zero(cap);
  for (const Slot& s : old) {
    if (s.id < 0) continue;
    const std::string_view key =
        s.length <= 8
            ? std::string_view(reinterpret_cast<const char*>(&s.payload), s.length)
            : std::string_view(arena_.data() + static_cast<uint32_t>(s.payload), s.length);
    size_t i = HashBytes(key.data(), key.size()) >> shift_;
    while (slots_[i].id >= 0) i = (i + 1) & mask_;
    slots_[i] = s;
  }
}

void StringIdMap::Grow() { Reserve(std::max<size_t>(size_ * 2, 8), arena_.capacity()); }

bool StringIdMap::Insert(std::string_view key, int32_t id, uint64_t hash) {
  if ((size_ + 1) * 3 > slots_.size() * 2) Grow();
  const uint64_t inline_key = key.size() <= 8 ? Inline(key) : 0;
  size_t i = hash >> shift_;
  while (slots_[i].id >= 0) {
    if (Matches(slots_[i], key, hash, inline_key)) {
      slots_[i].id = id;
      return false;
    }
    i = (i + 1) & mask_;
  }
  Slot& s = slots_[i];
  s.id = id;
  s.length = static_cast<uint32_t>(key.size());
  if (key.size() <= 8) {
    s.payload = inline_key;
  } else {
    s.payload = (hash << 32) | static_cast<uint32_t>(arena_.size());
    arena_.append(key.data(), key.size());
  }
  ++size_;
  return true;
}

int32_t StringIdMap::Find(std::string_view key, uint64_t hash) const {
  if (slots_.empty()) return -1;
  const uint64_t inline_key = key.size() <= 8 ? Inline(key) : 0;
  size_t i = hash >> shift_;
  while (true) {
    const Slot& s = slots_[i];
    if (s.id < 0) return -1;
    if (Matches(s, key, hash, inline_key)) return s.id;
    i = (i + 1) & mask_;
  }
}

// ---- PairMap ------------------------------------------------------------------------------------

void PairMap::Reserve(size_t n) {
  const size_t cap = TableSizeFor(n);
  if (cap <= entries_.size()) return;
  std::vector<uint64_t> old = std::move(entries_);
  entries_.assign(cap, kEmpty);
  mask_ = cap - 1;
  shift_ = 64 - std::countr_zero(cap);
  for (uint64_t e : old) {
    if (e == kEmpty) continue;
    size_t i = Slot(e >> 24);
    while (entries_[i] != kEmpty) i = (i + 1) & mask_;
    entries_[i] = e;
  }
}

void PairMap::Grow() { Reserve(std::max<size_t>(size_ * 2, 8)); }

void PairMap::Insert(uint32_t a, uint32_t b, uint32_t payload) {
  if ((size_ + 1) * 3 > entries_.size() * 2) Grow();
  const uint64_t key = Key(a, b);
  const uint64_t entry = (key << 24) | payload;
  size_t i = Slot(key);
  while (entries_[i] != kEmpty) {
    if ((entries_[i] >> 24) == key) {
      entries_[i] = entry;
      return;
    }
    i = (i + 1) & mask_;
  }
  entries_[i] = entry;
  ++size_;
}

// ---- BpeModel -----------------------------------------------------------------------------------

void BpeModel::Init(const Options& options, size_t tokens, size_t key_bytes, size_t merges) {
  options_ = options;
  tokens_.Reserve(tokens, key_bytes);
  merges_.Reserve(merges);
  merged_.reserve(merges);
  std::fill(std::begin(byte_token_), std::end(byte_token_), -1);
  std::fill(std::begin(fallback_token_), std::end(fallback_token_), -1);
}

void BpeModel::Finish() {
  static const char kHex[] = "0123456789ABCDEF";
  for (int b = 0; b < 256; ++b) {
    std::string surface;
    const char c = static_cast<char>(b);
    ByteLevelEncode(std::string_view(&c, 1), &surface);
    byte_token_[b] = options_.byte_level ? tokens_.Find(surface) : -1;
    const char code[6] = {'<', '0', 'x', kHex[b >> 4], kHex[b & 15], '>'};
    fallback_token_[b] = tokens_.Find(std::string_view(code, 6));
  }
}

void BpeModel::InitialSymbols(std::string_view piece, std::vector<int32_t>* ids) const {
  ids->clear();
  const uint8_t* p = reinterpret_cast<const uint8_t*>(piece.data());
  const size_t n = piece.size();
  if (options_.byte_level) {
    for (size_t i = 0; i < n; ++i) {
      const int32_t id = byte_token_[p[i]];
      if (id >= 0) {
        ids->push_back(id);
      } else if (options_.unk_id >= 0 &&
                 !(options_.fuse_unk && !ids->empty() && ids->back() == options_.unk_id)) {
        ids->push_back(options_.unk_id);
      }
    }
    return;
  }
  // Character-level (SentencePiece BPE). `pending_unk`: an unk not yet pushed (the library pushes
  // it when the next known character arrives, or at the end; fusing extends it).
  bool pending_unk = false;
  size_t i = 0;
  while (i < n) {
    char32_t cp;
    int len = DecodeUtf8(p + i, n - i, &cp);
    if (len <= 0) len = 1;  // an ill-formed byte is one character
    const std::string_view ch = piece.substr(i, static_cast<size_t>(len));
    i += static_cast<size_t>(len);
    const int32_t id = tokens_.Find(ch);
    if (id >= 0) {
      if (pending_unk) ids->push_back(options_.unk_id);
      pending_unk = false;
      ids->push_back(id);
      continue;
    }
    if (options_.byte_fallback) {
      bool all = true;
      for (char b : ch) all = all && fallback_token_[static_cast<uint8_t>(b)] >= 0;
      if (all) {
        for (char b : ch) ids->push_back(fallback_token_[static_cast<uint8_t>(b)]);
        continue;  // as in the library, a pending unk is not flushed here
      }
    }
    if (options_.unk_id >= 0) {
      if (pending_unk && !options_.fuse_unk) ids->push_back(options_.unk_id);
      pending_unk = true;
    }
  }
  if (pending_unk) ids->push_back(options_.unk_id);
}

void BpeModel::MergeScan(Scratch* s) const {
  std::vector<int32_t>& ids = s->ids;
  const int n = static_cast<int>(ids.size());
  if (n < 2) return;
  // Live symbols form a list through next/prev; rank[k] is the rank of the pair (k, next[k]).
  constexpr int kEnd = -1;
  int32_t* id = ids.data();
  uint32_t rank[kMaxScanSymbols];
  int8_t next[kMaxScanSymbols];
  int8_t prev[kMaxScanSymbols];
  auto lookup = [&](int a, int b) {
    return merges_.Find(static_cast<uint32_t>(id[a]), static_cast<uint32_t>(id[b]));
  };
  for (int k = 0; k < n; ++k) {
    next[k] = static_cast<int8_t>(k + 1 < n ? k + 1 : kEnd);
    prev[k] = static_cast<int8_t>(k - 1);
    rank[k] = k + 1 < n ? lookup(k, k + 1) : kNoRank;
  }
  while (true) {
    int best = kEnd;
    uint32_t best_rank = kNoRank;
    for (int k = 0; k != kEnd; k = next[k]) {
      if (rank[k] < best_rank) {  // strict: the leftmost of equal ranks wins
        best_rank = rank[k];
        best = k;
      }
    }
    if (best == kEnd) break;
    const int gone = next[best];
    id[best] = merged_[best_rank];
    next[best] = next[gone];
    if (next[best] != kEnd) prev[next[best]] = static_cast<int8_t>(best);
    rank[best] = next[best] != kEnd ? lookup(best, next[best]) : kNoRank;
    if (prev[best] != kEnd) rank[prev[best]] = lookup(prev[best], best);
  }
  int out = 0;
  for (int k = 0; k != kEnd; k = next[k]) id[out++] = id[k];
  ids.resize(out);
}

void BpeModel::MergeHeap(Scratch* s) const {
  const size_t n = s->ids.size();
  if (n < 2) return;
  using Symbol = Scratch::Symbol;
  using HeapEntry = Scratch::HeapEntry;
  std::vector<Symbol>& sym = s->symbols;
  sym.resize(n);
  for (size_t i = 0; i < n; ++i) {
    sym[i] = Symbol{s->ids[i], static_cast<int32_t>(i) - 1,
                    i + 1 < n ? static_cast<int32_t>(i + 1) : -1};
  }
  // std heap functions build a max-heap: "less" = larger (rank, pos).
  auto later = [](const HeapEntry& a, const HeapEntry& b) {
    return a.rank != b.rank ? a.rank > b.rank : a.pos > b.pos;
  };
  std::vector<HeapEntry>& heap = s->heap;
  heap.clear();
  auto find = [&](int32_t a, int32_t b) {
    return merges_.Find(static_cast<uint32_t>(a), static_cast<uint32_t>(b));
  };
  for (size_t i = 0; i + 1 < n; ++i) {
    const uint32_t r = find(sym[i].id, sym[i + 1].id);
    if (r != kNoRank) heap.push_back(HeapEntry{r, static_cast<uint32_t>(i), merged_[r]});
  }
  std::make_heap(heap.begin(), heap.end(), later);
  constexpr int32_t kRemoved = -2;
  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), later);
    const HeapEntry top = heap.back();
    heap.pop_back();
    Symbol& cur = sym[top.pos];
    if (cur.id == kRemoved || cur.next < 0) continue;
    const int32_t right = cur.next;
    const uint32_t r = find(cur.id, sym[right].id);
    if (r == kNoRank || merged_[r] != top.value) continue;  // stale entry
    cur.id = top.value;
    cur.next = sym[right].next;
    sym[right].id = kRemoved;
    if (cur.next >= 0) sym[cur.next].prev = static_cast<int32_t>(top.pos);
    if (cur.prev >= 0) {
      if (const uint32_t p = find(sym[cur.prev].id, cur.id); p != kNoRank) {
        heap.push_back(HeapEntry{p, static_cast<uint32_t>(cur.prev), merged_[p]});
        std::push_heap(heap.begin(), heap.end(), later);
      }
    }
    if (cur.next >= 0) {
      if (const uint32_t q = find(cur.id, sym[cur.next].id); q != kNoRank) {
        heap.push_back(HeapEntry{q, top.pos, merged_[q]});
        std::push_heap(heap.begin(), heap.end(), later);
      }
    }
  }
  s->ids.clear();
  for (int32_t i = 0; i >= 0; i = sym[i].next) s->ids.push_back(sym[i].id);
}

void BpeModel::Encode(std::string_view piece, std::vector<int32_t>* out, Scratch* s) const {
  if (piece.empty()) return;
  if (options_.ignore_merges) {
    int32_t id;
    if (options_.byte_level) {
      s->surface.clear();
      ByteLevelEncode(piece, &s->surface);
      id = tokens_.Find(s->surface);
    } else {
      id = tokens_.Find(piece);
    }
    if (id >= 0) {
      out->push_back(id);
      return;
    }
  }
  if (options_.byte_level && piece.size() == 1) {
    InitialSymbols(piece, &s->ids);
    out->insert(out->end(), s->ids.begin(), s->ids.end());
    return;
  }
  InitialSymbols(piece, &s->ids);
  if (s->ids.size() <= kMaxScanSymbols) {
    MergeScan(s);
  } else {
    MergeHeap(s);
  }
  out->insert(out->end(), s->ids.begin(), s->ids.end());
}

void BpeModel::EncodeWithHeapForTest(std::string_view piece, std::vector<int32_t>* out,
                                     Scratch* s) const {
  if (piece.empty()) return;
  InitialSymbols(piece, &s->ids);
  MergeHeap(s);
  out->insert(out->end(), s->ids.begin(), s->ids.end());
}

}  // namespace sieve::tokenizer_internal
