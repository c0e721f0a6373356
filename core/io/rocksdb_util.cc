#include "core/io/rocksdb_util.h"

#include <rocksdb/env.h>
#include <rocksdb/status.h>

#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"

namespace infratrail {
namespace {

class StderrLogger : public rocksdb::Logger {
 public:
  explicit StderrLogger(std::string program)
      : rocksdb::Logger(rocksdb::InfoLogLevel::WARN_LEVEL), program_(std::move(program)) {}
  using rocksdb::Logger::Logv;
  void Logv(const char* format, va_list ap) override {
    char line[1024];
    const int n = vsnprintf(line, sizeof(line), format, ap);
    if (n > 0 && static_cast<size_t>(n) < sizeof(line) && line[n - 1] == '\n') line[n - 1] = 0;
    // Creating a new store first looks for it: not worth a line.
    if (std::strstr(line, "Error when reading") != nullptr &&
        std::strstr(line, "NotFound") != nullptr) {
      return;
    }
    // Table files a backup or restore wrote (CopyTo) carry no unique ID;
    // they are checked by their checksums like any other.
    if (std::strstr(line, "opened without unique ID") != nullptr) return;
    std::fprintf(stderr, "%s: rocksdb: %s\n", program_.c_str(), line);
  }

 private:
  const std::string program_;
};

}  // namespace

absl::Status RocksDbError(const rocksdb::Status& s, absl::string_view operation) {
  if (s.ok()) return absl::OkStatus();
  std::string msg = absl::StrCat(operation, ": rocksdb: ", s.ToString());
  if (s.IsNotFound()) return absl::NotFoundError(msg);
  if (s.IsCorruption()) return absl::DataLossError(msg);
  // A full disk is named as such: the server falls back to read-only on it.
  if (s.IsNoSpace()) return absl::ResourceExhaustedError(absl::StrCat(msg, " (disk full)"));
  if (s.IsInvalidArgument()) return absl::InvalidArgumentError(msg);
  if (s.IsIOError() || s.IsBusy() || s.IsTimedOut() || s.IsTryAgain()) {
    return absl::UnavailableError(msg);
  }
  return absl::InternalError(msg);
}

std::shared_ptr<rocksdb::Logger> NewStderrRocksDbLogger(std::string program) {
  return std::make_shared<StderrLogger>(std::move(program));
}

}  // namespace infratrail
