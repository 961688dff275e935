// GrammarCache: compiled grammars (automaton + token-mask cache) keyed by content, so compiling the
// same grammar for the same vocabulary twice is a lookup.
//
// A key is a 64-bit content hash of (what was compiled: EBNF text or Grammar IR; the vocabulary's
// fingerprint; every compile option) plus the key material itself, which a hit compares exactly
// (text equality, Grammar::Equals, option bytes, vocabulary fingerprint), so a hash collision is a
// miss, never a wrong grammar. Values are immutable TokenMaskCaches (which own their
// CompiledGrammar and TokenizerInfo) shared with callers through shared_ptr: evicting an entry
// never invalidates a matcher that uses it.
//
// Memory: each entry is charged the mask cache's MemorySize() plus its compiled grammar's; the sum
// stays within `max_bytes` by evicting least-recently-used entries (a lookup counts as a use). An
// entry larger than the whole budget is returned but not kept. TokenizerInfos are built once per
// distinct vocabulary content and kept for the cache's lifetime (they are per-model, not
// per-grammar: 5 MB for a 128k vocabulary), reported separately.
//
// Thread-safe: a mutex guards the maps; compiling happens outside it, so two threads compiling
// different grammars run in parallel (two compiling the same one both compile; one result is
// kept). The optional ThreadPool parallelises each mask-cache build.
//
// Untrusted input: a miss runs the whole pipeline under GrammarCacheOptions::max_compile_ms (one
// deadline from parse to the end of the mask-cache build) and the stage limits in the options;
// ApplyLimits(Limits, GrammarCacheOptions*) (limits.h) sets them all from a server's Limits.
#ifndef SIEVE_GRAMMAR_GRAMMAR_CACHE_H_
#define SIEVE_GRAMMAR_GRAMMAR_CACHE_H_

#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "grammar/ebnf_parser.h"
#include "grammar/grammar.h"
#include "grammar/limits.h"
#include "grammar/mask_cache.h"
#include "grammar/pda.h"
#include "grammar/simplify.h"
#include "grammar/support/status.h"
#include "grammar/thread_pool.h"
#include "grammar/token_trie.h"

namespace sieve {

// (Not compiler.h's GrammarCompileOptions: this one also carries the mask-cache options.)
struct GrammarCacheOptions {
  EbnfOptions ebnf;  // `warnings` is not part of the key
  SimplifyOptions simplify;
  CompileOptions compile;
  MaskCacheOptions mask;
  // Wall-time budget of one compile on a miss: parse, simplify, automaton and mask-cache build
  // (not the vocabulary's TokenizerInfo, built once per vocabulary); <= 0 = unlimited. Over it is
  // kLimit naming max_compile_ms. A deadline already set in simplify/compile/mask wins. Not part
  // of the key (a compile that finishes gives the same result under any budget).
  int64_t max_compile_ms = kDefaultMaxCompileMs;
};

struct GrammarCacheStats {
  int64_t hits = 0;
  int64_t misses = 0;
  int64_t evictions = 0;
  size_t entries = 0;
  size_t bytes = 0;                 // charged to entries
  size_t tokenizer_info_bytes = 0;  // TokenizerInfos kept
};

class GrammarCache {
 public:
  explicit GrammarCache(size_t max_bytes = size_t{512} << 20, ThreadPool* pool = nullptr);
  GrammarCache(const GrammarCache&) = delete;
  GrammarCache& operator=(const GrammarCache&) = delete;

  // Parses, simplifies and compiles `ebnf`, or returns the cached result for the same text,
  // vocabulary contents and options.
  Result<std::shared_ptr<const TokenMaskCache>> GetOrCompileEbnf(
      std::string_view ebnf, const std::shared_ptr<const Vocabulary>& vocab,
      const GrammarCacheOptions& opts = GrammarCacheOptions());
  // Same for a Grammar built by a front end (JSON Schema, regex...); keyed by its structure.
  Result<std::shared_ptr<const TokenMaskCache>> GetOrCompile(
      const Grammar& grammar, const std::shared_ptr<const Vocabulary>& vocab,
      const GrammarCacheOptions& opts = GrammarCacheOptions());
  // The TokenizerInfo for a vocabulary, built on first use per distinct contents.
  Result<std::shared_ptr<const TokenizerInfo>> GetTokenizerInfo(
      const std::shared_ptr<const Vocabulary>& vocab);

  GrammarCacheStats stats() const;
  // Bytes charged to cached grammars (what the budget bounds).
  size_t MemorySize() const;
  size_t max_bytes() const { return max_bytes_; }
  // Shrinks or grows the budget, evicting as needed.
  void set_max_bytes(size_t max_bytes);
  void Clear();

 private:
  struct Entry {
    uint64_t hash;
    std::string text;  // EBNF text, or empty for IR keys
    Grammar ir;        // IR keys only
    bool is_ir = false;
    uint64_t vocab_fingerprint = 0;
    std::string options;  // serialized options
    std::shared_ptr<const TokenMaskCache> value;
    size_t bytes = 0;
  };
  using Lru = std::list<Entry>;

  // The cached value for this key, or null.
  std::shared_ptr<const TokenMaskCache> Lookup(uint64_t hash, std::string_view text,
                                               const Grammar* ir, uint64_t fingerprint,
                                               const std::string& options);
  void Insert(Entry entry);
  // The vocabulary's fingerprint, computed once per vocabulary object.
  uint64_t Fingerprint(const std::shared_ptr<const Vocabulary>& vocab);
  void EvictLocked();
  // Simplify, automaton and mask cache under `deadline` (started before parsing).
  Result<std::shared_ptr<const TokenMaskCache>> Build(const Grammar& parsed,
                                                      std::shared_ptr<const TokenizerInfo> info,
                                                      const GrammarCacheOptions& opts,
                                                      const Deadline& deadline);

  size_t max_bytes_;
  ThreadPool* pool_;
  mutable std::mutex mu_;
  Lru lru_;  // most recent first
  std::unordered_multimap<uint64_t, Lru::iterator> index_;
  size_t bytes_ = 0;
  GrammarCacheStats stats_;
  struct InfoEntry {
    std::weak_ptr<const Vocabulary> vocab;
    std::shared_ptr<const TokenizerInfo> info;
  };
  std::unordered_multimap<uint64_t, InfoEntry> infos_;
  std::unordered_map<const Vocabulary*, std::pair<std::weak_ptr<const Vocabulary>, uint64_t>>
      fingerprints_;
};

// 64-bit structural hash of a Grammar (what Grammar::Equals compares: rules, names, bodies and
// lookaheads as trees, the root; not source offsets).
uint64_t HashGrammar(const Grammar& g);
// The options as bytes, for cache keys.
std::string SerializeOptions(const GrammarCacheOptions& opts);

}  // namespace sieve

#endif  // SIEVE_GRAMMAR_GRAMMAR_CACHE_H_
