// TokenBindings (structural_tag_tokens.h).
#include "grammar/structural_tag_tokens.h"

#include <algorithm>
#include <string_view>
#include <unordered_map>

namespace sieve {

namespace {

// A token that grammars may name by its text: special or added, not padding.
bool Nameable(const Vocabulary& vocab, int32_t t) {
  return (vocab.Flags(t) & (kTokenSpecial | kTokenAdded)) && !vocab.IsPadding(t);
}

}  // namespace

int32_t FindNamedToken(const Vocabulary& vocab, std::string_view text) {
  for (size_t i = 0; i < vocab.size(); ++i) {
    const auto t = static_cast<int32_t>(i);
    if (Nameable(vocab, t) && vocab.TokenBytes(t) == text) return t;
  }
  return -1;
}

Result<std::vector<TokenBinding>> BindTokenRefs(const std::vector<EbnfTokenRef>& refs,
                                                const Vocabulary& vocab, std::string_view text) {
  std::vector<TokenBinding> out;
  // The special and added tokens by text, once (a scan of the vocabulary per reference would be
  // 256 scans of 100k+ ids at most).
  std::unordered_map<std::string_view, int32_t> named;
  if (std::any_of(refs.begin(), refs.end(), [](const EbnfTokenRef& r) { return r.id < 0; })) {
    for (size_t i = 0; i < vocab.size(); ++i) {
      const auto t = static_cast<int32_t>(i);
      // The first of equal texts, as FindNamedToken.
      if (Nameable(vocab, t)) named.emplace(vocab.TokenBytes(t), t);
    }
  }
  for (const EbnfTokenRef& r : refs) {
    auto at = [&](std::string message) {
      Status st = InvalidArgument(std::move(message));
      st.WithOffset(r.offset);
      if (!text.empty()) {
        int line = 0, column = 0;
        OffsetToLineColumn(text, static_cast<size_t>(r.offset), &line, &column);
        st.WithLineColumn(line, column);
      }
      return st;
    };
    TokenBinding b;
    b.sentinel = r.sentinel;
    if (r.id >= 0) {
      b.id = r.id;
      b.text = "<[" + std::to_string(r.id) + "]>";
      if (static_cast<size_t>(r.id) >= vocab.size() || vocab.IsPadding(r.id)) {
        return at("token " + b.text + " is not a token of the vocabulary (" +
                  std::to_string(vocab.size()) + " ids)");
      }
    } else {
      const auto it = named.find(r.text);
      b.id = it == named.end() ? -1 : it->second;
      b.text = r.text;
      if (b.id < 0) {
        return at("the vocabulary has no special or added token \"" + r.text + "\"");
      }
    }
    for (const TokenBinding& o : out) {
      if (o.id == b.id) {
        return at("token references " + o.text + " and " + b.text + " name the same token (id " +
                  std::to_string(b.id) + ")");
      }
    }
    out.push_back(std::move(b));
  }
  return out;
}

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
