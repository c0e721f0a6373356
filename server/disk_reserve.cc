#include "server/disk_reserve.h"

#include <sys/statvfs.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
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

absl::Status DiskReserve::Check(uint64_t writing) {
  const absl::Time now = absl::Now();
  // Entries, then the write-ahead log and the indexes: about twice.
  const uint64_t cost = 2 * writing;
  absl::MutexLock l(&mu_);
  const bool fresh = now - checked_at_ < options_.refresh;
  const bool room = last_.ok() && least_free_ >= options_.min_free_bytes &&
                    least_free_ - options_.min_free_bytes >= written_since_ + cost;
  if (fresh && (!last_.ok() || room)) {
    if (last_.ok()) written_since_ += cost;
    return last_;
  }
  checked_at_ = now;
  last_ = Read();
  written_since_ = last_.ok() ? cost : 0;
  return last_;
}

absl::Status DiskReserve::Read() {
  least_free_ = UINT64_MAX;
  for (const std::string& path : options_.paths) {
    absl::StatusOr<uint64_t> free = free_bytes_(path);
    if (!free.ok()) return free.status();
    least_free_ = std::min(least_free_, *free);
    if (*free < options_.min_free_bytes) {
      return absl::ResourceExhaustedError(
          absl::StrCat("disk nearly full: ", path, " has ", *free >> 20, " MiB free, below the ",
                       options_.min_free_bytes >> 20,
                       " MiB reserve (--min-free-disk-mb); writes are refused until space is "
                       "freed"));
    }
  }
  return absl::OkStatus();
}

}  // namespace infratrail
