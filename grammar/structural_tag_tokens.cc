// TokenBindings (structural_tag_tokens.h).
#include "grammar/structural_tag_tokens.h"

#include <algorithm>

namespace sieve {

TokenBindings::TokenBindings(std::vector<TokenBinding> bindings, const Vocabulary& vocab)
    : bindings_(std::move(bindings)) {
  for (size_t i = 0; i < bindings_.size(); ++i) by_id_[bindings_[i].id] = i;
  for (size_t i = 0; i < vocab.size(); ++i) {
    const auto id = static_cast<int32_t>(i);
    if (vocab.IsPadding(id) || by_id_.count(id)) continue;
    if (!StringAllowed(vocab.TokenBytes(id))) forbidden_.push_back(id);
  }
}

const std::string* TokenBindings::SentinelFor(int32_t id) const {
  auto it = by_id_.find(id);
  return it == by_id_.end() ? nullptr : &bindings_[it->second].sentinel;
}

bool TokenBindings::Forbidden(int32_t id) const {
  return std::binary_search(forbidden_.begin(), forbidden_.end(), id);
}

bool TokenBindings::AcceptToken(GrammarMatcher* m, int32_t id) const {
  if (m->IsTerminated()) return false;
  if (const std::string* s = SentinelFor(id)) return m->AcceptString(*s);
  if (Forbidden(id)) return false;
  return m->AcceptToken(id);
}

void TokenBindings::FixMask(const GrammarMatcher& m, uint32_t* mask, size_t words) const {
  auto set = [&](int32_t id, bool on) {
    const size_t w = static_cast<size_t>(id) >> 5;
    if (w >= words) return;
    if (on) {
      mask[w] |= 1u << (id & 31);
    } else {
      mask[w] &= ~(1u << (id & 31));
    }
  };
  for (int32_t id : forbidden_) set(id, false);
  const bool may_start = !m.IsTerminated() && m.NextBytes()[0xF4];
  if (!may_start) {
    for (const TokenBinding& b : bindings_) set(b.id, false);
    return;
  }
  GrammarMatcher probe = m.Fork();  // one fork, each sentinel tried and rolled back
  for (const TokenBinding& b : bindings_) {
    const bool ok = probe.AcceptString(b.sentinel);
    if (ok) probe.Rollback(1);
    set(b.id, ok);
  }
}

void TokenBindings::TrimJumpForward(std::string* s) {
  const size_t i = s->find('\xF4');
  if (i != std::string::npos) s->resize(i);
}

}  // namespace sieve
