// The monitor's event policy (verifier/policy): Evaluate over a million
// varied, already parsed events with a typical ten-rule policy, as the
// monitor runs it after parsing each entry. events/s is the figure to
// compare with the acceptance floor (500,000 per second on one core).
//
//   build/bench/policy_bench --benchmark_repetitions=3
//       --benchmark_report_aggregates_only=true   (one command line)
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "benchmark/benchmark.h"
#include "verifier/policy/policy.h"
#include "verifier/policy/testing/policy_testing.h"

namespace infratrail {
namespace {

constexpr size_t kEvents = 1'000'000;
constexpr char kRepository[] = "https://github.com/example/infra";

std::string Digest(size_t i) { return "sha256:" + HashToHex(Sha256(absl::StrCat("d", i))); }

std::string Commit(size_t i) { return HashToHex(Sha256(absl::StrCat("c", i))).substr(0, 40); }

// Mostly compliant traffic, as a healthy log is: about one event in twenty
// breaks some rule.
std::vector<testutil::LoggedEvent> MakeEvents() {
  static const v1::EventKind kKinds[] = {
      v1::PROVISION, v1::DEPROVISION, v1::ACCESS, v1::DEPLOY, v1::CONFIG_CHANGE,
      v1::ACCESS,    v1::KEY_ROTATE,  v1::DEPLOY, v1::ACCESS, v1::PROVISION};
  static const char* kProviders[] = {"aws", "gcp", "onprem-dc1"};
  static const char* kTypes[] = {"postgres-14", "vm", "bucket", "mysql-8", "kms-key"};
  std::vector<testutil::LoggedEvent> events;
  events.reserve(kEvents);
  for (size_t i = 0; i < kEvents; ++i) {
    v1::InfraEvent e;
    e.set_kind(kKinds[i % 10]);
    // Each PROVISION (i % 10 == 0) is followed by the DEPROVISION of the
    // same resource; the other kinds vary the resource more.
    const size_t vary = i % 10 < 2 ? 0 : i % 10;
    e.mutable_resource()->set_provider(kProviders[(i / 10 + vary) % 3]);
    e.mutable_resource()->set_type(kTypes[(i / 10 + vary) % 5]);
    e.mutable_resource()->set_id(absl::StrCat(i % 4 == 0 ? "dev-" : "prod-", "res-", i / 10));
    const bool odd = i % 20 == 7;  // the few that break rules
    e.mutable_actor()->set_principal(odd ? absl::StrCat("user-", i % 97)
                                         : absl::StrCat("sre-", i % 7, "-oncall"));
    e.mutable_actor()->set_via(odd ? v1::CONSOLE : (i % 2 ? v1::IAC : v1::CI));
    e.mutable_source()->set_repository(kRepository);
    e.mutable_source()->set_commit(Commit(i % 1000));
    e.mutable_source()->set_pipeline(absl::StrCat("run-", i));
    e.set_artifact_digest(Digest(odd ? 1'000'000 + i : i % 1000));
    if (!odd) {
      e.set_justification("scheduled change");
      e.set_ticket(absl::StrCat("CHG-", i % 10'000));
    }
    (*e.mutable_attributes())["region"] = "eu-west-1";
    events.push_back(testutil::LoggedEvent::Of(e));
  }
  return events;
}

const std::vector<testutil::LoggedEvent>& Events() {
  static const auto* events = new std::vector<testutil::LoggedEvent>(MakeEvents());
  return *events;
}

// Ten rules of the kinds operators write; `with_repo` adds source_in_repo
// to the IaC rule.
std::string TenRules(bool with_repo) {
  std::string repo;
  if (with_repo) {
    repo = absl::StrCat(",\n              source_in_repo: {repository: '", kRepository,
                        "', clone: /clone, ref: refs/heads/main, declares_resource: ''}");
  }
  return absl::StrCat(R"(version: 1
rules:
  - id: access-needs-ticket
    match: {kind: [ACCESS, BREAK_GLASS, KEY_RECOVERY], resource_id: ['prod-*']}
    require: {justification: true, ticket: true}
  - id: prod-changes-through-iac
    match: {kind: [PROVISION, DEPROVISION, CONFIG_CHANGE], resource_id: ['prod-*']}
    require: {via: [IAC, CI])",
                      repo, R"(}
  - id: deploys-allowlisted
    match: {kind: DEPLOY}
    require: {artifact_digest_in: digests.txt}
  - id: lifecycle
    severity: WARNING
    require: {deprovision_follows_provision: true}
  - id: key-operators
    match: {kind: [KEY_CREATE, KEY_ROTATE, KEY_DESTROY, KEY_RECOVERY]}
    require: {actor: ['kms-admin-*', 'sre-[0-9]-oncall']}
  - id: console-is-suspect
    severity: WARNING
    match: {via: CONSOLE, resource_provider: [aws, gcp]}
    require: {ticket: true}
  - id: break-glass
    match: {kind: BREAK_GLASS}
    notify: true
  - id: key-recovery
    match: {kind: KEY_RECOVERY}
    require: {justification: true, ticket: true}
  - id: onprem-needs-ticket
    match: {resource_provider: 'onprem-*', kind: [PROVISION, DEPROVISION, CONFIG_CHANGE]}
    require: {ticket: true}
  - id: databases-from-oncall
    match: {resource_type: ['postgres*', 'mysql*', database], kind: ACCESS}
    require: {actor: ['sre-?-oncall', 'dba-*']}
)");
}

// What a libgit2 checker does once warm: one hash lookup per commit.
class CachedRepo : public RepoChecker {
 public:
  CachedRepo() {
    for (size_t i = 0; i < 1000; ++i) cache_[Commit(i)] = true;
  }
  absl::StatusOr<Result> CommitReachable(absl::string_view commit) override {
    auto it = cache_.find(commit);
    return Result{it != cache_.end() && it->second, ""};
  }
  absl::StatusOr<Result> Declares(absl::string_view commit, absl::string_view path,
                                  absl::string_view resource_id) override {
    return Result{cache_.contains(commit), ""};
  }

 private:
  absl::flat_hash_map<std::string, bool> cache_;
};

void RunPolicy(benchmark::State& state, bool with_repo) {
  const std::vector<testutil::LoggedEvent>& events = Events();
  // range(0) distinct events, cycled: all of them (each event cold in cache,
  // as after a bulk read), or a few thousand that stay in cache (as when
  // the monitor evaluates each entry right after parsing it).
  const size_t distinct = static_cast<size_t>(state.range(0));
  testutil::ScratchDir dir;
  std::string digests;
  for (size_t i = 0; i < 1000; ++i) absl::StrAppend(&digests, Digest(i), "\n");
  dir.Write("digests.txt", digests);
  PolicyOptions options;
  options.open_repo = [](const RepoSpec&) -> absl::StatusOr<std::unique_ptr<RepoChecker>> {
    return std::make_unique<CachedRepo>();
  };
  absl::StatusOr<std::unique_ptr<Policy>> policy =
      Policy::Parse(TenRules(with_repo), "bench.yaml", dir.path(), options);
  if (!policy.ok()) {
    state.SkipWithError(std::string(policy.status().message()).c_str());
    return;
  }
  PolicyState policy_state;
  std::vector<PolicyViolation> out;
  size_t violations = 0;
  size_t i = 0;
  for (auto _ : state) {
    out.clear();
    const testutil::LoggedEvent& e = events[i];
    if (!(*policy)->Evaluate(e.view(i), &policy_state, &out).ok()) {
      state.SkipWithError("Evaluate failed");
      return;
    }
    violations += out.size();
    if (++i == distinct) i = 0;
  }
  state.SetItemsProcessed(state.iterations());
  state.counters["events/s"] =
      benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
  state.counters["violations/event"] =
      static_cast<double>(violations) / static_cast<double>(state.iterations());
}

void BM_PolicyTenRules(benchmark::State& state) { RunPolicy(state, false); }
BENCHMARK(BM_PolicyTenRules)->Arg(kEvents)->Arg(4000)->Iterations(kEvents);

void BM_PolicyTenRulesWithCachedRepo(benchmark::State& state) { RunPolicy(state, true); }
BENCHMARK(BM_PolicyTenRulesWithCachedRepo)->Arg(kEvents)->Arg(4000)->Iterations(kEvents);

}  // namespace
}  // namespace infratrail

BENCHMARK_MAIN();
