#include "core/tile.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "core/encoding.h"

namespace infratrail {

std::string EncodeTileIndex(uint64_t n) {
  std::string out = absl::StrFormat("%03d", n % 1000);
  for (n /= 1000; n > 0; n /= 1000)
    out = absl::StrCat(absl::StrFormat("x%03d", n % 1000), "/", out);
  return out;
}

std::string TileId::Path() const {
  std::string p = absl::StrCat("tile/", entries ? std::string("entries") : absl::StrCat(level), "/",
                               EncodeTileIndex(index));
  if (!IsFull()) absl::StrAppend(&p, ".p/", width);
  return p;
}

absl::StatusOr<TileId> ParseTilePath(absl::string_view path) {
  auto bad = [&](absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat("tile path \"", path, "\": ", why));
  };
  absl::string_view p = path;
  if (!p.empty() && p.front() == '/') p.remove_prefix(1);
  if (!absl::ConsumePrefix(&p, "tile/")) return bad("does not start with tile/");
  std::vector<absl::string_view> parts = absl::StrSplit(p, '/');
  if (parts.size() < 2) return bad("missing tile index");
  TileId id;
  if (parts[0] == "entries") {
    id.entries = true;
  } else {
    absl::StatusOr<uint64_t> level = ParseDecimalStrict(parts[0], "level");
    if (!level.ok()) return bad(level.status().message());
    if (*level > kMaxTileLevel) return bad("level too large");
    id.level = static_cast<uint32_t>(*level);
  }
  parts.erase(parts.begin());
  // Optional ".p/<W>" suffix: the index's last group carries ".p".
  if (parts.size() >= 2 && absl::EndsWith(parts[parts.size() - 2], ".p")) {
    absl::StatusOr<uint64_t> w = ParseDecimalStrict(parts.back(), "width");
    if (!w.ok()) return bad(w.status().message());
    if (*w < 1 || *w >= kTileWidth) return bad("partial width must be 1..255");
    id.width = static_cast<uint32_t>(*w);
    parts.pop_back();
    parts.back().remove_suffix(2);
  }
  // Index groups: "xDDD" for all but the last, "DDD" for the last.
  if (parts.size() > 7) return bad("tile index has too many digits");
  uint64_t n = 0;
  for (size_t i = 0; i < parts.size(); ++i) {
    absl::string_view g = parts[i];
    const bool last = i + 1 == parts.size();
    if (!last && !absl::ConsumePrefix(&g, "x")) return bad("index group without x prefix");
    if (g.size() != 3 || !absl::ascii_isdigit(g[0]) || !absl::ascii_isdigit(g[1]) ||
        !absl::ascii_isdigit(g[2])) {
      return bad("index group is not three digits");
    }
    const uint64_t d = uint64_t{100} * static_cast<uint64_t>(g[0] - '0') +
                       uint64_t{10} * static_cast<uint64_t>(g[1] - '0') +
                       static_cast<uint64_t>(g[2] - '0');
    if (n > (UINT64_MAX - d) / 1000) return bad("tile index overflows 64 bits");
    n = n * 1000 + d;
  }
  id.index = n;
  // Canonical form only: rejects leading zero groups such as x000/001.
  if (EncodeTileIndex(n) != absl::StrJoin(parts, "/")) return bad("tile index not canonical");
  // A tile whose first hash's node index would not fit in 64 bits cannot exist.
  const uint32_t shift = kTileHeight * (id.level + 1);
  if (shift < 64 && n > (UINT64_MAX >> shift)) return bad("tile index beyond any tree");
  return id;
}

NodeInTile LocateNode(NodeId id) {
  const uint32_t tile_level = id.level / kTileHeight;
  const uint32_t sub = id.level % kTileHeight;
  const uint64_t first_in_row = id.index << sub;  // index at level 8 * tile_level
  const uint64_t count = uint64_t{1} << sub;
  NodeInTile out;
  out.tile.level = tile_level;
  out.tile.index = first_in_row / kTileWidth;
  out.first = static_cast<uint32_t>(first_in_row % kTileWidth);
  out.count = static_cast<uint32_t>(count);
  out.tile.width = out.first + out.count;
  return out;
}

uint32_t TileWidthAt(uint32_t level, uint64_t index, uint64_t tree_size) {
  const uint32_t shift = kTileHeight * level;
  if (shift >= 64) return 0;
  const uint64_t hashes = tree_size >> shift;
  const uint64_t full = hashes / kTileWidth;
  if (index < full) return kTileWidth;
  if (index == full) return static_cast<uint32_t>(hashes % kTileWidth);
  return 0;
}

std::vector<TileId> TilesForTree(uint64_t tree_size, bool entries) {
  std::vector<TileId> out;
  for (uint32_t level = 0; level <= kMaxTileLevel; ++level) {
    const uint64_t hashes = tree_size >> (kTileHeight * level);
    if (hashes == 0) break;
    for (uint64_t n = 0; n * kTileWidth < hashes; ++n) {
      out.push_back(TileId{level, n, TileWidthAt(level, n, tree_size), false});
    }
  }
  if (entries) {
    for (uint64_t n = 0; n * kTileWidth < tree_size; ++n) {
      out.push_back(TileId{0, n, TileWidthAt(0, n, tree_size), true});
    }
  }
  return out;
}

Hash HashWithinTile(absl::Span<const Hash> row, uint32_t sub_level, uint64_t i, Hasher& hasher) {
  if (sub_level == 0) return row[i];
  const Hash left = HashWithinTile(row, sub_level - 1, 2 * i, hasher);
  const Hash right = HashWithinTile(row, sub_level - 1, 2 * i + 1, hasher);
  return hasher.HashChildren(left, right);
}

absl::StatusOr<std::vector<Hash>> DecodeHashTile(absl::string_view data) {
  if (data.size() % kHashSize != 0 || data.size() > kTileWidth * kHashSize) {
    return absl::InvalidArgumentError(
        absl::StrCat("hash tile: ", data.size(), " bytes is not 1..256 hashes of 32 bytes"));
  }
  std::vector<Hash> out(data.size() / kHashSize);
  for (size_t i = 0; i < out.size(); ++i) {
    std::copy_n(data.begin() + i * kHashSize, kHashSize, out[i].begin());
  }
  return out;
}

std::string EncodeHashTile(absl::Span<const Hash> hashes) {
  std::string out;
  out.reserve(hashes.size() * kHashSize);
  for (const Hash& h : hashes) absl::StrAppend(&out, AsBytes(h));
  return out;
}

absl::StatusOr<std::string> EncodeEntryBundle(absl::Span<const std::string> entries) {
  if (entries.size() > kTileWidth) {
    return absl::InvalidArgumentError(
        absl::StrCat("entry bundle: ", entries.size(), " entries > ", kTileWidth));
  }
  std::string out;
  for (size_t i = 0; i < entries.size(); ++i) {
    if (entries[i].size() > kMaxBundleEntrySize) {
      return absl::InvalidArgumentError(absl::StrCat(
          "entry bundle: entry ", i, " is ", entries[i].size(), " bytes > ", kMaxBundleEntrySize));
    }
    out.push_back(static_cast<char>(entries[i].size() >> 8));
    out.push_back(static_cast<char>(entries[i].size() & 0xff));
    out.append(entries[i]);
  }
  return out;
}

absl::StatusOr<std::vector<absl::string_view>> DecodeEntryBundleViews(absl::string_view data) {
  std::vector<absl::string_view> out;
  out.reserve(kTileWidth);
  while (!data.empty()) {
    if (out.size() == kTileWidth) {
      return absl::InvalidArgumentError("entry bundle: more than 256 entries");
    }
    if (data.size() < 2) return absl::InvalidArgumentError("entry bundle: truncated length");
    const size_t len = (static_cast<uint8_t>(data[0]) << 8) | static_cast<uint8_t>(data[1]);
    data.remove_prefix(2);
    if (data.size() < len) {
      return absl::InvalidArgumentError(absl::StrCat(
          "entry bundle: entry ", out.size(), " truncated: ", data.size(), " of ", len, " bytes"));
    }
    out.push_back(data.substr(0, len));
    data.remove_prefix(len);
  }
  return out;
}

absl::StatusOr<std::vector<std::string>> DecodeEntryBundle(absl::string_view data) {
  absl::StatusOr<std::vector<absl::string_view>> views = DecodeEntryBundleViews(data);
  if (!views.ok()) return views.status();
  return std::vector<std::string>(views->begin(), views->end());
}

}  // namespace infratrail
