#include "server/tree_reader.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "core/proof.h"
#include "core/tile.h"

namespace infratrail {

TreeReader::TreeReader(LogStorage* storage, size_t cache_tiles)
    : storage_(storage), cache_capacity_(cache_tiles) {}

absl::StatusOr<std::shared_ptr<const TreeReader::Expanded>> TreeReader::CacheFullTile(
    const TileKey& key, absl::string_view bytes) {
  absl::StatusOr<std::vector<Hash>> row = DecodeHashTile(bytes);
  if (!row.ok()) return absl::DataLossError(row.status().message());
  if (row->size() != kTileWidth) {
    return absl::DataLossError(absl::StrCat("tile ", key.level, "/", key.index, " has ",
                                            row->size(), " hashes, want 256"));
  }
  auto expanded = std::make_shared<Expanded>();
  expanded->rows[0] = std::move(*row);
  Hasher hasher;
  for (int k = 1; k < kTileRows; ++k) {
    const std::vector<Hash>& below = expanded->rows[k - 1];
    std::vector<Hash>& out = expanded->rows[k];
    out.reserve(below.size() / 2);
    for (size_t i = 0; i + 1 < below.size(); i += 2) {
      out.push_back(hasher.HashChildren(below[i], below[i + 1]));
    }
  }
  absl::MutexLock l(&mu_);
  if (cache_capacity_ == 0) return std::shared_ptr<const Expanded>(std::move(expanded));
  auto [it, inserted] = cache_.emplace(key, std::move(expanded));
  if (inserted) {
    fifo_.push_back(key);
    while (fifo_.size() > cache_capacity_) {
      cache_.erase(fifo_.front());
      fifo_.pop_front();
    }
  }
  return it->second;
}

absl::StatusOr<std::vector<Hash>> TreeReader::ReadNodes(absl::Span<const NodeId> ids) {
  std::vector<Hash> out;
  out.reserve(ids.size());
  Hasher hasher;
  for (const NodeId& id : ids) {
    const NodeInTile loc = LocateNode(id);
    const TileKey key{loc.tile.level, loc.tile.index};
    const uint32_t sub = id.level % kTileHeight;
    // Only full tiles are cached; whether an uncached tile is full we learn
    // by reading it.
    {
      absl::MutexLock l(&mu_);
      auto it = cache_.find(key);
      if (it != cache_.end()) {
        ++hits_;
        out.push_back(it->second->rows[sub][loc.first >> sub]);
        continue;
      }
      ++misses_;
    }
    absl::StatusOr<std::string> bytes = storage_->ReadTile(key);
    if (!bytes.ok()) {
      return absl::DataLossError(
          absl::StrCat("node ", id.DebugString(), ": ", bytes.status().message()));
    }
    if (bytes->size() == kTileWidth * kHashSize) {
      absl::StatusOr<std::shared_ptr<const Expanded>> tile = CacheFullTile(key, *bytes);
      if (!tile.ok()) return tile.status();
      out.push_back((*tile)->rows[sub][loc.first >> sub]);
      continue;
    }
    absl::StatusOr<std::vector<Hash>> row = DecodeHashTile(*bytes);
    if (!row.ok()) return absl::DataLossError(row.status().message());
    if (row->size() < loc.first + loc.count) {
      return absl::DataLossError(absl::StrCat("node ", id.DebugString(), ": tile ", key.level, "/",
                                              key.index, " has only ", row->size(), " hashes"));
    }
    out.push_back(HashWithinTile(*row, sub, loc.first >> sub, hasher));
  }
  return out;
}

absl::StatusOr<std::vector<Hash>> TreeReader::InclusionProof(uint64_t index, uint64_t size) {
  absl::StatusOr<ProofPlan> plan = PlanInclusion(index, size);
  if (!plan.ok()) return plan.status();
  absl::StatusOr<std::vector<Hash>> nodes = ReadNodes(plan->nodes);
  if (!nodes.ok()) return nodes.status();
  Hasher hasher;
  return plan->Rehash(*nodes, hasher);
}

absl::StatusOr<std::vector<Hash>> TreeReader::ConsistencyProof(uint64_t size1, uint64_t size2) {
  absl::StatusOr<ProofPlan> plan = PlanConsistency(size1, size2);
  if (!plan.ok()) return plan.status();
  absl::StatusOr<std::vector<Hash>> nodes = ReadNodes(plan->nodes);
  if (!nodes.ok()) return nodes.status();
  Hasher hasher;
  return plan->Rehash(*nodes, hasher);
}

absl::StatusOr<Hash> TreeReader::RootAt(uint64_t size) {
  if (size == 0) return Hasher::EmptyRoot();
  const std::vector<NodeId> ids = DecomposeRange(0, size);
  absl::StatusOr<std::vector<Hash>> nodes = ReadNodes(ids);
  if (!nodes.ok()) return nodes.status();
  Hasher hasher;
  Hash acc = nodes->back();
  for (size_t i = nodes->size() - 1; i-- > 0;) acc = hasher.HashChildren((*nodes)[i], acc);
  return acc;
}

size_t TreeReader::cache_hits() const {
  absl::MutexLock l(&mu_);
  return hits_;
}

size_t TreeReader::cache_misses() const {
  absl::MutexLock l(&mu_);
  return misses_;
}

}  // namespace infratrail
