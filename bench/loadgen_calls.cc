#include "bench/loadgen_calls.h"

#include <algorithm>
#include <ostream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "bench/loadgen_verify.h"

namespace infratrail::loadgen {
namespace {

uint64_t Nanos(Clock::duration d) {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(d).count());
}

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

bool Sampled(double fraction, std::mt19937_64& rng) {
  return fraction > 0 && std::uniform_real_distribution<double>(0, 1)(rng) < fraction;
}

// Counts a failed RPC; configuration errors, which every later RPC would hit
// too, stop the run instead of spinning through it.
void CountError(const Engine& engine, RunControl& control, Stats& stats, absl::string_view rpc,
                const grpc::Status& status) {
  ++stats.errors[status.error_code()];
  engine.ReportOnce(absl::StrCat(rpc, " ", StatusCodeName(status.error_code())),
                    status.error_message());
  switch (status.error_code()) {
    case grpc::UNAUTHENTICATED:
    case grpc::PERMISSION_DENIED:
    case grpc::UNIMPLEMENTED:
      control.Abort();
      break;
    default:
      break;
  }
}

void CountVerification(const Engine& engine, Stats& stats, const absl::Status& result) {
  if (result.ok()) {
    ++stats.verified;
  } else {
    ++stats.verify_failures;
    engine.ReportOnce("verification failure", result.ToString());
  }
}

}  // namespace

FillProgress::FillProgress(uint64_t window, uint64_t start_size, std::ostream* out)
    : window_(std::max<uint64_t>(window, 1)),
      out_(out),
      log_size_(start_size),
      next_boundary_((start_size / window_ + 1) * window_),
      window_start_(Clock::now()) {}

void FillProgress::Add(uint64_t events, uint64_t max_index) {
  absl::MutexLock lock(&mu_);
  log_size_ = std::max(log_size_, max_index + 1);
  window_events_ += events;
  if (log_size_ < next_boundary_) return;
  const Clock::time_point now = Clock::now();
  const double seconds = Seconds(now - window_start_);
  const Window w{log_size_, seconds, seconds > 0 ? window_events_ / seconds : 0};
  windows_.push_back(w);
  if (out_ != nullptr) {
    *out_ << absl::StrFormat("fill: %12d entries  %10.0f events/s  (%d events in %.2f s)\n",
                             w.log_size, w.events_per_s, window_events_, w.seconds)
          << std::flush;
  }
  window_events_ = 0;
  window_start_ = now;
  next_boundary_ = (log_size_ / window_ + 1) * window_;
}

std::vector<FillProgress::Window> FillProgress::windows() const {
  absl::MutexLock lock(&mu_);
  return windows_;
}

uint64_t FillProgress::log_size() const {
  absl::MutexLock lock(&mu_);
  return log_size_;
}

AppendCall::AppendCall(const Engine* engine, size_t slot, RunControl* control,
                       const Options& options, DoneFn done)
    : engine_(engine),
      stub_(engine->stub(slot)),
      worker_(engine->worker(slot)),
      control_(control),
      options_(options),
      done_(std::move(done)),
      rng_(slot * 0x9e3779b97f4a7c15ULL + 1),
      retry_(slot + 17) {
  request_.set_wait_for_checkpoint(options.wait_for_checkpoint);
}

void AppendCall::Launch(int events, bool measured, std::optional<Clock::time_point> scheduled) {
  auto* entries = request_.mutable_entries();
  while (entries->size() > events) entries->RemoveLast();
  while (entries->size() < events) entries->Add();
  // Overwriting the previous batch's strings in place reuses their buffers:
  // no allocation per event once the call has warmed up.
  const uint64_t first = control_->ClaimEventNumbers(events);
  for (int i = 0; i < events; ++i) options_.events->Fill(first + i, (*entries)[i].mutable_data());
  measured_ = measured;
  t0_ = scheduled.value_or(Clock::now());
  retry_.Reset();
  Issue();
}

void AppendCall::Issue() {
  state_ = State::kRpc;
  reader_.reset();
  ctx_.reset();
  ctx_.emplace();
  engine_->PrepareContext(&*ctx_);
  response_.Clear();
  reader_ = stub_->PrepareAsyncAddEvents(&*ctx_, request_, worker_->cq());
  reader_->StartCall();
  reader_->Finish(&response_, &status_, this);
}

void AppendCall::Proceed(bool ok) {
  switch (state_) {
    case State::kRpc:
      OnReply();
      return;
    case State::kRetry:
      Issue();
      return;
    case State::kPause:
      done_(this);
      return;
  }
}

void AppendCall::OnReply() {
  Stats& stats = worker_->stats();
  if (status_.error_code() == grpc::RESOURCE_EXHAUSTED) {
    state_ = State::kRetry;  // before the alarm exists to fire
    if (retry_.Schedule(this, worker_, *control_, t0_)) {
      ++stats.retries;
      return;
    }
  }
  if (!status_.ok()) {
    CountError(*engine_, *control_, stats, "AddEvents", status_);
    state_ = State::kPause;
    retry_.Pause(this, worker_);
    return;
  }
  const Clock::time_point now = Clock::now();
  ++stats.ok_total;
  const bool full = Sampled(options_.verify_fraction, rng_);
  const absl::Status check = VerifyAppend(request_, response_, options_.wait_for_checkpoint, full);
  if (full || !check.ok()) CountVerification(*engine_, stats, check);
  uint64_t max_index = 0;
  for (const v1::AddedEntry& e : response_.entries()) {
    if (e.duplicate()) ++stats.duplicates;
    max_index = std::max(max_index, e.index());
  }
  if (measured_) {
    stats.latency_ns.Record(Nanos(now - t0_));
    ++stats.rpcs;
    stats.units += static_cast<uint64_t>(request_.entries_size());
    stats.last_measured_done = now;
  }
  if (options_.progress != nullptr) {
    options_.progress->Add(static_cast<uint64_t>(request_.entries_size()), max_index);
  }
  done_(this);
}

ProofCall::ProofCall(const Engine* engine, size_t slot, RunControl* control, const Options& options)
    : engine_(engine),
      stub_(engine->stub(slot)),
      worker_(engine->worker(slot)),
      control_(control),
      options_(options),
      rng_(slot * 0x9e3779b97f4a7c15ULL + 7),
      retry_(slot + 23) {}

void ProofCall::Start() { Next(); }

void ProofCall::Next() {
  const RunControl::Ticket ticket = control_->Next(1);
  if (ticket.units == 0) {
    control_->SlotDone();
    return;
  }
  const uint64_t size = options_.target->size;
  measured_ = ticket.measured;
  inclusion_ = Sampled(options_.inclusion_fraction, rng_);
  arg_ = inclusion_ ? rng_() % size : 1 + rng_() % size;
  t0_ = Clock::now();
  retry_.Reset();
  IssueProof();
}

void ProofCall::IssueProof() {
  state_ = State::kProof;
  inclusion_reader_.reset();
  consistency_reader_.reset();
  entry_reader_.reset();
  ctx_.reset();
  ctx_.emplace();
  engine_->PrepareContext(&*ctx_);
  const uint64_t size = options_.target->size;
  if (inclusion_) {
    inclusion_request_.set_index(arg_);
    inclusion_request_.set_tree_size(size);
    inclusion_response_.Clear();
    inclusion_reader_ =
        stub_->PrepareAsyncGetInclusionProof(&*ctx_, inclusion_request_, worker_->cq());
    inclusion_reader_->StartCall();
    inclusion_reader_->Finish(&inclusion_response_, &status_, this);
  } else {
    consistency_request_.set_from_size(arg_);
    consistency_request_.set_to_size(size);
    consistency_response_.Clear();
    consistency_reader_ =
        stub_->PrepareAsyncGetConsistencyProof(&*ctx_, consistency_request_, worker_->cq());
    consistency_reader_->StartCall();
    consistency_reader_->Finish(&consistency_response_, &status_, this);
  }
}

void ProofCall::Proceed(bool ok) {
  switch (state_) {
    case State::kBackoff:
      IssueProof();
      return;
    case State::kProof:
      OnProof();
      return;
    case State::kEntry:
      OnEntry();
      return;
    case State::kPause:
      Next();
      return;
  }
}

void ProofCall::OnProof() {
  Stats& stats = worker_->stats();
  if (status_.error_code() == grpc::RESOURCE_EXHAUSTED) {
    state_ = State::kBackoff;  // before the alarm exists to fire
    if (retry_.Schedule(this, worker_, *control_, t0_)) {
      ++stats.retries;
      return;
    }
  }
  if (!status_.ok()) {
    CountError(*engine_, *control_, stats, inclusion_ ? "GetInclusionProof" : "GetConsistencyProof",
               status_);
    state_ = State::kPause;
    retry_.Pause(this, worker_);
    return;
  }
  const Clock::time_point now = Clock::now();
  ++stats.ok_total;
  if (measured_) {
    stats.latency_ns.Record(Nanos(now - t0_));
    ++stats.rpcs;
    ++stats.units;
    stats.last_measured_done = now;
  }
  const uint64_t size = options_.target->size;
  const absl::Status shape = inclusion_ ? CheckInclusionShape(inclusion_response_, arg_, size)
                                        : CheckConsistencyShape(consistency_response_, arg_, size);
  if (!shape.ok()) CountVerification(*engine_, stats, shape);
  if (!shape.ok() || !Sampled(options_.verify_fraction, rng_)) {
    Next();
    return;
  }
  if (!inclusion_ && arg_ == size) {  // the empty proof: its length was all to check
    CountVerification(*engine_, stats, shape);
    Next();
    return;
  }
  // For consistency, the last leaf of the smaller tree yields that tree's root.
  state_ = State::kEntry;
  entry_request_.set_index(inclusion_ ? arg_ : arg_ - 1);
  entry_request_.set_tree_size(inclusion_ ? size : arg_);
  entry_response_.Clear();
  entry_reader_.reset();
  ctx_.reset();
  ctx_.emplace();
  engine_->PrepareContext(&*ctx_);
  entry_reader_ = stub_->PrepareAsyncGetEntryAndProof(&*ctx_, entry_request_, worker_->cq());
  entry_reader_->StartCall();
  entry_reader_->Finish(&entry_response_, &status_, this);
}

void ProofCall::OnEntry() {
  Stats& stats = worker_->stats();
  if (!status_.ok()) {
    CountError(*engine_, *control_, stats, "GetEntryAndProof", status_);
    state_ = State::kPause;
    retry_.Pause(this, worker_);
    return;
  }
  if (inclusion_) {
    CountVerification(
        *engine_, stats,
        VerifyInclusionWithEntry(inclusion_response_, arg_, *options_.target, entry_response_));
  } else {
    CountVerification(
        *engine_, stats,
        VerifyConsistencyWithEntry(consistency_response_, arg_, *options_.target, entry_response_));
  }
  Next();
}

}  // namespace infratrail::loadgen
