// The LogStorage contract (storage.h), checked against every implementation.
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/node_id.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/memory_storage.h"
#include "server/postgres_storage.h"
#include "server/rocksdb_storage.h"
#include "server/storage.h"
#include "server/testing/postgres_cluster.h"
#include "server/testing_util.h"

namespace infratrail {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using testutil::ScopedTempDir;

// How a suite gets a store and reopens it. MemoryStorage has no disk, so
// its "reopen" keeps the same object (the contract is then trivially kept);
// RocksDbStorage closes the database and opens the directory again.
class MemoryFactory {
 public:
  LogStorage* Open() {
    if (storage_ == nullptr) storage_ = std::make_unique<MemoryStorage>();
    return storage_.get();
  }
  LogStorage* Reopen() { return storage_.get(); }

 private:
  std::unique_ptr<MemoryStorage> storage_;
};

class RocksDbFactory {
 public:
  LogStorage* Open() {
    absl::StatusOr<std::unique_ptr<RocksDbStorage>> s =
        RocksDbStorage::Open(RocksDbOptions{.path = dir_.Sub("db"), .block_cache_bytes = 1 << 20});
    EXPECT_TRUE(s.ok()) << s.status();
    if (!s.ok()) return nullptr;
    storage_ = std::move(*s);
    return storage_.get();
  }
  LogStorage* Reopen() {
    storage_.reset();
    return Open();
  }

 private:
  ScopedTempDir dir_;
  std::unique_ptr<RocksDbStorage> storage_;
};

// One PostgreSQL server for the whole binary, a new database per test.
testutil::PostgresCluster* SharedCluster() {
  return testutil::PostgresCluster::Shared({.fsync = false});
}

// Reopen connects again: everything must come from the database.
class PostgresFactory {
 public:
  LogStorage* Open() {
    if (conninfo_.empty()) {
      testutil::PostgresCluster* cluster = SharedCluster();
      if (cluster == nullptr) return nullptr;
      absl::StatusOr<std::string> db = cluster->CreateDatabase();
      EXPECT_TRUE(db.ok()) << db.status();
      if (!db.ok()) return nullptr;
      conninfo_ = *db;
    }
    absl::StatusOr<std::unique_ptr<PostgresStorage>> s =
        PostgresStorage::Open(PostgresOptions{.conninfo = conninfo_});
    EXPECT_TRUE(s.ok()) << s.status();
    if (!s.ok()) return nullptr;
    storage_ = std::move(*s);
    return storage_.get();
  }
  LogStorage* Reopen() {
    storage_.reset();
    return Open();
  }

 private:
  std::string conninfo_;
  std::unique_ptr<PostgresStorage> storage_;
};

Hash H(absl::string_view s) { return HashLeaf(s); }

// A tree state of `size` whose hashes are arbitrary but distinct.
TreeState StateOfSize(uint64_t size) {
  TreeState st{size, {}};
  for (size_t i = 0; i < DecomposeRange(0, size).size(); ++i) {
    st.right_edge.push_back(Sha256(absl::StrCat("edge ", size, " ", i)));
  }
  return st;
}

std::string TileBytes(int hashes, absl::string_view tag) {
  std::string out;
  for (int i = 0; i < hashes; ++i) absl::StrAppend(&out, AsBytes(Sha256(absl::StrCat(tag, i))));
  return out;
}

// Owns the entry strings a CommitBatch points into.
struct BatchBuilder {
  std::vector<std::string> data;
  CommitBatch Build(uint64_t first_index, TreeState state) {
    CommitBatch b;
    b.first_index = first_index;
    for (const std::string& d : data) {
      b.entries.push_back(d);
      b.leaf_hashes.push_back(H(d));
    }
    b.state = std::move(state);
    return b;
  }
};

template <typename Factory>
class StorageConformanceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = factory_.Open();
    ASSERT_NE(store_, nullptr);
  }
  void Reopen() {
    store_ = factory_.Reopen();
    ASSERT_NE(store_, nullptr);
  }

  Factory factory_;
  LogStorage* store_ = nullptr;
};

using Factories = ::testing::Types<MemoryFactory, RocksDbFactory, PostgresFactory>;
class FactoryNames {
 public:
  template <typename T>
  static std::string GetName(int) {
    if (std::is_same_v<T, MemoryFactory>) return "Memory";
    return std::is_same_v<T, RocksDbFactory> ? "RocksDb" : "Postgres";
  }
};
TYPED_TEST_SUITE(StorageConformanceTest, Factories, FactoryNames);

TYPED_TEST(StorageConformanceTest, NewStoreIsEmpty) {
  LogStorage* s = this->store_;
  absl::StatusOr<TreeState> st = s->ReadTreeState();
  ASSERT_TRUE(st.ok()) << st.status();
  EXPECT_EQ(*st, TreeState{});

  std::vector<std::string> out;
  EXPECT_TRUE(absl::IsNotFound(s->ReadEntries(0, 1, &out)));
  EXPECT_TRUE(s->ReadEntries(0, 0, &out).ok());
  EXPECT_TRUE(out.empty());

  std::vector<std::optional<uint64_t>> found;
  ASSERT_TRUE(s->LookupLeaves({H("a")}, &found).ok());
  EXPECT_THAT(found, ElementsAre(std::nullopt));

  EXPECT_TRUE(absl::IsNotFound(s->ReadTile(TileId{0, 0}).status()));
  // Entry bundles are assembled from the entries, never stored as tiles.
  EXPECT_TRUE(absl::IsInvalidArgument(s->ReadTile(TileId{.entries = true}).status()));
  absl::StatusOr<std::optional<std::string>> meta = s->GetMeta(kMetaCheckpoint);
  ASSERT_TRUE(meta.ok()) << meta.status();
  EXPECT_FALSE(meta->has_value());
}

TYPED_TEST(StorageConformanceTest, CommittedEntriesReadBackExactly) {
  LogStorage* s = this->store_;
  BatchBuilder b{{"first", std::string("bin\0ary\xff", 8), "", std::string(65535, 'x')}};
  ASSERT_TRUE(s->Commit(b.Build(0, StateOfSize(4))).ok());

  std::vector<std::string> out = {"already here"};
  ASSERT_TRUE(s->ReadEntries(0, 4, &out).ok());
  ASSERT_EQ(out.size(), 5u);  // appended, not replaced
  EXPECT_EQ(out[0], "already here");
  for (size_t i = 0; i < 4; ++i) EXPECT_EQ(out[i + 1], b.data[i]) << i;

  out.clear();
  ASSERT_TRUE(s->ReadEntries(1, 3, &out).ok());
  EXPECT_THAT(out, ElementsAre(b.data[1], b.data[2]));
}

TYPED_TEST(StorageConformanceTest, ReadEntriesSpansBatches) {
  LogStorage* s = this->store_;
  BatchBuilder b1{{"e0", "e1", "e2"}};
  BatchBuilder b2{{"e3", "e4"}};
  ASSERT_TRUE(s->Commit(b1.Build(0, StateOfSize(3))).ok());
  ASSERT_TRUE(s->Commit(b2.Build(3, StateOfSize(5))).ok());
  std::vector<std::string> out;
  ASSERT_TRUE(s->ReadEntries(1, 5, &out).ok());
  EXPECT_THAT(out, ElementsAre("e1", "e2", "e3", "e4"));
}

TYPED_TEST(StorageConformanceTest, ReadEntriesBeyondCommittedIsNotFound) {
  LogStorage* s = this->store_;
  BatchBuilder b{{"e0", "e1", "e2"}};
  ASSERT_TRUE(s->Commit(b.Build(0, StateOfSize(3))).ok());
  std::vector<std::string> out;
  absl::Status st = s->ReadEntries(2, 4, &out);
  EXPECT_TRUE(absl::IsNotFound(st)) << st;
  EXPECT_THAT(st.message(), HasSubstr("3"));
  out.clear();
  st = s->ReadEntries(3, 4, &out);
  EXPECT_TRUE(absl::IsNotFound(st)) << st;
  EXPECT_TRUE(absl::IsNotFound(s->ReadEntries(10, 20, &out)));
}

TYPED_TEST(StorageConformanceTest, LookupLeavesReportsHitsAndMisses) {
  LogStorage* s = this->store_;
  BatchBuilder b1{{"a", "b"}};
  BatchBuilder b2{{"c"}};
  ASSERT_TRUE(s->Commit(b1.Build(0, StateOfSize(2))).ok());
  ASSERT_TRUE(s->Commit(b2.Build(2, StateOfSize(3))).ok());

  std::vector<std::optional<uint64_t>> found = {7, 7, 7, 7, 7, 7, 7};  // resized
  ASSERT_TRUE(s->LookupLeaves({H("c"), H("x"), H("a"), H("b"), H("a")}, &found).ok());
  EXPECT_THAT(found, ElementsAre(2u, std::nullopt, 0u, 1u, 0u));

  ASSERT_TRUE(s->LookupLeaves({}, &found).ok());
  EXPECT_TRUE(found.empty());
}

TYPED_TEST(StorageConformanceTest, TileIsOverwrittenFromPartialToFull) {
  LogStorage* s = this->store_;
  BatchBuilder b1{{"a"}};
  CommitBatch c1 = b1.Build(0, StateOfSize(1));
  // Partial tiles as the sequencer writes them: with their widths.
  c1.tiles = {{TileId{0, 0, 1}, TileBytes(1, "t")}, {TileId{1, 3, 2}, TileBytes(2, "u")}};
  ASSERT_TRUE(s->Commit(c1).ok());
  absl::StatusOr<std::string> tile = s->ReadTile(TileId{0, 0});
  ASSERT_TRUE(tile.ok()) << tile.status();
  EXPECT_EQ(*tile, TileBytes(1, "t"));
  // The width is not part of a stored tile's address: any width reads all.
  tile = s->ReadTile(TileId{0, 0, 200});
  ASSERT_TRUE(tile.ok()) << tile.status();
  EXPECT_EQ(*tile, TileBytes(1, "t"));

  BatchBuilder b2{{"b"}};
  CommitBatch c2 = b2.Build(1, StateOfSize(2));
  c2.tiles = {{TileId{0, 0}, TileBytes(256, "t")}};
  ASSERT_TRUE(s->Commit(c2).ok());
  tile = s->ReadTile(TileId{0, 0});
  ASSERT_TRUE(tile.ok()) << tile.status();
  EXPECT_EQ(*tile, TileBytes(256, "t"));
  // Untouched tiles keep their bytes; keys differing only in level or index
  // are distinct.
  tile = s->ReadTile(TileId{1, 3});
  ASSERT_TRUE(tile.ok()) << tile.status();
  EXPECT_EQ(*tile, TileBytes(2, "u"));
  EXPECT_TRUE(absl::IsNotFound(s->ReadTile(TileId{1, 0}).status()));
  EXPECT_TRUE(absl::IsNotFound(s->ReadTile(TileId{0, 3}).status()));
}

TYPED_TEST(StorageConformanceTest, MetaPutGetOverwriteAndMissing) {
  LogStorage* s = this->store_;
  ASSERT_TRUE(s->PutMeta(kMetaLogIdentity, "id-1").ok());
  ASSERT_TRUE(s->PutMeta(kMetaCheckpoint, std::string("note\0bytes", 10)).ok());
  absl::StatusOr<std::optional<std::string>> v = s->GetMeta(kMetaLogIdentity);
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(v->value_or("<none>"), "id-1");
  ASSERT_TRUE(s->PutMeta(kMetaLogIdentity, "id-2").ok());
  v = s->GetMeta(kMetaLogIdentity);
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(v->value_or("<none>"), "id-2");
  v = s->GetMeta(kMetaCheckpoint);
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(v->value_or("<none>"), std::string("note\0bytes", 10));
  v = s->GetMeta("no such key");
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_FALSE(v->has_value());
}

TYPED_TEST(StorageConformanceTest, TreeStateIsThatOfTheLastCommit) {
  LogStorage* s = this->store_;
  BatchBuilder b1{{"a", "b", "c", "d", "e", "f", "g"}};
  ASSERT_TRUE(s->Commit(b1.Build(0, StateOfSize(7))).ok());
  absl::StatusOr<TreeState> st = s->ReadTreeState();
  ASSERT_TRUE(st.ok()) << st.status();
  EXPECT_EQ(*st, StateOfSize(7));
  EXPECT_EQ(st->right_edge.size(), 3u);

  BatchBuilder b2{{"h"}};
  ASSERT_TRUE(s->Commit(b2.Build(7, StateOfSize(8))).ok());
  st = s->ReadTreeState();
  ASSERT_TRUE(st.ok()) << st.status();
  EXPECT_EQ(*st, StateOfSize(8));
}

TYPED_TEST(StorageConformanceTest, MetaDoesNotDisturbTreeState) {
  LogStorage* s = this->store_;
  BatchBuilder b{{"a", "b", "c"}};
  ASSERT_TRUE(s->Commit(b.Build(0, StateOfSize(3))).ok());
  ASSERT_TRUE(s->PutMeta(kMetaCheckpoint, "cp").ok());
  ASSERT_TRUE(s->PutMeta(kMetaLogIdentity, "id").ok());
  // The tree state is written by Commit only.
  EXPECT_TRUE(absl::IsInvalidArgument(s->PutMeta(kMetaTreeState, "x")));
  absl::StatusOr<TreeState> st = s->ReadTreeState();
  ASSERT_TRUE(st.ok()) << st.status();
  EXPECT_EQ(*st, StateOfSize(3));
}

TYPED_TEST(StorageConformanceTest, ReopenKeepsEverything) {
  BatchBuilder b1{{"a", "b", "c"}};
  CommitBatch c1 = b1.Build(0, StateOfSize(3));
  c1.tiles = {{TileId{0, 0}, TileBytes(3, "t")}};
  ASSERT_TRUE(this->store_->Commit(c1).ok());
  BatchBuilder b2{{"d"}};
  CommitBatch c2 = b2.Build(3, StateOfSize(4));
  c2.tiles = {{TileId{0, 0}, TileBytes(4, "t")}};
  ASSERT_TRUE(this->store_->Commit(c2).ok());
  ASSERT_TRUE(this->store_->PutMeta(kMetaLogIdentity, "who").ok());

  this->Reopen();
  LogStorage* s = this->store_;
  absl::StatusOr<TreeState> st = s->ReadTreeState();
  ASSERT_TRUE(st.ok()) << st.status();
  EXPECT_EQ(*st, StateOfSize(4));
  std::vector<std::string> out;
  ASSERT_TRUE(s->ReadEntries(0, 4, &out).ok());
  EXPECT_THAT(out, ElementsAre("a", "b", "c", "d"));
  std::vector<std::optional<uint64_t>> found;
  ASSERT_TRUE(s->LookupLeaves({H("d"), H("a"), H("z")}, &found).ok());
  EXPECT_THAT(found, ElementsAre(3u, 0u, std::nullopt));
  absl::StatusOr<std::string> tile = s->ReadTile(TileId{0, 0});
  ASSERT_TRUE(tile.ok()) << tile.status();
  EXPECT_EQ(*tile, TileBytes(4, "t"));
  absl::StatusOr<std::optional<std::string>> v = s->GetMeta(kMetaLogIdentity);
  ASSERT_TRUE(v.ok()) << v.status();
  EXPECT_EQ(v->value_or("<none>"), "who");
}

TEST(TreeStateEncoding, RoundTripsEverySmallSize) {
  for (uint64_t size : {0u, 1u, 2u, 3u, 255u, 256u, 257u, 1000u, 65537u}) {
    const TreeState st = StateOfSize(size);
    absl::StatusOr<TreeState> back = DecodeTreeState(EncodeTreeState(st));
    ASSERT_TRUE(back.ok()) << back.status();
    EXPECT_EQ(*back, st) << size;
  }
  TreeState big = StateOfSize(0);
  big.size = (uint64_t{1} << 40) + 5;
  for (size_t i = 0; i < 3; ++i) big.right_edge.push_back(Sha256(absl::StrCat(i)));
  absl::StatusOr<TreeState> back = DecodeTreeState(EncodeTreeState(big));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, big);
}

TEST(TreeStateEncoding, RejectsWrongHashCountAndTruncation) {
  std::string enc = EncodeTreeState(StateOfSize(7));
  EXPECT_TRUE(absl::IsDataLoss(DecodeTreeState(enc.substr(0, enc.size() - 1)).status()));
  EXPECT_TRUE(absl::IsDataLoss(DecodeTreeState(enc.substr(0, enc.size() - kHashSize)).status()));
  EXPECT_TRUE(absl::IsDataLoss(DecodeTreeState("short").status()));
}

}  // namespace
}  // namespace infratrail
