// ContextResolver (see mask_context.h): a depth-first search over (rule, rest) nodes with
// Tarjan-style low links, so that only results independent of a cycle assumption are memoised.
#include "grammar/mask_context.h"

#include <algorithm>
#include <limits>

namespace sieve {
namespace {

constexpr int64_t kBudget = 20000;  // site simulations per query
constexpr size_t kMaxDepth = 96;
constexpr int kMaxBudgetCuts = 5;  // down to kBudget / 4^5 = 19 site simulations

inline uint8_t And(uint8_t a, uint8_t b) {  // kNone (3) is the identity
  if (a == 3) return b;
  return a == b ? a : 2;
}
inline uint8_t Or(uint8_t a, uint8_t b) {
  if (a == 1 || b == 1) return 1;
  return a == 2 || b == 2 ? 2 : 0;
}

}  // namespace

ContextResolver::ContextResolver(const CompiledGrammar& g, SetSimulator* sim,
                                 const std::vector<std::vector<int32_t>>* sites, size_t max_sites)
    : g_(g), sim_(sim), sites_(sites), max_sites_(max_sites) {}

std::string ContextResolver::Key(RuleId rule, std::string_view rest) {
  std::string key(reinterpret_cast<const char*>(&rule), sizeof(rule));
  key.append(rest);
  return key;
}

ContextResolver::Value ContextResolver::Resolve(RuleId rule, std::string_view rest) {
  if (rest.empty()) return kAccept;
  auto it = memo_.find(Key(rule, rest));
  if (it != memo_.end()) return it->second;
  // First with cycles assumed accepted (precise when consistent), then, if a node assumed
  // accepted resolved otherwise, with cycles unknown (always sound).
  // Each query that ran out of budget quarters the budget of the next ones until NewState()
  // (kUnknown is always sound; per state, so that the answers do not depend on which states a
  // builder classified before): one schema's property-name automaton had 3,120 queries run out,
  // 62 million site simulations and 8 s of mask building.
  for (const Value assumption : {kAccept, kUnknown}) {
    cycle_value_ = assumption;
    inconsistent_ = false;
    stack_.clear();
    budget_ = kBudget >> (2 * cuts_);
    int32_t low = std::numeric_limits<int32_t>::max();
    const Value v = Node(rule, rest, &low);
    if (budget_ < 0 && cuts_ < kMaxBudgetCuts) ++cuts_;
    if (!inconsistent_) return v;
  }
  return kUnknown;
}

ContextResolver::Value ContextResolver::Node(RuleId rule, std::string_view rest, int32_t* low) {
  std::string key = Key(rule, rest);
  auto it = memo_.find(key);
  if (it != memo_.end()) return it->second;
  for (size_t i = 0; i < stack_.size(); ++i) {
    if (stack_[i].key == key) {  // a cycle: assume, and remember to check the assumption
      stack_[i].assumed_used = true;
      *low = std::min(*low, static_cast<int32_t>(i));
      return cycle_value_;
    }
  }
  if (--budget_ < 0 || stack_.size() >= kMaxDepth) {
    *low = -1;  // depends on the budget: never memoised
    return kUnknown;
  }
  if ((*sites_)[rule].size() > max_sites_) {  // following every caller costs more than it saves
    memo_.emplace(std::move(key), kUnknown);
    return kUnknown;
  }
  const auto me = static_cast<int32_t>(stack_.size());
  stack_.push_back({key, false});
  int32_t my_low = std::numeric_limits<int32_t>::max();
  uint8_t v = rule == g_.root_rule() ? kReject : kNone;  // the end of the input reads nothing
  for (const int32_t site : (*sites_)[rule]) {
    const uint8_t s =
        g_.rule(g_.rule_of(site)).counted ? uint8_t{kUnknown} : uint8_t{Site(site, rest, &my_low)};
    v = And(v, s);
    if (v == kUnknown) break;
  }
  const Value value = v == kNone ? kUnknown : static_cast<Value>(v);
  const bool assumed = stack_.back().assumed_used;
  stack_.pop_back();
  if (assumed && value != cycle_value_) inconsistent_ = true;
  if (my_low > me || (my_low == me && !inconsistent_)) {
    memo_.emplace(std::move(key), value);  // no assumption about an outer node went into it
  } else {
    *low = std::min(*low, my_low);
  }
  return value;
}

ContextResolver::Value ContextResolver::Site(int32_t site, std::string_view rest, int32_t* low) {
  const SetSimulator::Start start = sim_->FrameStart(site, SetSimulator::kExact);
  const RuleId rule = g_.rule_of(site);
  uint8_t v = kReject;  // OR over the ways the frame handles `rest`
  if (start.pops && g_.CanFollow(rule, static_cast<uint8_t>(rest[0]))) {
    v = Or(v, Node(rule, rest, low));
    if (v == kAccept) return kAccept;
  }
  int32_t set = start.set;
  for (size_t i = 0; i < rest.size() && set >= 0; ++i) {
    const SetSimulator::Trans& t = sim_->Step(set, static_cast<uint8_t>(rest[i]));
    if (!t.alive) break;
    if (i + 1 == rest.size()) return kAccept;
    const int32_t next = t.next;
    if (t.num_pops > 0 && g_.CanFollow(rule, static_cast<uint8_t>(rest[i + 1]))) {
      v = Or(v, Node(rule, rest.substr(i + 1), low));
      if (v == kAccept) return kAccept;
    }
    set = next;
  }
  return static_cast<Value>(v);
}

}  // namespace sieve
