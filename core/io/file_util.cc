#include "core/io/file_util.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

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

}  // namespace

absl::StatusOr<std::string> ReadFileToString(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Errno("read", path);
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return Errno("read", path);
  return ss.str();
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
