// The on-disk layout of RocksDbStorage, byte for byte, as docs/storage.md
// specifies it: an existing data directory must open with any later build.
// The tree is written by a real Sequencer and read back with RocksDB's own
// API, so the test names no storage type and holds across refactorings of
// the server's key types.
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "prometheus/registry.h"
#include "rocksdb/db.h"
#include "server/metrics.h"
#include "server/rocksdb_storage.h"
#include "server/sequencer.h"
#include "server/storage.h"
#include "server/testing_util.h"

namespace infratrail {
namespace {

using testutil::AppendEntries;
using testutil::EntryData;
using testutil::ScopedTempDir;

// Every (key, value) of one column family, in RocksDB's order.
std::vector<std::pair<std::string, std::string>> Rows(rocksdb::DB& db,
                                                      rocksdb::ColumnFamilyHandle* cf) {
  std::vector<std::pair<std::string, std::string>> out;
  std::unique_ptr<rocksdb::Iterator> it(db.NewIterator(rocksdb::ReadOptions(), cf));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    out.emplace_back(it->key().ToString(), it->value().ToString());
  }
  EXPECT_TRUE(it->status().ok()) << it->status().ToString();
  return out;
}

std::string BigEndian64(uint64_t v) {
  std::string s;
  PutBigEndian64(v, &s);
  return s;
}

TEST(RocksDbLayout, KeysAreTheDocumentedBigEndianLayout) {
  ScopedTempDir dir;
  const std::string path = dir.Sub("db");
  testutil::MerkleReference ref;
  {
    absl::StatusOr<std::unique_ptr<RocksDbStorage>> db =
        RocksDbStorage::Open(RocksDbOptions{.path = path, .block_cache_bytes = 1 << 20});
    ASSERT_TRUE(db.ok()) << db.status();
    prometheus::Registry registry;
    Metrics metrics(registry);
    absl::StatusOr<std::unique_ptr<Sequencer>> seq =
        Sequencer::Start(db->get(), SequencerOptions{}, &metrics, nullptr);
    ASSERT_TRUE(seq.ok()) << seq.status();
    // 300 leaves: tile 0/0 full, 0/1 partial (44 hashes), 1/0 partial (1).
    AppendEntries(**seq, 0, 300, 100, &ref);
    (*seq)->Stop();
  }

  std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
  for (const char* name : {"default", "entries", "leaf_index", "tiles"}) {
    cfs.emplace_back(name, rocksdb::ColumnFamilyOptions());
  }
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  rocksdb::Status st =
      rocksdb::DB::OpenForReadOnly(rocksdb::DBOptions(), path, cfs, &handles, &raw);
  ASSERT_TRUE(st.ok()) << st.ToString();
  std::unique_ptr<rocksdb::DB> db(raw);

  // entries: 8-byte big-endian index -> the entry bytes.
  auto entries = Rows(*db, handles[1]);
  ASSERT_EQ(entries.size(), 300u);
  for (uint64_t i : {0u, 1u, 255u, 256u, 299u}) {
    EXPECT_EQ(entries[i].first, BigEndian64(i));
    EXPECT_EQ(entries[i].second, EntryData(i));
  }

  // leaf_index: 32-byte leaf hash -> 8-byte big-endian index.
  auto leaves = Rows(*db, handles[2]);
  ASSERT_EQ(leaves.size(), 300u);
  for (const auto& [key, value] : leaves) {
    ASSERT_EQ(key.size(), kHashSize);
    ASSERT_EQ(value.size(), 8u);
    const uint64_t i = GetBigEndian64(value);
    EXPECT_EQ(key, std::string(AsBytes(ref.leaf(i))));
  }

  // tiles: 1-byte level, 8-byte big-endian index -> the level's hashes.
  auto tiles = Rows(*db, handles[3]);
  ASSERT_EQ(tiles.size(), 3u);
  EXPECT_EQ(tiles[0].first, std::string(1, '\0') + BigEndian64(0));
  EXPECT_EQ(tiles[1].first, std::string(1, '\0') + BigEndian64(1));
  EXPECT_EQ(tiles[2].first, std::string(1, '\1') + BigEndian64(0));
  EXPECT_EQ(tiles[0].second.size(), 256 * kHashSize);
  EXPECT_EQ(tiles[1].second.size(), 44 * kHashSize);
  EXPECT_EQ(tiles[1].second.substr(0, kHashSize), std::string(AsBytes(ref.leaf(256))));
  EXPECT_EQ(tiles[2].second, std::string(AsBytes(ref.Root(256))));

  // meta: the tree state under its ASCII name.
  std::string state;
  ASSERT_TRUE(db->Get(rocksdb::ReadOptions(), handles[0], "tree_state", &state).ok());
  EXPECT_EQ(state.substr(0, 8), BigEndian64(300));

  for (rocksdb::ColumnFamilyHandle* h : handles) ASSERT_TRUE(db->DestroyColumnFamilyHandle(h).ok());
}

}  // namespace
}  // namespace infratrail
