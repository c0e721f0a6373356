// infratrail-loadgen: drives an infratrail-server's gRPC API (infratrail.v1.Log)
// and reports throughput and latency percentiles. Modes and output are
// described in docs/loadgen.md.
//
// Exit codes: 0 success; 1 the run failed (every RPC failed, or the log could
// not serve the mode); 2 bad usage; 3 cannot connect; 4 a sampled reply
// failed verification.
#include <sys/resource.h>

#include <atomic>
#include <csignal>
#include <iostream>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "bench/loadgen_engine.h"
#include "bench/loadgen_modes.h"
#include "bench/loadgen_report.h"
#include "proto/limits.h"

namespace infratrail::loadgen {
namespace {

std::atomic<bool> interrupted{false};

void OnInterrupt(int) {
  interrupted.store(true);
  std::signal(SIGINT, SIG_DFL);  // a second ^C kills
}

// User + system CPU time of this process: on a shared machine, what the
// generator took from the server is part of the result.
double ProcessCpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  auto secs = [](const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; };
  return secs(u.ru_utime) + secs(u.ru_stime);
}

constexpr char kDescription[] =
    "Load generator for the infratrail.v1.Log gRPC API.\n"
    "Modes:\n"
    "  batch               closed loop: --concurrency AddEvents RPCs of --batch-size events\n"
    "  single              closed loop: one event per RPC, --concurrency callers (default 256)\n"
    "  checkpoint-latency  open loop at --rate events/s with wait_for_checkpoint=true;\n"
    "                      latency = scheduled send -> reply with a covering checkpoint\n"
    "  proofs              GetInclusionProof / GetConsistencyProof against the latest\n"
    "                      checkpoint, --concurrency in flight; a sample verified with core/\n"
    "  fill                append until the log holds --events entries; prints the rate\n"
    "                      per --window entries\n"
    "Runs for --duration seconds (default 10) or --events, whichever ends first.";

struct ModeDefaults {
  const char* mode;
  int concurrency;
  int batch_size;
};
constexpr int kFullBatch = static_cast<int>(kMaxEntriesPerAdd);
constexpr ModeDefaults kModeDefaults[] = {
    {"batch", 4, kFullBatch}, {"single", 256, 1},      {"checkpoint-latency", 20000, 1},
    {"proofs", 64, 1},        {"fill", 4, kFullBatch},
};

int Main(int argc, char** argv) {
  RunConfig config;
  ConnectOptions connect;

  CLI::App app(kDescription, "infratrail-loadgen");
  app.add_option("--mode", config.mode, "What to measure")
      ->required()
      ->check(CLI::IsMember({"batch", "single", "checkpoint-latency", "proofs", "fill"}));
  app.add_option("--server", connect.server, "Server gRPC address HOST:PORT")
      ->capture_default_str();
  app.add_option("--token", connect.token, "Bearer token, sent as 'authorization: Bearer <t>'")
      ->envname("INFRATRAIL_TOKEN");
  app.add_option("--tls-ca", connect.tls_ca, "CA bundle (PEM): use TLS instead of plaintext");
  auto* cert_opt =
      app.add_option("--tls-cert", connect.tls_cert, "Client certificate (PEM) for mTLS");
  auto* key_opt = app.add_option("--tls-key", connect.tls_key, "Client private key (PEM) for mTLS");
  cert_opt->needs(key_opt);
  key_opt->needs(cert_opt);
  auto* batch_opt = app.add_option("--batch-size", config.batch_size,
                                   absl::StrCat("Events per AddEvents RPC, 1..", kFullBatch,
                                                " (default: ", kFullBatch,
                                                " for batch and fill, 1 otherwise; single "
                                                "forces 1)"))
                        ->check(CLI::Range(1, kFullBatch));
  auto* conc_opt = app.add_option("--concurrency", config.concurrency,
                                  "RPCs in flight (default: batch/fill 4, single 256, proofs 64); "
                                  "checkpoint-latency: cap on in-flight RPCs (20000)")
                       ->check(CLI::Range(1, 1000000));
  app.add_option("--events", config.events,
                 "Measured events (proofs: RPCs) to send; fill: target log size")
      ->check(CLI::Range(int64_t{1}, int64_t{999'999'999'999}));
  auto* duration_opt = app.add_option("--duration", config.duration_s,
                                      "Measured seconds (default 10 without --events)")
                           ->check(CLI::PositiveNumber);
  app.add_option("--warmup", config.warmup_s, "Seconds before measuring (fill: none)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_option("--rate", config.rate, "checkpoint-latency: events/s offered")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--event-size", config.event_size, "Approximate serialized event size, bytes")
      ->check(CLI::Range(0, static_cast<int>(kMaxEntryBytes)))
      ->capture_default_str();
  app.add_flag("--random-fields", config.random_fields,
               "Fresh random hex in each event's commit, digest and padding, so storage figures "
               "are not flattered by compressing identical templates");
  app.add_option("--threads", connect.threads, "Completion-queue threads")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  app.add_option("--channels", connect.channels, "gRPC channels (TCP connections)")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  app.add_option("--timeout", connect.rpc_timeout_s, "Per-RPC deadline, seconds")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--connect-timeout", connect.connect_timeout_s, "Seconds to wait for the server")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--verify-fraction", config.verify_fraction,
                 "Share of replies verified in full with core/ (proofs, leaf hashes)")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  app.add_option("--inclusion-fraction", config.inclusion_fraction,
                 "proofs: share of GetInclusionProof (the rest GetConsistencyProof)")
      ->check(CLI::Range(0.0, 1.0))
      ->capture_default_str();
  app.add_option("--window", config.window, "fill: entries per progress line")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_flag("--minimal-stack", connect.minimal_stack,
               "gRPC minimal client stack: ~20% less client CPU per RPC, but --timeout is then "
               "enforced by the server only");
  app.add_flag("--json", config.json, "Print one JSON object instead of the summary");
  try {
    app.parse(argc, argv);
  } catch (const CLI::Error& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }

  for (const ModeDefaults& d : kModeDefaults) {
    if (config.mode != d.mode) continue;
    if (conc_opt->count() == 0) config.concurrency = d.concurrency;
    if (batch_opt->count() == 0 || config.mode == "single") config.batch_size = d.batch_size;
  }
  if (config.mode == "fill") {
    if (config.events == 0) {
      std::cerr << "infratrail-loadgen: --mode=fill needs --events (the target log size)\n";
      return 2;
    }
    config.warmup_s = 0;
  }
  if (config.events == 0 && duration_opt->count() == 0) config.duration_s = 10;

  absl::StatusOr<std::unique_ptr<Engine>> engine = Engine::Connect(connect);
  if (!engine.ok()) {
    std::cerr << "infratrail-loadgen: " << engine.status().message() << "\n";
    return engine.status().code() == absl::StatusCode::kUnavailable ? 3 : 2;
  }
  std::signal(SIGINT, OnInterrupt);
  const double cpu_before = ProcessCpuSeconds();
  const absl::Time wall_before = absl::Now();
  absl::StatusOr<RunResult> result = RunMode(config, engine->get(), &interrupted);
  if (!result.ok()) {
    std::cerr << "infratrail-loadgen: " << result.status().message() << "\n";
    return 1;
  }
  result->client_cpu_s = ProcessCpuSeconds() - cpu_before;
  result->wall_s = absl::ToDoubleSeconds(absl::Now() - wall_before);
  if (config.json) {
    std::cout << JsonReport(config, connect, *result).dump(2) << "\n";
  } else {
    std::cout << HumanReport(config, connect, *result);
  }
  const Stats& stats = result->stats;
  if (stats.verify_failures > 0) return 4;
  if (stats.ok_total == 0 && stats.error_total() > 0) {
    std::cerr << "infratrail-loadgen: every RPC failed\n";
    return 1;
  }
  return 0;
}

}  // namespace
}  // namespace infratrail::loadgen

int main(int argc, char** argv) {
  // CLI11 usage errors are handled in Main; anything else (bad_alloc) ends here.
  try {
    return infratrail::loadgen::Main(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "infratrail-loadgen: " << e.what() << "\n";
    return 1;
  }
}
