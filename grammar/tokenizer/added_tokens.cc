// Added-token matching: a byte trie walked from each candidate start (see added_tokens.h).
//
// The trie's edges live in a PairMap keyed by (node, byte); node 0 is the root. A table of bytes
// that start some token lets the scan skip most positions without touching the trie. Worst case
// is O(text * longest token), fine for the few hundred short tokens real tokenizers add.
#include "grammar/tokenizer/added_tokens.h"

#include <algorithm>

#include "grammar/support/unicode.h"
#include "grammar/support/utf8.h"

namespace sieve::tokenizer_internal {
namespace {

// Rust regex \w: Alphabetic | M | Nd | Pc | Join_Control, approximated by categories.
bool IsWordChar(char32_t cp) {
  if (cp == 0x200C || cp == 0x200D) return true;
  using unicode::Category;
  const Category c = unicode::GetCategory(cp);
  return unicode::IsLetter(cp) || unicode::IsMark(cp) || c == Category::kNd || c == Category::kNl ||
         c == Category::kPc;
}

// The code point ending at text[end) (decoding backwards), or -1 for none / ill-formed.
int64_t LastCodePoint(std::string_view text, size_t end, size_t* start) {
  if (end == 0) return -1;
  size_t b = end - 1;
  while (b > 0 && end - b < 4 && (static_cast<uint8_t>(text[b]) & 0xC0) == 0x80) --b;
  char32_t cp;
  const int len = DecodeUtf8(reinterpret_cast<const uint8_t*>(text.data()) + b, end - b, &cp);
  if (len <= 0 || b + static_cast<size_t>(len) != end) {
    *start = end - 1;
    return -1;
  }
  *start = b;
  return cp;
}

int64_t FirstCodePoint(std::string_view text, size_t begin, size_t* next) {
  if (begin >= text.size()) return -1;
  char32_t cp;
  const int len =
      DecodeUtf8(reinterpret_cast<const uint8_t*>(text.data()) + begin, text.size() - begin, &cp);
  if (len <= 0) {
    *next = begin + 1;
    return -1;
  }
  *next = begin + static_cast<size_t>(len);
  return cp;
}

}  // namespace

bool AddedTokenMatcher::Add(std::string_view content, const AddedTokenRule& rule) {
  if (content.empty()) return true;
  if (accept_.size() + content.size() > PairMap::kMaxKey) return false;
  if (accept_.empty()) accept_.push_back(-1);  // the root
  int32_t node = 0;
  for (char ch : content) {
    const uint8_t b = static_cast<uint8_t>(ch);
    const uint32_t next = edges_.Find(static_cast<uint32_t>(node), b);
    if (next != PairMap::kNotFound) {
      node = static_cast<int32_t>(next);
      continue;
    }
    const int32_t child = static_cast<int32_t>(accept_.size());
    accept_.push_back(-1);
    edges_.Insert(static_cast<uint32_t>(node), b, static_cast<uint32_t>(child));
    node = child;
  }
  first_byte_[static_cast<uint8_t>(content[0])] = true;
  if (accept_[node] >= 0) {
    rules_[accept_[node]] = rule;
  } else {
    accept_[node] = static_cast<int32_t>(rules_.size());
    rules_.push_back(rule);
  }
  return true;
}

bool AddedTokenMatcher::NextMatch(std::string_view text, size_t from, size_t* begin, size_t* end,
                                  int32_t* rule) const {
  const size_t n = text.size();
  for (size_t i = from; i < n; ++i) {
    if (!first_byte_[static_cast<uint8_t>(text[i])]) continue;
    int32_t node = 0;
    int32_t best = -1;
    size_t best_end = 0;
    for (size_t j = i; j < n; ++j) {
      const uint32_t next = edges_.Find(static_cast<uint32_t>(node), static_cast<uint8_t>(text[j]));
      if (next == PairMap::kNotFound) break;
      node = static_cast<int32_t>(next);
      if (accept_[node] >= 0) {
        best = accept_[node];
        best_end = j + 1;
      }
    }
    if (best >= 0) {
      *begin = i;
      *end = best_end;
      *rule = best;
      return true;
    }
  }
  return false;
}

void AddedTokenMatcher::Split(std::string_view text, bool allow_special,
                              std::vector<Segment>* out) const {
  if (text.empty()) return;
  size_t start_offset = 0;  // end of the last emitted segment
  size_t from = 0;          // where the automaton resumes
  size_t mb = 0;
  size_t me = 0;
  int32_t ri = -1;
  while (!rules_.empty() && NextMatch(text, from, &mb, &me, &ri)) {
    from = me;
    const AddedTokenRule& rule = rules_[ri];
    if (rule.special && !allow_special) continue;
    // A match inside the previous token's rstrip whitespace would overlap it: sieve drops it
    // (the library would emit overlapping pieces).
    if (mb < start_offset) continue;
    size_t start = mb;
    size_t stop = me;
    if (rule.single_word) {
      size_t unused;
      const int64_t before = LastCodePoint(text, start, &unused);
      const int64_t after = FirstCodePoint(text, stop, &unused);
      const bool start_ok = start == 0 || before < 0 || !IsWordChar(static_cast<char32_t>(before));
      const bool stop_ok =
          stop == text.size() || after < 0 || !IsWordChar(static_cast<char32_t>(after));
      if (!start_ok || !stop_ok) continue;
    }
    if (rule.lstrip) {
      size_t s = start;
      size_t prev;
      while (s > 0) {
        const int64_t cp = LastCodePoint(text, s, &prev);
        if (cp < 0 || !unicode::IsWhiteSpace(static_cast<char32_t>(cp))) break;
        s = prev;
      }
      start = std::max(s, start_offset);  // never into the previous match
    }
    if (rule.rstrip) {
      size_t next;
      while (stop < text.size()) {
        const int64_t cp = FirstCodePoint(text, stop, &next);
        if (cp < 0 || !unicode::IsWhiteSpace(static_cast<char32_t>(cp))) break;
        stop = next;
      }
    }
    if (start_offset < start) {
      out->push_back({static_cast<uint32_t>(start_offset), static_cast<uint32_t>(start), -1});
    }
    out->push_back({static_cast<uint32_t>(start), static_cast<uint32_t>(stop), rule.id});
    start_offset = stop;
  }
  if (start_offset < text.size()) {
    out->push_back({static_cast<uint32_t>(start_offset), static_cast<uint32_t>(text.size()), -1});
  }
}

}  // namespace sieve::tokenizer_internal
