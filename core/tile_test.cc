#include "core/tile.h"

#include "absl/strings/str_cat.h"
#include "core/compact_range.h"
#include "gtest/gtest.h"

namespace infratrail {
namespace {

TEST(TilePath, EncodesIndexInThreeDigitGroups) {
  EXPECT_EQ(EncodeTileIndex(0), "000");
  EXPECT_EQ(EncodeTileIndex(999), "999");
  EXPECT_EQ(EncodeTileIndex(1000), "x001/000");
  EXPECT_EQ(EncodeTileIndex(1234067), "x001/x234/067");
  EXPECT_EQ((TileId{2, 1234067, 8, false}).Path(), "tile/2/x001/x234/067.p/8");
  EXPECT_EQ((TileId{0, 5, 256, true}).Path(), "tile/entries/005");
}

TEST(TilePath, ParseRoundTripsCanonicalPaths) {
  for (uint64_t n :
       {uint64_t{0}, uint64_t{7}, uint64_t{1000}, uint64_t{1234067}, uint64_t{UINT64_MAX >> 8}}) {
    for (uint32_t w : {1u, 100u, 255u, 256u}) {
      for (bool entries : {false, true}) {
        TileId id{0, n, w, entries};
        absl::StatusOr<TileId> parsed = ParseTilePath(id.Path());
        ASSERT_TRUE(parsed.ok()) << id.Path() << ": " << parsed.status();
        EXPECT_EQ(*parsed, id);
        EXPECT_TRUE(ParseTilePath(absl::StrCat("/", id.Path())).ok());
      }
    }
  }
  EXPECT_EQ(ParseTilePath("tile/7/000")->level, 7u);
}

TEST(TilePath, RejectsMalformedPaths) {
  for (const char* bad : {"",
                          "tile",
                          "tile/",
                          "tile/0",
                          "tile/0/",
                          "tiles/0/000",
                          "tile/00/000",
                          "tile/8/000",
                          "tile/-1/000",
                          "tile/0/00",
                          "tile/0/0000",
                          "tile/0/001/000",
                          "tile/0/x000/001",
                          "tile/0/x001",
                          "tile/0/000.p/0",
                          "tile/0/000.p/256",
                          "tile/0/000.p/007",
                          "tile/0/000.p/",
                          "tile/0/000.p",
                          "tile/0/000/",
                          "tile/0/../000",
                          "tile/0/x001/../000",
                          "tile/entries/x00a/000",
                          "tile/entries/000.p/1/2",
                          "tile/0/x018/x446/x744/x073/x709/x551/615",
                          "tile/1/x072/x057/x594/x037/x927/936",
                          "tile/0/0a0",
                          "tile//000",
                          "tile/entries/",
                          "tile/0/000.p/1 ",
                          " tile/0/000"}) {
    EXPECT_FALSE(ParseTilePath(bad).ok()) << "accepted \"" << bad << "\"";
  }
}

TEST(TileWidth, FollowsSpecFormula) {
  // c2sp.org/tlog-tiles: a tree of 70000 leaves has 273 full level-0 tiles
  // and a partial one of width 112; level 1 has 273 hashes: one full tile
  // and a partial one of width 17; level 2 has a single hash.
  EXPECT_EQ(TileWidthAt(0, 272, 70000), 256u);
  EXPECT_EQ(TileWidthAt(0, 273, 70000), 112u);
  EXPECT_EQ(TileWidthAt(0, 274, 70000), 0u);
  EXPECT_EQ(TileWidthAt(1, 0, 70000), 256u);
  EXPECT_EQ(TileWidthAt(1, 1, 70000), 17u);
  EXPECT_EQ(TileWidthAt(2, 0, 70000), 1u);
  EXPECT_EQ(TileWidthAt(3, 0, 70000), 0u);
  EXPECT_EQ(TileWidthAt(0, 0, 256), 256u);
  EXPECT_EQ(TileWidthAt(0, 1, 256), 0u);
  EXPECT_EQ(TileWidthAt(1, 0, 256), 1u);
}

TEST(TileWidth, TilesForTreeListsFullAndPartialTiles) {
  std::vector<TileId> tiles = TilesForTree(257, /*entries=*/true);
  std::vector<std::string> paths;
  paths.reserve(tiles.size());
  for (const TileId& t : tiles) paths.push_back(t.Path());
  EXPECT_EQ(paths, (std::vector<std::string>{"tile/0/000", "tile/0/001.p/1", "tile/1/000.p/1",
                                             "tile/entries/000", "tile/entries/001.p/1"}));
  EXPECT_TRUE(TilesForTree(0, true).empty());
}

TEST(LocateNode, FindsTileAndOffset) {
  NodeInTile a = LocateNode(NodeId{0, 300});
  EXPECT_EQ(a.tile.level, 0u);
  EXPECT_EQ(a.tile.index, 1u);
  EXPECT_EQ(a.first, 44u);
  EXPECT_EQ(a.count, 1u);
  NodeInTile b = LocateNode(NodeId{3, 40});  // leaves [320, 328)
  EXPECT_EQ(b.tile.index, 1u);
  EXPECT_EQ(b.first, 64u);
  EXPECT_EQ(b.count, 8u);
  EXPECT_EQ(b.tile.width, 72u);
  NodeInTile c = LocateNode(NodeId{9, 3});  // level-8 nodes [6, 8) in tile 1/0
  EXPECT_EQ(c.tile.level, 1u);
  EXPECT_EQ(c.tile.index, 0u);
  EXPECT_EQ(c.first, 6u);
  EXPECT_EQ(c.count, 2u);
}

TEST(LocateNode, NodeHashesRecomputeFromTiles) {
  Hasher h;
  std::vector<Hash> level0;
  std::map<NodeId, Hash> all;
  CompactRange r;
  for (int i = 0; i < 600; ++i) {
    r.AppendLeaf(h.HashLeaf(std::to_string(i)), h, [&](NodeId id, const Hash& x) { all[id] = x; });
  }
  for (const auto& [id, hash] : all) {
    if (id.level >= 8) continue;
    NodeInTile loc = LocateNode(id);
    std::vector<Hash> row;
    for (uint64_t k = 0; k < loc.tile.width; ++k)
      row.push_back(all.at(NodeId{0, loc.tile.index * 256 + k}));
    ASSERT_EQ(HashWithinTile(row, id.level, loc.first >> id.level, h), hash) << id.DebugString();
  }
}

TEST(EntryBundle, RoundTripsAndRejectsBadInput) {
  EXPECT_EQ(kMaxBundleEntrySize, 65535u);  // what a uint16 length prefix describes
  std::vector<std::string> entries = {"", "a", std::string(kMaxBundleEntrySize, 'z'),
                                      std::string("\x00\x01", 2)};
  absl::StatusOr<std::string> enc = EncodeEntryBundle(entries);
  ASSERT_TRUE(enc.ok());
  EXPECT_EQ(enc->substr(0, 5), std::string("\x00\x00\x00\x01"
                                           "a",
                                           5));
  EXPECT_EQ(*DecodeEntryBundle(*enc), entries);
  EXPECT_FALSE(EncodeEntryBundle({std::string(kMaxBundleEntrySize + 1, 'x')}).ok());
  EXPECT_FALSE(EncodeEntryBundle(std::vector<std::string>(257, "x")).ok());
  EXPECT_FALSE(DecodeEntryBundle(std::string("\x00", 1)).ok());
  EXPECT_FALSE(DecodeEntryBundle(std::string("\x00\x05"
                                             "abc",
                                             5))
                   .ok());
  std::string many;
  for (int i = 0; i < 257; ++i) many += std::string("\x00\x00", 2);
  EXPECT_FALSE(DecodeEntryBundle(many).ok());
  EXPECT_TRUE(DecodeEntryBundle(many.substr(2)).ok());
}

TEST(HashTile, RejectsPartialHashes) {
  EXPECT_FALSE(DecodeHashTile(std::string(33, 'x')).ok());
  EXPECT_FALSE(DecodeHashTile(std::string(size_t{257} * 32, 'x')).ok());
  EXPECT_EQ(DecodeHashTile(std::string(64, 'x'))->size(), 2u);
}

}  // namespace
}  // namespace infratrail
