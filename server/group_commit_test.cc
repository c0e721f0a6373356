// Group commit (DESIGN.md write path): everything queued while a commit is
// in flight goes into the next single storage commit, and no caller hears
// back about an entry before the commit holding it has returned.
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/blocking_counter.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"
#include "server/forwarding_storage.h"
#include "server/memory_storage.h"
#include "server/metrics.h"
#include "server/sequencer.h"

namespace infratrail {
namespace {

// Records every commit and, at each, which entries had already been
// acknowledged; can hold the first commit until released.
class RecordingStorage : public ForwardingStorage {
 public:
  explicit RecordingStorage(LogStorage* base) : ForwardingStorage(base) {}

  absl::Status Commit(const CommitBatch& batch) override {
    {
      absl::MutexLock l(&mu_);
      for (absl::string_view e : batch.entries) {
        if (acked_.contains(std::string(e))) early_ack_ = true;
      }
      commits_.push_back(batch.entries.size());
    }
    if (!entered_.HasBeenNotified()) {
      entered_.Notify();
      release_.WaitForNotification();
    }
    return ForwardingStorage::Commit(batch);
  }

  void Acked(const std::string& entry) {
    absl::MutexLock l(&mu_);
    acked_.insert(entry);
  }
  void WaitUntilHeld() { entered_.WaitForNotification(); }
  void Release() { release_.Notify(); }
  std::vector<size_t> commits() {
    absl::MutexLock l(&mu_);
    return commits_;
  }
  bool early_ack() {
    absl::MutexLock l(&mu_);
    return early_ack_;
  }

 private:
  absl::Mutex mu_;
  absl::flat_hash_set<std::string> acked_ ABSL_GUARDED_BY(mu_);
  std::vector<size_t> commits_ ABSL_GUARDED_BY(mu_);
  bool early_ack_ ABSL_GUARDED_BY(mu_) = false;
  absl::Notification entered_;
  absl::Notification release_;
};

TEST(GroupCommit, EverythingQueuedDuringACommitGoesIntoOneCommitAckedAfterIt) {
  MemoryStorage memory;
  RecordingStorage storage(&memory);
  prometheus::Registry reg;
  Metrics metrics(reg);
  auto seq = Sequencer::Start(&storage, SequencerOptions{}, &metrics, nullptr);
  ASSERT_TRUE(seq.ok()) << seq.status();

  constexpr int kAdds = 100;
  absl::BlockingCounter done(kAdds + 1);
  absl::Mutex mu;
  int acked_before_release = 0;
  bool released = false;
  auto add = [&](const std::string& data) {
    std::vector<PendingEntry> e = {{data, HashLeaf(data)}};
    return (*seq)->Add(std::move(e),
                       [&, data](const absl::Status& s, const std::vector<SequenceResult>&) {
                         EXPECT_TRUE(s.ok()) << s;
                         storage.Acked(data);
                         {
                           absl::MutexLock l(&mu);
                           if (!released) ++acked_before_release;
                         }
                         done.DecrementCount();
                       });
  };
  // The first entry's commit is held; meanwhile 100 more callers queue.
  ASSERT_TRUE(add("first").ok());
  storage.WaitUntilHeld();
  for (int i = 0; i < kAdds; ++i) ASSERT_TRUE(add(absl::StrCat("queued ", i)).ok());
  {
    absl::MutexLock l(&mu);
    released = true;
  }
  storage.Release();
  done.Wait();

  EXPECT_EQ(acked_before_release, 0) << "an entry was acknowledged before its commit returned";
  EXPECT_FALSE(storage.early_ack()) << "an entry was acknowledged before being committed";
  // One commit for the held entry, one for all 100 queued behind it.
  EXPECT_EQ(storage.commits(), (std::vector<size_t>{1, kAdds}));
  EXPECT_EQ((*seq)->head().size, uint64_t{kAdds + 1});
}

}  // namespace
}  // namespace infratrail
