#include "verifier/monitor/monitor_config.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "core/note_key.h"
#include "verifier/monitor/grpc_log_source.h"

namespace infratrail {
namespace {

class MonitorConfigTest : public ::testing::Test {
 protected:
  MonitorConfigTest()
      : a_(*NoteSigner::Generate("a.example/log")), b_(*NoteSigner::Generate("b.example/log")) {}

  std::string WriteToml(const std::string& text) {
    const std::string path =
        absl::StrCat(::testing::TempDir(), "/monitor-",
                     ::testing::UnitTest::GetInstance()->current_test_info()->name(), ".toml");
    std::ofstream(path) << text;
    return path;
  }
  MonitorFlags OneLog() {
    MonitorFlags f;
    f.log = "https://a.example/tiles/";
    f.log_key = a_.VerifierKey();
    f.state_dir = "/var/lib/m";
    return f;
  }
  static void ExpectError(const absl::StatusOr<MonitorConfig>& c, absl::string_view needle) {
    ASSERT_FALSE(c.ok());
    EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_TRUE(absl::StrContains(c.status().message(), needle)) << c.status().message();
  }

  NoteSigner a_, b_;
};

TEST_F(MonitorConfigTest, OneLogFromFlagsKeepsStateInTheStateDirItself) {
  absl::StatusOr<MonitorConfig> c = BuildMonitorConfig(OneLog());
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_EQ(c->logs.size(), 1u);
  EXPECT_EQ(c->logs[0].state_dir, "/var/lib/m");
  EXPECT_EQ(c->logs[0].key.name(), "a.example/log");
  EXPECT_EQ(c->logs[0].entry_format, EntryFormat::kInfraEvent);
  EXPECT_EQ(c->interval, absl::Seconds(10));
  EXPECT_EQ(c->stale_after, absl::Hours(1));
}

TEST_F(MonitorConfigTest, GrpcLogsAreAcceptedAndTheirTargetChecked) {
  for (const char* url : {"grpc://127.0.0.1:8443", "grpcs://log.example:443"}) {
    MonitorFlags f = OneLog();
    f.log = url;
    absl::StatusOr<MonitorConfig> c = BuildMonitorConfig(f);
    ASSERT_TRUE(c.ok()) << url << ": " << c.status();
    EXPECT_TRUE(GrpcLogSource::Create(url, GrpcLogSourceOptions()).ok()) << url;
  }
  for (const char* url :
       {"grpc://", "grpc://log.example", "grpc://log.example:1/path", "https://log.example/"}) {
    absl::StatusOr<std::unique_ptr<GrpcLogSource>> s =
        GrpcLogSource::Create(url, GrpcLogSourceOptions());
    ASSERT_FALSE(s.ok()) << url;
    EXPECT_EQ(s.status().code(), absl::StatusCode::kInvalidArgument) << url;
    EXPECT_TRUE(absl::StrContains(s.status().message(), url)) << s.status().message();
  }
  GrpcLogSourceOptions o;
  o.ca_file = "/nonexistent/ca.pem";
  absl::StatusOr<std::unique_ptr<GrpcLogSource>> s = GrpcLogSource::Create("grpcs://a:1", o);
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(absl::StrContains(s.status().message(), "--ca-file")) << s.status().message();
}

TEST_F(MonitorConfigTest, FlagErrorsNameTheFlag) {
  MonitorFlags f = OneLog();
  f.log = "grpcx://a.example";
  ExpectError(BuildMonitorConfig(f), "--log");
  f = OneLog();
  f.log_key = "not a key";
  ExpectError(BuildMonitorConfig(f), "--log-key");
  f = OneLog();
  f.interval = "soon";
  ExpectError(BuildMonitorConfig(f), "--interval");
  f = OneLog();
  f.state_dir.clear();
  ExpectError(BuildMonitorConfig(f), "--state-dir");
  f = OneLog();
  f.witness_threshold = 1;
  ExpectError(BuildMonitorConfig(f), "--witness-threshold");
  f = OneLog();
  f.entry_format = "json";
  ExpectError(BuildMonitorConfig(f), "--entry-format");
  f = OneLog();
  f.webhook = "mailto:x";
  ExpectError(BuildMonitorConfig(f), "--webhook");
}

TEST_F(MonitorConfigTest, TomlListsSeveralLogsEachInItsOwnDirectory) {
  MonitorFlags f;
  f.config = WriteToml(absl::StrCat(R"(state_dir = "/srv/mon"
interval = "30s"
webhook = "https://hooks.example/x"
[[log]]
url = "https://a.example/"
key = ")",
                                    a_.VerifierKey(), R"("
[[log]]
url = "http://b.example/"
key = ")",
                                    b_.VerifierKey(), R"("
entry_format = "opaque"
witnesses = [")",
                                    a_.CosignatureVerifierKey(), R"("]
witness_threshold = 1
)"));
  f.interval = "5s";  // the flag wins
  absl::StatusOr<MonitorConfig> c = BuildMonitorConfig(f);
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_EQ(c->logs.size(), 2u);
  EXPECT_EQ(c->interval, absl::Seconds(5));
  EXPECT_EQ(c->webhook, "https://hooks.example/x");
  EXPECT_EQ(c->logs[1].entry_format, EntryFormat::kOpaque);
  EXPECT_EQ(c->logs[1].witnesses.threshold, 1u);
  EXPECT_NE(c->logs[0].state_dir, c->logs[1].state_dir);
  EXPECT_TRUE(absl::StartsWith(c->logs[0].state_dir, "/srv/mon/a.example_log-"));
}

TEST_F(MonitorConfigTest, TomlErrorsNameTheLine) {
  MonitorFlags f;
  f.config = WriteToml("state_dir = \"/x\"\n\n[[log]]\nurl = \"https://a/\"\nkey = 3\n");
  ExpectError(BuildMonitorConfig(f), "line 5");
  f.config = WriteToml("state_dir = \"/x\"\nintervall = \"1s\"\n");
  ExpectError(BuildMonitorConfig(f), "unknown key \"intervall\"");
  f.config = WriteToml("state_dir = \"/x\"\n");
  ExpectError(BuildMonitorConfig(f), "no [[log]]");
  f.config = WriteToml("state_dir = [\n");
  ExpectError(BuildMonitorConfig(f), "line");
  f.config = WriteToml(
      absl::StrCat("state_dir = \"/x\"\n[[log]]\nurl = \"https://a/\"\nkey = \"", a_.VerifierKey(),
                   "\"\n[[log]]\nurl = \"https://a2/\"\nkey = \"", a_.VerifierKey(), "\"\n"));
  ExpectError(BuildMonitorConfig(f), "listed twice");
}

TEST_F(MonitorConfigTest, ConfigAndLogFlagsAreExclusive) {
  MonitorFlags f = OneLog();
  f.config = WriteToml("state_dir = \"/x\"\n");
  ExpectError(BuildMonitorConfig(f), "--config");
}

TEST(OriginDirName, DistinctOriginsThatEscapeAlikeGetDistinctNames) {
  EXPECT_NE(OriginDirName("a/b"), OriginDirName("a_b"));
  EXPECT_EQ(OriginDirName("a/b").find('/'), std::string::npos);
  EXPECT_EQ(OriginDirName("../../etc").find('/'), std::string::npos);
}

TEST_F(MonitorConfigTest, WitnessUrlsAreGossipPeersAndKeysStayKeys) {
  NoteSigner w = *NoteSigner::Generate("w.example/witness");
  MonitorFlags f = OneLog();
  f.witnesses = {"https://w.example/", w.VerifierKey(), "http://127.0.0.1:7411"};
  f.witness_threshold = 1;
  absl::StatusOr<MonitorConfig> c = BuildMonitorConfig(f);
  ASSERT_TRUE(c.ok()) << c.status();
  const MonitoredLog& log = c->logs[0];
  EXPECT_EQ(log.witnesses.witnesses.size(), 1u);
  EXPECT_EQ(log.witnesses.threshold, 1u);
  ASSERT_EQ(log.peers.size(), 2u);
  EXPECT_EQ(log.peers[0].url, "https://w.example");  // no trailing slash
  EXPECT_EQ(log.peers[0].label, "w.example");
  EXPECT_FALSE(log.peers[0].witness.has_value());
  EXPECT_EQ(log.peers[1].label, "127.0.0.1:7411");
  f.witnesses = {"https://w.example", "https://w.example/"};
  f.witness_threshold = 0;
  ExpectError(BuildMonitorConfig(f), "--witness: peer https://w.example is listed twice");
  f.witnesses.clear();
  for (size_t i = 0; i <= kMaxGossipPeers; ++i) {
    f.witnesses.push_back(absl::StrCat("http://p", i, ".example"));
  }
  ExpectError(BuildMonitorConfig(f), "more than 64 gossip peers");
}

TEST_F(MonitorConfigTest, WitnessPolicyGivesQuorumPeersAndTheLogKey) {
  NoteSigner w1 = *NoteSigner::Generate("w1.example/witness");
  NoteSigner w2 = *NoteSigner::Generate("w2.example/witness");
  const std::string policy = WriteToml(absl::StrCat(
      "log ", a_.VerifierKey(), "\nwitness W1 ", w1.CosignatureVerifierKey(),
      " https://w1.example\nwitness W2 ", w2.CosignatureVerifierKey(), "\nquorum W1\n"));
  MonitorFlags f = OneLog();
  f.log_key.clear();  // from the policy's only log line
  f.witness_policy = policy;
  f.witnesses = {"http://other-monitor:7412"};
  absl::StatusOr<MonitorConfig> c = BuildMonitorConfig(f);
  ASSERT_TRUE(c.ok()) << c.status();
  const MonitoredLog& log = c->logs[0];
  EXPECT_EQ(log.key.vkey(), a_.VerifierKey());
  EXPECT_NE(log.witnesses.tlog_policy, nullptr);
  EXPECT_TRUE(log.witnesses.requires_cosignatures());
  ASSERT_EQ(log.peers.size(), 2u);
  EXPECT_EQ(log.peers[0].url, "http://other-monitor:7412");
  EXPECT_EQ(log.peers[1].url, "https://w1.example");
  EXPECT_EQ(log.peers[1].label, "W1");
  ASSERT_TRUE(log.peers[1].witness.has_value());
  EXPECT_EQ(log.peers[1].witness->vkey(), w1.CosignatureVerifierKey());

  // The witness's URL also given as a plain peer: it is the policy's witness.
  f.witnesses = {"https://w1.example/"};
  c = BuildMonitorConfig(f);
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_EQ(c->logs[0].peers.size(), 1u);
  EXPECT_EQ(c->logs[0].peers[0].label, "W1");
  EXPECT_TRUE(c->logs[0].peers[0].witness.has_value());

  f.witnesses = {w1.VerifierKey()};
  ExpectError(BuildMonitorConfig(f), "--witness-policy: the policy gives the witnesses");
  f.witnesses.clear();
  f.witness_threshold = 1;
  ExpectError(BuildMonitorConfig(f), "--witness-policy: the policy gives the witnesses");
  f.witness_threshold = 0;
  f.log_key = b_.VerifierKey();  // a log the policy does not list
  ExpectError(BuildMonitorConfig(f), "--witness-policy: the policy's log lines do not list");
  f.witness_policy = WriteToml("witness W1 x\nquorum W1\n");
  ExpectError(BuildMonitorConfig(f), "--witness-policy: " + f.witness_policy + ":1:");
  f.witness_policy = "/nonexistent/policy";
  ExpectError(BuildMonitorConfig(f), "--witness-policy");
}

TEST_F(MonitorConfigTest, TomlWitnessPolicyPerLogOrForAllAndHttpAddr) {
  NoteSigner w1 = *NoteSigner::Generate("w1.example/witness");
  const std::string both = WriteToml("") + ".w1.policy";
  std::ofstream(both) << "witness W1 " << w1.CosignatureVerifierKey()
                      << " https://w1.example/\nquorum W1\n";
  const std::string none = both + ".none";
  std::ofstream(none) << "quorum none\n";
  MonitorFlags f;
  f.config = WriteToml(absl::StrCat(
      "state_dir = \"/var/lib/m\"\nhttp_addr = \"127.0.0.1:7420\"\nwitness_policy = \"", both,
      "\"\n[[log]]\nurl = \"https://a.example/\"\nkey = \"", a_.VerifierKey(),
      "\"\n[[log]]\nurl = \"https://b.example/\"\nkey = \"", b_.VerifierKey(),
      "\"\nwitness_policy = \"", none, "\"\n"));
  absl::StatusOr<MonitorConfig> c = BuildMonitorConfig(f);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->http_addr, "127.0.0.1:7420");
  ASSERT_EQ(c->logs.size(), 2u);
  EXPECT_TRUE(c->logs[0].witnesses.requires_cosignatures());
  EXPECT_EQ(c->logs[0].peers.size(), 1u);
  EXPECT_FALSE(c->logs[1].witnesses.requires_cosignatures());
  EXPECT_TRUE(c->logs[1].peers.empty());
}

}  // namespace
}  // namespace infratrail
