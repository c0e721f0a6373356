// The bytes of one C2SP tile or entry bundle, read from the log's storage:
// the one read path shared by `export` and the HTTP tile server.
#ifndef INFRATRAIL_SERVER_TILE_SOURCE_H_
#define INFRATRAIL_SERVER_TILE_SOURCE_H_

#include <string>

#include "absl/status/statusor.h"
#include "core/tile.h"
#include "server/storage.h"

namespace infratrail {

// The bytes of `tile` at its width: a hash tile is one read of the tiles
// column family, cut to `tile.width` hashes (a stored edge tile may already
// hold hashes beyond a signed size: the sequencer runs ahead of the
// publisher); an entry bundle is one range read of the entries. The caller
// checks that the tree holds the tile at that width. DataLoss if storage
// holds less than the width needs or an entry cannot be bundled; storage
// errors pass through.
absl::StatusOr<std::string> ReadTileBytes(LogStorage& storage, const TileId& tile);

}  // namespace infratrail

#endif  // INFRATRAIL_SERVER_TILE_SOURCE_H_
