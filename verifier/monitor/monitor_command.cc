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
#include <optional>
#include <string>
#include <thread>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "client/cli_util.h"
#include "client/key_arg.h"
#include "core/http/http_server.h"
#include "prometheus/exposer.h"
#include "prometheus/registry.h"
#include "verifier/monitor/channels.h"
#include "verifier/monitor/grpc_log_source.h"
#include "verifier/monitor/log_monitor.h"
#include "verifier/monitor/log_source.h"
#include "verifier/monitor/monitor_http.h"
#include "verifier/monitor/monitor_metrics.h"
#include "verifier/monitor/monitor_state.h"
#include "verifier/policy/load_policy.h"
#include "verifier/signals.h"

namespace infratrail {
namespace {

using cli::kExitOk;
using cli::kExitServer;
using cli::kExitUsage;
using cli::kExitVerify;

HttpFetcherOptions FetcherOptions(const MonitorConfig& c) {
  HttpFetcherOptions fo;
  fo.timeout = absl::ToChronoMilliseconds(c.timeout);
  fo.ca_file = c.ca_file;
  fo.max_in_flight = c.max_in_flight;
  return fo;
}

// http(s):// reads the log's tiles, grpc(s):// its API.
absl::StatusOr<std::unique_ptr<LogSource>> OpenLogSource(const std::string& url,
                                                         const HttpFetcherOptions& fo) {
  if (absl::StartsWith(url, "grpc://") || absl::StartsWith(url, "grpcs://")) {
    GrpcLogSourceOptions go;
    go.timeout = fo.timeout;
    go.ca_file = fo.ca_file;
    absl::StatusOr<std::unique_ptr<GrpcLogSource>> g = GrpcLogSource::Create(url, go);
    if (!g.ok()) return g.status();
    return std::unique_ptr<LogSource>(*std::move(g));
  }
  absl::StatusOr<std::unique_ptr<HttpLogSource>> h = HttpLogSource::Create(url, fo);
  if (!h.ok()) return h.status();
  return std::unique_ptr<LogSource>(*std::move(h));
}

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

// One configuration, running: its channels, its logs and its healthcheck.
// A reload opens a whole new one beside it, then replaces it. Never moved:
// the LogMonitors point to `config` and `channels`.
struct Running {
  MonitorConfig config;
  std::vector<std::unique_ptr<Channel>> channels;
  std::unique_ptr<HttpFetcher> pinger;  // null without --healthcheck-url
  std::unique_ptr<Policy> policy;       // null without --policy
  std::vector<std::unique_ptr<LogMonitor>> logs;
};

// Why a configuration could not be opened, and the exit code that means at
// start-up (a reload keeps the previous configuration instead).
struct OpenError {
  int exit_code = kExitUsage;
  std::string message;
};

// The same log: a LogMonitor of it can take over the other's state dir.
bool SameLog(const MonitoredLog& a, const MonitoredLog& b) {
  return a.key.vkey() == b.key.vkey() && a.state_dir == b.state_dir;
}

// Opens what `config` runs: channels, healthcheck, and for each log its
// source and its state dir (locked, loaded, checked against the log's key).
// A log that `previous` (null at start-up) follows already keeps its
// StateDir and its state: they move over only once everything else is open,
// so after an error `previous` is as it was. `context` gives the metrics,
// the progress bar and the stop predicate. Null and *error on failure.
std::unique_ptr<Running> Open(MonitorConfig config, Running* previous, LogMonitorContext context,
                              OpenError* error) {
  auto fail = [error](int exit_code, std::string message) {
    error->exit_code = exit_code;
    error->message = std::move(message);
    return nullptr;
  };
  auto run = std::make_unique<Running>();
  run->config = std::move(config);
  const MonitorConfig& c = run->config;
  const HttpFetcherOptions fo = FetcherOptions(c);
  absl::StatusOr<std::vector<std::unique_ptr<Channel>>> channels = MakeChannels(c, fo);
  if (!channels.ok()) return fail(kExitUsage, std::string(channels.status().message()));
  run->channels = *std::move(channels);
  if (!c.healthcheck_url.empty()) {
    absl::StatusOr<std::unique_ptr<HttpFetcher>> f = HttpFetcher::Create(fo);
    if (!f.ok()) return fail(kExitUsage, std::string(f.status().message()));
    run->pinger = *std::move(f);
  }
  if (::mkdir(c.state_dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return fail(kExitUsage, absl::StrCat("--state-dir ", c.state_dir, ": ", std::strerror(errno)));
  }
  if (!c.policy.empty()) {
    absl::StatusOr<std::unique_ptr<Policy>> policy = LoadPolicy(c.policy);
    if (!policy.ok()) {
      return fail(kExitUsage, absl::StrCat("--policy: ", policy.status().message()));
    }
    run->policy = *std::move(policy);
  }

  // Everything that can fail first; `kept[i]` non-null: the LogMonitor of
  // `previous` whose state log i takes over.
  std::vector<std::unique_ptr<LogSource>> sources;
  std::vector<std::unique_ptr<Gossip>> gossips;
  std::vector<LogMonitor*> kept;
  std::vector<std::optional<LogState>> opened;
  for (const MonitoredLog& log : c.logs) {
    absl::StatusOr<std::unique_ptr<LogSource>> source = OpenLogSource(log.url, fo);
    if (!source.ok()) {
      return fail(kExitUsage, absl::StrCat(log.url, ": ", source.status().message()));
    }
    sources.push_back(*std::move(source));
    gossips.emplace_back();
    if (!log.peers.empty()) {
      HttpFetcherOptions gfo = fo;
      gfo.cancelled = context.stop;
      absl::StatusOr<std::unique_ptr<HttpFetcher>> f = HttpFetcher::Create(gfo);
      if (!f.ok()) return fail(kExitUsage, absl::StrCat("gossip: ", f.status().message()));
      gossips.back() = std::make_unique<Gossip>(log.peers, *std::move(f), log.key);
    }
    auto other_key = [&log](const std::string& held) {
      return absl::StrCat("state dir ", log.state_dir, " holds the state of log key ", held,
                          ", not ", log.key.vkey(), ": use one state dir per log");
    };
    LogMonitor* same = nullptr;
    for (size_t i = 0; previous != nullptr && i < previous->logs.size(); ++i) {
      LogMonitor* lm = previous->logs[i].get();
      if (SameLog(lm->log(), log)) {
        same = lm;
      } else if (lm->log().state_dir == log.state_dir) {
        return fail(kExitUsage, other_key(lm->state().log_key));
      }
    }
    kept.push_back(same);
    opened.emplace_back();
    if (same != nullptr) continue;
    absl::StatusOr<StateDir> dir = StateDir::Open(log.state_dir);
    if (!dir.ok()) return fail(kExitUsage, absl::StrCat("--state-dir: ", dir.status().message()));
    absl::StatusOr<MonitorState> loaded = dir->Load();
    MonitorState state;
    if (loaded.ok()) {
      if (loaded->log_key != log.key.vkey()) return fail(kExitUsage, other_key(loaded->log_key));
      state = *std::move(loaded);
    } else if (absl::IsNotFound(loaded.status())) {
      state.log_key = log.key.vkey();
    } else {
      return fail(kExitServer, absl::StrCat(log.state_dir, ": ", loaded.status().message()));
    }
    // The console searches an index of the verified events, kept in the
    // state dir (index_keeper.h).
    std::shared_ptr<EventIndex> index;
    if (context.console != nullptr && log.entry_format == EntryFormat::kInfraEvent) {
      std::string note;
      absl::StatusOr<std::shared_ptr<EventIndex>> opened_index =
          OpenEventIndex(log.state_dir, &note);
      if (!opened_index.ok()) {
        return fail(kExitServer, absl::StrCat(log.state_dir,
                                              ": event index: ", opened_index.status().message()));
      }
      if (!note.empty())
        PrintOperational({.origin = log.key.name(), .kind = "index", .message = note});
      index = *std::move(opened_index);
    }
    opened.back().emplace(LogState{.dir = *std::move(dir),
                                   .state = std::move(state),
                                   .since = absl::Now(),
                                   .index = std::move(index)});
  }

  // Nothing fails from here on.
  context.config = &run->config;
  context.channels = &run->channels;
  context.policy = run->policy.get();
  for (size_t i = 0; i < c.logs.size(); ++i) {
    LogState state = kept[i] != nullptr ? std::move(*kept[i]).Release() : *std::move(opened[i]);
    run->logs.push_back(std::make_unique<LogMonitor>(
        c.logs[i], std::move(state), std::move(sources[i]), std::move(gossips[i]), context));
  }
  return run;
}

// SIGHUP: the configuration again, from the same flags (so the TOML file
// and any @FILE key are read again), applied whole or not at all. On any
// error the previous configuration runs on, unchanged, and one operational
// line says why; a reload never ends the monitor.
void Reload(const MonitorFlags& flags, const LogMonitorContext& context, MonitorMetrics* metrics,
            std::unique_ptr<Running>* running) {
  auto refuse = [metrics](absl::string_view why) {
    PrintOperational(
        {.origin = "",
         .kind = "reload",
         .message = absl::StrCat("SIGHUP: keeping the previous configuration: ", why)});
    metrics->Reload("error");
  };
  absl::StatusOr<MonitorConfig> next = BuildMonitorConfig(flags);
  if (!next.ok()) return refuse(next.status().message());
  const MonitorConfig& was = (*running)->config;
  std::string metrics_addr_note;
  if (next->metrics_addr != was.metrics_addr) {
    // The endpoint is bound once, at start-up.
    metrics_addr_note =
        absl::StrCat("SIGHUP: --metrics-addr \"", next->metrics_addr,
                     "\" takes a restart; metrics stay at \"", was.metrics_addr, "\"");
    next->metrics_addr = was.metrics_addr;
  }
  if (next->http_addr != was.http_addr) {
    absl::StrAppend(&metrics_addr_note, metrics_addr_note.empty() ? "" : "; ",
                    "SIGHUP: --http-addr \"", next->http_addr, "\" takes a restart; it stays \"",
                    was.http_addr, "\"");
    next->http_addr = was.http_addr;
  }
  std::vector<std::string> added, removed;
  for (const MonitoredLog& log : next->logs) {
    if (std::none_of(was.logs.begin(), was.logs.end(),
                     [&](const MonitoredLog& w) { return SameLog(w, log); })) {
      added.push_back(log.key.name());
    }
  }
  for (const MonitoredLog& w : was.logs) {
    if (std::none_of(next->logs.begin(), next->logs.end(),
                     [&](const MonitoredLog& log) { return SameLog(w, log); })) {
      removed.push_back(w.key.name());
    }
  }
  const size_t count = next->logs.size();
  std::vector<std::string> origins;
  for (const MonitoredLog& log : next->logs) origins.push_back(log.key.name());

  OpenError error;
  std::unique_ptr<Running> fresh = Open(*std::move(next), running->get(), context, &error);
  if (fresh == nullptr) return refuse(error.message);
  // The previous configuration goes: the state dirs of the logs it alone
  // followed are closed, their locks released.
  *running = std::move(fresh);
  for (const std::string& origin : removed) {
    if (std::find(origins.begin(), origins.end(), origin) == origins.end()) {
      metrics->Forget(origin);
      if (context.views != nullptr) context.views->Forget(origin);
    }
  }
  if (context.console != nullptr) context.console->Retain(origins);
  metrics->Reload("ok");
  if (!metrics_addr_note.empty()) {
    PrintOperational({.origin = "", .kind = "reload", .message = metrics_addr_note});
  }
  auto list = [](const std::vector<std::string>& v) {
    return v.empty() ? std::string() : absl::StrCat(" (", absl::StrJoin(v, ", "), ")");
  };
  std::cerr << "monitor: SIGHUP: reloaded "
            << (flags.config.empty() ? std::string("the flags")
                                     : absl::StrCat("--config ", flags.config))
            << ": " << count << " log(s); " << added.size() << " added" << list(added) << ", "
            << removed.size() << " removed" << list(removed) << "; findings to "
            << absl::StrJoin((*running)->channels, ", ",
                             [](std::string* out, const std::unique_ptr<Channel>& ch) {
                               out->append(ch->name());
                             })
            << "\n";
  // What the new channels can take goes out now, not after the next round.
  for (const std::unique_ptr<LogMonitor>& lm : (*running)->logs) {
    lm->ReportUnconfiguredChannels();
    if (absl::Status s = lm->Deliver(); !s.ok()) {
      PrintOperational(
          {.origin = lm->origin(), .kind = "state", .message = std::string(s.message())});
    }
  }
}

}  // namespace

void AddMonitorFlags(CLI::App* m, MonitorArgs* a) {
  MonitorFlags& f = a->flags;
  m->add_option(
      "--config", f.config,
      "TOML file: the logs to follow ([[log]] url, key, witnesses, witness_threshold, "
      "witness_policy, entry_format) and the options below by their flag names with _ for -; read "
      "again on SIGHUP");
  m->add_option("--log", f.log,
                "The log: http(s)://BASE serving C2SP tlog-tiles (preferred), or "
                "grpc(s)://HOST:PORT, the infratrail.v1.Log API (entries and proofs, no tiles)");
  m->add_option("--log-key", f.log_key, "The log's verifier key (name+hash+key), or @FILE");
  m->add_option("--state-dir", f.state_dir,
                "Directory for trusted state, spool and evidence (created; one monitor per dir)");
  m->add_option("--witness", f.witnesses,
                "A witness's cosignature key, or an http(s):// URL of a gossip peer (a witness "
                "or another monitor's --http-addr); repeatable");
  m->add_option("--witness-threshold", f.witness_threshold,
                "How many of the --witness keys must cosign each checkpoint");
  m->add_option("--witness-policy", f.witness_policy,
                "C2SP tlog-policy file: the witnesses and quorum every trusted checkpoint must "
                "meet (not with --witness keys or --witness-threshold); its witnesses with a "
                "URL are gossip peers; its only log line is the log key if --log-key is not "
                "given");
  m->add_option("--http-addr", f.http_addr,
                "HOST:PORT to serve the web console (docs/console.md: status, findings, event "
                "search, in-browser proof checks; keeps an event index in each log's state dir) "
                "and GET /<sha256hex(origin)>/checkpoint for other monitors to gossip with; "
                "default off, loopback recommended (no authentication)");
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
  m->add_option("--policy", f.policy,
                "Event policy (YAML, docs/policy.md) checked on every InfraEvent; read again on "
                "SIGHUP");
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
  if (a.test_alert) {
    absl::StatusOr<std::vector<std::unique_ptr<Channel>>> channels =
        MakeChannels(*config, FetcherOptions(*config));
    if (!channels.ok()) return usage(channels.status().message());
    return TestAlert(*config, *channels);
  }

  std::shared_ptr<prometheus::Registry> registry = std::make_shared<prometheus::Registry>();
  std::unique_ptr<MonitorMetrics> metrics = std::make_unique<MonitorMetrics>(*registry);
  std::unique_ptr<prometheus::Exposer> exposer;
  if (!config->metrics_addr.empty()) {
    try {
      exposer = std::make_unique<prometheus::Exposer>(config->metrics_addr);
    } catch (const std::exception& e) {
      return usage(absl::StrCat("--metrics-addr ", config->metrics_addr, ": ", e.what()));
    }
    exposer->RegisterCollectable(registry);
  }

  CheckpointViews views;
  ConsoleViews console;
  HttpRouter router;
  router.Add(CheckpointViews::Route(&views));
  AddConsoleRoutes(&console, &router);
  std::unique_ptr<HttpServer> http;
  if (!config->http_addr.empty()) {
    HttpServerOptions ho;
    ho.address = config->http_addr;
    ho.threads = 2;  // a search may take a few milliseconds
    ho.flag_name = "--http-addr";
    absl::StatusOr<std::unique_ptr<HttpServer>> started = HttpServer::Start(ho, &router, {});
    if (!started.ok()) return usage(started.status().message());
    http = *std::move(started);
  }

  LogMonitorContext context;
  context.metrics = metrics.get();
  context.views = &views;
  if (http != nullptr) context.console = &console;
  context.progress =
      a.progress == "always" || (a.progress == "auto" && ::isatty(STDERR_FILENO) == 1);
  // With --once a SIGHUP changes nothing: the one round runs to its end.
  context.stop = [&signals, once = a.once] {
    return once ? signals.stopping() : signals.interrupted();
  };
  OpenError error;
  std::unique_ptr<Running> running = Open(*std::move(config), nullptr, context, &error);
  if (running == nullptr) {
    std::cerr << "monitor: " << error.message << "\n";
    return error.exit_code;
  }
  for (const std::unique_ptr<LogMonitor>& lm : running->logs) {
    lm->ReportUnconfiguredChannels();
    // Findings spooled before a restart go out first.
    if (absl::Status s = lm->Deliver(); !s.ok()) {
      std::cerr << "monitor: " << s.message() << "\n";
      return kExitServer;
    }
  }

  absl::Time next_round = absl::InfinitePast();
  while (true) {
    if (!a.once && signals.TakeReload()) {
      Reload(a.flags, context, metrics.get(), &running);
      // At once: the round the reload cut short, and the logs it added.
      next_round = absl::InfinitePast();
    }
    const Running& run = *running;
    const MonitorConfig& c = run.config;
    if (absl::Now() >= next_round) {
      next_round = absl::Now() + c.interval;
      size_t findings = 0, incomplete = 0;
      for (const std::unique_ptr<LogMonitor>& lm : run.logs) {
        if (context.stop()) break;
        RoundResult r = lm->Round(c.stale_after);
        findings += r.critical + r.alert + r.known;
        if (a.once && r.known > 0) {
          std::cerr << "monitor: " << lm->origin() << ": " << r.known
                    << " CRITICAL or ALERT finding(s) reported in an earlier round still hold "
                       "(see the evidence in the state dir); not reported again\n";
        }
        incomplete += r.complete ? 0 : 1;
      }
      // A round cut short did not verify every log.
      if (incomplete == 0 && run.pinger != nullptr && !context.stop()) {
        absl::StatusOr<HttpResponse> r = run.pinger->Get(c.healthcheck_url, 64 << 10);
        if (!r.ok() || r->status < 200 || r->status > 299) {
          PrintOperational({.origin = "",
                            .kind = "healthcheck",
                            .message = r.ok()
                                           ? absl::StrCat(c.healthcheck_url, ": HTTP ", r->status)
                                           : std::string(r.status().message())});
        }
      }
      if (a.once) {
        for (const std::unique_ptr<LogMonitor>& lm : run.logs) {
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
    for (const std::unique_ptr<LogMonitor>& lm : run.logs) {
      if (!lm->Deliverable()) continue;
      if (absl::Status s = lm->Deliver(); !s.ok()) {
        PrintOperational(
            {.origin = lm->origin(), .kind = "state", .message = std::string(s.message())});
      }
      pending |= lm->Deliverable();
    }
    const absl::Duration wait = std::max(
        absl::ZeroDuration(),
        std::min(next_round - absl::Now(), pending ? absl::Seconds(1) : absl::InfiniteDuration()));
    signals.SleepFor(wait);
    if (signals.stopping()) return kExitOk;
  }
}

}  // namespace infratrail
