// TokenBindings: the run-time side of token pieces in structural tags (structural_tag.h).
//
// The grammar stands for a bound token (a special or added token named in a marker) by a sentinel
// code point in U+10FF00..U+10FFFF. At run time:
//  - accepting a bound token id feeds its sentinel's bytes instead of the token's text;
//  - a bound id is allowed in the mask exactly when the matcher accepts its sentinel (whatever
//    its text would do: in free text, DeepSeek's <｜tool▁sep｜> is not text);
//  - every other token whose bytes hold 0xF4 (the lead byte of U+100000..U+10FFFF, supplementary
//    private use area B) is never allowed, so no token sequence can spell a sentinel. Raw strings
//    holding 0xF4 are refused too. This is the one narrowing, and it applies only to grammars with
//    token pieces;
//  - jump-forward strings stop before a sentinel (a token, not text, comes next).
// Immutable after construction; shared by a grammar's matchers across threads.
#ifndef SIEVE_GRAMMAR_STRUCTURAL_TAG_TOKENS_H_
#define SIEVE_GRAMMAR_STRUCTURAL_TAG_TOKENS_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "grammar/ebnf_parser.h"
#include "grammar/matcher.h"
#include "grammar/structural_tag.h"
#include "grammar/tokenizer/vocabulary.h"

namespace sieve {

// The special or added token whose text is exactly `text` (never padding), or -1.
int32_t FindNamedToken(const Vocabulary& vocab, std::string_view text);

// Binds an EBNF grammar's token references (ebnf_parser.h) to `vocab`: <[id]> must be a token of
// the vocabulary that is not padding, <text> a special or added token with exactly that text.
// kInvalidArgument with the reference's byte offset (and line:column in `text`, the grammar's
// text, when given) otherwise.
Result<std::vector<TokenBinding>> BindTokenRefs(const std::vector<EbnfTokenRef>& refs,
                                                const Vocabulary& vocab,
                                                std::string_view text = {});

class TokenBindings {
 public:
  TokenBindings(std::vector<TokenBinding> bindings, const Vocabulary& vocab);

  const std::vector<TokenBinding>& bindings() const { return bindings_; }
  // The sentinel bytes of a bound id, or null.
  const std::string* SentinelFor(int32_t id) const;
  // A normal token that could spell part of a sentinel (holds byte 0xF4).
  bool Forbidden(int32_t id) const;
  // Accepts token `id` through its sentinel when bound; rejects forbidden ids; else AcceptToken.
  bool AcceptToken(GrammarMatcher* m, int32_t id) const;
  static bool StringAllowed(std::string_view bytes) { return bytes.find('\xF4') == bytes.npos; }
  // Clears forbidden ids and sets bound ids whose sentinel the matcher accepts.
  void FixMask(const GrammarMatcher& m, uint32_t* mask, size_t words) const;
  // Cuts `s` before the first sentinel byte.
  static void TrimJumpForward(std::string* s);

 private:
  std::vector<TokenBinding> bindings_;
  std::unordered_map<int32_t, size_t> by_id_;
  std::vector<int32_t> forbidden_;  // sorted
};

}  // namespace sieve

#endif  // SIEVE_GRAMMAR_STRUCTURAL_TAG_TOKENS_H_
