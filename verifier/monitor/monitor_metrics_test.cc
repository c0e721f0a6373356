#include "verifier/monitor/monitor_metrics.h"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "prometheus/registry.h"

namespace infratrail {
namespace {

// Series of `family` in `registry`, as "label=value,..." -> value (counter
// or gauge).
std::map<std::string, double> Series(prometheus::Registry& registry, const std::string& family) {
  std::map<std::string, double> out;
  for (const prometheus::MetricFamily& f : registry.Collect()) {
    if (f.name != family) continue;
    for (const prometheus::ClientMetric& m : f.metric) {
      std::string key;
      for (const prometheus::ClientMetric::Label& l : m.label) {
        key += (key.empty() ? "" : ",") + l.name + "=" + l.value;
      }
      out[key] = f.type == prometheus::MetricType::Counter ? m.counter.value : m.gauge.value;
    }
  }
  return out;
}

TEST(MonitorMetrics, ReloadsAreCountedByOutcomeFromZero) {
  prometheus::Registry registry;
  MonitorMetrics metrics(registry);
  EXPECT_EQ(Series(registry, "infratrail_monitor_config_reloads_total"),
            (std::map<std::string, double>{{"outcome=error", 0}, {"outcome=ok", 0}}));
  metrics.Reload("ok");
  metrics.Reload("error");
  metrics.Reload("ok");
  EXPECT_EQ(Series(registry, "infratrail_monitor_config_reloads_total"),
            (std::map<std::string, double>{{"outcome=error", 1}, {"outcome=ok", 2}}));
}

TEST(MonitorMetrics, ForgetDropsTheGaugesOfOneLogAndKeepsItsCounters) {
  prometheus::Registry registry;
  MonitorMetrics metrics(registry);
  for (const char* origin : {"a.test/log", "b.test/log"}) {
    metrics.VerifiedSize(origin, 10);
    metrics.LastSuccess(origin, 1000);
    metrics.EntriesVerified(origin, 10);
  }
  metrics.Forget("a.test/log");
  metrics.Forget("never.test/log");
  EXPECT_EQ(Series(registry, "infratrail_monitor_verified_size_entries"),
            (std::map<std::string, double>{{"origin=b.test/log", 10}}));
  EXPECT_EQ(Series(registry, "infratrail_monitor_last_success_timestamp_seconds"),
            (std::map<std::string, double>{{"origin=b.test/log", 1000}}));
  EXPECT_EQ(Series(registry, "infratrail_monitor_entries_verified_total").size(), 2u);
}

}  // namespace
}  // namespace infratrail
