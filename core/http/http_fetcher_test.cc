#include "core/http/http_fetcher.h"

#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"

namespace infratrail {
namespace {

using ::testing::HasSubstr;

constexpr char kText[] =
    "Merkle trees are hash trees: every inner node is the hash of its children, so one root "
    "commits to every leaf. Merkle trees are hash trees: every inner node is the hash of its "
    "children, so one root commits to every leaf.";

// gzip (RFC 1952) of `text`, as a server with Content-Encoding: gzip sends it.
std::string Gzip(absl::string_view text) {
  z_stream z{};
  EXPECT_EQ(deflateInit2(&z, Z_BEST_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY), Z_OK);
  std::string out(deflateBound(&z, text.size()), '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(text.data()));
  z.avail_in = static_cast<uInt>(text.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(deflate(&z, Z_FINISH), Z_STREAM_END);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

// A bound and listening TCP socket on 127.0.0.1 that never accepts: the
// kernel completes the handshake, and the request then goes unanswered.
class SilentListener {
 public:
  SilentListener() {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(addr);
    if (fd_ < 0 || bind(fd_, reinterpret_cast<sockaddr*>(&addr), len) != 0 ||
        getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      return;
    }
    port_ = ntohs(addr.sin_port);
  }
  ~SilentListener() { Close(); }
  bool Listen() { return port_ != 0 && listen(fd_, 16) == 0; }
  void Close() {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
  }
  int port() const { return port_; }

 private:
  int fd_ = -1;
  int port_ = 0;
};

// An HTTP/1.1 server on 127.0.0.1 and an ephemeral port, one thread per
// connection so that a stalled or dripping response holds up only its own.
class TestServer {
 public:
  TestServer() {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    daemon_ = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD, 0,
                               nullptr, nullptr, &Handle, this, MHD_OPTION_SOCK_ADDR, &addr,
                               MHD_OPTION_NOTIFY_COMPLETED, &Completed, this,
                               MHD_OPTION_NOTIFY_CONNECTION, &Notify, this, MHD_OPTION_END);
    if (daemon_ != nullptr) port_ = MHD_get_daemon_info(daemon_, MHD_DAEMON_INFO_BIND_PORT)->port;
  }
  ~TestServer() {
    release_.Notify();  // ends the drips and stalls, so their threads can be joined
    if (daemon_ != nullptr) MHD_stop_daemon(daemon_);
  }
  TestServer(const TestServer&) = delete;
  TestServer& operator=(const TestServer&) = delete;

  bool ok() const { return daemon_ != nullptr && port_ != 0; }
  std::string Url(absl::string_view path) const {
    return absl::StrCat("http://127.0.0.1:", port_, path);
  }
  // Client connections accepted so far.
  int connections() const { return connections_.load(); }

 private:
  enum class Stream { kChunked, kDrip, kStall, kTruncated };
  struct StreamState {
    TestServer* server;
    Stream kind;
    size_t size;
  };

  static MHD_Result Handle(void* cls, MHD_Connection* c, const char* url, const char* method,
                           const char* /*version*/, const char* upload_data,
                           size_t* upload_data_size, void** con_cls) {
    // MHD calls once for the headers, once per upload chunk, and once more
    // when the upload is complete; only the last one answers.
    if (*con_cls == nullptr) {
      *con_cls = new std::string();
      return MHD_YES;
    }
    auto* uploaded = static_cast<std::string*>(*con_cls);
    if (*upload_data_size > 0) {
      uploaded->append(upload_data, *upload_data_size);
      *upload_data_size = 0;
      return MHD_YES;
    }
    return static_cast<TestServer*>(cls)->Respond(c, url, method, *uploaded);
  }

  static void Completed(void* /*cls*/, MHD_Connection* /*c*/, void** con_cls,
                        MHD_RequestTerminationCode /*toe*/) {
    delete static_cast<std::string*>(*con_cls);
    *con_cls = nullptr;
  }

  static void Notify(void* cls, MHD_Connection* /*c*/, void** /*socket_context*/,
                     MHD_ConnectionNotificationCode toe) {
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) ++static_cast<TestServer*>(cls)->connections_;
  }

  static ssize_t Read(void* cls, uint64_t pos, char* buf, size_t max) {
    auto* s = static_cast<StreamState*>(cls);
    switch (s->kind) {
      case Stream::kChunked: {
        if (pos >= s->size) return MHD_CONTENT_READER_END_OF_STREAM;
        const size_t n = std::min<size_t>(max, s->size - pos);
        std::memset(buf, 'c', n);
        return static_cast<ssize_t>(n);
      }
      case Stream::kDrip:
        // One byte every 50 ms, far below the client's low-speed limit.
        if (pos > 0 && s->server->release_.WaitForNotificationWithTimeout(absl::Milliseconds(50))) {
          return MHD_CONTENT_READER_END_WITH_ERROR;
        }
        buf[0] = 'd';
        return 1;
      case Stream::kStall:
        if (pos == 0) {
          std::memset(buf, 's', 10);
          return 10;
        }
        s->server->release_.WaitForNotification();
        return MHD_CONTENT_READER_END_WITH_ERROR;
      case Stream::kTruncated:
        if (pos == 0) {
          std::memcpy(buf, "short", 5);
          return 5;
        }
        return MHD_CONTENT_READER_END_WITH_ERROR;  // MHD closes the connection
    }
    return MHD_CONTENT_READER_END_WITH_ERROR;
  }

  static MHD_Result Queue(MHD_Connection* c, unsigned status, MHD_Response* r,
                          std::vector<std::pair<const char*, std::string>> headers) {
    for (const auto& [name, value] : headers) MHD_add_response_header(r, name, value.c_str());
    const MHD_Result result = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return result;
  }

  static MHD_Result Send(MHD_Connection* c, unsigned status, const std::string& body,
                         std::vector<std::pair<const char*, std::string>> headers = {}) {
    MHD_Response* r = MHD_create_response_from_buffer(body.size(), const_cast<char*>(body.data()),
                                                      MHD_RESPMEM_MUST_COPY);
    return Queue(c, status, r, std::move(headers));
  }

  MHD_Result SendStream(MHD_Connection* c, Stream kind, uint64_t declared, size_t size) {
    MHD_Response* r =
        MHD_create_response_from_callback(declared, 1024, &Read, new StreamState{this, kind, size},
                                          [](void* cls) { delete static_cast<StreamState*>(cls); });
    return Queue(c, MHD_HTTP_OK, r, {{"Content-Type", "application/octet-stream"}});
  }

  MHD_Result Respond(MHD_Connection* c, absl::string_view url, absl::string_view method,
                     const std::string& uploaded) {
    size_t n = 0;
    if (url == "/redirect") return Send(c, 302, "moved", {{"Location", "/hello"}});
    if (method == "POST") {
      const char* type = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
      return Send(c, 201, absl::StrCat("POST\n", type != nullptr ? type : "(none)", "\n", uploaded),
                  {{"Content-Type", "text/plain"}});
    }
    if (url == "/hello")
      return Send(c, 200, "hello", {{"Content-Type", "text/plain; charset=utf-8"}});
    if (url == "/ua") {
      const char* ua = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "User-Agent");
      return Send(c, 200, ua != nullptr ? ua : "");
    }
    if (url == "/gzip") return SendGzip(c, kText);
    if (url == "/gzip-tiny") return SendGzip(c, "hi");
    if (url == "/gzip-bomb") return SendGzip(c, std::string(100000, 'a'));
    if (absl::ConsumePrefix(&url, "/bytes/") && absl::SimpleAtoi(url, &n)) {
      return Send(c, 200, std::string(n, 'b'));
    }
    if (absl::ConsumePrefix(&url, "/chunked/") && absl::SimpleAtoi(url, &n)) {
      return SendStream(c, Stream::kChunked, MHD_SIZE_UNKNOWN, n);
    }
    if (absl::ConsumePrefix(&url, "/echo/")) return Send(c, 200, std::string(url));
    if (url == "/drip") return SendStream(c, Stream::kDrip, MHD_SIZE_UNKNOWN, 0);
    // Declares a gigabyte, sends 10 bytes, then nothing until the test ends.
    if (url == "/declared-huge") return SendStream(c, Stream::kStall, 1000000000, 0);
    if (url == "/truncated") return SendStream(c, Stream::kTruncated, 100, 0);
    if (url == "/loop") return Send(c, 302, "", {{"Location", "/loop"}});
    if (url == "/to-file") return Send(c, 302, "", {{"Location", "file:///etc/hostname"}});
    return Send(c, 404, "no such page", {{"Content-Type", "text/plain"}});
  }

  static MHD_Result SendGzip(MHD_Connection* c, absl::string_view text) {
    return Send(c, 200, Gzip(text), {{"Content-Type", "text/plain"}, {"Content-Encoding", "gzip"}});
  }

  MHD_Daemon* daemon_ = nullptr;
  int port_ = 0;
  std::atomic<int> connections_{0};
  absl::Notification release_;
};

class HttpFetcherTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(server_.ok()); }

  std::unique_ptr<HttpFetcher> MakeFetcher(HttpFetcherOptions options = {}) {
    absl::StatusOr<std::unique_ptr<HttpFetcher>> fetcher = HttpFetcher::Create(options);
    EXPECT_TRUE(fetcher.ok()) << fetcher.status();
    return fetcher.ok() ? std::move(*fetcher) : nullptr;
  }

  TestServer server_;
};

TEST_F(HttpFetcherTest, OkResponseHasStatusBodyAndContentType) {
  auto fetcher = MakeFetcher();
  absl::StatusOr<HttpResponse> r = fetcher->Get(server_.Url("/hello"), 1000);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "hello");
  EXPECT_EQ(r->content_type, "text/plain; charset=utf-8");
}

TEST_F(HttpFetcherTest, NotFoundIsAResponseNotAnError) {
  auto fetcher = MakeFetcher();
  absl::StatusOr<HttpResponse> r = fetcher->Get(server_.Url("/missing"), 1000);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 404);
  EXPECT_EQ(r->body, "no such page");
}

TEST_F(HttpFetcherTest, SendsConfiguredUserAgent) {
  HttpFetcherOptions options;
  options.user_agent = "monitor-test/1";
  auto fetcher = MakeFetcher(options);
  absl::StatusOr<HttpResponse> r = fetcher->Get(server_.Url("/ua"), 1000);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->body, "monitor-test/1");
}

TEST_F(HttpFetcherTest, GzipBodyIsDecoded) {
  auto fetcher = MakeFetcher();
  absl::StatusOr<HttpResponse> r = fetcher->Get(server_.Url("/gzip"), 1000);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->body, kText);
}

TEST_F(HttpFetcherTest, BodyLimitAppliesToTheDecodedBody) {
  auto fetcher = MakeFetcher();
  // ~200 bytes on the wire, 100000 once decoded.
  absl::StatusOr<HttpResponse> r = fetcher->Get(server_.Url("/gzip-bomb"), 10000);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kResourceExhausted) << r.status();
}

TEST_F(HttpFetcherTest, SmallGzipBodyAtLimitIsAcceptedThoughLargerOnTheWire) {
  auto fetcher = MakeFetcher();
  // "hi" is ~22 bytes gzipped: the Content-Length check must not refuse it.
  absl::StatusOr<HttpResponse> r = fetcher->Get(server_.Url("/gzip-tiny"), 2);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->body, "hi");
}

TEST_F(HttpFetcherTest, BodyAtLimitIsAcceptedAndOneByteMoreIsResourceExhausted) {
  auto fetcher = MakeFetcher();
  absl::StatusOr<HttpResponse> at = fetcher->Get(server_.Url("/bytes/1000"), 1000);
  ASSERT_TRUE(at.ok()) << at.status();
  EXPECT_EQ(at->body, std::string(1000, 'b'));
  absl::StatusOr<HttpResponse> over = fetcher->Get(server_.Url("/bytes/1001"), 1000);
  EXPECT_EQ(over.status().code(), absl::StatusCode::kResourceExhausted) << over.status();
}

TEST_F(HttpFetcherTest, BodyOverLimitWithContentLengthIsResourceExhausted) {
  auto fetcher = MakeFetcher();
  const std::string url = server_.Url("/bytes/100000");
  absl::StatusOr<HttpResponse> r = fetcher->Get(url, 1000);
  ASSERT_EQ(r.status().code(), absl::StatusCode::kResourceExhausted) << r.status();
  EXPECT_THAT(r.status().message(), HasSubstr(url));
  EXPECT_THAT(r.status().message(), HasSubstr("1000 bytes"));
}

TEST_F(HttpFetcherTest, ChunkedBodyOverLimitIsResourceExhausted) {
  auto fetcher = MakeFetcher();
  // No Content-Length, and a limit above curl's 16 KiB write size: only the
  // running total can tell.
  const std::string url = server_.Url("/chunked/100000");
  absl::StatusOr<HttpResponse> r = fetcher->Get(url, 50000);
  ASSERT_EQ(r.status().code(), absl::StatusCode::kResourceExhausted) << r.status();
  EXPECT_THAT(r.status().message(), HasSubstr(url));
  EXPECT_THAT(r.status().message(), HasSubstr("50000 bytes"));
  // And a chunked body within the limit arrives whole.
  absl::StatusOr<HttpResponse> within = fetcher->Get(server_.Url("/chunked/50000"), 50000);
  ASSERT_TRUE(within.ok()) << within.status();
  EXPECT_EQ(within->body, std::string(50000, 'c'));
}

TEST_F(HttpFetcherTest, DeclaredLengthOverLimitIsRefusedBeforeTheBody) {
  HttpFetcherOptions options;
  // The server sends 10 of the gigabyte it declares and then stalls: only
  // the Content-Length check can answer before this timeout.
  options.timeout = std::chrono::milliseconds(2000);
  auto fetcher = MakeFetcher(options);
  absl::StatusOr<HttpResponse> r = fetcher->Get(server_.Url("/declared-huge"), 100);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kResourceExhausted) << r.status();
}

TEST_F(HttpFetcherTest, ServerThatNeverAnswersIsDeadlineExceeded) {
  SilentListener silent;
  ASSERT_TRUE(silent.Listen());
  HttpFetcherOptions options;
  options.timeout = std::chrono::milliseconds(300);
  auto fetcher = MakeFetcher(options);
  const std::string url = absl::StrCat("http://127.0.0.1:", silent.port(), "/x");
  absl::StatusOr<HttpResponse> r = fetcher->Get(url, 1000);
  ASSERT_EQ(r.status().code(), absl::StatusCode::kDeadlineExceeded) << r.status();
  EXPECT_THAT(r.status().message(), HasSubstr(url));
}

TEST_F(HttpFetcherTest, SlowDripIsDeadlineExceeded) {
  HttpFetcherOptions options;
  options.low_speed_bytes = 1000000;
  options.low_speed_time = std::chrono::seconds(1);
  auto fetcher = MakeFetcher(options);  // the 30 s request timeout stays
  absl::StatusOr<HttpResponse> r = fetcher->Get(server_.Url("/drip"), 1000000);
  ASSERT_EQ(r.status().code(), absl::StatusCode::kDeadlineExceeded) << r.status();
  // curl's own words, from the error buffer: the low-speed limit, not the timeout.
  EXPECT_THAT(r.status().message(), HasSubstr("too slow"));
}

TEST_F(HttpFetcherTest, ConnectionRefusedIsUnavailable) {
  SilentListener closed;
  const int port = closed.port();
  ASSERT_NE(port, 0);
  closed.Close();  // bound, never listened, now closed: nothing there
  auto fetcher = MakeFetcher();
  const std::string url = absl::StrCat("http://127.0.0.1:", port, "/x");
  absl::StatusOr<HttpResponse> r = fetcher->Get(url, 1000);
  ASSERT_EQ(r.status().code(), absl::StatusCode::kUnavailable) << r.status();
  EXPECT_THAT(r.status().message(), HasSubstr(url));
}

TEST_F(HttpFetcherTest, MalformedUrlIsInvalidArgument) {
  auto fetcher = MakeFetcher();
  EXPECT_EQ(fetcher->Get("http://[::1/x", 1000).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(fetcher->Get("", 1000).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(HttpFetcherTest, NonHttpSchemeIsInvalidArgument) {
  auto fetcher = MakeFetcher();
  // Without the protocol restriction curl would read the local file.
  absl::StatusOr<HttpResponse> file = fetcher->Get("file:///etc/hostname", 1000);
  EXPECT_EQ(file.status().code(), absl::StatusCode::kInvalidArgument) << file.status();
  absl::StatusOr<HttpResponse> ftp = fetcher->Get("ftp://127.0.0.1/x", 1000);
  EXPECT_EQ(ftp.status().code(), absl::StatusCode::kInvalidArgument) << ftp.status();
}

TEST_F(HttpFetcherTest, RedirectIsFollowed) {
  auto fetcher = MakeFetcher();
  absl::StatusOr<HttpResponse> r = fetcher->Get(server_.Url("/redirect"), 1000);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "hello");
}

TEST_F(HttpFetcherTest, RedirectLoopIsUnavailable) {
  auto fetcher = MakeFetcher();
  absl::StatusOr<HttpResponse> r = fetcher->Get(server_.Url("/loop"), 1000);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable) << r.status();
}

TEST_F(HttpFetcherTest, ZeroMaxRedirectsReturnsTheRedirect) {
  HttpFetcherOptions options;
  options.max_redirects = 0;
  auto fetcher = MakeFetcher(options);
  absl::StatusOr<HttpResponse> r = fetcher->Get(server_.Url("/redirect"), 1000);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 302);
  EXPECT_EQ(r->body, "moved");
}

TEST_F(HttpFetcherTest, RedirectToNonHttpSchemeIsUnavailable) {
  auto fetcher = MakeFetcher();
  // Refused, and the server's fault rather than the caller's.
  absl::StatusOr<HttpResponse> r = fetcher->Get(server_.Url("/to-file"), 1000);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable) << r.status();
}

TEST_F(HttpFetcherTest, TruncatedBodyIsUnavailable) {
  auto fetcher = MakeFetcher();
  // Content-Length: 100, then 5 bytes and the connection closes.
  absl::StatusOr<HttpResponse> r = fetcher->Get(server_.Url("/truncated"), 1000);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable) << r.status();
}

TEST_F(HttpFetcherTest, UnreadableCaFileIsReportedByTheRequest) {
  HttpFetcherOptions options;
  options.ca_file = "/nonexistent/infratrail-test-ca.pem";
  auto fetcher = MakeFetcher(options);
  // The TLS set-up fails on the CA file once connected, before the
  // handshake, so the peer needs only to accept the TCP connection. (Not the
  // MHD server: libmicrohttpd 0.9.75 sometimes crashes stopping a daemon
  // whose connection closed before sending anything.)
  SilentListener listener;
  ASSERT_TRUE(listener.Listen());
  const std::string url = absl::StrCat("https://127.0.0.1:", listener.port(), "/hello");
  absl::StatusOr<HttpResponse> r = fetcher->Get(url, 1000);
  ASSERT_EQ(r.status().code(), absl::StatusCode::kUnavailable) << r.status();
  EXPECT_THAT(r.status().message(), HasSubstr(options.ca_file));
}

TEST_F(HttpFetcherTest, GetManyReturnsBodiesInOrderOverReusedConnections) {
  HttpFetcherOptions options;
  options.max_in_flight = 4;
  auto fetcher = MakeFetcher(options);
  std::vector<HttpGet> gets;
  for (int i = 0; i < 50; ++i) gets.push_back({server_.Url(absl::StrCat("/echo/", i)), 100});
  std::vector<absl::StatusOr<HttpResponse>> first = fetcher->GetMany(gets);
  ASSERT_EQ(first.size(), gets.size());
  for (int i = 0; i < 50; ++i) {
    ASSERT_TRUE(first[i].ok()) << i << ": " << first[i].status();
    EXPECT_EQ(first[i]->body, absl::StrCat(i));
  }
  const int connections = server_.connections();
  EXPECT_GE(connections, 1);
  EXPECT_LE(connections, options.max_in_flight);

  std::vector<absl::StatusOr<HttpResponse>> second = fetcher->GetMany(gets);
  ASSERT_EQ(second.size(), gets.size());
  for (int i = 0; i < 50; ++i) {
    ASSERT_TRUE(second[i].ok()) << i << ": " << second[i].status();
    EXPECT_EQ(second[i]->body, absl::StrCat(i));
  }
  EXPECT_EQ(server_.connections(), connections);
}

TEST_F(HttpFetcherTest, SingleGetsDoNotShrinkTheConnectionCache) {
  HttpFetcherOptions options;
  options.max_in_flight = 8;
  auto fetcher = MakeFetcher(options);
  std::vector<HttpGet> gets;
  for (int i = 0; i < 50; ++i) gets.push_back({server_.Url(absl::StrCat("/echo/", i)), 100});
  for (const absl::StatusOr<HttpResponse>& r : fetcher->GetMany(gets)) ASSERT_TRUE(r.ok());
  const int connections = server_.connections();
  EXPECT_LE(connections, options.max_in_flight);
  // curl's default cache holds 4 connections per attached handle: each of
  // these would close one of the 8, and the next GetMany reopen it.
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(fetcher->Get(server_.Url("/hello"), 100).ok());
  for (const absl::StatusOr<HttpResponse>& r : fetcher->GetMany(gets)) ASSERT_TRUE(r.ok());
  EXPECT_EQ(server_.connections(), connections);
}

TEST_F(HttpFetcherTest, SequentialCallsReuseOneConnection) {
  auto fetcher = MakeFetcher();
  ASSERT_TRUE(fetcher->Get(server_.Url("/hello"), 100).ok());
  ASSERT_TRUE(fetcher->Get(server_.Url("/missing"), 100).ok());
  ASSERT_TRUE(fetcher->Post(server_.Url("/post"), "{}", "application/json", 100).ok());
  ASSERT_TRUE(fetcher->GetMany({{server_.Url("/hello"), 100}})[0].ok());
  EXPECT_EQ(server_.connections(), 1);
}

TEST_F(HttpFetcherTest, GetManyKeepsEachRequestsOutcomeInPlace) {
  SilentListener closed;
  const int port = closed.port();
  closed.Close();
  auto fetcher = MakeFetcher();
  const std::vector<HttpGet> gets = {
      {server_.Url("/hello"), 100},   {absl::StrCat("http://127.0.0.1:", port, "/x"), 100},
      {server_.Url("/missing"), 100}, {server_.Url("/bytes/1000"), 10},
      {"file:///etc/hostname", 100},  {server_.Url("/echo/last"), 100},
  };
  std::vector<absl::StatusOr<HttpResponse>> r = fetcher->GetMany(gets);
  ASSERT_EQ(r.size(), gets.size());
  ASSERT_TRUE(r[0].ok()) << r[0].status();
  EXPECT_EQ(r[0]->body, "hello");
  EXPECT_EQ(r[1].status().code(), absl::StatusCode::kUnavailable) << r[1].status();
  ASSERT_TRUE(r[2].ok()) << r[2].status();
  EXPECT_EQ(r[2]->status, 404);
  EXPECT_EQ(r[3].status().code(), absl::StatusCode::kResourceExhausted) << r[3].status();
  EXPECT_EQ(r[4].status().code(), absl::StatusCode::kInvalidArgument) << r[4].status();
  ASSERT_TRUE(r[5].ok()) << r[5].status();
  EXPECT_EQ(r[5]->body, "last");
}

// Each outcome, success or error, is handed to the callback once, before
// GetMany returns, as the result it then returns.
TEST_F(HttpFetcherTest, GetManyHandsEachOutcomeToTheCallbackOnce) {
  SilentListener closed;
  const int port = closed.port();
  closed.Close();
  auto fetcher = MakeFetcher();
  std::vector<HttpGet> gets = {
      {server_.Url("/hello"), 100},
      {absl::StrCat("http://127.0.0.1:", port, "/x"), 100},
      {"file:///etc/hostname", 100},
  };
  for (int i = 0; i < 20; ++i) gets.push_back({server_.Url(absl::StrCat("/echo/", i)), 100});
  std::vector<int> calls(gets.size(), 0);
  std::vector<std::string> seen(gets.size());
  std::vector<absl::StatusOr<HttpResponse>> r =
      fetcher->GetMany(gets, [&](size_t i, absl::StatusOr<HttpResponse>& got) {
        ASSERT_LT(i, gets.size());
        ++calls[i];
        seen[i] = got.ok() ? got->body : std::string(got.status().message());
      });
  ASSERT_EQ(r.size(), gets.size());
  for (size_t i = 0; i < gets.size(); ++i) {
    EXPECT_EQ(calls[i], 1) << i;
    EXPECT_EQ(seen[i], r[i].ok() ? r[i]->body : std::string(r[i].status().message())) << i;
  }
  EXPECT_EQ(seen[0], "hello");
  EXPECT_EQ(r[1].status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(r[2].status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(seen[22], "19");
}

TEST_F(HttpFetcherTest, GetManyOfNothingIsEmpty) {
  auto fetcher = MakeFetcher();
  EXPECT_TRUE(fetcher->GetMany({}).empty());
}

TEST_F(HttpFetcherTest, PostSendsBodyAndContentType) {
  auto fetcher = MakeFetcher();
  // Binary, with NULs, and past curl's 1 KiB "Expect: 100-continue" threshold.
  std::string body;
  for (int i = 0; i < 5000; ++i) body.push_back(static_cast<char>(i % 256));
  absl::StatusOr<HttpResponse> r =
      fetcher->Post(server_.Url("/hook"), body, "application/x-test", 100000);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 201);
  EXPECT_EQ(r->content_type, "text/plain");
  EXPECT_EQ(r->body, absl::StrCat("POST\napplication/x-test\n", body));
}

TEST_F(HttpFetcherTest, PostDoesNotFollowRedirects) {
  auto fetcher = MakeFetcher();
  absl::StatusOr<HttpResponse> r = fetcher->Post(server_.Url("/redirect"), "x", "text/plain", 100);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 302);
}

TEST_F(HttpFetcherTest, PostRefusesLineBreakInContentType) {
  auto fetcher = MakeFetcher();
  absl::StatusOr<HttpResponse> r =
      fetcher->Post(server_.Url("/hook"), "x", "text/plain\r\nX-Evil: 1", 100);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument) << r.status();
  EXPECT_EQ(server_.connections(), 0);
}

TEST(HttpFetcherCreate, RefusesInvalidOptions) {
  HttpFetcherOptions options;
  options.max_in_flight = 0;
  EXPECT_EQ(HttpFetcher::Create(options).status().code(), absl::StatusCode::kInvalidArgument);
  options = {};
  options.max_redirects = -1;
  EXPECT_EQ(HttpFetcher::Create(options).status().code(), absl::StatusCode::kInvalidArgument);
  options = {};
  options.timeout = std::chrono::milliseconds(-1);
  EXPECT_EQ(HttpFetcher::Create(options).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace infratrail
