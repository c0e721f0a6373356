// infratrail-server with --witness-policy against real witness processes
// (`infratrail-verifier witness`): it publishes only checkpoints its quorum
// cosigned, keeps sequencing while the quorum cannot be met, brings a
// witness restarted with empty state up to date through the 409 size dance;
// a second server forked from a copy of its data directory cannot
// publish under the same witnesses, and freeze publishes only a cosigned
// final checkpoint.
#include <signal.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "core/checkpoint.h"
#include "core/io/file_util.h"
#include "core/note_key.h"
#include "core/tlog_policy.h"
#include "core/witness_policy.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/server/log_client.h"
#include "tests/server/server_process.h"
#include "tests/witness/witness_process.h"

namespace infratrail::testing {
namespace {

using ::testing::HasSubstr;

constexpr char kOrigin[] = "witnessed.example/log";

// One witness: its key, state directory and fixed port (so the policy's URL
// stays true across restarts).
struct Witness {
  std::string name;
  std::string key_file;
  std::string state_dir;
  std::string vkey;
  int port = 0;
  std::unique_ptr<WitnessProcess> process;
};

class WitnessedPublicationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<TempDir>> dir = TempDir::Create("witnessed");
    ASSERT_TRUE(dir.ok()) << dir.status();
    dir_ = *std::move(dir);
    absl::StatusOr<LogKey> key = MakeLogKey(dir_->path(), "log.key", kOrigin);
    ASSERT_TRUE(key.ok()) << key.status();
    log_key_ = *key;
    WriteFile(Path("logs.txt"), absl::StrCat("logs/v0\nvkey ", log_key_.verifier_key, "\n"));
  }

  std::string Path(const std::string& name) const { return dir_->path() + "/" + name; }
  static void WriteFile(const std::string& path, const std::string& text) {
    ASSERT_TRUE(WriteFileAtomic(path, text, 0644).ok()) << path;
  }

  // Makes a witness key and starts the witness on an ephemeral port.
  void AddWitness(const std::string& name) {
    Witness w;
    w.name = name;
    w.key_file = Path(name + ".key");
    w.state_dir = Path(name + "-state");
    WitnessCommand kg = RunWitnessCommand(
        dir_->path(),
        {"keygen", "--name", absl::StrCat("witness.example/", name), "--out", w.key_file});
    ASSERT_EQ(kg.rc, 0) << kg.err;
    witnesses_.push_back(std::move(w));
    StartWitness(witnesses_.size() - 1);
  }
  void StartWitness(size_t i) {
    Witness& w = witnesses_[i];
    w.process = std::make_unique<WitnessProcess>(
        dir_->path(),
        std::vector<std::string>{"--key", w.key_file, "--state-dir", w.state_dir, "--listen",
                                 absl::StrCat("127.0.0.1:", w.port), "--logs", Path("logs.txt")});
    ASSERT_TRUE(w.process->WaitListening()) << w.process->Stderr();
    w.vkey = w.process->vkey();
    if (w.port == 0) {
      const std::string url = w.process->url("");
      w.port = std::stoi(url.substr(url.rfind(':') + 1));
    }
  }
  void StopWitness(size_t i) {
    EXPECT_EQ(witnesses_[i].process->Exit(SIGTERM), 0);
    witnesses_[i].process.reset();
  }

  // The policy: every witness, `k` of them needed.
  std::string WritePolicy(const std::string& file, int k) {
    std::string text = absl::StrCat("# test policy\nlog ", log_key_.verifier_key, "\n");
    std::string members;
    for (const Witness& w : witnesses_) {
      absl::StrAppend(&text, "witness ", w.name, " ", w.vkey, " http://127.0.0.1:", w.port, "\n");
      absl::StrAppend(&members, " ", w.name);
    }
    absl::StrAppend(&text, "group quorum-group ", k, members, "\nquorum quorum-group\n");
    WriteFile(Path(file), text);
    absl::StatusOr<TlogPolicy> parsed = TlogPolicy::Parse(text, file);
    EXPECT_TRUE(parsed.ok()) << parsed.status();
    policy_ = WitnessPolicy::FromTlogPolicy(std::make_shared<const TlogPolicy>(*parsed));
    return Path(file);
  }

  std::unique_ptr<ServerProcess> StartServer(const std::string& data_dir,
                                             std::vector<std::string> extra) {
    ServerOptions o;
    o.data_dir = data_dir;
    o.signing_key = log_key_.key_file;
    o.extra_args = std::move(extra);
    absl::StatusOr<std::unique_ptr<ServerProcess>> s = ServerProcess::Start(dir_->path(), o);
    EXPECT_TRUE(s.ok()) << s.status();
    return s.ok() ? *std::move(s) : nullptr;
  }

  // Opens a served checkpoint under the policy.
  absl::StatusOr<VerifiedCheckpoint> OpenWitnessed(const std::string& note) {
    return OpenCheckpoint(note, *NoteVerifier::Parse(log_key_.verifier_key), policy_);
  }

  std::unique_ptr<TempDir> dir_;
  LogKey log_key_;
  std::vector<Witness> witnesses_;
  WitnessPolicy policy_;
};

TEST_F(WitnessedPublicationTest, TwoOfThreeQuorumStallResumeAndEmptyWitness) {
  for (const char* n : {"w1", "w2", "w3"}) ASSERT_NO_FATAL_FAILURE(AddWitness(n));
  const std::string policy = WritePolicy("policy.txt", 2);
  std::unique_ptr<ServerProcess> server =
      StartServer(Path("data"), {"--witness-policy", policy, "--witness-timeout-ms", "1000"});
  ASSERT_NE(server, nullptr);
  LogClient client(server->address());

  // Every checkpoint served carries the quorum.
  v1::AddEventsResponse resp;
  ASSERT_TRUE(client.AddEvents(MakeEvents(5), true, &resp).ok());
  absl::StatusOr<VerifiedCheckpoint> cp = OpenWitnessed(resp.checkpoint());
  ASSERT_TRUE(cp.ok()) << cp.status() << "\n" << resp.checkpoint();
  EXPECT_GE(cp->witness_count, 2u);
  EXPECT_GE(cp->checkpoint.size, 5u);
  EXPECT_TRUE(cp->checkpoint.extensions.empty());
  std::string note;
  ASSERT_TRUE(client.GetCheckpoint(&note).ok());
  ASSERT_TRUE(OpenWitnessed(note).ok()) << note;
  absl::StatusOr<std::string> http_note = HttpGet(server->http_port(), "/checkpoint");
  ASSERT_TRUE(http_note.ok());
  ASSERT_TRUE(OpenWitnessed(*http_note).ok()) << *http_note;

  // A receipt from the CLI carries the cosignatures, and verifies offline
  // under the same policy file (the policy's log line is the log key).
  {
    const std::string out = Path("add.out"), err = Path("add.err");
    absl::StatusOr<int> rc = RunProgram(
        {INFRATRAIL_CLI_BIN, "add", "--server", server->address(), "--wait", "--witness-policy",
         policy, "--receipt-dir", Path("receipts"), "--kind", "access", "--resource-id", "db-7",
         "--actor", "alice", "--justification", "INC-42"},
        out, err);
    ASSERT_EQ(rc.value_or(-1), 0) << ReadFileOrEmpty(err);
    const nlohmann::json line = nlohmann::json::parse(ReadFileOrEmpty(out));
    const std::string receipt =
        absl::StrCat(Path("receipts"), "/", line["index"].get<uint64_t>(), ".tlog-proof");
    rc = RunProgram({kVerifierBin, "verify", "--witness-policy", policy, "--proof", receipt,
                     "--leaf-hash", line["leaf_hash"].get<std::string>()},
                    Path("verify.out"), Path("verify.err"));
    EXPECT_EQ(rc.value_or(-1), 0) << ReadFileOrEmpty(Path("verify.err"));
    EXPECT_THAT(ReadFileOrEmpty(Path("verify.out")), HasSubstr("verified"));
    // Under a policy that needs all three, the same receipt is refused
    // unless all three cosigned it (the quorum is checked, not just read).
    const std::string all = WritePolicy("all.txt", 3);
    rc = RunProgram({kVerifierBin, "verify", "--witness-policy", all, "--proof", receipt,
                     "--leaf-hash", line["leaf_hash"].get<std::string>()},
                    Path("verify3.out"), Path("verify3.err"));
    absl::StatusOr<VerifiedCheckpoint> in_receipt =
        OpenWitnessed(ReadFileOrEmpty(receipt).substr(ReadFileOrEmpty(receipt).find("\n\n") + 2));
    EXPECT_EQ(rc.value_or(-1), in_receipt.ok() ? 0 : 1) << ReadFileOrEmpty(Path("verify3.err"));
    WritePolicy("policy.txt", 2);  // back to the server's policy_
  }

  // Two witnesses down: writes are still acknowledged, publication stalls
  // (the previous checkpoint stays served), a wait ends with a clear status.
  ASSERT_TRUE(client.GetCheckpoint(&note).ok());
  cp = OpenWitnessed(note);
  ASSERT_TRUE(cp.ok()) << cp.status();
  const uint64_t published = cp->checkpoint.size;
  StopWitness(1);
  StopWitness(2);
  ASSERT_TRUE(client.AddEvents(MakeEvents(3), false, &resp).ok());
  EXPECT_EQ(resp.entries_size(), 3);
  grpc::Status waited = client.AddEvents(MakeEvents(1), true, &resp);
  EXPECT_EQ(waited.error_code(), grpc::StatusCode::UNAVAILABLE) << waited.error_message();
  EXPECT_THAT(waited.error_message(), HasSubstr("publication stalled"));
  EXPECT_THAT(waited.error_message(), HasSubstr("w2:"));
  ASSERT_TRUE(client.GetCheckpoint(&note).ok());
  absl::StatusOr<VerifiedCheckpoint> still = OpenWitnessed(note);
  ASSERT_TRUE(still.ok()) << still.status();
  EXPECT_EQ(still->checkpoint.size, published);
  EXPECT_EQ(ScrapeMetric(server->metrics_port(), "infratrail_checkpoint_publication_stalled"), 1);
  HealthStatus health;
  ASSERT_TRUE(client.CheckHealth("infratrail.v1.Log", &health).ok());
  EXPECT_EQ(health, HealthResponse::SERVING);
  // The publication detail follows the server's one-second upkeep.
  for (int i = 0; i < 300; ++i) {
    ASSERT_TRUE(client.CheckHealth("infratrail.v1.Log/publication", &health).ok());
    if (health == HealthResponse::NOT_SERVING) break;
    absl::SleepFor(absl::Milliseconds(10));
  }
  EXPECT_EQ(health, HealthResponse::NOT_SERVING);

  // One witness back: the quorum is met again and everything acknowledged
  // is covered.
  ASSERT_NO_FATAL_FAILURE(StartWitness(1));
  grpc::Status resumed;
  for (int i = 0; i < 20; ++i) {  // a wait may end with a round that began before
    resumed = client.AddEvents(MakeEvents(1), true, &resp);
    if (resumed.ok()) break;
  }
  ASSERT_TRUE(resumed.ok()) << resumed.error_message();
  cp = OpenWitnessed(resp.checkpoint());
  ASSERT_TRUE(cp.ok()) << cp.status();
  EXPECT_GE(cp->checkpoint.size, published + 5);

  // w1 restarted with an empty state: the server sends its last known size,
  // learns 0 from the 409 and starts again from there. With w2 down, the
  // quorum needs w1, so a published checkpoint proves it cosigned.
  StopWitness(0);
  std::filesystem::remove_all(witnesses_[0].state_dir);
  ASSERT_NO_FATAL_FAILURE(StartWitness(0));
  StopWitness(1);
  ASSERT_NO_FATAL_FAILURE(StartWitness(2));
  for (int i = 0; i < 20; ++i) {
    resumed = client.AddEvents(MakeEvents(1), true, &resp);
    if (resumed.ok()) break;
  }
  ASSERT_TRUE(resumed.ok()) << resumed.error_message();
  cp = OpenWitnessed(resp.checkpoint());
  ASSERT_TRUE(cp.ok()) << cp.status();
  EXPECT_THAT(cp->witness_names, ::testing::Contains("witness.example/w1"));
  EXPECT_GE(
      ScrapeMetric(server->metrics_port(),
                   "infratrail_cosigning_requests_total{outcome=\"conflict\",witness=\"w1\"}"),
      1);
  EXPECT_EQ(server->Terminate().value_or(-1), 0) << server->Stderr();
}

TEST_F(WitnessedPublicationTest, AForkCannotPublishUnderTheQuorumAndGossipCatchesItsSplitView) {
  for (const char* n : {"w1", "w2", "w3"}) ASSERT_NO_FATAL_FAILURE(AddWitness(n));
  const std::string policy = WritePolicy("policy.txt", 2);
  const WitnessPolicy honest_policy = policy_;
  const std::vector<std::string> args = {"--witness-policy", policy};
  std::unique_ptr<ServerProcess> a = StartServer(Path("data-a"), args);
  ASSERT_NE(a, nullptr);
  v1::AddEventsResponse resp;
  {
    LogClient client(a->address());
    ASSERT_TRUE(client.AddEvents(MakeEvents(10), true, &resp).ok());
  }
  ASSERT_EQ(a->Terminate().value_or(-1), 0) << a->Stderr();
  // The fork: the data directory and signer state at this point, copied.
  std::filesystem::copy(Path("data-a"), Path("data-b"), std::filesystem::copy_options::recursive);
  std::filesystem::copy_file(log_key_.key_file + ".state", Path("b.state"));
  a = StartServer(Path("data-a"), args);
  ASSERT_NE(a, nullptr);
  LogClient honest_client(a->address());
  ASSERT_TRUE(honest_client.AddEvents(MakeEvents(10), true, &resp).ok());
  absl::StatusOr<VerifiedCheckpoint> honest = OpenWitnessed(resp.checkpoint());
  ASSERT_TRUE(honest.ok()) << honest.status();

  // The copy, fed other events under the same witnesses: acknowledged,
  // never published (every witness holds a larger tree than the copy's).
  std::vector<std::string> b_args = args;
  b_args.insert(b_args.end(), {"--signer-state", Path("b.state"), "--witness-timeout-ms", "1000"});
  std::unique_ptr<ServerProcess> b = StartServer(Path("data-b"), b_args);
  ASSERT_NE(b, nullptr);
  {
    LogClient client(b->address());
    ASSERT_TRUE(client.AddEvents(MakeEvents(15), false, &resp).ok());
    grpc::Status waited = client.AddEvents(MakeEvents(1), true, &resp);
    EXPECT_EQ(waited.error_code(), grpc::StatusCode::UNAVAILABLE) << waited.error_message();
    EXPECT_THAT(waited.error_message(), HasSubstr("publication stalled"));
    std::string note;
    ASSERT_TRUE(client.GetCheckpoint(&note).ok());
    absl::StatusOr<VerifiedCheckpoint> served = OpenWitnessed(note);
    ASSERT_TRUE(served.ok()) << served.status();
    EXPECT_LT(served->checkpoint.size, honest->checkpoint.size);  // the copy's, from before
  }
  EXPECT_EQ(
      ScrapeMetric(b->metrics_port(),
                   "infratrail_cosigning_requests_total{outcome=\"cosigned\",witness=\"w1\"}"),
      -1);
  EXPECT_THAT(b->Stderr(), HasSubstr("checkpoint publication stalled"));
  ASSERT_EQ(b->Terminate().value_or(-1), 0) << b->Stderr();

  // The same copy with --witness-fail-open and a fourth witness that never
  // saw the honest log: it publishes the fork, cosigned by that witness only.
  ASSERT_NO_FATAL_FAILURE(AddWitness("w4"));
  const std::string fork_policy = WritePolicy("fork-policy.txt", 2);
  b_args = {"--witness-policy",     fork_policy, "--signer-state",     Path("b.state"),
            "--witness-timeout-ms", "1000",      "--witness-fail-open"};
  b = StartServer(Path("data-b"), b_args);
  ASSERT_NE(b, nullptr);
  uint64_t fork_size = 0;
  {
    LogClient client(b->address());
    ASSERT_TRUE(client.AddEvents(MakeEvents(3), true, &resp).ok());
    absl::StatusOr<Checkpoint> fork = OpenLogCheckpoint(resp.checkpoint(), log_key_.verifier_key);
    ASSERT_TRUE(fork.ok()) << fork.status();
    fork_size = fork->size;
    EXPECT_FALSE(OpenCheckpoint(resp.checkpoint(), *NoteVerifier::Parse(log_key_.verifier_key),
                                honest_policy)
                     .ok());  // not under the honest quorum
  }
  EXPECT_GE(ScrapeMetric(b->metrics_port(), "infratrail_checkpoint_published_without_quorum_total"),
            1);
  // The honest log grows past the fork's size, so a monitor following it
  // can ask it for a proof from the fork's size.
  ASSERT_TRUE(
      honest_client.AddEvents(MakeEvents(static_cast<size_t>(fork_size)), true, &resp).ok());

  // A monitor of the honest log, requiring the honest quorum, gossiping with
  // the fourth witness: a CRITICAL split view, with both notes as evidence.
  const std::string state = Path("monitor");
  const std::string out = Path("monitor.out"), err = Path("monitor.err");
  absl::StatusOr<int> rc =
      RunProgram({kVerifierBin, "monitor", "--once", "--log",
                  absl::StrCat("http://127.0.0.1:", a->http_port()), "--log-key",
                  log_key_.verifier_key, "--witness-policy", policy, "--witness",
                  absl::StrCat("http://127.0.0.1:", witnesses_[3].port), "--state-dir", state,
                  "--progress", "never", "--timeout", "5s"},
                 out, err, absl::Seconds(120));
  ASSERT_TRUE(rc.ok()) << rc.status();
  EXPECT_EQ(*rc, 1) << ReadFileOrEmpty(err);
  const std::string findings = ReadFileOrEmpty(out);
  EXPECT_THAT(findings, HasSubstr("log.split_view")) << findings << ReadFileOrEmpty(err);
  EXPECT_THAT(findings, HasSubstr("CRITICAL"));
  bool evidence = false;
  for (const auto& e : std::filesystem::recursive_directory_iterator(state)) {
    if (e.path().filename() == "peer.checkpoint") {
      const std::string peer = ReadFileOrEmpty(e.path().string());
      absl::StatusOr<Checkpoint> cp = OpenLogCheckpoint(peer, log_key_.verifier_key);
      ASSERT_TRUE(cp.ok()) << cp.status();
      EXPECT_EQ(cp->size, fork_size);
      evidence = std::filesystem::exists(e.path().parent_path() / "monitor.checkpoint");
    }
  }
  EXPECT_TRUE(evidence) << "no peer.checkpoint + monitor.checkpoint evidence under " << state;
}

TEST_F(WitnessedPublicationTest, PolicyErrorsAreRefusedAtStartWithLineAndColumn) {
  ASSERT_NO_FATAL_FAILURE(AddWitness("w1"));
  WriteFile(Path("bad.txt"), absl::StrCat("witness w1 ", witnesses_[0].process->vkey(),
                                          " http://127.0.0.1:1\ngroup g 2 w1\nquorum g\n"));
  ServerOptions o;
  o.data_dir = Path("data");
  o.signing_key = log_key_.key_file;
  o.extra_args = {"--witness-policy", Path("bad.txt")};
  absl::StatusOr<std::unique_ptr<ServerProcess>> s = ServerProcess::Spawn(dir_->path(), o);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ((*s)->WaitExit(absl::Seconds(30)).value_or(-1), 2);
  EXPECT_THAT((*s)->Stderr(), HasSubstr("bad.txt:2:9:"));
  // A policy whose log lines are another log's.
  WriteFile(Path("other.txt"),
            absl::StrCat("log ", NoteSigner::Generate("other.example/log")->VerifierKey(),
                         "\nwitness w1 ", witnesses_[0].process->vkey(),
                         " http://127.0.0.1:1\nquorum w1\n"));
  o.extra_args = {"--witness-policy", Path("other.txt")};
  s = ServerProcess::Spawn(dir_->path(), o);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ((*s)->WaitExit(absl::Seconds(30)).value_or(-1), 2);
  EXPECT_THAT((*s)->Stderr(), HasSubstr("none of its log lines is this log's key"));
}

// Freezing a witnessed log: the final checkpoint must carry the quorum, or
// nothing is frozen. With the witness down, freeze fails and leaves the log
// unfrozen (else the second freeze would be refused as "already frozen");
// with it back, freeze prints a cosigned checkpoint of the whole tree, and
// the restarted log serves exactly that and refuses writes.
TEST_F(WitnessedPublicationTest, FreezePublishesOnlyACosignedFinalCheckpoint) {
  ASSERT_NO_FATAL_FAILURE(AddWitness("w1"));
  const std::string policy = WritePolicy("policy.txt", 1);
  const std::vector<std::string> witnessed = {"--witness-policy", policy, "--witness-timeout-ms",
                                              "500"};
  auto run_freeze = [&](const std::string& name, const std::string& timeout_s) {
    std::vector<std::string> args = {INFRATRAIL_SERVER_BIN, "--data-dir", Path("data"),
                                     "--signing-key", log_key_.key_file};
    args.insert(args.end(), witnessed.begin(), witnessed.end());
    args.insert(args.end(),
                {"freeze", "--successor", "witnessed.example/log-2", "--timeout-s", timeout_s});
    return RunProgram(args, Path(name + ".out"), Path(name + ".err"), absl::Seconds(120))
        .value_or(-1);
  };
  const uint64_t size = 25;
  {
    std::unique_ptr<ServerProcess> server = StartServer(Path("data"), witnessed);
    ASSERT_NE(server, nullptr);
    {
      LogClient client(server->address());
      v1::AddEventsResponse resp;
      ASSERT_TRUE(client.AddEvents(MakeEvents(20), true, &resp).ok());
      StopWitness(0);
      // Acknowledged, but no witness can cosign a checkpoint covering it.
      ASSERT_TRUE(client.AddEvents(MakeEvents(size - 20), false, &resp).ok());
    }
    ASSERT_EQ(server->Terminate().value_or(-1), 0) << server->Stderr();
  }
  // No quorum: not frozen, and said so.
  EXPECT_EQ(run_freeze("down", "2"), 1);
  EXPECT_THAT(ReadFileOrEmpty(Path("down.err")), HasSubstr("NOT frozen"));
  EXPECT_EQ(ReadFileOrEmpty(Path("down.out")), "");

  ASSERT_NO_FATAL_FAILURE(StartWitness(0));
  ASSERT_EQ(run_freeze("up", "60"), 0) << ReadFileOrEmpty(Path("up.err"));
  const std::string final_note = ReadFileOrEmpty(Path("up.out"));
  absl::StatusOr<VerifiedCheckpoint> final_cp = OpenWitnessed(final_note);
  ASSERT_TRUE(final_cp.ok()) << final_cp.status() << "\n" << final_note;
  EXPECT_EQ(final_cp->checkpoint.size, size);
  EXPECT_THAT(final_cp->witness_names, ::testing::Contains("witness.example/w1"));

  std::unique_ptr<ServerProcess> server = StartServer(Path("data"), witnessed);
  ASSERT_NE(server, nullptr);
  {
    LogClient client(server->address());
    v1::AddEventsResponse resp;
    grpc::Status st = client.AddEvents(MakeEvents(1), false, &resp);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << st.error_message();
    EXPECT_THAT(st.error_message(), HasSubstr("witnessed.example/log-2"));
    std::string note;
    ASSERT_TRUE(client.GetCheckpoint(&note).ok());
    absl::StatusOr<VerifiedCheckpoint> served = OpenWitnessed(note);
    ASSERT_TRUE(served.ok()) << served.status();
    EXPECT_EQ(served->checkpoint.size, size);
    EXPECT_EQ(served->checkpoint.root, final_cp->checkpoint.root);
  }  // closed first: an idle client connection holds up gRPC's drain
  EXPECT_EQ(server->Terminate().value_or(-1), 0) << server->Stderr();
}

}  // namespace
}  // namespace infratrail::testing
