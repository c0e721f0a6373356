// Drives the infratrail-verifier binary as a user would: writes a receipt,
// keys and an entry to a temporary directory and checks exit codes.
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "core/compact_range.h"
#include "core/cosignature.h"
#include "core/proof.h"
#include "core/tlog_proof.h"
#include "gtest/gtest.h"

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

}  // namespace
}  // namespace infratrail
