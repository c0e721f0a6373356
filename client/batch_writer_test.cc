#include "client/batch_writer.h"

#include <cstdint>
#include <memory>
#include <numeric>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "client/testing/fake_log_server.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "infratrail/v1/event.pb.h"
#include "proto/limits.h"

namespace infratrail {
namespace {

using ::infratrail::testutil::ExpectReceiptVerifies;
using ::infratrail::testutil::FakeLogServer;
using ::infratrail::testutil::FakeLogService;
using ::infratrail::testutil::kTestWait;
using ::infratrail::testutil::Rpc;
using ::infratrail::testutil::TestEvent;
using ::infratrail::testutil::TestEvents;
using ::testing::Each;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Le;
using ::testing::UnorderedElementsAre;

// Collects what the writer reports, from its callback thread.
class Recorder {
 public:
  BatchWriter::ResultCallback Callback() {
    return [this](uint64_t first_seq, absl::Span<const AddResult> results) {
      absl::MutexLock lock(&mu_);
      EXPECT_EQ(first_seq, results_.size()) << "batches out of order, or an entry twice";
      results_.insert(results_.end(), results.begin(), results.end());
      if (results_.size() >= notify_at_ && !reached_.HasBeenNotified()) reached_.Notify();
    };
  }
  // Results by seq (the callback checked they came in seq order).
  std::vector<AddResult> results() const {
    absl::MutexLock lock(&mu_);
    return results_;
  }
  void NotifyAt(size_t n) {
    absl::MutexLock lock(&mu_);
    notify_at_ = n;
  }
  bool WaitForReached(absl::Duration timeout) {
    return reached_.WaitForNotificationWithTimeout(timeout);
  }

 private:
  mutable absl::Mutex mu_;
  std::vector<AddResult> results_ ABSL_GUARDED_BY(mu_);
  size_t notify_at_ ABSL_GUARDED_BY(mu_) = SIZE_MAX;
  absl::Notification reached_;
};

class BatchWriterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<LogClient>> c = LogClient::Create(server_.ClientOptions());
    ASSERT_TRUE(c.ok()) << c.status();
    client_ = *std::move(c);
  }
  std::unique_ptr<BatchWriter> NewWriter(BatchWriterOptions opts) {
    absl::StatusOr<std::unique_ptr<BatchWriter>> w =
        BatchWriter::Create(client_.get(), opts, recorder_.Callback());
    EXPECT_TRUE(w.ok()) << w.status();
    return w.ok() ? *std::move(w) : nullptr;
  }
  FakeLogService& log() { return server_.log(); }

  // Every entry 0..n-1 was reported with the index the log holds it at.
  void ExpectReportedAtTheirIndices(uint64_t n) {
    const std::vector<AddResult> results = recorder_.results();
    ASSERT_EQ(results.size(), n);
    const std::vector<std::string> in_log = log().entries();
    std::set<uint64_t> indices;
    for (uint64_t seq = 0; seq < n; ++seq) {
      const AddResult& r = results[seq];
      EXPECT_EQ(r.leaf_hash, HashLeaf(TestEvent(seq)));
      ASSERT_LT(r.index, in_log.size());
      EXPECT_EQ(in_log[r.index], TestEvent(seq)) << "seq " << seq;
      indices.insert(r.index);
    }
    EXPECT_EQ(indices.size(), n);
    EXPECT_EQ(in_log.size(), n);  // nothing added twice
  }

  FakeLogServer server_;
  std::unique_ptr<LogClient> client_;
  Recorder recorder_;
};

TEST_F(BatchWriterTest, ReportsEveryEntryOnceInOrderInBoundedBatches) {
  BatchWriterOptions opts;
  opts.max_batch_entries = 100;
  opts.linger = absl::Milliseconds(1);
  std::unique_ptr<BatchWriter> writer = NewWriter(opts);
  constexpr uint64_t kEntries = 10000;
  for (uint64_t i = 0; i < kEntries; ++i) {
    absl::StatusOr<uint64_t> seq = writer->Add(TestEvent(i));
    ASSERT_TRUE(seq.ok()) << seq.status();
    ASSERT_EQ(*seq, i);
  }
  ASSERT_TRUE(writer->Flush().ok());
  ExpectReportedAtTheirIndices(kEntries);
  const std::vector<size_t> sizes = log().BatchSizes();
  EXPECT_THAT(sizes, Each(Le(100u)));
  EXPECT_EQ(std::accumulate(sizes.begin(), sizes.end(), size_t{0}), kEntries);
}

TEST_F(BatchWriterTest, BatchesHoldAtMostTheServersLimitByDefault) {
  BatchWriterOptions opts;
  opts.linger = absl::Hours(1);  // only full batches are sealed before Flush
  std::unique_ptr<BatchWriter> writer = NewWriter(opts);
  for (uint64_t i = 0; i < kMaxEntriesPerAdd + 1; ++i) ASSERT_TRUE(writer->Add(TestEvent(i)).ok());
  ASSERT_TRUE(writer->Flush().ok());
  // Sent by concurrent senders, so in either order.
  EXPECT_THAT(log().BatchSizes(), UnorderedElementsAre(kMaxEntriesPerAdd, 1u));
  ExpectReportedAtTheirIndices(kMaxEntriesPerAdd + 1);
}

TEST_F(BatchWriterTest, CreateRefusesBatchesTheServerWouldRefuse) {
  for (size_t entries : {size_t{0}, kMaxEntriesPerAdd + 1}) {
    BatchWriterOptions opts;
    opts.max_batch_entries = entries;
    absl::StatusOr<std::unique_ptr<BatchWriter>> w =
        BatchWriter::Create(client_.get(), opts, recorder_.Callback());
    EXPECT_EQ(w.status().code(), absl::StatusCode::kInvalidArgument) << entries;
    EXPECT_THAT(w.status().message(), HasSubstr("max_batch_entries")) << entries;
  }
}

TEST_F(BatchWriterTest, WindowBoundsConcurrentAddsAndBlocksProducer) {
  BatchWriterOptions opts;
  opts.max_batch_entries = 10;
  opts.max_in_flight = 3;
  opts.linger = absl::Hours(1);  // only full batches are sealed
  std::unique_ptr<BatchWriter> writer = NewWriter(opts);
  log().HoldAddEvents();

  absl::Mutex mu;
  uint64_t accepted = 0;
  constexpr uint64_t kEntries = 100;
  std::thread producer([&] {
    for (uint64_t i = 0; i < kEntries; ++i) {
      absl::StatusOr<uint64_t> seq = writer->Add(TestEvent(i));
      ASSERT_TRUE(seq.ok()) << seq.status();
      absl::MutexLock lock(&mu);
      ++accepted;
    }
  });
  // No ASSERT until the producer is joined.
  EXPECT_TRUE(log().AwaitHeldAdds(3));
  {
    absl::MutexLock lock(&mu);
    EXPECT_TRUE(mu.AwaitWithTimeout(absl::Condition(
                                        +[](uint64_t* n) { return *n >= 30; }, &accepted),
                                    kTestWait));
    // Three batches held and at most one more open (a full one would be
    // sealed, a fourth in the window): the producer must stay blocked
    // however long we give it.
    EXPECT_FALSE(mu.AwaitWithTimeout(absl::Condition(
                                         +[](uint64_t* n) { return *n >= 40; }, &accepted),
                                     absl::Milliseconds(200)));
    EXPECT_LT(accepted, 40u);
  }
  EXPECT_EQ(log().MaxConcurrentAdds(), 3);
  log().ReleaseAddEvents();
  producer.join();
  ASSERT_TRUE(writer->Flush().ok());
  ExpectReportedAtTheirIndices(kEntries);
  EXPECT_EQ(log().MaxConcurrentAdds(), 3);
}

TEST_F(BatchWriterTest, LingerSendsPartialBatchWithoutFlush) {
  BatchWriterOptions opts;
  opts.max_batch_entries = 100;
  opts.linger = absl::Milliseconds(1);
  std::unique_ptr<BatchWriter> writer = NewWriter(opts);
  recorder_.NotifyAt(1);
  ASSERT_TRUE(writer->Add(TestEvent(0)).ok());
  // The producer pauses here: no Flush, no more entries.
  ASSERT_TRUE(recorder_.WaitForReached(absl::Seconds(10)));
  EXPECT_THAT(log().BatchSizes(), ElementsAre(1u));
  ExpectReportedAtTheirIndices(1);
}

TEST_F(BatchWriterTest, BatchFailingForGoodStopsTheWriter) {
  BatchWriterOptions opts;
  opts.max_batch_entries = 10;
  opts.max_in_flight = 3;
  opts.linger = absl::Hours(1);  // batches are exactly seqs [10k, 10k+10)
  std::unique_ptr<BatchWriter> writer = NewWriter(opts);
  log().FailAddEventsContaining(TestEvent(25), grpc::StatusCode::PERMISSION_DENIED);

  absl::Status add_error;
  for (uint64_t i = 0; i < 1000 && add_error.ok(); ++i) {
    add_error = writer->Add(TestEvent(i)).status();
  }
  EXPECT_EQ(add_error.code(), absl::StatusCode::kPermissionDenied) << add_error;
  const absl::Status flushed = writer->Flush();
  EXPECT_EQ(flushed.code(), absl::StatusCode::kPermissionDenied) << flushed;
  // The fake's refusal of entry 25, the sixth of its batch.
  EXPECT_THAT(std::string(flushed.message()), HasSubstr("entries[5]: refused"));
  EXPECT_EQ(writer->Add(TestEvent(5000)).status().code(), absl::StatusCode::kPermissionDenied);
  writer.reset();  // whatever was in flight has finished now

  const std::vector<AddResult> results = recorder_.results();
  ASSERT_EQ(results.size(), 20u);  // the two batches before it, nothing after
  for (uint64_t seq = 0; seq < results.size(); ++seq) {
    EXPECT_EQ(results[seq].leaf_hash, HashLeaf(TestEvent(seq)));
  }
}

TEST_F(BatchWriterTest, RetriesTransientFailuresAndLostReplies) {
  BatchWriterOptions opts;
  opts.max_batch_entries = 50;
  std::unique_ptr<BatchWriter> writer = NewWriter(opts);
  log().FailNext(Rpc::kAddEvents, 2, grpc::StatusCode::UNAVAILABLE);
  log().LoseNextAddReplies(2);
  for (uint64_t i = 0; i < 300; ++i) ASSERT_TRUE(writer->Add(TestEvent(i)).ok());
  ASSERT_TRUE(writer->Flush().ok());
  ExpectReportedAtTheirIndices(300);
}

TEST_F(BatchWriterTest, WaitReportsVerifiedReceipts) {
  BatchWriterOptions opts;
  opts.max_batch_entries = 100;
  opts.wait = true;
  std::unique_ptr<BatchWriter> writer = NewWriter(opts);
  for (uint64_t i = 0; i < 250; ++i) ASSERT_TRUE(writer->Add(TestEvent(i)).ok());
  ASSERT_TRUE(writer->Flush().ok());
  ExpectReportedAtTheirIndices(250);
  const std::vector<AddResult> results = recorder_.results();
  for (uint64_t seq = 0; seq < results.size(); ++seq) {
    SCOPED_TRACE(absl::StrCat("seq ", seq));
    ASSERT_TRUE(results[seq].receipt.has_value());
    ExpectReceiptVerifies(log(), *results[seq].receipt, TestEvent(seq), std::nullopt);
  }
}

TEST_F(BatchWriterTest, WaitWithoutLogKeyFailsAtCreate) {
  LogClientOptions copts = server_.ClientOptions();
  copts.log_key.reset();
  absl::StatusOr<std::unique_ptr<LogClient>> client = LogClient::Create(copts);
  ASSERT_TRUE(client.ok()) << client.status();
  BatchWriterOptions opts;
  opts.wait = true;
  absl::StatusOr<std::unique_ptr<BatchWriter>> w =
      BatchWriter::Create(client->get(), opts, recorder_.Callback());
  EXPECT_EQ(w.status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(BatchWriterTest, InvalidEntryIsRejectedAndNothingQueued) {
  std::unique_ptr<BatchWriter> writer = NewWriter(BatchWriterOptions());
  v1::InfraEvent no_resource;
  no_resource.set_kind(v1::DEPLOY);
  absl::StatusOr<uint64_t> bad = writer->Add(no_resource.SerializeAsString());
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(bad.status().message(), HasSubstr("resource.id"));
  absl::StatusOr<uint64_t> good = writer->Add(TestEvent(0));
  ASSERT_TRUE(good.ok()) << good.status();
  EXPECT_EQ(*good, 0u);  // the rejected entry took no seq
  ASSERT_TRUE(writer->Flush().ok());
  EXPECT_EQ(log().entries(), TestEvents(0, 1));
  ExpectReportedAtTheirIndices(1);
}

}  // namespace
}  // namespace infratrail
