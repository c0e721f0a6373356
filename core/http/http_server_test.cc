#include "core/http/http_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "core/checkpoint.h"
#include "core/note.h"
#include "core/note_key.h"
#include "gtest/gtest.h"
#include "prometheus/registry.h"
#include "server/memory_storage.h"
#include "server/metrics.h"
#include "server/testing_util.h"

namespace infratrail {
namespace {

struct Reply {
  int status = 0;
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;
};

// A minimal HTTP/1.1 client on one kept-alive connection, so the tests see
// the exact bytes on the wire (framing, HEAD and 304 without a body).
class Connection {
 public:
  // `source`: the IPv4 loopback address to connect from (any of 127/8);
  // `rcvbuf`: a receive buffer this small, set before connecting, keeps the
  // window small so a client that stops reading holds the server's sender.
  explicit Connection(int port, int family = AF_INET, const char* source = nullptr,
                      int rcvbuf = 0) {
    fd_ = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (rcvbuf > 0) setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
    if (source != nullptr) {
      sockaddr_in from{};
      from.sin_family = AF_INET;
      inet_pton(AF_INET, source, &from.sin_addr);
      if (bind(fd_, reinterpret_cast<sockaddr*>(&from), sizeof(from)) != 0) return;
    }
    if (family == AF_INET6) {
      sockaddr_in6 a{};
      a.sin6_family = AF_INET6;
      a.sin6_port = htons(static_cast<uint16_t>(port));
      a.sin6_addr = in6addr_loopback;
      ok_ = connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0;
    } else {
      sockaddr_in a{};
      a.sin_family = AF_INET;
      a.sin_port = htons(static_cast<uint16_t>(port));
      a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      ok_ = connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0;
    }
  }
  ~Connection() {
    if (fd_ >= 0) close(fd_);
  }
  bool ok() const { return ok_; }

  // Sends `method path` (with `extra` header lines and `body`) and reads
  // one response; a HEAD or 304 response has no body whatever its
  // Content-Length says.
  Reply Send(const std::string& method, const std::string& path, const std::string& extra = "",
             const std::string& body = "") {
    std::string req = absl::StrCat(method, " ", path, " HTTP/1.1\r\nHost: test\r\n", extra);
    if (!body.empty()) absl::StrAppend(&req, "Content-Length: ", body.size(), "\r\n");
    absl::StrAppend(&req, "\r\n", body);
    EXPECT_EQ(write(fd_, req.data(), req.size()), static_cast<ssize_t>(req.size()));
    Reply reply;
    size_t end;
    while ((end = buffer_.find("\r\n\r\n")) == std::string::npos) {
      if (!Fill()) return reply;
    }
    std::vector<std::string> lines = absl::StrSplit(buffer_.substr(0, end), "\r\n");
    buffer_.erase(0, end + 4);
    std::vector<std::string> first = absl::StrSplit(lines[0], ' ');
    if (first.size() < 2 || !absl::SimpleAtoi(first[1], &reply.status)) return reply;
    for (size_t i = 1; i < lines.size(); ++i) {
      const size_t colon = lines[i].find(':');
      reply.headers[absl::AsciiStrToLower(lines[i].substr(0, colon))] =
          std::string(absl::StripAsciiWhitespace(lines[i].substr(colon + 1)));
    }
    size_t length = 0;
    if (method != "HEAD" && reply.status != 304 &&
        absl::SimpleAtoi(reply.headers["content-length"], &length)) {
      while (buffer_.size() < length) {
        if (!Fill()) return reply;
      }
      reply.body = buffer_.substr(0, length);
      buffer_.erase(0, length);
    }
    return reply;
  }

  // Bytes the server sent beyond the responses read so far.
  std::string Leftover() { return buffer_; }

  // Sends raw bytes; false once the server has closed the connection.
  bool Write(absl::string_view bytes) {
    return send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL) ==
           static_cast<ssize_t>(bytes.size());
  }

  // Reads until the end of a response head (status line and headers) and
  // returns it; the body is left unread.
  std::string ReadHead() {
    size_t end;
    while ((end = buffer_.find("\r\n\r\n")) == std::string::npos) {
      if (!Fill()) return "";
    }
    std::string head = buffer_.substr(0, end);
    buffer_.erase(0, end + 4);
    return head;
  }

  // Waits up to `timeout` for the server to close the connection (end of
  // stream or reset), consuming anything it sends meanwhile.
  bool ClosedByServer(absl::Duration timeout) {
    const absl::Time deadline = absl::Now() + timeout;
    for (;;) {
      pollfd p{fd_, POLLIN, 0};
      const int wait =
          static_cast<int>(std::max<int64_t>(0, absl::ToInt64Milliseconds(deadline - absl::Now())));
      if (poll(&p, 1, wait) <= 0) return false;
      char chunk[65536];
      const ssize_t n = read(fd_, chunk, sizeof(chunk));
      if (n == 0 || (n < 0 && errno == ECONNRESET)) return true;
      if (n < 0) return false;
    }
  }

  // Closes now (a reset if unread bytes remain).
  void Close() {
    close(fd_);
    fd_ = -1;
  }

 private:
  bool Fill() {
    char chunk[65536];
    const ssize_t n = read(fd_, chunk, sizeof(chunk));
    if (n <= 0) return false;
    buffer_.append(chunk, static_cast<size_t>(n));
    return true;
  }

  int fd_;
  bool ok_ = false;
  std::string buffer_;
};

class HttpServerTest : public ::testing::Test {
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
        HttpServer::Start(options, handler_.get(), &metrics_);
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

TEST_F(HttpServerTest, ServesTheApiOnOneKeptAliveConnection) {
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

  Reply post = c.Send("POST", "/tile/0/001", "", "ignored body");
  EXPECT_EQ(post.status, 405);
  EXPECT_EQ(post.headers["allow"], "GET, HEAD");

  // Still the same connection, and nothing stray on it (HEAD and 304 sent
  // no body).
  EXPECT_EQ(c.Send("GET", "/tile/0/000").status, 200);
  EXPECT_EQ(c.Leftover(), "");
}

// libmicrohttpd percent-decodes URLs by default, which served tile 0/000 as
// /tile/0/0%300 and the full bundle 000 (immutable) as
// /tile/entries/000%00.p/1 (decoding stopped at the NUL).
TEST_F(HttpServerTest, PercentEncodedSpellingsAreRefusedWithoutEchoingThem) {
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

// Slowloris from one address: connections beyond the per-address limit are
// closed at accept, and a client from another address is served.
TEST_F(HttpServerTest, ConnectionsBeyondThePerAddressLimitAreRefusedOthersServed) {
  HttpServerOptions options;
  options.max_connections_per_address = 4;
  std::unique_ptr<HttpServer> server = StartServer("127.0.0.1:0", options);
  ASSERT_NE(server, nullptr);
  // Four held connections, each known to be admitted (it was answered),
  // each now trickling the head of its next request.
  std::vector<std::unique_ptr<Connection>> held;
  for (int i = 0; i < 4; ++i) {
    held.push_back(std::make_unique<Connection>(server->port()));
    ASSERT_EQ(held.back()->Send("GET", "/checkpoint").status, 200);
    ASSERT_TRUE(held.back()->Write("GET /checkpoint HTTP/1.1\r\nHost: slow\r\n"));
  }
  for (int i = 0; i < 20; ++i) {
    Connection more(server->port());
    ASSERT_TRUE(more.ok());
    EXPECT_TRUE(more.ClosedByServer(absl::Seconds(10))) << "connection " << i;
  }
  EXPECT_EQ(metrics_.http_connections_refused_per_address.Value(), 20);
  EXPECT_EQ(server->connections(), 4u);

  Connection other(server->port(), AF_INET, "127.0.0.2");
  ASSERT_TRUE(other.ok());
  EXPECT_EQ(other.Send("GET", "/checkpoint").status, 200);
  // The held ones were not disturbed.
  for (auto& c : held) {
    ASSERT_TRUE(c->Write("\r\n"));
    Connection& conn = *c;
    EXPECT_EQ(conn.Send("GET", "/tile/0/000").status, 200);
  }
}

// libmicrohttpd's timeout restarts with every byte; the head deadline does
// not.
TEST_F(HttpServerTest, AHeadSentByteByByteIsCutAtTheHeadDeadline) {
  HttpServerOptions options;
  options.head_timeout = absl::Milliseconds(300);
  options.idle_timeout = absl::Seconds(120);  // never the one that fires here
  std::unique_ptr<HttpServer> server = StartServer("127.0.0.1:0", options);
  ASSERT_NE(server, nullptr);
  Connection c(server->port());
  ASSERT_TRUE(c.Write("GET /checkpoint HTTP/1.1\r\nHost: slow\r\nX-Slow: "));
  // One byte every 50 ms, for at most 30 s, until the server closes.
  bool closed = false;
  int sent = 0;
  for (; sent < 600 && !closed; ++sent) {
    if (!c.Write("a")) break;
    closed = c.ClosedByServer(absl::Milliseconds(50));
  }
  EXPECT_TRUE(closed || sent < 600) << "still open after " << sent << " bytes";
  EXPECT_GT(sent, 1);  // bytes kept arriving while the deadline ran
  EXPECT_EQ(metrics_.http_connections_cut_head.Value(), 1);
  EXPECT_TRUE(server->WaitForConnectionsAtMost(0, absl::Seconds(10)));
  // The server is still there for everyone else.
  Connection next(server->port());
  EXPECT_EQ(next.Send("GET", "/checkpoint").status, 200);
}

TEST_F(HttpServerTest, TheConnectionCapHoldsAndTheServerServesAgainAfterTheFlood) {
  HttpServerOptions options;
  options.max_connections = 8;
  options.max_connections_per_address = 0;
  std::unique_ptr<HttpServer> server = StartServer("127.0.0.1:0", options);
  ASSERT_NE(server, nullptr);
  EXPECT_EQ(server->max_connections(), 8u);
  std::vector<std::unique_ptr<Connection>> flood;
  for (int i = 0; i < 8; ++i) {
    flood.push_back(std::make_unique<Connection>(server->port()));
    ASSERT_EQ(flood.back()->Send("GET", "/checkpoint").status, 200);
  }
  for (int i = 0; i < 12; ++i) {
    Connection more(server->port(), AF_INET, "127.0.0.3");
    ASSERT_TRUE(more.ok());
    EXPECT_TRUE(more.ClosedByServer(absl::Seconds(10))) << "connection " << i;
  }
  EXPECT_EQ(metrics_.http_connections_refused_total_cap.Value(), 12);
  EXPECT_EQ(server->connections(), 8u);
  EXPECT_EQ(metrics_.http_open_connections.Value(), 8);

  flood.clear();  // the flood ends
  ASSERT_TRUE(server->WaitForConnectionsAtMost(0, absl::Seconds(10)));
  for (int i = 0; i < 8; ++i) {
    flood.push_back(std::make_unique<Connection>(server->port()));
    ASSERT_EQ(flood.back()->Send("GET", "/checkpoint").status, 200) << i;
  }
}

TEST_F(HttpServerTest, TheDefaultCapIsAQuarterOfTheDescriptorLimit) {
  rlimit saved{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &saved), 0);
  if (saved.rlim_cur < 400) GTEST_SKIP() << "descriptor limit below 400";
  rlimit low = saved;
  low.rlim_cur = 400;
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &low), 0);
  std::unique_ptr<HttpServer> server = StartServer("127.0.0.1:0");
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &saved), 0);
  ASSERT_NE(server, nullptr);
  EXPECT_EQ(server->max_connections(), 100u);
}

TEST_F(HttpServerTest, AnIdleKeptAliveConnectionIsClosed) {
  HttpServerOptions options;
  options.idle_timeout = absl::Seconds(1);
  std::unique_ptr<HttpServer> server = StartServer("127.0.0.1:0", options);
  ASSERT_NE(server, nullptr);
  Connection c(server->port());
  ASSERT_EQ(c.Send("GET", "/checkpoint").status, 200);
  EXPECT_TRUE(c.ClosedByServer(absl::Seconds(20)));
}

// A log of 3 * 256 entries of 16 KiB: entry bundles of 4 MiB, more than
// loopback socket buffers take from a client that does not read.
class HttpServerLargeBundlesTest : public HttpServerTest {
 protected:
  static constexpr size_t kEntryBytes = 16 << 10;

  void SetUp() override {
    HttpServerTest::SetUp();
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
        HttpServer::Start(options, big_handler_.get(), &metrics_);
    EXPECT_TRUE(s.ok()) << s.status();
    return s.ok() ? *std::move(s) : nullptr;
  }

  MemoryStorage big_storage_;
  std::shared_ptr<const PublishedCheckpoint> big_published_;
  TileCache big_cache_{5 << 20, &metrics_};  // one bundle
  std::unique_ptr<TileHttpHandler> big_handler_;
};

TEST_F(HttpServerLargeBundlesTest, NeverReadingClientsHoldTheirBodiesAndOthersAreShed) {
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

TEST_F(HttpServerLargeBundlesTest, ASlowReaderIsCutOffAtTheSendDeadline) {
  HttpServerOptions options;
  options.send_timeout = absl::Milliseconds(300);
  options.idle_timeout = absl::Seconds(120);  // never the one that fires here
  std::unique_ptr<HttpServer> server = StartBig(options);
  ASSERT_NE(server, nullptr);
  Connection stalled(server->port(), AF_INET, nullptr, 4096);
  ASSERT_TRUE(stalled.Write("GET /tile/entries/000 HTTP/1.1\r\nHost: x\r\n\r\n"));
  ASSERT_NE(stalled.ReadHead().find("200"), std::string::npos);
  EXPECT_GT(big_handler_->in_flight_bytes(), 0u);
  EXPECT_TRUE(server->WaitForConnectionsAtMost(0, absl::Seconds(20)));
  EXPECT_EQ(metrics_.http_connections_cut_send.Value(), 1);
  EXPECT_EQ(big_handler_->in_flight_bytes(), 0u);
  EXPECT_TRUE(stalled.ClosedByServer(absl::Seconds(10)));
}

TEST_F(HttpServerTest, ListensOnIpv6Loopback) {
  const int probe = socket(AF_INET6, SOCK_STREAM, 0);
  if (probe < 0) GTEST_SKIP() << "no IPv6 on this machine";
  close(probe);
  HttpServerOptions options;
  options.address = "[::1]:0";
  absl::StatusOr<std::unique_ptr<HttpServer>> s =
      HttpServer::Start(options, handler_.get(), &metrics_);
  if (!s.ok()) GTEST_SKIP() << "cannot bind [::1]: " << s.status();
  Connection c((*s)->port(), AF_INET6);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c.Send("GET", "/checkpoint").status, 200);
}

TEST_F(HttpServerTest, BadAddressesAreRefusedNamingTheFlag) {
  for (const char* address :
       {"nonsense", "127.0.0.1", "127.0.0.1:99999", "127.0.0.1:x", "example.com:80", "[::1:80"}) {
    HttpServerOptions options;
    options.address = address;
    absl::StatusOr<std::unique_ptr<HttpServer>> s =
        HttpServer::Start(options, handler_.get(), &metrics_);
    EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument) << address;
    EXPECT_NE(s.status().message().find("--http-addr"), std::string::npos) << s.status();
  }
  std::unique_ptr<HttpServer> first = StartServer("127.0.0.1:0");
  ASSERT_NE(first, nullptr);
  HttpServerOptions options;
  options.address = absl::StrCat("127.0.0.1:", first->port());
  absl::StatusOr<std::unique_ptr<HttpServer>> second =
      HttpServer::Start(options, handler_.get(), &metrics_);
  EXPECT_EQ(second.status().code(), absl::StatusCode::kUnavailable) << second.status();
}

TEST_F(HttpServerTest, StopClosesTheListener) {
  std::unique_ptr<HttpServer> server = StartServer("127.0.0.1:0");
  ASSERT_NE(server, nullptr);
  const int port = server->port();
  server->Stop();
  server->Stop();  // idempotent
  Connection c(port);
  EXPECT_FALSE(c.ok());
}

}  // namespace
}  // namespace infratrail
