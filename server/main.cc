// infratrail-server: an append-only transparency log of infrastructure
// events, on embedded RocksDB, served over gRPC (see docs/operations.md).
//
//   infratrail-server --data-dir DIR --signing-key FILE
//                     [--grpc-addr 127.0.0.1:7400] [--http-addr 127.0.0.1:7401]
//                     [--metrics-addr 127.0.0.1:7402]
//                     [--config FILE] [...]
//   infratrail-server fsck --data-dir DIR [--log-key VKEY]
//   infratrail-server export --data-dir DIR --to OUTDIR [--follow [--interval 1s]]
//   infratrail-server backup --data-dir DIR --to NEWDIR [--log-key VKEY]
//   infratrail-server restore --from BACKUPDIR --data-dir NEWDIR [--log-key VKEY]
//   infratrail-server catch-up --data-dir DIR --from URL|DIR --log-key VKEY
//
// Exit codes (exit_codes.h): 0 clean shutdown (SIGTERM/SIGINT), 1 runtime
// failure (also a shutdown after the log stopped serving),
// 2 usage or configuration error (including every start-up refusal);
// fsck: 0 consistent, 1 inconsistent, 2 usage, 3 cannot read the store;
// export: 0 done, 2 usage, 3 cannot read the store or write the output;
// backup, restore: 0 done, 1 the copy is inconsistent, 2 usage (or the
// destination holds a store), 3 cannot read or write;
// catch-up: 0 caught up, 1 the mirror contradicts the store or its own
// checkpoint (nothing written), 2 usage, 3 cannot read or write.
#include <signal.h>

#include <ctime>
#include <exception>
#include <iostream>
#include <memory>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "server/backup_command.h"
#include "server/catch_up_command.h"
#include "server/command_common.h"
#include "server/exit_codes.h"
#include "server/export_command.h"
#include "server/fsck_command.h"
#include "server/server.h"
#include "server/server_config.h"

namespace infratrail {
namespace {

// Serves `config` until SIGTERM or SIGINT; SIGHUP reloads the tokens file.
int Serve(const ServerConfig& config) {
  // Signals are taken synchronously by sigtimedwait below; block them before
  // any thread starts so every thread inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);  // reloads the tokens file
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  absl::StatusOr<std::unique_ptr<Server>> server = Server::Start(config);
  if (!server.ok()) return Say(server.status().message()), ExitCodeForStart(server.status());

  for (;;) {
    timespec timeout{1, 0};
    const int sig = sigtimedwait(&signals, nullptr, &timeout);
    if (sig == SIGTERM || sig == SIGINT) {
      Say(absl::StrCat("signal ", sig, ": draining"));
      break;
    }
    if (sig == SIGHUP) (*server)->ReloadTokens();
    if (absl::Status fatal = (*server)->Poll(); !fatal.ok()) {
      Say(absl::StrCat("stopping: ", fatal.message()));
      (*server)->Drain().IgnoreError();
      return kExitRuntime;
    }
  }
  // A log that stopped serving exits non-zero, so a supervisor restarts it
  // (recovery is the normal start-up path).
  if (absl::Status h = (*server)->Drain(); !h.ok()) {
    Say(absl::StrCat("stopped after a failure: ", h.message()));
    return kExitRuntime;
  }
  Say("stopped");
  return kExitOk;
}

// `infratrail-server freeze`: the log started on loopback only (nobody can
// write to it), frozen, drained. Exit codes as serving's; 1 also when the
// final checkpoint could not be published (the log is then not frozen).
int Freeze(ServerConfig config, const std::string& successor, absl::Duration timeout) {
  config.grpc_addr = "127.0.0.1:0";
  config.http_addr = "";
  config.metrics_addr = "127.0.0.1:0";
  config.ready_file = "";
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  absl::StatusOr<std::unique_ptr<Server>> server = Server::Start(config);
  if (!server.ok()) return Say(server.status().message()), ExitCodeForStart(server.status());
  absl::StatusOr<std::string> note = (*server)->Freeze(successor, timeout);
  const absl::Status drained = (*server)->Drain();
  if (!note.ok()) return Say(note.status().message()), kExitRuntime;
  if (!drained.ok()) return Say(absl::StrCat("freeze: ", drained.message())), kExitRuntime;
  Say(absl::StrCat("frozen",
                   successor.empty() ? std::string() : absl::StrCat("; successor ", successor),
                   ". The final checkpoint:"));
  std::cout << *note << std::flush;
  return kExitOk;
}

int Main(int argc, char** argv) {
  // absl::Mutex deadlock detection (on in Debian's build) records every
  // lock order in a global graph; gRPC creates a mutex per call, so it costs
  // several percent of every RPC. Lock order is checked by the sanitizer
  // and unit-test builds instead.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  CLI::App app{"infratrail-server: transparency log for infrastructure events"};
  FsckArgs fsck_args;
  CLI::App* fsck = AddFsckCommand(app, fsck_args);
  ExportArgs export_args;
  CLI::App* exp = AddExportCommand(app, export_args);
  BackupArgs backup_args;
  CLI::App* backup = AddBackupCommand(app, backup_args);
  BackupArgs restore_args;
  CLI::App* restore = AddRestoreCommand(app, restore_args);
  CatchUpArgs catch_up_args;
  CLI::App* catch_up = AddCatchUpCommand(app, catch_up_args);
  ServerConfig config;
  AddServeFlags(app, config);
  // freeze takes the serving flags (or --config) of the log it freezes.
  std::string successor;
  int freeze_timeout_s = 60;
  CLI::App* freeze = app.add_subcommand(
      "freeze",
      "Publish a final checkpoint (witnessed under --witness-policy) and make the log read-only "
      "for good; the server must be stopped. Give it the server's own flags or --config");
  freeze->add_option("--successor", successor,
                     "Origin of the log that takes over (named in every refused write)");
  freeze
      ->add_option("--timeout-s", freeze_timeout_s,
                   "Give up (freezing nothing) if the final checkpoint is not published by then")
      ->capture_default_str()
      ->check(CLI::Range(1, 3600));
  freeze->fallthrough();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? kExitOk : kExitUsage;
  }
  if (fsck->parsed()) return RunFsck(fsck_args);
  if (exp->parsed()) return RunExport(export_args);
  if (backup->parsed()) return RunBackup(backup_args);
  if (restore->parsed()) return RunRestore(restore_args);
  if (catch_up->parsed()) return RunCatchUp(catch_up_args);
  if (absl::Status valid = config.Validate(); !valid.ok()) return Say(valid.message()), kExitUsage;
  if (freeze->parsed()) return Freeze(config, successor, absl::Seconds(freeze_timeout_s));
  return Serve(config);
}

}  // namespace
}  // namespace infratrail

int main(int argc, char** argv) {
  try {
    return infratrail::Main(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "infratrail-server: " << e.what() << "\n";
    return infratrail::kExitRuntime;
  }
}
