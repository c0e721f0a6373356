// Server: infratrail-server while it serves. Start wires a validated
// ServerConfig into a running process: the log on its RocksDB store (read-
// only if the disk is full), writer authentication, the gRPC port with its
// health service, tiles over HTTP, Prometheus /metrics and the ready file.
// main.cc owns the signals and drives the rest from its one thread: Poll
// about once a second, ReloadTokens on SIGHUP, Drain on SIGTERM or SIGINT.
//
// Lines for the operator go to stderr (command_common.h). Thread-
// compatible: every method is called from main's thread; the log, the
// ports and their threads are the Log's, gRPC's and HttpServer's own.
#ifndef INFRATRAIL_SERVER_SERVER_H_
#define INFRATRAIL_SERVER_SERVER_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "core/note_key.h"
#include "server/server_config.h"

namespace grpc {
class HealthCheckServiceInterface;
class Server;
class ServerCredentials;
}  // namespace grpc
namespace prometheus {
class Exposer;
class Registry;
}  // namespace prometheus

namespace infratrail {

class DiskReserve;
class FaultInjectingStorage;
class HttpServer;
class Log;
class LogService;
class LogStorage;
class Metrics;
class PostgresStorage;
class RocksDbStorage;
class TileCache;
class TileHttpHandler;
class TlogPolicy;
class WriterAuth;

class Server {
 public:
  // Starts serving `config`, which must have passed Validate(). Call it with
  // SIGTERM, SIGINT and SIGHUP blocked: the threads it starts inherit the
  // mask. Raises the open files limit and routes libprotobuf's log to
  // stderr (both process-wide).
  //
  // The error's code says whose fault it is (ExitCodeForStart):
  // InvalidArgument or FailedPrecondition for a refused configuration (an
  // unreadable or malformed signing key or tokens file, a key others may
  // read, an address that cannot listen, a data directory of another log,
  // a rollback or fork, a malformed signer state file); any other code for
  // a runtime failure (the store cannot be opened, the ready file cannot
  // be written). The message is for the operator as it is.
  static absl::StatusOr<std::unique_ptr<Server>> Start(const ServerConfig& config);

  // Stops what Start started, in reverse order; Drain first for a graceful
  // stop (health told first, a bound on in-flight calls).
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Upkeep, about once a second: keeps the gRPC health service in step
  // with the log (a failed write flips it to NOT_SERVING at once; this
  // catches the rest, and flips it back when a disk reserve or publishing
  // failure passes) and updates the metrics nothing else updates. Not OK
  // if the server must stop: becoming leader of a shared database found it
  // rolled back or forked (the caller drains and exits non-zero).
  absl::Status Poll();

  // SIGHUP: re-reads the tokens file. A bad file keeps the old tokens;
  // either way the outcome is said on stderr.
  void ReloadTokens();

  // Drains: health turns NOT_SERVING, what is queued is committed,
  // acknowledged and covered by a final checkpoint, in-flight calls get
  // 10 s to finish while new ones are refused, then tiles HTTP stops.
  // Returns the log's health: not OK if it had stopped serving after a
  // failure. Call once.
  absl::Status Drain();

  // `infratrail-server freeze`: stops taking writes, waits (up to
  // `timeout`) until a checkpoint covering the whole tree is published,
  // witnessed if the log has a witness policy, then records the log as
  // frozen (durably; every later start serves it read-only, writes refused
  // with FailedPrecondition naming `successor`). The final checkpoint note.
  // FailedPrecondition if the log is read-only or already frozen, or the
  // final checkpoint was not published in time (then nothing is recorded
  // and the log is not frozen). Call Drain afterwards.
  absl::StatusOr<std::string> Freeze(const std::string& successor, absl::Duration timeout);

 private:
  explicit Server(const ServerConfig& config);

  // Steps of Start, in order; an error is Start's.
  absl::Status OpenStorage();
  absl::Status OpenLog();
  // A Log over storage_: the leader's (sequencing, signing) or a standby's.
  absl::StatusOr<std::shared_ptr<Log>> NewLog(bool leader);
  std::shared_ptr<Log> CurrentLog() const;
  // Replaces the current log; the previous one is stopped.
  void SwapLog(std::shared_ptr<Log> log);

  // Shared-database storage: the role thread (election, lease renewal,
  // a standby's view of the leader's checkpoints) and its steps.
  void RoleLoop();
  void RoleStep();
  bool Promote(int64_t epoch);
  void StepDown(const std::string& why);
  // LogService's WriteGate: OK on the leader (and on RocksDB).
  absl::Status WriteGate() const;
  bool leader() const;
  absl::Status StartHttp();
  absl::Status StartGrpc(std::shared_ptr<grpc::ServerCredentials> creds, int fd_limit);

  // Tells the health service, and remembers what it was told.
  void SetServing(bool serving);
  // Tells the health service's "infratrail.v1.Log/publication" whether
  // witnessed publication is stalled; says a change on stderr.
  void PollPublication();

  const ServerConfig config_;
  // Owned in the order they are started; destroyed the other way round.
  std::unique_ptr<WriterAuth> auth_;
  std::shared_ptr<prometheus::Registry> registry_;
  std::unique_ptr<Metrics> metrics_;
  std::unique_ptr<DiskReserve> reserve_;
  std::unique_ptr<RocksDbStorage> db_;
  std::unique_ptr<PostgresStorage> pg_;  // --storage postgres://...
  std::unique_ptr<FaultInjectingStorage> faulty_;
  LogStorage* storage_ = nullptr;  // db_ or pg_, or faulty_ over db_
  std::optional<NoteSigner> key_;
  std::unique_ptr<TileCache> tile_cache_;             // shared by the Logs opened in turn
  std::string read_only_reason_;                      // non-empty: db_ is open read-only
  std::shared_ptr<const TlogPolicy> witness_policy_;  // --witness-policy; null: none
  mutable absl::Mutex log_mu_;
  std::shared_ptr<Log> log_ ABSL_GUARDED_BY(log_mu_);
  std::unique_ptr<prometheus::Exposer> exposer_;
  std::unique_ptr<TileHttpHandler> tiles_;
  std::unique_ptr<HttpServer> http_;
  // grpc_'s, once it has started: LogService flips it from its threads when
  // a write fails. Null again from ~Server on.
  std::atomic<grpc::HealthCheckServiceInterface*> health_{nullptr};
  std::unique_ptr<LogService> service_;
  std::unique_ptr<grpc::Server> grpc_;
  int grpc_port_ = 0;
  // Role (shared-database storage). leader_ is true for RocksDB.
  mutable absl::Mutex role_mu_;
  absl::CondVar role_cv_;
  bool leader_ ABSL_GUARDED_BY(role_mu_) = true;
  std::string leader_address_ ABSL_GUARDED_BY(role_mu_);   // a standby's view; "" unknown
  absl::Status standby_health_ ABSL_GUARDED_BY(role_mu_);  // a standby's reads
  absl::Status fatal_ ABSL_GUARDED_BY(role_mu_);
  bool role_stopping_ ABSL_GUARDED_BY(role_mu_) = false;
  std::string holder_;      // this process in the lease row
  std::string advertised_;  // the gRPC address standbys name while this server leads
  int64_t epoch_ = 0;       // the role thread's: the lease epoch held (leader)
  absl::Time renewed_at_;   // the role thread's: the last successful renewal
  std::thread role_thread_;
  bool serving_ = false;                 // as last told to the health service
  bool publication_ok_ = true;           // as last said by PollPublication
  uint64_t refused_seen_ = 0;            // accept_gate::refused() already counted
  uint64_t connection_errors_seen_ = 0;  // pg_->connection_errors() already counted
};

// The exit code for an error of Server::Start: kExitUsage for a refused
// configuration, kExitRuntime for anything else.
int ExitCodeForStart(const absl::Status& status);

}  // namespace infratrail

#endif  // INFRATRAIL_SERVER_SERVER_H_
