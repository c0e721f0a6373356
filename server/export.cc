#include "server/export.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/io/file_util.h"
#include "core/tile.h"
#include "server/checkpoint_publisher.h"
#include "server/tile_source.h"

namespace infratrail {
namespace {

bool Exists(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0;
}

// Files are written in groups: every file of a group to a temporary name
// without fsync, then one syncfs for the whole group, then the renames, then
// one fsync per directory. A crash leaves either no file or a complete,
// durable one under each final name (and stray temporaries, never read),
// at the cost of one syncfs per group instead of two fsyncs per file.
class GroupWriter {
 public:
  explicit GroupWriter(std::string root) : root_(std::move(root)) {}

  absl::Status Add(const std::string& path, const std::string& data) {
    const std::filesystem::path parent = std::filesystem::path(path).parent_path();
    std::error_code ec;
    std::filesystem::create_directories(parent, ec);
    if (ec)
      return absl::InternalError(
          absl::StrCat("export: mkdir ", parent.string(), ": ", ec.message()));
    for (std::filesystem::path d = parent; d.string().size() >= root_.size(); d = d.parent_path()) {
      if (!dirs_.insert(d.string()).second) break;
    }
    const std::string tmp = absl::StrCat(path, ".tmp.", getpid());
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out.write(data.data(), static_cast<std::streamsize>(data.size()));
    out.close();
    if (!out) return absl::InternalError(absl::StrCat("export: write ", tmp, " failed"));
    pending_.emplace_back(tmp, path);
    if (pending_.size() >= kGroup) return Commit();
    return absl::OkStatus();
  }

  // Makes everything added so far durable under its final name.
  absl::Status Commit() {
    if (pending_.empty()) return absl::OkStatus();
    const int fd = open(root_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
      return absl::InternalError(absl::StrCat("export: open ", root_, ": ", std::strerror(errno)));
    const int rc = syncfs(fd);
    const int err = errno;
    close(fd);
    if (rc != 0)
      return absl::InternalError(absl::StrCat("export: syncfs ", root_, ": ", std::strerror(err)));
    for (const auto& [tmp, path] : pending_) {
      if (rename(tmp.c_str(), path.c_str()) != 0) {
        return absl::InternalError(
            absl::StrCat("export: rename ", tmp, ": ", std::strerror(errno)));
      }
    }
    pending_.clear();
    // Deepest first, so a new directory's own entry is synced after its contents.
    for (auto it = dirs_.rbegin(); it != dirs_.rend(); ++it) {
      if (absl::Status st = SyncDirectory(*it); !st.ok()) return st;
    }
    dirs_.clear();
    return absl::OkStatus();
  }

 private:
  static constexpr size_t kGroup = 4096;
  const std::string root_;
  std::vector<std::pair<std::string, std::string>> pending_;
  std::set<std::string> dirs_;
};

}  // namespace

absl::StatusOr<ExportReport> ExportTiles(LogStorage& storage, const std::string& out_dir) {
  absl::StatusOr<std::shared_ptr<const PublishedCheckpoint>> cp = ReadStoredCheckpoint(storage);
  if (!cp.ok()) return cp.status();
  if (*cp == nullptr) {
    return absl::FailedPreconditionError("export: no checkpoint has been published yet");
  }
  ExportReport report;
  report.size = (*cp)->size;
  std::error_code ec;
  std::filesystem::create_directories(out_dir, ec);
  if (ec) return absl::InternalError(absl::StrCat("export: mkdir ", out_dir, ": ", ec.message()));
  GroupWriter writer(out_dir);
  for (const TileId& tile : TilesForTree(report.size, /*entries=*/true)) {
    const std::string path = absl::StrCat(out_dir, "/", tile.Path());
    if (tile.IsFull() && Exists(path)) {
      ++report.files_unchanged;
      continue;
    }
    absl::StatusOr<std::string> bytes = ReadTileBytes(storage, tile);
    if (!bytes.ok()) {
      return absl::Status(bytes.status().code(),
                          absl::StrCat("export: ", bytes.status().message()));
    }
    if (absl::Status st = writer.Add(path, *bytes); !st.ok()) return st;
    ++report.files_written;
  }
  if (absl::Status st = writer.Commit(); !st.ok()) return st;
  // Last, the checkpoint: once a reader sees it, every tile it names is in
  // place, after a crash too.
  if (absl::Status st = WriteFileAtomic(absl::StrCat(out_dir, "/checkpoint"), (*cp)->note, 0644);
      !st.ok()) {
    return st;
  }
  return report;
}

}  // namespace infratrail
