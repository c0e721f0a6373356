// The load generator's asynchronous machinery: worker threads draining gRPC
// completion queues, the run control that hands out work, and per-worker
// statistics. Any number of RPCs can be in flight on a couple of threads:
// each in-flight RPC is a Call object whose completion is a queue event.
#ifndef INFRATRAIL_BENCH_LOADGEN_ENGINE_H_
#define INFRATRAIL_BENCH_LOADGEN_ENGINE_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "bench/loadgen_histogram.h"
#include "grpcpp/alarm.h"
#include "grpcpp/grpcpp.h"
#include "infratrail/v1/log.grpc.pb.h"

namespace infratrail::loadgen {

using Clock = std::chrono::steady_clock;

// What one worker thread accumulates; merged once the workers have joined.
// "Measured" RPCs are those issued after the warmup.
struct Stats {
  LatencyHistogram latency_ns;  // measured RPCs: submit (first attempt) to reply
  uint64_t rpcs = 0;            // measured successful RPCs
  uint64_t units = 0;           // events acknowledged (append) or proofs received
  uint64_t ok_total = 0;        // successful RPCs, warmup included
  uint64_t duplicates = 0;      // entries the log reported as already present
  uint64_t retries = 0;         // RESOURCE_EXHAUSTED replies, retried after a backoff
  uint64_t verified = 0;        // sampled replies checked against core/
  uint64_t verify_failures = 0;
  std::map<grpc::StatusCode, uint64_t> errors;  // failed RPCs by final code, warmup included
  Clock::time_point last_measured_done{};

  void Merge(const Stats& other);
  uint64_t error_total() const;
};

// "RESOURCE_EXHAUSTED" etc., as in the gRPC documentation.
std::string StatusCodeName(grpc::StatusCode code);

// The delay before retry number `attempt` (0-based) after RESOURCE_EXHAUSTED:
// exponential from 1 ms, capped at 100 ms, with jitter so that callers
// rejected together do not return together.
std::chrono::microseconds RetryBackoff(int attempt, std::mt19937_64& rng);

// A completion-queue tag: Proceed runs on the owning worker's thread each time
// one of the call's operations (RPC or retry alarm) completes.
class Call {
 public:
  virtual ~Call() = default;
  virtual void Proceed(bool ok) = 0;
};

// One completion queue and the thread draining it. Calls bound to a worker
// touch its stats() only from that thread.
class Worker {
 public:
  Worker() = default;
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;
  ~Worker();

  grpc::CompletionQueue* cq() { return &cq_; }
  Stats& stats() { return stats_; }

  void Start();
  // Requires every call using this queue to have finished.
  void ShutdownAndJoin();

 private:
  grpc::CompletionQueue cq_;
  std::thread thread_;
  Stats stats_;
};

// Hands out work to calls and decides which RPCs are measured. Thread-safe.
class RunControl {
 public:
  struct Limits {
    Clock::time_point measure_start;           // end of the warmup
    std::optional<Clock::time_point> stop_at;  // no new RPCs from then on
    int64_t budget = -1;                       // measured units still to issue; negative: unlimited
  };
  struct Ticket {
    int units = 0;  // 0: stop, issue nothing more
    bool measured = false;
  };

  RunControl(const Limits& limits, const std::atomic<bool>* interrupted);

  // Claims up to `want` units for the next RPC. Warmup RPCs are not charged
  // to the budget.
  Ticket Next(int want);
  // The user asked to stop (SIGINT) or the run was aborted: stop retrying too.
  bool Interrupted() const;
  // Stops the run for an error no retry can cure (bad credentials, say).
  void Abort() { aborted_.store(true, std::memory_order_relaxed); }
  Clock::time_point measure_start() const { return limits_.measure_start; }
  // n consecutive event numbers, unique within the run.
  uint64_t ClaimEventNumbers(int n) { return next_event_.fetch_add(static_cast<uint64_t>(n)); }

  // Closed-loop bookkeeping: each slot calls SlotDone once it stops.
  void AddSlots(int n);
  void SlotDone();
  void WaitForSlots();

 private:
  const Limits limits_;
  const std::atomic<bool>* const interrupted_;
  std::atomic<int64_t> budget_;
  std::atomic<bool> aborted_{false};
  std::atomic<uint64_t> next_event_{0};
  absl::Mutex mu_;
  int active_slots_ ABSL_GUARDED_BY(mu_) = 0;
};

// Backoff and retry after RESOURCE_EXHAUSTED, and pauses after failures, for
// one call. Used only from
// the call's worker thread.
class RetryTimer {
 public:
  explicit RetryTimer(uint64_t seed) : rng_(seed) {}

  // Schedules call->Proceed on the worker's queue after a backoff and returns
  // true, unless the run was interrupted or retries have gone on for a minute
  // since `first_attempt`.
  bool Schedule(Call* call, Worker* worker, const RunControl& control,
                Clock::time_point first_attempt);
  void Reset() { attempt_ = 0; }
  // Schedules call->Proceed after 50-100 ms: after a failed RPC, so that a
  // dead server is not hammered by every slot in a tight loop.
  void Pause(Call* call, Worker* worker);

 private:
  int attempt_ = 0;
  std::optional<grpc::Alarm> alarm_;  // a fresh one per backoff
  std::mt19937_64 rng_;
};

struct ConnectOptions {
  std::string server = "127.0.0.1:7400";
  std::string token;     // sent as "authorization: Bearer <token>" if set
  std::string tls_ca;    // PEM file; TLS is used if this or tls_cert is set
  std::string tls_cert;  // client certificate and key, for mTLS
  std::string tls_key;
  int channels = 2;  // separate TCP connections
  int threads = 1;   // completion-queue threads
  double rpc_timeout_s = 30;
  double connect_timeout_s = 5;
  // gRPC's minimal filter stack: about a fifth less client CPU per RPC, but
  // the client no longer enforces rpc_timeout_s (only the server does).
  bool minimal_stack = false;
};

// Channels, stubs and workers. Calls are spread round-robin over both.
class Engine {
 public:
  // Unavailable if some channel is not connected within the timeout;
  // InvalidArgument for unreadable TLS files.
  static absl::StatusOr<std::unique_ptr<Engine>> Connect(const ConnectOptions& options);

  size_t num_stubs() const { return stubs_.size(); }
  size_t num_workers() const { return workers_.size(); }
  v1::Log::Stub* stub(size_t i) const { return stubs_[i % stubs_.size()].get(); }
  Worker* worker(size_t i) const { return workers_[i % workers_.size()].get(); }

  // Sets the deadline and credentials of a fresh context.
  void PrepareContext(grpc::ClientContext* ctx) const;

  // Prints `message` to stderr the first time `key` (say, an RPC name and
  // status code) is seen, so a failing run explains itself without flooding.
  void ReportOnce(const std::string& key, absl::string_view message) const;

  // Shuts the workers down (every call must have finished) and merges stats.
  Stats Finish();

 private:
  explicit Engine(const ConnectOptions& options) : options_(options) {}

  const ConnectOptions options_;
  std::vector<std::shared_ptr<grpc::Channel>> channels_;
  std::vector<std::unique_ptr<v1::Log::Stub>> stubs_;
  std::vector<std::unique_ptr<Worker>> workers_;
  mutable absl::Mutex report_mu_;
  mutable std::set<std::string> reported_ ABSL_GUARDED_BY(report_mu_);
};

}  // namespace infratrail::loadgen

#endif  // INFRATRAIL_BENCH_LOADGEN_ENGINE_H_
