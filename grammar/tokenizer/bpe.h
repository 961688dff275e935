// Merge-rank BPE, as the Hugging Face `tokenizers` BPE model runs it, over flat hash tables.
//
// Tokens are keyed by their surface form, exactly as tokenizer.json spells them (GPT-2
// byte-to-unicode characters for byte-level vocabularies, U+2581 for space in SentencePiece
// ones), so loading needs no conversion. A byte-level piece arrives as raw bytes: its initial
// symbols are the one-byte tokens (a 256-entry table), and only the ignore_merges lookup of the
// whole piece converts it to surface form. A SentencePiece piece (already in surface form) is cut
// into UTF-8 characters, with <0xNN> byte fallback or the unk token for characters missing from
// the vocabulary. Then merges apply, always the adjacent pair of lowest rank, the leftmost among
// equals, until no adjacent pair has a merge. That is exactly the order of the library's heap
// (rank, then position); short pieces use an equivalent array scan, long ones the heap. With
// ignore_merges (Llama-3) a piece that is itself a token is emitted directly.
//
// Tables: StringIdMap maps key bytes to ids (open addressing, 16-byte slots; keys up to 8 bytes
// sit in the slot, longer ones in an arena behind a hash tag, so a probe usually touches one cache
// line); PairMap maps (id_a, id_b) packed into a uint64 to (rank, merged id). Both are immutable
// after loading, so encoding is thread-safe given a per-thread Scratch. Loading prefetches slots
// a few entries ahead: the tables are several MB and random inserts are memory bound otherwise.
#ifndef SIEVE_GRAMMAR_TOKENIZER_BPE_H_
#define SIEVE_GRAMMAR_TOKENIZER_BPE_H_

#include <bit>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace sieve::tokenizer_internal {

static_assert(std::endian::native == std::endian::little, "the hash tables assume little endian");

// The bytes p[0..n) (n <= 8) as a little-endian uint64, zero padded. No variable-size memcpy:
// two overlapping 4-byte loads or three byte loads (this is on every hash and key compare).
inline uint64_t LoadUpTo8(const char* p, size_t n) {
  const auto* u = reinterpret_cast<const uint8_t*>(p);
  if (n >= 4) {
    uint32_t lo;
    uint32_t hi;
    std::memcpy(&lo, p, 4);
    std::memcpy(&hi, p + n - 4, 4);
    return lo | (static_cast<uint64_t>(hi) << (8 * (n - 4)));
  }
  if (n == 0) return 0;
  return u[0] | (static_cast<uint64_t>(u[n / 2]) << (8 * (n / 2))) |
         (static_cast<uint64_t>(u[n - 1]) << (8 * (n - 1)));
}

// 64-bit hash of a byte string (multiply-xorshift over 8-byte words).
inline uint64_t HashBytes(const char* p, size_t n) {
  uint64_t h = 0x9E3779B97F4A7C15ull ^ (n * 0xC2B2AE3D27D4EB4Full);
  while (n > 8) {
    uint64_t v;
    std::memcpy(&v, p, 8);
    h = (h ^ v) * 0xBF58476D1CE4E5B9ull;
    h ^= h >> 31;
    p += 8;
    n -= 8;
  }
  h = (h ^ LoadUpTo8(p, n)) * 0x94D049BB133111EBull;
  h ^= h >> 29;
  h *= 0xBF58476D1CE4E5B9ull;
  return h ^ (h >> 32);
}

// Byte string -> id. Keys of up to 8 bytes live in the slot itself (a hit then touches one cache
// line); longer ones are copied into an arena and checked by a 32-bit hash tag first.
class StringIdMap {
 public:
  void Reserve(size_t keys, size_t key_bytes);
  // Inserts key -> id. When the key is present its id is replaced (later JSON entries win, as in
  // the library) and false is returned. `hash` must be HashBytes(key).
  bool Insert(std::string_view key, int32_t id, uint64_t hash);
  bool Insert(std::string_view key, int32_t id) {
    return Insert(key, id, HashBytes(key.data(), key.size()));
  }
  int32_t Find(std::string_view key) const { return Find(key, HashBytes(key.data(), key.size())); }
  int32_t Find(std::string_view key, uint64_t hash) const;
  // Starts loading the slot a key with this hash probes first (batched lookups hide latency).
  void Prefetch(uint64_t hash) const {
    if (!slots_.empty()) __builtin_prefetch(&slots_[hash >> shift_]);
  }
  size_t size() const { return size_; }
  size_t MemorySize() const { return slots_.capacity() * sizeof(Slot) + arena_.capacity(); }

 private:
  struct Slot {
    int32_t id;        // -1: empty
    uint32_t length;   // key length
    uint64_t payload;  // length <= 8: the key, zero padded; else tag << 32 | arena offset
  };
  static uint64_t Inline(std::string_view key) { return LoadUpTo8(key.data(), key.size()); }
  bool Matches(const Slot& s, std::string_view key, uint64_t hash, uint64_t inline_key) const {
    if (s.length != key.size()) return false;
    if (key.size() <= 8) return s.payload == inline_key;
    return (s.payload >> 32) == static_cast<uint32_t>(hash) &&
           std::memcmp(arena_.data() + static_cast<uint32_t>(s.payload), key.data(), key.size()) ==
               0;
  }
  void Grow();

  std::vector<Slot> slots_;
  size_t mask_ = 0;
  int shift_ = 64;
  size_t size_ = 0;
  std::string arena_;
};

// (a, b) -> payload, for a, b < 2^20 and payloads < 2^24 - 1, in 8-byte entries
// (a << 44 | b << 24 | payload): BPE maps (id_a, id_b) to the merge rank, the added-token trie
// (node, byte) to the child node.
class PairMap {
 public:
  static constexpr uint32_t kMaxKey = (1u << 20) - 1;
  static constexpr uint32_t kMaxPayload = (1u << 24) - 2;
  static constexpr uint32_t kNotFound = 0xFFFFFFFFu;

  void Reserve(size_t n);
  // Inserts or replaces (a later duplicate merge wins, as in the library's hash map).
  void Insert(uint32_t a, uint32_t b, uint32_t payload);
  uint32_t Find(uint32_t a, uint32_t b) const {
    if (entries_.empty()) return kNotFound;
    const uint64_t key = Key(a, b);
    size_t i = Slot(key);
    while (true) {
      const uint64_t e = entries_[i];
      if ((e >> 24) == key) return e == kEmpty ? kNotFound : static_cast<uint32_t>(e & 0xFFFFFF);
      if (e == kEmpty) return kNotFound;
      i = (i + 1) & mask_;
    }
  }
  void Prefetch(uint32_t a, uint32_t b) const {
    if (!entries_.empty()) __builtin_prefetch(&entries_[Slot(Key(a, b))]);
  }
  size_t size() const { return size_; }
  size_t MemorySize() const { return entries_.capacity() * sizeof(uint64_t); }

 private:
  static constexpr uint64_t kEmpty = ~uint64_t{0};
  static uint64_t Key(uint32_t a, uint32_t b) {
    return (static_cast<uint64_t>(a) << 20) | b;  // 40 bits
  }
  size_t Slot(uint64_t key) const { return (key * 0x9E3779B97F4A7C15ull) >> shift_; }
  void Grow();

  std::vector<uint64_t> entries_;
  size_t mask_ = 0;
  int shift_ = 64;
  size_t size_ = 0;
};

class BpeModel {
 public:
  struct Options {
    bool byte_level = true;      // pieces are raw bytes, initial symbols bytes (else characters)
    bool ignore_merges = false;  // a piece that is a token is emitted as is
    bool byte_fallback = false;  // unknown characters become <0xNN> tokens
    bool fuse_unk = false;       // consecutive unknown characters make one unk
    int32_t unk_id = -1;         // unk token id, -1 for none (unknown characters are dropped)
  };
  // Reusable buffers for Encode(); one per thread.
  struct Scratch {
    std::vector<int32_t> ids;
    struct Symbol {
      int32_t id;
      int32_t prev;
      int32_t next;
    };
    std::vector<Symbol> symbols;
    struct HeapEntry {
      uint32_t rank;
      uint32_t pos;
      int32_t value;
    };
    std::vector<HeapEntry> heap;
    std::string surface;
  };

  void Init(const Options& options, size_t tokens, size_t key_bytes, size_t merges);
  // Adds a token by its model key. Returns false if the key was already present (the new id
  // replaces the old one).
  bool AddToken(std::string_view key, int32_t id) { return tokens_.Insert(key, id); }
  bool AddToken(std::string_view key, int32_t id, uint64_t hash) {
    return tokens_.Insert(key, id, hash);
  }
  // Requires ids <= PairMap::kMaxKey and rank <= PairMap::kMaxPayload (the loader checks).
  void AddMerge(int32_t a, int32_t b, uint32_t rank, int32_t merged) {
    merges_.Insert(static_cast<uint32_t>(a), static_cast<uint32_t>(b), rank);
    if (merged_.size() <= rank) merged_.resize(rank + 1, -1);
    merged_[rank] = merged;
  }
  // Batched loading: start fetching the table slots a later call will touch.
  void PrefetchToken(uint64_t hash) const { tokens_.Prefetch(hash); }
  void PrefetchMerge(int32_t a, int32_t b) const {
    merges_.Prefetch(static_cast<uint32_t>(a), static_cast<uint32_t>(b));
  }
  int32_t Find(std::string_view key, uint64_t hash) const { return tokens_.Find(key, hash); }
  void set_unk_id(int32_t id) { options_.unk_id = id; }
  // Call once after all tokens are added: resolves the per-byte tables.
  void Finish();

  const Options& options() const { return options_; }
  int32_t Find(std::string_view key) const { return tokens_.Find(key); }
  size_t token_count() const { return tokens_.size(); }
  size_t merge_count() const { return merges_.size(); }
  size_t MemorySize() const {
    return tokens_.MemorySize() + merges_.MemorySize() + merged_.capacity() * sizeof(int32_t);
  }

  // Appends the ids of one pre-tokenized piece to *out (raw bytes for byte-level models, surface
  // form otherwise).
  void Encode(std::string_view piece, std::vector<int32_t>* out, Scratch* scratch) const;

  // Pieces with more initial symbols than this use the heap; exposed for tests. (At most 127:
  // the scan links symbols with int8 indices.)
  static constexpr size_t kMaxScanSymbols = 48;
  // Test hook: merge with the heap whatever the length.
  void EncodeWithHeapForTest(std::string_view piece, std::vector<int32_t>* out,
                             Scratch* scratch) const;

 private:
  void InitialSymbols(std::string_view piece, std::vector<int32_t>* ids) const;
  void MergeScan(Scratch* s) const;
  void MergeHeap(Scratch* s) const;

  Options options_;
  StringIdMap tokens_;
  PairMap merges_;               // (id_a, id_b) -> rank
  std::vector<int32_t> merged_;  // rank -> merged id
  int32_t byte_token_[256];      // byte-level: id of the one-byte token, -1 if none
  int32_t fallback_token_[256];  // <0xNN> ids, -1 if none
};

}  // namespace sieve::tokenizer_internal

#endif  // SIEVE_GRAMMAR_TOKENIZER_BPE_H_
