#include "server/postgres_storage.h"

#include <libpq-fe.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace infratrail {
namespace {

// The schema, one migration per version, applied in order in one
// transaction each. Only SQL that PostgreSQL 15, CockroachDB and
// YugabyteDB all accept (docs/ha.md says what was checked): no advisory
// locks, no stored procedures, no table inheritance.
constexpr const char* kMigrations[] = {
    // Version 1.
    R"sql(
CREATE TABLE log_head (
  id INT PRIMARY KEY CHECK (id = 1),
  tree_size BIGINT NOT NULL,
  tree_state BYTEA NOT NULL,
  leader_epoch BIGINT NOT NULL,
  signed_size BIGINT,
  signed_root BYTEA
);
CREATE TABLE entries (idx BIGINT PRIMARY KEY, data BYTEA NOT NULL);
CREATE TABLE leaf_index (leaf_hash BYTEA PRIMARY KEY, idx BIGINT NOT NULL);
CREATE TABLE tiles (
  level SMALLINT NOT NULL,
  idx BIGINT NOT NULL,
  data BYTEA NOT NULL,
  PRIMARY KEY (level, idx)
);
CREATE TABLE meta (key TEXT PRIMARY KEY, value BYTEA NOT NULL);
CREATE TABLE leader_lease (
  id INT PRIMARY KEY CHECK (id = 1),
  epoch BIGINT NOT NULL,
  holder TEXT NOT NULL,
  address TEXT NOT NULL,
  expires_at TIMESTAMPTZ NOT NULL
);
INSERT INTO leader_lease VALUES (1, 0, '', '', TIMESTAMPTZ '1970-01-01 00:00:00+00');
)sql",
};
constexpr int kSchemaVersion = sizeof(kMigrations) / sizeof(kMigrations[0]);

// Type OIDs of the binary array elements we send.
constexpr Oid kInt2Oid = 21;
constexpr Oid kInt8Oid = 20;
constexpr Oid kByteaOid = 17;

void PutBE32(uint32_t v, std::string* out) {
  const char b[4] = {static_cast<char>(v >> 24), static_cast<char>(v >> 16),
                     static_cast<char>(v >> 8), static_cast<char>(v)};
  out->append(b, 4);
}

std::string Int8(int64_t v) {
  std::string out;
  PutBigEndian64(static_cast<uint64_t>(v), &out);
  return out;
}

std::string Int2(int v) {
  return std::string{static_cast<char>((v >> 8) & 0xff), static_cast<char>(v & 0xff)};
}

// A one-dimensional array in PostgreSQL's binary array format: header
// (ndim, has-null flag, element type), the dimension (length, lower bound
// 1), then each element as a 4-byte length and its bytes.
class BinaryArray {
 public:
  BinaryArray(Oid element, size_t n, size_t bytes_hint) {
    out_.reserve(20 + n * 4 + bytes_hint);
    PutBE32(1, &out_);
    PutBE32(0, &out_);
    PutBE32(element, &out_);
    PutBE32(static_cast<uint32_t>(n), &out_);
    PutBE32(1, &out_);
  }
  void Add(absl::string_view element) {
    PutBE32(static_cast<uint32_t>(element.size()), &out_);
    out_.append(element.data(), element.size());
  }
  std::string Take() { return std::move(out_); }

 private:
  std::string out_;
};

struct ResultDeleter {
  void operator()(PGresult* r) const { PQclear(r); }
};
using Result = std::unique_ptr<PGresult, ResultDeleter>;

absl::string_view Field(const PGresult* r, int row, int col) {
  return absl::string_view(PQgetvalue(r, row, col), static_cast<size_t>(PQgetlength(r, row, col)));
}

bool ConnectionLost(absl::string_view sqlstate) {
  // Class 08: connection exception; 57P01-57P03: the server is shutting
  // down or starting up.
  return absl::StartsWith(sqlstate, "08") || sqlstate == "57P01" || sqlstate == "57P02" ||
         sqlstate == "57P03";
}

}  // namespace

// One libpq connection. Statements use the extended protocol with binary
// parameters and results.
class PostgresStorage::Conn {
 public:
  explicit Conn(PGconn* c) : conn_(c) {}
  ~Conn() { PQfinish(conn_); }
  Conn(const Conn&) = delete;
  Conn& operator=(const Conn&) = delete;

  bool ok() const { return PQstatus(conn_) == CONNECTION_OK; }
  PGconn* raw() { return conn_; }

  // Runs `sql` with binary parameters; the result must have status
  // `expect`. `what` names the operation in errors.
  absl::StatusOr<Result> Exec(absl::string_view what, const char* sql,
                              const std::vector<std::string>& params,
                              ExecStatusType expect = PGRES_TUPLES_OK) {
    std::vector<const char*> values(params.size());
    std::vector<int> lengths(params.size());
    std::vector<int> formats(params.size(), 1);
    for (size_t i = 0; i < params.size(); ++i) {
      values[i] = params[i].data();
      lengths[i] = static_cast<int>(params[i].size());
    }
    Result r(PQexecParams(conn_, sql, static_cast<int>(params.size()), nullptr, values.data(),
                          lengths.data(), formats.data(), /*resultFormat=*/1));
    return Check(what, std::move(r), expect);
  }
  // A statement without parameters, text results.
  absl::StatusOr<Result> Simple(absl::string_view what, const char* sql,
                                ExecStatusType expect = PGRES_COMMAND_OK) {
    return Check(what, Result(PQexec(conn_, sql)), expect);
  }

  bool broken() const { return broken_; }

  // Rolls back a transaction left open by a failed step; returns `st`.
  absl::Status Abort(const absl::Status& st) {
    if (ok() && PQtransactionStatus(conn_) != PQTRANS_IDLE) {
      Simple("rollback", "ROLLBACK").IgnoreError();
    }
    return st;
  }

 private:
  absl::StatusOr<Result> Check(absl::string_view what, Result r, ExecStatusType expect) {
    if (r != nullptr && PQresultStatus(r.get()) == expect) return r;
    std::string message;
    std::string sqlstate;
    if (r == nullptr) {
      message = PQerrorMessage(conn_);
    } else {
      message = PQresultErrorMessage(r.get());
      if (const char* s = PQresultErrorField(r.get(), PG_DIAG_SQLSTATE); s != nullptr) sqlstate = s;
      if (message.empty()) {
        message = absl::StrCat("unexpected result ", PQresStatus(PQresultStatus(r.get())));
      }
    }
    absl::StripTrailingAsciiWhitespace(&message);
    const std::string msg =
        absl::StrCat(what, ": postgres: ", message, sqlstate.empty() ? "" : " (SQLSTATE ", sqlstate,
                     sqlstate.empty() ? "" : ")");
    if (PQstatus(conn_) != CONNECTION_OK || ConnectionLost(sqlstate)) {
      broken_ = true;
      return absl::UnavailableError(msg);
    }
    // 53xxx: insufficient resources (53100: disk full).
    if (sqlstate == "53100") return absl::ResourceExhaustedError(absl::StrCat(msg, " (disk full)"));
    if (absl::StartsWith(sqlstate, "53")) return absl::ResourceExhaustedError(msg);
    // Serialization failure, deadlock, lock timeout: the caller may retry.
    if (sqlstate == "40001" || sqlstate == "40P01" || sqlstate == "55P03") {
      return absl::AbortedError(msg);
    }
    // An aborted transaction stays aborted: roll it back before reuse.
    if (PQtransactionStatus(conn_) == PQTRANS_INERROR) {
      PQclear(PQexec(conn_, "ROLLBACK"));
    }
    return absl::InternalError(msg);
  }

  PGconn* conn_;
  bool broken_ = false;
};

// A connection borrowed from the pool; goes back (or, if broken, away) on
// destruction.
class PostgresStorage::PooledConn {
 public:
  PooledConn(PostgresStorage* owner, std::unique_ptr<Conn> conn)
      : owner_(owner), conn_(std::move(conn)) {}
  PooledConn(PooledConn&& other) noexcept = default;
  PooledConn& operator=(PooledConn&& other) noexcept {
    if (this != &other) {
      if (conn_ != nullptr) owner_->Release(std::move(conn_));
      owner_ = other.owner_;
      conn_ = std::move(other.conn_);
    }
    return *this;
  }
  ~PooledConn() {
    if (conn_ != nullptr) owner_->Release(std::move(conn_));
  }
  Conn* operator->() { return conn_.get(); }
  Conn& operator*() { return *conn_; }

 private:
  PostgresStorage* owner_;
  std::unique_ptr<Conn> conn_;
};

std::string PostgresStorage::Redact(absl::string_view conninfo) {
  std::string out(conninfo);
  // URI form: scheme://user:password@host...
  if (size_t scheme = out.find("://"); scheme != std::string::npos) {
    const size_t at = out.find('@', scheme + 3);
    const size_t colon = out.find(':', scheme + 3);
    if (at != std::string::npos && colon != std::string::npos && colon < at) {
      out.replace(colon + 1, at - colon - 1, "***");
    }
  }
  // key=value form, or a URI parameter.
  for (const std::string key : {"password="}) {
    size_t pos = 0;
    while ((pos = out.find(key, pos)) != std::string::npos) {
      const size_t start = pos + key.size();
      size_t end = out.find_first_of(" &", start);
      if (end == std::string::npos) end = out.size();
      out.replace(start, end - start, "***");
      pos = start + 3;
    }
  }
  return out;
}

PostgresStorage::PostgresStorage(const PostgresOptions& options) : options_(options) {}

PostgresStorage::~PostgresStorage() {
  absl::MutexLock l(&pool_mu_);
  idle_.clear();
}

absl::StatusOr<PostgresStorage::PooledConn> PostgresStorage::Acquire() {
  {
    absl::MutexLock l(&pool_mu_);
    while (idle_.empty() && open_ >= options_.pool_size) pool_cv_.Wait(&pool_mu_);
    if (!idle_.empty()) {
      std::unique_ptr<Conn> c = std::move(idle_.back());
      idle_.pop_back();
      return PooledConn(this, std::move(c));
    }
    ++open_;
  }
  // A new connection, made outside the lock.
  const std::string timeout =
      absl::StrCat(std::max<int64_t>(1, absl::ToInt64Seconds(options_.connect_timeout)));
  const char* keys[] = {"dbname", "connect_timeout", "application_name", nullptr};
  const char* values[] = {options_.conninfo.c_str(), timeout.c_str(), "infratrail-server", nullptr};
  PGconn* raw = PQconnectdbParams(keys, values, /*expand_dbname=*/1);
  auto conn = std::make_unique<Conn>(raw);
  if (raw == nullptr || !conn->ok()) {
    std::string why = raw == nullptr ? "out of memory" : PQerrorMessage(raw);
    absl::StripTrailingAsciiWhitespace(&why);
    connection_errors_.fetch_add(1, std::memory_order_relaxed);
    {
      absl::MutexLock l(&pool_mu_);
      --open_;
      pool_cv_.Signal();
    }
    return absl::UnavailableError(
        absl::StrCat("connect to ", Redact(options_.conninfo), ": postgres: ", why));
  }
  // The session's settings: UTC, and every statement bounded so a stuck
  // lock cannot hold a server forever.
  absl::StatusOr<Result> set = conn->Simple(
      "configure session",
      "SET TIME ZONE 'UTC'; SET statement_timeout = '60s'; SET client_min_messages = warning");
  if (!set.ok()) {
    Release(std::move(conn));
    return set.status();
  }
  return PooledConn(this, std::move(conn));
}

void PostgresStorage::Release(std::unique_ptr<Conn> conn) {
  const bool keep =
      conn->ok() && !conn->broken() && PQtransactionStatus(conn->raw()) == PQTRANS_IDLE;
  if (!keep) connection_errors_.fetch_add(1, std::memory_order_relaxed);
  std::unique_ptr<Conn> drop;
  std::vector<std::unique_ptr<Conn>> stale;
  {
    absl::MutexLock l(&pool_mu_);
    if (keep) {
      idle_.push_back(std::move(conn));
    } else {
      drop = std::move(conn);
      --open_;
      // One broken connection usually means the database restarted or
      // failed over: its idle siblings are as dead, and reconnect on use.
      stale = std::move(idle_);
      idle_.clear();
      open_ -= static_cast<int>(stale.size());
    }
    pool_cv_.SignalAll();
  }
}

namespace {
const absl::Status& StatusOf(const absl::Status& s) { return s; }
template <typename T>
const absl::Status& StatusOf(const absl::StatusOr<T>& s) {
  return s.status();
}
}  // namespace

template <typename T>
T PostgresStorage::Retrying(const std::function<T()>& op) {
  // A statement that found its connection broken ran nowhere: once more,
  // on a fresh connection (only for reads and statements that failed
  // before changing anything).
  T result = op();
  if (!result.ok() && absl::IsUnavailable(StatusOf(result))) result = op();
  return result;
}

uint64_t PostgresStorage::connection_errors() const {
  return connection_errors_.load(std::memory_order_relaxed);
}

absl::StatusOr<std::unique_ptr<PostgresStorage>> PostgresStorage::Open(
    const PostgresOptions& options) {
  if (options.pool_size < 1) return absl::InvalidArgumentError("postgres: pool size must be >= 1");
  std::unique_ptr<PostgresStorage> s(new PostgresStorage(options));
  {
    absl::StatusOr<PooledConn> c = s->Acquire();
    if (!c.ok()) return c.status();
    absl::StatusOr<Result> sc =
        (*c)->Simple("read synchronous_commit", "SHOW synchronous_commit", PGRES_TUPLES_OK);
    if (!sc.ok()) return sc.status();
    const std::string value = PQgetvalue(sc->get(), 0, 0);
    if (value == "off") {
      return absl::FailedPreconditionError(
          absl::StrCat(Redact(options.conninfo),
                       ": synchronous_commit is off, so an acknowledged event could be lost "
                       "in a database crash; set it to on (or remote_apply with a synchronous "
                       "standby) for this database or role"));
    }
  }
  if (absl::Status st = s->Migrate(); !st.ok()) return st;
  return s;
}

absl::Status PostgresStorage::Migrate() {
  // Several servers may start at once: each migration is one transaction,
  // and a loser of the race to create a table retries and finds it done.
  for (int attempt = 0;; ++attempt) {
    absl::StatusOr<PooledConn> c = Acquire();
    if (!c.ok()) return c.status();
    absl::Status st = [&]() -> absl::Status {
      absl::StatusOr<Result> r = (*c)->Simple(
          "create schema table",
          "CREATE TABLE IF NOT EXISTS infratrail_schema (id INT PRIMARY KEY CHECK (id = 1), "
          "version INT NOT NULL)");
      if (!r.ok()) return r.status();
      r = (*c)->Simple("read schema version", "SELECT version FROM infratrail_schema WHERE id = 1",
                       PGRES_TUPLES_OK);
      if (!r.ok()) return r.status();
      int version = 0;
      if (PQntuples(r->get()) == 1) version = std::atoi(PQgetvalue(r->get(), 0, 0));
      if (version > kSchemaVersion) {
        return absl::FailedPreconditionError(absl::StrCat(
            Redact(options_.conninfo), ": database schema version ", version,
            " is newer than this server's (", kSchemaVersion, "); upgrade infratrail-server"));
      }
      for (int v = version; v < kSchemaVersion; ++v) {
        if (r = (*c)->Simple("begin migration", "BEGIN"); !r.ok()) return r.status();
        // Re-read under the transaction: another server may have migrated.
        r = (*c)->Simple("read schema version",
                         "SELECT version FROM infratrail_schema WHERE id = 1 FOR UPDATE",
                         PGRES_TUPLES_OK);
        if (!r.ok()) return r.status();
        int now = 0;
        if (PQntuples(r->get()) == 1) now = std::atoi(PQgetvalue(r->get(), 0, 0));
        if (now != v) return (*c)->Abort(absl::AbortedError("schema migrated concurrently"));
        if (r = (*c)->Simple(absl::StrCat("migration to version ", v + 1), kMigrations[v]);
            !r.ok()) {
          return r.status();
        }
        if (v == 0) {
          // The empty tree's head, and the schema row.
          absl::StatusOr<Result> ins =
              (*c)->Exec("initialise log head",
                         "INSERT INTO log_head (id, tree_size, tree_state, leader_epoch) "
                         "VALUES (1, 0, $1::bytea, 0)",
                         {EncodeTreeState(TreeState{})}, PGRES_COMMAND_OK);
          if (!ins.ok()) return ins.status();
          r = (*c)->Simple("record schema version",
                           "INSERT INTO infratrail_schema (id, version) VALUES (1, 1)");
        } else {
          r = (*c)->Simple(
              "record schema version",
              absl::StrCat("UPDATE infratrail_schema SET version = ", v + 1, " WHERE id = 1")
                  .c_str());
        }
        if (!r.ok()) return r.status();
        if (r = (*c)->Simple("commit migration", "COMMIT"); !r.ok()) return r.status();
      }
      return absl::OkStatus();
    }();
    if (st.ok() || attempt >= 5) return st;
    // A concurrent creator: unique violations and aborts are retried.
    if (!absl::IsAborted(st) && !absl::IsInternal(st)) return st;
    (*c)->Abort(st).IgnoreError();
  }
}

void PostgresStorage::SetFencingEpoch(std::optional<int64_t> epoch) {
  absl::MutexLock l(&epoch_mu_);
  epoch_ = epoch;
}

absl::Status PostgresStorage::Commit(const CommitBatch& batch) {
  const size_t n = batch.entries.size();
  if (batch.leaf_hashes.size() != n) {
    return absl::InvalidArgumentError("commit: entries and leaf hashes differ in number");
  }
  std::optional<int64_t> epoch;
  {
    absl::MutexLock l(&epoch_mu_);
    epoch = epoch_;
  }
  // BEGIN changes nothing: on a connection found broken, once more.
  absl::StatusOr<PooledConn> c = absl::UnavailableError("commit: no connection");
  for (int attempt = 0; attempt < 2; ++attempt) {
    c = Acquire();
    if (!c.ok()) return c.status();
    absl::StatusOr<Result> begun = (*c)->Simple("commit: begin", "BEGIN");
    if (begun.ok()) break;
    if (!absl::IsUnavailable(begun.status()) || attempt == 1) return begun.status();
  }
  Conn& conn = **c;
  // The head first: its row lock serialises writers, and its condition is
  // what makes two writers extending one size impossible.
  {
    absl::StatusOr<Result> r =
        epoch.has_value()
            ? conn.Exec("commit: update head",
                        "UPDATE log_head SET tree_size = $1::int8, tree_state = $2::bytea "
                        "WHERE id = 1 AND tree_size = $3::int8 AND leader_epoch = $4::int8",
                        {Int8(static_cast<int64_t>(batch.state.size)), EncodeTreeState(batch.state),
                         Int8(static_cast<int64_t>(batch.first_index)), Int8(*epoch)},
                        PGRES_COMMAND_OK)
            : conn.Exec("commit: update head",
                        "UPDATE log_head SET tree_size = $1::int8, tree_state = $2::bytea "
                        "WHERE id = 1 AND tree_size = $3::int8",
                        {Int8(static_cast<int64_t>(batch.state.size)), EncodeTreeState(batch.state),
                         Int8(static_cast<int64_t>(batch.first_index))},
                        PGRES_COMMAND_OK);
    if (!r.ok()) return conn.Abort(r.status());
    if (std::strcmp(PQcmdTuples(r->get()), "1") != 0) {
      return conn.Abort(absl::FailedPreconditionError(absl::StrCat(
          "commit: the log's head is no longer at size ", batch.first_index,
          epoch.has_value() ? absl::StrCat(" with leader epoch ", *epoch) : std::string(),
          " (another server is writing this log)")));
    }
  }
  if (n > 0) {
    size_t bytes = 0;
    for (absl::string_view e : batch.entries) bytes += e.size();
    BinaryArray idx(kInt8Oid, n, n * 8);
    BinaryArray data(kByteaOid, n, bytes);
    BinaryArray hashes(kByteaOid, n, n * 32);
    for (size_t i = 0; i < n; ++i) {
      idx.Add(Int8(static_cast<int64_t>(batch.first_index + i)));
      data.Add(batch.entries[i]);
      hashes.Add(AsBytes(batch.leaf_hashes[i]));
    }
    const std::string idx_array = idx.Take();
    absl::StatusOr<Result> r =
        conn.Exec("commit: insert entries",
                  "INSERT INTO entries (idx, data) SELECT * FROM unnest($1::int8[], $2::bytea[])",
                  {idx_array, data.Take()}, PGRES_COMMAND_OK);
    if (!r.ok()) return conn.Abort(r.status());
    r = conn.Exec(
        "commit: insert leaf index",
        "INSERT INTO leaf_index (leaf_hash, idx) SELECT * FROM unnest($1::bytea[], $2::int8[])",
        {hashes.Take(), idx_array}, PGRES_COMMAND_OK);
    if (!r.ok()) return conn.Abort(r.status());
  }
  if (!batch.tiles.empty()) {
    const size_t t = batch.tiles.size();
    BinaryArray levels(kInt2Oid, t, t * 2);
    BinaryArray indexes(kInt8Oid, t, t * 8);
    BinaryArray datas(kByteaOid, t, t * 8192);
    for (const auto& [tile, bytes] : batch.tiles) {
      if (tile.entries)
        return conn.Abort(absl::InvalidArgumentError("commit: an entry bundle tile"));
      levels.Add(Int2(tile.level));
      indexes.Add(Int8(static_cast<int64_t>(tile.index)));
      datas.Add(bytes);
    }
    absl::StatusOr<Result> r =
        conn.Exec("commit: write tiles",
                  "INSERT INTO tiles (level, idx, data) "
                  "SELECT * FROM unnest($1::int2[], $2::int8[], $3::bytea[]) "
                  "ON CONFLICT (level, idx) DO UPDATE SET data = excluded.data",
                  {levels.Take(), indexes.Take(), datas.Take()}, PGRES_COMMAND_OK);
    if (!r.ok()) return conn.Abort(r.status());
  }
  // Commit point: once COMMIT's reply says so, the batch is durable (with
  // synchronous_commit on). A reply lost on the way is Unavailable: the
  // batch may or may not be in; the caller rereads the head.
  absl::StatusOr<Result> r = conn.Simple("commit", "COMMIT");
  if (!r.ok()) return conn.Abort(r.status());
  // COMMIT of a transaction that failed earlier replies ROLLBACK.
  if (std::strcmp(PQcmdStatus(r->get()), "COMMIT") != 0) {
    return absl::InternalError(absl::StrCat("commit: postgres answered ", PQcmdStatus(r->get())));
  }
  return absl::OkStatus();
}

absl::StatusOr<TreeState> PostgresStorage::ReadTreeState() {
  return Retrying<absl::StatusOr<TreeState>>([&]() -> absl::StatusOr<TreeState> {
    absl::StatusOr<PooledConn> c = Acquire();
    if (!c.ok()) return c.status();
    absl::StatusOr<Result> r =
        (*c)->Exec("read tree state", "SELECT tree_state FROM log_head WHERE id = 1", {});
    if (!r.ok()) return r.status();
    if (PQntuples(r->get()) != 1) return absl::DataLossError("read tree state: no log_head row");
    return DecodeTreeState(Field(r->get(), 0, 0));
  });
}

absl::Status PostgresStorage::LookupLeaves(absl::Span<const Hash> hashes,
                                           std::vector<std::optional<uint64_t>>* out) {
  return Retrying<absl::Status>([&]() -> absl::Status {
    out->assign(hashes.size(), std::nullopt);
    if (hashes.empty()) return absl::OkStatus();
    BinaryArray array(kByteaOid, hashes.size(), hashes.size() * 32);
    for (const Hash& h : hashes) array.Add(AsBytes(h));
    absl::StatusOr<PooledConn> c = Acquire();
    if (!c.ok()) return c.status();
    absl::StatusOr<Result> r = (*c)->Exec(
        "lookup leaf hashes",
        "SELECT leaf_hash, idx FROM leaf_index WHERE leaf_hash = ANY($1::bytea[])", {array.Take()});
    if (!r.ok()) return r.status();
    const int rows = PQntuples(r->get());
    if (rows == 0) return absl::OkStatus();
    // Few hits is the common case: match each row to its hashes.
    absl::flat_hash_map<Hash, uint64_t> found;
    for (int i = 0; i < rows; ++i) {
      absl::string_view h = Field(r->get(), i, 0);
      absl::string_view idx = Field(r->get(), i, 1);
      if (h.size() != kHashSize || idx.size() != 8) {
        return absl::DataLossError("lookup leaf hashes: malformed leaf_index row");
      }
      Hash hash;
      std::memcpy(hash.data(), h.data(), kHashSize);
      found[hash] = GetBigEndian64(idx);
    }
    for (size_t i = 0; i < hashes.size(); ++i) {
      if (auto it = found.find(hashes[i]); it != found.end()) (*out)[i] = it->second;
    }
    return absl::OkStatus();
  });
}

absl::Status PostgresStorage::ReadEntries(uint64_t begin, uint64_t end,
                                          std::vector<std::string>* out) {
  return Retrying<absl::Status>([&]() -> absl::Status {
    if (begin >= end) return absl::OkStatus();
    absl::StatusOr<PooledConn> c = Acquire();
    if (!c.ok()) return c.status();
    absl::StatusOr<Result> r = (*c)->Exec(
        "read entries",
        "SELECT idx, data FROM entries WHERE idx >= $1::int8 AND idx < $2::int8 ORDER BY idx",
        {Int8(static_cast<int64_t>(begin)), Int8(static_cast<int64_t>(end))});
    if (!r.ok()) return r.status();
    const int rows = PQntuples(r->get());
    uint64_t next = begin;
    for (int i = 0; i < rows; ++i, ++next) {
      absl::string_view idx = Field(r->get(), i, 0);
      if (idx.size() != 8 || GetBigEndian64(idx) != next) break;
      absl::string_view data = Field(r->get(), i, 1);
      out->emplace_back(data);
    }
    if (next != end) {
      return absl::NotFoundError(absl::StrCat("read entries: entry ", next, " missing"));
    }
    return absl::OkStatus();
  });
}

absl::StatusOr<std::string> PostgresStorage::ReadTile(const TileId& tile) {
  return Retrying<absl::StatusOr<std::string>>([&]() -> absl::StatusOr<std::string> {
    if (absl::Status st = CheckStoredTile(tile); !st.ok()) return st;
    absl::StatusOr<PooledConn> c = Acquire();
    if (!c.ok()) return c.status();
    absl::StatusOr<Result> r =
        (*c)->Exec("read tile", "SELECT data FROM tiles WHERE level = $1::int2 AND idx = $2::int8",
                   {Int2(tile.level), Int8(static_cast<int64_t>(tile.index))});
    if (!r.ok()) return r.status();
    if (PQntuples(r->get()) == 0) {
      return absl::NotFoundError(
          absl::StrCat("read tile ", tile.level, "/", tile.index, ": missing"));
    }
    return std::string(Field(r->get(), 0, 0));
  });
}

absl::StatusOr<std::optional<std::string>> PostgresStorage::GetMeta(absl::string_view key) {
  if (key == kMetaTreeState) {
    absl::StatusOr<TreeState> st = ReadTreeState();
    if (!st.ok()) return st.status();
    return std::optional<std::string>(EncodeTreeState(*st));
  }
  absl::StatusOr<PooledConn> c = Acquire();
  if (!c.ok()) return c.status();
  absl::StatusOr<Result> r =
      (*c)->Exec(absl::StrCat("read meta ", key), "SELECT value FROM meta WHERE key = $1::text",
                 {std::string(key)});
  if (!r.ok()) return r.status();
  if (PQntuples(r->get()) == 0) return std::optional<std::string>();
  return std::optional<std::string>(std::string(Field(r->get(), 0, 0)));
}

absl::Status PostgresStorage::PutMeta(absl::string_view key, absl::string_view value) {
  if (key == kMetaTreeState) return absl::InvalidArgumentError("PutMeta: tree_state is reserved");
  std::optional<int64_t> epoch;
  {
    absl::MutexLock l(&epoch_mu_);
    epoch = epoch_;
  }
  absl::StatusOr<PooledConn> c = Acquire();
  if (!c.ok()) return c.status();
  Conn& conn = **c;
  const std::string what = absl::StrCat("write meta ", key);
  constexpr const char* kUpsert =
      "INSERT INTO meta (key, value) VALUES ($1::text, $2::bytea) "
      "ON CONFLICT (key) DO UPDATE SET value = excluded.value";
  if (!epoch.has_value()) {
    return conn.Exec(what, kUpsert, {std::string(key), std::string(value)}, PGRES_COMMAND_OK)
        .status();
  }
  // Fenced like Commit: a share lock on log_head, which a takeover must
  // wait for, and the epoch still ours (a deposed leader's late checkpoint
  // must not replace a newer one).
  if (absl::StatusOr<Result> r = conn.Simple(what, "BEGIN"); !r.ok()) return conn.Abort(r.status());
  absl::StatusOr<Result> r =
      conn.Exec(what, "SELECT 1 FROM log_head WHERE id = 1 AND leader_epoch = $1::int8 FOR SHARE",
                {Int8(*epoch)});
  if (!r.ok()) return conn.Abort(r.status());
  if (PQntuples(r->get()) != 1) {
    return conn.Abort(absl::FailedPreconditionError(
        absl::StrCat(what, ": leader epoch ", *epoch, " was taken over by another server")));
  }
  r = conn.Exec(what, kUpsert, {std::string(key), std::string(value)}, PGRES_COMMAND_OK);
  if (!r.ok()) return conn.Abort(r.status());
  r = conn.Simple(what, "COMMIT");
  if (!r.ok()) return conn.Abort(r.status());
  return absl::OkStatus();
}

absl::StatusOr<std::optional<SignedHead>> PostgresStorage::LoadSignedHead() {
  return Retrying<absl::StatusOr<std::optional<SignedHead>>>(
      [&]() -> absl::StatusOr<std::optional<SignedHead>> {
        absl::StatusOr<PooledConn> c = Acquire();
        if (!c.ok()) return c.status();
        absl::StatusOr<Result> r = (*c)->Exec(
            "read signed head", "SELECT signed_size, signed_root FROM log_head WHERE id = 1", {});
        if (!r.ok()) return r.status();
        if (PQntuples(r->get()) != 1)
          return absl::DataLossError("read signed head: no log_head row");
        if (PQgetisnull(r->get(), 0, 0)) return std::optional<SignedHead>();
        absl::string_view size = Field(r->get(), 0, 0);
        absl::string_view root = Field(r->get(), 0, 1);
        if (size.size() != 8 || root.size() != kHashSize) {
          return absl::DataLossError("read signed head: malformed signed_size or signed_root");
        }
        SignedHead head;
        head.size = GetBigEndian64(size);
        std::memcpy(head.root.data(), root.data(), kHashSize);
        return std::optional<SignedHead>(head);
      });
}

absl::Status PostgresStorage::StoreSignedHead(const SignedHead& head) {
  std::optional<int64_t> epoch;
  {
    absl::MutexLock l(&epoch_mu_);
    epoch = epoch_;
  }
  absl::StatusOr<PooledConn> c = Acquire();
  if (!c.ok()) return c.status();
  // Never backwards, and (once fenced) only by the current leader.
  absl::StatusOr<Result> r =
      (*c)->Exec("store signed head",
                 "UPDATE log_head SET signed_size = $1::int8, signed_root = $2::bytea WHERE id = 1 "
                 "AND (signed_size IS NULL OR signed_size <= $1::int8) "
                 "AND ($3::int8 < 0 OR leader_epoch = $3::int8)",
                 {Int8(static_cast<int64_t>(head.size)), std::string(AsBytes(head.root)),
                  Int8(epoch.value_or(-1))},
                 PGRES_COMMAND_OK);
  if (!r.ok()) return r.status();
  if (std::strcmp(PQcmdTuples(r->get()), "1") != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("store signed head of size ", head.size,
                     ": the database holds a larger signed head or another server's leader epoch"));
  }
  return absl::OkStatus();
}

namespace {

// The lease row as selected by kLeaseColumns, in binary.
constexpr const char* kLeaseColumns =
    "epoch, holder, address, (expires_at > clock_timestamp()) AS valid";

LeaseView ParseLease(const PGresult* r) {
  LeaseView v;
  v.epoch = static_cast<int64_t>(GetBigEndian64(Field(r, 0, 0)));
  v.holder = std::string(Field(r, 0, 1));
  v.address = std::string(Field(r, 0, 2));
  v.valid = Field(r, 0, 3) == absl::string_view("\x01", 1);
  return v;
}

std::string Millis(absl::Duration d) { return Int8(absl::ToInt64Milliseconds(d)); }

}  // namespace

absl::StatusOr<LeaseView> PostgresStorage::ReadLease() {
  return Retrying<absl::StatusOr<LeaseView>>([&]() -> absl::StatusOr<LeaseView> {
    absl::StatusOr<PooledConn> c = Acquire();
    if (!c.ok()) return c.status();
    absl::StatusOr<Result> r = (*c)->Exec(
        "read leader lease",
        absl::StrCat("SELECT ", kLeaseColumns, " FROM leader_lease WHERE id = 1").c_str(), {});
    if (!r.ok()) return r.status();
    if (PQntuples(r->get()) != 1) return absl::DataLossError("read leader lease: no row");
    return ParseLease(r->get());
  });
}

absl::StatusOr<std::optional<int64_t>> PostgresStorage::TryAcquireLease(const std::string& holder,
                                                                        const std::string& address,
                                                                        absl::Duration ttl,
                                                                        LeaseView* current) {
  absl::StatusOr<PooledConn> c = Acquire();
  if (!c.ok()) return c.status();
  Conn& conn = **c;
  if (absl::StatusOr<Result> r = conn.Simple("acquire lease: begin", "BEGIN"); !r.ok()) {
    return conn.Abort(r.status());
  }
  absl::StatusOr<Result> r = conn.Exec(
      "acquire lease",
      absl::StrCat("UPDATE leader_lease SET epoch = epoch + 1, holder = $1::text, "
                   "address = $2::text, "
                   "expires_at = clock_timestamp() + $3::int8 * INTERVAL '1 millisecond' "
                   "WHERE id = 1 AND (expires_at <= clock_timestamp() OR holder = $1::text) "
                   "RETURNING ",
                   kLeaseColumns)
          .c_str(),
      {holder, address, Millis(ttl)});
  if (!r.ok()) return conn.Abort(r.status());
  if (PQntuples(r->get()) == 0) {
    r = conn.Exec("read leader lease",
                  absl::StrCat("SELECT ", kLeaseColumns, " FROM leader_lease WHERE id = 1").c_str(),
                  {});
    if (!r.ok()) return conn.Abort(r.status());
    if (absl::StatusOr<Result> end = conn.Simple("acquire lease: end", "COMMIT"); !end.ok()) {
      return conn.Abort(end.status());
    }
    if (current != nullptr && PQntuples(r->get()) == 1) *current = ParseLease(r->get());
    return std::optional<int64_t>();
  }
  const LeaseView won = ParseLease(r->get());
  // The epoch in log_head too, in the same transaction: a commit of the
  // previous leader holding the row finishes first; any later one matches
  // no row.
  r = conn.Exec("acquire lease: fence", "UPDATE log_head SET leader_epoch = $1::int8 WHERE id = 1",
                {Int8(won.epoch)}, PGRES_COMMAND_OK);
  if (!r.ok()) return conn.Abort(r.status());
  r = conn.Simple("acquire lease: commit", "COMMIT");
  if (!r.ok()) return conn.Abort(r.status());
  if (std::strcmp(PQcmdStatus(r->get()), "COMMIT") != 0) {
    return absl::AbortedError("acquire lease: transaction rolled back");
  }
  if (current != nullptr) *current = won;
  return std::optional<int64_t>(won.epoch);
}

absl::Status PostgresStorage::RenewLease(int64_t epoch, absl::Duration ttl,
                                         const std::string& address) {
  absl::StatusOr<PooledConn> c = Acquire();
  if (!c.ok()) return c.status();
  absl::StatusOr<Result> r = (*c)->Exec("renew lease",
                                        "UPDATE leader_lease SET expires_at = clock_timestamp() + "
                                        "$2::int8 * INTERVAL '1 millisecond', address = $3::text "
                                        "WHERE id = 1 AND epoch = $1::int8",
                                        {Int8(epoch), Millis(ttl), address}, PGRES_COMMAND_OK);
  if (!r.ok()) return r.status();
  if (std::strcmp(PQcmdTuples(r->get()), "1") != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("renew lease: epoch ", epoch, " was taken over"));
  }
  return absl::OkStatus();
}

absl::Status PostgresStorage::ReleaseLease(int64_t epoch) {
  absl::StatusOr<PooledConn> c = Acquire();
  if (!c.ok()) return c.status();
  return (*c)
      ->Exec("release lease",
             "UPDATE leader_lease SET expires_at = TIMESTAMPTZ '1970-01-01 00:00:00+00' "
             "WHERE id = 1 AND epoch = $1::int8",
             {Int8(epoch)}, PGRES_COMMAND_OK)
      .status();
}

}  // namespace infratrail
