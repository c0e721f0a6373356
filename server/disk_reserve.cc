#include "server/disk_reserve.h"

#include <sys/statvfs.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"

namespace infratrail {

DiskReserve::DiskReserve(DiskReserveOptions options, FreeBytesFn free_bytes)
    : options_(std::move(options)), free_bytes_(std::move(free_bytes)) {}

absl::StatusOr<uint64_t> DiskReserve::StatvfsFreeBytes(const std::string& path) {
  struct statvfs st;
  if (statvfs(path.c_str(), &st) != 0) {
    return absl::UnavailableError(absl::StrCat("statvfs ", path, ": ", std::strerror(errno)));
  }
  return static_cast<uint64_t>(st.f_bavail) * st.f_frsize;
}

absl::Status DiskReserve::Check() {
  const absl::Time now = absl::Now();
  absl::MutexLock l(&mu_);
  if (now - checked_at_ < options_.refresh) return last_;
  checked_at_ = now;
  last_ = absl::OkStatus();
  for (const std::string& path : options_.paths) {
    absl::StatusOr<uint64_t> free = free_bytes_(path);
    if (!free.ok()) {
      last_ = free.status();
      break;
    }
    if (*free < options_.min_free_bytes) {
      last_ = absl::ResourceExhaustedError(
          absl::StrCat("disk nearly full: ", path, " has ", *free >> 20, " MiB free, below the ",
                       options_.min_free_bytes >> 20,
                       " MiB reserve (--min-free-disk-mb); writes are refused until space is "
                       "freed"));
      break;
    }
  }
  return last_;
}

}  // namespace infratrail
