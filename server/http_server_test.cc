#include "server/http_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <map>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
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
  explicit Connection(int port, int family = AF_INET) {
    fd_ = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
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
  ~Connection() { close(fd_); }
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
        &storage_, [this] { return published_; }, TileHttpOptions{}, &metrics_);
  }

  std::unique_ptr<HttpServer> StartServer(const std::string& address) {
    HttpServerOptions options;
    options.address = address;
    absl::StatusOr<std::unique_ptr<HttpServer>> s = HttpServer::Start(options, handler_.get());
    EXPECT_TRUE(s.ok()) << s.status();
    return s.ok() ? *std::move(s) : nullptr;
  }

  prometheus::Registry registry_;
  Metrics metrics_{registry_};
  MemoryStorage storage_;
  MerkleReference ref_;
  std::shared_ptr<const PublishedCheckpoint> published_;
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
  EXPECT_NE(malformed.body.find("tile/0/01"), std::string::npos) << malformed.body;
  EXPECT_EQ(malformed.headers["cache-control"], "no-store");
  // Percent-decoded before routing: still a traversal, still refused.
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

TEST_F(HttpServerTest, ListensOnIpv6Loopback) {
  const int probe = socket(AF_INET6, SOCK_STREAM, 0);
  if (probe < 0) GTEST_SKIP() << "no IPv6 on this machine";
  close(probe);
  HttpServerOptions options;
  options.address = "[::1]:0";
  absl::StatusOr<std::unique_ptr<HttpServer>> s = HttpServer::Start(options, handler_.get());
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
    absl::StatusOr<std::unique_ptr<HttpServer>> s = HttpServer::Start(options, handler_.get());
    EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument) << address;
    EXPECT_NE(s.status().message().find("--http-addr"), std::string::npos) << s.status();
  }
  std::unique_ptr<HttpServer> first = StartServer("127.0.0.1:0");
  ASSERT_NE(first, nullptr);
  HttpServerOptions options;
  options.address = absl::StrCat("127.0.0.1:", first->port());
  absl::StatusOr<std::unique_ptr<HttpServer>> second = HttpServer::Start(options, handler_.get());
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
