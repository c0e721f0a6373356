#include "bench/loadgen_modes.h"

#include <iostream>
#include <memory>
#include <random>
#include <thread>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "bench/loadgen_verify.h"

namespace infratrail::loadgen {
namespace {

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

Clock::duration FromSeconds(double s) {
  return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s));
}

RunControl::Limits LimitsFor(const RunConfig& config, Clock::time_point start) {
  RunControl::Limits limits;
  limits.measure_start = start + FromSeconds(config.warmup_s);
  if (config.duration_s > 0) limits.stop_at = limits.measure_start + FromSeconds(config.duration_s);
  limits.budget = config.events > 0 ? config.events : -1;
  return limits;
}

double MeasuredSeconds(const Stats& stats, Clock::time_point measure_start) {
  return stats.rpcs == 0 ? 0 : Seconds(stats.last_measured_done - measure_start);
}

// The generator's own cost per event, so a reader can see it is negligible
// next to the rate measured.
double GeneratorNsPerEvent(const EventFactory& events) {
  constexpr int kEvents = 200'000;
  std::string out;
  size_t sink = 0;
  const Clock::time_point start = Clock::now();
  for (int i = 0; i < kEvents; ++i) {
    events.Fill(static_cast<uint64_t>(i), &out);
    sink += static_cast<unsigned char>(out[out.size() / 2]);
  }
  const double ns = Seconds(Clock::now() - start) * 1e9 / kEvents;
  volatile size_t keep = sink;  // so the loop is not optimized away
  (void)keep;
  return ns;
}

// The latest published checkpoint, or nullopt while the log has none
// (UNAVAILABLE).
absl::StatusOr<std::optional<Checkpoint>> FetchCheckpoint(const Engine& engine) {
  grpc::ClientContext ctx;
  engine.PrepareContext(&ctx);
  v1::GetCheckpointResponse response;
  const grpc::Status status = engine.stub(0)->GetCheckpoint(&ctx, {}, &response);
  if (status.error_code() == grpc::UNAVAILABLE) return std::nullopt;
  if (!status.ok()) {
    return absl::UnknownError(absl::StrCat("GetCheckpoint: ", StatusCodeName(status.error_code()),
                                           ": ", status.error_message()));
  }
  absl::StatusOr<Checkpoint> cp = ParseCheckpointNote(response.checkpoint());
  if (!cp.ok()) return absl::DataLossError(absl::StrCat("GetCheckpoint: ", cp.status().message()));
  return std::optional<Checkpoint>(*std::move(cp));
}

// Closed loop: `concurrency` calls each send the next batch as soon as the
// previous one is acknowledged.
RunResult RunClosedLoopAppend(const RunConfig& config, Engine* engine, const EventFactory& events,
                              const RunControl::Limits& limits, FillProgress* progress,
                              const std::atomic<bool>* interrupted) {
  RunControl control(limits, interrupted);
  const int batch = config.batch_size;
  auto launch_next = [&control, batch](AppendCall* call) {
    const RunControl::Ticket ticket = control.Next(batch);
    if (ticket.units == 0) {
      control.SlotDone();
      return;
    }
    call->Launch(ticket.units, ticket.measured, std::nullopt);
  };
  AppendCall::Options options;
  options.events = &events;
  options.verify_fraction = config.verify_fraction;
  options.progress = progress;
  std::vector<std::unique_ptr<AppendCall>> calls;
  calls.reserve(static_cast<size_t>(config.concurrency));
  for (int i = 0; i < config.concurrency; ++i) {
    calls.push_back(std::make_unique<AppendCall>(engine, static_cast<size_t>(i), &control, options,
                                                 launch_next));
  }
  control.AddSlots(config.concurrency);
  for (auto& call : calls) launch_next(call.get());
  control.WaitForSlots();
  RunResult result;
  // Joining the workers first: the last call may still be returning from its
  // completion when its slot is counted done.
  result.stats = engine->Finish();
  result.seconds = MeasuredSeconds(result.stats, limits.measure_start);
  return result;
}

// Open loop: batches are due every batch_size / rate seconds whatever the
// replies do, and latency counts from when a batch was due, so a slow server
// cannot hide queueing by slowing the generator down (coordinated omission).
RunResult RunOpenLoopAppend(const RunConfig& config, Engine* engine, const EventFactory& events,
                            const RunControl::Limits& limits,
                            const std::atomic<bool>* interrupted) {
  struct Pool {
    absl::Mutex mu;
    std::vector<std::unique_ptr<AppendCall>> all ABSL_GUARDED_BY(mu);
    std::vector<AppendCall*> idle ABSL_GUARDED_BY(mu);
    int in_flight ABSL_GUARDED_BY(mu) = 0;
  } pool;
  RunControl control(limits, interrupted);
  AppendCall::Options options;
  options.events = &events;
  options.wait_for_checkpoint = true;
  options.verify_fraction = config.verify_fraction;
  auto done = [&pool](AppendCall* call) {
    absl::MutexLock lock(&pool.mu);
    pool.idle.push_back(call);
    --pool.in_flight;
  };
  const int cap = config.concurrency;
  auto can_send = [&pool, cap]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(pool.mu) {
    return !pool.idle.empty() || pool.in_flight < cap;
  };
  const Clock::duration interval = FromSeconds(config.batch_size / config.rate);
  const Clock::time_point start = Clock::now();
  int64_t budget = limits.budget;
  double max_lag_s = 0;
  for (int64_t k = 0;; ++k) {
    const Clock::time_point due = start + k * interval;
    if (control.Interrupted() || (limits.stop_at.has_value() && due >= *limits.stop_at)) break;
    const bool measured = due >= limits.measure_start;
    int n = config.batch_size;
    if (measured && budget >= 0) {
      if (budget == 0) break;
      n = static_cast<int>(std::min<int64_t>(n, budget));
      budget -= n;
    }
    // Sleep most of the way, then spin: sleeps overshoot by tens of µs.
    for (Clock::duration ahead = due - Clock::now(); ahead > Clock::duration::zero();
         ahead = due - Clock::now()) {
      if (ahead > std::chrono::microseconds(300)) {
        std::this_thread::sleep_for(ahead - std::chrono::microseconds(200));
      } else {
        std::this_thread::yield();
      }
    }
    AppendCall* call;
    {
      absl::MutexLock lock(&pool.mu);
      pool.mu.Await(absl::Condition(&can_send));
      if (pool.idle.empty()) {
        pool.all.push_back(
            std::make_unique<AppendCall>(engine, pool.all.size(), &control, options, done));
        pool.idle.push_back(pool.all.back().get());
      }
      call = pool.idle.back();
      pool.idle.pop_back();
      ++pool.in_flight;
    }
    max_lag_s = std::max(max_lag_s, Seconds(Clock::now() - due));
    call->Launch(n, measured, due);
  }
  {
    absl::MutexLock lock(&pool.mu);
    auto drained = [&pool]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(pool.mu) { return pool.in_flight == 0; };
    pool.mu.Await(absl::Condition(&drained));
  }
  RunResult result;
  result.stats = engine->Finish();
  result.seconds = MeasuredSeconds(result.stats, limits.measure_start);
  result.max_schedule_lag_ms = max_lag_s * 1e3;
  return result;
}

// Waits up to 10 s for a non-empty checkpoint: a fresh server publishes its
// first one shortly after the first append.
absl::StatusOr<Checkpoint> AwaitNonEmptyCheckpoint(const Engine& engine,
                                                   const std::atomic<bool>* interrupted) {
  const absl::Time give_up = absl::Now() + absl::Seconds(10);
  for (;;) {
    absl::StatusOr<std::optional<Checkpoint>> cp = FetchCheckpoint(engine);
    if (!cp.ok()) return cp.status();
    if (cp->has_value() && (*cp)->size > 0) return **cp;
    if (absl::Now() > give_up || interrupted->load()) {
      return absl::FailedPreconditionError(
          "proofs: the log has no non-empty published checkpoint; fill it first "
          "(--mode=fill --events N)");
    }
    absl::SleepFor(absl::Milliseconds(200));
  }
}

absl::StatusOr<RunResult> RunProofs(const RunConfig& config, Engine* engine,
                                    const std::atomic<bool>* interrupted) {
  absl::StatusOr<Checkpoint> cp = AwaitNonEmptyCheckpoint(*engine, interrupted);
  if (!cp.ok()) return cp.status();
  const Clock::time_point start = Clock::now();
  const RunControl::Limits limits = LimitsFor(config, start);
  RunControl control(limits, interrupted);
  ProofCall::Options options;
  options.target = &*cp;
  options.inclusion_fraction = config.inclusion_fraction;
  options.verify_fraction = config.verify_fraction;
  std::vector<std::unique_ptr<ProofCall>> calls;
  calls.reserve(static_cast<size_t>(config.concurrency));
  for (int i = 0; i < config.concurrency; ++i) {
    calls.push_back(std::make_unique<ProofCall>(engine, static_cast<size_t>(i), &control, options));
  }
  control.AddSlots(config.concurrency);
  for (auto& call : calls) call->Start();
  control.WaitForSlots();
  RunResult result;
  result.stats = engine->Finish();
  result.seconds = MeasuredSeconds(result.stats, limits.measure_start);
  result.checkpoint_size = cp->size;
  return result;
}

}  // namespace

absl::StatusOr<RunResult> RunMode(const RunConfig& config, Engine* engine,
                                  const std::atomic<bool>* interrupted) {
  if (config.mode == "proofs") return RunProofs(config, engine, interrupted);

  absl::StatusOr<EventFactory> events = EventFactory::Create(
      static_cast<size_t>(config.event_size), std::random_device{}() ^ absl::GetCurrentTimeNanos(),
      config.random_fields);
  if (!events.ok()) return events.status();
  const double generator_ns = GeneratorNsPerEvent(*events);

  RunResult result;
  if (config.mode == "fill") {
    absl::StatusOr<std::optional<Checkpoint>> cp = FetchCheckpoint(*engine);
    if (!cp.ok()) return cp.status();
    const uint64_t start_size = cp->has_value() ? (*cp)->size : 0;
    RunConfig fill = config;
    fill.warmup_s = 0;
    fill.events = static_cast<int64_t>(config.events) - static_cast<int64_t>(start_size);
    if (fill.events <= 0) {
      std::cerr << "infratrail-loadgen: the log already holds " << start_size
                << " entries, at least --events; nothing to append\n";
      result.start_size = result.end_size = start_size;
      engine->Finish();
    } else {
      FillProgress progress(config.window, start_size, config.json ? &std::cerr : &std::cout);
      result = RunClosedLoopAppend(fill, engine, *events, LimitsFor(fill, Clock::now()), &progress,
                                   interrupted);
      result.windows = progress.windows();
      result.start_size = start_size;
      result.end_size = progress.log_size();
    }
  } else if (config.mode == "checkpoint-latency") {
    result =
        RunOpenLoopAppend(config, engine, *events, LimitsFor(config, Clock::now()), interrupted);
  } else {
    result = RunClosedLoopAppend(config, engine, *events, LimitsFor(config, Clock::now()), nullptr,
                                 interrupted);
  }
  result.event_bytes_min = events->min_size();
  result.event_bytes_max = events->max_size();
  result.generator_ns_per_event = generator_ns;
  return result;
}

}  // namespace infratrail::loadgen
