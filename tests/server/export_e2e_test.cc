// `infratrail-server export` beside a live server: a one-shot export, and
// --follow keeping the exported checkpoint and tiles up to date as the log
// grows, then stopping cleanly on SIGTERM.
#include <signal.h>

#include <filesystem>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/checkpoint.h"
#include "core/hash.h"
#include "core/tile.h"
#include "gtest/gtest.h"
#include "tests/server/e2e_fixture.h"

namespace infratrail::testing {
namespace {

class ExportE2eTest : public ServerTest {
 protected:
  // Adds `n` fresh events and waits until a checkpoint covers them.
  void AddEvents(LogClient& client, size_t n) {
    v1::AddEventsResponse resp;
    grpc::Status st = client.AddEvents(MakeEvents(n), /*wait_for_checkpoint=*/true, &resp);
    ASSERT_TRUE(st.ok()) << st.error_message();
  }

  // The exported checkpoint, verified under the log key; size 0 if the
  // file is not there (yet).
  uint64_t ExportedSize(const std::string& out) {
    const std::string note = ReadFileOrEmpty(out + "/checkpoint");
    if (note.empty()) return 0;
    absl::StatusOr<Checkpoint> cp = OpenLogCheckpoint(note, vkey());
    EXPECT_TRUE(cp.ok()) << cp.status();
    return cp.ok() ? cp->size : 0;
  }

  // The export in `out` against the log's entries: the checkpoint's root is
  // the root of the entries, every bundle holds them, and every level-0
  // tile holds their leaf hashes.
  void ExpectExportMatchesLog(const std::string& out, LogClient& client) {
    absl::StatusOr<Checkpoint> cp = OpenLogCheckpoint(ReadFileOrEmpty(out + "/checkpoint"), vkey());
    ASSERT_TRUE(cp.ok()) << cp.status();
    std::vector<std::string> entries;
    ASSERT_TRUE(client.ReadRange(0, cp->size, &entries).ok());
    ASSERT_EQ(RootOfEntries(entries), cp->root);
    for (const TileId& tile : TilesForTree(cp->size, /*entries=*/true)) {
      const std::string bytes = ReadFileOrEmpty(absl::StrCat(out, "/", tile.Path()));
      if (tile.entries) {
        absl::StatusOr<std::vector<std::string>> bundle = DecodeEntryBundle(bytes);
        ASSERT_TRUE(bundle.ok()) << tile.Path();
        ASSERT_EQ(bundle->size(), tile.width) << tile.Path();
        for (uint32_t i = 0; i < tile.width; ++i) {
          ASSERT_EQ((*bundle)[i], entries[tile.index * kTileWidth + i]) << tile.Path();
        }
      } else if (tile.level == 0) {
        absl::StatusOr<std::vector<Hash>> hashes = DecodeHashTile(bytes);
        ASSERT_TRUE(hashes.ok()) << tile.Path();
        ASSERT_EQ(hashes->size(), tile.width) << tile.Path();
        for (uint32_t i = 0; i < tile.width; ++i) {
          ASSERT_EQ((*hashes)[i], HashLeaf(entries[tile.index * kTileWidth + i])) << tile.Path();
        }
      } else {
        ASSERT_EQ(bytes.size(), tile.width * kHashSize) << tile.Path();
      }
    }
  }
};

TEST_F(ExportE2eTest, OneShotExportOfALiveServer) {
  auto server = StartServer();
  ASSERT_NE(server, nullptr);
  LogClient client(server->address());
  ASSERT_NO_FATAL_FAILURE(AddEvents(client, 700));
  const std::string out = dir_->path() + "/export";
  absl::StatusOr<int> rc =
      RunProgram({INFRATRAIL_SERVER_BIN, "export", "--data-dir", data_dir_, "--to", out},
                 dir_->path() + "/export.out", dir_->path() + "/export.err");
  ASSERT_TRUE(rc.ok()) << rc.status();
  ASSERT_EQ(*rc, 0) << ReadFileOrEmpty(dir_->path() + "/export.err");
  EXPECT_GE(ExportedSize(out), 700u);
  ExpectExportMatchesLog(out, client);
}

TEST_F(ExportE2eTest, FollowKeepsUpWithTheLogAndStopsOnSigterm) {
  auto server = StartServer();
  ASSERT_NE(server, nullptr);
  LogClient client(server->address());
  ASSERT_NO_FATAL_FAILURE(AddEvents(client, 300));
  const std::string out = dir_->path() + "/export";
  absl::StatusOr<pid_t> exporter =
      SpawnChild({INFRATRAIL_SERVER_BIN, "export", "--data-dir", data_dir_, "--to", out, "--follow",
                  "--interval", "20ms"},
                 dir_->path() + "/export.out", dir_->path() + "/export.err");
  ASSERT_TRUE(exporter.ok()) << exporter.status();
  // Polls the exported checkpoint (the exporter's only observable output).
  auto wait_for_size = [&](uint64_t size) {
    const absl::Time give_up = absl::Now() + absl::Seconds(30);
    while (ExportedSize(out) < size && absl::Now() < give_up) absl::SleepFor(absl::Milliseconds(5));
    return ExportedSize(out);
  };
  ASSERT_GE(wait_for_size(300), 300u);
  ExpectExportMatchesLog(out, client);
  ASSERT_NO_FATAL_FAILURE(AddEvents(client, 600));
  ASSERT_GE(wait_for_size(900), 900u);
  ExpectExportMatchesLog(out, client);
  ASSERT_EQ(kill(*exporter, SIGTERM), 0);
  absl::StatusOr<int> rc = WaitPid(*exporter, absl::Seconds(30));
  ASSERT_TRUE(rc.ok()) << rc.status();
  EXPECT_EQ(*rc, 0) << ReadFileOrEmpty(dir_->path() + "/export.err");
}

TEST_F(ExportE2eTest, UsageAndUnreadableStoreAreReported) {
  const std::string err = dir_->path() + "/export.err";
  absl::StatusOr<int> rc = RunProgram({INFRATRAIL_SERVER_BIN, "export", "--data-dir",
                                       dir_->path() + "/none", "--to", dir_->path() + "/out"},
                                      dir_->path() + "/export.out", err);
  ASSERT_TRUE(rc.ok());
  EXPECT_EQ(*rc, 3);
  EXPECT_NE(ReadFileOrEmpty(err).find("export:"), std::string::npos) << ReadFileOrEmpty(err);
  rc = RunProgram({INFRATRAIL_SERVER_BIN, "export", "--data-dir", data_dir_}, dir_->path() + "/o",
                  dir_->path() + "/e");
  ASSERT_TRUE(rc.ok());
  EXPECT_EQ(*rc, 2);
}

}  // namespace
}  // namespace infratrail::testing
