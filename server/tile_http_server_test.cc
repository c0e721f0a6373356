// TileHttpHandler over the HTTP transport: the tile API as a client sees
// it on the wire, and the in-flight bound against clients that stop
// reading. The transport's own behaviour is tested in
// core/http/http_server_test.cc.
#include <sys/socket.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "core/checkpoint.h"
#include "core/http/http_server.h"
#include "core/note.h"
#include "core/note_key.h"
#include "core/testing/http_test_client.h"
#include "gtest/gtest.h"
#include "prometheus/registry.h"
#include "server/memory_storage.h"
#include "server/metrics.h"
#include "server/testing_util.h"
#include "server/tile_http.h"

namespace infratrail {
namespace {

using Connection = testutil::HttpTestConnection;
using Reply = testutil::HttpTestReply;

class TileHttpServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto seq = Sequencer::Start(&storage_, SequencerOptions{}, &metrics_, nullptr);
    ASSERT_TRUE(seq.ok()) << seq.status();
    testutil::AppendEntries(**seq, 0, 600, 1000, &ref_);
    NoteSigner signer = *NoteSigner::FromSeed("http.example/log", std::string(32, 'h'));
    Checkpoint cp{"http.example/log", 600, ref_.Root(600), {}};
    auto p = std::make_shared<PublishedCheckpoint>();
    p->size = 600;
    p->root = cp.root;
    p->note = *SignNote(cp.Body(), {signer});
    published_ = p;
    handler_ = std::make_unique<TileHttpHandler>(
        &storage_, [this] { return published_; }, TileHttpOptions{}, &cache_, &metrics_);
  }

  std::unique_ptr<HttpServer> StartServer(const std::string& address,
                                          HttpServerOptions options = {}) {
    options.address = address;
    absl::StatusOr<std::unique_ptr<HttpServer>> s =
        HttpServer::Start(options, handler_.get(), metrics_.ForHttpServer());
    EXPECT_TRUE(s.ok()) << s.status();
    return s.ok() ? *std::move(s) : nullptr;
  }

  prometheus::Registry registry_;
  Metrics metrics_{registry_};
  MemoryStorage storage_;
  MerkleReference ref_;
  std::shared_ptr<const PublishedCheckpoint> published_;
  TileCache cache_{size_t{256} << 20, &metrics_};
  std::unique_ptr<TileHttpHandler> handler_;
};

TEST_F(TileHttpServerTest, ServesTheApiOnOneKeptAliveConnection) {
  std::unique_ptr<HttpServer> server = StartServer("127.0.0.1:0");
  ASSERT_NE(server, nullptr);
  ASSERT_GT(server->port(), 0);
  Connection c(server->port());
  ASSERT_TRUE(c.ok());

  Reply cp = c.Send("GET", "/checkpoint");
  EXPECT_EQ(cp.status, 200);
  EXPECT_EQ(cp.body, published_->note);
  EXPECT_EQ(cp.headers["content-type"], "text/plain; charset=utf-8");
  EXPECT_EQ(cp.headers["cache-control"], "public, max-age=2");
  EXPECT_EQ(cp.headers["access-control-allow-origin"], "*");
  EXPECT_EQ(cp.headers["x-content-type-options"], "nosniff");
  EXPECT_FALSE(cp.headers["etag"].empty());

  Reply tile = c.Send("GET", "/tile/0/001");
  ASSERT_EQ(tile.status, 200);
  EXPECT_EQ(tile.body, handler_->Handle("GET", "/tile/0/001", "").body->bytes);
  EXPECT_EQ(tile.body.size(), 256u * 32);
  EXPECT_EQ(tile.headers["content-type"], "application/octet-stream");
  EXPECT_EQ(tile.headers["cache-control"], "public, max-age=31536000, immutable");
  const std::string etag = tile.headers["etag"];
  ASSERT_EQ(etag.size(), 34u);

  Reply head = c.Send("HEAD", "/tile/0/001");
  EXPECT_EQ(head.status, 200);
  EXPECT_EQ(head.headers["content-length"], "8192");
  EXPECT_EQ(head.headers["etag"], etag);

  Reply not_modified = c.Send("GET", "/tile/0/001", absl::StrCat("If-None-Match: ", etag, "\r\n"));
  EXPECT_EQ(not_modified.status, 304);
  EXPECT_EQ(not_modified.headers["etag"], etag);

  Reply bundle = c.Send("GET", "/tile/entries/002.p/88");
  ASSERT_EQ(bundle.status, 200);
  absl::StatusOr<std::vector<std::string>> entries = DecodeEntryBundle(bundle.body);
  ASSERT_TRUE(entries.ok()) << entries.status();
  EXPECT_EQ(entries->size(), 88u);
  EXPECT_EQ(entries->back(), testutil::EntryData(599));

  Reply malformed = c.Send("GET", "/tile/0/01");
  EXPECT_EQ(malformed.status, 400);
  EXPECT_NE(malformed.body.find("malformed tile path"), std::string::npos) << malformed.body;
  EXPECT_EQ(malformed.headers["cache-control"], "no-store");
  EXPECT_EQ(malformed.headers["x-content-type-options"], "nosniff");
  EXPECT_EQ(c.Send("GET", "/tile/%2e%2e/checkpoint").status, 400);
  EXPECT_EQ(c.Send("GET", "/tile/0/003").status, 404);
  EXPECT_EQ(c.Send("GET", "/checkpoint?x=1").status, 200);  // query ignored

  Reply post = c.Send("POST", "/tile/0/001");
  EXPECT_EQ(post.status, 405);
  EXPECT_EQ(post.headers["allow"], "GET, HEAD");

  // Still the same connection, and nothing stray on it (HEAD and 304 sent
  // no body).
  EXPECT_EQ(c.Send("GET", "/tile/0/000").status, 200);
  EXPECT_EQ(c.Leftover(), "");
}

// The read API takes no request body: one is refused before the handler,
// counted, and the connection closed.
TEST_F(TileHttpServerTest, ARequestWithABodyIsRefusedAndCounted) {
  std::unique_ptr<HttpServer> server = StartServer("127.0.0.1:0");
  ASSERT_NE(server, nullptr);
  Connection c(server->port());
  ASSERT_TRUE(c.ok());
  Reply r = c.Send("GET", "/checkpoint", "", "a body");
  EXPECT_EQ(r.status, 413);
  EXPECT_EQ(r.headers["connection"], "close");
  EXPECT_TRUE(c.ClosedByServer(absl::Seconds(10)));
  EXPECT_EQ(metrics_.http_requests_too_large.Value(), 1);
}

// libmicrohttpd percent-decodes URLs by default, which served tile 0/000 as
// /tile/0/0%300 and the full bundle 000 (immutable) as
// /tile/entries/000%00.p/1 (decoding stopped at the NUL).
TEST_F(TileHttpServerTest, PercentEncodedSpellingsAreRefusedWithoutEchoingThem) {
  std::unique_ptr<HttpServer> server = StartServer("127.0.0.1:0");
  ASSERT_NE(server, nullptr);
  Connection c(server->port());
  ASSERT_TRUE(c.ok());
  for (const char* path : {"/tile/0/0%300", "/tile/entries/000%00.p/1", "/%63heckpoint",
                           "/tile/0/x001/%32%33%34", "/tile/0/000%3Fx"}) {
    Reply r = c.Send("GET", path);
    EXPECT_EQ(r.status, 400) << path;
    EXPECT_EQ(r.body.find('%'), std::string::npos) << path << ": " << r.body;
    EXPECT_EQ(r.headers["x-content-type-options"], "nosniff") << path;
  }
  Reply other = c.Send("GET", "/nowhere-AttackerBytes");
  EXPECT_EQ(other.status, 404);
  EXPECT_EQ(other.body.find("AttackerBytes"), std::string::npos) << other.body;
  Reply method = c.Send("BREW", "/checkpoint");
  EXPECT_EQ(method.status, 405);
  EXPECT_EQ(method.body.find("BREW"), std::string::npos) << method.body;
  // The one spelling is served.
  EXPECT_EQ(c.Send("GET", "/tile/0/000").status, 200);
  EXPECT_EQ(c.Send("GET", "/tile/entries/000.p/1").status, 200);
}

// A log of 3 * 256 entries of 16 KiB: entry bundles of 4 MiB, more than
// loopback socket buffers take from a client that does not read.
class TileHttpServerLargeBundlesTest : public TileHttpServerTest {
 protected:
  static constexpr size_t kEntryBytes = 16 << 10;

  void SetUp() override {
    TileHttpServerTest::SetUp();
    auto seq = Sequencer::Start(&big_storage_, SequencerOptions{}, &metrics_, nullptr);
    ASSERT_TRUE(seq.ok()) << seq.status();
    for (int bundle = 0; bundle < 3; ++bundle) {
      std::vector<PendingEntry> batch;
      batch.reserve(256);
      for (int i = 0; i < 256; ++i) {
        batch.push_back(testutil::MakeEntry(
            absl::StrCat(bundle * 256 + i, "-", std::string(kEntryBytes, 'e'))));
      }
      ASSERT_TRUE(testutil::AddAndWait(**seq, std::move(batch)).ok());
    }
    auto p = std::make_shared<PublishedCheckpoint>();
    p->size = uint64_t{3} * 256;
    p->note = "big.example/log\n768\nroot\n";
    big_published_ = p;
  }

  // In flight: room for two of these bundles and the largest possible one
  // (16 MiB), not for three of these and that; the cache holds one.
  std::unique_ptr<HttpServer> StartBig(HttpServerOptions options) {
    TileHttpOptions tiles;
    tiles.in_flight_bytes = 24 << 20;
    big_handler_ = std::make_unique<TileHttpHandler>(
        &big_storage_, [this] { return big_published_; }, tiles, &big_cache_, &metrics_);
    options.address = "127.0.0.1:0";
    absl::StatusOr<std::unique_ptr<HttpServer>> s =
        HttpServer::Start(options, big_handler_.get(), metrics_.ForHttpServer());
    EXPECT_TRUE(s.ok()) << s.status();
    return s.ok() ? *std::move(s) : nullptr;
  }

  MemoryStorage big_storage_;
  std::shared_ptr<const PublishedCheckpoint> big_published_;
  TileCache big_cache_{5 << 20, &metrics_};  // one bundle
  std::unique_ptr<TileHttpHandler> big_handler_;
};

TEST_F(TileHttpServerLargeBundlesTest, NeverReadingClientsHoldTheirBodiesAndOthersAreShed) {
  std::unique_ptr<HttpServer> server = StartBig(HttpServerOptions{});
  ASSERT_NE(server, nullptr);
  // Two clients that stop reading after the status line: bundle 001
  // displaces 000 from the one-bundle cache, yet both stay counted.
  std::vector<std::unique_ptr<Connection>> stalled;
  for (const char* path : {"/tile/entries/000", "/tile/entries/001"}) {
    stalled.push_back(std::make_unique<Connection>(server->port(), AF_INET, nullptr, 4096));
    ASSERT_TRUE(stalled.back()->Write(absl::StrCat("GET ", path, " HTTP/1.1\r\nHost: x\r\n\r\n")));
    ASSERT_NE(stalled.back()->ReadHead().find("200"), std::string::npos) << path;
  }
  const size_t held = big_handler_->in_flight_bytes();
  EXPECT_GT(held, size_t{2} * 256 * kEntryBytes);
  // 001 displaced 000 from the cache.
  EXPECT_NE(big_cache_.Lookup<HttpBody>(TileCache::User::kHttp, TileId{0, 1, 256, true}), nullptr);
  EXPECT_EQ(big_cache_.Lookup<HttpBody>(TileCache::User::kHttp, TileId{0, 0, 256, true}), nullptr);
  EXPECT_EQ(metrics_.http_in_flight_bytes.Value(), static_cast<double>(held));

  // A body already in flight (the cached 001) costs nothing more.
  Connection c(server->port());
  Reply same = c.Send("GET", "/tile/entries/001");
  EXPECT_EQ(same.status, 200);
  EXPECT_GT(same.body.size(), 256 * kEntryBytes);
  // Another one could not fit: 503 with Retry-After.
  Reply shed = c.Send("GET", "/tile/entries/002");
  EXPECT_EQ(shed.status, 503);
  EXPECT_EQ(shed.headers["retry-after"], "5");
  EXPECT_EQ(shed.headers["x-content-type-options"], "nosniff");
  EXPECT_EQ(metrics_.http_requests_shed.Value(), 1);
  // HEAD, 304 and the checkpoint hold no body and are always answered.
  Reply head = c.Send("HEAD", "/tile/entries/001");
  EXPECT_EQ(head.status, 200);
  EXPECT_EQ(head.headers["content-length"], absl::StrCat(same.body.size()));
  Reply revalidated =
      c.Send("GET", "/tile/entries/001", "If-None-Match: " + same.headers["etag"] + "\r\n");
  EXPECT_EQ(revalidated.status, 304);
  EXPECT_EQ(revalidated.headers["etag"], same.headers["etag"]);
  EXPECT_EQ(c.Send("GET", "/checkpoint").status, 200);

  // The stalled clients go away: their bodies are released, others fit.
  stalled.clear();
  ASSERT_TRUE(server->WaitForConnectionsAtMost(1, absl::Seconds(10)));
  // (At most the checkpoint may still be held: `c` read its last response,
  // but the server may not have finished with it yet.)
  EXPECT_LT(big_handler_->in_flight_bytes(), 256 * kEntryBytes);
  EXPECT_EQ(c.Send("GET", "/tile/entries/002").status, 200);
}

}  // namespace
}  // namespace infratrail
