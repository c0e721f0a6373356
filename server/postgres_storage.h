// PostgresStorage: LogStorage on a PostgreSQL-protocol database (libpq), for
// several infratrail-server processes sharing one log: one leader sequences
// and signs, the others serve reads (docs/ha.md).
//
// Tables (schema and migrations in postgres_storage.cc, kMigrations; the
// layout is specified in docs/storage.md):
//   log_head      one row: tree size and state, the leader's fencing epoch,
//                 the last signed (size, root)
//   entries       idx BIGINT          -> entry bytes
//   leaf_index    leaf_hash BYTEA     -> idx
//   tiles         (level, idx)        -> concatenated 32-byte hashes
//   meta          key TEXT            -> value (identity, checkpoint, ...)
//   leader_lease  one row: epoch, holder, its gRPC address, expiry (the
//                 database's clock, so servers' clocks do not matter)
//
// Commit is one transaction: the log_head row is updated first, on the
// condition that the tree still has the size the batch starts from and, once
// a fencing epoch is set, that the epoch is still ours; then the entries,
// leaf-index rows and tiles. The row lock on log_head serialises every
// writer, and a takeover (TryAcquireLease) bumps the epoch in that same row,
// so a deposed leader's commit waits for the takeover and then matches no
// row: two writers can never both extend the same size. The
// acknowledgement follows COMMIT's reply; synchronous_commit must not be
// off (Open refuses it).
//
// Thread-safe: statements run on a small pool of connections; a broken
// connection is reset on its next use. Errors: Unavailable for a lost or
// refused connection (the outcome of a COMMIT whose reply was lost is
// unknown: the caller rereads the state), ResourceExhausted for a full
// disk, FailedPrecondition for a lost condition (tree size moved, epoch
// superseded), Internal for the rest.
#ifndef INFRATRAIL_SERVER_POSTGRES_STORAGE_H_
#define INFRATRAIL_SERVER_POSTGRES_STORAGE_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/checkpoint_signer.h"
#include "server/storage.h"

typedef struct pg_conn PGconn;

namespace infratrail {

struct PostgresOptions {
  // A libpq connection URI (postgres://USER@HOST:PORT/DB?sslmode=...) or
  // key=value string. Passwords belong in PGPASSFILE or ~/.pgpass, not here.
  std::string conninfo;
  int pool_size = 4;  // connections for reads and meta writes (plus Commit's)
  // Connect timeout of each connection attempt.
  absl::Duration connect_timeout = absl::Seconds(5);
};

// Who holds the leader lease, as last read.
struct LeaseView {
  int64_t epoch = 0;
  std::string holder;
  std::string address;  // the holder's advertised gRPC address
  bool valid = false;   // not expired
};

class PostgresStorage : public LogStorage, public SharedSignerState {
 public:
  // Connects, checks synchronous_commit, and creates or migrates the schema
  // (idempotent; several servers may start at once). FailedPrecondition for
  // a database with a newer schema than this build knows, or with
  // synchronous_commit off; Unavailable if it cannot be reached.
  static absl::StatusOr<std::unique_ptr<PostgresStorage>> Open(const PostgresOptions& options);
  ~PostgresStorage() override;

  // The conninfo with any password replaced by "***", for messages.
  static std::string Redact(absl::string_view conninfo);

  // From now on Commit, PutMeta and the signer state require log_head's
  // epoch to equal `epoch` (FailedPrecondition otherwise). Set by the
  // leader after TryAcquireLease; nullopt (the default) checks no epoch.
  void SetFencingEpoch(std::optional<int64_t> epoch);

  // LogStorage.
  absl::Status Commit(const CommitBatch& batch) override;
  absl::StatusOr<TreeState> ReadTreeState() override;
  absl::Status LookupLeaves(absl::Span<const Hash> hashes,
                            std::vector<std::optional<uint64_t>>* out) override;
  absl::Status ReadEntries(uint64_t begin, uint64_t end, std::vector<std::string>* out) override;
  absl::StatusOr<std::string> ReadTile(const TileId& tile) override;
  absl::StatusOr<std::optional<std::string>> GetMeta(absl::string_view key) override;
  absl::Status PutMeta(absl::string_view key, absl::string_view value) override;

  // SharedSignerState: the last signed head, in log_head.
  absl::StatusOr<std::optional<SignedHead>> LoadSignedHead() override;
  absl::Status StoreSignedHead(const SignedHead& head) override;

  // Leader lease. TryAcquireLease takes the lease if it has expired or is
  // already `holder`'s, bumping the epoch (in leader_lease and log_head, one
  // transaction); the new epoch, or nullopt if another holds it (`current`
  // then says who, when non-null).
  absl::StatusOr<std::optional<int64_t>> TryAcquireLease(const std::string& holder,
                                                         const std::string& address,
                                                         absl::Duration ttl, LeaseView* current);
  // Extends the lease of `epoch` and records the holder's `address`;
  // FailedPrecondition if it is no longer held.
  absl::Status RenewLease(int64_t epoch, absl::Duration ttl, const std::string& address);
  // Lets the lease of `epoch` expire now (a clean stop), so a standby takes
  // over at once. OK if it was not held.
  absl::Status ReleaseLease(int64_t epoch);
  absl::StatusOr<LeaseView> ReadLease();

  // Statements that failed because the connection was lost or refused.
  uint64_t connection_errors() const;

 private:
  class Conn;
  class PooledConn;  // a pooled connection, returned on destruction
  explicit PostgresStorage(const PostgresOptions& options);
  absl::StatusOr<PooledConn> Acquire();
  void Release(std::unique_ptr<Conn> conn);
  absl::Status Migrate();
  // Runs `op` again if it failed Unavailable (a broken connection).
  template <typename T>
  T Retrying(const std::function<T()>& op);

  const PostgresOptions options_;
  absl::Mutex pool_mu_;
  absl::CondVar pool_cv_;
  std::vector<std::unique_ptr<Conn>> idle_ ABSL_GUARDED_BY(pool_mu_);
  int open_ ABSL_GUARDED_BY(pool_mu_) = 0;  // connections created, idle or in use
  absl::Mutex epoch_mu_;
  std::optional<int64_t> epoch_ ABSL_GUARDED_BY(epoch_mu_);
  std::atomic<uint64_t> connection_errors_{0};
};

}  // namespace infratrail

#endif  // INFRATRAIL_SERVER_POSTGRES_STORAGE_H_
