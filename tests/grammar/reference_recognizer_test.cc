// Tests for the reference recogniser (the oracle for the matcher) and the sentence-file loader:
// each construct, left recursion of every kind without Simplify, ambiguity without blow-up, byte-
// level prefixes inside multi-byte characters, lookaheads, and the test grammars' sentence files.
#include "tests/testing/reference_recognizer.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "grammar/ebnf_parser.h"
#include "grammar/grammar.h"

namespace sieve {
namespace {

Grammar MustParse(std::string_view text) {
  Result<Grammar> g = ParseEbnf(text);
  EXPECT_TRUE(g.ok()) << g.status().ToString() << "\n" << text;
  return g.ok() ? std::move(g).value() : Grammar();
}

std::string ReadFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

TEST(ReferenceRecognizer, MatchesLiteralsClassesSequencesAndChoices) {
  Grammar g = MustParse("root ::= \"ab\" [0-9] (\"x\" | \"yz\") | \"\"");
  EXPECT_TRUE(ReferenceMatch(g, ""));
  EXPECT_TRUE(ReferenceMatch(g, "ab5x"));
  EXPECT_TRUE(ReferenceMatch(g, "ab0yz"));
  EXPECT_FALSE(ReferenceMatch(g, "ab5"));
  EXPECT_FALSE(ReferenceMatch(g, "ab5y"));
  EXPECT_FALSE(ReferenceMatch(g, "ab5xx"));
  EXPECT_FALSE(ReferenceMatch(g, "abax"));
}

TEST(ReferenceRecognizer, MatchesWholeUtf8CharactersAgainstClasses) {
  Grammar g = MustParse("root ::= [^a] [\\u4e00-\\u9fff] .");
  EXPECT_TRUE(ReferenceMatch(g, "b中😀"));
  EXPECT_TRUE(ReferenceMatch(g, "é中\x7F"));
  EXPECT_FALSE(ReferenceMatch(g, "a中x"));
  EXPECT_FALSE(ReferenceMatch(g, "b中"));
  EXPECT_FALSE(ReferenceMatch(g, "\xC3中x"));             // a lone lead byte is not a character
  EXPECT_FALSE(ReferenceMatch(g, "b\xE4\xB8\xADx\x80"));  // nor a stray continuation byte
  EXPECT_FALSE(ReferenceMatch(g, "b\xED\xA0\x80x"));      // nor an encoded surrogate
}

TEST(ReferenceRecognizer, AppliesRepetitionBoundsExactly) {
  Grammar g = MustParse("root ::= \"a\"{2,3} \"b\"{2} \"c\"{1,} \"d\"{,1}");
  EXPECT_TRUE(ReferenceMatch(g, "aabbc"));
  EXPECT_TRUE(ReferenceMatch(g, "aaabbcccd"));
  EXPECT_FALSE(ReferenceMatch(g, "abbc"));
  EXPECT_FALSE(ReferenceMatch(g, "aaaabbc"));
  EXPECT_FALSE(ReferenceMatch(g, "aabbbc"));
  EXPECT_FALSE(ReferenceMatch(g, "aabb"));
  EXPECT_FALSE(ReferenceMatch(g, "aabbcdd"));
}

TEST(ReferenceRecognizer, HandlesNestedBoundsWithNullableItems) {
  Grammar g = MustParse("root ::= (\"a\"? \"b\"?){2,3} \"!\" | (\"x\"{0,2}){3}");
  EXPECT_TRUE(ReferenceMatch(g, "!"));
  EXPECT_TRUE(ReferenceMatch(g, "ababab!"));
  EXPECT_TRUE(ReferenceMatch(g, "bba!"));
  EXPECT_FALSE(ReferenceMatch(g, "abababa!"));
  EXPECT_TRUE(ReferenceMatch(g, "xxxxxx"));
  EXPECT_FALSE(ReferenceMatch(g, "xxxxxxx"));
}

TEST(ReferenceRecognizer, ChecksALargeBoundQuickly) {
  Grammar g = MustParse("root ::= \"\\\"\" [^\"]{0,8000} \"\\\"\"");
  std::string ok = "\"" + std::string(8000, 'x') + "\"";
  std::string too_long = "\"" + std::string(8001, 'x') + "\"";
  auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(ReferenceMatch(g, ok));
  EXPECT_FALSE(ReferenceMatch(g, too_long));
  EXPECT_TRUE(ReferenceIsPrefix(g, too_long.substr(0, 8001)));
  EXPECT_FALSE(ReferenceIsPrefix(g, too_long.substr(0, 8002)));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
}

TEST(ReferenceRecognizer, HandlesDirectLeftRecursion) {
  Grammar g = MustParse(
      "root ::= expr\nexpr ::= expr \"+\" term | expr \"-\" term | term\n"
      "term ::= term \"*\" [0-9] | [0-9]");
  EXPECT_TRUE(ReferenceMatch(g, "1"));
  EXPECT_TRUE(ReferenceMatch(g, "1+2*3-4*5*6"));
  EXPECT_FALSE(ReferenceMatch(g, "1+"));
  EXPECT_FALSE(ReferenceMatch(g, "+1"));
  EXPECT_FALSE(ReferenceMatch(g, "1+*2"));
}

TEST(ReferenceRecognizer, HandlesIndirectAndHiddenLeftRecursion) {
  Grammar indirect = MustParse("root ::= a\na ::= b \"x\" | \"y\"\nb ::= a \"z\" | \"w\"");
  EXPECT_TRUE(ReferenceMatch(indirect, "y"));
  EXPECT_TRUE(ReferenceMatch(indirect, "wx"));
  EXPECT_TRUE(ReferenceMatch(indirect, "yzxzx"));
  EXPECT_TRUE(ReferenceMatch(indirect, "wxzx"));
  EXPECT_FALSE(ReferenceMatch(indirect, "yzx z"));
  EXPECT_FALSE(ReferenceMatch(indirect, "yz"));
  // Hidden: a ::= b a "x" | "y" with b nullable gives (b)^k y x^k, b in {"", "z"}.
  Grammar hidden = MustParse("root ::= a\na ::= b a \"x\" | \"y\"\nb ::= \"\" | \"z\"");
  EXPECT_TRUE(ReferenceMatch(hidden, "y"));
  EXPECT_TRUE(ReferenceMatch(hidden, "yxx"));
  EXPECT_TRUE(ReferenceMatch(hidden, "zyx"));
  EXPECT_TRUE(ReferenceMatch(hidden, "zzyxx"));
  EXPECT_TRUE(ReferenceMatch(hidden, "zyxxx"));
  EXPECT_FALSE(ReferenceMatch(hidden, "zzyx"));
  EXPECT_FALSE(ReferenceMatch(hidden, "yxz"));
}

TEST(ReferenceRecognizer, HandlesNullableAndCyclicRules) {
  Grammar g = MustParse("root ::= a\na ::= a \"x\" | a | \"\" | b\nb ::= a");
  EXPECT_TRUE(ReferenceMatch(g, ""));
  EXPECT_TRUE(ReferenceMatch(g, "xxxx"));
  EXPECT_FALSE(ReferenceMatch(g, "xxy"));
}

TEST(ReferenceRecognizer, StaysPolynomialOnHighlyAmbiguousGrammars) {
  Grammar g = MustParse("root ::= s\ns ::= s s | s s s | \"a\" | \"\"");
  auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(ReferenceMatch(g, std::string(40, 'a')));
  EXPECT_FALSE(ReferenceMatch(g, std::string(40, 'a') + "b"));
  Grammar stars = MustParse("root ::= (\"a\"* \"a\"*)* \"b\"");
  EXPECT_FALSE(ReferenceMatch(stars, std::string(300, 'a')));
  EXPECT_TRUE(ReferenceMatch(stars, std::string(300, 'a') + "b"));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(20));
}

TEST(ReferenceRecognizer, ChecksLookaheadsAgainstTheFollowingText) {
  Grammar g = MustParse("root ::= word (\",\" word)* \".\"?\nword ::= [a-z]+ (= [,.])");
  EXPECT_TRUE(ReferenceMatch(g, "ab,cd."));
  EXPECT_FALSE(ReferenceMatch(g, "ab,cd"));  // the last word is followed by nothing
  Grammar nullable_la = MustParse("root ::= w \"!\"?\nw ::= \"w\" (= \"!\"?)");
  EXPECT_TRUE(ReferenceMatch(nullable_la, "w"));
  EXPECT_TRUE(ReferenceMatch(nullable_la, "w!"));
  Grammar strict = MustParse("root ::= w [a-z]\nw ::= [a-z] (= \"x\")");
  EXPECT_TRUE(ReferenceMatch(strict, "ax"));
  EXPECT_FALSE(ReferenceMatch(strict, "ay"));
  EXPECT_TRUE(ReferenceIsPrefix(strict, "a"));
  EXPECT_FALSE(ReferenceIsPrefix(strict, "ay"));
}

TEST(ReferenceRecognizer, RecognisesPrefixesInsideLiteralsAndCharacters) {
  Grammar g = MustParse("root ::= \"hello\" [\\u4e00-\\u9fff] \"!\"");
  EXPECT_TRUE(ReferenceIsPrefix(g, ""));
  EXPECT_TRUE(ReferenceIsPrefix(g, "hel"));
  EXPECT_TRUE(ReferenceIsPrefix(g, "hello"));
  EXPECT_TRUE(ReferenceIsPrefix(g, "hello\xE4"));
  EXPECT_TRUE(ReferenceIsPrefix(g, "hello\xE4\xB8"));
  EXPECT_TRUE(ReferenceIsPrefix(g, "hello\xE9\xBF"));  // U+9FC0..U+9FFF
  EXPECT_FALSE(ReferenceIsPrefix(g, "hello\xEA"));     // U+A000.. is past the class
  EXPECT_FALSE(ReferenceIsPrefix(g, "hello\xE4\x41"));
  EXPECT_FALSE(ReferenceIsPrefix(g, "hello\xC3"));  // two-byte characters are too small
  EXPECT_TRUE(ReferenceIsPrefix(g, "hello中!"));
  EXPECT_FALSE(ReferenceIsPrefix(g, "hello中!!"));
  EXPECT_FALSE(ReferenceIsPrefix(g, "help"));
  EXPECT_FALSE(ReferenceMatch(g, "hello中"));
}

TEST(ReferenceRecognizer, RejectsEveryPrefixOfAGrammarWithoutSentences) {
  Grammar g = MustParse("root ::= \"a\" loop | \"b\" loop\nloop ::= \"x\" loop");
  EXPECT_FALSE(ReferenceIsPrefix(g, ""));
  EXPECT_FALSE(ReferenceIsPrefix(g, "a"));
  EXPECT_FALSE(ReferenceIsPrefix(g, "axx"));
  EXPECT_FALSE(ReferenceMatch(g, "axx"));
  Grammar partly = MustParse("root ::= \"a\" loop | \"b\"\nloop ::= \"x\" loop");
  EXPECT_TRUE(ReferenceIsPrefix(partly, ""));
  EXPECT_FALSE(ReferenceIsPrefix(partly, "a"));
  EXPECT_TRUE(ReferenceMatch(partly, "b"));
}

TEST(ReferenceRecognizer, TreatsTheEmptyInputAsAPrefixOfEveryProductiveGrammar) {
  EXPECT_TRUE(ReferenceIsPrefix(MustParse("root ::= [a-z]{3}"), ""));
  EXPECT_FALSE(ReferenceMatch(MustParse("root ::= [a-z]{3}"), ""));
  EXPECT_TRUE(ReferenceMatch(MustParse("root ::= [a-z]{0,3}"), ""));
}

TEST(ReferenceRecognizer, AgreesWithEveryTestSentenceFile) {
  const char* const names[] = {"json",    "arithmetic_leftrec", "c_like", "csv", "pgn",
                               "unicode", "nested_bounds"};
  for (const char* name : names) {
    const std::string base = std::string(SIEVE_TEST_DATA_DIR) + "/grammars/" + name;
    Grammar g = MustParse(ReadFile(base + ".ebnf"));
    std::vector<TestSentence> accept, reject;
    std::string error;
    ASSERT_TRUE(LoadSentences(base + ".accept.txt", &accept, &error)) << error;
    ASSERT_TRUE(LoadSentences(base + ".reject.txt", &reject, &error)) << error;
    int prefixes = 0;
    for (const TestSentence& t : accept) {
      EXPECT_TRUE(ReferenceMatch(g, t.text)) << name << ".accept.txt:" << t.line;
      EXPECT_FALSE(t.prefix) << name << ".accept.txt:" << t.line;
    }
    for (const TestSentence& t : reject) {
      EXPECT_FALSE(ReferenceMatch(g, t.text)) << name << ".reject.txt:" << t.line;
      EXPECT_EQ(ReferenceIsPrefix(g, t.text), t.prefix) << name << ".reject.txt:" << t.line;
      prefixes += t.prefix;
    }
    // Every reject file has both incomplete prefixes and texts that fail outright.
    EXPECT_GE(prefixes, 2) << name;
    EXPECT_GE(static_cast<int>(reject.size()) - prefixes, 5) << name;
  }
}

TEST(SentenceFile, UnescapesLinesAndReadsPrefixMarks) {
  std::string path = ::testing::TempDir() + "/sentences_test.txt";
  {
    std::ofstream f(path, std::ios::binary);
    f << "# comment\n\nplain\n~half\n\\e\na\\nb\\tc\\\\d\\x41\\xff\\r\n\\x23not a comment\r\n"
         "~\\e\n";
  }
  std::vector<TestSentence> s;
  std::string error;
  ASSERT_TRUE(LoadSentences(path, &s, &error)) << error;
  ASSERT_EQ(s.size(), 6u);
  EXPECT_EQ(s[0].text, "plain");
  EXPECT_EQ(s[0].line, 3);
  EXPECT_FALSE(s[0].prefix);
  EXPECT_EQ(s[1].text, "half");
  EXPECT_TRUE(s[1].prefix);
  EXPECT_EQ(s[2].text, "");
  EXPECT_EQ(s[3].text, "a\nb\tc\\dA\xff\r");
  EXPECT_EQ(s[4].text, "#not a comment");
  EXPECT_EQ(s[5].text, "");
  EXPECT_TRUE(s[5].prefix);
  std::remove(path.c_str());
}

TEST(SentenceFile, ReportsBadEscapesAndMissingFiles) {
  std::string path = ::testing::TempDir() + "/sentences_bad.txt";
  {
    std::ofstream f(path, std::ios::binary);
    f << "ok\nbad \\q escape\n";
  }
  std::vector<TestSentence> s;
  std::string error;
  EXPECT_FALSE(LoadSentences(path, &s, &error));
  EXPECT_NE(error.find(":2:"), std::string::npos) << error;
  EXPECT_FALSE(LoadSentences(path + ".missing", &s, &error));
  EXPECT_NE(error.find("cannot read"), std::string::npos);
  std::remove(path.c_str());
}

}  // namespace
}  // namespace sieve
