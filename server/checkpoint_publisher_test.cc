// CheckpointPublisher over MemoryStorage and a real sequencer: what it
// publishes, how it fails (retried or sticky) and where its callbacks run.
#include "server/checkpoint_publisher.h"

#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include "absl/synchronization/notification.h"
#include "core/io/file_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "prometheus/registry.h"
#include "server/memory_storage.h"
#include "server/metrics.h"
#include "server/sequencer.h"
#include "server/testing_util.h"
#include "server/tree_reader.h"

namespace infratrail {
namespace {

using ::testing::HasSubstr;
using testutil::AppendEntries;
using testutil::MerkleReference;
using testutil::ScopedTempDir;

using WaitResult = absl::StatusOr<std::shared_ptr<const PublishedCheckpoint>>;

// A log without the Log: sequencer, reader, signer and the publisher under
// test, wired as Log::Open wires them.
class PublisherTest : public ::testing::Test {
 protected:
  PublisherTest()
      : metrics_(registry_), cache_(size_t{1} << 20, &metrics_), reader_(&storage_, &cache_) {}

  void Start(PublisherOptions options = {}) {
    absl::StatusOr<NoteSigner> key = NoteSigner::Generate("example.com/log");
    ASSERT_TRUE(key.ok());
    absl::StatusOr<CheckpointSigner> signer = CheckpointSigner::Open(*key, dir_.Sub("state"));
    ASSERT_TRUE(signer.ok()) << signer.status();
    signer_ = std::make_unique<CheckpointSigner>(std::move(*signer));
    absl::StatusOr<std::unique_ptr<Sequencer>> seq =
        Sequencer::Start(&storage_, {}, &metrics_, [this](const TreeHead& head) {
          if (publisher_ != nullptr) publisher_->OnCommit(head);
        });
    ASSERT_TRUE(seq.ok()) << seq.status();
    sequencer_ = std::move(*seq);
    options.retry_min = absl::Milliseconds(1);
    options.retry_max = absl::Milliseconds(5);
    options.interval = absl::Milliseconds(1);
    absl::StatusOr<std::unique_ptr<CheckpointPublisher>> pub = CheckpointPublisher::Start(
        &storage_, signer_.get(), &reader_, sequencer_->head(), options, &metrics_);
    ASSERT_TRUE(pub.ok()) << pub.status();
    publisher_ = std::move(*pub);
  }

  ~PublisherTest() override {
    if (sequencer_ != nullptr) sequencer_->Stop();
    if (publisher_ != nullptr) publisher_->Stop();
  }

  WaitResult Wait(uint64_t size) {
    auto done = std::make_shared<absl::Notification>();
    auto result = std::make_shared<WaitResult>();
    publisher_->WaitFor(size, [done, result](WaitResult r) {
      *result = std::move(r);
      done->Notify();
    });
    if (!done->WaitForNotificationWithTimeout(testutil::kTestWait)) {
      return absl::DeadlineExceededError("WaitFor never answered");
    }
    return *result;
  }

  ScopedTempDir dir_;
  MemoryStorage storage_;
  prometheus::Registry registry_;
  Metrics metrics_;
  TileCache cache_;
  TreeReader reader_;
  std::unique_ptr<CheckpointSigner> signer_;
  std::unique_ptr<Sequencer> sequencer_;
  std::unique_ptr<CheckpointPublisher> publisher_;
};

TEST_F(PublisherTest, PublishesEveryCommittedHeadSignedAndStored) {
  Start();
  MerkleReference ref;
  AppendEntries(*sequencer_, 0, 10, 3, &ref);
  WaitResult cp = Wait(10);
  ASSERT_TRUE(cp.ok()) << cp.status();
  EXPECT_EQ((*cp)->size, 10u);
  EXPECT_EQ((*cp)->root, ref.Root(10));
  absl::StatusOr<std::shared_ptr<const PublishedCheckpoint>> stored =
      ReadStoredCheckpoint(storage_);
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ((*stored)->note, (*cp)->note);
  EXPECT_TRUE(publisher_->status().ok());
}

TEST_F(PublisherTest, AFailingCheckpointWriteIsRetriedAndWaitersAreToldMeanwhile) {
  Start();
  ASSERT_TRUE(Wait(0).ok());  // the empty tree's checkpoint
  storage_.FailPutMeta(1000000);
  MerkleReference ref;
  AppendEntries(*sequencer_, 0, 4, 4, &ref);
  WaitResult failing = Wait(4);
  EXPECT_TRUE(absl::IsUnavailable(failing.status())) << failing.status();
  EXPECT_THAT(failing.status().message(), HasSubstr("retrying"));
  EXPECT_TRUE(absl::IsUnavailable(publisher_->status()));
  EXPECT_EQ(publisher_->latest()->size, 0u);

  storage_.FailPutMeta(0);
  WaitResult cp;
  for (int i = 0; i < 60000; ++i) {  // a client retries its wait
    cp = Wait(4);
    if (cp.ok()) break;
    absl::SleepFor(absl::Milliseconds(1));
  }
  ASSERT_TRUE(cp.ok()) << cp.status();
  EXPECT_EQ((*cp)->root, ref.Root(4));
  EXPECT_TRUE(publisher_->status().ok());
  EXPECT_GE(metrics_.checkpoint_publish_failures.Value(), 1);
  EXPECT_EQ(metrics_.checkpoint_publish_failing.Value(), 0);
}

TEST_F(PublisherTest, ARefusalToSignIsStickyAndPublishesNothingMore) {
  // The signer already signed a larger tree than the store holds (the data
  // directory went back in time): signing now would contradict it.
  ASSERT_TRUE(WriteFileAtomic(dir_.Sub("state"),
                              "infratrail-signer-state v1\norigin example.com/log\nsize 100\n"
                              "root AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n",
                              0600)
                  .ok());
  Start();
  WaitResult refused = Wait(0);
  EXPECT_TRUE(absl::IsUnavailable(refused.status())) << refused.status();
  EXPECT_THAT(refused.status().message(), HasSubstr("publishing failed"));
  EXPECT_TRUE(absl::IsFailedPrecondition(publisher_->status())) << publisher_->status();
  AppendEntries(*sequencer_, 0, 2, 2, nullptr);
  EXPECT_TRUE(absl::IsUnavailable(Wait(2).status()));
  EXPECT_EQ(publisher_->latest(), nullptr);
  EXPECT_EQ(metrics_.checkpoint_publish_failing.Value(), 1);
  EXPECT_EQ(metrics_.checkpoint_publish_failures.Value(), 1);
}

TEST_F(PublisherTest, ASlowWaiterDoesNotHoldUpTheNextCheckpoint) {
  Start();
  ASSERT_TRUE(Wait(0).ok());
  // Shared: the callback may still be returning from its wait when the test
  // body ends.
  auto in_callback = std::make_shared<absl::Notification>();
  auto release = std::make_shared<absl::Notification>();
  // Registered before size 1 exists, so it is answered by the publisher.
  publisher_->WaitFor(1, [in_callback, release](const WaitResult&) {
    in_callback->Notify();
    release->WaitForNotification();
  });
  AppendEntries(*sequencer_, 0, 1, 1, nullptr);
  ASSERT_TRUE(in_callback->WaitForNotificationWithTimeout(testutil::kTestWait));
  // The first waiter is still busy; the publisher goes on regardless.
  AppendEntries(*sequencer_, 1, 1, 1, nullptr);
  WaitResult cp = Wait(2);
  release->Notify();
  ASSERT_TRUE(cp.ok()) << cp.status();
  EXPECT_EQ((*cp)->size, 2u);
}

TEST_F(PublisherTest, StopAnswersEveryWaiterBeforeReturning) {
  Start();
  ASSERT_TRUE(Wait(0).ok());
  auto answered = std::make_shared<std::atomic<int>>(0);
  for (int i = 0; i < 10; ++i) {
    publisher_->WaitFor(1000 + i, [answered](const WaitResult& r) {
      EXPECT_TRUE(absl::IsUnavailable(r.status()));
      ++*answered;
    });
  }
  sequencer_->Stop();
  publisher_->Stop();
  EXPECT_EQ(answered->load(), 10);
}

}  // namespace
}  // namespace infratrail
