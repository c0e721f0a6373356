#include "verifier/monitor/monitor_command.h"

#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <iostream>
#include <memory>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "client/cli_util.h"
#include "client/key_arg.h"
#include "verifier/monitor/log_source.h"
#include "verifier/monitor/monitor_state.h"
#include "verifier/monitor/tree_auditor.h"

namespace infratrail {
namespace {

using cli::kExitOk;
using cli::kExitServer;
using cli::kExitUsage;
using cli::kExitVerify;

constexpr char kStdout[] = "stdout";

// SIGTERM / SIGINT end the monitor at its next commit point; a thread
// waits for them so the rest of the process never runs in a handler.
class Signals {
 public:
  Signals() {
    sigemptyset(&set_);
    sigaddset(&set_, SIGTERM);
    sigaddset(&set_, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set_, nullptr);
    thread_ = std::thread([this] {
      int sig = 0;
      sigwait(&set_, &sig);
      absl::MutexLock l(&mu_);
      stop_ = true;
    });
  }
  ~Signals() {
    {
      absl::MutexLock l(&mu_);
      if (!stop_) pthread_kill(thread_.native_handle(), SIGTERM);
    }
    thread_.join();
    pthread_sigmask(SIG_UNBLOCK, &set_, nullptr);
  }
  bool stopping() {
    absl::MutexLock l(&mu_);
    return stop_;
  }
  // Sleeps up to `d`; true if a stop signal came.
  bool SleepFor(absl::Duration d) {
    absl::MutexLock l(&mu_);
    mu_.AwaitWithTimeout(absl::Condition(&stop_), d);
    return stop_;
  }

 private:
  sigset_t set_;
  absl::Mutex mu_;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

void PrintOperational(const OperationalEvent& e) {
  std::cerr << e.ToJson(absl::Now()).dump() << "\n";
}

// Commits rounds to the state dir and delivers findings.
class Monitor final : public AuditObserver {
 public:
  Monitor(StateDir dir, MonitorState state, bool progress)
      : dir_(std::move(dir)), state_(std::move(state)), progress_(progress) {}

  MonitorState& state() { return state_; }

  absl::Status Commit(const AuditState& audit, std::vector<Finding> findings) override {
    MonitorState next = state_;
    next.audit = audit;
    for (Finding& f : findings) {
      f.seq = next.next_seq++;
      if (!f.evidence_files.empty()) {
        std::string name =
            absl::StrCat(absl::FormatTime("%Y%m%dT%H%M%SZ", f.time, absl::UTCTimeZone()), "-",
                         f.rule, "-", f.seq);
        absl::StatusOr<std::string> rel = dir_.WriteEvidence(name, f.evidence_files);
        if (!rel.ok()) return rel.status();
        f.evidence = *rel;
        f.evidence_files.clear();
      }
      next.spool.push_back(SpooledFinding{.finding = std::move(f), .channels = {kStdout}});
    }
    if (absl::Status s = dir_.Save(next); !s.ok()) return s;
    state_ = std::move(next);
    return Deliver();
  }

  void Progress(uint64_t done, uint64_t total) override {
    if (!progress_ || total == 0) return;
    const absl::Time now = absl::Now();
    if (done < total && now - last_progress_ < absl::Milliseconds(250)) return;
    if (progress_start_ == absl::InfinitePast() || done < last_done_) progress_start_ = now;
    last_progress_ = now;
    last_done_ = done;
    const double secs = absl::ToDoubleSeconds(now - progress_start_);
    const double rate = secs > 0 ? done / secs : 0;
    const double eta = rate > 0 ? (total - done) / rate : 0;
    std::fprintf(stderr, "\r%s: %llu / %llu entries (%.1f%%), %.0f/s, ETA %.0fs   ",
                 state_.log_key.substr(0, state_.log_key.find('+')).c_str(),
                 static_cast<unsigned long long>(done), static_cast<unsigned long long>(total),
                 100.0 * done / total, rate, eta);
    if (done == total) std::fputc('\n', stderr);
    std::fflush(stderr);
  }

  // Writes every spooled finding still owed to stdout, then records that.
  // A crash between the two re-prints them (same seq) after the restart.
  absl::Status Deliver() {
    bool changed = false;
    for (SpooledFinding& f : state_.spool) {
      auto it = std::find(f.channels.begin(), f.channels.end(), kStdout);
      if (it == f.channels.end()) continue;
      std::cout << f.finding.ToJson().dump() << "\n";
      f.channels.erase(it);
      changed = true;
    }
    std::cout.flush();
    if (!changed) return absl::OkStatus();
    std::erase_if(state_.spool, [](const SpooledFinding& f) { return f.channels.empty(); });
    return dir_.Save(state_);
  }

  absl::Status MarkSuccess() {
    state_.last_success = absl::Now();
    return dir_.Save(state_);
  }

 private:
  StateDir dir_;
  MonitorState state_;
  bool progress_;
  absl::Time progress_start_ = absl::InfinitePast();
  absl::Time last_progress_ = absl::InfinitePast();
  uint64_t last_done_ = 0;
};

}  // namespace

void AddMonitorFlags(CLI::App* m, MonitorArgs* a) {
  m->add_option("--log", a->log, "The log: http(s)://BASE serving C2SP tlog-tiles")->required();
  m->add_option("--log-key", a->log_key, "The log's verifier key (name+hash+key), or @FILE")
      ->required();
  m->add_option("--state-dir", a->state_dir,
                "Directory for the monitor's trusted state, spool and evidence (created)")
      ->required();
  m->add_option("--witness", a->witnesses, "A witness's cosignature key (repeatable)");
  m->add_option("--witness-threshold", a->witness_threshold,
                "How many of the --witness keys must cosign each checkpoint");
  m->add_flag("--once", a->once,
              "One round, then exit: 0 clean, 1 CRITICAL or ALERT, 3 round incomplete");
  m->add_option("--interval", a->interval, "Time between rounds")->capture_default_str();
  m->add_option("--stale-after", a->stale_after,
                "Raise monitor.stale (ALERT) after this long without a complete round")
      ->capture_default_str();
  m->add_option("--timeout", a->timeout, "Per-request deadline")->capture_default_str();
  m->add_option("--ca-file", a->ca_file, "CA bundle (PEM) for https logs; default: the system's");
  m->add_option("--max-in-flight", a->max_in_flight, "Requests in flight at once")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
  m->add_option("--bundles-per-batch", a->bundles_per_batch, "Entry bundles fetched per batch")
      ->check(CLI::Range(1, 4096))
      ->capture_default_str();
  m->add_option("--commit-every", a->commit_every,
                "Commit the audit's position after this many new entries")
      ->check(CLI::Range(uint64_t{256}, uint64_t{1} << 40))
      ->capture_default_str();
  m->add_option("--progress", a->progress,
                "Progress bar on stderr: auto (a terminal), always, never")
      ->check(CLI::IsMember({"auto", "always", "never"}))
      ->capture_default_str();
}

int RunMonitor(const MonitorArgs& a) {
  auto usage = [](absl::string_view msg) {
    std::cerr << "monitor: " << msg << "\n";
    return kExitUsage;
  };
  absl::StatusOr<NoteVerifier> key = ParseVerifierKeyArg(a.log_key, "--log-key");
  if (!key.ok()) return usage(key.status().message());
  std::vector<NoteVerifier> witnesses;
  for (const std::string& w : a.witnesses) {
    absl::StatusOr<NoteVerifier> v = ParseVerifierKeyArg(w, "--witness");
    if (!v.ok()) return usage(v.status().message());
    witnesses.push_back(*v);
  }
  absl::StatusOr<WitnessPolicy> policy = WitnessPolicy::Create(witnesses, a.witness_threshold);
  if (!policy.ok()) return usage(absl::StrCat("--witness-threshold: ", policy.status().message()));
  absl::StatusOr<absl::Duration> interval = cli::ParseDurationArg(a.interval, "--interval");
  if (!interval.ok()) return usage(interval.status().message());
  absl::StatusOr<absl::Duration> stale = cli::ParseDurationArg(a.stale_after, "--stale-after");
  if (!stale.ok()) return usage(stale.status().message());
  absl::StatusOr<absl::Duration> timeout = cli::ParseDurationArg(a.timeout, "--timeout");
  if (!timeout.ok()) return usage(timeout.status().message());

  HttpFetcherOptions fo;
  fo.timeout = absl::ToChronoMilliseconds(*timeout);
  fo.ca_file = a.ca_file;
  fo.max_in_flight = a.max_in_flight;
  absl::StatusOr<std::unique_ptr<HttpLogSource>> source = HttpLogSource::Create(a.log, fo);
  if (!source.ok()) return usage(absl::StrCat("--log: ", source.status().message()));

  absl::StatusOr<StateDir> dir = StateDir::Open(a.state_dir);
  if (!dir.ok()) return usage(absl::StrCat("--state-dir: ", dir.status().message()));
  absl::StatusOr<MonitorState> loaded = dir->Load();
  MonitorState state;
  if (loaded.ok()) {
    if (loaded->log_key != key->vkey()) {
      return usage(absl::StrCat("--state-dir ", a.state_dir, " holds the state of log key ",
                                loaded->log_key, ", not ", key->vkey(),
                                ": use one state dir per log"));
    }
    state = *std::move(loaded);
  } else if (absl::IsNotFound(loaded.status())) {
    state.log_key = key->vkey();
  } else {
    std::cerr << "monitor: " << loaded.status().message() << "\n";
    return kExitServer;
  }

  const bool progress =
      a.progress == "always" || (a.progress == "auto" && ::isatty(STDERR_FILENO) == 1);
  Monitor monitor(*std::move(dir), std::move(state), progress);
  if (absl::Status s = monitor.Deliver(); !s.ok()) {
    std::cerr << "monitor: " << s.message() << "\n";
    return kExitServer;
  }

  Signals signals;
  AuditorOptions ao;
  ao.log_key = *key;
  ao.witnesses = *policy;
  ao.bundles_per_batch = a.bundles_per_batch;
  ao.commit_every = a.commit_every;
  ao.stop = [&signals] { return signals.stopping(); };
  TreeAuditor auditor(std::move(ao));
  bool stale_raised = false;
  while (true) {
    RoundResult r = auditor.Round(&monitor.state().audit, source->get(), &monitor);
    for (const OperationalEvent& e : r.operational) PrintOperational(e);
    if (r.complete) {
      if (absl::Status s = monitor.MarkSuccess(); !s.ok()) {
        PrintOperational(
            {.origin = key->name(), .kind = "state", .message = std::string(s.message())});
      }
      stale_raised = false;
    } else if (!stale_raised && monitor.state().last_success != absl::InfinitePast() &&
               absl::Now() - monitor.state().last_success > *stale) {
      Finding f;
      f.time = absl::Now();
      f.severity = Severity::kAlert;
      f.rule = "monitor.stale";
      f.origin = key->name();
      f.message = absl::StrCat(
          "no complete round since ",
          absl::FormatTime(absl::RFC3339_sec, monitor.state().last_success, absl::UTCTimeZone()),
          " (--stale-after ", a.stale_after, ")");
      if (monitor.Commit(monitor.state().audit, {std::move(f)}).ok()) {
        stale_raised = true;
        ++r.alert;  // an ALERT raised this round: --once exits 1, not 3
      }
    }
    if (a.once) {
      if (r.critical > 0 || r.alert > 0) return kExitVerify;
      return r.complete ? kExitOk : kExitServer;
    }
    if (signals.stopping() || signals.SleepFor(*interval)) return kExitOk;
  }
}

}  // namespace infratrail
