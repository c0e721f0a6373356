// FaultInjectingStorage: a LogStorage decorator whose commits start failing
// after a given number, for the server's fault-injection tests (hidden flag
// --testing-fail-commit-after). Reads pass through.
#ifndef INFRATRAIL_SERVER_FAULT_INJECTING_STORAGE_H_
#define INFRATRAIL_SERVER_FAULT_INJECTING_STORAGE_H_

#include <atomic>

#include "server/storage.h"

namespace infratrail {

class FaultInjectingStorage : public LogStorage {
 public:
  FaultInjectingStorage(LogStorage* base, int ok_commits) : base_(base), left_(ok_commits) {}

  absl::Status Commit(const CommitBatch& batch) override {
    if (left_.fetch_sub(1) <= 0) return absl::UnavailableError("commit: injected fsync failure");
    return base_->Commit(batch);
  }
  absl::StatusOr<TreeState> ReadTreeState() override { return base_->ReadTreeState(); }
  absl::Status LookupLeaves(absl::Span<const Hash> hashes,
                            std::vector<std::optional<uint64_t>>* out) override {
    return base_->LookupLeaves(hashes, out);
  }
  absl::Status ReadEntries(uint64_t begin, uint64_t end, std::vector<std::string>* out) override {
    return base_->ReadEntries(begin, end, out);
  }
  absl::StatusOr<std::string> ReadTile(const TileKey& key) override { return base_->ReadTile(key); }
  absl::StatusOr<std::optional<std::string>> GetMeta(absl::string_view key) override {
    return base_->GetMeta(key);
  }
  absl::Status PutMeta(absl::string_view key, absl::string_view value) override {
    return base_->PutMeta(key, value);
  }

 private:
  LogStorage* const base_;
  std::atomic<int> left_;
};

}  // namespace infratrail

#endif  // INFRATRAIL_SERVER_FAULT_INJECTING_STORAGE_H_
