// TreeReader: node hashes, proofs and roots of the committed tree, read from
// the tiles in storage. Every perfect node of a tree of size n is in a
// committed tile once a batch reaching n is committed, so any size up to the
// committed size can be served without the sequencer's help.
//
// Full tiles are immutable: they are cached expanded (all nine rows, 511
// hashes), so a proof touching a cached tile does no hashing at all. Partial
// tiles are read and hashed on demand.
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
  // Rows 0..8 of a full tile: row k holds the nodes k levels above its bottom.
  struct Expanded {
    std::vector<Hash> rows[kTileRows];
  };

  // Expands and caches a full tile read as `bytes`.
  absl::StatusOr<std::shared_ptr<const Expanded>> CacheFullTile(const TileKey& key,
                                                                absl::string_view bytes);

  LogStorage* const storage_;
  const size_t cache_capacity_;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<TileKey, std::shared_ptr<const Expanded>> cache_ ABSL_GUARDED_BY(mu_);
  std::deque<TileKey> fifo_ ABSL_GUARDED_BY(mu_);
  size_t hits_ ABSL_GUARDED_BY(mu_) = 0;
  size_t misses_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace infratrail

#endif  // INFRATRAIL_SERVER_TREE_READER_H_
