// End-to-end tests of the server as an operator runs it: writer auth and
// rate limits, back-pressure, sticky storage failure, SIGTERM drain, and the
// start-up refusals that protect the log's one history.
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "core/io/file_util.h"
#include "gtest/gtest.h"
#include "tests/server/e2e_fixture.h"

namespace infratrail::testing {
namespace {

using grpc::StatusCode;

constexpr char kToken[] = "ci-token-0123456789abcdef";
constexpr char kOtherToken[] = "batch-token-0123456789abcdef";

// What concurrent writers saw: acknowledged entries by index, and the status
// code of every call.
struct WriteLog {
  absl::Mutex mu;
  std::map<uint64_t, std::string> acked ABSL_GUARDED_BY(mu);
  std::map<StatusCode, int> codes ABSL_GUARDED_BY(mu);
  std::atomic<size_t> acked_count{0};

  void Record(const grpc::Status& st, const std::vector<std::string>& entries,
              const v1::AddEventsResponse& resp) {
    absl::MutexLock l(&mu);
    ++codes[st.error_code()];
    if (!st.ok()) return;
    for (int i = 0; i < resp.entries_size(); ++i) {
      acked.emplace(resp.entries(i).index(), entries[i]);
    }
    acked_count += entries.size();
  }
};

// Reads back the log up to `size` and checks every acknowledged entry is at
// its index, byte for byte.
void ExpectAllAckedPresent(LogClient& client, uint64_t size,
                           const std::map<uint64_t, std::string>& acked) {
  std::vector<std::string> all;
  ASSERT_TRUE(client.ReadRange(0, size, &all).ok());
  ASSERT_EQ(all.size(), size);
  for (const auto& [index, bytes] : acked) {
    ASSERT_LT(index, size);
    EXPECT_EQ(all[index], bytes) << "index " << index;
  }
}

class ServerLifecycleTest : public ServerTest {
 protected:
  // Runs a server that is expected to refuse to start: its exit code (-1 if
  // it is still running after 30 s), and its stderr.
  int ExitCodeOf(const ServerOptions& options, std::string* stderr_text = nullptr) {
    absl::StatusOr<std::unique_ptr<ServerProcess>> p = ServerProcess::Spawn(dir_->path(), options);
    EXPECT_TRUE(p.ok()) << p.status();
    if (!p.ok()) return -1;
    const int rc = (*p)->WaitExit(absl::Seconds(30)).value_or(-1);
    if (stderr_text != nullptr) *stderr_text = (*p)->Stderr();
    return rc;
  }

  std::string WriteTokens() {
    std::string path = dir_->path() + "/tokens";
    std::ofstream(path) << "# writer token\nci " << kToken << "\nbatch " << kOtherToken << "\n";
    return path;
  }
};

TEST_F(ServerLifecycleTest, WritesNeedAValidTokenReadsDoNot) {
  auto server = StartServer({"--tokens-file", WriteTokens()});
  ASSERT_NE(server, nullptr);
  v1::AddEventsResponse resp;
  LogClient anonymous(server->address());
  EXPECT_TRUE(IsError(anonymous.AddEvents({MakeEvent()}, false, &resp), StatusCode::UNAUTHENTICATED,
                      "credentials required"));
  LogClient wrong(server->address(), "not-a-token-0123456789");
  EXPECT_TRUE(IsError(wrong.AddEvents({MakeEvent()}, false, &resp), StatusCode::PERMISSION_DENIED,
                      "not allowed"));
  LogClient writer(server->address(), kToken);
  const std::string event = MakeEvent();
  ASSERT_TRUE(writer.AddEvents({event}, true, &resp).ok());

  std::string note;
  ASSERT_TRUE(anonymous.GetCheckpoint(&note).ok());
  absl::StatusOr<Checkpoint> cp = OpenLogCheckpoint(note, vkey());
  ASSERT_TRUE(cp.ok()) << cp.status();
  EXPECT_EQ(cp->size, 1u);
  std::vector<std::string> read;
  ASSERT_TRUE(anonymous.GetEntries(0, 1, &read).ok());
  EXPECT_EQ(read, std::vector<std::string>{event});
}

TEST_F(ServerLifecycleTest, RateLimitRefusesABurstPerWriter) {
  auto server = StartServer({"--tokens-file", WriteTokens(), "--rate-limit", "10"});
  ASSERT_NE(server, nullptr);
  LogClient ci(server->address(), kToken);
  int ok = 0;
  int refused = 0;
  const absl::Time start = absl::Now();
  for (int i = 0; i < 100; ++i) {
    v1::AddEventsResponse resp;
    grpc::Status st = ci.AddEvents({MakeEvent()}, false, &resp);
    if (st.ok()) {
      ++ok;
    } else {
      EXPECT_TRUE(IsError(st, StatusCode::RESOURCE_EXHAUSTED, "rate limit"));
      ++refused;
    }
  }
  const double elapsed = absl::ToDoubleSeconds(absl::Now() - start);
  EXPECT_GE(ok, 10);  // the bucket starts with a second's worth
  EXPECT_GT(refused, 0);
  EXPECT_LE(ok, 10 + static_cast<int>(10 * elapsed) + 1) << "in " << elapsed << " s";

  // Another writer has its own bucket. A batch beyond the burst is let
  // through when the bucket is full, and then the writer waits.
  LogClient batch(server->address(), kOtherToken);
  v1::AddEventsResponse resp;
  EXPECT_TRUE(batch.AddEvents(MakeEvents(100), false, &resp).ok());
  EXPECT_TRUE(IsError(batch.AddEvents({MakeEvent()}, false, &resp), StatusCode::RESOURCE_EXHAUSTED,
                      "rate limit"));
}

TEST_F(ServerLifecycleTest, FullQueueRefusesPromptlyAndLosesNothing) {
  auto server = StartServer({"--max-queue", "64"});
  ASSERT_NE(server, nullptr);
  LogClient client(server->address());
  WriteLog log;
  std::atomic<int64_t> slowest_refusal_ms{0};
  std::vector<std::thread> writers;
  writers.reserve(16);
  for (int t = 0; t < 16; ++t) {
    writers.emplace_back([&] {
      for (int i = 0; i < 8; ++i) {
        std::vector<std::string> entries;
        entries.reserve(50);
        for (int j = 0; j < 50; ++j) entries.push_back(MakeEvent(2000));
        v1::AddEventsResponse resp;
        const auto start = std::chrono::steady_clock::now();
        grpc::Status st = client.AddEvents(entries, false, &resp);
        const int64_t ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                               std::chrono::steady_clock::now() - start)
                               .count();
        if (st.error_code() == StatusCode::RESOURCE_EXHAUSTED) {
          int64_t prev = slowest_refusal_ms.load();
          while (ms > prev && !slowest_refusal_ms.compare_exchange_weak(prev, ms)) {
          }
        }
        log.Record(st, entries, resp);
      }
    });
  }
  for (std::thread& t : writers) t.join();

  absl::MutexLock l(&log.mu);
  EXPECT_GT(log.codes[StatusCode::OK], 0);
  EXPECT_GT(log.codes[StatusCode::RESOURCE_EXHAUSTED], 0);
  EXPECT_EQ(log.codes[StatusCode::OK] + log.codes[StatusCode::RESOURCE_EXHAUSTED], 16 * 8)
      << "every call either succeeds or is refused";
  // Refusal does not wait for the queue to drain.
  EXPECT_LT(slowest_refusal_ms.load(), 5000);
  absl::StatusOr<Checkpoint> cp = AddAndWaitForCheckpoint(client, vkey());
  ASSERT_TRUE(cp.ok()) << cp.status();
  EXPECT_EQ(cp->size, log.acked.size() + 1) << "refused batches must not be added";
  ExpectAllAckedPresent(client, cp->size, log.acked);
}

TEST_F(ServerLifecycleTest, FailedCommitStopsWritesAndReportsNotServing) {
  auto server = StartServer({"--testing-fail-commit-after", "2"});
  ASSERT_NE(server, nullptr);
  auto owned_client = std::make_unique<LogClient>(server->address());
  LogClient& client = *owned_client;
  HealthStatus health = HealthResponse::UNKNOWN;
  ASSERT_TRUE(client.CheckHealth(kLogService, &health).ok());
  EXPECT_EQ(health, HealthResponse::SERVING);

  std::vector<std::string> committed = MakeEvents(3);
  const std::vector<std::string> second = MakeEvents(4);
  v1::AddEventsResponse resp;
  ASSERT_TRUE(client.AddEvents(committed, true, &resp).ok());
  ASSERT_TRUE(client.AddEvents(second, true, &resp).ok());
  committed.insert(committed.end(), second.begin(), second.end());
  const std::vector<std::string> failed = MakeEvents(2);
  EXPECT_TRUE(
      IsError(client.AddEvents(failed, false, &resp), StatusCode::UNAVAILABLE, "storage failure"));
  // The failing call flips health before it replies.
  ASSERT_TRUE(client.CheckHealth(kLogService, &health).ok());
  EXPECT_EQ(health, HealthResponse::NOT_SERVING);
  EXPECT_TRUE(IsError(client.AddEvents({MakeEvent()}, true, &resp), StatusCode::UNAVAILABLE,
                      "storage failure"));
  EXPECT_TRUE(IsError(client.AddEvents(committed, false, &resp), StatusCode::UNAVAILABLE,
                      "storage failure"));

  std::string note;
  ASSERT_TRUE(client.GetCheckpoint(&note).ok());
  absl::StatusOr<Checkpoint> cp = OpenLogCheckpoint(note, vkey());
  ASSERT_TRUE(cp.ok()) << cp.status();
  EXPECT_EQ(cp->size, committed.size());
  std::vector<std::string> read;
  ASSERT_TRUE(client.GetEntries(0, 100, &read).ok());
  EXPECT_EQ(read, committed);

  // Recovery is a restart: the failed batch was never acknowledged, and
  // is new to the restarted log.
  // A log that stopped serving exits 1 on SIGTERM, so a supervisor
  // restarts it.
  owned_client.reset();  // see ServerProcess::Terminate
  EXPECT_EQ(server->Terminate().value_or(-1), 1);
  server = StartServer();
  ASSERT_NE(server, nullptr);
  LogClient restarted(server->address());
  ASSERT_TRUE(restarted.CheckHealth(kLogService, &health).ok());
  EXPECT_EQ(health, HealthResponse::SERVING);
  ASSERT_TRUE(restarted.AddEvents(failed, true, &resp).ok());
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(resp.entries(i).index(), committed.size() + i);
    EXPECT_FALSE(resp.entries(i).duplicate());
  }
}

TEST_F(ServerLifecycleTest, SigtermDrainsInFlightWrites) {
  auto server = StartServer();
  ASSERT_NE(server, nullptr);
  auto client = std::make_unique<LogClient>(server->address());
  WriteLog log;
  std::vector<std::thread> writers;
  constexpr int kWriters = 12;
  writers.reserve(kWriters);
  for (int t = 0; t < kWriters; ++t) {
    writers.emplace_back([&client, &log, t] {
      std::mt19937 rng(t);
      for (;;) {
        std::vector<std::string> entries = MakeEvents(1 + rng() % 50);
        v1::AddEventsResponse resp;
        grpc::Status st = client->AddEvents(entries, false, &resp);
        log.Record(st, entries, resp);
        if (!st.ok()) return;
      }
    });
  }
  // Terminate while writers are busy: once a good number of entries is in.
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (log.acked_count < 2000 && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(1));
  const absl::Status signalled = server->Signal(SIGTERM);
  EXPECT_TRUE(signalled.ok()) << signalled;
  if (!signalled.ok()) server->Kill().IgnoreError();
  // Writers stop at their first failure, which comes once the drain
  // refuses new calls.
  for (std::thread& t : writers) t.join();
  client.reset();  // see ServerProcess::Terminate
  absl::StatusOr<int> rc = server->WaitExit(absl::Seconds(60));
  ASSERT_TRUE(rc.ok()) << rc.status();
  EXPECT_EQ(*rc, 0);

  absl::MutexLock l(&log.mu);
  EXPECT_GE(log.acked_count.load(), 2000u);
  // A call refused by the drain gets UNAVAILABLE; one that reaches the
  // transport just as the listener closes is CANCELLED by gRPC. Both are
  // safe to retry, and nothing else may happen.
  std::string codes;
  for (const auto& [code, n] : log.codes) absl::StrAppend(&codes, code, ":", n, " ");
  EXPECT_EQ(log.codes[StatusCode::UNAVAILABLE] + log.codes[StatusCode::CANCELLED], kWriters)
      << "every writer ran until the server stopped; status codes seen: " << codes;
  for (const auto& [code, n] : log.codes) {
    EXPECT_TRUE(code == StatusCode::OK || code == StatusCode::UNAVAILABLE ||
                code == StatusCode::CANCELLED)
        << "status codes seen: " << codes;
  }
  const uint64_t need = log.acked.rbegin()->first + 1;

  server = StartServer();
  ASSERT_NE(server, nullptr);
  LogClient restarted(server->address());
  std::string note;
  ASSERT_TRUE(restarted.GetCheckpoint(&note).ok());
  absl::StatusOr<Checkpoint> cp = OpenLogCheckpoint(note, vkey());
  ASSERT_TRUE(cp.ok()) << cp.status();
  EXPECT_GE(cp->size, need) << "the drain publishes a checkpoint over everything acknowledged";
  ExpectAllAckedPresent(restarted, cp->size, log.acked);
}

TEST_F(ServerLifecycleTest, RefusesADataDirectoryOfAnotherKey) {
  auto server = StartServer();
  ASSERT_NE(server, nullptr);
  ASSERT_EQ(server->Terminate().value_or(-1), 0);
  absl::StatusOr<LogKey> other = MakeLogKey(dir_->path(), "other.key", std::string(kOrigin));
  ASSERT_TRUE(other.ok()) << other.status();
  ServerOptions o = Options();
  o.signing_key = other->key_file;
  std::string stderr_text;
  EXPECT_EQ(ExitCodeOf(o, &stderr_text), 2);
  EXPECT_NE(stderr_text.find("belongs to log key"), std::string::npos) << stderr_text;
}

TEST_F(ServerLifecycleTest, AMalformedSignerStateFileIsAUsageError) {
  auto server = StartServer();
  ASSERT_NE(server, nullptr);
  ASSERT_EQ(server->Terminate().value_or(-1), 0);
  ASSERT_TRUE(WriteFileAtomic(key_.key_file + ".state", "garbage\n", 0600).ok());
  std::string stderr_text;
  EXPECT_EQ(ExitCodeOf(Options(), &stderr_text), 2);
  EXPECT_NE(stderr_text.find("not an infratrail-signer-state v1 file"), std::string::npos)
      << stderr_text;
}

TEST_F(ServerLifecycleTest, RefusesADataDirectoryOlderThanTheSignerState) {
  auto server = StartServer();
  ASSERT_NE(server, nullptr);
  {
    LogClient client(server->address());
    ASSERT_TRUE(AddAndWaitForCheckpoint(client, vkey()).ok());
  }
  ASSERT_EQ(server->Terminate().value_or(-1), 0);
  const std::string backup = dir_->path() + "/data.bak";
  std::filesystem::copy(data_dir_, backup, std::filesystem::copy_options::recursive);

  server = StartServer();
  ASSERT_NE(server, nullptr);
  {
    LogClient client(server->address());
    v1::AddEventsResponse resp;
    ASSERT_TRUE(client.AddEvents(MakeEvents(5), true, &resp).ok());
  }
  ASSERT_EQ(server->Terminate().value_or(-1), 0);
  std::filesystem::remove_all(data_dir_);
  std::filesystem::rename(backup, data_dir_);

  std::string stderr_text;
  EXPECT_EQ(ExitCodeOf(Options(), &stderr_text), 2);
  EXPECT_NE(stderr_text.find("older"), std::string::npos) << stderr_text;
}

TEST_F(ServerLifecycleTest, RefusesToRunWithoutTheSignerStateUnlessToldToRecover) {
  auto server = StartServer();
  ASSERT_NE(server, nullptr);
  absl::StatusOr<Checkpoint> signed_cp;
  {
    LogClient client(server->address());
    signed_cp = AddAndWaitForCheckpoint(client, vkey());
    ASSERT_TRUE(signed_cp.ok()) << signed_cp.status();
  }
  ASSERT_EQ(server->Terminate().value_or(-1), 0);
  ASSERT_TRUE(std::filesystem::remove(key_.key_file + ".state"));

  std::string stderr_text;
  EXPECT_EQ(ExitCodeOf(Options(), &stderr_text), 2);
  EXPECT_NE(stderr_text.find("--recover-signer-state"), std::string::npos) << stderr_text;
  server = StartServer({"--recover-signer-state"});
  ASSERT_NE(server, nullptr);
  LogClient client(server->address());
  std::string note;
  ASSERT_TRUE(client.GetCheckpoint(&note).ok());
  absl::StatusOr<Checkpoint> adopted = OpenLogCheckpoint(note, vkey());
  ASSERT_TRUE(adopted.ok()) << adopted.status();
  EXPECT_EQ(*adopted, *signed_cp);
  EXPECT_TRUE(AddAndWaitForCheckpoint(client, vkey()).ok());
}

TEST_F(ServerLifecycleTest, RefusesADataDirectoryThatForkedFromTheSignedHistory) {
  const std::string state = key_.key_file + ".state";
  auto run = [&](size_t events) {
    auto server = StartServer();
    ASSERT_NE(server, nullptr);
    {
      LogClient client(server->address());
      v1::AddEventsResponse resp;
      ASSERT_TRUE(client.AddEvents(MakeEvents(events), true, &resp).ok());
    }
    ASSERT_EQ(server->Terminate().value_or(-1), 0);
  };
  namespace fs = std::filesystem;
  ASSERT_NO_FATAL_FAILURE(run(1));
  fs::copy(data_dir_, data_dir_ + ".bak", fs::copy_options::recursive);
  fs::copy_file(state, state + ".bak");
  ASSERT_NO_FATAL_FAILURE(run(5));  // signs size 6
  fs::copy_file(state, state + ".6");
  // Both restored from the backup, then other events: another size 6.
  fs::remove_all(data_dir_);
  fs::rename(data_dir_ + ".bak", data_dir_);
  fs::rename(state + ".bak", state);
  ASSERT_NO_FATAL_FAILURE(run(5));
  fs::rename(state + ".6", state);

  std::string stderr_text;
  EXPECT_EQ(ExitCodeOf(Options(), &stderr_text), 2);
  EXPECT_NE(stderr_text.find("fork"), std::string::npos) << stderr_text;
}

TEST_F(ServerLifecycleTest, RefusesANonLoopbackAddressWithoutWriterAuth) {
  ServerOptions o = Options();
  o.grpc_addr = "0.0.0.0:0";
  std::string stderr_text;
  EXPECT_EQ(ExitCodeOf(o, &stderr_text), 2);
  EXPECT_NE(stderr_text.find("not loopback"), std::string::npos) << stderr_text;
}

}  // namespace
}  // namespace infratrail::testing
