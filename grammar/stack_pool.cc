// Hash-consed stack nodes: the persistent pool and the speculative overlay (see stack_pool.h).
//
// Both tables chain through StackNode::next over a power-of-two bucket array. The pool grows its
// buckets at load 1 and reuses freed slots through a free list; the scratch overlay clears only the
// buckets it used when it is reset, so a reset after a token check that created no node is free.
#include "grammar/stack_pool.h"

#include <utility>

namespace sieve {

StackPool::StackPool() : buckets_(64, kNoNode) {}

NodeId StackPool::Find(int32_t state, int32_t counter, NodeId parent) const {
  const size_t mask = buckets_.size() - 1;
  for (NodeId id = buckets_[HashFrame(state, counter, parent) & mask]; id != kNoNode;
       id = nodes_[id].next) {
    const StackNode& n = nodes_[id];
    if (n.state == state && n.counter == counter && n.parent == parent) return id;
  }
  return kNoNode;
}

NodeId StackPool::Intern(int32_t state, int32_t counter, NodeId parent) {
  const NodeId found = Find(state, counter, parent);
  if (found != kNoNode) return found;
  if (live_ + 1 > buckets_.size()) Grow();
  NodeId id;
  if (!free_.empty()) {
    id = free_.back();
    free_.pop_back();
  } else {
    id = static_cast<NodeId>(nodes_.size());
    nodes_.emplace_back();
  }
  StackNode& n = nodes_[id];
  n.state = state;
  n.counter = counter;
  n.parent = parent;
  n.depth = parent == kNoNode ? 1 : nodes_[parent].depth + 1;
  n.refs = 0;
  NodeId& head = buckets_[HashFrame(state, counter, parent) & (buckets_.size() - 1)];
  n.next = head;
  head = id;
  ++live_;
  Ref(parent);
  return id;
}

void StackPool::Unref(NodeId id) {
  while (id != kNoNode) {
    StackNode& n = nodes_[id];
    if (--n.refs > 0) return;
    // Unlink from its chain.
    NodeId* link = &buckets_[HashFrame(n.state, n.counter, n.parent) & (buckets_.size() - 1)];
    while (*link != id) link = &nodes_[*link].next;
    *link = n.next;
    free_.push_back(id);
    --live_;
    id = n.parent;
  }
}

void StackPool::Grow() {
  std::vector<NodeId> buckets(buckets_.size() * 2, kNoNode);
  const size_t mask = buckets.size() - 1;
  // Rehash every live node by walking the old chains.
  for (NodeId head : buckets_) {
    for (NodeId id = head; id != kNoNode;) {
      StackNode& n = nodes_[id];
      const NodeId next = n.next;
      NodeId& b = buckets[HashFrame(n.state, n.counter, n.parent) & mask];
      n.next = b;
      b = id;
      id = next;
    }
  }
  buckets_ = std::move(buckets);
}

size_t StackPool::MemorySize() const {
  return nodes_.capacity() * sizeof(StackNode) + buckets_.capacity() * sizeof(NodeId) +
         free_.capacity() * sizeof(NodeId);
}

NodeScratch::NodeScratch(const StackPool* pool) : pool_(pool), buckets_(64, kNoNode) {}

NodeId NodeScratch::Intern(int32_t state, int32_t counter, NodeId parent) {
  const NodeId found = pool_->Find(state, counter, parent);
  if (found != kNoNode) return found;
  const uint64_t h = HashFrame(state, counter, parent);
  size_t mask = buckets_.size() - 1;
  for (NodeId id = buckets_[h & mask]; id != kNoNode; id = nodes_[id & ~kScratchBit].next) {
    const StackNode& n = nodes_[id & ~kScratchBit];
    if (n.state == state && n.counter == counter && n.parent == parent) return id;
  }
  if (nodes_.size() + 1 > buckets_.size()) {
    // Grow and rehash (rare: scratch sets stay small between resets).
    std::vector<NodeId> buckets(buckets_.size() * 2, kNoNode);
    mask = buckets.size() - 1;
    for (size_t i = 0; i < nodes_.size(); ++i) {
      StackNode& n = nodes_[i];
      NodeId& b = buckets[HashFrame(n.state, n.counter, n.parent) & mask];
      n.next = b;
      b = static_cast<NodeId>(i) | kScratchBit;
    }
    buckets_ = std::move(buckets);
  }
  StackNode n;
  n.state = state;
  n.counter = counter;
  n.parent = parent;
  n.depth = depth(parent) + 1;
  n.refs = 0;
  NodeId& head = buckets_[h & mask];
  n.next = head;
  const NodeId id = static_cast<NodeId>(nodes_.size()) | kScratchBit;
  head = id;
  nodes_.push_back(n);
  return id;
}

void NodeScratch::Reset() {
  if (nodes_.empty()) return;
  const size_t mask = buckets_.size() - 1;
  for (const StackNode& n : nodes_)
    buckets_[HashFrame(n.state, n.counter, n.parent) & mask] = kNoNode;
  nodes_.clear();
}

}  // namespace sieve
