#include "server/fsck_command.h"

#include <iostream>
#include <memory>
#include <optional>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "core/note_key.h"
#include "server/command_common.h"
#include "server/exit_codes.h"
#include "server/fsck.h"
#include "server/rocksdb_storage.h"

namespace infratrail {

CLI::App* AddFsckCommand(CLI::App& app, FsckArgs& args) {
  CLI::App* fsck = app.add_subcommand(
      "fsck", "Recompute the tree from the entries and compare with tiles and checkpoint");
  fsck->add_option("--data-dir", args.data_dir, "Data directory (read-only open)")->required();
  fsck->add_option("--log-key", args.log_key,
                   "Log verifier key (or @file) to check the checkpoint");
  return fsck;
}

int RunFsck(const FsckArgs& args) {
  absl::StatusOr<std::optional<NoteVerifier>> log_key = ParseLogKeyFlag(args.log_key, "--log-key");
  if (!log_key.ok()) return Say(log_key.status().message()), kExitUsage;
  absl::StatusOr<std::unique_ptr<RocksDbStorage>> db = RocksDbStorage::Open(RocksDbOptions{
      .path = args.data_dir + "/rocksdb", .create_if_missing = false, .read_only = true});
  if (!db.ok()) return Say(absl::StrCat("fsck: ", db.status().message())), kExitStore;
  absl::StatusOr<FsckReport> report = Fsck(**db, *log_key);
  if (!report.ok()) return Say(absl::StrCat("fsck: ", report.status().message())), kExitStore;
  std::cout << "fsck: " << report->entries << " entries re-hashed, " << report->tiles_checked
            << " tiles compared, checkpoint size " << report->checkpoint_size << "\n";
  std::cout << "fsck: SST bytes:";
  for (const auto& [cf, bytes] : (*db)->SstBytesByColumnFamily())
    std::cout << " " << cf << " " << bytes;
  std::cout << "\n";
  for (const std::string& p : report->problems) std::cout << "fsck: PROBLEM: " << p << "\n";
  std::cout << (report->ok() ? "fsck: consistent\n" : "fsck: INCONSISTENT\n");
  return report->ok() ? kExitOk : kExitInconsistent;
}

}  // namespace infratrail
