// Harness for end-to-end tests: runs infratrail-server (and the infratrail
// CLI) as child processes, in a test's own temporary directory, on ephemeral
// ports.
//
// Children get PR_SET_PDEATHSIG(SIGKILL), so a crashed test leaves no server
// behind. That signal follows the *thread* that forked, so start servers from
// the test's main thread (or another thread that outlives them).
//
// Not thread-safe: one thread drives a ServerProcess.
#ifndef INFRATRAIL_TESTS_SERVER_SERVER_PROCESS_H_
#define INFRATRAIL_TESTS_SERVER_SERVER_PROCESS_H_

#include <sys/types.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace infratrail::testing {

// A fresh directory, removed with its contents on destruction.
class TempDir {
 public:
  // Under $TEST_TMPDIR, else $TMPDIR, else /tmp. Internal error on failure.
  static absl::StatusOr<std::unique_ptr<TempDir>> Create(const std::string& prefix);
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }

 private:
  explicit TempDir(std::string path) : path_(std::move(path)) {}
  std::string path_;
};

// Starts `argv` (argv[0] an absolute path) with stdout and stderr appended
// to the given files, and returns at once.
absl::StatusOr<pid_t> SpawnChild(const std::vector<std::string>& argv,
                                 const std::string& stdout_path, const std::string& stderr_path);
// Waits for the child `pid`: its exit code, or 128 + signal.
// DeadlineExceeded after `timeout` (the child still runs).
absl::StatusOr<int> WaitPid(pid_t pid, absl::Duration timeout);

// Runs `argv` (argv[0] an absolute path) to completion with stdout and
// stderr appended to the given files; its exit code, or 128 + signal.
// DeadlineExceeded (the child is killed) if it runs longer than `timeout`.
absl::StatusOr<int> RunProgram(const std::vector<std::string>& argv, const std::string& stdout_path,
                               const std::string& stderr_path,
                               absl::Duration timeout = absl::Seconds(30));

// A log signing key made by `infratrail keygen`.
struct LogKey {
  std::string key_file;      // the private key (mode 0600)
  std::string verifier_key;  // as keygen printed it
};

// Runs `infratrail keygen --origin origin --out dir/file`. Internal error
// with the CLI's stderr if it fails.
absl::StatusOr<LogKey> MakeLogKey(const std::string& dir, const std::string& file,
                                  const std::string& origin);

struct ServerOptions {
  std::string data_dir;
  // Non-empty: --storage (a postgres:// URI) instead of --data-dir.
  std::string storage;
  std::string signing_key;
  std::string grpc_addr = "127.0.0.1:0";
  std::string http_addr = "127.0.0.1:0";  // tiles over HTTP
  // Appended to the command line, e.g. {"--max-queue", "64"}.
  std::vector<std::string> extra_args;
  // Run before the server with its command line appended, e.g.
  // {"/usr/bin/prlimit", "--nofile=256:256"} (it must exec the server in
  // its own process, so pid() stays the server's).
  std::vector<std::string> launcher;
};

// GET http://127.0.0.1:<port><path> (HTTP/1.0): the response body, or an
// error naming what failed. For the server's /metrics.
absl::StatusOr<std::string> HttpGet(int port, const std::string& path);

// The value of the /metrics line starting with `series` (name and labels
// exactly as the server prints them) on the metrics port `port`, or -1 if
// there is none (or no answer).
double ScrapeMetric(int port, absl::string_view series);

class ServerProcess {
 public:
  // Forks and execs the server; its stderr goes to a file in `work_dir`.
  // Does not wait: see WaitReady and WaitExit.
  static absl::StatusOr<std::unique_ptr<ServerProcess>> Spawn(const std::string& work_dir,
                                                              const ServerOptions& options);
  // Spawn, then WaitReady.
  static absl::StatusOr<std::unique_ptr<ServerProcess>> Start(
      const std::string& work_dir, const ServerOptions& options,
      absl::Duration timeout = absl::Seconds(30));

  // SIGKILLs a server still running, and reaps it.
  ~ServerProcess();
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  // Polls for the ready file the server writes once it serves. On success
  // grpc_port() is known. FailedPrecondition (with exit status and stderr)
  // if the server exits first; DeadlineExceeded (the server is killed) if it
  // is not ready within `timeout`.
  absl::Status WaitReady(absl::Duration timeout);

  // Polls until the server exits; its exit code, or 128 + signal if a signal
  // ended it. DeadlineExceeded if it is still running after `timeout`.
  absl::StatusOr<int> WaitExit(absl::Duration timeout);
  // SIGTERM (drain), then WaitExit. The server's drain waits for its
  // clients to acknowledge the connection's shutdown; an idle gRPC channel in
  // this process only does so when its backup poller runs (every 5 s), so
  // destroy clients first for a quick exit.
  absl::StatusOr<int> Terminate(absl::Duration timeout = absl::Seconds(60));
  // SIGKILL, then reap. Returns once the process is gone.
  absl::Status Kill();
  // Sends `sig` without waiting.
  absl::Status Signal(int sig);

  pid_t pid() const { return pid_; }
  int grpc_port() const { return grpc_port_; }
  int metrics_port() const { return metrics_port_; }
  int http_port() const { return http_port_; }
  // "127.0.0.1:<grpc_port>".
  std::string address() const;
  // Everything the server wrote to stderr so far.
  std::string Stderr() const;
  const std::string& stderr_path() const { return stderr_path_; }

 private:
  ServerProcess(pid_t pid, std::string stderr_path, std::string ready_path)
      : pid_(pid), stderr_path_(std::move(stderr_path)), ready_path_(std::move(ready_path)) {}
  // Non-blocking reap; true once the process has exited.
  bool Reap();

  const pid_t pid_;
  const std::string stderr_path_;
  const std::string ready_path_;
  int grpc_port_ = 0;
  int metrics_port_ = 0;
  int http_port_ = 0;
  std::optional<int> exit_status_;  // set once reaped
};

// Reads a whole file; empty string if it cannot be read.
std::string ReadFileOrEmpty(const std::string& path);

}  // namespace infratrail::testing

#endif  // INFRATRAIL_TESTS_SERVER_SERVER_PROCESS_H_
