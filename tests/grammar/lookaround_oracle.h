// An oracle for lookaround at the anchored ends of a pattern (grammar/regex_lookaround.h), shared
// by the JSON Schema and the regex-grammar tests: RE2 has no lookaround, so the pattern's language
// is evaluated piece by piece (the main pattern, then every assertion, negated ones inverted) over
// every short string of a small alphabet.
#ifndef SIEVE_TESTS_GRAMMAR_LOOKAROUND_ORACLE_H_
#define SIEVE_TESTS_GRAMMAR_LOOKAROUND_ORACLE_H_

#include <gtest/gtest.h>
#include <re2/re2.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "grammar/regex_lookaround.h"

namespace sieve::testing {

// Patterns with lookaround at an anchored end, each with an alphabet (UTF-8 characters) that
// exercises both sides.
struct LookaroundCase {
  const char* pattern;
  const char* alphabet;
};
inline const std::vector<LookaroundCase>& LookaroundCases() {
  static const std::vector<LookaroundCase> cases = {
      {"^(?!all$).*$", "al"},
      {"^(?!-)(?!.*--)[a-z-]{0,4}[a-z]$", "a-"},
      {"^(?=[^!]+$)(?=.*\\w).+$", "a!-"},
      {"^(?!ab|b)[ab]*", "ab"},
      {"^[ab]+(?<!ab)(?<=b)$", "ab"},
      {"(?!x)^x?y", "xy"},
      {"^(?!.*aa).*(?<!b)$", "ab"},
      {"^(?!\xC3\xA9)\\w*\xC3\xA9?$", "a\xC3\xA9"},
  };
  return cases;
}

// Every string of up to `max_len` characters of `alphabet` (UTF-8; characters, not bytes).
inline std::vector<std::string> AllStrings(const std::string& alphabet, int max_len) {
  std::vector<std::string> chars;
  for (size_t i = 0; i < alphabet.size();) {
    size_t n = 1;
    while (i + n < alphabet.size() &&
           (static_cast<unsigned char>(alphabet[i + n]) & 0xC0) == 0x80) {
      ++n;
    }
    chars.push_back(alphabet.substr(i, n));
    i += n;
  }
  std::vector<std::string> out{""};
  for (size_t begin = 0, len = 0; len < static_cast<size_t>(max_len); ++len) {
    const size_t end = out.size();
    for (size_t i = begin; i < end; ++i) {
      for (const std::string& c : chars) out.push_back(out[i] + c);
    }
    begin = end;
  }
  return out;
}

// The pattern's decomposition with an RE2 per piece.
class LookaroundOracle {
 public:
  explicit LookaroundOracle(const std::string& pattern)
      : split_(SplitAnchoredLookarounds(pattern)) {
    if (!split_) return;
    main_ = std::make_unique<RE2>(split_->main);
    for (const AnchoredLookarounds::Part& p : split_->parts) {
      parts_.push_back(std::make_unique<RE2>(p.pattern));
    }
  }
  // The pattern decomposed and every piece is one RE2 compiles.
  bool ok() const {
    if (!split_ || !main_->ok()) return false;
    for (const auto& p : parts_) {
      if (!p->ok()) return false;
    }
    return true;
  }
  // Whether `s` is in the pattern's language (search semantics).
  bool Matches(const std::string& s) const {
    bool want = RE2::PartialMatch(s, *main_);
    for (size_t i = 0; i < parts_.size() && want; ++i) {
      want = RE2::PartialMatch(s, *parts_[i]) != split_->parts[i].negated;
    }
    return want;
  }

 private:
  std::optional<AnchoredLookarounds> split_;
  std::unique_ptr<RE2> main_;
  std::vector<std::unique_ptr<RE2>> parts_;
};

// Every string of up to 6 characters of `c.alphabet`: `accepts` (the grammar under test) must
// agree with the oracle, and both sides must occur (a language of everything or nothing would
// prove little).
template <typename Accepts>
void ExpectOracleLanguage(const LookaroundCase& c, const Accepts& accepts) {
  const LookaroundOracle oracle(c.pattern);
  ASSERT_TRUE(oracle.ok()) << c.pattern;
  int accepted = 0, rejected = 0;
  for (const std::string& s : AllStrings(c.alphabet, 6)) {
    const bool want = oracle.Matches(s);
    EXPECT_EQ(accepts(s), want) << c.pattern << " on '" << s << "'";
    ++(want ? accepted : rejected);
  }
  EXPECT_GT(accepted, 0) << c.pattern;
  EXPECT_GT(rejected, 0) << c.pattern;
}

}  // namespace sieve::testing

#endif  // SIEVE_TESTS_GRAMMAR_LOOKAROUND_ORACLE_H_
