// C2SP tlog-tiles layout: tile height 8 (256 hashes wide), paths, widths,
// and the entry-bundle encoding. Pure functions.
//
// A hash tile at level L, index N holds the hashes of nodes at tree level 8L
// with indices [256N, 256N + W); nodes at levels 8L+1 .. 8L+7 are recomputed
// from it. Entry bundle N holds entries [256N, 256N + W).
#ifndef INFRATRAIL_CORE_TILE_H_
#define INFRATRAIL_CORE_TILE_H_

#include <compare>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "core/hash.h"
#include "core/node_id.h"

namespace infratrail {

inline constexpr uint32_t kTileHeight = 8;
inline constexpr uint32_t kTileWidth = 256;  // 1 << kTileHeight
// Entries in a bundle carry a uint16 length, so no entry may be larger.
inline constexpr size_t kMaxBundleEntrySize = 65535;
// Deepest tile level a 64-bit tree can need.
inline constexpr uint32_t kMaxTileLevel = 63 / kTileHeight;

struct TileId {
  uint32_t level = 0;           // tile level L (entry bundles: level 0 with `entries`)
  uint64_t index = 0;           // tile index N
  uint32_t width = kTileWidth;  // 1..256; 256 means a full tile
  bool entries = false;         // an entry bundle rather than a hash tile

  bool IsFull() const { return width == kTileWidth; }
  // "tile/<L>/<N>[.p/<W>]" or "tile/entries/<N>[.p/<W>]".
  std::string Path() const;

  // NOLINTNEXTLINE(modernize-use-nullptr): clang-tidy 14 misreads defaulted <=>
  friend auto operator<=>(const TileId&, const TileId&) = default;
  template <typename H>
  friend H AbslHashValue(H h, const TileId& t) {
    return H::combine(std::move(h), t.level, t.index, t.width, t.entries);
  }
};

// Parses a tile path strictly per tlog-tiles: the optional leading '/', the
// x-prefixed three-digit groups with no leading zero group, width 1..255 for
// partial tiles, level <= kMaxTileLevel. InvalidArgument names what is wrong.
absl::StatusOr<TileId> ParseTilePath(absl::string_view path);

// The tile index encoding on its own: 1234067 -> "x001/x234/067".
std::string EncodeTileIndex(uint64_t n);

// The tile holding node `id` of a tree: level id.level / 8, and the range of
// its bottom-row hashes [first, first + count) the node covers.
struct NodeInTile {
  TileId tile;  // width is the smallest width containing the node
  uint32_t first;
  uint32_t count;
};
NodeInTile LocateNode(NodeId id);

// Width of the tile (L, N) in a tree of `tree_size` leaves: 256 if full, the
// partial width if partial, 0 if the tile does not exist yet. Entry bundles
// have the widths of level-0 tiles.
uint32_t TileWidthAt(uint32_t level, uint64_t index, uint64_t tree_size);

// Every tile (full, and the partial one if any) of every level for a tree
// of `tree_size` leaves, in level then index order; `entries` adds bundles.
std::vector<TileId> TilesForTree(uint64_t tree_size, bool entries);

// The hash of node (level offset `sub_level`, index `i` within the tile)
// computed from a tile's bottom row: hashes [i << sub_level, (i+1) << sub_level).
// Requires that range to be within `row`.
Hash HashWithinTile(absl::Span<const Hash> row, uint32_t sub_level, uint64_t i, Hasher& hasher);

// Hash tile bytes: the concatenated 32-byte hashes. InvalidArgument if the
// size is not a multiple of 32 or more than 256 hashes.
absl::StatusOr<std::vector<Hash>> DecodeHashTile(absl::string_view data);
std::string EncodeHashTile(absl::Span<const Hash> hashes);

// Entry bundles: each entry as a big-endian uint16 length and its bytes.
// Encode fails (InvalidArgument) for an entry over 65535 bytes or more than
// 256 entries; Decode rejects truncation, trailing bytes and > 256 entries.
absl::StatusOr<std::string> EncodeEntryBundle(absl::Span<const std::string> entries);
absl::StatusOr<std::vector<std::string>> DecodeEntryBundle(absl::string_view data);
// The same, as views into `data` (no copies; valid while `data` is).
absl::StatusOr<std::vector<absl::string_view>> DecodeEntryBundleViews(absl::string_view data);

}  // namespace infratrail

#endif  // INFRATRAIL_CORE_TILE_H_
