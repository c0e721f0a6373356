// The load generator's modes: how each drives the calls of loadgen_calls.h
// and what it measures (docs/loadgen.md).
#ifndef INFRATRAIL_BENCH_LOADGEN_MODES_H_
#define INFRATRAIL_BENCH_LOADGEN_MODES_H_

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "bench/loadgen_calls.h"
#include "bench/loadgen_engine.h"
#include "proto/limits.h"

namespace infratrail::loadgen {

// Parsed from the command line by main; mode defaults already applied.
struct RunConfig {
  std::string mode;  // batch | single | checkpoint-latency | proofs | fill
  int batch_size = static_cast<int>(kMaxEntriesPerAdd);
  int concurrency = 4;  // closed loop: RPCs in flight; open loop: cap on them
  int64_t events = 0;   // measured events (proofs: RPCs); 0: use duration_s
  double duration_s = 0;
  double warmup_s = 1;
  double rate = 10000;  // checkpoint-latency: events/s
  int event_size = 300;
  bool random_fields = false;  // EventFactory::Create's random_fields
  double verify_fraction = 0.01;
  double inclusion_fraction = 0.5;  // proofs: share of GetInclusionProof
  uint64_t window = 100'000;        // fill: entries per progress line
  bool json = false;
};

struct RunResult {
  Stats stats;
  double seconds = 0;  // end of warmup to the last measured reply
  size_t event_bytes_min = 0;
  size_t event_bytes_max = 0;
  double generator_ns_per_event = 0;
  std::vector<FillProgress::Window> windows;  // fill
  uint64_t start_size = 0;                    // fill: log size before
  uint64_t end_size = 0;                      // fill: log size after
  uint64_t checkpoint_size = 0;               // proofs: tree size proved against
  double max_schedule_lag_ms = 0;             // checkpoint-latency: pacer lateness
  double client_cpu_s = 0;                    // this process, whole run incl. warmup
  double wall_s = 0;                          // whole run incl. warmup
};

// Runs config.mode to completion (or until *interrupted) and shuts the
// engine's workers down. FailedPrecondition if the log cannot serve the mode
// (proofs on an empty log); Unavailable if no checkpoint appears in time.
absl::StatusOr<RunResult> RunMode(const RunConfig& config, Engine* engine,
                                  const std::atomic<bool>* interrupted);

}  // namespace infratrail::loadgen

#endif  // INFRATRAIL_BENCH_LOADGEN_MODES_H_
