// Google Benchmark of the server's read path from a warm tile cache: proofs
// from TreeReader and tile GETs from TileHttpHandler, over a tree written by a
// real Sequencer into MemoryStorage, so no disk is measured: only the cache,
// the tile expansion on a miss and the proof rehash. Run by hand
// (docs/benchmarks.md), never as a test.
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/synchronization/notification.h"
#include "benchmark/benchmark.h"
#include "core/hash.h"
#include "core/tile.h"
#include "prometheus/registry.h"
#include "server/memory_storage.h"
#include "server/metrics.h"
#include "server/sequencer.h"
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

std::unique_ptr<TreeReader> MakeReader(Tree& tree, size_t tiles) {
  return std::make_unique<TreeReader>(&tree.storage, tiles);
}

void WarmAll(TreeReader& reader) {
  for (uint64_t i = 0; i < kTreeSize; i += kTileWidth) (void)reader.InclusionProof(i, kTreeSize);
}

// One inclusion proof of a random leaf at the full size per iteration.
void BM_InclusionProof(benchmark::State& state) {
  static std::unique_ptr<TreeReader> reader;
  if (state.thread_index() == 0) {
    reader = MakeReader(SharedTree(), state.range(0) != 0 ? kAllTiles : kSmallTiles);
    WarmAll(*reader);
  }
  std::mt19937_64 rng(state.thread_index() + 1);
  for (auto _ : state) {
    auto proof = reader->InclusionProof(rng() % kTreeSize, kTreeSize);
    benchmark::DoNotOptimize(proof);
  }
  if (state.thread_index() == 0) reader.reset();
}
BENCHMARK(BM_InclusionProof)->ArgName("all_cached")->Arg(1)->Arg(0)->Threads(1)->Threads(2);

// One consistency proof from a random size to the full size per iteration.
void BM_ConsistencyProof(benchmark::State& state) {
  static std::unique_ptr<TreeReader> reader;
  if (state.thread_index() == 0) {
    reader = MakeReader(SharedTree(), kAllTiles);
    WarmAll(*reader);
  }
  std::mt19937_64 rng(state.thread_index() + 1);
  for (auto _ : state) {
    auto proof = reader->ConsistencyProof(1 + rng() % (kTreeSize - 1), kTreeSize);
    benchmark::DoNotOptimize(proof);
  }
  if (state.thread_index() == 0) reader.reset();
}
BENCHMARK(BM_ConsistencyProof)->Threads(1)->Threads(2);

std::unique_ptr<TileHttpHandler> MakeHandler(Tree& tree) {
  TileHttpOptions options;
  options.cache_bytes = size_t{256} << 20;
  return std::make_unique<TileHttpHandler>(
      &tree.storage, [&tree] { return tree.published; }, options, nullptr);
}

// GET of a random full level-0 hash tile per iteration, every tile cached.
void BM_TileGet(benchmark::State& state) {
  static std::unique_ptr<TileHttpHandler> handler;
  static std::vector<std::string> paths;
  if (state.thread_index() == 0) {
    handler = MakeHandler(SharedTree());
    paths.clear();
    for (uint64_t n = 0; n < kTreeSize / kTileWidth; ++n) {
      paths.push_back("/" + TileId{0, n}.Path());
      (void)handler->Handle("GET", paths.back(), "");
    }
  }
  std::mt19937_64 rng(state.thread_index() + 1);
  for (auto _ : state) {
    HttpResponse r = handler->Handle("GET", paths[rng() % paths.size()], "");
    benchmark::DoNotOptimize(r);
  }
  if (state.thread_index() == 0) handler.reset();
}
BENCHMARK(BM_TileGet)->Threads(1)->Threads(2);

}  // namespace
}  // namespace infratrail

BENCHMARK_MAIN();
