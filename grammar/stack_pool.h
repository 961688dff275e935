// Persistent, hash-consed PDA stacks.
//
// A stack is its top frame, held by value in a `Stack` {state, counter, parent}, on top of a chain
// of caller frames stored as StackNodes {state = the return state, counter, parent}. Nodes are
// hash-consed: the pool never holds two nodes with the same (state, counter, parent), so two stacks
// are equal exactly when their three fields are equal, and a set of stacks is a sorted vector of
// 12-byte values with duplicates removed by comparison. Stacks that share callers share nodes (a
// tree), which makes forking and keeping history for rollback cheap.
//
// Two tiers of nodes:
//  - StackPool: persistent nodes, reference counted (non-atomic). References come from child nodes
//    and from whoever keeps a stack set (the matcher's current set and rollback history). A node
//    whose count drops to zero is unlinked and its slot reused; freeing cascades iteratively, so a
//    deep stack never recurses.
//  - NodeScratch: nodes created while stepping speculatively (token checks, mask fills,
//    jump-forward probes). They live in a per-stepper overlay with ids tagged by kScratchBit, are
//    found only after a lookup in the persistent table fails (so equal content still means equal
//    id), cost no reference counting, and are dropped all at once by Reset(). Committing a stack
//    set promotes the scratch nodes it uses into the pool.
// Neither tier is thread-safe: a pool is shared only by a matcher and its forks, which are used
// from one thread at a time.
#ifndef SIEVE_GRAMMAR_STACK_POOL_H_
#define SIEVE_GRAMMAR_STACK_POOL_H_

#include <compare>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace sieve {

using NodeId = uint32_t;
inline constexpr NodeId kNoNode = 0xFFFFFFFFu;
inline constexpr NodeId kScratchBit = 0x80000000u;

// The top frame of a stack plus the rest of the stack (kNoNode for the root frame).
struct Stack {
  int32_t state;
  int32_t counter;
  NodeId parent;
  friend auto operator<=>(const Stack&, const Stack&) = default;
};

struct StackNode {
  int32_t state;  // the frame's state: the return state of the call that pushed the frame above
  int32_t counter;
  NodeId parent;
  uint32_t depth;  // frames in the stack this node heads (1 for a node without parent)
  uint32_t refs;   // persistent nodes only
  NodeId next;     // hash chain
};

inline uint64_t HashFrame(int32_t state, int32_t counter, NodeId parent) {
  uint64_t h = (static_cast<uint64_t>(static_cast<uint32_t>(state)) << 32) ^
               static_cast<uint32_t>(counter) * 0x9e3779b9u;
  h ^= static_cast<uint64_t>(parent) * 0xc2b2ae3d27d4eb4full;
  h ^= h >> 29;
  h *= 0xbf58476d1ce4e5b9ull;
  return h ^ (h >> 32);
}

class StackPool {
 public:
  StackPool();

  // The node with these fields, or kNoNode.
  NodeId Find(int32_t state, int32_t counter, NodeId parent) const;
  // Finds or creates; a created node takes a reference on its parent and starts with refs = 0
  // (the caller adds its own reference with Ref).
  NodeId Intern(int32_t state, int32_t counter, NodeId parent);
  void Ref(NodeId id) {
    if (id != kNoNode) ++nodes_[id].refs;
  }
  // Drops one reference; frees the node (and, transitively, parents left unreferenced) at zero.
  void Unref(NodeId id);

  const StackNode& node(NodeId id) const { return nodes_[id]; }
  size_t live_nodes() const { return live_; }
  size_t MemorySize() const;

 private:
  void Grow();

  std::vector<StackNode> nodes_;
  std::vector<NodeId> buckets_;
  std::vector<NodeId> free_;
  size_t live_ = 0;
};

// Speculative nodes layered over a StackPool (see the file comment).
class NodeScratch {
 public:
  explicit NodeScratch(const StackPool* pool);

  // Finds (persistent first) or creates a node.
  NodeId Intern(int32_t state, int32_t counter, NodeId parent);
  const StackNode& node(NodeId id) const {
    return (id & kScratchBit) ? nodes_[id & ~kScratchBit] : pool_->node(id);
  }
  uint32_t depth(NodeId id) const { return id == kNoNode ? 0 : node(id).depth; }
  size_t size() const { return nodes_.size(); }
  void Reset();

 private:
  const StackPool* pool_;
  std::vector<StackNode> nodes_;
  std::vector<NodeId> buckets_;  // power of two
};

}  // namespace sieve

#endif  // SIEVE_GRAMMAR_STACK_POOL_H_
