// The monitor's event index (verifier/monitor/event_index.h): Search latency
// over 10^6 realistic events, and the cost of building that index. The index
// is built once per process in a temporary directory (removed at exit) by
// BM_Build, or by the first query benchmark when BM_Build is filtered out.
// Each query benchmark times every call itself and reports p50_ms and
// p99_ms over its iterations, each with different values drawn from the
// same population the events were made from.
//
//   build/bench/event_index_bench    (docs/benchmarks.md has the figures)
#include <stdlib.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "benchmark/benchmark.h"
#include "infratrail/v1/event.pb.h"
#include "verifier/monitor/event_index.h"

namespace infratrail {
namespace {

namespace fs = std::filesystem;

constexpr uint64_t kEvents = 1'000'000;
constexpr int kResources = 3000;
constexpr int kActors = 300;
const absl::Time kStart = absl::FromUnixSeconds(1'790'000'000);
const absl::Duration kSpan = absl::Hours(24 * 30);

struct ResourceInfo {
  std::string provider;
  std::string type;
  std::string id;
};

// Kinds by weight, as a busy estate logs them: accesses, deploys and
// configuration changes dominate; key recovery and break-glass are rare.
constexpr std::pair<v1::EventKind, int> kKindWeights[] = {
    {v1::ACCESS, 30},      {v1::DEPLOY, 20},     {v1::CONFIG_CHANGE, 20}, {v1::PROVISION, 8},
    {v1::DEPROVISION, 6},  {v1::KEY_ROTATE, 6},  {v1::KEY_CREATE, 4},     {v1::KEY_DESTROY, 2},
    {v1::KEY_RECOVERY, 2}, {v1::BREAK_GLASS, 2},
};

class World {
 public:
  World() {
    static const char* kProviders[] = {"aws", "gcp", "azure", "onprem-dc1"};
    static const char* kTypes[] = {"vm",       "bucket",      "postgres-14", "kms-key",
                                   "iam-role", "k8s-cluster", "lb",          "dns-zone"};
    std::mt19937_64 rng(1);
    for (int i = 0; i < kResources; ++i) {
      const char* type = kTypes[rng() % std::size(kTypes)];
      resources_.push_back({kProviders[rng() % std::size(kProviders)], type,
                            absl::StrFormat("%s-%s-%06x", i % 5 == 0 ? "prod" : "dev", type,
                                            static_cast<unsigned>(rng() & 0xffffff))});
    }
    for (int i = 0; i < kActors; ++i) {
      actors_.push_back(i < 20 ? absl::StrCat("ci-bot-", i, "@pipelines.example.com")
                               : absl::StrCat("user-", i, "@example.com"));
    }
  }

  const std::vector<ResourceInfo>& resources() const { return resources_; }
  const std::vector<std::string>& actors() const { return actors_; }

  // Half the traffic is spread evenly, half is log-uniform: a few resources
  // are touched all the time.
  const ResourceInfo& PickResource(std::mt19937_64& rng) const {
    const double u = std::uniform_real_distribution<double>(0, 1)(rng);
    const size_t i =
        rng() % 2 ? rng() % kResources : static_cast<size_t>(std::pow(kResources, u)) - 1;
    return resources_[std::min<size_t>(i, kResources - 1)];
  }
  // The 20 automation principals log 60 % of the events.
  const std::string& PickActor(std::mt19937_64& rng) const {
    return actors_[rng() % 10 < 6 ? rng() % 20 : 20 + rng() % (kActors - 20)];
  }
  static v1::EventKind PickKind(std::mt19937_64& rng) {
    int w = static_cast<int>(rng() % 100);
    for (const auto& [kind, weight] : kKindWeights) {
      if ((w -= weight) < 0) return kind;
    }
    return v1::ACCESS;
  }

  // Entry i: logged at kStart + i * kSpan / kEvents; it happened shortly
  // before, mostly seconds, 1 % up to 6 hours, 1 in 10^4 backfilled up to
  // the whole span. One entry in 1,000 is not an InfraEvent.
  std::string Entry(uint64_t i, std::mt19937_64& rng) const {
    if (rng() % 1000 == 0) return absl::StrCat("opaque entry ", i, std::string(100, 'x'));
    v1::InfraEvent e;
    e.set_kind(PickKind(rng));
    const ResourceInfo& r = PickResource(rng);
    e.mutable_resource()->set_provider(r.provider);
    e.mutable_resource()->set_type(r.type);
    e.mutable_resource()->set_id(r.id);
    e.mutable_actor()->set_principal(PickActor(rng));
    e.mutable_actor()->set_via(static_cast<v1::Channel>(1 + rng() % 4));
    absl::Time at = kStart + kSpan * (static_cast<double>(i) / kEvents);
    const uint64_t late = rng() % 10'000;
    at -= late == 0    ? absl::Seconds(static_cast<int64_t>(rng() % 2'592'000))
          : late < 100 ? absl::Seconds(static_cast<int64_t>(rng() % 21'600))
                       : absl::Milliseconds(static_cast<int64_t>(rng() % 30'000));
    e.mutable_occurred_at()->set_seconds(absl::ToUnixSeconds(at));
    e.mutable_source()->set_repository("https://github.com/example/infrastructure");
    e.mutable_source()->set_commit(
        absl::StrFormat("%016x%016x%08x", rng(), rng(), static_cast<unsigned>(rng() & 0xffffffff)));
    e.mutable_source()->set_pipeline(absl::StrCat("run-", 4'000'000 + i / 7));
    if (e.kind() == v1::DEPLOY) {
      e.set_artifact_digest(
          absl::StrFormat("sha256:%016x%016x%016x%016x", rng(), rng(), rng(), rng()));
    }
    if (e.kind() == v1::ACCESS || e.kind() == v1::KEY_RECOVERY || e.kind() == v1::BREAK_GLASS) {
      e.set_justification("investigating elevated error rates on checkout");
      e.set_ticket(absl::StrCat("INC-", 10'000 + rng() % 5'000));
    }
    (*e.mutable_attributes())["region"] = rng() % 2 ? "eu-west-1" : "us-east-1";
    (*e.mutable_attributes())["account"] = absl::StrCat(100'000'000'000 + rng() % 12);
    return e.SerializeAsString();
  }

 private:
  std::vector<ResourceInfo> resources_;
  std::vector<std::string> actors_;
};

uint64_t DirBytes(const std::string& dir) {
  uint64_t total = 0;
  for (const auto& f : fs::recursive_directory_iterator(dir)) {
    if (f.is_regular_file()) total += f.file_size();
  }
  return total;
}

struct Built {
  World world;
  std::string root;
  std::unique_ptr<EventIndex> index;
  double seconds = 0;
  uint64_t entry_bytes = 0;
  uint64_t bytes_after_sync = 0;
  uint64_t bytes_after_reopen = 0;

  ~Built() {
    index.reset();
    std::error_code ec;
    fs::remove_all(root, ec);
  }
};

// Builds the index as the monitor would: Add in order, Sync every 2^20
// entries (its default commit_every) and at the end.
Built& Index() {
  static Built* built = [] {
    auto* b = new Built;
    std::string templ = (fs::temp_directory_path() / "event_index_bench_XXXXXX").string();
    if (mkdtemp(templ.data()) == nullptr) std::abort();
    b->root = templ;
    const std::string dir = templ + "/index";
    b->index = *EventIndex::Open(dir);
    std::mt19937_64 rng(2);
    const auto t0 = std::chrono::steady_clock::now();
    for (uint64_t i = 0; i < kEvents; ++i) {
      const std::string entry = b->world.Entry(i, rng);
      b->entry_bytes += entry.size();
      if (!b->index->Add(i, entry, HashLeaf(entry)).ok()) std::abort();
      if ((i + 1) % (1 << 20) == 0 && !b->index->Sync().ok()) std::abort();
    }
    if (!b->index->Sync().ok()) std::abort();
    b->seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    b->bytes_after_sync = DirBytes(dir);
    // Reopened, the WAL is replayed into tables: the size at rest.
    b->index.reset();
    b->index = *EventIndex::Open(dir);
    b->bytes_after_reopen = DirBytes(dir);
    // The compactions the build left behind, off the queries' timings.
    std::this_thread::sleep_for(std::chrono::seconds(20));
    return b;
  }();
  static struct Cleanup {
    ~Cleanup() { delete built; }
  } cleanup;
  return *built;
}

void BM_Build(benchmark::State& state) {
  // The build is timed by Index() itself, once per process.
  for (auto _ : state) benchmark::DoNotOptimize(Index());
  const Built& b = Index();
  state.counters["events_per_s"] = static_cast<double>(kEvents) / b.seconds;
  state.counters["build_s"] = b.seconds;
  state.counters["entry_MB"] = static_cast<double>(b.entry_bytes) / 1e6;
  state.counters["disk_MB_synced"] = static_cast<double>(b.bytes_after_sync) / 1e6;
  state.counters["disk_MB_reopened"] = static_cast<double>(b.bytes_after_reopen) / 1e6;
  state.counters["disk_B_per_event"] = static_cast<double>(b.bytes_after_reopen) / kEvents;
}
BENCHMARK(BM_Build)->Iterations(1)->Unit(benchmark::kSecond);

enum class Query { kResource, kActor, kKind, kTimeRange, kResourceKind, kUnselective, kNoMatch };

EventQuery MakeQuery(Query which, const World& w, std::mt19937_64& rng) {
  EventQuery q;
  q.verified = kEvents;
  const auto day = [&](int days) {
    const absl::Time from =
        kStart + absl::Hours(24 * static_cast<int64_t>(rng() % static_cast<uint64_t>(30 - days)));
    q.from = from;
    q.to = from + absl::Hours(24 * days);
  };
  switch (which) {
    case Query::kResource:
      q.resource_id = w.resources()[rng() % kResources].id;
      break;
    case Query::kActor:
      q.actor = w.actors()[rng() % kActors];
      break;
    case Query::kKind:
      q.kind = kKindWeights[rng() % std::size(kKindWeights)].first;
      break;
    case Query::kTimeRange:
      day(1);
      break;
    case Query::kResourceKind:
      q.resource_id = w.resources()[rng() % kResources].id;
      q.kind = kKindWeights[rng() % 3].first;
      break;
    case Query::kUnselective: {
      // Every filter alone matches a large share; together about 1 in 300.
      const ResourceInfo& r = w.resources()[rng() % kResources];
      q.provider = r.provider;
      q.type = r.type;
      q.kind = kKindWeights[rng() % 3].first;
      day(7);
      break;
    }
    case Query::kNoMatch:
      // Nothing to use but a full scan: the work bound ends the call.
      q.provider = "no-such-provider";
      break;
  }
  return q;
}

void BM_Search(benchmark::State& state, Query which) {
  const Built& b = Index();
  std::mt19937_64 rng(3 + static_cast<int>(which));
  std::vector<double> ms;
  uint64_t examined = 0, results = 0;
  for (auto _ : state) {
    const EventQuery q = MakeQuery(which, b.world, rng);
    const auto t0 = std::chrono::steady_clock::now();
    absl::StatusOr<EventPage> page = b.index->Search(q);
    ms.push_back(
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    if (!page.ok()) {
      state.SkipWithError(std::string(page.status().message()).c_str());
      break;
    }
    examined += page->examined;
    results += page->events.size();
  }
  std::sort(ms.begin(), ms.end());
  auto pct = [&](double p) {
    return ms[std::min(ms.size() - 1, static_cast<size_t>(p * ms.size()))];
  };
  state.counters["p50_ms"] = pct(0.50);
  state.counters["p99_ms"] = pct(0.99);
  state.counters["max_ms"] = ms.back();
  state.counters["examined"] = static_cast<double>(examined) / static_cast<double>(ms.size());
  state.counters["results"] = static_cast<double>(results) / static_cast<double>(ms.size());
}
// 2,000 queries each (p99 is then the 20th slowest); 200 for the one that
// always reads to the bound.
const bool kRegistered = [] {
  for (const auto& [name, query, iterations] :
       std::initializer_list<std::tuple<const char*, Query, int>>{
           {"resource", Query::kResource, 2000},
           {"actor", Query::kActor, 2000},
           {"kind", Query::kKind, 2000},
           {"time_range_1d", Query::kTimeRange, 2000},
           {"resource_kind", Query::kResourceKind, 2000},
           {"unselective_4_filters", Query::kUnselective, 2000},
           {"no_match_bound", Query::kNoMatch, 200}}) {
    benchmark::RegisterBenchmark(absl::StrCat("BM_Search/", name).c_str(), BM_Search, query)
        ->Iterations(iterations)
        ->Unit(benchmark::kMillisecond);
  }
  return true;
}();

}  // namespace
}  // namespace infratrail

BENCHMARK_MAIN();
