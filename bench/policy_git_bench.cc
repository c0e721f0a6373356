// Google Benchmark of GitRepoChecker, the policy's `source_in_repo` with
// `declares_resource`: one event is CommitReachable + Declares. The
// repository is built once per process with `git fast-import` (one pack, as
// after a fetch): 1,000 commits on main, each rewriting one of ten
// terraform/*.tf files to add three resource ids, so every commit has its own
// terraform/ tree and shares nine of its ten files with its parent; and one
// commit off main's 500th on refs/heads/unreviewed. The last benchmark runs
// the whole policy, ten rules, over it. Run by hand (docs/benchmarks.md),
// never as a test:
//
//   build/bench/policy_git_bench --benchmark_repetitions=3
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>

#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "benchmark/benchmark.h"
#include "verifier/policy/git_repo_checker.h"
#include "verifier/policy/policy.h"
#include "verifier/policy/testing/policy_testing.h"

namespace infratrail {
namespace {

constexpr int kCommits = 1000;
constexpr int kFiles = 10;
constexpr int kResourcesPerCommit = 3;
constexpr char kRepository[] = "https://github.com/example/infra";

std::string ResourceId(int commit, int j) {
  return absl::StrFormat("aws_instance.web_%04d_%d", commit, j);
}

struct Repo {
  std::string dir;
  std::vector<std::string> commits;  // oldest first
  std::string unreviewed;            // on refs/heads/unreviewed only
};

// Runs `cmd` with `input` on its standard input and returns its output;
// exits the process on failure (a benchmark without its repository is
// meaningless).
std::string Run(const std::string& cmd, const std::string& input = "") {
  const std::string full = absl::StrCat("GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null ", cmd);
  FILE* p = popen(full.c_str(), input.empty() ? "r" : "w");
  std::string out;
  if (p != nullptr) {
    if (input.empty()) {
      char buf[4096];
      for (size_t n; (n = fread(buf, 1, sizeof(buf), p)) > 0;) out.append(buf, n);
    } else {
      fwrite(input.data(), 1, input.size(), p);
    }
  }
  const int rc = p == nullptr ? -1 : pclose(p);
  if (!WIFEXITED(rc) || WEXITSTATUS(rc) != 0) {
    fprintf(stderr, "policy_git_bench: %s failed\n", full.c_str());
    exit(2);
  }
  return out;
}

Repo BuildRepo() {
  Repo repo;
  std::string templ = (std::filesystem::temp_directory_path() / "policy_git_bench_XXXXXX");
  if (mkdtemp(templ.data()) == nullptr) {
    perror("mkdtemp");
    exit(2);
  }
  repo.dir = templ;
  Run(absl::StrCat("git init -q --bare -b main ", repo.dir));
  std::vector<std::string> files(kFiles);
  std::string stream;
  auto data = [&stream](absl::string_view d) {
    absl::StrAppend(&stream, "data ", d.size(), "\n", d, "\n");
  };
  for (int i = 0; i < kCommits; ++i) {
    std::string& file = files[i % kFiles];
    for (int j = 0; j < kResourcesPerCommit; ++j) {
      absl::StrAppend(&file, "resource \"aws_instance\" \"", ResourceId(i, j),
                      "\" {\n  ami           = \"ami-0123456789abcdef0\"\n  instance_type = "
                      "\"t3.micro\"\n}\n\n");
    }
    absl::StrAppend(&stream, "commit refs/heads/main\nmark :", i + 1,
                    "\ncommitter Bench <bench@example.com> ", 1'700'000'000 + i * 60, " +0000\n");
    data(absl::StrCat("change ", i));
    if (i > 0) absl::StrAppend(&stream, "from :", i, "\n");
    if (i == 0) {
      absl::StrAppend(&stream, "M 100644 inline README.md\n");
      data("The infrastructure of example.com.\n");
    }
    absl::StrAppend(&stream, "M 100644 inline terraform/mod", i % kFiles, ".tf\n");
    data(file);
  }
  absl::StrAppend(&stream, "commit refs/heads/unreviewed\nmark :", kCommits + 1,
                  "\ncommitter Bench <bench@example.com> 1700000000 +0000\n");
  data("a miner");
  absl::StrAppend(&stream, "from :", kCommits / 2, "\nM 100644 inline terraform/miner.tf\n");
  data("resource \"aws_instance\" \"miner\" {}\n");
  Run(absl::StrCat("git -C ", repo.dir, " fast-import --quiet"), stream);
  repo.commits =
      absl::StrSplit(Run(absl::StrCat("git -C ", repo.dir, " rev-list --reverse refs/heads/main")),
                     '\n', absl::SkipEmpty());
  if (repo.commits.size() != kCommits) {
    fprintf(stderr, "policy_git_bench: %zu commits, not %d\n", repo.commits.size(), kCommits);
    exit(2);
  }
  repo.unreviewed = std::string(absl::StripAsciiWhitespace(
      Run(absl::StrCat("git -C ", repo.dir, " rev-parse refs/heads/unreviewed"))));
  return repo;
}

Repo* g_repo = nullptr;  // built in main, for every benchmark

std::unique_ptr<GitRepoChecker> OpenChecker(benchmark::State& state, const std::string& ref,
                                            std::function<absl::Time()> now = nullptr) {
  GitRepoCheckerOptions options;
  options.now = std::move(now);
  absl::StatusOr<std::unique_ptr<GitRepoChecker>> c =
      GitRepoChecker::Open(RepoSpec{kRepository, g_repo->dir, ref}, options);
  if (!c.ok()) state.SkipWithError(std::string(c.status().message()).c_str());
  return c.ok() ? std::move(*c) : nullptr;
}

// One event: both requirements, as the policy asks them. False when the
// answer is wrong or an error.
bool Event(GitRepoChecker& c, int commit, int j, const std::vector<std::string>& resources) {
  const std::string& id = g_repo->commits[commit];
  absl::StatusOr<RepoChecker::Result> r = c.CommitReachable(id);
  absl::StatusOr<RepoChecker::Result> d =
      c.Declares(id, "terraform/", resources[commit * kResourcesPerCommit + j]);
  return r.ok() && r->ok && d.ok() && d->ok;
}

std::vector<std::string> AllResources() {
  std::vector<std::string> out;
  for (int i = 0; i < kCommits; ++i) {
    for (int j = 0; j < kResourcesPerCommit; ++j) out.push_back(ResourceId(i, j));
  }
  return out;
}

// Steady state: every (commit, resource) pair already asked once.
void BM_CachedEvents(benchmark::State& state) {
  std::unique_ptr<GitRepoChecker> c = OpenChecker(state, "refs/heads/main");
  if (c == nullptr) return;
  const std::vector<std::string> resources = AllResources();
  for (int i = 0; i < kCommits; ++i) {
    for (int j = 0; j < kResourcesPerCommit; ++j) {
      if (!Event(*c, i, j, resources)) state.SkipWithError("warm-up: wrong answer");
    }
  }
  int64_t n = 0;
  for (auto _ : state) {
    const int commit = static_cast<int>(n % kCommits);
    const int j = static_cast<int>((n / kCommits) % kResourcesPerCommit);
    if (!Event(*c, commit, j, resources)) {
      state.SkipWithError("wrong answer");
      break;
    }
    ++n;
  }
  state.counters["events_per_s"] =
      benchmark::Counter(static_cast<double>(n), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_CachedEvents)->Iterations(1'000'000);

// The first pass after Open: 1,000 events, one per commit, nothing cached by
// the checker or by libgit2 (the pack is in the page cache). Arg: 0 both
// checks, 1 CommitReachable only, 2 Declares only.
void BM_ColdFirstPass(benchmark::State& state) {
  const std::vector<std::string> resources = AllResources();
  for (auto _ : state) {
    state.PauseTiming();
    std::unique_ptr<GitRepoChecker> c = OpenChecker(state, "refs/heads/main");
    state.ResumeTiming();
    if (c == nullptr) return;
    for (int i = 0; i < kCommits; ++i) {
      const std::string& id = g_repo->commits[i];
      const std::string& resource = resources[i * kResourcesPerCommit + i % kResourcesPerCommit];
      bool ok = true;
      if (state.range(0) != 2) {
        absl::StatusOr<RepoChecker::Result> r = c->CommitReachable(id);
        ok = ok && r.ok() && r->ok;
      }
      if (state.range(0) != 1) {
        absl::StatusOr<RepoChecker::Result> d = c->Declares(id, "terraform/", resource);
        ok = ok && d.ok() && d->ok;
      }
      if (!ok) {
        state.SkipWithError("wrong answer");
        return;
      }
    }
    state.PauseTiming();
    c.reset();
    state.ResumeTiming();
  }
  state.counters["events_per_s"] = benchmark::Counter(
      static_cast<double>(state.iterations() * kCommits), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_ColdFirstPass)
    ->ArgName("0both_1reach_2declares")
    ->Arg(0)
    ->Arg(1)
    ->Arg(2)
    ->Unit(benchmark::kMillisecond)
    ->Iterations(10);

// The first pass over all 1,000 commits after a fetch moved the ref from the
// 999th commit to the 1,000th: 999 answers survive the fast-forward.
void BM_FirstPassAfterFetch(benchmark::State& state) {
  const std::vector<std::string> resources = AllResources();
  const std::string move = absl::StrCat("git -C ", g_repo->dir, " update-ref refs/heads/fetch ");
  for (auto _ : state) {
    state.PauseTiming();
    Run(move + g_repo->commits[kCommits - 2]);
    absl::Time now = absl::UnixEpoch();
    std::unique_ptr<GitRepoChecker> c =
        OpenChecker(state, "refs/heads/fetch", [&now] { return now; });
    if (c == nullptr) return;
    for (int i = 0; i < kCommits - 1; ++i) {
      if (!Event(*c, i, 0, resources)) state.SkipWithError("warm-up: wrong answer");
    }
    Run(move + g_repo->commits[kCommits - 1]);
    now += absl::Seconds(1);
    state.ResumeTiming();
    for (int i = 0; i < kCommits; ++i) {
      if (!Event(*c, i, 0, resources)) {
        state.SkipWithError("wrong answer");
        return;
      }
    }
    state.PauseTiming();
    c.reset();
    state.ResumeTiming();
  }
  state.counters["events_per_s"] = benchmark::Counter(
      static_cast<double>(state.iterations() * kCommits), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_FirstPassAfterFetch)->Unit(benchmark::kMillisecond)->Iterations(10);

// The whole policy: ten rules over parsed events, one of them source_in_repo
// (with declares_resource) on every event through a real GitRepoChecker, as
// the monitor loads it (load_policy.cc). Event i names commit i % 1,000 and
// one of the three ids that commit adds, so kPeriod events ask every
// distinct git question once and the rest repeat them; the other fields
// vary as in policy_bench.cc, so the other rules work too.
constexpr size_t kPolicyEvents = 1'000'000;
constexpr size_t kPeriod = size_t{kCommits} * kResourcesPerCommit;
// Per period, 15 events from the unreviewed commit and 15 naming an id no
// file declares: 1 % fail source_in_repo.
constexpr size_t kSourceViolationsPerPeriod = 30;

std::string Digest(size_t i) { return "sha256:" + HashToHex(Sha256(absl::StrCat("d", i))); }

std::vector<testutil::LoggedEvent> MakePolicyEvents() {
  static const v1::EventKind kKinds[] = {
      v1::PROVISION, v1::DEPROVISION, v1::ACCESS, v1::DEPLOY, v1::CONFIG_CHANGE,
      v1::ACCESS,    v1::KEY_ROTATE,  v1::DEPLOY, v1::ACCESS, v1::PROVISION};
  static const char* kProviders[] = {"aws", "gcp", "onprem-dc1"};
  static const char* kTypes[] = {"postgres-14", "vm", "bucket", "mysql-8", "kms-key"};
  std::vector<testutil::LoggedEvent> events;
  events.reserve(kPolicyEvents);
  for (size_t i = 0; i < kPolicyEvents; ++i) {
    const size_t k = i % kPeriod;
    const int commit = static_cast<int>(k % kCommits);
    const int j = static_cast<int>(k / kCommits);
    v1::InfraEvent e;
    e.set_kind(kKinds[i % 10]);
    // Each PROVISION (i % 10 == 0) is followed by the DEPROVISION of the
    // same resource, from the next commit (which still declares it).
    const size_t vary = i % 10 < 2 ? 0 : i % 10;
    e.mutable_resource()->set_provider(kProviders[(i / 10 + vary) % 3]);
    e.mutable_resource()->set_type(kTypes[(i / 10 + vary) % 5]);
    e.mutable_resource()->set_id(k % 200 == 84 ? absl::StrCat("aws_instance.by_hand_", k)
                                               : ResourceId(i % 10 == 1 ? commit - 1 : commit, j));
    const bool odd = i % 20 == 7;  // the few that break other rules
    e.mutable_actor()->set_principal(odd ? absl::StrCat("user-", i % 97)
                                         : absl::StrCat("sre-", i % 7, "-oncall"));
    e.mutable_actor()->set_via(odd ? v1::CONSOLE : (i % 2 ? v1::IAC : v1::CI));
    e.mutable_source()->set_repository(kRepository);
    e.mutable_source()->set_commit(k % 200 == 37 ? g_repo->unreviewed : g_repo->commits[commit]);
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

const std::vector<testutil::LoggedEvent>& PolicyEvents() {
  static const auto* events = new std::vector<testutil::LoggedEvent>(MakePolicyEvents());
  return *events;
}

// policy_bench.cc's rules over these resource ids ("prod": commits 0-499),
// with key-recovery replaced by a rule that matches every event.
std::string TenRulesWithSource() {
  return absl::StrCat(R"(version: 1
rules:
  - id: access-needs-ticket
    match: {kind: [ACCESS, BREAK_GLASS, KEY_RECOVERY], resource_id: ['aws_instance.web_0[0-4]*']}
    require: {justification: true, ticket: true}
  - id: prod-changes-through-iac
    match: {kind: [PROVISION, DEPROVISION, CONFIG_CHANGE], resource_id: ['aws_instance.web_0[0-4]*']}
    require: {via: [IAC, CI]}
  - id: reviewed-source
    require:
      source_in_repo: {repository: ')",
                      kRepository, "', clone: '", g_repo->dir,
                      R"(', ref: refs/heads/main, declares_resource: terraform/}
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
  - id: onprem-needs-ticket
    match: {resource_provider: 'onprem-*', kind: [PROVISION, DEPROVISION, CONFIG_CHANGE]}
    require: {ticket: true}
  - id: databases-from-oncall
    match: {resource_type: ['postgres*', 'mysql*', database], kind: ACCESS}
    require: {actor: ['sre-?-oncall', 'dba-*']}
)");
}

// The policy with its clone opened by GitRepoChecker (default options, as
// load_policy.cc); null, and the benchmark skipped, on failure.
std::unique_ptr<Policy> LoadGitPolicy(benchmark::State& state, const testutil::ScratchDir& dir) {
  PolicyOptions options;
  options.open_repo = [](const RepoSpec& spec) -> absl::StatusOr<std::unique_ptr<RepoChecker>> {
    absl::StatusOr<std::unique_ptr<GitRepoChecker>> git = GitRepoChecker::Open(spec);
    if (!git.ok()) return git.status();
    return std::unique_ptr<RepoChecker>(*std::move(git));
  };
  absl::StatusOr<std::unique_ptr<Policy>> policy =
      Policy::Parse(TenRulesWithSource(), "bench.yaml", dir.path(), options);
  if (!policy.ok() || (*policy)->rule_count() != 10) {
    state.SkipWithError(policy.ok() ? "not ten rules"
                                    : std::string(policy.status().message()).c_str());
    return nullptr;
  }
  return *std::move(policy);
}

// Evaluates events [begin, end); adds the violations to `violations` and
// the source_in_repo ones to `source`. False on an error.
bool EvaluateRange(Policy& policy, size_t begin, size_t end, PolicyState* state, size_t* violations,
                   size_t* source) {
  const std::vector<testutil::LoggedEvent>& events = PolicyEvents();
  std::vector<PolicyViolation> out;
  for (size_t i = begin; i < end; ++i) {
    out.clear();
    if (!policy.Evaluate(events[i].view(i), state, &out).ok()) return false;
    *violations += out.size();
    for (const PolicyViolation& v : out) *source += v.requirement == "source_in_repo";
  }
  return true;
}

enum class Start { kWarm, kCold };

// kWarm: one Policy, its checker warmed by one period (every commit with
// each of its ids) before timing, then Evaluate per event over all 10^6.
// kCold: a fresh Policy (GitRepoChecker::Open, untimed) per iteration, then
// the first range(0) events right after it.
void BM_PolicyTenRulesSourceInRepo(benchmark::State& state, Start start) {
  PolicyEvents();
  testutil::ScratchDir dir;
  std::string digests;
  for (size_t i = 0; i < 1000; ++i) absl::StrAppend(&digests, Digest(i), "\n");
  dir.Write("digests.txt", digests);
  std::unique_ptr<Policy> policy = LoadGitPolicy(state, dir);
  if (policy == nullptr) return;
  size_t violations = 0;
  size_t source = 0;
  size_t events = 0;
  if (start == Start::kWarm) {
    PolicyState warm_up;
    if (!EvaluateRange(*policy, 0, kPeriod, &warm_up, &violations, &source) ||
        source != kSourceViolationsPerPeriod) {
      state.SkipWithError("warm-up: an error or wrong answers");
      return;
    }
    violations = source = 0;
    PolicyState policy_state;
    std::vector<PolicyViolation> out;
    const std::vector<testutil::LoggedEvent>& all = PolicyEvents();
    for (auto _ : state) {
      out.clear();
      if (!policy->Evaluate(all[events].view(events), &policy_state, &out).ok()) {
        state.SkipWithError("Evaluate failed");
        return;
      }
      violations += out.size();
      if (++events == kPolicyEvents) events = 0;
    }
    events = state.iterations();
  } else {
    const size_t n = static_cast<size_t>(state.range(0));
    for (auto _ : state) {
      state.PauseTiming();
      policy = LoadGitPolicy(state, dir);
      if (policy == nullptr) return;
      PolicyState policy_state;
      state.ResumeTiming();
      if (!EvaluateRange(*policy, 0, n, &policy_state, &violations, &source)) {
        state.SkipWithError("Evaluate failed");
        return;
      }
      events += n;
      state.PauseTiming();
      policy.reset();
      state.ResumeTiming();
    }
  }
  state.counters["events_per_s"] =
      benchmark::Counter(static_cast<double>(events), benchmark::Counter::kIsRate);
  state.counters["violations/event"] =
      static_cast<double>(violations) / static_cast<double>(events);
}
BENCHMARK_CAPTURE(BM_PolicyTenRulesSourceInRepo, warm, Start::kWarm)->Iterations(kPolicyEvents);
BENCHMARK_CAPTURE(BM_PolicyTenRulesSourceInRepo, cold, Start::kCold)
    ->ArgName("events")
    ->Arg(kPeriod)
    ->Arg(10'000)
    ->Unit(benchmark::kMillisecond)
    ->Iterations(10);

}  // namespace
}  // namespace infratrail

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  infratrail::Repo repo = infratrail::BuildRepo();
  infratrail::g_repo = &repo;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  std::filesystem::remove_all(repo.dir);
  return 0;
}
