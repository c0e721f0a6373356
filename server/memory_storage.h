// MemoryStorage: LogStorage in memory, for tests. It can be told to fail
// commits, before or after "persisting" the batch, to exercise the
// sequencer's sticky-failure path (as a disk that fails an fsync whose data
// may or may not have reached the platter).
//
// Thread-safe.
#ifndef INFRATRAIL_SERVER_MEMORY_STORAGE_H_
#define INFRATRAIL_SERVER_MEMORY_STORAGE_H_

#include <cstdint>
#include <map>
#include <string>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "server/storage.h"

namespace infratrail {

class MemoryStorage : public LogStorage {
 public:
  absl::Status Commit(const CommitBatch& batch) override;
  absl::StatusOr<TreeState> ReadTreeState() override;
  absl::Status LookupLeaves(absl::Span<const Hash> hashes,
                            std::vector<std::optional<uint64_t>>* out) override;
  absl::Status ReadEntries(uint64_t begin, uint64_t end, std::vector<std::string>* out) override;
  absl::StatusOr<std::string> ReadTile(const TileId& tile) override;
  absl::StatusOr<std::optional<std::string>> GetMeta(absl::string_view key) override;
  absl::Status PutMeta(absl::string_view key, absl::string_view value) override;

  // Every Commit after the next `ok_commits` successful ones fails with
  // Unavailable; with `apply_before_failing` the failing batch is applied
  // first (the data reached the disk, the fsync still reported an error).
  void FailCommitsAfter(int ok_commits, bool apply_before_failing);
  // The next `times` PutMeta calls fail with Unavailable, writing nothing.
  void FailPutMeta(int times);
  int commit_count() const;

 private:
  void ApplyLocked(const CommitBatch& batch) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  mutable absl::Mutex mu_;
  std::map<uint64_t, std::string> entries_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<Hash, uint64_t> leaf_index_ ABSL_GUARDED_BY(mu_);
  // Keyed by (level, index): a tile's width is not part of its address.
  absl::flat_hash_map<std::pair<uint32_t, uint64_t>, std::string> tiles_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::string, std::less<>> meta_ ABSL_GUARDED_BY(mu_);
  TreeState state_ ABSL_GUARDED_BY(mu_);
  int commits_ ABSL_GUARDED_BY(mu_) = 0;
  int fail_after_ ABSL_GUARDED_BY(mu_) = -1;
  bool apply_before_failing_ ABSL_GUARDED_BY(mu_) = false;
  int fail_put_meta_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace infratrail

#endif  // INFRATRAIL_SERVER_MEMORY_STORAGE_H_
