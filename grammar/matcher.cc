// GrammarMatcher (see matcher.h): owns a closed StackSet, its rollback history and a stepper.
//
// Reference discipline: every StackSet stored in `current`, `initial` or `history` holds one pool
// reference per stack (PdaStepper::Commit / Retain) and drops it when discarded (Release). Moving a
// set between those places transfers its references. Speculative work (token checks, mask fills,
// jump-forward probes) uses scratch nodes only and resets the scratch before returning.
#include "grammar/matcher.h"

#include <algorithm>
#include <cstring>
#include <deque>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "grammar/unique_items.h"

namespace sieve {

struct GrammarMatcher::Impl {
  struct Entry {
    StackSet set;
    bool terminated;
    UniqueState unique;
  };

  Impl(std::shared_ptr<const CompiledGrammar> g, std::shared_ptr<const Vocabulary> v,
       MatcherOptions o, std::shared_ptr<StackPool> p,
       std::shared_ptr<const TokenMaskCache> c = nullptr)
      : grammar(std::move(g)),
        vocab(std::move(v)),
        mask_cache(std::move(c)),
        options(std::move(o)),
        pool(std::move(p)),
        stepper(grammar.get(), pool.get(),
                StepperLimits{options.max_stack_depth, options.max_closure_items}) {
    if (options.stop_token_ids) {
      std::sort(options.stop_token_ids->begin(), options.stop_token_ids->end());
    }
    if (grammar->HasUniqueItems()) unique_checker.emplace(grammar.get());
  }

  ~Impl() {
    stepper.Release(current);
    stepper.Release(initial);
    for (const Entry& e : history) stepper.Release(e.set);
  }

  void Push(StackSet next, bool next_terminated, UniqueState next_unique) {
    history.push_back({std::move(current), terminated, std::move(unique)});
    current = std::move(next);
    terminated = next_terminated;
    unique = std::move(next_unique);
    while (history.size() > static_cast<size_t>(std::max(options.max_rollback_tokens, 0))) {
      stepper.Release(history.front().set);
      history.pop_front();
    }
  }

  bool Accept(std::string_view bytes) {
    if (terminated) return false;
    if (unique_checker) {
      // Byte by byte: items are checked as they end (unique_items.h).
      StackSet next = current;
      stepper.Retain(next);
      UniqueState next_unique = unique;
      for (const char c : bytes) {
        if (!unique_checker->Step(&stepper, pool.get(), static_cast<uint8_t>(c), &next,
                                  &next_unique)) {
          stepper.ResetScratch();
          return false;
        }
      }
      Push(std::move(next), false, std::move(next_unique));
      return true;
    }
    StackSet next;
    const bool ok = stepper.Advance(current, bytes, &next);
    if (ok) stepper.Commit(&next);
    stepper.ResetScratch();
    if (!ok) return false;
    Push(std::move(next), false, UniqueState());
    return true;
  }

  // Whether `bytes` would be accepted (no state change).
  bool WouldAccept(std::string_view bytes) const {
    bool ok;
    if (unique_checker) {
      ok = unique_checker->WouldAccept(&stepper, current, unique, bytes, &unique_set,
                                       &unique_scratch);
    } else {
      ok = stepper.Advance(current, bytes, nullptr);
    }
    stepper.ResetScratch();
    return ok;
  }

  // Clears the bits of `row` whose tokens would end a repeated item (the mask cache knows
  // nothing of uniqueItems). Only tokens whose bytes could end an item are looked at; a string's
  // end is looked up from precomputed hashes (QuickRepeatCheck), other tokens are lexed, and only
  // those that might repeat an item get the full check.
  void FilterUniqueItems(uint32_t* row, size_t words) const {
    if (!token_classes) token_classes = UniqueTokenClasses::For(vocab);
    const QuickCheckContext quick_ctx = PrepareQuickCheck(unique);
    if (quick_ctx.live_keys) {
      // A live-checked object (a closed one in any order) is open: a token may also leave a key
      // that can only end as a repeat. At such a key every token is looked at (few go on with a
      // closed object's keys); elsewhere only those with a ',' can reach one.
      auto full = [&](int32_t id) {
        if (Classify(id) != -1) return;
        const std::string_view bytes = vocab->TokenBytes(id);
        const int look = LexForLiveKeys(unique, bytes, &unique_scratch);
        if (look == 0) return;
        if (look == 2) {  // answered before (KeyLive's memo): no need to step the token
          const UniqueState::Tracked& t =
              unique_scratch.arrays[unique_scratch.frames.back().tracked];
          const auto it = t.record->live_memo.find(LiveMemoKey(unique_scratch));
          if (it != t.record->live_memo.end()) {
            if (!it->second) row[id >> 5] &= ~(uint32_t{1} << (id & 31));
            return;
          }
        }
        if (!WouldAccept(bytes)) row[id >> 5] &= ~(uint32_t{1} << (id & 31));
      };
      if (KeyPrefixAtRisk(unique)) {
        // Most tokens only go on with the key (or open it: whitespace, a quote): those whose
        // prefix begins no key written cannot be refused, found without the lexer. Whitespace
        // alone before the quote leaves this (live) state as it is.
        const std::vector<std::string_view> used = UsedKeyTexts(unique);
        const bool in_key = unique.scalar == UniqueState::kString;
        const bool before_key = unique.scalar == UniqueState::kNone;
        std::string prefix;
        auto begins_used = [&](std::string_view p) {
          const auto it = std::lower_bound(used.begin(), used.end(), p);
          return it != used.end() && it->substr(0, p.size()) == p;
        };
        for (size_t w = 0; w < words; ++w) {
          for (uint32_t bits = row[w]; bits != 0; bits &= bits - 1) {
            const auto id = static_cast<int32_t>(w * 32 + static_cast<size_t>(__builtin_ctz(bits)));
            std::string_view t = vocab->TokenBytes(id);
            if (before_key) {
              while (!t.empty() && (t[0] == ' ' || t[0] == '\t' || t[0] == '\n' || t[0] == '\r')) {
                t.remove_prefix(1);
              }
              if (t.empty() && Classify(id) == -1) continue;
              if (!t.empty() && t[0] == '"') t.remove_prefix(1);
              else t = std::string_view();  // not a key's opening: the full check
            }
            if ((in_key || before_key) && !t.empty() &&
                t.find_first_of("\"\\") == std::string_view::npos) {
              prefix.assign(in_key ? unique.text : std::string());
              prefix.append(t);
              if (!begins_used(prefix)) continue;
            }
            full(id);
          }
        }
        return;
      }
      // Inside a string, a ',' matters only after the '"' that ends it.
      for (const int32_t id : unique.in_string() ? token_classes->quote_comma_ids
                                                 : token_classes->comma_ids) {
        if (static_cast<size_t>(id >> 5) < words && (row[id >> 5] >> (id & 31) & 1)) full(id);
      }
    }
    // Where a string starts or goes on, its quiet ends are found from the items (by_pre) unless
    // the array holds so many that the token-by-token check is cheaper; the rest of the tokens
    // are looked at one by one.
    constexpr size_t kMaxRepeatLookups = 256;
    const bool by_items = quick_ctx.table >= 0 &&
                          RepeatLookupCost(unique, quick_ctx, *token_classes) <= kMaxRepeatLookups;
    // Where only keys are items and the string in progress (or about to open) is not one, a
    // token must hold enough quotes to end a key (QuickRepeatCheck).
    const bool later_keys = quick_ctx.keys_only &&
                            !(unique.in_string() ? quick_ctx.current_item : quick_ctx.tracked_item);
    if (by_items && !later_keys) {
      ForEachRepeatingStringEnd(unique, quick_ctx, *token_classes, [&](int32_t id) {
        if (static_cast<size_t>(id >> 5) >= words || !(row[id >> 5] >> (id & 31) & 1)) return;
        if (Classify(id) != -1) return;
        if (!WouldAccept(vocab->TokenBytes(id))) row[id >> 5] &= ~(uint32_t{1} << (id & 31));
      });
    }
    auto check = [&](int32_t id) {  // clears id's bit if it ends a repeat
      if (Classify(id) != -1) return;  // stop / special: decided by Classify
      const std::string_view bytes = vocab->TokenBytes(id);
      const int quick = QuickRepeatCheck(unique, quick_ctx, *token_classes, id);
      if (quick == 0) return;
      if (quick < 0 && !UniqueItemsChecker::MayRepeat(unique, bytes, &unique_scratch)) return;
      if (!WouldAccept(bytes)) row[id >> 5] &= ~(uint32_t{1} << (id & 31));
    };
    // Small classes are lists (a fill then costs what the list holds, not a pass over the
    // vocabulary); the others are bitsets ANDed with the row.
    const std::vector<int32_t>* list =
        later_keys ? (unique.in_string() ? &token_classes->quote3_ids : &token_classes->quote2_ids)
        : !by_items && unique.idle() ? &token_classes->bracket_ids
                                     : nullptr;
    if (list != nullptr) {
      for (const int32_t id : *list) {
        if (static_cast<size_t>(id >> 5) < words && (row[id >> 5] >> (id & 31) & 1)) check(id);
      }
      return;
    }
    const std::vector<uint32_t>& cls = by_items             ? token_classes->lex[quick_ctx.table]
                                       : unique.in_string() ? token_classes->quote
                                                            : token_classes->events;
    const size_t n = std::min(words, cls.size());
    for (size_t w = 0; w < n; ++w) {
      for (uint32_t bits = row[w] & cls[w]; bits != 0; bits &= bits - 1) {
        check(static_cast<int32_t>(w * 32 + static_cast<size_t>(__builtin_ctz(bits))));
      }
    }
  }

  bool IsStop(int32_t id) const {
    if (options.stop_token_ids) {
      return std::binary_search(options.stop_token_ids->begin(), options.stop_token_ids->end(), id);
    }
    return vocab->IsStop(id);
  }

  // 1 = accept as stop, 0 = reject, -1 = check the bytes.
  int Classify(int32_t id) const {
    if (vocab == nullptr || id < 0 || static_cast<size_t>(id) >= vocab->size() || terminated) {
      return 0;
    }
    if (vocab->IsPadding(id)) return 0;
    if (IsStop(id)) return current.can_end ? 1 : 0;
    if (vocab->IsSpecial(id)) return 0;
    return -1;
  }

  std::shared_ptr<const CompiledGrammar> grammar;
  std::shared_ptr<const Vocabulary> vocab;
  std::shared_ptr<const TokenMaskCache> mask_cache;
  mutable MaskFillScratch fill_scratch;
  mutable std::vector<uint32_t> cut_row;
  MatcherOptions options;
  std::shared_ptr<StackPool> pool;
  // Mutable scratch: speculative queries on a const matcher only touch scratch nodes and buffers.
  mutable PdaStepper stepper;
  StackSet initial;
  StackSet current;
  std::deque<Entry> history;
  bool terminated = false;
  // uniqueItems (unique_items.h); declared after `pool`, whose nodes the records reference.
  std::optional<UniqueItemsChecker> unique_checker;  // set when the grammar has flagged arrays
  UniqueState unique;
  mutable UniqueState unique_scratch;
  mutable StackSet unique_set;
  mutable std::shared_ptr<const UniqueTokenClasses> token_classes;
};

GrammarMatcher::GrammarMatcher(std::shared_ptr<const CompiledGrammar> grammar,
                               std::shared_ptr<const Vocabulary> vocab, MatcherOptions options)
    : impl_(std::make_unique<Impl>(std::move(grammar), std::move(vocab), std::move(options),
                                   std::make_shared<StackPool>())) {
  const Stack root{impl_->grammar->root_start(), 0, kNoNode};
  impl_->stepper.Close({&root, 1}, &impl_->initial);
  impl_->stepper.Commit(&impl_->initial);
  impl_->stepper.ResetScratch();
  impl_->current = impl_->initial;
  impl_->stepper.Retain(impl_->current);
}

GrammarMatcher::GrammarMatcher(std::shared_ptr<const TokenMaskCache> mask_cache,
                               MatcherOptions options)
    : GrammarMatcher(mask_cache->grammar(), mask_cache->vocab(), std::move(options)) {
  impl_->mask_cache = std::move(mask_cache);
}

GrammarMatcher::GrammarMatcher(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
GrammarMatcher::~GrammarMatcher() = default;
GrammarMatcher::GrammarMatcher(GrammarMatcher&&) noexcept = default;
GrammarMatcher& GrammarMatcher::operator=(GrammarMatcher&&) noexcept = default;

bool GrammarMatcher::AcceptToken(int32_t id) {
  const int c = impl_->Classify(id);
  if (c == 0) return false;
  if (c == 1) {
    StackSet same = impl_->current;
    impl_->stepper.Retain(same);
    impl_->Push(std::move(same), true, impl_->unique);
    return true;
  }
  return impl_->Accept(impl_->vocab->TokenBytes(id));
}

bool GrammarMatcher::AcceptString(std::string_view bytes) { return impl_->Accept(bytes); }

bool GrammarMatcher::AcceptByte(uint8_t byte) {
  const char c = static_cast<char>(byte);
  return impl_->Accept(std::string_view(&c, 1));
}

bool GrammarMatcher::IsTerminated() const { return impl_->terminated; }
bool GrammarMatcher::CanTerminate() const { return impl_->current.can_end; }

bool GrammarMatcher::Rollback(int n) {
  Impl& m = *impl_;
  if (n < 0 || static_cast<size_t>(n) > m.history.size()) return false;
  for (int i = 0; i < n; ++i) {
    m.stepper.Release(m.current);
    m.current = std::move(m.history.back().set);
    m.terminated = m.history.back().terminated;
    m.unique = std::move(m.history.back().unique);
    m.history.pop_back();
  }
  return true;
}

int GrammarMatcher::NumRollbackSteps() const { return static_cast<int>(impl_->history.size()); }

GrammarMatcher GrammarMatcher::Fork() const {
  const Impl& m = *impl_;
  auto copy = std::make_unique<Impl>(m.grammar, m.vocab, m.options, m.pool, m.mask_cache);
  copy->initial = m.initial;
  copy->current = m.current;
  copy->history = m.history;
  copy->terminated = m.terminated;
  copy->unique = m.unique;
  // Item stores are appended to in place: the fork gets its own.
  std::unordered_map<const ArrayRecord*, std::shared_ptr<ArrayRecord>> cloned;
  UniqueItemsChecker::CloneRecords(&copy->unique, copy->pool.get(), &cloned);
  for (Impl::Entry& e : copy->history) {
    UniqueItemsChecker::CloneRecords(&e.unique, copy->pool.get(), &cloned);
  }
  copy->stepper.Retain(copy->initial);
  copy->stepper.Retain(copy->current);
  for (const Impl::Entry& e : copy->history) copy->stepper.Retain(e.set);
  return GrammarMatcher(std::move(copy));
}

void GrammarMatcher::Reset() {
  Impl& m = *impl_;
  m.stepper.Release(m.current);
  for (const Impl::Entry& e : m.history) m.stepper.Release(e.set);
  m.history.clear();
  m.unique.Clear();
  m.current = m.initial;
  m.stepper.Retain(m.current);
  m.terminated = false;
  m.stepper.ClearLimitFlag();
}

std::string GrammarMatcher::FindJumpForwardString() const {
  const Impl& m = *impl_;
  std::string out;
  if (m.terminated) return out;
  StackSet cur = m.current;
  uint64_t next[4];
  while (out.size() < m.options.max_jump_forward_bytes && !cur.can_end) {
    m.stepper.NextBytes(cur, next);
    int only = -1;
    for (int w = 0; w < 4; ++w) {
      if (next[w] == 0) continue;
      // More than one bit in this word, or bits in two words: not forced.
      if ((next[w] & (next[w] - 1)) != 0 || only >= 0) {
        only = -2;
        break;
      }
      only = w * 64 + __builtin_ctzll(next[w]);
    }
    if (only < 0) break;
    const char c = static_cast<char>(only);
    if (!m.stepper.Advance(cur, std::string_view(&c, 1), &cur)) break;
    out.push_back(c);
  }
  m.stepper.ResetScratch();
  return out;
}

bool GrammarMatcher::WouldAcceptToken(int32_t id) const {
  const Impl& m = *impl_;
  const int c = m.Classify(id);
  if (c >= 0) return c == 1;
  return m.WouldAccept(m.vocab->TokenBytes(id));
}

bool GrammarMatcher::IsStopToken(int32_t id) const {
  const Impl& m = *impl_;
  if (m.vocab == nullptr || id < 0 || static_cast<size_t>(id) >= m.vocab->size()) return false;
  return m.IsStop(id);
}

void GrammarMatcher::FillNextTokenBitmaskNaive(uint32_t* bitmask, size_t bitmask_words) const {
  const Impl& m = *impl_;
  std::memset(bitmask, 0, bitmask_words * sizeof(uint32_t));
  if (m.vocab == nullptr || m.terminated) return;
  const size_t n = std::min(m.vocab->size(), bitmask_words * 32);
  for (size_t i = 0; i < n; ++i) {
    const auto id = static_cast<int32_t>(i);
    const int c = m.Classify(id);
    bool allowed;
    if (c >= 0) {
      allowed = c == 1;
    } else {
      allowed = m.WouldAccept(m.vocab->TokenBytes(id));
    }
    if (allowed) bitmask[i >> 5] |= uint32_t{1} << (i & 31);
  }
}

void GrammarMatcher::FillNextTokenBitmask(uint32_t* bitmask, size_t bitmask_words) const {
  const Impl& m = *impl_;
  if (m.mask_cache == nullptr || m.vocab == nullptr) {
    FillNextTokenBitmaskNaive(bitmask, bitmask_words);
    return;
  }
  if (m.terminated) {
    std::memset(bitmask, 0, bitmask_words * sizeof(uint32_t));
    return;
  }
  const size_t words = m.mask_cache->tokenizer_info()->words();
  MaskFillScratch& scratch = m.fill_scratch;
  uint32_t* row = bitmask;
  if (bitmask_words < words) {  // a cut mask: fill a full row, copy its head
    m.cut_row.resize(words);
    row = m.cut_row.data();
  }
  const bool ok =
      m.mask_cache->FillStacks(m.current, &m.stepper, &scratch, m.options.max_stack_depth, row);
  m.stepper.ResetScratch();
  if (!ok) {
    FillNextTokenBitmaskNaive(bitmask, bitmask_words);
    return;
  }
  // Stop tokens: allowed exactly when the grammar can end (matcher semantics, see Classify).
  auto fix_stop = [&](int32_t id) {
    if (id < 0 || static_cast<size_t>(id) >= m.vocab->size() || m.vocab->IsPadding(id)) return;
    const uint32_t bit = uint32_t{1} << (id & 31);
    row[id >> 5] = m.current.can_end ? (row[id >> 5] | bit) : (row[id >> 5] & ~bit);
  };
  if (m.options.stop_token_ids) {
    for (const int32_t id : *m.options.stop_token_ids) fix_stop(id);
  } else {
    for (const int32_t id : m.vocab->stop_tokens()) fix_stop(id);
  }
  if (m.unique_checker) m.FilterUniqueItems(row, words);
  if (row != bitmask) {
    std::memcpy(bitmask, row, bitmask_words * sizeof(uint32_t));
  } else if (bitmask_words > words) {
    std::memset(bitmask + words, 0, (bitmask_words - words) * sizeof(uint32_t));
  }
}

void GrammarMatcher::FillNextTokenBitmaskBatch(std::span<GrammarMatcher* const> matchers,
                                               uint32_t* bitmask, size_t words_per_row,
                                               ThreadPool* pool) {
  RunParallel(pool, matchers.size(), [&](size_t i, int) {
    matchers[i]->FillNextTokenBitmask(bitmask + i * words_per_row, words_per_row);
  });
}

std::bitset<256> GrammarMatcher::NextBytes() const {
  std::bitset<256> out;
  if (impl_->terminated) return out;
  uint64_t words[4];
  impl_->stepper.NextBytes(impl_->current, words);
  for (int b = 0; b < 256; ++b) {
    if (!(words[b >> 6] >> (b & 63) & 1)) continue;
    const char c = static_cast<char>(b);
    // A byte that would end a repeated item is not accepted (AcceptByte's answer).
    if (impl_->unique_checker &&
        UniqueItemsChecker::MayRepeat(impl_->unique, std::string_view(&c, 1),
                                      &impl_->unique_scratch) &&
        !impl_->WouldAccept(std::string_view(&c, 1))) {
      continue;
    }
    out.set(b);
  }
  return out;
}

const StackSet& GrammarMatcher::stacks() const { return impl_->current; }
const CompiledGrammar& GrammarMatcher::grammar() const { return *impl_->grammar; }
const Vocabulary* GrammarMatcher::vocabulary() const { return impl_->vocab.get(); }
const TokenMaskCache* GrammarMatcher::mask_cache() const { return impl_->mask_cache.get(); }
bool GrammarMatcher::limit_hit() const { return impl_->stepper.limit_hit(); }
size_t GrammarMatcher::live_stack_nodes() const { return impl_->pool->live_nodes(); }

std::string GrammarMatcher::DebugString() const {
  const Impl& m = *impl_;
  const CompiledGrammar& g = *m.grammar;
  auto frame = [&](int32_t state, int32_t counter) {
    const CompiledGrammar::RuleInfo& r = g.rule(g.rule_of(state));
    std::string f = r.name;
    f.append(":").append(std::to_string(state - r.first_state));
    if (r.counted) f.append("#").append(std::to_string(counter));
    return f;
  };
  std::vector<std::string> lines;
  for (const Stack& s : m.current.stacks) {
    std::string line = frame(s.state, s.counter);
    for (NodeId id = s.parent; id != kNoNode;) {
      const StackNode& n = m.stepper.node(id);
      line = frame(n.state, n.counter) + " " + line;
      id = n.parent;
    }
    lines.push_back(std::move(line));
  }
  std::sort(lines.begin(), lines.end());
  std::string out;
  for (const std::string& l : lines) out += l + "\n";
  if (m.current.can_end) out += "can_end\n";
  if (m.terminated) out += "terminated\n";
  return out;
}

}  // namespace sieve
