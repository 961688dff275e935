// Thompson construction for rule bodies (see fsm_builder.h).
#include "grammar/fsm_builder.h"

#include <algorithm>
#include <string>
#include <utility>

#include "grammar/support/utf8.h"

namespace sieve {
namespace {

constexpr int64_t kWeightCap = int64_t{1} << 40;

int64_t SatAdd(int64_t a, int64_t b) { return std::min(kWeightCap, a + b); }
int64_t SatMul(int64_t a, int64_t b) {
  if (a == 0 || b == 0) return 0;
  return a > kWeightCap / b ? kWeightCap : std::min(kWeightCap, a * b);
}

}  // namespace

NfaBuilder::NfaBuilder(const Grammar& g, const NfaBuildOptions& opts, RepeatRuleFn repeat_rule)
    : g_(g), opts_(opts), repeat_rule_(std::move(repeat_rule)), weight_(g.num_exprs(), -1) {}

Result<Nfa> NfaBuilder::Build(ExprId body, const AbsorbFn& absorb, RuleId self) {
  nfa_ = Nfa();
  absorb_ = absorb;
  fragments_.clear();
  pending_.clear();
  const int32_t start = nfa_.AddState();
  nfa_.set_start(start);
  if (self >= 0) fragments_.emplace(self, start);  // its tail references loop to the start
  // A dedicated accepting state with no outgoing edges: an exit may be a loop head.
  const int32_t accept = nfa_.AddState();
  SIEVE_ASSIGN_OR_RETURN(int32_t exit, BuildExpr(body, start, 0, /*tail=*/true));
  nfa_.AddEpsilon(exit, accept);
  // Absorbed rules, each once, from a work list (a chain of hundreds of tail calls must not
  // nest the construction that deep).
  while (!pending_.empty()) {
    const auto [rule, entry] = pending_.back();
    pending_.pop_back();
    SIEVE_ASSIGN_OR_RETURN(int32_t end, BuildExpr(g_.rule(rule).body, entry, 0, /*tail=*/true));
    nfa_.AddEpsilon(end, accept);
  }
  absorb_ = nullptr;
  // BuildExpr checks the size before each expression; one literal or class adds many at once.
  if (nfa_.num_states() > opts_.max_nfa_states) {
    return LimitError("a rule's NFA needs more than " + std::to_string(opts_.max_nfa_states) +
                      " states (CompileOptions::max_nfa_states)");
  }
  nfa_.set_accept(accept);
  return std::move(nfa_);
}

bool NfaBuilder::UsesCounter(ExprId repeat) {
  const Expr& e = g_.expr(repeat);
  if (e.max == 0) return false;
  const int64_t copies = e.max == kUnbounded ? e.min : e.max;
  if (copies <= 1) return false;
  const ExprId child = g_.children(e)[0];
  const Expr& body = g_.expr(child);
  if (body.kind == ExprKind::kCharClass && copies <= opts_.max_unroll_byte_class_copies) {
    bool ascii = true;
    for (const CodepointRange& r : g_.ranges(body)) ascii = ascii && r.hi < 0x80;
    if (ascii) return false;
  }
  if (copies > opts_.max_unroll_copies) return true;
  return SatMul(Weight(child, 0), copies) > opts_.max_unroll_weight;
}

int32_t NfaBuilder::SuffixState(std::pair<uint8_t, uint8_t> range, int32_t next) {
  for (const Suffix& x : suffixes_) {  // a class has at most a dozen continuation states
    if (x.lo == range.first && x.hi == range.second && x.next == next) return x.state;
  }
  const int32_t state = nfa_.AddState();
  nfa_.AddBytes(state, range.first, range.second, next);
  suffixes_.push_back({range.first, range.second, next, state});
  return state;
}

int64_t NfaBuilder::Weight(ExprId id, int depth) {
  if (weight_[id] >= 0) return weight_[id];
  if (depth > opts_.max_depth) return kWeightCap;  // BuildExpr reports the depth error
  const Expr& e = g_.expr(id);
  int64_t w = 0;
  switch (e.kind) {
    case ExprKind::kEmpty:
      w = 0;
      break;
    case ExprKind::kBytes:
      w = e.size;
      break;
    case ExprKind::kCharClass:
      for (const CodepointRange& r : g_.ranges(e)) w = SatAdd(w, r.hi < 0x80 ? 1 : 8);
      break;
    case ExprKind::kRuleRef:
      w = 1;
      break;
    case ExprKind::kSequence:
    case ExprKind::kChoice:
      w = 1;
      for (ExprId c : g_.children(e)) w = SatAdd(w, Weight(c, depth + 1));
      break;
    case ExprKind::kRepeat: {
      if (UsesCounter(id)) {
        w = 1;
      } else {
        const int64_t copies = e.max == kUnbounded ? e.min + 1 : e.max;
        w = SatAdd(SatMul(Weight(g_.children(e)[0], depth + 1), copies), 2);
      }
      break;
    }
  }
  weight_[id] = w;
  return w;
}

Result<int32_t> NfaBuilder::BuildExpr(ExprId id, int32_t from, int depth, bool tail) {
  if (depth > opts_.max_depth) {
    Status s = LimitError("expression nesting deeper than " + std::to_string(opts_.max_depth) +
                          " (CompileOptions::max_expr_depth; Limits::max_nesting_depth)");
    if (g_.expr(id).source_offset >= 0) s.WithOffset(g_.expr(id).source_offset);
    return s;
  }
  if (nfa_.num_states() > opts_.max_nfa_states) {
    return LimitError("a rule's NFA needs more than " + std::to_string(opts_.max_nfa_states) +
                      " states (CompileOptions::max_nfa_states)");
  }
  const Expr& e = g_.expr(id);
  switch (e.kind) {
    case ExprKind::kEmpty:
      return from;
    case ExprKind::kBytes: {
      int32_t s = from;
      for (char c : g_.bytes(e)) {
        const int32_t t = nfa_.AddState();
        const auto b = static_cast<uint8_t>(c);
        nfa_.AddBytes(s, b, b, t);
        s = t;
      }
      return s;
    }
    case ExprKind::kCharClass: {
      // Sequences share their suffixes (RE2's UTF-8 suffix cache): the continuation bytes after
      // E1..EC and after EE..EF are the same [80-BF][80-BF], so both lead to one state. Same byte
      // strings; fewer NFA states, and fewer subset-construction states for minimisation to
      // merge back (a class over most of Unicode: 6 continuation states instead of 18).
      const int32_t end = nfa_.AddState();
      suffixes_.clear();
      for (const CodepointRange& r : g_.ranges(e)) {
        for (const std::vector<ByteRange>& seq : Utf8RangeSequences(r.lo, r.hi)) {
          // The state that reads seq[i..] and ends at `end`, for i >= 1, found or made from the
          // back; then the first byte from `from`.
          int32_t next = end;
          for (size_t i = seq.size(); i-- > 1;) {
            next = SuffixState(seq[i], next);
          }
          nfa_.AddBytes(from, seq[0].first, seq[0].second, next);
        }
      }
      return end;
    }
    case ExprKind::kRuleRef: {
      if (tail && absorb_ != nullptr && absorb_(e.rule)) {
        // The callee's body continues here and ends where this rule ends: no call, no return.
        auto [it, fresh] = fragments_.try_emplace(e.rule, 0);
        if (fresh) {
          it->second = nfa_.AddState();
          pending_.push_back({e.rule, it->second});
        }
        nfa_.AddEpsilon(from, it->second);
        return nfa_.AddState();  // nothing follows a tail call: an exit nothing reaches
      }
      const int32_t end = nfa_.AddState();
      nfa_.AddCall(from, e.rule, end);
      return end;
    }
    case ExprKind::kSequence: {
      int32_t s = from;
      const auto items = g_.children(e);
      for (size_t i = 0; i < items.size(); ++i) {
        SIEVE_ASSIGN_OR_RETURN(s, BuildExpr(items[i], s, depth + 1, tail && i + 1 == items.size()));
      }
      return s;
    }
    case ExprKind::kChoice: {
      const int32_t end = nfa_.AddState();
      for (ExprId c : g_.children(e)) {
        SIEVE_ASSIGN_OR_RETURN(int32_t exit, BuildExpr(c, from, depth + 1, tail));
        nfa_.AddEpsilon(exit, end);
      }
      return end;
    }
    case ExprKind::kRepeat:
      return BuildRepeat(id, from, depth, tail);
  }
  return InternalError("unknown expression kind");
}

Result<int32_t> NfaBuilder::BuildRepeat(ExprId id, int32_t from, int depth, bool tail) {
  const Expr& e = g_.expr(id);
  const ExprId child = g_.children(e)[0];
  if (e.max == 0) return from;
  // x? and x{1} hold x in tail position when they are in one (x? is x | ""), as TailChild says.
  tail = tail && TailChild(e);
  if (UsesCounter(id)) {
    SIEVE_ASSIGN_OR_RETURN(RuleId rule, repeat_rule_(id));
    const int32_t end = nfa_.AddState();
    nfa_.AddCall(from, rule, end);
    return end;
  }
  int32_t s = from;
  for (int32_t i = 0; i < e.min; ++i) {
    SIEVE_ASSIGN_OR_RETURN(s, BuildExpr(child, s, depth + 1, tail));
  }
  if (e.max == kUnbounded) {
    // A fresh head: `s` may carry edges of earlier fragments that must not be re-entered.
    const int32_t head = nfa_.AddState();
    nfa_.AddEpsilon(s, head);
    SIEVE_ASSIGN_OR_RETURN(int32_t exit, BuildExpr(child, head, depth + 1, false));
    nfa_.AddEpsilon(exit, head);
    return head;
  }
  if (e.max == e.min) return s;
  const int32_t end = nfa_.AddState();
  for (int32_t i = e.min; i < e.max; ++i) {
    nfa_.AddEpsilon(s, end);
    SIEVE_ASSIGN_OR_RETURN(s, BuildExpr(child, s, depth + 1, tail));
  }
  nfa_.AddEpsilon(s, end);
  return end;
}

}  // namespace sieve
