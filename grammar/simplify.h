// Grammar simplification: the optimiser between the front ends and the automaton compiler.
//
// Simplify() returns a grammar with the same language (every rule's language from the root's point
// of view; rule ids and names of surviving rules may change order but names are kept) that is
// smaller and easier to compile:
//  - dead rules (unreachable from the root through bodies or lookaheads) are removed;
//  - sequences and choices are flattened, empty items dropped, adjacent literals fused, one-code-
//    point classes turned into literals, class-like alternatives of a choice merged into one class,
//    duplicate alternatives dropped, `"" | x` turned into `x?`, x{1,1} into x, x{0,0} into "",
//    and nested quantifiers merged where that loses no count: (x{a,b}){c,d} is x{ca,db} when
//    the iterations' count ranges leave no gap ((x*){0,99} is x*, (x?){0,9} is x{0,9},
//    (x{2,3}){2,5} is x{4,15}; not (x{3}){0,2});
//  - left recursion is rewritten: direct `A ::= A a | b` becomes `A ::= b (a)*`, indirect through
//    the classic ordering algorithm (substitute earlier rules of the cycle at the head, then remove
//    the direct recursion), within a node budget. Groups and ?, *, + at the head of an
//    alternative are expanded first (`a ::= a? "x"` is `a "x" | "x"`). Left recursion hidden
//    behind a nullable prefix (`a ::= b a "x"` with b nullable), under other bounds
//    (`a ::= a{2,3}`), or without a base case (`a ::= a`) is kUnsupported, with the cycle named:
//    "left recursion: a -> b -> a";
//  - non-recursive rules used once, or small ones, are inlined (never the root, never a rule with a
//    lookahead, and only while the result stays shallow);
//  - structurally equal rules are merged (hash-consing, repeated until stable).
// Bounded repetition stays a kRepeat: nothing is unrolled here.
//
// Invariants of the output: Validate() passes; every kSequence/kChoice has 2+ items; no rule is
// left-recursive; every rule is reachable from the root. Nothing recurses deeper than
// max_expr_depth plus a small constant; deeper input is a kLimit error.
#ifndef SIEVE_GRAMMAR_SIMPLIFY_H_
#define SIEVE_GRAMMAR_SIMPLIFY_H_

#include <cstddef>
#include <vector>

#include "grammar/grammar.h"
#include "grammar/limits.h"
#include "grammar/support/status.h"

namespace sieve {

struct SimplifyOptions {
  bool inline_rules = true;
  // Non-recursive rules whose body has at most this many nodes are inlined at every use; rules
  // used once are inlined up to inline_single_use_max_nodes (a bound that keeps a chain of n
  // single-use rules linear in n: each inlining moves the callee's items into the caller).
  int inline_max_nodes = 6;
  size_t inline_single_use_max_nodes = 256;
  // A rule is inlined only if its body is at most this deep (bounds the depth of the output).
  int inline_max_depth = 32;
  bool dedupe_rules = true;
  bool rewrite_left_recursion = true;
  // Node budget for the bodies of one left-recursive cycle after rewriting; over it is kLimit.
  size_t max_left_recursion_nodes = 100000;
  // Deeper expression trees in the input are a kLimit error. The passes recurse over the tree
  // (~300 bytes of stack per level): the default keeps them within the 1 MiB stack bound
  // (SECURITY.md; tests/grammar/stack_bound_test.cc).
  int max_expr_depth = 1000;
  // Wall-time budget (limits.h); passes poll it and stop with kLimit. Default: none.
  Deadline deadline;
};

Result<Grammar> Simplify(const Grammar& g, const SimplifyOptions& opts = SimplifyOptions());

// Nullability analysis (for the back end as well): result[r] is true when rule r derives "".
// Computed by a worklist fixpoint; lookaheads do not count (they consume nothing). Iterative.
std::vector<bool> NullableRules(const Grammar& g);

// Per-expression nullability, indexed by ExprId, for every expression under a rule body or
// lookahead (others are false), given NullableRules(g).
std::vector<bool> NullableExprs(const Grammar& g, const std::vector<bool>& nullable_rules);

// Rules referenced at the start of rule `from`'s body, directly or behind nullable prefixes: one
// step of the left-corner relation (sorted, unique). A rule that can reach itself through these
// steps is left-recursive. `nullable_exprs` comes from NullableExprs().
std::vector<RuleId> LeftCornerRules(const Grammar& g, RuleId from,
                                    const std::vector<bool>& nullable_exprs);

}  // namespace sieve

#endif  // SIEVE_GRAMMAR_SIMPLIFY_H_
