// Sharing classifications between states that behave alike for as many bytes as most tokens have.
//
// MaskBuilder's answer for token t at state s (mask_builder.h) depends only on what s's frame does
// over t's bytes: which bytes it reads and where they lead, which rules it calls and where they
// return, where its rule may end (a pop, continued into the rule's return sites). Two states of the
// same rule that agree on all of that for the next h bytes therefore classify every token of at
// most h bytes identically. A format or a length-bounded pattern inlined into one rule (hostname
// labels of up to 63 characters, 254-character emails) has hundreds of states that differ only
// near the ends of their runs, and each cost a walk over tens of thousands of trie nodes.
//
// ComputeMaskSharing finds, per byte state, a representative with the same behaviour for
// `horizon` bytes (bounded bisimulation; level j: alike for the next j bytes):
//  - level 0: same flags (with escape bytes, a rule's end is not told apart where only escape
//    bytes can follow it, below); both in uniqueItems-flagged rules or both not; states of counted
//    rules: same lower bound, same upper bound or both at least j (a fresh frame begins at most j
//    iterations in j bytes, so such a bound is never hit);
//  - level j: level j - 1 agrees, byte edges read the same ranges into states agreeing at level
//    j - 1, call edges call callee starts agreeing at level j and return to states agreeing at
//    level j (a nullable callee returns without reading: refined until stable within the level),
//    and states where their rule may end (accepting: only those pop their frame) continue alike
//    after the pop: both end the input (the root rule) or both return to sites agreeing at level
//    j (each rule's return sites as a set, and its number of call edges, which decides whether
//    the builder follows them: mask_builder.h). So the same automaton inlined into two rules is
//    alike in both up to where the rules differ.
// So the states of a length-bounded run that each call their own counted tail x{0,m-i} are alike
// while m - i is past the horizon, and so are the tails' own states: a counted state's
// classification is parametric in its counter (iteration counts k, checked against its own
// rule's bounds at run time, mask_builder.h), so x{0,116} and x{0,115} classify alike when they
// return to alike sites. All horizons of a plan come from one pass of refinement. The build
// classifies each representative over the whole vocabulary and every other member only over the
// tokens longer than the horizon (the TokenizerInfo::LongTokens trie: ~21% of a 128k vocabulary at
// 8 bytes), then takes the short tokens' answers (and, for counted states, their iteration counts)
// from the representative (MergeShared). The result is identical to classifying every state in
// full; tests/grammar/mask_share_test.cc checks that state by state.
#ifndef SIEVE_GRAMMAR_MASK_SHARE_H_
#define SIEVE_GRAMMAR_MASK_SHARE_H_

#include <cstdint>
#include <string_view>
#include <vector>

#include "grammar/limits.h"
#include "grammar/mask_builder.h"
#include "grammar/pda.h"
#include "grammar/token_trie.h"

namespace sieve {

struct MaskSharing {
  uint32_t horizon = 0;
  // Per state: the representative whose short-token answers it takes (itself for representatives
  // and states without byte edges).
  std::vector<int32_t> rep;
  // Per state: its class (states alike for `horizon` bytes share one), numbered from 0.
  std::vector<int32_t> cls;
  int32_t members = 0;  // states whose rep is another state
};

// Classes for `horizon` bytes over the byte-reading states of g (horizon 0: every state alone).
// Polls `deadline` once per level; once it has expired every state is left alone (the caller's
// own poll then reports the budget).
//
// Escape bytes: with `escape_bytes` (MaskCacheOptions::share_escape_bytes, by default the quote
// that ends every JSON string and key), states are alike when they behave alike on every path
// that reads none of those bytes: an edge reading only escape bytes is compared by its range,
// wherever it leads. A string body whose closing quote is followed by "," in one place and by
// ":" or "]" in another is then alike in both places. Members then take from the representative
// only the tokens of at most `horizon` bytes that hold no escape byte, and classify the rest
// themselves (TokenizerInfo::LongTokens(horizon, escape_bytes)). Where only escape bytes can
// follow a rule (a string body before its closing quote), whether its states may end is not
// compared either: a pop goes on with an escape byte, and a token without one that ends where
// the rule may end is read to its end without popping anyway. So the positions of a
// length-bounded body before and after its lower bound are alike.
MaskSharing ComputeMaskSharing(const CompiledGrammar& g, uint32_t horizon,
                               const Deadline& deadline = Deadline(),
                               std::string_view escape_bytes = {});

// Sharing at several horizons: every state that is a member at `horizon` gets, among the states
// classified in full (the representatives at `horizon`), the one it is alike with for the most
// bytes, trying horizon x2, x4, ... up to `max_horizon`. rep[s] == s for states classified in
// full; otherwise the member takes tokens of at most horizon[s] bytes from rep[s] and classifies
// only the longer ones (TokenizerInfo::LongTokens(horizon[s], escape_bytes), with escape bytes
// as above). Wider classes refine the base classes, so a representative found for a wider horizon
// is alike for the base horizon as well.
struct MaskSharingPlan {
  std::vector<int32_t> rep;
  std::vector<uint32_t> horizon;
  int32_t members = 0;
};
// The horizons a plan tries: horizon, 2 x horizon, ... up to max_horizon (at least horizon);
// empty for horizon 0. TokenMaskCache::PrepareTokenizerInfo builds one long-token trie for each.
std::vector<uint32_t> SharingHorizons(uint32_t horizon, uint32_t max_horizon);
MaskSharingPlan PlanMaskSharing(const CompiledGrammar& g, uint32_t horizon, uint32_t max_horizon,
                                const Deadline& deadline = Deadline(),
                                std::string_view escape_bytes = {});

// The classification of a member state: `rep` (the representative's, over `full`) for the tokens
// `long_tokens` leaves out (short, no escape byte), `long_part` (the member's own, over
// `long_tokens` = full.LongTokens(horizon, escape_bytes)) for the others; for counted states the
// accepted lists with iteration counts are merged the same way.
void MergeShared(const TokenizerInfo& full, const TokenizerInfo& long_tokens,
                 const StateClassification& rep, const StateClassification& long_part,
                 StateClassification* out);

// Whether `long_part` (a member's own walk over `long_tokens`) answers every token of
// `long_tokens` as `rep` does: then MergeShared would give rep's classification back (the same
// accepted bits, the same accepted tokens with their iteration counts, the same uncertain entries,
// as sets), and the member's masks are the representative's. Lists are compared in walk order
// (both walks visit tokens by trie position), so a reordering only costs the shortcut.
//
// `rep_long`, when given, is LongAcceptedOf(long_tokens, rep): a representative with many members
// filters its accepted list once (a counted string body accepts ~100k tokens, few of them long).
struct LongAccepted {
  std::vector<int32_t> ids;
  std::vector<uint16_t> ks;
};
void LongAcceptedOf(const TokenizerInfo& long_tokens, const StateClassification& rep,
                    LongAccepted* out);
bool SameOnLongTokens(const TokenizerInfo& long_tokens, const StateClassification& rep,
                      const StateClassification& long_part, const LongAccepted* rep_long = nullptr);

}  // namespace sieve

#endif  // SIEVE_GRAMMAR_MASK_SHARE_H_
