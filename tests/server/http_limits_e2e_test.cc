// The tiles HTTP port's limits on a real server process: the flags reach
// the server, a client over the per-address limit is closed while another
// address is served, a head trickled byte by byte is cut at the head
// deadline, and the refusals are visible in /metrics.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <memory>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "tests/server/e2e_fixture.h"

namespace infratrail::testing {
namespace {

// One raw TCP connection to 127.0.0.1:port from a chosen loopback address.
class RawConnection {
 public:
  RawConnection(int port, const char* source) {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in from{};
    from.sin_family = AF_INET;
    inet_pton(AF_INET, source, &from.sin_addr);
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(static_cast<uint16_t>(port));
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ok_ = bind(fd_, reinterpret_cast<sockaddr*>(&from), sizeof(from)) == 0 &&
          connect(fd_, reinterpret_cast<sockaddr*>(&to), sizeof(to)) == 0;
  }
  ~RawConnection() { close(fd_); }
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;

  bool ok() const { return ok_; }

  bool Write(absl::string_view bytes) {
    return send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL) ==
           static_cast<ssize_t>(bytes.size());
  }

  // The status line of the next response (its head is read, the small body
  // it carries is left); empty if the connection ended first.
  std::string StatusLine() {
    std::string got;
    while (!absl::StrContains(got, "\r\n\r\n")) {
      char c[4096];
      const ssize_t n = read(fd_, c, sizeof(c));
      if (n <= 0) return "";
      got.append(c, static_cast<size_t>(n));
    }
    return got.substr(0, got.find("\r\n"));
  }

  // Waits up to `timeout` for the server to end the connection.
  bool ClosedByServer(absl::Duration timeout) {
    const absl::Time deadline = absl::Now() + timeout;
    for (;;) {
      pollfd p{fd_, POLLIN, 0};
      const int ms =
          static_cast<int>(std::max<int64_t>(0, absl::ToInt64Milliseconds(deadline - absl::Now())));
      if (poll(&p, 1, ms) <= 0) return false;
      char c[4096];
      const ssize_t n = read(fd_, c, sizeof(c));
      if (n == 0 || (n < 0 && errno == ECONNRESET)) return true;
      if (n < 0) return false;
    }
  }

 private:
  int fd_ = -1;
  bool ok_ = false;
};

class HttpLimitsE2eTest : public ServerTest {};

TEST_F(HttpLimitsE2eTest, PerAddressLimitAndHeadDeadlineOnARealServer) {
  auto server = StartServer({"--http-max-connections-per-address", "2", "--http-head-timeout", "1",
                             "--http-idle-timeout", "120"});
  ASSERT_NE(server, nullptr);
  const int port = server->http_port();
  ASSERT_GT(port, 0);
  constexpr absl::string_view kGet = "GET /checkpoint HTTP/1.1\r\nHost: x\r\n\r\n";

  // Two held connections from 127.0.0.1, each known to be admitted.
  RawConnection a(port, "127.0.0.1");
  RawConnection b(port, "127.0.0.1");
  for (RawConnection* c : {&a, &b}) {
    ASSERT_TRUE(c->ok());
    ASSERT_TRUE(c->Write(kGet));
    EXPECT_EQ(c->StatusLine(), "HTTP/1.1 200 OK");
  }
  RawConnection third(port, "127.0.0.1");
  ASSERT_TRUE(third.ok());
  EXPECT_TRUE(third.ClosedByServer(absl::Seconds(10)));

  // Another address is served, and percent-encoded spellings are refused.
  RawConnection other(port, "127.0.0.2");
  ASSERT_TRUE(other.ok());
  ASSERT_TRUE(other.Write(kGet));
  EXPECT_EQ(other.StatusLine(), "HTTP/1.1 200 OK");
  ASSERT_TRUE(other.Write("GET /tile/0/0%300 HTTP/1.1\r\nHost: x\r\n\r\n"));
  EXPECT_EQ(other.StatusLine(), "HTTP/1.1 400 Bad Request");

  // A head sent one byte at a time is cut about a second after accept,
  // though bytes keep arriving (every 50 ms, for at most 30 s).
  RawConnection slow(port, "127.0.0.3");
  ASSERT_TRUE(slow.ok());
  ASSERT_TRUE(slow.Write("GET /checkpoint HTTP/1.1\r\nHost: x\r\nX-Slow: "));
  bool closed = false;
  for (int i = 0; i < 600 && !closed; ++i) {
    if (!slow.Write("a")) {
      closed = true;  // reset by the server
      break;
    }
    closed = slow.ClosedByServer(absl::Milliseconds(50));
  }
  EXPECT_TRUE(closed);

  absl::StatusOr<std::string> metrics = HttpGet(server->metrics_port(), "/metrics");
  ASSERT_TRUE(metrics.ok()) << metrics.status();
  EXPECT_TRUE(absl::StrContains(
      *metrics, "infratrail_http_connections_refused_total{limit=\"per_address\"} 1\n"))
      << *metrics;
  EXPECT_TRUE(
      absl::StrContains(*metrics, "infratrail_http_connections_cut_total{deadline=\"head\"} 1\n"))
      << *metrics;
}

TEST_F(HttpLimitsE2eTest, LimitFlagsAreValidated) {
  ServerOptions bad = Options({"--http-head-timeout", "0"});
  absl::StatusOr<std::unique_ptr<ServerProcess>> s = ServerProcess::Start(dir_->path(), bad);
  EXPECT_FALSE(s.ok());
}

}  // namespace
}  // namespace infratrail::testing
