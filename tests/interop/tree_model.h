// TreeModel: every node hash of one RFC 9162 tree, for the interop tool to
// compare the Go side's roots, proofs and tiles against.
#ifndef INFRATRAIL_TESTS_INTEROP_TREE_MODEL_H_
#define INFRATRAIL_TESTS_INTEROP_TREE_MODEL_H_

#include <cstdint>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/types/span.h"
#include "core/compact_range.h"
#include "core/hash.h"
#include "core/node_id.h"
#include "core/proof.h"
#include "core/tile.h"

namespace infratrail::interop {

// Every node hash of one tree, level by level, built with core's CompactRange
// (whose visitor reports each node as it completes). Not thread-safe: it
// owns one Hasher.
class TreeModel {
 public:
  explicit TreeModel(absl::Span<const Hash> leaves) {
    CompactRange range;
    for (const Hash& leaf : leaves) {
      range.AppendLeaf(leaf, hasher_, [this](NodeId id, const Hash& h) {
        if (levels_.size() <= id.level) levels_.resize(id.level + 1);
        levels_[id.level].push_back(h);  // nodes of a level complete in order
      });
    }
  }

  uint64_t size() const { return levels_.empty() ? 0 : levels_[0].size(); }

  absl::StatusOr<Hash> NodeHash(NodeId id) const {
    if (id.level >= levels_.size() || id.index >= levels_[id.level].size()) {
      return absl::OutOfRangeError(absl::StrCat("node ", id.DebugString(), " not in tree"));
    }
    return levels_[id.level][id.index];
  }

  // RFC 9162 root of the first `size` leaves, via CompactRange::Root.
  absl::StatusOr<Hash> Root(uint64_t size) const {
    if (size > this->size()) return absl::OutOfRangeError(absl::StrCat("root of size ", size));
    std::vector<Hash> hashes;
    for (NodeId id : DecomposeRange(0, size)) hashes.push_back(*NodeHash(id));
    absl::StatusOr<CompactRange> r = CompactRange::FromHashes(0, size, std::move(hashes));
    if (!r.ok()) return r.status();
    return r->Root(hasher_);
  }

  absl::StatusOr<std::vector<Hash>> Prove(const absl::StatusOr<ProofPlan>& plan) const {
    if (!plan.ok()) return plan.status();
    std::vector<Hash> fetched;
    for (NodeId id : plan->nodes) {
      absl::StatusOr<Hash> h = NodeHash(id);
      if (!h.ok()) return h.status();
      fetched.push_back(*h);
    }
    return plan->Rehash(fetched, hasher_);
  }

  // The bottom row of a hash tile: nodes at level 8L, [256N, 256N + W).
  absl::StatusOr<std::vector<Hash>> TileRow(const TileId& t) const {
    std::vector<Hash> row;
    for (uint64_t i = 0; i < t.width; ++i) {
      absl::StatusOr<Hash> h = NodeHash(NodeId{kTileHeight * t.level, t.index * kTileWidth + i});
      if (!h.ok()) return h.status();
      row.push_back(*h);
    }
    return row;
  }

 private:
  std::vector<std::vector<Hash>> levels_;
  mutable Hasher hasher_;
};

}  // namespace infratrail::interop

#endif  // INFRATRAIL_TESTS_INTEROP_TREE_MODEL_H_
