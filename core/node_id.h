// Addressing of perfect subtrees ("nodes") in an RFC 9162 Merkle tree.
#ifndef INFRATRAIL_CORE_NODE_ID_H_
#define INFRATRAIL_CORE_NODE_ID_H_

#include <bit>
#include <compare>
#include <cstdint>
#include <string>
#include <vector>

namespace infratrail {

// The perfect subtree of height `level` whose leaves are
// [index << level, (index + 1) << level). Level 0 is a leaf.
struct NodeId {
  uint32_t level = 0;
  uint64_t index = 0;

  uint64_t Begin() const { return index << level; }
  uint64_t End() const { return (index + 1) << level; }
  NodeId Parent() const { return NodeId{level + 1, index >> 1}; }
  NodeId Sibling() const { return NodeId{level, index ^ 1}; }
  std::string DebugString() const;

  // NOLINTNEXTLINE(modernize-use-nullptr): clang-tidy 14 misreads defaulted <=>
  friend auto operator<=>(const NodeId&, const NodeId&) = default;
};

// The canonical decomposition of the leaf range [begin, end) into maximal
// aligned perfect subtrees, left to right. Requires begin <= end. Its size is
// at most 2 * 64.
std::vector<NodeId> DecomposeRange(uint64_t begin, uint64_t end);

// The largest power of two strictly less than n (the RFC 9162 split point k).
// Requires n >= 2.
inline uint64_t SplitPoint(uint64_t n) { return std::bit_floor(n - 1); }

}  // namespace infratrail

#endif  // INFRATRAIL_CORE_NODE_ID_H_
