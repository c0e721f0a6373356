#include "server/accept_gate.h"

#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace infratrail::accept_gate {
namespace {

// Listening descriptors are small numbers (opened at start-up); a bitmap of
// the first kMaxListener descriptors says which ones are gated.
constexpr int kMaxListener = 4096;
std::atomic<bool> gated[kMaxListener];
std::atomic<int> cap{0};
std::atomic<int> reserve{-1};
std::atomic<uint64_t> refused_count{0};

int RawAccept4(int fd, sockaddr* addr, socklen_t* len, int flags) {
  return static_cast<int>(syscall(SYS_accept4, fd, addr, len, flags));
}

// Takes one pending connection off `listener`'s backlog although no
// descriptor is free, by lending it the reserve. False if that failed.
bool DropOnePending(int listener) {
  const int r = reserve.exchange(-1);
  if (r < 0) return false;  // another thread holds it; gRPC will retry
  close(r);
  const int c = RawAccept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
  if (c >= 0) close(c);
  reserve.store(open("/dev/null", O_RDONLY | O_CLOEXEC));
  return c >= 0;
}

}  // namespace

absl::StatusOr<int> LowestFreeDescriptor() {
  const int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return absl::InternalError(absl::StrCat("open /dev/null: ", strerror(errno)));
  close(fd);
  return fd;
}

absl::StatusOr<int> GateListeners(int port, int fd_cap) {
  if (reserve.load() < 0) {
    const int r = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (r < 0) return absl::InternalError(absl::StrCat("open /dev/null: ", strerror(errno)));
    reserve.store(r);
  }
  DIR* dir = opendir("/proc/self/fd");
  if (dir == nullptr) return absl::InternalError(absl::StrCat("/proc/self/fd: ", strerror(errno)));
  int found = 0;
  while (dirent* e = readdir(dir)) {
    int fd = 0;
    if (!absl::SimpleAtoi(e->d_name, &fd) || fd < 0 || fd >= kMaxListener) continue;
    int listening = 0;
    socklen_t len = sizeof(listening);
    if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) != 0 || !listening) continue;
    sockaddr_storage addr{};
    len = sizeof(addr);
    if (getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) continue;
    int bound = -1;
    if (addr.ss_family == AF_INET) bound = ntohs(reinterpret_cast<sockaddr_in*>(&addr)->sin_port);
    if (addr.ss_family == AF_INET6) {
      bound = ntohs(reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port);
    }
    if (bound != port) continue;
    gated[fd].store(true);
    ++found;
  }
  closedir(dir);
  if (found == 0) return absl::NotFoundError(absl::StrCat("no listening socket on port ", port));
  cap.store(fd_cap);
  return found;
}

uint64_t refused() { return refused_count.load(std::memory_order_relaxed); }

}  // namespace infratrail::accept_gate

// Interposes libc's accept4 for the whole process (see accept_gate.h). Only
// gated listeners change behaviour; every other call is the plain syscall.
extern "C" int accept4(int fd, sockaddr* addr, socklen_t* len, int flags) {
  using namespace infratrail::accept_gate;  // NOLINT(google-build-using-namespace)
  const bool is_gated = fd >= 0 && fd < kMaxListener && gated[fd].load(std::memory_order_relaxed);
  for (;;) {
    const int c = RawAccept4(fd, addr, len, flags);
    if (!is_gated) return c;
    if (c >= 0) {
      if (c < cap.load(std::memory_order_relaxed)) return c;
      close(c);
      refused_count.fetch_add(1, std::memory_order_relaxed);
      continue;
    }
    if (errno != EMFILE && errno != ENFILE) return c;
    if (!DropOnePending(fd)) {
      errno = EAGAIN;
      return -1;
    }
    refused_count.fetch_add(1, std::memory_order_relaxed);
  }
}
