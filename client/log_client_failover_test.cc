// LogClient with several servers of one log (a leader and its standbys,
// sharing one store): following the leader a standby names, never one that
// is not listed, skipping dead servers, backing off once a round, and
// verifying what a lagging standby serves. No test sleeps or times: "at
// once" is checked as "without a backoff" (on_retry not called), and "does
// not spin" as a bound on attempts per backoff.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "client/batch_writer.h"
#include "client/log_client.h"
#include "client/testing/fake_log_node.h"
#include "client/testing/fake_log_server.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace infratrail {
namespace {

using ::infratrail::testutil::FakeLogNodeServer;
using ::infratrail::testutil::FakeLogService;
using ::infratrail::testutil::Rpc;
using ::infratrail::testutil::TestEvent;
using ::infratrail::testutil::TestEvents;
using ::testing::ElementsAreArray;
using ::testing::HasSubstr;
using ::testing::Not;

// A loopback port nothing listens on: bound, so no one else gets it, but
// never listened on, so a connection is refused at once.
class RefusingPort {
 public:
  RefusingPort() : fd_(socket(AF_INET, SOCK_STREAM, 0)) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(addr);
    EXPECT_EQ(bind(fd_, reinterpret_cast<sockaddr*>(&addr), len), 0);
    EXPECT_EQ(getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len), 0);
    target_ = absl::StrCat("127.0.0.1:", ntohs(addr.sin_port));
  }
  ~RefusingPort() { close(fd_); }
  RefusingPort(const RefusingPort&) = delete;
  RefusingPort& operator=(const RefusingPort&) = delete;

  const std::string& target() const { return target_; }

 private:
  int fd_;
  std::string target_;
};

// The N of "gave up after N attempt(s)" in `st`'s message; 0 if absent.
int Attempts(const absl::Status& st) {
  const size_t at = st.message().find("gave up after ");
  if (at == absl::string_view::npos) return 0;
  int n = 0;
  std::sscanf(std::string(st.message().substr(at)).c_str(), "gave up after %d", &n);
  return n;
}

class FailoverTest : public ::testing::Test {
 protected:
  // A client of `servers` whose on_retry counts backoffs into retries_.
  std::unique_ptr<LogClient> Client(const std::vector<std::string>& servers,
                                    absl::Duration budget = absl::Seconds(20)) {
    LogClientOptions opts;
    opts.target = absl::StrJoin(servers, ",");
    opts.log_key = log_.log_key();
    opts.retry.initial_backoff = absl::Milliseconds(1);
    opts.retry.max_backoff = absl::Milliseconds(5);
    opts.retry.budget = budget;
    opts.retry.on_retry = [this](const absl::Status& st, absl::Duration) {
      ++retries_;
      if (on_retry_) on_retry_(st);
    };
    opts.rpc_timeout = absl::Seconds(20);
    absl::StatusOr<std::unique_ptr<LogClient>> c = LogClient::Create(std::move(opts));
    EXPECT_TRUE(c.ok()) << c.status();
    return c.ok() ? *std::move(c) : nullptr;
  }

  FakeLogService log_;  // the store the servers share
  FakeLogNodeServer a_{&log_};
  FakeLogNodeServer b_{&log_};
  FakeLogNodeServer c_{&log_};
  std::atomic<int> retries_{0};
  std::function<void(const absl::Status&)> on_retry_;  // set before Client()
};

TEST_F(FailoverTest, FollowsTheListedLeaderAStandbyNamesWithoutBackoff) {
  // b is a standby with no leader to name: only the trailer skips it.
  a_.node().BecomeStandby(c_.target());
  b_.node().BecomeStandby(std::nullopt);
  std::unique_ptr<LogClient> client = Client({a_.target(), b_.target(), c_.target()});
  absl::StatusOr<std::vector<AddResult>> r = client->Add(TestEvents(0, 2), false);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(retries_, 0);
  EXPECT_EQ(a_.node().RefusedAdds(), 1);
  EXPECT_EQ(b_.node().Calls(Rpc::kAddEvents), 0);
  EXPECT_EQ(c_.node().Calls(Rpc::kAddEvents), 1);
  EXPECT_EQ(log_.entries(), TestEvents(0, 2));

  // The leader is now the current server, for writes and reads alike.
  ASSERT_TRUE(client->Add(TestEvents(2, 1), false).ok());
  ASSERT_TRUE(client->GetCheckpoint().ok());
  EXPECT_EQ(a_.node().Calls(Rpc::kAddEvents), 1);
  EXPECT_EQ(c_.node().Calls(Rpc::kAddEvents), 2);
  EXPECT_EQ(c_.node().Calls(Rpc::kGetCheckpoint), 1);
  EXPECT_EQ(a_.node().Calls(Rpc::kGetCheckpoint), 0);
}

TEST_F(FailoverTest, NeverContactsALeaderThatIsNotListedAndSaysSo) {
  a_.node().BecomeStandby(c_.target());
  b_.node().BecomeStandby(c_.target());
  std::unique_ptr<LogClient> client = Client({a_.target(), b_.target()}, absl::Seconds(1));
  absl::StatusOr<std::vector<AddResult>> r = client->Add(TestEvents(0, 1), false);
  ASSERT_EQ(r.status().code(), absl::StatusCode::kUnavailable) << r.status();
  EXPECT_THAT(r.status().message(),
              HasSubstr(absl::StrCat("a standby named the leader ", c_.target(),
                                     ", which is not among the configured servers")));
  EXPECT_THAT(r.status().message(), HasSubstr("this server is a standby"));
  EXPECT_EQ(c_.node().Calls(Rpc::kAddEvents), 0);
  EXPECT_EQ(log_.size(), 0u);
  // Both listed servers were tried in turn, with a backoff after each round.
  const int calls = a_.node().Calls(Rpc::kAddEvents) + b_.node().Calls(Rpc::kAddEvents);
  EXPECT_GE(b_.node().Calls(Rpc::kAddEvents), 1);
  EXPECT_GE(retries_, 1);
  EXPECT_LE(calls, 2 * (retries_ + 1));
  EXPECT_EQ(Attempts(r.status()), calls);
}

TEST_F(FailoverTest, SingleServerStandbyIsRetriedWithBackoffAsBefore) {
  a_.node().BecomeStandby(b_.target());
  std::unique_ptr<LogClient> client = Client({a_.target()}, absl::Seconds(1));
  absl::StatusOr<std::vector<AddResult>> r = client->Add(TestEvents(0, 1), false);
  ASSERT_EQ(r.status().code(), absl::StatusCode::kUnavailable) << r.status();
  EXPECT_THAT(r.status().message(), HasSubstr(absl::StrCat("(server ", a_.target(), ")")));
  EXPECT_THAT(r.status().message(), HasSubstr("not among the configured servers"));
  EXPECT_EQ(b_.node().Calls(Rpc::kAddEvents), 0);
  EXPECT_EQ(retries_, a_.node().Calls(Rpc::kAddEvents) - 1);
}

TEST_F(FailoverTest, SkipsADeadServerWithoutBackoff) {
  RefusingPort dead;
  std::unique_ptr<LogClient> client = Client({dead.target(), a_.target()});
  ASSERT_TRUE(client->Add(TestEvents(0, 3), false).ok());
  absl::StatusOr<SignedCheckpoint> cp = client->GetCheckpoint();
  ASSERT_TRUE(cp.ok()) << cp.status();
  EXPECT_EQ(cp->size(), 3u);
  EXPECT_EQ(retries_, 0);
  EXPECT_EQ(a_.node().Calls(Rpc::kAddEvents), 1);
}

TEST_F(FailoverTest, AllServersDeadBacksOffOncePerRoundAndNamesTheServer) {
  RefusingPort dead1, dead2, dead3;
  std::vector<std::string> errors;
  on_retry_ = [&](const absl::Status& st) { errors.emplace_back(st.message()); };
  std::unique_ptr<LogClient> client =
      Client({dead1.target(), dead2.target(), dead3.target()}, absl::Seconds(1));
  absl::Status st = client->GetCheckpoint().status();
  ASSERT_EQ(st.code(), absl::StatusCode::kUnavailable) << st;
  const int attempts = Attempts(st);
  EXPECT_GE(retries_, 1);
  EXPECT_GE(attempts, 3);
  EXPECT_LE(attempts, 3 * (retries_ + 1));
  // A round ends on the last server, and the next starts at the first.
  ASSERT_FALSE(errors.empty());
  EXPECT_THAT(errors[0], HasSubstr(absl::StrCat("GetCheckpoint (server ", dead3.target(), ")")));
  EXPECT_THAT(std::string(st.message()), Not(HasSubstr("not among the configured")));
}

TEST_F(FailoverTest, StandbysNamingEachOtherDoNotLoop) {
  a_.node().BecomeStandby(b_.target());
  b_.node().BecomeStandby(a_.target());
  std::unique_ptr<LogClient> client = Client({a_.target(), b_.target()}, absl::Seconds(1));
  absl::StatusOr<std::vector<AddResult>> r = client->Add(TestEvents(0, 1), false);
  ASSERT_EQ(r.status().code(), absl::StatusCode::kUnavailable) << r.status();
  EXPECT_THAT(r.status().message(), HasSubstr("this server is a standby; the leader is at"));
  EXPECT_THAT(r.status().message(), HasSubstr("gave up after"));
  const int calls = a_.node().Calls(Rpc::kAddEvents) + b_.node().Calls(Rpc::kAddEvents);
  EXPECT_EQ(Attempts(r.status()), calls);
  EXPECT_GE(retries_, 1);
  // Each server followed at once at most once, then a backoff every round.
  EXPECT_LE(calls, 2 + 2 * (retries_ + 1));
}

TEST_F(FailoverTest, LeaderChangeUnderABatchWriterLosesNothing) {
  b_.node().BecomeStandby(a_.target());
  std::unique_ptr<LogClient> client = Client({a_.target(), b_.target()});
  std::vector<AddResult> results;
  absl::StatusOr<std::unique_ptr<BatchWriter>> writer =
      BatchWriter::Create(client.get(),
                          BatchWriterOptions{.max_batch_entries = 50,
                                             .max_batch_bytes = 4 << 20,
                                             .linger = absl::Milliseconds(5),
                                             .max_in_flight = 4,
                                             .wait = false},
                          [&](uint64_t first_seq, absl::Span<const AddResult> batch) {
                            EXPECT_EQ(first_seq, results.size());
                            results.insert(results.end(), batch.begin(), batch.end());
                          });
  ASSERT_TRUE(writer.ok()) << writer.status();
  const std::vector<std::string> events = TestEvents(0, 2000);
  for (size_t i = 0; i < 1000; ++i) ASSERT_TRUE((*writer)->Add(events[i]).ok());
  ASSERT_TRUE(log_.AwaitCalls(Rpc::kAddEvents, 3));
  // The new leader first, so that no instant has two standbys.
  b_.node().BecomeLeader();
  a_.node().BecomeStandby(b_.target());
  for (size_t i = 1000; i < events.size(); ++i) ASSERT_TRUE((*writer)->Add(events[i]).ok());
  ASSERT_TRUE((*writer)->Flush().ok());

  ASSERT_EQ(results.size(), events.size());
  const std::vector<std::string> stored = log_.entries();
  ASSERT_EQ(stored.size(), events.size());  // each exactly once
  for (size_t seq = 0; seq < events.size(); ++seq) {
    ASSERT_LT(results[seq].index, stored.size());
    EXPECT_EQ(stored[results[seq].index], events[seq]) << "seq " << seq;
  }
  EXPECT_GE(a_.node().RefusedAdds(), 1);
  EXPECT_GE(b_.node().Calls(Rpc::kAddEvents), 1);
  EXPECT_EQ(b_.node().RefusedAdds(), 0);
  EXPECT_EQ(retries_, 0);
}

TEST_F(FailoverTest, GetEntriesResumesOnTheNextServer) {
  log_.Append(TestEvents(0, 600));
  log_.SetEntriesChunkSize(100);
  log_.BreakEntriesStreams(1, 2);  // a: two chunks, then UNAVAILABLE
  RefusingPort dead;
  std::unique_ptr<LogClient> client = Client({a_.target(), dead.target(), b_.target()});
  std::vector<std::string> got;
  ASSERT_TRUE(client
                  ->GetEntries(0, 600,
                               [&](const IndexedEntry& e) {
                                 EXPECT_EQ(e.index, got.size());
                                 got.push_back(e.data);
                                 return true;
                               })
                  .ok());
  EXPECT_THAT(got, ElementsAreArray(TestEvents(0, 600)));
  EXPECT_EQ(a_.node().Calls(Rpc::kGetEntries), 1);
  EXPECT_GE(b_.node().Calls(Rpc::kGetEntries), 1);
  EXPECT_EQ(retries_, 0);
  using Req = std::pair<uint64_t, uint64_t>;
  EXPECT_EQ(log_.EntriesRequests()[1], (Req{200, 400}));
}

TEST_F(FailoverTest, OlderCheckpointOfALaggingStandbyIsProvedByAnotherServer) {
  log_.Append(TestEvents(0, 8));
  b_.node().Lag(5);
  std::unique_ptr<LogClient> client = Client({a_.target(), b_.target()});
  ASSERT_EQ(client->GetCheckpoint()->size(), 8u);
  log_.FailNext(Rpc::kGetCheckpoint, 1, grpc::StatusCode::UNAVAILABLE);  // a, once
  absl::StatusOr<SignedCheckpoint> cp = client->GetCheckpoint();
  ASSERT_TRUE(cp.ok()) << cp.status();
  EXPECT_EQ(cp->size(), 5u);
  EXPECT_EQ(cp->root(), log_.Root(5));
  EXPECT_EQ(client->LatestVerified()->size(), 8u);
  // b could not prove 5 -> 8; a did.
  EXPECT_EQ(b_.node().Calls(Rpc::kGetConsistencyProof), 1);
  EXPECT_EQ(a_.node().Calls(Rpc::kGetConsistencyProof), 1);
  EXPECT_EQ(retries_, 0);
}

TEST_F(FailoverTest, LaggingSingleServerIsAskedAgainUntilItCatchesUp) {
  log_.Append(TestEvents(0, 8));
  a_.node().Lag(5);
  on_retry_ = [&](const absl::Status& st) {
    EXPECT_THAT(st.message(), HasSubstr("lags behind size 8"));
    a_.node().Lag(std::nullopt);  // it caught up
  };
  std::unique_ptr<LogClient> client = Client({a_.target()});
  ASSERT_TRUE(client->VerifyCheckpoint(log_.SignCheckpoint(8, log_.Root(8))).ok());
  absl::StatusOr<SignedCheckpoint> cp = client->GetCheckpoint();
  ASSERT_TRUE(cp.ok()) << cp.status();
  EXPECT_EQ(cp->size(), 5u);
  EXPECT_EQ(client->LatestVerified()->size(), 8u);
  EXPECT_EQ(retries_, 1);
}

TEST_F(FailoverTest, ConcurrentCallersShareTheCurrentServer) {
  RefusingPort dead;
  std::unique_ptr<LogClient> client = Client({dead.target(), a_.target()});
  std::vector<std::thread> threads;
  for (uint64_t t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (uint64_t i = 0; i < 10; ++i) {
        absl::StatusOr<std::vector<AddResult>> r = client->Add({TestEvent(t * 10 + i)}, false);
        EXPECT_TRUE(r.ok()) << r.status();
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(log_.size(), 80u);
  EXPECT_EQ(retries_, 0);
}

TEST(LogClientTargets, SplitsAListAndRejectsEmptyOrRepeatedNames) {
  absl::StatusOr<std::vector<std::string>> ok = SplitLogTarget(" a:1 ,b:2,dns:///c:3");
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_THAT(*ok, ElementsAreArray({"a:1", "b:2", "dns:///c:3"}));
  for (const char* bad : {"", " ", ",a:1", "a:1,", "a:1,,b:2", "a:1,a:1", "a:1, a:1"}) {
    LogClientOptions opts;
    opts.target = bad;
    absl::Status st = LogClient::Create(opts).status();
    EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument) << "\"" << bad << "\": " << st;
    EXPECT_THAT(st.message(), HasSubstr("target")) << bad;
  }
  LogClientOptions opts;
  opts.target = "a:1,b:2";
  EXPECT_TRUE(LogClient::Create(opts).ok());
}

}  // namespace
}  // namespace infratrail
