// TokenMaskCache (see mask_cache.h): building the per-state sets from MaskBuilder's
// classifications, pooling them, and filling rows at run time.
//
// Build runs in two phases. Phase 1 (parallel over states, one MaskBuilder per worker) classifies a
// state and turns the classification into a StateResult that owns its vectors: the base set in its
// smallest form, the per-budget sets and clear list of counted states, and the suffix trie of the
// uncertain entries. Phase 2 (sequential, in state order, so the result does not depend on the
// thread count) appends each result to the shared pools, reusing an equal set already pooled, and
// stops adding states once the byte budget is spent.
#include "grammar/mask_cache.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

#include "grammar/bitmask.h"
#include "grammar/content_hash.h"
#include "grammar/mask_share.h"

namespace sieve {

struct TokenMaskCache::PendingSet {
  Form form = kAcceptList;
  std::vector<uint32_t> words;
  std::vector<int32_t> ids;
  uint64_t hash = 0;  // of form and contents, computed where the set is made (in parallel)
};

struct TokenMaskCache::StateResult {
  using Set = PendingSet;
  Set base;
  int32_t kmax = 0;
  int32_t dense = 0;
  std::vector<Set> levels;
  std::vector<int32_t> clear;
  std::vector<uint32_t> gt;
  std::vector<SuffixNode> nodes;  // with a trailing sentinel when non-empty
  std::vector<CheckEntry> entries;
  int32_t uncertain_tokens = 0;
  int64_t accepted = 0;
  int64_t nodes_visited = 0;
  // A member whose answers are its representative's (SameOnLongTokens): the index of the
  // representative's result, whose masks it takes; every other field but nodes_visited is empty.
  int32_t alias = -1;
};

namespace {

// Whether BuildState gives the state's masks levels by iteration count (mask_cache.h).
bool HasBoundedCounter(const CompiledGrammar& g, int32_t state) {
  const CompiledGrammar::RuleInfo& rule = g.rule(g.rule_of(state));
  return rule.counted && rule.max != kUnbounded;
}

// Bits set in both rows (over the shorter one).
int64_t CountCommon(const std::vector<uint32_t>& a, const std::vector<uint32_t>& b) {
  return static_cast<int64_t>(CountCommonBits(a.data(), b.data(), std::min(a.size(), b.size())));
}

inline void SetBit(uint32_t* row, int32_t id) { row[id >> 5] |= uint32_t{1} << (id & 31); }
inline void ClearBit(uint32_t* row, int32_t id) { row[id >> 5] &= ~(uint32_t{1} << (id & 31)); }

// Hash of a set's words for pooling equal sets (contents are compared on a match): four
// independent multiply-xor lanes, so a 16 KB bitset is not one serial dependency chain.
uint64_t HashSetWords(uint64_t seed, const void* data, size_t bytes) {
  constexpr uint64_t kMul = 0x9e3779b97f4a7c15ull;
  uint64_t lane[4] = {seed, seed ^ 0x243f6a8885a308d3ull, seed ^ 0x13198a2e03707344ull,
                      seed ^ 0xa4093822299f31d0ull};
  const auto* p = static_cast<const unsigned char*>(data);
  size_t i = 0;
  for (; i + 32 <= bytes; i += 32) {
    for (int k = 0; k < 4; ++k) {
      uint64_t w;
      std::memcpy(&w, p + i + 8 * k, 8);
      lane[k] = (lane[k] ^ w) * kMul;
      lane[k] ^= lane[k] >> 29;
    }
  }
  uint64_t tail = bytes;
  for (; i < bytes; ++i) tail = (tail << 8 | p[i]) * kMul;
  ContentHasher h(seed);
  for (const uint64_t x : lane) h.AddU64(x);
  h.AddU64(tail);
  return h.Finish();
}

}  // namespace

// Picks the form for the set whose bits are in `row`: a list of accepted ids, a list of rejected
// byte tokens, or the bitset itself. The smallest, except that a list is used only up to
// MaskListMax(words) ids (mask_builder.h).
size_t TokenMaskCache::MakeSet(const TokenizerInfo& info, const std::vector<uint32_t>& row,
                               PendingSet* set, const StateClassification* known) {
  const size_t words = row.size();
  const size_t accepted = known != nullptr && known->accepted_count >= 0
                              ? static_cast<size_t>(known->accepted_count)
                              : CountBits(row.data(), row.size());
  const size_t rejected = info.num_byte_tokens() - accepted;
  set->words.clear();
  set->ids.clear();
  const size_t list_max = MaskListMax(words);
  auto finish = [set] {
    set->hash = set->form == kBitset
                    ? HashSetWords(set->form, set->words.data(), set->words.size() * 4)
                    : HashSetWords(set->form, set->ids.data(), set->ids.size() * 4);
  };
  if (accepted > list_max && rejected > list_max) {
    set->form = kBitset;
    set->words = row;
    finish();
    return accepted;
  }
  const bool accept = accepted <= rejected;
  set->form = accept ? kAcceptList : kRejectList;
  if (known != nullptr && known->accepted_count >= 0 && known->has_list &&
      known->list_rejected == !accept) {
    set->ids = known->list;  // the classifier's own list: the same ids, sorted
    finish();
    return accepted;
  }
  // The rows through local pointers: with the vectors themselves the compiler reloaded their data
  // pointers for every word (push_back might have changed them).
  std::vector<int32_t>& ids = set->ids;
  ids.reserve(accept ? accepted : rejected);
  const uint32_t* r = row.data();
  const uint32_t* u = info.byte_token_mask().data();
  const uint32_t flip = accept ? 0 : ~uint32_t{0};
  for (size_t w = 0; w < words; ++w) {
    uint32_t bits = accept ? r[w] : (u[w] & (r[w] ^ flip));
    while (bits != 0) {
      ids.push_back(static_cast<int32_t>(w * 32 + __builtin_ctz(bits)));
      bits &= bits - 1;
    }
  }
  finish();
  return accepted;
}

void TokenMaskCache::BuildState(const CompiledGrammar& g, const TokenizerInfo& info,
                                const MaskCacheOptions& opts, int32_t state,
                                const StateClassification& c, StateResult* r) {
  r->accepted = static_cast<int64_t>(MakeSet(info, c.accepted_bits, &r->base, &c));
  r->nodes_visited = c.nodes_visited;

  const CompiledGrammar::RuleInfo& rule = g.rule(g.rule_of(state));
  if (rule.counted && rule.max != kUnbounded && !c.accepted_k.empty()) {
    std::vector<uint32_t> row(c.accepted_bits.size(), 0);
    const int32_t kmax = *std::max_element(c.accepted_k.begin(), c.accepted_k.end());
    if (kmax > 0) {
      std::vector<uint32_t> count(kmax + 1, 0);
      for (const uint16_t k : c.accepted_k) ++count[k];
      // gt[r] = tokens with k > r.
      std::vector<uint32_t> gt(kmax + 1, 0);
      for (int32_t k = kmax - 1; k >= 0; --k) gt[k] = gt[k + 1] + count[k + 1];
      int32_t dense = 0;
      while (dense < kmax && gt[dense] > opts.counted_clear_limit) ++dense;
      r->kmax = kmax;
      r->dense = dense;
      // Budgets below `dense`: a set each (tokens with k <= budget), built cumulatively from
      // the ids ordered by k (a counting sort: string bodies accept ~100k tokens here).
      std::vector<uint32_t> at(static_cast<size_t>(dense) + 1, 0);
      for (int32_t k = 0; k < dense; ++k) at[k + 1] = at[k] + count[k];
      std::vector<int32_t> by_k(at[dense]);
      std::vector<uint32_t> fill(at.begin(), at.end() - 1);
      std::vector<std::pair<int32_t, int32_t>> tail;  // (k, id) with k > dense
      tail.reserve(gt[dense]);
      for (size_t i = 0; i < c.accepted.size(); ++i) {
        const int32_t k = c.accepted_k[i];
        if (k < dense) by_k[fill[k]++] = c.accepted[i];
        if (k > dense) tail.push_back({k, c.accepted[i]});
      }
      for (int32_t b = 0; b < dense; ++b) {
        for (uint32_t j = at[b]; j < at[b + 1]; ++j) SetBit(row.data(), by_k[j]);
        r->levels.emplace_back();
        MakeSet(info, row, &r->levels.back());
      }
      std::sort(tail.begin(), tail.end(), [](const auto& a, const auto& b) {
        return a.first != b.first ? a.first > b.first : a.second < b.second;
      });
      for (const auto& [k, id] : tail) r->clear.push_back(id);
      for (int32_t b = dense; b < kmax; ++b) r->gt.push_back(gt[b]);
    }
  }

  // Uncertain entries: sorted by suffix bytes, then laid out as a preorder trie.
  if (c.uncertain.empty()) return;
  const Vocabulary& v = info.vocab();
  std::vector<StateClassification::Entry> e = c.uncertain;
  auto suffix = [&](const StateClassification::Entry& x) {
    return v.TokenBytes(x.token).substr(x.suffix);
  };
  std::sort(e.begin(), e.end(), [&](const auto& a, const auto& b) {
    const std::string_view sa = suffix(a), sb = suffix(b);
    if (sa != sb) return sa < sb;
    if (a.token != b.token) return a.token < b.token;
    return a.k < b.k;
  });
  e.erase(std::unique(e.begin(), e.end(),
                      [&](const auto& a, const auto& b) {
                        return a.token == b.token && a.k == b.k && suffix(a) == suffix(b);
                      }),
          e.end());
  std::vector<uint32_t> path{0};
  std::vector<uint32_t> entry_node(e.size());
  r->nodes.push_back({0, 0, 0, 0});
  std::string_view prev;
  for (size_t i = 0; i < e.size(); ++i) {
    const std::string_view s = suffix(e[i]);
    size_t lcp = 0;
    while (lcp < s.size() && lcp < prev.size() && s[lcp] == prev[lcp]) ++lcp;
    while (path.size() > lcp + 1) {
      r->nodes[path.back()].end = static_cast<uint32_t>(r->nodes.size());
      path.pop_back();
    }
    for (size_t d = lcp; d < s.size(); ++d) {
      path.push_back(static_cast<uint32_t>(r->nodes.size()));
      r->nodes.push_back({static_cast<uint8_t>(s[d]), static_cast<uint16_t>(d + 1), 0, 0});
    }
    entry_node[i] = path.back();
    prev = s;
  }
  while (!path.empty()) {
    r->nodes[path.back()].end = static_cast<uint32_t>(r->nodes.size());
    path.pop_back();
  }
  const size_t num = r->nodes.size();
  r->nodes.push_back({0, 0, static_cast<uint32_t>(num + 1), 0});  // sentinel
  for (size_t i = 0, n = 0; n <= num; ++n) {
    while (i < e.size() && entry_node[i] < n) ++i;
    r->nodes[n].entries = static_cast<uint32_t>(i);
  }
  std::vector<int32_t> tokens;
  for (const auto& x : e) {
    r->entries.push_back({x.token, x.k});
    tokens.push_back(x.token);
  }
  std::sort(tokens.begin(), tokens.end());
  tokens.erase(std::unique(tokens.begin(), tokens.end()), tokens.end());
  r->uncertain_tokens = static_cast<int32_t>(tokens.size());
}

void TokenMaskCache::PoolResults(const std::vector<int32_t>& states,
                                 std::vector<StateResult>* results_ptr,
                                 const MaskCacheOptions& opts) {
  const CompiledGrammar& g = *grammar_;
  const TokenizerInfo& ti = *info_;
  std::vector<StateResult>& results = *results_ptr;
  MaskCacheStats& st = stats_;
  std::unordered_map<uint64_t, std::vector<SetRef>> seen;
  const size_t words = ti.words();
  auto pool_set = [&](const StateResult::Set& s) -> SetRef {
    const uint64_t key = s.hash;
    for (const SetRef& ref : seen[key]) {
      if (ref.form != s.form) continue;
      const bool equal =
          s.form == kBitset
              ? std::equal(s.words.begin(), s.words.end(), words_.begin() + ref.offset)
              : (ref.size == s.ids.size() &&
                 std::equal(s.ids.begin(), s.ids.end(), ids_.begin() + ref.offset));
      if (equal) {
        ++st.shared_sets;
        return ref;
      }
    }
    SetRef ref;
    ref.form = s.form;
    if (s.form == kBitset) {
      ref.offset = static_cast<uint32_t>(words_.size());
      words_.insert(words_.end(), s.words.begin(), s.words.end());
      ++st.bitset_sets;
    } else {
      ref.offset = static_cast<uint32_t>(ids_.size());
      ref.size = static_cast<uint32_t>(s.ids.size());
      ids_.insert(ids_.end(), s.ids.begin(), s.ids.end());
      ++(s.form == kAcceptList ? st.accept_list_sets : st.reject_list_sets);
    }
    seen[key].push_back(ref);
    return ref;
  };
  auto set_bytes = [&](const StateResult::Set& s) {
    return s.form == kBitset ? words * sizeof(uint32_t) : s.ids.size() * sizeof(int32_t);
  };
  index_.assign(g.num_states(), -1);
  size_t used = 0;
  // Per result: the accepted tokens and uncertain entries counted for the stats (kept for the
  // members that take a representative's masks, after its result is freed).
  std::vector<int64_t> accepted_of(states.size(), 0), entries_of(states.size(), 0);
  for (size_t i = 0; i < states.size(); ++i) {
    StateResult& r = results[i];
    if (r.alias >= 0) continue;  // after every representative (below)
    size_t need = sizeof(StateMasks) + set_bytes(r.base) + r.clear.size() * sizeof(int32_t) +
                  r.gt.size() * sizeof(uint32_t) + r.nodes.size() * sizeof(SuffixNode) +
                  r.entries.size() * sizeof(CheckEntry);
    for (const StateResult::Set& s : r.levels) need += set_bytes(s) + sizeof(SetRef);
    if (used + need > opts.max_bytes) continue;  // over budget: served token by token
    used += need;
    StateMasks m;
    m.base = pool_set(r.base);
    m.kmax = r.kmax;
    m.dense = r.dense;
    m.levels = static_cast<uint32_t>(level_sets_.size());
    for (const StateResult::Set& s : r.levels) level_sets_.push_back(pool_set(s));
    m.clear = static_cast<uint32_t>(ids_.size());
    ids_.insert(ids_.end(), r.clear.begin(), r.clear.end());
    m.gt = static_cast<uint32_t>(gt_.size());
    gt_.insert(gt_.end(), r.gt.begin(), r.gt.end());
    m.nodes = static_cast<uint32_t>(nodes_.size());
    m.num_nodes = r.nodes.empty() ? 0 : static_cast<uint32_t>(r.nodes.size() - 1);
    nodes_.insert(nodes_.end(), r.nodes.begin(), r.nodes.end());
    for (const SuffixNode& n : r.nodes) {
      max_suffix_ = std::max<uint32_t>(max_suffix_, n.depth);
    }
    m.entries = static_cast<uint32_t>(entries_.size());
    entries_.insert(entries_.end(), r.entries.begin(), r.entries.end());
    m.uncertain_tokens = r.uncertain_tokens;
    index_[states[i]] = static_cast<int32_t>(states_.size());
    states_.push_back(m);
    ++st.cached_states;
    st.accepted += r.accepted;
    st.uncertain_tokens += r.uncertain_tokens;
    st.uncertain_entries += static_cast<int64_t>(r.entries.size());
    st.max_uncertain_tokens = std::max(st.max_uncertain_tokens, r.uncertain_tokens);
    st.trie_nodes_visited += r.nodes_visited;
    accepted_of[i] = r.accepted;
    entries_of[i] = static_cast<int64_t>(r.entries.size());
    r = StateResult();  // free as we go
  }
  for (size_t i = 0; i < states.size(); ++i) {
    const StateResult& r = results[i];
    if (r.alias < 0) continue;
    const int32_t from = index_[states[r.alias]];
    if (from < 0 || used + sizeof(StateMasks) > opts.max_bytes) continue;
    used += sizeof(StateMasks);
    const StateMasks m = states_[from];
    index_[states[i]] = static_cast<int32_t>(states_.size());
    states_.push_back(m);
    ++st.cached_states;
    st.accepted += accepted_of[r.alias];
    st.uncertain_tokens += m.uncertain_tokens;
    st.uncertain_entries += entries_of[r.alias];
    st.trie_nodes_visited += r.nodes_visited;
  }
  states_.shrink_to_fit();
  words_.shrink_to_fit();
  ids_.shrink_to_fit();
  level_sets_.shrink_to_fit();
  gt_.shrink_to_fit();
  nodes_.shrink_to_fit();
  entries_.shrink_to_fit();
}

Result<std::shared_ptr<const TokenMaskCache>> TokenMaskCache::Build(
    std::shared_ptr<const CompiledGrammar> grammar, std::shared_ptr<const TokenizerInfo> info,
    const MaskCacheOptions& opts, ThreadPool* pool) {
  const auto t0 = std::chrono::steady_clock::now();
  if (grammar == nullptr || info == nullptr) {
    return InvalidArgument("TokenMaskCache::Build needs a grammar and a tokenizer info");
  }
  std::shared_ptr<TokenMaskCache> cache(new TokenMaskCache());
  cache->grammar_ = std::move(grammar);
  cache->info_ = std::move(info);
  const CompiledGrammar& g = *cache->grammar_;
  const TokenizerInfo& ti = *cache->info_;

  std::vector<int32_t> states;
  for (int32_t s = 0; s < g.num_states(); ++s) {
    if (g.flags(s) & CompiledGrammar::kHasBytes) states.push_back(s);
  }
  std::vector<StateResult> results(states.size());
  const int workers = pool == nullptr ? 1 : pool->num_threads();
  // Representatives first, over the whole vocabulary; then every other member of a class over
  // only the long tokens, merged with its representative's answers (mask_share.h). A member alike
  // with some representative for a wider horizon shares with that one and walks fewer tokens.
  // The sharing plan beside the run-time shortcuts (both read only the grammar).
  MaskSharingPlan plan;
  RunBoth(
      pool,
      [&] {
        plan = PlanMaskSharing(g, opts.share_horizon, opts.share_horizon_max, opts.deadline,
                               opts.share_escape_bytes);
      },
      [&] { cache->BuildShortcuts(); });
  // The long-token tries by horizon (levels); a state whose trie is missing (LongTokens failed:
  // it does not for a vocabulary that built) is classified in full.
  std::vector<std::pair<uint32_t, std::shared_ptr<const TokenizerInfo>>> levels;
  std::vector<int32_t> member_rep(g.num_states(), -1), member_level(g.num_states(), 0);
  for (const int32_t s : states) {
    if (plan.rep[s] == s) continue;
    size_t level = 0;
    while (level < levels.size() && levels[level].first != plan.horizon[s]) ++level;
    if (level == levels.size())
      levels.emplace_back(plan.horizon[s], ti.LongTokens(plan.horizon[s], opts.share_escape_bytes));
    if (levels[level].second == nullptr) continue;
    member_rep[s] = plan.rep[s];
    member_level[s] = static_cast<int32_t>(level);
  }
  std::vector<size_t> reps, members;
  std::vector<int32_t> result_of(g.num_states(), -1);  // index into results, per state
  for (size_t i = 0; i < states.size(); ++i) result_of[states[i]] = static_cast<int32_t>(i);
  // saved_slot[rep]: where a representative with members keeps its classification, else -1.
  std::vector<int32_t> saved_slot(g.num_states(), -1);
  int32_t num_saved = 0;
  for (size_t i = 0; i < states.size(); ++i) {
    const int32_t rep = member_rep[states[i]];
    if (rep < 0) {
      reps.push_back(i);
    } else {
      members.push_back(i);
      if (saved_slot[rep] < 0) saved_slot[rep] = num_saved++;
    }
  }
  std::vector<StateClassification> saved(static_cast<size_t>(num_saved));
  // One set simulator per worker, shared by its builders over the full and the long-token tries.
  std::vector<std::unique_ptr<SetSimulator>> sims(workers);
  auto sim = [&](int w) {
    if (sims[w] == nullptr) sims[w] = std::make_unique<SetSimulator>(g);
    return sims[w].get();
  };
  std::vector<std::unique_ptr<MaskBuilder>> builders(workers);
  std::vector<std::unique_ptr<MaskBuilder>> long_builders(workers * levels.size());
  std::vector<StateClassification> scratch(workers), merged(workers);
  // -- deadline (harden, issue 10): polled once per state (a state costs microseconds to
  // milliseconds, the clock tens of nanoseconds); after it expires every worker skips the rest.
  std::atomic<bool> expired{false};
  std::atomic<size_t> classified{0};
  auto poll = [&] {
    if (expired.load(std::memory_order_relaxed)) return false;
    if (opts.deadline.Expired()) {
      expired.store(true, std::memory_order_relaxed);
      return false;
    }
    return true;
  };
  // With several workers, each task classifies the states of its own contiguous segment of the
  // list in order, then steals one state at a time from the back of the segment with the most
  // left: a builder reuses what it learnt at the previous state of the rule (first-byte answers,
  // the recent state's bits: mask_builder.h) and its set simulator and callee memo already hold
  // what the rule needs, and a rule is split between workers only at segment ends and where a
  // thief works. (Runs of up to n / 8W states of one rule handed out by one shared counter
  // interleaved the workers: +16% instructions against one worker.)
  auto for_states = [&](const std::vector<size_t>& list, const auto& body) {
    if (workers == 1) {
      for (size_t j = 0; j < list.size(); ++j) body(list[j], 0);
      return;
    }
    const auto tasks = static_cast<size_t>(workers);
    std::vector<size_t> lo(tasks), hi(tasks);
    for (size_t t = 0; t < tasks; ++t) {
      lo[t] = list.size() * t / tasks;
      hi[t] = list.size() * (t + 1) / tasks;
    }
    std::mutex mu;
    RunParallel(pool, tasks, [&](size_t t, int w) {
      for (;;) {
        size_t j;
        {
          std::lock_guard<std::mutex> lock(mu);
          if (lo[t] < hi[t]) {
            j = lo[t]++;
          } else {
            size_t from = t;
            for (size_t u = 0; u < tasks; ++u) {
              if (hi[u] - lo[u] > hi[from] - lo[from]) from = u;
            }
            if (lo[from] == hi[from]) return;
            j = --hi[from];
          }
        }
        body(list[j], w);
      }
    });
  };
  // Per (representative's slot, level): how many long tokens it accepts. A member whose own walk
  // accepted another number cannot answer as its representative: SameOnLongTokens is skipped.
  // And their accepted long tokens with counts (counted representatives: their accepted lists
  // hold every token, and each member would filter them again). Computed by the representative's
  // worker for the levels its members use (-2: used, not yet computed).
  std::vector<int64_t> rep_long(static_cast<size_t>(num_saved) * levels.size(), -1);
  std::vector<LongAccepted> rep_long_accepted(rep_long.size());
  auto rep_long_at = [&](size_t i) {
    return static_cast<size_t>(saved_slot[member_rep[states[i]]]) * levels.size() +
           static_cast<size_t>(member_level[states[i]]);
  };
  for (const size_t i : members) rep_long[rep_long_at(i)] = -2;
  for_states(reps, [&](size_t i, int w) {
    if (!poll()) return;
    if (builders[w] == nullptr) {
      builders[w] = std::make_unique<MaskBuilder>(g, ti, opts.build, sim(w));
    }
    builders[w]->Classify(states[i], &scratch[w]);
    BuildState(g, ti, opts, states[i], scratch[w], &results[i]);
    const int32_t slot = saved_slot[states[i]];
    if (slot >= 0) {
      saved[slot] = std::move(scratch[w]);
      for (size_t level = 0; level < levels.size(); ++level) {
        const size_t at = static_cast<size_t>(slot) * levels.size() + level;
        if (rep_long[at] != -2) continue;
        const TokenizerInfo& long_info = *levels[level].second;
        rep_long[at] = CountCommon(saved[slot].accepted_bits, long_info.byte_token_mask());
        LongAcceptedOf(long_info, saved[slot], &rep_long_accepted[at]);
      }
    }
    classified.fetch_add(1, std::memory_order_relaxed);
  });
  for_states(members, [&](size_t i, int w) {
    if (!poll()) return;
    const int32_t level = member_level[states[i]];
    const TokenizerInfo& long_info = *levels[level].second;
    std::unique_ptr<MaskBuilder>& builder = long_builders[level * workers + w];
    if (builder == nullptr) {
      builder = std::make_unique<MaskBuilder>(g, long_info, opts.build, sim(w));
    }
    builder->Classify(states[i], &scratch[w]);
    const int32_t rep = member_rep[states[i]];
    const StateClassification& rep_c = saved[saved_slot[rep]];
    // Alike beyond the horizon too (a run of counted tails that differ only in their bounds, a
    // pattern's states far from its ends): the representative's masks serve as they are, without
    // a merge or building (and pooling) the same sets again. BuildState looks at the rule only
    // for whether it is counted with a finite bound.
    if (HasBoundedCounter(g, rep) == HasBoundedCounter(g, states[i]) &&
        scratch[w].accepted_count == rep_long[rep_long_at(i)] &&
        SameOnLongTokens(long_info, rep_c, scratch[w], &rep_long_accepted[rep_long_at(i)])) {
      results[i].alias = result_of[rep];
      results[i].nodes_visited = scratch[w].nodes_visited;
    } else {
      MergeShared(ti, long_info, rep_c, scratch[w], &merged[w]);
      BuildState(g, ti, opts, states[i], merged[w], &results[i]);
    }
    classified.fetch_add(1, std::memory_order_relaxed);
  });
  if (expired.load()) {
    return opts.deadline.ExpiredError("building the token-mask cache (" +
                                      std::to_string(classified.load()) + " of " +
                                      std::to_string(states.size()) + " states classified)");
  }
  // -- end deadline --

  // Phase 2 while another worker frees what phase 1 kept (the builders' memos, the
  // simulators, the saved classifications: many small blocks, ~4 ms for the largest schemas).
  MaskCacheStats& st = cache->stats_;
  st.states = static_cast<int32_t>(states.size());
  st.shared_states = static_cast<int32_t>(members.size());
  RunBoth(pool, [&] { cache->PoolResults(states, &results, opts); },
          [&] {
            builders.clear();
            long_builders.clear();
            sims.clear();
            scratch.clear();
            merged.clear();
            saved.clear();
          });
  cache->depth_margin_ =
      (ti.max_token_length() + 2) * static_cast<uint32_t>(g.max_closure_pushes()) + 2;
  st.memory_bytes = cache->MemorySize();
  st.build_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  return std::shared_ptr<const TokenMaskCache>(std::move(cache));
}

void TokenMaskCache::PrepareTokenizerInfo(const TokenizerInfo& info, const MaskCacheOptions& opts) {
  for (const uint32_t h : SharingHorizons(opts.share_horizon, opts.share_horizon_max)) {
    info.LongTokens(h, opts.share_escape_bytes);
  }
}

size_t TokenMaskCache::MemorySize() const {
  return index_.capacity() * sizeof(int32_t) + states_.capacity() * sizeof(StateMasks) +
         words_.capacity() * sizeof(uint32_t) + ids_.capacity() * sizeof(int32_t) +
         level_sets_.capacity() * sizeof(SetRef) + gt_.capacity() * sizeof(uint32_t) +
         nodes_.capacity() * sizeof(SuffixNode) + entries_.capacity() * sizeof(CheckEntry) +
         shortcut_index_.capacity() * sizeof(int32_t) +
         shortcut_bits_.capacity() * sizeof(std::array<uint64_t, 8>);
}

int32_t TokenMaskCache::UncertainTokens(int32_t s) const {
  return HasState(s) ? states_[index_[s]].uncertain_tokens : 0;
}

std::string TokenMaskCache::StatsString() const {
  const MaskCacheStats& s = stats_;
  return "states " + std::to_string(s.cached_states) + "/" + std::to_string(s.states) +
         ", sets: " + std::to_string(s.bitset_sets) + " bitset, " +
         std::to_string(s.accept_list_sets) + " accept-list, " +
         std::to_string(s.reject_list_sets) + " reject-list, " + std::to_string(s.shared_sets) +
         " shared; uncertain tokens " + std::to_string(s.uncertain_tokens) + " (max " +
         std::to_string(s.max_uncertain_tokens) + " per state, " +
         std::to_string(s.uncertain_entries) + " checks), trie nodes visited " +
         std::to_string(s.trie_nodes_visited) + ", " + std::to_string(s.memory_bytes) + " bytes, " +
         std::to_string(s.build_ms) + " ms";
}

// ---- run time
// ------------------------------------------------------------------------------------

void TokenMaskCache::WriteSet(const SetRef& ref, uint32_t* out) const {
  const size_t words = info_->words();
  switch (ref.form) {
    case kBitset:
      std::memcpy(out, words_.data() + ref.offset, words * sizeof(uint32_t));
      return;
    case kAcceptList:
      std::memset(out, 0, words * sizeof(uint32_t));
      SetBits(out, ids_.data() + ref.offset, ref.size);
      return;
    case kRejectList:
      std::memcpy(out, info_->byte_token_mask().data(), words * sizeof(uint32_t));
      ClearBits(out, ids_.data() + ref.offset, ref.size);
      return;
  }
}

void TokenMaskCache::OrSet(const SetRef& ref, uint32_t* out, MaskFillScratch* scratch) const {
  const size_t words = info_->words();
  switch (ref.form) {
    case kBitset:
      OrWords(out, words_.data() + ref.offset, words);
      return;
    case kAcceptList:
      SetBits(out, ids_.data() + ref.offset, ref.size);
      return;
    case kRejectList: {
      scratch->row.resize(words);
      std::memset(scratch->row.data(), 0, words * sizeof(uint32_t));
      SetBits(scratch->row.data(), ids_.data() + ref.offset, ref.size);
      OrAndNotWords(out, info_->byte_token_mask().data(), scratch->row.data(), words);
      return;
    }
  }
}

// The base set of a state at counter c: the set itself, or near a bound a budget set, or the set
// minus the tokens needing more iterations than are left (k > max - c).
void TokenMaskCache::AddBase(const StateMasks& m, int32_t counter, int32_t rule_max, bool first,
                             uint32_t* out, MaskFillScratch* scratch) const {
  const SetRef* ref = &m.base;
  uint32_t clear = 0;
  if (m.kmax > 0) {
    const int32_t budget = std::max(rule_max - counter, 0);
    if (budget < m.kmax) {
      if (budget < m.dense) {
        ref = &level_sets_[m.levels + budget];
      } else {
        clear = gt_[m.gt + (budget - m.dense)];
      }
    }
  }
  if (first || clear > 0) {
    uint32_t* dst = out;
    if (!first) {
      scratch->row.resize(info_->words());
      dst = scratch->row.data();
    }
    WriteSet(*ref, dst);
    ClearBits(dst, ids_.data() + m.clear, clear);
    if (!first) OrWords(out, dst, info_->words());
    return;
  }
  OrSet(*ref, out, scratch);
}

void TokenMaskCache::WalkSuffixes(const StateMasks& m, int32_t counter,
                                  const CompiledGrammar::RuleInfo& rule, bool has_context,
                                  PdaStepper* stepper, MaskFillScratch* scratch) const {
  const SuffixNode* nodes = nodes_.data() + m.nodes;
  const CheckEntry* entries = entries_.data() + m.entries;
  std::vector<int32_t>& allowed = scratch->walk_tokens;
  auto emit = [&](uint32_t n) {
    const CheckEntry* e = entries + nodes[n].entries;
    const CheckEntry* end = entries + nodes[n + 1].entries;
    if (!rule.counted) {
      for (; e != end; ++e) allowed.push_back(e->token);
      return;
    }
    for (; e != end; ++e) {
      const int64_t c = static_cast<int64_t>(counter) + e->k;
      if (c >= rule.min && (rule.max == kUnbounded || c <= rule.max)) allowed.push_back(e->token);
    }
  };
  emit(0);
  if (!has_context) return;  // the frame is the root's: nothing may follow its end
  // raw_sets[d]: the stacks below that read the first d bytes of the current suffix, not yet
  // closed. Each node closes its parent's stacks with its own byte as lookahead (pruned by
  // FIRST/FOLLOW: the closure Advance runs between the bytes of a token) and steps them; a dead
  // prefix skips its subtree.
  const CompiledGrammar& g = *grammar_;
  if (scratch->raw_sets.size() < max_suffix_ + 1) scratch->raw_sets.resize(max_suffix_ + 1);
  scratch->raw_sets[0] = scratch->raw;  // the popped parents
  for (uint32_t n = 1; n < m.num_nodes;) {
    const SuffixNode& node = nodes[n];
    const uint8_t b = node.byte;
    const std::vector<Stack>& context =
        CloseWalk(scratch->raw_sets[node.depth - 1], b, stepper, scratch);
    std::vector<Stack>& raw = scratch->raw_sets[node.depth];
    raw.clear();
    for (const Stack& st : context) {
      const int32_t t = g.Step(st.state, b);
      int32_t c;
      if (t == kNoState || !g.CanBeginIteration(st.state, st.counter, &c)) continue;
      raw.push_back({t, c, st.parent});
    }
    if (raw.empty()) {
      n = node.end;
      continue;
    }
    emit(n);
    ++n;
  }
}

const std::vector<Stack>& TokenMaskCache::CloseWalk(const std::vector<Stack>& raw, uint8_t b,
                                                    PdaStepper* stepper,
                                                    MaskFillScratch* scratch) const {
  std::vector<Stack>& key = scratch->passed;
  std::vector<Stack>& kept = scratch->kept;
  key.clear();
  kept.clear();
  for (Stack s : raw) {
    for (;;) {
      const Shortcut sc = ShortcutFor(s.state, b);
      if (sc == kClose) {
        key.push_back(s);
      } else if (sc == kKeep) {
        kept.push_back(s);
      } else if (sc == kPass && s.parent != kNoNode) {
        const StackNode& p = stepper->node(s.parent);
        scratch->walk_read = std::min(scratch->walk_read, p.depth);
        s = {p.state, p.counter, p.parent};
        continue;
      }
      break;  // kDrop, or the root frame passing: nothing reads b after the end of the input
    }
  }
  if (key.empty()) {
    if (kept.size() > 1) {
      std::sort(kept.begin(), kept.end());
      kept.erase(std::unique(kept.begin(), kept.end()), kept.end());
    }
    return kept;
  }
  if (key.size() > 1) {
    std::sort(key.begin(), key.end());
    key.erase(std::unique(key.begin(), key.end()), key.end());
  }
  uint64_t h = 0x9e3779b97f4a7c15ull * (b + 1u);
  for (const Stack& st : key) {
    h = (h ^ HashFrame(st.state, st.counter, st.parent)) * 0x100000001b3ull;
  }
  std::vector<uint32_t>& table = scratch->closure_table;
  if (table.size() < 2 * (scratch->num_closures + 1)) {  // grow, rehashing the live entries
    table.assign(std::max<size_t>(256, table.size() * 2), 0);
    for (size_t i = 0; i < scratch->num_closures; ++i) {
      size_t j = scratch->closures[i].hash & (table.size() - 1);
      while (table[j] != 0) j = (j + 1) & (table.size() - 1);
      table[j] = static_cast<uint32_t>(i + 1);
    }
  }
  const size_t mask = table.size() - 1;
  size_t j = h & mask;
  const MaskFillScratch::Closure* found = nullptr;
  for (; table[j] != 0; j = (j + 1) & mask) {
    const MaskFillScratch::Closure& c = scratch->closures[table[j] - 1];
    if (c.hash == h && c.byte == b && c.raw == key) {
      found = &c;
      break;
    }
  }
  if (found == nullptr) {
    if (scratch->closures.size() <= scratch->num_closures) scratch->closures.emplace_back();
    MaskFillScratch::Closure& c = scratch->closures[scratch->num_closures++];
    table[j] = static_cast<uint32_t>(scratch->num_closures);
    c.hash = h;
    c.byte = b;
    c.raw = key;
    stepper->ResetReadDepth();
    stepper->Close(key, &scratch->context, b);
    c.read = stepper->min_read_depth();
    c.closed.swap(scratch->context.stacks);
    found = &c;
  }
  scratch->walk_read = std::min(scratch->walk_read, found->read);
  if (kept.empty()) return found->closed;
  std::vector<Stack>& merged = scratch->merged;
  merged.assign(found->closed.begin(), found->closed.end());
  merged.insert(merged.end(), kept.begin(), kept.end());
  std::sort(merged.begin(), merged.end());
  merged.erase(std::unique(merged.begin(), merged.end()), merged.end());
  return merged;
}

void TokenMaskCache::BuildShortcuts() {
  const CompiledGrammar& g = *grammar_;
  shortcut_index_.assign(g.num_states(), -1);
  std::vector<int32_t> work;
  std::vector<uint8_t> seen(g.num_states(), 0);
  std::vector<int32_t> touched;
  for (int32_t s = 0; s < g.num_states(); ++s) {
    const uint8_t f = g.flags(s);
    const RuleId rule = g.rule_of(s);
    if (g.rule(rule).counted) continue;  // counter guards: always a real closure
    if (f & CompiledGrammar::kPlain) {
      shortcut_index_[s] = -2;
      continue;
    }
    std::array<uint64_t, 8> bits{};
    if (g.call_edges(s).empty()) {
      // The frame alone (no pushes, no nullable callee to step over), a word at a time: it reads
      // b (edges) or pops before b (FOLLOW); the low half holds kKeep and kPass (reads xor pops),
      // the high half kDrop and kPass (not reads).
      uint64_t reads[4] = {0, 0, 0, 0};
      for (const CompiledGrammar::ByteEdge& e : g.byte_edges(s)) {
        for (int b = e.lo; b <= e.hi; ++b) reads[b >> 6] |= uint64_t{1} << (b & 63);
      }
      const uint64_t* follow = g.FollowBytes(rule);
      for (int i = 0; i < 4; ++i) {
        const uint64_t pops = g.accepting(s) ? follow[i] : 0;
        bits[i] = reads[i] ^ pops;
        bits[4 + i] = ~reads[i];
      }
      shortcut_index_[s] = static_cast<int32_t>(shortcut_bits_.size());
      shortcut_bits_.push_back(bits);
      continue;
    }
    for (int b = 0; b < 256; ++b) {
      const auto byte = static_cast<uint8_t>(b);
      // The states this frame can be in before reading `byte`: s, and the return states of
      // nullable callees that cannot start with it (their empty match), as Close explores them.
      bool pops = false, reads = false, pushes = false;
      work.assign(1, s);
      touched.assign(1, s);
      seen[s] = 1;
      while (!work.empty()) {
        const int32_t x = work.back();
        work.pop_back();
        if (g.Step(x, byte) != kNoState) reads = true;
        if (g.accepting(x) && g.CanFollow(rule, byte)) pops = true;
        for (const CompiledGrammar::CallEdge& e : g.call_edges(x)) {
          if (g.CanStartWith(e.callee, byte)) {
            pushes = true;
          } else if (g.rule(e.callee).nullable && !seen[e.return_state]) {
            seen[e.return_state] = 1;
            touched.push_back(e.return_state);
            work.push_back(e.return_state);
          }
        }
      }
      const bool alone = touched.size() == 1;
      for (const int32_t x : touched) seen[x] = 0;
      Shortcut sc = kClose;
      if (!pushes && !reads) {
        sc = pops ? kPass : kDrop;
      } else if (!pushes && !pops && alone) {
        sc = kKeep;
      }
      const uint64_t bit = uint64_t{1} << (b & 63);
      if (sc & 1) bits[b >> 6] |= bit;
      if (sc & 2) bits[4 + (b >> 6)] |= bit;
    }
    shortcut_index_[s] = static_cast<int32_t>(shortcut_bits_.size());
    shortcut_bits_.push_back(bits);
  }
}

bool TokenMaskCache::SameFrames(const MaskFillScratch::Walk& w, const Stack* stacks,
                                PdaStepper* stepper) {
  size_t f = 0;
  for (size_t k = 0; k < w.lens.size(); ++k) {
    NodeId id = stacks[k].parent;
    for (uint32_t n = 0; n < w.lens[k]; ++n, f += 2) {
      if (id == kNoNode) return false;
      const StackNode& p = stepper->node(id);
      if (p.state != w.frames[f] || p.counter != w.frames[f + 1]) return false;
      id = p.parent;
    }
    // A parent that was not read (the root frame's: none) must be absent alike.
    if (w.lens[k] == 0 && id != kNoNode) return false;
  }
  return true;
}

bool TokenMaskCache::FillStacks(const StackSet& set, PdaStepper* stepper, MaskFillScratch* scratch,
                                uint32_t max_stack_depth, uint32_t* out) const {
  const size_t words = info_->words();
  const CompiledGrammar& g = *grammar_;
  const std::vector<Stack>& stacks = set.stacks;
  if (stacks.empty()) {
    std::memset(out, 0, words * sizeof(uint32_t));
    for (const int32_t id : info_->empty_tokens()) SetBit(out, id);
    return true;
  }
  if (scratch->num_closures > 0) {  // the last fill's closures name its scratch nodes
    scratch->num_closures = 0;
    std::fill(scratch->closure_table.begin(), scratch->closure_table.end(), 0);
  }
  for (const Stack& s : stacks) {
    if (!HasState(s.state)) return false;
    const uint32_t depth = s.parent == kNoNode ? 1 : stepper->node(s.parent).depth + 1;
    if (static_cast<uint64_t>(depth) + depth_margin_ > max_stack_depth) return false;
  }
  // Base sets: one per (state, counter) group; a set shared by several groups is added once. The
  // union for a whole list of groups is kept in a small per-caller cache: the same lists recur
  // (every operand in an expression leaves the same ladder of states).
  scratch->groups.clear();
  for (size_t i = 0; i < stacks.size(); ++i) {
    if (i == 0 || stacks[i].state != stacks[i - 1].state ||
        stacks[i].counter != stacks[i - 1].counter) {
      scratch->groups.push_back({stacks[i].state, stacks[i].counter});
    }
  }
  MaskFillScratch::Union* cached = nullptr;
  if (scratch->groups.size() > 1) {
    ++scratch->clock;
    for (MaskFillScratch::Union& u : scratch->unions) {
      if (u.groups == scratch->groups && u.row.size() == words) {
        std::memcpy(out, u.row.data(), words * sizeof(uint32_t));
        u.last_use = scratch->clock;
        cached = &u;
        break;
      }
    }
  }
  if (cached == nullptr) {
    scratch->added.clear();
    bool first = true;
    for (const auto& [state, counter] : scratch->groups) {
      const StateMasks& m = states_[index_[state]];
      const CompiledGrammar::RuleInfo& rule = g.rule(g.rule_of(state));
      const bool plain = m.kmax == 0;
      const uint64_t key = (static_cast<uint64_t>(m.base.form) << 32) | m.base.offset;
      if (!plain ||
          std::find(scratch->added.begin(), scratch->added.end(), key) == scratch->added.end()) {
        AddBase(m, counter, rule.counted ? rule.max : 0, first, out, scratch);
        first = false;
        if (plain) scratch->added.push_back(key);
      }
    }
    if (scratch->groups.size() > 1) {
      if (scratch->unions.size() < MaskFillScratch::kUnions) scratch->unions.emplace_back();
      MaskFillScratch::Union* slot = &scratch->unions[0];
      for (MaskFillScratch::Union& u : scratch->unions) {
        if (u.last_use < slot->last_use) slot = &u;
      }
      slot->groups = scratch->groups;
      slot->row.assign(out, out + words);
      slot->last_use = scratch->clock;
    }
  }
  // Uncertain tokens: per group, pop the frames and check the suffixes against what is below.
  // The answer depends only on the group's state and counter and on the frames the check reads
  // below them (the stepper reports how deep its closures popped), so it is kept in a small
  // per-caller cache keyed by the contents of just those frames: the same statement inside
  // another block or function, at another depth, is a hit.
  for (size_t i = 0; i < stacks.size();) {
    const Stack& s = stacks[i];
    size_t j = i + 1;
    while (j < stacks.size() && stacks[j].state == s.state && stacks[j].counter == s.counter) ++j;
    const StateMasks& m = states_[index_[s.state]];
    if (m.num_nodes == 0) {
      i = j;
      continue;
    }
    ++scratch->clock;
    MaskFillScratch::Walk* hit = nullptr;
    for (MaskFillScratch::Walk& w : scratch->walks) {
      if (w.state == s.state && w.counter == s.counter && w.lens.size() == j - i &&
          SameFrames(w, stacks.data() + i, stepper)) {
        hit = &w;
        break;
      }
    }
    if (hit == nullptr) {
      scratch->raw.clear();
      uint32_t top = UINT32_MAX;  // the shallowest parent
      for (size_t k = i; k < j; ++k) {
        if (stacks[k].parent == kNoNode) continue;
        const StackNode& p = stepper->node(stacks[k].parent);
        scratch->raw.push_back({p.state, p.counter, p.parent});
        top = std::min(top, p.depth);
      }
      scratch->walk_tokens.clear();
      scratch->walk_read = UINT32_MAX;
      WalkSuffixes(m, s.counter, g.rule(g.rule_of(s.state)), !scratch->raw.empty(), stepper,
                   scratch);
      const uint32_t read = std::min(scratch->walk_read, top);
      if (scratch->walks.size() < MaskFillScratch::kWalks) scratch->walks.emplace_back();
      hit = &scratch->walks[0];
      for (MaskFillScratch::Walk& w : scratch->walks) {
        if (w.last_use < hit->last_use) hit = &w;
      }
      hit->state = s.state;
      hit->counter = s.counter;
      hit->lens.clear();
      hit->frames.clear();
      for (size_t k = i; k < j; ++k) {  // each parent's frames down to the depth read
        uint32_t len = 0;
        for (NodeId id = stacks[k].parent; id != kNoNode;) {
          const StackNode& p = stepper->node(id);
          if (p.depth < read) break;
          hit->frames.push_back(p.state);
          hit->frames.push_back(p.counter);
          ++len;
          id = p.parent;
        }
        hit->lens.push_back(len);
      }
      hit->tokens = scratch->walk_tokens;
    }
    hit->last_use = scratch->clock;
    SetBits(out, hit->tokens.data(), hit->tokens.size());
    i = j;
  }
  return true;
}

}  // namespace sieve
