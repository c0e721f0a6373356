#include "server/tree_reader.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "core/proof.h"
#include "core/tile.h"

namespace infratrail {

TreeReader::TreeReader(LogStorage* storage, size_t cache_tiles)
    : storage_(storage), cache_capacity_(cache_tiles) {}

std::shared_ptr<const TreeReader::Expanded> TreeReader::Lookup(const TileId& key,
                                                               size_t min_width) {
  absl::MutexLock l(&mu_);
  if (auto it = cache_.find(key); it != cache_.end()) {
    ++hits_;
    return it->second;
  }
  if (auto it = partial_.find(key); it != partial_.end() && it->second->width() >= min_width) {
    ++hits_;
    return it->second;
  }
  ++misses_;
  return nullptr;
}

absl::StatusOr<std::shared_ptr<const TreeReader::Expanded>> TreeReader::Load(const TileId& key) {
  absl::StatusOr<std::string> bytes = storage_->ReadTile(key);
  if (!bytes.ok()) return bytes.status();
  absl::StatusOr<std::vector<Hash>> row = DecodeHashTile(*bytes);
  if (!row.ok()) return absl::DataLossError(row.status().message());
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
  const bool full = expanded->width() == kTileWidth;
  absl::MutexLock l(&mu_);
  if (cache_capacity_ == 0) return std::shared_ptr<const Expanded>(std::move(expanded));
  if (full) {
    partial_.erase(key);
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
  // Partial tiles left behind as the tree grows are dropped wholesale; a
  // live one is reloaded on its next use.
  if (partial_.size() >= size_t{4} * kTileRows) partial_.clear();
  std::shared_ptr<const Expanded>& slot = partial_[key];
  if (slot == nullptr || slot->width() < expanded->width()) slot = std::move(expanded);
  return slot;
}

absl::StatusOr<std::vector<Hash>> TreeReader::ReadNodes(absl::Span<const NodeId> ids) {
  std::vector<Hash> out;
  out.reserve(ids.size());
  for (const NodeId& id : ids) {
    const NodeInTile loc = LocateNode(id);
    const TileId key{loc.tile.level, loc.tile.index};
    const uint32_t sub = id.level % kTileHeight;
    const size_t need = loc.first + loc.count;
    std::shared_ptr<const Expanded> tile = Lookup(key, need);
    if (tile == nullptr) {
      absl::StatusOr<std::shared_ptr<const Expanded>> loaded = Load(key);
      if (!loaded.ok()) {
        return absl::DataLossError(
            absl::StrCat("node ", id.DebugString(), ": ", loaded.status().message()));
      }
      tile = std::move(*loaded);
    }
    if (tile->width() < need) {
      return absl::DataLossError(absl::StrCat("node ", id.DebugString(), ": tile ", key.level, "/",
                                              key.index, " has only ", tile->width(), " hashes"));
    }
    out.push_back(tile->rows[sub][loc.first >> sub]);
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
