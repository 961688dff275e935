// JsonSchemaValidator (see json_schema_locate.h): the converted grammar compiled without inlining,
// a byte-by-byte walk with a private stack pool, and the mapping of the stacks at a rejection back
// to schema locations.
#include "grammar/json_schema_locate.h"

#include <algorithm>
#include <unordered_map>
#include <utility>

#include "grammar/compiler.h"
#include "grammar/stack_pool.h"
#include "grammar/unique_items.h"

namespace sieve {

Result<JsonSchemaValidator> JsonSchemaValidator::Create(std::string_view schema_json,
                                                        const JsonSchemaOptions& opts,
                                                        const StepperLimits& limits) {
  // Complete documents: a large closed object in any order can leave its keys to the check too
  // (no generator to be left without a token).
  JsonSchemaOptions o = opts;
  o.checked_keys_without_liveness = true;
  auto converted = JsonSchemaToGrammar(schema_json, o);
  if (!converted.ok()) return converted.status();
  GrammarCompileOptions copts;
  // Keep every emitted rule (and its name): the rule is what carries the schema location. Tail
  // absorption only where no location is lost (a rule without one, or one the same as its
  // owner's: the rule per automaton state of a pattern), so that a constrained string is not a
  // frame per character (the matcher's stack would cut strings at 65,536 characters).
  copts.simplify.inline_rules = false;
  copts.simplify.dedupe_rules = false;
  const std::unordered_map<std::string, std::string>& locs = converted->rule_locations;
  copts.pda.absorb_filter = [&locs](const std::string& rule, const std::string& owner) {
    const auto r = locs.find(rule);
    if (r == locs.end()) return true;
    const auto o = locs.find(owner);
    return o != locs.end() && o->second == r->second;
  };
  auto compiled = CompileGrammarIr(std::move(converted->grammar), copts);
  if (!compiled.ok()) return compiled.status();

  JsonSchemaValidator v;
  v.pda_ = std::move(compiled->pda);
  v.report_ = std::move(converted->report);
  v.limits_ = limits;
  std::unordered_map<std::string, int32_t> index;
  v.rule_loc_.assign(v.pda_->num_rules(), -1);
  for (size_t r = 0; r < v.pda_->num_rules(); ++r) {
    auto it = converted->rule_locations.find(v.pda_->rule(static_cast<RuleId>(r)).name);
    if (it == converted->rule_locations.end()) continue;
    auto [pos, fresh] = index.emplace(it->second, static_cast<int32_t>(v.locations_.size()));
    if (fresh) v.locations_.push_back(it->second);
    v.rule_loc_[r] = pos->second;
  }
  return v;
}

JsonSchemaVerdict JsonSchemaValidator::Validate(std::string_view document) const {
  JsonSchemaVerdict verdict;
  StackPool pool;
  PdaStepper stepper(pda_.get(), &pool, limits_);
  const Stack root{pda_->root_start(), 0, kNoNode};
  StackSet current;
  stepper.Close({&root, 1}, &current);
  stepper.Commit(&current);
  stepper.ResetScratch();

  if (!pda_->HasUniqueItems()) {
    // Fast path: the whole document at once; the byte walk runs only to explain a rejection.
    // (uniqueItems has no fast path: a repeated item is only seen byte by byte.)
    StackSet whole;
    const bool all_read = stepper.Advance(current, document, &whole);
    stepper.ResetScratch();
    if (all_read && whole.can_end) {
      stepper.Release(current);
      verdict.accepted = true;
      return verdict;
    }
    stepper.ClearLimitFlag();
  }
  // The byte walk, with the uniqueItems check (unique_items.h; it does nothing in grammars
  // without flagged arrays).
  const UniqueItemsChecker checker(pda_.get());
  UniqueState unique;
  for (size_t i = 0; i < document.size(); ++i) {
    StackSet before = current;  // for the location when the byte is refused
    stepper.Retain(before);
    // A refused byte here would end a key of a flagged object (not an array item).
    const bool in_key = unique.in_string() && !unique.frames.empty() &&
                        unique.frames.back().object && unique.frames.back().key_string;
    if (!checker.Step(&stepper, &pool, static_cast<uint8_t>(document[i]), &current, &unique)) {
      stepper.ResetScratch();
      verdict.byte = i;
      verdict.limit_hit = stepper.limit_hit();
      // Readable without the item check (and not a limit): the byte ended a repeated item.
      const bool repeat =
          !verdict.limit_hit && stepper.Advance(before, document.substr(i, 1), nullptr);
      verdict.repeated_key = repeat && in_key;
      verdict.repeated_item = repeat && !in_key;
      stepper.ResetScratch();
      verdict.location = repeat ? UniqueItemsLocation(before, stepper, in_key)
                                : LocationOf(before, stepper);
      stepper.Release(before);
      return verdict;
    }
    stepper.Release(before);
  }
  verdict.accepted = current.can_end;
  if (!verdict.accepted) {  // every byte was read: a prefix that ends too early
    verdict.byte = document.size();
    verdict.ended_early = true;
    verdict.location = LocationOf(current, stepper);
  }
  stepper.Release(current);
  return verdict;
}

// The pointer of the uniqueItems keyword of the innermost flagged array on the first stack that
// has one, or with `key` that object's pointer (falling back to LocationOf).
std::string JsonSchemaValidator::UniqueItemsLocation(const StackSet& set, const PdaStepper& stepper,
                                                     bool key) const {
  for (const Stack& s : set.stacks) {
    int32_t found = -1;
    auto look = [&](int32_t state) {
      const RuleId r = pda_->rule_of(state);
      if (found < 0 && pda_->rule(r).unique_items && rule_loc_[r] >= 0) found = rule_loc_[r];
    };
    look(s.state);
    for (NodeId id = s.parent; id != kNoNode; id = stepper.node(id).parent) {
      look(stepper.node(id).state);
    }
    if (found >= 0) return locations_[found] + (key ? "" : "/uniqueItems");
  }
  return LocationOf(set, stepper);
}

std::string JsonSchemaValidator::LocationOf(const StackSet& set, const PdaStepper& stepper) const {
  // Per stack, the locations of its frames from the bottom up, without repeats.
  std::vector<std::vector<int32_t>> paths;
  std::vector<int32_t> frames;
  for (const Stack& s : set.stacks) {
    frames.clear();
    frames.push_back(s.state);
    for (NodeId id = s.parent; id != kNoNode; id = stepper.node(id).parent) {
      frames.push_back(stepper.node(id).state);
    }
    std::vector<int32_t> path;
    for (auto it = frames.rbegin(); it != frames.rend(); ++it) {
      const int32_t loc = rule_loc_[pda_->rule_of(*it)];
      if (loc >= 0 && (path.empty() || path.back() != loc)) path.push_back(loc);
    }
    paths.push_back(std::move(path));
  }
  if (paths.empty()) return "";
  // Paths that are a prefix of another one (a stack in a shared rule, such as whitespace before a
  // value) add nothing; the rest are the maximal paths, and the answer is the last location they
  // all share: the innermost subschema of a single path, or where diverging paths branch.
  auto is_prefix = [](const std::vector<int32_t>& a, const std::vector<int32_t>& b) {
    return a.size() <= b.size() && std::equal(a.begin(), a.end(), b.begin());
  };
  std::vector<const std::vector<int32_t>*> maximal;
  for (size_t i = 0; i < paths.size(); ++i) {
    bool covered = false;
    for (size_t j = 0; j < paths.size() && !covered; ++j) {
      covered =
          j != i && is_prefix(paths[i], paths[j]) && (paths[i].size() < paths[j].size() || j < i);
    }
    if (!covered) maximal.push_back(&paths[i]);
  }
  const std::vector<int32_t>& first = *maximal.front();
  size_t common = first.size();
  for (const std::vector<int32_t>* p : maximal) {
    size_t k = 0;
    while (k < common && k < p->size() && (*p)[k] == first[k]) ++k;
    common = k;
  }
  return common == 0 ? std::string() : locations_[first[common - 1]];
}

}  // namespace sieve
