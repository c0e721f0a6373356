// `infratrail-server backup` and `restore`: an online, consistent copy of a
// store, and the way back from one (docs/operations.md, "Backup and
// restore").
//
// backup opens the store read-only, so it runs beside a live server: the
// copy holds every batch committed before it started (every acknowledged
// event), as one instant of the store. Both commands write the new store
// under a temporary name and rename it into place once durable, then fsck
// it, and print one JSON line: tree size, root, checkpoint size.
#ifndef INFRATRAIL_SERVER_BACKUP_COMMAND_H_
#define INFRATRAIL_SERVER_BACKUP_COMMAND_H_

#include <string>

namespace CLI {
class App;
}

namespace infratrail {

struct BackupArgs {
  std::string from;     // backup: --data-dir; restore: --from
  std::string to;       // backup: --to; restore: --data-dir
  std::string log_key;  // verifier key or @file; empty: signature unchecked
};

// Register the subcommands and their flags on `app`, writing into `args`.
CLI::App* AddBackupCommand(CLI::App& app, BackupArgs& args);
CLI::App* AddRestoreCommand(CLI::App& app, BackupArgs& args);

// Run them. Exit codes (exit_codes.h): kExitOk done and consistent;
// kExitInconsistent the copy is not consistent (kept for inspection);
// kExitUsage bad flags, or a destination that already holds a store;
// kExitStore the source cannot be read or the copy written.
int RunBackup(const BackupArgs& args);
int RunRestore(const BackupArgs& args);

}  // namespace infratrail

#endif  // INFRATRAIL_SERVER_BACKUP_COMMAND_H_
