// LogStorage: the durable state of one log, as the sequencer and the read
// path see it. Implementations: RocksDbStorage (production) and
// MemoryStorage (tests; can be told to fail).
//
// Contract (every implementation; storage_conformance_test checks it):
//  - Commit is atomic and durable: once it returns OK, the whole batch
//    survives kill -9 and power loss; if the process dies during Commit,
//    recovery sees either all of the batch or none of it.
//  - A failed Commit leaves the store in an unknown state (the batch may or
//    may not be applied). Callers must stop writing (sticky failure).
//  - Reads are safe from any thread, concurrently with Commit, and see
//    whole batches only.
//  - Commit and PutMeta are called from one thread at a time.
#ifndef INFRATRAIL_SERVER_STORAGE_H_
#define INFRATRAIL_SERVER_STORAGE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "core/hash.h"
#include "core/tile.h"

namespace infratrail {

// Tiles are named by core's TileId, the one type for "which tile". Storage
// holds hash tiles only (an entry bundle is assembled from the entries,
// server/tile_source.h) and holds each one under its level and index alone:
// a partial tile is rewritten whole as it grows, so its width says how much
// of it a caller needs, not which tile it is. Stores therefore ignore
// `width`; a TileId with `entries` set is an InvalidArgument.

// The integrated tree: its size and its compact range [0, size) (the hashes
// of DecomposeRange(0, size)), from which the root follows.
struct TreeState {
  uint64_t size = 0;
  std::vector<Hash> right_edge;
  friend bool operator==(const TreeState&, const TreeState&) = default;
};

// One sequencer batch: entries [first_index, first_index + entries.size()),
// their leaf hashes, every hash tile the batch touched (whole tile contents
// as of the end of the batch, so a partial tile is simply rewritten; the
// stored width is the bytes', whatever the TileId's) and the tree state
// after it.
struct CommitBatch {
  uint64_t first_index = 0;
  std::vector<absl::string_view> entries;
  std::vector<Hash> leaf_hashes;  // parallel to entries
  std::vector<std::pair<TileId, std::string>> tiles;
  TreeState state;
};

// Well-known meta keys. kMetaTreeState is written by Commit only; PutMeta
// refuses it.
inline constexpr absl::string_view kMetaTreeState = "tree_state";
inline constexpr absl::string_view kMetaLogIdentity = "log_identity";
inline constexpr absl::string_view kMetaCheckpoint = "checkpoint";
// Present once the log is frozen (`infratrail-server freeze`): "size <n>\n"
// and, if named, "successor <origin>\n". A frozen log serves reads and its
// final checkpoint and refuses every write with FailedPrecondition.
inline constexpr absl::string_view kMetaFrozen = "frozen";

class LogStorage {
 public:
  virtual ~LogStorage() = default;

  // Applies the batch atomically and durably (fsync'd before returning OK).
  virtual absl::Status Commit(const CommitBatch& batch) = 0;

  // The tree state of the last committed batch (size 0 for a new store).
  virtual absl::StatusOr<TreeState> ReadTreeState() = 0;

  // For each hash, the index it was committed at, or nullopt. `out` is
  // resized to hashes.size().
  virtual absl::Status LookupLeaves(absl::Span<const Hash> hashes,
                                    std::vector<std::optional<uint64_t>>* out) = 0;

  // Entries [begin, end), appended to `out`. NotFound if any is missing.
  virtual absl::Status ReadEntries(uint64_t begin, uint64_t end, std::vector<std::string>* out) = 0;

  // The stored bytes of hash tile (tile.level, tile.index): every hash
  // committed in it (32 bytes each, up to 256), whatever tile.width asks
  // for; the caller cuts. NotFound if no node of that tile has been
  // committed; InvalidArgument for an entry bundle.
  virtual absl::StatusOr<std::string> ReadTile(const TileId& tile) = 0;

  // Small metadata values. GetMeta returns nullopt for a missing key.
  // PutMeta is durable once it returns; InvalidArgument for kMetaTreeState.
  virtual absl::StatusOr<std::optional<std::string>> GetMeta(absl::string_view key) = 0;
  virtual absl::Status PutMeta(absl::string_view key, absl::string_view value) = 0;
};

// What every store answers ReadTile with for a TileId it does not hold by
// design: InvalidArgument for an entry bundle, OK for a hash tile.
absl::Status CheckStoredTile(const TileId& tile);

// Encoding of TreeState in meta: 8-byte big-endian size, then the hashes.
std::string EncodeTreeState(const TreeState& state);
absl::StatusOr<TreeState> DecodeTreeState(absl::string_view data);

// Big-endian fixed-width integers, so keys sort in index order.
void PutBigEndian64(uint64_t v, std::string* out);
uint64_t GetBigEndian64(absl::string_view in);  // requires in.size() >= 8

}  // namespace infratrail

#endif  // INFRATRAIL_SERVER_STORAGE_H_
