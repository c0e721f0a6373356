// TreeReader: node hashes, proofs and roots of the committed tree, read from
// the tiles in storage. Every perfect node of a tree of size n is in a
// committed tile once a batch reaching n is committed, so any size up to the
// committed size can be served without the sequencer's help.
//
// Tiles are cached expanded (all nine rows: 511 hashes, ~16.5 KiB for a full
// tile) in the log's TileCache, so a proof touching a cached tile does no
// hashing. Full tiles are immutable. A partial (edge) tile only grows, and
// the nodes it already holds never change, so its cached expansion stays
// valid for every node it covers; it is cached under the tile's (level,
// index) like the full tile it becomes, and a wider one replaces it when a
// node beyond it is needed.
//
// Thread-safe.
#ifndef INFRATRAIL_SERVER_TREE_READER_H_
#define INFRATRAIL_SERVER_TREE_READER_H_

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "core/hash.h"
#include "core/node_id.h"
#include "core/tile.h"
#include "server/storage.h"
#include "server/tile_cache.h"

namespace infratrail {

class TreeReader {
 public:
  // `cache` (the log's, shared with the HTTP API) must outlive the reader.
  TreeReader(LogStorage* storage, TileCache* cache);

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

 private:
  static constexpr int kTileRows = 9;
  // Rows 0..8 of a tile: row k holds the complete nodes k levels above its
  // bottom (width >> k of them).
  struct Expanded {
    std::vector<Hash> rows[kTileRows];
    size_t width() const { return rows[0].size(); }
  };

  // The expansion of hash tile (tile.level, tile.index) at least
  // `min_width` wide: cached, or read, expanded and cached.
  absl::StatusOr<std::shared_ptr<const Expanded>> Get(const TileId& tile, size_t min_width);
  absl::StatusOr<std::shared_ptr<const Expanded>> Load(const TileId& tile);

  LogStorage* const storage_;
  TileCache* const cache_;
};

}  // namespace infratrail

#endif  // INFRATRAIL_SERVER_TREE_READER_H_
