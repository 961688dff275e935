// Lookaround anywhere in a pattern (grammar/regex_lookaround_dfa.h) against an independent oracle:
// a small evaluator of ECMA-262 patterns over sets of positions, written here from the
// specification's meaning (no automata): each node maps a start position to the set of positions
// where it can end, a lookahead holds where its pattern can match from there, a lookbehind where it
// can match up to there, and a pattern (search semantics) matches a string when it can match
// anywhere in it. Every string of up to 6 characters of a small alphabet must get the same verdict
// from the oracle, from RegexToGrammar (`sieve regex`, `--regex` grammars) and from a JSON Schema
// `pattern`.
#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "grammar/compiler.h"
#include "grammar/matcher.h"
#include "grammar/regex_lookaround_dfa.h"
#include "grammar/regex_parser.h"
#include "grammar/support/utf8.h"
#include "tests/grammar/json_schema_test_util.h"
#include "tests/grammar/lookaround_oracle.h"

namespace sieve {
namespace {

// ---- the oracle ------------------------------------------------------------------------------

bool WordChar(char32_t c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

struct Node {
  enum Kind { kChar, kSeq, kAlt, kRepeat, kBol, kEol, kLook, kBound } kind;
  std::function<bool(char32_t)> test;  // kChar
  std::vector<std::unique_ptr<Node>> kids;
  int min = 0, max = 0;  // kRepeat (max -1: unbounded)
  bool behind = false, negated = false;  // kLook; kBound: negated = \B
};
using Positions = std::set<int>;

// A recursive-descent reader of the patterns these tests use: literals, \d \w \s and escaped
// punctuation, \b \B, classes with ranges and ^, '.', groups ( ) (?: ) and the four lookarounds, |,
// * + ? {n} {n,} {n,m} (a trailing ? of a lazy quantifier changes no language), ^ and $.
class OracleParser {
 public:
  explicit OracleParser(const std::u32string& p) : p_(p) {}
  std::unique_ptr<Node> Parse() {
    auto n = Alt();
    EXPECT_EQ(i_, p_.size()) << "oracle parser stopped early";
    return n;
  }

 private:
  static bool Word(char32_t c) { return WordChar(c); }
  static bool Space(char32_t c) { return c == ' ' || (c >= 9 && c <= 13); }
  std::function<bool(char32_t)> Escape(char32_t c) {
    if (c == 'd') return [](char32_t x) { return x >= '0' && x <= '9'; };
    if (c == 'w') return Word;
    if (c == 's') return Space;
    if (c == 'b') return [](char32_t x) { return x == 8; };  // in a class (else a boundary)
    return [c](char32_t x) { return x == c; };
  }
  std::unique_ptr<Node> Char(std::function<bool(char32_t)> t) {
    auto n = std::make_unique<Node>();
    n->kind = Node::kChar;
    n->test = std::move(t);
    return n;
  }
  std::unique_ptr<Node> Alt() {
    auto n = std::make_unique<Node>();
    n->kind = Node::kAlt;
    n->kids.push_back(Seq());
    while (i_ < p_.size() && p_[i_] == '|') {
      ++i_;
      n->kids.push_back(Seq());
    }
    return n;
  }
  std::unique_ptr<Node> Seq() {
    auto n = std::make_unique<Node>();
    n->kind = Node::kSeq;
    while (i_ < p_.size() && p_[i_] != '|' && p_[i_] != ')') n->kids.push_back(Quantified());
    return n;
  }
  std::unique_ptr<Node> Quantified() {
    auto atom = Atom();
    while (i_ < p_.size() && (p_[i_] == '*' || p_[i_] == '+' || p_[i_] == '?' || p_[i_] == '{')) {
      auto r = std::make_unique<Node>();
      r->kind = Node::kRepeat;
      const char32_t q = p_[i_++];
      if (q == '*') r->min = 0, r->max = -1;
      if (q == '+') r->min = 1, r->max = -1;
      if (q == '?') r->min = 0, r->max = 1;
      if (q == '{') {
        r->min = Number();
        r->max = r->min;
        if (p_[i_] == ',') {
          ++i_;
          r->max = p_[i_] == '}' ? -1 : Number();
        }
        ++i_;  // '}'
      }
      if (i_ < p_.size() && p_[i_] == '?') ++i_;  // lazy
      r->kids.push_back(std::move(atom));
      atom = std::move(r);
    }
    return atom;
  }
  int Number() {
    int v = 0;
    while (p_[i_] >= '0' && p_[i_] <= '9') v = v * 10 + static_cast<int>(p_[i_++] - '0');
    return v;
  }
  std::unique_ptr<Node> Atom() {
    const char32_t c = p_[i_++];
    if (c == '^' || c == '$') {
      auto n = std::make_unique<Node>();
      n->kind = c == '^' ? Node::kBol : Node::kEol;
      return n;
    }
    if (c == '.') return Char([](char32_t x) { return x != '\n' && x != '\r'; });
    if (c == '\\' && (p_[i_] == 'b' || p_[i_] == 'B')) {
      auto n = std::make_unique<Node>();
      n->kind = Node::kBound;
      n->negated = p_[i_++] == 'B';
      return n;
    }
    if (c == '\\') return Char(Escape(p_[i_++]));
    if (c == '[') {
      const bool neg = p_[i_] == '^';
      if (neg) ++i_;
      std::vector<std::function<bool(char32_t)>> parts;
      while (p_[i_] != ']') {
        if (p_[i_] == '\\') {
          parts.push_back(Escape(p_[i_ + 1]));
          i_ += 2;
        } else if (p_[i_ + 1] == '-' && p_[i_ + 2] != ']') {
          const char32_t lo = p_[i_], hi = p_[i_ + 2];
          parts.push_back([lo, hi](char32_t x) { return x >= lo && x <= hi; });
          i_ += 3;
        } else {
          const char32_t one = p_[i_++];
          parts.push_back([one](char32_t x) { return x == one; });
        }
      }
      ++i_;
      return Char([parts, neg](char32_t x) {
        bool in = false;
        for (const auto& f : parts) in = in || f(x);
        return in != neg;
      });
    }
    if (c == '(') {
      std::unique_ptr<Node> n;
      if (p_[i_] == '?') {
        ++i_;
        if (p_[i_] == ':') {
          ++i_;
          n = Alt();
        } else {
          auto look = std::make_unique<Node>();
          look->kind = Node::kLook;
          look->behind = p_[i_] == '<';
          if (look->behind) ++i_;
          look->negated = p_[i_++] == '!';
          look->kids.push_back(Alt());
          n = std::move(look);
        }
      } else {
        n = Alt();
      }
      ++i_;  // ')'
      return n;
    }
    return Char([c](char32_t x) { return x == c; });
  }

  const std::u32string& p_;
  size_t i_ = 0;
};

class Oracle {
 public:
  Oracle(const std::u32string& pattern, const std::u32string& text)
      : root_(OracleParser(pattern).Parse()), t_(text) {}

  bool Matches() {
    for (int k = 0; k <= static_cast<int>(t_.size()); ++k) {
      if (!Ends(*root_, k).empty()) return true;
    }
    return false;
  }

 private:
  Positions Ends(const Node& n, int i) {
    const int len = static_cast<int>(t_.size());
    switch (n.kind) {
      case Node::kChar:
        return i < len && n.test(t_[i]) ? Positions{i + 1} : Positions{};
      case Node::kBol:
        return i == 0 ? Positions{i} : Positions{};
      case Node::kEol:
        return i == len ? Positions{i} : Positions{};
      case Node::kBound: {  // ECMA: a word character on exactly one side (none past the text)
        const bool before = i > 0 && WordChar(t_[i - 1]), after = i < len && WordChar(t_[i]);
        return (before != after) != n.negated ? Positions{i} : Positions{};
      }
      case Node::kSeq: {
        Positions cur{i};
        for (const auto& k : n.kids) {
          Positions next;
          for (int p : cur) {
            for (int e : Ends(*k, p)) next.insert(e);
          }
          cur = std::move(next);
        }
        return cur;
      }
      case Node::kAlt: {
        Positions out;
        for (const auto& k : n.kids) {
          for (int e : Ends(*k, i)) out.insert(e);
        }
        return out;
      }
      case Node::kRepeat: {
        // Iterations past min + len + 1 can only repeat empty matches: no new position.
        const int cap = n.max < 0 ? n.min + len + 1 : n.max;
        Positions cur{i}, out;
        if (n.min == 0) out.insert(i);
        for (int k = 1; k <= cap && !cur.empty(); ++k) {
          Positions next;
          for (int p : cur) {
            for (int e : Ends(*n.kids[0], p)) next.insert(e);
          }
          cur = std::move(next);
          if (k >= n.min) out.insert(cur.begin(), cur.end());
        }
        return out;
      }
      case Node::kLook: {
        bool holds = false;
        if (n.behind) {
          for (int k = 0; k <= i && !holds; ++k) holds = Ends(*n.kids[0], k).count(i) > 0;
        } else {
          holds = !Ends(*n.kids[0], i).empty();
        }
        return holds != n.negated ? Positions{i} : Positions{};
      }
    }
    return {};
  }

  std::unique_ptr<Node> root_;
  std::u32string t_;
};

std::u32string CodePoints(const std::string& s) {
  std::u32string out;
  for (size_t i = 0; i < s.size();) {
    char32_t cp;
    const int n = DecodeUtf8(reinterpret_cast<const uint8_t*>(s.data()) + i, s.size() - i, &cp);
    out.push_back(cp);
    i += n > 0 ? n : 1;
  }
  return out;
}

// ---- the tests -------------------------------------------------------------------------------

struct Case {
  const char* pattern;
  const char* alphabet;
};

const Case kCases[] = {
    {"^((?!ab).)*$", "abc"},                // a tempered token: no "ab" anywhere
    {"^(?:a(?=b)|[bc])+$", "abc"},          // a lookahead inside a repetition
    {"(?<=a)b", "ab"},                      // unanchored lookbehind
    {"^(?:(?<!a)b|a)*$", "ab"},             // a negative lookbehind in a loop
    {"x(?!y)", "xyz"},                      // unanchored negative lookahead
    {"^(?:[ab](?!a))*$", "ab"},
    {"(?<=^|,)a(?=,|$)", "a,b"},            // anchors inside the assertions
    {"^(?:(?=(a|b))[ab])+$", "abc"},        // a group inside a lookahead
    {"^(?:(?!a(?=b)).)*$", "abc"},          // nested: a lookahead inside a negative one
    {"(?<=ab|b)c", "abc"},                  // lookbehind alternatives of different lengths
    {"^(?:(?<=a)b|(?<!a)c)+$", "abc"},
    {"a(?=b{2,3})", "ab"},
    {"^[ab]+(?<!b(?<=ab))a$", "ab"},        // a lookbehind inside a lookbehind
    {"^(?:\xC3\xA9(?!\xC3\xA9)|a)*$", "a\xC3\xA9"},  // a two-byte character
    // Word boundaries together with lookarounds (\b read as the lookarounds it abbreviates).
    {"\\ba(?=b)", "ab "},
    {"(?<=a)\\Bb", "ab-"},
    {"^(?:\\w+\\b(?!-)|[- ])*$", "a- "},
    {"x\\b(?<!ax)", "ax "},
    {"[\\b]|\\Ba(?!a)", "a -"},  // [\b] is U+0008, not a boundary
};

TEST(RegexLookaroundDfa, RegexGrammarsMatchTheOracleOnEveryShortString) {
  for (const Case& c : kCases) {
    SCOPED_TRACE(c.pattern);
    auto g = RegexToGrammar(c.pattern);
    ASSERT_TRUE(g.ok()) << g.status().ToString();
    auto compiled = CompileGrammarIr(std::move(*g), GrammarCompileOptions());
    ASSERT_TRUE(compiled.ok()) << compiled.status().ToString();
    int accepted = 0, rejected = 0, wrong = 0;
    for (const std::string& s : testing::AllStrings(c.alphabet, 6)) {
      GrammarMatcher m(compiled->pda);
      const bool got = m.AcceptString(s) && m.CanTerminate();
      const bool want = Oracle(CodePoints(c.pattern), CodePoints(s)).Matches();
      if (got != want && ++wrong <= 5) ADD_FAILURE() << "'" << s << "': oracle says " << want;
      ++(want ? accepted : rejected);
    }
    EXPECT_EQ(wrong, 0);
    EXPECT_GT(accepted, 0);
    EXPECT_GT(rejected, 0);
  }
}

TEST(RegexLookaroundDfa, SchemaPatternsMatchTheOracleOnEveryShortString) {
  for (const Case& c : kCases) {
    const std::string schema =
        R"({"type":"string","pattern":")" + testing::JsonEscaped(c.pattern) + "\"}";
    SCOPED_TRACE(schema);
    testing::SchemaGrammar g = testing::CompileSchema(schema);
    ASSERT_TRUE(g.ok()) << g.status.ToString();
    EXPECT_FALSE(g.report.loosened());
    int wrong = 0;
    for (const std::string& s : testing::AllStrings(c.alphabet, 5)) {
      const bool want = Oracle(CodePoints(c.pattern), CodePoints(s)).Matches();
      if (g.Accepts("\"" + s + "\"") != want && ++wrong <= 5) {
        ADD_FAILURE() << "'" << s << "': oracle says " << want;
      }
    }
    EXPECT_EQ(wrong, 0);
  }
}

TEST(RegexLookaroundDfa, AssertionsThatLookOutsideTheirTextAreUnsupportedAtTheirOffset) {
  struct Bad {
    const char* pattern;
    int64_t offset;
    const char* says;
  };
  const Bad bad[] = {
      {"a(?=^b)", 1, "'^'"},
      {"a(?<=a$)", 1, "'$'"},
      {"a(?=\\bb)", 1, "word boundary"},
      {"(?i:a)\\b(?=b)", 8, "word boundaries together with lookaround"},
      {"^[ab]+(?<!b(?=a))a$", 6, "lookahead inside a lookbehind"},
      {"(?=a(?<=ba))a", 0, "lookbehind inside a lookahead"},
  };
  for (const Bad& b : bad) {
    auto d = RegexToDfa(b.pattern, RegexOptions(), 20000);
    ASSERT_FALSE(d.ok()) << b.pattern;
    EXPECT_EQ(d.status().code(), StatusCode::kUnsupported) << d.status().ToString();
    EXPECT_EQ(d.status().offset(), b.offset) << d.status().ToString();
    EXPECT_NE(d.status().message().find(b.says), std::string::npos) << d.status().ToString();
  }
  // Lookarounds nested deeper than 16 are a limit (each level is a whole construction).
  std::string nested;
  for (int i = 0; i < 40; ++i) nested += "(?=a";
  nested += "a";
  nested.append(40, ')');
  auto deep = RegexToDfa(nested, RegexOptions(), 20000);
  ASSERT_FALSE(deep.ok());
  EXPECT_EQ(deep.status().code(), StatusCode::kLimit) << deep.status().ToString();
  // Without RegexOptions::lookarounds the parser still refuses them, at their offset.
  Grammar g;
  auto e = RegexToExpr("ab(?!c)", &g);
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.status().code(), StatusCode::kUnsupported);
  EXPECT_EQ(e.status().offset(), 2);
}

}  // namespace
}  // namespace sieve
