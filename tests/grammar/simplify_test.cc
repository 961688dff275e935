// Tests for Simplify and the nullability / left-corner analyses: each rewrite's output shape, that
// languages are kept (checked with the reference recogniser on the test sentences and on every
// short string over small alphabets), left-recursion rewriting and its errors, and limits.
#include "grammar/simplify.h"

#include <gtest/gtest.h>

#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "grammar/ebnf_parser.h"
#include "grammar/grammar.h"
#include "grammar/grammar_printer.h"
#include "tests/testing/reference_recognizer.h"

namespace sieve {
namespace {

Grammar MustParse(std::string_view text) {
  Result<Grammar> g = ParseEbnf(text);
  EXPECT_TRUE(g.ok()) << g.status().ToString() << "\n" << text;
  return g.ok() ? std::move(g).value() : Grammar();
}

Grammar MustSimplify(const Grammar& g, const SimplifyOptions& opts = SimplifyOptions()) {
  Result<Grammar> s = Simplify(g, opts);
  EXPECT_TRUE(s.ok()) << s.status().ToString() << "\n" << PrintEbnf(g);
  return s.ok() ? std::move(s).value() : Grammar();
}

std::string Simplified(std::string_view text, const SimplifyOptions& opts = SimplifyOptions()) {
  return PrintEbnf(MustSimplify(MustParse(text), opts));
}

std::string ReadFile(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// Every string over `alphabet` of length <= max_len.
std::vector<std::string> AllStrings(const std::string& alphabet, int max_len) {
  std::vector<std::string> out{""};
  for (size_t begin = 0, len = 0; len < static_cast<size_t>(max_len); ++len) {
    size_t end = out.size();
    for (size_t i = begin; i < end; ++i) {
      for (char c : alphabet) out.push_back(out[i] + c);
    }
    begin = end;
  }
  return out;
}

// Checks that a and b accept the same strings among all strings up to max_len over alphabet, and
// that the comparison is not vacuous (both accept something and reject something).
void ExpectSameLanguage(const Grammar& a, const Grammar& b, const std::string& alphabet,
                        int max_len) {
  int accepted = 0, rejected = 0;
  for (const std::string& s : AllStrings(alphabet, max_len)) {
    bool in_a = ReferenceMatch(a, s);
    ASSERT_EQ(in_a, ReferenceMatch(b, s)) << "'" << s << "'\n"
                                          << PrintEbnf(a) << "vs\n"
                                          << PrintEbnf(b);
    ASSERT_EQ(ReferenceIsPrefix(a, s), ReferenceIsPrefix(b, s)) << "prefix '" << s << "'";
    (in_a ? accepted : rejected)++;
  }
  EXPECT_GT(accepted, 0);
  EXPECT_GT(rejected, 0);
}

void ExpectSimplifyKeepsLanguage(std::string_view text, const std::string& alphabet, int max_len) {
  Grammar g = MustParse(text);
  Grammar s = MustSimplify(g);
  ExpectSameLanguage(g, s, alphabet, max_len);
}

bool IsLeftRecursive(const Grammar& g) {
  std::vector<bool> nullable = NullableExprs(g, NullableRules(g));
  // Reachability in the left-corner graph from each rule back to itself.
  for (size_t r = 0; r < g.num_rules(); ++r) {
    std::vector<bool> seen(g.num_rules(), false);
    std::vector<RuleId> work = LeftCornerRules(g, static_cast<RuleId>(r), nullable);
    while (!work.empty()) {
      RuleId u = work.back();
      work.pop_back();
      if (u == static_cast<RuleId>(r)) return true;
      if (seen[u]) continue;
      seen[u] = true;
      for (RuleId v : LeftCornerRules(g, u, nullable)) work.push_back(v);
    }
  }
  return false;
}

const char* const kDataGrammars[] = {"json",    "arithmetic_leftrec", "c_like", "csv", "pgn",
                                     "unicode", "nested_bounds"};

// ---- shape of the output ----

TEST(Simplify, FlattensNestedSequencesAndChoicesAndFusesLiterals) {
  SimplifyOptions opts;
  opts.inline_rules = false;
  EXPECT_EQ(Simplified("root ::= \"a\" (\"b\" (\"c\" x)) | (\"d\" | (y | \"ef\"))\n"
                       "x ::= \"x\" \"x\"+\ny ::= \"y\"+ \"y\"",
                       opts),
            "root ::= \"abc\" x | \"d\" | y | \"ef\"\n"
            "x ::= \"x\" \"x\"+\n"
            "y ::= \"y\"+ \"y\"\n");
  // With inlining, the single-use rules disappear and their literals fuse with the neighbours.
  EXPECT_EQ(Simplified("root ::= \"a\" (\"b\" (\"c\" x)) | (\"d\" | (y | \"ef\"))\n"
                       "x ::= \"x\" \"x\"+\ny ::= \"y\"+ \"y\""),
            "root ::= \"abcx\" \"x\"+ | \"d\" | \"y\"+ \"y\" | \"ef\"\n");
}

TEST(Simplify, TurnsSingleCodePointClassesIntoLiteralsAndFusesThem) {
  EXPECT_EQ(Simplified("root ::= \"a\" [b] [c-c] \"d\" [e-f]"), "root ::= \"abcd\" [ef]\n");
}

TEST(Simplify, MergesClassLikeAlternativesIntoOneClass) {
  EXPECT_EQ(Simplified("root ::= \"a\" | [0-9] | \"bc\" | \"é\" | [b-c] | \"a\""),
            "root ::= [0-9a-c\\u00E9] | \"bc\"\n");
}

TEST(Simplify, KeepsALoneNegatedClassAsWritten) {
  EXPECT_EQ(Simplified("root ::= [^a] | \"xy\""), "root ::= [^a] | \"xy\"\n");
}

TEST(Simplify, RemovesRepeatsThatDoNothing) {
  EXPECT_EQ(Simplified("root ::= \"a\"{1,1} \"b\"{1} (\"c\"){0} (\"\")* \"d\""),
            "root ::= \"abd\"\n");
}

TEST(Simplify, TurnsEmptyAlternativesIntoOptional) {
  EXPECT_EQ(Simplified("root ::= \"x\" (| \"a\" | \"\" | \"bc\") \"y\""),
            "root ::= \"x\" (\"a\" | \"bc\")? \"y\"\n");
  EXPECT_EQ(Simplified("root ::= \"x\" (\"\" | \"a\"*) \"y\""), "root ::= \"x\" \"a\"* \"y\"\n");
}

TEST(Simplify, CollapsesNestedStarPlusAndQuestion) {
  EXPECT_EQ(Simplified("root ::= ((\"a\"+)*) ((\"b\"+)+) ((\"c\"?)?) ((\"d\"?)+) ((\"e\"+)?)"),
            "root ::= \"a\"* \"b\"+ \"c\"? \"d\"* \"e\"*\n");
}

TEST(Simplify, KeepsBoundedRepetitionAsACounter) {
  Grammar s = MustSimplify(MustParse("root ::= \"\\\"\" [^\"]{0,8000} \"\\\"\" (\"ab\"{3}){0,2}"));
  EXPECT_EQ(PrintEbnf(s), "root ::= \"\\\"\" [^\"]{0,8000} \"\\\"\" (\"ab\"{3}){0,2}\n");
  EXPECT_LT(s.num_exprs(), 12u);
}

// (x{a,b}){c,d} is x{ca,db} when no count between is lost; llama.cpp's "hang" grammar (six
// nested ([^x]*){0,99}) is then [^x]*, which the matcher reads with one frame instead of stacks
// that grow with the input. Counts with gaps ({0, 3, 6}) and merges past the bound stay nested.
TEST(Simplify, MergesNestedCountsWhereNoCountIsLost) {
  const std::pair<const char*, const char*> cases[] = {
      {"root ::= (((((([^x]*){0,99}){0,99}){0,99}){0,99}){0,99}){0,99}", "root ::= [^x]*\n"},
      {"root ::= (((\"a\"?){0,99}){0,99}){0,99}", "root ::= \"a\"{0,970299}\n"},
      {"root ::= (\"ab\"{2,3}){4}", "root ::= \"ab\"{8,12}\n"},
      {"root ::= (\"ab\"{2,3}){2,5}", "root ::= \"ab\"{4,15}\n"},
      {"root ::= (\"a\"{2,}){3,}", "root ::= \"a\"{6,}\n"},
      {"root ::= (\"a\"+){0,7}", "root ::= \"a\"*\n"},
      {"root ::= ((\"a\"{1,2}){1,3}){2}", "root ::= \"a\"{2,12}\n"},
      {"root ::= (\"a\"{3}){0,2}", "root ::= (\"a\"{3}){0,2}\n"},
      {"root ::= (\"a\"{2,}){0,3}", "root ::= (\"a\"{2,}){0,3}\n"},
      {"root ::= (\"a\"{2,3}){1,4}", "root ::= \"a\"{2,12}\n"},  // 2-3, 4-6, 6-9, 8-12
      {"root ::= (\"a\"{3,4}){1,4}", "root ::= (\"a\"{3,4}){1,4}\n"},  // 5 is missing
      {"root ::= (\"a\"{2,3}){2,4}", "root ::= \"a\"{4,12}\n"},
      {"root ::= (\"a\"{0,1000}){0,1001}", "root ::= (\"a\"{0,1000}){0,1001}\n"},
  };
  for (const auto& [in, out] : cases) EXPECT_EQ(Simplified(in), out) << in;
}

TEST(Simplify, RemovesRulesUnreachableFromTheRoot) {
  SimplifyOptions opts;
  opts.inline_rules = false;
  Grammar s = MustSimplify(MustParse("root ::= a a\na ::= \"a\"+ \"a\"\ndead ::= dead2\n"
                                     "dead2 ::= \"x\" dead"),
                           opts);
  EXPECT_EQ(s.num_rules(), 2u);
  EXPECT_EQ(s.FindRule("dead"), -1);
  EXPECT_EQ(s.FindRule("dead2"), -1);
}

TEST(Simplify, InlinesRulesUsedOnceAndSmallRules) {
  SimplifyOptions opts;
  opts.inline_max_nodes = 2;
  EXPECT_EQ(Simplified("root ::= once small small big big\n"
                       "once ::= \"o\" (\"p\" | \"q\" \"r\") \"s\"+\n"
                       "small ::= \"x\"+\n"
                       "big ::= \"b\" (\"c\" | \"d\")\n",
                       opts),
            "root ::= \"o\" (\"p\" | \"qr\") \"s\"+ \"x\"+ \"x\"+ big big\n"
            "big ::= \"b\" [cd]\n");
}

// Found in review (session 20): literals merge into one node, so counting nodes let a rule used
// twice by each of 30 rules (r0 ::= r1 r1, ..., r30 ::= "q") be copied at every level, doubling
// one literal to 2^30 bytes (tens of seconds, gigabytes). A literal counts by its length now.
TEST(Simplify, StopsInliningWhenCopiedLiteralsWouldDoubleAtEveryLevel) {
  auto doubling = [](int n) {  // exactly 2^n q's
    std::string text = "root ::= r0\n";
    for (int i = 0; i < n; ++i) {
      const std::string next = "r" + std::to_string(i + 1);
      text += "r" + std::to_string(i) + " ::= " + next + " " + next + "\n";
    }
    return text + "r" + std::to_string(n) + " ::= \"q\"\n";
  };
  const Grammar g = MustSimplify(MustParse(doubling(30)));
  EXPECT_LT(g.MemorySize(), size_t{1} << 20);  // the chain's upper levels stay rules
  const Grammar h = MustSimplify(MustParse(doubling(6)));
  EXPECT_TRUE(ReferenceMatch(h, std::string(64, 'q')));
  EXPECT_FALSE(ReferenceMatch(h, std::string(63, 'q')));
  EXPECT_FALSE(ReferenceMatch(h, std::string(65, 'q')));
}

TEST(Simplify, NeverInlinesTheRootRecursiveRulesOrRulesWithALookahead) {
  EXPECT_EQ(Simplified("root ::= \"(\" nest \")\" str\n"
                       "nest ::= \"(\" nest \")\" | \"x\"\n"
                       "str ::= \"'\" (= \"!\")\n"
                       "helper ::= root\n"),
            "root ::= \"(\" nest \")\" str\n"
            "nest ::= \"(\" nest \")\" | \"x\"\n"
            "str ::= \"'\" (= \"!\")\n");
}

TEST(Simplify, InlinesIntoLookaheads) {
  EXPECT_EQ(Simplified("root ::= str \"!\"\nstr ::= \"'\" (= end)\nend ::= \"!\"\n"),
            "root ::= str \"!\"\nstr ::= \"'\" (= \"!\")\n");
}

TEST(Simplify, MergesStructurallyEqualRules) {
  SimplifyOptions opts;
  opts.inline_rules = false;
  EXPECT_EQ(Simplified("root ::= a b c \"!\" root2\n"
                       "a ::= \"x\" a | \"y\"\n"
                       "b ::= \"x\" a | \"y\"\n"
                       "c ::= \"x\" b | \"y\"\n"
                       "root2 ::= \"z\"\n",
                       opts),
            "root ::= a a a \"!\" root2\n"
            "a ::= \"x\" a | \"y\"\n"
            "root2 ::= \"z\"\n");
}

// A merge inside a recursive component can make rules hashed earlier in the round equal (x2 and
// x below only agree once w and y are one rule), so Dedupe runs another round exactly then.
TEST(Simplify, MergesWhatAMergeInsideARecursiveComponentMadeEqual) {
  SimplifyOptions opts;
  opts.inline_rules = false;
  EXPECT_EQ(Simplified("root ::= w x x2\n"
                       "w ::= \"q\" x | \"z\"\n"
                       "x ::= \"a\" y\n"
                       "x2 ::= \"a\" w\n"
                       "y ::= \"q\" x | \"z\"\n",
                       opts),
            "root ::= y x x\n"
            "x ::= \"a\" y\n"
            "y ::= \"q\" x | \"z\"\n");
}

// Choice alternatives are compared by a hash of their top levels, then in full: alternatives that
// differ only far down are both kept, equal ones are merged, however deep.
TEST(Simplify, DropsDuplicateAlternativesComparingThemInFull) {
  const std::string deep_x = "\"p\" (\"a\" (\"b\" (\"c\" (\"d\" \"x\"+)*)*)*)*";
  const std::string deep_y = "\"p\" (\"a\" (\"b\" (\"c\" (\"d\" \"y\"+)*)*)*)*";
  EXPECT_EQ(Simplified("root ::= " + deep_x + " | " + deep_y + " | " + deep_x),
            "root ::= " + deep_x + " | " + deep_y + "\n");
}

// Inlining re-normalises only the nodes above an inlined reference: literals still fuse across
// the inlined body, alternatives it makes equal are dropped, class-like ones merge, an inlined
// "" disappears or makes its choice optional, and one-item results are hoisted.
TEST(Simplify, NormalisesAroundInlinedBodies) {
  EXPECT_EQ(Simplified("root ::= \"<\" x \">\" | \"<\" y \">\"\nx ::= \"a\" \"b\"\ny ::= \"ab\"\n"),
            "root ::= \"<ab>\"\n");
  EXPECT_EQ(Simplified("root ::= (\"[\" (x | \"q\") \"]\")*\nx ::= [a] | [b]\n"),
            "root ::= (\"[\" [abq] \"]\")*\n");
  EXPECT_EQ(Simplified("root ::= \"a\" e \"b\" (e | \"c\")\ne ::= \"\"\n"),
            "root ::= \"ab\" \"c\"?\n");
}

TEST(Simplify, KeepsTheRootWhenItEqualsAnotherRule) {
  SimplifyOptions opts;
  opts.inline_rules = false;
  EXPECT_EQ(Simplified("x ::= \"a\" x | \"b\"\nroot ::= \"a\" x | \"b\"\n", opts),
            "root ::= \"a\" root | \"b\"\n");
}

TEST(Simplify, LeavesNoOneItemSequencesOrChoicesAndValidates) {
  for (const char* name : kDataGrammars) {
    Grammar s = MustSimplify(
        MustParse(ReadFile(std::string(SIEVE_TEST_DATA_DIR) + "/grammars/" + name + ".ebnf")));
    EXPECT_TRUE(s.Validate().ok()) << name;
    for (size_t r = 0; r < s.num_rules(); ++r) {
      std::vector<ExprId> stack{s.rule(static_cast<RuleId>(r)).body};
      while (!stack.empty()) {
        const Expr& e = s.expr(stack.back());
        stack.pop_back();
        if (e.kind == ExprKind::kSequence || e.kind == ExprKind::kChoice) {
          EXPECT_GE(e.size, 2u) << name;
        }
        if (e.kind == ExprKind::kSequence || e.kind == ExprKind::kChoice ||
            e.kind == ExprKind::kRepeat) {
          for (ExprId c : s.children(e)) stack.push_back(c);
        }
      }
    }
    EXPECT_FALSE(IsLeftRecursive(s)) << name;
  }
}

TEST(Simplify, IsIdempotentOnEveryTestGrammar) {
  for (const char* name : kDataGrammars) {
    Grammar once = MustSimplify(
        MustParse(ReadFile(std::string(SIEVE_TEST_DATA_DIR) + "/grammars/" + name + ".ebnf")));
    Grammar twice = MustSimplify(once);
    EXPECT_EQ(PrintEbnf(twice), PrintEbnf(once)) << name;
  }
}

// ---- languages are kept ----

TEST(Simplify, KeepsTheLanguageOfEveryTestGrammar) {
  for (const char* name : kDataGrammars) {
    const std::string base = std::string(SIEVE_TEST_DATA_DIR) + "/grammars/" + name;
    Grammar g = MustParse(ReadFile(base + ".ebnf"));
    Grammar s = MustSimplify(g);
    for (const char* kind : {"accept", "reject"}) {
      std::vector<TestSentence> sentences;
      std::string error;
      ASSERT_TRUE(LoadSentences(base + "." + kind + ".txt", &sentences, &error)) << error;
      ASSERT_FALSE(sentences.empty()) << name << " " << kind;
      const bool accept = std::string(kind) == "accept";
      for (const TestSentence& t : sentences) {
        const bool prefix = accept || t.prefix;
        EXPECT_EQ(ReferenceMatch(g, t.text), accept) << name << "." << kind << ":" << t.line;
        EXPECT_EQ(ReferenceMatch(s, t.text), accept) << name << "." << kind << ":" << t.line;
        EXPECT_EQ(ReferenceIsPrefix(g, t.text), prefix) << name << "." << kind << ":" << t.line;
        EXPECT_EQ(ReferenceIsPrefix(s, t.text), prefix) << name << "." << kind << ":" << t.line;
      }
    }
  }
}

TEST(Simplify, KeepsTheLanguageOfSmallGrammarsOnEveryShortString) {
  ExpectSimplifyKeepsLanguage(
      "root ::= (\"a\" | \"\" | \"b\" \"a\"?)* \"b\"{1,2} | x\n"
      "x ::= \"a\" x \"b\" | \"\"",
      "ab", 7);
  ExpectSimplifyKeepsLanguage("root ::= ((\"a\"+)? \"b\"?)+ | [ab]{2} [^a]{0,2}", "abc", 6);
  ExpectSimplifyKeepsLanguage("root ::= a | b\na ::= \"a\" a | \"c\"\nb ::= \"a\" b | \"c\"\n",
                              "ac", 6);
}

// A random grammar over "a" and "b": literals, classes, references, "", sequences, choices and
// every quantifier form, nested up to a few levels.
std::string RandomExpr(std::mt19937* rng, int depth, int rules) {
  auto pick = [rng](int n) { return std::uniform_int_distribution<int>(0, n - 1)(*rng); };
  switch (depth > 3 ? pick(4) : pick(9)) {
    case 0:
      return std::string("\"") + "ab"[pick(2)] + (pick(2) ? "b" : "") + "\"";
    case 1:
      return pick(2) ? "[a-b]" : "[^a]";
    case 2:
      return "r" + std::to_string(pick(rules));
    case 3:
      return "\"\"";
    case 4:
      return RandomExpr(rng, depth + 1, rules) + " " + RandomExpr(rng, depth + 1, rules);
    case 5:
      return "(" + RandomExpr(rng, depth + 1, rules) + " | " + RandomExpr(rng, depth + 1, rules) +
             ")";
    case 6: {
      const char* quantifiers[] = {"*", "+", "?", "{2}", "{0,2}", "{1,}", "{,1}"};
      return "(" + RandomExpr(rng, depth + 1, rules) + ")" + quantifiers[pick(7)];
    }
    case 7:
      return RandomExpr(rng, depth + 1, rules) + " " + RandomExpr(rng, depth + 1, rules) + " " +
             RandomExpr(rng, depth + 1, rules);
    default:
      return "(" + RandomExpr(rng, depth + 1, rules) + ")";
  }
}

TEST(Simplify, KeepsTheLanguageOfRandomGrammars) {
  std::mt19937 rng(20240601);
  const std::vector<std::string> strings = AllStrings("abc", 4);
  int simplified = 0;
  for (int iteration = 0; iteration < 300; ++iteration) {
    const int rules = 1 + static_cast<int>(rng() % 4);
    std::string text;
    for (int r = 0; r < rules; ++r) {
      text += 'r' + std::to_string(r) + " ::= " + RandomExpr(&rng, 0, rules) + "\n";
    }
    EbnfOptions opts;
    opts.root = "r0";
    Result<Grammar> g = ParseEbnf(text, opts);
    ASSERT_TRUE(g.ok()) << g.status().ToString() << "\n" << text;
    Result<Grammar> s = Simplify(*g);
    if (!s.ok()) {  // only left recursion that cannot be rewritten may fail
      ASSERT_EQ(s.status().code(), StatusCode::kUnsupported) << s.status().ToString() << text;
      continue;
    }
    ++simplified;
    Result<Grammar> back = ParseEbnf(PrintEbnf(*s), opts);
    ASSERT_TRUE(back.ok() && back->Equals(*s)) << text << "--\n" << PrintEbnf(*s);
    ASSERT_FALSE(IsLeftRecursive(*s)) << text;
    for (const std::string& str : strings) {
      ASSERT_EQ(ReferenceMatch(*g, str), ReferenceMatch(*s, str)) << "'" << str << "'\n"
                                                                  << text << "--\n"
                                                                  << PrintEbnf(*s);
      ASSERT_EQ(ReferenceIsPrefix(*g, str), ReferenceIsPrefix(*s, str))
          << "prefix '" << str << "'\n"
          << text << "--\n"
          << PrintEbnf(*s);
    }
  }
  EXPECT_GT(simplified, 200);
}

// ---- left recursion ----

TEST(Simplify, RewritesDirectLeftRecursionIntoARepeat) {
  Grammar g = MustParse("root ::= expr\nexpr ::= expr \"+\" term | term\nterm ::= [0-9]");
  Grammar s = MustSimplify(g);
  EXPECT_EQ(PrintEbnf(s), "root ::= [0-9] (\"+\" [0-9])*\n");
  EXPECT_FALSE(IsLeftRecursive(s));
  ExpectSameLanguage(g, s, "1+", 7);
}

TEST(Simplify, RewritesArithmeticLeftRecursionWithoutChangingTheLanguage) {
  Grammar g =
      MustParse(ReadFile(std::string(SIEVE_TEST_DATA_DIR) + "/grammars/arithmetic_leftrec.ebnf"));
  EXPECT_TRUE(IsLeftRecursive(g));
  Grammar s = MustSimplify(g);
  EXPECT_FALSE(IsLeftRecursive(s));
  ExpectSameLanguage(g, s, "1+*(-", 5);
  ExpectSameLanguage(g, s, "1f(,", 5);
}

TEST(Simplify, RewritesIndirectLeftRecursion) {
  Grammar g = MustParse(
      "root ::= a\na ::= b \"x\" | \"y\"\nb ::= a \"z\" | \"w\" | c\n"
      "c ::= a \"q\" | b \"r\"");
  EXPECT_TRUE(IsLeftRecursive(g));
  Grammar s = MustSimplify(g);
  EXPECT_FALSE(IsLeftRecursive(s));
  ExpectSameLanguage(g, s, "xyzwqr", 5);
}

TEST(Simplify, RewritesLeftRecursionThroughNullableRulesAndGroups) {
  // a's own alternatives are nullable; the recursion sits inside a group at the head.
  Grammar g = MustParse(
      "root ::= a \"!\"\na ::= (a \"x\" | a \"y\") | \"\" | n a \"z\"\n"
      "n ::= \"n\"");
  Grammar s = MustSimplify(g);
  EXPECT_FALSE(IsLeftRecursive(s));
  ExpectSameLanguage(g, s, "xyzn!", 5);
  // An optional recursion at the head is an alternative with and one without it.
  Grammar opt = MustParse("root ::= e\ne ::= e? \"x\" | \"y\" (e \"z\")?");
  Grammar opt_s = MustSimplify(opt);
  EXPECT_FALSE(IsLeftRecursive(opt_s));
  ExpectSameLanguage(opt, opt_s, "xyz", 6);
  // So is a starred one: x* rest -> rest | x x* rest.
  Grammar star = MustParse("root ::= e\ne ::= e* \"x\" | (e \"z\")+ \"q\" | \"y\"");
  Grammar star_s = MustSimplify(star);
  EXPECT_FALSE(IsLeftRecursive(star_s));
  ExpectSameLanguage(star, star_s, "xyzq", 6);
}

TEST(Simplify, DropsAlternativesThatOnlyRepeatTheRule) {
  Grammar g = MustParse("root ::= a\na ::= a | \"x\" | b\nb ::= a | \"y\"");
  Grammar s = MustSimplify(g);
  EXPECT_EQ(PrintEbnf(s), "root ::= [xy]\n");
}

TEST(Simplify, RejectsLeftRecursionWithoutABaseCase) {
  Result<Grammar> s = Simplify(MustParse("root ::= a \"!\" | \"?\"\na ::= a"));
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), StatusCode::kUnsupported);
  EXPECT_NE(s.status().message().find("left recursion: a -> a"), std::string::npos)
      << s.status().message();
  EXPECT_NE(s.status().message().find("matches nothing"), std::string::npos);
}

TEST(Simplify, RejectsLeftRecursionHiddenBehindANullablePrefix) {
  Result<Grammar> s =
      Simplify(MustParse("root ::= a\na ::= b \"y\"\nb ::= n a \"x\" | \"z\"\nn ::= \"n\"?"));
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), StatusCode::kUnsupported);
  EXPECT_NE(s.status().message().find("left recursion: a -> b -> a"), std::string::npos)
      << s.status().message();
  EXPECT_NE(s.status().message().find("nullable prefix in rule 'b'"), std::string::npos);
  // The brief's example: a nullable rule in front of the recursion, directly.
  s = Simplify(MustParse("root ::= a\na ::= b a?\nb ::= a?"));
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), StatusCode::kUnsupported);
  EXPECT_NE(s.status().message().find("left recursion: a -> "), std::string::npos)
      << s.status().message();
}

TEST(Simplify, RejectsLeftRecursionUnderAQuantifier) {
  Result<Grammar> s = Simplify(MustParse("root ::= expr\nexpr ::= expr{2,3} \"x\" | \"y\""));
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), StatusCode::kUnsupported);
  EXPECT_NE(s.status().message().find("left recursion: expr -> expr"), std::string::npos);
  EXPECT_NE(s.status().message().find("group or quantifier"), std::string::npos);
}

TEST(Simplify, NamesEveryRuleOnTheCycle) {
  Result<Grammar> s =
      Simplify(MustParse("root ::= expr\nexpr ::= term \"+\" | \"1\"\n"
                         "term ::= factor \"*\"\nfactor ::= \"f\"* expr"));
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), StatusCode::kUnsupported);
  EXPECT_NE(s.status().message().find("left recursion: expr -> term -> factor -> expr"),
            std::string::npos)
      << s.status().message();
}

TEST(Simplify, ReportsLeftRecursionWhenRewritingIsDisabled) {
  SimplifyOptions opts;
  opts.rewrite_left_recursion = false;
  Result<Grammar> s = Simplify(MustParse("root ::= root \"a\" | \"b\""), opts);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), StatusCode::kUnsupported);
  EXPECT_NE(s.status().message().find("left recursion: root -> root"), std::string::npos);
}

TEST(Simplify, StopsALeftRecursionRewriteThatGrowsPastTheBudget) {
  // Each rule has two alternatives starting with the previous one: substitution doubles per level.
  std::string text = "root ::= r0\nr0 ::= r11 \"a\" | \"s\"\n";
  for (int i = 1; i <= 11; ++i) {
    const std::string n = std::to_string(i), prev = std::to_string(i - 1);
    text += 'r' + n + " ::= r" + prev + " \"x\" | r" + prev + " \"y\"\n";
  }
  SimplifyOptions opts;
  opts.max_left_recursion_nodes = 500;
  Result<Grammar> s = Simplify(MustParse(text), opts);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), StatusCode::kLimit);
  EXPECT_NE(s.status().message().find("left recursion: r0 -> r11"), std::string::npos)
      << s.status().message();
  opts.max_left_recursion_nodes = 1000000;
  EXPECT_TRUE(Simplify(MustParse(text), opts).ok());
}

// ---- limits and scale ----

TEST(Simplify, RejectsExpressionTreesDeeperThanTheLimit) {
  Grammar g;
  ExprId e = g.AddBytes("a");
  for (int i = 0; i < 5000; ++i) e = g.AddRepeat(e, 0, 2 + i);
  RuleId root = g.AddRule("root");
  g.SetRuleBody(root, e);
  g.set_root(root);
  Result<Grammar> s = Simplify(g);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), StatusCode::kLimit);
  EXPECT_NE(s.status().message().find("over the limit of " +
                                      std::to_string(SimplifyOptions().max_expr_depth)),
            std::string::npos);
}

TEST(Simplify, HandlesTheDeepestGrammarTheParserAccepts) {
  // Each level is a group plus a quantifier: two units of the parser's nesting limit.
  const int levels = EbnfOptions().max_nesting_depth / 2 - 1;
  std::string text = "root ::= ";
  for (int i = 0; i < levels; ++i) text += "(\"a\" ";
  text += "\"b\"";
  for (int i = 0; i < levels; ++i) text += ")*";
  Grammar g = MustParse(text);
  Grammar s = MustSimplify(g);
  Result<Grammar> back = ParseEbnf(PrintEbnf(s));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_TRUE(back->Equals(s));
  // A "b" can only follow `levels` "a"s, one per level; fewer "a"s alone are fine (every level
  // is *).
  EXPECT_TRUE(ReferenceMatch(s, "aaa"));
  EXPECT_TRUE(ReferenceMatch(g, "aaa"));
  EXPECT_FALSE(ReferenceMatch(s, "aab"));
  EXPECT_TRUE(ReferenceIsPrefix(s, "aaaa"));
  EXPECT_FALSE(ReferenceIsPrefix(s, "ab"));
}

TEST(Simplify, RejectsAnInvalidGrammar) {
  Grammar g;
  RuleId root = g.AddRule("root");
  g.SetRuleBody(root, g.AddCharClass({}, false));
  g.set_root(root);
  EXPECT_EQ(Simplify(g).status().code(), StatusCode::kInvalidArgument);
}

TEST(Simplify, HandlesLongRuleChainsWithoutDeepRecursion) {
  std::string text = "root ::= r0\n";
  const int n = 30000;
  for (int i = 0; i < n; ++i) {
    const std::string id = std::to_string(i), next = std::to_string(i + 1);
    text += 'r' + id + " ::= (\"x\" r" + next + ")?\n";
  }
  text += 'r' + std::to_string(n) + " ::= \"end\"\n";
  Grammar g = MustParse(text);
  Grammar s = MustSimplify(g);
  EXPECT_LT(s.num_rules(), g.num_rules());
  EXPECT_TRUE(ReferenceMatch(s, "xxxx"));
  EXPECT_FALSE(ReferenceMatch(s, "xxxxy"));
}

// ---- analyses ----

TEST(GrammarAnalysis, FindsNullableRulesThroughReferencesAndQuantifiers) {
  Grammar g = MustParse(
      "root ::= a b c d e\na ::= \"x\"*\nb ::= a a | \"y\"\nc ::= \"z\" | b\n"
      "d ::= \"w\"+ | (\"\")\ne ::= \"q\" e | f\nf ::= \"f\" | e");
  std::vector<bool> n = NullableRules(g);
  EXPECT_TRUE(n[g.FindRule("a")]);
  EXPECT_TRUE(n[g.FindRule("b")]);
  EXPECT_TRUE(n[g.FindRule("c")]);
  EXPECT_TRUE(n[g.FindRule("d")]);
  EXPECT_FALSE(n[g.FindRule("e")]);
  EXPECT_FALSE(n[g.FindRule("f")]);
  EXPECT_FALSE(n[g.FindRule("root")]);
  std::vector<bool> exprs = NullableExprs(g, n);
  EXPECT_TRUE(exprs[g.rule(g.FindRule("d")).body]);
  EXPECT_FALSE(exprs[g.rule(g.FindRule("root")).body]);
  const Expr& d = g.expr(g.rule(g.FindRule("d")).body);  // "w"+ | ("")
  EXPECT_FALSE(exprs[g.children(d)[0]]);
  EXPECT_TRUE(exprs[g.children(d)[1]]);
}

TEST(GrammarAnalysis, ComputesTheLeftCornerThroughNullablePrefixes) {
  Grammar g = MustParse(
      "root ::= a b c | (d | \"x\" e) | f{0} g\n"
      "a ::= \"a\"?\nb ::= \"b\"\nc ::= \"c\"\nd ::= \"d\"\ne ::= \"e\"\n"
      "f ::= \"f\"\ng ::= \"g\"");
  std::vector<RuleId> lc = LeftCornerRules(g, g.root(), NullableExprs(g, NullableRules(g)));
  std::vector<RuleId> want = {g.FindRule("a"), g.FindRule("b"), g.FindRule("d"), g.FindRule("g")};
  std::sort(want.begin(), want.end());
  EXPECT_EQ(lc, want);
}

}  // namespace
}  // namespace sieve
