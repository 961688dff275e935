#include "grammar/ebnf_boolean.h"

#include <optional>
#include <string>
#include <unordered_map>

#include "grammar/dfa_rules.h"
#include "grammar/json_schema_automaton.h"

namespace sieve {

namespace {

// Each op's automaton, ops whose operands reach other ops after those (a topological order
// found without recursion, so a chain of thousands of `r_i ::= ~r_{i+1}` rules costs no stack).
class Resolver {
 public:
  Resolver(const std::vector<BooleanOp>& ops, int32_t max_states, const Grammar& g,
           std::vector<RuleId>* read)
      : ops_(ops), max_states_(max_states), g_(g), read_(read), dfas_(ops.size()) {
    for (size_t i = 0; i < ops.size(); ++i) op_of_[ops[i].rule] = i;
  }

  Status Run() {
    std::vector<size_t> order;
    SIEVE_RETURN_IF_ERROR(Order(&order));
    for (size_t i : order) SIEVE_RETURN_IF_ERROR(Resolve(i));
    return Status::Ok();
  }

  const jsonschema::CpDfa& dfa(size_t i) const { return *dfas_[i]; }

 private:
  // The ops that op i's operands reach, through rules read in place (not through other ops).
  std::vector<size_t> Reached(size_t i) const {
    std::vector<size_t> out;
    std::vector<uint8_t> seen(g_.num_rules(), 0);
    std::vector<ExprId> stack(ops_[i].operands.begin(), ops_[i].operands.end());
    while (!stack.empty()) {
      const Expr& e = g_.expr(stack.back());
      stack.pop_back();
      if (e.kind == ExprKind::kRuleRef) {
        if (seen[e.rule]) continue;
        seen[e.rule] = 1;
        if (auto it = op_of_.find(e.rule); it != op_of_.end()) {
          out.push_back(it->second);
        } else if (g_.rule(e.rule).body != kNoExpr) {
          stack.push_back(g_.rule(e.rule).body);
        }
      } else if (e.kind == ExprKind::kSequence || e.kind == ExprKind::kChoice ||
                 e.kind == ExprKind::kRepeat) {
        for (ExprId c : g_.children(e)) stack.push_back(c);
      }
    }
    return out;
  }

  // Kahn's order of the ops by what they reach; an op on a cycle reaches itself.
  Status Order(std::vector<size_t>* order) const {
    const size_t n = ops_.size();
    std::vector<std::vector<size_t>> users(n);
    std::vector<size_t> pending(n, 0);
    for (size_t i = 0; i < n; ++i) {
      for (size_t j : Reached(i)) {
        users[j].push_back(i);
        ++pending[i];
      }
    }
    for (size_t i = 0; i < n; ++i) {
      if (pending[i] == 0) order->push_back(i);
    }
    for (size_t k = 0; k < order->size(); ++k) {
      for (size_t u : users[(*order)[k]]) {
        if (--pending[u] == 0) order->push_back(u);
      }
    }
    for (size_t i = 0; i < n; ++i) {
      if (pending[i] != 0) {
        return Fail(ops_[i], StatusCode::kUnsupported,
                    std::string(Name(ops_[i])) +
                        " reaches itself through its operands, so its language need not be "
                        "regular");
      }
    }
    return Status::Ok();
  }

  static const char* Name(const BooleanOp& op) { return op.complement ? "'~'" : "'&'"; }

  // Op i's automaton; the ops it reaches are done (Order).
  Status Resolve(size_t i) {
    const BooleanOp& op = ops_[i];
    jsonschema::DfaRuleRefs refs;
    refs.read = read_;
    refs.automaton = [this](RuleId r) -> Result<const jsonschema::CpDfa*> {
      auto it = op_of_.find(r);
      if (it == op_of_.end()) return static_cast<const jsonschema::CpDfa*>(nullptr);
      if (!dfas_[it->second]) return InternalError("'&' / '~' resolved out of order");
      return &*dfas_[it->second];
    };
    std::optional<jsonschema::CpDfa> acc;
    for (ExprId e : op.operands) {
      auto d = jsonschema::DfaFromExpr(g_, e, max_states_, nullptr, &refs);
      if (!d.ok()) return Wrap(op, d.status());
      if (!acc) {
        acc = op.complement ? jsonschema::Complement(*d) : std::move(*d);
        continue;
      }
      auto both = jsonschema::Intersect(*acc, *d, max_states_);
      if (!both.ok()) return Wrap(op, both.status());
      acc = std::move(*both);
    }
    jsonschema::CpDfa m = jsonschema::Minimize(*acc);
    if (jsonschema::IsEmptyLanguage(m)) {
      return Fail(op, StatusCode::kInvalidArgument,
                  std::string(Name(op)) + " matches no string" +
                      (op.complement ? " (its operand matches every string)"
                                     : " (its operands have no string in common)"));
    }
    dfas_[i] = std::move(m);
    return Status::Ok();
  }

  static Status Fail(const BooleanOp& op, StatusCode code, std::string message) {
    Status s(code, std::move(message));
    s.WithOffset(op.offset);
    return s;
  }
  static Status Wrap(const BooleanOp& op, const Status& inner) {
    return Fail(op, inner.code(), std::string("operand of ") + Name(op) + ": " + inner.message());
  }

  const std::vector<BooleanOp>& ops_;
  int32_t max_states_;
  const Grammar& g_;
  std::vector<RuleId>* read_;
  std::unordered_map<RuleId, size_t> op_of_;
  std::vector<std::optional<jsonschema::CpDfa>> dfas_;
};

}  // namespace

Status ResolveBooleanOps(const std::vector<BooleanOp>& ops, int32_t max_states, Grammar* g,
                         std::vector<RuleId>* read) {
  Resolver resolver(ops, max_states, *g, read);
  SIEVE_RETURN_IF_ERROR(resolver.Run());
  for (size_t i = 0; i < ops.size(); ++i) AddDfaRules(resolver.dfa(i), ops[i].rule, g);
  return Status::Ok();
}

}  // namespace sieve
