// TreeReader: node hashes, proofs and roots of the committed tree, read from
// the tiles in storage. Every perfect node of a tree of size n is in a
// committed tile once a batch reaching n is committed, so any size up to the
// committed size can be served without the sequencer's help.
//
// Tiles are cached expanded (all nine rows: 511 hashes for a full tile), so
// a proof touching a cached tile does no hashing. Full tiles are immutable.
// A partial (edge) tile only grows, and the nodes it already holds never
// change, so its cached expansion stays valid for every node it covers; a
// wider one replaces it when a node beyond it is needed. There is at most
// one partial tile per level, so that cache stays tiny.
//
// Thread-safe.
#ifndef INFRATRAIL_SERVER_TREE_READER_H_
#define INFRATRAIL_SERVER_TREE_READER_H_

#include <cstdint>
#include <deque>
#include <memory>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/types/span.h"
#include "core/hash.h"
#include "core/node_id.h"
#include "core/tile.h"
#include "server/storage.h"

namespace infratrail {

class TreeReader {
 public:
  // `cache_tiles`: how many expanded full tiles (16 KiB each) to keep.
  TreeReader(LogStorage* storage, size_t cache_tiles);

  // The hashes of perfect nodes `ids`, all within a committed tree.
  // DataLoss if a tile is missing or too narrow (storage is inconsistent).
  absl::StatusOr<std::vector<Hash>> ReadNodes(absl::Span<const NodeId> ids);

  // RFC 9162 proofs; errors as PlanInclusion / PlanConsistency (core/proof.h)
  // plus DataLoss from ReadNodes. The caller bounds sizes by what it has
  // committed or published.
  absl::StatusOr<std::vector<Hash>> InclusionProof(uint64_t index, uint64_t size);
  absl::StatusOr<std::vector<Hash>> ConsistencyProof(uint64_t size1, uint64_t size2);

  // The root of the tree of `size` leaves (size <= committed size).
  absl::StatusOr<Hash> RootAt(uint64_t size);

  size_t cache_hits() const;
  size_t cache_misses() const;

 private:
  static constexpr int kTileRows = 9;
  // Rows 0..8 of a tile: row k holds the complete nodes k levels above its
  // bottom (width >> k of them).
  struct Expanded {
    std::vector<Hash> rows[kTileRows];
    size_t width() const { return rows[0].size(); }
  };

  // The cached expansion of `key` wide enough for `min_width` bottom hashes,
  // or null.
  std::shared_ptr<const Expanded> Lookup(const TileId& key, size_t min_width);
  // Reads, expands and caches the tile.
  absl::StatusOr<std::shared_ptr<const Expanded>> Load(const TileId& key);

  LogStorage* const storage_;
  const size_t cache_capacity_;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<TileId, std::shared_ptr<const Expanded>> cache_ ABSL_GUARDED_BY(mu_);
  std::deque<TileId> fifo_ ABSL_GUARDED_BY(mu_);  // full tiles, oldest first
  absl::flat_hash_map<TileId, std::shared_ptr<const Expanded>> partial_ ABSL_GUARDED_BY(mu_);
  size_t hits_ ABSL_GUARDED_BY(mu_) = 0;
  size_t misses_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace infratrail

#endif  // INFRATRAIL_SERVER_TREE_READER_H_
