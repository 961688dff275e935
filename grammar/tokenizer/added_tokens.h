// Added tokens: finding them in text before normalisation and BPE, as the library's
// AddedVocabulary does.
//
// Added tokens (<|eot_id|>, <think>, ...) are matched verbatim in the text and bypass the model.
// Matching is Aho-Corasick LeftmostLongest semantics over all added tokens of one group: scanning
// left to right, the first position where some token starts wins, and among the tokens starting
// there the longest; the scan resumes after it. Two groups exist, as in the library: tokens with
// normalized=false are matched in the raw text, those with normalized=true in each normalized gap
// between the first group's matches (their contents normalized the same way).
//
// After a match is found, the library's find_matches rules apply, in this order: a special token
// is skipped when special tokens are not allowed (it still consumed its text in the automaton, so
// no other token can match inside it); single_word tokens must not touch a word character (\w) on
// either side; lstrip extends the match over the whitespace before it (never into the previous
// match), rstrip over the whitespace after it. The segments cover the text in order.
#ifndef SIEVE_GRAMMAR_TOKENIZER_ADDED_TOKENS_H_
#define SIEVE_GRAMMAR_TOKENIZER_ADDED_TOKENS_H_

#include <cstdint>
#include <string_view>
#include <vector>

#include "grammar/tokenizer/bpe.h"

namespace sieve::tokenizer_internal {

struct AddedTokenRule {
  int32_t id = -1;
  bool special = false;
  bool lstrip = false;
  bool rstrip = false;
  bool single_word = false;
};

// A piece of text: an added token (id >= 0) or a gap to tokenize (id == -1).
struct Segment {
  uint32_t begin;
  uint32_t end;
  int32_t id;
};

class AddedTokenMatcher {
 public:
  // Adds a token to match. A later token with the same content replaces an earlier one. Returns
  // false when the trie would exceed PairMap's 2^20 nodes (about 1 MB of token text).
  bool Add(std::string_view content, const AddedTokenRule& rule);
  bool empty() const { return rules_.empty(); }

  // Appends the segments of `text` to *out (the whole text as one gap when nothing matches; no
  // segment for empty text).
  void Split(std::string_view text, bool allow_special, std::vector<Segment>* out) const;

 private:
  // Leftmost-longest match starting at or after `from`: returns false when none.
  bool NextMatch(std::string_view text, size_t from, size_t* begin, size_t* end,
                 int32_t* rule) const;

  PairMap edges_;                // (node, byte) -> child node
  std::vector<int32_t> accept_;  // node -> rule index, -1 if no token ends here
  std::vector<AddedTokenRule> rules_;
  bool first_byte_[256] = {};
};

}  // namespace sieve::tokenizer_internal

#endif  // SIEVE_GRAMMAR_TOKENIZER_ADDED_TOKENS_H_
