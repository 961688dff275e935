// The code-point automata behind string constraints (json_schema_automaton.h), checked against
// brute force: every string over a small alphabet up to length 5 gets the verdict that set algebra
// predicts for intersection, union, complement, length bounds and minimisation.
#include "grammar/json_schema_automaton.h"

#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

namespace sieve::jsonschema {
namespace {

// (a|bc)*d?  and  [ab]{2,3}  over the alphabet a, b, c, d, and one non-ASCII letter.
struct Fixture {
  Grammar g;
  ExprId x, y;
  Fixture() {
    ExprId a = g.AddBytes("a"), bc = g.AddBytes("bc");
    ExprId star = g.AddRepeat(g.AddChoice(std::vector<ExprId>{a, bc}), 0, kUnbounded);
    ExprId d = g.AddRepeat(g.AddBytes("d"), 0, 1);
    x = g.AddSequence(std::vector<ExprId>{star, d});
    y = g.AddRepeat(g.AddCharClass({{'a', 'b'}}, false), 2, 3);
  }
};

bool InX(const std::string& s) {
  size_t i = 0;
  while (i < s.size()) {
    if (s[i] == 'a') {
      ++i;
    } else if (s.compare(i, 2, "bc") == 0) {
      i += 2;
    } else {
      break;
    }
  }
  return i == s.size() || (i + 1 == s.size() && s[i] == 'd');
}
bool InY(const std::string& s) {
  if (s.size() < 2 || s.size() > 3) return false;
  for (char c : s) {
    if (c != 'a' && c != 'b') return false;
  }
  return true;
}

void ForAllStrings(const std::function<void(const std::string&, int)>& f) {
  const std::vector<std::string> letters = {"a", "b", "c", "d", "\xC3\xA9"};
  std::vector<std::pair<std::string, int>> cur{{"", 0}};
  for (int len = 0; len <= 5; ++len) {
    std::vector<std::pair<std::string, int>> next;
    for (const auto& [s, n] : cur) {
      f(s, n);
      for (const std::string& l : letters) next.push_back({s + l, n + 1});
    }
    cur = std::move(next);
  }
}

TEST(JsonSchemaAutomaton, ConstructionsAgreeWithSetAlgebraOnEveryShortString) {
  Fixture fx;
  auto x = DfaFromExpr(fx.g, fx.x, 1000);
  auto y = DfaFromExpr(fx.g, fx.y, 1000);
  ASSERT_TRUE(x.ok() && y.ok());
  auto both = Intersect(*x, *y, 1000);
  auto either = Union(*x, *y, 1000);
  auto bounded = BoundLength(*x, 2, 4, 1000);
  auto at_least = BoundLength(*x, 3, -1, 1000);
  ASSERT_TRUE(both.ok() && either.ok() && bounded.ok() && at_least.ok());
  CpDfa not_x = Complement(*x), min_x = Minimize(*x);
  int checked = 0;
  ForAllStrings([&](const std::string& s, int n) {
    const bool ix = InX(s), iy = InY(s);
    EXPECT_EQ(x->Accepts(s), ix) << s;
    EXPECT_EQ(y->Accepts(s), iy) << s;
    EXPECT_EQ(both->Accepts(s), ix && iy) << s;
    EXPECT_EQ(either->Accepts(s), ix || iy) << s;
    EXPECT_EQ(not_x.Accepts(s), !ix) << s;
    EXPECT_EQ(min_x.Accepts(s), ix) << s;
    EXPECT_EQ(bounded->Accepts(s), ix && n >= 2 && n <= 4) << s;
    EXPECT_EQ(at_least->Accepts(s), ix && n >= 3) << s;
    ++checked;
  });
  EXPECT_GT(checked, 3000);
  EXPECT_LE(min_x.num_states(), x->num_states());
}

TEST(JsonSchemaAutomaton, LengthRangeAndEmptinessAreExact) {
  Fixture fx;
  auto y = DfaFromExpr(fx.g, fx.y, 1000);
  ASSERT_TRUE(y.ok());
  int64_t lo, hi;
  ASSERT_TRUE(LengthRange(*y, &lo, &hi));
  EXPECT_EQ(lo, 2);
  EXPECT_EQ(hi, 3);
  auto x = DfaFromExpr(fx.g, fx.x, 1000);
  ASSERT_TRUE(LengthRange(*x, &lo, &hi));
  EXPECT_EQ(lo, 0);
  EXPECT_EQ(hi, -1);
  auto none = Intersect(*y, LiteralSetDfa({"abcd", "c"}), 1000);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(IsEmptyLanguage(*none));
  EXPECT_FALSE(IsEmptyLanguage(LiteralSetDfa({""})));
}

TEST(JsonSchemaAutomaton, BudgetsStopLargeConstructions) {
  Grammar g;
  ExprId any = g.AddCharClass({{'a', 'z'}}, false);
  ExprId big =
      g.AddSequence(std::vector<ExprId>{g.AddRepeat(any, 0, kUnbounded), g.AddBytes("a"),
                                        g.AddRepeat(g.AddCharClass({{'a', 'z'}}, false), 12, 12)});
  auto d = DfaFromExpr(g, big, 500);  // the classic 2^n blow-up of ".*a.{n}"
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.status().code(), StatusCode::kLimit);
}

TEST(JsonSchemaAutomaton, SubsetWorkIsBoundedEvenWhenStatesAreFew) {
  // [a-z]{0,n}[a-z]{0,n}: 2n + 1 DFA states, but after i letters the subset holds every split
  // point so far: O(n^2) work for O(n) states (a capped pattern of SchemaStore's serverless
  // schema spent 20 s here). The work budget is proportional to max_states.
  auto twice = [](Grammar* g, int n) {
    ExprId letters = g->AddRepeat(g->AddCharClass({{'a', 'z'}}, false), 0, n);
    ExprId again = g->AddRepeat(g->AddCharClass({{'a', 'z'}}, false), 0, n);
    return g->AddSequence(std::vector<ExprId>{letters, again});
  };
  Grammar g;
  auto small = DfaFromExpr(g, twice(&g, 300), 3000);
  ASSERT_TRUE(small.ok()) << small.status().ToString();
  int64_t lo, hi;
  ASSERT_TRUE(LengthRange(Minimize(*small), &lo, &hi));
  EXPECT_EQ(hi, 600);
  auto large = DfaFromExpr(g, twice(&g, 1400), 3000);  // 2,801 states: within max_states
  ASSERT_FALSE(large.ok());
  EXPECT_EQ(large.status().code(), StatusCode::kLimit);
  EXPECT_NE(large.status().message().find("steps of subset construction"), std::string::npos)
      << large.status().message();
}

}  // namespace
}  // namespace sieve::jsonschema
