// Unit tests of the regex front end: each construct's language, checked through the real pipeline
// (RegexToGrammar -> CompileGrammarIr -> GrammarMatcher), and each error's code and byte offset.
// The oracle comparison against RE2 over a corpus of real-world patterns is regex_oracle_test.cc;
// this file pins the ECMA-specific corners RE2 cannot judge (\s, `.`, [^], Annex B braces, lazy
// quantifiers, anchors inside groups) and the limits.
#include "grammar/regex_parser.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "grammar/compiler.h"
#include "grammar/matcher.h"
#include "grammar/support/utf8.h"

namespace sieve {
namespace {

std::string Cp(char32_t cp) {
  std::string s;
  AppendUtf8(&s, cp);
  return s;
}

// A compiled pattern; Accepts() runs a fresh matcher over the whole input.
class Lang {
 public:
  explicit Lang(std::string_view pattern, bool search = true) : pattern_(pattern) {
    RegexOptions opts;
    opts.search_semantics = search;
    auto g = RegexToGrammar(pattern, opts);
    if (!g.ok()) {
      ADD_FAILURE() << pattern << ": " << g.status().ToString();
      return;
    }
    auto c = CompileGrammarIr(std::move(g).value(), GrammarCompileOptions());
    if (!c.ok()) {
      ADD_FAILURE() << pattern << ": " << c.status().ToString();
      return;
    }
    pda_ = c->pda;
  }
  bool Accepts(std::string_view s) const {
    if (pda_ == nullptr) return false;
    GrammarMatcher m(pda_);
    return m.AcceptString(s) && m.CanTerminate();
  }
  const CompiledGrammar* pda() const { return pda_.get(); }

 private:
  std::string pattern_;
  std::shared_ptr<const CompiledGrammar> pda_;
};

#define EXPECT_ACCEPTS(lang, s) EXPECT_TRUE((lang).Accepts(s)) << "input: " << (s)
#define EXPECT_REJECTS(lang, s) EXPECT_FALSE((lang).Accepts(s)) << "input: " << (s)

Status ErrorOf(std::string_view pattern, const RegexOptions& opts = RegexOptions()) {
  auto g = RegexToGrammar(pattern, opts);
  return g.ok() ? Status::Ok() : g.status();
}

void ExpectError(std::string_view pattern, StatusCode code, int64_t offset,
                 std::string_view message_part = "") {
  const Status s = ErrorOf(pattern);
  EXPECT_EQ(s.code(), code) << pattern << ": " << s.ToString();
  EXPECT_EQ(s.offset(), offset) << pattern << ": " << s.ToString();
  EXPECT_NE(s.message().find(message_part), std::string::npos)
      << pattern << ": '" << s.message() << "' should mention '" << message_part << "'";
}

TEST(RegexParser, AnchoredLiteralMatchesExactlyItself) {
  Lang l("^abc$");
  EXPECT_ACCEPTS(l, "abc");
  EXPECT_REJECTS(l, "abcd");
  EXPECT_REJECTS(l, "xabc");
  EXPECT_REJECTS(l, "ab");
  EXPECT_REJECTS(l, "");
}

TEST(RegexParser, UnanchoredPatternAcceptsAnySurroundingText) {
  Lang l("b+c");
  EXPECT_ACCEPTS(l, "bc");
  EXPECT_ACCEPTS(l, "a\nbbbc\xE2\x80\xA8z");
  EXPECT_ACCEPTS(l, Cp(0x1F600) + "bc" + Cp(0x10FFFF));
  EXPECT_REJECTS(l, "b c");
  EXPECT_REJECTS(l,
                 "\xFF"
                 "bc");  // the text must still be valid UTF-8
  Lang start_only("^ab");
  EXPECT_ACCEPTS(start_only, "ab\n\n");
  EXPECT_REJECTS(start_only, " ab");
  Lang end_only("ab$");
  EXPECT_ACCEPTS(end_only, "\n\nab");
  EXPECT_REJECTS(end_only, "ab\n");  // ECMA `$` without the m flag: end of input only
}

TEST(RegexParser, SearchSemanticsOffMatchesTheWholeInput) {
  Lang l("a|bc", /*search=*/false);
  EXPECT_ACCEPTS(l, "a");
  EXPECT_ACCEPTS(l, "bc");
  EXPECT_REJECTS(l, "abc");
  EXPECT_REJECTS(l, "xa");
}

TEST(RegexParser, EmptyPatternMatchesEverythingWhenSearchedAndOnlyEmptyOtherwise) {
  Lang any("");
  EXPECT_ACCEPTS(any, "");
  EXPECT_ACCEPTS(any, "anything\r\n" + Cp(0x2029));
  Lang empty("", /*search=*/false);
  EXPECT_ACCEPTS(empty, "");
  EXPECT_REJECTS(empty, "x");
}

TEST(RegexParser, DigitAndWordClassesAreAscii) {
  Lang d("^\\d\\w$");
  EXPECT_ACCEPTS(d, "0_");
  EXPECT_ACCEPTS(d, "9Z");
  EXPECT_REJECTS(d, Cp(0x0663) + "a");             // ARABIC-INDIC DIGIT THREE is not \d in ECMA
  EXPECT_REJECTS(d, std::string("1") + Cp(0xE9));  // é is not \w
  Lang nd("^\\D\\W$");
  EXPECT_ACCEPTS(nd, Cp(0x0663) + Cp(0xE9));
  EXPECT_ACCEPTS(nd, "a-");
  EXPECT_REJECTS(nd, "1-");
  EXPECT_REJECTS(nd, "a_");
}

TEST(RegexParser, SpaceClassIsEcmaWhiteSpacePlusLineTerminators) {
  Lang s("^\\s$");
  for (char32_t cp : {0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x20, 0xA0, 0x1680, 0x2000, 0x2005, 0x200A,
                      0x2028, 0x2029, 0x202F, 0x205F, 0x3000, 0xFEFF}) {
    EXPECT_TRUE(s.Accepts(Cp(cp))) << std::hex << "U+" << static_cast<uint32_t>(cp);
  }
  // U+0085 is Unicode White_Space but not ECMA \s; U+200B and U+180E are neither.
  for (char32_t cp : {0x85u, 0x200Bu, 0x180Eu, 0x1Fu, 0x61u}) {
    EXPECT_FALSE(s.Accepts(Cp(cp))) << std::hex << "U+" << static_cast<uint32_t>(cp);
  }
  Lang ns("^\\S$");
  EXPECT_ACCEPTS(ns, Cp(0x85));
  EXPECT_REJECTS(ns, Cp(0xFEFF));
  Lang ws("^\\p{White_Space}$");  // the Unicode property, by contrast
  EXPECT_ACCEPTS(ws, Cp(0x85));
  EXPECT_REJECTS(ws, Cp(0xFEFF));
}

TEST(RegexParser, DotExcludesExactlyTheFourLineTerminators) {
  Lang dot("^.$");
  EXPECT_ACCEPTS(dot, "a");
  EXPECT_ACCEPTS(dot, "\t");
  EXPECT_ACCEPTS(dot, Cp(0x85));
  EXPECT_ACCEPTS(dot, Cp(0x10FFFF));
  for (char32_t cp : {0x0A, 0x0D, 0x2028, 0x2029}) {
    EXPECT_FALSE(dot.Accepts(Cp(cp))) << std::hex << static_cast<uint32_t>(cp);
  }
  EXPECT_REJECTS(dot, "ab");
}

TEST(RegexParser, UnicodePropertiesAcceptShortLongAndGcForms) {
  for (const char* p : {"^\\p{Lu}$", "^\\p{Uppercase_Letter}$", "^\\p{gc=Lu}$",
                        "^\\p{General_Category=Uppercase_Letter}$"}) {
    SCOPED_TRACE(p);
    Lang l(p);
    EXPECT_ACCEPTS(l, "A");
    EXPECT_ACCEPTS(l, Cp(0x0394));  // Δ
    EXPECT_REJECTS(l, "a");
    EXPECT_REJECTS(l, "1");
  }
  Lang word("^\\p{Lu}\\p{Ll}+$");
  EXPECT_ACCEPTS(word, "Zo" + Cp(0xEB));
  EXPECT_REJECTS(word, "ZO");
  Lang letters("^[\\p{L}\\p{Nd}_]+$");
  EXPECT_ACCEPTS(letters, "abc_" + Cp(0x0663) + Cp(0x4E2D));
  EXPECT_REJECTS(letters, "a-b");
  Lang not_letter("^\\P{L}$");
  EXPECT_ACCEPTS(not_letter, "1");
  EXPECT_REJECTS(not_letter, "x");
  Lang neg_class("^[^\\P{L}]$");  // double negation: letters
  EXPECT_ACCEPTS(neg_class, "x");
  EXPECT_REJECTS(neg_class, "1");
  Lang ascii("^\\p{ASCII}\\p{AHex}$");
  EXPECT_ACCEPTS(ascii, "~f");
  EXPECT_REJECTS(ascii, "~g");
}

TEST(RegexParser, ScriptAndUntabulatedBinaryPropertiesAreUnsupportedAndNamed) {
  ExpectError("a\\p{Script=Greek}", StatusCode::kUnsupported, 1, "\\p{Script=Greek}");
  ExpectError("[\\p{sc=Latn}]", StatusCode::kUnsupported, 1, "\\p{sc=Latn}");
  ExpectError("\\P{scx=Hira}", StatusCode::kUnsupported, 0, "script");
  ExpectError("x\\p{Alphabetic}", StatusCode::kUnsupported, 1, "\\p{Alphabetic}");
  ExpectError("\\p{Emoji}", StatusCode::kUnsupported, 0, "binary property");
}

TEST(RegexParser, UnknownOrLooselySpelledPropertiesAreParseErrors) {
  ExpectError("\\p{lu}", StatusCode::kParse, 0, "unknown Unicode property");
  ExpectError("ab\\p{Greek}", StatusCode::kParse, 2, "\\p{Greek}");
  ExpectError("\\pL", StatusCode::kParse, 0, "braces");
  ExpectError("\\p{L", StatusCode::kParse, 0, "missing '}'");
  ExpectError("\\p{gc=Foo}", StatusCode::kParse, 0, "unknown");
  ExpectError("\\p{Block=Basic_Latin}", StatusCode::kParse, 0, "unknown");
}

TEST(RegexParser, BackspaceEscapeInsideAClassIsU0008) {
  Lang l("^[\\b]$");
  EXPECT_ACCEPTS(l, "\b");
  EXPECT_REJECTS(l, "b");
  ExpectError("[\\B]", StatusCode::kParse, 1, "\\B");
}

// Word boundaries need an automaton (regex_word_boundary_test.cc): the bare expression refuses
// them at their offset unless the caller takes the markers (RegexOptions::boundary_markers).
TEST(RegexParser, WordBoundariesAreUnsupportedInABareExpression) {
  for (const auto& [pattern, offset] : {std::pair<const char*, int64_t>{"\\bword\\b", 0},
                                        std::pair<const char*, int64_t>{"ab\\B", 2}}) {
    Grammar g;
    auto e = RegexToExpr(pattern, &g);
    ASSERT_FALSE(e.ok()) << pattern;
    EXPECT_EQ(e.status().code(), StatusCode::kUnsupported) << pattern;
    EXPECT_EQ(e.status().offset(), offset) << pattern;
    EXPECT_NE(e.status().message().find("boundary"), std::string::npos) << e.status().message();
  }
  ExpectError("\\b*", StatusCode::kParse, 2, "nothing to repeat");
}

TEST(RegexParser, BackreferencesAreUnsupportedAtTheirOffset) {
  ExpectError("(a)\\1", StatusCode::kUnsupported, 3, "backreference \\1");
  ExpectError("(a)x\\12", StatusCode::kUnsupported, 4, "backreference \\12");
  ExpectError("(?<q>['\"]).*\\k<q>", StatusCode::kUnsupported, 12, "backreference \\k<q>");
}

TEST(RegexParser, LookaroundIsUnsupportedAtItsOffset) {
  // RegexToExpr alone (no RegexOptions::lookarounds) refuses lookaround where it stands;
  // RegexToGrammar reads it exactly through automata (regex_lookaround_dfa_test.cc).
  auto expr_error = [](std::string_view pattern) {
    Grammar g;
    auto e = RegexToExpr(pattern, &g);
    return e.ok() ? Status::Ok() : e.status();
  };
  const std::pair<const char*, int64_t> cases[] = {
      {"a(?=b)", 1}, {"a(?!x)b", 1}, {"ab(?<=b)", 2}, {"(?<!a)b", 0}};
  const char* says[] = {"lookahead (?=", "negative lookahead (?!", "lookbehind (?<=",
                        "negative lookbehind (?<!"};
  for (size_t i = 0; i < 4; ++i) {
    const Status s = expr_error(cases[i].first);
    EXPECT_EQ(s.code(), StatusCode::kUnsupported) << s.ToString();
    EXPECT_EQ(s.offset(), cases[i].second) << s.ToString();
    EXPECT_NE(s.message().find(says[i]), std::string::npos) << s.ToString();
  }
  // What the automata cannot take stays kUnsupported at the assertion's offset.
  ExpectError("a(?=^b)", StatusCode::kUnsupported, 1, "lookahead");
  ExpectError("ab(?<=b$)", StatusCode::kUnsupported, 2, "lookbehind");
}

TEST(RegexParser, ForeignGroupSyntaxIsRejected) {
  ExpectError("(?P<n>a)", StatusCode::kParse, 0, "(?<name>");
  ExpectError("(?#comment)", StatusCode::kParse, 0, "invalid group");
  ExpectError("(?<1a>x)", StatusCode::kParse, 3, "group name");
  ExpectError("(?<>x)", StatusCode::kParse, 0, "empty group name");
}

TEST(RegexParser, ModifierGroupsSetCaseInsensitivityAndDotAll) {
  Lang whole("(?i)^ab[c-e]$");  // a bare flag group at the start: the whole pattern
  for (const char* s : {"abc", "ABE", "aBd"}) EXPECT_ACCEPTS(whole, s);
  for (const char* s : {"abf", "ABF", "ab"}) EXPECT_REJECTS(whole, s);
  Lang scoped("^a(?i:b(?-i:c)d)e$");  // set in a group, cleared in a nested one
  EXPECT_ACCEPTS(scoped, "aBcDe");
  EXPECT_REJECTS(scoped, "ABcde");
  EXPECT_REJECTS(scoped, "abCde");
  EXPECT_REJECTS(scoped, "abcdE");
  // /ui folding: K, k and U+212A KELVIN SIGN are one letter; s, S and U+017F LONG S another.
  Lang kelvin("^(?i:k)$");
  for (const char* s : {"k", "K", "\xE2\x84\xAA"}) EXPECT_ACCEPTS(kelvin, s);
  Lang word("(?i)^\\w$"), non_word("(?i)^\\W$");
  EXPECT_ACCEPTS(word, "\xC5\xBF");  // U+017F is a word character under i...
  EXPECT_REJECTS(non_word, "s");      // ...so \W holds nothing that folds to s
  EXPECT_REJECTS(non_word, "\xC5\xBF");
  EXPECT_ACCEPTS(non_word, "-");
  // Folded before a class is negated: [^a] matches neither a nor A.
  Lang not_a("(?i)^[^a]$");
  EXPECT_REJECTS(not_a, "A");
  EXPECT_REJECTS(not_a, "a");
  EXPECT_ACCEPTS(not_a, "b");
  Lang upper("(?i)^\\p{Lu}+$");  // a property's closure: lower case letters fold into it
  EXPECT_ACCEPTS(upper, "aB\xC3\xA9");
  // dotAll: `.` takes line terminators.
  Lang dot("^(?s:a.b)$"), plain_dot("^a.b$");
  EXPECT_ACCEPTS(dot, "a\nb");
  EXPECT_REJECTS(plain_dot, "a\nb");
  Lang both("(?is)^a.b$");
  EXPECT_ACCEPTS(both, "A\rB");
  // Lookarounds inside a flag's scope keep it (also at an anchored end).
  Lang behind("(?i)^...(?<=abc)$"), ahead("(?i)^(?!abc)...$");
  EXPECT_ACCEPTS(behind, "ABC");
  EXPECT_REJECTS(behind, "ABD");
  EXPECT_REJECTS(ahead, "aBc");
  EXPECT_ACCEPTS(ahead, "aBd");
  // What is refused, where, and why.
  ExpectError("a(?i)b", StatusCode::kUnsupported, 1, "write a modifier group (?i:...)");
  ExpectError("(?m)^a", StatusCode::kUnsupported, 0, "multiline");
  ExpectError("(?i-s)a", StatusCode::kUnsupported, 0, "clear a flag");
  ExpectError("(?x)a", StatusCode::kParse, 0, "modifiers are i, m and s");
  ExpectError("(?ii:a)", StatusCode::kParse, 0, "flag repeated");
  ExpectError("(?-:a)", StatusCode::kParse, 0, "no flag");
  ExpectError("(?i)\\bfoo", StatusCode::kUnsupported, 4, "case-insensitive");
}

TEST(RegexParser, NamedAndNonCapturingGroupsMatchLikePlainGroups) {
  Lang l("^(?<year>\\d{4})-(?:0[1-9]|1[0-2])-(\\d\\d)$");
  EXPECT_ACCEPTS(l, "2024-12-31");
  EXPECT_REJECTS(l, "2024-13-31");
  Lang unicode_name("^(?<\xC3\xA9t\xC3\xA9>a)$");
  EXPECT_ACCEPTS(unicode_name, "a");
}

TEST(RegexParser, LazyQuantifiersMatchTheSameLanguageAsGreedyOnes) {
  Lang greedy("^(a|b)*b{2,3}a?c+x{1,}$");
  Lang lazy("^(a|b)*?b{2,3}?a??c+?x{1,}?$");
  std::vector<std::string> inputs = {""};
  for (int len = 0; len < 7; ++len) {
    std::vector<std::string> next;
    for (const std::string& s : inputs) {
      for (char c : std::string("abcx")) next.push_back(s + c);
    }
    int accepted = 0;
    for (const std::string& s : next) {
      EXPECT_EQ(greedy.Accepts(s), lazy.Accepts(s)) << s;
      accepted += greedy.Accepts(s);
    }
    if (len == 6) {
      EXPECT_GT(accepted, 0);
    }
    inputs = std::move(next);
  }
}

TEST(RegexParser, QuantifierAfterALiteralRunAppliesToItsLastCodePointOnly) {
  Lang l("^abc*d\u00e9+$");
  EXPECT_ACCEPTS(l, "abd" + Cp(0xE9));
  EXPECT_ACCEPTS(l, "abcccd" + Cp(0xE9) + Cp(0xE9));
  EXPECT_REJECTS(l, "abcabcd" + Cp(0xE9));
  EXPECT_REJECTS(l, "abcd");
  Lang multibyte("^\u65e5\u672c+$");  // a three-byte code point is split off whole
  EXPECT_ACCEPTS(multibyte, Cp(0x65E5) + Cp(0x672C) + Cp(0x672C));
  EXPECT_REJECTS(multibyte, Cp(0x65E5) + Cp(0x65E5) + Cp(0x672C));
}

TEST(RegexParser, CountedQuantifiersRespectTheirBounds) {
  Lang l("^a{2,4}b{3}c{2,}$");
  EXPECT_ACCEPTS(l, "aabbbcc");
  EXPECT_ACCEPTS(l, "aaaabbbcccccc");
  EXPECT_REJECTS(l, "abbbcc");
  EXPECT_REJECTS(l, "aaaaabbbcc");
  EXPECT_REJECTS(l, "aabbcc");
  EXPECT_REJECTS(l, "aabbbc");
  Lang zero("^ab{0}c$");
  EXPECT_ACCEPTS(zero, "ac");
  EXPECT_REJECTS(zero, "abc");
}

TEST(RegexParser, BraceThatStartsNoQuantifierIsALiteral) {
  Lang open("^a{$");
  EXPECT_ACCEPTS(open, "a{");
  Lang comma("^x{,5}$");
  EXPECT_ACCEPTS(comma, "x{,5}");
  EXPECT_REJECTS(comma, "xxxxx");
  Lang unclosed("^a{2$");
  EXPECT_ACCEPTS(unclosed, "a{2");
  Lang words("^{a}]}$");
  EXPECT_ACCEPTS(words, "{a}]}");
  Lang spaced("^x{ 2}$");
  EXPECT_ACCEPTS(spaced, "x{ 2}");
  Lang after_quantifier("^a{2}{$");
  EXPECT_ACCEPTS(after_quantifier, "aa{");
}

TEST(RegexParser, BracedQuantifierWithNothingBeforeItIsAnError) {
  ExpectError("{2}", StatusCode::kParse, 0, "nothing to repeat");
  ExpectError("a|{1,}", StatusCode::kParse, 2, "nothing to repeat");
  ExpectError("({0,3})", StatusCode::kParse, 1, "nothing to repeat");
}

TEST(RegexParser, NothingToRepeatIsAParseErrorAtTheQuantifier) {
  ExpectError("*a", StatusCode::kParse, 0, "nothing to repeat");
  ExpectError("a|+", StatusCode::kParse, 2, "nothing to repeat");
  ExpectError("(?)", StatusCode::kParse, 0, "invalid group");
  ExpectError("(*)", StatusCode::kParse, 1, "nothing to repeat");
  ExpectError("^*", StatusCode::kParse, 1, "nothing to repeat");
  ExpectError("a$?", StatusCode::kParse, 2, "nothing to repeat");
}

TEST(RegexParser, QuantifierAfterAQuantifierIsAnErrorIncludingPossessiveForms) {
  ExpectError("a**", StatusCode::kParse, 2, "follows another quantifier");
  ExpectError("ab*+", StatusCode::kParse, 3, "possessive");
  ExpectError("a{2}{3}", StatusCode::kParse, 4, "follows another quantifier");
  ExpectError("a???", StatusCode::kParse, 3, "follows another quantifier");
}

TEST(RegexParser, UnbalancedParenthesesAreParseErrorsAtTheCulprit) {
  ExpectError("(a", StatusCode::kParse, 0, "missing ')'");
  ExpectError("a)", StatusCode::kParse, 1, "unmatched ')'");
  ExpectError("x((a)", StatusCode::kParse, 1, "missing ')'");
  ExpectError("(a))", StatusCode::kParse, 3, "unmatched ')'");
  ExpectError("[abc", StatusCode::kParse, 0, "missing ']'");
}

TEST(RegexParser, OutOfOrderRangesAreParseErrors) {
  ExpectError("[z-a]", StatusCode::kParse, 1, "out of order");
  ExpectError("ab[0-9\\u00ff-\\u00e0]", StatusCode::kParse, 6, "out of order");
  ExpectError("x{5,2}", StatusCode::kParse, 1, "out of order");
}

TEST(RegexParser, MalformedOrForeignEscapesAreParseErrors) {
  struct Case {
    const char* pattern;
    int64_t offset;
  };
  for (const Case& c : {Case{"\\e", 0}, Case{"a\\A", 1}, Case{"\\z", 0}, Case{"\\h", 0},
                        Case{"\\x4", 0}, Case{"\\xg0", 0}, Case{"\\u12", 0}, Case{"\\u{}", 0},
                        Case{"\\u{110000}", 0}, Case{"\\c1", 0}, Case{"ab\\", 2}, Case{"\\01", 0},
                        Case{"[\\1]", 1}, Case{"\\k", 0}, Case{"\\\xC3\xA9", 0}}) {
    SCOPED_TRACE(c.pattern);
    const Status s = ErrorOf(c.pattern);
    EXPECT_EQ(s.code(), StatusCode::kParse) << s.ToString();
    EXPECT_EQ(s.offset(), c.offset) << s.ToString();
  }
}

TEST(RegexParser, ControlHexAndIdentityEscapesNameTheirCharacters) {
  Lang l("^\\cJ\\x41\\0\\/\\-\\.\\@\\\"\\ $");
  EXPECT_ACCEPTS(l, std::string("\nA") + '\0' + "/-.@\" ");
  EXPECT_REJECTS(l, std::string("\nA") + '\0' + "/-x@\" ");
  Lang tabs("^\\t\\n\\r\\f\\v$");
  EXPECT_ACCEPTS(tabs, "\t\n\r\f\v");
}

TEST(RegexParser, UnicodeEscapesNameCodePointsAndPairSurrogates) {
  Lang l("^\\u00e9\\u{1F600}\\uD83D\\uDE00$");
  EXPECT_ACCEPTS(l, Cp(0xE9) + Cp(0x1F600) + Cp(0x1F600));
  Lang range("^[\\uD83D\\uDE00-\\uD83D\\uDE4F]$");
  EXPECT_ACCEPTS(range, Cp(0x1F610));
  EXPECT_REJECTS(range, Cp(0x1F650));
  // A lone surrogate matches nothing in UTF-8 text: its alternative simply drops out.
  Lang lone("^(?:\\uD800|x)$");
  EXPECT_ACCEPTS(lone, "x");
  ExpectError("^\\uDC00$", StatusCode::kUnsupported, 0, "matches no string");
}

TEST(RegexParser, ClassCornersFollowEcma) {
  Lang empty_alt("^(?:[]|a)$");  // [] matches nothing
  EXPECT_ACCEPTS(empty_alt, "a");
  EXPECT_REJECTS(empty_alt, "");
  Lang any("^[^]$");  // [^] matches every code point, line terminators too
  EXPECT_ACCEPTS(any, "\n");
  EXPECT_ACCEPTS(any, Cp(0x2028));
  Lang dashes("^[a-][-b][a-b-d]$");
  EXPECT_ACCEPTS(dashes, "--d");
  EXPECT_ACCEPTS(dashes, "ab-");
  EXPECT_REJECTS(dashes, "abc");
  Lang annex_b("^[\\w-.]+$");  // Annex B: '-' next to a class escape is a literal
  EXPECT_ACCEPTS(annex_b, "a-b.c_9");
  EXPECT_REJECTS(annex_b, "a,b");
  Lang escaped("^[\\]\\[\\\\^]+$");
  EXPECT_ACCEPTS(escaped, "]\\[^");
  Lang open_bracket("^[[]$");  // '[' in a class is a literal (no v flag, no POSIX classes)
  EXPECT_ACCEPTS(open_bracket, "[");
  Lang neg("^[^\\d\\s]$");
  EXPECT_ACCEPTS(neg, "x");
  EXPECT_REJECTS(neg, "5");
  EXPECT_REJECTS(neg, Cp(0x3000));
  EXPECT_REJECTS(neg, "\n");
  ExpectError("^[^\\s\\S]$", StatusCode::kUnsupported, 0, "matches no string");
}

TEST(RegexParser, AnchorsInsideGroupsAndAlternativesKeepTheirMeaning) {
  Lang alt("^ab|cd$");
  EXPECT_ACCEPTS(alt, "abzz");
  EXPECT_ACCEPTS(alt, "zzcd");
  EXPECT_REJECTS(alt, "zabz");
  EXPECT_REJECTS(alt, "cdz");
  Lang csv_field("(?:^|,)x(?:,|$)");
  EXPECT_ACCEPTS(csv_field, "x");
  EXPECT_ACCEPTS(csv_field, "a,x");
  EXPECT_ACCEPTS(csv_field, "x,b");
  EXPECT_ACCEPTS(csv_field, "a,x,b");
  EXPECT_REJECTS(csv_field, "ax,b");
  EXPECT_REJECTS(csv_field, "a,xb");
  Lang grouped("(^a$)|(^b$)");
  EXPECT_ACCEPTS(grouped, "a");
  EXPECT_ACCEPTS(grouped, "b");
  EXPECT_REJECTS(grouped, "ab");
  Lang optional("(^x)?y");
  EXPECT_ACCEPTS(optional, "xy");
  EXPECT_ACCEPTS(optional, "zzy");
  Lang empty_side("^$");
  EXPECT_ACCEPTS(empty_side, "");
  EXPECT_REJECTS(empty_side, " ");
  Lang twice("^^a$$");
  EXPECT_ACCEPTS(twice, "a");
  EXPECT_REJECTS(twice, "aa");
}

TEST(RegexParser, PatternsThatMatchNoStringAreUnsupportedOrFlagged) {
  ExpectError("a^b", StatusCode::kUnsupported, 0, "matches no string");
  ExpectError("a$b", StatusCode::kUnsupported, 0, "matches no string");
  ExpectError("[]", StatusCode::kUnsupported, 0, "matches no string");
  // With RegexOptions::matches_nothing (JSON Schema `pattern`) the same patterns are an empty
  // language: no expression, the flag set; a pattern with a match leaves it alone.
  for (const char* p : {"a^b", "a$b", "[]", "^(?:x^|[])$"}) {
    Grammar g;
    RegexOptions o;
    bool nothing = false;
    o.matches_nothing = &nothing;
    auto e = RegexToExpr(p, &g, o);
    ASSERT_TRUE(e.ok()) << p << ": " << e.status().ToString();
    EXPECT_EQ(*e, kNoExpr) << p;
    EXPECT_TRUE(nothing) << p;
  }
  {
    Grammar g;
    RegexOptions o;
    bool nothing = false;
    o.matches_nothing = &nothing;
    auto e = RegexToExpr("^(?:a$b|c)$", &g, o);
    ASSERT_TRUE(e.ok());
    EXPECT_NE(*e, kNoExpr);
    EXPECT_FALSE(nothing);
  }
  // An impossible alternative is dropped, not an error.
  Lang l("^(?:a$b|c)$");
  EXPECT_ACCEPTS(l, "c");
  EXPECT_REJECTS(l, "ab");
}

TEST(RegexParser, RepeatedGroupHoldingAnAnchorIsUnsupportedAtTheAnchor) {
  ExpectError("x(^a)*", StatusCode::kUnsupported, 2, "anchor '^'");
  ExpectError("(?:a|b$){2}", StatusCode::kUnsupported, 6, "anchor '$'");
}

TEST(RegexParser, RepeatBoundsOverTheLimitAreLimitErrors) {
  ExpectError("a{1000001}", StatusCode::kLimit, 1, "max_repeat_bound");
  ExpectError("a{2,99999999999999999999999}", StatusCode::kLimit, 1, "max_repeat_bound");
  RegexOptions small;
  small.max_repeat_bound = 10;
  EXPECT_EQ(ErrorOf("ab{11}", small).code(), StatusCode::kLimit);
  EXPECT_TRUE(ErrorOf("ab{10}", small).ok());
  EXPECT_TRUE(ErrorOf("ab{1000000}").ok());
}

TEST(RegexParser, DeepNestingIsALimitErrorNotACrash) {
  const std::string deep = std::string(200000, '(') + "a" + std::string(200000, ')');
  const Status s = ErrorOf(deep);
  EXPECT_EQ(s.code(), StatusCode::kLimit) << s.ToString();
  EXPECT_EQ(s.offset(), RegexOptions().max_nesting_depth);  // the first group past the limit
  std::string stacked = "a";
  for (int i = 0; i < 600; ++i) stacked = "(?:" + stacked + ")?";
  EXPECT_EQ(ErrorOf(stacked).code(), StatusCode::kLimit);
  // Within the limit the pattern compiles and means what it says.
  Lang ok("^" + std::string(300, '(') + "ab" + std::string(300, ')') + "+$");
  EXPECT_ACCEPTS(ok, "abab");
  EXPECT_REJECTS(ok, "aba");
}

TEST(RegexParser, ManyAnchorBearingTermsInOneSequenceHitTheDepthLimit) {
  std::string p;
  for (int i = 0; i < 600; ++i) p += "(^|a)";
  const Status s = ErrorOf(p);
  EXPECT_EQ(s.code(), StatusCode::kLimit) << s.ToString();
  EXPECT_NE(s.message().find("anchors"), std::string::npos) << s.message();
  Lang few("(^|a)(^|b)(^|c)d");  // a handful is fine: at the start every ^ branch is empty
  EXPECT_ACCEPTS(few, "d");
  EXPECT_ACCEPTS(few, "cd");
  EXPECT_ACCEPTS(few, "zabcd");
  EXPECT_REJECTS(few, "xcd");  // past the start, every group must take its letter
  EXPECT_REJECTS(few, "xbcd");
}

TEST(RegexParser, InvalidUtf8InThePatternIsAParseErrorAtItsOffset) {
  ExpectError("ab\xC3(", StatusCode::kParse, 2, "UTF-8");
  ExpectError("[a-\xED\xA0\x80]", StatusCode::kParse, 3, "UTF-8");  // an encoded surrogate
}

TEST(RegexParser, OversizedPatternIsALimitError) {
  RegexOptions opts;
  opts.max_pattern_bytes = 8;
  EXPECT_EQ(ErrorOf("abcdefghi", opts).code(), StatusCode::kLimit);
  EXPECT_TRUE(ErrorOf("abcdefgh", opts).ok());
}

TEST(RegexParser, AnchorCopiesAreBoundedByMaxExprs) {
  // After each (a|$) the text so far may end the input or go on: the free prefix is needed twice,
  // so it is copied, and n such groups cost O(n^2) expressions. That is capped by max_exprs.
  std::string p;
  for (int i = 0; i < 200; ++i) p += "(a|$)";
  RegexOptions opts;
  opts.max_exprs = 2000;
  EXPECT_EQ(ErrorOf(p, opts).code(), StatusCode::kLimit);
  std::string small;
  for (int i = 0; i < 5; ++i) small += "(a|$)";
  Lang l("^" + small);
  EXPECT_ACCEPTS(l, "aa");
  EXPECT_ACCEPTS(l, "aaaaa");
  EXPECT_ACCEPTS(l, "aaaaab");
  EXPECT_REJECTS(l, "aab");
}

TEST(RegexParser, LargeBoundedRepeatsStayCompact) {
  Lang l("^[^\"]{0,8000}$");
  ASSERT_NE(l.pda(), nullptr);
  EXPECT_LT(l.pda()->stats().states, 40);
  EXPECT_ACCEPTS(l, std::string(8000, 'x'));
  EXPECT_REJECTS(l, std::string(8001, 'x'));
  EXPECT_REJECTS(l, "ab\"");
  Lang pairs("^(?:ab|cd){2,5000}x$");
  ASSERT_NE(pairs.pda(), nullptr);
  EXPECT_LT(pairs.pda()->stats().states, 40);
  std::string s;
  for (int i = 0; i < 5000; ++i) s += (i % 3 == 0) ? "ab" : "cd";
  EXPECT_ACCEPTS(pairs, s + "x");
  EXPECT_REJECTS(pairs, s + "abx");
  EXPECT_REJECTS(pairs, "abx");
}

TEST(RegexParser, UnanchoredEndsDropOptionalRepetition) {
  // Containing [^"]{0,8000} is containing "": every string. Containing \d{3,1000} is containing
  // \d{3}. Neither needs a counted rule.
  Lang all("[^\"]{0,8000}");
  ASSERT_NE(all.pda(), nullptr);
  EXPECT_EQ(all.pda()->stats().counted_rules, 0);
  EXPECT_ACCEPTS(all, "\"\"");
  Lang digits("\\d{3,1000}");
  ASSERT_NE(digits.pda(), nullptr);
  EXPECT_EQ(digits.pda()->stats().counted_rules, 0);
  EXPECT_ACCEPTS(digits, "ab123");
  EXPECT_REJECTS(digits, "12a34");
  Lang tail("^ab*c{2,9}");  // only the end meets .*
  EXPECT_ACCEPTS(tail, "acc!");
  EXPECT_REJECTS(tail, "abc!");
  Lang head("a{2,9}b*c$");
  EXPECT_ACCEPTS(head, "xaac");
  EXPECT_REJECTS(head, "xac");
}

TEST(RegexParser, RegexToExprAddsItsLanguageInsideALargerGrammar) {
  Grammar g;
  const RuleId root = g.AddRule("root");
  const ExprId open = g.AddBytes("<");
  RegexOptions opts;
  opts.search_semantics = false;
  auto body = RegexToExpr("[a-z]+\\d?", &g, opts);
  ASSERT_TRUE(body.ok()) << body.status().ToString();
  const ExprId close = g.AddBytes(">");
  const ExprId items[] = {open, *body, close};
  g.SetRuleBody(root, g.AddSequence(items));
  g.set_root(root);
  ASSERT_TRUE(g.Validate().ok()) << g.Validate().ToString();
  auto c = CompileGrammarIr(std::move(g), GrammarCompileOptions());
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  GrammarMatcher ok(c->pda);
  EXPECT_TRUE(ok.AcceptString("<abc7>") && ok.CanTerminate());
  GrammarMatcher bad(c->pda);
  EXPECT_FALSE(bad.AcceptString("<7>"));
  EXPECT_EQ(RegexToExpr("a", nullptr).status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace sieve
