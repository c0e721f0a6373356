#include "verifier/monitor/monitor_command.h"

#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <functional>
#include <iostream>
#include <memory>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "client/cli_util.h"
#include "client/key_arg.h"
#include "prometheus/exposer.h"
#include "prometheus/registry.h"
#include "verifier/monitor/channels.h"
#include "verifier/monitor/log_monitor.h"
#include "verifier/monitor/log_source.h"
#include "verifier/monitor/monitor_metrics.h"
#include "verifier/monitor/monitor_state.h"

namespace infratrail {
namespace {

using cli::kExitOk;
using cli::kExitServer;
using cli::kExitUsage;
using cli::kExitVerify;

// SIGTERM / SIGINT end the monitor at its next commit point; a thread
// waits for them so the rest of the process never runs in a handler. It
// must be created before any other thread (libcurl's resolver, the metrics
// server), which then inherit the blocked mask: a signal delivered to one of
// them would otherwise take its default action and kill the process.
class Signals {
 public:
  Signals() {
    sigemptyset(&set_);
    sigaddset(&set_, SIGTERM);
    sigaddset(&set_, SIGINT);
    sigaddset(&set_, SIGUSR1);  // the destructor's wake-up
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
      if (!stop_) pthread_kill(thread_.native_handle(), SIGUSR1);
    }
    thread_.join();
  }
  Signals(const Signals&) = delete;
  Signals& operator=(const Signals&) = delete;

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

absl::StatusOr<std::vector<std::unique_ptr<Channel>>> MakeChannels(const MonitorConfig& c,
                                                                   const HttpFetcherOptions& fo) {
  std::vector<std::unique_ptr<Channel>> out;
  out.push_back(StdoutChannel());
  if (!c.webhook.empty()) {
    absl::StatusOr<std::unique_ptr<HttpFetcher>> f = HttpFetcher::Create(fo);
    if (!f.ok()) return f.status();
    out.push_back(WebhookChannel(c.webhook, *std::move(f)));
  }
  if (!c.exec.empty()) out.push_back(ExecChannel(c.exec, c.exec_timeout));
  return out;
}

int TestAlert(const MonitorConfig& c, const std::vector<std::unique_ptr<Channel>>& channels) {
  Finding f;
  f.time = absl::Now();
  f.severity = Severity::kWarning;
  f.rule = "monitor.test_alert";
  f.origin = c.logs.empty() ? std::string() : c.logs[0].key.name();
  f.message = "a test finding from infratrail-verifier monitor --test-alert; nothing is wrong";
  int failed = 0;
  for (const std::unique_ptr<Channel>& ch : channels) {
    absl::Status s = ch->Deliver(f);
    std::cerr << "monitor: --test-alert via " << ch->name() << ": "
              << (s.ok() ? std::string("delivered") : std::string(s.message())) << "\n";
    failed += s.ok() ? 0 : 1;
  }
  return failed == 0 ? kExitOk : kExitServer;
}

}  // namespace

void AddMonitorFlags(CLI::App* m, MonitorArgs* a) {
  MonitorFlags& f = a->flags;
  m->add_option("--config", f.config,
                "TOML file: the logs to follow ([[log]] url, key, witnesses, witness_threshold, "
                "entry_format) and the options below by their flag names with _ for -");
  m->add_option("--log", f.log, "The log: http(s)://BASE serving C2SP tlog-tiles");
  m->add_option("--log-key", f.log_key, "The log's verifier key (name+hash+key), or @FILE");
  m->add_option("--state-dir", f.state_dir,
                "Directory for trusted state, spool and evidence (created; one monitor per dir)");
  m->add_option("--witness", f.witnesses, "A witness's cosignature key (repeatable)");
  m->add_option("--witness-threshold", f.witness_threshold,
                "How many of the --witness keys must cosign each checkpoint");
  m->add_option("--entry-format", f.entry_format,
                "infraevent (default: entries are InfraEvents and are parsed) or opaque (any "
                "other tlog-tiles log)");
  m->add_flag("--once", a->once,
              "One round per log, then exit: 0 clean, 1 CRITICAL or ALERT, 3 round incomplete");
  m->add_flag("--test-alert", a->test_alert,
              "Send one test finding through every channel and exit (0 all delivered, 3 not)");
  m->add_option("--interval", f.interval, "Time between rounds (default 10s)");
  m->add_option(
      "--stale-after", f.stale_after,
      "Raise monitor.stale (ALERT) after this long without a complete round (default 1h)");
  m->add_option("--timeout", f.timeout, "Per-request deadline (default 30s)");
  m->add_option("--ca-file", f.ca_file, "CA bundle (PEM) for https; default: the system's");
  m->add_option("--webhook", f.webhook,
                "POST each finding's JSON here; retried with backoff, spooled across restarts");
  m->add_option("--exec", f.exec,
                "Run this shell command per finding (INFRATRAIL_* variables, JSON on stdin)");
  m->add_option("--exec-timeout", f.exec_timeout, "Kill --exec after this long (default 30s)");
  m->add_option("--healthcheck-url", f.healthcheck_url,
                "GET this URL after every round in which every log was verified");
  m->add_option("--metrics-addr", f.metrics_addr, "Serve Prometheus metrics at HOST:PORT");
  m->add_option("--max-in-flight", f.max_in_flight, "Requests in flight at once (default 16)")
      ->check(CLI::Range(1, 256));
  m->add_option("--bundles-per-batch", f.bundles_per_batch,
                "Entry bundles fetched per batch (default 64)")
      ->check(CLI::Range(1, 4096));
  m->add_option("--commit-every", f.commit_every,
                "Commit the audit's position after this many new entries (default 1048576)")
      ->check(CLI::Range(uint64_t{256}, uint64_t{1} << 40));
  m->add_option("--progress", a->progress,
                "Progress bar on stderr: auto (a terminal), always, never")
      ->check(CLI::IsMember({"auto", "always", "never"}))
      ->capture_default_str();
}

int RunMonitor(const MonitorArgs& a) {
  Signals signals;  // first: every thread after it inherits the blocked mask
  auto usage = [](absl::string_view msg) {
    std::cerr << "monitor: " << msg << "\n";
    return kExitUsage;
  };
  absl::StatusOr<MonitorConfig> config = BuildMonitorConfig(a.flags);
  if (!config.ok()) return usage(config.status().message());
  const MonitorConfig& c = *config;

  HttpFetcherOptions fo;
  fo.timeout = absl::ToChronoMilliseconds(c.timeout);
  fo.ca_file = c.ca_file;
  fo.max_in_flight = c.max_in_flight;
  absl::StatusOr<std::vector<std::unique_ptr<Channel>>> channels = MakeChannels(c, fo);
  if (!channels.ok()) return usage(channels.status().message());
  if (a.test_alert) return TestAlert(c, *channels);

  std::shared_ptr<prometheus::Registry> registry = std::make_shared<prometheus::Registry>();
  std::unique_ptr<MonitorMetrics> metrics = std::make_unique<MonitorMetrics>(*registry);
  std::unique_ptr<prometheus::Exposer> exposer;
  if (!c.metrics_addr.empty()) {
    try {
      exposer = std::make_unique<prometheus::Exposer>(c.metrics_addr);
    } catch (const std::exception& e) {
      return usage(absl::StrCat("--metrics-addr ", c.metrics_addr, ": ", e.what()));
    }
    exposer->RegisterCollectable(registry);
  }

  if (c.logs.size() > 1 && ::mkdir(c.state_dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return usage(absl::StrCat("--state-dir ", c.state_dir, ": ", std::strerror(errno)));
  }
  const bool progress =
      a.progress == "always" || (a.progress == "auto" && ::isatty(STDERR_FILENO) == 1);
  std::vector<std::unique_ptr<LogMonitor>> logs;
  for (const MonitoredLog& log : c.logs) {
    absl::StatusOr<std::unique_ptr<HttpLogSource>> source = HttpLogSource::Create(log.url, fo);
    if (!source.ok()) return usage(absl::StrCat(log.url, ": ", source.status().message()));
    absl::StatusOr<StateDir> dir = StateDir::Open(log.state_dir);
    if (!dir.ok()) return usage(absl::StrCat("--state-dir: ", dir.status().message()));
    absl::StatusOr<MonitorState> loaded = dir->Load();
    MonitorState state;
    if (loaded.ok()) {
      if (loaded->log_key != log.key.vkey()) {
        return usage(absl::StrCat("state dir ", log.state_dir, " holds the state of log key ",
                                  loaded->log_key, ", not ", log.key.vkey(),
                                  ": use one state dir per log"));
      }
      state = *std::move(loaded);
    } else if (absl::IsNotFound(loaded.status())) {
      state.log_key = log.key.vkey();
    } else {
      std::cerr << "monitor: " << log.state_dir << ": " << loaded.status().message() << "\n";
      return kExitServer;
    }
    logs.push_back(std::make_unique<LogMonitor>(
        log, *std::move(dir), std::move(state), *std::move(source), c, &*channels, metrics.get(),
        progress, [&signals] { return signals.stopping(); }));
    // Findings spooled before a restart go out first.
    if (absl::Status s = logs.back()->Deliver(); !s.ok()) {
      std::cerr << "monitor: " << s.message() << "\n";
      return kExitServer;
    }
  }

  std::unique_ptr<HttpFetcher> pinger;
  if (!c.healthcheck_url.empty()) {
    absl::StatusOr<std::unique_ptr<HttpFetcher>> f = HttpFetcher::Create(fo);
    if (!f.ok()) return usage(f.status().message());
    pinger = *std::move(f);
  }

  absl::Time next_round = absl::InfinitePast();
  while (true) {
    if (absl::Now() >= next_round) {
      next_round = absl::Now() + c.interval;
      size_t findings = 0, incomplete = 0;
      for (const std::unique_ptr<LogMonitor>& lm : logs) {
        if (signals.stopping()) break;
        RoundResult r = lm->Round(c.stale_after);
        findings += r.critical + r.alert + r.known;
        if (a.once && r.known > 0) {
          std::cerr << "monitor: " << lm->origin() << ": " << r.known
                    << " CRITICAL or ALERT finding(s) reported in an earlier round still hold "
                       "(see the evidence in the state dir); not reported again\n";
        }
        incomplete += r.complete ? 0 : 1;
      }
      if (incomplete == 0 && pinger != nullptr && !signals.stopping()) {
        absl::StatusOr<HttpResponse> r = pinger->Get(c.healthcheck_url, 64 << 10);
        if (!r.ok() || r->status < 200 || r->status > 299) {
          PrintOperational({.origin = "",
                            .kind = "healthcheck",
                            .message = r.ok()
                                           ? absl::StrCat(c.healthcheck_url, ": HTTP ", r->status)
                                           : std::string(r.status().message())});
        }
      }
      if (a.once) {
        for (const std::unique_ptr<LogMonitor>& lm : logs) {
          if (lm->Undelivered()) {
            std::cerr << "monitor: " << lm->origin()
                      << ": findings not yet delivered on every channel stay spooled in the state "
                         "dir for the next run\n";
          }
        }
        if (findings > 0) return kExitVerify;
        return incomplete == 0 ? kExitOk : kExitServer;
      }
    }
    // Retry deliveries while waiting for the next round.
    bool pending = false;
    for (const std::unique_ptr<LogMonitor>& lm : logs) {
      if (!lm->Undelivered()) continue;
      if (absl::Status s = lm->Deliver(); !s.ok()) {
        PrintOperational(
            {.origin = lm->origin(), .kind = "state", .message = std::string(s.message())});
      }
      pending |= lm->Undelivered();
    }
    const absl::Duration wait = std::max(
        absl::ZeroDuration(),
        std::min(next_round - absl::Now(), pending ? absl::Seconds(1) : absl::InfiniteDuration()));
    if (signals.stopping() || signals.SleepFor(wait)) return kExitOk;
  }
}

}  // namespace infratrail
