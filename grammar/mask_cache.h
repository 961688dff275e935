// TokenMaskCache: per automaton state, which tokens are allowed whatever the stack below, so that a
// next-token mask is a copy plus a handful of checks instead of a walk over the whole vocabulary.
//
// Built once per (CompiledGrammar, vocabulary) by MaskBuilder (mask_builder.h), which classifies
// every byte token at every byte-reading state as accepted, rejected or uncertain. Per state:
//  - the accepted set, as a sorted list of accepted ids, a sorted list of rejected ids (the
//    complement within the byte tokens) or a bitset of ceil(V / 32) words: the smallest, except
//    that lists longer than words / 8 become bitsets (scattered bit writes cost more than copying
//    words). Ids are token ids, not trie positions, so filling a row is a memcpy, a memset plus
//    bit sets, or a memcpy of the byte-token row minus bit clears. Equal sets are stored once.
//  - counted states (inside a bounded byte loop, pda.h): the accepted set holds tokens with their
//    iteration count k, and a row at counter c keeps those with k <= max - c. Near the bound, rows
//    for small remaining budgets are stored as sets of their own and the rest is a short list of
//    the longest tokens to clear, so a step costs the same for x{0,80} and x{0,8000}.
//  - the uncertain tokens as a trie of "suffixes to check below the top frame" (the bytes left when
//    the token pops the state's frame). At run time the frames are popped and the trie is walked
//    with the real stepper (each node closes its parent's stacks with its byte as lookahead, as
//    Advance does between the bytes of a token), sharing prefixes and pruning dead branches; every
//    entry on a surviving node is allowed. Tokens whose pop always succeeds (a suffix accepted at
//    every return site) or always fails were decided at compile time and are not here.
//  - closure shortcuts for those walks, per (state, byte), computed at build time: a frame that can
//    only pop before the byte (it cannot read it, calls nothing that starts with it, may end its
//    rule) is skipped straight to its caller, and frames whose closure is themselves (or nothing)
//    are kept (or dropped) without a closure. In a C-like grammar a `)` after an operand passes
//    through ten expression levels this way. What still needs a real closure is memoised for the
//    rest of the fill: the groups of one stack set pop into the same frames.
//
// FillStacks combines states across the stacks of a set: stacks with the same (state, counter)
// share one base set and one suffix walk over their popped frames; different groups are OR-ed.
// Two per-caller caches (MaskFillScratch) make repeated situations cheap: the union of base sets
// for a list of groups, and each walk's result keyed by the frames it actually read below the
// group (the stepper reports how deep its closures popped). It declines (returns false) when a
// state is missing (over the byte budget) or a stack is so deep that a token could run into the
// matcher's depth limit; the caller then falls back to the token-by-token path, which applies the
// limits. Stop, special and padding ids are never set here: the matcher owns token semantics.
//
// Build cost: one MaskBuilder walk per byte-reading state, except that states of one rule which
// behave alike for MaskCacheOptions::share_horizon bytes take the answers for tokens that short
// from one representative and walk only the longer tokens themselves (mask_share.h; exact). A
// state alike with a representative for 2x, 4x, ... share_horizon_max bytes walks only the tokens
// longer than that. A member whose own walk answers every one of those tokens as its
// representative does (SameOnLongTokens: a run of counted tails that differ only in their
// bounds, a pattern's states far from its ends) takes the representative's masks whole, as one
// more entry pointing at the same pooled sets, lists and checks.
//
// Memory: every byte is in a handful of pooled vectors; MemorySize() sums their capacities (the
// compiled grammar and the TokenizerInfo are owned elsewhere and not counted). The cache is
// immutable after Build() and safe to share across threads; FillStacks' mutable state is in the
// caller's PdaStepper and MaskFillScratch.
#ifndef SIEVE_GRAMMAR_MASK_CACHE_H_
#define SIEVE_GRAMMAR_MASK_CACHE_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "grammar/limits.h"
#include "grammar/mask_builder.h"
#include "grammar/mask_share.h"
#include "grammar/pda.h"
#include "grammar/pda_stepper.h"
#include "grammar/support/status.h"
#include "grammar/thread_pool.h"
#include "grammar/token_trie.h"

namespace sieve {

struct MaskCacheOptions {
  MaskBuildOptions build;
  // Bytes the cache may use. States that do not fit are left out and served token by token.
  size_t max_bytes = size_t{512} << 20;
  // Counted states: below this many tokens to clear, rows near the bound are computed by clearing
  // a list; above it they get a set of their own.
  uint32_t counted_clear_limit = 1024;
  // States of one rule that behave alike for this many bytes share the answers for tokens up to
  // that length (mask_share.h); only their longer tokens are classified per state. 0: off.
  uint32_t share_horizon = 8;
  // A state that shares at share_horizon and is alike for 2x, 4x, ... (up to this many) bytes with
  // one of the fully classified states classifies only its tokens longer than that: in a
  // length-bounded run (a hostname label, a 128-character password) most states are alike for 32
  // bytes, and tokens over 32 bytes are a few hundred. At most share_horizon: one level.
  uint32_t share_horizon_max = 32;
  // Bytes on which states need not agree to share (mask_share.h): the JSON quote, so string
  // bodies and keys in different places share their answers for tokens without a quote. Tokens
  // holding one of these bytes are classified per member. Empty: plain bounded bisimulation.
  std::string share_escape_bytes = "\"";
  // -- deadline (harden, issue 10) --
  // Wall-time budget (limits.h), polled once per state while classifying; once it expires the
  // build stops with kLimit naming max_compile_ms. Front doors pass the compile's own deadline, so
  // parse + simplify + automaton + this build share one max_compile_ms. Default: never expires.
  Deadline deadline;
  // -- end deadline --
};

struct MaskCacheStats {
  int32_t states = 0;         // byte-reading states
  int32_t cached_states = 0;  // those within the budget
  int32_t shared_states = 0;  // classified over long tokens only, sharing the rest (mask_share.h)
  int32_t bitset_sets = 0;    // stored sets by form (after sharing)
  int32_t accept_list_sets = 0;
  int32_t reject_list_sets = 0;
  int32_t shared_sets = 0;        // sets found equal to an earlier one
  int64_t accepted = 0;           // sum over states of accepted tokens
  int64_t uncertain_tokens = 0;   // sum over states of distinct uncertain tokens
  int64_t uncertain_entries = 0;  // sum over states of suffix checks
  int32_t max_uncertain_tokens = 0;
  int64_t trie_nodes_visited = 0;
  double build_ms = 0;
  size_t memory_bytes = 0;
};

// Per-caller buffers for FillStacks (one per matcher; not shared between threads).
struct MaskFillScratch {
  // Unions of base sets for recent lists of (state, counter) groups (least recently used goes).
  struct Union {
    std::vector<std::pair<int32_t, int32_t>> groups;
    std::vector<uint32_t> row;
    uint64_t last_use = 0;
  };
  static constexpr size_t kUnions = 8;
  std::vector<Union> unions;
  // Results of recent suffix walks: the group's state and counter, the frames the walk read below
  // each of its stacks (lens[k] frames of the k-th, as state/counter pairs), and the tokens it
  // allowed. Least recently used goes.
  struct Walk {
    int32_t state = -1;
    int32_t counter = 0;
    std::vector<uint32_t> lens;
    std::vector<int32_t> frames;
    std::vector<int32_t> tokens;
    uint64_t last_use = 0;
  };
  static constexpr size_t kWalks = 128;
  std::vector<Walk> walks;
  std::vector<int32_t> walk_tokens;
  uint64_t clock = 0;
  std::vector<std::pair<int32_t, int32_t>> groups;
  std::vector<uint32_t> row;
  std::vector<Stack> raw;                    // popped parents of a group
  StackSet context;                          // a closure during a suffix walk
  std::vector<std::vector<Stack>> raw_sets;  // per suffix depth
  std::vector<Stack> passed;                 // stacks a suffix-walk closure must really close
  std::vector<Stack> kept;                   // stacks it keeps as they are
  std::vector<Stack> merged;                 // the two closed together
  uint32_t walk_read = UINT32_MAX;           // shallowest frame the current walk read
  // Closures computed during one FillStacks, keyed by (stacks after skipping, lookahead byte):
  // the groups of one stack set pop into the same frames (every level of an expression chain),
  // so their walks repeat each other's closures. Valid for one fill only (scratch node ids).
  struct Closure {
    uint64_t hash = 0;
    uint8_t byte = 0;
    uint32_t read = UINT32_MAX;
    std::vector<Stack> raw;
    std::vector<Stack> closed;
  };
  std::vector<Closure> closures;
  size_t num_closures = 0;
  std::vector<uint32_t> closure_table;  // open addressing: index + 1, 0 empty
  std::vector<uint64_t> added;          // base sets already in the row
};

class TokenMaskCache {
 public:
  static Result<std::shared_ptr<const TokenMaskCache>> Build(
      std::shared_ptr<const CompiledGrammar> grammar, std::shared_ptr<const TokenizerInfo> info,
      const MaskCacheOptions& opts = MaskCacheOptions(), ThreadPool* pool = nullptr);

  // Builds the long-token tries Build() uses for `opts`' sharing horizons (TokenizerInfo::
  // LongTokens, kept by `info`), so that their one-time cost per vocabulary (~25 ms for 128k
  // tokens) is paid with the vocabulary's own trie rather than by the first compile.
  static void PrepareTokenizerInfo(const TokenizerInfo& info,
                                   const MaskCacheOptions& opts = MaskCacheOptions());

  const std::shared_ptr<const CompiledGrammar>& grammar() const { return grammar_; }
  const std::shared_ptr<const TokenizerInfo>& tokenizer_info() const { return info_; }
  const std::shared_ptr<const Vocabulary>& vocab() const { return info_->vocab_ptr(); }
  const MaskCacheStats& stats() const { return stats_; }
  std::string StatsString() const;

  // Heap bytes owned by the cache itself.
  size_t MemorySize() const;

  // Whether state s has a cache entry, and its distinct uncertain tokens (tests, benchmarks).
  bool HasState(int32_t s) const {
    return s >= 0 && s < static_cast<int32_t>(index_.size()) && index_[s] >= 0;
  }
  int32_t UncertainTokens(int32_t s) const;

  // Writes the byte tokens allowed from the closed set `set` into `out` (tokenizer_info().words()
  // words, all written). Stepping uses `stepper` (scratch nodes are left for the caller to reset).
  // False when the set cannot be served (see the file comment); `out` is then unspecified.
  bool FillStacks(const StackSet& set, PdaStepper* stepper, MaskFillScratch* scratch,
                  uint32_t max_stack_depth, uint32_t* out) const;

 private:
  enum Form : uint8_t { kAcceptList, kRejectList, kBitset };
  struct SetRef {
    Form form = kAcceptList;
    uint32_t offset = 0;  // into words_ (bitset) or ids_ (lists)
    uint32_t size = 0;    // ids in a list
  };
  struct SuffixNode {
    uint8_t byte;
    uint16_t depth;
    uint32_t end;      // subtree end, relative to the state's first node
    uint32_t entries;  // first entry, relative to the state's first entry
  };
  struct CheckEntry {
    int32_t token;
    int32_t k;
  };
  struct StateMasks {
    SetRef base;
    // Counted, bounded rules: k of the longest accepted token, the per-budget sets for budgets
    // below `dense`, and for budgets in [dense, kmax) the tokens to clear (by k, descending) with
    // `gt[r - dense]` = how many of them have k > r.
    int32_t kmax = 0;
    int32_t dense = 0;
    uint32_t levels = 0;  // into level_sets_
    uint32_t clear = 0;   // into ids_
    uint32_t gt = 0;      // into gt_
    uint32_t nodes = 0;   // into nodes_, count in num_nodes (a sentinel follows)
    uint32_t num_nodes = 0;
    uint32_t entries = 0;  // into entries_
    int32_t uncertain_tokens = 0;
  };
  struct PendingSet;   // a set before pooling (mask_cache.cc)
  struct StateResult;  // a state's masks before pooling (mask_cache.cc)

  TokenMaskCache() = default;
  // Grammar images (mask_cache_serialize.cc, declared in image_io.h).
  friend void WriteTokenMaskCache(const TokenMaskCache& c, class ImageWriter* w);
  friend Result<std::shared_ptr<const TokenMaskCache>> ReadTokenMaskCache(
      class ImageReader* r, std::shared_ptr<const CompiledGrammar> grammar,
      std::shared_ptr<const TokenizerInfo> info);
  void WriteSet(const SetRef& ref, uint32_t* out) const;
  void OrSet(const SetRef& ref, uint32_t* out, MaskFillScratch* scratch) const;
  void AddBase(const StateMasks& m, int32_t counter, int32_t rule_max, bool first, uint32_t* out,
               MaskFillScratch* scratch) const;
  // Whether `stacks` (a group, as many as w.lens) have the frames `w` read below them.
  static bool SameFrames(const MaskFillScratch::Walk& w, const Stack* stacks, PdaStepper* stepper);
  // Appends the uncertain tokens of `m` that the stacks below (scratch->raw, popped) accept to
  // scratch->walk_tokens.
  void WalkSuffixes(const StateMasks& m, int32_t counter, const CompiledGrammar::RuleInfo& rule,
                    bool has_context, PdaStepper* stepper, MaskFillScratch* scratch) const;
  // Returns the number of tokens in the set.
  // `known`: the classification `row` came from, whose count and short id list (when present)
  // are used instead of counting and scanning the row again.
  static size_t MakeSet(const TokenizerInfo& info, const std::vector<uint32_t>& row,
                        PendingSet* set, const StateClassification* known = nullptr);
  // What a closure with lookahead b does with one stack whose top frame is at a state (see
  // shortcut_index_ below).
  enum Shortcut : uint8_t { kClose = 0, kKeep = 1, kDrop = 2, kPass = 3 };
  void BuildShortcuts();
  Shortcut ShortcutFor(int32_t state, uint8_t b) const {
    const int32_t i = shortcut_index_[state];
    if (i < 0) return i == -1 ? kClose : (grammar_->Step(state, b) != kNoState ? kKeep : kDrop);
    const auto& bits = shortcut_bits_[i];
    const int w = b >> 6, k = b & 63;
    return static_cast<Shortcut>((bits[w] >> k & 1) | ((bits[4 + w] >> k & 1) << 1));
  }
  // The closure of `raw` with lookahead b (PdaStepper::Close's result stacks): stacks the table
  // decides are kept or dropped, pass-through frames replaced by their callers (lowering
  // scratch->walk_read to the depth of each), and the rest closed by the stepper, memoised for the
  // fill in scratch->closures.
  const std::vector<Stack>& CloseWalk(const std::vector<Stack>& raw, uint8_t b, PdaStepper* stepper,
                                      MaskFillScratch* scratch) const;
  static void BuildState(const CompiledGrammar& g, const TokenizerInfo& info,
                         const MaskCacheOptions& opts, int32_t state, const StateClassification& c,
                         StateResult* r);
  // Build's phase 2: appends the classified states' results (in state order; `results` freed as
  // they go) to the pools, sharing equal sets, within opts.max_bytes.
  void PoolResults(const std::vector<int32_t>& states, std::vector<StateResult>* results,
                   const MaskCacheOptions& opts);

  std::shared_ptr<const CompiledGrammar> grammar_;
  std::shared_ptr<const TokenizerInfo> info_;
  std::vector<int32_t> index_;  // per state: into states_, or -1
  std::vector<StateMasks> states_;
  std::vector<uint32_t> words_;
  std::vector<int32_t> ids_;
  std::vector<SetRef> level_sets_;
  std::vector<uint32_t> gt_;
  std::vector<SuffixNode> nodes_;
  std::vector<CheckEntry> entries_;
  // Closure shortcuts for suffix walks. shortcut_index_[s]: -1 (counted rules: always a full
  // closure), -2 (a plain state: kept when it reads b, else dropped), or an index into
  // shortcut_bits_, two 256-bit sets whose bits (low, high) give the Shortcut for byte b:
  //  kKeep: the frame's closure before b is the stack itself, which reads b;
  //  kDrop: nothing in its closure reads b and it cannot end its rule before b;
  //  kPass: it can only pop (cannot read b, calls nothing that starts with b, may end its rule
  //         before b): its closure is its caller's. The expression chain of a C-like grammar is
  //         ten such frames, skipped without a closure.
  std::vector<int32_t> shortcut_index_;
  std::vector<std::array<uint64_t, 8>> shortcut_bits_;
  uint32_t depth_margin_ = 0;  // stack growth one token can cause, for the depth-limit check
  uint32_t max_suffix_ = 0;
  MaskCacheStats stats_;
};

}  // namespace sieve

#endif  // SIEVE_GRAMMAR_MASK_CACHE_H_
