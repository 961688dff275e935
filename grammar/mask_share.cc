// Bounded-bisimulation classes for sharing mask classifications (see mask_share.h).
#include "grammar/mask_share.h"

#include <numeric>
#include <unordered_map>

namespace sieve {
namespace {

struct KeyHash {
  size_t operator()(const std::vector<int64_t>& v) const {
    uint64_t h = 1469598103934665603ULL;
    for (const int64_t x : v) {
      h ^= static_cast<uint64_t>(x);
      h *= 1099511628211ULL;
      h ^= h >> 29;
    }
    return static_cast<size_t>(h);
  }
};

// Renumbers states by key (classes numbered in order of first appearance); returns the count.
int32_t Intern(const std::vector<std::vector<int64_t>>& keys, std::vector<int32_t>* cls) {
  std::unordered_map<std::vector<int64_t>, int32_t, KeyHash> ids;
  ids.reserve(keys.size());
  for (size_t s = 0; s < keys.size(); ++s) {
    (*cls)[s] = ids.try_emplace(keys[s], static_cast<int32_t>(ids.size())).first->second;
  }
  return static_cast<int32_t>(ids.size());
}

bool TestBit(const std::vector<uint32_t>& bits, int32_t id) {
  const auto w = static_cast<size_t>(id) >> 5;
  return w < bits.size() && (bits[w] >> (id & 31) & 1);
}

}  // namespace

MaskSharing ComputeMaskSharing(const CompiledGrammar& g, uint32_t horizon,
                               const Deadline& deadline) {
  MaskSharing out;
  out.horizon = horizon;
  const int32_t n = g.num_states();
  out.rep.resize(static_cast<size_t>(n));
  std::iota(out.rep.begin(), out.rep.end(), 0);
  out.cls = out.rep;  // every state alone until classes are found
  if (horizon == 0 || n == 0) return out;

  std::vector<std::vector<int64_t>> keys(static_cast<size_t>(n));
  std::vector<int32_t> prev(static_cast<size_t>(n), 0), cur(static_cast<size_t>(n), 0);
  // Splits classes until call edges agree within the current level: a call may return without
  // reading (nullable callee), so its return state counts at the caller's own level.
  auto refine = [&](int32_t count) {
    for (;;) {
      for (int32_t s = 0; s < n; ++s) {
        std::vector<int64_t>& k = keys[s];
        k.clear();
        k.push_back(cur[s]);
        for (const CompiledGrammar::CallEdge& e : g.call_edges(s)) {
          k.push_back(cur[e.callee_start]);
          k.push_back(cur[e.return_state]);
        }
      }
      const int32_t next = Intern(keys, &cur);
      if (next == count) return count;
      count = next;
    }
  };
  int32_t count = 0;
  for (uint32_t h = 0; h <= horizon; ++h) {
    if (deadline.Expired()) return out;  // nothing shared yet: out.rep is the identity
    for (int32_t s = 0; s < n; ++s) {
      std::vector<int64_t>& k = keys[s];
      k.clear();
      if (h == 0) {
        const RuleId r = g.rule_of(s);
        const CompiledGrammar::RuleInfo& info = g.rule(r);
        if (info.counted) {
          // Counted rules (as callees): alike when their bounds are, where `horizon` bytes can
          // reach them. A bound past the horizon cannot be reached (an iteration reads a byte),
          // so x{0,116} and x{0,115} called from neighbouring states of a length-bounded run
          // are alike. Their own states are still never members (below).
          k.push_back(-1);
          k.push_back(info.min);
          k.push_back(info.max == kUnbounded || info.max > static_cast<int32_t>(horizon)
                          ? -1
                          : int64_t{info.max});
        } else {
          k.push_back(int64_t{r});
        }
        k.push_back(g.flags(s));
        continue;
      }
      k.push_back(prev[s]);
      for (const CompiledGrammar::ByteEdge& e : g.byte_edges(s)) {
        k.push_back(int64_t{e.lo} << 8 | e.hi);
        k.push_back(prev[e.target]);
      }
    }
    const int32_t classes = refine(Intern(keys, &cur));
    if (h > 0 && classes == count) break;  // stable: every later level is the same partition
    count = classes;
    prev = cur;
  }
  out.cls = cur;
  std::vector<int32_t> first(static_cast<size_t>(count) + 1, -1);
  for (int32_t s = 0; s < n; ++s) {
    if (!(g.flags(s) & CompiledGrammar::kHasBytes)) continue;
    if (g.rule(g.rule_of(s)).counted) continue;  // classified alone (iteration counts)
    int32_t& f = first[cur[s]];
    if (f < 0) {
      f = s;
    } else {
      out.rep[s] = f;
      ++out.members;
    }
  }
  return out;
}

MaskSharingPlan PlanMaskSharing(const CompiledGrammar& g, uint32_t horizon, uint32_t max_horizon,
                                const Deadline& deadline) {
  const MaskSharing base = ComputeMaskSharing(g, horizon, deadline);
  MaskSharingPlan plan;
  plan.rep = base.rep;
  plan.horizon.assign(base.rep.size(), horizon);
  plan.members = base.members;
  if (base.members == 0) return plan;
  std::vector<int32_t> first(base.rep.size());
  for (uint32_t h = 2 * horizon; h <= max_horizon; h *= 2) {
    const MaskSharing wide = ComputeMaskSharing(g, h, deadline);
    if (wide.members == 0) break;
    // In each wider class, the first state classified in full.
    std::fill(first.begin(), first.end(), -1);
    for (int32_t s = 0; s < g.num_states(); ++s) {
      if ((g.flags(s) & CompiledGrammar::kHasBytes) && base.rep[s] == s && first[wide.cls[s]] < 0) {
        first[wide.cls[s]] = s;
      }
    }
    for (int32_t s = 0; s < g.num_states(); ++s) {
      const int32_t r = first[wide.cls[s]];
      if (base.rep[s] == s || r < 0 || r == s) continue;
      plan.rep[s] = r;
      plan.horizon[s] = h;
    }
  }
  return plan;
}

void MergeShared(const TokenizerInfo& full, const TokenizerInfo& long_tokens,
                 const StateClassification& rep, const StateClassification& long_part,
                 StateClassification* out) {
  const std::vector<uint32_t>& long_mask = long_tokens.byte_token_mask();
  const size_t words = full.words();
  out->accepted_bits.assign(words, 0);
  for (size_t w = 0; w < words; ++w) {
    const uint32_t mine = w < long_part.accepted_bits.size() ? long_part.accepted_bits[w] : 0;
    const uint32_t theirs = w < rep.accepted_bits.size() ? rep.accepted_bits[w] : 0;
    out->accepted_bits[w] = (theirs & ~long_mask[w]) | (mine & long_mask[w]);
  }
  out->accepted.clear();
  out->accepted_k.clear();
  out->uncertain.clear();
  for (const StateClassification::Entry& e : rep.uncertain) {
    if (!TestBit(long_mask, e.token)) out->uncertain.push_back(e);
  }
  for (const StateClassification::Entry& e : long_part.uncertain) {
    if (TestBit(long_mask, e.token)) out->uncertain.push_back(e);
  }
  out->nodes_visited = long_part.nodes_visited;
}

}  // namespace sieve
