// Policy::Parse's refusals: each names the file, line and column, and the
// key, so an operator can go straight to the mistake.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <future>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "core/note_key.h"
#include "gtest/gtest.h"
#include "verifier/policy/policy.h"
#include "verifier/policy/testing/policy_testing.h"

namespace infratrail {
namespace {

constexpr char kHeader[] = "version: 1\nrules:\n";

struct LoadErrorCase {
  const char* name;
  std::string yaml;
  std::string prefix;  // "p.yaml:LINE:COLUMN: KEY"
  std::string what;    // a substring of the rest
};

class PolicyLoaderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(dir_.path().empty());
    dir_.Write("allowed.txt", "sha256:" + std::string(64, '0') + "\n");
    dir_.Write("bad-digests.txt", "# ok\n\nsha256:" + std::string(64, '0') + "\nsha256:abc\n");
    dir_.Write("garbage.vkey", "not a key\n");
    options_ = testutil::FakeRepoOptions(repo_);
  }

  absl::Status Parse(const std::string& yaml) {
    return Policy::Parse(yaml, "p.yaml", dir_.path(), options_).status();
  }

  testutil::ScratchDir dir_;
  std::shared_ptr<testutil::FakeRepoState> repo_ = std::make_shared<testutil::FakeRepoState>();
  PolicyOptions options_;
};

TEST_F(PolicyLoaderTest, EveryMalformedPolicyIsRefusedWithFileLineColumnAndKey) {
  const std::string hash = std::string(43, 'A') + "=";
  const std::vector<LoadErrorCase> cases = {
      {"malformed yaml", "version: 1\nrules: [\n  {id: x\n", "p.yaml:", "malformed YAML: "},
      {"not a map", "- 1\n- 2\n", "p.yaml:1:1: policy", "expected a map"},
      {"empty", "", "p.yaml:1:1: policy", "expected a map"},
      {"two documents", "version: 1\n---\nversion: 1\n", "p.yaml:2:1: policy",
       "more than one YAML document"},
      {"unknown top-level key", "version: 1\nrulez: []\n", "p.yaml:2:1: rulez",
       "unknown key; expected one of version, rules, exceptions"},
      {"duplicate top-level key", "version: 1\nversion: 1\n", "p.yaml:2:1: version",
       "duplicate key"},
      {"missing version", "rules: []\n", "p.yaml:1:1: version", "missing"},
      {"wrong version", "version: 2\nrules: []\n", "p.yaml:1:10: version", "2 is not 1"},
      {"version not a number", "version: one\n", "p.yaml:1:10: version", "expected an integer"},
      {"missing rules", "version: 1\n", "p.yaml:1:1: rules", "missing"},
      {"no rules", "version: 1\nrules: []\n", "p.yaml:2:8: rules", "empty list"},
      {"rules not a list", "version: 1\nrules: {id: x}\n", "p.yaml:2:8: rules",
       "expected a list, found a map"},
      {"rule not a map", absl::StrCat(kHeader, "  - just-a-string\n"), "p.yaml:3:5: rules[0]",
       "expected a map, found a scalar"},
      {"unknown rule key", absl::StrCat(kHeader, "  - id: x\n    notify: true\n    matchh: {}\n"),
       "p.yaml:5:5: rules[0].matchh", "unknown key"},
      {"unknown match key",
       absl::StrCat(kHeader, "  - id: x\n    notify: true\n    match: {kinds: ACCESS}\n"),
       "p.yaml:5:13: rules[0].match.kinds", "unknown key"},
      {"unknown require key",
       absl::StrCat(kHeader, "  - id: x\n    require:\n      tickets: true\n"),
       "p.yaml:5:7: rules[0].require.tickets", "unknown key"},
      {"duplicate require key",
       absl::StrCat(kHeader, "  - id: x\n    require:\n      ticket: true\n      ticket: false\n"),
       "p.yaml:6:7: rules[0].require.ticket", "duplicate key"},
      {"missing id", absl::StrCat(kHeader, "  - notify: true\n"), "p.yaml:3:5: rules[0].id",
       "missing"},
      {"empty id", absl::StrCat(kHeader, "  - id: ''\n    notify: true\n"),
       "p.yaml:3:9: rules[0].id", "is empty"},
      {"duplicate rule id",
       absl::StrCat(kHeader, "  - id: x\n    notify: true\n  - id: x\n    notify: true\n"),
       "p.yaml:5:9: rules[1].id", "duplicate rule id \"x\" (also rules[0])"},
      {"bad severity",
       absl::StrCat(kHeader, "  - id: x\n    severity: CRITICAL\n    notify: true\n"),
       "p.yaml:4:15: rules[0].severity", "\"CRITICAL\" is not ALERT or WARNING"},
      {"nothing required", absl::StrCat(kHeader, "  - id: x\n    match: {kind: ACCESS}\n"),
       "p.yaml:3:5: rules[0]", "neither a requirement in force nor notify: true"},
      {"only false requirements",
       absl::StrCat(kHeader, "  - id: x\n    require: {ticket: false}\n    notify: false\n"),
       "p.yaml:3:5: rules[0]", "neither a requirement"},
      {"not a bool", absl::StrCat(kHeader, "  - id: x\n    require: {ticket: maybe}\n"),
       "p.yaml:4:23: rules[0].require.ticket", "expected true or false"},
      {"match not a map", absl::StrCat(kHeader, "  - id: x\n    notify: true\n    match: ACCESS\n"),
       "p.yaml:5:12: rules[0].match", "expected a map, found a scalar"},
      {"unknown kind",
       absl::StrCat(kHeader, "  - id: x\n    notify: true\n    match: {kind: [ACCESS, READ]}\n"),
       "p.yaml:5:28: rules[0].match.kind", "unknown event kind \"READ\""},
      {"unspecified kind",
       absl::StrCat(kHeader,
                    "  - id: x\n    notify: true\n    match: {kind: EVENT_KIND_UNSPECIFIED}\n"),
       "p.yaml:5:19: rules[0].match.kind", "unknown event kind"},
      {"unknown channel", absl::StrCat(kHeader, "  - id: x\n    require: {via: [IAC, ssh]}\n"),
       "p.yaml:4:26: rules[0].require.via", "unknown channel \"ssh\""},
      {"empty list", absl::StrCat(kHeader, "  - id: x\n    notify: true\n    match: {kind: []}\n"),
       "p.yaml:5:19: rules[0].match.kind", "empty list"},
      {"list of maps",
       absl::StrCat(kHeader, "  - id: x\n    notify: true\n    match: {resource_id: [{a: b}]}\n"),
       "p.yaml:5:27: rules[0].match.resource_id[0]", "expected a string, found a map"},
      {"unterminated class",
       absl::StrCat(kHeader,
                    "  - id: x\n    notify: true\n    match: {resource_id: ['ok', '[a-']}\n"),
       "p.yaml:5:33: rules[0].match.resource_id", "unterminated class"},
      {"empty class", absl::StrCat(kHeader, "  - id: x\n    require: {actor: 'x[]'}\n"),
       "p.yaml:4:22: rules[0].require.actor", "empty class"},
      {"trailing backslash",
       absl::StrCat(kHeader, "  - id: x\n    notify: true\n    match: {actor: 'alice\\'}\n"),
       "p.yaml:5:20: rules[0].match.actor", "trailing backslash"},
      {"missing digest file",
       absl::StrCat(kHeader, "  - id: x\n    require: {artifact_digest_in: missing.txt}\n"),
       "p.yaml:4:35: rules[0].require.artifact_digest_in", "missing.txt"},
      {"bad digest line",
       absl::StrCat(kHeader, "  - id: x\n    require: {artifact_digest_in: bad-digests.txt}\n"),
       "p.yaml:4:35: rules[0].require.artifact_digest_in", "bad-digests.txt:4: "},
      {"key does not parse",
       absl::StrCat(kHeader, "  - id: x\n    require: {signatures: {keys: [nonsense+1+2]}}\n"),
       "p.yaml:4:35: rules[0].require.signatures.keys", "key \"nonsense+1+2\" does not parse"},
      {"key file does not parse",
       absl::StrCat(kHeader, "  - id: x\n    require: {signatures: {keys: '@garbage.vkey'}}\n"),
       "p.yaml:4:34: rules[0].require.signatures.keys", "does not parse"},
      {"key file missing",
       absl::StrCat(kHeader, "  - id: x\n    require: {signatures: {keys: '@nope.vkey'}}\n"),
       "p.yaml:4:34: rules[0].require.signatures.keys", "nope.vkey"},
      {"no keys", absl::StrCat(kHeader, "  - id: x\n    require: {signatures: {at_least: 1}}\n"),
       "p.yaml:4:27: rules[0].require.signatures.keys", "missing"},
      {"source_in_repo without ref",
       absl::StrCat(kHeader,
                    "  - id: x\n    require: {source_in_repo: {repository: r, clone: c}}\n"),
       "p.yaml:4:31: rules[0].require.source_in_repo.ref", "missing"},
      {"exception to no rule",
       absl::StrCat(kHeader, "  - id: x\n    notify: true\nexceptions:\n  - {leaf_hash: '", hash,
                    "', rule: y, reason: r}\n"),
       "p.yaml:6:71: exceptions[0].rule", "no rule has id \"y\""},
      {"exception with a bad hash",
       absl::StrCat(kHeader,
                    "  - id: x\n    notify: true\nexceptions:\n"
                    "  - {leaf_hash: 'AAAA', rule: x, reason: r}\n"),
       "p.yaml:6:17: exceptions[0].leaf_hash", "leaf_hash"},
      {"exception without reason",
       absl::StrCat(kHeader, "  - id: x\n    notify: true\nexceptions:\n  - {leaf_hash: '", hash,
                    "', rule: x}\n"),
       "p.yaml:6:5: exceptions[0].reason", "missing"},
      {"exception for a requirement the rule lacks",
       absl::StrCat(kHeader, "  - id: x\n    notify: true\nexceptions:\n  - {leaf_hash: '", hash,
                    "', rule: x, reason: r, requirement: ticket}\n"),
       "p.yaml:6:98: exceptions[0].requirement", "no requirement \"ticket\"; it has notify"},
      {"rule id not UTF-8 (Latin-1)", absl::StrCat(kHeader, "  - id: r\xe8gle\n    notify: true\n"),
       "p.yaml:3:9: rules[0].id", "is not valid UTF-8"},
      {"glob not UTF-8",
       absl::StrCat(kHeader,
                    "  - id: x\n    notify: true\n    match: {actor: [ok, \"caf\xe9\"]}\n"),
       "p.yaml:5:25: rules[0].match.actor[1]", "is not valid UTF-8"},
      {"unknown exception key",
       absl::StrCat(kHeader, "  - id: x\n    notify: true\nexceptions:\n  - {leaf: x}\n"),
       "p.yaml:6:6: exceptions[0].leaf", "unknown key"},
  };
  for (const LoadErrorCase& c : cases) {
    SCOPED_TRACE(c.name);
    absl::Status s = Parse(c.yaml);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << s;
    EXPECT_TRUE(absl::StartsWith(s.message(), c.prefix + (c.prefix == "p.yaml:" ? "" : ": ")))
        << s.message();
    EXPECT_TRUE(absl::StrContains(s.message(), c.what)) << s.message();
  }
}

TEST_F(PolicyLoaderTest, KeyAndDigestFilesMustBeRegularFiles) {
  ASSERT_EQ(mkfifo((dir_.path() + "/fifo").c_str(), 0600), 0);
  for (const std::string& require :
       {std::string("{artifact_digest_in: fifo}"), std::string("{signatures: {keys: '@fifo'}}")}) {
    SCOPED_TRACE(require);
    // Opening a FIFO waits for a writer: in a thread, so that without the
    // fix the test fails instead of hanging.
    std::future<absl::Status> s = std::async(std::launch::async, [&] {
      return Parse(absl::StrCat(kHeader, "  - id: x\n    require: ", require, "\n"));
    });
    if (s.wait_for(std::chrono::seconds(10)) != std::future_status::ready) {
      ADD_FAILURE() << "loading waits on the FIFO";
      const int fd = open((dir_.path() + "/fifo").c_str(), O_WRONLY | O_NONBLOCK);
      if (fd >= 0) close(fd);
    }
    const absl::Status status = s.get();
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
    EXPECT_TRUE(absl::StrContains(status.message(), "not a regular file")) << status;
  }
}

TEST_F(PolicyLoaderTest, Utf8StringsLoad) {
  EXPECT_TRUE(Parse(absl::StrCat(kHeader,
                                 "  - id: r\xc3\xa8gle-\xf0\x9f\x94\x91\n"
                                 "    notify: true\n"
                                 "    match: {actor: \"caf\\xe9\"}\n"))
                  .ok());
}

TEST_F(PolicyLoaderTest, MalformedYamlIsPlacedAtItsLineAndColumn) {
  absl::Status s = Parse("version: 1\nrules:\n  - id: x\n   bad: [\n");
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StartsWith(s.message(), "p.yaml:4:")) << s;
}

TEST_F(PolicyLoaderTest, SourceInRepoWithoutAWayToOpenClonesNamesTheRule) {
  options_.open_repo = nullptr;
  absl::Status s = Parse(absl::StrCat(
      kHeader,
      "  - id: from-iac\n    require: {source_in_repo: {repository: r, clone: c, ref: m}}\n"));
  EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
  EXPECT_TRUE(absl::StartsWith(s.message(), "p.yaml:4:31: rules[0].require.source_in_repo: ")) << s;
  EXPECT_TRUE(absl::StrContains(s.message(), "\"from-iac\"")) << s;
}

TEST_F(PolicyLoaderTest, OpenRepoErrorKeepsItsCodeAndGainsThePosition) {
  options_.open_repo = [](const RepoSpec& spec) -> absl::StatusOr<std::unique_ptr<RepoChecker>> {
    return absl::UnavailableError(absl::StrCat(spec.clone, " is not a git repository"));
  };
  absl::Status s = Parse(absl::StrCat(
      kHeader, "  - id: x\n    require: {source_in_repo: {repository: r, clone: /c, ref: m}}\n"));
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable) << s;
  EXPECT_EQ(s.message(),
            "p.yaml:4:31: rules[0].require.source_in_repo: /c is not a git repository");
}

TEST_F(PolicyLoaderTest, LimitsAreEnforced) {
  std::string big = absl::StrCat(kHeader, "  - id: x\n    notify: true\n#");
  big.append(kMaxPolicyFileBytes, 'x');
  absl::Status s = Parse(big);
  EXPECT_TRUE(absl::StartsWith(s.message(), "p.yaml:1:1: policy: ")) << s;
  EXPECT_TRUE(absl::StrContains(s.message(), "more than the limit")) << s;

  std::string many(kHeader);
  for (size_t i = 0; i <= kMaxPolicyRules; ++i)
    absl::StrAppend(&many, "- {id: r", i, ", notify: true}\n");
  s = Parse(many);
  EXPECT_TRUE(absl::StartsWith(s.message(), "p.yaml:3:1: rules: ")) << s;
  EXPECT_TRUE(absl::StrContains(s.message(), "1001 items, more than the limit of 1000")) << s;

  // Aliases: a small file that names one list a million times.
  std::string aliases =
      "version: 1\nrules:\n  - id: x\n    notify: true\n    match:\n      resource_id: &ids [";
  for (int i = 0; i < 2000; ++i) absl::StrAppend(&aliases, i ? ", " : "", "a", i);
  aliases += "]\n";
  for (int i = 1; i < 1001; ++i)
    absl::StrAppend(&aliases, "  - {id: x", i, ", notify: true, match: {resource_id: *ids}}\n");
  s = Parse(aliases);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(s.message(), "more than the limit of 1000") ||
              absl::StrContains(s.message(), "list items and keys"))
      << s;
}

TEST_F(PolicyLoaderTest, TheIssueExampleLoads) {
  const NoteSigner a = *NoteSigner::FromSeed("approver1", std::string(32, '\1'));
  const NoteSigner b = *NoteSigner::FromSeed("approver2", std::string(32, '\2'));
  dir_.Write("approver2.vkey", b.VerifierKey());
  const std::string yaml = absl::StrCat(
      "version: 1\n"
      "rules:\n"
      "  - id: access-needs-ticket            # unique; appears in every finding\n"
      "    severity: ALERT\n"
      "    description: free text\n"
      "    match:\n"
      "      kind: [ACCESS, BREAK_GLASS, KEY_RECOVERY]\n"
      "      resource_provider: [\"aws\"]\n"
      "      resource_type: [\"postgres*\"]\n"
      "      resource_id: [\"prod-*\"]\n"
      "      via: [CONSOLE]\n"
      "      actor: [\"alice*\"]\n"
      "    require:\n"
      "      justification: true\n"
      "      ticket: true\n"
      "      via: [IAC, CI]\n"
      "      actor: [\"oncall-*\"]\n"
      "      artifact_digest_in: allowed.txt\n"
      "      signatures: {keys: [\"",
      a.VerifierKey(),
      "\", \"@approver2.vkey\"], at_least: 2}\n"
      "      source_in_repo:\n"
      "        repository: https://github.com/example/infra\n"
      "        clone: /var/lib/infratrail-monitor/repos/infra\n"
      "        ref: refs/heads/main\n"
      "        declares_resource: terraform/\n"
      "  - id: db-access\n"
      "    match: {kind: [ACCESS], resource_type: [\"postgres*\", \"mysql*\", \"database\"]}\n"
      "    notify: true\n"
      "  - id: lifecycle\n"
      "    require: {deprovision_follows_provision: true}\n"
      "exceptions:\n"
      "  - {leaf_hash: \"",
      std::string(43, 'A'),
      "=\", rule: access-needs-ticket, reason: \"INC-42 approved retroactively\"}\n");
  absl::StatusOr<std::unique_ptr<Policy>> p = Policy::Parse(yaml, "p.yaml", dir_.path(), options_);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ((*p)->rule_count(), 3u);
  ASSERT_EQ(repo_->opened.size(), 1u);
  EXPECT_EQ(repo_->opened[0].repository, "https://github.com/example/infra");
}

TEST_F(PolicyLoaderTest, UnreadablePolicyFileIsNamed) {
  absl::Status s = Policy::Load(dir_.path() + "/none.yaml", options_).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StartsWith(s.message(), dir_.path() + "/none.yaml: ")) << s;
}

}  // namespace
}  // namespace infratrail
