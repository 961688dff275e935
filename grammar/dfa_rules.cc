#include "grammar/dfa_rules.h"

#include <map>
#include <string>
#include <utility>
#include <vector>

namespace sieve {

void AddDfaRules(const jsonschema::CpDfa& d, RuleId start, Grammar* g) {
  std::vector<RuleId> rules(d.num_states());
  rules[0] = start;
  const std::string base = g->rule(start).name + "_s";
  for (int32_t s = 1; s < d.num_states(); ++s) {
    std::string name = base + std::to_string(s);
    while (g->FindRule(name) >= 0) name += "_";
    rules[s] = g->AddRule(std::move(name));
  }
  for (int32_t s = 0; s < d.num_states(); ++s) {
    std::vector<CodepointRange> self;
    std::map<int32_t, std::vector<CodepointRange>> by_target;
    for (const jsonschema::CpDfa::Edge& e : d.edges(s)) {
      (e.to == s ? self : by_target[e.to]).push_back({e.lo, e.hi});
    }
    std::vector<ExprId> alts;
    for (auto& [t, ranges] : by_target) {
      const ExprId items[] = {g->AddCharClass(std::move(ranges), false), g->AddRuleRef(rules[t])};
      alts.push_back(g->AddSequence(items));
    }
    if (d.accepting(s)) alts.push_back(g->AddEmpty());
    ExprId rest = alts.size() == 1 ? alts[0] : g->AddChoice(alts);
    if (!self.empty()) {
      const ExprId items[] = {g->AddRepeat(g->AddCharClass(std::move(self), false), 0, kUnbounded),
                              rest};
      rest = g->AddSequence(items);
    }
    g->SetRuleBody(rules[s], rest);
  }
}

}  // namespace sieve
