#include "server/export_command.h"

#include <signal.h>

#include <ctime>
#include <iostream>
#include <memory>

#include "CLI/CLI.hpp"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "server/command_common.h"
#include "server/exit_codes.h"
#include "server/export.h"
#include "server/rocksdb_storage.h"

namespace infratrail {
namespace {

// One export of the published tree to `out_dir` (a read-only open, so it
// works beside a running server).
absl::StatusOr<ExportReport> ExportOnce(const std::string& data_dir, const std::string& out_dir) {
  absl::StatusOr<std::unique_ptr<RocksDbStorage>> db = RocksDbStorage::Open(
      RocksDbOptions{.path = data_dir + "/rocksdb", .create_if_missing = false, .read_only = true});
  if (!db.ok()) return db.status();
  return ExportTiles(**db, out_dir);
}

}  // namespace

CLI::App* AddExportCommand(CLI::App& app, ExportArgs& args) {
  CLI::App* exp = app.add_subcommand(
      "export",
      "Write the published tree as C2SP tlog-tiles files (checkpoint, tile/...) for a static "
      "web server, CDN or object store");
  exp->add_option("--data-dir", args.data_dir, "Data directory (read-only open)")->required();
  exp->add_option("--to", args.to, "Output directory")->required();
  exp->add_flag("--follow", args.follow,
                "Keep exporting as the log grows, until SIGTERM or SIGINT");
  exp->add_option("--interval", args.interval, "With --follow: time between looks")
      ->capture_default_str();
  return exp;
}

int RunExport(const ExportArgs& args) {
  absl::Duration interval;
  if (!absl::ParseDuration(args.interval, &interval) || interval <= absl::ZeroDuration()) {
    return Say(absl::StrCat("export: --interval: \"", args.interval,
                            "\" is not a positive duration like 1s")),
           kExitUsage;
  }
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  // A read-only open sees the store as of opening, so each round opens it
  // again.
  uint64_t last_size = 0;
  for (bool first = true;; first = false) {
    absl::StatusOr<ExportReport> report = ExportOnce(args.data_dir, args.to);
    if (!report.ok()) return Say(absl::StrCat("export: ", report.status().message())), kExitStore;
    if (first || report->size != last_size) {
      std::cout << "export: tree size " << report->size << " in " << args.to << ": "
                << report->files_written << " files written, " << report->files_unchanged
                << " full ones already there" << std::endl;
    }
    last_size = report->size;
    if (!args.follow) return kExitOk;
    const timespec timeout = absl::ToTimespec(interval);
    if (sigtimedwait(&signals, nullptr, &timeout) > 0) return kExitOk;
  }
}

}  // namespace infratrail
