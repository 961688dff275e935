// The token-mask cache in a grammar image (image_io.h, grammar_serialize.h): TokenMaskCache's pools
// as integer arrays, so a process that loads an image skips classifying every token at every state
// (what makes compiling a schema take tens or hundreds of milliseconds).
//
// Layout: the state index, the per-state records (one array per field), the set pools (bitset
// words, id lists), the per-budget set references, the clear counts, the suffix tries (one array
// per node field), the check entries, the closure-shortcut tables and the statistics.
//
// What is read is checked against the automaton and the vocabulary it is loaded for: every set
// reference lies inside its pool (a bitset has exactly the vocabulary's word count and no bit set
// past the last id), every id and check-entry token is a token of the vocabulary, every state
// record's per-budget sets, clear lists, trie nodes and entry ranges lie inside their pools, trie
// subtree ends move forward (so a walk always terminates) and entry ranges are monotone, and the
// shortcut table indexes exist. What the cache derives from the automaton and the vocabulary alone
// (the stack-depth margin, the longest suffix) is recomputed, never read.
//
// Keep in step with TokenMaskCache's members: a member added there and not here loads as its
// default; the image tests compare the masks of a loaded cache with a freshly built one at every
// step of several documents, so such a drift fails them.
#include <algorithm>
#include <string>

#include "grammar/image_io.h"
#include "grammar/mask_cache.h"

namespace sieve {

void WriteTokenMaskCache(const TokenMaskCache& c, ImageWriter* w) {
  using Cache = TokenMaskCache;
  w->Array(c.index_);
  auto write_refs = [&](const std::vector<Cache::SetRef>& refs, auto get) {
    std::vector<uint8_t> form;
    std::vector<uint32_t> offset, size;
    for (size_t i = 0; i < refs.size(); ++i) {
      const Cache::SetRef& r = get(i);
      form.push_back(static_cast<uint8_t>(r.form));
      offset.push_back(r.offset);
      size.push_back(r.size);
    }
    w->Array(form);
    w->Array(offset);
    w->Array(size);
  };
  std::vector<Cache::SetRef> bases;
  for (const Cache::StateMasks& m : c.states_) bases.push_back(m.base);
  write_refs(bases, [&](size_t i) { return bases[i]; });
  auto field = [&](auto member) {
    std::vector<std::decay_t<decltype(c.states_[0].*member)>> v;
    for (const Cache::StateMasks& m : c.states_) v.push_back(m.*member);
    w->Array(v);
  };
  field(&Cache::StateMasks::kmax);
  field(&Cache::StateMasks::dense);
  field(&Cache::StateMasks::levels);
  field(&Cache::StateMasks::clear);
  field(&Cache::StateMasks::gt);
  field(&Cache::StateMasks::nodes);
  field(&Cache::StateMasks::num_nodes);
  field(&Cache::StateMasks::entries);
  field(&Cache::StateMasks::uncertain_tokens);
  w->Array(c.words_);
  w->Array(c.ids_);
  write_refs(c.level_sets_, [&](size_t i) { return c.level_sets_[i]; });
  w->Array(c.gt_);
  std::vector<uint8_t> byte;
  std::vector<uint16_t> depth;
  std::vector<uint32_t> end, entries;
  for (const Cache::SuffixNode& n : c.nodes_) {
    byte.push_back(n.byte);
    depth.push_back(n.depth);
    end.push_back(n.end);
    entries.push_back(n.entries);
  }
  w->Array(byte);
  w->Array(depth);
  w->Array(end);
  w->Array(entries);
  std::vector<int32_t> token, k;
  for (const Cache::CheckEntry& e : c.entries_) {
    token.push_back(e.token);
    k.push_back(e.k);
  }
  w->Array(token);
  w->Array(k);
  w->Array(c.shortcut_index_);
  std::vector<uint64_t> bits;
  for (const auto& b : c.shortcut_bits_) bits.insert(bits.end(), b.begin(), b.end());
  w->Array(bits);
  const MaskCacheStats& s = c.stats_;
  for (int32_t v : {s.states, s.cached_states, s.bitset_sets, s.accept_list_sets,
                    s.reject_list_sets, s.shared_sets, s.max_uncertain_tokens,
                    s.shared_states}) {
    w->I32(v);
  }
  for (int64_t v : {s.accepted, s.uncertain_tokens, s.uncertain_entries, s.trie_nodes_visited}) {
    w->I64(v);
  }
  w->F64(s.build_ms);
}

Result<std::shared_ptr<const TokenMaskCache>> ReadTokenMaskCache(
    ImageReader* r, std::shared_ptr<const CompiledGrammar> grammar,
    std::shared_ptr<const TokenizerInfo> info) {
  using Cache = TokenMaskCache;
  if (grammar == nullptr || info == nullptr) {
    return InvalidArgument("ReadTokenMaskCache needs the automaton and the tokenizer info");
  }
  std::shared_ptr<Cache> c(new Cache());
  c->grammar_ = std::move(grammar);
  c->info_ = std::move(info);
  const CompiledGrammar& g = *c->grammar_;
  const TokenizerInfo& ti = *c->info_;
  const size_t n = static_cast<size_t>(g.num_states());
  const uint64_t vocab = ti.vocab().size();
  const size_t words = ti.words();

  SIEVE_RETURN_IF_ERROR(r->Array(&c->index_, "mask cache state index"));
  if (c->index_.size() != n) return r->Fail("mask cache: state index does not match the automaton");
  auto read_refs = [&](std::vector<Cache::SetRef>* out, const char* what) -> Status {
    std::vector<uint8_t> form;
    std::vector<uint32_t> offset, size;
    SIEVE_RETURN_IF_ERROR(r->Array(&form, what));
    SIEVE_RETURN_IF_ERROR(r->Array(&offset, what));
    SIEVE_RETURN_IF_ERROR(r->Array(&size, what));
    if (offset.size() != form.size() || size.size() != form.size()) {
      return r->Fail(std::string("mask cache: ") + what + " arrays differ");
    }
    out->resize(form.size());
    for (size_t i = 0; i < form.size(); ++i) {
      if (form[i] > Cache::kBitset) return r->Fail("mask cache: bad set form");
      (*out)[i] = {static_cast<Cache::Form>(form[i]), offset[i], size[i]};
    }
    return Status();
  };
  std::vector<Cache::SetRef> bases;
  SIEVE_RETURN_IF_ERROR(read_refs(&bases, "state base sets"));
  const size_t ns = bases.size();
  c->states_.resize(ns);
  for (size_t i = 0; i < ns; ++i) c->states_[i].base = bases[i];
  auto field = [&](auto member, const char* what) -> Status {
    std::vector<std::decay_t<decltype(c->states_[0].*member)>> v;
    SIEVE_RETURN_IF_ERROR(r->Array(&v, what));
    if (v.size() != ns) return r->Fail(std::string("mask cache: ") + what + " count differs");
    for (size_t i = 0; i < ns; ++i) c->states_[i].*member = v[i];
    return Status();
  };
  SIEVE_RETURN_IF_ERROR(field(&Cache::StateMasks::kmax, "state kmax"));
  SIEVE_RETURN_IF_ERROR(field(&Cache::StateMasks::dense, "state dense"));
  SIEVE_RETURN_IF_ERROR(field(&Cache::StateMasks::levels, "state levels"));
  SIEVE_RETURN_IF_ERROR(field(&Cache::StateMasks::clear, "state clear lists"));
  SIEVE_RETURN_IF_ERROR(field(&Cache::StateMasks::gt, "state clear counts"));
  SIEVE_RETURN_IF_ERROR(field(&Cache::StateMasks::nodes, "state tries"));
  SIEVE_RETURN_IF_ERROR(field(&Cache::StateMasks::num_nodes, "state trie sizes"));
  SIEVE_RETURN_IF_ERROR(field(&Cache::StateMasks::entries, "state entries"));
  SIEVE_RETURN_IF_ERROR(field(&Cache::StateMasks::uncertain_tokens, "state uncertain counts"));
  SIEVE_RETURN_IF_ERROR(r->Array(&c->words_, "bitset pool"));
  SIEVE_RETURN_IF_ERROR(r->Array(&c->ids_, "id pool"));
  SIEVE_RETURN_IF_ERROR(read_refs(&c->level_sets_, "per-budget sets"));
  SIEVE_RETURN_IF_ERROR(r->Array(&c->gt_, "clear counts"));
  std::vector<uint8_t> byte;
  std::vector<uint16_t> depth;
  std::vector<uint32_t> end, entries;
  SIEVE_RETURN_IF_ERROR(r->Array(&byte, "trie nodes"));
  SIEVE_RETURN_IF_ERROR(r->Array(&depth, "trie nodes"));
  SIEVE_RETURN_IF_ERROR(r->Array(&end, "trie nodes"));
  SIEVE_RETURN_IF_ERROR(r->Array(&entries, "trie nodes"));
  if (depth.size() != byte.size() || end.size() != byte.size() || entries.size() != byte.size()) {
    return r->Fail("mask cache: trie node arrays differ");
  }
  c->nodes_.resize(byte.size());
  for (size_t i = 0; i < byte.size(); ++i) {
    c->nodes_[i] = {byte[i], depth[i], end[i], entries[i]};
    c->max_suffix_ = std::max<uint32_t>(c->max_suffix_, depth[i]);
  }
  std::vector<int32_t> token, k;
  SIEVE_RETURN_IF_ERROR(r->Array(&token, "check entries"));
  SIEVE_RETURN_IF_ERROR(r->Array(&k, "check entries"));
  if (k.size() != token.size()) return r->Fail("mask cache: check entry arrays differ");
  c->entries_.resize(token.size());
  for (size_t i = 0; i < token.size(); ++i) {
    if (token[i] < 0 || static_cast<uint64_t>(token[i]) >= vocab) {
      return r->Fail("mask cache: check entry names token " + std::to_string(token[i]) +
                     ", not in the vocabulary");
    }
    c->entries_[i] = {token[i], k[i]};
  }
  SIEVE_RETURN_IF_ERROR(r->Array(&c->shortcut_index_, "shortcut index"));
  std::vector<uint64_t> bits;
  SIEVE_RETURN_IF_ERROR(r->Array(&bits, "shortcut sets"));
  if (c->shortcut_index_.size() != n || bits.size() % 8 != 0) {
    return r->Fail("mask cache: shortcut tables do not match the automaton");
  }
  c->shortcut_bits_.resize(bits.size() / 8);
  for (size_t i = 0; i < c->shortcut_bits_.size(); ++i) {
    std::copy(bits.begin() + 8 * i, bits.begin() + 8 * i + 8, c->shortcut_bits_[i].begin());
  }
  MaskCacheStats& s = c->stats_;
  for (int32_t* v : {&s.states, &s.cached_states, &s.bitset_sets, &s.accept_list_sets,
                     &s.reject_list_sets, &s.shared_sets, &s.max_uncertain_tokens,
                     &s.shared_states}) {
    SIEVE_ASSIGN_OR_RETURN(*v, r->I32());
  }
  for (int64_t* v :
       {&s.accepted, &s.uncertain_tokens, &s.uncertain_entries, &s.trie_nodes_visited}) {
    SIEVE_ASSIGN_OR_RETURN(*v, r->I64());
  }
  SIEVE_ASSIGN_OR_RETURN(s.build_ms, r->F64());

  // ---- cross-checks ----
  for (const int32_t id : c->ids_) {
    if (id < 0 || static_cast<uint64_t>(id) >= vocab) {
      return r->Fail("mask cache: id list names token " + std::to_string(id) +
                     ", not in the vocabulary");
    }
  }
  if (words == 0 || c->words_.size() % words != 0) {
    return r->Fail("mask cache: bitset pool is not a whole number of rows");
  }
  const uint32_t tail = vocab % 32 == 0 ? 0 : ~((uint32_t{1} << (vocab % 32)) - 1);
  for (size_t at = words - 1; tail != 0 && at < c->words_.size(); at += words) {
    if (c->words_[at] & tail) return r->Fail("mask cache: a bitset allows ids past the vocabulary");
  }
  auto ref_ok = [&](const Cache::SetRef& ref) {
    if (ref.form == Cache::kBitset) {
      return ref.offset % words == 0 && uint64_t{ref.offset} + words <= c->words_.size();
    }
    return uint64_t{ref.offset} + ref.size <= c->ids_.size();
  };
  for (const Cache::SetRef& ref : c->level_sets_) {
    if (!ref_ok(ref)) return r->Fail("mask cache: a per-budget set lies outside its pool");
  }
  for (size_t st = 0; st < n; ++st) {
    const int32_t i = c->index_[st];
    if (i == -1) continue;
    if (i < 0 || static_cast<size_t>(i) >= ns ||
        !(g.flags(static_cast<int32_t>(st)) & CompiledGrammar::kHasBytes)) {
      return r->Fail("mask cache: bad entry for state " + std::to_string(st));
    }
  }
  for (size_t i = 0; i < ns; ++i) {
    const Cache::StateMasks& m = c->states_[i];
    const std::string which = "mask cache: state record " + std::to_string(i);
    if (!ref_ok(m.base)) return r->Fail(which + ": base set lies outside its pool");
    if (m.kmax < 0 || m.dense < 0 || m.dense > m.kmax ||
        uint64_t{m.levels} + static_cast<uint64_t>(m.dense) > c->level_sets_.size() ||
        uint64_t{m.gt} + static_cast<uint64_t>(m.kmax - m.dense) > c->gt_.size()) {
      return r->Fail(which + ": bad counted-state tables");
    }
    for (int32_t b = 0; b < m.kmax - m.dense; ++b) {
      if (uint64_t{m.clear} + c->gt_[m.gt + b] > c->ids_.size()) {
        return r->Fail(which + ": clear list lies outside the id pool");
      }
    }
    if (m.num_nodes == 0) continue;
    if (uint64_t{m.nodes} + m.num_nodes + 1 > c->nodes_.size()) {
      return r->Fail(which + ": suffix trie lies outside the node pool");
    }
    const Cache::SuffixNode* nodes = c->nodes_.data() + m.nodes;
    for (uint32_t j = 0; j < m.num_nodes; ++j) {
      if (nodes[j].entries > nodes[j + 1].entries ||
          (j > 0 && (nodes[j].depth == 0 || nodes[j].end <= j || nodes[j].end > m.num_nodes))) {
        return r->Fail(which + ": bad suffix trie node " + std::to_string(j));
      }
    }
    if (uint64_t{m.entries} + nodes[m.num_nodes].entries > c->entries_.size()) {
      return r->Fail(which + ": check entries lie outside their pool");
    }
  }
  for (const int32_t x : c->shortcut_index_) {
    if (x < -2 || (x >= 0 && static_cast<size_t>(x) >= c->shortcut_bits_.size())) {
      return r->Fail("mask cache: bad shortcut index");
    }
  }
  c->depth_margin_ =
      (ti.max_token_length() + 2) * static_cast<uint32_t>(g.max_closure_pushes()) + 2;
  s.memory_bytes = c->MemorySize();
  return std::shared_ptr<const TokenMaskCache>(std::move(c));
}

}  // namespace sieve
