// PostgresCluster: a throwaway PostgreSQL server for tests and benchmarks,
// made with initdb and run with pg_ctl in a new temporary directory, on
// loopback only (TCP on a free port, and a socket in its directory). Run as
// root, it runs PostgreSQL as the unprivileged user `nobody` (PostgreSQL
// refuses root); otherwise as the caller.
//
// Binaries: $PG_BINDIR, else the newest /usr/lib/postgresql/*/bin (Debian's
// postgresql package). The directory is under $PG_TEST_TMPDIR, else /tmp
// (every component must be reachable by `nobody`). A watchdog process
// stops the server and removes the directory when the process that started
// it exits, even by a crash.
#ifndef INFRATRAIL_SERVER_TESTING_POSTGRES_CLUSTER_H_
#define INFRATRAIL_SERVER_TESTING_POSTGRES_CLUSTER_H_

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace infratrail::testutil {

struct PostgresClusterOptions {
  bool fsync = true;                       // off only where durability is not under test
  std::vector<std::string> settings = {};  // more "-c name=value" settings
};

class PostgresCluster {
 public:
  // Unavailable (with initdb's or pg_ctl's output) if it cannot start;
  // NotFound if PostgreSQL is not installed.
  static absl::StatusOr<std::unique_ptr<PostgresCluster>> Start(
      const PostgresClusterOptions& options = {});
  // One cluster for the whole test binary, started by the first call (whose
  // options it keeps) and stopped at exit; tests take a database each
  // (CreateDatabase). Null, with a test failure naming why, if it cannot
  // start.
  static PostgresCluster* Shared(const PostgresClusterOptions& options = {});
  // Stops the server at once and removes its directory.
  ~PostgresCluster();
  PostgresCluster(const PostgresCluster&) = delete;
  PostgresCluster& operator=(const PostgresCluster&) = delete;

  int port() const { return port_; }
  const std::string& dir() const { return dir_; }
  // postgresql://postgres@127.0.0.1:PORT/DB
  std::string ConnInfo(const std::string& database) const;
  // A new empty database with a unique name; its connection URI.
  absl::StatusOr<std::string> CreateDatabase();
  // Runs SQL (several statements allowed) in `database`; the first column
  // of the first row of the last result, or "" if none.
  absl::StatusOr<std::string> Query(const std::string& database, const std::string& sql);

  // pg_ctl stop -m fast / start again on the same port.
  absl::Status Stop();
  absl::Status Restart();  // stop (if running) and start
  // SIGKILL to the postmaster (a crash); start with Restart.
  absl::Status Kill();
  bool running() const { return running_; }

 private:
  PostgresCluster() = default;
  absl::Status Run(const std::vector<std::string>& argv, const std::string& what);
  absl::Status StartServer();
  // A child that stops the server and removes its directory once this
  // process is gone, however it died (a crashed test leaves nothing behind).
  void StartWatchdog();

  PostgresClusterOptions options_;
  std::string bindir_;
  std::string dir_;
  int port_ = 0;
  bool running_ = false;
  int next_database_ = 0;
  int watchdog_fd_ = -1;  // closing it (or dying) wakes the watchdog
  // Who runs PostgreSQL when we are root (`nobody`), looked up before any
  // fork: a child of a threaded process calls nothing that may lock.
  bool drop_privileges_ = false;
  uid_t uid_ = 0;
  gid_t gid_ = 0;
};

}  // namespace infratrail::testutil

#endif  // INFRATRAIL_SERVER_TESTING_POSTGRES_CLUSTER_H_
