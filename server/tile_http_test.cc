#include "server/tile_http.h"

#include <atomic>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/checkpoint.h"
#include "core/note.h"
#include "core/note_key.h"
#include "core/tile.h"
#include "gtest/gtest.h"
#include "prometheus/registry.h"
#include "server/forwarding_storage.h"
#include "server/memory_storage.h"
#include "server/metrics.h"
#include "server/testing_util.h"

namespace infratrail {
namespace {

using testutil::AppendEntries;
using testutil::EntryData;

// Counts every read the handler makes of storage.
class CountingStorage : public ForwardingStorage {
 public:
  using ForwardingStorage::ForwardingStorage;
  absl::Status ReadEntries(uint64_t begin, uint64_t end, std::vector<std::string>* out) override {
    ++reads;
    return ForwardingStorage::ReadEntries(begin, end, out);
  }
  absl::StatusOr<std::string> ReadTile(const TileId& tile) override {
    ++reads;
    return ForwardingStorage::ReadTile(tile);
  }
  absl::StatusOr<std::optional<std::string>> GetMeta(absl::string_view key) override {
    ++reads;
    return ForwardingStorage::GetMeta(key);
  }
  std::atomic<int> reads{0};
};

class TileHttpTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto seq = Sequencer::Start(&storage_, SequencerOptions{}, &metrics_, nullptr);
    ASSERT_TRUE(seq.ok()) << seq.status();
    seq_ = std::move(*seq);
    MakeHandler(TileHttpOptions{});
  }

  // A handler with a tile cache of its own, `cache_bytes` large.
  void MakeHandler(TileHttpOptions options, size_t cache_bytes = size_t{256} << 20) {
    handler_.reset();
    cache_ = std::make_unique<TileCache>(cache_bytes, &metrics_);
    handler_ = std::make_unique<TileHttpHandler>(
        &counting_, [this] { return published_; }, options, cache_.get(), &metrics_);
  }

  void GrowAndPublish(uint64_t size) {
    AppendEntries(*seq_, ref_.size(), size - ref_.size(), 1000, &ref_);
    Publish(size);
  }
  void Publish(uint64_t size) {
    Checkpoint cp{"tiles.example/log", size, ref_.Root(size), {}};
    absl::StatusOr<std::string> note = SignNote(cp.Body(), {signer_});
    ASSERT_TRUE(note.ok());
    auto p = std::make_shared<PublishedCheckpoint>();
    p->size = size;
    p->root = cp.root;
    p->note = *note;
    published_ = p;
  }

  HttpReply Get(const std::string& path, absl::string_view inm = "") {
    return handler_->Handle("GET", path, inm);
  }

  // The served bytes of `tile` must be exactly what the tree holds: entry
  // bundles the log's entries, hash tiles the RFC 9162 subtree hashes.
  void ExpectAuthentic(const TileId& tile) {
    const std::string path = "/" + tile.Path();
    HttpReply r = Get(path);
    ASSERT_EQ(r.status, 200) << path << ": " << r.text;
    EXPECT_EQ(r.content_type, "application/octet-stream") << path;
    EXPECT_EQ(r.cache_control,
              tile.IsFull() ? "public, max-age=31536000, immutable" : "public, max-age=60")
        << path;
    ASSERT_EQ(r.body->etag.size(), 34u) << path;
    if (tile.entries) {
      absl::StatusOr<std::vector<std::string>> entries = DecodeEntryBundle(r.body->bytes);
      ASSERT_TRUE(entries.ok()) << path << ": " << entries.status();
      ASSERT_EQ(entries->size(), tile.width) << path;
      for (uint32_t i = 0; i < tile.width; ++i) {
        ASSERT_EQ((*entries)[i], EntryData(tile.index * kTileWidth + i)) << path;
      }
      return;
    }
    absl::StatusOr<std::vector<Hash>> hashes = DecodeHashTile(r.body->bytes);
    ASSERT_TRUE(hashes.ok()) << path << ": " << hashes.status();
    ASSERT_EQ(hashes->size(), tile.width) << path;
    const uint64_t span = uint64_t{1} << (kTileHeight * tile.level);
    for (uint32_t i = 0; i < tile.width; ++i) {
      const uint64_t first = (tile.index * kTileWidth + i) * span;
      ASSERT_EQ((*hashes)[i], ref_.SubtreeRoot(first, first + span)) << path << " hash " << i;
    }
  }

  void ExpectStatus(const std::string& path, int status) {
    HttpReply r = Get(path);
    EXPECT_EQ(r.status, status) << path << ": " << r.text;
    if (status >= 400) {
      EXPECT_EQ(r.body, nullptr) << path;
      EXPECT_EQ(r.cache_control, "no-store") << path;
      EXPECT_FALSE(r.text.empty()) << path;
    }
  }

  prometheus::Registry registry_;
  Metrics metrics_{registry_};
  MemoryStorage storage_;
  CountingStorage counting_{&storage_};
  std::unique_ptr<Sequencer> seq_;
  std::unique_ptr<TileCache> cache_;
  std::unique_ptr<TileHttpHandler> handler_;
  std::shared_ptr<const PublishedCheckpoint> published_;
  MerkleReference ref_;
  NoteSigner signer_ = *NoteSigner::FromSeed("tiles.example/log", std::string(32, 't'));
};

TEST_F(TileHttpTest, EveryTileAndBundleAuthenticatesAtTheEdgeSizes) {
  std::mt19937_64 rng(5);
  const uint64_t random_size = 65537 + rng() % 70000;
  for (uint64_t size : {uint64_t{0}, uint64_t{1}, uint64_t{255}, uint64_t{256}, uint64_t{257},
                        uint64_t{65535}, uint64_t{65536}, uint64_t{65537}, random_size}) {
    SCOPED_TRACE(absl::StrCat("size ", size));
    GrowAndPublish(size);
    for (const TileId& tile : TilesForTree(size, /*entries=*/true)) {
      ASSERT_NO_FATAL_FAILURE(ExpectAuthentic(tile));
      // Every narrower width of the tile is served, exactly.
      for (uint32_t w : {uint32_t{1}, tile.width / 2, tile.width - 1}) {
        if (w == 0 || w >= tile.width) continue;
        TileId narrower = tile;
        narrower.width = w;
        ASSERT_NO_FATAL_FAILURE(ExpectAuthentic(narrower));
      }
    }
    // Beyond the tree, at every level (and one above the top): the next
    // tile, the edge tile one wider, the edge tile as a full one.
    for (uint32_t level = 0; level <= 3; ++level) {
      for (bool entries : {false, true}) {
        if (entries && level > 0) continue;
        const uint64_t span = uint64_t{1} << (kTileHeight * (level + 1));
        const uint64_t edge = size / span;  // the first tile not full
        const uint32_t have = TileWidthAt(level, edge, size);
        TileId next{level, edge + 1, kTileWidth, entries};
        ExpectStatus("/" + next.Path(), 404);
        next.width = 1;
        ExpectStatus("/" + next.Path(), 404);
        TileId wider{level, edge, have + 1, entries};
        if (have + 1 < kTileWidth) ExpectStatus("/" + wider.Path(), 404);
        ExpectStatus("/" + TileId{level, edge, kTileWidth, entries}.Path(), 404);
        if (have == 0) ExpectStatus("/" + TileId{level, edge, 1, entries}.Path(), 404);
      }
    }
  }
}

TEST_F(TileHttpTest, MalformedPathsAreRefusedWithoutTouchingStorage) {
  GrowAndPublish(70000);
  const int reads_before = counting_.reads.load();
  for (const char* path : {
           "/tile/0/01",                                      // short group
           "/tile/0/0001",                                    // long group
           "/tile/0/001/002",                                 // group without its x prefix
           "/tile/0/x000/001",                                // leading zero group
           "/tile/0/x01/002",                                 // short x group
           "/tile/00/000",                                    // level with a leading zero
           "/tile/0/000.p/0",                                 // width 0
           "/tile/0/000.p/256",                               // width 256
           "/tile/0/000.p/01",                                // width with a leading zero
           "/tile/0/000.p/",                                  // width missing
           "/tile/0/x001/x002/x003/x004/x005/x006/x007/000",  // too many digits
           "/tile/0/x999/x999/x999/x999/x999/x999/999",       // index beyond any tree
           "/tile/9/000",                                     // level beyond any tree
           "/tile/../checkpoint",                             // traversal
           "/tile/0/../../etc/passwd",                        // traversal
           "/tile/entries/../0/000",                          // traversal
           "/tile/entries/x001/..",                           // traversal
           "/tile//000",                                      // empty level
           "/tile/-1/000",                                    // negative level
           "/tile/0/000/",                                    // trailing slash
           "/tile/0/",                                        // no index
       }) {
    ExpectStatus(path, 400);
  }
  for (const char* path : {"/", "/checkpoint/", "/tile", "/etc/passwd", "/../checkpoint",
                           "/tiles/0/000", "/metrics"}) {
    ExpectStatus(path, 404);
  }
  EXPECT_EQ(counting_.reads.load(), reads_before);
}

TEST_F(TileHttpTest, OnlyThePublishedTreeIsServed) {
  GrowAndPublish(300);
  // Sequenced further, but the published checkpoint still says 300.
  AppendEntries(*seq_, 300, 300, 100, &ref_);
  ExpectAuthentic(TileId{0, 1, 44, false});
  ExpectAuthentic(TileId{0, 1, 44, true});
  ExpectStatus("/tile/0/001.p/45", 404);
  ExpectStatus("/tile/entries/001.p/45", 404);
  ExpectStatus("/tile/0/001", 404);
  Publish(600);
  ExpectAuthentic(TileId{0, 1, kTileWidth, false});
  ExpectAuthentic(TileId{0, 2, 88, true});
}

TEST_F(TileHttpTest, NothingButTheCheckpointRouteBeforeTheFirstCheckpoint) {
  AppendEntries(*seq_, 0, 300, 100, &ref_);
  ExpectStatus("/checkpoint", 503);
  ExpectStatus("/tile/0/000", 503);
  ExpectStatus("/tile/0/001", 503);
  ExpectStatus("/tile/0/x00", 400);  // malformed is still malformed
}

TEST_F(TileHttpTest, CheckpointFollowsThePublisher) {
  GrowAndPublish(10);
  HttpReply a = Get("/checkpoint");
  ASSERT_EQ(a.status, 200) << a.text;
  EXPECT_EQ(a.body->bytes, published_->note);
  EXPECT_EQ(a.content_type, "text/plain; charset=utf-8");
  EXPECT_EQ(a.cache_control, "public, max-age=2");
  GrowAndPublish(20);
  HttpReply b = Get("/checkpoint");
  ASSERT_EQ(b.status, 200);
  EXPECT_EQ(b.body->bytes, published_->note);
  EXPECT_NE(b.body->etag, a.body->etag);
  EXPECT_EQ(Get("/checkpoint", a.body->etag).status, 200);  // stale validator
  EXPECT_EQ(Get("/checkpoint", b.body->etag).status, 304);

  TileHttpOptions options;
  options.checkpoint_max_age = absl::Seconds(7);
  MakeHandler(options);
  EXPECT_EQ(Get("/checkpoint").cache_control, "public, max-age=7");
}

TEST_F(TileHttpTest, ConditionalRequestsAndMethods) {
  GrowAndPublish(600);
  HttpReply full = Get("/tile/0/001");
  ASSERT_EQ(full.status, 200);
  const std::string etag = full.body->etag;
  for (const std::string& inm :
       {etag, "W/" + etag, "\"other\", " + etag, std::string("*"), " " + etag + " "}) {
    HttpReply r = Get("/tile/0/001", inm);
    EXPECT_EQ(r.status, 304) << inm;
    ASSERT_NE(r.body, nullptr);
    EXPECT_EQ(r.body->etag, etag);
    EXPECT_EQ(r.cache_control, "public, max-age=31536000, immutable");
  }
  EXPECT_EQ(Get("/tile/0/001", "\"other\"").status, 200);
  // Same bytes, same validator; another width, another one.
  EXPECT_NE(Get("/tile/0/000").body->etag, etag);
  EXPECT_NE(Get("/tile/0/001.p/9").body->etag, etag);

  HttpReply head = handler_->Handle("HEAD", "/tile/0/001", "");
  EXPECT_EQ(head.status, 200);
  EXPECT_EQ(head.body->bytes, full.body->bytes);
  for (const char* method : {"POST", "PUT", "DELETE", "PATCH", "OPTIONS"}) {
    HttpReply r = handler_->Handle(method, "/tile/0/001", "");
    EXPECT_EQ(r.status, 405) << method;
    EXPECT_EQ(r.allow, "GET, HEAD") << method;
  }
}

// The value of infratrail_tile_cache_<what>_total{user="http"}, 0 if absent.
double HttpCacheCount(prometheus::Registry& registry, const std::string& what) {
  for (const prometheus::MetricFamily& f : registry.Collect()) {
    if (f.name != "infratrail_tile_cache_" + what + "_total") continue;
    for (const prometheus::ClientMetric& m : f.metric) {
      if (m.label.size() == 1 && m.label[0].value == "http") return m.counter.value;
    }
  }
  return 0;
}

TEST_F(TileHttpTest, HotTilesAreReadOnceAndTheCacheIsBounded) {
  GrowAndPublish(uint64_t{6} * kTileWidth);
  // Three full hash tiles' bodies, with room for their ETags and the
  // cache's metadata.
  const size_t budget = size_t{3} * (kTileWidth * kHashSize + 512);
  MakeHandler(TileHttpOptions{}, budget);
  const int reads0 = counting_.reads.load();
  for (int i = 0; i < 5; ++i) ASSERT_EQ(Get("/tile/0/000").status, 200);
  EXPECT_EQ(counting_.reads.load(), reads0 + 1);
  EXPECT_EQ(cache_->stats(TileCache::User::kHttp).hits, 4u);
  // Four more tiles, each fetched once: the hot 0/000 stays (it was reused),
  // the least recently used of the others (0/001, then 0/002) is evicted.
  for (const char* p : {"/tile/0/001", "/tile/0/002", "/tile/0/003", "/tile/0/004"}) {
    ASSERT_EQ(Get(p).status, 200);
  }
  EXPECT_LE(cache_->bytes(), budget);
  const int reads1 = counting_.reads.load();
  for (const char* p : {"/tile/0/000", "/tile/0/003", "/tile/0/004"}) ASSERT_EQ(Get(p).status, 200);
  EXPECT_EQ(counting_.reads.load(), reads1);  // cached
  ASSERT_EQ(Get("/tile/0/001").status, 200);
  EXPECT_EQ(counting_.reads.load(), reads1 + 1);  // evicted: read again
  EXPECT_EQ(HttpCacheCount(registry_, "hits"),
            static_cast<double>(cache_->stats(TileCache::User::kHttp).hits));
  EXPECT_EQ(HttpCacheCount(registry_, "misses"),
            static_cast<double>(cache_->stats(TileCache::User::kHttp).misses));
  EXPECT_EQ(metrics_.tile_cache_bytes.Value(), static_cast<double>(cache_->bytes()));

  // A body larger than the whole cache is served, not kept.
  MakeHandler(TileHttpOptions{}, 100);
  ASSERT_EQ(Get("/tile/0/000").status, 200);
  EXPECT_EQ(cache_->bytes(), 0u);
  ASSERT_EQ(Get("/tile/0/000").status, 200);
  EXPECT_EQ(cache_->stats(TileCache::User::kHttp).hits, 0u);
}

TEST_F(TileHttpTest, StorageErrorsAre500NamingTheTile) {
  GrowAndPublish(300);
  // A checkpoint claiming more than storage holds (a damaged store).
  auto p = std::make_shared<PublishedCheckpoint>(*published_);
  p->size = 700;
  published_ = p;
  HttpReply r = Get("/tile/0/002.p/188");
  EXPECT_EQ(r.status, 500);
  EXPECT_NE(r.text.find("tile/0/002.p/188"), std::string::npos) << r.text;
  EXPECT_EQ(Get("/tile/entries/002.p/188").status, 500);
}

// The value of infratrail_http_requests_total{route, code}, 0 if absent.
double RequestCount(prometheus::Registry& registry, const std::string& route,
                    const std::string& code) {
  for (const prometheus::MetricFamily& f : registry.Collect()) {
    if (f.name != "infratrail_http_requests_total") continue;
    for (const prometheus::ClientMetric& m : f.metric) {
      std::map<std::string, std::string> labels;
      for (const prometheus::ClientMetric::Label& l : m.label) labels[l.name] = l.value;
      if (labels["route"] == route && labels["code"] == code) return m.counter.value;
    }
  }
  return 0;
}

TEST_F(TileHttpTest, RequestsAreCountedByRouteAndCode) {
  GrowAndPublish(300);
  Get("/checkpoint");
  Get("/tile/0/000");
  Get("/tile/0/000");
  Get("/tile/0/001");  // partial at 300: 404
  Get("/tile/0/01");
  Get("/tile/entries/001.p/44");
  Get("/nowhere");
  handler_->Handle("DELETE", "/checkpoint", "");
  Get("/tile/0/000", Get("/tile/0/000").body->etag);
  EXPECT_EQ(RequestCount(registry_, "checkpoint", "200"), 1);
  EXPECT_EQ(RequestCount(registry_, "checkpoint", "405"), 1);
  EXPECT_EQ(RequestCount(registry_, "tile", "200"), 3);
  EXPECT_EQ(RequestCount(registry_, "tile", "304"), 1);
  EXPECT_EQ(RequestCount(registry_, "tile", "404"), 1);
  EXPECT_EQ(RequestCount(registry_, "tile", "400"), 1);
  EXPECT_EQ(RequestCount(registry_, "entries", "200"), 1);
  EXPECT_EQ(RequestCount(registry_, "other", "404"), 1);
}

// Response bodies held by callers (the transport, until sent) are counted
// once per distinct body, whether or not the cache still holds them.
TEST_F(TileHttpTest, ResponseBytesInFlightAreBoundedUntilReleased) {
  GrowAndPublish(uint64_t{4} * kTileWidth);
  constexpr size_t kTile = kTileWidth * kHashSize;  // a full hash tile
  TileHttpOptions options;
  options.in_flight_bytes = 2 * kTile;
  MakeHandler(options, /*cache_bytes=*/0);  // nothing cached: only responses hold bodies

  HttpReply r0 = Get("/tile/0/000");
  HttpReply r1 = Get("/tile/0/001");
  ASSERT_EQ(r0.status, 200);
  ASSERT_EQ(r1.status, 200);
  EXPECT_EQ(handler_->in_flight_bytes(), 2 * kTile);
  EXPECT_EQ(metrics_.http_in_flight_bytes.Value(), 2.0 * kTile);
  HttpReply copy = r0;  // the same lease, not a new one
  EXPECT_EQ(handler_->in_flight_bytes(), 2 * kTile);

  // Full: a third body is shed before storage is read.
  const int reads = counting_.reads.load();
  HttpReply shed = Get("/tile/0/002");
  EXPECT_EQ(shed.status, 503);
  EXPECT_EQ(shed.retry_after_s, kHttpShedRetryAfterSeconds);
  EXPECT_EQ(shed.body, nullptr);
  EXPECT_EQ(counting_.reads.load(), reads);
  EXPECT_EQ(metrics_.http_requests_shed.Value(), 1);
  EXPECT_EQ(RequestCount(registry_, "tile", "503"), 1);
  // HEAD holds nothing; the checkpoint is always served.
  EXPECT_EQ(handler_->Handle("HEAD", "/tile/0/002", "").status, 200);
  HttpReply cp = Get("/checkpoint");
  EXPECT_EQ(cp.status, 200);
  EXPECT_EQ(handler_->in_flight_bytes(), 2 * kTile + cp.body->bytes.size());
  cp = HttpReply{};

  // Released: room again.
  r1 = HttpReply{};
  EXPECT_EQ(handler_->in_flight_bytes(), kTile);
  HttpReply r2 = Get("/tile/0/002");
  EXPECT_EQ(r2.status, 200);
  r0 = HttpReply{};
  EXPECT_EQ(handler_->in_flight_bytes(), 2 * kTile);  // `copy` still holds tile 0/000
  copy = HttpReply{};
  r2 = HttpReply{};
  EXPECT_EQ(handler_->in_flight_bytes(), 0u);
  EXPECT_EQ(metrics_.http_in_flight_bytes.Value(), 0);

  // An entry bundle is read only if the largest bundle could fit, though
  // this one (256 short entries) would.
  r0 = Get("/tile/0/000");
  const int reads2 = counting_.reads.load();
  EXPECT_EQ(Get("/tile/entries/000").status, 503);
  EXPECT_EQ(counting_.reads.load(), reads2);
  r0 = HttpReply{};

  // One body larger than the whole bound is served when nothing else is in
  // flight (and only then).
  options.in_flight_bytes = 10;
  MakeHandler(options, /*cache_bytes=*/0);
  HttpReply big = Get("/tile/entries/000");
  EXPECT_EQ(big.status, 200);
  EXPECT_EQ(Get("/tile/entries/001").status, 503);
}

// A cached body is shared: a second request for a body in flight adds
// nothing and is never shed.
TEST_F(TileHttpTest, ABodyAlreadyInFlightIsServedAgainAtTheBound) {
  GrowAndPublish(uint64_t{2} * kTileWidth);
  TileHttpOptions options;
  options.in_flight_bytes = 1;
  MakeHandler(options);
  HttpReply a = Get("/tile/entries/000");
  ASSERT_EQ(a.status, 200);
  HttpReply b = Get("/tile/entries/000");
  ASSERT_EQ(b.status, 200);
  EXPECT_EQ(handler_->in_flight_bytes(), a.body->bytes.size());
  EXPECT_EQ(Get("/tile/0/000").status, 503);
}

TEST_F(TileHttpTest, PercentEncodingIsRefusedAndErrorsDoNotEchoTheRequest) {
  GrowAndPublish(600);
  const int reads = counting_.reads.load();
  for (const char* path : {"/tile/0/0%300", "/tile/entries/000%00.p/1", "/tile/0/%30%30%30",
                           "/%63heckpoint", "/tile/0/001%2F"}) {
    HttpReply r = Get(path);
    EXPECT_EQ(r.status, 400) << path;
    EXPECT_EQ(r.text.find('%'), std::string::npos) << path << ": " << r.text;
  }
  EXPECT_EQ(counting_.reads.load(), reads);
  for (const char* path : {"/tile/0/0x1<b>", "/tile/<b>/000", "/<b>", "/tile/0/009"}) {
    HttpReply r = Get(path);
    EXPECT_GE(r.status, 400) << path;
    EXPECT_EQ(r.text.find("<b>"), std::string::npos) << path << ": " << r.text;
    EXPECT_EQ(r.text.find("009"), std::string::npos) << path << ": " << r.text;
  }
  HttpReply method = handler_->Handle("<b>", "/checkpoint", "");
  EXPECT_EQ(method.status, 405);
  EXPECT_EQ(method.text.find("<b>"), std::string::npos) << method.text;
}

TEST(IfNoneMatchTest, MatchesListedTagsWeakOrStrongAndStar) {
  EXPECT_TRUE(IfNoneMatchHits("\"a\"", "\"a\""));
  EXPECT_TRUE(IfNoneMatchHits("W/\"a\"", "\"a\""));
  EXPECT_TRUE(IfNoneMatchHits("\"b\",\"a\"", "\"a\""));
  EXPECT_TRUE(IfNoneMatchHits("*", "\"a\""));
  EXPECT_FALSE(IfNoneMatchHits("\"b\"", "\"a\""));
  EXPECT_FALSE(IfNoneMatchHits("a", "\"a\""));
  EXPECT_FALSE(IfNoneMatchHits("", "\"a\""));
}

}  // namespace
}  // namespace infratrail
