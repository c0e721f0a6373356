#include "bench/loadgen_engine.h"

#include <algorithm>
#include <fstream>
#include <iostream>
#include <sstream>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "proto/message_limits.h"

namespace infratrail::loadgen {

void Stats::Merge(const Stats& other) {
  latency_ns.Merge(other.latency_ns);
  rpcs += other.rpcs;
  units += other.units;
  ok_total += other.ok_total;
  duplicates += other.duplicates;
  retries += other.retries;
  verified += other.verified;
  verify_failures += other.verify_failures;
  for (const auto& [code, n] : other.errors) errors[code] += n;
  last_measured_done = std::max(last_measured_done, other.last_measured_done);
}

uint64_t Stats::error_total() const {
  uint64_t n = 0;
  for (const auto& [code, count] : errors) n += count;
  return n;
}

std::string StatusCodeName(grpc::StatusCode code) {
  switch (code) {
    case grpc::OK:
      return "OK";
    case grpc::CANCELLED:
      return "CANCELLED";
    case grpc::UNKNOWN:
      return "UNKNOWN";
    case grpc::INVALID_ARGUMENT:
      return "INVALID_ARGUMENT";
    case grpc::DEADLINE_EXCEEDED:
      return "DEADLINE_EXCEEDED";
    case grpc::NOT_FOUND:
      return "NOT_FOUND";
    case grpc::ALREADY_EXISTS:
      return "ALREADY_EXISTS";
    case grpc::PERMISSION_DENIED:
      return "PERMISSION_DENIED";
    case grpc::UNAUTHENTICATED:
      return "UNAUTHENTICATED";
    case grpc::RESOURCE_EXHAUSTED:
      return "RESOURCE_EXHAUSTED";
    case grpc::FAILED_PRECONDITION:
      return "FAILED_PRECONDITION";
    case grpc::ABORTED:
      return "ABORTED";
    case grpc::OUT_OF_RANGE:
      return "OUT_OF_RANGE";
    case grpc::UNIMPLEMENTED:
      return "UNIMPLEMENTED";
    case grpc::INTERNAL:
      return "INTERNAL";
    case grpc::UNAVAILABLE:
      return "UNAVAILABLE";
    case grpc::DATA_LOSS:
      return "DATA_LOSS";
    default:
      return absl::StrCat("CODE_", static_cast<int>(code));
  }
}

std::chrono::microseconds RetryBackoff(int attempt, std::mt19937_64& rng) {
  const int64_t cap_us = 100'000;
  const int64_t base_us = std::min<int64_t>(cap_us, int64_t{1000} << std::min(attempt, 7));
  // Half fixed, half random ("equal jitter").
  const int64_t us = base_us / 2 + static_cast<int64_t>(rng() % static_cast<uint64_t>(base_us / 2));
  return std::chrono::microseconds(us);
}

Worker::~Worker() { ShutdownAndJoin(); }

void Worker::Start() {
  thread_ = std::thread([this] {
    void* tag;
    bool ok;
    while (cq_.Next(&tag, &ok)) static_cast<Call*>(tag)->Proceed(ok);
  });
}

void Worker::ShutdownAndJoin() {
  if (!thread_.joinable()) return;
  cq_.Shutdown();
  thread_.join();
}

RunControl::RunControl(const Limits& limits, const std::atomic<bool>* interrupted)
    : limits_(limits), interrupted_(interrupted), budget_(limits.budget) {}

RunControl::Ticket RunControl::Next(int want) {
  const Clock::time_point now = Clock::now();
  if (Interrupted() || (limits_.stop_at.has_value() && now >= *limits_.stop_at)) return {};
  if (now < limits_.measure_start) return {want, false};
  if (limits_.budget < 0) return {want, true};
  int64_t left = budget_.load(std::memory_order_relaxed);
  while (left > 0) {
    const int64_t take = std::min<int64_t>(want, left);
    if (budget_.compare_exchange_weak(left, left - take, std::memory_order_relaxed)) {
      return {static_cast<int>(take), true};
    }
  }
  return {};
}

bool RunControl::Interrupted() const {
  return aborted_.load(std::memory_order_relaxed) ||
         (interrupted_ != nullptr && interrupted_->load(std::memory_order_relaxed));
}

void RunControl::AddSlots(int n) {
  absl::MutexLock lock(&mu_);
  active_slots_ += n;
}

void RunControl::SlotDone() {
  absl::MutexLock lock(&mu_);
  --active_slots_;
}

void RunControl::WaitForSlots() {
  absl::MutexLock lock(&mu_);
  mu_.Await(absl::Condition(
      +[](int* active) { return *active == 0; }, &active_slots_));
}

bool RetryTimer::Schedule(Call* call, Worker* worker, const RunControl& control,
                          Clock::time_point first_attempt) {
  if (control.Interrupted() || Clock::now() - first_attempt > std::chrono::minutes(1)) {
    return false;
  }
  alarm_.reset();
  alarm_.emplace();
  alarm_->Set(worker->cq(), std::chrono::system_clock::now() + RetryBackoff(attempt_++, rng_),
              call);
  return true;
}

void RetryTimer::Pause(Call* call, Worker* worker) {
  alarm_.reset();
  alarm_.emplace();
  const auto pause = std::chrono::microseconds(50'000 + rng_() % 50'000);
  alarm_->Set(worker->cq(), std::chrono::system_clock::now() + pause, call);
}

namespace {

absl::StatusOr<std::string> ReadFile(const std::string& path, absl::string_view what) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  if (!in) return absl::InvalidArgumentError(absl::StrCat("cannot read ", what, " ", path));
  return s.str();
}

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> Credentials(const ConnectOptions& o) {
  if (o.tls_ca.empty() && o.tls_cert.empty()) return grpc::InsecureChannelCredentials();
  grpc::SslCredentialsOptions ssl;
  if (!o.tls_ca.empty()) {
    absl::StatusOr<std::string> ca = ReadFile(o.tls_ca, "--tls-ca");
    if (!ca.ok()) return ca.status();
    ssl.pem_root_certs = *std::move(ca);
  }
  if (!o.tls_cert.empty()) {
    absl::StatusOr<std::string> cert = ReadFile(o.tls_cert, "--tls-cert");
    if (!cert.ok()) return cert.status();
    absl::StatusOr<std::string> key = ReadFile(o.tls_key, "--tls-key");
    if (!key.ok()) return key.status();
    ssl.pem_cert_chain = *std::move(cert);
    ssl.pem_private_key = *std::move(key);
  }
  return grpc::SslCredentials(ssl);
}

}  // namespace

absl::StatusOr<std::unique_ptr<Engine>> Engine::Connect(const ConnectOptions& options) {
  absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> creds = Credentials(options);
  if (!creds.ok()) return creds.status();
  std::unique_ptr<Engine> engine(new Engine(options));
  const auto deadline =
      std::chrono::system_clock::now() +
      std::chrono::milliseconds(static_cast<int64_t>(options.connect_timeout_s * 1000));
  for (int i = 0; i < std::max(1, options.channels); ++i) {
    grpc::ChannelArguments args;
    // Without a private subchannel pool, channels to the same address share
    // one TCP connection, and one connection is one server poller's work.
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    if (options.minimal_stack) args.SetInt(GRPC_ARG_MINIMAL_STACK, 1);
    // What the server accepts and sends, as any client (proto/limits.h).
    ApplyMessageLimits(args);
    auto channel = grpc::CreateCustomChannel(options.server, *creds, args);
    if (!channel->WaitForConnected(deadline)) {
      return absl::UnavailableError(absl::StrFormat(
          "cannot connect to %s within %.1f s (is infratrail-server running there?)",
          options.server, options.connect_timeout_s));
    }
    engine->stubs_.push_back(v1::Log::NewStub(channel));
    engine->channels_.push_back(std::move(channel));
  }
  for (int i = 0; i < std::max(1, options.threads); ++i) {
    engine->workers_.push_back(std::make_unique<Worker>());
    engine->workers_.back()->Start();
  }
  return engine;
}

void Engine::PrepareContext(grpc::ClientContext* ctx) const {
  ctx->set_deadline(std::chrono::system_clock::now() +
                    std::chrono::milliseconds(static_cast<int64_t>(options_.rpc_timeout_s * 1000)));
  if (!options_.token.empty()) ctx->AddMetadata("authorization", "Bearer " + options_.token);
}

void Engine::ReportOnce(const std::string& key, absl::string_view message) const {
  {
    absl::MutexLock lock(&report_mu_);
    if (!reported_.insert(key).second) return;
  }
  std::cerr << "infratrail-loadgen: " << key << ": " << message << " (further ones only counted)\n";
}

Stats Engine::Finish() {
  Stats total;
  for (auto& w : workers_) {
    w->ShutdownAndJoin();
    total.Merge(w->stats());
  }
  return total;
}

}  // namespace infratrail::loadgen
