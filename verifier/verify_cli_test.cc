// Drives the infratrail-verifier binary as a user would: writes a receipt,
// keys and an entry to a temporary directory and checks exit codes.
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "client/key_arg.h"  // kMaxKeyFileBytes
#include "core/compact_range.h"
#include "core/cosignature.h"
#include "core/proof.h"
#include "core/tlog_proof.h"
#include "gtest/gtest.h"
#include "verifier/limits.h"

namespace infratrail {
namespace {

namespace fs = std::filesystem;

class VerifyCli : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(::testing::TempDir()) /
           ("verify_cli_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
    Hasher h;
    CompactRange range;
    std::map<NodeId, Hash> nodes;
    for (int i = 0; i < 10; ++i) {
      entries_.push_back("{\"kind\":\"ACCESS\",\"n\":" + std::to_string(i) + "}");
      range.AppendLeaf(h.HashLeaf(entries_.back()), h,
                       [&](NodeId id, const Hash& x) { nodes[id] = x; });
    }
    Checkpoint cp{log_.name(), 10, *range.Root(h), {}};
    std::string note =
        *AddSignatures(*SignNote(cp.Body(), {log_}), {*Cosign(witness_, cp.Body(), 1763800000)});
    ProofPlan plan = *PlanInclusion(6, 10);
    std::vector<Hash> fetched;
    for (const NodeId& id : plan.nodes) fetched.push_back(nodes.at(id));
    Write("6.tlog-proof", TlogProof{std::nullopt, 6, *plan.Rehash(fetched, h), note}.Format());
    Write("entry6", entries_[6]);
    Write("entry5", entries_[5]);
    Write("log.vkey", log_.VerifierKey() + "\n");
    Write("witness.vkey", witness_.VerifierKey() + "\n");
  }
  void TearDown() override { fs::remove_all(dir_); }

  void Write(const std::string& name, const std::string& data) {
    std::ofstream(dir_ / name, std::ios::binary) << data;
  }
  std::string P(const std::string& name) { return (dir_ / name).string(); }

  int Run(const std::string& args) {
    const std::string cmd =
        std::string(INFRATRAIL_VERIFIER_BIN) + " " + args + " >" + P("out") + " 2>&1";
    const int rc = std::system(cmd.c_str());
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
  }
  std::string Output() {
    std::ifstream in(P("out"));
    return std::string(std::istreambuf_iterator<char>(in), {});
  }

  fs::path dir_;
  std::vector<std::string> entries_;
  NoteSigner log_ = *NoteSigner::FromSeed("cli.example/log", std::string(32, 'c'));
  NoteSigner witness_ = *NoteSigner::FromSeed("cli.example/witness", std::string(32, 'w'));
};

TEST_F(VerifyCli, GoodReceiptExitsZero) {
  EXPECT_EQ(
      Run("verify --log-key @" + P("log.vkey") + " --proof " + P("6.tlog-proof") + " --entry " +
          P("entry6") + " --witness @" + P("witness.vkey") + " --witness-threshold 1"),
      0)
      << Output();
  EXPECT_NE(Output().find("entry 6 is in cli.example/log at tree size 10"), std::string::npos);
}

TEST_F(VerifyCli, EitherFileCanBeStandardInputButNotBoth) {
  const std::string good = "verify --log-key @" + P("log.vkey");
  EXPECT_EQ(Run(good + " --proof - --entry " + P("entry6") + " <" + P("6.tlog-proof")), 0)
      << Output();
  EXPECT_EQ(Run(good + " --proof " + P("6.tlog-proof") + " --entry - <" + P("entry6")), 0)
      << Output();
  EXPECT_EQ(Run(good + " --proof " + P("6.tlog-proof") + " --entry - <" + P("entry5")), 1)
      << Output();
  EXPECT_EQ(Run(good + " --proof - --entry - <" + P("entry6")), 2);
  EXPECT_NE(Output().find("only one can be standard input"), std::string::npos) << Output();
}

TEST_F(VerifyCli, WrongEntryOrUnmetPolicyExitsOne) {
  EXPECT_EQ(Run("verify --log-key @" + P("log.vkey") + " --proof " + P("6.tlog-proof") +
                " --entry " + P("entry5")),
            1);
  EXPECT_NE(Output().find("FAILED"), std::string::npos);
  NoteSigner other = *NoteSigner::FromSeed("other.example/witness", std::string(32, 'o'));
  Write("other.vkey", other.VerifierKey());
  EXPECT_EQ(
      Run("verify --log-key @" + P("log.vkey") + " --proof " + P("6.tlog-proof") + " --entry " +
          P("entry6") + " --witness @" + P("other.vkey") + " --witness-threshold 1"),
      1);
  EXPECT_NE(Output().find("policy needs 1"), std::string::npos) << Output();
}

TEST_F(VerifyCli, TamperedReceiptExitsOne) {
  std::ifstream in(P("6.tlog-proof"));
  std::string text(std::istreambuf_iterator<char>(in), {});
  text.replace(text.find("index 6"), 7, "index 7");
  Write("bad.tlog-proof", text);
  EXPECT_EQ(Run("verify --log-key @" + P("log.vkey") + " --proof " + P("bad.tlog-proof") +
                " --entry " + P("entry6")),
            1);
}

TEST_F(VerifyCli, UsageErrorsExitTwoAndNameTheFlag) {
  EXPECT_EQ(Run("verify --proof " + P("6.tlog-proof") + " --entry " + P("entry6")), 2);
  EXPECT_NE(Output().find("--log-key"), std::string::npos);
  EXPECT_EQ(
      Run("verify --log-key not-a-key --proof " + P("6.tlog-proof") + " --entry " + P("entry6")),
      2);
  EXPECT_NE(Output().find("--log-key"), std::string::npos);
  EXPECT_EQ(Run("verify --log-key @" + P("log.vkey") + " --proof " + P("missing") + " --entry " +
                P("entry6")),
            2);
  EXPECT_EQ(Run("verify --log-key @" + P("log.vkey") + " --proof " + P("6.tlog-proof")), 2);
  EXPECT_EQ(Run("verify --log-key @" + P("log.vkey") + " --proof " + P("6.tlog-proof") +
                " --leaf-hash AAAA"),
            2);
  EXPECT_EQ(Run("verify --log-key @" + P("log.vkey") + " --proof " + P("6.tlog-proof") +
                " --entry " + P("entry6") + " --witness-threshold 3"),
            2);
  EXPECT_EQ(Run("--help"), 0);
}

std::string Limit(size_t bytes) {
  return ": larger than the limit of " + std::to_string(bytes) + " bytes";
}

// Documented as a usage error (2), not a failed verification (1).
TEST_F(VerifyCli, DirectoryInsteadOfAFileExitsTwo) {
  const std::string good = "verify --log-key @" + P("log.vkey");
  EXPECT_EQ(Run(good + " --proof " + dir_.string() + " --entry " + P("entry6")), 2);
  EXPECT_NE(Output().find("--proof: read " + dir_.string() + ": is a directory"), std::string::npos)
      << Output();
  EXPECT_EQ(Run(good + " --proof " + P("6.tlog-proof") + " --entry " + dir_.string()), 2);
  EXPECT_NE(Output().find("--entry: read " + dir_.string() + ": is a directory"), std::string::npos)
      << Output();
  EXPECT_EQ(Run("verify --log-key @" + dir_.string() + " --proof " + P("6.tlog-proof") +
                " --entry " + P("entry6")),
            2);
  EXPECT_NE(Output().find("--log-key: read " + dir_.string() + ": is a directory"),
            std::string::npos)
      << Output();
}

// One byte over each limit is refused before any of it is used; exactly the
// limit is read (and then fails or passes on its merits).
TEST_F(VerifyCli, OversizedInputsExitTwoNamingTheFileAndTheLimit) {
  const std::string good = "verify --log-key @" + P("log.vkey");
  std::ifstream in(P("6.tlog-proof"));
  const std::string receipt(std::istreambuf_iterator<char>(in), {});
  Write("big.tlog-proof", receipt + std::string(kMaxReceiptBytes + 1 - receipt.size(), '\n'));
  EXPECT_EQ(Run(good + " --proof " + P("big.tlog-proof") + " --entry " + P("entry6")), 2);
  EXPECT_NE(Output().find("--proof: read " + P("big.tlog-proof") + Limit(kMaxReceiptBytes)),
            std::string::npos)
      << Output();
  Write("max.tlog-proof", receipt + std::string(kMaxReceiptBytes - receipt.size(), '\n'));
  EXPECT_EQ(Run(good + " --proof " + P("max.tlog-proof") + " --entry " + P("entry6")), 1);

  Write("big-entry", std::string(kMaxEntryFileBytes + 1, 'e'));
  EXPECT_EQ(Run(good + " --proof " + P("6.tlog-proof") + " --entry " + P("big-entry")), 2);
  EXPECT_NE(Output().find("--entry: read " + P("big-entry") + Limit(kMaxEntryFileBytes)),
            std::string::npos)
      << Output();

  Write("big.vkey", log_.VerifierKey() + std::string(kMaxKeyFileBytes, '\n'));
  EXPECT_EQ(Run("verify --log-key @" + P("big.vkey") + " --proof " + P("6.tlog-proof") +
                " --entry " + P("entry6")),
            2);
  EXPECT_NE(Output().find("--log-key: read " + P("big.vkey") + Limit(kMaxKeyFileBytes)),
            std::string::npos)
      << Output();
  EXPECT_EQ(Run(good + " --proof " + P("6.tlog-proof") + " --entry " + P("entry6") +
                " --witness @" + P("big.vkey") + " --witness-threshold 1"),
            2);
  EXPECT_NE(Output().find("read " + P("big.vkey") + Limit(kMaxKeyFileBytes)), std::string::npos)
      << Output();
}

// Endless inputs stop at the limit (unbounded reads ran out of memory).
TEST_F(VerifyCli, EndlessInputsExitTwo) {
  const std::string good = "verify --log-key @" + P("log.vkey");
  EXPECT_EQ(Run(good + " --proof /dev/zero --entry " + P("entry6")), 2);
  EXPECT_NE(Output().find("--proof: read /dev/zero" + Limit(kMaxReceiptBytes)), std::string::npos)
      << Output();
  EXPECT_EQ(Run(good + " --proof " + P("6.tlog-proof") + " --entry /dev/zero"), 2);
  EXPECT_NE(Output().find("--entry: read /dev/zero" + Limit(kMaxEntryFileBytes)), std::string::npos)
      << Output();
  EXPECT_EQ(
      Run("verify --log-key @/dev/zero --proof " + P("6.tlog-proof") + " --entry " + P("entry6")),
      2);
  EXPECT_NE(Output().find("--log-key: read /dev/zero" + Limit(kMaxKeyFileBytes)), std::string::npos)
      << Output();
}

// --witness-policy: a C2SP tlog-policy gives the witnesses, the quorum and
// (without --log-key) the log key.
TEST_F(VerifyCli, WitnessPolicyGivesTheQuorumAndTheLogKey) {
  NoteSigner other_log = *NoteSigner::FromSeed("other.example/log", std::string(32, 'l'));
  const std::string witness = "witness W1 " + witness_.CosignatureVerifierKey() + "\n";
  Write("one.policy", "log " + log_.VerifierKey() + "\n" + witness + "quorum W1\n");
  const std::string receipt = " --proof " + P("6.tlog-proof") + " --entry " + P("entry6");
  EXPECT_EQ(Run("verify --witness-policy " + P("one.policy") + receipt), 0) << Output();
  EXPECT_NE(Output().find("cosigned by 1 witness(es): cli.example/witness"), std::string::npos)
      << Output();
  EXPECT_EQ(
      Run("verify --log-key @" + P("log.vkey") + " --witness-policy " + P("one.policy") + receipt),
      0)
      << Output();
  // Several logs: the one named as the receipt's origin.
  Write("two.policy", "log " + other_log.VerifierKey() + "\nlog " + log_.VerifierKey() + "\n" +
                          witness + "quorum W1\n");
  EXPECT_EQ(Run("verify --witness-policy " + P("two.policy") + receipt), 0) << Output();
  Write("others.policy",
        "log " + other_log.VerifierKey() + "\nlog " +
            NoteSigner::FromSeed("third.example/log", std::string(32, 't'))->VerifierKey() + "\n" +
            witness + "quorum W1\n");
  EXPECT_EQ(Run("verify --witness-policy " + P("others.policy") + receipt), 2);
  EXPECT_NE(Output().find("none of the policy's 2 log lines is named cli.example/log"),
            std::string::npos)
      << Output();
  // A --log-key the policy does not list.
  EXPECT_EQ(Run("verify --log-key @" + P("log.vkey") + " --witness-policy " + P("others.policy") +
                receipt),
            2);
  EXPECT_NE(Output().find("do not list"), std::string::npos) << Output();
}

TEST_F(VerifyCli, WitnessPolicyQuorumNotMetExitsOne) {
  NoteSigner other = *NoteSigner::FromSeed("other.example/witness", std::string(32, 'o'));
  Write("p", "log " + log_.VerifierKey() + "\nwitness W1 " + witness_.CosignatureVerifierKey() +
                 "\nwitness W2 " + other.CosignatureVerifierKey() + "\ngroup both all W1 W2\n" +
                 "quorum both\n");
  EXPECT_EQ(Run("verify --witness-policy " + P("p") + " --proof " + P("6.tlog-proof") +
                " --entry " + P("entry6")),
            1);
  EXPECT_NE(Output().find("quorum is not met (cosigned by cli.example/witness)"), std::string::npos)
      << Output();
}

TEST_F(VerifyCli, WitnessPolicyUsageErrorsExitTwo) {
  const std::string receipt = " --proof " + P("6.tlog-proof") + " --entry " + P("entry6");
  Write("p", "log " + log_.VerifierKey() + "\nwitness W1 " + witness_.CosignatureVerifierKey() +
                 "\nquorum W1\n");
  EXPECT_EQ(Run("verify --witness-policy " + P("p") + " --witness @" + P("witness.vkey") + receipt),
            2);
  EXPECT_NE(Output().find("not with --witness"), std::string::npos) << Output();
  EXPECT_EQ(Run("verify --witness-policy " + P("p") + " --witness-threshold 1" + receipt), 2);
  EXPECT_NE(Output().find("not with --witness"), std::string::npos) << Output();
  // Grammar errors name the file, line and column.
  Write("bad", "log " + log_.VerifierKey() + "\n  frobnicate x\nquorum none\n");
  EXPECT_EQ(Run("verify --witness-policy " + P("bad") + receipt), 2);
  EXPECT_NE(Output().find("--witness-policy: " + P("bad") + ":2:3: "), std::string::npos)
      << Output();
  EXPECT_EQ(Run("verify --witness-policy " + P("missing") + receipt), 2);
  EXPECT_NE(Output().find("--witness-policy"), std::string::npos) << Output();
  // No log line, no --log-key.
  Write("nolog", "witness W1 " + witness_.CosignatureVerifierKey() + "\nquorum W1\n");
  EXPECT_EQ(Run("verify --witness-policy " + P("nolog") + receipt), 2);
  EXPECT_NE(Output().find("--log-key not given, and --witness-policy " + P("nolog") +
                          ": the policy has no log line"),
            std::string::npos)
      << Output();
}

}  // namespace
}  // namespace infratrail
