// A compact Merkle range: the hashes of the maximal perfect subtrees covering
// the leaf range [begin, end). For begin == 0 this is the whole right edge of
// the tree, from which the root of size `end` follows; it is what the
// sequencer keeps in memory between batches (at most 64 hashes).
//
// Thread-compatible (no internal locking).
#ifndef INFRATRAIL_CORE_COMPACT_RANGE_H_
#define INFRATRAIL_CORE_COMPACT_RANGE_H_

#include <cstdint>
#include <functional>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "core/hash.h"
#include "core/node_id.h"

namespace infratrail {

class CompactRange {
 public:
  // Called with every node that becomes complete, leaves included, bottom-up.
  // The sequencer uses it to write each new node into its tile.
  using Visitor = std::function<void(NodeId, const Hash&)>;

  // An empty range starting at leaf `begin`.
  explicit CompactRange(uint64_t begin = 0) : begin_(begin), end_(begin) {}

  // Rebuilds a range from the hashes of DecomposeRange(begin, end), in order.
  // InvalidArgument if the count does not match.
  static absl::StatusOr<CompactRange> FromHashes(uint64_t begin, uint64_t end,
                                                 std::vector<Hash> hashes);

  uint64_t begin() const { return begin_; }
  uint64_t end() const { return end_; }
  // Hashes of DecomposeRange(begin(), end()), left to right.
  const std::vector<Hash>& hashes() const { return hashes_; }

  // Appends one leaf hash at index end().
  void AppendLeaf(const Hash& leaf, Hasher& hasher, const Visitor& visit = nullptr);

  // Appends `other`, which must start where this range ends
  // (FailedPrecondition otherwise). Afterwards this covers [begin, other.end).
  absl::Status Merge(const CompactRange& other, Hasher& hasher, const Visitor& visit = nullptr);

  // The RFC 9162 root of the tree [0, end). FailedPrecondition unless
  // begin() == 0. The empty range gives SHA-256("").
  absl::StatusOr<Hash> Root(Hasher& hasher) const;

  // The hash of the (possibly imperfect) subtree [from, end()), folded from
  // the right-hand nodes of the range. Requires that `from` is a node
  // boundary of this range's decomposition (InvalidArgument otherwise).
  absl::StatusOr<Hash> RightEdgeHash(uint64_t from, Hasher& hasher) const;

  friend bool operator==(const CompactRange&, const CompactRange&) = default;

 private:
  void AppendNode(NodeId id, Hash hash, Hasher& hasher, const Visitor& visit);

  uint64_t begin_;
  uint64_t end_;
  std::vector<NodeId> ids_;  // parallel to hashes_
  std::vector<Hash> hashes_;
};

}  // namespace infratrail

#endif  // INFRATRAIL_CORE_COMPACT_RANGE_H_
