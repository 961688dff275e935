#include "grammar/ebnf_boolean.h"

#include <optional>
#include <string>
#include <unordered_map>

#include "grammar/dfa_rules.h"
#include "grammar/json_schema_automaton.h"

namespace sieve {

namespace {


class Resolver {
 public:
  Resolver(const std::vector<BooleanOp>& ops, int32_t max_states, const Grammar& g,
           std::vector<RuleId>* read)
      : ops_(ops), max_states_(max_states), g_(g), read_(read), dfas_(ops.size()),
        busy_(ops.size(), 0) {
    for (size_t i = 0; i < ops.size(); ++i) op_of_[ops[i].rule] = i;
  }

  // The automaton of op i, its nested ops first.
  Result<const jsonschema::CpDfa*> Resolve(size_t i, int depth) {
    if (dfas_[i]) return &*dfas_[i];
    const BooleanOp& op = ops_[i];
    const char* name = op.complement ? "'~'" : "'&'";
    if (busy_[i]) {
      return Fail(op, StatusCode::kUnsupported,
                  std::string(name) + " reaches itself through its operands, so its language "
                                      "need not be regular");
    }
    busy_[i] = 1;
    // Nested ops continue the depth of the reference that reaches them, so the automaton
    // construction's one bound on expression depth (json_schema_automaton.cc) covers them all.
    jsonschema::DfaRuleRefs refs;
    refs.read = read_;
    refs.depth = depth;
    refs.automaton = [this](RuleId r, int at) -> Result<const jsonschema::CpDfa*> {
      auto it = op_of_.find(r);
      if (it == op_of_.end()) return static_cast<const jsonschema::CpDfa*>(nullptr);
      return Resolve(it->second, at);
    };
    std::optional<jsonschema::CpDfa> acc;
    for (ExprId e : op.operands) {
      auto d = jsonschema::DfaFromExpr(g_, e, max_states_, nullptr, &refs);
      if (!d.ok()) return Wrap(op, name, d.status());
      if (!acc) {
        acc = op.complement ? jsonschema::Complement(*d) : std::move(*d);
        continue;
      }
      auto both = jsonschema::Intersect(*acc, *d, max_states_);
      if (!both.ok()) return Wrap(op, name, both.status());
      acc = std::move(*both);
    }
    busy_[i] = 0;
    jsonschema::CpDfa m = jsonschema::Minimize(*acc);
    if (jsonschema::IsEmptyLanguage(m)) {
      return Fail(op, StatusCode::kInvalidArgument,
                  std::string(name) + " matches no string" +
                      (op.complement ? " (its operand matches every string)"
                                     : " (its operands have no string in common)"));
    }
    dfas_[i] = std::move(m);
    return &*dfas_[i];
  }

  const jsonschema::CpDfa& dfa(size_t i) const { return *dfas_[i]; }

 private:
  // An error of the op itself; errors of nested ops already carry their own offset.
  static Status Fail(const BooleanOp& op, StatusCode code, std::string message) {
    Status s(code, std::move(message));
    s.WithOffset(op.offset);
    return s;
  }
  static Status Wrap(const BooleanOp& op, const char* name, const Status& inner) {
    if (inner.offset() >= 0) return inner;
    return Fail(op, inner.code(), std::string("operand of ") + name + ": " + inner.message());
  }

  const std::vector<BooleanOp>& ops_;
  int32_t max_states_;
  const Grammar& g_;
  std::vector<RuleId>* read_;
  std::unordered_map<RuleId, size_t> op_of_;
  std::vector<std::optional<jsonschema::CpDfa>> dfas_;
  std::vector<uint8_t> busy_;
};

}  // namespace

Status ResolveBooleanOps(const std::vector<BooleanOp>& ops, int32_t max_states, Grammar* g,
                         std::vector<RuleId>* read) {
  Resolver resolver(ops, max_states, *g, read);
  for (size_t i = 0; i < ops.size(); ++i) {
    auto d = resolver.Resolve(i, 0);
    if (!d.ok()) return d.status();
  }
  for (size_t i = 0; i < ops.size(); ++i) AddDfaRules(resolver.dfa(i), ops[i].rule, g);
  return Status::Ok();
}

}  // namespace sieve
