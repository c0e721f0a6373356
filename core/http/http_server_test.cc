// The HTTP transport on its own, with a test handler: request bodies,
// deferred answers, Stop with answers pending, the response headers, the
// connection caps and the deadlines; and all of it again over HTTPS.
#include "core/http/http_server.h"

#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <deque>
#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "core/http/http_fetcher.h"
#include "core/testing/http_test_client.h"
#include "core/testing/tls_test_util.h"
#include "gtest/gtest.h"
#include "prometheus/counter.h"
#include "prometheus/gauge.h"
#include "prometheus/registry.h"

namespace infratrail {
namespace {

using Connection = testutil::HttpTestConnection;
using Reply = testutil::HttpTestReply;

constexpr absl::string_view kText = "text/plain; charset=utf-8";
constexpr absl::string_view kTlogSize = "text/x.tlog.size";

HttpReply Text(int status, std::string text, absl::string_view content_type = kText) {
  HttpReply r;
  r.status = status;
  r.text = std::move(text);
  r.content_type = content_type;
  return r;
}

// Responders a test holds to answer later, from its own thread.
class Held {
 public:
  void Put(HttpResponder respond) {
    absl::MutexLock l(&mu_);
    held_.push_back(std::move(respond));
  }
  // The oldest held responder; null if none arrives within `timeout`.
  HttpResponder Take(absl::Duration timeout = absl::Seconds(10)) {
    absl::MutexLock l(&mu_);
    auto any = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return !held_.empty(); };
    if (!mu_.AwaitWithTimeout(absl::Condition(&any), timeout)) return nullptr;
    HttpResponder r = std::move(held_.front());
    held_.pop_front();
    return r;
  }

 private:
  absl::Mutex mu_;
  std::deque<HttpResponder> held_ ABSL_GUARDED_BY(mu_);
};

// Routes by URL:
//   /hello          200 "hello\n" at once
//   /echo           the request body back, Content-Type text/x.tlog.size
//   /body           a shared HttpBody with an ETag; If-None-Match "\"v1\"" is 304
//   /big            a 4 MiB shared HttpBody
//   /busy           503, Retry-After 7, Allow
//   /hold           held for the test to answer (held_)
//   /thread         answered by another thread, racing Handle's return
//   /drop           the responder dropped unanswered
//   anything else   200 with the URL as received
class TestHandler : public HttpHandler {
 public:
  TestHandler() {
    auto body = std::make_shared<HttpBody>();
    body->bytes = "shared body bytes";
    body->etag = "\"v1\"";
    body_ = body;
    auto big = std::make_shared<HttpBody>();
    big->bytes.assign(size_t{4} << 20, 'b');
    big_ = big;
  }
  ~TestHandler() override {
    for (std::thread& t : threads_) t.join();
  }

  void Handle(const HttpRequest& request, HttpResponder respond) override {
    {
      absl::MutexLock l(&mu_);
      ++calls_;
      last_body_ = std::string(request.body);
      last_content_type_ = std::string(request.content_type);
      last_peer_ = std::string(request.peer);
    }
    const absl::string_view url = request.url;
    if (url == "/hello") {
      std::move(respond)(Text(200, "hello\n"));
    } else if (url == "/echo") {
      std::move(respond)(Text(200, std::string(request.body), kTlogSize));
    } else if (url == "/body" || url == "/big") {
      HttpReply r;
      r.body = url == "/big" ? big_ : body_;
      r.status = request.if_none_match == "\"v1\"" ? 304 : 200;
      r.content_type = "application/octet-stream";
      r.cache_control = "public, max-age=60";
      std::move(respond)(std::move(r));
    } else if (url == "/own") {
      HttpReply r = Text(200, "own pages only\n");
      r.any_origin = false;
      std::move(respond)(std::move(r));
    } else if (url == "/busy") {
      HttpReply r = Text(503, "busy\n");
      r.retry_after_s = 7;
      r.allow = "GET, POST";
      std::move(respond)(std::move(r));
    } else if (url == "/hold") {
      held_.Put(std::move(respond));
    } else if (url == "/thread") {
      absl::MutexLock l(&mu_);
      threads_.emplace_back(
          [r = std::move(respond)]() mutable { std::move(r)(Text(200, "from a thread\n")); });
    } else if (url == "/drop") {
      // Dropped here, unanswered.
    } else if (url == "/query") {
      std::move(respond)(Text(200, std::string(request.query)));
    } else if (url == "/page") {
      HttpReply r = Text(200, "<p>page</p>");
      r.content_security_policy = "default-src 'self'";
      std::move(respond)(std::move(r));
    } else {
      std::move(respond)(Text(200, std::string(url)));
    }
  }

  int calls() const {
    absl::MutexLock l(&mu_);
    return calls_;
  }
  std::string last_body() const {
    absl::MutexLock l(&mu_);
    return last_body_;
  }
  std::string last_content_type() const {
    absl::MutexLock l(&mu_);
    return last_content_type_;
  }
  std::string last_peer() const {
    absl::MutexLock l(&mu_);
    return last_peer_;
  }

  Held held_;
  std::shared_ptr<const HttpBody> body_;
  std::shared_ptr<const HttpBody> big_;

 private:
  mutable absl::Mutex mu_;
  int calls_ ABSL_GUARDED_BY(mu_) = 0;
  std::string last_body_ ABSL_GUARDED_BY(mu_);
  std::string last_content_type_ ABSL_GUARDED_BY(mu_);
  std::string last_peer_ ABSL_GUARDED_BY(mu_);
  std::vector<std::thread> threads_ ABSL_GUARDED_BY(mu_);
};

prometheus::Counter& NewCounter(prometheus::Registry& r, const std::string& name) {
  return prometheus::BuildCounter().Name(name).Register(r).Add({});
}

class HttpServerTest : public ::testing::Test {
 protected:
  HttpServerMetrics Metrics() {
    return HttpServerMetrics{.open_connections = &open_connections_,
                             .refused_total_cap = &refused_total_cap_,
                             .refused_per_address = &refused_per_address_,
                             .cut_head = &cut_head_,
                             .cut_send = &cut_send_,
                             .body_too_large = &body_too_large_};
  }

  std::unique_ptr<HttpServer> StartServer(const std::string& address,
                                          HttpServerOptions options = {}) {
    options.address = address;
    absl::StatusOr<std::unique_ptr<HttpServer>> s =
        HttpServer::Start(options, &handler_, Metrics());
    EXPECT_TRUE(s.ok()) << s.status();
    return s.ok() ? *std::move(s) : nullptr;
  }

  // Sends a request the handler holds; returns its responder (null if the
  // request could not be sent or never reached the handler).
  HttpResponder Hold(Connection& c) {
    if (!c.Write("GET /hold HTTP/1.1\r\nHost: t\r\n\r\n")) return nullptr;
    return handler_.held_.Take();
  }

  // Declared before the handler: a test's server stops before the
  // handler (and its threads) go.
  prometheus::Registry registry_;
  prometheus::Gauge& open_connections_ =
      prometheus::BuildGauge().Name("open").Register(registry_).Add({});
  prometheus::Counter& refused_total_cap_ = NewCounter(registry_, "refused_total");
  prometheus::Counter& refused_per_address_ = NewCounter(registry_, "refused_per_address");
  prometheus::Counter& cut_head_ = NewCounter(registry_, "cut_head");
  prometheus::Counter& cut_send_ = NewCounter(registry_, "cut_send");
  prometheus::Counter& body_too_large_ = NewCounter(registry_, "too_large");
  TestHandler handler_;
};

TEST_F(HttpServerTest, APostBodyArrivesIntactWithItsContentTypeAndPeer) {
  HttpServerOptions options;
  options.max_body_bytes = 128 << 10;
  std::unique_ptr<HttpServer> server = StartServer("127.0.0.1:0", options);
  ASSERT_NE(server, nullptr);
  Connection c(server->port());
  ASSERT_TRUE(c.ok());
  std::string binary;
  for (int i = 0; i < 64 << 10; ++i) binary.push_back(static_cast<char>((i * 7 + i / 256) & 0xff));
  binary[10] = '\0';
  binary += "\r\n\r\n";
  Reply r = c.Send("POST", "/echo", "Content-Type: application/octet-stream\r\n", binary);
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, binary);
  EXPECT_EQ(handler_.last_body(), binary);
  EXPECT_EQ(handler_.last_content_type(), "application/octet-stream");
  EXPECT_EQ(handler_.last_peer(), std::string("\x7f\x00\x00\x01", 4));
  EXPECT_EQ(r.headers["content-type"], "text/x.tlog.size");
  // A body of exactly the cap is accepted.
  const std::string at_cap(options.max_body_bytes, 'c');
  EXPECT_EQ(c.Send("POST", "/echo", "", at_cap).body, at_cap);
}

TEST_F(HttpServerTest, AChunkedUploadIsDeliveredWhole) {
  HttpServerOptions options;
  options.max_body_bytes = 1000;
  std::unique_ptr<HttpServer> server = StartServer("127.0.0.1:0", options);
  ASSERT_NE(server, nullptr);
  Connection c(server->port());
  ASSERT_TRUE(
      c.Write("POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
              "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"));
  Reply r = c.Read();
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "hello world");
}

TEST_F(HttpServerTest, PostsShareOneKeptAliveConnectionAlsoAfterADeferredAnswer) {
  HttpServerOptions options;
  options.max_body_bytes = 1000;
  std::unique_ptr<HttpServer> server = StartServer("127.0.0.1:0", options);
  ASSERT_NE(server, nullptr);
  Connection c(server->port());
  EXPECT_EQ(c.Send("POST", "/echo", "", "first").body, "first");
  EXPECT_EQ(c.Send("POST", "/echo", "", "second").body, "second");
  ASSERT_TRUE(c.Write("POST /hold HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\n\r\nwait"));
  HttpResponder respond = handler_.held_.Take();
  ASSERT_NE(respond, nullptr);
  std::move(respond)(Text(200, "later\n", kTlogSize));
  Reply later = c.Read();
  EXPECT_EQ(later.status, 200);
  EXPECT_EQ(later.body, "later\n");
  EXPECT_EQ(later.headers["content-type"], "text/x.tlog.size");
  EXPECT_EQ(c.Send("POST", "/echo", "", "third").body, "third");
  EXPECT_EQ(server->connections(), 1u);
  EXPECT_EQ(c.Leftover(), "");
}

TEST_F(HttpServerTest, ADeclaredBodyOverTheCapIs413WithoutTheHandler) {
  HttpServerOptions options;
  options.max_body_bytes = 100;
  std::unique_ptr<HttpServer> server = StartServer("127.0.0.1:0", options);
  ASSERT_NE(server, nullptr);
  // Only the head is sent: the answer comes before any of the body.
  Connection c(server->port());
  ASSERT_TRUE(c.Write("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 101\r\n\r\n"));
  Reply r = c.Read("POST");
  EXPECT_EQ(r.status, 413);
  EXPECT_TRUE(absl::StrContains(r.body, "at most 100 bytes")) << r.body;
  EXPECT_EQ(r.headers["content-type"], kText);
  EXPECT_EQ(r.headers["connection"], "close");
  EXPECT_TRUE(c.ClosedByServer(absl::Seconds(10)));
  // A huge declaration is refused the same way, nothing reserved for it.
  Connection huge(server->port());
  ASSERT_TRUE(
      huge.Write("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 1000000000000\r\n\r\n"));
  EXPECT_EQ(huge.Read("POST").status, 413);
  EXPECT_EQ(handler_.calls(), 0);
  EXPECT_EQ(body_too_large_.Value(), 2);
}

TEST_F(HttpServerTest, AChunkedBodyPassingTheCapIs413WithoutTheHandler) {
  HttpServerOptions options;
  options.max_body_bytes = 10;
  std::unique_ptr<HttpServer> server = StartServer("127.0.0.1:0", options);
  ASSERT_NE(server, nullptr);
  Connection c(server->port());
  ASSERT_TRUE(
      c.Write("POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
              "8\r\n12345678\r\n8\r\n12345678\r\n8\r\n12345678\r\n0\r\n\r\n"));
  Reply r = c.Read("POST");
  EXPECT_EQ(r.status, 413);
  EXPECT_TRUE(c.ClosedByServer(absl::Seconds(10)));
  EXPECT_EQ(handler_.calls(), 0);
  EXPECT_EQ(body_too_large_.Value(), 1);
}

TEST_F(HttpServerTest, WithNoBodyAllowedAnyBodyIs413AndAnEmptyOneIsFine) {
  std::unique_ptr<HttpServer> server = StartServer("127.0.0.1:0");  // max_body_bytes 0
  ASSERT_NE(server, nullptr);
  Connection c(server->port());
  EXPECT_EQ(c.Send("POST", "/hello", "Content-Length: 0\r\n").status, 200);
  EXPECT_EQ(c.Send("POST", "/hello").status, 200);
  EXPECT_EQ(c.Send("GET", "/hello", "", "x").status, 413);
  EXPECT_TRUE(c.ClosedByServer(absl::Seconds(10)));
  EXPECT_EQ(handler_.calls(), 2);
}

// A parked request holds no polling thread: with one, another connection
// is served while the first waits for its answer.
TEST_F(HttpServerTest, ADeferredAnswerArrivesAndOthersAreServedMeanwhile) {
  HttpServerOptions options;
  options.threads = 1;
  std::unique_ptr<HttpServer> server = StartServer("127.0.0.1:0", options);
  ASSERT_NE(server, nullptr);
  Connection pending(server->port());
  HttpResponder respond = Hold(pending);
  ASSERT_NE(respond, nullptr);
  for (int i = 0; i < 3; ++i) {
    Connection other(server->port());
    EXPECT_EQ(other.Send("GET", "/hello").status, 200) << i;
  }
  EXPECT_TRUE(pending.Quiet(absl::Milliseconds(20)));  // still unanswered
  std::thread answerer(
      [r = std::move(respond)]() mutable { std::move(r)(Text(200, "answered later\n")); });
  Reply r = pending.Read();
  answerer.join();
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "answered later\n");
  EXPECT_EQ(pending.Send("GET", "/hello").status, 200);
}

// The responder may run on another thread before, while or after the
// transport parks the request; every answer must arrive.
TEST_F(HttpServerTest, AnswersRacingTheParkingAllArrive) {
  HttpServerOptions options;
  options.threads = 1;
  std::unique_ptr<HttpServer> server = StartServer("127.0.0.1:0", options);
  ASSERT_NE(server, nullptr);
  Connection c(server->port());
  for (int i = 0; i < 200; ++i) {
    Reply r = c.Send("GET", "/thread");
    ASSERT_EQ(r.status, 200) << i;
    ASSERT_EQ(r.body, "from a thread\n") << i;
  }
}

TEST_F(HttpServerTest, ADroppedResponderAnswers500) {
  std::unique_ptr<HttpServer> server = StartServer("127.0.0.1:0");
  ASSERT_NE(server, nullptr);
  Connection c(server->port());
  EXPECT_EQ(c.Send("GET", "/drop").status, 500);
  EXPECT_EQ(c.Send("GET", "/hello").status, 200);
}

// A handler that never answers holds the connection until its head
// deadline, not forever; its responder is then a no-op.
TEST_F(HttpServerTest, AnUnansweredRequestIsCutAtItsHeadDeadline) {
  HttpServerOptions options;
  options.head_timeout = absl::Milliseconds(300);
  std::unique_ptr<HttpServer> server = StartServer("127.0.0.1:0", options);
  ASSERT_NE(server, nullptr);
  Connection c(server->port());
  HttpResponder respond = Hold(c);
  ASSERT_NE(respond, nullptr);
  EXPECT_TRUE(c.ClosedByServer(absl::Seconds(20)));
  EXPECT_TRUE(server->WaitForConnectionsAtMost(0, absl::Seconds(10)));
  EXPECT_EQ(cut_head_.Value(), 1);
  std::move(respond)(Text(200, "too late\n"));
  Connection next(server->port());
  EXPECT_EQ(next.Send("GET", "/hello").status, 200);
}

TEST_F(HttpServerTest, StopWithAnAnswerPendingNeitherHangsNorCrashes) {
  std::unique_ptr<HttpServer> server = StartServer("127.0.0.1:0");
  ASSERT_NE(server, nullptr);
  Connection c(server->port());
  HttpResponder respond = Hold(c);
  ASSERT_NE(respond, nullptr);
  const absl::Time start = absl::Now();
  server->Stop();
  EXPECT_LT(absl::Now() - start, HttpServer::kStopGrace + absl::Seconds(5));
  EXPECT_TRUE(c.ClosedByServer(absl::Seconds(10)));
  std::move(respond)(Text(200, "after Stop\n"));  // a no-op
  server.reset();
}

// Stop waits for an answer given within the grace, and closes new clients
// at once meanwhile.
TEST_F(HttpServerTest, StopWaitsForAnAnswerGivenWithinTheGraceAndClosesNewClients) {
  std::unique_ptr<HttpServer> server = StartServer("127.0.0.1:0");
  ASSERT_NE(server, nullptr);
  Connection c(server->port());
  HttpResponder respond = Hold(c);
  ASSERT_NE(respond, nullptr);
  std::thread stopper([&] { server->Stop(); });
  ASSERT_TRUE(server->WaitForStopping(absl::Seconds(10)));
  Connection late(server->port());
  if (late.ok()) {  // accepted by the kernel, then closed unserved
    EXPECT_TRUE(late.ClosedByServer(absl::Seconds(10)));
  }
  EXPECT_EQ(refused_per_address_.Value(), 0);  // not counted as a refusal
  std::move(respond)(Text(200, "answered\n"));
  stopper.join();
  Reply r = c.Read();
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "answered\n");
}

// An answer given before Stop is sent in full, not cut off when Stop finds
// nothing parked any more: the webhook answers its last POSTs this way.
TEST_F(HttpServerTest, StopLetsAnAnswerAlreadyGivenBeSentInFull) {
  std::unique_ptr<HttpServer> server = StartServer("127.0.0.1:0");
  ASSERT_NE(server, nullptr);
  Connection c(server->port());
  HttpResponder respond = Hold(c);
  ASSERT_NE(respond, nullptr);
  const std::string big(32 << 20, 'a');  // more than the sockets buffer
  std::move(respond)(Text(200, big));
  std::thread stopper([&] { server->Stop(); });
  Reply r = c.Read();
  stopper.join();
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body.size(), big.size());
}

TEST_F(HttpServerTest, RepliesCarryTheirHeadersAndBodiesAsSet) {
  std::unique_ptr<HttpServer> server = StartServer("127.0.0.1:0");
  ASSERT_NE(server, nullptr);
  Connection c(server->port());
  Reply body = c.Send("GET", "/body");
  EXPECT_EQ(body.status, 200);
  EXPECT_EQ(body.body, "shared body bytes");
  EXPECT_EQ(body.headers["etag"], "\"v1\"");
  EXPECT_EQ(body.headers["content-type"], "application/octet-stream");
  EXPECT_EQ(body.headers["cache-control"], "public, max-age=60");
  EXPECT_EQ(body.headers["x-content-type-options"], "nosniff");
  EXPECT_EQ(body.headers["access-control-allow-origin"], "*");
  Reply head = c.Send("HEAD", "/body");
  EXPECT_EQ(head.status, 200);
  EXPECT_EQ(head.headers["content-length"], "17");
  Reply not_modified = c.Send("GET", "/body", "If-None-Match: \"v1\"\r\n");
  EXPECT_EQ(not_modified.status, 304);
  EXPECT_EQ(not_modified.headers["etag"], "\"v1\"");
  EXPECT_EQ(not_modified.headers.count("content-type"), 0u);
  Reply busy = c.Send("GET", "/busy");
  EXPECT_EQ(busy.status, 503);
  EXPECT_EQ(busy.headers["retry-after"], "7");
  EXPECT_EQ(busy.headers["allow"], "GET, POST");
  EXPECT_EQ(busy.headers["content-type"], kText);
  EXPECT_EQ(busy.headers.count("etag"), 0u);
  Reply own = c.Send("GET", "/own");
  EXPECT_EQ(own.status, 200);
  EXPECT_EQ(own.headers.count("access-control-allow-origin"), 0u);
  Reply text_head = c.Send("HEAD", "/hello");
  EXPECT_EQ(text_head.status, 200);
  EXPECT_EQ(text_head.headers["content-length"], "6");
  // Nothing stray on the connection: HEAD and 304 sent no body.
  EXPECT_EQ(c.Send("GET", "/hello").body, "hello\n");
  EXPECT_EQ(c.Leftover(), "");
}

// libmicrohttpd percent-decodes URLs by default, which gave one resource
// several spellings (and cut a URL at an encoded NUL).
TEST_F(HttpServerTest, UrlsArriveExactlyAsSent) {
  std::unique_ptr<HttpServer> server = StartServer("127.0.0.1:0");
  ASSERT_NE(server, nullptr);
  Connection c(server->port());
  for (const char* url : {"/a/0%300", "/a/000%00.p/1", "/%63heckpoint", "/x%2Fy"}) {
    EXPECT_EQ(c.Send("GET", url).body, url);
  }
  EXPECT_EQ(c.Send("GET", "/q?x=%41").body, "/q");  // the query is not part of the URL
}

TEST_F(HttpServerTest, TheQueryArrivesAsSentWithoutEmptyArguments) {
  std::unique_ptr<HttpServer> server = StartServer("127.0.0.1:0");
  ASSERT_NE(server, nullptr);
  Connection c(server->port());
  EXPECT_EQ(c.Send("GET", "/query").body, "");
  EXPECT_EQ(c.Send("GET", "/query?").body, "");
  EXPECT_EQ(c.Send("GET", "/query?a=%3Cb%3E&&flag&c=1+2&d=").body, "a=%3Cb%3E&flag&c=1+2&d=");
}

TEST_F(HttpServerTest, APageCarriesItsContentSecurityPolicyAndNoOtherReplyDoes) {
  std::unique_ptr<HttpServer> server = StartServer("127.0.0.1:0");
  ASSERT_NE(server, nullptr);
  Connection c(server->port());
  Reply page = c.Send("GET", "/page");
  EXPECT_EQ(page.headers["content-security-policy"], "default-src 'self'");
  EXPECT_EQ(page.headers["referrer-policy"], "no-referrer");
  EXPECT_EQ(page.headers["x-frame-options"], "DENY");
  Reply other = c.Send("GET", "/hello");
  EXPECT_EQ(other.headers.count("content-security-policy"), 0u);
  EXPECT_EQ(other.headers.count("x-frame-options"), 0u);
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
    ASSERT_EQ(held.back()->Send("GET", "/hello").status, 200);
    ASSERT_TRUE(held.back()->Write("GET /hello HTTP/1.1\r\nHost: slow\r\n"));
  }
  for (int i = 0; i < 20; ++i) {
    Connection more(server->port());
    ASSERT_TRUE(more.ok());
    EXPECT_TRUE(more.ClosedByServer(absl::Seconds(10))) << "connection " << i;
  }
  EXPECT_EQ(refused_per_address_.Value(), 20);
  EXPECT_EQ(server->connections(), 4u);

  Connection other(server->port(), AF_INET, "127.0.0.2");
  ASSERT_TRUE(other.ok());
  EXPECT_EQ(other.Send("GET", "/hello").status, 200);
  // The held ones were not disturbed.
  for (auto& c : held) {
    ASSERT_TRUE(c->Write("\r\n"));
    Connection& conn = *c;
    EXPECT_EQ(conn.Send("GET", "/hello").status, 200);
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
  ASSERT_TRUE(c.Write("GET /hello HTTP/1.1\r\nHost: slow\r\nX-Slow: "));
  // One byte every 50 ms, for at most 30 s, until the server closes.
  bool closed = false;
  int sent = 0;
  for (; sent < 600 && !closed; ++sent) {
    if (!c.Write("a")) break;
    closed = c.ClosedByServer(absl::Milliseconds(50));
  }
  EXPECT_TRUE(closed || sent < 600) << "still open after " << sent << " bytes";
  EXPECT_GT(sent, 1);  // bytes kept arriving while the deadline ran
  EXPECT_EQ(cut_head_.Value(), 1);
  EXPECT_TRUE(server->WaitForConnectionsAtMost(0, absl::Seconds(10)));
  // The server is still there for everyone else.
  Connection next(server->port());
  EXPECT_EQ(next.Send("GET", "/hello").status, 200);
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
    ASSERT_EQ(flood.back()->Send("GET", "/hello").status, 200);
  }
  for (int i = 0; i < 12; ++i) {
    Connection more(server->port(), AF_INET, "127.0.0.3");
    ASSERT_TRUE(more.ok());
    EXPECT_TRUE(more.ClosedByServer(absl::Seconds(10))) << "connection " << i;
  }
  EXPECT_EQ(refused_total_cap_.Value(), 12);
  EXPECT_EQ(server->connections(), 8u);
  EXPECT_EQ(open_connections_.Value(), 8);

  flood.clear();  // the flood ends
  ASSERT_TRUE(server->WaitForConnectionsAtMost(0, absl::Seconds(10)));
  for (int i = 0; i < 8; ++i) {
    flood.push_back(std::make_unique<Connection>(server->port()));
    ASSERT_EQ(flood.back()->Send("GET", "/hello").status, 200) << i;
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
  ASSERT_EQ(c.Send("GET", "/hello").status, 200);
  EXPECT_TRUE(c.ClosedByServer(absl::Seconds(20)));
}

TEST_F(HttpServerTest, ListensOnIpv6Loopback) {
  const int probe = socket(AF_INET6, SOCK_STREAM, 0);
  if (probe < 0) GTEST_SKIP() << "no IPv6 on this machine";
  close(probe);
  HttpServerOptions options;
  options.address = "[::1]:0";
  absl::StatusOr<std::unique_ptr<HttpServer>> s = HttpServer::Start(options, &handler_, Metrics());
  if (!s.ok()) GTEST_SKIP() << "cannot bind [::1]: " << s.status();
  Connection c((*s)->port(), AF_INET6);
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c.Send("GET", "/hello").status, 200);
}

TEST_F(HttpServerTest, BadAddressesAreRefusedNamingTheFlag) {
  for (const char* address :
       {"nonsense", "127.0.0.1", "127.0.0.1:99999", "127.0.0.1:x", "example.com:80", "[::1:80"}) {
    HttpServerOptions options;
    options.address = address;
    absl::StatusOr<std::unique_ptr<HttpServer>> s =
        HttpServer::Start(options, &handler_, Metrics());
    EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument) << address;
    EXPECT_NE(s.status().message().find("--http-addr"), std::string::npos) << s.status();
  }
  HttpServerOptions named;
  named.address = "nonsense";
  named.flag_name = "--listen";
  absl::StatusOr<std::unique_ptr<HttpServer>> listen = HttpServer::Start(named, &handler_, {});
  EXPECT_TRUE(absl::StartsWith(listen.status().message(), "--listen nonsense")) << listen.status();
  std::unique_ptr<HttpServer> first = StartServer("127.0.0.1:0");
  ASSERT_NE(first, nullptr);
  HttpServerOptions options;
  options.address = absl::StrCat("127.0.0.1:", first->port());
  absl::StatusOr<std::unique_ptr<HttpServer>> second =
      HttpServer::Start(options, &handler_, Metrics());
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

TEST_F(HttpServerTest, ASlowReaderIsCutOffAtTheSendDeadlineAndTheBodyReleased) {
  HttpServerOptions options;
  options.send_timeout = absl::Milliseconds(300);
  options.idle_timeout = absl::Seconds(120);  // never the one that fires here
  std::unique_ptr<HttpServer> server = StartServer("127.0.0.1:0", options);
  ASSERT_NE(server, nullptr);
  // 4 MiB: more than loopback socket buffers take from a client that does
  // not read.
  Connection stalled(server->port(), AF_INET, nullptr, 4096);
  ASSERT_TRUE(stalled.Write("GET /big HTTP/1.1\r\nHost: x\r\n\r\n"));
  ASSERT_NE(stalled.ReadHead().find("200"), std::string::npos);
  EXPECT_GT(handler_.big_.use_count(), 1);  // sent from the handler's copy
  EXPECT_TRUE(server->WaitForConnectionsAtMost(0, absl::Seconds(20)));
  EXPECT_EQ(cut_send_.Value(), 1);
  EXPECT_EQ(handler_.big_.use_count(), 1);
  EXPECT_TRUE(stalled.ClosedByServer(absl::Seconds(10)));
}

// HTTPS: the same transport behind a certificate made for the test.
class HttpServerTlsTest : public HttpServerTest {
 protected:
  void SetUp() override {
    cert_ = testutil::MakeSelfSignedCert(dir_.path(), "server");
    ASSERT_FALSE(cert_.cert_file.empty()) << "could not make a test certificate";
  }

  std::unique_ptr<HttpServer> StartTlsServer(HttpServerOptions options = {}) {
    options.tls_cert_file = cert_.cert_file;
    options.tls_key_file = cert_.key_file;
    return StartServer("127.0.0.1:0", options);
  }

  // A client that trusts only the test certificate.
  std::unique_ptr<HttpFetcher> Fetcher() {
    HttpFetcherOptions options;
    options.ca_file = cert_.cert_file;
    options.timeout = std::chrono::seconds(20);
    absl::StatusOr<std::unique_ptr<HttpFetcher>> f = HttpFetcher::Create(options);
    EXPECT_TRUE(f.ok()) << f.status();
    return f.ok() ? *std::move(f) : nullptr;
  }

  static std::string Url(const HttpServer& server, absl::string_view path) {
    return absl::StrCat("https://127.0.0.1:", server.port(), path);
  }

  absl::StatusOr<std::unique_ptr<HttpServer>> TryStart(HttpServerOptions options) {
    options.address = "127.0.0.1:0";
    return HttpServer::Start(options, &handler_, Metrics());
  }

  std::string WriteFile(const std::string& name, absl::string_view text) {
    const std::string path = absl::StrCat(dir_.path(), "/", name);
    std::ofstream(path) << text;
    return path;
  }

  testutil::TlsTempDir dir_;
  testutil::SelfSignedCert cert_;
};

TEST_F(HttpServerTlsTest, AGetIsServedOverHttpsCheckedAgainstTheCertificate) {
  std::unique_ptr<HttpServer> server = StartTlsServer();
  ASSERT_NE(server, nullptr);
  std::unique_ptr<HttpFetcher> fetcher = Fetcher();
  ASSERT_NE(fetcher, nullptr);
  absl::StatusOr<HttpResponse> r = fetcher->Get(Url(*server, "/hello"), 1 << 20);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "hello\n");
  // Kept alive: the next request reuses the TLS connection.
  absl::StatusOr<HttpResponse> body = fetcher->Get(Url(*server, "/body"), 1 << 20);
  ASSERT_TRUE(body.ok()) << body.status();
  EXPECT_EQ(body->body, "shared body bytes");
  EXPECT_EQ(server->connections(), 1u);
  // A client that does not trust the certificate gets nowhere.
  HttpFetcherOptions system_cas;
  absl::StatusOr<std::unique_ptr<HttpFetcher>> untrusting = HttpFetcher::Create(system_cas);
  ASSERT_TRUE(untrusting.ok());
  EXPECT_EQ((*untrusting)->Get(Url(*server, "/hello"), 1 << 20).status().code(),
            absl::StatusCode::kUnavailable);
  EXPECT_EQ(handler_.calls(), 2);
}

TEST_F(HttpServerTlsTest, APostBodyArrivesWholeOverHttps) {
  HttpServerOptions options;
  options.max_body_bytes = 256 << 10;
  std::unique_ptr<HttpServer> server = StartTlsServer(options);
  ASSERT_NE(server, nullptr);
  std::unique_ptr<HttpFetcher> fetcher = Fetcher();
  ASSERT_NE(fetcher, nullptr);
  // Larger than a TLS record (16 KiB): the body arrives in many.
  std::string binary;
  for (int i = 0; i < 200 << 10; ++i)
    binary.push_back(static_cast<char>((i * 13 + i / 512) & 0xff));
  absl::StatusOr<HttpResponse> r =
      fetcher->Post(Url(*server, "/echo"), binary, "application/octet-stream", 1 << 20);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, binary);
  EXPECT_EQ(handler_.last_body(), binary);
  EXPECT_EQ(handler_.last_content_type(), "application/octet-stream");
}

// A parked TLS connection holds no polling thread, and resumes with its
// session intact.
TEST_F(HttpServerTlsTest, ADeferredAnswerArrivesOverHttpsAndOthersAreServedMeanwhile) {
  HttpServerOptions options;
  options.threads = 1;
  std::unique_ptr<HttpServer> server = StartTlsServer(options);
  ASSERT_NE(server, nullptr);
  absl::StatusOr<HttpResponse> later = absl::UnknownError("not run");
  std::thread waiting([&] {
    std::unique_ptr<HttpFetcher> fetcher = Fetcher();
    if (fetcher != nullptr) later = fetcher->Get(Url(*server, "/hold"), 1 << 20);
  });
  HttpResponder respond = handler_.held_.Take();
  ASSERT_NE(respond, nullptr);
  std::unique_ptr<HttpFetcher> other = Fetcher();
  ASSERT_NE(other, nullptr);
  absl::StatusOr<HttpResponse> meanwhile = other->Get(Url(*server, "/hello"), 1 << 20);
  ASSERT_TRUE(meanwhile.ok()) << meanwhile.status();
  EXPECT_EQ(meanwhile->status, 200);
  std::move(respond)(Text(200, "answered later\n"));
  waiting.join();
  ASSERT_TRUE(later.ok()) << later.status();
  EXPECT_EQ(later->status, 200);
  EXPECT_EQ(later->body, "answered later\n");
}

TEST_F(HttpServerTlsTest, ADeclaredBodyOverTheCapIs413OverHttpsAndTheConnectionClosed) {
  HttpServerOptions options;
  options.max_body_bytes = 100;
  std::unique_ptr<HttpServer> server = StartTlsServer(options);
  ASSERT_NE(server, nullptr);
  testutil::TlsTestConnection c(server->port(), cert_.cert_file);
  ASSERT_TRUE(c.ok());
  ASSERT_TRUE(c.Write("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 101\r\n\r\n"));
  EXPECT_TRUE(c.ReadUntil("at most 100 bytes", absl::Seconds(10))) << c.received();
  EXPECT_TRUE(absl::StartsWith(c.received(), "HTTP/1.1 413 ")) << c.received();
  EXPECT_TRUE(c.ClosedByServer(absl::Seconds(10)));
  EXPECT_EQ(handler_.calls(), 0);
  EXPECT_EQ(body_too_large_.Value(), 1);
}

// The port speaks only TLS. A plaintext client gets no answer and is
// closed (GnuTLS fails the handshake); one that sends nothing is cut at
// the head deadline, which covers the handshake.
TEST_F(HttpServerTlsTest, APlaintextOrSilentClientIsClosedWithoutAnAnswer) {
  HttpServerOptions options;
  options.head_timeout = absl::Milliseconds(500);
  options.idle_timeout = absl::Seconds(120);  // never the one that fires here
  std::unique_ptr<HttpServer> server = StartTlsServer(options);
  ASSERT_NE(server, nullptr);
  Connection plaintext(server->port());
  ASSERT_TRUE(plaintext.Write("GET /hello HTTP/1.1\r\nHost: t\r\n\r\n"));
  EXPECT_TRUE(plaintext.ClosedByServer(absl::Seconds(20)));
  Connection silent(server->port());
  ASSERT_TRUE(silent.ok());
  EXPECT_TRUE(silent.ClosedByServer(absl::Seconds(20)));
  EXPECT_TRUE(server->WaitForConnectionsAtMost(0, absl::Seconds(10)));
  EXPECT_GE(cut_head_.Value(), 1);
  EXPECT_EQ(handler_.calls(), 0);
  std::unique_ptr<HttpFetcher> fetcher = Fetcher();
  ASSERT_NE(fetcher, nullptr);
  absl::StatusOr<HttpResponse> r = fetcher->Get(Url(*server, "/hello"), 1 << 20);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 200);
}

// The reaper's shutdown of a TLS connection's socket: a parked request and
// a slow reader are both cut, and the server serves on.
TEST_F(HttpServerTlsTest, TheDeadlinesCutTlsConnections) {
  HttpServerOptions options;
  options.head_timeout = absl::Milliseconds(300);
  options.send_timeout = absl::Milliseconds(300);
  options.idle_timeout = absl::Seconds(120);  // never the one that fires here
  std::unique_ptr<HttpServer> server = StartTlsServer(options);
  ASSERT_NE(server, nullptr);
  testutil::TlsTestConnection parked(server->port(), cert_.cert_file);
  ASSERT_TRUE(parked.ok());
  ASSERT_TRUE(parked.Write("GET /hold HTTP/1.1\r\nHost: t\r\n\r\n"));
  HttpResponder respond = handler_.held_.Take();
  ASSERT_NE(respond, nullptr);
  EXPECT_TRUE(parked.ClosedByServer(absl::Seconds(20)));
  EXPECT_EQ(parked.received(), "");
  EXPECT_TRUE(server->WaitForConnectionsAtMost(0, absl::Seconds(10)));
  EXPECT_EQ(cut_head_.Value(), 1);
  std::move(respond)(Text(200, "too late\n"));  // a no-op

  testutil::TlsTestConnection stalled(server->port(), cert_.cert_file, 4096);
  ASSERT_TRUE(stalled.ok());
  ASSERT_TRUE(stalled.Write("GET /big HTTP/1.1\r\nHost: x\r\n\r\n"));
  ASSERT_TRUE(stalled.ReadUntil("HTTP/1.1 200", absl::Seconds(10)));
  EXPECT_TRUE(server->WaitForConnectionsAtMost(0, absl::Seconds(20)));
  EXPECT_EQ(cut_send_.Value(), 1);
  EXPECT_EQ(handler_.big_.use_count(), 1);

  std::unique_ptr<HttpFetcher> fetcher = Fetcher();
  ASSERT_NE(fetcher, nullptr);
  absl::StatusOr<HttpResponse> r = fetcher->Get(Url(*server, "/hello"), 1 << 20);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 200);
}

// The cap is applied at accept, before any handshake.
TEST_F(HttpServerTlsTest, ThePerAddressLimitHoldsOverHttps) {
  HttpServerOptions options;
  options.max_connections_per_address = 4;
  options.threads = 1;  // one acceptor: connections are admitted in order
  std::unique_ptr<HttpServer> server = StartTlsServer(options);
  ASSERT_NE(server, nullptr);
  // Four TLS connections, admitted (their handshakes completed), idle.
  std::vector<std::unique_ptr<testutil::TlsTestConnection>> held;
  for (int i = 0; i < 4; ++i) {
    held.push_back(std::make_unique<testutil::TlsTestConnection>(server->port(), cert_.cert_file));
    ASSERT_TRUE(held.back()->ok()) << i;
  }
  for (int i = 0; i < 10; ++i) {
    Connection more(server->port());
    ASSERT_TRUE(more.ok());
    EXPECT_TRUE(more.ClosedByServer(absl::Seconds(10))) << "connection " << i;
  }
  EXPECT_EQ(refused_per_address_.Value(), 10);
  EXPECT_EQ(server->connections(), 4u);
  testutil::TlsTestConnection refused(server->port(), cert_.cert_file);
  EXPECT_FALSE(refused.ok());
  held.pop_back();
  ASSERT_TRUE(server->WaitForConnectionsAtMost(3, absl::Seconds(10)));
  std::unique_ptr<HttpFetcher> fetcher = Fetcher();
  ASSERT_NE(fetcher, nullptr);
  absl::StatusOr<HttpResponse> r = fetcher->Get(Url(*server, "/hello"), 1 << 20);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->status, 200);
}

TEST_F(HttpServerTlsTest, BadCertificateOrKeyFilesAreRefusedNamingTheFlag) {
  auto refusal = [&](const std::string& cert, const std::string& key,
                     const std::string& prefix = "--tls-") {
    HttpServerOptions options;
    options.tls_cert_file = cert;
    options.tls_key_file = key;
    options.tls_flag_prefix = prefix;
    absl::StatusOr<std::unique_ptr<HttpServer>> s = TryStart(options);
    EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument) << s.status();
    return std::string(s.status().message());
  };
  const std::string missing = absl::StrCat(dir_.path(), "/missing.crt");
  EXPECT_EQ(refusal(missing, cert_.key_file),
            absl::StrCat("--tls-cert: read ", missing, ": No such file or directory"));
  EXPECT_EQ(refusal("", cert_.key_file), "--tls-key: given without --tls-cert");
  EXPECT_EQ(refusal(cert_.cert_file, ""), "--tls-cert: given without --tls-key");
  EXPECT_EQ(refusal(cert_.cert_file, dir_.path()),
            absl::StrCat("--tls-key: read ", dir_.path(), ": is a directory"));
  const std::string garbage = WriteFile("garbage.crt", "not a certificate\n");
  EXPECT_EQ(refusal(garbage, cert_.key_file),
            absl::StrCat("--tls-cert ", garbage,
                         ": not a PEM certificate (no -----BEGIN CERTIFICATE----- line)"));
  // The key given as the certificate, and the other way round.
  EXPECT_TRUE(absl::StrContains(refusal(cert_.key_file, cert_.key_file), "not a PEM certificate"));
  EXPECT_TRUE(
      absl::StrContains(refusal(cert_.cert_file, cert_.cert_file), "not a PEM private key"));
  EXPECT_TRUE(
      absl::StartsWith(refusal(garbage, cert_.key_file, "--http-tls-"), "--http-tls-cert "));
  // Well framed, but not a certificate or key inside.
  const std::string mangled =
      WriteFile("mangled.crt", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n");
  const std::string why = refusal(mangled, cert_.key_file);
  EXPECT_TRUE(absl::StartsWith(
      why, absl::StrCat("--tls-cert ", mangled, ": not a readable certificate (OpenSSL: ")))
      << why;
  const std::string mangled_key =
      WriteFile("mangled.key", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n");
  const std::string key_why = refusal(cert_.cert_file, mangled_key);
  EXPECT_TRUE(absl::StartsWith(
      key_why, absl::StrCat("--tls-key ", mangled_key, ": not a readable private key (OpenSSL: ")))
      << key_why;
  // Another key than the certificate's.
  const testutil::SelfSignedCert other = testutil::MakeSelfSignedCert(dir_.path(), "other");
  ASSERT_FALSE(other.key_file.empty());
  EXPECT_EQ(refusal(cert_.cert_file, other.key_file),
            absl::StrCat("--tls-cert ", cert_.cert_file, ", --tls-key ", other.key_file,
                         ": the key does not match the certificate"));
  const std::string big = WriteFile("big.crt", std::string(HttpServer::kMaxTlsFileBytes + 1, 'x'));
  EXPECT_TRUE(absl::StrContains(refusal(big, cert_.key_file), "larger than the limit"));
}

}  // namespace
}  // namespace infratrail
