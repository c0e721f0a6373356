// Google Benchmark of GitRepoChecker, the policy's `source_in_repo` with
// `declares_resource`: one event is CommitReachable + Declares. The
// repository is built once per process with `git fast-import` (one pack, as
// after a fetch): 1,000 commits on main, each rewriting one of ten
// terraform/*.tf files to add three resource ids, so every commit has its own
// terraform/ tree and shares nine of its ten files with its parent. Run by
// hand (docs/benchmarks.md), never as a test.
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>

#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "benchmark/benchmark.h"
#include "verifier/policy/git_repo_checker.h"

namespace infratrail {
namespace {

constexpr int kCommits = 1000;
constexpr int kFiles = 10;
constexpr int kResourcesPerCommit = 3;

std::string ResourceId(int commit, int j) {
  return absl::StrFormat("aws_instance.web_%04d_%d", commit, j);
}

struct Repo {
  std::string dir;
  std::vector<std::string> commits;  // oldest first
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
  Run(absl::StrCat("git -C ", repo.dir, " fast-import --quiet"), stream);
  repo.commits =
      absl::StrSplit(Run(absl::StrCat("git -C ", repo.dir, " rev-list --reverse refs/heads/main")),
                     '\n', absl::SkipEmpty());
  if (repo.commits.size() != kCommits) {
    fprintf(stderr, "policy_git_bench: %zu commits, not %d\n", repo.commits.size(), kCommits);
    exit(2);
  }
  return repo;
}

Repo* g_repo = nullptr;  // built in main, for every benchmark

std::unique_ptr<GitRepoChecker> OpenChecker(benchmark::State& state, const std::string& ref,
                                            std::function<absl::Time()> now = nullptr) {
  GitRepoCheckerOptions options;
  options.now = std::move(now);
  absl::StatusOr<std::unique_ptr<GitRepoChecker>> c =
      GitRepoChecker::Open(RepoSpec{"https://github.com/example/infra", g_repo->dir, ref}, options);
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
