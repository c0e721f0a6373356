// BM_Protobuf (google::protobuf::util::JsonStringToMessage) against BM_Fast
// (ParseEventJson) on a typical `infratrail add` line. Run by hand:
//   event_json_bench --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
#include <string>

#include "benchmark/benchmark.h"
#include "client/event_json.h"
#include "client/testing/typical_event.h"
#include "google/protobuf/util/json_util.h"

namespace infratrail {
namespace {

// As `infratrail add` does: one message, cleared per line.
void BM_Protobuf(benchmark::State& state) {
  const std::string line = testutil::kTypicalEventLine;
  v1::InfraEvent event;
  for (auto _ : state) {
    event.Clear();
    auto status = google::protobuf::util::JsonStringToMessage(line, &event);
    if (!status.ok()) state.SkipWithError("JsonStringToMessage failed");
    benchmark::DoNotOptimize(event);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(line.size()));
}
BENCHMARK(BM_Protobuf);

void BM_Fast(benchmark::State& state) {
  const std::string line = testutil::kTypicalEventLine;
  v1::InfraEvent event;
  if (!ParseEventJsonFastPathForTesting(line, &event)) {
    state.SkipWithError("typical line fell back to protobuf");
    return;
  }
  for (auto _ : state) {
    event.Clear();
    if (!ParseEventJson(line, &event).ok()) state.SkipWithError("ParseEventJson failed");
    benchmark::DoNotOptimize(event);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(line.size()));
}
BENCHMARK(BM_Fast);

}  // namespace
}  // namespace infratrail

BENCHMARK_MAIN();
