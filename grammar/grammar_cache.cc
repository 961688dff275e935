// GrammarCache (see grammar_cache.h): an LRU list of entries with a hash index, plus the
// per-vocabulary TokenizerInfos.
#include "grammar/grammar_cache.h"

#include <utility>

#include "grammar/content_hash.h"

namespace sieve {
namespace {

void AddExpr(const Grammar& g, ExprId root, ContentHasher* h) {
  if (root == kNoExpr) {
    h->AddU64(0xFFFF);
    return;
  }
  std::vector<ExprId> stack{root};
  while (!stack.empty()) {
    const Expr& e = g.expr(stack.back());
    stack.pop_back();
    h->AddU64(static_cast<uint64_t>(e.kind));
    switch (e.kind) {
      case ExprKind::kEmpty:
        break;
      case ExprKind::kBytes:
        h->Add(g.bytes(e));
        break;
      case ExprKind::kCharClass:
        for (const CodepointRange& r : g.ranges(e)) h->AddU64((uint64_t{r.lo} << 32) | r.hi);
        break;
      case ExprKind::kRuleRef:
        h->AddU64(static_cast<uint32_t>(e.rule));
        break;
      case ExprKind::kRepeat:
        h->AddU64((static_cast<uint64_t>(static_cast<uint32_t>(e.min)) << 32) |
                  static_cast<uint32_t>(e.max));
        [[fallthrough]];
      case ExprKind::kSequence:
      case ExprKind::kChoice: {
        const std::span<const ExprId> kids = g.children(e);
        h->AddU64(kids.size());
        for (size_t i = kids.size(); i-- > 0;) stack.push_back(kids[i]);
        break;
      }
    }
  }
}

template <typename T>
void Put(std::string* out, const T& v) {
  out->append(reinterpret_cast<const char*>(&v), sizeof(v));
}

}  // namespace

uint64_t HashGrammar(const Grammar& g) {
  ContentHasher h(0x6772616d6d6172ull);
  h.AddU64(static_cast<uint32_t>(g.root()));
  h.AddU64(g.num_rules());
  for (size_t r = 0; r < g.num_rules(); ++r) {
    const Rule& rule = g.rule(static_cast<RuleId>(r));
    h.Add(rule.name);
    AddExpr(g, rule.body, &h);
    AddExpr(g, rule.lookahead, &h);
  }
  return h.Finish();
}

std::string SerializeOptions(const GrammarCacheOptions& o) {
  std::string s;
  s.append(o.ebnf.root).push_back('\0');
  Put(&s, o.ebnf.max_text_bytes);
  Put(&s, o.ebnf.max_nesting_depth);
  Put(&s, o.ebnf.max_rules);
  Put(&s, o.ebnf.max_repeat_bound);
  Put(&s, o.simplify.inline_rules);
  Put(&s, o.simplify.inline_max_nodes);
  Put(&s, o.simplify.inline_max_depth);
  Put(&s, o.simplify.dedupe_rules);
  Put(&s, o.simplify.rewrite_left_recursion);
  Put(&s, o.simplify.max_left_recursion_nodes);
  Put(&s, o.simplify.max_expr_depth);
  const CompileOptions& c = o.compile;
  Put(&s, c.max_unroll_copies);
  Put(&s, c.max_unroll_weight);
  Put(&s, c.max_unroll_byte_class_copies);
  Put(&s, c.max_grammar_exprs);
  Put(&s, c.max_nfa_states);
  Put(&s, c.max_rule_states);
  Put(&s, c.max_states);
  Put(&s, c.max_expr_depth);
  Put(&s, c.dense_row_min_edges);
  Put(&s, c.max_dense_row_bytes);
  Put(&s, c.ignore_lookahead);
  Put(&s, o.mask.build.context_levels);
  Put(&s, o.mask.build.max_return_sites);
  Put(&s, o.mask.max_bytes);
  Put(&s, o.mask.counted_clear_limit);
  return s;
}

GrammarCache::GrammarCache(size_t max_bytes, ThreadPool* pool)
    : max_bytes_(max_bytes), pool_(pool) {}

uint64_t GrammarCache::Fingerprint(const std::shared_ptr<const Vocabulary>& vocab) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = fingerprints_.find(vocab.get());
    // The weak pointer tells a live vocabulary from a new one at a reused address.
    if (it != fingerprints_.end() && it->second.first.lock() == vocab) return it->second.second;
  }
  const uint64_t fp = VocabularyFingerprint(*vocab);
  std::lock_guard<std::mutex> lock(mu_);
  fingerprints_[vocab.get()] = {vocab, fp};
  return fp;
}

Result<std::shared_ptr<const TokenizerInfo>> GrammarCache::GetTokenizerInfo(
    const std::shared_ptr<const Vocabulary>& vocab) {
  if (vocab == nullptr) return InvalidArgument("GrammarCache needs a vocabulary");
  const uint64_t fp = Fingerprint(vocab);
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto [lo, hi] = infos_.equal_range(fp);
    for (auto it = lo; it != hi; ++it) {
      const std::shared_ptr<const Vocabulary> known = it->second.vocab.lock();
      const Vocabulary& other = it->second.info->vocab();
      // Same object, or same contents (the fingerprint matched; confirm byte for byte).
      bool same = known == vocab;
      if (!same && other.size() == vocab->size() && other.kind() == vocab->kind()) {
        same = true;
        for (size_t i = 0; i < other.size() && same; ++i) {
          const auto id = static_cast<int32_t>(i);
          same =
              other.Flags(id) == vocab->Flags(id) && other.TokenBytes(id) == vocab->TokenBytes(id);
        }
      }
      if (same) return it->second.info;
    }
  }
  SIEVE_ASSIGN_OR_RETURN(std::shared_ptr<const TokenizerInfo> info, TokenizerInfo::Build(vocab));
  TokenMaskCache::PrepareTokenizerInfo(*info);
  std::lock_guard<std::mutex> lock(mu_);
  infos_.emplace(fp, InfoEntry{vocab, info});
  stats_.tokenizer_info_bytes += info->MemorySize();
  return info;
}

std::shared_ptr<const TokenMaskCache> GrammarCache::Lookup(uint64_t hash, std::string_view text,
                                                           const Grammar* ir, uint64_t fingerprint,
                                                           const std::string& options) {
  std::lock_guard<std::mutex> lock(mu_);
  auto [lo, hi] = index_.equal_range(hash);
  for (auto it = lo; it != hi; ++it) {
    Entry& e = *it->second;
    if (e.vocab_fingerprint != fingerprint || e.options != options) continue;
    if (ir != nullptr ? !(e.is_ir && e.ir.Equals(*ir)) : (e.is_ir || e.text != text)) continue;
    lru_.splice(lru_.begin(), lru_, it->second);  // most recently used
    ++stats_.hits;
    return e.value;
  }
  ++stats_.misses;
  return nullptr;
}

void GrammarCache::Insert(Entry entry) {
  std::lock_guard<std::mutex> lock(mu_);
  if (entry.bytes > max_bytes_) return;  // larger than the whole budget: not kept
  auto [lo, hi] = index_.equal_range(entry.hash);
  for (auto it = lo; it != hi; ++it) {  // another thread compiled it meanwhile
    const Entry& e = *it->second;
    if (e.vocab_fingerprint == entry.vocab_fingerprint && e.options == entry.options &&
        e.is_ir == entry.is_ir && e.text == entry.text && (!e.is_ir || e.ir.Equals(entry.ir))) {
      return;
    }
  }
  bytes_ += entry.bytes;
  const uint64_t hash = entry.hash;
  lru_.push_front(std::move(entry));
  index_.emplace(hash, lru_.begin());
  EvictLocked();
}

void GrammarCache::EvictLocked() {
  while (bytes_ > max_bytes_ && !lru_.empty()) {
    auto last = std::prev(lru_.end());
    auto [lo, hi] = index_.equal_range(last->hash);
    for (auto it = lo; it != hi; ++it) {
      if (it->second == last) {
        index_.erase(it);
        break;
      }
    }
    bytes_ -= last->bytes;
    lru_.erase(last);
    ++stats_.evictions;
  }
}

Result<std::shared_ptr<const TokenMaskCache>> GrammarCache::Build(
    const Grammar& parsed, std::shared_ptr<const TokenizerInfo> info,
    const GrammarCacheOptions& opts, const Deadline& deadline) {
  SimplifyOptions so = opts.simplify;
  if (!so.deadline.active()) so.deadline = deadline;
  CompileOptions co = opts.compile;
  if (!co.deadline.active()) co.deadline = deadline;
  MaskCacheOptions mo = opts.mask;
  if (!mo.deadline.active()) mo.deadline = deadline;
  SIEVE_ASSIGN_OR_RETURN(Grammar simple, Simplify(parsed, so));
  SIEVE_ASSIGN_OR_RETURN(std::shared_ptr<const CompiledGrammar> compiled,
                         CompileGrammar(simple, co));
  return TokenMaskCache::Build(std::move(compiled), std::move(info), mo, pool_);
}

Result<std::shared_ptr<const TokenMaskCache>> GrammarCache::GetOrCompileEbnf(
    std::string_view ebnf, const std::shared_ptr<const Vocabulary>& vocab,
    const GrammarCacheOptions& opts) {
  if (vocab == nullptr) return InvalidArgument("GrammarCache needs a vocabulary");
  const uint64_t fp = Fingerprint(vocab);
  const std::string options = SerializeOptions(opts);
  ContentHasher h(0x65626e66ull);
  h.Add(ebnf);
  h.AddU64(fp);
  h.Add(options);
  const uint64_t hash = h.Finish();
  if (auto hit = Lookup(hash, ebnf, nullptr, fp, options)) return hit;
  SIEVE_ASSIGN_OR_RETURN(std::shared_ptr<const TokenizerInfo> info, GetTokenizerInfo(vocab));
  const Deadline deadline = Deadline::AfterMs(opts.max_compile_ms);
  EbnfOptions eo = opts.ebnf;
  eo.warnings = nullptr;
  SIEVE_ASSIGN_OR_RETURN(Grammar parsed, ParseEbnf(ebnf, eo));
  SIEVE_ASSIGN_OR_RETURN(std::shared_ptr<const TokenMaskCache> value,
                         Build(parsed, std::move(info), opts, deadline));
  Entry e;
  e.hash = hash;
  e.text = std::string(ebnf);
  e.vocab_fingerprint = fp;
  e.options = options;
  e.bytes = value->MemorySize() + value->grammar()->MemorySize() + e.text.capacity();
  e.value = value;
  Insert(std::move(e));
  return value;
}

Result<std::shared_ptr<const TokenMaskCache>> GrammarCache::GetOrCompile(
    const Grammar& grammar, const std::shared_ptr<const Vocabulary>& vocab,
    const GrammarCacheOptions& opts) {
  if (vocab == nullptr) return InvalidArgument("GrammarCache needs a vocabulary");
  const uint64_t fp = Fingerprint(vocab);
  const std::string options = SerializeOptions(opts);
  ContentHasher h(0x6972ull);
  h.AddU64(HashGrammar(grammar));
  h.AddU64(fp);
  h.Add(options);
  const uint64_t hash = h.Finish();
  if (auto hit = Lookup(hash, {}, &grammar, fp, options)) return hit;
  SIEVE_ASSIGN_OR_RETURN(std::shared_ptr<const TokenizerInfo> info, GetTokenizerInfo(vocab));
  SIEVE_ASSIGN_OR_RETURN(
      std::shared_ptr<const TokenMaskCache> value,
      Build(grammar, std::move(info), opts, Deadline::AfterMs(opts.max_compile_ms)));
  Entry e;
  e.hash = hash;
  e.ir = grammar;
  e.is_ir = true;
  e.vocab_fingerprint = fp;
  e.options = options;
  e.bytes = value->MemorySize() + value->grammar()->MemorySize() + grammar.MemorySize();
  e.value = value;
  Insert(std::move(e));
  return value;
}

GrammarCacheStats GrammarCache::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  GrammarCacheStats s = stats_;
  s.entries = lru_.size();
  s.bytes = bytes_;
  return s;
}

size_t GrammarCache::MemorySize() const {
  std::lock_guard<std::mutex> lock(mu_);
  return bytes_;
}

void GrammarCache::set_max_bytes(size_t max_bytes) {
  std::lock_guard<std::mutex> lock(mu_);
  max_bytes_ = max_bytes;
  EvictLocked();
}

void GrammarCache::Clear() {
  std::lock_guard<std::mutex> lock(mu_);
  lru_.clear();
  index_.clear();
  bytes_ = 0;
}

}  // namespace sieve
