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
// Exit codes (exit_codes.h): 0 clean shutdown (SIGTERM/SIGINT), 1 runtime failure (also a
// shutdown after the log stopped serving),
// 2 usage or configuration error (including every start-up refusal);
// fsck: 0 consistent, 1 inconsistent, 2 usage, 3 cannot read the store;
// export: 0 done, 2 usage, 3 cannot read the store or write the output.
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
#include "server/command_common.h"
#include "server/disk_reserve.h"
#include "server/exit_codes.h"
#include "server/export_command.h"
#include "server/fault_injecting_storage.h"
#include "server/fsck_command.h"
#include "server/grpc_port.h"
#include "server/http_server.h"
#include "server/log.h"
#include "server/log_service.h"
#include "server/rocksdb_storage.h"
#include "server/server_config.h"
#include "server/writer_auth.h"

namespace infratrail {
namespace {

constexpr absl::string_view kServiceName = "infratrail.v1.Log";

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
  // Validate let this through only with --allow-unauthenticated-writes.
  if (!(*auth)->required() && !IsLoopback(c.grpc_addr)) {
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
  const std::string signer_state = c.SignerStatePath();
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

  LogOptions opts{*key, signer_state, c.recover_signer_state, {}, {}, c.tile_cache};
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
      TileHttpOptions{c.http_cache_mb << 20, absl::Seconds(c.http_checkpoint_max_age_s),
                      c.http_in_flight_mb << 20},
      &metrics);
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
  ServerConfig c;
  AddServeFlags(app, c);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? kExitOk : kExitUsage;
  }
  if (fsck->parsed()) return RunFsck(fsck_args);
  if (exp->parsed()) return RunExport(export_args);
  if (absl::Status valid = c.Validate(); !valid.ok()) return Say(valid.message()), kExitUsage;
  return Run(c);
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
