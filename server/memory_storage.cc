#include "server/memory_storage.h"

#include "absl/strings/str_cat.h"

namespace infratrail {

void MemoryStorage::ApplyLocked(const CommitBatch& batch) {
  for (size_t i = 0; i < batch.entries.size(); ++i) {
    entries_[batch.first_index + i] = std::string(batch.entries[i]);
    leaf_index_[batch.leaf_hashes[i]] = batch.first_index + i;
  }
  for (const auto& [tile, bytes] : batch.tiles) tiles_[std::pair(tile.level, tile.index)] = bytes;
  state_ = batch.state;
}

absl::Status MemoryStorage::Commit(const CommitBatch& batch) {
  absl::MutexLock l(&mu_);
  if (fail_after_ >= 0 && commits_ >= fail_after_) {
    if (apply_before_failing_) ApplyLocked(batch);
    return absl::UnavailableError("commit: injected storage failure");
  }
  ApplyLocked(batch);
  ++commits_;
  return absl::OkStatus();
}

absl::StatusOr<TreeState> MemoryStorage::ReadTreeState() {
  absl::MutexLock l(&mu_);
  return state_;
}

absl::Status MemoryStorage::LookupLeaves(absl::Span<const Hash> hashes,
                                         std::vector<std::optional<uint64_t>>* out) {
  absl::MutexLock l(&mu_);
  out->assign(hashes.size(), std::nullopt);
  for (size_t i = 0; i < hashes.size(); ++i) {
    auto it = leaf_index_.find(hashes[i]);
    if (it != leaf_index_.end()) (*out)[i] = it->second;
  }
  return absl::OkStatus();
}

absl::Status MemoryStorage::ReadEntries(uint64_t begin, uint64_t end,
                                        std::vector<std::string>* out) {
  absl::MutexLock l(&mu_);
  for (uint64_t i = begin; i < end; ++i) {
    auto it = entries_.find(i);
    if (it == entries_.end()) {
      return absl::NotFoundError(absl::StrCat("read entries: entry ", i, " missing"));
    }
    out->push_back(it->second);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> MemoryStorage::ReadTile(const TileId& tile) {
  if (absl::Status st = CheckStoredTile(tile); !st.ok()) return st;
  absl::MutexLock l(&mu_);
  auto it = tiles_.find(std::pair(tile.level, tile.index));
  if (it == tiles_.end()) {
    return absl::NotFoundError(absl::StrCat("read tile ", tile.level, "/", tile.index));
  }
  return it->second;
}

absl::StatusOr<std::optional<std::string>> MemoryStorage::GetMeta(absl::string_view key) {
  absl::MutexLock l(&mu_);
  auto it = meta_.find(key);
  if (it == meta_.end()) return std::optional<std::string>();
  return std::optional<std::string>(it->second);
}

absl::Status MemoryStorage::PutMeta(absl::string_view key, absl::string_view value) {
  if (key == kMetaTreeState) return absl::InvalidArgumentError("PutMeta: tree_state is reserved");
  absl::MutexLock l(&mu_);
  if (fail_put_meta_ > 0) {
    --fail_put_meta_;
    return absl::UnavailableError(absl::StrCat("write meta ", key, ": injected failure"));
  }
  meta_[std::string(key)] = std::string(value);
  return absl::OkStatus();
}

void MemoryStorage::FailPutMeta(int times) {
  absl::MutexLock l(&mu_);
  fail_put_meta_ = times;
}

void MemoryStorage::FailCommitsAfter(int ok_commits, bool apply_before_failing) {
  absl::MutexLock l(&mu_);
  fail_after_ = commits_ + ok_commits;
  apply_before_failing_ = apply_before_failing;
}

int MemoryStorage::commit_count() const {
  absl::MutexLock l(&mu_);
  return commits_;
}

}  // namespace infratrail
