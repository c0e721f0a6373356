// ValidateEntry on a typical event (the client's typical JSON line,
// serialized deterministically), the server's per-entry cost before an entry
// enters the pool. Run by hand:
//   entry_validation_bench --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
#include <string>

#include "benchmark/benchmark.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "infratrail/v1/event.pb.h"
#include "proto/entry_validation.h"

namespace infratrail {
namespace {

std::string TypicalEntry() {
  v1::InfraEvent e;
  e.set_kind(v1::PROVISION);
  e.mutable_occurred_at()->set_seconds(1795428000);
  e.mutable_resource()->set_provider("aws");
  e.mutable_resource()->set_type("ec2-instance");
  e.mutable_resource()->set_id("i-0000000000000001");
  e.mutable_actor()->set_principal("terraform@ci.example.com");
  e.mutable_actor()->set_via(v1::IAC);
  e.mutable_source()->set_repository("github.com/example/infra");
  e.mutable_source()->set_commit("4f2a9c1e8b7d6a5f4e3d2c1b0a9f8e7d6c5b4a39");
  e.mutable_source()->set_pipeline("run-1");
  e.set_ticket("CHG-1");
  (*e.mutable_attributes())["region"] = "eu-west-1";
  (*e.mutable_attributes())["account"] = "123456789012";
  (*e.mutable_attributes())["env"] = "prod";
  std::string out;
  {
    google::protobuf::io::StringOutputStream stream(&out);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    e.SerializeToCodedStream(&coded);
  }
  return out;
}

void BM_ValidateEntry(benchmark::State& state) {
  const std::string entry = TypicalEntry();
  if (!ValidateEntry(entry, "entry").ok()) {
    state.SkipWithError("the typical entry does not validate");
    return;
  }
  for (auto _ : state) {
    absl::Status st = ValidateEntry(entry, "entry");
    benchmark::DoNotOptimize(st);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(entry.size()));
}
BENCHMARK(BM_ValidateEntry);

// The parse alone, as ValidateEntry did before entries had to be canonical
// (its other checks were field reads): the baseline, measured in the same run.
void BM_ParseOnly(benchmark::State& state) {
  const std::string entry = TypicalEntry();
  for (auto _ : state) {
    v1::InfraEvent event;
    const bool ok = event.ParseFromArray(entry.data(), static_cast<int>(entry.size()));
    benchmark::DoNotOptimize(ok);
    benchmark::DoNotOptimize(event);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(entry.size()));
}
BENCHMARK(BM_ParseOnly);

}  // namespace
}  // namespace infratrail

BENCHMARK_MAIN();
