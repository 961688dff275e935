// MaskBuilder: classifies every byte token at one automaton state, the precompute behind the
// token-mask cache (mask_cache.h).
//
// The question. A closed stack set (pda_stepper.h) holds stacks whose top frame (s, c) reads a
// byte. Whether token t is allowed from such a stack depends on the frames below the top only
// when reading t pops the top frame; the builder answers it once per state s for every token,
// independently of the stack:
//  - accepted: some path reads all of t without popping s's frame (pushes into callees and their
//    returns are fine: the stack below is untouched, and every automaton state can complete);
//  - rejected: every path dies without popping s's frame;
//  - uncertain: otherwise, and then the runtime check is recorded: for each way t pops s's frame
//    after its first p bytes, "feed t[p..] to the stack below". Pops before the first byte are
//    ignored: closing the set already took them (the popped stacks are in the set themselves).
//
// Context reduction. When s's rule R ends inside t, the builder continues t into every place R can
// return to (the return state of every call edge calling R; for the root rule, the end of the
// input, which rejects any remaining byte), again with an unknown stack below, for up to
// `context_levels` nested returns. A pop whose continuation is accepted at every return site is as
// good as accepted (the real return site is one of them); one rejected at every site is dropped;
// anything else stays uncertain. Return sites inside counted rules (whose counter is unknown) and
// returns nested deeper than the limit (or out of a rule with very many call sites) count as
// uncertain. Continuations are spawned per next byte, only where the byte can follow the rule
// (the compile-time FOLLOW sets, pda.h). What is still uncertain after the walk goes through the
// ContextResolver (mask_context.h), which follows returns to any depth, through recursion, with
// memoised (rule, rest) answers.
//
// Counted repetition. When s belongs to a counted rule (a byte loop: see pda.h) its frame's counter
// c is unknown too. The builder counts k, the iterations the token begins in that frame, and leaves
// the guards to run time: a token read fully with k iterations is accepted when c + k <= max; a pop
// after k iterations needs min <= c + k <= max. So one classification serves every counter value.
//
// The walk. Tokens are visited in byte order through the TokenizerInfo trie, one simulation layer
// per prefix length, so tokens sharing a prefix share its simulation; a prefix on which every
// simulation is dead decides its whole subtree at once and the subtree is skipped. First bytes the
// state cannot read are never visited. Stack sets are interned and their transitions memoised
// (SetSimulator, mask_sim.h), so most trie nodes cost a table lookup. A first-byte subtree whose
// first transition (closed set, pops, delegations) is the same as at an earlier state of the same
// rule is classified the same way: the first time a (byte, rule, transition) is seen, the
// subtree's answers are recorded, and later states copy them instead of walking. Likewise a state
// starts from the answers of a recent state of its rule (a map key's states differ from each other
// in one or two first bytes) and walks only the first bytes whose transition differs; answers are
// kept by sorted trie position, so a subtree's are a range of bits, copied and cleared by words.
//
// Delegation. A call made by the classified frame (JSON's member calling `value`, every C
// statement calling the expression chain, also after leading whitespace) would make every such
// state walk the same large subtrees. Instead the call is delegated: the callee's rule start is
// classified once per trie node where it starts, as a "raw" frame (which tokens of that subtree it
// reads without returning, and the nodes after which it can return), and every caller takes the
// accepted tokens and resumes its own frame only below the callee's return nodes. Callees delegate
// their own calls the same way. The result is identical to simulating the full closure; only calls
// from frames with a counter are simulated in place. A callee that may return after every byte of
// a subtree it loops on (a string body, a map key) accepts that subtree whole and records its
// return nodes from TokenizerInfo::parents_of_byte (only nodes with a child the caller can read
// after the rule matter), instead of walking the subtree node by node to find them.
//
// String text. A JSON string body loops on plain ASCII but steps through continuation states for
// each multi-byte character, so the loop test above fails on every subtree holding non-ASCII text
// (a quarter of a large vocabulary). TokenizerInfo precomputes, per trie node, from which phases of
// a strict UTF-8 text automaton every token below stays in string text; a set that provably steps
// like that automaton (TextPhase) accepts such a subtree whole. Exact: every token below is read
// to its end without a call, and a pop on the way (a body that may end after any character) leads
// nowhere, as no text byte can follow the rule (TextCannotFollow). A set first met inside a
// character (a map key that leaves its literal alternatives on a lead byte) is tried as each
// continuation phase of the automaton the same way.
//
// Bounded runs. A pattern or length bound unrolled into a run of states (a password of 12..128
// characters with a digit somewhere, a hostname label, an email's local part) does not loop, so
// neither test above applies, and each state of the run walks its subtrees node by node. For the
// byte classes of TokenizerInfo::run_classes, RunLength(set, c) is how many bytes of any string
// over class c the set reads on the hot path (plainly: no call, a pop only where the byte cannot
// follow the rule, no dead step), by a memoised search over the sets it reaches; a subtree whose
// bytes are all in c and whose longest token (run_height) is within that length is accepted
// whole. Exact: each of its tokens is read to its end as the node-by-node walk would read it.
// Frames with a counter and delegated callees walk as before.
//
// Loose counters. A delegated callee that is a counted rule (a length-bounded body called from a
// pattern's run) starts with a known counter, so each iteration is another set and its loop never
// repeats: none of the tests above apply. Below a trie node whose tokens cannot reach its max
// (TokenizerInfo::run_height), the callee's counter is kept only up to its min
// (SetSimulator::FrameStartLoose): the same answers, and its loop is one set again.
//
// A builder is not thread-safe; use one per worker thread. The CompiledGrammar and TokenizerInfo
// are read only.
#ifndef SIEVE_GRAMMAR_MASK_BUILDER_H_
#define SIEVE_GRAMMAR_MASK_BUILDER_H_

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "grammar/mask_context.h"
#include "grammar/mask_sim.h"
#include "grammar/pda.h"
#include "grammar/token_trie.h"

namespace sieve {

struct MaskBuildOptions {
  // Nested rule returns followed at compile time before a pop is left to run time.
  int context_levels = 4;
  // A rule called from more places than this is not followed into its callers (its pops are
  // left to run time): following dozens of sites for every token costs more than it saves.
  int max_return_sites = 24;
  // Reuse the classification of a first-byte subtree between states of one rule whose first
  // transition on that byte is the same (see Classify). Off only to compare in tests.
  bool share_first_bytes = true;
  // With share_first_bytes: start a state from the answers of a recent state of the same rule and
  // redo only the first-byte subtrees whose first transition differs (see Classify). Off only to
  // compare in tests.
  bool diff_recent_states = true;
  // Accept a trie subtree whole when the walked set is a JSON string body whose steps follow
  // TokenizerInfo's text automaton exactly and every token below stays in string text (see
  // Walk). Off only to compare in tests.
  bool text_subtrees = true;
  // Accept a trie subtree whole when the walked set reads every string over one of its byte
  // classes up to the subtree's height (see "Bounded runs"). Off only to compare in tests.
  bool class_runs = true;
  // A delegated counted callee whose max no token below its start can reach is simulated with a
  // counter that stops at its min (SetSimulator::FrameStartLoose). Off only to compare in tests.
  bool loose_counters = true;
};

// What MaskBuilder::Classify finds at one state.
struct StateClassification {
  // An uncertain token's run-time check: when the state's counter (counted rules) satisfies
  // min <= c + k <= max, the token is allowed if the stack below the top frame, after popping it,
  // accepts bytes [suffix, size) of the token (an empty suffix: allowed outright).
  struct Entry {
    int32_t token;
    uint16_t k;
    uint16_t suffix;
    bool limited;  // undecided only because of the walk's context limit (the resolver may decide)
  };
  // Tokens allowed whatever the stack below, as a bitset over token ids (TokenizerInfo::words()).
  std::vector<uint32_t> accepted_bits;
  // Counted states: the accepted tokens again, with k (allowed while c + k <= max).
  std::vector<int32_t> accepted;
  std::vector<uint16_t> accepted_k;
  std::vector<Entry> uncertain;
  int64_t nodes_visited = 0;  // trie nodes simulated (work measure)
  // Filled by MaskBuilder (-1 / false where not): the number of bits set in accepted_bits and,
  // when the accepted or the rejected byte tokens are few enough to be stored as a list
  // (MaskListMax), that list in id order (`list_rejected`: the rejected ones). TokenMaskCache
  // then neither counts nor scans the bitset again.
  int64_t accepted_count = -1;
  bool has_list = false;
  bool list_rejected = false;
  std::vector<int32_t> list;
};

// The longest id list the mask cache stores for a set of a vocabulary of `words` 32-bit mask
// words: beyond it, setting scattered bits costs more than copying the words of a bitset.
inline size_t MaskListMax(size_t words) { return words / 8; }

class MaskBuilder {
 public:
  // `shared_sim`: a SetSimulator of `g` to use instead of one of its own (it depends on the
  // grammar only), shared with the other builders of the same thread (TokenMaskCache::Build's
  // builders over the long-token tries), which then find its sets and transitions computed.
  // It must outlive the builder, and builders sharing it must not run concurrently.
  MaskBuilder(const CompiledGrammar& g, const TokenizerInfo& info, const MaskBuildOptions& opts,
              SetSimulator* shared_sim = nullptr);
  ~MaskBuilder();

  // Classifies every byte token at state `s` (a state with byte edges).
  void Classify(int32_t s, StateClassification* out);

 private:
  using Mode = SetSimulator::Mode;
  // A simulation of the token from one frame whose stack below is unknown: level 0 is the
  // classified frame; level l + 1 continues a pop of a level-l thread at one return site.
  // `unknown` threads (a site in a counted rule) are never simulated and count as uncertain.
  struct Thread {
    int32_t level;
    int32_t event;  // the pop that spawned it, -1 for level 0
    bool unknown;
    RuleId rule;  // the rule of its bottom frame
  };
  // A thread's bottom frame popping before byte `depth`; its site threads are contiguous.
  struct Event {
    int32_t thread;
    int32_t depth;
    int32_t k;  // level 0 in a counted rule: iterations begun before the pop
    RuleId rule;
    int32_t first_site;
    int32_t num_sites;
    // Some continuation is certainly dead: the end of the input (the rule is the root) or a site
    // that can neither read the next byte nor return at once.
    bool has_reject;
    bool unknown;  // beyond the context limit
  };
  struct Live {
    int32_t thread;
    int32_t set;
  };
  // A thread whose bottom frame popped in the closure at this depth; its sites are spawned per
  // child byte, and only when the byte can follow the rule.
  struct PendingPop {
    int32_t thread;
    uint32_t pops;  // iteration counts, in the simulator's pool, relative to `base`
    uint32_t num_pops;
    int32_t base;
  };
  struct Layer {
    // >= 0: the layer is just thread 0 in this set (plus its pop when `simple_pops`), no events;
    // the hot path reads and writes only these fields (the vectors are filled on demand).
    int32_t simple = -1;
    bool simple_pops = false;   // with a pending pop of thread 0
    bool materialized = false;  // the vectors below spell the simple layer out too
    int32_t k = 0;              // counted frames: iterations begun before thread 0's set
    std::vector<Live> live;
    std::vector<PendingPop> pending;
    size_t threads_mark = 0;
    size_t events_mark = 0;
  };
  struct RawLive {
    int32_t thread;
    SetSimulator::Trans trans;  // a copy: a later Step may grow (and move) the memo table
  };
  // A delegated callee started below trie node `node`: the tokens of that subtree it reads without
  // returning (ranges of sorted positions) and the nodes after which it can return with a next
  // byte that can follow its rule. While its walk runs the results collect in a Callee (one per
  // nesting level, reused); finished ones are kept as spans of two pooled arrays (Stored), so the
  // memo holds no allocation per entry.
  struct Callee {
    std::vector<std::pair<uint32_t, uint32_t>> ranges;
    std::vector<int32_t> pops;
  };
  struct Stored {
    uint32_t ranges_begin, ranges_end;
    uint32_t pops_begin, pops_end;
  };
  // (callee start, node) -> index into stored_: open addressing, linear probing.
  class MemoTable {
   public:
    // The slot for `key`: its value, or kEmpty when absent (then Set fills it).
    static constexpr uint32_t kEmpty = UINT32_MAX;
    uint32_t* Find(uint64_t key);
    void Set(uint64_t key, uint32_t value);

   private:
    size_t Slot(uint64_t key) const;  // where `key` is, or the empty slot it would take
    void Grow();
    std::vector<uint64_t> keys_;
    std::vector<uint32_t> values_;
    size_t size_ = 0;
  };
  struct Deferred {
    int32_t callee_start;
    int32_t ret;
    int32_t node;
  };
  // The accepted tokens of the state being classified, by sorted position (TokenizerInfo), so a
  // subtree's tokens are a range of bits: ranges are set, cleared and copied a word at a time.
  // Classify turns them into out_->accepted_bits (by id) at the end.
  void SetPos(uint32_t i) {
    acc_[i >> 6] |= uint64_t{1} << (i & 63);
    live_[i >> 12] |= uint64_t{1} << (i >> 6 & 63);
  }
  bool TestPos(uint32_t i) const { return acc_[i >> 6] >> (i & 63) & 1; }
  void SetRange(uint32_t lo, uint32_t hi);
  void ClearRange(uint32_t lo, uint32_t hi);
  void ToIdOrder(StateClassification* out);
  // Recent conversions (ToIdOrder): equal accepted sets recur (string bodies in many places, the
  // states of one run), and a conversion scatters up to half the vocabulary's bits.
  struct Converted {
    uint64_t hash = 0;
    std::vector<uint64_t> positions;
    std::vector<uint32_t> ids;
    uint64_t last_use = 0;
  };
  static constexpr size_t kConverted = 8;
  static constexpr uint64_t kConvertMin = 4096;  // estimated bits to scatter
  std::vector<Converted> converted_;
  uint64_t converted_clock_ = 0;
  // Where a walk's results go: a state's classification, or a callee being classified.
  struct Target {
    Callee* callee;  // null: out_
    RuleId rule;     // the rule of the walked frame
    bool counted;    // its counter is unknown (relaxed simulation)
    int32_t min;
  };
  enum Value : uint8_t { kReject = 0, kAccept = 1, kUnknown = 2, kNone = 3 };

  // Walks trie nodes [first, last) from the ready parent layer; calls it delegates are queued.
  void Walk(int32_t first, int32_t last);
  // Processes the delegations queued after `mark` (see the .cc comment).
  void ProcessDeferred(size_t mark);
  // Thread 0 alone at `depth`, with the closure `start` of its frame (pops: the frame returns at
  // once, a pending pop for the children) and its calls delegated below `node`.
  void StartLayer(int32_t node, const SetSimulator::Start& start, bool pops);
  // Queues a delegated call below `node` (when the callee can read one of its child bytes).
  void Defer(const SetSimulator::Delegation& d, int32_t node);
  uint32_t Memo(int32_t callee_start, int32_t node);  // an index into stored_
  void Apply(uint32_t stored);
  void Resume(uint32_t stored, int32_t ret);
  void RecordPop(int32_t node);
  void RecordPopRange(int32_t lo, int32_t hi);
  // First-byte sharing: a subtree's answers (accepted sorted-index ranges, raw uncertain entries)
  // keyed by the classified rule and the first transition: spans of two pools, per key.
  struct FirstByteResult {
    uint32_t accepted_begin = 0, accepted_end = 0;
    uint32_t uncertain_begin = 0, uncertain_end = 0;
    bool recorded = false;
  };
  // The first transition on `byte` as a small id (equal ids: equal transitions, same rule).
  int32_t FirstByteKey(uint8_t byte, const SetSimulator::Trans& tr);
  void RecordFirstByte(int32_t key, int32_t root, size_t uncertain_mark);
  void ApplyFirstByte(const FirstByteResult& r);
  // Classifies the subtree of first byte b (key: its FirstByteKey) into out_, from the memo when
  // another state had the same key.
  void ClassifyFirstByte(uint8_t b, int32_t key);
  // A recent state's answers from its first-byte subtrees (before its own start-level calls and
  // the context resolution): per first byte the key it was classified under (-1: not walked),
  // the accepted bits and the uncertain entries. A state of the same rule copies them and redoes
  // only the bytes whose key differs (Classify).
  struct Snapshot {
    RuleId rule = -1;
    uint64_t last_use = 0;
    std::array<int32_t, 256> keys{};  // -1 outside `first`
    uint64_t first[4] = {0, 0, 0, 0};    // the state's first bytes
    std::vector<uint64_t> bits;  // by sorted position, as acc_; zero outside `live`
    std::vector<uint64_t> live;
    std::vector<StateClassification::Entry> uncertain;
  };
  Snapshot* FindSnapshot(RuleId rule);
  void SaveSnapshot(RuleId rule, const std::array<int32_t, 256>& keys, const uint64_t first[4]);
  // Records pops of `thread` before byte `depth` and spawns the site threads that can go on with
  // byte `next` into extra_live_ (recursively for site frames that pop at once).
  void AddEvents(int32_t thread, RuleId rule, int32_t depth, const int32_t* ks, size_t num_ks,
                 int32_t base, uint8_t next);
  void SpawnSites(int32_t event, uint8_t next);
  // The text phase (TokenizerInfo::TextStep) that `set` stands for, or -1: set X is phase 0 when
  // it steps like the text automaton (every byte the automaton reads from phase p is read from
  // the phase-p set, plainly: no call, at most a pop of the walked frame, into the set of the
  // next phase), the sets it reaches are the other phases; a set met first inside a character
  // (entered on a lead byte) is tried as each continuation phase the same way. Relaxed sets
  // (counted frames) must also begin exactly one iteration per character, at its first byte.
  // Checked once per family of sets (a set is always walked in one mode).
  // kTextPops is or-ed into the result when some step of the family pops the walked frame.
  static constexpr int kTextPops = 8;
  int TextPhase(int32_t set) {  // the memo inline: it is asked at every node of a text walk
    if (static_cast<size_t>(set) < text_phase_.size() && text_phase_[set] != -2) {
      return text_phase_[set];
    }
    return ComputeTextPhase(set);
  }
  int ComputeTextPhase(int32_t set);
  // Whether `set` steps like the text automaton from `phase` with the sets it reaches (each
  // phase one set); if so their phases are recorded in text_phase_.
  bool TextFamily(int32_t set, int phase);
  // No byte of string text can follow `rule`: a pop of the walked frame inside a text subtree
  // (a body that may end after any character) then goes nowhere, so it does not matter.
  bool TextCannotFollow(RuleId rule);
  // Bytes of any string over run class c (TokenizerInfo) that `set` (whose steps may pop the
  // walked frame when `pops`) reads on the hot path, up to the longest token; 0 when some byte of
  // c is not read that way. A set met again while its own length is being found counts 0 there
  // (a smaller length than the truth: safe). Iterative: runs may be thousands of states long.
  uint32_t RunLength(int32_t set, bool pops, int c) {  // the memo inline, as TextPhase's
    const size_t at =
        (static_cast<size_t>(set) * 2 + (pops ? 1 : 0)) * TokenizerInfo::kRunClasses + c;
    if (at < run_length_.size() && run_length_[at] != kRunUnknown) return run_length_[at];
    return ComputeRunLength(set, pops, c);
  }
  uint32_t ComputeRunLength(int32_t set, bool pops, int c);
  // Classifies tokens sorted_ids()[lo, hi) given the alive_ flags and the current events.
  void EmitTokens(uint32_t lo, uint32_t hi);
  // Tokens sorted_ids()[lo, hi) are accepted; counted frames record k for each, or with
  // `per_byte` k plus the token's length (a loop where every byte is one iteration).
  void AcceptRange(uint32_t lo, uint32_t hi, int32_t k, bool per_byte);
  // Counted frames: tokens sorted_ids()[lo, hi) of string text are accepted, each with k plus
  // the characters begun in its bytes from offset `from` (bytes that are not UTF-8 continuations).
  void AcceptText(uint32_t lo, uint32_t hi, int32_t k, uint32_t from);

  const CompiledGrammar& g_;
  const TokenizerInfo& info_;
  MaskBuildOptions opts_;
  std::unique_ptr<SetSimulator> own_sim_;
  SetSimulator& sim_;
  std::vector<std::vector<int32_t>> sites_;           // per rule: return states calling it (unique)
  ContextResolver resolver_;
  MemoTable memo_;
  std::vector<Stored> stored_;
  std::vector<std::pair<uint32_t, uint32_t>> stored_ranges_;
  std::vector<int32_t> stored_pops_;
  std::vector<std::unique_ptr<Callee>> building_;  // per Memo nesting level
  size_t building_depth_ = 0;
  std::vector<Deferred> deferred_work_;  // ProcessDeferred's entries, a stack of batches
  // FirstByteKey's interned keys: rows of int64 fields in one pool, found through an
  // open-addressing table (index + 1, 0 empty).
  struct FirstKey {
    uint64_t hash;
    uint32_t offset;
    uint32_t len;
  };
  std::vector<FirstKey> first_keys_;
  std::vector<int64_t> first_key_pool_;
  std::vector<uint32_t> first_key_table_;
  std::vector<int64_t> key_buf_;
  std::vector<FirstByteResult> first_memo_;  // by key (FirstByteKey's ids are dense)
  std::vector<std::pair<uint32_t, uint32_t>> first_accepted_;
  std::vector<StateClassification::Entry> first_uncertain_;
  static constexpr size_t kSnapshots = 4;
  std::vector<Snapshot> snapshots_;
  std::vector<int8_t> text_phase_;   // per set: TextPhase, -2 not yet known
  std::vector<int8_t> text_follow_;  // per rule: TextCannotFollow, -1 not yet known
  // Per (set, pops, class): RunLength, kRunUnknown not yet known.
  static constexpr uint16_t kRunUnknown = 0xFFFF;
  std::vector<uint16_t> run_length_;
  struct RunFrame {
    int32_t set;
    bool pops;
    size_t at;      // its run_length_ slot
    int i;          // the next byte to read (those outside the class are passed over)
    uint32_t rest;  // the least length found after a byte so far
    bool fail;      // some byte of the class is not read on the hot path
  };
  std::vector<RunFrame> run_stack_;
  uint64_t snapshot_clock_ = 0;

  StateClassification* out_ = nullptr;
  std::vector<uint64_t> acc_;
  // Bit w: acc_[w] may be non-zero (set by SetPos / SetRange; ClearRange leaves it). Most states
  // accept a few tokens: clearing, counting and converting them visits these words only.
  std::vector<uint64_t> live_;
  // Calls f(begin, end) for each maximal run of set bits of `bits` within [lo, hi).
  template <typename F>
  static void ForBitRuns(const uint64_t* bits, size_t lo, size_t hi, F&& f) {
    size_t i = lo;
    while (i < hi) {
      const uint64_t set = bits[i >> 6] >> (i & 63);
      if (set == 0) {
        i = (i | 63) + 1;
        continue;
      }
      i += static_cast<size_t>(__builtin_ctzll(set));
      if (i >= hi) break;
      size_t j = i;
      for (;;) {
        const uint64_t clear = ~bits[j >> 6] >> (j & 63);
        if (clear != 0) {
          j += static_cast<size_t>(__builtin_ctzll(clear));
          break;
        }
        j = (j | 63) + 1;
        if (j >= hi) break;
      }
      j = std::min(j, hi);
      f(i, j);
      i = j;
    }
  }
  // Calls f(begin, end) for each maximal run of live words.
  template <typename F>
  static void ForLiveRuns(const std::vector<uint64_t>& live, F&& f) {
    ForBitRuns(live.data(), 0, live.size() * 64, f);
  }
  // Sets bits [lo, hi) of `bits`, a word at a time.
  static void SetBitRange(uint64_t* bits, size_t lo, size_t hi) {
    const size_t a = lo >> 6, b = (hi - 1) >> 6;
    const uint64_t first = ~uint64_t{0} << (lo & 63);
    const uint64_t last = ~uint64_t{0} >> (63 - ((hi - 1) & 63));
    if (a == b) {
      bits[a] |= first & last;
      return;
    }
    bits[a] |= first;
    for (size_t w = a + 1; w < b; ++w) bits[w] = ~uint64_t{0};
    bits[b] |= last;
  }
  // A bitset with a live-word map (as acc_ / live_): zeroes its live words and the map.
  static void ClearLive(std::vector<uint64_t>* bits, std::vector<uint64_t>* live) {
    ForLiveRuns(*live, [&](size_t b, size_t e) { std::fill(&(*bits)[b], &(*bits)[e], 0); });
    std::fill(live->begin(), live->end(), 0);
  }
  // Copies such a bitset into another of the same size, touching only the live words of each.
  static void CopyLive(const std::vector<uint64_t>& bits, const std::vector<uint64_t>& live,
                       std::vector<uint64_t>* to_bits, std::vector<uint64_t>* to_live) {
    ClearLive(to_bits, to_live);
    ForLiveRuns(live, [&](size_t b, size_t e) {
      std::copy(bits.begin() + b, bits.begin() + e, to_bits->begin() + b);
    });
    *to_live = live;
  }
  Target target_{};
  std::vector<Deferred> deferred_;
  std::vector<Layer> layers_;
  std::vector<Thread> threads_;
  std::vector<Event> events_;
  std::vector<RawLive> raw_live_;
  std::vector<Live> extra_live_;  // site threads spawned for the current node's byte
  std::vector<uint8_t> alive_;    // per thread: read every byte so far
  int32_t level0_k_ = 0;          // counted: fewest iterations over level-0 stacks that read it
  std::vector<uint8_t> thread_or_;
  std::vector<uint8_t> thread_limited_;
  std::vector<uint8_t> event_value_;
  std::vector<uint8_t> event_limited_;
  std::vector<int32_t> pending_;
  int64_t nodes_visited_ = 0;
  // A counted target's FOLLOW bytes (zero otherwise): a subtree holding one of them may pop the
  // frame and go on with fewer iterations, so the whole-subtree shortcut does not apply (Walk).
  uint64_t follow_[4] = {0, 0, 0, 0};
  // The last failed scan of a small subtree for loop bytes (Walk): set, mode, target rule when
  // counted (its FOLLOW bytes break scans too), and breaking node.
  int32_t scan_set_ = -1;
  bool scan_raw_ = false;
  RuleId scan_rule_ = -1;
  int32_t scan_break_ = -1;
};

}  // namespace sieve

#endif  // SIEVE_GRAMMAR_MASK_BUILDER_H_
