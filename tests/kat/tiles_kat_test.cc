// C2SP tlog-tiles known answers: index encoding, partial widths from the spec
// and derived tables, and two real tiled logs (Tessera test data, a Sunlight
// mirror) whose tiles, bundles and checkpoints must all agree.
#include <map>
#include <set>

#include "core/checkpoint.h"
#include "core/compact_range.h"
#include "core/note.h"
#include "core/tile.h"
#include "tests/kat/kat_util.h"

namespace infratrail::kat {
namespace {

const nlohmann::json& V() {
  static const nlohmann::json* v = new nlohmann::json(Load("tiles_vectors.json"));
  return *v;
}

TEST(TilesKat, IndexEncoding) {
  ASSERT_FALSE(V()["index_encoding"].empty());
  for (const auto& t : V()["index_encoding"]) {
    const std::string path = t["path"];
    EXPECT_EQ(EncodeTileIndex(t["index"]), path);
    absl::StatusOr<TileId> id = ParseTilePath("tile/0/" + path);
    ASSERT_TRUE(id.ok()) << id.status();
    EXPECT_EQ(id->index, t["index"].get<uint64_t>());
  }
}

// Checks one tree size's expected tile listing against TileWidthAt/Path.
void CheckPartials(const nlohmann::json& t) {
  const uint64_t size = t["tree_size"];
  SCOPED_TRACE(size);
  std::set<std::string> want_paths;
  for (const auto& l : t["levels"]) {
    const uint32_t level = l["level"];
    const uint64_t full = l["full_tiles"];
    if (full > 0) {
      EXPECT_EQ(TileWidthAt(level, full - 1, size), kTileWidth);
      EXPECT_EQ((TileId{level, full - 1, kTileWidth, false}).Path(),
                l["last_full_tile_path"].get<std::string>());
    }
    if (l["partial_width"].is_null()) {
      EXPECT_EQ(TileWidthAt(level, full, size), 0u);
    } else {
      const uint32_t w = l["partial_width"];
      EXPECT_EQ(TileWidthAt(level, full, size), w);
      EXPECT_EQ((TileId{level, full, w, false}).Path(), l["partial_tile_path"].get<std::string>());
      want_paths.insert(l["partial_tile_path"].get<std::string>());
    }
  }
  const auto& e = t["entries"];
  if (!e["partial_width"].is_null()) {
    const uint32_t w = e["partial_width"];
    EXPECT_EQ((TileId{0, e["full_bundles"], w, true}).Path(),
              e["partial_bundle_path"].get<std::string>());
    want_paths.insert(e["partial_bundle_path"].get<std::string>());
  }
  // TilesForTree lists exactly these partial tiles.
  std::set<std::string> got_paths;
  for (const TileId& id : TilesForTree(size, true)) {
    if (!id.IsFull()) got_paths.insert(id.Path());
  }
  EXPECT_EQ(got_paths, want_paths);
}

TEST(TilesKat, PartialTiles) {
  for (const auto& t : V()["partial_tiles_spec"]) CheckPartials(t);
  for (const auto& t : V()["partial_tiles_derived"]) CheckPartials(t);
  for (const auto& t : V()["partial_width_table"]) {
    const uint32_t level = t["level"];
    const uint64_t size = t["tree_size"];
    const uint64_t last = (size >> (8 * level)) / 256;
    EXPECT_EQ(TileWidthAt(level, last, size) % 256, t["partial_width"].get<uint32_t>())
        << level << " " << size;
  }
}

TEST(TilesKat, TesseraTestdataLog) {
  const auto& log = V()["tessera_testdata_log"];
  NoteVerifier key = *NoteVerifier::Parse(log["verifier_key"].get<std::string>());
  Hasher h;
  std::vector<std::string> entries;
  for (const auto& e : log["entries"]) entries.push_back(e);
  for (size_t i = 0; i < entries.size(); ++i) {
    EXPECT_EQ(h.HashLeaf(entries[i]), H(log["leaf_hashes"][i]));
    EXPECT_EQ(entries[i], Unhex(log["entries_hex"][i]));
  }
  std::map<uint64_t, Hash> roots;
  for (const auto& c : log["checkpoints"]) {
    const uint64_t size = c["tree_size"];
    absl::StatusOr<Note> n = OpenNote(c["note"].get<std::string>(), {key});
    ASSERT_TRUE(n.ok()) << size << n.status();
    absl::StatusOr<Checkpoint> cp = Checkpoint::Parse(n->text);
    ASSERT_TRUE(cp.ok());
    EXPECT_EQ(cp->size, size);
    EXPECT_EQ(cp->root, H(c["root_hash_hex"]));
    roots[size] = cp->root;
    CompactRange r;
    for (uint64_t i = 0; i < size; ++i) r.AppendLeaf(h.HashLeaf(entries[i]), h);
    EXPECT_EQ(*r.Root(h), cp->root) << size;
  }
  ASSERT_FALSE(log["tiles"].empty());
  for (const auto& t : log["tiles"]) {
    const uint64_t size = t["tree_size"];
    SCOPED_TRACE(size);
    absl::StatusOr<TileId> id = ParseTilePath(t["tile_path"].get<std::string>());
    ASSERT_TRUE(id.ok()) << id.status();
    EXPECT_EQ(id->width, TileWidthAt(0, 0, size));
    absl::StatusOr<std::vector<Hash>> row = DecodeHashTile(Unhex(t["tile_hex"]));
    ASSERT_TRUE(row.ok());
    ASSERT_EQ(row->size(), size);
    CompactRange r;
    for (const Hash& leaf : *row) r.AppendLeaf(leaf, h);
    EXPECT_EQ(*r.Root(h), roots.at(size));
    absl::StatusOr<std::vector<std::string>> bundle = DecodeEntryBundle(Unhex(t["entries_hex"]));
    ASSERT_TRUE(bundle.ok());
    EXPECT_EQ(*bundle, std::vector<std::string>(entries.begin(), entries.begin() + size));
    EXPECT_EQ(*EncodeEntryBundle(*bundle), Unhex(t["entries_hex"]));
    EXPECT_TRUE(ParseTilePath(t["entries_path"].get<std::string>())->entries);
  }
}

TEST(TilesKat, SunlightMirrorTilesRebuildTheRoot) {
  const auto& m = V()["sunlight_mirror_tiles"];
  Hasher h;
  std::map<std::string, std::vector<Hash>> tiles;
  std::vector<Hash> leaves;
  leaves.reserve(300);
  for (int i = 0; i < 300; ++i) leaves.push_back(h.HashLeaf("record " + std::to_string(i)));
  for (const auto& t : m["tiles"]) {
    const std::string path = t["path"];
    absl::StatusOr<TileId> id = ParseTilePath(path);
    ASSERT_TRUE(id.ok()) << path;
    EXPECT_EQ(id->width, TileWidthAt(id->level, id->index, m["tree_size"]));
    std::vector<Hash> row;
    if (t.contains("data_hex")) {
      row = *DecodeHashTile(Unhex(t["data_hex"]));
    } else {
      // Only a digest is published: rebuild the level-0 tile from the entries.
      for (uint32_t k = 0; k < id->width; ++k) row.push_back(leaves[id->index * 256 + k]);
      EXPECT_EQ(HashToHex(h.Sha256(EncodeHashTile(row))), t["sha256"].get<std::string>());
    }
    EXPECT_EQ(row.size() * kHashSize, t["length"].get<size_t>());
    tiles[path] = row;
  }
  // The level-1 tile holds the hash of the full level-0 tile.
  EXPECT_EQ(tiles.at("tile/1/000.p/1")[0], HashWithinTile(tiles.at("tile/0/000"), 8, 0, h));
  CompactRange r;
  absl::StatusOr<CompactRange> left =
      CompactRange::FromHashes(0, 256, {tiles.at("tile/1/000.p/1")[0]});
  ASSERT_TRUE(left.ok());
  r = *left;
  for (const Hash& leaf : tiles.at("tile/0/001.p/44")) r.AppendLeaf(leaf, h);
  EXPECT_EQ(HashToHex(*r.Root(h)), m["root_hash_hex"].get<std::string>());
  NoteVerifier key = *NoteVerifier::Parse(m["checkpoint_verifier_key"].get<std::string>());
  absl::StatusOr<Note> n = OpenNote(m["checkpoint"].get<std::string>(), {key});
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(Checkpoint::Parse(n->text)->root, *r.Root(h));
}

}  // namespace
}  // namespace infratrail::kat
