#include "verifier/witness/witness_metrics.h"

#include <string>

#include "absl/strings/str_cat.h"

namespace infratrail {
namespace {

prometheus::Gauge& Gauge(prometheus::Registry& r, const std::string& name,
                         const std::string& help) {
  return prometheus::BuildGauge().Name(name).Help(help).Register(r).Add({});
}

}  // namespace

WitnessMetrics::WitnessMetrics()
    : logs(Gauge(*registry_, "infratrail_witness_logs", "Logs the witness knows (add-only)")),
      state_bytes(Gauge(*registry_, "infratrail_witness_state_bytes",
                        "Bytes in the state directory's snapshot and journal")),
      healthy(Gauge(*registry_, "infratrail_witness_healthy",
                    "1 while the witness can write its state and cosign; 0 after a failed write")),
      commit_batches(Gauge(*registry_, "infratrail_witness_state_commit_batches",
                           "Batches of cosignatures made durable with one fdatasync")),
      requests_(prometheus::BuildCounter()
                    .Name("infratrail_witness_requests_total")
                    .Help("HTTP requests by route, status code and log origin")
                    .Register(*registry_)),
      cosignatures_(prometheus::BuildCounter()
                        .Name("infratrail_witness_cosignatures_total")
                        .Help("Cosignatures issued (durable before they were sent)")
                        .Register(*registry_)),
      list_loads_(prometheus::BuildCounter()
                      .Name("infratrail_witness_log_list_loads_total")
                      .Help("Log list sources read, by result")
                      .Register(*registry_)),
      list_refused_(prometheus::BuildCounter()
                        .Name("infratrail_witness_log_list_refused_total")
                        .Help("List entries refused: a known log with other keys, or the "
                              "witness's own key")
                        .Register(*registry_)
                        .Add({})),
      latency_(prometheus::BuildHistogram()
                   .Name("infratrail_witness_add_checkpoint_seconds")
                   .Help("add-checkpoint latency, request in to reply out (incl. the fsync)")
                   .Register(*registry_)
                   .Add({}, prometheus::Histogram::BucketBoundaries{
                                0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.5, 1})) {
  healthy.Set(1);
}

void WitnessMetrics::Request(absl::string_view route, int code, absl::string_view origin,
                             absl::Duration latency) {
  requests_
      .Add({{"route", std::string(route)},
            {"code", absl::StrCat(code)},
            {"origin", std::string(origin)}})
      .Increment();
  if (route == "add-checkpoint") latency_.Observe(absl::ToDoubleSeconds(latency));
}

void WitnessMetrics::Cosigned(const std::string& origin) {
  cosignatures_.Add({{"origin", origin}}).Increment();
}

void WitnessMetrics::ListLoaded(bool ok, size_t refused) {
  list_loads_.Add({{"result", ok ? "ok" : "error"}}).Increment();
  list_refused_.Increment(static_cast<double>(refused));
}

}  // namespace infratrail
