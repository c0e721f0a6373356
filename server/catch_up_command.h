// `infratrail-server catch-up`: brings a store that is behind (restored from
// a backup, say) up to a mirror of the same log: an export directory, or a
// C2SP tlog-tiles URL such as another server's tiles API
// (docs/operations.md, "Backup and restore").
//
// The mirror is not trusted. Its checkpoint must carry the log key's
// signature, and the entries fetched from it, appended to the store's own
// tree, must hash to that checkpoint's root before anything is written:
// the entries are staged in a file in the data directory first, then
// committed through the sequencer (the same commits as serving makes) and
// the root checked again. The server must be stopped (the store is opened
// for writing).
#ifndef INFRATRAIL_SERVER_CATCH_UP_COMMAND_H_
#define INFRATRAIL_SERVER_CATCH_UP_COMMAND_H_

#include <string>

namespace CLI {
class App;
}

namespace infratrail {

struct CatchUpArgs {
  std::string data_dir;
  std::string from;     // http(s)://... tiles base URL, or a directory
  std::string log_key;  // verifier key or @file (required)
  std::string ca_file;  // PEM CAs for https; empty: the system's
};

CLI::App* AddCatchUpCommand(CLI::App& app, CatchUpArgs& args);

// Exit codes (exit_codes.h): kExitOk caught up (or nothing to do);
// kExitInconsistent the mirror contradicts the store or its own checkpoint
// (nothing written); kExitUsage bad flags, a store of another log;
// kExitStore the store or the mirror cannot be read, or the store written.
int RunCatchUp(const CatchUpArgs& args);

}  // namespace infratrail

#endif  // INFRATRAIL_SERVER_CATCH_UP_COMMAND_H_
