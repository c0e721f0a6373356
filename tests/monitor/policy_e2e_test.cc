// End to end: `infratrail-verifier monitor --policy` over a real server's
// log, events sent with `infratrail add` as operators send them, and a git
// repository built with the git CLI as the public IaC repository.
//
// Events violating each kind of requirement (ticket, channel, IaC commit on
// main, resource declared in the repository, artifact digest, two approver
// signatures, deprovision after provision) and a `notify` rule are mixed into
// more than 10,000 compliant ones. The monitor must report exactly the
// expected findings, each once (a receiver drops a repeated seq: the one
// delivery that may repeat is the one a crash interrupted), also when it is
// killed with SIGKILL twice in the middle of delivering findings, mid-audit.
// `policy test` over the same lines agrees on every finding and its leaf
// hash.
#include <signal.h>
#include <sys/stat.h>

#include <cstdint>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/monitor/json_lines.h"
#include "tests/server/e2e_fixture.h"
#include "tests/server/server_process.h"

namespace infratrail::testing {
namespace {

using json = nlohmann::json;

constexpr char kRepo[] = "https://git.example.org/infra";
constexpr char kDigestOk[] =
    "sha256:1111111111111111111111111111111111111111111111111111111111111111";
constexpr char kDigestBad[] =
    "sha256:2222222222222222222222222222222222222222222222222222222222222222";

json Event(const std::string& kind, const std::string& provider, const std::string& type,
           const std::string& id, const std::string& principal, const std::string& via) {
  return {{"kind", kind},
          {"resource", {{"provider", provider}, {"type", type}, {"id", id}}},
          {"actor", {{"principal", principal}, {"via", via}}}};
}

json FromRepo(json e, const std::string& commit) {
  e["source"] = {{"repository", kRepo}, {"commit", commit}};
  return e;
}

// A finding as the test compares them: rule, requirement, resource id.
using Key = std::tuple<std::string, std::string, std::string>;

Key KeyOf(const json& f) {
  const std::string resource = f.value("resource", "");
  return {f.value("rule", ""), f.value("requirement", ""),
          resource.substr(resource.rfind('/') + 1)};
}

class PolicyE2ETest : public ServerTest {
 protected:
  std::string Path(absl::string_view name) const { return absl::StrCat(dir_->path(), "/", name); }

  static void Write(const std::string& path, const std::string& text) {
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    f << text;
    ASSERT_TRUE(f.good()) << path;
  }

  // Runs `argv`; its stdout. A test failure (with stderr) unless it exits 0.
  std::string Run(const std::vector<std::string>& argv, int want_rc = 0) {
    const int n = runs_++;
    const std::string out = Path(absl::StrCat("run-", n, ".out"));
    const std::string err = Path(absl::StrCat("run-", n, ".stderr"));
    absl::StatusOr<int> rc = RunProgram(argv, out, err, absl::Seconds(120));
    EXPECT_TRUE(rc.ok()) << rc.status();
    EXPECT_EQ(rc.ok() ? *rc : -1, want_rc) << absl::StrJoin(argv, " ") << "\n"
                                           << ReadFileOrEmpty(out) << ReadFileOrEmpty(err);
    return ReadFileOrEmpty(out);
  }

  std::string Git(std::vector<std::string> args) {
    std::vector<std::string> argv = {GIT_CLI,
                                     "-C",
                                     Path("infra"),
                                     "-c",
                                     "user.name=Infra Owner",
                                     "-c",
                                     "user.email=owner@example.org",
                                     "-c",
                                     "commit.gpgsign=false"};
    argv.insert(argv.end(), args.begin(), args.end());
    return std::string(absl::StripAsciiWhitespace(Run(argv)));
  }

  // The repository: main declares prod-vm-0..199 and prod-vm-orphan under
  // terraform/; a branch holds a commit main does not.
  void MakeRepo() {
    ASSERT_EQ(mkdir(Path("infra").c_str(), 0755), 0);
    Git({"init", "-q", "-b", "main"});
    ASSERT_EQ(mkdir(Path("infra/terraform").c_str(), 0755), 0);
    std::string tf;
    for (int i = 0; i < 200; ++i) {
      absl::StrAppend(&tf, "resource \"aws_instance\" \"vm", i, "\" { tags = { id = \"prod-vm-", i,
                      "\" } }\n");
    }
    absl::StrAppend(
        &tf, "resource \"aws_instance\" \"orphan\" { tags = { id = \"prod-vm-orphan\" } }\n");
    ASSERT_NO_FATAL_FAILURE(Write(Path("infra/terraform/main.tf"), tf));
    ASSERT_NO_FATAL_FAILURE(Write(Path("infra/README"), "undeclared-vm is only named here\n"));
    Git({"add", "-A"});
    Git({"commit", "-q", "-m", "vms"});
    main_ = Git({"rev-parse", "HEAD"});
    Git({"checkout", "-q", "-b", "feature"});
    ASSERT_NO_FATAL_FAILURE(Write(Path("infra/terraform/branch.tf"), "branch-vm\n"));
    Git({"add", "-A"});
    Git({"commit", "-q", "-m", "unreviewed"});
    branch_ = Git({"rev-parse", "HEAD"});
    Git({"checkout", "-q", "main"});
  }

  // An emitter key: its private key file and its verifier key file.
  std::string Approver(const std::string& name) {
    absl::StatusOr<LogKey> k = MakeLogKey(dir_->path(), name + ".key", name);
    EXPECT_TRUE(k.ok()) << k.status();
    if (!k.ok()) return "";
    Write(Path(name + ".vkey"), k->verifier_key + "\n");
    return k->key_file;
  }

  std::string Policy(const std::string& exception) const {
    std::string p = absl::StrCat(R"(version: 1
rules:
  - id: access-needs-ticket
    match: {kind: [ACCESS], resource_type: ["postgres*"]}
    require: {justification: true, ticket: true}
  - id: iac-only
    severity: ALERT
    match: {kind: [PROVISION, DEPROVISION], resource_provider: [aws]}
    require:
      via: [IAC]
      source_in_repo:
        repository: )",
                                 kRepo, R"(
        clone: infra
        ref: refs/heads/main
        declares_resource: terraform/
  - id: deploy-digest
    match: {kind: [DEPLOY]}
    require: {artifact_digest_in: digests.txt}
  - id: key-recovery-approvals
    match: {kind: [KEY_RECOVERY]}
    require: {signatures: {keys: ["@approver1.vkey", "@approver2.vkey"], at_least: 2}}
  - id: db-access
    match: {kind: [ACCESS], resource_type: ["postgres*", "mysql*"]}
    notify: true
  - id: lifecycle
    match: {resource_provider: [aws]}
    require: {deprovision_follows_provision: true}
)");
    if (!exception.empty()) {
      absl::StrAppend(&p, "exceptions:\n  - {leaf_hash: \"", exception,
                      "\", rule: access-needs-ticket, reason: \"INC-42 approved later\"}\n");
    }
    return p;
  }

  // Writes `events` as JSON lines to NAME.jsonl and sends them with
  // `infratrail add`, signed by `sign_keys`, waiting for the checkpoint.
  void Add(const ServerProcess& server, const std::string& name, const std::vector<json>& events,
           const std::vector<std::string>& sign_keys = {}) {
    std::string text;
    for (const json& e : events) absl::StrAppend(&text, e.dump(), "\n");
    const std::string file = Path(name + ".jsonl");
    ASSERT_NO_FATAL_FAILURE(Write(file, text));
    std::vector<std::string> argv = {INFRATRAIL_CLI_BIN, "add",       "--server",
                                     server.address(),   "--file",    file,
                                     "--wait",           "--log-key", vkey()};
    for (const std::string& k : sign_keys) {
      argv.push_back("--sign-key");
      argv.push_back(k);
    }
    Run(argv);
    total_ += events.size();
  }

  int runs_ = 0;
  uint64_t total_ = 0;
  std::string main_, branch_;
};

TEST_F(PolicyE2ETest, ReportsEachViolationOnceAcrossKillNine) {
  ASSERT_NO_FATAL_FAILURE(MakeRepo());
  ASSERT_NO_FATAL_FAILURE(Write(Path("digests.txt"), absl::StrCat("# rebuilt\n", kDigestOk, "\n")));
  const std::string a1 = Approver("approver1");
  const std::string a2 = Approver("approver2");
  ASSERT_FALSE(HasFailure());

  // Batch A: compliant events and the violations whose order does not
  // matter.
  std::vector<json> a;
  for (int i = 0; i < 200; ++i) {
    a.push_back(
        FromRepo(Event("PROVISION", "aws", "vm", absl::StrCat("prod-vm-", i), "ci", "IAC"), main_));
  }
  for (int i = 0; i < 9700; ++i) {
    a.push_back(Event("CONFIG_CHANGE", "gcp", "bucket", absl::StrCat("data-", i), "svc", "API"));
    if (i % 1000 == 500) {
      // Violations spread through the bulk.
      const int v = i / 1000;
      if (v == 0) {
        json e = Event("ACCESS", "aws", "postgres-rds", "db-noticket", "alice", "CONSOLE");
        e["justification"] = "debugging";
        a.push_back(e);
      } else if (v == 1) {
        json e = Event("ACCESS", "aws", "postgres-rds", "db-ok", "alice", "CONSOLE");
        e["justification"] = "debugging";
        e["ticket"] = "INC-7";
        a.push_back(e);
      } else if (v == 2) {
        a.push_back(Event("ACCESS", "aws", "postgres-rds", "db-excepted", "bob", "CONSOLE"));
      } else if (v == 3) {
        a.push_back(FromRepo(Event("PROVISION", "aws", "vm", "undeclared-vm", "ci", "IAC"), main_));
      } else if (v == 4) {
        a.push_back(Event("PROVISION", "aws", "vm", "console-vm", "alice", "CONSOLE"));
      } else if (v == 5) {
        a.push_back(FromRepo(Event("PROVISION", "aws", "vm", "branch-vm", "ci", "IAC"), branch_));
      } else if (v == 6) {
        a.push_back(FromRepo(Event("PROVISION", "aws", "vm", "unknown-commit-vm", "ci", "IAC"),
                             "0123456789abcdef0123456789abcdef01234567"));
      } else if (v == 7) {
        json e = Event("DEPLOY", "k8s", "deployment", "web-bad", "ci", "CI");
        e["artifactDigest"] = kDigestBad;
        a.push_back(e);
      }
    }
  }
  for (int i = 0; i < 50; ++i) {
    json e = Event("DEPLOY", "k8s", "deployment", absl::StrCat("web-", i), "ci", "CI");
    e["artifactDigest"] = kDigestOk;
    a.push_back(e);
  }
  // Batch B: two approvers; C: one; D: deprovisions, after their provisions.
  std::vector<json> b, c, d;
  for (int i = 0; i < 10; ++i) {
    json e = Event("KEY_RECOVERY", "kms", "key", absl::StrCat("k-", i), "carol", "CONSOLE");
    e["justification"] = "escrow restore";
    b.push_back(e);
  }
  c.push_back(Event("KEY_RECOVERY", "kms", "key", "k-one-approver", "carol", "CONSOLE"));
  for (int i = 0; i < 50; ++i) {
    d.push_back(FromRepo(
        Event("DEPROVISION", "aws", "vm", absl::StrCat("prod-vm-", i), "ci", "IAC"), main_));
  }
  d.push_back(FromRepo(Event("DEPROVISION", "aws", "vm", "prod-vm-orphan", "ci", "IAC"), main_));

  const std::set<Key> expected = {
      {"access-needs-ticket", "ticket", "db-noticket"},
      {"db-access", "notify", "db-noticket"},
      {"db-access", "notify", "db-ok"},
      {"db-access", "notify", "db-excepted"},  // its ticket finding is excepted
      {"iac-only", "source_in_repo", "undeclared-vm"},
      {"iac-only", "via", "console-vm"},
      {"iac-only", "source_in_repo", "console-vm"},
      {"iac-only", "source_in_repo", "branch-vm"},
      {"iac-only", "source_in_repo", "unknown-commit-vm"},
      {"deploy-digest", "artifact_digest_in", "web-bad"},
      {"key-recovery-approvals", "signatures", "k-one-approver"},
      {"lifecycle", "deprovision_follows_provision", "prod-vm-orphan"},
  };

  // The author's loop first: `policy test` over batch A finds the event to
  // except (its leaf hash), and then agrees with the monitor.
  ASSERT_NO_FATAL_FAILURE(Write(Path("policy.yaml"), Policy("")));
  Run({INFRATRAIL_VERIFIER_BIN, "policy", "check", Path("policy.yaml")});
  std::string all;
  for (const json& e : a) absl::StrAppend(&all, e.dump(), "\n");
  ASSERT_NO_FATAL_FAILURE(Write(Path("a-only.jsonl"), all));
  std::string excepted;
  for (const json& f : JsonLines(Run({INFRATRAIL_VERIFIER_BIN, "policy", "test", "--policy",
                                      Path("policy.yaml"), "--events", Path("a-only.jsonl")},
                                     1))) {
    if (KeyOf(f) == Key{"access-needs-ticket", "ticket", "db-excepted"}) {
      excepted = f.value("leaf_hash", "");
    }
  }
  ASSERT_FALSE(excepted.empty());
  ASSERT_NO_FATAL_FAILURE(Write(Path("policy.yaml"), Policy(excepted)));

  std::unique_ptr<ServerProcess> server = StartServer();
  ASSERT_NE(server, nullptr);
  ASSERT_NO_FATAL_FAILURE(Add(*server, "a", a));
  ASSERT_NO_FATAL_FAILURE(Add(*server, "b", b, {a1, a2}));
  ASSERT_NO_FATAL_FAILURE(Add(*server, "c", c, {a1}));
  ASSERT_NO_FATAL_FAILURE(Add(*server, "d", d));
  ASSERT_GT(total_, 10'000u);

  // The monitor kills itself (SIGKILL from its --exec channel) while
  // delivering the first iac-only finding and again at the lifecycle one:
  // both after the commit that spooled them, mid-audit, with findings of
  // that commit printed on stdout and not yet recorded as delivered.
  const std::string state = Path("monitor");
  const std::string exec = absl::StrCat(
      "for r in iac-only lifecycle; do if [ \"$INFRATRAIL_RULE\" = $r ] && [ ! -e ",
      Path("killed-"), "$r ]; then touch ", Path("killed-"), "$r; kill -9 $PPID; fi; done");
  const std::vector<std::string> monitor = {
      INFRATRAIL_VERIFIER_BIN,
      "monitor",
      "--log",
      absl::StrCat("http://127.0.0.1:", server->http_port(), "/"),
      "--log-key",
      vkey(),
      "--state-dir",
      state,
      "--policy",
      Path("policy.yaml"),
      "--exec",
      exec,
      "--commit-every",
      "256",
      "--bundles-per-batch",
      "1",
      "--progress",
      "never",
      "--once"};
  std::string out;
  int kills = 0;
  for (int attempt = 0; attempt < 4; ++attempt) {
    const int n = runs_++;
    const std::string o = Path(absl::StrCat("monitor-", n, ".out"));
    const std::string e = Path(absl::StrCat("monitor-", n, ".stderr"));
    absl::StatusOr<int> rc = RunProgram(monitor, o, e, absl::Seconds(120));
    ASSERT_TRUE(rc.ok()) << rc.status();
    absl::StrAppend(&out, ReadFileOrEmpty(o));
    if (*rc == 128 + 9) {
      ++kills;
      continue;
    }
    // 1 if this run raised an ALERT itself, 0 if it only delivered what
    // the killed runs had spooled.
    EXPECT_TRUE(*rc == 0 || *rc == 1) << *rc << ReadFileOrEmpty(e);
    break;
  }
  EXPECT_EQ(kills, 2);

  std::map<uint64_t, json> by_seq;
  std::map<std::tuple<std::string, std::string, uint64_t>, uint64_t> seq_of;
  for (const json& f : JsonLines(out)) {
    const uint64_t seq = f.value("seq", uint64_t{0});
    auto [it, fresh] = by_seq.emplace(seq, f);
    // A repeated seq is a repeated delivery of one finding, word for word.
    if (!fresh) {
      EXPECT_EQ(it->second, f);
    }
    auto [s, first] = seq_of.emplace(
        std::tuple{f.value("rule", ""), f.value("requirement", ""), f.value("index", uint64_t{0})},
        seq);
    EXPECT_TRUE(first || s->second == seq) << "raised twice: " << f.dump();
  }
  std::set<Key> got;
  std::map<Key, json> found;
  for (const auto& [seq, f] : by_seq) {
    EXPECT_TRUE(got.insert(KeyOf(f)).second) << "twice: " << f.dump();
    found[KeyOf(f)] = f;
    EXPECT_EQ(f.value("origin", ""), std::string(kOrigin));
    EXPECT_FALSE(f.value("leaf_hash", "").empty());
    EXPECT_FALSE(f.value("kind", "").empty());
    EXPECT_FALSE(f.value("message", "").empty());
    EXPECT_EQ(f.value("severity", ""), f.value("requirement", "") == "notify" ? "NOTICE" : "ALERT")
        << f.dump();
  }
  EXPECT_EQ(got, expected);

  // The author's tool, over the same lines in log order, says the same
  // about the same entries.
  std::string lines;
  for (const char* name : {"a", "b", "c", "d"}) {
    absl::StrAppend(&lines, ReadFileOrEmpty(Path(absl::StrCat(name, ".jsonl"))));
  }
  ASSERT_NO_FATAL_FAILURE(Write(Path("all.jsonl"), lines));
  // Signatures are made by `add`: without them the two signed batches
  // would fail their rule too, so only compare what does not need them.
  for (const json& f : JsonLines(Run({INFRATRAIL_VERIFIER_BIN, "policy", "test", "--policy",
                                      Path("policy.yaml"), "--events", Path("all.jsonl")},
                                     1))) {
    if (f.value("rule", "") == "key-recovery-approvals") continue;
    auto it = found.find(KeyOf(f));
    ASSERT_NE(it, found.end()) << "policy test only: " << f.dump();
    EXPECT_EQ(it->second.value("leaf_hash", ""), f.value("leaf_hash", "")) << f.dump();
    EXPECT_EQ(it->second.value("resource", ""), f.value("resource", ""));
    EXPECT_EQ(it->second.value("actor", ""), f.value("actor", ""));
  }

  // The state holds what lifecycle knows: a restart reports nothing again.
  const int n = runs_++;
  const std::string o = Path(absl::StrCat("monitor-", n, ".out"));
  absl::StatusOr<int> rc =
      RunProgram(monitor, o, Path(absl::StrCat("monitor-", n, ".stderr")), absl::Seconds(60));
  ASSERT_TRUE(rc.ok()) << rc.status();
  EXPECT_EQ(*rc, 0);
  EXPECT_EQ(ReadFileOrEmpty(o), "");
}

// An event the policy cannot evaluate (here: the clone's tree object for
// it is corrupt, DataLoss from libgit2) stops the round at the last commit
// and is tried again; after three rounds it is an ALERT policy.not_evaluated
// and the audit goes on to the end of the log: a repository the operator
// can break never halts the integrity checks.
TEST_F(PolicyE2ETest, AnEventTheCloneCannotAnswerIsReportedAfterThreeRoundsAndTheAuditGoesOn) {
  ASSERT_NO_FATAL_FAILURE(MakeRepo());
  ASSERT_NO_FATAL_FAILURE(Write(Path("policy.yaml"), absl::StrCat(R"(version: 1
rules:
  - id: iac-only
    match: {kind: [PROVISION]}
    require:
      source_in_repo: {repository: )",
                                                                  kRepo, R"(, clone: infra,
                       ref: refs/heads/main, declares_resource: terraform/}
)")));
  // A second commit on main adds a file; its blob is made unreadable once
  // the monitor has opened the clone and answered for the first commit.
  ASSERT_NO_FATAL_FAILURE(Write(Path("infra/terraform/more.tf"), "prod-vm-2\n"));
  Git({"add", "-A"});
  Git({"commit", "-q", "-m", "one more"});
  const std::string second = Git({"rev-parse", "HEAD"});
  const std::string blob = Git({"rev-parse", "HEAD:terraform/more.tf"});
  const std::string object =
      Path(absl::StrCat("infra/.git/objects/", blob.substr(0, 2), "/", blob.substr(2)));
  std::unique_ptr<ServerProcess> server = StartServer();
  ASSERT_NE(server, nullptr);
  ASSERT_NO_FATAL_FAILURE(
      Add(*server, "a",
          {FromRepo(Event("PROVISION", "aws", "vm", "prod-vm-1", "ci", "IAC"), main_),
           Event("CONFIG_CHANGE", "gcp", "bucket", "logs", "svc", "API")}));
  const std::string state = Path("monitor");
  const std::string out = Path("looping.out"), err = Path("looping.stderr");
  absl::StatusOr<pid_t> pid =
      SpawnChild({INFRATRAIL_VERIFIER_BIN, "monitor", "--log",
                  absl::StrCat("http://127.0.0.1:", server->http_port(), "/"), "--log-key", vkey(),
                  "--state-dir", state, "--policy", Path("policy.yaml"), "--interval", "1s",
                  "--progress", "never"},
                 out, err);
  ASSERT_TRUE(pid.ok()) << pid.status();
  // Loaded once its first round has begun: the clone is open.
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  while (absl::Now() < deadline) {
    json s = json::parse(ReadFileOrEmpty(state + "/state.json"), nullptr, false);
    if (s.is_object() && s.value("next", uint64_t{0}) == 2) break;
    absl::SleepFor(absl::Milliseconds(5));
  }
  ASSERT_NO_FATAL_FAILURE(Write(object, "not a zlib stream"));
  ASSERT_NO_FATAL_FAILURE(
      Add(*server, "b",
          {FromRepo(Event("PROVISION", "aws", "vm", "prod-vm-2", "ci", "IAC"), second),
           Event("CONFIG_CHANGE", "gcp", "bucket", "more-logs", "svc", "API")}));
  std::vector<json> findings;
  while (absl::Now() < deadline) {
    findings = JsonLines(ReadFileOrEmpty(out));
    json s = json::parse(ReadFileOrEmpty(state + "/state.json"), nullptr, false);
    if (!findings.empty() && s.is_object() && s.value("next", uint64_t{0}) == 4) break;
    absl::SleepFor(absl::Milliseconds(20));
  }
  kill(*pid, SIGTERM);
  absl::StatusOr<int> rc = WaitPid(*pid, absl::Seconds(30));
  ASSERT_TRUE(rc.ok()) << rc.status();
  EXPECT_EQ(*rc, 0);
  json s = json::parse(ReadFileOrEmpty(state + "/state.json"), nullptr, false);
  ASSERT_TRUE(s.is_object());
  EXPECT_EQ(s.value("next", uint64_t{0}), 4u) << "the audit did not get past the entry";
  ASSERT_EQ(findings.size(), 1u) << ReadFileOrEmpty(out) << ReadFileOrEmpty(err);
  EXPECT_EQ(findings[0].value("rule", ""), "policy.not_evaluated");
  EXPECT_EQ(findings[0].value("severity", ""), "ALERT");
  EXPECT_EQ(findings[0].value("index", uint64_t{0}), 2u);
  EXPECT_EQ(findings[0].value("resource", ""), "aws/vm/prod-vm-2");
  // Two rounds stopped at it first, each an operational line.
  std::vector<json> operational;
  for (const json& e : JsonLines(ReadFileOrEmpty(err))) {
    if (e.value("kind", "") == "policy") operational.push_back(e);
  }
  EXPECT_EQ(operational.size(), 2u) << ReadFileOrEmpty(err);
}

}  // namespace
}  // namespace infratrail::testing
