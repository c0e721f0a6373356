// The RPCs the load generator issues, as completion-queue state machines.
// Each call object carries one RPC at a time (plus its retries and any
// verification RPC) and lives until the run ends; it is bound to one worker,
// whose thread runs all of its Proceed steps.
#ifndef INFRATRAIL_BENCH_LOADGEN_CALLS_H_
#define INFRATRAIL_BENCH_LOADGEN_CALLS_H_

#include <functional>
#include <iosfwd>
#include <memory>
#include <optional>
#include <random>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "bench/loadgen_engine.h"
#include "bench/loadgen_events.h"
#include "core/checkpoint.h"

namespace infratrail::loadgen {

// Fill mode's progress: the append rate over each window of log entries.
// Thread-safe; prints a line per window as it closes if `out` is set.
class FillProgress {
 public:
  struct Window {
    uint64_t log_size;  // entries in the log when the window closed
    double seconds;
    double events_per_s;
  };

  FillProgress(uint64_t window, uint64_t start_size, std::ostream* out);

  // `events` more were acknowledged; the largest index in the reply was
  // max_index.
  void Add(uint64_t events, uint64_t max_index);
  std::vector<Window> windows() const;
  uint64_t log_size() const;

 private:
  const uint64_t window_;
  std::ostream* const out_;
  mutable absl::Mutex mu_;
  uint64_t log_size_ ABSL_GUARDED_BY(mu_);
  uint64_t next_boundary_ ABSL_GUARDED_BY(mu_);
  uint64_t window_events_ ABSL_GUARDED_BY(mu_) = 0;
  Clock::time_point window_start_ ABSL_GUARDED_BY(mu_);
  std::vector<Window> windows_ ABSL_GUARDED_BY(mu_);
};

// AddEvents with a batch of fresh events. Retries RESOURCE_EXHAUSTED after a
// backoff (latency then counts from the first attempt); any other failure is
// counted, the batch dropped, and the call pauses before its next one.
class AppendCall : public Call {
 public:
  struct Options {
    const EventFactory* events = nullptr;
    bool wait_for_checkpoint = false;
    double verify_fraction = 0;        // share of replies checked in full
    FillProgress* progress = nullptr;  // fill mode only
  };
  using DoneFn = std::function<void(AppendCall*)>;

  // `slot` picks the stub and worker; `done` runs on the worker thread when
  // the RPC is over, to launch the next one or return the call to a pool.
  AppendCall(const Engine* engine, size_t slot, RunControl* control, const Options& options,
             DoneFn done);

  // Sends `events` new events. Latency counts from `scheduled` (open loop:
  // the intended send time) or else from now.
  void Launch(int events, bool measured, std::optional<Clock::time_point> scheduled);
  void Proceed(bool ok) override;

 private:
  void Issue();
  void OnReply();

  const Engine* const engine_;
  v1::Log::Stub* const stub_;
  Worker* const worker_;
  RunControl* const control_;
  const Options options_;
  const DoneFn done_;
  std::mt19937_64 rng_;

  v1::AddEventsRequest request_;
  v1::AddEventsResponse response_;
  std::optional<grpc::ClientContext> ctx_;
  std::unique_ptr<grpc::ClientAsyncResponseReader<v1::AddEventsResponse>> reader_;
  grpc::Status status_;
  enum class State { kRpc, kRetry, kPause };
  State state_ = State::kRpc;
  RetryTimer retry_;
  bool measured_ = false;
  Clock::time_point t0_;
};

// Closed-loop proof reads against a fixed checkpoint: GetInclusionProof for a
// random index or GetConsistencyProof from a random size, with tree_size set
// to the checkpoint's so every proof is checkable against its root. Every
// reply's proof length is checked; a sample is verified in full after one
// GetEntryAndProof (not counted in the figures, but it occupies the slot).
class ProofCall : public Call {
 public:
  struct Options {
    const Checkpoint* target = nullptr;  // size >= 1
    double inclusion_fraction = 0.5;
    double verify_fraction = 0;
  };

  ProofCall(const Engine* engine, size_t slot, RunControl* control, const Options& options);

  // Runs until the control says stop, then calls control->SlotDone().
  void Start();
  void Proceed(bool ok) override;

 private:
  enum class State { kProof, kBackoff, kEntry, kPause };
  void Next();
  void IssueProof();
  void OnProof();
  void OnEntry();

  const Engine* const engine_;
  v1::Log::Stub* const stub_;
  Worker* const worker_;
  RunControl* const control_;
  const Options options_;
  std::mt19937_64 rng_;

  State state_ = State::kProof;
  bool inclusion_ = true;
  uint64_t arg_ = 0;  // leaf index, or from_size
  bool measured_ = false;
  Clock::time_point t0_;
  std::optional<grpc::ClientContext> ctx_;
  grpc::Status status_;
  RetryTimer retry_;
  v1::GetInclusionProofRequest inclusion_request_;
  v1::GetConsistencyProofRequest consistency_request_;
  v1::GetEntryAndProofRequest entry_request_;
  v1::GetInclusionProofResponse inclusion_response_;
  v1::GetConsistencyProofResponse consistency_response_;
  v1::GetEntryAndProofResponse entry_response_;
  std::unique_ptr<grpc::ClientAsyncResponseReader<v1::GetInclusionProofResponse>> inclusion_reader_;
  std::unique_ptr<grpc::ClientAsyncResponseReader<v1::GetConsistencyProofResponse>>
      consistency_reader_;
  std::unique_ptr<grpc::ClientAsyncResponseReader<v1::GetEntryAndProofResponse>> entry_reader_;
};

}  // namespace infratrail::loadgen

#endif  // INFRATRAIL_BENCH_LOADGEN_CALLS_H_
