// Grammar: the builders, the character-class normalisation, Validate(), MemorySize() and Equals().
//
// Builders only append to the flat arenas; nothing is ever rewritten in place, so an ExprId stays
// valid for the life of the Grammar. Character classes are normalised once, here, so every consumer
// sees the same canonical form: sorted, disjoint, non-adjacent code-point ranges with the
// surrogates D800..DFFF removed, and negation already applied (the complement is taken over the
// scalar values [0, 0x10FFFF] minus the surrogates). `negated` survives only so that the printer
// can write the class the way it was written.
//
// Validate() and Equals() walk expression trees with explicit stacks: grammars from other front
// ends may nest deeply, and a checker must not be the thing that overflows the C++ stack.
#include "grammar/grammar.h"

#include <algorithm>
#include <utility>

#include "grammar/support/utf8.h"

namespace sieve {
namespace {

constexpr char32_t kMaxCodePoint = 0x10FFFF;
constexpr char32_t kSurrogateLo = 0xD800;
constexpr char32_t kSurrogateHi = 0xDFFF;

Status InvalidAt(int32_t offset, std::string message) {
  Status s = InvalidArgument(std::move(message));
  if (offset >= 0) s.WithOffset(offset);
  return s;
}

}  // namespace

std::vector<CodepointRange> Grammar::NormalizeRanges(std::vector<CodepointRange> ranges,
                                                     bool negate) {
  // Clamp, drop empty ranges and split around the surrogate block.
  std::vector<CodepointRange> clean;
  clean.reserve(ranges.size() + 1);
  for (CodepointRange r : ranges) {
    if (r.lo > r.hi || r.lo > kMaxCodePoint) continue;
    r.hi = std::min(r.hi, kMaxCodePoint);
    if (r.hi < kSurrogateLo || r.lo > kSurrogateHi) {
      clean.push_back(r);
      continue;
    }
    if (r.lo < kSurrogateLo) clean.push_back({r.lo, kSurrogateLo - 1});
    if (r.hi > kSurrogateHi) clean.push_back({kSurrogateHi + 1, r.hi});
  }
  std::sort(clean.begin(), clean.end(), [](const CodepointRange& a, const CodepointRange& b) {
    return a.lo != b.lo ? a.lo < b.lo : a.hi < b.hi;
  });
  std::vector<CodepointRange> merged;
  merged.reserve(clean.size());
  for (const CodepointRange& r : clean) {
    // Adjacent ranges merge too ([a-c][d-f] -> [a-f]); hi + 1 cannot overflow (hi <= 0x10FFFF).
    if (!merged.empty() && r.lo <= merged.back().hi + 1) {
      merged.back().hi = std::max(merged.back().hi, r.hi);
    } else {
      merged.push_back(r);
    }
  }
  if (!negate) return merged;

  // Complement over [0, 0x10FFFF] minus surrogates: walk the gaps between the merged ranges and
  // re-split each gap around the surrogate block.
  std::vector<CodepointRange> gaps;
  char32_t next = 0;
  for (const CodepointRange& r : merged) {
    if (r.lo > next) gaps.push_back({next, r.lo - 1});
    next = r.hi + 1;
  }
  if (next <= kMaxCodePoint) gaps.push_back({next, kMaxCodePoint});
  std::vector<CodepointRange> out;
  out.reserve(gaps.size() + 1);
  for (const CodepointRange& g : gaps) {
    if (g.hi < kSurrogateLo || g.lo > kSurrogateHi) {
      out.push_back(g);
      continue;
    }
    if (g.lo < kSurrogateLo) out.push_back({g.lo, kSurrogateLo - 1});
    if (g.hi > kSurrogateHi) out.push_back({kSurrogateHi + 1, g.hi});
  }
  return out;
}

ExprId Grammar::AddEmpty(int32_t offset) {
  Expr e;
  e.kind = ExprKind::kEmpty;
  e.source_offset = offset;
  exprs_.push_back(e);
  return static_cast<ExprId>(exprs_.size() - 1);
}

ExprId Grammar::AddBytes(std::string_view bytes, int32_t offset) {
  Expr e;
  e.kind = ExprKind::kBytes;
  e.begin = static_cast<uint32_t>(bytes_.size());
  e.size = static_cast<uint32_t>(bytes.size());
  e.source_offset = offset;
  bytes_.append(bytes);
  exprs_.push_back(e);
  return static_cast<ExprId>(exprs_.size() - 1);
}

ExprId Grammar::AddCharClass(std::vector<CodepointRange> ranges, bool negate, int32_t offset) {
  std::vector<CodepointRange> norm = NormalizeRanges(std::move(ranges), negate);
  Expr e;
  e.kind = ExprKind::kCharClass;
  e.negated = negate;
  e.begin = static_cast<uint32_t>(ranges_.size());
  e.size = static_cast<uint32_t>(norm.size());
  e.source_offset = offset;
  ranges_.insert(ranges_.end(), norm.begin(), norm.end());
  exprs_.push_back(e);
  return static_cast<ExprId>(exprs_.size() - 1);
}

ExprId Grammar::AddRuleRef(RuleId rule, int32_t offset) {
  Expr e;
  e.kind = ExprKind::kRuleRef;
  e.rule = rule;
  e.source_offset = offset;
  exprs_.push_back(e);
  return static_cast<ExprId>(exprs_.size() - 1);
}

ExprId Grammar::AddSequence(std::span<const ExprId> items, int32_t offset) {
  Expr e;
  e.kind = ExprKind::kSequence;
  e.begin = static_cast<uint32_t>(children_.size());
  e.size = static_cast<uint32_t>(items.size());
  e.source_offset = offset;
  children_.insert(children_.end(), items.begin(), items.end());
  exprs_.push_back(e);
  return static_cast<ExprId>(exprs_.size() - 1);
}

ExprId Grammar::AddChoice(std::span<const ExprId> items, int32_t offset) {
  ExprId id = AddSequence(items, offset);
  exprs_[id].kind = ExprKind::kChoice;
  return id;
}

ExprId Grammar::AddRepeat(ExprId item, int32_t min, int32_t max, int32_t offset) {
  Expr e;
  e.kind = ExprKind::kRepeat;
  e.min = min;
  e.max = max;
  e.begin = static_cast<uint32_t>(children_.size());
  e.size = 1;
  e.source_offset = offset;
  children_.push_back(item);
  exprs_.push_back(e);
  return static_cast<ExprId>(exprs_.size() - 1);
}

RuleId Grammar::AddRule(std::string name, int32_t offset) {
  Rule r;
  r.name = std::move(name);
  r.source_offset = offset;
  rules_.push_back(std::move(r));
  return static_cast<RuleId>(rules_.size() - 1);
}

RuleId Grammar::FindRule(std::string_view name) const {
  for (size_t i = 0; i < rules_.size(); ++i) {
    if (rules_[i].name == name) return static_cast<RuleId>(i);
  }
  return -1;
}

Status Grammar::Validate() const {
  const size_t n_exprs = exprs_.size();
  if (root_ < 0 || static_cast<size_t>(root_) >= rules_.size()) {
    return InvalidArgument("grammar has no root rule");
  }
  {
    std::vector<std::string_view> names;
    names.reserve(rules_.size());
    for (const Rule& r : rules_) {
      if (r.name.empty()) return InvalidAt(r.source_offset, "rule with an empty name");
      names.push_back(r.name);
    }
    std::sort(names.begin(), names.end());
    auto dup = std::adjacent_find(names.begin(), names.end());
    if (dup != names.end()) {
      return InvalidArgument("rule '" + std::string(*dup) + "' is defined twice");
    }
  }
  // parent_seen[e] is set once an expression has been reached from some rule: reaching it again
  // means it has two parents (or sits on a cycle).
  std::vector<uint8_t> parent_seen(n_exprs, 0);
  std::vector<ExprId> stack;
  for (const Rule& rule : rules_) {
    if (rule.body < 0 || static_cast<size_t>(rule.body) >= n_exprs) {
      return InvalidAt(rule.source_offset, "rule '" + rule.name + "' has no body");
    }
    if (rule.lookahead != kNoExpr &&
        (rule.lookahead < 0 || static_cast<size_t>(rule.lookahead) >= n_exprs)) {
      return InvalidAt(rule.source_offset, "rule '" + rule.name + "' has a bad lookahead id");
    }
    stack.push_back(rule.body);
    if (rule.lookahead != kNoExpr) stack.push_back(rule.lookahead);
    while (!stack.empty()) {
      ExprId id = stack.back();
      stack.pop_back();
      if (id < 0 || static_cast<size_t>(id) >= n_exprs) {
        return InvalidArgument("rule '" + rule.name + "' refers to a missing expression " +
                               std::to_string(id));
      }
      if (parent_seen[id]) {
        return InvalidAt(exprs_[id].source_offset, "expression " + std::to_string(id) +
                                                       " in rule '" + rule.name +
                                                       "' has more than one parent");
      }
      parent_seen[id] = 1;
      const Expr& e = exprs_[id];
      // Built only for an error: this loop runs once per expression of every compile.
      auto where = [&rule] { return " in rule '" + rule.name + "'"; };
      switch (e.kind) {
        case ExprKind::kEmpty:
          break;
        case ExprKind::kBytes: {
          if (e.size == 0) return InvalidAt(e.source_offset, "empty byte string" + where());
          if (static_cast<size_t>(e.begin) + e.size > bytes_.size()) {
            return InvalidAt(e.source_offset, "byte string out of range" + where());
          }
          if (!IsValidUtf8(bytes(e))) {
            return InvalidAt(e.source_offset, "byte string is not valid UTF-8" + where());
          }
          break;
        }
        case ExprKind::kCharClass: {
          if (e.size == 0) {
            return InvalidAt(e.source_offset, "character class matches no character" + where());
          }
          if (static_cast<size_t>(e.begin) + e.size > ranges_.size()) {
            return InvalidAt(e.source_offset, "character class out of range" + where());
          }
          std::span<const CodepointRange> rs = ranges(e);
          for (size_t i = 0; i < rs.size(); ++i) {
            const CodepointRange& r = rs[i];
            bool bad = r.lo > r.hi || r.hi > kMaxCodePoint ||
                       (r.lo <= kSurrogateHi && r.hi >= kSurrogateLo) ||
                       (i > 0 && r.lo <= rs[i - 1].hi + 1);
            if (bad) {
              return InvalidAt(e.source_offset, "character class is not normalised" + where());
            }
          }
          break;
        }
        case ExprKind::kRuleRef:
          if (e.rule < 0 || static_cast<size_t>(e.rule) >= rules_.size()) {
            return InvalidAt(e.source_offset, "reference to a missing rule" + where());
          }
          break;
        case ExprKind::kSequence:
        case ExprKind::kChoice:
        case ExprKind::kRepeat: {
          if (e.size == 0) {
            return InvalidAt(e.source_offset, "sequence or choice with no items" + where());
          }
          if (static_cast<size_t>(e.begin) + e.size > children_.size()) {
            return InvalidAt(e.source_offset, "children out of range" + where());
          }
          if (e.kind == ExprKind::kRepeat) {
            if (e.size != 1) {
              return InvalidAt(e.source_offset, "repeat with several items" + where());
            }
            if (e.min < 0 || (e.max != kUnbounded && e.max < e.min)) {
              return InvalidAt(e.source_offset, "repeat bounds out of order" + where());
            }
          }
          for (ExprId c : children(e)) stack.push_back(c);
          break;
        }
      }
    }
  }
  return Status::Ok();
}

size_t Grammar::MemorySize() const {
  size_t n = rules_.capacity() * sizeof(Rule) + exprs_.capacity() * sizeof(Expr) +
             children_.capacity() * sizeof(ExprId) + bytes_.capacity() +
             ranges_.capacity() * sizeof(CodepointRange);
  for (const Rule& r : rules_) {
    // Short names live inside the std::string object (small-string optimisation).
    if (r.name.capacity() > 15) n += r.name.capacity() + 1;
  }
  return n;
}

bool Grammar::Equals(const Grammar& other) const {
  if (root_ != other.root_ || rules_.size() != other.rules_.size()) return false;
  std::vector<std::pair<ExprId, ExprId>> stack;
  for (size_t i = 0; i < rules_.size(); ++i) {
    const Rule& a = rules_[i];
    const Rule& b = other.rules_[i];
    if (a.name != b.name || a.unique_items != b.unique_items) return false;
    if ((a.lookahead == kNoExpr) != (b.lookahead == kNoExpr)) return false;
    stack.push_back({a.body, b.body});
    if (a.lookahead != kNoExpr) stack.push_back({a.lookahead, b.lookahead});
  }
  auto valid = [](const Grammar& g, ExprId id) {
    return id >= 0 && static_cast<size_t>(id) < g.exprs_.size();
  };
  // A valid grammar visits each expression at most once; the budget stops a malformed (cyclic) one.
  size_t budget = exprs_.size() + 1;
  while (!stack.empty()) {
    auto [ia, ib] = stack.back();
    stack.pop_back();
    if (budget-- == 0) return false;
    if (!valid(*this, ia) || !valid(other, ib)) return false;
    const Expr& x = exprs_[ia];
    const Expr& y = other.exprs_[ib];
    if (x.kind != y.kind) return false;
    switch (x.kind) {
      case ExprKind::kEmpty:
        break;
      case ExprKind::kBytes:
        if (bytes(x) != other.bytes(y)) return false;
        break;
      case ExprKind::kCharClass: {
        std::span<const CodepointRange> rx = ranges(x);
        std::span<const CodepointRange> ry = other.ranges(y);
        if (!std::equal(rx.begin(), rx.end(), ry.begin(), ry.end())) return false;
        break;
      }
      case ExprKind::kRuleRef:
        if (x.rule != y.rule) return false;
        break;
      case ExprKind::kRepeat:
        if (x.min != y.min || x.max != y.max) return false;
        [[fallthrough]];
      case ExprKind::kSequence:
      case ExprKind::kChoice: {
        if (x.size != y.size) return false;
        std::span<const ExprId> cx = children(x);
        std::span<const ExprId> cy = other.children(y);
        for (size_t i = 0; i < cx.size(); ++i) stack.push_back({cx[i], cy[i]});
        break;
      }
    }
  }
  return true;
}

}  // namespace sieve
