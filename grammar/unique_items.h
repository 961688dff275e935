// uniqueItems at run time: the matcher's check that a JSON array's items are pairwise distinct,
// and likewise that a JSON object's keys are.
//
// No grammar can say "no two items are equal", so the JSON Schema converter emits such an array
// as a rule flagged Rule::unique_items ("[" items "]", never inlined or absorbed) and the matcher
// checks it while the bytes go by. A flagged rule that opens with '{' is an object whose keys are
// the items (any order with too many properties for the grammar to track: json_schema_object.cc);
// below, "array" stands for either and an object's item ends at its key's closing quote. An object
// flagged kUniqueKeysLive (a closed one) must also keep every key prefix completable: where the
// prefix read begins a key already written (KeyPrefixAtRisk), a bounded depth-first search over
// the grammar's next bytes (KeyLive, memoised per object) looks for a completion that is not a
// repeat, and the byte is refused when there is none (a ',' after which every key is written, or
// `"na` when "name" and "names" are); so masks never lead a generator into a dead end there:
//  - a JSON lexer (UniqueState) follows the bytes from the '[' of the first flagged array on and
//    fingerprints every item (ValueHash) under JSON Schema equality: numbers by value (1, 1.0 and
//    1e0 are equal), strings after unescaping ("\u0061" is "a"), objects regardless of member
//    order, arrays item by item;
//  - which '[' opened a flagged array is decided per stack: after the byte is stepped, a stack
//    whose topmost flagged frame has left its start state, with a caller frame no open array
//    already has, opened one. The array is identified by that caller frame (a persistent node, so
//    it lasts while the array is open; the record holds a reference on it);
//  - when an item ends (at the byte after a number, at a string's closing quote, at a literal's
//    last letter, at a container's closing bracket) and equals an earlier item of a flagged array,
//    the stacks that read that array as flagged are dropped before the byte is stepped; other
//    readings (anyOf of a unique and a plain array) live on. No stack left: the byte is rejected;
//  - nesting deeper than kMaxUniqueNesting inside a flagged array is refused (a limit, like the
//    matcher's stack depth);
//  - bytes that are not JSON where the lexer expects JSON end the comparing (the lexer goes idle):
//    a '[' read from idle may sit in a string, and a hand-written flagged rule may not be a JSON
//    array at all. Grammars from the JSON Schema converter never get there.
// Fingerprints are two polynomial hashes modulo 2^61 - 1 with bases drawn at random per process,
// so equal values always collide (never a duplicate let through) and distinct values collide with
// probability ~2^-100 (the only way a valid document could be refused).
//
// Rollback keeps a copy of the (small) lexer state per step; item lists are shared between those
// copies and validated by index (ItemStore), so an item appended on a path that was rolled back
// is ignored. Forks clone the item lists.
//
// What this cannot do: look ahead. An item whose every completion repeats an earlier one (a
// closed enum with more than the converter's 16 values, say) is refused at its end, so a generator
// can be left with no allowed token; finite domains of up to 16 values are enforced by the
// grammar itself instead (json_schema_array.cc).
#ifndef SIEVE_GRAMMAR_UNIQUE_ITEMS_H_
#define SIEVE_GRAMMAR_UNIQUE_ITEMS_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "grammar/pda.h"
#include "grammar/pda_stepper.h"
#include "grammar/stack_pool.h"
#include "grammar/tokenizer/vocabulary.h"

namespace sieve {

struct ValueHash {
  uint64_t a = 0;
  uint64_t b = 0;
  bool operator==(const ValueHash&) const = default;
};

// One flagged array's items. Put(i, h) overwrites slot i, so a store shared by rollback snapshots
// answers Contains(count, h) correctly for each snapshot's own count. The index is open
// addressing over item positions; entries left by overwritten slots are skipped (the item there
// no longer matches) and dropped when the table is rebuilt.
class ItemStore {
 public:
  bool Contains(uint32_t count, const ValueHash& h) const;
  void Put(uint32_t index, const ValueHash& h, std::string text = std::string());
  // Positions below a state's count hold that state's items (rollback only rewrites higher ones).
  const std::vector<ValueHash>& items() const { return items_; }
  // The items' texts where given (a live-checked object's keys); may be shorter than items().
  const std::vector<std::string>& texts() const { return texts_; }
  // A fingerprint of the first `count` items (count <= items().size()): two states with the same
  // count but different items (a rollback, then another item) tell apart.
  uint64_t PrefixHash(uint32_t count) const { return count < prefix_.size() ? prefix_[count] : 0; }

 private:
  void Rebuild(size_t capacity);

  std::vector<ValueHash> items_;
  std::vector<std::string> texts_;
  std::vector<uint64_t> prefix_{0};  // prefix_[i]: of items_[0, i)
  std::vector<uint32_t> slots_;  // position + 1, 0 = empty; size a power of two
  size_t used_ = 0;
};

// A flagged array: the caller frames of the rule frames that opened it, and its items.
struct ArrayRecord {
  ArrayRecord(std::vector<NodeId> callers, StackPool* pool);  // pool: hold references (or null)
  ~ArrayRecord();
  ArrayRecord(const ArrayRecord&) = delete;
  ArrayRecord& operator=(const ArrayRecord&) = delete;

  std::vector<NodeId> callers;  // sorted
  StackPool* pool;
  ItemStore store;
  // KeyLive's answers by (keys written, prefix): a record's keys below a count never change.
  mutable std::unordered_map<uint64_t, bool> live_memo;
};

// The lexer's state: idle (frames empty) until a flagged array opens.
struct UniqueState {
  enum Phase : uint8_t { kValueOrEnd, kValue, kCommaOrEnd, kKeyOrEnd, kKey, kColon };
  enum Scalar : uint8_t { kNone, kString, kEscape, kUnicode, kNumber, kLiteral };
  struct Frame {
    bool object;
    uint8_t phase;
    bool key_string;  // the string being read is this object's key
    int32_t tracked;  // index into `arrays`, or -1
    uint32_t count;
    ValueHash acc;
    ValueHash key;
  };
  struct Tracked {
    std::shared_ptr<ArrayRecord> record;  // null: a speculative array (see pending)
    uint32_t count = 0;                   // items in record->store for this state
    std::vector<ValueHash> pending;       // items seen speculatively (not in the store)
    // A kUniqueKeysLive object: a key being written must stay completable to an unused key.
    bool live = false;
    std::vector<std::string> pending_texts;  // live: pending's keys as text
  };

  std::vector<Frame> frames;
  std::vector<Tracked> arrays;
  uint8_t scalar = kNone;
  uint8_t literal = 0;      // kLiteral: which of true/false/null
  uint8_t literal_pos = 0;  // bytes of it read
  uint8_t unicode_digits = 0;
  uint32_t unicode = 0;
  uint32_t high_surrogate = 0;  // a \uD800-\uDBFF waiting for its low half
  ValueHash str;
  std::string text;  // the decoded bytes of the key being read (or last read)
  std::string number;

  bool idle() const { return frames.empty(); }
  bool in_string() const { return scalar == kString || scalar == kEscape || scalar == kUnicode; }
  void Clear();
};

// What one byte did to the lexer. A byte ends at most two items (a number, then the array it
// closes), so at most two arrays see a repeat.
struct LexEvents {
  std::shared_ptr<ArrayRecord> dups[2];  // flagged arrays that just got a repeated item
  int num_dups = 0;
  bool any_dup = false;  // also counts speculative arrays (no record)
  bool opened = false;   // the byte opened an array (frames.back(), untracked yet)
  bool error = false;    // not JSON where the lexer expected JSON
  bool too_deep = false;  // nesting inside a flagged array passed kMaxUniqueNesting
};

// JSON nesting the check follows inside a flagged array (containers open at once, counted from
// the outermost flagged array). Deeper input is refused as a limit (GrammarMatcher::limit_hit()):
// each step keeps a copy of the open containers for rollback, so unbounded nesting would cost
// time quadratic in the depth.
inline constexpr size_t kMaxUniqueNesting = 1024;

// KeyLive's search: bytes tried in all, and bytes beyond the prefix; past either the prefix counts
// as live (a pathological key language could then still leave a generator without a token).
inline constexpr int kMaxLiveNodes = 4096;
inline constexpr int kMaxLiveDepth = 256;

// Whether the lexer is at a key of a live-checked object (kUniqueKeysLive; a speculative object
// counts as one) whose prefix read so far begins a key the object already has: only then can
// every completion be a repeat.
bool KeyPrefixAtRisk(const UniqueState& st);
// With KeyPrefixAtRisk(st): the keys the object on top has (their texts), sorted.
std::vector<std::string_view> UsedKeyTexts(const UniqueState& st);
// With KeyPrefixAtRisk(st): the key of KeyLive's memo (ArrayRecord::live_memo) for st.
uint64_t LiveMemoKey(const UniqueState& st);
// The live filter's lexer-only look at a token from `st` (left in `scratch`): 0 = it cannot be
// refused, 1 = check it in full (it may end a repeat, or leaves an at-risk key of an object it
// opened), 2 = it leaves an at-risk key (LiveMemoKey(*scratch) may already be answered).
int LexForLiveKeys(const UniqueState& st, std::string_view bytes, UniqueState* scratch);

// Feeds one byte to the lexer. `commit`: items of tracked arrays go to their stores (else to
// `pending`). When idle, only a '[' does anything (it opens an untracked frame: the caller tracks
// it or calls Clear()).
void LexByte(UniqueState* s, uint8_t b, bool commit, LexEvents* ev);

// The run-time check over a CompiledGrammar (only used when grammar.HasUniqueItems()).
class UniqueItemsChecker {
 public:
  explicit UniqueItemsChecker(const CompiledGrammar* g) : g_(g) {}

  // Steps `set` through one byte with the checks. Committed (pool != null): `set` holds pool
  // references (PdaStepper::Commit) and keeps them; the scratch is reset. Speculative (pool ==
  // null): scratch nodes, nothing referenced. False: the byte is rejected (`set` and `st` are
  // then unspecified; committed sets have been released).
  bool Step(PdaStepper* stepper, StackPool* pool, uint8_t b, StackSet* set, UniqueState* st) const;
  // Steps through `bytes`, speculatively; true when the result is a valid prefix.
  bool WouldAccept(PdaStepper* stepper, const StackSet& from, const UniqueState& st,
                   std::string_view bytes, StackSet* scratch_set, UniqueState* scratch) const;
  // Lexer only, from `st` (copied to `scratch`): whether reading `bytes` could end an item that
  // repeats one (containers opened inside `bytes` count as flagged), or leaves a key at risk
  // (KeyPrefixAtRisk). False means the check cannot refuse these bytes.
  static bool MayRepeat(const UniqueState& st, std::string_view bytes, UniqueState* scratch);
  // Gives `st` its own copies of its records (a fork must not share item stores); `done` maps
  // records already cloned, so that snapshots sharing a record keep sharing its clone.
  static void CloneRecords(UniqueState* st, StackPool* pool,
                           std::unordered_map<const ArrayRecord*, std::shared_ptr<ArrayRecord>>* done);

 private:
  bool HasCaller(const PdaStepper& stepper, const Stack& s, const std::vector<NodeId>& callers,
                 uint32_t min_depth) const;
  void Prune(StackPool* pool, const std::vector<NodeId>& callers, const PdaStepper& stepper,
             StackSet* set) const;
  void FindOpened(const PdaStepper& stepper, const StackSet& set, const UniqueState& st,
                  std::vector<NodeId>* out, bool* live) const;
  bool StepImpl(PdaStepper* stepper, StackPool* pool, uint8_t b, StackSet* set, UniqueState* st,
                bool check_live) const;
  // Whether some continuation of `set` closes the key being written (KeyPrefixAtRisk held) as one
  // the object does not have yet (kUniqueKeysLive).
  bool KeyLive(PdaStepper* stepper, const StackSet& set, const UniqueState& st) const;
  bool Flagged(int32_t state) const {
    const CompiledGrammar::RuleInfo& r = g_->rule(g_->rule_of(state));
    return r.unique_items && state != r.start;
  }

  const CompiledGrammar* g_;
};

// Tokens by the bytes they contain, per vocabulary (bit i of word i >> 5), for the mask filter, and
// for tokens holding a '"' the string they end, precomputed: a token read inside a string body (or
// opening one: ws* '"' first) that closes it after L decoded bytes turns the string's hash h into
// h * B^L + pre, so the filter can look the item up without lexing the token.
struct UniqueTokenClasses {
  struct StringEnd {
    bool ok = false;          // the string ends in the token, with no \u escape before the end
    bool rest_quiet = false;  // after the closing quote only whitespace, ',' or ':'
    uint32_t len = 0;         // L: decoded bytes before the closing quote
    ValueHash pre;
    ValueHash pow;            // B^L
  };
  std::vector<uint32_t> quote;    // '"'
  std::vector<uint32_t> events;   // any byte that can end an item: " ] } , whitespace e l
  std::vector<uint32_t> quiet;    // only whitespace, ',' and ':' (they end nothing but a number)
  // Sparse classes as lists of ids: tokens with two or more '"', three or more; and from idle,
  // tokens that open a container and repeat an item in it ('[' then ','; '{' then four '"').
  std::vector<int32_t> quote2_ids;
  std::vector<int32_t> quote3_ids;
  std::vector<int32_t> bracket_ids;
  std::vector<int32_t> comma_ids;        // tokens holding a comma
  std::vector<int32_t> quote_comma_ids;  // ... after a '"' (from inside a string)
  std::vector<uint8_t> quotes;  // per token: its '"' bytes, 3 meaning three or more
  std::vector<int32_t> slot;      // token id -> index into the two tables below, or -1
  std::vector<StringEnd> inside;   // read from inside a string body
  std::vector<StringEnd> opening;  // read where a value or key starts
  // Per table: the tokens whose string end is quiet (ok && rest_quiet) by pre.a, so that a
  // repeat is found from the items (item = base * B^L + pre) instead of token by token; and the
  // other tokens a state of that table must still look at one by one.
  struct ByPre {
    std::unordered_map<uint64_t, std::vector<int32_t>> tokens;
    std::vector<uint32_t> lengths;  // distinct L
    std::vector<ValueHash> pow;     // B^L, by L
  };
  ByPre by_pre[2];
  std::vector<uint32_t> lex[2];  // table 0: quote tokens not in by_pre[0]; table 1: event
                                 // tokens that are neither quiet nor in by_pre[1]
  static std::shared_ptr<const UniqueTokenClasses> For(const std::shared_ptr<const Vocabulary>& v);
};

// Per mask fill: what QuickRepeatCheck needs of the state, worked out once.
struct QuickCheckContext {
  bool active = false;          // frames open
  bool number_repeats = false;  // the number being read repeats an item if it ends now
  // Tokens holding '"': which table (-1: neither, lex them), the string hash they continue, and
  // whether the string they end is an item of a flagged array.
  int table = -1;  // 0: inside, 1: opening
  ValueHash base;
  bool tracked_item = false;
  bool current_item = false;  // the string in progress (any escape state) is an item
  // Every flagged container open is an object: items are keys, which end only at a '"'.
  bool keys_only = false;
  // Some open object is live-checked (kUniqueKeysLive): a token can also be refused for leaving a
  // key that can only end as a repeat (KeyPrefixAtRisk), which takes a ',' unless already there.
  bool live_keys = false;
};
QuickCheckContext PrepareQuickCheck(const UniqueState& st);
// Hash lookups ForEachRepeatingStringEnd would make (items x distinct lengths; 0 when it has
// nothing to do): past a few hundred, looking at the tokens one by one is cheaper.
size_t RepeatLookupCost(const UniqueState& st, const QuickCheckContext& ctx,
                        const UniqueTokenClasses& cls);
// With ctx.table >= 0 and ctx.tracked_item: calls f(id) for every token of by_pre[table] whose
// string end repeats an item of the flagged array on top (the filter's full check decides).
void ForEachRepeatingStringEnd(const UniqueState& st, const QuickCheckContext& ctx,
                               const UniqueTokenClasses& cls,
                               const std::function<void(int32_t)>& f);
// The filter's shortcut for token `id` from `st`: 0 = it cannot end a repeated item, 1 = it ends
// one (the full check decides whether another reading survives), -1 = unknown (lex it).
int QuickRepeatCheck(const UniqueState& st, const QuickCheckContext& ctx,
                     const UniqueTokenClasses& cls, int32_t id);

}  // namespace sieve

#endif  // SIEVE_GRAMMAR_UNIQUE_ITEMS_H_
