// The exit codes of infratrail-server and its subcommands. Their numbers
// are an interface (supervisors, scripts and tests key on them; see
// docs/operations.md): never renumber one.
#ifndef INFRATRAIL_SERVER_EXIT_CODES_H_
#define INFRATRAIL_SERVER_EXIT_CODES_H_

namespace infratrail {

// Serving stopped cleanly on SIGTERM or SIGINT; fsck found the store
// consistent; export is done.
inline constexpr int kExitOk = 0;

// Serving: a runtime failure, or a shutdown after the log had stopped
// serving, so that a supervisor restarts it (recovery is the normal
// start-up path).
inline constexpr int kExitRuntime = 1;

// fsck: the store was read and is not consistent.
inline constexpr int kExitInconsistent = 1;

// Bad flags or configuration, including every start-up refusal.
inline constexpr int kExitUsage = 2;

// fsck and export: the store cannot be read (or export's output written).
inline constexpr int kExitStore = 3;

}  // namespace infratrail

#endif  // INFRATRAIL_SERVER_EXIT_CODES_H_
