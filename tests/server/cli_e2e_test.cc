// The `infratrail` CLI as an operator runs it: keygen, and add against a
// real server (JSON lines in, one result line per event out, verified
// receipts, and a bad line that stops the import after reporting what was
// acknowledged before it).
#include <sys/stat.h>

#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "core/hash.h"
#include "core/note_key.h"
#include "core/tlog_proof.h"
#include "gtest/gtest.h"
#include "tests/server/cli_fixture.h"

namespace infratrail::testing {
namespace {

constexpr char kEvent[] =
    R"({"kind":"DEPLOY","resource":{"provider":"aws","type":"vm","id":"i-%d"},)"
    R"("actor":{"principal":"ci@example.com","via":"CI"},"artifactDigest":"sha256:ab"})";

std::string EventLine(int i) {
  std::string s = kEvent;
  s.replace(s.find("%d"), 2, std::to_string(i));
  return s + "\n";
}

TEST_F(CliTest, KeygenWritesAPrivateKeyAndPrintsItsVerifierKey) {
  const std::string key = dir_->path() + "/k";
  ASSERT_EQ(Cli({"keygen", "--origin", "ops.example/log", "--out", key}), 0) << err_;
  struct stat st;
  ASSERT_EQ(stat(key.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  absl::StatusOr<NoteSigner> signer = NoteSigner::Parse(Lines(ReadFileOrEmpty(key)).at(0));
  ASSERT_TRUE(signer.ok()) << signer.status();
  EXPECT_EQ(Lines(out_).at(0), signer->VerifierKey());

  const std::string before = ReadFileOrEmpty(key);
  EXPECT_EQ(Cli({"keygen", "--origin", "ops.example/log", "--out", key}), 2);
  EXPECT_NE(err_.find("refusing to overwrite"), std::string::npos) << err_;
  EXPECT_EQ(ReadFileOrEmpty(key), before);
  EXPECT_EQ(Cli({"keygen", "--origin", "bad name", "--out", dir_->path() + "/k2"}), 2);
  EXPECT_NE(err_.find("--origin"), std::string::npos) << err_;
}

TEST_F(CliTest, AddWritesVerifiedReceiptsAndResultLinesInInputOrder) {
  auto server = StartServer();
  ASSERT_NE(server, nullptr);
  const std::string file = Write("events.jsonl", EventLine(1) + EventLine(2) + EventLine(1));
  const std::string receipts = dir_->path() + "/receipts";
  ASSERT_EQ(mkdir(receipts.c_str(), 0755), 0);
  ASSERT_EQ(Cli({"add", "--server", server->address(), "--file", file, "--wait", "--log-key",
                 vkey(), "--receipt-dir", receipts}),
            0)
      << err_;
  const std::vector<std::string> lines = Lines(out_);
  ASSERT_EQ(lines.size(), 3u) << out_;
  EXPECT_NE(lines[0].find(R"("index":0,)"), std::string::npos) << lines[0];
  EXPECT_NE(lines[1].find(R"("index":1,)"), std::string::npos) << lines[1];
  EXPECT_NE(lines[2].find(R"("index":0,)"), std::string::npos) << lines[2];
  EXPECT_NE(lines[2].find(R"("duplicate":true)"), std::string::npos) << lines[2];

  // Each receipt verifies offline against the log key, for the leaf hash
  // the CLI printed.
  absl::StatusOr<NoteVerifier> log_key = NoteVerifier::Parse(vkey());
  ASSERT_TRUE(log_key.ok());
  for (int index : {0, 1}) {
    absl::StatusOr<TlogProof> proof =
        TlogProof::Parse(ReadFileOrEmpty(absl::StrCat(receipts, "/", index, ".tlog-proof")));
    ASSERT_TRUE(proof.ok()) << proof.status();
    const std::string& line = lines[index];
    const size_t at = line.find(R"("leaf_hash":")") + 13;
    absl::StatusOr<Hash> leaf = HashFromBase64(line.substr(at, 44), "leaf_hash");
    ASSERT_TRUE(leaf.ok()) << leaf.status();
    EXPECT_TRUE(VerifyTlogProof(*proof, *leaf, *log_key, WitnessPolicy{}).ok());
  }
}

TEST_F(CliTest, ABadLineStopsTheImportAfterReportingEverythingBeforeIt) {
  auto server = StartServer();
  ASSERT_NE(server, nullptr);
  const std::string file =
      Write("events.jsonl", EventLine(1) + EventLine(2) + "{\"kind\":\"NOPE\"}\n" + EventLine(3));
  EXPECT_EQ(Cli({"add", "--server", server->address(), "--file", file}), 2);
  EXPECT_EQ(Lines(out_).size(), 2u) << out_;
  EXPECT_NE(err_.find("line 3"), std::string::npos) << err_;
  // Nothing after the bad line was added.
  LogClient client(server->address());
  v1::AddEventsResponse resp;
  ASSERT_TRUE(client.AddEvents(MakeEvents(1), true, &resp).ok());
  EXPECT_EQ(resp.entries(0).index(), 2u);
}

TEST_F(CliTest, AddWithoutAServerIsExitCode3) {
  const std::string file = Write("events.jsonl", EventLine(1));
  EXPECT_EQ(Cli({"add", "--server", "127.0.0.1:1", "--retry-for", "0", "--file", file}), 3);
  EXPECT_NE(err_.find("127.0.0.1:1"), std::string::npos) << err_;
}

}  // namespace
}  // namespace infratrail::testing
