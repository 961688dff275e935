// MaskBuilder (see mask_builder.h): the trie walk with simulation layers, threads and pop events.
//
// Layer d holds, for every live thread, its closed stacks after the first d bytes of the current
// trie path. Threads and events live in arrays that grow along the path and are truncated back to a
// layer's marks when the walk returns to that depth (preorder: the last layer computed at depth
// d - 1 is always the parent of the node being visited), so nothing is copied on backtracking.
//
// Token values: a thread is accepted when it read every byte (alive at the token's end); otherwise
// it is the OR over its pops, and a pop is the AND over its site threads (plus "reject" for the end
// of the input when the rule is the root), with beyond-the-limit pops and counted sites uncertain.
// Events are evaluated newest first, which visits a pop's site threads (and their pops) before it.
//
// Delegated calls: thread 0 (the classified frame) runs in the simulator's delegating mode, so its
// transitions report the calls its frame makes instead of pushing them. The walk defers each as
// (callee, return state, node); after the walk, ProcessDeferred takes the callee's memo for that
// node (computing it first: a walk of the node's subtree in raw mode, whose own calls are deferred
// and processed the same way), adds its accepted tokens, and Resumes the caller's frame at the
// return state below every node after which the callee can return. Walks never nest: a walk runs
// to its end before anything it deferred is processed, and every walk starts from its own layer.
// The split is exact: each path of the full closure belongs to exactly one walk (the caller's own
// frame, a callee's, or a resumption), and a token's value is the OR over paths.
#include "grammar/mask_builder.h"

#include <algorithm>
#include <limits>
#include <string>

#include "grammar/bitmask.h"

namespace sieve {
namespace {

// The bytes of a 256-bit set, in increasing order: `for (const int b : Bytes(set))`.
class Bytes {
 public:
  explicit Bytes(const uint64_t* set) : set_(set) {}
  class It {
   public:
    It(const uint64_t* set, int word) : set_(set), word_(word) { Skip(); }
    int operator*() const { return word_ * 64 + __builtin_ctzll(bits_); }
    It& operator++() {
      bits_ &= bits_ - 1;
      if (bits_ == 0) {
        ++word_;
        Skip();
      }
      return *this;
    }
    bool operator!=(const It& o) const { return word_ != o.word_; }

   private:
    void Skip() {
      while (word_ < 4 && (bits_ = set_[word_]) == 0) ++word_;
    }
    const uint64_t* set_;
    int word_;
    uint64_t bits_ = 0;
  };
  It begin() const { return It(set_, 0); }
  It end() const { return It(set_, 4); }

 private:
  const uint64_t* set_;
};

// Sorts `v`, which is mostly a few sorted runs (a walk appends in trie order, each deferred part
// in its own): the runs are merged in place; many runs are sorted outright.
template <typename T>
void SortRuns(std::vector<T>& v) {
  auto run = std::is_sorted_until(v.begin(), v.end());
  for (int merges = 0; run != v.end(); ++merges) {
    if (merges == 8) {
      std::sort(v.begin(), v.end());
      return;
    }
    const auto next = std::is_sorted_until(run, v.end());
    std::inplace_merge(v.begin(), run, next);
    run = next;
  }
}

}  // namespace

MaskBuilder::MaskBuilder(const CompiledGrammar& g, const TokenizerInfo& info,
                         const MaskBuildOptions& opts, SetSimulator* shared_sim)
    : g_(g),
      info_(info),
      opts_(opts),
      own_sim_(shared_sim == nullptr ? std::make_unique<SetSimulator>(g) : nullptr),
      sim_(shared_sim == nullptr ? *own_sim_ : *shared_sim),
      sites_(g.num_rules()),
      resolver_(g, &sim_, &sites_, static_cast<size_t>(opts.max_return_sites)) {
  for (int32_t s = 0; s < g.num_states(); ++s) {
    for (const CompiledGrammar::CallEdge& e : g.call_edges(s)) {
      sites_[e.callee].push_back(e.return_state);
    }
  }
  for (std::vector<int32_t>& v : sites_) {
    std::sort(v.begin(), v.end());
    v.erase(std::unique(v.begin(), v.end()), v.end());
  }
  layers_.resize(info.max_token_length() + 1);
  alive_.assign(64, 0);
}

MaskBuilder::~MaskBuilder() = default;

void MaskBuilder::StartLayer(int32_t node, const SetSimulator::Start& start, bool pops) {
  threads_.clear();
  events_.clear();
  threads_.push_back({0, -1, false, target_.rule});
  Layer& layer = layers_[info_.depth(node)];
  layer.simple = -1;
  layer.live.clear();
  layer.pending.clear();
  if (start.set >= 0) layer.live.push_back({0, start.set});
  if (pops) layer.pending.push_back({0, SetSimulator::kOnePop, 1, 0});
  layer.threads_mark = 1;
  layer.events_mark = 0;
  layer.k = 0;
  layer.materialized = true;  // the vectors above say the same
  if (start.set >= 0) {
    layer.simple = start.set;
    layer.simple_pops = pops;
  }
  for (uint32_t c = 0; c < start.num_calls; ++c) Defer(sim_.calls(start.calls)[c], node);
}

void MaskBuilder::Defer(const SetSimulator::Delegation& d, int32_t node) {
  // Only when the callee can read some next byte: most calls (a comment inside whitespace, ...)
  // cannot, and their memo would be empty.
  const RuleId callee = g_.rule_of(d.callee_start);
  if (const uint64_t* below = info_.subtree_bytes(node)) {
    // A large node (" " has hundreds of children): its subtree's byte set rules most calls out
    // without visiting the children.
    const uint64_t* first = g_.StartBytes(callee);
    if (((below[0] & first[0]) | (below[1] & first[1]) | (below[2] & first[2]) |
         (below[3] & first[3])) == 0) {
      return;
    }
  }
  for (int32_t c = node + 1; c < info_.end(node); c = info_.end(c)) {
    if (g_.CanStartWith(callee, info_.byte(c))) {
      deferred_.push_back({d.callee_start, d.ret, node});
      return;
    }
  }
}

void MaskBuilder::ProcessDeferred(size_t mark) {
  if (deferred_.size() <= mark) return;
  // This batch moves to the work stack (nested batches go above it and are gone when it resumes).
  const size_t base = deferred_work_.size();
  deferred_work_.insert(deferred_work_.end(), deferred_.begin() + static_cast<std::ptrdiff_t>(mark),
                        deferred_.end());
  const size_t end = deferred_work_.size();
  deferred_.resize(mark);
  for (size_t i = base; i < end; ++i) {
    const Deferred d = deferred_work_[i];
    const uint32_t stored = Memo(d.callee_start, d.node);
    Apply(stored);
    Resume(stored, d.ret);
  }
  deferred_work_.resize(base);
}

size_t MaskBuilder::MemoTable::Slot(uint64_t key) const {
  const size_t mask = keys_.size() - 1;
  size_t i = (key * 0x9E3779B97F4A7C15ULL) >> 20 & mask;
  while (values_[i] != kEmpty && keys_[i] != key) i = (i + 1) & mask;
  return i;
}

uint32_t* MaskBuilder::MemoTable::Find(uint64_t key) {
  if (keys_.empty()) Grow();
  return &values_[Slot(key)];
}

void MaskBuilder::MemoTable::Set(uint64_t key, uint32_t value) {
  if (2 * (size_ + 1) > keys_.size()) Grow();
  const size_t i = Slot(key);
  if (values_[i] == kEmpty) {
    keys_[i] = key;
    ++size_;
  }
  values_[i] = value;
}

void MaskBuilder::MemoTable::Grow() {
  std::vector<uint64_t> keys = std::move(keys_);
  std::vector<uint32_t> values = std::move(values_);
  const size_t cap = keys.empty() ? 1024 : 2 * keys.size();
  keys_.assign(cap, 0);
  values_.assign(cap, kEmpty);
  size_ = 0;
  for (size_t i = 0; i < keys.size(); ++i) {
    if (values[i] != kEmpty) Set(keys[i], values[i]);
  }
}

uint32_t MaskBuilder::Memo(int32_t callee_start, int32_t node) {
  const uint64_t key = (static_cast<uint64_t>(static_cast<uint32_t>(callee_start)) << 32) |
                       static_cast<uint32_t>(node);
  if (const uint32_t* found = memo_.Find(key); *found != MemoTable::kEmpty) return *found;
  if (building_depth_ == building_.size()) building_.push_back(std::make_unique<Callee>());
  Callee* callee = building_[building_depth_++].get();
  callee->ranges.clear();
  callee->pops.clear();
  const Target saved = target_;
  target_ = {callee, g_.rule_of(callee_start), false, 0};
  // An empty match of the callee is the caller's business (its closure returned at once). A
  // counted callee whose max no token below `node` can reach counts only up to its min: its loop
  // then repeats one set, so its subtrees can be taken whole (SetSimulator::FrameStartLoose).
  const CompiledGrammar::RuleInfo& rule = g_.rule(target_.rule);
  const bool loose = opts_.loose_counters && rule.counted && rule.max != kUnbounded &&
                     static_cast<uint32_t>(rule.max) >= info_.run_height(node);
  const SetSimulator::Start start =
      loose ? sim_.FrameStartLoose(callee_start)
            : sim_.FrameStart(callee_start, SetSimulator::kDelegating);
  const size_t mark = deferred_.size();
  StartLayer(node, start, false);
  if (start.set >= 0) Walk(node + 1, info_.end(node));
  ProcessDeferred(mark);
  // Merge the accepted ranges (several parts may overlap) and the return nodes.
  auto& r = callee->ranges;
  SortRuns(r);
  size_t out = 0;
  for (size_t i = 0; i < r.size(); ++i) {
    if (out > 0 && r[i].first <= r[out - 1].second) {
      r[out - 1].second = std::max(r[out - 1].second, r[i].second);
    } else {
      r[out++] = r[i];
    }
  }
  r.resize(out);
  std::sort(callee->pops.begin(), callee->pops.end());
  callee->pops.erase(std::unique(callee->pops.begin(), callee->pops.end()), callee->pops.end());
  target_ = saved;
  --building_depth_;
  Stored st;
  st.ranges_begin = static_cast<uint32_t>(stored_ranges_.size());
  stored_ranges_.insert(stored_ranges_.end(), r.begin(), r.end());
  st.ranges_end = static_cast<uint32_t>(stored_ranges_.size());
  st.pops_begin = static_cast<uint32_t>(stored_pops_.size());
  stored_pops_.insert(stored_pops_.end(), callee->pops.begin(), callee->pops.end());
  st.pops_end = static_cast<uint32_t>(stored_pops_.size());
  const auto index = static_cast<uint32_t>(stored_.size());
  stored_.push_back(st);
  memo_.Set(key, index);
  return index;
}

void MaskBuilder::Apply(uint32_t stored) {
  const Stored& st = stored_[stored];
  if (target_.callee != nullptr) {
    auto& dst = target_.callee->ranges;
    dst.insert(dst.end(), stored_ranges_.begin() + st.ranges_begin,
               stored_ranges_.begin() + st.ranges_end);
    return;
  }
  for (uint32_t i = st.ranges_begin; i < st.ranges_end; ++i) {
    SetRange(stored_ranges_[i].first, stored_ranges_[i].second);
  }
}

void MaskBuilder::RecordPop(int32_t node) {
  for (int32_t c = node + 1; c < info_.end(node); c = info_.end(c)) {
    if (g_.CanFollow(target_.rule, info_.byte(c))) {
      target_.callee->pops.push_back(node);
      return;
    }
  }
}

void MaskBuilder::RecordPopRange(int32_t lo, int32_t hi) {
  // RecordPop for every node of [lo, hi): the nodes with a child that can follow the rule.
  for (const int b : Bytes(g_.FollowBytes(target_.rule))) {
    const std::span<const int32_t> parents = info_.parents_of_byte(static_cast<uint8_t>(b));
    for (auto it = std::lower_bound(parents.begin(), parents.end(), lo);
         it != parents.end() && *it < hi; ++it) {
      target_.callee->pops.push_back(*it);
    }
  }
}

void MaskBuilder::Resume(uint32_t stored, int32_t ret) {
  const SetSimulator::Start start = sim_.FrameStart(ret, SetSimulator::kDelegating);
  const bool raw = target_.callee != nullptr;
  // By index: the walks below may memoise more callees (and grow the pools).
  const uint32_t begin = stored_[stored].pops_begin, end = stored_[stored].pops_end;
  for (uint32_t i = begin; i < end; ++i) {
    const int32_t m = stored_pops_[i];
    if (raw && start.pops) RecordPop(m);
    const bool pending = !raw && start.pops;
    if (start.set < 0 && !pending && start.num_calls == 0) continue;
    const size_t mark = deferred_.size();
    StartLayer(m, start, pending);
    Walk(m + 1, info_.end(m));
    ProcessDeferred(mark);
  }
}

void MaskBuilder::AddEvents(int32_t thread, RuleId rule, int32_t depth, const int32_t* ks,
                            size_t num_ks, int32_t base, uint8_t next) {
  const bool beyond = threads_[thread].level + 1 > opts_.context_levels ||
                      sites_[rule].size() > static_cast<size_t>(opts_.max_return_sites);
  // Only a counted level-0 frame distinguishes pops by k; elsewhere one event stands for all.
  const size_t count = (thread == 0 && target_.counted) ? num_ks : 1;
  for (size_t i = 0; i < count; ++i) {
    Event e;
    e.thread = thread;
    e.depth = depth;
    e.k = base + ks[i];
    e.rule = rule;
    e.first_site = static_cast<int32_t>(threads_.size());
    e.num_sites = 0;
    e.has_reject = rule == g_.root_rule();
    e.unknown = beyond;
    events_.push_back(e);
    if (!beyond) pending_.push_back(static_cast<int32_t>(events_.size() - 1));
  }
  while (!pending_.empty()) {
    const int32_t ev = pending_.back();
    pending_.pop_back();
    SpawnSites(ev, next);
  }
}

void MaskBuilder::SpawnSites(int32_t ev, uint8_t next) {
  const RuleId rule = events_[ev].rule;
  const int32_t depth = events_[ev].depth;
  const int32_t level = threads_[events_[ev].thread].level + 1;
  const auto first = static_cast<int32_t>(threads_.size());
  bool reject = false;
  // Spawn only sites that can go on: read `next`, or return at once into a rule `next` can follow.
  // A site that can do neither is certainly dead: it only makes the pop "not accepted everywhere".
  struct Spawn {
    int32_t set;
    bool pops;
  };
  for (const int32_t r : sites_[rule]) {
    const RuleId site_rule = g_.rule_of(r);
    if (g_.rule(site_rule).counted) {
      threads_.push_back({level, ev, true, site_rule});
      continue;
    }
    const SetSimulator::Start& start = sim_.FrameStart(r, SetSimulator::kExact);
    const int32_t set = start.set;
    const bool reads = set >= 0 && sim_.CanRead(set, next);
    const bool pops = start.pops && g_.CanFollow(site_rule, next);
    if (!reads && !pops) {
      reject = true;
      continue;
    }
    const auto tid = static_cast<int32_t>(threads_.size());
    threads_.push_back({level, ev, false, site_rule});
    if (reads) extra_live_.push_back({tid, set});
    if (!pops) continue;
    Event e;
    e.thread = tid;
    e.depth = depth;
    e.k = 0;
    e.rule = site_rule;
    e.first_site = 0;
    e.num_sites = 0;
    e.has_reject = site_rule == g_.root_rule();
    e.unknown = level + 1 > opts_.context_levels ||
                sites_[site_rule].size() > static_cast<size_t>(opts_.max_return_sites);
    events_.push_back(e);
    if (!e.unknown) pending_.push_back(static_cast<int32_t>(events_.size() - 1));
  }
  Event& e = events_[ev];
  e.first_site = first;
  e.num_sites = static_cast<int32_t>(threads_.size()) - first;
  e.has_reject = e.has_reject || reject;
  if (alive_.size() < threads_.size()) alive_.resize(threads_.size() * 2, 0);
}

namespace {

inline uint8_t And(uint8_t a, uint8_t b) {  // kNone is the identity
  if (a == 3) return b;
  return a == b ? a : 2;
}
inline uint8_t Or(uint8_t a, uint8_t b) {
  if (a == 1 || b == 1) return 1;
  return a == 2 || b == 2 ? 2 : 0;
}

}  // namespace

void MaskBuilder::EmitTokens(uint32_t lo, uint32_t hi) {
  if (lo >= hi) return;
  const std::span<const int32_t> ids = info_.sorted_ids();
  const bool local = alive_[0] != 0;
  if (target_.callee != nullptr) {  // raw: only thread 0, no events
    if (!local) return;
    auto& ranges = target_.callee->ranges;
    if (!ranges.empty() && ranges.back().second == lo) {
      ranges.back().second = hi;
    } else {
      ranges.push_back({lo, hi});
    }
    return;
  }
  auto accept = [&](uint32_t i, int32_t k) {  // the token at sorted position i
    SetPos(i);
    if (target_.counted) {
      out_->accepted.push_back(ids[i]);
      out_->accepted_k.push_back(static_cast<uint16_t>(k));
    }
  };
  if (events_.empty()) {
    if (!local) return;
    for (uint32_t i = lo; i < hi; ++i) accept(i, level0_k_);
    return;
  }
  // Event values newest first; `limited`: the value leans on a pop beyond the context limit, so
  // the ContextResolver may still decide it (a value mixed from decided sites it cannot change).
  thread_or_.assign(threads_.size(), kReject);
  thread_limited_.assign(threads_.size(), 0);
  event_value_.resize(events_.size());
  event_limited_.resize(events_.size());
  for (size_t e = events_.size(); e-- > 0;) {
    const Event& ev = events_[e];
    uint8_t v;
    bool limited = ev.unknown;
    if (ev.unknown) {
      v = kUnknown;
    } else {
      v = ev.has_reject ? kReject : kNone;
      for (int32_t t = ev.first_site; t < ev.first_site + ev.num_sites; ++t) {
        const bool open = !threads_[t].unknown && !alive_[t];
        const uint8_t tv = threads_[t].unknown ? uint8_t{kUnknown}
                                               : (alive_[t] ? uint8_t{kAccept} : thread_or_[t]);
        limited = limited || (open && thread_limited_[t]);
        v = And(v, tv);
      }
      if (v == kNone) v = kReject;
    }
    event_value_[e] = v;
    event_limited_[e] = limited;
    thread_or_[ev.thread] = Or(thread_or_[ev.thread], v);
    if (limited) thread_limited_[ev.thread] = 1;
  }
  if (!target_.counted) {
    if (local || thread_or_[0] == kAccept) {
      for (uint32_t i = lo; i < hi; ++i) accept(i, 0);
      return;
    }
    if (thread_or_[0] != kUnknown) return;
    for (uint32_t i = lo; i < hi; ++i) {
      for (size_t e = 0; e < events_.size(); ++e) {
        if (events_[e].thread != 0 || event_value_[e] != kUnknown) continue;
        out_->uncertain.push_back(
            {ids[i], 0, static_cast<uint16_t>(events_[e].depth), event_limited_[e] != 0});
      }
    }
    return;
  }
  // Counted: accepted while c + kbest <= max; pops also need c + k >= min, which holds for every
  // c when min == 0 (then an accepted pop folds into kbest).
  constexpr int32_t kNever = std::numeric_limits<int32_t>::max();
  int32_t kbest = local ? level0_k_ : kNever;
  if (target_.min == 0) {
    for (size_t e = 0; e < events_.size(); ++e) {
      if (events_[e].thread == 0 && event_value_[e] == kAccept) {
        kbest = std::min(kbest, events_[e].k);
      }
    }
  }
  for (uint32_t i = lo; i < hi; ++i) {
    const int32_t id = ids[i];
    if (kbest != kNever) accept(i, kbest);
    const auto len = static_cast<uint16_t>(info_.vocab().TokenBytes(id).size());
    for (size_t e = 0; e < events_.size(); ++e) {
      const Event& ev = events_[e];
      if (ev.thread != 0 || ev.k >= kbest) continue;  // implied by the accepted entry
      if (event_value_[e] == kUnknown) {
        out_->uncertain.push_back({id, static_cast<uint16_t>(ev.k), static_cast<uint16_t>(ev.depth),
                                   event_limited_[e] != 0});
      } else if (event_value_[e] == kAccept) {  // min > 0 here
        out_->uncertain.push_back({id, static_cast<uint16_t>(ev.k), len, false});
      }
    }
  }
}

void MaskBuilder::AcceptText(uint32_t lo, uint32_t hi, int32_t k, uint32_t from) {
  if (lo >= hi) return;
  const std::span<const int32_t> ids = info_.sorted_ids();
  // The characters begun before `from` are the same for every token of the subtree.
  const std::string_view first = info_.vocab().TokenBytes(ids[lo]);
  for (uint32_t j = 0; j < from; ++j) k -= (static_cast<uint8_t>(first[j]) & 0xC0) != 0x80;
  SetRange(lo, hi);
  for (uint32_t i = lo; i < hi; ++i) {
    out_->accepted.push_back(ids[i]);
    out_->accepted_k.push_back(static_cast<uint16_t>(k + info_.char_starts(i)));
  }
}

void MaskBuilder::AcceptRange(uint32_t lo, uint32_t hi, int32_t k, bool per_byte) {
  if (target_.callee != nullptr) {
    auto& ranges = target_.callee->ranges;
    if (!ranges.empty() && ranges.back().second == lo) {
      ranges.back().second = hi;
    } else {
      ranges.push_back({lo, hi});
    }
    return;
  }
  SetRange(lo, hi);
  if (!target_.counted) return;
  const std::span<const int32_t> ids = info_.sorted_ids();
  for (uint32_t i = lo; i < hi; ++i) {
    const int32_t kk =
        per_byte ? k + static_cast<int32_t>(info_.vocab().TokenBytes(ids[i]).size()) : k;
    out_->accepted.push_back(ids[i]);
    out_->accepted_k.push_back(static_cast<uint16_t>(kk));
  }
}

bool MaskBuilder::TextCannotFollow(RuleId rule) {
  if (text_follow_.empty()) text_follow_.assign(g_.num_rules(), -1);
  int8_t& v = text_follow_[rule];
  if (v < 0) {
    v = 1;
    for (int b = 0; b < 256 && v == 1; ++b) {
      bool text = false;
      for (int p = 0; p < TokenizerInfo::kTextPhases; ++p) {
        text = text || TokenizerInfo::TextStep(p, static_cast<uint8_t>(b)) >= 0;
      }
      if (text && g_.CanFollow(rule, static_cast<uint8_t>(b))) v = 0;
    }
  }
  return v == 1;
}

int MaskBuilder::ComputeTextPhase(int32_t set) {
  if (static_cast<size_t>(set) >= text_phase_.size()) text_phase_.resize(set + 1024, -2);
  if (text_phase_[set] != -2) return text_phase_[set];
  text_phase_[set] = -1;
  // Only a set that reads every text byte of a phase can be that phase (cheap to test first).
  uint64_t first[4];
  sim_.FirstBytes(set, first);
  auto reads_all = [&](int p) {
    const uint64_t* text = TokenizerInfo::TextBytes(p);
    return ((text[0] & ~first[0]) | (text[1] & ~first[1]) | (text[2] & ~first[2]) |
            (text[3] & ~first[3])) == 0;
  };
  if (reads_all(0)) {
    // Phase 0 loops on the text's ASCII (cheap to test before the whole family).
    const uint64_t* text0 = TokenizerInfo::TextBytes(0);
    const uint64_t* loop = sim_.LoopBytes(set, false);
    if ((text0[0] & ~loop[0]) != 0 || (text0[1] & ~loop[1]) != 0) return -1;
    TextFamily(set, 0);
    return text_phase_[set];
  }
  // Inside a multi-byte character: a string body's set after a lead byte, met first there when
  // the body is entered on it (a map key whose literal alternatives the lead byte left). The
  // phases that read the most continuation bytes first (2 holds what 3 and 4 read, 5 what 6 and
  // 7 read).
  for (const int p : {1, 2, 5, 3, 4, 6, 7}) {
    if (reads_all(p) && TextFamily(set, p)) return text_phase_[set];
  }
  return -1;
}

bool MaskBuilder::TextFamily(int32_t set, int phase) {
  const bool counted = target_.counted;
  constexpr int kPhases = TokenizerInfo::kTextPhases;
  int32_t sets[kPhases];
  std::fill(sets, sets + kPhases, -1);
  bool any_pops = false;
  sets[phase] = set;
  int work[kPhases] = {phase};
  int num_work = 1;
  while (num_work > 0) {
    const int p = work[--num_work];
    const uint64_t* text = TokenizerInfo::TextBytes(p);
    for (int b = 0; b < 256; ++b) {
      if (!(text[b >> 6] >> (b & 63) & 1)) continue;
      const auto byte = static_cast<uint8_t>(b);
      const int q = TokenizerInfo::TextStep(p, byte);
      int32_t next;
      bool pops;
      int32_t k;
      bool plain = sim_.StepPlain(sets[p], byte, &next, &pops, &k);
      if (!plain && !sim_.Computed(sets[p], byte)) {
        sim_.Step(sets[p], byte);
        plain = sim_.StepPlain(sets[p], byte, &next, &pops, &k);
      }
      // Relaxed sets (a counted frame) begin one iteration per character, at its first byte.
      const int32_t want_k = counted && p == 0 ? 1 : 0;
      if (!plain || k != want_k || next < 0) return false;
      any_pops = any_pops || pops;
      if (sets[q] < 0) {
        sets[q] = next;
        work[num_work++] = q;
      } else if (sets[q] != next) {
        return false;
      }
    }
  }
  for (int p = kPhases - 1; p >= 0; --p) {
    if (sets[p] < 0) continue;
    if (static_cast<size_t>(sets[p]) >= text_phase_.size()) text_phase_.resize(sets[p] + 1024, -2);
    text_phase_[sets[p]] = static_cast<int8_t>(p | (any_pops ? kTextPops : 0));
  }
  return true;
}

uint32_t MaskBuilder::ComputeRunLength(int32_t set, bool pops, int c) {
  constexpr int kClasses = TokenizerInfo::kRunClasses;
  auto slot = [&](int32_t x, bool x_pops) {
    const size_t at = (static_cast<size_t>(x) * 2 + (x_pops ? 1 : 0)) * kClasses + c;
    if (at >= run_length_.size()) run_length_.resize(at + 2048 * kClasses, kRunUnknown);
    return at;
  };
  const size_t root = slot(set, pops);
  if (run_length_[root] != kRunUnknown) return run_length_[root];
  const uint32_t cap = std::min<uint32_t>(info_.max_token_length(), kRunUnknown - 1);
  // Depth-first with an explicit stack (a run may be thousands of states long). A byte on which
  // a set steps to itself does not bound its length (a string body); a set whose length is being
  // found counts 0 where it is met again through other sets (a longer cycle): a lower bound, so
  // safe.
  // A frame fails at once when its set cannot read some byte of the class, or when it may pop
  // and some byte of the class can follow the rule.
  const uint64_t* cls = TokenizerInfo::RunClassBytes(c);  // ASCII only: words 0 and 1
  const uint64_t* follow = g_.FollowBytes(target_.rule);
  const bool follow_in_class = ((cls[0] & follow[0]) | (cls[1] & follow[1])) != 0;
  auto cannot_run = [&](int32_t x, bool x_pops) {
    if (x_pops && follow_in_class) return true;
    uint64_t first[4];
    sim_.FirstBytes(x, first);
    return ((cls[0] & ~first[0]) | (cls[1] & ~first[1])) != 0;
  };
  run_stack_.clear();
  run_stack_.push_back({set, pops, root, 0, cap, cannot_run(set, pops)});
  run_length_[root] = 0;
  while (!run_stack_.empty()) {
    bool descended = false;
    {
      RunFrame& f = run_stack_.back();
      for (; f.i < 128 && f.rest > 0 && !f.fail; ++f.i) {  // classes hold ASCII bytes only
        const auto byte = static_cast<uint8_t>(f.i);
        if (!(cls[byte >> 6] >> (byte & 63) & 1)) continue;
        int32_t next;
        bool next_pops;
        int32_t k;
        bool plain = sim_.StepPlain(f.set, byte, &next, &next_pops, &k);
        if (!plain && !sim_.Computed(f.set, byte)) {
          sim_.Step(f.set, byte);
          plain = sim_.StepPlain(f.set, byte, &next, &next_pops, &k);
        }
        if (!plain || next < 0 || k != 0) {
          f.fail = true;
          break;
        }
        const size_t at = slot(next, next_pops);
        if (at == f.at) continue;  // a loop on the byte does not bound the run
        if (run_length_[at] == kRunUnknown) {  // find it first, then read this byte again
          run_length_[at] = 0;
          run_stack_.push_back({next, next_pops, at, 0, cap, cannot_run(next, next_pops)});
          descended = true;
          break;
        }
        f.rest = std::min<uint32_t>(f.rest, run_length_[at]);
      }
    }
    if (descended) continue;
    const RunFrame& f = run_stack_.back();
    run_length_[f.at] = f.fail ? 0 : static_cast<uint16_t>(std::min(cap, f.rest + 1));
    run_stack_.pop_back();
  }
  return run_length_[root];
}

void MaskBuilder::Walk(int32_t first, int32_t last) {
  const bool raw = target_.callee != nullptr;
  for (int32_t n = first; n < last;) {
    const uint32_t d = info_.depth(n);
    const uint8_t byte = info_.byte(n);
    Layer& parent = layers_[d - 1];
    ++nodes_visited_;
    if (parent.simple >= 0 && (!parent.simple_pops || !g_.CanFollow(target_.rule, byte))) {
      // The hot path: the walked frame alone, no pop this byte can follow, a plain transition.
      if (!sim_.CanRead(parent.simple, byte)) {  // nothing reads it: nor anything below
        n = info_.end(n);
        continue;
      }
      if (const int32_t end = info_.end(n); end > n + 1) {
        // A subtree made only of bytes the set loops on is read in full: accept it whole (in a
        // counted loop each of its bytes is one iteration). Large subtrees carry their byte set;
        // small ones are scanned (string and comment bodies are mostly small subtrees), and the
        // first byte that breaks a scan is remembered, so the nested subtrees around it are not
        // scanned again.
        //
        // In a counted frame a pop inside the subtree can be followed by the rest of the token
        // with fewer iterations (or, with a lower bound, an extra check), so below the first
        // byte the subtree must also hold no byte that can follow the rule (follow_, zero for
        // frames without a counter).
        const uint64_t* loop = sim_.LoopBytes(parent.simple, raw);
        const RuleId scan_rule = target_.counted ? target_.rule : -1;
        bool whole = loop[byte >> 6] >> (byte & 63) & 1;
        if (!whole) {
        } else if (const uint64_t* below = info_.subtree_bytes(n)) {
          whole = (below[0] & (~loop[0] | follow_[0])) == 0 &&
                  (below[1] & (~loop[1] | follow_[1])) == 0 &&
                  (below[2] & (~loop[2] | follow_[2])) == 0 &&
                  (below[3] & (~loop[3] | follow_[3])) == 0;
        } else if (scan_set_ == parent.simple && scan_raw_ == raw && scan_rule_ == scan_rule &&
                   n < scan_break_ && scan_break_ < end) {
          whole = false;
        } else {
          for (int32_t c = n + 1; c < end; ++c) {
            const uint8_t cb = info_.byte(c);
            if (!(loop[cb >> 6] >> (cb & 63) & 1) || (follow_[cb >> 6] >> (cb & 63) & 1)) {
              whole = false;
              scan_set_ = parent.simple;
              scan_raw_ = raw;
              scan_rule_ = scan_rule;
              scan_break_ = c;
              break;
            }
          }
        }
        if (whole) {
          AcceptRange(info_.token_begin(n), info_.token_begin(end),
                      parent.k - static_cast<int32_t>(d - 1), /*per_byte=*/true);
          n = end;
          continue;
        }
        // String text, multi-byte characters included (see the header).
        if (opts_.text_subtrees && info_.text_phases(n) != 0) {
          const int phase = TextPhase(parent.simple);
          if (phase >= 0 && (info_.text_phases(n) >> (phase & 7) & 1) &&
              (!(phase & kTextPops) || TextCannotFollow(target_.rule))) {
            if (!target_.counted) {
              AcceptRange(info_.token_begin(n), info_.token_begin(end), 0, false);
            } else {
              AcceptText(info_.token_begin(n), info_.token_begin(end), parent.k, d - 1);
            }
            n = end;
            continue;
          }
        }
        // A bounded run (see the header): every byte below in one class the set reads for at
        // least the subtree's height. The smallest class holding the subtree is the lowest bit
        // (a larger class reads no longer), except the digit-free one. Every class holds [a-z]
        // (class 0), so a set that reads no two bytes of it runs no class: most sets, whose
        // nodes then skip the per-node lookups.
        if (opts_.class_runs && !raw && !target_.counted &&
            RunLength(parent.simple, parent.simple_pops, 0) >= 2) {
          const uint8_t classes = info_.run_classes(n);
          if (classes != 0) {
            const uint32_t height = info_.run_height(n);
            const int low = __builtin_ctz(classes);
            constexpr int kNoDigits = TokenizerInfo::kRunNoDigits;
            if (RunLength(parent.simple, parent.simple_pops, low) >= height ||
                (low != kNoDigits && (classes >> kNoDigits & 1) &&
                 RunLength(parent.simple, parent.simple_pops, kNoDigits) >= height)) {
              AcceptRange(info_.token_begin(n), info_.token_begin(end), 0, false);
              n = end;
              continue;
            }
          }
        }
        // A callee that loops on the subtree's bytes and may return after each of them (a string
        // body, a key): every token is read, and it returns at every node, of which only those
        // with a child its caller can read matter (RecordPopRange finds them by index, so the
        // subtree is not walked node by node to find them).
        if (raw && !target_.counted) {
          const uint64_t* below = info_.subtree_bytes(n);
          const uint64_t* any = sim_.LoopBytes(parent.simple, false);
          if (below != nullptr && (any[byte >> 6] >> (byte & 63) & 1) &&
              (below[0] & ~any[0]) == 0 && (below[1] & ~any[1]) == 0 && (below[2] & ~any[2]) == 0 &&
              (below[3] & ~any[3]) == 0) {
            AcceptRange(info_.token_begin(n), info_.token_begin(end), 0, false);
            RecordPopRange(n, end);
            n = end;
            continue;
          }
        }
      }
      int32_t next;
      bool pops;
      int32_t k;
      bool plain = sim_.StepPlain(parent.simple, byte, &next, &pops, &k);
      if (!plain && !sim_.Computed(parent.simple, byte)) {  // first visit: compute, then retry
        sim_.Step(parent.simple, byte);
        plain = sim_.StepPlain(parent.simple, byte, &next, &pops, &k);
      }
      if (!plain && sim_.Dead(parent.simple, byte)) {  // nothing reads it: nor anything below
        n = info_.end(n);
        continue;
      }
      if (plain) {
        k += parent.k;
        const uint32_t lo = info_.token_begin(n);
        const uint32_t hi = info_.token_begin(n + 1);
        if (lo < hi) {
          if (raw || hi - lo > 1 || target_.counted) {
            AcceptRange(lo, hi, k, false);
          } else {
            SetPos(lo);
          }
        }
        const int32_t end = info_.end(n);
        if (end == n + 1) {
          ++n;
          continue;
        }
        if (pops && raw) {
          RecordPop(n);
          pops = false;
        }
        Layer& layer = layers_[d];
        layer.k = k;
        if (next >= 0) {
          layer.simple = next;
          layer.simple_pops = pops;
          layer.materialized = false;
          ++n;
        } else if (pops) {  // only the pop goes on
          layer.simple = -1;
          layer.live.clear();
          layer.pending.assign(1, {0, SetSimulator::kOnePop, 1, k});
          layer.threads_mark = 1;
          layer.events_mark = 0;
          ++n;
        } else {
          n = end;
        }
        continue;
      }
    }
    if (parent.simple >= 0 && !parent.materialized) {
      // Spell the simple layer out for the paths below; it stays simple for the next siblings.
      parent.live.assign(1, {0, parent.simple});
      parent.pending.clear();
      if (parent.simple_pops) parent.pending.push_back({0, SetSimulator::kOnePop, 1, parent.k});
      parent.threads_mark = 1;
      parent.events_mark = 0;
      parent.materialized = true;
    }
    // The walked frame alone, no pop on the path that this byte can follow (so nothing is
    // uncertain and a dead prefix rejects its subtree).
    if (parent.threads_mark == 1 && parent.events_mark == 0 && parent.live.size() == 1 &&
        (parent.pending.empty() || !g_.CanFollow(target_.rule, byte))) {
      threads_.resize(1);
      events_.clear();
      const int32_t end = info_.end(n);
      const SetSimulator::Trans& tr = sim_.Step(parent.live[0].set, byte);
      if (!tr.alive) {
        n = end;
        continue;
      }
      const uint32_t lo = info_.token_begin(n);
      const uint32_t hi = info_.token_begin(n + 1);
      if (lo < hi) AcceptRange(lo, hi, parent.k + tr.kmin, false);
      if (end == n + 1) {
        ++n;
        continue;
      }
      Layer& layer = layers_[d];
      layer.k = parent.k + tr.dk;
      // Back to the hot path when the result is simple again (a counted frame's pop must have the
      // layer's k, as a simple layer's pop does).
      const bool pop_ok = tr.num_pops == 0 || !target_.counted ||
                          (tr.num_pops == 1 && *sim_.pops(tr.pops) == tr.dk);
      if (tr.next >= 0 && tr.num_calls == 0 && pop_ok) {
        if (tr.num_pops > 0 && raw) RecordPop(n);
        layer.simple = tr.next;
        layer.simple_pops = tr.num_pops > 0 && !raw;
        layer.materialized = false;
        ++n;
        continue;
      }
      layer.simple = -1;
      layer.live.clear();
      layer.pending.clear();
      layer.threads_mark = 1;
      layer.events_mark = 0;
      if (tr.next >= 0) layer.live.push_back({0, tr.next});
      for (uint32_t c = 0; c < tr.num_calls; ++c) Defer(sim_.calls(tr.calls)[c], n);
      if (tr.num_pops > 0) {
        if (raw) {
          RecordPop(n);
        } else {
          layer.pending.push_back({0, tr.pops, tr.num_pops, parent.k});
        }
      }
      n = layer.live.empty() && layer.pending.empty() ? end : n + 1;
      continue;
    }
    threads_.resize(parent.threads_mark);
    events_.resize(parent.events_mark);
    // Pops at the parent's depth spawn their continuations for this byte.
    extra_live_.clear();
    for (const PendingPop& pp : parent.pending) {
      const RuleId rule = threads_[pp.thread].rule;
      if (!g_.CanFollow(rule, byte)) continue;
      AddEvents(pp.thread, rule, static_cast<int32_t>(d - 1), sim_.pops(pp.pops), pp.num_pops,
                pp.base, byte);
    }
    // Step every live thread by `byte`.
    raw_live_.clear();
    int32_t dk = 0;
    auto step = [&](const Live& lv) {
      const SetSimulator::Trans& tr = sim_.Step(lv.set, byte);
      if (!tr.alive) return;
      raw_live_.push_back({lv.thread, tr});
      alive_[lv.thread] = 1;
      if (lv.thread == 0) {
        level0_k_ = parent.k + tr.kmin;
        dk = tr.dk;
      }
    };
    for (const Live& lv : parent.live) step(lv);
    for (const Live& lv : extra_live_) step(lv);
    if (raw_live_.empty()) {  // nothing read `byte`: the pops so far decide the whole subtree
      EmitTokens(info_.token_begin(n), info_.token_begin(info_.end(n)));
      n = info_.end(n);
      continue;
    }
    EmitTokens(info_.token_begin(n), info_.token_begin(n + 1));
    for (const RawLive& rl : raw_live_) alive_[rl.thread] = 0;
    if (info_.end(n) == n + 1) {  // a leaf
      ++n;
      continue;
    }
    Layer& layer = layers_[d];
    layer.simple = -1;
    layer.k = parent.k + dk;
    layer.live.clear();
    layer.pending.clear();
    for (const RawLive& rl : raw_live_) {
      const SetSimulator::Trans& tr = rl.trans;
      if (tr.next >= 0) layer.live.push_back({rl.thread, tr.next});
      if (rl.thread == 0) {
        for (uint32_t c = 0; c < tr.num_calls; ++c) Defer(sim_.calls(tr.calls)[c], n);
      }
      if (tr.num_pops == 0) continue;
      if (raw) {
        RecordPop(n);  // only thread 0 exists in raw mode
      } else {
        layer.pending.push_back({rl.thread, tr.pops, tr.num_pops, parent.k});
      }
    }
    layer.threads_mark = threads_.size();
    layer.events_mark = events_.size();
    if (layer.live.empty() && layer.pending.empty()) {
      // Every thread ended: the pops so far decide the descendants.
      EmitTokens(info_.token_begin(n + 1), info_.token_begin(info_.end(n)));
      n = info_.end(n);
      continue;
    }
    ++n;
  }
}

int32_t MaskBuilder::FirstByteKey(uint8_t byte, const SetSimulator::Trans& tr) {
  // The key's fields in a scratch row, hashed, and looked up by content in an open-addressing
  // table over pooled rows (a string key per first byte and state cost more than the lookup).
  std::vector<int64_t>& key = key_buf_;
  key.clear();
  key.push_back(byte);
  key.push_back(target_.rule);
  key.push_back(tr.next);
  key.push_back(tr.alive ? 1 : 0);
  key.push_back(tr.num_pops);
  key.push_back(tr.num_calls);
  const SetSimulator::Delegation* calls = sim_.calls(tr.calls);
  for (uint32_t i = 0; i < tr.num_calls; ++i) {
    key.push_back(calls[i].callee_start);
    key.push_back(calls[i].ret);
  }
  uint64_t h = 0x9E3779B97F4A7C15ULL;
  for (const int64_t v : key) h = (h ^ static_cast<uint64_t>(v)) * 0xff51afd7ed558ccdULL;
  h ^= h >> 29;
  if ((first_keys_.size() + 1) * 2 > first_key_table_.size()) {
    first_key_table_.assign(std::max<size_t>(64, first_key_table_.size() * 2), 0);
    const size_t mask = first_key_table_.size() - 1;
    for (size_t i = 0; i < first_keys_.size(); ++i) {
      size_t j = first_keys_[i].hash & mask;
      while (first_key_table_[j] != 0) j = (j + 1) & mask;
      first_key_table_[j] = static_cast<uint32_t>(i + 1);
    }
  }
  const size_t mask = first_key_table_.size() - 1;
  size_t j = h & mask;
  for (; first_key_table_[j] != 0; j = (j + 1) & mask) {
    const FirstKey& e = first_keys_[first_key_table_[j] - 1];
    if (e.hash == h && e.len == key.size() &&
        std::equal(key.begin(), key.end(), first_key_pool_.begin() + e.offset)) {
      return static_cast<int32_t>(first_key_table_[j] - 1);
    }
  }
  first_keys_.push_back({h, static_cast<uint32_t>(first_key_pool_.size()),
                         static_cast<uint32_t>(key.size())});
  first_key_pool_.insert(first_key_pool_.end(), key.begin(), key.end());
  first_key_table_[j] = static_cast<uint32_t>(first_keys_.size());
  return static_cast<int32_t>(first_keys_.size() - 1);
}

void MaskBuilder::RecordFirstByte(int32_t key, int32_t root, size_t uncertain_mark) {
  if (first_memo_.size() <= static_cast<size_t>(key)) first_memo_.resize(key + 1);
  FirstByteResult& r = first_memo_[key];
  const uint32_t lo = info_.token_begin(root), hi = info_.token_begin(info_.end(root));
  r.accepted_begin = static_cast<uint32_t>(first_accepted_.size());
  ForBitRuns(acc_.data(), lo, hi, [&](size_t b, size_t e) {
    first_accepted_.push_back({static_cast<uint32_t>(b), static_cast<uint32_t>(e)});
  });
  r.accepted_end = static_cast<uint32_t>(first_accepted_.size());
  r.uncertain_begin = static_cast<uint32_t>(first_uncertain_.size());
  first_uncertain_.insert(first_uncertain_.end(),
                          out_->uncertain.begin() + static_cast<std::ptrdiff_t>(uncertain_mark),
                          out_->uncertain.end());
  r.uncertain_end = static_cast<uint32_t>(first_uncertain_.size());
  r.recorded = true;
}

void MaskBuilder::ApplyFirstByte(const FirstByteResult& r) {
  for (uint32_t i = r.accepted_begin; i < r.accepted_end; ++i) {
    SetRange(first_accepted_[i].first, first_accepted_[i].second);
  }
  out_->uncertain.insert(out_->uncertain.end(), first_uncertain_.begin() + r.uncertain_begin,
                         first_uncertain_.begin() + r.uncertain_end);
}

void MaskBuilder::SetRange(uint32_t lo, uint32_t hi) {
  if (lo >= hi) return;
  SetBitRange(acc_.data(), lo, hi);
  SetBitRange(live_.data(), lo >> 6, ((hi - 1) >> 6) + 1);  // the words it touched are live
}

void MaskBuilder::ClearRange(uint32_t lo, uint32_t hi) {
  if (lo >= hi) return;
  const uint32_t a = lo >> 6, b = (hi - 1) >> 6;
  const uint64_t first = ~uint64_t{0} << (lo & 63);
  const uint64_t last = ~uint64_t{0} >> (63 - ((hi - 1) & 63));
  if (a == b) {
    acc_[a] &= ~(first & last);
    return;
  }
  acc_[a] &= ~first;
  for (uint32_t w = a + 1; w < b; ++w) acc_[w] = 0;
  acc_[b] &= ~last;
}

void MaskBuilder::ToIdOrder(StateClassification* out) {
  // Scatter the smaller side: the accepted positions, or the rejected ones cleared from the
  // byte-token mask (string states accept nearly everything). When that side is short enough for
  // the cache to store as a list, its ids are kept too, sorted (TokenMaskCache::MakeSet).
  const std::span<const int32_t> ids = info_.sorted_ids();
  const auto n = static_cast<uint32_t>(ids.size());
  size_t count = 0;
  ForLiveRuns(live_, [&](size_t b, size_t e) { count += CountBits(acc_.data() + b, e - b); });
  const bool invert = count > n / 2;
  const uint64_t scatter = invert ? n - count : count;
  out->accepted_count = static_cast<int64_t>(count);
  out->has_list = scatter <= MaskListMax(info_.words());
  out->list_rejected = invert;
  out->list.clear();
  std::vector<uint32_t>& bits_out = out->accepted_bits;
  // A large scatter is first looked up among the recent conversions (equal sets recur).
  Converted* slot = nullptr;
  uint64_t hash = 0;
  if (scatter > kConvertMin) {
    hash = 0x9E3779B97F4A7C15ULL;
    for (size_t w = 0; w < acc_.size(); w += 2) {
      const uint64_t b = w + 1 < acc_.size() ? acc_[w + 1] : 0;
      hash = (hash ^ acc_[w] ^ (b * 0xc2b2ae3d27d4eb4fULL)) * 0xff51afd7ed558ccdULL;
    }
    for (Converted& c : converted_) {
      if (c.hash == hash && c.positions == acc_) {
        c.last_use = ++converted_clock_;
        bits_out = c.ids;
        out->has_list = false;  // the recent conversions keep no list: MakeSet scans the bits
        return;
      }
    }
    if (converted_.size() < kConverted) {
      slot = &converted_.emplace_back();
    } else {
      slot = &*std::min_element(
          converted_.begin(), converted_.end(),
          [](const Converted& a, const Converted& b) { return a.last_use < b.last_use; });
    }
  }
  if (invert) {
    bits_out = info_.byte_token_mask();
  } else {
    bits_out.assign(info_.words(), 0);
  }
  uint32_t* bits = bits_out.data();
  auto scatter_word = [&](size_t w) {
    uint64_t x = invert ? ~acc_[w] : acc_[w];
    if (invert && w == acc_.size() - 1 && (n & 63) != 0) x &= (uint64_t{1} << (n & 63)) - 1;
    while (x != 0) {
      const int32_t id = ids[w * 64 + static_cast<uint32_t>(__builtin_ctzll(x))];
      if (invert) {
        bits[id >> 5] &= ~(uint32_t{1} << (id & 31));
      } else {
        bits[id >> 5] |= uint32_t{1} << (id & 31);
      }
      if (out->has_list) out->list.push_back(id);
      x &= x - 1;
    }
  };
  if (invert) {
    for (size_t w = 0; w < acc_.size(); ++w) scatter_word(w);
  } else {
    ForLiveRuns(live_, [&](size_t b, size_t e) {
      for (size_t w = b; w < e; ++w) scatter_word(w);
    });
  }
  if (out->has_list) std::sort(out->list.begin(), out->list.end());
  if (slot != nullptr) {
    slot->hash = hash;
    slot->positions = acc_;
    slot->ids = bits_out;
    slot->last_use = ++converted_clock_;
  }
}

void MaskBuilder::ClassifyFirstByte(uint8_t b, int32_t key) {
  if (static_cast<size_t>(key) < first_memo_.size() && first_memo_[key].recorded) {
    ApplyFirstByte(first_memo_[key]);
    return;
  }
  // Recorded the first time: the pass over the subtree's tokens that recording costs is less than
  // a second walk (measured: waiting for a key's second sighting cost 3-5% more over schemas/).
  const int32_t root = info_.first_byte_node(b);
  const size_t umark = out_->uncertain.size();
  const size_t dmark = deferred_.size();
  Walk(root, info_.end(root));
  ProcessDeferred(dmark);  // what the subtree delegated stays in the subtree
  // The callees' walks reused the thread and event lists: back to this frame's level 0.
  threads_.assign(1, {0, -1, false, target_.rule});
  events_.clear();
  RecordFirstByte(key, root, umark);
}

MaskBuilder::Snapshot* MaskBuilder::FindSnapshot(RuleId rule) {
  for (Snapshot& s : snapshots_) {
    if (s.rule == rule) {
      s.last_use = ++snapshot_clock_;
      return &s;
    }
  }
  return nullptr;
}

void MaskBuilder::SaveSnapshot(RuleId rule, const std::array<int32_t, 256>& keys,
                               const uint64_t first[4]) {
  Snapshot* s = FindSnapshot(rule);
  if (s == nullptr) {
    if (snapshots_.size() < kSnapshots) {
      s = &snapshots_.emplace_back();
    } else {
      s = &*std::min_element(
          snapshots_.begin(), snapshots_.end(),
          [](const Snapshot& a, const Snapshot& b) { return a.last_use < b.last_use; });
    }
    s->rule = rule;
    s->last_use = ++snapshot_clock_;
  }
  s->keys = keys;
  for (int i = 0; i < 4; ++i) s->first[i] = first[i];
  if (s->bits.size() != acc_.size()) {
    s->bits.assign(acc_.size(), 0);
    s->live.assign(live_.size(), 0);
  }
  CopyLive(acc_, live_, &s->bits, &s->live);
  s->uncertain = out_->uncertain;
}

void MaskBuilder::Classify(int32_t s, StateClassification* out) {
  out_ = out;
  resolver_.NewState();
  const size_t words = (info_.num_byte_tokens() + 63) / 64;
  if (acc_.size() != words) {
    acc_.assign(words, 0);
    live_.assign((words + 63) / 64, 0);
  } else {
    ClearLive(&acc_, &live_);
  }
  out->accepted.clear();
  out->accepted_k.clear();
  out->uncertain.clear();
  nodes_visited_ = 0;
  const CompiledGrammar::RuleInfo& rule = g_.rule(g_.rule_of(s));
  target_ = {nullptr, g_.rule_of(s), rule.counted, rule.min};
  for (int i = 0; i < 4; ++i) follow_[i] = rule.counted ? g_.FollowBytes(target_.rule)[i] : 0;
  const SetSimulator::Start start =
      sim_.FrameStart(s, rule.counted ? SetSimulator::kRelaxed : SetSimulator::kDelegating);
  const size_t mark = deferred_.size();
  StartLayer(0, start, false);  // pops before the first byte are already in the closed set
  level0_k_ = 0;
  alive_[0] = 1;
  EmitTokens(info_.token_begin(0), info_.token_begin(1));  // tokens without bytes
  alive_[0] = 0;
  uint64_t first[4];
  sim_.FirstBytes(start.set, first);
  const bool share = opts_.share_first_bytes && !rule.counted;
  if (!share) {
    for (const int b : Bytes(first)) {
      const int32_t root = info_.first_byte_node(static_cast<uint8_t>(b));
      if (root != 0) Walk(root, info_.end(root));
    }
  } else {
    // A first byte that leads where it led from another state of this rule (the same closed set,
    // pops and delegations) classifies the tokens below it the same way.
    std::array<int32_t, 256> keys;
    keys.fill(-1);
    for (const int b : Bytes(first)) {
      const auto byte = static_cast<uint8_t>(b);
      if (info_.first_byte_node(byte) == 0) continue;
      keys[b] = FirstByteKey(byte, sim_.Step(start.set, byte));
    }
    Snapshot* base = opts_.diff_recent_states ? FindSnapshot(target_.rule) : nullptr;
    if (base == nullptr) {
      for (const int b : Bytes(first)) {
        if (keys[b] >= 0) ClassifyFirstByte(static_cast<uint8_t>(b), keys[b]);
      }
    } else {
      // Start from a recent state of this rule: its answers hold for every first byte whose key
      // is the same; the subtrees of the others are cleared and classified here. (The tokens
      // without bytes are accepted at every state of a rule without a counter.)
      CopyLive(base->bits, base->live, &acc_, &live_);
      uint64_t differ[4] = {0, 0, 0, 0};
      const uint64_t either[4] = {first[0] | base->first[0], first[1] | base->first[1],
                                  first[2] | base->first[2], first[3] | base->first[3]};
      for (const int b : Bytes(either)) {
        if (keys[b] == base->keys[b]) continue;
        differ[b >> 6] |= uint64_t{1} << (b & 63);
        if (base->keys[b] < 0) continue;
        const int32_t root = info_.first_byte_node(static_cast<uint8_t>(b));
        ClearRange(info_.token_begin(root), info_.token_begin(info_.end(root)));
      }
      const Vocabulary& vocab = info_.vocab();
      for (const StateClassification::Entry& e : base->uncertain) {
        const auto b = static_cast<uint8_t>(vocab.TokenBytes(e.token)[0]);
        if (!(differ[b >> 6] >> (b & 63) & 1)) out->uncertain.push_back(e);
      }
      for (const int b : Bytes(differ)) {
        if (keys[b] >= 0) ClassifyFirstByte(static_cast<uint8_t>(b), keys[b]);
      }
    }
    if (opts_.diff_recent_states) SaveSnapshot(target_.rule, keys, first);
  }
  ProcessDeferred(mark);
  // What the walk left uncertain: follow the returns further, through recursion.
  const Vocabulary& vocab = info_.vocab();
  size_t kept = 0;
  for (const StateClassification::Entry& e : out->uncertain) {
    const std::string_view bytes = vocab.TokenBytes(e.token);
    const std::string_view rest = bytes.substr(e.suffix);
    if (!rest.empty() && e.limited) {
      const ContextResolver::Value v = resolver_.Resolve(target_.rule, rest);
      if (v == ContextResolver::kReject) continue;
      if (v == ContextResolver::kAccept) {
        if (!rule.counted) {
          SetPos(info_.position_of(e.token));
          continue;
        }
        out->uncertain[kept++] = {e.token, e.k, static_cast<uint16_t>(bytes.size()), false};
        continue;
      }
    }
    out->uncertain[kept++] = e;
  }
  out->uncertain.resize(kept);
  if (!rule.counted) {
    // A token accepted through one part needs no check from another.
    std::erase_if(out->uncertain, [&](const StateClassification::Entry& e) {
      return TestPos(info_.position_of(e.token));
    });
  }
  ToIdOrder(out);
  out->nodes_visited = nodes_visited_;
}

}  // namespace sieve
