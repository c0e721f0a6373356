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
  FaultInjectingStorage(LogStorage* base, int ok_commits)
      : ForwardingStorage(base), left_(ok_commits) {}

  absl::Status Commit(const CommitBatch& batch) override {
    if (left_.fetch_sub(1) <= 0) return absl::UnavailableError("commit: injected fsync failure");
    return ForwardingStorage::Commit(batch);
  }

 private:
  std::atomic<int> left_;
};

}  // namespace infratrail

#endif  // INFRATRAIL_SERVER_FAULT_INJECTING_STORAGE_H_
