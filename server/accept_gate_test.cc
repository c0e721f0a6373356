#include "server/accept_gate.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

#include "gtest/gtest.h"

namespace infratrail::accept_gate {
namespace {

// A non-blocking listener on an ephemeral loopback port, as gRPC's.
struct Listener {
  int fd = -1;
  int port = 0;
  Listener() {
    fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    EXPECT_EQ(listen(fd, 16), 0);
    socklen_t len = sizeof(addr);
    EXPECT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
    port = ntohs(addr.sin_port);
  }
  ~Listener() { close(fd); }
  int Connect() const {
    const int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    const timeval timeout{10, 0};  // a failing ClosedByServer must not hang
    setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(connect(c, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    return c;
  }
};

// True once the server side closed `client` (a blocking read sees EOF).
bool ClosedByServer(int client) {
  char b;
  return recv(client, &b, 1, 0) == 0;
}

TEST(AcceptGate, ClosesConnectionsLandingAtOrAboveTheCap) {
  Listener l;
  const std::vector<int> clients = {l.Connect(), l.Connect(), l.Connect()};
  ASSERT_EQ(GateListeners(l.port, 1 << 20).value_or(0), 1);  // opens its reserve
  const int lowest = LowestFreeDescriptor().value();
  ASSERT_EQ(GateListeners(l.port, lowest + 1).value_or(0), 1);  // room for one
  const uint64_t refused_before = refused();

  const int first = accept4(l.fd, nullptr, nullptr, SOCK_CLOEXEC);
  EXPECT_EQ(first, lowest);
  // The next two land on the cap: closed, and the caller sees an empty
  // backlog, not an error.
  errno = 0;
  EXPECT_EQ(accept4(l.fd, nullptr, nullptr, SOCK_CLOEXEC), -1);
  EXPECT_EQ(errno, EAGAIN);
  EXPECT_EQ(refused() - refused_before, 2u);
  EXPECT_TRUE(ClosedByServer(clients[1]));
  EXPECT_TRUE(ClosedByServer(clients[2]));
  close(first);
  for (int c : clients) close(c);
}

TEST(AcceptGate, OutOfDescriptorsDrainsTheBacklogAndKeepsListening) {
  Listener l;
  const std::vector<int> clients = {l.Connect(), l.Connect()};
  ASSERT_EQ(GateListeners(l.port, 1 << 20).value_or(0), 1);
  const uint64_t refused_before = refused();
  rlimit saved{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &saved), 0);
  rlimit full = saved;
  full.rlim_cur = LowestFreeDescriptor().value() + 8;
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &full), 0);
  std::vector<int> fillers;  // every descriptor below the limit in use
  for (int f; (f = open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0;) fillers.push_back(f);
  errno = 0;
  const int r = accept4(l.fd, nullptr, nullptr, SOCK_CLOEXEC);
  const int err = errno;
  for (int f : fillers) close(f);
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &saved), 0);
  // gRPC would stop listening for good on EMFILE; it sees EAGAIN instead,
  // and the pending connections were taken off the backlog and closed.
  EXPECT_EQ(r, -1);
  EXPECT_EQ(err, EAGAIN);
  EXPECT_EQ(refused() - refused_before, 2u);
  EXPECT_TRUE(ClosedByServer(clients[0]));
  EXPECT_TRUE(ClosedByServer(clients[1]));

  // With descriptors free again, the listener accepts as before.
  const int later = l.Connect();
  const int accepted = accept4(l.fd, nullptr, nullptr, SOCK_CLOEXEC);
  EXPECT_GE(accepted, 0);
  close(accepted);
  close(later);
  for (int c : clients) close(c);
}

}  // namespace
}  // namespace infratrail::accept_gate
