// TreeReader against the naive RFC 9162 reference, over trees written by a
// real Sequencer (so the tiles are exactly what production stores).
#include "server/tree_reader.h"

#include <atomic>
#include <memory>
#include <random>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "core/proof.h"
#include "gtest/gtest.h"
#include "prometheus/registry.h"
#include "server/memory_storage.h"
#include "server/metrics.h"
#include "server/sequencer.h"
#include "server/testing_util.h"
#include "server/tile_cache.h"

namespace infratrail {
namespace {

using testutil::AppendEntries;
using testutil::MerkleReference;

// A log of MemoryStorage and Sequencer, grown by AppendEntries.
class TreeFixture {
 public:
  TreeFixture() : metrics_(registry_) {
    absl::StatusOr<std::unique_ptr<Sequencer>> s =
        Sequencer::Start(&storage_, SequencerOptions{}, &metrics_, nullptr);
    EXPECT_TRUE(s.ok()) << s.status();
    seq_ = std::move(*s);
  }
  ~TreeFixture() { seq_->Stop(); }

  // Grows the tree to `size` in Adds of `chunk` entries (each its own commit).
  void GrowTo(uint64_t size, uint64_t chunk) {
    AppendEntries(*seq_, ref_.size(), size - ref_.size(), chunk, &ref_);
  }

  MemoryStorage storage_;
  MerkleReference ref_;

 private:
  prometheus::Registry registry_;
  Metrics metrics_;
  std::unique_ptr<Sequencer> seq_;
};

// A tile cache for `tiles` expanded full tiles (each ~16.5 KiB with the
// cache's metadata).
constexpr size_t kExpandedTile = 17 << 10;
TileCache CacheOf(size_t tiles) { return TileCache(tiles * kExpandedTile, nullptr); }

// Checks roots and proofs of every size in `sizes` (all <= the committed
// size) against the reference, and that they verify.
void CheckTree(TreeReader& reader, MerkleReference& ref, const std::vector<uint64_t>& sizes) {
  Hasher hasher;
  std::mt19937_64 rng(sizes.size());
  for (uint64_t n : sizes) {
    SCOPED_TRACE(::testing::Message() << "size " << n);
    absl::StatusOr<Hash> root = reader.RootAt(n);
    ASSERT_TRUE(root.ok()) << root.status();
    ASSERT_EQ(HashToHex(*root), HashToHex(ref.Root(n)));
    if (n == 0) continue;

    // Inclusion: both edges, tile boundaries and a few random leaves.
    std::vector<uint64_t> indices = {0, n - 1, n / 2};
    for (uint64_t b : {255u, 256u, 257u, 511u, 512u, 65535u, 65536u}) {
      if (b < n) indices.push_back(b);
    }
    for (int k = 0; k < 4; ++k) indices.push_back(rng() % n);
    for (uint64_t i : indices) {
      absl::StatusOr<std::vector<Hash>> proof = reader.InclusionProof(i, n);
      ASSERT_TRUE(proof.ok()) << proof.status() << " index " << i;
      EXPECT_EQ(*proof, ref.Inclusion(i, n)) << "index " << i;
      EXPECT_TRUE(VerifyInclusion(i, n, ref.leaf(i), *proof, *root, hasher).ok()) << "index " << i;
    }

    // Consistency from smaller sizes, tile boundaries included.
    std::vector<uint64_t> olds = {1, n, n - 1, n / 2};
    for (uint64_t b : {255u, 256u, 257u, 511u, 512u, 65536u}) {
      if (b <= n) olds.push_back(b);
    }
    for (int k = 0; k < 4; ++k) olds.push_back(1 + rng() % n);
    for (uint64_t m : olds) {
      if (m == 0) continue;  // no proof from the empty tree
      absl::StatusOr<std::vector<Hash>> proof = reader.ConsistencyProof(m, n);
      ASSERT_TRUE(proof.ok()) << proof.status() << " from " << m;
      EXPECT_EQ(*proof, ref.Consistency(m, n)) << "from " << m;
      EXPECT_TRUE(VerifyConsistency(m, n, ref.Root(m), *root, *proof, hasher).ok()) << "from " << m;
    }
  }
}

TEST(TreeReader, EmptyTreeHasEmptyRoot) {
  TreeFixture t;
  TileCache cache = CacheOf(16);
  TreeReader reader(&t.storage_, &cache);
  absl::StatusOr<Hash> root = reader.RootAt(0);
  ASSERT_TRUE(root.ok()) << root.status();
  EXPECT_EQ(HashToHex(*root), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST(TreeReader, SmallTreesMatchReferenceAtEverySize) {
  TreeFixture t;
  t.GrowTo(1, 1);
  t.GrowTo(2, 1);
  t.GrowTo(300, 7);  // commits of 7 leave many partial tiles behind
  TileCache cache = CacheOf(16);
  TreeReader reader(&t.storage_, &cache);
  std::vector<uint64_t> sizes;
  for (uint64_t n = 0; n <= 300; ++n) sizes.push_back(n);
  CheckTree(reader, t.ref_, sizes);
}

TEST(TreeReader, TileBoundarySizesMatchReference) {
  TreeFixture t;
  TileCache cache = CacheOf(16);
  TreeReader reader(&t.storage_, &cache);
  // Check after each growth step, so proofs are served from partial tiles
  // that later become full (and from cached full tiles afterwards).
  for (uint64_t size : {255u, 256u, 257u, 511u, 512u, 1000u}) {
    t.GrowTo(size, 100);
    std::vector<uint64_t> sizes = {size, size - 1, 1, 2};
    for (uint64_t s : {255u, 256u}) {
      if (s <= size) sizes.push_back(s);
    }
    CheckTree(reader, t.ref_, sizes);
  }
  CheckTree(reader, t.ref_, {257, 300, 511, 512, 513, 767, 768, 999});
}

TEST(TreeReader, LargeTreeWithSecondLevelTilesMatchesReference) {
  TreeFixture t;
  t.GrowTo(65537, 16384);
  TileCache cache = CacheOf(1024);
  TreeReader reader(&t.storage_, &cache);
  CheckTree(reader, t.ref_, {65537, 65536, 65535, 40000, 257, 256, 1});
}

TEST(TreeReader, RepeatedReadsHitTheCacheAndAgree) {
  TreeFixture t;
  t.GrowTo(1000, 250);
  TileCache cache = CacheOf(16);
  TreeReader reader(&t.storage_, &cache);
  auto stats = [&cache] { return cache.stats(TileCache::User::kProofs); };
  absl::StatusOr<std::vector<Hash>> first = reader.InclusionProof(3, 1000);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_GT(stats().misses, 0u);
  for (int i = 0; i < 3; ++i) {
    absl::StatusOr<std::vector<Hash>> again = reader.InclusionProof(3, 1000);
    ASSERT_TRUE(again.ok()) << again.status();
    EXPECT_EQ(*again, *first);
  }
  EXPECT_GT(stats().hits, 0u);
  // A proof within the first (full, cached) tile is one lookup, a hit,
  // however many of its nodes it reads.
  const TileCache::Stats before = stats();
  absl::StatusOr<std::vector<Hash>> p = reader.InclusionProof(10, 256);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->size(), 8u);
  EXPECT_EQ(stats().hits - before.hits, 1u);
  EXPECT_EQ(stats().misses, before.misses);
  CheckTree(reader, t.ref_, {1000, 999, 512, 300});
  CheckTree(reader, t.ref_, {1000, 999, 512, 300});  // all over again, cached
}

TEST(TreeReader, TinyOrNoCacheGivesSameAnswers) {
  TreeFixture t;
  t.GrowTo(1000, 333);
  for (size_t capacity : {0u, 1u, 2u}) {
    SCOPED_TRACE(::testing::Message() << "cache " << capacity);
    TileCache cache = CacheOf(capacity);
    TreeReader reader(&t.storage_, &cache);
    CheckTree(reader, t.ref_, {1000, 768, 513, 256, 17});
    if (capacity == 0) {
      EXPECT_EQ(cache.stats(TileCache::User::kProofs).hits, 0u);
      EXPECT_EQ(cache.bytes(), 0u);
    }
  }
}

// A partial tile is cached under its (level, index) and replaced by a wider
// expansion when a node beyond it is needed, then by the full tile.
TEST(TreeReader, AGrowingEdgeTileIsReplacedNotDuplicated) {
  TreeFixture t;
  TileCache cache = CacheOf(16);
  TreeReader reader(&t.storage_, &cache);
  t.GrowTo(10, 10);
  CheckTree(reader, t.ref_, {10});
  const size_t narrow = cache.bytes();
  t.GrowTo(200, 190);
  CheckTree(reader, t.ref_, {200, 10});
  t.GrowTo(256, 56);
  CheckTree(reader, t.ref_, {256, 200, 10});
  // One tile (0/0, now full and expanded whole) and the level-1 edge tile:
  // the narrower expansions of 0/0 are gone.
  EXPECT_GT(cache.bytes(), narrow);
  EXPECT_LT(cache.bytes(), kExpandedTile + 1024);
}

TEST(TreeReader, ReadsStayCorrectAsTheTreeGrows) {
  TreeFixture t;
  TileCache cache = CacheOf(4);
  TreeReader reader(&t.storage_, &cache);
  uint64_t size = 0;
  for (uint64_t step : {3u, 250u, 5u, 256u, 1u, 600u}) {
    size += step;
    t.GrowTo(size, step);
    CheckTree(reader, t.ref_, {size, size / 3 + 1});
  }
}

TEST(TreeReader, ConcurrentReadersDuringAppendsGetVerifiableAnswers) {
  TreeFixture t;
  TileCache cache = CacheOf(2);
  TreeReader reader(&t.storage_, &cache);  // tiny: evictions race with lookups
  std::atomic<uint64_t> committed{0};
  absl::Notification writer_done;
  absl::Mutex mu;
  std::vector<std::pair<uint64_t, Hash>> roots_seen;  // checked afterwards
  auto read = [&](int seed) {
    Hasher hasher;
    std::mt19937_64 rng(seed);
    int rounds = 0;
    while (!writer_done.HasBeenNotified() || rounds == 0) {
      ++rounds;
      const uint64_t n = committed.load();
      if (n == 0) continue;
      absl::StatusOr<Hash> root = reader.RootAt(n);
      ASSERT_TRUE(root.ok()) << root.status();
      const uint64_t i = rng() % n;
      absl::StatusOr<std::vector<Hash>> proof = reader.InclusionProof(i, n);
      ASSERT_TRUE(proof.ok()) << proof.status();
      ASSERT_TRUE(
          VerifyInclusion(i, n, HashLeaf(testutil::EntryData(i)), *proof, *root, hasher).ok())
          << i << " in " << n;
      const uint64_t m = 1 + rng() % n;
      absl::StatusOr<Hash> old_root = reader.RootAt(m);
      ASSERT_TRUE(old_root.ok()) << old_root.status();
      absl::StatusOr<std::vector<Hash>> cons = reader.ConsistencyProof(m, n);
      ASSERT_TRUE(cons.ok()) << cons.status();
      ASSERT_TRUE(VerifyConsistency(m, n, *old_root, *root, *cons, hasher).ok()) << m << " " << n;
      absl::MutexLock l(&mu);
      roots_seen.emplace_back(n, *root);
      roots_seen.emplace_back(m, *old_root);
    }
  };
  std::vector<std::thread> readers;
  readers.reserve(2);
  for (int r = 0; r < 2; ++r) readers.emplace_back(read, r);
  for (uint64_t size = 37; size <= 3000; size += 37) {
    t.GrowTo(size, 37);
    committed.store(size);
  }
  writer_done.Notify();
  for (std::thread& th : readers) th.join();
  absl::MutexLock l(&mu);
  EXPECT_FALSE(roots_seen.empty());
  for (const auto& [n, root] : roots_seen) ASSERT_EQ(root, t.ref_.Root(n)) << n;
}

TEST(TreeReader, ProofArgumentErrors) {
  TreeFixture t;
  t.GrowTo(10, 10);
  TileCache cache = CacheOf(4);
  TreeReader reader(&t.storage_, &cache);
  EXPECT_TRUE(absl::IsOutOfRange(reader.InclusionProof(10, 10).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(reader.ConsistencyProof(0, 10).status()));
  EXPECT_TRUE(absl::IsOutOfRange(reader.ConsistencyProof(11, 10).status()));
  absl::StatusOr<std::vector<Hash>> same = reader.ConsistencyProof(10, 10);
  ASSERT_TRUE(same.ok()) << same.status();
  EXPECT_TRUE(same->empty());
}

TEST(TreeReader, BeyondCommittedSizeIsDataLoss) {
  TreeFixture t;
  t.GrowTo(10, 10);
  TileCache cache = CacheOf(4);
  TreeReader reader(&t.storage_, &cache);
  EXPECT_TRUE(absl::IsDataLoss(reader.RootAt(11).status()));
  EXPECT_TRUE(absl::IsDataLoss(reader.RootAt(300).status()));
  EXPECT_TRUE(absl::IsDataLoss(reader.InclusionProof(3, 20).status()));
}

}  // namespace
}  // namespace infratrail
