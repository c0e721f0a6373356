// `infratrail-server fsck`: recomputes the tree from the stored entries and
// compares it with the stored tiles and the latest checkpoint (and, given
// the log's key, the checkpoint's signature). Opens the store read-only, so
// it runs beside a live server. The report goes to stdout.
#ifndef INFRATRAIL_SERVER_FSCK_COMMAND_H_
#define INFRATRAIL_SERVER_FSCK_COMMAND_H_

#include <string>

namespace CLI {
class App;
}

namespace infratrail {

struct FsckArgs {
  std::string data_dir;
  std::string log_key;  // verifier key or @file; empty: signature unchecked
};

// Registers the subcommand and its flags on `app`, writing into `args`.
CLI::App* AddFsckCommand(CLI::App& app, FsckArgs& args);

// Runs it. Exit codes (exit_codes.h): kExitOk consistent, kExitInconsistent,
// kExitUsage for a bad --log-key, kExitStore if the store cannot be read.
int RunFsck(const FsckArgs& args);

}  // namespace infratrail

#endif  // INFRATRAIL_SERVER_FSCK_COMMAND_H_
