// The PDA compiler: Grammar -> per-rule minimal DFAs -> one global state space (see pda.h).
//
// Stages, in order:
//  1. Per rule (a work list; counted repetitions discovered while building append rules): Thompson
//     NFA (fsm_builder), subset construction, minimisation. A counted repetition builds its body's
//     DFA first and picks the byte-loop or call-loop shape from it.
//  2. Productivity (least fixpoint: a rule is productive when an accepting state is reachable using
//     bytes and calls to productive rules); calls to unproductive rules are removed and every DFA
//     is trimmed and re-minimised. An unproductive root is an error.
//  3. Nullability (least fixpoint over calls to nullable rules); counted call loops over a nullable
//     body get min = 0.
//  4. Left-recursion check on the "left call" graph (calls reachable from a rule's start without
//     reading a byte): a cycle is kUnsupported, naming the rules on it.
//  5. Layout of the rules reachable from the root: flat edge arrays, dense rows, flags, stats,
//     FIRST and FOLLOW byte sets.
//
// Every stage is near-linear in the size of the automata, because hostile or merely large grammars
// (a 16,000-byte literal, 10,000 enum alternatives, thousands of rules chained one after another)
// must not turn compilation into a latency cliff. Per-rule automata are minimised with Hopcroft's
// algorithm (fsm.h). The fixpoints over rules (productivity, nullability, FIRST, FOLLOW) are work
// lists that revisit a rule only when something it depends on changed, never round-robin passes,
// which cost one pass per link of a chain of rules. One NFA builder serves all rules, so its
// per-expression memo is not rebuilt per rule.
#include "grammar/pda.h"

#include <algorithm>
#include <chrono>
#include <deque>
#include <unordered_map>
#include <utility>

#include "grammar/fsm_builder.h"
#include "grammar/lookahead_check.h"
#include "grammar/support/byte_set.h"

namespace sieve {

namespace {

// Subset-construction budget of a rule's automaton with absorbed rules (BuildExprDfa): entries
// per NFA state, and at least this many (the largest in schemas/ holds 3,953 entries).
constexpr int64_t kAbsorbedSubsetPerNfaState = 4;
constexpr int64_t kAbsorbedSubsetFloor = int64_t{1} << 18;

NfaBuildOptions NfaOptionsFor(const CompileOptions& opts) {
  NfaBuildOptions o;
  o.max_unroll_copies = opts.max_unroll_copies;
  o.max_unroll_weight = opts.max_unroll_weight;
  o.max_unroll_byte_class_copies = opts.max_unroll_byte_class_copies;
  o.max_nfa_states = opts.max_nfa_states;
  o.max_depth = opts.max_expr_depth;
  return o;
}

// How RuleFixpoint decides one rule.
struct FixpointRule {
  enum Kind { kNever, kAlways, kSameAs, kAutomaton };
  Kind kind = kNever;
  RuleId same_as = -1;       // kSameAs: in the set exactly when this rule is
  const Fsm* fsm = nullptr;  // kAutomaton
};

// The least set of rules such that a kAlways rule is in it, a kSameAs rule is in it when its rule
// is, and a kAutomaton rule is in it when an accepting state is reachable from its start through
// byte edges (when `bytes_pass`) and calls to rules in the set. Productivity (bytes pass) and
// nullability (they do not) are both this fixpoint.
//
// Round-robin iteration ("repeat until nothing changes") costs one round per link of a chain of
// rules that wait on one another, O(rules x size) for a grammar like r0 ::= "a" r1, r1 ::= "a" r2,
// ... So the search is incremental instead: each rule's automaton is explored once from its start,
// and a call edge to a rule not (yet) in the set is parked on that callee; when the callee joins,
// exploration resumes from the parked return states. Every state and edge is visited at most once
// over the whole computation.
std::vector<char> RuleFixpoint(const std::vector<FixpointRule>& how, bool bytes_pass) {
  const size_t n = how.size();
  std::vector<char> in(n, 0);
  std::vector<std::vector<char>> seen(n);
  struct Parked {
    RuleId rule;
    int32_t state;
    int32_t next;  // next entry parked on the same callee, or -1
  };
  std::vector<Parked> parked;
  std::vector<int32_t> parked_head(n, -1);
  std::vector<std::vector<RuleId>> followers(n);
  std::vector<RuleId> joined;  // in join order; processed as a queue
  std::vector<int32_t> stack;
  auto join = [&](RuleId r) {
    in[r] = 1;
    joined.push_back(r);
  };
  auto explore = [&](RuleId r, int32_t from) {
    const Fsm& f = *how[r].fsm;
    std::vector<char>& mark = seen[r];
    if (in[r] || mark[from]) return;
    mark[from] = 1;
    stack.assign(1, from);
    while (!stack.empty()) {
      const int32_t s = stack.back();
      stack.pop_back();
      if (f.accepting(s)) {
        join(r);
        return;
      }
      if (bytes_pass) {
        for (const Fsm::ByteEdge& e : f.byte_edges(s)) {
          if (!mark[e.target]) {
            mark[e.target] = 1;
            stack.push_back(e.target);
          }
        }
      }
      for (const Fsm::CallEdge& e : f.call_edges(s)) {
        if (mark[e.target]) continue;
        if (in[e.callee]) {
          mark[e.target] = 1;
          stack.push_back(e.target);
        } else {
          parked.push_back({r, e.target, parked_head[e.callee]});
          parked_head[e.callee] = static_cast<int32_t>(parked.size()) - 1;
        }
      }
    }
  };
  for (size_t r = 0; r < n; ++r) {
    switch (how[r].kind) {
      case FixpointRule::kNever:
        break;
      case FixpointRule::kAlways:
        join(static_cast<RuleId>(r));
        break;
      case FixpointRule::kSameAs:
        followers[how[r].same_as].push_back(static_cast<RuleId>(r));
        break;
      case FixpointRule::kAutomaton:
        seen[r].assign(how[r].fsm->num_states(), 0);
        explore(static_cast<RuleId>(r), how[r].fsm->start());
        break;
    }
  }
  for (size_t i = 0; i < joined.size(); ++i) {
    const RuleId c = joined[i];
    for (RuleId f : followers[c]) {
      if (!in[f]) join(f);
    }
    for (int32_t p = parked_head[c]; p >= 0; p = parked[p].next) {
      const Parked entry = parked[p];  // explore may grow `parked`
      explore(entry.rule, entry.state);
    }
    parked_head[c] = -1;
  }
  return in;
}

}  // namespace

class PdaCompiler {
 public:
  // One NFA builder serves every rule: its expression-weight memo is sized by the grammar, so a
  // builder per rule would cost O(rules x expressions).
  PdaCompiler(const Grammar& g, const CompileOptions& opts)
      : g_(g), opts_(opts), builder_(g, NfaOptionsFor(opts), [this](ExprId rep) {
          return CountedRule(rep, building_rule_name_);
        }) {}

  // `validate`: check the grammar first (CompileGrammar) or trust it (CompileValidatedGrammar).
  Result<std::shared_ptr<const CompiledGrammar>> Run(bool validate);

 private:
  struct Work {
    std::string name;
    ExprId expr = kNoExpr;  // plain: the body; counted: the kRepeat
    bool synthesized = false;
    bool counted = false;
    bool built = false;
    RuleId body_rule = -1;  // call loops: the iterated rule
    int32_t min = 0;
    int32_t max = 0;
    Fsm fsm;
  };

  Status BuildRule(RuleId r);
  Result<Fsm> BuildExprDfa(ExprId expr, const std::string& rule_name,
                           const NfaBuilder::AbsorbFn& absorb = nullptr, RuleId self = -1);
  void ComputeAbsorption();
  Result<RuleId> CountedRule(ExprId repeat, const std::string& owner);
  Status CheckLeftRecursion(const std::vector<char>& live, const std::vector<char>& nullable);
  Status Layout(const std::vector<char>& live, CompiledGrammar* out);

  const Grammar& g_;
  const CompileOptions& opts_;
  NfaBuilder builder_;
  std::string building_rule_name_;  // the rule whose expression builder_ is building
  std::vector<Work> rules_;
  std::unordered_map<ExprId, RuleId> counted_memo_;
  // Per grammar rule: the rule whose automaton absorbs it (ComputeAbsorption), itself if none.
  std::vector<RuleId> owner_;
  GrammarStats stats_;
};

Result<std::shared_ptr<const CompiledGrammar>> CompileGrammar(const Grammar& g,
                                                              const CompileOptions& opts) {
  return PdaCompiler(g, opts).Run(/*validate=*/true);
}

Result<std::shared_ptr<const CompiledGrammar>> CompileValidatedGrammar(const Grammar& g,
                                                                       const CompileOptions& opts) {
  return PdaCompiler(g, opts).Run(/*validate=*/false);
}

Result<RuleId> PdaCompiler::CountedRule(ExprId repeat, const std::string& owner) {
  auto it = counted_memo_.find(repeat);
  if (it != counted_memo_.end()) return it->second;
  const Expr& e = g_.expr(repeat);
  Work w;
  w.name = owner + "#rep" + std::to_string(stats_.synthesized_rules);
  w.expr = repeat;
  w.synthesized = true;
  w.counted = true;
  w.min = e.min;
  w.max = e.max;
  const RuleId id = static_cast<RuleId>(rules_.size());
  rules_.push_back(std::move(w));
  ++stats_.synthesized_rules;
  counted_memo_.emplace(repeat, id);
  return id;
}

// Tail-call absorption. A rule referenced only in tail positions (fsm_builder.h) of rules that
// all end up in one automaton is built into that automaton instead of being called: a right-linear
// chain (the rule per state that a length-bounded pattern becomes, `rest ::= "," item rest | "}"`)
// is then one automaton, which the matcher walks without pushing a frame per character and the
// mask cache classifies with the chain's states side by side (mask_share.h). Each absorbed rule
// lands in exactly one owner, so nothing is duplicated. Owners: the root, rules with a lookahead,
// rules referenced anywhere but in tail position (calls, repetitions, lookaheads), and rules whose
// referrers disagree. Found by optimistic propagation (a referrer whose owner is not known yet
// agrees with anything), then checked: an absorbed rule whose referrers do not all have its owner
// becomes an owner itself, and the propagation runs again (each round adds an owner: it ends).
void PdaCompiler::ComputeAbsorption() {
  const size_t n = g_.num_rules();
  owner_.resize(n);
  for (size_t r = 0; r < n; ++r) owner_[r] = static_cast<RuleId>(r);
  if (!opts_.absorb_tail_calls) return;
  std::vector<std::vector<RuleId>> referrers(n);
  std::vector<char> fixed(n, 0);  // an owner whatever its referrers
  fixed[g_.root()] = 1;
  std::vector<std::pair<ExprId, bool>> work;
  for (size_t r = 0; r < n; ++r) {
    const Rule& rule = g_.rule(static_cast<RuleId>(r));
    // A unique-items rule must keep its own frame: the matcher finds its arrays by that frame.
    if (rule.lookahead != kNoExpr || rule.unique_items) fixed[r] = 1;
    work.clear();
    work.push_back({rule.body, true});
    if (rule.lookahead != kNoExpr) work.push_back({rule.lookahead, false});
    while (!work.empty()) {
      const auto [id, tail] = work.back();
      work.pop_back();
      const Expr& e = g_.expr(id);
      switch (e.kind) {
        case ExprKind::kRuleRef:
          if (tail) {
            referrers[e.rule].push_back(static_cast<RuleId>(r));
          } else {
            fixed[e.rule] = 1;
          }
          break;
        case ExprKind::kSequence: {
          const auto items = g_.children(e);
          for (size_t i = 0; i < items.size(); ++i) {
            work.push_back({items[i], tail && i + 1 == items.size()});
          }
          break;
        }
        case ExprKind::kChoice:
          for (ExprId c : g_.children(e)) work.push_back({c, tail});
          break;
        case ExprKind::kRepeat:
          for (ExprId c : g_.children(e)) work.push_back({c, tail && TailChild(e)});
          break;
        default:
          break;
      }
    }
  }
  constexpr RuleId kUnknown = -1;
  for (;;) {
    for (size_t r = 0; r < n; ++r) {
      owner_[r] = fixed[r] || referrers[r].empty() ? static_cast<RuleId>(r) : kUnknown;
    }
    for (bool changed = true; changed;) {
      changed = false;
      for (size_t r = 0; r < n; ++r) {
        if (fixed[r] || referrers[r].empty()) continue;
        RuleId agreed = kUnknown;
        bool conflict = false;
        for (const RuleId from : referrers[r]) {
          const RuleId o = owner_[from];
          if (o == kUnknown) continue;
          if (agreed == kUnknown) {
            agreed = o;
          } else if (o != agreed) {
            conflict = true;
          }
        }
        if (conflict) {
          fixed[r] = 1;
          owner_[r] = static_cast<RuleId>(r);
          changed = true;
        } else if (agreed != kUnknown && owner_[r] != agreed) {
          owner_[r] = agreed;
          changed = true;
        }
      }
    }
    bool ok = true;
    for (size_t r = 0; r < n; ++r) {
      if (owner_[r] == kUnknown) owner_[r] = static_cast<RuleId>(r);  // unreachable cycles
      if (owner_[r] == static_cast<RuleId>(r)) continue;
      if (opts_.absorb_filter &&
          !opts_.absorb_filter(g_.rule(static_cast<RuleId>(r)).name, g_.rule(owner_[r]).name)) {
        fixed[r] = 1;
        ok = false;
        continue;
      }
      for (const RuleId from : referrers[r]) {
        if (owner_[from] != owner_[r]) {
          fixed[r] = 1;
          ok = false;
          break;
        }
      }
    }
    if (ok) return;
  }
}

Result<Fsm> PdaCompiler::BuildExprDfa(ExprId expr, const std::string& rule_name,
                                      const NfaBuilder::AbsorbFn& absorb, RuleId self) {
  building_rule_name_ = rule_name;
  SIEVE_ASSIGN_OR_RETURN(Nfa nfa, builder_.Build(expr, absorb, self));
  stats_.nfa_states += nfa.num_states();
  // With absorbed rules the subset construction gets a budget proportional to the NFA: a chain
  // of optional members in schema order is quadratic here (after each member every later one may
  // follow; SchemaStore's megalinter configuration: 3.2 million subset entries, 3.7 s), and its
  // kLimit makes BuildRule call the absorbed rules instead.
  int64_t max_subset = opts_.max_subset_states;
  if (absorb != nullptr) {
    max_subset = std::min(max_subset, std::max(kAbsorbedSubsetFloor,
                                               kAbsorbedSubsetPerNfaState * nfa.num_states()));
  }
  auto dfa = Determinize(nfa, opts_.max_rule_states, nullptr, max_subset, &opts_.deadline);
  if (!dfa.ok()) {
    Status s = dfa.status();
    s.Prepend("rule '" + rule_name + "'");
    return s;
  }
  stats_.dfa_states += dfa->num_states();
  return Minimize(*dfa);
}

Status PdaCompiler::BuildRule(RuleId r) {
  if (rules_[r].built) return Status::Ok();
  const std::string name = rules_[r].name;
  if (opts_.deadline.Expired()) return opts_.deadline.ExpiredError("building rule '" + name + "'");
  if (!rules_[r].counted) {
    // Its own tail references loop back to its start (fsm_builder.h, `self`).
    auto absorbing = [this, r](RuleId t) { return t == r || owner_[t] == r; };
    auto fsm = BuildExprDfa(rules_[r].expr, name, absorbing, r);
    if (!fsm.ok() && fsm.status().code() == StatusCode::kLimit && !opts_.deadline.Expired()) {
      // One automaton for the absorbed rules can be exponentially larger than calls between them
      // (right-linear rules for (a|b)* a (a|b){20}): call them instead; each absorbed rule is then
      // built as a rule of its own when its call edge is reached. Same language either way.
      for (RuleId& o : owner_) {
        if (o == r) o = static_cast<RuleId>(&o - owner_.data());
      }
      fsm = BuildExprDfa(rules_[r].expr, name);
    }
    if (!fsm.ok()) return fsm.status();
    rules_[r].fsm = std::move(*fsm);
    rules_[r].built = true;
    return Status::Ok();
  }
  const Expr& rep = g_.expr(rules_[r].expr);
  const ExprId child = g_.children(rep)[0];
  SIEVE_ASSIGN_OR_RETURN(Fsm body, BuildExprDfa(child, name));
  Work& w = rules_[r];  // BuildExprDfa may have appended rules
  if (!body.HasCalls() && body.IsPrefixFree()) {
    if (body.accepting(body.start())) {
      // Prefix-free and nullable: the body matches only "", and so does the repetition.
      Fsm eps;
      eps.set_start(eps.AddState());
      eps.set_accepting(0, true);
      w.fsm = std::move(eps);
      w.counted = false;
    } else {
      w.fsm = MakeByteLoop(body);
    }
    w.built = true;
    return Status::Ok();
  }
  RuleId callee;
  if (g_.expr(child).kind == ExprKind::kRuleRef) {
    callee = g_.expr(child).rule;
  } else {
    Work b;
    b.name = name + "#body";
    b.expr = child;
    b.synthesized = true;
    b.built = true;
    b.fsm = std::move(body);
    callee = static_cast<RuleId>(rules_.size());
    rules_.push_back(std::move(b));
    ++stats_.synthesized_rules;
  }
  Work& loop = rules_[r];
  Fsm fsm;
  const int32_t head = fsm.AddState();
  fsm.set_start(head);
  fsm.set_accepting(head, true);
  fsm.set_loop_head(head, true);
  fsm.AddCallEdge(head, callee, head);
  loop.fsm = std::move(fsm);
  loop.body_rule = callee;
  loop.built = true;
  return Status::Ok();
}

Status PdaCompiler::CheckLeftRecursion(const std::vector<char>& live,
                                       const std::vector<char>& nullable) {
  const size_t n = rules_.size();
  // Left-call graph.
  std::vector<std::vector<RuleId>> left(n);
  std::vector<char> seen;
  std::vector<int32_t> work;
  for (size_t r = 0; r < n; ++r) {
    if (!live[r]) continue;
    const Fsm& f = rules_[r].fsm;
    seen.assign(f.num_states(), 0);
    work.assign(1, f.start());
    seen[f.start()] = 1;
    while (!work.empty()) {
      const int32_t s = work.back();
      work.pop_back();
      for (const Fsm::CallEdge& e : f.call_edges(s)) {
        left[r].push_back(e.callee);
        if (nullable[e.callee] && !seen[e.target]) {
          seen[e.target] = 1;
          work.push_back(e.target);
        }
      }
    }
  }
  // Iterative DFS; colour 1 = on the current path.
  std::vector<char> colour(n, 0);
  std::vector<std::pair<RuleId, size_t>> path;
  for (size_t root = 0; root < n; ++root) {
    if (!live[root] || colour[root]) continue;
    path.assign(1, {static_cast<RuleId>(root), 0});
    colour[root] = 1;
    while (!path.empty()) {
      auto& [r, i] = path.back();
      if (i == left[r].size()) {
        colour[r] = 2;
        path.pop_back();
        continue;
      }
      const RuleId c = left[r][i++];
      if (colour[c] == 1) {
        std::string cycle;
        bool on = false;
        for (const auto& [p, unused] : path) {
          if (p == c) on = true;
          if (on) cycle += "'" + rules_[p].name + "' -> ";
        }
        cycle += "'" + rules_[c].name + "'";
        Status s = Unsupported("left recursion: " + cycle +
                               " (a rule reaches itself without reading a byte; run Simplify() "
                               "to eliminate left recursion)");
        const Rule* src = c < static_cast<RuleId>(g_.num_rules()) ? &g_.rule(c) : nullptr;
        if (src != nullptr && src->source_offset >= 0) s.WithOffset(src->source_offset);
        return s;
      }
      if (colour[c] == 0) {
        colour[c] = 1;
        path.push_back({c, 0});
      }
    }
  }
  return Status::Ok();
}

Result<std::shared_ptr<const CompiledGrammar>> PdaCompiler::Run(bool validate) {
  const auto t0 = std::chrono::steady_clock::now();
  if (g_.num_exprs() > opts_.max_grammar_exprs) {
    return LimitError("grammar has " + std::to_string(g_.num_exprs()) +
                      " expressions, more than CompileOptions::max_grammar_exprs (" +
                      std::to_string(opts_.max_grammar_exprs) + ")");
  }
  if (validate) SIEVE_RETURN_IF_ERROR(g_.Validate());
  if (g_.root() < 0 || static_cast<size_t>(g_.root()) >= g_.num_rules()) {
    return InvalidArgument("grammar has no root rule");
  }
  stats_.grammar_rules = static_cast<int32_t>(g_.num_rules());
  for (size_t r = 0; r < g_.num_rules(); ++r) {
    Work w;
    w.name = g_.rule(static_cast<RuleId>(r)).name;
    w.expr = g_.rule(static_cast<RuleId>(r)).body;
    if (w.expr == kNoExpr) {
      Status s = InvalidArgument("rule '" + w.name + "' has no body");
      if (g_.rule(static_cast<RuleId>(r)).source_offset >= 0) {
        s.WithOffset(g_.rule(static_cast<RuleId>(r)).source_offset);
      }
      return s;
    }
    rules_.push_back(std::move(w));
  }
  ComputeAbsorption();
  // Only rules reachable from the root are built; rules_ grows while we go.
  std::vector<char> queued(rules_.size(), 0);
  std::deque<RuleId> queue{g_.root()};
  queued[g_.root()] = 1;
  while (!queue.empty()) {
    const RuleId r = queue.front();
    queue.pop_front();
    SIEVE_RETURN_IF_ERROR(BuildRule(r));
    queued.resize(rules_.size(), 0);
    auto enqueue = [&](RuleId c) {
      if (!queued[c]) {
        queued[c] = 1;
        queue.push_back(c);
      }
    };
    const Fsm& f = rules_[r].fsm;
    for (int32_t s = 0; s < f.num_states(); ++s) {
      for (const Fsm::CallEdge& e : f.call_edges(s)) enqueue(e.callee);
    }
  }
  const size_t n = rules_.size();
  queued.resize(n, 0);

  // 2. Productivity.
  std::vector<FixpointRule> how(n);
  for (size_t r = 0; r < n; ++r) {
    const Work& w = rules_[r];
    if (!queued[r]) continue;
    if (w.counted && w.min > 0 && w.body_rule >= 0) {
      how[r] = {FixpointRule::kSameAs, w.body_rule, nullptr};
    } else {
      how[r] = {FixpointRule::kAutomaton, -1, &w.fsm};
    }
  }
  const std::vector<char> productive = RuleFixpoint(how, /*bytes_pass=*/true);
  if (!productive[g_.root()]) {
    Status s = InvalidArgument("the grammar matches no string: rule '" + rules_[g_.root()].name +
                               "' can never complete (every path needs a rule that never ends)");
    if (g_.rule(g_.root()).source_offset >= 0) s.WithOffset(g_.rule(g_.root()).source_offset);
    return s;
  }
  for (size_t r = 0; r < n; ++r) {
    if (!productive[r]) continue;
    auto callable = [&](RuleId c) { return productive[c] != 0; };
    if (!IsTrimmed(rules_[r].fsm, callable)) {
      rules_[r].fsm = Minimize(Trim(rules_[r].fsm, callable));
    }
  }
  // Live = productive and reachable from the root through remaining calls.
  std::vector<char> live(n, 0);
  std::vector<RuleId> stack{g_.root()};
  live[g_.root()] = 1;
  while (!stack.empty()) {
    const RuleId r = stack.back();
    stack.pop_back();
    const Fsm& f = rules_[r].fsm;
    for (int32_t s = 0; s < f.num_states(); ++s) {
      for (const Fsm::CallEdge& e : f.call_edges(s)) {
        if (!live[e.callee]) {
          live[e.callee] = 1;
          stack.push_back(e.callee);
        }
      }
    }
  }

  // 3. Nullability; a call loop over a nullable body needs no minimum.
  how.assign(n, FixpointRule());
  for (size_t r = 0; r < n; ++r) {
    const Work& w = rules_[r];
    if (!live[r]) continue;
    if (!w.counted) {
      how[r] = {FixpointRule::kAutomaton, -1, &w.fsm};
    } else if (w.min == 0) {
      how[r].kind = FixpointRule::kAlways;
    } else if (w.body_rule >= 0) {
      how[r] = {FixpointRule::kSameAs, w.body_rule, nullptr};
    }
  }
  const std::vector<char> nullable = RuleFixpoint(how, /*bytes_pass=*/false);
  for (size_t r = 0; r < n; ++r) {
    Work& w = rules_[r];
    if (live[r] && w.counted && w.body_rule >= 0 && nullable[w.body_rule]) w.min = 0;
  }

  // 4. Left recursion.
  SIEVE_RETURN_IF_ERROR(CheckLeftRecursion(live, nullable));

  // 5. Layout.
  std::shared_ptr<CompiledGrammar> out(new CompiledGrammar());
  for (size_t r = 0; r < n; ++r) {
    CompiledGrammar::RuleInfo info;
    info.name = rules_[r].name;
    info.synthesized = rules_[r].synthesized;
    info.counted = rules_[r].counted;
    info.nullable = nullable[r];
    info.unique_items = r < g_.num_rules() ? g_.rule(static_cast<RuleId>(r)).unique_items
                                           : kUniqueNone;
    info.min = rules_[r].min;
    info.max = rules_[r].max;
    out->rules_.push_back(std::move(info));
  }
  SIEVE_RETURN_IF_ERROR(Layout(live, out.get()));
  // Lookahead assertions are built as if absent; without ignore_lookahead each must be implied.
  if (!opts_.ignore_lookahead) SIEVE_RETURN_IF_ERROR(CheckLookaheadsImplied(g_, *out, &opts_.deadline));
  stats_.compile_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  stats_.memory_bytes = out->MemorySize();
  out->stats_ = stats_;
  return std::shared_ptr<const CompiledGrammar>(std::move(out));
}

Status PdaCompiler::Layout(const std::vector<char>& live, CompiledGrammar* out) {
  const size_t n = rules_.size();
  int64_t total = 0;
  for (size_t r = 0; r < n; ++r) {
    if (!live[r]) continue;
    if (rules_[r].fsm.start() != 0) return InternalError("layout: a rule's start is not state 0");
    CompiledGrammar::RuleInfo& info = out->rules_[r];
    info.first_state = static_cast<int32_t>(total);
    info.num_states = rules_[r].fsm.num_states();
    info.start = info.first_state + rules_[r].fsm.start();
    total += info.num_states;
    ++stats_.live_rules;
    if (rules_[r].counted) ++stats_.counted_rules;
  }
  if (total > opts_.max_states) {
    return LimitError("the grammar needs " + std::to_string(total) +
                      " automaton states, more than CompileOptions::max_states (" +
                      std::to_string(opts_.max_states) + ")");
  }
  stats_.states = total;
  out->flags_.assign(total, 0);
  out->state_rule_.assign(total, -1);
  out->byte_begin_.assign(total + 1, 0);
  out->call_begin_.assign(total + 1, 0);
  out->dense_row_.assign(total, -1);
  const size_t max_rows = opts_.max_dense_row_bytes / (256 * sizeof(int32_t));
  for (size_t r = 0; r < n; ++r) {
    if (!live[r]) continue;
    const Fsm& f = rules_[r].fsm;
    const int32_t base = out->rules_[r].first_state;
    for (int32_t s = 0; s < f.num_states(); ++s) {
      const int32_t g = base + s;
      auto bytes = f.byte_edges(s);
      auto calls = f.call_edges(s);
      uint8_t flags = 0;
      if (f.accepting(s)) flags |= CompiledGrammar::kAccepting;
      if (f.loop_head(s)) flags |= CompiledGrammar::kLoopHead;
      if (!bytes.empty()) flags |= CompiledGrammar::kHasBytes;
      if (!calls.empty()) flags |= CompiledGrammar::kHasCalls;
      if (!bytes.empty() && calls.empty() && !f.accepting(s)) flags |= CompiledGrammar::kPlain;
      out->flags_[g] = flags;
      out->state_rule_[g] = static_cast<RuleId>(r);
      for (const Fsm::ByteEdge& e : bytes) {
        out->byte_edges_.push_back({e.lo, e.hi, base + e.target});
      }
      for (const Fsm::CallEdge& e : calls) {
        out->call_edges_.push_back({e.callee, out->rules_[e.callee].start, base + e.target});
      }
      out->byte_begin_[g + 1] = static_cast<uint32_t>(out->byte_edges_.size());
      out->call_begin_[g + 1] = static_cast<uint32_t>(out->call_edges_.size());
      if (static_cast<int32_t>(bytes.size()) > opts_.dense_row_min_edges &&
          out->dense_.size() / 256 < max_rows) {
        const size_t row = out->dense_.size() / 256;
        out->dense_row_[g] = static_cast<int32_t>(row);
        out->dense_.resize(out->dense_.size() + 256, kNoState);
        for (const Fsm::ByteEdge& e : bytes) {
          for (int b = e.lo; b <= e.hi; ++b) out->dense_[row * 256 + b] = base + e.target;
        }
      }
    }
  }
  out->root_rule_ = g_.root();
  out->root_start_ = out->rules_[g_.root()].start;
  out->max_closure_pushes_ = stats_.live_rules + 1;
  // FIRST byte sets. A rule's "left closure" is the set of states it reaches from its start without
  // reading a byte (calls to nullable rules return at once); FIRST(r) is the bytes read there plus
  // FIRST(c) of every rule c called there. Left closures are fixed by now, so FIRST is a least
  // fixpoint over the graph "r includes FIRST(c)", solved with a work list: a rule is revisited
  // only when the FIRST of a rule it includes grew, and a set grows at most 256 times. (Round-robin
  // passes over all rules would take one pass per link of a chain like r0 ::= r1 "x", r1 ::= r2
  // "x", ...)
  auto merge = [](uint64_t* dst, const uint64_t* src) {
    bool changed = false;
    for (int w = 0; w < 4; ++w) {
      if ((dst[w] | src[w]) != dst[w]) {
        dst[w] |= src[w];
        changed = true;
      }
    }
    return changed;
  };
  auto add_bytes = [](uint64_t* acc, const CompiledGrammar::ByteEdge& e) {
    AddByteRange(acc, e.lo, e.hi);
  };
  // Propagates sets along `users` (rule -> rules whose set includes its set) until stable.
  std::vector<char> in_queue(n, 0);
  std::vector<RuleId> queue;
  auto propagate = [&](std::vector<uint64_t>* sets, const std::vector<std::vector<RuleId>>& users) {
    queue.clear();
    for (size_t r = 0; r < n; ++r) {
      if (live[r]) {
        queue.push_back(static_cast<RuleId>(r));
        in_queue[r] = 1;
      }
    }
    while (!queue.empty()) {
      const RuleId r = queue.back();
      queue.pop_back();
      in_queue[r] = 0;
      for (RuleId u : users[r]) {
        if (merge(&(*sets)[u * 4], &(*sets)[r * 4]) && !in_queue[u]) {
          in_queue[u] = 1;
          queue.push_back(u);
        }
      }
    }
  };
  out->first_bytes_.assign(n * 4, 0);
  std::vector<std::vector<RuleId>> users(n);
  {
    std::vector<char> seen;
    std::vector<int32_t> work;
    for (size_t r = 0; r < n; ++r) {
      if (!live[r]) continue;
      const CompiledGrammar::RuleInfo& info = out->rules_[r];
      uint64_t* first = &out->first_bytes_[r * 4];
      seen.assign(info.num_states, 0);
      work.assign(1, info.start);
      seen[info.start - info.first_state] = 1;
      while (!work.empty()) {
        const int32_t st = work.back();
        work.pop_back();
        for (const CompiledGrammar::ByteEdge& e : out->byte_edges(st)) add_bytes(first, e);
        for (const CompiledGrammar::CallEdge& e : out->call_edges(st)) {
          users[e.callee].push_back(static_cast<RuleId>(r));
          if (out->rules_[e.callee].nullable && !seen[e.return_state - info.first_state]) {
            seen[e.return_state - info.first_state] = 1;
            work.push_back(e.return_state);
          }
        }
      }
    }
  }
  propagate(&out->first_bytes_, users);

  // FOLLOW byte sets: what a call's return state can read next, plus the caller's FOLLOW when the
  // caller can end right there. What a state can read next is, as for FIRST, the bytes and callee
  // FIRSTs of its closure under calls to nullable rules; those closures share most of their states
  // (a sequence of nullable calls), so they are computed once per strongly connected component of
  // the "nullable call" graph (Tarjan, iteratively) rather than walked once per call site.
  out->follow_bytes_.assign(n * 4, 0);
  for (auto& u : users) u.clear();
  {
    struct Frame {
      int32_t state;  // local to the rule
      uint32_t next_call;
    };
    std::vector<int32_t> index, low, comp;
    std::vector<char> on_stack;
    std::vector<int32_t> tarjan_stack;
    std::vector<Frame> frames;
    std::vector<uint64_t> comp_first;  // 4 words per component
    std::vector<char> comp_ends;
    for (size_t r = 0; r < n; ++r) {
      if (!live[r]) continue;
      const CompiledGrammar::RuleInfo& info = out->rules_[r];
      const int32_t base = info.first_state;
      index.assign(info.num_states, -1);
      low.assign(info.num_states, 0);
      comp.assign(info.num_states, -1);
      on_stack.assign(info.num_states, 0);
      comp_first.clear();
      comp_ends.clear();
      int32_t counter = 0;
      auto nullable_call = [&](const CompiledGrammar::CallEdge& e) {
        return out->rules_[e.callee].nullable;
      };
      auto open = [&](int32_t s) {
        index[s] = low[s] = counter++;
        on_stack[s] = 1;
        tarjan_stack.push_back(s);
        frames.push_back({s, 0});
      };
      // Closes the component rooted at `s`: every successor outside it is finished already.
      auto close_component = [&](int32_t s) {
        const auto c = static_cast<int32_t>(comp_ends.size());
        comp_first.resize(comp_first.size() + 4, 0);
        comp_ends.push_back(0);
        const size_t top = tarjan_stack.size();
        size_t bottom = top;
        do {
          --bottom;
          comp[tarjan_stack[bottom]] = c;
          on_stack[tarjan_stack[bottom]] = 0;
        } while (tarjan_stack[bottom] != s);
        uint64_t acc[4] = {0, 0, 0, 0};
        bool ends = false;
        for (size_t i = bottom; i < top; ++i) {
          const int32_t g = base + tarjan_stack[i];
          ends |= out->accepting(g);
          for (const CompiledGrammar::ByteEdge& e : out->byte_edges(g)) add_bytes(acc, e);
          for (const CompiledGrammar::CallEdge& e : out->call_edges(g)) {
            merge(acc, &out->first_bytes_[e.callee * 4]);
            const int32_t t = comp[e.return_state - base];
            if (nullable_call(e) && t != c) {
              merge(acc, &comp_first[t * 4]);
              ends |= comp_ends[t] != 0;
            }
          }
        }
        for (int w = 0; w < 4; ++w) comp_first[c * 4 + w] = acc[w];
        comp_ends[c] = ends ? 1 : 0;
        tarjan_stack.resize(bottom);
      };
      for (int32_t s = 0; s < info.num_states; ++s) {
        for (const CompiledGrammar::CallEdge& call : out->call_edges(base + s)) {
          const int32_t root = call.return_state - base;
          if (index[root] < 0) {
            open(root);
            while (!frames.empty()) {
              Frame& f = frames.back();
              const int32_t v = f.state;
              auto calls = out->call_edges(base + v);
              bool descended = false;
              while (f.next_call < calls.size()) {
                const CompiledGrammar::CallEdge& e = calls[f.next_call++];
                if (!nullable_call(e)) continue;
                const int32_t t = e.return_state - base;
                if (index[t] < 0) {
                  open(t);  // invalidates `f`
                  descended = true;
                  break;
                }
                if (on_stack[t]) low[v] = std::min(low[v], index[t]);
              }
              if (descended) continue;
              if (low[v] == index[v]) close_component(v);
              frames.pop_back();
              if (!frames.empty()) {
                const int32_t parent = frames.back().state;
                low[parent] = std::min(low[parent], low[v]);
              }
            }
          }
          const int32_t c = comp[root];
          merge(&out->follow_bytes_[call.callee * 4], &comp_first[c * 4]);
          if (comp_ends[c]) users[r].push_back(call.callee);
        }
      }
    }
  }
  propagate(&out->follow_bytes_, users);
  stats_.byte_edges = static_cast<int64_t>(out->byte_edges_.size());
  stats_.call_edges = static_cast<int64_t>(out->call_edges_.size());
  stats_.dense_rows = static_cast<int64_t>(out->dense_.size() / 256);
  return Status::Ok();
}

// ---- CompiledGrammar ----------------------------------------------------------------------------

RuleId CompiledGrammar::FindRule(std::string_view name) const {
  for (size_t r = 0; r < rules_.size(); ++r) {
    if (rules_[r].name == name) return static_cast<RuleId>(r);
  }
  return -1;
}

size_t CompiledGrammar::MemorySize() const {
  size_t bytes =
      flags_.capacity() + state_rule_.capacity() * sizeof(RuleId) +
      byte_begin_.capacity() * sizeof(uint32_t) + byte_edges_.capacity() * sizeof(ByteEdge) +
      call_begin_.capacity() * sizeof(uint32_t) + call_edges_.capacity() * sizeof(CallEdge) +
      dense_row_.capacity() * sizeof(int32_t) + dense_.capacity() * sizeof(int32_t) +
      rules_.capacity() * sizeof(RuleInfo) +
      (first_bytes_.capacity() + follow_bytes_.capacity()) * sizeof(uint64_t);
  for (const RuleInfo& r : rules_) bytes += r.name.capacity();
  return bytes;
}

std::string CompiledGrammar::StatsString() const {
  const GrammarStats& s = stats_;
  return "rules " + std::to_string(s.grammar_rules) + " (+" + std::to_string(s.synthesized_rules) +
         " synthesized, " + std::to_string(s.counted_rules) + " counted, " +
         std::to_string(s.live_rules) + " live), states " + std::to_string(s.states) + " (dfa " +
         std::to_string(s.dfa_states) + ", nfa " + std::to_string(s.nfa_states) + "), byte edges " +
         std::to_string(s.byte_edges) + ", call edges " + std::to_string(s.call_edges) +
         ", dense rows " + std::to_string(s.dense_rows) + ", " + std::to_string(s.memory_bytes) +
         " bytes";
}

std::string CompiledGrammar::DebugString() const {
  static const char kHex[] = "0123456789abcdef";
  std::string out;
  for (size_t r = 0; r < rules_.size(); ++r) {
    const RuleInfo& info = rules_[r];
    if (info.start == kNoState) continue;
    out += "rule " + info.name;
    if (info.counted) {
      out += " counted{" + std::to_string(info.min) + "," +
             (info.max == kUnbounded ? std::string() : std::to_string(info.max)) + "}";
    }
    if (info.nullable) out += " nullable";
    out += "\n";
    for (int32_t s = info.first_state; s < info.first_state + info.num_states; ++s) {
      out += "  " + std::to_string(s);
      if (accepting(s)) out += "*";
      if (loop_head(s)) out += " loop";
      out += ":";
      for (const ByteEdge& e : byte_edges(s)) {
        out += " [";
        out += kHex[e.lo >> 4];
        out += kHex[e.lo & 15];
        if (e.hi != e.lo) {
          out += "-";
          out += kHex[e.hi >> 4];
          out += kHex[e.hi & 15];
        }
        out += "]->" + std::to_string(e.target);
      }
      for (const CallEdge& e : call_edges(s)) {
        out += " call " + rules_[e.callee].name + "->" + std::to_string(e.return_state);
      }
      out += "\n";
    }
  }
  return out;
}

}  // namespace sieve
