// FaultInjectingStorage: a LogStorage decorator whose commits start failing
// after a given number, for the server's fault-injection tests (hidden flag
// --testing-fail-commit-after). Reads pass through.
#ifndef INFRATRAIL_SERVER_FAULT_INJECTING_STORAGE_H_
#define INFRATRAIL_SERVER_FAULT_INJECTING_STORAGE_H_

#include <atomic>

#include "server/forwarding_storage.h"

namespace infratrail {

class FaultInjectingStorage : public ForwardingStorage {
 public:
  // With `no_space`, the failure is the one RocksDbStorage reports for
  // ENOSPC (ResourceExhausted, "disk full").
  FaultInjectingStorage(LogStorage* base, int ok_commits, bool no_space = false)
      : ForwardingStorage(base), left_(ok_commits), no_space_(no_space) {}

  absl::Status Commit(const CommitBatch& batch) override {
    if (left_.fetch_sub(1) <= 0) {
      if (no_space_) {
        return absl::ResourceExhaustedError(
            "commit: rocksdb: IO error: No space left on device: injected (disk full)");
      }
      return absl::UnavailableError("commit: injected fsync failure");
    }
    return ForwardingStorage::Commit(batch);
  }

 private:
  std::atomic<int> left_;
  const bool no_space_;
};

}  // namespace infratrail

#endif  // INFRATRAIL_SERVER_FAULT_INJECTING_STORAGE_H_
