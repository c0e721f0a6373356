#include "server/tree_reader.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "core/proof.h"
#include "core/tile.h"

namespace infratrail {

TreeReader::TreeReader(LogStorage* storage, TileCache* cache) : storage_(storage), cache_(cache) {}

absl::StatusOr<std::shared_ptr<const TreeReader::Expanded>> TreeReader::Get(const TileId& tile,
                                                                            size_t min_width) {
  std::shared_ptr<const Expanded> cached = cache_->Lookup<Expanded>(TileCache::User::kProofs, tile);
  if (cached != nullptr && cached->width() >= min_width) return cached;
  return Load(tile);
}

absl::StatusOr<std::shared_ptr<const TreeReader::Expanded>> TreeReader::Load(const TileId& tile) {
  absl::StatusOr<std::string> bytes = storage_->ReadTile(tile);
  if (!bytes.ok()) return bytes.status();
  absl::StatusOr<std::vector<Hash>> row = DecodeHashTile(*bytes);
  if (!row.ok()) return absl::DataLossError(row.status().message());
  auto expanded = std::make_shared<Expanded>();
  expanded->rows[0] = std::move(*row);
  size_t bytes_held = sizeof(Expanded) + expanded->rows[0].capacity() * kHashSize;
  Hasher hasher;
  for (int k = 1; k < kTileRows; ++k) {
    const std::vector<Hash>& below = expanded->rows[k - 1];
    std::vector<Hash>& out = expanded->rows[k];
    out.reserve(below.size() / 2);
    for (size_t i = 0; i + 1 < below.size(); i += 2) {
      out.push_back(hasher.HashChildren(below[i], below[i + 1]));
    }
    bytes_held += out.capacity() * kHashSize;
  }
  // A narrower expansion of a partial tile, cached under the same key, is
  // replaced: every node it held is in this one too.
  cache_->Insert<Expanded>(TileCache::User::kProofs, tile, expanded, bytes_held);
  return std::shared_ptr<const Expanded>(std::move(expanded));
}

absl::StatusOr<std::vector<Hash>> TreeReader::ReadNodes(absl::Span<const NodeId> ids) {
  std::vector<Hash> out;
  out.reserve(ids.size());
  // A proof's nodes come tile by tile, so one lookup serves a run of them.
  TileId key;
  std::shared_ptr<const Expanded> tile;
  for (const NodeId& id : ids) {
    const NodeInTile loc = LocateNode(id);
    const uint32_t sub = id.level % kTileHeight;
    const size_t need = loc.first + loc.count;
    if (tile == nullptr || key.level != loc.tile.level || key.index != loc.tile.index ||
        tile->width() < need) {
      // Cached under the full tile's id whatever its width (see the header).
      key = TileId{loc.tile.level, loc.tile.index};
      absl::StatusOr<std::shared_ptr<const Expanded>> got = Get(key, need);
      if (!got.ok()) {
        return absl::DataLossError(
            absl::StrCat("node ", id.DebugString(), ": ", got.status().message()));
      }
      tile = *std::move(got);
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

}  // namespace infratrail
