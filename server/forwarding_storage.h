// ForwardingStorage: a LogStorage that passes every call to a base store.
// Decorators (fault injection, test gates) derive from it and override only
// what they change.
#ifndef INFRATRAIL_SERVER_FORWARDING_STORAGE_H_
#define INFRATRAIL_SERVER_FORWARDING_STORAGE_H_

#include "server/storage.h"

namespace infratrail {

class ForwardingStorage : public LogStorage {
 public:
  explicit ForwardingStorage(LogStorage* base) : base_(base) {}

  absl::Status Commit(const CommitBatch& batch) override { return base_->Commit(batch); }
  absl::StatusOr<TreeState> ReadTreeState() override { return base_->ReadTreeState(); }
  absl::Status LookupLeaves(absl::Span<const Hash> hashes,
                            std::vector<std::optional<uint64_t>>* out) override {
    return base_->LookupLeaves(hashes, out);
  }
  absl::Status ReadEntries(uint64_t begin, uint64_t end, std::vector<std::string>* out) override {
    return base_->ReadEntries(begin, end, out);
  }
  absl::StatusOr<std::string> ReadTile(const TileId& tile) override {
    return base_->ReadTile(tile);
  }
  absl::StatusOr<std::optional<std::string>> GetMeta(absl::string_view key) override {
    return base_->GetMeta(key);
  }
  absl::Status PutMeta(absl::string_view key, absl::string_view value) override {
    return base_->PutMeta(key, value);
  }

 protected:
  LogStorage* base() const { return base_; }

 private:
  LogStorage* const base_;
};

}  // namespace infratrail

#endif  // INFRATRAIL_SERVER_FORWARDING_STORAGE_H_
