#include "server/tile_source.h"

#include <vector>

#include "absl/strings/str_cat.h"

namespace infratrail {

absl::StatusOr<std::string> ReadTileBytes(LogStorage& storage, const TileId& tile) {
  if (tile.entries) {
    std::vector<std::string> entries;
    const uint64_t first = tile.index * kTileWidth;
    if (absl::Status st = storage.ReadEntries(first, first + tile.width, &entries); !st.ok()) {
      return st;
    }
    if (entries.size() != tile.width) {
      return absl::DataLossError(absl::StrCat(tile.Path(), ": ", entries.size(),
                                              " entries stored, ", tile.width, " needed"));
    }
    absl::StatusOr<std::string> bundle = EncodeEntryBundle(entries);
    if (!bundle.ok()) {
      return absl::DataLossError(absl::StrCat(tile.Path(), ": ", bundle.status().message()));
    }
    return bundle;
  }
  absl::StatusOr<std::string> stored = storage.ReadTile(tile);
  if (!stored.ok()) return stored.status();
  const size_t want = static_cast<size_t>(tile.width) * kHashSize;
  if (stored->size() < want) {
    return absl::DataLossError(absl::StrCat(tile.Path(), ": stored tile has ",
                                            stored->size() / kHashSize, " hashes, ", tile.width,
                                            " needed"));
  }
  stored->resize(want);
  return stored;
}

}  // namespace infratrail
