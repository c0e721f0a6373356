// HttpTestConnection: a minimal HTTP/1.1 client on one kept-alive
// connection, so transport tests see the exact bytes on the wire (framing,
// HEAD and 304 without a body, what is left over). Header-only and
// test-only; blocking, for loopback servers.
#ifndef INFRATRAIL_CORE_TESTING_HTTP_TEST_CLIENT_H_
#define INFRATRAIL_CORE_TESTING_HTTP_TEST_CLIENT_H_

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace infratrail::testutil {

// A TCP port on 127.0.0.1 that was free a moment ago (bound to port 0, read,
// closed): for a program the test starts with a --*-addr flag. 0 on error.
inline int UnusedLoopbackPort() {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return 0;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  int port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  close(fd);
  return port;
}

struct HttpTestReply {
  int status = 0;                              // 0: no (complete) response
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;
};

class HttpTestConnection {
 public:
  // `source`: the IPv4 loopback address to connect from (any of 127/8);
  // `rcvbuf`: a receive buffer this small, set before connecting, keeps the
  // window small so a client that stops reading holds the server's sender.
  explicit HttpTestConnection(int port, int family = AF_INET, const char* source = nullptr,
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
  ~HttpTestConnection() {
    if (fd_ >= 0) close(fd_);
  }
  HttpTestConnection(const HttpTestConnection&) = delete;
  HttpTestConnection& operator=(const HttpTestConnection&) = delete;

  bool ok() const { return ok_; }

  // Sends `method path` (with `extra` header lines, each ending in CRLF,
  // and `body` with its Content-Length if not empty) and reads one
  // response.
  HttpTestReply Send(const std::string& method, const std::string& path,
                     const std::string& extra = "", const std::string& body = "") {
    std::string req = absl::StrCat(method, " ", path, " HTTP/1.1\r\nHost: test\r\n", extra);
    if (!body.empty()) absl::StrAppend(&req, "Content-Length: ", body.size(), "\r\n");
    absl::StrAppend(&req, "\r\n", body);
    if (!Write(req)) return {};
    return Read(method);
  }

  // Reads one response to a `method` request; a HEAD or 304 response has no
  // body whatever its Content-Length says.
  HttpTestReply Read(absl::string_view method = "GET") {
    HttpTestReply reply;
    size_t end;
    while ((end = buffer_.find("\r\n\r\n")) == std::string::npos) {
      if (!Fill()) return reply;
    }
    std::vector<std::string> lines = absl::StrSplit(buffer_.substr(0, end), "\r\n");
    buffer_.erase(0, end + 4);
    std::vector<std::string> first = absl::StrSplit(lines[0], ' ');
    int status = 0;
    if (first.size() < 2 || !absl::SimpleAtoi(first[1], &status)) return reply;
    for (size_t i = 1; i < lines.size(); ++i) {
      const size_t colon = lines[i].find(':');
      reply.headers[absl::AsciiStrToLower(lines[i].substr(0, colon))] =
          std::string(absl::StripAsciiWhitespace(lines[i].substr(colon + 1)));
    }
    size_t length = 0;
    if (method != "HEAD" && status != 304 &&
        absl::SimpleAtoi(reply.headers["content-length"], &length)) {
      while (buffer_.size() < length) {
        if (!Fill()) return reply;
      }
      reply.body = buffer_.substr(0, length);
      buffer_.erase(0, length);
    }
    reply.status = status;
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

  // True if nothing arrives from the server within `wait` (a check that an
  // answer is still pending, not a synchronisation).
  bool Quiet(absl::Duration wait) {
    pollfd p{fd_, POLLIN, 0};
    return buffer_.empty() && poll(&p, 1, static_cast<int>(absl::ToInt64Milliseconds(wait))) == 0;
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

}  // namespace infratrail::testutil

#endif  // INFRATRAIL_CORE_TESTING_HTTP_TEST_CLIENT_H_
