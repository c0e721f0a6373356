// A full disk, end to end: the server refuses writes before its disk fills
// (the free-space reserve), keeps serving reads, says NOT_SERVING, exits 1
// on SIGTERM, starts read-only on a disk that is still full, and resumes
// writes once space is freed. Nothing acknowledged is ever lost.
//
// Three ways in: a simulated disk (the hidden --testing-free-disk-file, so
// every machine runs it), an injected ENOSPC through the storage seam, and a
// real 20 MiB tmpfs where the test may mount one (skipped, saying why,
// where it may not).
#include <sys/mount.h>
#include <sys/wait.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/io/file_util.h"
#include "tests/server/e2e_fixture.h"

namespace infratrail::testing {
namespace {

using grpc::StatusCode;
using HealthResponse = grpc::health::v1::HealthCheckResponse;

class DiskFullTest : public ServerTest {
 protected:
  void SetFreeMiB(uint64_t mib) {
    ASSERT_TRUE(WriteFileAtomic(free_file(), absl::StrCat(mib << 20, "\n"), 0644).ok());
  }
  std::string free_file() const { return dir_->path() + "/free-bytes"; }

  HealthStatus Health(LogClient& client) {
    HealthStatus h = HealthResponse::UNKNOWN;
    EXPECT_TRUE(client.CheckHealth(kLogService, &h).ok());
    return h;
  }
};

// The health service follows the log within its one-second refresh; a
// client polls it as a load balancer would.
bool AwaitHealth(LogClient& client, HealthStatus want) {
  for (int i = 0; i < 100; ++i) {
    HealthStatus h = HealthResponse::UNKNOWN;
    if (client.CheckHealth(kLogService, &h).ok() && h == want) return true;
    absl::SleepFor(absl::Milliseconds(100));
  }
  return false;
}

TEST_F(DiskFullTest, BelowTheReserveWritesAreRefusedReadsServedAndWritesResumeWhenFreed) {
  SetFreeMiB(1000);
  const std::vector<std::string> args = {"--min-free-disk-mb", "100", "--testing-free-disk-file",
                                         free_file()};
  auto server = StartServer(args);
  ASSERT_NE(server, nullptr);
  auto client = std::make_unique<LogClient>(server->address());
  std::vector<std::string> acked = MakeEvents(3);
  v1::AddEventsResponse resp;
  ASSERT_TRUE(client->AddEvents(acked, true, &resp).ok());

  SetFreeMiB(99);
  // The reserve is re-read at least every 100 ms; a client retries until it
  // sees the refusal, which must name the disk and the flag.
  grpc::Status refused;
  for (int i = 0; i < 100; ++i) {
    refused = client->AddEvents({MakeEvent()}, false, &resp);
    if (!refused.ok()) break;
    absl::SleepFor(absl::Milliseconds(20));
  }
  EXPECT_TRUE(IsError(refused, StatusCode::RESOURCE_EXHAUSTED, "--min-free-disk-mb"));
  EXPECT_NE(refused.error_message().find("MiB free"), std::string::npos);
  EXPECT_TRUE(AwaitHealth(*client, HealthResponse::NOT_SERVING));
  // Reads go on: the checkpoint covers every acknowledged entry.
  std::string note;
  ASSERT_TRUE(client->GetCheckpoint(&note).ok());
  absl::StatusOr<Checkpoint> cp = OpenLogCheckpoint(note, vkey());
  ASSERT_TRUE(cp.ok()) << cp.status();
  EXPECT_GE(cp->size, 3u);
  std::vector<std::string> read;
  ASSERT_TRUE(client->GetEntries(0, 3, &read).ok());
  EXPECT_EQ(read, std::vector<std::string>(acked.begin(), acked.begin() + 3));
  absl::StatusOr<std::string> tiles_cp = HttpGet(server->http_port(), "/checkpoint");
  ASSERT_TRUE(tiles_cp.ok()) << tiles_cp.status();

  // Freed: writes resume without a restart.
  SetFreeMiB(500);
  grpc::Status resumed;
  for (int i = 0; i < 100; ++i) {
    resumed = client->AddEvents({MakeEvent()}, true, &resp);
    if (resumed.ok()) break;
    absl::SleepFor(absl::Milliseconds(20));
  }
  EXPECT_TRUE(resumed.ok()) << resumed.error_message();
  EXPECT_TRUE(AwaitHealth(*client, HealthResponse::SERVING));

  // Full again at SIGTERM: a clean exit 1, so a supervisor notices.
  SetFreeMiB(10);
  for (int i = 0; i < 100 && client->AddEvents({MakeEvent()}, false, &resp).ok(); ++i) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  client.reset();
  EXPECT_EQ(server->Terminate().value_or(-1), 1) << server->Stderr();
}

TEST_F(DiskFullTest, RestartOnAFullDiskStartsReadOnlyAndServesEverythingAcknowledged) {
  SetFreeMiB(1000);
  const std::vector<std::string> args = {"--min-free-disk-mb", "100", "--testing-free-disk-file",
                                         free_file()};
  auto server = StartServer(args);
  ASSERT_NE(server, nullptr);
  std::vector<std::string> acked = MakeEvents(5);
  {
    LogClient client(server->address());
    v1::AddEventsResponse resp;
    ASSERT_TRUE(client.AddEvents(acked, true, &resp).ok());
  }
  ASSERT_EQ(server->Terminate().value_or(-1), 0);

  SetFreeMiB(5);
  server = StartServer(args);
  ASSERT_NE(server, nullptr);
  EXPECT_NE(server->Stderr().find("READ-ONLY"), std::string::npos) << server->Stderr();
  {
    LogClient client(server->address());
    EXPECT_EQ(Health(client), HealthResponse::NOT_SERVING);
    v1::AddEventsResponse resp;
    EXPECT_TRUE(IsError(client.AddEvents({MakeEvent()}, false, &resp), StatusCode::UNAVAILABLE,
                        "read-only"));
    std::vector<std::string> read;
    ASSERT_TRUE(client.GetEntries(0, 100, &read).ok());
    EXPECT_EQ(read, acked);
    std::string note;
    ASSERT_TRUE(client.GetCheckpoint(&note).ok());
    absl::StatusOr<Checkpoint> cp = OpenLogCheckpoint(note, vkey());
    ASSERT_TRUE(cp.ok()) << cp.status();
    EXPECT_EQ(cp->size, acked.size());
  }
  EXPECT_EQ(server->Terminate().value_or(-1), 1);
  // Nothing was written while read-only: fsck agrees, and a restart with
  // space takes writes again after the same entries.
  SetFreeMiB(1000);
  server = StartServer(args);
  ASSERT_NE(server, nullptr);
  LogClient client(server->address());
  EXPECT_EQ(Health(client), HealthResponse::SERVING);
  v1::AddEventsResponse resp;
  ASSERT_TRUE(client.AddEvents({MakeEvent()}, true, &resp).ok());
  EXPECT_EQ(resp.entries(0).index(), acked.size());
}

TEST_F(DiskFullTest, InjectedEnospcInACommitStopsWritesButNotReads) {
  auto server = StartServer({"--testing-fail-commit-after", "1", "--testing-fail-commit-nospace"});
  ASSERT_NE(server, nullptr);
  auto client = std::make_unique<LogClient>(server->address());
  const std::vector<std::string> acked = MakeEvents(2);
  v1::AddEventsResponse resp;
  ASSERT_TRUE(client->AddEvents(acked, true, &resp).ok());
  EXPECT_TRUE(IsError(client->AddEvents({MakeEvent()}, false, &resp), StatusCode::UNAVAILABLE,
                      "disk full"));
  EXPECT_EQ(Health(*client), HealthResponse::NOT_SERVING);
  std::vector<std::string> read;
  ASSERT_TRUE(client->GetEntries(0, 10, &read).ok());
  EXPECT_EQ(read, acked);
  client.reset();
  EXPECT_EQ(server->Terminate().value_or(-1), 1);
}

TEST_F(DiskFullTest, ASignerStateThatCannotBeWrittenRefusesWritesUntilItCanAgain) {
  // The signer state's directory disappears (as a full or failing disk
  // would refuse the write): publishing fails and is retried, writes are
  // refused rather than acknowledged beyond what a checkpoint can cover.
  const std::string keys = dir_->path() + "/keys";
  std::filesystem::create_directories(keys);
  auto server = StartServer({"--signer-state", keys + "/log.state", "--min-free-disk-mb", "0",
                             "--checkpoint-interval-ms", "10"});
  ASSERT_NE(server, nullptr);
  auto client = std::make_unique<LogClient>(server->address());
  std::vector<std::string> acked = MakeEvents(2);
  v1::AddEventsResponse resp;
  ASSERT_TRUE(client->AddEvents(acked, true, &resp).ok());
  std::filesystem::remove_all(keys);
  grpc::Status refused;
  for (int i = 0; i < 500; ++i) {
    const std::string e = MakeEvent();
    refused = client->AddEvents({e}, false, &resp);
    if (!refused.ok()) break;
    acked.push_back(e);
    absl::SleepFor(absl::Milliseconds(10));
  }
  EXPECT_TRUE(IsError(refused, StatusCode::UNAVAILABLE, "checkpoint publishing is failing"));
  EXPECT_TRUE(AwaitHealth(*client, HealthResponse::NOT_SERVING));

  std::filesystem::create_directories(keys);
  grpc::Status resumed;
  for (int i = 0; i < 1000; ++i) {
    resumed = client->AddEvents({MakeEvent()}, true, &resp);
    if (resumed.ok()) break;
    absl::SleepFor(absl::Milliseconds(10));
  }
  ASSERT_TRUE(resumed.ok()) << resumed.error_message();
  EXPECT_TRUE(AwaitHealth(*client, HealthResponse::SERVING));
  std::vector<std::string> read;
  ASSERT_TRUE(client->ReadRange(0, acked.size(), &read).ok());
  EXPECT_TRUE(read == acked);
  EXPECT_TRUE(std::filesystem::exists(keys + "/log.state"));
  client.reset();
  EXPECT_EQ(server->Terminate().value_or(-1), 0);
}

// A real filesystem that fills up. Needs CAP_SYS_ADMIN (root in CI).
class TmpfsTest : public DiskFullTest {
 protected:
  void SetUp() override {
    DiskFullTest::SetUp();
    mount_ = dir_->path() + "/tmpfs";
    std::filesystem::create_directories(mount_);
    if (mount("infratrail-test", mount_.c_str(), "tmpfs", 0, "size=20m") != 0) {
      const int err = errno;
      mount_.clear();
      GTEST_SKIP() << "cannot mount a 20 MiB tmpfs (" << std::strerror(err)
                   << "); the simulated-disk and injected-ENOSPC tests cover the same paths";
    }
    data_dir_ = mount_ + "/data";
  }
  void TearDown() override {
    if (!mount_.empty()) umount2(mount_.c_str(), MNT_DETACH);
    DiskFullTest::TearDown();
  }

  // A server started with `args`, fed ~60 KiB events one RPC at a time
  // until it refuses one: every acknowledged entry and the refusal.
  struct Filled {
    std::unique_ptr<ServerProcess> server;
    std::unique_ptr<LogClient> client;
    std::vector<std::string> acked;
    grpc::Status refusal;
  };
  Filled StartAndFill(const std::vector<std::string>& args) {
    Filled f;
    f.server = StartServer(args);
    if (f.server == nullptr) return f;
    f.client = std::make_unique<LogClient>(f.server->address());
    for (int i = 0; i < 2000; ++i) {
      const std::string e = MakeEvent(60 << 10);
      v1::AddEventsResponse resp;
      grpc::Status st = f.client->AddEvents({e}, false, &resp);
      if (!st.ok()) {
        f.refusal = st;
        break;
      }
      if (!resp.entries(0).duplicate()) f.acked.push_back(e);
    }
    return f;
  }

  std::string mount_;
};

TEST_F(TmpfsTest, TheReserveStopsWritesBeforeTheDiskFillsAndARestartStillRefusesThem) {
  const std::vector<std::string> args = {"--min-free-disk-mb", "6", "--checkpoint-interval-ms",
                                         "10"};
  Filled f = StartAndFill(args);
  ASSERT_NE(f.server, nullptr);
  auto& [server, client, acked, refusal] = f;
  ASSERT_FALSE(refusal.ok()) << "20 MiB never filled";
  EXPECT_TRUE(IsError(refusal, StatusCode::RESOURCE_EXHAUSTED, "--min-free-disk-mb"));
  ASSERT_GT(acked.size(), 10u);
  // Entries are served up to the latest checkpoint, published every 10 ms;
  // the reserve leaves it the room to cover the last acknowledged entry.
  uint64_t covered = 0;
  for (int polls = 0; polls < 1000 && covered < acked.size(); ++polls) {
    std::string note;
    if (client->GetCheckpoint(&note).ok()) {
      absl::StatusOr<Checkpoint> cp = OpenLogCheckpoint(note, vkey());
      ASSERT_TRUE(cp.ok()) << cp.status();
      covered = cp->size;
    }
    if (covered < acked.size()) absl::SleepFor(absl::Milliseconds(10));  // bounded poll
  }
  ASSERT_GE(covered, acked.size()) << server->Stderr();
  std::vector<std::string> read;
  ASSERT_TRUE(client->ReadRange(0, acked.size(), &read).ok());
  EXPECT_TRUE(read == acked);
  client.reset();
  EXPECT_EQ(server->Terminate().value_or(-1), 1) << server->Stderr();

  // The restart comes up: read-only if the disk is below the reserve at
  // start-up, else refusing writes by the reserve as soon as RocksDB has
  // taken its share. Either way writes are refused and reads served.
  server = StartServer(args);
  ASSERT_NE(server, nullptr);
  LogClient again(server->address());
  EXPECT_TRUE(AwaitHealth(again, HealthResponse::NOT_SERVING)) << server->Stderr();
  v1::AddEventsResponse resp;
  const grpc::Status st = again.AddEvents({MakeEvent()}, false, &resp);
  EXPECT_TRUE(st.error_code() == StatusCode::UNAVAILABLE ||
              st.error_code() == StatusCode::RESOURCE_EXHAUSTED)
      << st.error_code() << " " << st.error_message();
  read.clear();
  ASSERT_TRUE(again.ReadRange(0, acked.size(), &read).ok());
  EXPECT_TRUE(read == acked);
  absl::StatusOr<std::string> tiles_cp = HttpGet(server->http_port(), "/checkpoint");
  EXPECT_TRUE(tiles_cp.ok()) << tiles_cp.status();
}

TEST_F(TmpfsTest, WithoutAReserveENOSPCIsASickLogNotACrash) {
  const std::vector<std::string> args = {"--min-free-disk-mb", "0", "--checkpoint-interval-ms",
                                         "10"};
  Filled f = StartAndFill(args);
  ASSERT_NE(f.server, nullptr);
  auto& [server, client, acked, refusal] = f;
  ASSERT_FALSE(refusal.ok()) << "20 MiB never filled";
  EXPECT_EQ(refusal.error_code(), StatusCode::UNAVAILABLE) << refusal.error_message();
  EXPECT_EQ(Health(*client), HealthResponse::NOT_SERVING);
  // Every acknowledged entry is still served. (Those acknowledged after the
  // last checkpoint that could be written are durable but not yet covered.)
  std::string note;
  ASSERT_TRUE(client->GetCheckpoint(&note).ok());
  absl::StatusOr<Checkpoint> cp = OpenLogCheckpoint(note, vkey());
  ASSERT_TRUE(cp.ok()) << cp.status();
  std::vector<std::string> read;
  ASSERT_TRUE(client->ReadRange(0, cp->size, &read).ok());
  EXPECT_TRUE(read == std::vector<std::string>(acked.begin(), acked.begin() + cp->size));
  client.reset();
  const int rc = server->Terminate().value_or(-1);
  EXPECT_EQ(rc, 1) << "want a clean exit 1, not a crash\n" << server->Stderr();

  // Space added: the restart recovers every acknowledged entry.
  ASSERT_EQ(mount(nullptr, mount_.c_str(), nullptr, MS_REMOUNT, "size=64m"), 0)
      << std::strerror(errno);
  server = StartServer(args);
  ASSERT_NE(server, nullptr) << "restart after ENOSPC";
  LogClient again(server->address());
  v1::AddEventsResponse resp;
  ASSERT_TRUE(again.AddEvents({MakeEvent()}, true, &resp).ok());
  EXPECT_EQ(resp.entries(0).index(), acked.size());
  read.clear();
  ASSERT_TRUE(again.ReadRange(0, acked.size(), &read).ok());
  EXPECT_TRUE(read == acked);
}

}  // namespace
}  // namespace infratrail::testing
