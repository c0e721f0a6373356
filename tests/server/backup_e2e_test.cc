// Backup, restore, catch-up and freeze against the real binary:
//  - a backup taken while writers keep writing holds every event
//    acknowledged before it started, restores, and passes fsck;
//  - a restored store behind the signer state is refused at start-up until
//    `catch-up` makes it whole from an export of the log; a tampered mirror
//    is refused with nothing written;
//  - a frozen log serves reads and refuses writes with FAILED_PRECONDITION
//    naming its successor.
#include <atomic>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/tile.h"
#include "gtest/gtest.h"
#include "server/rocksdb_storage.h"
#include "tests/server/e2e_fixture.h"

namespace infratrail::testing {
namespace {

class BackupE2eTest : public ServerTest {
 protected:
  // Runs infratrail-server with `args`; its exit code (stdout and stderr in
  // files named after `name`).
  int Run(const std::string& name, std::vector<std::string> args) {
    args.insert(args.begin(), INFRATRAIL_SERVER_BIN);
    absl::StatusOr<int> rc =
        RunProgram(args, Path(name + ".out"), Path(name + ".stderr"), absl::Seconds(120));
    EXPECT_TRUE(rc.ok()) << rc.status();
    return rc.ok() ? *rc : -1;
  }
  std::string Path(const std::string& name) const { return dir_->path() + "/" + name; }

  std::vector<std::string> AddAcked(LogClient& client, size_t n) {
    std::vector<std::string> events = MakeEvents(n);
    v1::AddEventsResponse resp;
    grpc::Status st = client.AddEvents(events, /*wait_for_checkpoint=*/true, &resp);
    EXPECT_TRUE(st.ok()) << st.error_message();
    return events;
  }
};

TEST_F(BackupE2eTest, BackupUnderLoadHoldsEveryAcknowledgedEntryAndRestores) {
  auto server = StartServer();
  ASSERT_NE(server, nullptr);
  std::vector<std::string> acked;
  {
    LogClient client(server->address());
    for (int i = 0; i < 5; ++i) {
      std::vector<std::string> more = AddAcked(client, 400);
      acked.insert(acked.end(), more.begin(), more.end());
    }
  }
  // Writers keep going while the backup runs.
  std::atomic<bool> stop{false};
  std::atomic<int> written_during{0};
  std::thread writer([&] {
    LogClient client(server->address());
    while (!stop.load()) {
      v1::AddEventsResponse resp;
      if (client.AddEvents(MakeEvents(200), false, &resp).ok()) written_during += 200;
    }
  });
  const int rc = Run(
      "backup", {"backup", "--data-dir", data_dir_, "--to", Path("backup"), "--log-key", vkey()});
  stop = true;
  writer.join();
  ASSERT_EQ(rc, 0) << ReadFileOrEmpty(Path("backup.stderr"));
  EXPECT_NE(ReadFileOrEmpty(Path("backup.out")).find("\"consistent\":true"), std::string::npos);

  ASSERT_EQ(Run("restore", {"restore", "--from", Path("backup"), "--data-dir", Path("restored")}),
            0)
      << ReadFileOrEmpty(Path("restore.stderr"));
  // Restoring over a store is refused.
  EXPECT_EQ(Run("restore2", {"restore", "--from", Path("backup"), "--data-dir", Path("restored")}),
            2);
  EXPECT_EQ(Run("fsck", {"fsck", "--data-dir", Path("restored"), "--log-key", vkey()}), 0)
      << ReadFileOrEmpty(Path("fsck.out"));

  absl::StatusOr<std::unique_ptr<RocksDbStorage>> db = RocksDbStorage::Open(RocksDbOptions{
      .path = Path("restored") + "/rocksdb", .create_if_missing = false, .read_only = true});
  ASSERT_TRUE(db.ok()) << db.status();
  std::vector<std::string> entries;
  ASSERT_TRUE((*db)->ReadEntries(0, acked.size(), &entries).ok());
  ASSERT_EQ(entries.size(), acked.size());
  for (size_t i = 0; i < acked.size(); ++i) ASSERT_EQ(entries[i], acked[i]) << "entry " << i;
  EXPECT_GT(written_during.load(), 0);
}

TEST_F(BackupE2eTest, RestoredStoreIsRefusedUntilCaughtUpFromAnExport) {
  std::vector<std::string> all;
  {
    auto server = StartServer();
    ASSERT_NE(server, nullptr);
    {
      LogClient client(server->address());
      all = AddAcked(client, 300);
      ASSERT_EQ(Run("backup", {"backup", "--data-dir", data_dir_, "--to", Path("backup")}), 0);
      std::vector<std::string> more = AddAcked(client, 500);
      all.insert(all.end(), more.begin(), more.end());
    }
    ASSERT_EQ(Run("export", {"export", "--data-dir", data_dir_, "--to", Path("export")}), 0);
    ASSERT_TRUE(server->Terminate().ok());
  }
  ASSERT_EQ(Run("restore", {"restore", "--from", Path("backup"), "--data-dir", Path("restored")}),
            0);
  // The signer (beside the key) signed size 800: a store of 300 is refused.
  ServerOptions o = Options();
  o.data_dir = Path("restored");
  absl::StatusOr<std::unique_ptr<ServerProcess>> refused = ServerProcess::Start(dir_->path(), o);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(std::string(refused.status().message()).find("restored from an older copy"),
            std::string::npos)
      << refused.status();

  // A mirror whose entries were altered (in a bundle the store lacks) is
  // refused, and nothing is written.
  std::filesystem::copy(Path("export"), Path("bad"), std::filesystem::copy_options::recursive);
  const std::string bundle = Path("bad") + "/" + TileId{0, 2, kTileWidth, true}.Path();
  std::string bytes = ReadFileOrEmpty(bundle);
  ASSERT_GT(bytes.size(), 100u);
  bytes[100] ^= 1;
  std::ofstream(bundle, std::ios::binary | std::ios::trunc) << bytes;
  EXPECT_EQ(Run("bad", {"catch-up", "--data-dir", Path("restored"), "--from", Path("bad"),
                        "--log-key", vkey()}),
            1);
  EXPECT_NE(ReadFileOrEmpty(Path("bad.stderr")).find("nothing written"), std::string::npos)
      << ReadFileOrEmpty(Path("bad.stderr"));

  ASSERT_EQ(Run("catch-up", {"catch-up", "--data-dir", Path("restored"), "--from", Path("export"),
                             "--log-key", vkey()}),
            0)
      << ReadFileOrEmpty(Path("catch-up.stderr"));
  EXPECT_NE(ReadFileOrEmpty(Path("catch-up.out")).find("\"entries_added\":500"), std::string::npos)
      << ReadFileOrEmpty(Path("catch-up.out"));
  absl::StatusOr<std::unique_ptr<ServerProcess>> whole = ServerProcess::Start(dir_->path(), o);
  ASSERT_TRUE(whole.ok()) << whole.status();
  {
    LogClient client((*whole)->address());
    std::vector<std::string> entries;
    ASSERT_TRUE(client.ReadRange(0, all.size(), &entries).ok());
    EXPECT_EQ(entries, all);
  }
  EXPECT_EQ(*(*whole)->Terminate(), 0);
}

TEST_F(BackupE2eTest, AFrozenLogServesReadsAndRefusesWritesNamingItsSuccessor) {
  std::vector<std::string> events;
  {
    auto server = StartServer();
    ASSERT_NE(server, nullptr);
    {
      LogClient client(server->address());
      events = AddAcked(client, 50);
    }
    // The store is locked while the server runs.
    EXPECT_NE(Run("locked", {"--data-dir", data_dir_, "--signing-key", key_.key_file, "freeze"}),
              0);
    ASSERT_EQ(*server->Terminate(), 0);
  }
  ASSERT_EQ(Run("freeze", {"--data-dir", data_dir_, "--signing-key", key_.key_file, "freeze",
                           "--successor", "e2e.infratrail.test/log-2027"}),
            0)
      << ReadFileOrEmpty(Path("freeze.stderr"));
  absl::StatusOr<Checkpoint> final_cp =
      OpenLogCheckpoint(ReadFileOrEmpty(Path("freeze.out")), vkey());
  ASSERT_TRUE(final_cp.ok()) << final_cp.status();
  EXPECT_EQ(final_cp->size, events.size());

  auto server = StartServer();
  ASSERT_NE(server, nullptr);
  {
    LogClient client(server->address());
    v1::AddEventsResponse resp;
    grpc::Status st = client.AddEvents(MakeEvents(1), false, &resp);
    EXPECT_TRUE(IsError(st, grpc::StatusCode::FAILED_PRECONDITION, "e2e.infratrail.test/log-2027"))
        << st.error_message();
    std::vector<std::string> read;
    ASSERT_TRUE(client.ReadRange(0, events.size(), &read).ok());
    EXPECT_EQ(read, events);
  }
  EXPECT_EQ(*server->Terminate(), 0);
  // Freezing twice is refused.
  EXPECT_EQ(Run("again", {"--data-dir", data_dir_, "--signing-key", key_.key_file, "freeze"}), 1);
}

}  // namespace
}  // namespace infratrail::testing
