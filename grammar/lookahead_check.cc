#include "grammar/lookahead_check.h"

#include <algorithm>
#include <deque>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "grammar/support/utf8.h"

namespace sieve {
namespace {

constexpr int kMaxInlineDepth = 200;
constexpr int64_t kMaxInlineNodes = int64_t{1} << 16;  // rules used twice double per level

// `e` of `src` rebuilt in `dst` with every rule reference replaced by the rule's body: the
// assertion as one regular expression. kUnsupported for a rule that reaches itself, and past the
// depth or node budget (`nodes` counts what was copied).
Result<ExprId> CopyInlined(const Grammar& src, ExprId e, Grammar* dst, int depth,
                           std::vector<RuleId>* open, int64_t* nodes) {
  if (depth > kMaxInlineDepth) return Unsupported("nests too deeply");
  if (++*nodes > kMaxInlineNodes) return Unsupported("is too large once its rules are inlined");
  const Expr& x = src.expr(e);
  switch (x.kind) {
    case ExprKind::kEmpty:
      return dst->AddEmpty();
    case ExprKind::kBytes:
      return dst->AddBytes(src.bytes(x));
    case ExprKind::kCharClass: {
      auto r = src.ranges(x);
      return dst->AddCharClass(std::vector<CodepointRange>(r.begin(), r.end()), false);
    }
    case ExprKind::kRuleRef: {
      for (RuleId r : *open) {
        if (r == x.rule) {
          return Unsupported("uses rule '" + src.rule(x.rule).name + "', which reaches itself");
        }
      }
      open->push_back(x.rule);
      auto body = CopyInlined(src, src.rule(x.rule).body, dst, depth + 1, open, nodes);
      open->pop_back();
      return body;
    }
    case ExprKind::kSequence:
    case ExprKind::kChoice:
    case ExprKind::kRepeat: {
      std::vector<ExprId> kids;
      for (ExprId c : src.children(x)) {
        auto k = CopyInlined(src, c, dst, depth + 1, open, nodes);
        if (!k.ok()) return k.status();
        kids.push_back(*k);
      }
      if (x.kind == ExprKind::kSequence) return dst->AddSequence(kids);
      if (x.kind == ExprKind::kChoice) return dst->AddChoice(kids);
      return dst->AddRepeat(kids[0], x.min, x.max);
    }
  }
  return Unsupported("has an unknown expression");
}

// The assertion `la` of `g` as a byte automaton: its root rule's states, no calls, no counters.
Result<std::shared_ptr<const CompiledGrammar>> AssertionAutomaton(const Grammar& g, ExprId la) {
  Grammar gx;
  const RuleId root = gx.AddRule("lookahead");
  std::vector<RuleId> open;
  int64_t nodes = 0;
  auto body = CopyInlined(g, la, &gx, 0, &open, &nodes);
  if (!body.ok()) return body.status();
  gx.SetRuleBody(root, *body);
  gx.set_root(root);
  auto a = CompileGrammar(gx);
  if (!a.ok()) return Unsupported("does not compile alone (" + a.status().message() + ")");
  const CompiledGrammar& c = **a;
  for (int32_t s = 0; s < c.num_states(); ++s) {
    if (!c.call_edges(s).empty() || c.loop_head(s)) {
      return Unsupported("has a repetition counted at run time");
    }
  }
  return a;
}

Status Refusal(const Grammar& g, RuleId r, const std::string& why) {
  Status s = Unsupported("rule '" + g.rule(r).name + "' has a lookahead assertion that sieve " +
                         "cannot show the grammar already implies (" + why + "); the automaton " +
                         "cannot enforce an assertion, only prove it redundant (to treat it as a " +
                         "hint: --ignore-lookahead on the command line, " +
                         "CompileOptions::ignore_lookahead in C++, ignore_lookahead in the C " +
                         "API's grammar and compiler options)");
  if (g.rule(r).source_offset >= 0) s.WithOffset(g.rule(r).source_offset);
  return s;
}

// Breadth-first over (grammar state, assertion state) from the states calls of `r` return to.
Status CheckRule(const Grammar& g, const CompiledGrammar& pda, RuleId r,
                 const std::vector<std::vector<int32_t>>& returns, const Deadline* deadline,
                 int64_t max_configs) {
  auto assertion = AssertionAutomaton(g, g.rule(r).lookahead);
  if (!assertion.ok()) return Refusal(g, r, "its assertion " + assertion.status().message());
  const CompiledGrammar& a = **assertion;
  const int32_t x0 = a.root_start();
  if (a.accepting(x0)) return Status::Ok();  // the empty text matches: always true
  const uint64_t nx = static_cast<uint64_t>(a.num_states());
  struct From {
    uint64_t parent;
    int byte;  // -1: a call or a return, nothing read
  };
  constexpr uint64_t kNone = ~uint64_t{0};
  std::unordered_map<uint64_t, From> seen;
  std::deque<uint64_t> queue;
  auto push = [&](int32_t s, int32_t x, uint64_t parent, int byte) {
    const uint64_t key = static_cast<uint64_t>(s) * nx + static_cast<uint64_t>(x);
    if (seen.emplace(key, From{parent, byte}).second) queue.push_back(key);
  };
  auto text_to = [&](uint64_t key, int last) {
    std::string bytes(1, static_cast<char>(last));
    for (; key != kNone; key = seen.at(key).parent) {
      const int byte = seen.at(key).byte;
      if (byte >= 0) bytes.push_back(static_cast<char>(byte));
    }
    std::reverse(bytes.begin(), bytes.end());
    return bytes.size() > 48 ? bytes.substr(bytes.size() - 48) : bytes;
  };
  for (int32_t ret : returns[r]) push(ret, x0, kNone, -1);
  uint32_t polls = 0;
  while (!queue.empty()) {
    if (static_cast<int64_t>(seen.size()) > max_configs) {
      return Refusal(
          g, r, "the proof needs more than " + std::to_string(max_configs) + " configurations");
    }
    if (deadline != nullptr && (++polls & 1023) == 0) {
      SIEVE_RETURN_IF_ERROR(
          deadline->Check("checking the lookahead of rule '" + g.rule(r).name + "'"));
    }
    const uint64_t key = queue.front();
    queue.pop_front();
    const int32_t s = static_cast<int32_t>(key / nx), x = static_cast<int32_t>(key % nx);
    if (pda.accepting(s)) {
      for (int32_t ret : returns[pda.rule_of(s)]) push(ret, x, key, -1);
    }
    for (const CompiledGrammar::CallEdge& e : pda.call_edges(s)) push(e.callee_start, x, key, -1);
    for (const CompiledGrammar::ByteEdge& e : pda.byte_edges(s)) {
      for (int b = e.lo; b <= e.hi; ++b) {
        const int32_t x2 = a.Step(x, static_cast<uint8_t>(b));
        if (x2 == kNoState) {
          const std::string text = EscapeBytes(text_to(key, b), '"');
          return Refusal(g, r,
                         "after it the text can go on with \"" + text +
                             "\", which does not start with a match of the assertion");
        }
        if (!a.accepting(x2)) push(e.target, x2, key, b);
      }
    }
  }
  return Status::Ok();
}

}  // namespace

Status CheckLookaheadsImplied(const Grammar& g, const CompiledGrammar& pda,
                              const Deadline* deadline, int64_t max_configurations) {
  bool any = false;
  for (size_t i = 0; i < g.num_rules(); ++i)
    any |= g.rule(static_cast<RuleId>(i)).lookahead != kNoExpr;
  if (!any) return Status::Ok();
  std::vector<std::vector<int32_t>> returns(pda.num_rules());
  for (int32_t s = 0; s < pda.num_states(); ++s) {
    for (const CompiledGrammar::CallEdge& e : pda.call_edges(s)) {
      returns[e.callee].push_back(e.return_state);
    }
  }
  for (size_t i = 0; i < g.num_rules() && i < pda.num_rules(); ++i) {
    const RuleId r = static_cast<RuleId>(i);
    if (g.rule(r).lookahead == kNoExpr || pda.rule(r).start == kNoState) continue;
    SIEVE_RETURN_IF_ERROR(CheckRule(g, pda, r, returns, deadline, max_configurations));
  }
  return Status::Ok();
}

}  // namespace sieve
