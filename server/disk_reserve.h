// DiskReserve: refuses writes while a filesystem the log writes to has less
// than a reserve of free space left, so the log stops cleanly before the
// disk is full instead of failing in the middle of a RocksDB write or a
// signer-state update (docs/operations.md, "Disk full").
//
// A refusal is not sticky: writes resume by themselves once space is freed.
// statvfs results are cached for `refresh`, so Check() is cheap enough for
// every Add and every commit.
//
// Thread-safe.
#ifndef INFRATRAIL_SERVER_DISK_RESERVE_H_
#define INFRATRAIL_SERVER_DISK_RESERVE_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace infratrail {

struct DiskReserveOptions {
  // Directories whose filesystems are watched (the data directory, the
  // signer state's directory); duplicates on one filesystem are harmless.
  std::vector<std::string> paths;
  // Least free space (available to the server's user) on each of them.
  uint64_t min_free_bytes = uint64_t{256} << 20;
  // How long a statvfs reading is reused.
  absl::Duration refresh = absl::Milliseconds(100);
};

class DiskReserve {
 public:
  // Free bytes on the filesystem holding `path`, or an error naming it.
  // Tests replace it to simulate a filling disk.
  using FreeBytesFn = std::function<absl::StatusOr<uint64_t>(const std::string& path)>;

  explicit DiskReserve(DiskReserveOptions options, FreeBytesFn free_bytes = StatvfsFreeBytes);

  // OK while every path has at least min_free_bytes free.
  // ResourceExhausted naming the path, what is free and the reserve
  // otherwise; Unavailable if the free space cannot be read.
  //
  // `writing`: the bytes of entries the caller is about to commit when OK.
  // A reading is reused for `refresh`, less what was committed since
  // (counted twice, for the write-ahead log and the indexes): once that
  // could reach the reserve, the space is read again. So a fast writer
  // cannot fill the disk between two readings.
  absl::Status Check(uint64_t writing = 0);

  static absl::StatusOr<uint64_t> StatvfsFreeBytes(const std::string& path);

 private:
  const DiskReserveOptions options_;
  const FreeBytesFn free_bytes_;
  absl::Mutex mu_;
  absl::Status Read() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  absl::Time checked_at_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  absl::Status last_ ABSL_GUARDED_BY(mu_);
  // The least free space over the paths at the last reading, and what was
  // committed since (estimated).
  uint64_t least_free_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t written_since_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace infratrail

#endif  // INFRATRAIL_SERVER_DISK_RESERVE_H_
