#include "verifier/monitor/monitor_metrics.h"

namespace infratrail {

namespace {
std::string S(absl::string_view v) { return std::string(v); }
}  // namespace

MonitorMetrics::MonitorMetrics(prometheus::Registry& r)
    : verified_size_(prometheus::BuildGauge()
                         .Name("infratrail_monitor_verified_size_entries")
                         .Help("Size of the last checkpoint the monitor fully verified")
                         .Register(r)),
      log_size_(prometheus::BuildGauge()
                    .Name("infratrail_monitor_log_size_entries")
                    .Help("Size of the latest checkpoint the log served (signature verified)")
                    .Register(r)),
      entries_(prometheus::BuildCounter()
                   .Name("infratrail_monitor_entries_verified_total")
                   .Help("Entries fetched, re-hashed and checked")
                   .Register(r)),
      rounds_(prometheus::BuildCounter()
                  .Name("infratrail_monitor_rounds_total")
                  .Help("Rounds by outcome: clean, finding, incomplete")
                  .Register(r)),
      round_seconds_(prometheus::BuildHistogram()
                         .Name("infratrail_monitor_round_seconds")
                         .Help("Duration of a round (fetching included)")
                         .Register(r)),
      last_success_(prometheus::BuildGauge()
                        .Name("infratrail_monitor_last_success_timestamp_seconds")
                        .Help("Unix time of the last complete round")
                        .Register(r)),
      findings_(prometheus::BuildCounter()
                    .Name("infratrail_monitor_findings_total")
                    .Help("Findings raised, by rule and severity")
                    .Register(r)),
      operational_(prometheus::BuildCounter()
                       .Name("infratrail_monitor_operational_errors_total")
                       .Help("Operational errors (not findings) by kind")
                       .Register(r)),
      excepted_(prometheus::BuildCounter()
                    .Name("infratrail_monitor_policy_excepted_total")
                    .Help("Policy findings silenced by the policy's exceptions (each time the "
                          "entry is evaluated)")
                    .Register(r)),
      undelivered_(prometheus::BuildGauge()
                       .Name("infratrail_monitor_undelivered_findings")
                       .Help("Findings spooled, not yet delivered on every channel")
                       .Register(r)),
      reloads_(prometheus::BuildCounter()
                   .Name("infratrail_monitor_config_reloads_total")
                   .Help("Configuration reloads (SIGHUP) by outcome: ok, error")
                   .Register(r)),
      gossip_checks_(prometheus::BuildCounter()
                         .Name("infratrail_monitor_gossip_checks_total")
                         .Help("Gossip checks of a peer's checkpoint by outcome: consistent, "
                               "nothing_yet, pending, split_view, or the operational error")
                         .Register(r)),
      gossip_peer_size_(prometheus::BuildGauge()
                            .Name("infratrail_monitor_gossip_peer_size_entries")
                            .Help("Size of the latest log-signed checkpoint a peer served")
                            .Register(r)) {
  // Both series exist from the start, so increase() sees the first reload.
  for (const char* outcome : {"ok", "error"}) reloads_.Add({{"outcome", outcome}});
}

void MonitorMetrics::VerifiedSize(absl::string_view o, double v) {
  verified_size_.Add({{"origin", S(o)}}).Set(v);
}
void MonitorMetrics::LogSize(absl::string_view o, double v) {
  log_size_.Add({{"origin", S(o)}}).Set(v);
}
void MonitorMetrics::EntriesVerified(absl::string_view o, double n) {
  entries_.Add({{"origin", S(o)}}).Increment(n);
}
void MonitorMetrics::Round(absl::string_view o, absl::string_view outcome, double seconds) {
  rounds_.Add({{"origin", S(o)}, {"outcome", S(outcome)}}).Increment();
  round_seconds_
      .Add({{"origin", S(o)}},
           prometheus::Histogram::BucketBoundaries{0.01, 0.05, 0.1, 0.5, 1, 5, 10, 60, 600, 3600})
      .Observe(seconds);
}
void MonitorMetrics::LastSuccess(absl::string_view o, double t) {
  last_success_.Add({{"origin", S(o)}}).Set(t);
}
void MonitorMetrics::Finding(absl::string_view o, absl::string_view rule,
                             absl::string_view severity) {
  findings_.Add({{"origin", S(o)}, {"rule", S(rule)}, {"severity", S(severity)}}).Increment();
}
void MonitorMetrics::Operational(absl::string_view o, absl::string_view kind) {
  operational_.Add({{"origin", S(o)}, {"kind", S(kind)}}).Increment();
}
void MonitorMetrics::PolicyExcepted(absl::string_view o, double n) {
  excepted_.Add({{"origin", S(o)}}).Increment(n);
}
void MonitorMetrics::Undelivered(absl::string_view o, double n) {
  undelivered_.Add({{"origin", S(o)}}).Set(n);
}
void MonitorMetrics::Reload(absl::string_view outcome) {
  reloads_.Add({{"outcome", S(outcome)}}).Increment();
}
void MonitorMetrics::GossipCheck(absl::string_view o, absl::string_view peer,
                                 absl::string_view outcome) {
  gossip_checks_.Add({{"origin", S(o)}, {"peer", S(peer)}, {"outcome", S(outcome)}}).Increment();
}
void MonitorMetrics::GossipPeerSize(absl::string_view o, absl::string_view peer, double size) {
  gossip_peer_size_.Add({{"origin", S(o)}, {"peer", S(peer)}}).Set(size);
}
void MonitorMetrics::Forget(absl::string_view o) {
  const prometheus::Labels labels = {{"origin", S(o)}};
  for (prometheus::Family<prometheus::Gauge>* f :
       {&verified_size_, &log_size_, &last_success_, &undelivered_}) {
    if (f->Has(labels)) f->Remove(&f->Add(labels));
  }
}

}  // namespace infratrail
