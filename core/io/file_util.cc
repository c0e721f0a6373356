#include "core/io/file_util.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <limits>

#include "absl/strings/str_cat.h"

namespace infratrail {
namespace {

absl::Status Errno(absl::string_view op, const std::string& path) {
  const int e = errno;
  std::string msg = absl::StrCat(op, " ", path, ": ", std::strerror(e));
  if (e == ENOENT) return absl::NotFoundError(msg);
  if (e == EACCES || e == EPERM) return absl::PermissionDeniedError(msg);
  return absl::InternalError(msg);
}

std::string DirName(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

absl::StatusOr<std::string> ReadBounded(const std::string& path, size_t max_bytes,
                                        bool regular_only) {
  // O_NONBLOCK: opening a FIFO without a writer would wait for one.
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | (regular_only ? O_NONBLOCK : 0));
  if (fd < 0) return Errno("read", path);
  auto too_large = [&] {
    return absl::ResourceExhaustedError(
        absl::StrCat("read ", path, ": larger than the limit of ", max_bytes, " bytes"));
  };
  struct stat st;
  if (fstat(fd, &st) != 0) {
    absl::Status status = Errno("stat", path);
    close(fd);
    return status;
  }
  if (S_ISDIR(st.st_mode)) {
    close(fd);
    return absl::FailedPreconditionError(absl::StrCat("read ", path, ": is a directory"));
  }
  if (regular_only && !S_ISREG(st.st_mode)) {
    close(fd);
    return absl::FailedPreconditionError(absl::StrCat("read ", path, ": not a regular file"));
  }
  std::string out;
  if (S_ISREG(st.st_mode)) {
    if (static_cast<uint64_t>(st.st_size) > max_bytes) {
      close(fd);
      return too_large();
    }
    out.reserve(static_cast<size_t>(st.st_size));
  }
  char buf[64 << 10];
  while (true) {
    // One byte past the limit tells "exactly max_bytes" from "more".
    size_t want = sizeof(buf);
    if (max_bytes - out.size() < want) want = max_bytes - out.size() + 1;
    const ssize_t n = read(fd, buf, want);
    if (n < 0) {
      if (errno == EINTR) continue;
      absl::Status status = Errno("read", path);
      close(fd);
      return status;
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
    if (out.size() > max_bytes) {
      close(fd);
      return too_large();
    }
  }
  close(fd);
  return out;
}

}  // namespace

absl::StatusOr<std::string> ReadFileBounded(const std::string& path, size_t max_bytes) {
  return ReadBounded(path, max_bytes, false);
}

absl::StatusOr<std::string> ReadRegularFileBounded(const std::string& path, size_t max_bytes) {
  return ReadBounded(path, max_bytes, true);
}

absl::StatusOr<std::string> ReadFileToString(const std::string& path) {
  return ReadFileBounded(path, std::numeric_limits<size_t>::max() - 1);
}

absl::Status SyncDirectory(const std::string& dir) {
  const int dfd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) return Errno("open directory", dir);
  const int rc = fsync(dfd);
  close(dfd);
  if (rc != 0) return Errno("fsync directory", dir);
  return absl::OkStatus();
}

absl::Status WriteFileAtomic(const std::string& path, absl::string_view data, int mode,
                             bool sync_directory) {
  const std::string tmp = absl::StrCat(path, ".tmp.", getpid());
  const int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) return Errno("create", tmp);
  size_t off = 0;
  while (off < data.size()) {
    const ssize_t n = write(fd, data.data() + off, data.size() - off);
    if (n < 0) {
      if (errno == EINTR) continue;
      absl::Status st = Errno("write", tmp);
      close(fd);
      unlink(tmp.c_str());
      return st;
    }
    off += static_cast<size_t>(n);
  }
  if (fsync(fd) != 0) {
    absl::Status st = Errno("fsync", tmp);
    close(fd);
    unlink(tmp.c_str());
    return st;
  }
  close(fd);
  if (rename(tmp.c_str(), path.c_str()) != 0) {
    absl::Status st = Errno("rename", tmp);
    unlink(tmp.c_str());
    return st;
  }
  // The rename is durable only once the directory entry is.
  if (!sync_directory) return absl::OkStatus();
  return SyncDirectory(DirName(path));
}

}  // namespace infratrail
