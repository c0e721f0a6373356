#include "bench/loadgen_report.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"

namespace infratrail::loadgen {
namespace {

double Ms(uint64_t ns) { return static_cast<double>(ns) / 1e6; }

double PerSecond(uint64_t n, double seconds) { return seconds > 0 ? n / seconds : 0; }

// Over every RPC of the run, warmup and failures included, as the CPU is.
double CpuPerRpcUs(const RunResult& r) {
  const uint64_t rpcs = r.stats.ok_total + r.stats.error_total();
  return rpcs == 0 ? 0 : r.client_cpu_s * 1e6 / static_cast<double>(rpcs);
}

bool IsAppend(const RunConfig& config) { return config.mode != "proofs"; }

}  // namespace

nlohmann::json JsonReport(const RunConfig& config, const ConnectOptions& connect,
                          const RunResult& r) {
  const Stats& s = r.stats;
  const LatencyHistogram& h = s.latency_ns;
  nlohmann::json j;
  j["mode"] = config.mode;
  j["server"] = connect.server;
  j["concurrency"] = config.concurrency;
  j["threads"] = connect.threads;
  j["channels"] = connect.channels;
  j["unit"] = IsAppend(config) ? "event" : "proof";
  if (IsAppend(config)) {
    j["batch_size"] = config.batch_size;
    j["event_bytes"] = {{"min", r.event_bytes_min}, {"max", r.event_bytes_max}};
    j["generator_ns_per_event"] = r.generator_ns_per_event;
  }
  j["warmup_s"] = config.warmup_s;
  j["events"] = s.units;
  j["rpcs"] = s.rpcs;
  j["seconds"] = r.seconds;
  j["events_per_s"] = PerSecond(s.units, r.seconds);
  j["rpcs_per_s"] = PerSecond(s.rpcs, r.seconds);
  j["latency_ms"] = {{"p50", Ms(h.Percentile(0.50))},
                     {"p90", Ms(h.Percentile(0.90))},
                     {"p99", Ms(h.Percentile(0.99))},
                     {"p999", Ms(h.Percentile(0.999))},
                     {"max", Ms(h.max())},
                     {"mean", h.mean() / 1e6},
                     {"count", h.count()}};
  nlohmann::json errors = nlohmann::json::object();
  for (const auto& [code, n] : s.errors) errors[StatusCodeName(code)] = n;
  j["errors"] = errors;
  j["resource_exhausted_retries"] = s.retries;
  j["client_cpu"] = {{"seconds", r.client_cpu_s},
                     {"cores", r.wall_s > 0 ? r.client_cpu_s / r.wall_s : 0},
                     {"us_per_rpc", CpuPerRpcUs(r)}};
  j["duplicates"] = s.duplicates;
  j["verified"] = s.verified;
  j["verify_failures"] = s.verify_failures;
  if (config.mode == "checkpoint-latency") {
    j["rate"] = config.rate;
    j["max_schedule_lag_ms"] = r.max_schedule_lag_ms;
  }
  if (config.mode == "proofs") {
    j["checkpoint_size"] = r.checkpoint_size;
    j["inclusion_fraction"] = config.inclusion_fraction;
  }
  if (config.mode == "fill") {
    j["start_size"] = r.start_size;
    j["end_size"] = r.end_size;
    nlohmann::json windows = nlohmann::json::array();
    for (const FillProgress::Window& w : r.windows) {
      windows.push_back(
          {{"log_size", w.log_size}, {"seconds", w.seconds}, {"events_per_s", w.events_per_s}});
    }
    j["windows"] = windows;
  }
  return j;
}

std::string HumanReport(const RunConfig& config, const ConnectOptions& connect,
                        const RunResult& r) {
  const Stats& s = r.stats;
  const LatencyHistogram& h = s.latency_ns;
  const char* unit = IsAppend(config) ? "events" : "proofs";
  std::string out = absl::StrFormat(
      "infratrail-loadgen mode=%s server=%s concurrency=%d threads=%d channels=%d", config.mode,
      connect.server, config.concurrency, connect.threads, connect.channels);
  if (IsAppend(config)) {
    absl::StrAppendFormat(&out, " batch=%d event_bytes=%d..%d", config.batch_size,
                          r.event_bytes_min, r.event_bytes_max);
  }
  if (config.mode == "checkpoint-latency") absl::StrAppendFormat(&out, " rate=%.0f/s", config.rate);
  if (config.mode == "proofs") absl::StrAppendFormat(&out, " tree_size=%d", r.checkpoint_size);
  out += "\n";
  if (IsAppend(config)) {
    absl::StrAppendFormat(&out, "generator:  %.0f ns/event (cost of making the events)\n",
                          r.generator_ns_per_event);
  }
  if (config.mode == "fill") {
    absl::StrAppendFormat(&out, "log size:   %d -> %d entries\n", r.start_size, r.end_size);
  }
  absl::StrAppendFormat(&out, "throughput: %.0f %s/s, %.1f RPCs/s (%d %s in %d RPCs over %.2f s",
                        PerSecond(s.units, r.seconds), unit, PerSecond(s.rpcs, r.seconds), s.units,
                        unit, s.rpcs, r.seconds);
  if (config.warmup_s > 0) absl::StrAppendFormat(&out, ", after %.1f s warmup", config.warmup_s);
  out += ")\n";
  absl::StrAppendFormat(&out,
                        "latency ms: p50 %.2f  p90 %.2f  p99 %.2f  p99.9 %.2f  max %.2f  "
                        "(%d RPCs%s)\n",
                        Ms(h.Percentile(0.5)), Ms(h.Percentile(0.9)), Ms(h.Percentile(0.99)),
                        Ms(h.Percentile(0.999)), Ms(h.max()), h.count(),
                        config.mode == "checkpoint-latency" ? ", from scheduled send" : "");
  if (config.mode == "checkpoint-latency") {
    absl::StrAppendFormat(&out, "pacer:      at most %.2f ms behind schedule\n",
                          r.max_schedule_lag_ms);
  }
  std::vector<std::string> errors;
  for (const auto& [code, n] : s.errors)
    errors.push_back(absl::StrCat(StatusCodeName(code), "=", n));
  absl::StrAppendFormat(
      &out, "errors:     %s; RESOURCE_EXHAUSTED retried %d times; duplicates %d\n",
      errors.empty() ? "none" : absl::StrJoin(errors, " "), s.retries, s.duplicates);
  absl::StrAppendFormat(&out, "verified:   %d sampled replies, %d failures\n", s.verified,
                        s.verify_failures);
  absl::StrAppendFormat(&out,
                        "client cpu: %.2f s = %.2f cores over %.2f s, %.1f us per RPC "
                        "(taken from the server on a shared machine)\n",
                        r.client_cpu_s, r.wall_s > 0 ? r.client_cpu_s / r.wall_s : 0, r.wall_s,
                        CpuPerRpcUs(r));
  return out;
}

}  // namespace infratrail::loadgen
