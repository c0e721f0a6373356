// infratrail-server: an append-only transparency log of infrastructure
// events, on embedded RocksDB, served over gRPC (see docs/operations.md).
//
//   infratrail-server --data-dir DIR --signing-key FILE
//                     [--grpc-addr 127.0.0.1:7400] [--http-addr 127.0.0.1:7401]
//                     [--metrics-addr 127.0.0.1:7402]
//                     [--config FILE] [...]
//   infratrail-server fsck --data-dir DIR [--log-key VKEY]
//   infratrail-server export --data-dir DIR --to OUTDIR [--follow [--interval 1s]]
//
// Exit codes: 0 clean shutdown (SIGTERM/SIGINT), 1 runtime failure (also a
// shutdown after the log stopped serving),
// 2 usage or configuration error (including every start-up refusal);
// fsck: 0 consistent, 1 inconsistent, 2 usage, 3 cannot read the store.
#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "core/io/file_util.h"
#include "prometheus/exposer.h"
#include "server/accept_gate.h"
#include "server/disk_reserve.h"
#include "server/export.h"
#include "server/fault_injecting_storage.h"
#include "server/fsck.h"
#include "server/grpc_port.h"
#include "server/http_server.h"
#include "server/log.h"
#include "server/log_service.h"
#include "server/rocksdb_storage.h"
#include "server/writer_auth.h"

namespace infratrail {
namespace {

constexpr int kExitOk = 0;
constexpr int kExitRuntime = 1;
constexpr int kExitUsage = 2;
constexpr absl::string_view kServiceName = "infratrail.v1.Log";

struct ServerConfig {
  std::string data_dir;
  std::string signing_key;
  std::string signer_state;
  bool recover_signer_state = false;
  std::string grpc_addr = "127.0.0.1:7400";
  std::string http_addr = "127.0.0.1:7401";
  std::string metrics_addr = "127.0.0.1:7402";
  std::string tokens_file;
  std::string tls_cert;
  std::string tls_key;
  std::string tls_client_ca;
  std::vector<std::string> writer_identities;
  bool allow_unauthenticated_writes = false;
  bool allow_insecure_key_permissions = false;
  double rate_limit = 0;
  int checkpoint_interval_ms = 50;
  size_t max_batch = 16384;
  size_t max_queue = 262144;
  size_t tile_cache_mb = 1024;
  int http_threads = 2;
  int http_checkpoint_max_age_s = 2;
  // Tiles HTTP limits; the defaults live in HttpServerOptions and TileHttpOptions.
  unsigned http_max_connections = HttpServerOptions{}.max_connections;
  unsigned http_max_connections_per_address = HttpServerOptions{}.max_connections_per_address;
  int64_t http_head_timeout_s = absl::ToInt64Seconds(HttpServerOptions{}.head_timeout);
  int64_t http_idle_timeout_s = absl::ToInt64Seconds(HttpServerOptions{}.idle_timeout);
  int64_t http_send_timeout_s = absl::ToInt64Seconds(HttpServerOptions{}.send_timeout);
  size_t http_in_flight_mb = TileHttpOptions{}.in_flight_bytes >> 20;
  std::string ready_file;
  int testing_fail_commit_after = -1;
  bool testing_fail_commit_nospace = false;
  std::string testing_free_disk_file;
  uint64_t min_free_disk_mb = 128;
  GrpcLimits grpc_limits;  // grpc_port.h
};

void Say(absl::string_view msg) { std::cerr << "infratrail-server: " << msg << std::endl; }

bool IsLoopback(const std::string& addr) {
  const size_t colon = addr.rfind(':');
  std::string host = addr.substr(0, colon == std::string::npos ? addr.size() : colon);
  if (host.size() >= 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
  return host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
}

absl::StatusOr<std::string> ReadTrimmed(const std::string& path, absl::string_view flag) {
  absl::StatusOr<std::string> text = ReadFileToString(path);
  if (!text.ok())
    return absl::InvalidArgumentError(absl::StrCat(flag, ": ", text.status().message()));
  return std::string(absl::StripAsciiWhitespace(*text));
}

// A secret file (signing key, tokens) that group or others may read.
bool OpenToOthers(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 && (st.st_mode & 077) != 0;
}

// Refuses a signing key that group or others may read, unless allowed.
// False: refused (said why).
bool CheckKeyPermissions(const ServerConfig& c) {
  if (!OpenToOthers(c.signing_key)) return true;
  if (!c.allow_insecure_key_permissions) {
    Say(absl::StrCat("--signing-key ", c.signing_key,
                     " is readable by group or others: chmod 600 it (or pass "
                     "--allow-insecure-key-permissions)"));
    return false;
  }
  Say(absl::StrCat("warning: --signing-key ", c.signing_key,
                   " is readable by group or others (allowed by "
                   "--allow-insecure-key-permissions)"));
  return true;
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

// SIGHUP: re-reads the tokens file; a bad file keeps the old tokens.
void ReloadTokens(const ServerConfig& c, WriterAuth& auth) {
  if (c.tokens_file.empty()) return Say("SIGHUP: no --tokens-file to reload");
  absl::StatusOr<WriterAuth::Reloaded> r = auth.ReloadTokens();
  if (!r.ok()) {
    return Say(absl::StrCat("SIGHUP: keeping the previous tokens: ", r.status().message()));
  }
  WarnAboutTokens(c);
  Say(absl::StrCat("SIGHUP: reloaded --tokens-file ", c.tokens_file, ": ", r->writers_after,
                   " writers (was ", r->writers_before, ")"));
}

int Run(const ServerConfig& c) {
  // Signals are taken synchronously by sigwait below; block them before any
  // thread starts so every thread inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);  // reloads the tokens file
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  RouteProtobufLogs([](absl::string_view line) { Say(line); });
  const DescriptorLimit fds = RaiseDescriptorLimit();
  Say(absl::StrCat("open files limit ", fds.soft, " (soft limit was ", fds.soft_before, ", hard ",
                   fds.hard, ")"));
  const int fd_limit = static_cast<int>(std::min<uint64_t>(fds.soft, 1 << 30));

  absl::StatusOr<std::string> key_text = ReadTrimmed(c.signing_key, "--signing-key");
  if (!key_text.ok()) return Say(key_text.status().message()), kExitUsage;
  absl::StatusOr<NoteSigner> key = NoteSigner::Parse(*key_text);
  if (!key.ok()) return Say(absl::StrCat("--signing-key: ", key.status().message())), kExitUsage;
  if (!CheckKeyPermissions(c)) return kExitUsage;

  WriterAuthOptions auth_opts{c.tokens_file, c.writer_identities, c.rate_limit};
  absl::StatusOr<std::unique_ptr<WriterAuth>> auth = WriterAuth::Create(auth_opts);
  if (!auth.ok()) return Say(auth.status().message()), kExitUsage;
  if (!c.tls_client_ca.empty() && c.writer_identities.empty()) {
    // Verified client certificates would identify nobody: writes would stay
    // open to every caller, which is not what configuring a CA asks for.
    return Say("--tls-client-ca: needs at least one --writer-identity allowed to write"),
           kExitUsage;
  }
  if (!c.writer_identities.empty() && c.tls_client_ca.empty()) {
    return Say("--writer-identity: needs --tls-client-ca to verify client certificates"),
           kExitUsage;
  }
  if (!(*auth)->required() && !IsLoopback(c.grpc_addr)) {
    if (!c.allow_unauthenticated_writes) {
      Say(absl::StrCat("--grpc-addr ", c.grpc_addr,
                       " is not loopback and no writer "
                       "authentication is configured; set --tokens-file or --tls-client-ca with "
                       "--writer-identity, or pass --allow-unauthenticated-writes"));
      return kExitUsage;
    }
    Say("warning: anyone who can reach " + c.grpc_addr + " can append to this log");
  }
  WarnAboutTokens(c);
  auto registry = std::make_shared<prometheus::Registry>();
  Metrics metrics(*registry);
  absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> creds = MakeServerCredentials(
      TlsFiles{c.tls_cert, c.tls_key, c.tls_client_ca}, auth->get(), &metrics);
  if (!creds.ok()) return Say(creds.status().message()), kExitUsage;

  std::error_code ec;
  std::filesystem::create_directories(c.data_dir, ec);
  if (ec) return Say(absl::StrCat("--data-dir ", c.data_dir, ": ", ec.message())), kExitUsage;
  const std::string signer_state =
      c.signer_state.empty() ? c.signing_key + ".state" : c.signer_state;
  DiskReserve::FreeBytesFn free_bytes = DiskReserve::StatvfsFreeBytes;
  if (!c.testing_free_disk_file.empty()) {
    // Tests fill and free a simulated disk by rewriting this file.
    free_bytes = [file = c.testing_free_disk_file](const std::string&) -> absl::StatusOr<uint64_t> {
      absl::StatusOr<std::string> text = ReadFileToString(file);
      uint64_t v = 0;
      if (!text.ok() || !absl::SimpleAtoi(absl::StripAsciiWhitespace(*text), &v)) {
        return absl::UnavailableError("--testing-free-disk-file: unreadable");
      }
      return v;
    };
  }
  DiskReserve reserve(
      DiskReserveOptions{
          .paths = {c.data_dir, std::filesystem::absolute(signer_state).parent_path().string()},
          .min_free_bytes = c.min_free_disk_mb << 20},
      free_bytes);
  // A disk that is full (or below the reserve) at start-up: serve what is
  // stored, read-only, rather than crash-loop in RocksDB's recovery, which
  // must write. An existing store is opened read-only at once; a refusal of
  // the read-write open for lack of space falls back the same way.
  std::string read_only_reason;
  const bool store_exists = std::filesystem::exists(c.data_dir + "/rocksdb/CURRENT", ec);
  if (c.min_free_disk_mb > 0 && store_exists) {
    // Only the data directory's disk decides: RocksDB's open writes there.
    DiskReserve data_disk(
        DiskReserveOptions{.paths = {c.data_dir}, .min_free_bytes = c.min_free_disk_mb << 20},
        free_bytes);
    if (absl::Status space = data_disk.Check(); absl::IsResourceExhausted(space)) {
      read_only_reason = std::string(space.message());
    }
  }
  absl::StatusOr<std::unique_ptr<RocksDbStorage>> db = absl::InternalError("not opened");
  if (read_only_reason.empty()) {
    db = RocksDbStorage::Open(RocksDbOptions{c.data_dir + "/rocksdb"});
    if (absl::IsResourceExhausted(db.status())) {
      read_only_reason = absl::StrCat(db.status().message(), " on --data-dir ", c.data_dir);
    }
  }
  if (!read_only_reason.empty()) {
    Say(
        absl::StrCat("starting READ-ONLY (reads are served, writes refused until space is "
                     "freed and the server restarted): ",
                     read_only_reason));
    RocksDbOptions ro{c.data_dir + "/rocksdb"};
    ro.create_if_missing = false;
    ro.read_only = true;
    db = RocksDbStorage::Open(ro);
  }
  if (!db.ok()) return Say(db.status().message()), kExitRuntime;
  LogStorage* storage = db->get();
  std::unique_ptr<FaultInjectingStorage> faulty;
  if (c.testing_fail_commit_after >= 0) {
    faulty = std::make_unique<FaultInjectingStorage>(storage, c.testing_fail_commit_after,
                                                     c.testing_fail_commit_nospace);
    storage = faulty.get();
  }

  LogOptions opts{*key, signer_state, c.recover_signer_state, {}, {}, c.tile_cache_mb << 20};
  if (c.min_free_disk_mb > 0) opts.sequencer.disk_reserve = &reserve;
  opts.read_only_reason = read_only_reason;
  opts.sequencer.max_batch_entries = c.max_batch;
  opts.sequencer.max_pending_entries = c.max_queue;
  opts.publisher.interval = absl::Milliseconds(c.checkpoint_interval_ms);
  absl::StatusOr<std::unique_ptr<Log>> log = Log::Open(storage, opts, &metrics);
  if (!log.ok()) {
    Say(log.status().message());
    // Refusals (wrong directory, rollback, fork) and a malformed signer
    // state file are configuration errors; anything else is a runtime one.
    const bool usage =
        absl::IsFailedPrecondition(log.status()) || absl::IsInvalidArgument(log.status());
    return usage ? kExitUsage : kExitRuntime;
  }

  std::unique_ptr<prometheus::Exposer> exposer;
  try {
    exposer = std::make_unique<prometheus::Exposer>(c.metrics_addr);
  } catch (const std::exception& e) {
    Say(absl::StrCat("--metrics-addr ", c.metrics_addr, ": ", e.what()));
    return kExitUsage;
  }
  exposer->RegisterCollectable(registry);

  // Tiles over HTTP, straight from storage (read-only; needs no auth).
  Log* const the_log = log->get();
  TileHttpHandler tiles(
      storage, [the_log] { return the_log->publisher().latest(); },
      TileHttpOptions{absl::Seconds(c.http_checkpoint_max_age_s), c.http_in_flight_mb << 20},
      &the_log->tile_cache(), &metrics);
  std::unique_ptr<HttpServer> http;
  if (!c.http_addr.empty()) {
    HttpServerOptions http_opts;
    http_opts.address = c.http_addr;
    http_opts.threads = c.http_threads;
    http_opts.max_connections = c.http_max_connections;
    http_opts.max_connections_per_address = c.http_max_connections_per_address;
    http_opts.head_timeout = absl::Seconds(c.http_head_timeout_s);
    http_opts.idle_timeout = absl::Seconds(c.http_idle_timeout_s);
    http_opts.send_timeout = absl::Seconds(c.http_send_timeout_s);
    absl::StatusOr<std::unique_ptr<HttpServer>> started =
        HttpServer::Start(http_opts, &tiles, &metrics);
    if (!started.ok()) return Say(started.status().message()), kExitUsage;
    http = *std::move(started);
  }
  const int http_port = http == nullptr ? 0 : http->port();

  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::HealthCheckServiceInterface* health = nullptr;
  LogService service((*log).get(), auth->get(), &metrics,
                     [&health] {
                       if (health != nullptr)
                         health->SetServingStatus(std::string(kServiceName), false);
                     },
                     c.grpc_limits.service);
  grpc::ServerBuilder builder;
  int grpc_port = 0;
  builder.AddListeningPort(c.grpc_addr, *creds, &grpc_port);
  builder.RegisterService(&service);
  ApplyGrpcLimits(c.grpc_limits, builder);
  const absl::StatusOr<int> fds_at_start = accept_gate::LowestFreeDescriptor();
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || grpc_port == 0) {
    return Say(absl::StrCat("--grpc-addr ", c.grpc_addr, ": cannot listen")), kExitUsage;
  }
  const int fd_cap = GrpcDescriptorCap(c.grpc_limits, fd_limit, fds_at_start.value_or(64));
  if (absl::StatusOr<int> gated = accept_gate::GateListeners(grpc_port, fd_cap); !gated.ok()) {
    return Say(absl::StrCat("--grpc-addr ", c.grpc_addr, ": ", gated.status().message())),
           kExitRuntime;
  }
  Say(absl::StrCat("gRPC connections refused at accept from descriptor ", fd_cap, " (limit ",
                   fd_limit, ")"));
  health = server->GetHealthCheckService();
  bool healthy = (*log)->health().ok();
  health->SetServingStatus(std::string(kServiceName), healthy);
  if (!healthy) Say(absl::StrCat("NOT_SERVING: ", (*log)->health().message()));
  const std::vector<int> metrics_ports = exposer->GetListeningPorts();
  const int metrics_port = metrics_ports.empty() ? 0 : metrics_ports[0];
  Say(absl::StrCat(
      "log ", (*log)->origin(), " serving gRPC on port ", grpc_port,
      http == nullptr ? ", tiles HTTP off" : absl::StrCat(", tiles HTTP on port ", http_port),
      ", metrics on port ", metrics_port, "; verifier key ", (*log)->verifier_key()));
  if (!c.ready_file.empty()) {
    const std::string ready =
        absl::StrCat("{\"grpc_port\":", grpc_port, ",\"http_port\":", http_port,
                     ",\"metrics_port\":", metrics_port, ",\"pid\":", getpid(), "}\n");
    if (absl::Status s = WriteFileAtomic(c.ready_file, ready, 0644); !s.ok()) {
      Say(s.message());
      return kExitRuntime;
    }
  }

  // Main thread: wait for a signal, and keep health in step with the log
  // (a failed write flips it at once; this catches the rest, and flips it
  // back when a disk reserve or publishing failure passes).
  uint64_t refused_seen = 0;
  for (;;) {
    timespec timeout{1, 0};
    const int sig = sigtimedwait(&signals, nullptr, &timeout);
    if (sig == SIGTERM || sig == SIGINT) {
      Say(absl::StrCat("signal ", sig, ": draining"));
      break;
    }
    if (sig == SIGHUP) ReloadTokens(c, **auth);
    if (const uint64_t refused = accept_gate::refused(); refused > refused_seen) {
      metrics.grpc_connections_refused.Increment(static_cast<double>(refused - refused_seen));
      refused_seen = refused;
    }
    if (auto cp = (*log)->publisher().latest(); cp != nullptr) {
      metrics.checkpoint_age.Set(absl::ToDoubleSeconds(absl::Now() - cp->published_at));
    }
    if (const absl::Status h = (*log)->health(); h.ok() != healthy) {
      healthy = h.ok();
      health->SetServingStatus(std::string(kServiceName), healthy);
      Say(healthy ? std::string("SERVING again") : absl::StrCat("NOT_SERVING: ", h.message()));
    }
  }
  health->SetServingStatus(std::string(kServiceName), false);
  // Drain: commit and acknowledge what is queued, publish a checkpoint over
  // it, then let in-flight calls finish and refuse new ones.
  (*log)->Stop();
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(10));
  server->Wait();
  if (http != nullptr) http->Stop();
  // A log that stopped serving exits non-zero, so a supervisor restarts it
  // (recovery is the normal start-up path).
  if (absl::Status h = (*log)->health(); !h.ok()) {
    Say(absl::StrCat("stopped after a failure: ", h.message()));
    return kExitRuntime;
  }
  Say("stopped");
  return kExitOk;
}

int RunFsck(const std::string& data_dir, const std::string& log_key_arg) {
  std::optional<NoteVerifier> log_key;
  if (!log_key_arg.empty()) {
    std::string vkey = log_key_arg;
    if (vkey[0] == '@') {
      absl::StatusOr<std::string> text = ReadTrimmed(vkey.substr(1), "--log-key");
      if (!text.ok()) return Say(text.status().message()), kExitUsage;
      vkey = *text;
    }
    absl::StatusOr<NoteVerifier> v = NoteVerifier::Parse(vkey);
    if (!v.ok()) return Say(absl::StrCat("--log-key: ", v.status().message())), kExitUsage;
    log_key = *v;
  }
  RocksDbOptions opts{data_dir + "/rocksdb"};
  opts.create_if_missing = false;
  opts.read_only = true;
  absl::StatusOr<std::unique_ptr<RocksDbStorage>> db = RocksDbStorage::Open(opts);
  if (!db.ok()) return Say(absl::StrCat("fsck: ", db.status().message())), 3;
  absl::StatusOr<FsckReport> report = Fsck(**db, log_key);
  if (!report.ok()) return Say(absl::StrCat("fsck: ", report.status().message())), 3;
  std::cout << "fsck: " << report->entries << " entries re-hashed, " << report->tiles_checked
            << " tiles compared, checkpoint size " << report->checkpoint_size << "\n";
  std::cout << "fsck: SST bytes:";
  for (const auto& [cf, bytes] : (*db)->SstBytesByColumnFamily())
    std::cout << " " << cf << " " << bytes;
  std::cout << "\n";
  for (const std::string& p : report->problems) std::cout << "fsck: PROBLEM: " << p << "\n";
  std::cout << (report->ok() ? "fsck: consistent\n" : "fsck: INCONSISTENT\n");
  return report->ok() ? kExitOk : 1;
}

// One export of the published tree to `out_dir` (a read-only open, so it
// works beside a running server).
absl::StatusOr<ExportReport> ExportOnce(const std::string& data_dir, const std::string& out_dir) {
  RocksDbOptions opts{data_dir + "/rocksdb"};
  opts.create_if_missing = false;
  opts.read_only = true;
  absl::StatusOr<std::unique_ptr<RocksDbStorage>> db = RocksDbStorage::Open(opts);
  if (!db.ok()) return db.status();
  return ExportTiles(**db, out_dir);
}

// export, once or (`follow`) every `interval` until SIGTERM/SIGINT. A read-
// only open sees the store as of opening, so each round opens it again.
// Exit 0 done, 3 cannot read the store or write the output.
int RunExport(const std::string& data_dir, const std::string& out_dir, bool follow,
              absl::Duration interval) {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  uint64_t last_size = 0;
  for (bool first = true;; first = false) {
    absl::StatusOr<ExportReport> report = ExportOnce(data_dir, out_dir);
    if (!report.ok()) return Say(absl::StrCat("export: ", report.status().message())), 3;
    if (first || report->size != last_size) {
      std::cout << "export: tree size " << report->size << " in " << out_dir << ": "
                << report->files_written << " files written, " << report->files_unchanged
                << " full ones already there" << std::endl;
    }
    last_size = report->size;
    if (!follow) return kExitOk;
    const timespec timeout = absl::ToTimespec(interval);
    if (sigtimedwait(&signals, nullptr, &timeout) > 0) return kExitOk;
  }
}

int Main(int argc, char** argv) {
  // absl::Mutex deadlock detection (on in Debian's build) records every
  // lock order in a global graph; gRPC creates a mutex per call, so it costs
  // several percent of every RPC. Lock order is checked by the sanitizer
  // and unit-test builds instead.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  CLI::App app{"infratrail-server: transparency log for infrastructure events"};
  CLI::App* fsck = app.add_subcommand(
      "fsck", "Recompute the tree from the entries and compare with tiles and checkpoint");
  CLI::App* exp = app.add_subcommand(
      "export",
      "Write the published tree as C2SP tlog-tiles files (checkpoint, tile/...) for a static "
      "web server, CDN or object store");
  std::string export_dir;
  std::string export_to;
  exp->add_option("--data-dir", export_dir, "Data directory (read-only open)")->required();
  exp->add_option("--to", export_to, "Output directory")->required();
  bool export_follow = false;
  std::string export_interval = "1s";
  exp->add_flag("--follow", export_follow,
                "Keep exporting as the log grows, until SIGTERM or SIGINT");
  exp->add_option("--interval", export_interval, "With --follow: time between looks")
      ->capture_default_str();
  std::string fsck_dir;
  std::string fsck_key;
  fsck->add_option("--data-dir", fsck_dir, "Data directory (read-only open)")->required();
  fsck->add_option("--log-key", fsck_key, "Log verifier key (or @file) to check the checkpoint");
  ServerConfig c;
  app.set_config("--config", "",
                 "Read options from a TOML file (keys as the long flag names); "
                 "flags given on the command line override it");
  app.add_option("--data-dir", c.data_dir, "Directory for the log's RocksDB store (required)");
  app.add_option("--signing-key", c.signing_key,
                 "Note-format private key file (infratrail keygen); its name is the origin "
                 "(required)");
  app.add_option("--signer-state", c.signer_state,
                 "Signer state file; keep it outside --data-dir (default: <signing-key>.state)");
  app.add_flag("--recover-signer-state", c.recover_signer_state,
               "Adopt the data directory's checkpoint if the signer state file was lost");
  app.add_option("--grpc-addr", c.grpc_addr, "gRPC listen address")->capture_default_str();
  app.add_option("--http-addr", c.http_addr,
                 "C2SP tlog-tiles HTTP listen address (/checkpoint, /tile/...); empty: off")
      ->capture_default_str();
  app.add_option("--http-threads", c.http_threads, "Tiles HTTP polling threads")
      ->capture_default_str()
      ->check(CLI::Range(1, 64));
  app.add_option("--http-checkpoint-max-age", c.http_checkpoint_max_age_s,
                 "Cache-Control max-age of /checkpoint (seconds)")
      ->capture_default_str()
      ->check(CLI::Range(0, 3600));
  app.add_option("--http-in-flight-mb", c.http_in_flight_mb,
                 "Bound on response bodies being sent over HTTP (MiB); beyond it, 503")
      ->capture_default_str()
      ->check(CLI::Range(1, 1 << 20));
  app.add_option("--http-max-connections", c.http_max_connections,
                 "Tiles HTTP connections held at once (0: RLIMIT_NOFILE/4, at most 4096)")
      ->capture_default_str();
  app.add_option("--http-max-connections-per-address", c.http_max_connections_per_address,
                 "Tiles HTTP connections per client IPv4 address or IPv6 /64 (0: no limit)")
      ->capture_default_str();
  app.add_option("--http-head-timeout", c.http_head_timeout_s,
                 "Seconds to receive a whole request head (not per byte)")
      ->capture_default_str()
      ->check(CLI::Range(1, 3600));
  app.add_option("--http-idle-timeout", c.http_idle_timeout_s,
                 "Seconds of silence before a tiles HTTP connection is closed")
      ->capture_default_str()
      ->check(CLI::Range(1, 3600));
  app.add_option("--http-send-timeout", c.http_send_timeout_s,
                 "Seconds to send a whole response before the client is cut off")
      ->capture_default_str()
      ->check(CLI::Range(1, 3600));
  app.add_option("--metrics-addr", c.metrics_addr, "Prometheus /metrics listen address")
      ->capture_default_str();
  app.add_option("--tokens-file", c.tokens_file, "Writer bearer tokens: '<writer> <token>' lines");
  app.add_option("--tls-cert", c.tls_cert, "Server TLS certificate (PEM)");
  app.add_option("--tls-key", c.tls_key, "Server TLS private key (PEM)");
  app.add_option("--tls-client-ca", c.tls_client_ca, "CA (PEM) that verifies writer certificates");
  app.add_option("--writer-identity", c.writer_identities,
                 "Client certificate CN or SAN allowed to write; repeatable");
  app.add_flag("--allow-unauthenticated-writes", c.allow_unauthenticated_writes,
               "Allow anyone to append when listening on a non-loopback address");
  app.add_flag("--allow-insecure-key-permissions", c.allow_insecure_key_permissions,
               "Start although the signing key is readable by group or others");
  AddGrpcLimitFlags(app, c.grpc_limits);
  app.add_option("--rate-limit", c.rate_limit, "Per-writer events/s (0: unlimited)")
      ->capture_default_str();
  app.add_option("--checkpoint-interval-ms", c.checkpoint_interval_ms,
                 "Least time between two checkpoints")
      ->capture_default_str()
      ->check(CLI::Range(1, 3600000));
  app.add_option("--max-batch", c.max_batch, "Most entries per sequencer commit")
      ->capture_default_str()
      ->check(CLI::Range(1, 1 << 20));
  app.add_option("--max-queue", c.max_queue, "Queued entries beyond which AddEvents is refused")
      ->capture_default_str()
      ->check(CLI::Range(1, 1 << 26));
  app.add_option("--tile-cache-mb", c.tile_cache_mb,
                 "Tiles cached in memory, one budget for proofs and tiles HTTP (MiB); 1024 holds "
                 "~63,000 expanded tiles, every level-0 tile of a 1.6e7-entry log")
      ->capture_default_str()
      ->check(CLI::Range(0, 1 << 20));
  app.add_option("--ready-file", c.ready_file,
                 "Write {grpc_port, http_port, metrics_port, pid} as JSON here once serving");
  app.add_option("--min-free-disk-mb", c.min_free_disk_mb,
                 "Refuse writes (RESOURCE_EXHAUSTED) while the data or signer-state disk has "
                 "less free space than this (MiB); 0: off")
      ->capture_default_str();
  app.add_option("--testing-fail-commit-after", c.testing_fail_commit_after)->group("");
  app.add_flag("--testing-fail-commit-nospace", c.testing_fail_commit_nospace)->group("");
  app.add_option("--testing-free-disk-file", c.testing_free_disk_file)->group("");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? kExitOk : kExitUsage;
  }
  if (fsck->parsed()) return RunFsck(fsck_dir, fsck_key);
  if (exp->parsed()) {
    absl::Duration interval;
    if (!absl::ParseDuration(export_interval, &interval) || interval <= absl::ZeroDuration()) {
      return Say(absl::StrCat("export: --interval: \"", export_interval,
                              "\" is not a positive duration like 1s")),
             kExitUsage;
    }
    return RunExport(export_dir, export_to, export_follow, interval);
  }
  if (c.data_dir.empty() || c.signing_key.empty()) {
    Say(c.data_dir.empty() ? "--data-dir is required" : "--signing-key is required");
    return kExitUsage;
  }
  return Run(c);
}

}  // namespace
}  // namespace infratrail

int main(int argc, char** argv) {
  try {
    return infratrail::Main(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "infratrail-server: " << e.what() << "\n";
    return 1;
  }
}
