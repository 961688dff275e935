// GrammarMatcher: the run-time state of one generation constrained by a CompiledGrammar.
//
// The state is a closed StackSet (pda_stepper.h): all the ways the input so far can continue, as
// persistent, hash-consed PDA stacks. Accepting bytes steps every stack and closes the result;
// ambiguity is several stacks. Every successful Accept* pushes the previous set onto a bounded
// history (max_rollback_tokens entries), so Rollback(n) undoes the last n successful Accept* calls
// (tokens, strings or bytes alike) in O(n). Fork() copies the set and history by value: the nodes
// are shared, so it costs O(set + history size), not O(stack depth).
//
// Tokens. AcceptToken maps a token id to its bytes through the Vocabulary. Padding ids (and ids out
// of range) are always rejected; a stop token (the vocabulary's, or MatcherOptions::stop_token_ids
// when given) is accepted only when the grammar can end here, and then the matcher is terminated
// and accepts nothing more; any other special token is rejected: grammars never match control
// tokens by their text. A rejected token, string or byte leaves the matcher exactly as it was.
//
// FillNextTokenBitmaskNaive writes the next-token mask (uint32 words, bit i & 31 of word i >> 5,
// 1 = allowed) by stepping every token's bytes from the current set: the simple, obviously correct
// form, kept as the oracle. FillNextTokenBitmask gives the same bits from a TokenMaskCache
// (mask_cache.h) when the matcher was constructed with one: per stack a cached set copied into the
// row plus a few checks of uncertain tokens against the real stack; it falls back to the naive
// form without a cache, or when a stack is so deep that the depth limit could matter. Ids at or
// past the vocabulary size are 0. FillNextTokenBitmaskBatch fills one row per matcher on a pool.
//
// Threads: a matcher is used by one thread at a time. A matcher and its forks share one node pool,
// so they too must stay on one thread (or be externally serialised); matchers constructed
// separately are independent. The CompiledGrammar, Vocabulary and TokenMaskCache are shared
// read-only. Mask fills only read the node pool, so the batch fill may run forks of one matcher in
// parallel, as long as nothing accepts input meanwhile.
#ifndef SIEVE_GRAMMAR_MATCHER_H_
#define SIEVE_GRAMMAR_MATCHER_H_

#include <bitset>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "grammar/mask_cache.h"
#include "grammar/pda.h"
#include "grammar/pda_stepper.h"
#include "grammar/thread_pool.h"
#include "grammar/tokenizer/vocabulary.h"

namespace sieve {

struct MatcherOptions {
  // History kept for Rollback; older steps are forgotten.
  int32_t max_rollback_tokens = 64;
  // When set, these ids are the stop tokens instead of the vocabulary's.
  std::optional<std::vector<int32_t>> stop_token_ids;
  // Deeper stacks are refused (the input that needs them is rejected).
  uint32_t max_stack_depth = 1u << 16;
  // Work items in one epsilon closure before the step is refused (pathological ambiguity).
  size_t max_closure_items = size_t{1} << 20;
  // FindJumpForwardString stops after this many bytes.
  size_t max_jump_forward_bytes = size_t{1} << 16;
};

class GrammarMatcher {
 public:
  // `vocab` may be null for byte-only use (then AcceptToken and the token mask reject everything).
  GrammarMatcher(std::shared_ptr<const CompiledGrammar> grammar,
                 std::shared_ptr<const Vocabulary> vocab = nullptr,
                 MatcherOptions options = MatcherOptions());
  // A matcher over the cache's grammar and vocabulary whose FillNextTokenBitmask uses the cache.
  explicit GrammarMatcher(std::shared_ptr<const TokenMaskCache> mask_cache,
                          MatcherOptions options = MatcherOptions());
  ~GrammarMatcher();
  GrammarMatcher(GrammarMatcher&&) noexcept;
  GrammarMatcher& operator=(GrammarMatcher&&) noexcept;
  GrammarMatcher(const GrammarMatcher&) = delete;
  GrammarMatcher& operator=(const GrammarMatcher&) = delete;

  bool AcceptToken(int32_t id);
  bool AcceptString(std::string_view bytes);
  bool AcceptByte(uint8_t byte);

  // A stop token was accepted.
  bool IsTerminated() const;
  // The input so far is a complete sentence of the grammar.
  bool CanTerminate() const;

  // Undoes the last n successful Accept* calls. False (and no change) when n < 0 or more steps are
  // asked for than the history holds.
  bool Rollback(int n);
  // Steps Rollback can undo right now.
  int NumRollbackSteps() const;
  GrammarMatcher Fork() const;
  // Back to the start of the grammar, history cleared.
  void Reset();

  // The longest byte string every continuation must start with ("" when several bytes are possible,
  // when the grammar can end here, or after termination).
  std::string FindJumpForwardString() const;

  // See the file comment. `bitmask_words` words are written (any count: fewer than the vocabulary
  // needs cuts the mask, more are zero).
  void FillNextTokenBitmask(uint32_t* bitmask, size_t bitmask_words) const;
  void FillNextTokenBitmaskNaive(uint32_t* bitmask, size_t bitmask_words) const;
  // Row i of `bitmask` (words_per_row words each) gets matchers[i]'s mask, on `pool` (inline when
  // null). The matchers must not be used elsewhere during the call.
  static void FillNextTokenBitmaskBatch(std::span<GrammarMatcher* const> matchers,
                                        uint32_t* bitmask, size_t words_per_row, ThreadPool* pool);
  // Whether AcceptToken(id) would succeed, without changing anything.
  bool WouldAcceptToken(int32_t id) const;
  bool IsStopToken(int32_t id) const;
  // The bytes AcceptByte would accept now (empty after termination).
  std::bitset<256> NextBytes() const;

  // ---- introspection (tests, mask cache) ----
  const StackSet& stacks() const;
  const CompiledGrammar& grammar() const;
  const Vocabulary* vocabulary() const;
  const TokenMaskCache* mask_cache() const;
  // Whether a depth / closure limit refused an input since construction or Reset.
  bool limit_hit() const;
  // Persistent stack nodes alive in the pool this matcher shares with its forks (memory tests).
  size_t live_stack_nodes() const;
  // The stack set, one line per stack, frames bottom to top as rule:state[#counter], then
  // "can_end" when the grammar can end here. Canonical: equal for equal states across matchers.
  std::string DebugString() const;

 private:
  struct Impl;
  explicit GrammarMatcher(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace sieve

#endif  // SIEVE_GRAMMAR_MATCHER_H_
