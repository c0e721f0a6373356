// TileCache: the byte budget, LRU order, the high-priority half for proofs
// and for reused entries, type checks, metrics, and concurrent use.
#include "server/tile_cache.h"

#include <atomic>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"
#include "prometheus/registry.h"
#include "server/metrics.h"

namespace infratrail {
namespace {

using User = TileCache::User;

// A value whose size is its charge, and that says whose it is.
struct Blob {
  std::string bytes;
};

std::shared_ptr<const Blob> MakeBlob(size_t size, char fill = 'x') {
  return std::make_shared<const Blob>(Blob{std::string(size, fill)});
}

TileId Tile(uint64_t index) { return TileId{0, index}; }

void Put(TileCache& cache, User user, uint64_t index, size_t size) {
  cache.Insert<Blob>(user, Tile(index), MakeBlob(size), size);
}

bool Has(TileCache& cache, User user, uint64_t index) {
  return cache.Lookup<Blob>(user, Tile(index)) != nullptr;
}

// Budgets under 64 MiB are one shard, so LRU order is exact.
constexpr size_t kBudget = 100 << 10;

TEST(TileCache, BudgetHoldsUnderMixedSizes) {
  TileCache cache(kBudget, nullptr);
  const size_t sizes[] = {1, 100, 8 << 10, 16 << 10, 3000, 40 << 10, 17, 60 << 10, 512};
  for (uint64_t i = 0; i < 500; ++i) {
    Put(cache, i % 3 == 0 ? User::kProofs : User::kHttp, i, sizes[i % std::size(sizes)]);
    ASSERT_LE(cache.bytes(), kBudget) << "after insert " << i;
  }
  // Full, not merely under budget: eviction frees only what it must.
  EXPECT_GT(cache.bytes(), kBudget - (60 << 10) - 1024);
}

TEST(TileCache, EvictsLeastRecentlyUsedFirst) {
  TileCache cache(kBudget, nullptr);
  // Four 20 KiB bodies fill most of the budget; touching 0 makes 1 the
  // least recently used, so a fifth and sixth evict 1 and then 2.
  for (uint64_t i = 0; i < 4; ++i) Put(cache, User::kHttp, i, 20 << 10);
  ASSERT_TRUE(Has(cache, User::kHttp, 0));
  Put(cache, User::kHttp, 4, 20 << 10);
  Put(cache, User::kHttp, 5, 20 << 10);
  EXPECT_TRUE(Has(cache, User::kHttp, 0));
  EXPECT_FALSE(Has(cache, User::kHttp, 1));
  EXPECT_TRUE(Has(cache, User::kHttp, 3));
  EXPECT_TRUE(Has(cache, User::kHttp, 4));
  EXPECT_TRUE(Has(cache, User::kHttp, 5));
}

TEST(TileCache, OneScanOfBodiesDoesNotFlushProofTiles) {
  TileCache cache(kBudget, nullptr);
  // Proof tiles: a third of the budget, inside the protected half.
  for (uint64_t i = 0; i < 2; ++i) Put(cache, User::kProofs, i, 16 << 10);
  // A monitor's sweep: many bodies, each fetched once, ten budgets' worth.
  for (uint64_t i = 0; i < 100; ++i) Put(cache, User::kHttp, i, 10 << 10);
  EXPECT_TRUE(Has(cache, User::kProofs, 0));
  EXPECT_TRUE(Has(cache, User::kProofs, 1));
  EXPECT_LE(cache.bytes(), kBudget);
}

TEST(TileCache, ReusedBodiesSurviveAScanToo) {
  TileCache cache(kBudget, nullptr);
  Put(cache, User::kHttp, 1000, 10 << 10);
  ASSERT_TRUE(Has(cache, User::kHttp, 1000));  // looked up again: now protected
  for (uint64_t i = 0; i < 100; ++i) Put(cache, User::kHttp, i, 10 << 10);
  EXPECT_TRUE(Has(cache, User::kHttp, 1000));
}

TEST(TileCache, AValueOverTheBudgetIsNotCachedAndEvictsNothing) {
  TileCache cache(kBudget, nullptr);
  EXPECT_LE(cache.max_value_bytes(), kBudget);
  EXPECT_GT(cache.max_value_bytes(), kBudget - 1024);
  Put(cache, User::kHttp, 1, 30 << 10);
  Put(cache, User::kProofs, 2, 30 << 10);
  const size_t before = cache.bytes();
  Put(cache, User::kHttp, 3, kBudget + 1);
  Put(cache, User::kHttp, 4, cache.max_value_bytes() + 1);
  EXPECT_FALSE(Has(cache, User::kHttp, 3));
  EXPECT_FALSE(Has(cache, User::kHttp, 4));
  EXPECT_TRUE(Has(cache, User::kHttp, 1));
  EXPECT_TRUE(Has(cache, User::kProofs, 2));
  EXPECT_EQ(cache.bytes(), before);
  // The largest value admitted fits: it evicts the others, not itself.
  Put(cache, User::kHttp, 5, cache.max_value_bytes());
  EXPECT_TRUE(Has(cache, User::kHttp, 5));
  EXPECT_LE(cache.bytes(), kBudget);
}

TEST(TileCache, LargeBudgetsStillCacheTheLargestBundle) {
  // 256 entries of 64 KiB, each with its 2-byte length: the largest body.
  constexpr size_t kLargestBundle = size_t{kTileWidth} * (2 + kMaxBundleEntrySize);
  for (size_t mib : {32, 64, 100, 512, 1024, 4096}) {
    TileCache cache(mib << 20, nullptr);
    EXPECT_GE(cache.max_value_bytes(), kLargestBundle) << mib << " MiB";
  }
  // Too small a budget cannot hold it at all; that is the operator's call.
  EXPECT_LT(TileCache(8 << 20, nullptr).max_value_bytes(), kLargestBundle);
}

TEST(TileCache, ZeroBudgetCachesNothing) {
  TileCache cache(0, nullptr);
  Put(cache, User::kProofs, 1, 1);
  EXPECT_FALSE(Has(cache, User::kProofs, 1));
  EXPECT_EQ(cache.bytes(), 0u);
}

TEST(TileCache, UsersAndTileFieldsAreDistinctKeys) {
  TileCache cache(kBudget, nullptr);
  const TileId ids[] = {
      TileId{0, 1},
      TileId{1, 1},
      TileId{0, 2},
      TileId{0, 1, 7},
      TileId{0, 1, 256, true},
      TileId{0, uint64_t{1} << 40},
  };
  for (size_t i = 0; i < std::size(ids); ++i) {
    cache.Insert<Blob>(User::kHttp, ids[i], MakeBlob(10, static_cast<char>('a' + i)), 10);
  }
  for (size_t i = 0; i < std::size(ids); ++i) {
    std::shared_ptr<const Blob> got = cache.Lookup<Blob>(User::kHttp, ids[i]);
    ASSERT_NE(got, nullptr) << ids[i].Path();
    EXPECT_EQ(got->bytes, std::string(10, static_cast<char>('a' + i))) << ids[i].Path();
    EXPECT_EQ(cache.Lookup<Blob>(User::kProofs, ids[i]), nullptr) << ids[i].Path();
  }
}

TEST(TileCache, InsertReplacesAndLookupsOutliveEviction) {
  TileCache cache(kBudget, nullptr);
  cache.Insert<Blob>(User::kProofs, Tile(1), MakeBlob(10, 'a'), 10);
  std::shared_ptr<const Blob> old = cache.Lookup<Blob>(User::kProofs, Tile(1));
  cache.Insert<Blob>(User::kProofs, Tile(1), MakeBlob(20, 'b'), 20);
  EXPECT_EQ(cache.Lookup<Blob>(User::kProofs, Tile(1))->bytes, std::string(20, 'b'));
  for (uint64_t i = 2; i < 20; ++i) Put(cache, User::kHttp, i, 20 << 10);
  ASSERT_NE(old, nullptr);
  EXPECT_EQ(old->bytes, std::string(10, 'a'));  // still valid, whatever was evicted
}

TEST(TileCache, LookingUpAsAnotherTypeIsABug) {
  TileCache cache(kBudget, nullptr);
  Put(cache, User::kHttp, 1, 10);
  EXPECT_DEATH((void)cache.Lookup<std::string>(User::kHttp, Tile(1)), "another type");
}

TEST(TileCache, CountsHitsAndMissesPerUser) {
  prometheus::Registry registry;
  Metrics metrics(registry);
  TileCache cache(kBudget, &metrics);
  Put(cache, User::kHttp, 1, 100);
  EXPECT_TRUE(Has(cache, User::kHttp, 1));
  EXPECT_TRUE(Has(cache, User::kHttp, 1));
  EXPECT_FALSE(Has(cache, User::kHttp, 2));
  EXPECT_FALSE(Has(cache, User::kProofs, 1));
  EXPECT_EQ(cache.stats(User::kHttp).hits, 2u);
  EXPECT_EQ(cache.stats(User::kHttp).misses, 1u);
  EXPECT_EQ(cache.stats(User::kProofs).hits, 0u);
  EXPECT_EQ(cache.stats(User::kProofs).misses, 1u);
  EXPECT_EQ(metrics.tile_cache_capacity_bytes.Value(), static_cast<double>(kBudget));
  EXPECT_EQ(metrics.tile_cache_bytes.Value(), static_cast<double>(cache.bytes()));
  EXPECT_GE(cache.bytes(), 100u);
  const std::vector<prometheus::MetricFamily> families = registry.Collect();
  double http_hits = -1;
  double proof_misses = -1;
  for (const prometheus::MetricFamily& f : families) {
    for (const prometheus::ClientMetric& m : f.metric) {
      if (m.label.size() != 1 || m.label[0].name != "user") continue;
      if (f.name == "infratrail_tile_cache_hits_total" && m.label[0].value == "http") {
        http_hits = m.counter.value;
      }
      if (f.name == "infratrail_tile_cache_misses_total" && m.label[0].value == "proofs") {
        proof_misses = m.counter.value;
      }
    }
  }
  EXPECT_EQ(http_hits, 2);
  EXPECT_EQ(proof_misses, 1);
}

// Threads look up and insert overlapping keys of mixed sizes, half of them
// hot, in budgets far below what they insert, so eviction runs all along:
// one shard (100 KiB) and two shards (64 MiB). Every value read is whole,
// and the budgets hold.
TEST(TileCache, ConcurrentUseIsSafe) {
  TileCache one_shard(kBudget, nullptr);
  TileCache two_shards(size_t{64} << 20, nullptr);
  std::atomic<int> torn{0};
  auto work = [&torn](TileCache* cache, size_t unit, int seed) {
    std::mt19937 rng(seed);
    for (int i = 0; i < 5000; ++i) {
      const uint64_t index = rng() % 2 == 0 ? rng() % 32 : rng() % 4000;
      const User user = index % 2 == 0 ? User::kProofs : User::kHttp;
      const size_t size = 1 + (index % 64) * unit;
      const char fill = static_cast<char>('a' + index % 26);
      if (std::shared_ptr<const Blob> b = cache->Lookup<Blob>(user, Tile(index)); b != nullptr) {
        if (b->bytes.size() != size || b->bytes.find_first_not_of(fill) != std::string::npos) {
          ++torn;
        }
      } else {
        cache->Insert<Blob>(user, Tile(index), MakeBlob(size, fill), size);
      }
    }
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < 2; ++t) {
    threads.emplace_back(work, &one_shard, size_t{100}, t);
    threads.emplace_back(work, &two_shards, size_t{4} << 10, t);
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(torn.load(), 0);
  for (TileCache* cache : {&one_shard, &two_shards}) {
    EXPECT_LE(cache->bytes(), cache->capacity_bytes());
    EXPECT_GT(cache->bytes(), cache->capacity_bytes() / 2);  // it was filled
    EXPECT_GT(cache->stats(User::kProofs).hits + cache->stats(User::kHttp).hits, 0u);
  }
}

}  // namespace
}  // namespace infratrail
