#include "server/server.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <exception>
#include <filesystem>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "client/cli_util.h"
#include "core/http/http_server.h"
#include "core/io/file_util.h"
#include "core/tlog_policy.h"
#include "nlohmann/json.hpp"
#include "prometheus/exposer.h"
#include "prometheus/registry.h"
#include "server/accept_gate.h"
#include "server/command_common.h"
#include "server/disk_reserve.h"
#include "server/exit_codes.h"
#include "server/fault_injecting_storage.h"
#include "server/grpc_port.h"
#include "server/log.h"
#include "server/log_service.h"
#include "server/metrics.h"
#include "server/postgres_storage.h"
#include "server/rocksdb_storage.h"
#include "server/tile_cache.h"
#include "server/tile_http.h"
#include "server/writer_auth.h"

namespace infratrail {
namespace {

constexpr absl::string_view kServiceName = "infratrail.v1.Log";
// The health detail of witnessed publication: NOT_SERVING while checkpoint
// publication waits for the witness quorum (writes are still accepted, so
// the log's own service stays SERVING).
constexpr absl::string_view kPublicationServiceName = "infratrail.v1.Log/publication";
// SERVING only on the server that takes writes: the leader of a shared
// database (docs/ha.md), or a RocksDB server that is serving. For a
// Kubernetes Service or load balancer that should send writes to the
// leader alone.
constexpr absl::string_view kLeaderServiceName = "infratrail.v1.Log/leader";

bool IsConfigurationError(const absl::Status& s) {
  return absl::IsInvalidArgument(s) || absl::IsFailedPrecondition(s);
}

// Start's error codes say whose fault an error is (server.h), whatever code
// the layer below chose: Refused for a step whose every failure is the
// configuration's, Failed for one whose every failure is a runtime one.
absl::Status Refused(const absl::Status& s) {
  return IsConfigurationError(s) ? s : absl::InvalidArgumentError(s.message());
}
absl::Status Failed(const absl::Status& s) {
  return IsConfigurationError(s) ? absl::InternalError(s.message()) : s;
}

// A secret file (signing key, tokens) that group or others may read.
bool OpenToOthers(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 && (st.st_mode & 077) != 0;
}

WitnessCollectorOptions WitnessOptions(const ServerConfig& c) {
  WitnessCollectorOptions o;
  o.timeout = absl::Milliseconds(c.witness_timeout_ms);
  o.attempts = c.witness_attempts;
  o.ca_file = c.witness_ca_file;
  return o;
}

// --witness-policy, parsed; null without one. Its log lines, if any, must
// name this log's key: the same file is what verifiers are given.
absl::StatusOr<std::shared_ptr<const TlogPolicy>> ReadWitnessPolicy(const ServerConfig& c,
                                                                    const NoteSigner& key) {
  if (c.witness_policy.empty()) return std::shared_ptr<const TlogPolicy>();
  absl::StatusOr<std::string> text =
      cli::ReadFileArg(c.witness_policy, "--witness-policy", kMaxPolicyBytes);
  if (!text.ok()) return absl::InvalidArgumentError(text.status().message());
  absl::StatusOr<TlogPolicy> policy = TlogPolicy::Parse(*text, c.witness_policy);
  if (!policy.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--witness-policy: ", policy.status().message()));
  }
  if (!policy->logs().empty()) {
    bool named = false;
    for (const TlogPolicyLog& l : policy->logs()) named |= l.key.vkey() == key.VerifierKey();
    if (!named) {
      return absl::InvalidArgumentError(absl::StrCat("--witness-policy ", c.witness_policy,
                                                     ": none of its log lines is this log's key ",
                                                     key.VerifierKey()));
    }
  }
  for (const TlogPolicyWitness& w : policy->witnesses()) {
    if (w.url.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("--witness-policy ", c.witness_policy, ": witness ", w.name,
                       " has no URL: the log needs one to ask it to cosign"));
    }
  }
  return std::shared_ptr<const TlogPolicy>(std::make_shared<TlogPolicy>(*std::move(policy)));
}

// The signing key; refused if group or others may read it, unless allowed.
absl::StatusOr<NoteSigner> ReadSigningKey(const ServerConfig& c) {
  absl::StatusOr<std::string> text = ReadTrimmed(c.signing_key, "--signing-key");
  if (!text.ok()) return text.status();
  absl::StatusOr<NoteSigner> key = NoteSigner::Parse(*text);
  if (!key.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("--signing-key: ", key.status().message()));
  }
  if (!OpenToOthers(c.signing_key)) return key;
  if (!c.allow_insecure_key_permissions) {
    return absl::FailedPreconditionError(
        absl::StrCat("--signing-key ", c.signing_key,
                     " is readable by group or others: chmod 600 it (or pass "
                     "--allow-insecure-key-permissions)"));
  }
  Say(absl::StrCat("warning: --signing-key ", c.signing_key,
                   " is readable by group or others (allowed by "
                   "--allow-insecure-key-permissions)"));
  return key;
}

// Warnings about how bearer tokens are kept and carried.
void WarnAboutTokens(const ServerConfig& c) {
  if (c.tokens_file.empty()) return;
  if (OpenToOthers(c.tokens_file)) {
    Say(absl::StrCat("warning: --tokens-file ", c.tokens_file,
                     " is readable by group or others; chmod 600 it"));
  }
  if (c.tls_cert.empty() && !IsLoopback(c.grpc_addr)) {
    Say(absl::StrCat(
        "warning: bearer tokens are accepted in plaintext on --grpc-addr ", c.grpc_addr,
        ": anyone on the path can read and replay them; set --tls-cert and --tls-key"));
  }
}

DiskReserve::FreeBytesFn FreeBytes(const ServerConfig& c) {
  if (c.testing_free_disk_file.empty()) return DiskReserve::StatvfsFreeBytes;
  // Tests fill and free a simulated disk by rewriting this file.
  return [file = c.testing_free_disk_file](const std::string&) -> absl::StatusOr<uint64_t> {
    absl::StatusOr<std::string> text = ReadFileToString(file);
    uint64_t v = 0;
    if (!text.ok() || !absl::SimpleAtoi(absl::StripAsciiWhitespace(*text), &v)) {
      return absl::UnavailableError("--testing-free-disk-file: unreadable");
    }
    return v;
  };
}

absl::Status WriteReadyFile(const std::string& path, int grpc_port, int http_port,
                            int metrics_port) {
  const nlohmann::ordered_json ready = {{"grpc_port", grpc_port},
                                        {"http_port", http_port},
                                        {"metrics_port", metrics_port},
                                        {"pid", getpid()}};
  return WriteFileAtomic(path, ready.dump() + "\n", 0644);
}

}  // namespace

int ExitCodeForStart(const absl::Status& status) {
  return IsConfigurationError(status) ? kExitUsage : kExitRuntime;
}

Server::Server(const ServerConfig& config) : config_(config) {}

Server::~Server() {
  {
    absl::MutexLock l(&role_mu_);
    role_stopping_ = true;
    role_cv_.SignalAll();
  }
  if (role_thread_.joinable()) role_thread_.join();
  health_.store(nullptr);
}

absl::StatusOr<std::unique_ptr<Server>> Server::Start(const ServerConfig& c) {
  RouteProtobufLogs([](absl::string_view line) { Say(line); });
  const DescriptorLimit fds = RaiseDescriptorLimit();
  Say(absl::StrCat("open files limit ", fds.soft, " (soft limit was ", fds.soft_before, ", hard ",
                   fds.hard, ")"));
  const int fd_limit = static_cast<int>(std::min<uint64_t>(fds.soft, 1 << 30));

  std::unique_ptr<Server> s(new Server(c));
  absl::StatusOr<NoteSigner> key = ReadSigningKey(c);
  if (!key.ok()) return key.status();
  absl::StatusOr<std::shared_ptr<const TlogPolicy>> policy = ReadWitnessPolicy(c, *key);
  if (!policy.ok()) return policy.status();
  s->witness_policy_ = *std::move(policy);
  if (s->witness_policy_ != nullptr) {
    Say(absl::StrCat("publishing only checkpoints cosigned under --witness-policy ",
                     c.witness_policy, " (", s->witness_policy_->witnesses().size(), " witnesses",
                     s->witness_policy_->quorum_none() ? ", quorum none" : "",
                     c.witness_fail_open ? "; --witness-fail-open: WITHOUT the quorum after a "
                                           "failed round"
                                         : "",
                     ")"));
  }
  absl::StatusOr<std::unique_ptr<WriterAuth>> auth =
      WriterAuth::Create({.tokens_file = c.tokens_file,
                          .allowed_identities = c.writer_identities,
                          .rate_limit_events_per_s = c.rate_limit});
  if (!auth.ok()) return Refused(auth.status());
  s->auth_ = *std::move(auth);
  // Validate let this through only with --allow-unauthenticated-writes.
  if (!s->auth_->required() && !IsLoopback(c.grpc_addr)) {
    Say("warning: anyone who can reach " + c.grpc_addr + " can append to this log");
  }
  WarnAboutTokens(c);
  s->registry_ = std::make_shared<prometheus::Registry>();
  s->metrics_ = std::make_unique<Metrics>(*s->registry_);
  absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> creds = MakeServerCredentials(
      TlsFiles{.cert = c.tls_cert, .key = c.tls_key, .client_ca = c.tls_client_ca}, s->auth_.get(),
      s->metrics_.get());
  if (!creds.ok()) return Refused(creds.status());

  s->key_ = *key;
  if (absl::Status st = s->OpenStorage(); !st.ok()) return st;
  if (absl::Status st = s->OpenLog(); !st.ok()) return st;
  try {
    s->exposer_ = std::make_unique<prometheus::Exposer>(c.metrics_addr);
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat("--metrics-addr ", c.metrics_addr, ": ", e.what()));
  }
  s->exposer_->RegisterCollectable(s->registry_);
  if (absl::Status st = s->StartHttp(); !st.ok()) return st;
  if (absl::Status st = s->StartGrpc(*creds, fd_limit); !st.ok()) return st;

  const std::shared_ptr<Log> log = s->CurrentLog();
  const absl::Status health = s->leader() ? log->health() : absl::OkStatus();
  s->SetServing(health.ok());
  s->PollPublication();
  if (!health.ok()) Say(absl::StrCat("NOT_SERVING: ", health.message()));
  const int http_port = s->http_ == nullptr ? 0 : s->http_->port();
  const std::vector<int> metrics_ports = s->exposer_->GetListeningPorts();
  const int metrics_port = metrics_ports.empty() ? 0 : metrics_ports[0];
  Say(absl::StrCat(
      "log ", log->origin(), " serving gRPC on port ", s->grpc_port_,
      s->http_ == nullptr ? ", tiles HTTP off" : absl::StrCat(", tiles HTTP on port ", http_port),
      ", metrics on port ", metrics_port, "; verifier key ", log->verifier_key(),
      s->pg_ == nullptr ? ""
                        : absl::StrCat("; ", s->leader() ? "leader" : "standby", " of database ",
                                       PostgresStorage::Redact(c.storage))));
  // Ready means /checkpoint answers: a new log's first checkpoint is signed
  // on the publisher's first tick, so wait for it (bounded; a publisher that
  // cannot sign answers at once and health already says NOT_SERVING).
  auto published = std::make_shared<absl::Notification>();
  log->publisher().WaitFor(
      0, [published](const absl::StatusOr<std::shared_ptr<const PublishedCheckpoint>>&) {
        published->Notify();
      });
  if (!published->WaitForNotificationWithTimeout(absl::Seconds(10))) {
    Say("no checkpoint published 10 s after start; serving anyway");
  }
  if (!c.ready_file.empty()) {
    absl::Status written = WriteReadyFile(c.ready_file, s->grpc_port_, http_port, metrics_port);
    if (!written.ok()) return Failed(written);
  }
  if (s->pg_ != nullptr) s->role_thread_ = std::thread([raw = s.get()] { raw->RoleLoop(); });
  return s;
}

absl::Status Server::OpenStorage() {
  const ServerConfig& c = config_;
  tile_cache_ = std::make_unique<TileCache>(c.tile_cache_mb << 20, metrics_.get());
  if (c.SharedStorage()) {
    absl::StatusOr<std::unique_ptr<PostgresStorage>> pg =
        PostgresStorage::Open(PostgresOptions{.conninfo = c.storage, .pool_size = c.postgres_pool});
    if (!pg.ok()) {
      // A database that cannot be reached is a runtime failure (a
      // supervisor retries); one refused as configured is the operator's.
      const absl::Status st(pg.status().code(), absl::StrCat("--storage: ", pg.status().message()));
      return absl::IsUnavailable(st) ? st : Refused(st);
    }
    pg_ = *std::move(pg);
    storage_ = pg_.get();
    return absl::OkStatus();
  }
  std::error_code ec;
  std::filesystem::create_directories(c.data_dir, ec);
  if (ec) {
    return absl::InvalidArgumentError(absl::StrCat("--data-dir ", c.data_dir, ": ", ec.message()));
  }
  const DiskReserve::FreeBytesFn free_bytes = FreeBytes(c);
  reserve_ = std::make_unique<DiskReserve>(
      DiskReserveOptions{
          .paths = {c.data_dir,
                    std::filesystem::absolute(c.SignerStatePath()).parent_path().string()},
          .min_free_bytes = c.min_free_disk_mb << 20},
      free_bytes);
  // A disk that is full (or below the reserve) at start-up: serve what is
  // stored, read-only, rather than crash-loop in RocksDB's recovery, which
  // must write. An existing store is opened read-only at once; a refusal of
  // the read-write open for lack of space falls back the same way.
  const bool store_exists = std::filesystem::exists(c.data_dir + "/rocksdb/CURRENT", ec);
  if (c.min_free_disk_mb > 0 && store_exists) {
    // Only the data directory's disk decides: RocksDB's open writes there.
    DiskReserve data_disk(
        DiskReserveOptions{.paths = {c.data_dir}, .min_free_bytes = c.min_free_disk_mb << 20},
        free_bytes);
    if (absl::Status space = data_disk.Check(); absl::IsResourceExhausted(space)) {
      read_only_reason_ = std::string(space.message());
    }
  }
  absl::StatusOr<std::unique_ptr<RocksDbStorage>> db = absl::InternalError("not opened");
  if (read_only_reason_.empty()) {
    db = RocksDbStorage::Open(RocksDbOptions{.path = c.data_dir + "/rocksdb"});
    if (absl::IsResourceExhausted(db.status())) {
      read_only_reason_ = absl::StrCat(db.status().message(), " on --data-dir ", c.data_dir);
    }
  }
  if (!read_only_reason_.empty()) {
    Say(
        absl::StrCat("starting READ-ONLY (reads are served, writes refused until space is "
                     "freed and the server restarted): ",
                     read_only_reason_));
    db = RocksDbStorage::Open(RocksDbOptions{
        .path = c.data_dir + "/rocksdb", .create_if_missing = false, .read_only = true});
  }
  if (!db.ok()) return Failed(db.status());
  db_ = *std::move(db);
  storage_ = db_.get();
  if (c.testing_fail_commit_after >= 0) {
    faulty_ = std::make_unique<FaultInjectingStorage>(storage_, c.testing_fail_commit_after,
                                                      c.testing_fail_commit_nospace);
    storage_ = faulty_.get();
  }
  return absl::OkStatus();
}

absl::StatusOr<std::shared_ptr<Log>> Server::NewLog(bool leader) {
  const ServerConfig& c = config_;
  LogOptions options{
      .key = *key_,
      .signer_state_path = c.SignerStatePath(),
      .recover_signer_state = c.recover_signer_state,
      .sequencer = {.max_batch_entries = c.max_batch,
                    .max_pending_entries = c.max_queue,
                    .disk_reserve =
                        c.min_free_disk_mb > 0 && reserve_ != nullptr ? reserve_.get() : nullptr},
      .publisher = {.interval = absl::Milliseconds(c.checkpoint_interval_ms)},
      .tile_cache_bytes = c.tile_cache_mb << 20,
      .read_only_reason = leader ? read_only_reason_ : std::string("this server is a standby"),
      .witness_policy = witness_policy_,
      .witness = WitnessOptions(c),
      .witness_fail_open = c.witness_fail_open,
      .tile_cache = tile_cache_.get(),
      .shared_signer_state = pg_.get(),
      .standby = !leader,
  };
  absl::StatusOr<std::unique_ptr<Log>> log = Log::Open(storage_, options, metrics_.get());
  if (!log.ok()) return log.status();
  return std::shared_ptr<Log>(*std::move(log));
}

std::shared_ptr<Log> Server::CurrentLog() const {
  absl::MutexLock l(&log_mu_);
  return log_;
}

void Server::SwapLog(std::shared_ptr<Log> log) {
  std::shared_ptr<Log> old;
  {
    absl::MutexLock l(&log_mu_);
    old = std::exchange(log_, std::move(log));
  }
  // Calls that took the old log finish on it; it is destroyed with the
  // last of them.
  if (old != nullptr) old->Stop();
}

bool Server::leader() const {
  absl::MutexLock l(&role_mu_);
  return leader_;
}

absl::Status Server::OpenLog() {
  const ServerConfig& c = config_;
  bool lead = true;
  if (pg_ != nullptr) {
    // One election at once, so the first server of a new log leads (and
    // claims the database) before it serves anything.
    // Known once the gRPC port is bound, if it is 0 (StartGrpc).
    advertised_ = c.AdvertisedAddress();
    holder_ = absl::StrCat(advertised_, " pid ", getpid(), " ", absl::ToUnixNanos(absl::Now()));
    LeaseView current;
    absl::StatusOr<std::optional<int64_t>> won =
        pg_->TryAcquireLease(holder_, advertised_, absl::Milliseconds(c.lease_ttl_ms), &current);
    if (!won.ok()) return Failed(won.status());
    lead = won->has_value();
    {
      absl::MutexLock l(&role_mu_);
      leader_ = lead;
      leader_address_ = current.valid ? current.address : "";
    }
    if (lead) {
      epoch_ = **won;
      renewed_at_ = absl::Now();
      pg_->SetFencingEpoch(epoch_);
      metrics_->leader_elections.Increment();
      Say(absl::StrCat("leader of the log in ", PostgresStorage::Redact(c.storage),
                       " (lease epoch ", epoch_, ")"));
    } else {
      Say(absl::StrCat("standby: the leader is at ", current.address, " (", current.holder, ")"));
    }
  }
  metrics_->leader.Set(lead ? 1 : 0);
  // Log::Open's refusals (wrong directory, rollback, fork) and a malformed
  // signer state file are FailedPrecondition or InvalidArgument, so they are
  // configuration errors here too; anything else is a runtime one.
  absl::StatusOr<std::shared_ptr<Log>> log = NewLog(lead);
  if (!log.ok()) {
    if (pg_ != nullptr && lead) pg_->ReleaseLease(epoch_).IgnoreError();
    return log.status();
  }
  SwapLog(*std::move(log));
  return absl::OkStatus();
}

absl::Status Server::WriteGate() const {
  absl::MutexLock l(&role_mu_);
  if (leader_) return absl::OkStatus();
  if (leader_address_.empty()) {
    return absl::UnavailableError(
        "this server is a standby and no leader is known (an election is under way); retry "
        "shortly or write to another server of this log");
  }
  absl::Status st = absl::UnavailableError(
      absl::StrCat("this server is a standby; the leader is at ", leader_address_));
  st.SetPayload(kLeaderPayload, absl::Cord(leader_address_));
  return st;
}

void Server::RoleLoop() {
  const absl::Duration interval = absl::Milliseconds(config_.lease_ttl_ms) / 6;
  absl::MutexLock l(&role_mu_);
  while (!role_stopping_) {
    role_mu_.Unlock();
    RoleStep();
    role_mu_.Lock();
    const absl::Time until = absl::Now() + interval;
    while (!role_stopping_ && absl::Now() < until) role_cv_.WaitWithDeadline(&role_mu_, until);
  }
}

void Server::RoleStep() {
  const ServerConfig& c = config_;
  const absl::Duration ttl = absl::Milliseconds(c.lease_ttl_ms);
  if (leader()) {
    absl::Status renewed = pg_->RenewLease(epoch_, ttl, advertised_);
    if (renewed.ok()) {
      renewed_at_ = absl::Now();
    } else if (absl::IsFailedPrecondition(renewed)) {
      return StepDown(std::string(renewed.message()));
    } else if (absl::Now() - renewed_at_ >= ttl) {
      // Another server may hold the lease by now; the database fences this
      // one's writes either way, and clients should look elsewhere.
      return StepDown(absl::StrCat("the lease could not be renewed for ", absl::FormatDuration(ttl),
                                   ": ", renewed.message()));
    }
    // A failed commit or signature is sticky in the log: step down, and the
    // next election (which this server may win again at once) reopens the
    // log from the database, whatever the failed commit did.
    if (absl::Status h = CurrentLog()->health(); !h.ok()) {
      return StepDown(absl::StrCat("the log failed: ", h.message()));
    }
    return;
  }
  LeaseView current;
  absl::StatusOr<std::optional<int64_t>> won =
      pg_->TryAcquireLease(holder_, advertised_, ttl, &current);
  if (won.ok() && won->has_value() && Promote(**won)) return;
  {
    absl::MutexLock l(&role_mu_);
    if (!won.ok()) {
      standby_health_ = won.status();
      return;
    }
    leader_address_ = current.valid && current.holder != holder_ ? current.address : "";
  }
  absl::StatusOr<bool> moved = CurrentLog()->publisher().Refresh();
  absl::MutexLock l(&role_mu_);
  standby_health_ = moved.status();
}

bool Server::Promote(int64_t epoch) {
  pg_->SetFencingEpoch(epoch);
  epoch_ = epoch;
  renewed_at_ = absl::Now();
  absl::StatusOr<std::shared_ptr<Log>> log = NewLog(/*leader=*/true);
  if (!log.ok()) {
    pg_->ReleaseLease(epoch).IgnoreError();
    if (IsConfigurationError(log.status())) {
      Say(absl::StrCat("elected leader but refusing to lead: ", log.status().message()));
      absl::MutexLock l(&role_mu_);
      fatal_ = log.status();
    } else {
      Say(absl::StrCat("elected leader but cannot open the log (standing by): ",
                       log.status().message()));
    }
    return false;
  }
  // The new log first, then the gate: no write reaches the standby's log.
  SwapLog(*std::move(log));
  {
    absl::MutexLock l(&role_mu_);
    leader_ = true;
    leader_address_ = advertised_;
    standby_health_ = absl::OkStatus();
  }
  if (grpc::HealthCheckServiceInterface* h = health_.load(); h != nullptr) {
    h->SetServingStatus(std::string(kLeaderServiceName), true);
  }
  metrics_->leader.Set(1);
  metrics_->leader_elections.Increment();
  Say(absl::StrCat("now leader (lease epoch ", epoch, ") at tree size ",
                   CurrentLog()->sequencer().head().size));
  return true;
}

void Server::StepDown(const std::string& why) {
  {
    absl::MutexLock l(&role_mu_);
    leader_ = false;
    leader_address_.clear();
  }
  if (grpc::HealthCheckServiceInterface* h = health_.load(); h != nullptr) {
    h->SetServingStatus(std::string(kLeaderServiceName), false);
  }
  // The gate is shut; what is queued is committed if the lease still
  // fences for this server, and refused otherwise. The stopped log keeps
  // serving reads of its last checkpoint, refreshed like a standby's.
  CurrentLog()->Stop();
  // A standby's log, if the database answers (the stopped one serves reads
  // until then). A failed commit is not sticky here: the next election
  // reopens the log, so the sequencer is not reported as failed.
  if (absl::StatusOr<std::shared_ptr<Log>> standby = NewLog(/*leader=*/false); standby.ok()) {
    SwapLog(*std::move(standby));
  }
  metrics_->sequencer_healthy.Set(1);
  metrics_->leader.Set(0);
  metrics_->leader_stepdowns.Increment();
  Say(absl::StrCat("no longer leader (", why, "); standing by"));
}

absl::Status Server::StartHttp() {
  const ServerConfig& c = config_;
  // Tiles over HTTP, straight from storage (read-only; needs no auth).
  tiles_ = std::make_unique<TileHttpHandler>(
      storage_, [this] { return CurrentLog()->publisher().latest(); },
      TileHttpOptions{.checkpoint_max_age = absl::Seconds(c.http_checkpoint_max_age_s),
                      .in_flight_bytes = c.http_in_flight_mb << 20},
      tile_cache_.get(), metrics_.get());
  if (c.http_addr.empty()) return absl::OkStatus();
  absl::StatusOr<std::unique_ptr<HttpServer>> started = HttpServer::Start(
      HttpServerOptions{.address = c.http_addr,
                        .threads = c.http_threads,
                        .max_connections = c.http_max_connections,
                        .max_connections_per_address = c.http_max_connections_per_address,
                        .head_timeout = absl::Seconds(c.http_head_timeout_s),
                        .idle_timeout = absl::Seconds(c.http_idle_timeout_s),
                        .send_timeout = absl::Seconds(c.http_send_timeout_s)},
      tiles_.get(), metrics_->ForHttpServer());
  if (!started.ok()) return Refused(started.status());
  http_ = *std::move(started);
  return absl::OkStatus();
}

absl::Status Server::StartGrpc(std::shared_ptr<grpc::ServerCredentials> creds, int fd_limit) {
  const ServerConfig& c = config_;
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  service_ = std::make_unique<LogService>(
      [this] { return CurrentLog(); }, [this] { return WriteGate(); }, auth_.get(), metrics_.get(),
      [this] {
        if (grpc::HealthCheckServiceInterface* h = health_.load(); h != nullptr) {
          h->SetServingStatus(std::string(kServiceName), false);
        }
      },
      c.grpc_limits.service);
  grpc::ServerBuilder builder;
  builder.AddListeningPort(c.grpc_addr, std::move(creds), &grpc_port_);
  builder.RegisterService(service_.get());
  ApplyGrpcLimits(c.grpc_limits, builder);
  const absl::StatusOr<int> fds_at_start = accept_gate::LowestFreeDescriptor();
  grpc_ = builder.BuildAndStart();
  if (grpc_ == nullptr || grpc_port_ == 0) {
    return absl::InvalidArgumentError(absl::StrCat("--grpc-addr ", c.grpc_addr, ": cannot listen"));
  }
  const int fd_cap = GrpcDescriptorCap(c.grpc_limits, fd_limit, fds_at_start.value_or(64));
  if (absl::StatusOr<int> gated = accept_gate::GateListeners(grpc_port_, fd_cap); !gated.ok()) {
    return Failed(
        absl::Status(gated.status().code(),
                     absl::StrCat("--grpc-addr ", c.grpc_addr, ": ", gated.status().message())));
  }
  Say(absl::StrCat("gRPC connections refused at accept from descriptor ", fd_cap, " (limit ",
                   fd_limit, ")"));
  health_.store(grpc_->GetHealthCheckService());
  if (pg_ != nullptr && absl::EndsWith(advertised_, ":0")) {
    advertised_ = absl::StrCat(advertised_.substr(0, advertised_.size() - 1), grpc_port_);
    if (leader()) {
      if (absl::Status st =
              pg_->RenewLease(epoch_, absl::Milliseconds(c.lease_ttl_ms), advertised_);
          !st.ok()) {
        return Failed(st);
      }
    }
  }
  return absl::OkStatus();
}

void Server::SetServing(bool serving) {
  serving_ = serving;
  grpc::HealthCheckServiceInterface* health = health_.load();
  health->SetServingStatus(std::string(kServiceName), serving);
  health->SetServingStatus(std::string(kLeaderServiceName), serving && leader());
}

void Server::PollPublication() {
  const absl::Status stalled = CurrentLog()->publisher().stalled();
  health_.load()->SetServingStatus(std::string(kPublicationServiceName), stalled.ok());
  if (stalled.ok() == publication_ok_) return;
  publication_ok_ = stalled.ok();
  Say(publication_ok_ ? std::string("witnessed publication: SERVING again")
                      : absl::StrCat("witnessed publication NOT_SERVING (writes are still "
                                     "accepted and sequenced): ",
                                     stalled.message()));
}

absl::Status Server::Poll() {
  PollPublication();
  const std::shared_ptr<Log> log = CurrentLog();
  if (const uint64_t refused = accept_gate::refused(); refused > refused_seen_) {
    metrics_->grpc_connections_refused.Increment(static_cast<double>(refused - refused_seen_));
    refused_seen_ = refused;
  }
  if (pg_ != nullptr) {
    const uint64_t errors = pg_->connection_errors();
    metrics_->storage_connection_errors.Increment(
        static_cast<double>(errors - connection_errors_seen_));
    connection_errors_seen_ = errors;
  }
  if (auto cp = log->publisher().latest(); cp != nullptr) {
    metrics_->checkpoint_age.Set(absl::ToDoubleSeconds(absl::Now() - cp->published_at));
  }
  // Applied every time, not only on a change: LogService marks the service
  // NOT_SERVING itself when it refuses a write, which serving_ does not see.
  // A standby serves reads: it is healthy while it can read the database.
  bool lead = false;
  absl::Status h;
  absl::Status fatal;
  {
    absl::MutexLock l(&role_mu_);
    lead = leader_;
    h = standby_health_;
    fatal = fatal_;
  }
  if (lead) h = log->health();
  const bool changed = h.ok() != serving_;
  SetServing(h.ok());
  if (changed) {
    Say(serving_ ? std::string("SERVING again") : absl::StrCat("NOT_SERVING: ", h.message()));
  }
  return fatal;
}

void Server::ReloadTokens() {
  const ServerConfig& c = config_;
  if (c.tokens_file.empty()) return Say("SIGHUP: no --tokens-file to reload");
  absl::StatusOr<WriterAuth::Reloaded> r = auth_->ReloadTokens();
  if (!r.ok()) {
    return Say(absl::StrCat("SIGHUP: keeping the previous tokens: ", r.status().message()));
  }
  WarnAboutTokens(c);
  Say(absl::StrCat("SIGHUP: reloaded --tokens-file ", c.tokens_file, ": ", r->writers_after,
                   " writers (was ", r->writers_before, ")"));
}

absl::Status Server::Drain() {
  SetServing(false);
  bool was_leader = true;
  if (pg_ != nullptr) {
    {
      absl::MutexLock l(&role_mu_);
      role_stopping_ = true;
      role_cv_.SignalAll();
      was_leader = leader_;
      leader_ = false;  // writes refused from here on
      leader_address_.clear();
    }
    if (role_thread_.joinable()) role_thread_.join();
  }
  // Commit and acknowledge what is queued, publish a checkpoint over it,
  // then let in-flight calls finish and refuse new ones.
  const std::shared_ptr<Log> log = CurrentLog();
  log->Stop();
  // A leader hands over at once rather than when its lease lapses.
  if (pg_ != nullptr && was_leader) {
    if (absl::Status st = pg_->ReleaseLease(epoch_); !st.ok()) {
      Say(
          absl::StrCat("could not release the leader lease (a standby takes over when it "
                       "lapses): ",
                       st.message()));
    }
  }
  grpc_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(10));
  grpc_->Wait();
  if (http_ != nullptr) http_->Stop();
  return was_leader ? log->health() : absl::OkStatus();
}

absl::StatusOr<std::string> Server::Freeze(const std::string& successor, absl::Duration timeout) {
  if (pg_ != nullptr) {
    return absl::FailedPreconditionError(
        "freeze: not supported yet for a log in a shared database (--storage postgres://...)");
  }
  const std::shared_ptr<Log> log = CurrentLog();
  if (log->frozen()) return absl::FailedPreconditionError("freeze: the log is already frozen");
  if (!read_only_reason_.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat("freeze: the store is read-only: ", read_only_reason_));
  }
  if (absl::Status st = log->sequencer().status(); !st.ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat("freeze: the log is not accepting writes (", st.message(),
                     "); start it normally until it is healthy, then freeze it"));
  }
  // No write can come after this: the head is the log's last.
  log->sequencer().Stop();
  const TreeHead head = log->sequencer().head();
  auto result = std::make_shared<absl::StatusOr<std::shared_ptr<const PublishedCheckpoint>>>(
      absl::DeadlineExceededError("not yet"));
  auto done = std::make_shared<absl::Notification>();
  log->publisher().WaitFor(
      head.size, [result, done](absl::StatusOr<std::shared_ptr<const PublishedCheckpoint>> cp) {
        *result = std::move(cp);
        done->Notify();
      });
  if (!done->WaitForNotificationWithTimeout(timeout)) {
    absl::Status stalled = log->publisher().stalled();
    return absl::FailedPreconditionError(absl::StrCat(
        "freeze: no checkpoint of size ", head.size, " published within ",
        absl::FormatDuration(timeout), stalled.ok() ? "" : absl::StrCat(": ", stalled.message()),
        "; the log is NOT frozen"));
  }
  if (!result->ok()) {
    return absl::FailedPreconditionError(absl::StrCat("freeze: publishing size ", head.size, ": ",
                                                      result->status().message(),
                                                      "; the log is NOT frozen"));
  }
  // Commit point: once the marker is durable the log is frozen; every start
  // from here on serves it read-only. Dying before it leaves the log as it
  // was, with its final checkpoint published, and freeze can be run again.
  if (absl::Status st =
          storage_->PutMeta(kMetaFrozen, EncodeFrozenState(FrozenState{head.size, successor}));
      !st.ok()) {
    return st;
  }
  return (**result)->note;
}

}  // namespace infratrail
