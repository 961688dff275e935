// Hash-consed stack nodes: the persistent pool, the scratch overlay, and the matcher's reference
// discipline (no node outlives the sets that use it).
#include "grammar/stack_pool.h"

#include <gtest/gtest.h>

#include <vector>

#include "grammar/ebnf_parser.h"
#include "grammar/matcher.h"
#include "grammar/simplify.h"
#include "tests/grammar/test_grammars.h"

namespace sieve {
namespace {

TEST(StackPool, EqualFramesAreTheSameNode) {
  StackPool pool;
  const NodeId a = pool.Intern(3, 0, kNoNode);
  const NodeId b = pool.Intern(4, 2, a);
  EXPECT_EQ(pool.Intern(3, 0, kNoNode), a);
  EXPECT_EQ(pool.Intern(4, 2, a), b);
  EXPECT_NE(pool.Intern(4, 3, a), b);
  EXPECT_EQ(pool.node(b).depth, 2u);
  EXPECT_EQ(pool.node(b).parent, a);
  EXPECT_EQ(pool.live_nodes(), 3u);
}

TEST(StackPool, DroppingTheLastReferenceFreesTheWholeChain) {
  StackPool pool;
  NodeId top = kNoNode;
  for (int i = 0; i < 100000; ++i) top = pool.Intern(i, 0, top);  // deep: freeing must not recurse
  pool.Ref(top);
  const NodeId side = pool.Intern(7, 7, pool.Intern(1, 0, pool.Intern(0, 0, kNoNode)));
  pool.Ref(side);
  EXPECT_EQ(pool.live_nodes(), 100001u);
  pool.Unref(top);
  EXPECT_EQ(pool.live_nodes(), 3u) << "the shared prefix survives through the side branch";
  EXPECT_EQ(pool.Find(50000, 0, pool.Find(49999, 0, kNoNode)), kNoNode);
  pool.Unref(side);
  EXPECT_EQ(pool.live_nodes(), 0u);
  // Freed slots are reused and found again by content.
  const NodeId again = pool.Intern(9, 9, kNoNode);
  EXPECT_EQ(pool.Find(9, 9, kNoNode), again);
}

TEST(StackPool, ScratchNodesDeferToPersistentOnesAndVanishOnReset) {
  StackPool pool;
  const NodeId p = pool.Intern(1, 0, kNoNode);
  pool.Ref(p);
  NodeScratch scratch(&pool);
  EXPECT_EQ(scratch.Intern(1, 0, kNoNode), p) << "content already persistent: same id";
  const NodeId s = scratch.Intern(2, 0, p);
  EXPECT_NE(s & kScratchBit, 0u);
  EXPECT_EQ(scratch.Intern(2, 0, p), s);
  EXPECT_EQ(scratch.node(s).parent, p);
  EXPECT_EQ(scratch.depth(s), 2u);
  for (int i = 0; i < 1000; ++i) scratch.Intern(i, 1, s);  // grows its table
  EXPECT_EQ(scratch.Intern(500, 1, s), scratch.Intern(500, 1, s));
  scratch.Reset();
  EXPECT_EQ(scratch.size(), 0u);
  EXPECT_EQ(pool.live_nodes(), 1u) << "scratch work never touches the pool";
}

TEST(StackPool, MatcherReleasesEveryNodeItCreates) {
  auto g = ParseEbnf(testing_grammars::kJson);
  ASSERT_TRUE(g.ok());
  auto c = CompileGrammar(*Simplify(*g));
  ASSERT_TRUE(c.ok());
  GrammarMatcher m(*c);
  const size_t base = m.live_stack_nodes();
  {
    GrammarMatcher f = m.Fork();
    ASSERT_TRUE(f.AcceptString("[[[{\"a\": [[[1"));
    EXPECT_GT(f.live_stack_nodes(), base);
    ASSERT_TRUE(f.Rollback(1));
  }
  EXPECT_EQ(m.live_stack_nodes(), base) << "the fork's nodes died with it";
  // Long generation with a bounded history: memory stays bounded.
  MatcherOptions opts;
  opts.max_rollback_tokens = 4;
  GrammarMatcher bounded(*c, nullptr, opts);
  for (int i = 0; i < 2000; ++i) {
    ASSERT_TRUE(bounded.AcceptString(i == 0 ? "[" : ","));
    ASSERT_TRUE(bounded.AcceptString("{\"k\": [1]}"));
  }
  EXPECT_LT(bounded.live_stack_nodes(), 100u);
  bounded.Reset();
  EXPECT_LT(bounded.live_stack_nodes(), 10u);
}

}  // namespace
}  // namespace sieve
