// TokenizerInfo: what the mask cache needs to know about a vocabulary, computed once per Vocabulary
// and shared by every grammar compiled for it.
//
// The tokens a grammar can match by their bytes ("byte tokens": every id that is neither padding
// nor special) are sorted by bytes and laid out as a trie in preorder. Node 0 is the root (the
// empty prefix); every other node adds one byte to its parent's prefix. For node n:
//  - byte(n) is the byte it adds, depth(n) the length of its prefix;
//  - its subtree is the node range [n, end(n)): skipping a rejected prefix is `n = end(n)`;
//  - the tokens whose bytes equal its prefix are sorted_ids()[token_begin(n), token_begin(n + 1))
//    (usually zero or one; several ids may share bytes). Token ranges follow preorder, so the
//    tokens of a subtree are contiguous too: [token_begin(n), token_begin(end(n))).
// The children of the root are the first-byte intervals: first_byte_node(b) is the node for byte b
// (0 when no token starts with b), so a state that cannot read b skips every token starting with
// it.
//
// Per byte b, the nodes with a child adding b (parents_of_byte), so the prefixes after which b can
// come are found without a walk. Per node, from which phases of a JSON-string-text automaton its
// whole subtree is string text (text_phases); per token, its sorted position (position_of) and the
// characters it begins (char_starts). Also kept: the byte-token bitmask (bit i set for every byte
// token: the complement universe for "rejected" lists), the byte tokens with no bytes at all
// (always allowed, they do not move the matcher), the longest token, and a fingerprint of the whole
// vocabulary (bytes, flags, size, kind) for cache keys. Immutable after Build(); safe to share
// across threads.
#ifndef SIEVE_GRAMMAR_TOKEN_TRIE_H_
#define SIEVE_GRAMMAR_TOKEN_TRIE_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "grammar/tokenizer/vocabulary.h"

namespace sieve {

// Words of a bitmask row covering `vocab_size` ids.
inline size_t BitmaskWords(size_t vocab_size) { return (vocab_size + 31) / 32; }

class TokenizerInfo {
 public:
  // Fails (kLimit) for a token longer than 65535 bytes.
  static Result<std::shared_ptr<const TokenizerInfo>> Build(
      std::shared_ptr<const Vocabulary> vocab);

  const Vocabulary& vocab() const { return *vocab_; }
  const std::shared_ptr<const Vocabulary>& vocab_ptr() const { return vocab_; }
  size_t vocab_size() const { return vocab_->size(); }
  size_t words() const { return BitmaskWords(vocab_->size()); }

  // ---- trie (see the file comment) ----
  int32_t num_nodes() const { return static_cast<int32_t>(nodes_.size()) - 1; }
  uint8_t byte(int32_t n) const { return nodes_[n].byte; }
  uint32_t depth(int32_t n) const { return nodes_[n].depth; }
  int32_t end(int32_t n) const { return nodes_[n].end; }
  uint32_t token_begin(int32_t n) const { return nodes_[n].token_begin; }
  std::span<const int32_t> node_tokens(int32_t n) const {
    return {sorted_ids_.data() + token_begin(n), token_begin(n + 1) - token_begin(n)};
  }
  std::span<const int32_t> sorted_ids() const { return sorted_ids_; }
  // The inverse: the sorted position of byte token `id` (undefined for other ids).
  uint32_t position_of(int32_t id) const { return positions_[id]; }
  // The bytes read anywhere below node n (n's own byte excluded), for nodes whose subtree has at
  // least kSubtreeMaskMin nodes; null for smaller ones. A walk in a state that loops on a byte set
  // accepts such a subtree at once when its bytes are all in the set.
  static constexpr int32_t kSubtreeMaskMin = 16;
  const uint64_t* subtree_bytes(int32_t n) const {
    const int32_t m = nodes_[n].mask;
    return m < 0 ? nullptr : masks_[m].data();
  }
  int32_t first_byte_node(uint8_t b) const { return first_byte_node_[b]; }
  // JSON string text: the bytes a JSON string body reads without an escape or its end (0x20-0x7F
  // except '"' and '\\', and well-formed UTF-8: no overlongs, surrogates or code points past
  // U+10FFFF), as an 8-phase automaton. Phase 0 is a code-point boundary; 1-7 are inside a
  // multi-byte character (which continuation bytes may come next). TextStep gives the next phase
  // or -1. text_phases(n) has bit p set when every token below node n, read from phase p starting
  // with n's own byte, stays in JSON string text: a string body that steps through this automaton
  // exactly accepts such a subtree without walking it (mask_builder.h).
  static constexpr int kTextPhases = 8;
  static int TextStep(int phase, uint8_t b);
  // The bytes TextStep reads from `phase` (next phase >= 0), as a 256-bit set.
  static const uint64_t* TextBytes(int phase);
  uint8_t text_phases(int32_t n) const { return nodes_[n].text; }
  // Byte classes for bounded runs: run_classes(n) has bit c set when n's byte and every byte
  // below n are in class c (RunClassesOf), and run_height(n) is the longest token below n counted
  // from n's byte (its length minus depth(n) - 1). A state that reads every string over class c of
  // up to run_height(n) bytes without a call (a pattern's unrolled run, a length-bounded body)
  // accepts the whole subtree without walking it (mask_builder.h). The classes, ASCII only, in an
  // order where the lowest bit set is the smallest class holding the subtree, except that
  // kRunNoDigits (which leaves out digits) may hold it too:
  //   0 [a-z]  1 [A-Za-z]  2 [ A-Za-z]  3 [0-9A-Za-z]  4 [ 0-9A-Za-z]  5 [-.0-9A-Z_a-z]
  //   6 JSON string text (0x20-0x7E except '"' and '\')  7 the same without digits
  static constexpr int kRunClasses = 8;
  static constexpr int kRunNoDigits = 7;
  // The classes byte b is in, bit c for class c (none for bytes past 0x7F).
  static uint8_t RunClassesOf(uint8_t b);
  // The bytes of class c, as a 256-bit set.
  static const uint64_t* RunClassBytes(int c);
  uint8_t run_classes(int32_t n) const { return runs_[n].classes; }
  uint32_t run_height(int32_t n) const { return runs_[n].height; }
  // Per sorted position i (sorted_ids()[i]): the bytes of the token that are not UTF-8
  // continuation bytes (10xxxxxx), i.e. the characters it begins.
  uint16_t char_starts(uint32_t i) const { return char_starts_[i]; }
  // The nodes with a child that adds byte b, ascending: the prefixes after which b can follow.
  std::span<const int32_t> parents_of_byte(uint8_t b) const {
    return {parents_by_byte_.data() + parents_begin_[b], parents_begin_[b + 1] - parents_begin_[b]};
  }

  // Bit i set for every byte token i; words() words.
  const std::vector<uint32_t>& byte_token_mask() const { return byte_token_mask_; }
  size_t num_byte_tokens() const { return sorted_ids_.size(); }
  std::span<const int32_t> empty_tokens() const { return node_tokens(0); }
  uint32_t max_token_length() const { return max_token_length_; }
  uint64_t fingerprint() const { return fingerprint_; }

  // The same ids with only the byte tokens longer than `min_length` bytes, or holding one of
  // `keep_bytes`, as byte tokens (the others marked special): a small trie for classifying just
  // those tokens (mask_share.h). Built on first use and kept (one per (length, bytes) asked, up to
  // a few); thread-safe.
  std::shared_ptr<const TokenizerInfo> LongTokens(uint32_t min_length,
                                                  std::string_view keep_bytes = {}) const;

  // Heap bytes owned, not counting the Vocabulary (nor a LongTokens companion).
  size_t MemorySize() const;
  double build_ms() const { return build_ms_; }

 private:
  TokenizerInfo() = default;

  // One record per node (walks read them in order), plus a sentinel whose token_begin closes the
  // last node's range.
  struct Node {
    uint8_t byte;
    uint8_t text;    // text_phases
    uint16_t depth;  // Build() refuses tokens longer than 65535 bytes
    int32_t end;
    uint32_t token_begin;
    int32_t mask;  // into masks_, -1 for small subtrees
  };

  std::shared_ptr<const Vocabulary> vocab_;
  std::vector<Node> nodes_;
  struct Run {
    uint8_t classes;
    uint16_t height;
  };
  std::vector<Run> runs_;  // per node, beside nodes_ (read only where a walk may skip a run)
  std::vector<int32_t> sorted_ids_;
  std::vector<uint16_t> char_starts_;
  std::vector<uint32_t> positions_;
  std::vector<std::array<uint64_t, 4>> masks_;
  int32_t first_byte_node_[256] = {};
  std::vector<int32_t> parents_by_byte_;  // grouped by byte, see parents_of_byte
  std::array<uint32_t, 257> parents_begin_{};
  std::vector<uint32_t> byte_token_mask_;
  uint32_t max_token_length_ = 0;
  uint64_t fingerprint_ = 0;
  double build_ms_ = 0;
  mutable std::mutex long_mu_;
  struct LongEntry {
    uint32_t min_length;
    std::string keep_bytes;
    std::shared_ptr<const TokenizerInfo> info;
  };
  mutable std::vector<LongEntry> long_tokens_;
};

// 64-bit fingerprint of a vocabulary's contents (token bytes, flags, size, kind).
uint64_t VocabularyFingerprint(const Vocabulary& vocab);

}  // namespace sieve

#endif  // SIEVE_GRAMMAR_TOKEN_TRIE_H_
