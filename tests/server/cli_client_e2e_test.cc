// The full `infratrail` CLI against a real server, as an operator and an
// auditor run it: events built from flags, a 10,000-line import with
// verified receipts, an import that survives the server being killed and
// restarted under it, emitter signatures, and the read subcommands
// (checkpoint, prove, consistency, get) with their exit codes.
#include <google/protobuf/util/json_util.h>

#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "client/emitter_signature.h"
#include "client/event_flags.h"
#include "core/checkpoint.h"
#include "core/hash.h"
#include "core/note.h"
#include "core/note_key.h"
#include "core/proof.h"
#include "core/tlog_proof.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/server/cli_fixture.h"

namespace infratrail::testing {
namespace {

// Input line i of the generated imports (distinct for distinct i).
std::string JsonEvent(int i) {
  return absl::StrCat(R"({"kind":"PROVISION","resource":{"provider":"aws","type":"vm","id":"i-)", i,
                      R"("},"actor":{"principal":"terraform@ci","via":"IAC"},)",
                      R"("attributes":{"region":"eu-west-1","batch":"e2e"}})");
}

// The entry bytes the CLI sends for a JSON line.
std::string EntryBytes(const std::string& json) {
  v1::InfraEvent event;
  EXPECT_TRUE(google::protobuf::util::JsonStringToMessage(json, &event).ok()) << json;
  return SerializeEvent(event);
}

struct ResultLine {
  uint64_t index = 0;
  Hash leaf{};
  bool duplicate = false;
};

ResultLine ParseResult(const std::string& line) {
  const nlohmann::json j = nlohmann::json::parse(line);
  ResultLine r;
  r.index = j.at("index").get<uint64_t>();
  absl::StatusOr<Hash> h = HashFromBase64(j.at("leaf_hash").get<std::string>(), "leaf_hash");
  EXPECT_TRUE(h.ok()) << line;
  if (h.ok()) r.leaf = *h;
  r.duplicate = j.at("duplicate").get<bool>();
  return r;
}

class CliClientTest : public CliTest {
 protected:
  void SetUp() override {
    CliTest::SetUp();
    if (HasFatalFailure()) return;
    log_key_file_ = Write("log.vkey", vkey() + "\n");
  }

  // An import file of events [first, first + n) and its lines.
  std::string ImportFile(const std::string& name, int first, int n,
                         std::vector<std::string>* lines) {
    std::string text;
    for (int i = first; i < first + n; ++i) {
      lines->push_back(JsonEvent(i));
      absl::StrAppend(&text, lines->back(), "\n");
    }
    return Write(name, text);
  }
  // Every entry of the log at `address`, through the test's own client,
  // once a checkpoint covers at least `at_least` entries (acknowledged
  // entries are published within the checkpoint interval).
  std::vector<std::string> AllEntries(const std::string& address, uint64_t at_least) {
    LogClient client(address);
    absl::StatusOr<Checkpoint> cp;
    const absl::Time give_up = absl::Now() + absl::Seconds(30);
    do {
      std::string note;
      EXPECT_TRUE(client.GetCheckpoint(&note).ok());
      cp = Checkpoint::Parse(ParseNote(note)->text);
      EXPECT_TRUE(cp.ok()) << cp.status();
    } while (cp.ok() && cp->size < at_least && absl::Now() < give_up);
    std::vector<std::string> entries;
    if (cp.ok() && cp->size > 0) {
      EXPECT_TRUE(client.ReadRange(0, cp->size, &entries).ok());
    }
    return entries;
  }

  std::string log_key_file_;
};

TEST_F(CliClientTest, AddFromFlagsBuildsTheEventThatGetShows) {
  auto server = StartServer();
  ASSERT_NE(server, nullptr);
  const std::string digest = "sha256:" + std::string(64, 'a');
  ASSERT_EQ(Cli({"add",
                 "--server",
                 server->address(),
                 "--kind",
                 "deploy",
                 "--resource-id",
                 "svc-checkout",
                 "--resource-type",
                 "k8s-deployment",
                 "--provider",
                 "gke-prod",
                 "--actor",
                 "ci@example.com",
                 "--via",
                 "ci",
                 "--digest",
                 digest,
                 "--repo",
                 "github.com/example/checkout",
                 "--commit",
                 "4f2a",
                 "--attr",
                 "env=prod",
                 "--attr",
                 "region=eu",
                 "--wait",
                 "--log-key",
                 "@" + log_key_file_}),
            0)
      << err_;
  ASSERT_EQ(Lines(out_).size(), 1u) << out_;
  EXPECT_EQ(ParseResult(Lines(out_)[0]).index, 0u);

  ASSERT_EQ(Cli({"get", "--server", server->address(), "--from", "0"}), 0) << err_;
  ASSERT_EQ(Lines(out_).size(), 1u) << out_;
  const nlohmann::json j = nlohmann::json::parse(Lines(out_)[0]);
  EXPECT_EQ(j.at("index"), 0);
  const nlohmann::json& e = j.at("event");
  EXPECT_EQ(e.at("kind"), "DEPLOY");
  EXPECT_EQ(e.at("resource").at("id"), "svc-checkout");
  EXPECT_EQ(e.at("resource").at("provider"), "gke-prod");
  EXPECT_EQ(e.at("actor").at("via"), "CI");
  EXPECT_EQ(e.at("artifactDigest"), digest);
  EXPECT_EQ(e.at("source").at("repository"), "github.com/example/checkout");
  EXPECT_EQ(e.at("attributes").at("env"), "prod");
  EXPECT_TRUE(e.contains("occurredAt"));
  // The leaf hash `get` prints is the one `add` printed.
  EXPECT_EQ(
      j.at("leaf_hash"),
      nlohmann::json::parse(Lines(ReadFileOrEmpty(dir_->path() + "/cli.out"))[0]).at("leaf_hash"));
}

TEST_F(CliClientTest, BadEventFlagsAreUsageErrorsNamingTheFlag) {
  auto server = StartServer();
  ASSERT_NE(server, nullptr);
  const std::string file = Write("one.jsonl", JsonEvent(1) + "\n");
  struct Case {
    std::vector<std::string> args;
    std::string flag;
  };
  for (const Case& c : std::vector<Case>{
           {{"--kind", "provisoin", "--resource-id", "x"}, "--kind"},
           {{"--kind", "access"}, "--resource-id"},
           {{"--kind", "deploy", "--resource-id", "x", "--digest", "md5:00"}, "--digest"},
           {{"--kind", "access", "--resource-id", "x", "--attr", "novalue"}, "--attr"},
           {{"--kind", "access", "--resource-id", "x", "--file", file}, "--file"},
           {{"--kind", "access", "--resource-id", "x", "--wait"}, "--log-key"},
           {{"--kind", "access", "--resource-id", "x", "--linger", "soon"}, "--linger"},
           {{"--kind", "access", "--resource-id", "x", "--sign-key", "/nonexistent"}, "--sign-key"},
       }) {
    std::vector<std::string> args = {"add", "--server", server->address()};
    args.insert(args.end(), c.args.begin(), c.args.end());
    EXPECT_EQ(Cli(args), 2) << c.flag;
    EXPECT_TRUE(absl::StrContains(err_, c.flag)) << c.flag << ": " << err_;
    EXPECT_TRUE(out_.empty()) << out_;
  }
  // None of them added anything.
  EXPECT_TRUE(AllEntries(server->address(), 0).empty());
}

TEST_F(CliClientTest, AnEventTheLogWouldRefuseStopsTheImportNamingLineAndField) {
  auto server = StartServer();
  ASSERT_NE(server, nullptr);
  // Valid JSON and a valid InfraEvent, but without the resource id the log
  // requires: refused before it is sent, after the line before it is.
  const std::string file =
      Write("e.jsonl", JsonEvent(1) + "\n" + R"({"kind":"ACCESS","actor":{"principal":"a"}})" +
                           "\n" + JsonEvent(3) + "\n");
  EXPECT_EQ(Cli({"add", "--server", server->address(), "--file", file}), 2);
  EXPECT_TRUE(absl::StrContains(err_, "line 2: event.resource.id: missing")) << err_;
  ASSERT_EQ(Lines(out_).size(), 1u) << out_;
  EXPECT_EQ(AllEntries(server->address(), 1).size(), 1u);
}

TEST_F(CliClientTest, TenThousandLinesWithWaitGiveOneVerifiedReceiptEach) {
  auto server = StartServer();
  ASSERT_NE(server, nullptr);
  std::vector<std::string> lines;
  const std::string file = ImportFile("10k.jsonl", 0, 10000, &lines);
  const std::string receipts = dir_->path() + "/receipts";
  ASSERT_EQ(Cli({"add", "--server", server->address(), "--file", file, "--wait", "--log-key",
                 "@" + log_key_file_, "--receipt-dir", receipts}),
            0)
      << err_;
  // Not a terminal: no progress output.
  EXPECT_TRUE(err_.empty()) << err_;
  const std::vector<std::string> out = Lines(out_);
  ASSERT_EQ(out.size(), lines.size());
  absl::StatusOr<NoteVerifier> log_key = NoteVerifier::Parse(vkey());
  ASSERT_TRUE(log_key.ok());
  std::set<uint64_t> indices;
  const std::vector<std::string> entries = AllEntries(server->address(), lines.size());
  ASSERT_EQ(entries.size(), lines.size());
  for (size_t i = 0; i < out.size(); ++i) {
    const ResultLine r = ParseResult(out[i]);
    const std::string bytes = EntryBytes(lines[i]);
    ASSERT_EQ(r.leaf, HashLeaf(bytes)) << "line " << i + 1;
    ASSERT_FALSE(r.duplicate);
    ASSERT_LT(r.index, entries.size());
    ASSERT_EQ(entries[r.index], bytes) << "line " << i + 1;
    indices.insert(r.index);
    // The receipt, verified offline with core/ alone.
    absl::StatusOr<TlogProof> proof =
        TlogProof::Parse(ReadFileOrEmpty(absl::StrCat(receipts, "/", r.index, ".tlog-proof")));
    ASSERT_TRUE(proof.ok()) << "line " << i + 1 << ": " << proof.status();
    ASSERT_EQ(proof->index, r.index);
    ASSERT_TRUE(VerifyTlogProof(*proof, r.leaf, *log_key, WitnessPolicy{}).ok())
        << "line " << i + 1;
  }
  EXPECT_EQ(indices.size(), lines.size());
}

TEST_F(CliClientTest, KillingTheServerMidImportLosesNothingAndDuplicatesNothing) {
  auto server = StartServer();
  ASSERT_NE(server, nullptr);
  const int port = server->grpc_port();
  std::vector<std::string> lines;
  const int kEvents = 30000;
  const std::string file = ImportFile("30k.jsonl", 0, kEvents, &lines);
  const std::string out_path = dir_->path() + "/import.out";
  const std::string err_path = dir_->path() + "/import.err";
  // Small batches so that the import is still running when the server dies.
  absl::StatusOr<pid_t> cli =
      SpawnChild({INFRATRAIL_CLI_BIN, "add", "--server", server->address(), "--file", file,
                  "--batch", "50", "--in-flight", "4", "--retry-for", "60s", "--timeout", "5s"},
                 out_path, err_path);
  ASSERT_TRUE(cli.ok()) << cli.status();
  // Kill -9 once the import is under way (some results printed).
  const absl::Time give_up = absl::Now() + absl::Seconds(60);
  while (Lines(ReadFileOrEmpty(out_path)).size() < 1000 && absl::Now() < give_up) {
    absl::SleepFor(absl::Milliseconds(1));
  }
  const size_t printed_before_kill = Lines(ReadFileOrEmpty(out_path)).size();
  ASSERT_GE(printed_before_kill, 1000u);
  ASSERT_TRUE(server->Kill().ok());
  server.reset();
  // The same data, key and port.
  ServerOptions restart = Options();
  restart.grpc_addr = absl::StrCat("127.0.0.1:", port);
  absl::StatusOr<std::unique_ptr<ServerProcess>> again =
      ServerProcess::Start(dir_->path(), restart);
  ASSERT_TRUE(again.ok()) << again.status();
  absl::StatusOr<int> rc = WaitPid(*cli, absl::Seconds(120));
  ASSERT_TRUE(rc.ok()) << rc.status();
  ASSERT_EQ(*rc, 0) << ReadFileOrEmpty(err_path);
  EXPECT_LT(printed_before_kill, static_cast<size_t>(kEvents))
      << "the import ended before the kill";
  // The CLI told the user it was retrying.
  EXPECT_TRUE(absl::StrContains(ReadFileOrEmpty(err_path), "retrying"))
      << ReadFileOrEmpty(err_path);

  const std::vector<std::string> out = Lines(ReadFileOrEmpty(out_path));
  ASSERT_EQ(out.size(), lines.size());
  const std::vector<std::string> entries = AllEntries((*again)->address(), lines.size());
  // Nothing duplicated: the log holds exactly the input's events...
  ASSERT_EQ(entries.size(), lines.size());
  std::set<uint64_t> indices;
  size_t duplicates = 0;
  for (size_t i = 0; i < out.size(); ++i) {
    const ResultLine r = ParseResult(out[i]);
    // ...and nothing lost: each line's reported index holds its bytes.
    ASSERT_LT(r.index, entries.size()) << "line " << i + 1;
    ASSERT_EQ(entries[r.index], EntryBytes(lines[i])) << "line " << i + 1;
    indices.insert(r.index);
    duplicates += r.duplicate ? 1 : 0;
  }
  EXPECT_EQ(indices.size(), lines.size());
  // A batch whose reply was lost comes back marked duplicate, with its
  // original index; that is at most what was in flight at the kill.
  EXPECT_LE(duplicates, 4u * 50u);
}

TEST_F(CliClientTest, EmitterSignedEventsVerifyUnderTheEmitterKey) {
  auto server = StartServer();
  ASSERT_NE(server, nullptr);
  const std::string emitter_key = dir_->path() + "/emitter.key";
  ASSERT_EQ(Cli({"keygen", "--origin", "bridge.cloud.example/emitter", "--out", emitter_key}), 0)
      << err_;
  absl::StatusOr<NoteVerifier> emitter = NoteVerifier::Parse(Lines(out_).at(0));
  ASSERT_TRUE(emitter.ok()) << emitter.status();
  ASSERT_EQ(
      Cli({"add", "--server", server->address(), "--sign-key", emitter_key, "--kind", "access",
           "--resource-id", "db-7", "--actor", "alice", "--justification", "INC-42 on-call"}),
      0)
      << err_;
  const std::vector<std::string> entries = AllEntries(server->address(), 1);
  ASSERT_EQ(entries.size(), 1u);
  absl::StatusOr<std::vector<EmitterSignatureCheck>> checks =
      CheckEmitterSignatures(entries[0], {*emitter});
  ASSERT_TRUE(checks.ok()) << checks.status();
  ASSERT_EQ(checks->size(), 1u);
  EXPECT_EQ((*checks)[0].result, EmitterSignatureResult::kVerified);
  EXPECT_EQ((*checks)[0].key_name, "bridge.cloud.example/emitter");
  // The log's own key is not the emitter's.
  absl::StatusOr<NoteVerifier> log_key = NoteVerifier::Parse(vkey());
  checks = CheckEmitterSignatures(entries[0], {*log_key});
  ASSERT_TRUE(checks.ok());
  EXPECT_EQ((*checks)[0].result, EmitterSignatureResult::kUnknownKey);
}

TEST_F(CliClientTest, CheckpointProveConsistencyAndGetVerifyWhatTheyPrint) {
  auto server = StartServer();
  ASSERT_NE(server, nullptr);
  const std::string addr = server->address();
  const std::string key = "@" + log_key_file_;
  std::vector<std::string> lines;
  ASSERT_EQ(Cli({"add", "--server", addr, "--file", ImportFile("a.jsonl", 0, 100, &lines), "--wait",
                 "--log-key", key}),
            0)
      << err_;
  ASSERT_EQ(Cli({"checkpoint", "--server", addr, "--log-key", key}), 0) << err_;
  const std::string saved = Write("cp-100", out_);
  absl::StatusOr<Checkpoint> cp100 = Checkpoint::Parse(ParseNote(out_)->text);
  ASSERT_TRUE(cp100.ok());
  ASSERT_EQ(cp100->size, 100u);
  ASSERT_EQ(Cli({"add", "--server", addr, "--file", ImportFile("b.jsonl", 100, 157, &lines),
                 "--wait", "--log-key", key}),
            0)
      << err_;
  const std::vector<std::string> entries = AllEntries(addr, 257);
  ASSERT_EQ(entries.size(), 257u);

  // checkpoint: without a key it still prints, and says it did not verify.
  ASSERT_EQ(Cli({"checkpoint", "--server", addr}), 0) << err_;
  EXPECT_TRUE(absl::StrContains(err_, "not verified")) << err_;
  // A wrong log key is a verification failure.
  NoteSigner other = *NoteSigner::Generate(std::string(kOrigin));
  EXPECT_EQ(Cli({"checkpoint", "--server", addr, "--log-key", other.VerifierKey()}), 1);

  // prove by index, to a file: a receipt that verifies offline.
  const std::string receipt = dir_->path() + "/7.tlog-proof";
  ASSERT_EQ(Cli({"prove", "--server", addr, "--log-key", key, "--index", "7", "--out", receipt}), 0)
      << err_;
  absl::StatusOr<NoteVerifier> log_key = NoteVerifier::Parse(vkey());
  absl::StatusOr<TlogProof> proof = TlogProof::Parse(ReadFileOrEmpty(receipt));
  ASSERT_TRUE(proof.ok()) << proof.status();
  EXPECT_TRUE(VerifyTlogProof(*proof, HashLeaf(entries[7]), *log_key, WitnessPolicy{}).ok());
  // prove by leaf hash against the saved size-100 checkpoint, to stdout.
  ASSERT_EQ(Cli({"prove", "--server", addr, "--log-key", key, "--leaf-hash",
                 HashToBase64(HashLeaf(entries[42])), "--checkpoint", saved}),
            0)
      << err_;
  proof = TlogProof::Parse(out_);
  ASSERT_TRUE(proof.ok()) << proof.status();
  EXPECT_EQ(proof->index, 42u);
  EXPECT_EQ(proof->checkpoint, ReadFileOrEmpty(saved));
  EXPECT_TRUE(VerifyTlogProof(*proof, HashLeaf(entries[42]), *log_key, WitnessPolicy{}).ok());
  // Refusals: out of range (2), an entry not in the older checkpoint (2),
  // no log key (2), a size with no checkpoint to hand (2).
  EXPECT_EQ(Cli({"prove", "--server", addr, "--log-key", key, "--index", "257"}), 2);
  EXPECT_EQ(
      Cli({"prove", "--server", addr, "--log-key", key, "--index", "150", "--checkpoint", saved}),
      2);
  EXPECT_EQ(Cli({"prove", "--server", addr, "--index", "1"}), 2);
  EXPECT_TRUE(absl::StrContains(err_, "--log-key")) << err_;
  EXPECT_EQ(Cli({"prove", "--server", addr, "--log-key", key, "--index", "1", "--size", "50"}), 2);
  EXPECT_TRUE(absl::StrContains(err_, "--size")) << err_;

  // consistency --from: the printed proof links the first 10 entries' root
  // (computed here from the entries) to the latest checkpoint.
  ASSERT_EQ(Cli({"consistency", "--server", addr, "--log-key", key, "--from", "10"}), 0) << err_;
  std::vector<Hash> hashes;
  for (const std::string& l : Lines(out_)) hashes.push_back(*HashFromBase64(l, "proof"));
  const std::vector<std::string> first10(entries.begin(), entries.begin() + 10);
  Hasher hasher;
  EXPECT_TRUE(
      VerifyConsistency(10, 257, RootOfEntries(first10), RootOfEntries(entries), hashes, hasher)
          .ok());
  // consistency --old: the saved checkpoint is still a prefix of the log.
  EXPECT_EQ(Cli({"consistency", "--server", addr, "--log-key", key, "--old", saved}), 0) << err_;
  // A forged size-100 checkpoint (a fork) is caught: exit 1.
  Checkpoint forged = *cp100;
  forged.root = HashLeaf("not the log");
  const NoteSigner log_signer =
      *NoteSigner::Parse(std::string(absl::StripAsciiWhitespace(ReadFileOrEmpty(key_.key_file))));
  const std::string forged_file = Write("forged", *SignNote(forged.Body(), {log_signer}));
  EXPECT_EQ(Cli({"consistency", "--server", addr, "--log-key", key, "--old", forged_file}), 1);
  EXPECT_TRUE(absl::StrContains(err_, "fork") || absl::StrContains(err_, "prefix")) << err_;

  // get: a range, in order, each with the entry's event. (Batches in
  // flight may be sequenced in either order, so compare with the log's
  // entries, not the file's lines.)
  ASSERT_EQ(Cli({"get", "--server", addr, "--from", "250", "--count", "20"}), 0) << err_;
  const std::vector<std::string> got = Lines(out_);
  ASSERT_EQ(got.size(), 7u);  // 250..256: the rest are beyond the log
  for (size_t i = 0; i < got.size(); ++i) {
    const nlohmann::json j = nlohmann::json::parse(got[i]);
    EXPECT_EQ(j.at("index"), 250 + i);
    v1::InfraEvent stored;
    ASSERT_TRUE(stored.ParseFromString(entries[250 + i]));
    EXPECT_EQ(j.at("event").at("resource").at("id"), stored.resource().id());
    EXPECT_EQ(j.at("leaf_hash"), HashToBase64(HashLeaf(entries[250 + i])));
  }
  EXPECT_EQ(Cli({"get", "--server", addr, "--from", "9999"}), 2);
}

TEST_F(CliClientTest, ProgressGoesToStderrOnlyWhenAsked) {
  auto server = StartServer();
  ASSERT_NE(server, nullptr);
  std::vector<std::string> lines;
  const std::string file = ImportFile("p.jsonl", 0, 500, &lines);
  ASSERT_EQ(Cli({"add", "--server", server->address(), "--file", file, "--progress", "always"}), 0)
      << err_;
  EXPECT_TRUE(absl::StrContains(err_, "500 events")) << err_;
  EXPECT_EQ(Lines(out_).size(), 500u);
  ASSERT_EQ(Cli({"add", "--server", server->address(), "--file", file}), 0) << err_;
  EXPECT_TRUE(err_.empty()) << err_;
}

TEST_F(CliClientTest, TheExampleProgramRecordsASignedDeployWithAReceipt) {
  auto server = StartServer();
  ASSERT_NE(server, nullptr);
  const std::string emitter_key = dir_->path() + "/ci.key";
  ASSERT_EQ(Cli({"keygen", "--origin", "ci.example.com/pipeline", "--out", emitter_key}), 0);
  absl::StatusOr<NoteVerifier> emitter = NoteVerifier::Parse(Lines(out_).at(0));
  ASSERT_TRUE(emitter.ok());
  const std::string receipt = dir_->path() + "/deploy.tlog-proof";
  const std::string out = dir_->path() + "/example.out";
  absl::StatusOr<int> rc = RunProgram(
      {INFRATRAIL_EMIT_EXAMPLE_BIN, server->address(), log_key_file_, emitter_key, receipt}, out,
      dir_->path() + "/example.err");
  ASSERT_TRUE(rc.ok()) << rc.status();
  ASSERT_EQ(*rc, 0) << ReadFileOrEmpty(dir_->path() + "/example.err");
  EXPECT_TRUE(absl::StrContains(ReadFileOrEmpty(out), "index 0")) << ReadFileOrEmpty(out);
  const std::vector<std::string> entries = AllEntries(server->address(), 1);
  ASSERT_EQ(entries.size(), 1u);
  absl::StatusOr<TlogProof> proof = TlogProof::Parse(ReadFileOrEmpty(receipt));
  ASSERT_TRUE(proof.ok()) << proof.status();
  EXPECT_TRUE(
      VerifyTlogProof(*proof, HashLeaf(entries[0]), *NoteVerifier::Parse(vkey()), WitnessPolicy{})
          .ok());
  absl::StatusOr<std::vector<EmitterSignatureCheck>> checks =
      CheckEmitterSignatures(entries[0], {*emitter});
  ASSERT_TRUE(checks.ok()) << checks.status();
  ASSERT_EQ(checks->size(), 1u);
  EXPECT_EQ((*checks)[0].result, EmitterSignatureResult::kVerified);
}

TEST_F(CliClientTest, WritesCarryTheBearerTokenFromAFileOrTheFlag) {
  const std::string tokens = Write("tokens", "ci s3cret-ci-token-0123456789\n");
  auto server = StartServer({"--tokens-file", tokens});
  ASSERT_NE(server, nullptr);
  const std::string good = Write("good.token", "s3cret-ci-token-0123456789\n");
  const std::string bad = Write("bad.token", "guess\n");
  EXPECT_EQ(Cli({"add", "--server", server->address(), "--token-file", good, "--kind", "access",
                 "--resource-id", "a"}),
            0)
      << err_;
  EXPECT_EQ(Cli({"add", "--server", server->address(), "--token", "s3cret-ci-token-0123456789",
                 "--kind", "access", "--resource-id", "b"}),
            0)
      << err_;
  EXPECT_EQ(Cli({"add", "--server", server->address(), "--token-file", bad, "--kind", "access",
                 "--resource-id", "c"}),
            3);
  EXPECT_TRUE(absl::StrContains(err_, "PERMISSION_DENIED")) << err_;
  EXPECT_EQ(Cli({"add", "--server", server->address(), "--kind", "access", "--resource-id", "d"}),
            3);
  EXPECT_EQ(Cli({"add", "--server", server->address(), "--token-file", good, "--token", "x",
                 "--kind", "access", "--resource-id", "e"}),
            2);
  EXPECT_EQ(AllEntries(server->address(), 2).size(), 2u);
}

TEST_F(CliClientTest, EverySubcommandHasHelp) {
  for (const char* sub : {"keygen", "add", "checkpoint", "prove", "consistency", "get"}) {
    EXPECT_EQ(Cli({sub, "--help"}), 0) << sub;
    EXPECT_TRUE(absl::StrContains(out_, "--")) << sub << ": " << out_;
  }
  EXPECT_EQ(Cli({"nonsense"}), 2);
  EXPECT_EQ(Cli({}), 2);
}

}  // namespace
}  // namespace infratrail::testing
