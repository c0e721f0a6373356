// Google Benchmark of the server's read path from a warm tile cache: proofs
// from TreeReader and tile GETs from TileHttpHandler, over a tree written by a
// real Sequencer into MemoryStorage, so no disk is measured: only the cache,
// the tile expansion on a miss and the proof rehash. Run by hand
// (docs/benchmarks.md), never as a test.
#include <list>
#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "benchmark/benchmark.h"
#include "core/hash.h"
#include "core/tile.h"
#include "prometheus/registry.h"
#include "server/memory_storage.h"
#include "server/metrics.h"
#include "server/sequencer.h"
#include "server/tile_cache.h"
#include "server/tile_http.h"
#include "server/tree_reader.h"

namespace infratrail {
namespace {

// 2^20 + 1000 leaves: 4100 level-0 tiles, 17 at level 1, one at level 2, and
// a partial tile at the right edge of each level, as in a live log.
constexpr uint64_t kTreeSize = (uint64_t{1} << 20) + 1000;

struct Tree {
  MemoryStorage storage;
  std::shared_ptr<const PublishedCheckpoint> published;
};

// Built once per process (a second or two), shared by every benchmark.
Tree& SharedTree() {
  static Tree* tree = [] {
    auto* t = new Tree;
    prometheus::Registry registry;
    Metrics metrics(registry);
    std::unique_ptr<Sequencer> seq =
        *Sequencer::Start(&t->storage, SequencerOptions{}, &metrics, nullptr);
    constexpr uint64_t kChunk = 16384;
    for (uint64_t first = 0; first < kTreeSize; first += kChunk) {
      std::vector<PendingEntry> batch;
      for (uint64_t i = first; i < std::min(kTreeSize, first + kChunk); ++i) {
        std::string data = "bench entry " + std::to_string(i);
        const Hash h = HashLeaf(data);
        batch.push_back(PendingEntry{std::move(data), h});
      }
      absl::Notification done;
      (void)seq->Add(
          std::move(batch),
          [&done](const absl::Status&, const std::vector<SequenceResult>&) { done.Notify(); });
      done.WaitForNotification();
    }
    seq->Stop();
    auto cp = std::make_shared<PublishedCheckpoint>();
    cp->size = kTreeSize;
    cp->note = "bench.example/log\n";
    t->published = cp;
    return t;
  }();
  return *tree;
}

// Cache sizes: "all" holds every tile of the tree, "small" 64 expanded tiles
// (~1 MiB), so most proofs miss at level 0.
constexpr size_t kAllTiles = 8192;
constexpr size_t kSmallTiles = 64;

// An expanded full tile with the cache's metadata: ~16.5 KiB.
constexpr size_t kExpandedTileBytes = 17 << 10;

// The reader and the cache it uses, built and torn down together.
struct Reader {
  explicit Reader(Tree& tree, size_t tiles)
      : cache(tiles * kExpandedTileBytes, nullptr), reader(&tree.storage, &cache) {}
  TileCache cache;
  TreeReader reader;
};

std::unique_ptr<Reader> MakeReader(Tree& tree, size_t tiles) {
  return std::make_unique<Reader>(tree, tiles);
}

void WarmAll(Reader& r) {
  TreeReader& reader = r.reader;
  for (uint64_t i = 0; i < kTreeSize; i += kTileWidth) (void)reader.InclusionProof(i, kTreeSize);
}

// One inclusion proof of a random leaf at the full size per iteration.
void BM_InclusionProof(benchmark::State& state) {
  static std::unique_ptr<Reader> reader;
  if (state.thread_index() == 0) {
    reader = MakeReader(SharedTree(), state.range(0) != 0 ? kAllTiles : kSmallTiles);
    WarmAll(*reader);
  }
  std::mt19937_64 rng(state.thread_index() + 1);
  for (auto _ : state) {
    auto proof = reader->reader.InclusionProof(rng() % kTreeSize, kTreeSize);
    benchmark::DoNotOptimize(proof);
  }
  if (state.thread_index() == 0) reader.reset();
}
BENCHMARK(BM_InclusionProof)->ArgName("all_cached")->Arg(1)->Arg(0)->Threads(1)->Threads(2);

// One consistency proof from a random size to the full size per iteration.
void BM_ConsistencyProof(benchmark::State& state) {
  static std::unique_ptr<Reader> reader;
  if (state.thread_index() == 0) {
    reader = MakeReader(SharedTree(), kAllTiles);
    WarmAll(*reader);
  }
  std::mt19937_64 rng(state.thread_index() + 1);
  for (auto _ : state) {
    auto proof = reader->reader.ConsistencyProof(1 + rng() % (kTreeSize - 1), kTreeSize);
    benchmark::DoNotOptimize(proof);
  }
  if (state.thread_index() == 0) reader.reset();
}
BENCHMARK(BM_ConsistencyProof)->Threads(1)->Threads(2);

// The handler and the cache it uses (256 MiB, the old HTTP default).
struct Handler {
  explicit Handler(Tree& tree)
      : cache(size_t{256} << 20, nullptr),
        handler(
            &tree.storage, [&tree] { return tree.published; }, TileHttpOptions{}, &cache, nullptr) {
  }
  TileCache cache;
  TileHttpHandler handler;
};

std::unique_ptr<Handler> MakeHandler(Tree& tree) { return std::make_unique<Handler>(tree); }

// GET of a random full level-0 hash tile per iteration, every tile cached.
void BM_TileGet(benchmark::State& state) {
  static std::unique_ptr<Handler> handler;
  static std::vector<std::string> paths;
  if (state.thread_index() == 0) {
    handler = MakeHandler(SharedTree());
    paths.clear();
    for (uint64_t n = 0; n < kTreeSize / kTileWidth; ++n) {
      paths.push_back("/" + TileId{0, n}.Path());
      (void)handler->handler.Handle("GET", paths.back(), "");
    }
  }
  std::mt19937_64 rng(state.thread_index() + 1);
  for (auto _ : state) {
    HttpReply r = handler->handler.Handle("GET", paths[rng() % paths.size()], "");
    benchmark::DoNotOptimize(r);
  }
  if (state.thread_index() == 0) handler.reset();
}
BENCHMARK(BM_TileGet)->Threads(1)->Threads(2);

// The cache alone: one hit per iteration, a random one of 4096 cached
// values. TileCache (RocksDB's LRUCache, 256 MiB: 8 shards) against what the
// two caches it replaced did on a hit, one absl::Mutex around a
// flat_hash_map (TreeReader's) and around a map and a list splice
// (TileHttpHandler's LRU).
constexpr uint64_t kCachedValues = 4096;

void BM_TileCacheHit(benchmark::State& state) {
  static std::unique_ptr<TileCache> cache;
  if (state.thread_index() == 0) {
    cache = std::make_unique<TileCache>(size_t{256} << 20, nullptr);
    for (uint64_t n = 0; n < kCachedValues; ++n) {
      cache->Insert<std::string>(TileCache::User::kHttp, TileId{0, n},
                                 std::make_shared<const std::string>(8192, 'x'), 8192);
    }
  }
  std::mt19937_64 rng(state.thread_index() + 1);
  for (auto _ : state) {
    auto v = cache->Lookup<std::string>(TileCache::User::kHttp, TileId{0, rng() % kCachedValues});
    benchmark::DoNotOptimize(v);
  }
  if (state.thread_index() == 0) cache.reset();
}
BENCHMARK(BM_TileCacheHit)->Threads(1)->Threads(2);

// The replaced caches' hit paths; `splice` adds the LRU list move.
struct MutexLru {
  using List = std::list<std::pair<TileId, std::shared_ptr<const std::string>>>;
  absl::Mutex mu;
  List lru ABSL_GUARDED_BY(mu);
  absl::flat_hash_map<TileId, List::iterator> index ABSL_GUARDED_BY(mu);

  std::shared_ptr<const std::string> Get(const TileId& id, bool splice) {
    absl::MutexLock l(&mu);
    auto it = index.find(id);
    if (it == index.end()) return nullptr;
    if (splice) lru.splice(lru.begin(), lru, it->second);
    return it->second->second;
  }
};

void BM_MutexMapHit(benchmark::State& state) {
  static std::unique_ptr<MutexLru> cache;
  if (state.thread_index() == 0) {
    cache = std::make_unique<MutexLru>();
    absl::MutexLock l(&cache->mu);
    for (uint64_t n = 0; n < kCachedValues; ++n) {
      cache->lru.emplace_front(TileId{0, n}, std::make_shared<const std::string>(8192, 'x'));
      cache->index.emplace(TileId{0, n}, cache->lru.begin());
    }
  }
  std::mt19937_64 rng(state.thread_index() + 1);
  for (auto _ : state) {
    auto v = cache->Get(TileId{0, rng() % kCachedValues}, state.range(0) != 0);
    benchmark::DoNotOptimize(v);
  }
  if (state.thread_index() == 0) cache.reset();
}
BENCHMARK(BM_MutexMapHit)->ArgName("splice")->Arg(0)->Arg(1)->Threads(1)->Threads(2);

}  // namespace
}  // namespace infratrail

BENCHMARK_MAIN();
