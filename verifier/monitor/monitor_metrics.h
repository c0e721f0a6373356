// The monitor's Prometheus metrics (--metrics-addr), labelled by the log's
// origin (one per configured log: bounded) and, for findings, by rule and
// severity (bounded by the rules the monitor and the policy define), for
// gossip by peer (at most kMaxGossipPeers per log) and outcome.
//
// Thread-safe (prometheus-cpp metrics are).
#ifndef INFRATRAIL_VERIFIER_MONITOR_MONITOR_METRICS_H_
#define INFRATRAIL_VERIFIER_MONITOR_MONITOR_METRICS_H_

#include <string>

#include "absl/strings/string_view.h"
#include "prometheus/counter.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"

namespace infratrail {

class MonitorMetrics {
 public:
  explicit MonitorMetrics(prometheus::Registry& registry);

  void VerifiedSize(absl::string_view origin, double size);
  void LogSize(absl::string_view origin, double size);
  void EntriesVerified(absl::string_view origin, double n);
  // outcome: "clean", "finding" (CRITICAL or ALERT raised), "incomplete".
  void Round(absl::string_view origin, absl::string_view outcome, double seconds);
  void LastSuccess(absl::string_view origin, double unix_seconds);
  void Finding(absl::string_view origin, absl::string_view rule, absl::string_view severity);
  // kind: OperationalKind's names.
  void Operational(absl::string_view origin, absl::string_view kind);
  // Policy findings silenced by the policy's `exceptions`.
  void PolicyExcepted(absl::string_view origin, double n);
  void Undelivered(absl::string_view origin, double n);
  // One gossip check of a peer (gossip.h): `peer` is its label (bounded:
  // at most kMaxGossipPeers per log), `outcome` GossipCheck::kind.
  void GossipCheck(absl::string_view origin, absl::string_view peer, absl::string_view outcome);
  // The size of the latest log-signed checkpoint the peer served.
  void GossipPeerSize(absl::string_view origin, absl::string_view peer, double size);
  // A configuration reload (SIGHUP); outcome: "ok" or "error".
  void Reload(absl::string_view outcome);
  // Drops the gauges of a log no longer followed (a reload removed it), so
  // that its last verified size or last success does not look stale
  // forever. Its counters stay: they only ever grow.
  void Forget(absl::string_view origin);

 private:
  prometheus::Family<prometheus::Gauge>& verified_size_;
  prometheus::Family<prometheus::Gauge>& log_size_;
  prometheus::Family<prometheus::Counter>& entries_;
  prometheus::Family<prometheus::Counter>& rounds_;
  prometheus::Family<prometheus::Histogram>& round_seconds_;
  prometheus::Family<prometheus::Gauge>& last_success_;
  prometheus::Family<prometheus::Counter>& findings_;
  prometheus::Family<prometheus::Counter>& operational_;
  prometheus::Family<prometheus::Counter>& excepted_;
  prometheus::Family<prometheus::Gauge>& undelivered_;
  prometheus::Family<prometheus::Counter>& reloads_;
  prometheus::Family<prometheus::Counter>& gossip_checks_;
  prometheus::Family<prometheus::Gauge>& gossip_peer_size_;
};

}  // namespace infratrail

#endif  // INFRATRAIL_VERIFIER_MONITOR_MONITOR_METRICS_H_
