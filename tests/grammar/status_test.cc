#include "grammar/support/status.h"

#include <gtest/gtest.h>

namespace sieve {
namespace {

Result<int> Half(int x) {
  if (x % 2 != 0) return InvalidArgument("odd").WithOffset(x);
  return x / 2;
}

Result<int> Quarter(int x) {
  SIEVE_ASSIGN_OR_RETURN(int h, Half(x));
  SIEVE_ASSIGN_OR_RETURN(int q, Half(h));
  return q;
}

TEST(Status, RendersCodeLocationAndMessage) {
  Status s = ParseError("expected ')'").WithOffset(7).WithLineColumn(2, 5);
  EXPECT_EQ(s.ToString(), "parse error at 2:5: expected ')'");
  Status t = Unsupported("keyword uniqueItems").WithPointer("/properties/a");
  EXPECT_EQ(t.ToString(), "unsupported (at /properties/a): keyword uniqueItems");
  EXPECT_EQ(Status().ToString(), "ok");
}

TEST(Status, AssignOrReturnPropagatesTheFirstError) {
  EXPECT_EQ(*Quarter(8), 2);
  Result<int> r = Quarter(6);  // 6 -> 3 -> odd
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(r.status().offset(), 3);
}

TEST(Status, PrependAddsContextToTheMessage) {
  Status s = FormatError("merges[3] names no token");
  s.Prepend("tokenizer.json");
  EXPECT_EQ(s.message(), "tokenizer.json: merges[3] names no token");
}

}  // namespace
}  // namespace sieve
