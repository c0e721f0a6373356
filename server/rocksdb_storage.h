// RocksDbStorage: LogStorage on an embedded RocksDB, the production store.
//
// Column families (keys big-endian so iteration follows index order; the
// layout is specified in docs/storage.md):
//   entries     8-byte index            -> entry bytes
//   leaf_index  32-byte leaf hash       -> 8-byte index
//   tiles       1-byte level, 8-byte N  -> concatenated 32-byte hashes
//   default     meta key (ASCII)        -> value (tree state, identity, ...)
//
// Thread-safe: RocksDB serialises writers and reads never block on them.
#ifndef INFRATRAIL_SERVER_ROCKSDB_STORAGE_H_
#define INFRATRAIL_SERVER_ROCKSDB_STORAGE_H_

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "server/storage.h"

namespace rocksdb {
class DB;
class ColumnFamilyHandle;
}  // namespace rocksdb

namespace infratrail {

struct RocksDbOptions {
  std::string path;
  bool create_if_missing = true;
  // Open without taking the lock, as of now (fsck on a live store).
  bool read_only = false;
  size_t block_cache_bytes = 256 << 20;
};

// What CopyTo copied.
struct CopyReport {
  uint64_t keys = 0;   // in all column families
  uint64_t bytes = 0;  // keys and values
};

class RocksDbStorage : public LogStorage {
 public:
  // Opens (creating if allowed) the database. Recovery of a crashed database
  // is RocksDB's WAL replay; no other start-up path exists.
  static absl::StatusOr<std::unique_ptr<RocksDbStorage>> Open(const RocksDbOptions& options);
  ~RocksDbStorage() override;

  absl::Status Commit(const CommitBatch& batch) override;
  absl::StatusOr<TreeState> ReadTreeState() override;
  absl::Status LookupLeaves(absl::Span<const Hash> hashes,
                            std::vector<std::optional<uint64_t>>* out) override;
  absl::Status ReadEntries(uint64_t begin, uint64_t end, std::vector<std::string>* out) override;
  absl::StatusOr<std::string> ReadTile(const TileId& tile) override;
  absl::StatusOr<std::optional<std::string>> GetMeta(absl::string_view key) override;
  absl::Status PutMeta(absl::string_view key, absl::string_view value) override;

  // Bytes in SST files (not the WAL) per column family, for fsck's report
  // and benchmarks: {"meta", n}, {"entries", n}, {"leaf_index", n}, {"tiles", n}.
  std::vector<std::pair<std::string, uint64_t>> SstBytesByColumnFamily();

  // Writes a consistent copy of the store as of now (one snapshot of every
  // column family: whole committed batches only) to a new store at `path`,
  // which must not exist (AlreadyExists). Works on a read-only open beside
  // a live server: everything committed before the open is in the copy.
  // The copy is compacted table files, built under `path`.partial and
  // renamed into place once durable, so `path` is either absent or whole.
  absl::StatusOr<CopyReport> CopyTo(const std::string& path);

 private:
  RocksDbStorage() = default;

  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;  // default, entries, leaf_index, tiles
};

}  // namespace infratrail

#endif  // INFRATRAIL_SERVER_ROCKSDB_STORAGE_H_
