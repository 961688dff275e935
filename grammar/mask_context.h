// ContextResolver: decides at compile time, when possible, whether the bytes a token has left after
// a rule ends are read in every context the rule can return to: the precompute's last step before
// a pop is left to run time (mask_builder.h).
//
// Resolve(R, w) answers "after a frame of rule R returns, is w (non-empty) read by whatever stack
// was below it?" over all stacks the grammar can build:
//  - kAccept: in every context some path reads all of w;
//  - kReject: in no context can w be read;
//  - kUnknown: it depends (or the search gave up).
// A context is a chain of return sites: the return state r of a call to R, whose frame either reads
// w (its own bytes, pushing and returning from callees as it goes) or itself returns after a prefix
// of w, continuing the chain with rule(r) and the rest; the root rule's context is the end of the
// input, which reads nothing. Resolve is the AND over R's sites of the OR over the ways each site's
// frame handles w; sites in counted rules (unknown counter) are kUnknown.
//
// Recursion: a site that returns at once (a nullable tail) continues with the same w, so chains can
// cycle (a statement inside an if inside a statement ...). Real stacks are finite, and the answer
// is the greatest fixpoint: a cycle back to a (rule, w) still being resolved is assumed accepted,
// and the assumption is checked at the end: if a node that was assumed accepted resolves to
// anything else, the query is redone with cycles counted as unknown (always sound). Results that do
// not depend on an assumption are memoised; queries past a depth or work budget give kUnknown, and
// each query that runs out of budget quarters the budget of the state's later ones (bounded work).
//
// Frames are simulated with the builder's SetSimulator in exact mode, so this shares its sets and
// transitions. Not thread-safe (one per builder).
#ifndef SIEVE_GRAMMAR_MASK_CONTEXT_H_
#define SIEVE_GRAMMAR_MASK_CONTEXT_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "grammar/mask_sim.h"
#include "grammar/pda.h"

namespace sieve {

class ContextResolver {
 public:
  enum Value : uint8_t { kReject = 0, kAccept = 1, kUnknown = 2, kNone = 3 };

  // `sites[r]`: the return states of the call edges calling rule r. Rules with more than
  // `max_sites` call sites are not followed (kUnknown).
  ContextResolver(const CompiledGrammar& g, SetSimulator* sim,
                  const std::vector<std::vector<int32_t>>* sites, size_t max_sites);

  Value Resolve(RuleId rule, std::string_view rest);
  // Restores the full budget (called per classified state, see Resolve).
  void NewState() { cuts_ = 0; }

 private:
  struct Frame {
    std::string key;
    bool assumed_used = false;  // a cycle came back here
  };
  Value Node(RuleId rule, std::string_view rest, int32_t* low);
  Value Site(int32_t site, std::string_view rest, int32_t* low);
  static std::string Key(RuleId rule, std::string_view rest);

  const CompiledGrammar& g_;
  SetSimulator* sim_;
  const std::vector<std::vector<int32_t>>* sites_;
  size_t max_sites_;
  std::unordered_map<std::string, Value> memo_;
  std::vector<Frame> stack_;  // (rule, rest) being resolved, outermost first
  Value cycle_value_ = kAccept;
  bool inconsistent_ = false;  // a node assumed accepted resolved otherwise
  int64_t budget_ = 0;
  int cuts_ = 0;  // queries that ran out of budget since NewState() (capped)
};

}  // namespace sieve

#endif  // SIEVE_GRAMMAR_MASK_CONTEXT_H_
