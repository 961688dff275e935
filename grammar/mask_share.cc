// Bounded-bisimulation classes for sharing mask classifications (see mask_share.h).
#include "grammar/mask_share.h"

#include <algorithm>
#include <numeric>
#include <span>
#include <string_view>

#include "grammar/bitmask.h"

namespace sieve {
namespace {

// Dense class ids for keys (spans of int64), numbered in order of first appearance. Keys live in
// one arena and the table is open addressing, so a level costs no allocation per state.
class KeyInterner {
 public:
  void Reset(size_t expected) {
    size_t cap = 16;
    while (cap < 2 * expected) cap *= 2;
    slots_.assign(cap, -1);
    arena_.clear();
    begin_.clear();
    hash_.clear();
  }
  int32_t Intern(std::span<const int64_t> key) {
    uint64_t h = 1469598103934665603ULL;
    for (const int64_t x : key) {
      h ^= static_cast<uint64_t>(x);
      h *= 1099511628211ULL;
      h ^= h >> 29;
    }
    const size_t mask = slots_.size() - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
      const int32_t id = slots_[i];
      if (id < 0) {
        const auto nid = static_cast<int32_t>(begin_.size());
        slots_[i] = nid;
        begin_.push_back(arena_.size());
        hash_.push_back(h);
        arena_.insert(arena_.end(), key.begin(), key.end());
        return nid;
      }
      if (hash_[id] != h) continue;
      const size_t b = begin_[id];
      const size_t e = static_cast<size_t>(id) + 1 < begin_.size() ? begin_[id + 1] : arena_.size();
      if (e - b == key.size() && std::equal(key.begin(), key.end(), arena_.begin() + b)) return id;
    }
  }
  int32_t size() const { return static_cast<int32_t>(begin_.size()); }

 private:
  std::vector<int32_t> slots_;
  std::vector<int64_t> arena_;
  std::vector<size_t> begin_;
  std::vector<uint64_t> hash_;
};

bool TestBit(const std::vector<uint32_t>& bits, int32_t id) {
  const auto w = static_cast<size_t>(id) >> 5;
  return w < bits.size() && (bits[w] >> (id & 31) & 1);
}

// The partitions of g's states at the levels `horizons` (ascending), computed in one pass of
// refinement (level j: alike for the next j bytes, with `escape_bytes`; the levels are those of
// mask_share.h). A counted rule's bound is re-checked at every level (a bound of j or more is
// never hit within j bytes), so refinement only stops early once no level splits a class and no
// finite bound is left to reach.
// Returns false when the deadline expired (the partitions are then incomplete).
bool Partitions(const CompiledGrammar& g, const std::vector<uint32_t>& horizons,
                std::string_view escape_bytes, const Deadline& deadline,
                std::vector<std::vector<int32_t>>* out) {
  bool escape[256] = {};
  for (const char c : escape_bytes) escape[static_cast<uint8_t>(c)] = true;
  const int32_t n = g.num_states();
  out->assign(horizons.size(), std::vector<int32_t>());
  if (horizons.empty()) return true;
  // Return sites per rule, and the largest finite bound a level up to the last horizon can still
  // tell apart (a bound m is told apart from level m + 1 on; past it no level adds splits).
  std::vector<std::vector<int32_t>> sites(g.num_rules());
  int64_t max_bound = -1;
  for (size_t r = 0; r < g.num_rules(); ++r) {
    const CompiledGrammar::RuleInfo& info = g.rule(static_cast<RuleId>(r));
    if (info.counted && info.max != kUnbounded &&
        info.max < static_cast<int64_t>(horizons.back())) {
      max_bound = std::max<int64_t>(max_bound, info.max);
    }
  }
  for (int32_t s = 0; s < n; ++s) {
    for (const CompiledGrammar::CallEdge& e : g.call_edges(s)) {
      sites[e.callee].push_back(e.return_state);
    }
  }
  // Rules after whose end only escape bytes can follow (a string body before its closing quote):
  // a pop of their frame goes on with an escape byte, so on the paths that read none (the only
  // ones sharing compares) whether a state may pop does not matter. A token without an escape
  // byte that ends where the rule may end is read to its end without popping either way. The
  // root is excluded (its pop ends the input).
  std::vector<char> pops_escaped(g.num_rules(), 0);
  if (!escape_bytes.empty()) {
    for (size_t r = 0; r < g.num_rules(); ++r) {
      if (static_cast<RuleId>(r) == g.root_rule()) continue;
      bool only = true;
      for (int b = 0; b < 256 && only; ++b) {
        only = !g.CanFollow(static_cast<RuleId>(r), static_cast<uint8_t>(b)) || escape[b];
      }
      pops_escaped[r] = only;
    }
  }
  KeyInterner interner;
  std::vector<int64_t> key, site_classes;
  std::vector<int32_t> prev(static_cast<size_t>(n), 0), cur(static_cast<size_t>(n), 0);
  std::vector<int32_t> next(static_cast<size_t>(n), 0);
  // Splits classes until call edges and pops agree within the current level.
  auto refine = [&](int32_t count) {
    std::vector<int64_t> rule_key_begin(g.num_rules() + 1, 0);
    for (;;) {
      // Per rule: the number of its call edges and the sorted classes of its sites.
      site_classes.clear();
      for (size_t r = 0; r < g.num_rules(); ++r) {
        rule_key_begin[r] = static_cast<int64_t>(site_classes.size());
        if (sites[r].empty()) continue;
        site_classes.push_back(static_cast<int64_t>(sites[r].size()));
        const size_t b = site_classes.size();
        for (const int32_t t : sites[r]) site_classes.push_back(cur[t]);
        std::sort(site_classes.begin() + static_cast<std::ptrdiff_t>(b), site_classes.end());
        site_classes.erase(std::unique(site_classes.begin() + static_cast<std::ptrdiff_t>(b),
                                       site_classes.end()),
                           site_classes.end());
      }
      rule_key_begin[g.num_rules()] = static_cast<int64_t>(site_classes.size());
      interner.Reset(static_cast<size_t>(n));
      for (int32_t s = 0; s < n; ++s) {
        key.clear();
        key.push_back(cur[s]);
        for (const CompiledGrammar::CallEdge& e : g.call_edges(s)) {
          key.push_back(cur[e.callee_start]);
          key.push_back(cur[e.return_state]);
        }
        // Only a state where the rule may end pops its frame; what follows the pop is the
        // rule's: the end of the input for the root, else its return sites.
        if ((g.flags(s) & CompiledGrammar::kAccepting) && !pops_escaped[g.rule_of(s)]) {
          const RuleId r = g.rule_of(s);
          key.push_back(-2);
          key.push_back(r == g.root_rule());
          key.insert(key.end(), site_classes.begin() + rule_key_begin[r],
                     site_classes.begin() + rule_key_begin[r + 1]);
        }
        next[s] = interner.Intern(key);
      }
      cur.swap(next);
      if (interner.size() == count) return count;
      count = interner.size();
    }
  };
  int32_t count = 0;
  size_t want = 0;
  for (uint32_t h = 0; want < horizons.size(); ++h) {
    if (deadline.Expired()) return false;
    interner.Reset(static_cast<size_t>(n));
    for (int32_t s = 0; s < n; ++s) {
      key.clear();
      const RuleId r = g.rule_of(s);
      const CompiledGrammar::RuleInfo& info = g.rule(r);
      if (h > 0) key.push_back(prev[s]);
      if (info.counted) {
        key.push_back(-1);
        key.push_back(info.min);
        key.push_back(info.max == kUnbounded || info.max >= static_cast<int32_t>(h)
                          ? -1
                          : int64_t{info.max});
      } else if (h == 0) {
        key.push_back(-3);
        key.push_back(info.unique_items);
      }
      if (h == 0) {
        const int64_t flags = g.flags(s);
        key.push_back(pops_escaped[r] ? flags & ~int64_t{CompiledGrammar::kAccepting} : flags);
      } else {
        for (const CompiledGrammar::ByteEdge& e : g.byte_edges(s)) {
          key.push_back(int64_t{e.lo} << 8 | e.hi);
          // An edge that reads only escape bytes: where it leads does not matter.
          bool escaped = !escape_bytes.empty();
          for (int b = e.lo; b <= e.hi && escaped; ++b) escaped = escape[b];
          key.push_back(escaped ? -5 : int64_t{prev[e.target]});
        }
      }
      cur[s] = interner.Intern(key);
    }
    const int32_t classes = refine(interner.size());
    // Stable: no split at this level and no bound left to reach, so every later level is the same.
    const bool stable = h > 0 && classes == count && static_cast<int64_t>(h) > max_bound;
    count = classes;
    prev = cur;
    while (want < horizons.size() && (horizons[want] == h || stable)) (*out)[want++] = cur;
  }
  return true;
}

// Sharing from a partition: the first byte-reading state of each class is its representative.
MaskSharing FromPartition(const CompiledGrammar& g, uint32_t horizon, std::vector<int32_t> cls) {
  MaskSharing out;
  out.horizon = horizon;
  const int32_t n = g.num_states();
  out.rep.resize(static_cast<size_t>(n));
  std::iota(out.rep.begin(), out.rep.end(), 0);
  if (cls.empty()) {
    out.cls = out.rep;
    return out;
  }
  out.cls = std::move(cls);
  const int32_t count = *std::max_element(out.cls.begin(), out.cls.end()) + 1;
  std::vector<int32_t> first(static_cast<size_t>(count), -1);
  for (int32_t s = 0; s < n; ++s) {
    if (!(g.flags(s) & CompiledGrammar::kHasBytes)) continue;
    int32_t& f = first[out.cls[s]];
    if (f < 0) {
      f = s;
    } else {
      out.rep[s] = f;
      ++out.members;
    }
  }
  return out;
}

}  // namespace

MaskSharing ComputeMaskSharing(const CompiledGrammar& g, uint32_t horizon,
                               const Deadline& deadline, std::string_view escape_bytes) {
  if (horizon == 0 || g.num_states() == 0) return FromPartition(g, horizon, {});
  std::vector<std::vector<int32_t>> parts;
  if (!Partitions(g, {horizon}, escape_bytes, deadline, &parts)) {
    return FromPartition(g, horizon, {});
  }
  return FromPartition(g, horizon, std::move(parts[0]));
}

std::vector<uint32_t> SharingHorizons(uint32_t horizon, uint32_t max_horizon) {
  std::vector<uint32_t> out;
  if (horizon == 0) return out;
  for (uint32_t h = horizon; h <= std::max(horizon, max_horizon); h *= 2) out.push_back(h);
  return out;
}

MaskSharingPlan PlanMaskSharing(const CompiledGrammar& g, uint32_t horizon, uint32_t max_horizon,
                                const Deadline& deadline, std::string_view escape_bytes) {
  const std::vector<uint32_t> horizons = SharingHorizons(horizon, max_horizon);
  std::vector<std::vector<int32_t>> parts;
  if (horizons.empty() || g.num_states() == 0 ||
      !Partitions(g, horizons, escape_bytes, deadline, &parts)) {
    parts.clear();
  }
  const MaskSharing base = FromPartition(g, horizon, parts.empty() ? std::vector<int32_t>()
                                                                   : std::move(parts[0]));
  MaskSharingPlan plan;
  plan.rep = base.rep;
  plan.horizon.assign(base.rep.size(), horizon);
  plan.members = base.members;
  if (base.members == 0) return plan;
  std::vector<int32_t> first(base.rep.size());
  for (size_t level = 1; level < parts.size(); ++level) {
    const std::vector<int32_t>& wide = parts[level];
    const uint32_t h = horizons[level];
    // In each wider class, the first state classified in full.
    std::fill(first.begin(), first.end(), -1);
    for (int32_t s = 0; s < g.num_states(); ++s) {
      if ((g.flags(s) & CompiledGrammar::kHasBytes) && base.rep[s] == s && first[wide[s]] < 0) {
        first[wide[s]] = s;
      }
    }
    bool any = false;
    for (int32_t s = 0; s < g.num_states(); ++s) {
      if (!(g.flags(s) & CompiledGrammar::kHasBytes)) continue;
      const int32_t r = first[wide[s]];
      if (base.rep[s] == s || r < 0 || r == s) continue;
      plan.rep[s] = r;
      plan.horizon[s] = h;
      any = true;
    }
    if (!any) break;
  }
  return plan;
}

void MergeShared(const TokenizerInfo& full, const TokenizerInfo& long_tokens,
                 const StateClassification& rep, const StateClassification& long_part,
                 StateClassification* out) {
  const std::vector<uint32_t>& long_mask = long_tokens.byte_token_mask();
  const size_t words = full.words();
  out->accepted_bits.resize(words);
  if (long_part.accepted_bits.size() == words && rep.accepted_bits.size() == words &&
      long_mask.size() == words) {
    BlendWords(out->accepted_bits.data(), long_part.accepted_bits.data(),
               rep.accepted_bits.data(), long_mask.data(), words);
  } else {
    for (size_t w = 0; w < words; ++w) {
      const uint32_t mine = w < long_part.accepted_bits.size() ? long_part.accepted_bits[w] : 0;
      const uint32_t theirs = w < rep.accepted_bits.size() ? rep.accepted_bits[w] : 0;
      const uint32_t m = w < long_mask.size() ? long_mask[w] : 0;
      out->accepted_bits[w] = (theirs & ~m) | (mine & m);
    }
  }
  // Counted states: the accepted tokens with their iteration counts, short ones from the
  // representative, long ones from the member's own walk.
  out->accepted.clear();
  out->accepted_k.clear();
  for (size_t i = 0; i < rep.accepted.size(); ++i) {
    if (TestBit(long_mask, rep.accepted[i])) continue;
    out->accepted.push_back(rep.accepted[i]);
    out->accepted_k.push_back(rep.accepted_k[i]);
  }
  for (size_t i = 0; i < long_part.accepted.size(); ++i) {
    if (!TestBit(long_mask, long_part.accepted[i])) continue;
    out->accepted.push_back(long_part.accepted[i]);
    out->accepted_k.push_back(long_part.accepted_k[i]);
  }
  out->uncertain.clear();
  for (const StateClassification::Entry& e : rep.uncertain) {
    if (!TestBit(long_mask, e.token)) out->uncertain.push_back(e);
  }
  for (const StateClassification::Entry& e : long_part.uncertain) {
    if (TestBit(long_mask, e.token)) out->uncertain.push_back(e);
  }
  out->nodes_visited = long_part.nodes_visited;
  // Both sides listed the same way (accepted, or rejected, ids): the merged list is their short
  // and long parts side by side, and MakeSet neither counts nor scans the merged bits.
  out->accepted_count = -1;
  out->has_list = false;
  out->list.clear();
  if (rep.has_list && long_part.has_list && rep.list_rejected == long_part.list_rejected) {
    const std::vector<uint32_t>& bytes = full.byte_token_mask();
    auto take = [&](const std::vector<int32_t>& ids, bool is_long, std::vector<int32_t>* to) {
      for (const int32_t id : ids) {
        if (TestBit(long_mask, id) == is_long && (!rep.list_rejected || TestBit(bytes, id))) {
          to->push_back(id);
        }
      }
    };
    std::vector<int32_t> short_ids, long_ids;
    take(rep.list, false, &short_ids);
    take(long_part.list, true, &long_ids);
    out->list.resize(short_ids.size() + long_ids.size());
    std::merge(short_ids.begin(), short_ids.end(), long_ids.begin(), long_ids.end(),
               out->list.begin());
    const auto listed = static_cast<int64_t>(out->list.size());
    out->accepted_count =
        rep.list_rejected ? static_cast<int64_t>(full.num_byte_tokens()) - listed : listed;
    out->has_list = out->list.size() <= MaskListMax(words);
    out->list_rejected = rep.list_rejected;
    if (!out->has_list) out->list.clear();
  }
}

void LongAcceptedOf(const TokenizerInfo& long_tokens, const StateClassification& rep,
                    LongAccepted* out) {
  const std::vector<uint32_t>& long_mask = long_tokens.byte_token_mask();
  out->ids.clear();
  out->ks.clear();
  for (size_t i = 0; i < rep.accepted.size(); ++i) {
    if (!TestBit(long_mask, rep.accepted[i])) continue;
    out->ids.push_back(rep.accepted[i]);
    out->ks.push_back(rep.accepted_k[i]);
  }
}

bool SameOnLongTokens(const TokenizerInfo& long_tokens, const StateClassification& rep,
                      const StateClassification& long_part, const LongAccepted* rep_long) {
  const std::vector<uint32_t>& long_mask = long_tokens.byte_token_mask();
  // The long tokens of each list, in order, side by side.
  auto same_lists = [&](const auto& a, const auto& b, const auto& token, const auto& equal) {
    size_t i = 0, j = 0;
    for (;;) {
      while (i < a.size() && !TestBit(long_mask, token(a, i))) ++i;
      while (j < b.size() && !TestBit(long_mask, token(b, j))) ++j;
      if (i == a.size() || j == b.size()) return i == a.size() && j == b.size();
      if (!equal(i, j)) return false;
      ++i;
      ++j;
    }
  };
  const auto id = [](const std::vector<int32_t>& v, size_t i) { return v[i]; };
  if (rep.has_list && long_part.has_list && rep.list_rejected == long_part.list_rejected) {
    // Both listed the same way (accepted, or rejected, ids): their long ids, not the bitsets.
    if (!same_lists(rep.list, long_part.list, id,
                    [&](size_t i, size_t j) { return rep.list[i] == long_part.list[j]; })) {
      return false;
    }
  } else {
    const size_t words = long_mask.size();
    const uint32_t* mine = long_part.accepted_bits.data();
    const uint32_t* theirs = rep.accepted_bits.data();
    const uint32_t* m = long_mask.data();
    // Where both rows have words, 64 at a time (bitmask.h); past the shorter row, a missing
    // word is 0.
    const size_t both =
        std::min({words, long_part.accepted_bits.size(), rep.accepted_bits.size()});
    if (!SameUnderMask(mine, theirs, m, both)) return false;
    for (size_t w = both; w < words; ++w) {
      const uint32_t a = w < long_part.accepted_bits.size() ? mine[w] : 0;
      const uint32_t b = w < rep.accepted_bits.size() ? theirs[w] : 0;
      if ((a ^ b) & m[w]) return false;
    }
  }
  LongAccepted own;
  if (rep_long == nullptr) {
    LongAcceptedOf(long_tokens, rep, &own);
    rep_long = &own;
  }
  if (!same_lists(rep_long->ids, long_part.accepted, id, [&](size_t i, size_t j) {
        return rep_long->ids[i] == long_part.accepted[j] &&
               rep_long->ks[i] == long_part.accepted_k[j];
      })) {
    return false;
  }
  const auto entry_token = [](const std::vector<StateClassification::Entry>& v, size_t i) {
    return v[i].token;
  };
  return same_lists(rep.uncertain, long_part.uncertain, entry_token, [&](size_t i, size_t j) {
    const StateClassification::Entry& a = rep.uncertain[i];
    const StateClassification::Entry& b = long_part.uncertain[j];
    return a.token == b.token && a.k == b.k && a.suffix == b.suffix && a.limited == b.limited;
  });
}

}  // namespace sieve
