// infratrail-witness-load: measures a C2SP tlog-witness's add-checkpoint
// rate (docs/benchmarks.md, "Witness add-checkpoint"; bench/witness_load.sh
// runs the whole benchmark).
//
//   setup        write a corpus of signed checkpoints and consistency proofs
//   verify       re-check a corpus as a witness would
//   run          replay a corpus against a witness; one JSON report on stdout
//   fsync-floor  the disk's serial fdatasync rate, a peer figure for run
//
// Exit codes: 0 success; 1 a run saw a non-200 answer or another failure,
// verify found a bad or missing body, or fsync-floor a failed write; 2 bad
// usage, or setup/run could not start (corpus, address, directory).
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <iostream>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "bench/witness_load_client.h"
#include "bench/witness_load_corpus.h"
#include "nlohmann/json.hpp"

namespace infratrail::witness_load {
namespace {

constexpr int kExitOk = 0;
constexpr int kExitFailed = 1;
constexpr int kExitUsage = 2;

using Clock = std::chrono::steady_clock;

double SecondsSince(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// "10s", "1m30s", "500ms", or plain seconds ("10").
bool ParseDurationFlag(const std::string& text, absl::Duration* d) {
  double secs = 0;
  if (absl::SimpleAtod(text, &secs)) {
    *d = absl::Seconds(secs);
    return secs > 0;
  }
  return absl::ParseDuration(text, d) && *d > absl::ZeroDuration();
}

// Percentile of sorted values (nearest rank); 0 if empty.
uint64_t Percentile(const std::vector<uint32_t>& sorted, double q) {
  if (sorted.empty()) return 0;
  const size_t rank = static_cast<size_t>(q * static_cast<double>(sorted.size()));
  return sorted[std::min(rank, sorted.size() - 1)];
}

nlohmann::ordered_json LatencyJson(const std::vector<uint32_t>& sorted) {
  return {{"p50", Percentile(sorted, 0.50)},
          {"p90", Percentile(sorted, 0.90)},
          {"p99", Percentile(sorted, 0.99)},
          {"max", sorted.empty() ? 0 : sorted.back()}};
}

int RunSetup(const std::string& dir, const CorpusOptions& options) {
  const Clock::time_point start = Clock::now();
  absl::StatusOr<SetupStats> stats = WriteCorpus(dir, options);
  if (!stats.ok()) {
    std::cerr << stats.status().message() << "\n";
    return kExitUsage;
  }
  const nlohmann::ordered_json out = {
      {"dir", dir},
      {"logs", options.logs},
      {"bodies", stats->bodies},
      {"body_bytes", stats->body_bytes},
      {"mean_proof_hashes", stats->bodies > static_cast<uint64_t>(options.logs)
                                ? static_cast<double>(stats->proof_hashes) /
                                      static_cast<double>(stats->bodies - options.logs)
                                : 0.0},
      {"tree_bytes", stats->tree_bytes},
      {"seconds", SecondsSince(start)},
  };
  std::cout << out.dump() << "\n";
  return kExitOk;
}

int RunVerify(const std::string& dir) {
  const Clock::time_point start = Clock::now();
  absl::StatusOr<VerifyStats> stats = VerifyCorpus(dir);
  if (!stats.ok()) {
    std::cerr << "verify: " << stats.status().message() << "\n";
    return kExitFailed;
  }
  const nlohmann::ordered_json out = {{"dir", dir},
                                      {"bodies", stats->bodies},
                                      {"body_bytes", stats->body_bytes},
                                      {"seconds", SecondsSince(start)},
                                      {"ok", true}};
  std::cout << out.dump() << "\n";
  return kExitOk;
}

int RunRun(const std::string& dir, const RunOptions& options) {
  absl::StatusOr<RunResult> r = RunLoad(dir, options);
  if (!r.ok()) {
    std::cerr << r.status().message() << "\n";
    return kExitUsage;
  }
  nlohmann::ordered_json status = nlohmann::ordered_json::object();
  for (const auto& [code, count] : r->status_counts) status[std::to_string(code)] = count;
  nlohmann::ordered_json errors = nlohmann::ordered_json::object();
  for (const auto& [what, count] : r->errors) errors[what] = count;
  nlohmann::ordered_json out = {
      {"requests", r->requests},
      {"seconds", r->seconds},
      {"requests_per_s", r->seconds > 0 ? static_cast<double>(r->requests) / r->seconds : 0.0},
      {"status", status},
      {"errors", errors},
      {"latency_us", LatencyJson(r->latencies_us)},
      {"client_cpu_us_per_request",
       r->requests > 0 ? r->client_cpu_seconds * 1e6 / static_cast<double>(r->requests) : 0.0},
      {"client_cpu_seconds", r->client_cpu_seconds},
      {"cosignatures_verified", r->cosignatures_verified},
      {"connections", r->connections},
      {"logs", r->logs},
      {"stop_reason", r->stop_reason},
      {"ok", r->ok()},
  };
  if (r->first_failure.has_value()) {
    out["first_failure"] = {{"log", r->first_failure->log},
                            {"request", r->first_failure->request},
                            {"status", r->first_failure->status},
                            {"detail", r->first_failure->detail}};
  }
  std::cout << out.dump() << "\n";
  return r->ok() ? kExitOk : kExitFailed;
}

// One thread appending ~200-byte records, each made durable with fdatasync
// before the next: the rate a witness that syncs every request on its own
// cannot beat, on the disk its state directory is on.
int RunFsyncFloor(const std::string& dir, double seconds) {
  const std::string path = absl::StrCat(dir, "/fsync-floor.", ::getpid(), ".tmp");
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) {
    std::cerr << "fsync-floor: create " << path << ": " << std::strerror(errno) << "\n";
    return kExitUsage;
  }
  const std::string record(199, 'r');
  std::vector<uint32_t> latencies;
  const Clock::time_point start = Clock::now();
  const Clock::time_point end =
      start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  int rc = kExitOk;
  while (Clock::now() < end) {
    const Clock::time_point t = Clock::now();
    const std::string line = record + "\n";
    if (::write(fd, line.data(), line.size()) != static_cast<ssize_t>(line.size()) ||
        ::fdatasync(fd) != 0) {
      std::cerr << "fsync-floor: " << path << ": " << std::strerror(errno) << "\n";
      rc = kExitFailed;
      break;
    }
    latencies.push_back(static_cast<uint32_t>(
        std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - t).count()));
  }
  const double elapsed = SecondsSince(start);
  ::close(fd);
  ::unlink(path.c_str());
  if (rc != kExitOk) return rc;
  std::sort(latencies.begin(), latencies.end());
  const nlohmann::ordered_json out = {
      {"fsyncs", latencies.size()},
      {"seconds", elapsed},
      {"fsyncs_per_s", static_cast<double>(latencies.size()) / elapsed},
      {"latency_us", LatencyJson(latencies)},
  };
  std::cout << out.dump() << "\n";
  return kExitOk;
}

int Main(int argc, char** argv) {
  CLI::App app("Load generator for a C2SP tlog-witness's add-checkpoint",
               "infratrail-witness-load");
  app.require_subcommand(1);

  std::string dir;
  CorpusOptions corpus;
  CLI::App* setup = app.add_subcommand("setup", "Write a corpus of add-checkpoint bodies");
  setup->add_option("--dir", dir, "Directory to create")->required();
  setup->add_option("--logs", corpus.logs, "Number of logs")->capture_default_str();
  setup->add_option("--requests-per-log", corpus.requests_per_log, "Bodies per log")
      ->capture_default_str();
  setup->add_option("--start-size", corpus.start_size, "Size of each log's first checkpoint")
      ->capture_default_str();
  setup->add_option("--max-step", corpus.max_step, "Largest growth between two checkpoints")
      ->capture_default_str();
  setup->add_option("--seed", corpus.seed, "Seed of the size steps")->capture_default_str();
  setup->add_option("--threads", corpus.threads, "Signing threads")->capture_default_str();

  CLI::App* verify = app.add_subcommand("verify", "Re-check every body of a corpus");
  verify->add_option("--dir", dir, "Corpus directory")->required();

  RunOptions run_options;
  std::string duration = "10s";
  CLI::App* run = app.add_subcommand("run", "Replay a corpus against a witness");
  run->add_option("--dir", dir, "Corpus directory")->required();
  run->add_option("--addr", run_options.addr, "Witness HOST:PORT")->required();
  run->add_option("--connections", run_options.connections, "Keep-alive connections")
      ->capture_default_str();
  run->add_option("--duration", duration, "How long to send (10s, 500ms, 2m)")
      ->capture_default_str();
  run->add_option("--witness-vkey", run_options.witness_vkey,
                  "Check a sample of the cosignatures against this key");
  run->add_option("--verify-every", run_options.verify_every,
                  "With --witness-vkey: check one 200 answer in this many")
      ->capture_default_str();

  double floor_seconds = 3;
  CLI::App* fsync_floor =
      app.add_subcommand("fsync-floor", "Serial append+fdatasync rate of a directory's disk");
  fsync_floor->add_option("--dir", dir, "Directory (the witness's state disk)")->required();
  fsync_floor->add_option("--seconds", floor_seconds, "How long")->capture_default_str();

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? kExitOk : kExitUsage;
  }
  if (setup->parsed()) return RunSetup(dir, corpus);
  if (verify->parsed()) return RunVerify(dir);
  if (run->parsed()) {
    if (!ParseDurationFlag(duration, &run_options.duration)) {
      std::cerr << "run: --duration " << duration << " is not a positive duration\n";
      return kExitUsage;
    }
    return RunRun(dir, run_options);
  }
  if (floor_seconds <= 0) {
    std::cerr << "fsync-floor: --seconds must be > 0\n";
    return kExitUsage;
  }
  return RunFsyncFloor(dir, floor_seconds);
}

}  // namespace
}  // namespace infratrail::witness_load

int main(int argc, char** argv) {
  // CLI11 usage errors are handled in Main; anything else (bad_alloc) ends here.
  try {
    return infratrail::witness_load::Main(argc, argv);
  } catch (const std::exception& e) {
    std::cerr << "infratrail-witness-load: " << e.what() << "\n";
    return 2;
  }
}
