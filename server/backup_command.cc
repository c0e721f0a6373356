#include "server/backup_command.h"

#include <chrono>
#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "core/compact_range.h"
#include "core/hash.h"
#include "nlohmann/json.hpp"
#include "server/command_common.h"
#include "server/exit_codes.h"
#include "server/fsck.h"
#include "server/rocksdb_storage.h"

namespace infratrail {
namespace {

// A read-only open of a live store can race the server deleting a WAL or
// table file it was about to read; a few fresh attempts get past it.
absl::StatusOr<std::unique_ptr<RocksDbStorage>> OpenSource(const std::string& path) {
  absl::StatusOr<std::unique_ptr<RocksDbStorage>> db;
  for (int attempt = 0; attempt < 5; ++attempt) {
    db = RocksDbStorage::Open(
        RocksDbOptions{.path = path, .create_if_missing = false, .read_only = true});
    if (db.ok() || absl::IsInvalidArgument(db.status())) return db;
    if (!std::filesystem::exists(path + "/CURRENT")) return db;
  }
  return db;
}

// Copies the store at `from_dir`/rocksdb to `to_dir`/rocksdb, fscks the
// copy and prints the JSON line. `what` names the command in messages.
int CopyStore(const std::string& what, const std::string& from_dir, const std::string& to_dir,
              const std::string& log_key_flag) {
  const auto start = std::chrono::steady_clock::now();
  absl::StatusOr<std::optional<NoteVerifier>> log_key = ParseLogKeyFlag(log_key_flag, "--log-key");
  if (!log_key.ok()) return Say(absl::StrCat(what, ": ", log_key.status().message())), kExitUsage;
  const std::string dest = to_dir + "/rocksdb";
  std::error_code ec;
  if (std::filesystem::exists(dest, ec)) {
    return Say(absl::StrCat(what, ": ", dest,
                            " already exists; refusing to overwrite a store (move it away first)")),
           kExitUsage;
  }
  absl::StatusOr<std::unique_ptr<RocksDbStorage>> source = OpenSource(from_dir + "/rocksdb");
  if (!source.ok()) return Say(absl::StrCat(what, ": ", source.status().message())), kExitStore;
  std::filesystem::create_directories(to_dir, ec);
  if (ec) return Say(absl::StrCat(what, ": ", to_dir, ": ", ec.message())), kExitStore;
  absl::StatusOr<CopyReport> copied = (*source)->CopyTo(dest);
  source->reset();
  if (!copied.ok()) return Say(absl::StrCat(what, ": ", copied.status().message())), kExitStore;

  absl::StatusOr<std::unique_ptr<RocksDbStorage>> copy = RocksDbStorage::Open(
      RocksDbOptions{.path = dest, .create_if_missing = false, .read_only = true});
  if (!copy.ok()) return Say(absl::StrCat(what, ": ", copy.status().message())), kExitStore;
  absl::StatusOr<TreeState> state = (*copy)->ReadTreeState();
  if (!state.ok()) return Say(absl::StrCat(what, ": ", state.status().message())), kExitStore;
  Hasher hasher;
  absl::StatusOr<CompactRange> range = CompactRange::FromHashes(0, state->size, state->right_edge);
  absl::StatusOr<Hash> root =
      range.ok() ? range->Root(hasher) : absl::StatusOr<Hash>(range.status());
  absl::StatusOr<FsckReport> fsck = Fsck(**copy, *log_key);
  if (!fsck.ok()) return Say(absl::StrCat(what, ": fsck: ", fsck.status().message())), kExitStore;
  for (const std::string& p : fsck->problems) Say(absl::StrCat(what, ": fsck: PROBLEM: ", p));
  nlohmann::json out = {
      {what, to_dir},
      {"tree_size", state->size},
      {"root", root.ok() ? HashToBase64(*root) : ""},
      {"checkpoint_size", fsck->checkpoint_size},
      {"entries_rehashed", fsck->entries},
      {"bytes", copied->bytes},
      {"consistent", fsck->ok()},
      {"seconds", std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count()}};
  std::cout << out.dump() << std::endl;
  if (!fsck->ok()) {
    Say(absl::StrCat(what, ": the copy in ", to_dir, " is NOT consistent; kept for inspection"));
    return kExitInconsistent;
  }
  return kExitOk;
}

}  // namespace

CLI::App* AddBackupCommand(CLI::App& app, BackupArgs& args) {
  CLI::App* cmd = app.add_subcommand(
      "backup",
      "Copy a store (live or not) to a new data directory, consistently, and fsck the copy");
  cmd->add_option("--data-dir", args.from, "Data directory to back up (read-only open)")
      ->required();
  cmd->add_option("--to", args.to, "New data directory for the copy (must not hold a store)")
      ->required();
  cmd->add_option("--log-key", args.log_key,
                  "Log verifier key (or @file) to check the copy's checkpoint signature");
  return cmd;
}

CLI::App* AddRestoreCommand(CLI::App& app, BackupArgs& args) {
  CLI::App* cmd = app.add_subcommand(
      "restore", "Make a data directory from a backup (the server must not be running on it)");
  cmd->add_option("--from", args.from, "Backup directory (made by backup)")->required();
  cmd->add_option("--data-dir", args.to, "Data directory to create (must not hold a store)")
      ->required();
  cmd->add_option("--log-key", args.log_key,
                  "Log verifier key (or @file) to check the checkpoint signature");
  return cmd;
}

int RunBackup(const BackupArgs& args) {
  return CopyStore("backup", args.from, args.to, args.log_key);
}

int RunRestore(const BackupArgs& args) {
  const int rc = CopyStore("restore", args.from, args.to, args.log_key);
  if (rc == kExitOk) {
    Say(absl::StrCat(
        "restore: done. The server refuses to start if its signer state is ahead of this "
        "copy; then bring it up to date with: infratrail-server catch-up --data-dir ",
        args.to, " --from MIRROR --log-key KEY"));
  }
  return rc;
}

}  // namespace infratrail
