// Epsilon closure, bulk byte advance and commit over stack sets (see pda_stepper.h).
#include "grammar/pda_stepper.h"

#include <algorithm>

#include "grammar/support/byte_set.h"

namespace sieve {
namespace {

void SortUnique(std::vector<Stack>* v) {
  if (v->size() < 2) return;
  std::sort(v->begin(), v->end());
  v->erase(std::unique(v->begin(), v->end()), v->end());
}

}  // namespace

PdaStepper::PdaStepper(const CompiledGrammar* grammar, StackPool* pool, const StepperLimits& limits)
    : g_(grammar), pool_(pool), limits_(limits), scratch_(pool), visited_(64) {
  for (Slot& s : visited_) s.generation = 0;
}

void PdaStepper::Visit(const Stack& s, uint32_t fresh) {
  if (!hashed_) {
    // Closures are small: a linear scan beats hashing until the list gets long.
    for (Slot& v : small_) {
      if (v.key == s) {
        // Fewer fresh frames allow strictly more pops: revisit.
        if (fresh < v.fresh) {
          v.fresh = fresh;
          work_.push_back({s, fresh});
        }
        return;
      }
    }
    small_.push_back({s, generation_, fresh});
    work_.push_back({s, fresh});
    if (small_.size() <= kSmallClosure) return;
    hashed_ = true;
    for (const Slot& v : small_) Insert(v);
    return;
  }
  const size_t mask = visited_.size() - 1;
  for (size_t i = HashFrame(s.state, s.counter, s.parent) & mask;; i = (i + 1) & mask) {
    Slot& slot = visited_[i];
    if (slot.generation != generation_) break;
    if (slot.key == s) {
      if (fresh < slot.fresh) {
        slot.fresh = fresh;
        work_.push_back({s, fresh});
      }
      return;
    }
  }
  Insert({s, generation_, fresh});
  work_.push_back({s, fresh});
}

void PdaStepper::Insert(const Slot& v) {
  if (2 * (visited_count_ + 1) > visited_.size()) {
    // Grow, keeping this generation's entries.
    std::vector<Slot> old = std::move(visited_);
    visited_.assign(old.size() * 2, Slot{{0, 0, 0}, 0, 0});
    visited_count_ = 0;
    for (const Slot& o : old) {
      if (o.generation == generation_) Insert(o);
    }
  }
  const size_t mask = visited_.size() - 1;
  size_t i = HashFrame(v.key.state, v.key.counter, v.key.parent) & mask;
  while (visited_[i].generation == generation_) i = (i + 1) & mask;
  visited_[i] = v;
  ++visited_count_;
}

void PdaStepper::Close(std::span<const Stack> raw, StackSet* out, int lookahead) {
  out->stacks.clear();
  out->can_end = false;
  bool all_plain = true;
  for (const Stack& s : raw) {
    const bool plain = lookahead >= 0 ? ClosesToItself(s.state, static_cast<uint8_t>(lookahead))
                                      : (g_->flags(s.state) & CompiledGrammar::kPlain) != 0;
    if (!plain) {
      all_plain = false;
      break;
    }
  }
  if (all_plain) {
    out->stacks.assign(raw.begin(), raw.end());
    SortUnique(&out->stacks);
    return;
  }

  if (++generation_ == 0) {  // wrapped: forget every stamp
    for (Slot& s : visited_) s.generation = 0;
    generation_ = 1;
  }
  visited_count_ = 0;
  hashed_ = false;
  small_.clear();
  work_.clear();
  for (const Stack& s : raw) Visit(s, 0);
  size_t processed = 0;
  while (!work_.empty()) {
    if (++processed > limits_.max_closure_items) {
      limit_hit_ = true;
      out->stacks.clear();
      out->can_end = false;
      return;
    }
    const Item it = work_.back();
    work_.pop_back();
    const Stack& s = it.stack;
    const uint8_t f = g_->flags(s.state);
    if ((f & CompiledGrammar::kHasBytes) && g_->CanReadBytes(s.state, s.counter) &&
        (lookahead < 0 || g_->Step(s.state, static_cast<uint8_t>(lookahead)) != kNoState)) {
      out->stacks.push_back(s);
    }
    if (f & CompiledGrammar::kHasCalls) {
      int32_t counter;
      if (g_->CanBeginIteration(s.state, s.counter, &counter)) {
        // The caller frame becomes a node; the callee frame goes on top of it.
        if (scratch_.depth(s.parent) + 2 > limits_.max_stack_depth) {
          limit_hit_ = true;
        } else {
          const bool head = f & CompiledGrammar::kLoopHead;
          for (const CompiledGrammar::CallEdge& e : g_->call_edges(s.state)) {
            if (lookahead >= 0 && !g_->CanStartWith(e.callee, static_cast<uint8_t>(lookahead))) {
              // The callee cannot read the next byte: only its empty match matters, which is a
              // push and an immediate pop (never taken into a loop head: an empty iteration).
              if (g_->rule(e.callee).nullable && !head) {
                Visit({e.return_state, counter, s.parent}, it.fresh);
              }
              continue;
            }
            const NodeId caller = scratch_.Intern(e.return_state, counter, s.parent);
            Visit({e.callee_start, 0, caller}, it.fresh + 1);
          }
        }
      }
    }
    if (g_->CanAccept(s.state, s.counter) &&
        (lookahead < 0 || g_->CanFollow(g_->rule_of(s.state), static_cast<uint8_t>(lookahead)))) {
      if (s.parent == kNoNode) {
        out->can_end = true;
      } else {
        const StackNode& caller = scratch_.node(s.parent);
        if (caller.depth < min_read_depth_) min_read_depth_ = caller.depth;
        // Popping a frame pushed in this closure into a loop head = an empty iteration: skip.
        if (it.fresh == 0 || !g_->loop_head(caller.state)) {
          Visit({caller.state, caller.counter, caller.parent}, it.fresh > 0 ? it.fresh - 1 : 0);
        }
      }
    }
  }
  SortUnique(&out->stacks);
}

bool PdaStepper::Advance(const StackSet& from, std::string_view bytes, StackSet* out) {
  if (bytes.empty()) {
    if (out != nullptr && out != &from) *out = from;
    return true;
  }
  // `cur` is read only while building raw_, so one result buffer serves every byte.
  const std::vector<Stack>* cur = &from.stacks;
  StackSet* next = &set_;
  for (size_t i = 0; i < bytes.size(); ++i) {
    raw_.clear();
    if (cur->size() == 1) {
      // Fast path: one stack walking plain states needs no closure and no buffers.
      Stack s = (*cur)[0];
      for (;;) {
        const int32_t t = g_->Step(s.state, static_cast<uint8_t>(bytes[i]));
        int32_t counter;
        if (t == kNoState || !g_->CanBeginIteration(s.state, s.counter, &counter)) return false;
        s = {t, counter, s.parent};
        if (i + 1 == bytes.size() || !ClosesToItself(t, static_cast<uint8_t>(bytes[i + 1]))) break;
        ++i;
      }
      raw_.push_back(s);
    } else {
      const auto b = static_cast<uint8_t>(bytes[i]);
      for (const Stack& s : *cur) {
        const int32_t t = g_->Step(s.state, b);
        if (t == kNoState) continue;
        int32_t counter;
        if (!g_->CanBeginIteration(s.state, s.counter, &counter)) continue;
        raw_.push_back({t, counter, s.parent});
      }
      if (raw_.empty()) return false;
    }
    if (i + 1 < bytes.size()) {
      Close(raw_, next, static_cast<uint8_t>(bytes[i + 1]));
      if (next->stacks.empty()) return false;
      cur = &next->stacks;
      continue;
    }
    if (out == nullptr) {
      // Every raw stack can be completed (pda.h), so the input is a valid prefix, unless the
      // closure would run into the depth limit: only then is it computed.
      uint32_t deepest = 0;
      for (const Stack& s : raw_) deepest = std::max(deepest, scratch_.depth(s.parent));
      if (deepest + 1 + static_cast<uint32_t>(g_->max_closure_pushes()) <=
          limits_.max_stack_depth) {
        return true;
      }
    }
    Close(raw_, next);
    if (next->stacks.empty() && !next->can_end) return false;
  }
  if (out != nullptr) *out = *next;
  return true;
}

void PdaStepper::NextBytes(const StackSet& set, uint64_t out[4]) const {
  out[0] = out[1] = out[2] = out[3] = 0;
  for (const Stack& s : set.stacks) {
    if (!g_->CanReadBytes(s.state, s.counter)) continue;
    for (const CompiledGrammar::ByteEdge& e : g_->byte_edges(s.state)) {
      AddByteRange(out, e.lo, e.hi);
    }
  }
}

NodeId PdaStepper::Promote(NodeId id) {
  if (id == kNoNode || !(id & kScratchBit)) return id;
  chain_.clear();
  NodeId x = id;
  while (x != kNoNode && (x & kScratchBit) && promoted_[x & ~kScratchBit] == kNoNode) {
    chain_.push_back(x);
    x = scratch_.node(x).parent;
  }
  NodeId base = (x != kNoNode && (x & kScratchBit)) ? promoted_[x & ~kScratchBit] : x;
  for (size_t i = chain_.size(); i-- > 0;) {
    const StackNode& n = scratch_.node(chain_[i]);
    base = pool_->Intern(n.state, n.counter, base);
    promoted_[chain_[i] & ~kScratchBit] = base;
  }
  return base;
}

void PdaStepper::Commit(StackSet* set) {
  promoted_.assign(scratch_.size(), kNoNode);
  bool changed = false;
  for (Stack& s : set->stacks) {
    if (s.parent != kNoNode && (s.parent & kScratchBit)) {
      s.parent = Promote(s.parent);
      changed = true;
    }
  }
  if (changed) SortUnique(&set->stacks);
  Retain(*set);
}

void PdaStepper::Retain(const StackSet& set) {
  for (const Stack& s : set.stacks) pool_->Ref(s.parent);
}

void PdaStepper::Release(const StackSet& set) {
  for (const Stack& s : set.stacks) {
    if (s.parent != kNoNode) pool_->Unref(s.parent);
  }
}

}  // namespace sieve
