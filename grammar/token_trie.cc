// TokenizerInfo (see token_trie.h): MSD radix sort of the byte tokens, then one pass over the
// sorted list that opens and closes trie nodes with the longest common prefix of neighbours.
#include "grammar/token_trie.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <string>
#include <string_view>
#include <utility>

#include "grammar/content_hash.h"

namespace sieve {
namespace {

// Sorts ids[lo, hi) by token bytes, all of which share their first `depth` bytes. Iterative MSD
// radix sort: tokens that end at `depth` first, then 256 buckets; small ranges use std::sort.
void RadixSort(const Vocabulary& v, std::vector<int32_t>* ids) {
  struct Range {
    size_t lo, hi;
    uint32_t depth;
  };
  std::vector<Range> work{{0, ids->size(), 0}};
  std::vector<int32_t> tmp(ids->size());
  size_t count[257];
  while (!work.empty()) {
    const Range r = work.back();
    work.pop_back();
    int32_t* a = ids->data();
    if (r.hi - r.lo <= 24) {
      std::sort(a + r.lo, a + r.hi, [&](int32_t x, int32_t y) {
        const std::string_view bx = v.TokenBytes(x).substr(r.depth);
        const std::string_view by = v.TokenBytes(y).substr(r.depth);
        return bx != by ? bx < by : x < y;
      });
      continue;
    }
    std::fill(count, count + 257, 0);
    auto key = [&](int32_t id) -> size_t {
      const std::string_view b = v.TokenBytes(id);
      return b.size() <= r.depth ? 0 : static_cast<size_t>(static_cast<uint8_t>(b[r.depth])) + 1;
    };
    for (size_t i = r.lo; i < r.hi; ++i) ++count[key(a[i])];
    size_t start[257];
    size_t acc = r.lo;
    for (int k = 0; k < 257; ++k) {
      start[k] = acc;
      acc += count[k];
    }
    size_t pos[257];
    std::copy(start, start + 257, pos);
    for (size_t i = r.lo; i < r.hi; ++i) tmp[pos[key(a[i])]++] = a[i];
    std::copy(tmp.begin() + r.lo, tmp.begin() + r.hi, a + r.lo);
    // Ended tokens (bucket 0) are equal: keep them in id order.
    std::sort(a + start[0], a + start[0] + count[0]);
    for (int k = 1; k < 257; ++k) {
      if (count[k] > 1) work.push_back({start[k], start[k] + count[k], r.depth + 1});
    }
  }
}

}  // namespace

uint8_t TokenizerInfo::RunClassesOf(uint8_t b) {
  const bool lower = b >= 'a' && b <= 'z', upper = b >= 'A' && b <= 'Z';
  const bool digit = b >= '0' && b <= '9', alnum = lower || upper || digit;
  const bool text = b >= 0x20 && b <= 0x7E && b != '"' && b != '\\';
  const bool in[kRunClasses] = {lower,
                                lower || upper,
                                lower || upper || b == ' ',
                                alnum,
                                alnum || b == ' ',
                                alnum || b == '-' || b == '.' || b == '_',
                                text,
                                text && !digit};
  static_assert(kRunNoDigits == kRunClasses - 1, "the digit-free class is the last");
  uint8_t out = 0;
  for (int c = 0; c < kRunClasses; ++c) out |= static_cast<uint8_t>(in[c] ? 1u << c : 0u);
  return out;
}

int TokenizerInfo::TextStep(int phase, uint8_t b) {
  if (phase == 0) {
    if (b < 0x80) return b >= 0x20 && b != '"' && b != '\\' ? 0 : -1;
    if (b >= 0xC2 && b <= 0xDF) return 1;  // one continuation byte to come
    if (b == 0xE0) return 3;               // A0-BF, then one (no overlongs)
    if (b == 0xED) return 4;               // 80-9F, then one (no surrogates)
    if (b >= 0xE1 && b <= 0xEF) return 2;  // two continuation bytes
    if (b == 0xF0) return 6;               // 90-BF, then two (no overlongs)
    if (b >= 0xF1 && b <= 0xF3) return 5;  // three continuation bytes
    if (b == 0xF4) return 7;               // 80-8F, then two (at most U+10FFFF)
    return -1;
  }
  static constexpr struct {
    uint8_t lo, hi;
    int8_t next;
  } kCont[kTextPhases] = {{0, 0, -1},      {0x80, 0xBF, 0}, {0x80, 0xBF, 1}, {0xA0, 0xBF, 1},
                          {0x80, 0x9F, 1}, {0x80, 0xBF, 2}, {0x90, 0xBF, 2}, {0x80, 0x8F, 2}};
  if (phase < 0 || phase >= kTextPhases) return -1;
  return b >= kCont[phase].lo && b <= kCont[phase].hi ? kCont[phase].next : -1;
}

const uint64_t* TokenizerInfo::TextBytes(int phase) {
  static const auto kTable = [] {
    std::array<std::array<uint64_t, 4>, kTextPhases> t{};
    for (int p = 0; p < kTextPhases; ++p) {
      for (int b = 0; b < 256; ++b) {
        if (TextStep(p, static_cast<uint8_t>(b)) >= 0) t[p][b >> 6] |= uint64_t{1} << (b & 63);
      }
    }
    return t;
  }();
  return kTable[phase].data();
}

const uint64_t* TokenizerInfo::RunClassBytes(int c) {
  static const auto kTable = [] {
    std::array<std::array<uint64_t, 4>, kRunClasses> t{};
    for (int b = 0; b < 256; ++b) {
      const uint8_t in = RunClassesOf(static_cast<uint8_t>(b));
      for (int k = 0; k < kRunClasses; ++k) {
        if (in >> k & 1) t[k][b >> 6] |= uint64_t{1} << (b & 63);
      }
    }
    return t;
  }();
  return kTable[c].data();
}

uint64_t VocabularyFingerprint(const Vocabulary& vocab) {
  ContentHasher h;
  h.AddU64(vocab.size());
  h.AddU64(static_cast<uint64_t>(vocab.kind()));
  for (size_t i = 0; i < vocab.size(); ++i) {
    const auto id = static_cast<int32_t>(i);
    h.Add(vocab.TokenBytes(id));
    h.AddU64(vocab.Flags(id));
  }
  return h.Finish();
}

Result<std::shared_ptr<const TokenizerInfo>> TokenizerInfo::Build(
    std::shared_ptr<const Vocabulary> vocab) {
  const auto t0 = std::chrono::steady_clock::now();
  std::shared_ptr<TokenizerInfo> info(new TokenizerInfo());
  const Vocabulary& v = *vocab;
  info->vocab_ = std::move(vocab);
  const size_t n = v.size();
  std::vector<int32_t>& ids = info->sorted_ids_;
  info->byte_token_mask_.assign(BitmaskWords(n), 0);
  for (size_t i = 0; i < n; ++i) {
    const auto id = static_cast<int32_t>(i);
    if (v.IsPadding(id) || v.IsSpecial(id)) continue;
    ids.push_back(id);
    info->byte_token_mask_[i >> 5] |= uint32_t{1} << (i & 31);
    info->max_token_length_ =
        std::max(info->max_token_length_, static_cast<uint32_t>(v.TokenBytes(id).size()));
  }
  if (info->max_token_length_ > 0xFFFF) {
    return LimitError("a token is " + std::to_string(info->max_token_length_) +
                      " bytes long; the token trie supports at most 65535");
  }
  RadixSort(v, &ids);
  info->positions_.assign(n, 0);
  for (size_t i = 0; i < ids.size(); ++i) info->positions_[ids[i]] = static_cast<uint32_t>(i);
  info->char_starts_.resize(ids.size());
  for (size_t i = 0; i < ids.size(); ++i) {
    uint32_t c = 0;
    for (const char ch : v.TokenBytes(ids[i])) c += (static_cast<uint8_t>(ch) & 0xC0) != 0x80;
    info->char_starts_[i] = static_cast<uint16_t>(c);  // tokens are at most 65535 bytes
  }

  // Preorder layout. `path[d]` is the open node at depth d (path[0] = root). A token belongs to the
  // deepest node on the path after its bytes are added: the last node created, or its duplicate's
  // node when the previous token has the same bytes; so token nodes never decrease in preorder.
  std::vector<int32_t> path{0};
  std::vector<int32_t> token_node(ids.size());
  std::vector<Node>& nodes = info->nodes_;
  nodes.push_back({0, 0, 0, 0, 0, -1});
  std::string_view prev;
  for (size_t i = 0; i < ids.size(); ++i) {
    const std::string_view b = v.TokenBytes(ids[i]);
    size_t lcp = 0;
    while (lcp < b.size() && lcp < prev.size() && b[lcp] == prev[lcp]) ++lcp;
    while (path.size() > lcp + 1) {  // close nodes deeper than the common prefix
      nodes[path.back()].end = static_cast<int32_t>(nodes.size());
      path.pop_back();
    }
    for (size_t d = lcp; d < b.size(); ++d) {
      path.push_back(static_cast<int32_t>(nodes.size()));
      nodes.push_back({static_cast<uint8_t>(b[d]), 0, static_cast<uint16_t>(d + 1), 0, 0, -1});
    }
    token_node[i] = path.back();
    prev = b;
  }
  while (!path.empty()) {
    nodes[path.back()].end = static_cast<int32_t>(nodes.size());
    path.pop_back();
  }
  const auto num = static_cast<int32_t>(nodes.size());
  nodes.push_back({0, 0, 0, num, 0, -1});  // sentinel
  for (size_t i = 0, node = 0; node <= static_cast<size_t>(num); ++node) {
    while (i < ids.size() && static_cast<size_t>(token_node[i]) < node) ++i;
    nodes[node].token_begin = static_cast<uint32_t>(i);
  }
  // Subtree byte sets, bottom-up: a node's set is its children's bytes and their sets. Children
  // follow their parent in preorder, so a reverse sweep sees every child before its parent.
  {
    std::vector<std::array<uint64_t, 4>> below(num, {0, 0, 0, 0});
    std::vector<int32_t> parent(num, -1);
    std::vector<int32_t> open{0};
    for (int32_t n = 1; n < num; ++n) {
      while (nodes[open.back()].end <= n) open.pop_back();
      parent[n] = open.back();
      open.push_back(n);
    }
    for (int32_t n = num - 1; n > 0; --n) {
      std::array<uint64_t, 4>& p = below[parent[n]];
      const uint8_t b = nodes[n].byte;
      p[b >> 6] |= uint64_t{1} << (b & 63);
      for (int w = 0; w < 4; ++w) p[w] |= below[n][w];
    }
    // Parents grouped by the byte of the child (a counting sort; node order kept in each group).
    for (int32_t n = 1; n < num; ++n) ++info->parents_begin_[nodes[n].byte + 1];
    for (int b = 0; b < 256; ++b) info->parents_begin_[b + 1] += info->parents_begin_[b];
    info->parents_by_byte_.resize(info->parents_begin_[256]);
    {
      std::array<uint32_t, 256> fill;
      std::copy(info->parents_begin_.begin(), info->parents_begin_.begin() + 256, fill.begin());
      for (int32_t n = 1; n < num; ++n) info->parents_by_byte_[fill[nodes[n].byte]++] = parent[n];
    }
    // Ascending within each byte: a later child's parent may come first in preorder (the child
    // of an ancestor after a descendant's subtree), and the readers search these ranges.
    for (int b = 0; b < 256; ++b) {
      std::sort(info->parents_by_byte_.begin() + info->parents_begin_[b],
                info->parents_by_byte_.begin() + info->parents_begin_[b + 1]);
    }
    // Text phases, bottom-up as well: `all[n]` is the AND of n's children's phase sets.
    std::vector<uint8_t> all(num, 0xFF);
    for (int32_t n = num - 1; n > 0; --n) {
      uint8_t text = 0;
      for (int p = 0; p < kTextPhases; ++p) {
        const int q = TextStep(p, nodes[n].byte);
        if (q >= 0 && (all[n] >> q & 1)) text |= static_cast<uint8_t>(1u << p);
      }
      nodes[n].text = text;
      all[parent[n]] &= text;
    }
    // Run classes and heights, bottom-up too (children before their parent).
    info->runs_.assign(static_cast<size_t>(num) + 1, Run{0, 0});
    std::vector<uint8_t> classes_below(num, 0xFF);
    for (int32_t n = num - 1; n > 0; --n) {
      Run& r = info->runs_[n];
      r.classes = RunClassesOf(nodes[n].byte) & classes_below[n];
      r.height = static_cast<uint16_t>(r.height + 1);  // the children's longest, plus n's byte
      classes_below[parent[n]] &= r.classes;
      Run& up = info->runs_[parent[n]];
      up.height = std::max(up.height, r.height);
    }
    for (int32_t n = 0; n < num; ++n) {
      if (nodes[n].end - n < kSubtreeMaskMin) continue;
      nodes[n].mask = static_cast<int32_t>(info->masks_.size());
      info->masks_.push_back(below[n]);
    }
  }
  for (int32_t& f : info->first_byte_node_) f = 0;
  for (int32_t c = 1; c < info->num_nodes(); c = info->end(c)) {
    info->first_byte_node_[info->byte(c)] = c;
  }
  info->fingerprint_ = VocabularyFingerprint(v);
  info->build_ms_ =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  return std::shared_ptr<const TokenizerInfo>(std::move(info));
}

std::shared_ptr<const TokenizerInfo> TokenizerInfo::LongTokens(uint32_t min_length,
                                                              std::string_view keep_bytes) const {
  std::lock_guard<std::mutex> lock(long_mu_);
  for (const LongEntry& e : long_tokens_) {
    if (e.min_length == min_length && e.keep_bytes == keep_bytes) return e.info;
  }
  bool keep[256] = {};
  for (const char c : keep_bytes) keep[static_cast<uint8_t>(c)] = true;
  const Vocabulary& v = *vocab_;
  std::string bytes;
  std::vector<uint32_t> offsets{0};
  std::vector<uint8_t> flags(v.size());
  for (size_t i = 0; i < v.size(); ++i) {
    const auto id = static_cast<int32_t>(i);
    const std::string_view b = v.TokenBytes(id);
    bytes.append(b);
    offsets.push_back(static_cast<uint32_t>(bytes.size()));
    flags[i] = v.Flags(id);
    bool kept = b.size() > min_length;
    for (size_t j = 0; j < b.size() && !kept && !keep_bytes.empty(); ++j) {
      kept = keep[static_cast<uint8_t>(b[j])];
    }
    if (!(flags[i] & kTokenPadding) && !kept) flags[i] |= kTokenSpecial;
  }
  auto sub = Vocabulary::FromFlat(std::move(bytes), std::move(offsets), std::move(flags), v.kind());
  // The copy has this vocabulary's shape, so neither step fails; if one did, the caller gets null
  // and classifies every state over the full trie (the same answers, only slower).
  if (!sub.ok()) return nullptr;
  auto info = Build(std::make_shared<const Vocabulary>(std::move(*sub)));
  if (!info.ok()) return nullptr;
  // A handful of lengths are asked for (the sharing horizons); keep the most recent few.
  constexpr size_t kKept = 6;
  if (long_tokens_.size() == kKept) long_tokens_.erase(long_tokens_.begin());
  long_tokens_.push_back({min_length, std::string(keep_bytes), std::move(*info)});
  return long_tokens_.back().info;
}

size_t TokenizerInfo::MemorySize() const {
  return nodes_.capacity() * sizeof(Node) + runs_.capacity() * sizeof(Run) +
         sorted_ids_.capacity() * sizeof(int32_t) +
         char_starts_.capacity() * sizeof(uint16_t) + positions_.capacity() * sizeof(uint32_t) +
         masks_.capacity() * sizeof(std::array<uint64_t, 4>) +
         parents_by_byte_.capacity() * sizeof(int32_t) +
         byte_token_mask_.capacity() * sizeof(uint32_t);
}

}  // namespace sieve
