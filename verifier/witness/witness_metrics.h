// The witness's Prometheus metrics (docs/witness.md, "Metrics"). Labels are
// bounded: `origin` is a known log's origin (the operator's lists bound
// them) or "" for requests that named no known log.
#ifndef INFRATRAIL_VERIFIER_WITNESS_WITNESS_METRICS_H_
#define INFRATRAIL_VERIFIER_WITNESS_WITNESS_METRICS_H_

#include <memory>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/registry.h"

namespace infratrail {

class WitnessMetrics {
  // First: every metric below is registered in it.
  std::shared_ptr<prometheus::Registry> registry_ = std::make_shared<prometheus::Registry>();

 public:
  WitnessMetrics();

  prometheus::Registry& registry() { return *registry_; }

  // infratrail_witness_requests_total{route, code, origin} and the
  // add-checkpoint latency histogram.
  void Request(absl::string_view route, int code, absl::string_view origin, absl::Duration latency);
  // infratrail_witness_cosignatures_total{origin}
  void Cosigned(const std::string& origin);
  // infratrail_witness_log_list_loads_total{result}; refused entries.
  void ListLoaded(bool ok, size_t refused);

  prometheus::Gauge& logs;         // infratrail_witness_logs
  prometheus::Gauge& state_bytes;  // infratrail_witness_state_bytes
  prometheus::Gauge& healthy;      // infratrail_witness_healthy (1 while the state can be written)
  prometheus::Gauge& commit_batches;  // infratrail_witness_state_commit_batches

 private:
  prometheus::Family<prometheus::Counter>& requests_;
  prometheus::Family<prometheus::Counter>& cosignatures_;
  prometheus::Family<prometheus::Counter>& list_loads_;
  prometheus::Counter& list_refused_;
  prometheus::Histogram& latency_;
};

}  // namespace infratrail

#endif  // INFRATRAIL_VERIFIER_WITNESS_WITNESS_METRICS_H_
