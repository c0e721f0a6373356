#include "verifier/witness/witness_store.h"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "core/io/file_util.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace infratrail {
namespace {

using ::testing::HasSubstr;

class WitnessStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = ::testing::TempDir() + "witness_store_XXXXXX";
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl + "/state";
  }
  void TearDown() override {
    std::filesystem::remove_all(std::filesystem::path(dir_).parent_path());
  }

  static CosignedCheckpoint Record(const std::string& origin, uint64_t size, char root_byte = 1) {
    CosignedCheckpoint r;
    r.origin = origin;
    r.size = size;
    r.root.fill(static_cast<uint8_t>(root_byte + size));
    r.note = absl::StrCat(origin, "\n", size, "\nroot\n\n— sig\n");
    return r;
  }

  static absl::Status CommitAndWait(WitnessStore* store, CosignedCheckpoint r) {
    absl::Notification done;
    absl::Status result;
    store->Commit(std::move(r), [&](absl::Status s) {
      result = s;
      done.Notify();
    });
    done.WaitForNotification();
    return result;
  }

  std::string journal() const {
    for (const auto& e : std::filesystem::directory_iterator(dir_)) {
      if (e.path().filename().string().rfind("journal-", 0) == 0) return e.path().string();
    }
    return "";
  }

  std::string dir_;
};

TEST_F(WitnessStoreTest, ARestartKeepsEveryLogsLatestRecord) {
  {
    auto store = *WitnessStore::Open(dir_);
    ASSERT_TRUE(CommitAndWait(store.get(), Record("a", 5)).ok());
    ASSERT_TRUE(CommitAndWait(store.get(), Record("b", 7)).ok());
    ASSERT_TRUE(CommitAndWait(store.get(), Record("a", 9)).ok());
  }
  auto store = *WitnessStore::Open(dir_);
  ASSERT_TRUE(store->Latest("a").has_value());
  EXPECT_EQ(store->Latest("a")->size, 9u);
  EXPECT_EQ(store->Latest("a")->note, Record("a", 9).note);
  EXPECT_EQ(store->Latest("b")->size, 7u);
  EXPECT_FALSE(store->Latest("c").has_value());
}

TEST_F(WitnessStoreTest, AfterDurableWaitsForWhatIsQueuedAndWritesNothing) {
  auto store = *WitnessStore::Open(dir_);
  ASSERT_TRUE(CommitAndWait(store.get(), Record("a", 5)).ok());
  const uint64_t batches = store->batches();
  const auto size = std::filesystem::file_size(journal());
  absl::Notification done;
  store->AfterDurable([&](absl::Status s) {
    EXPECT_TRUE(s.ok()) << s;
    done.Notify();
  });
  done.WaitForNotification();
  EXPECT_EQ(store->batches(), batches);
  EXPECT_EQ(std::filesystem::file_size(journal()), size);
}

TEST_F(WitnessStoreTest, ADamagedBatchFollowedByAGoodOneIsCorruptionNotATornWrite) {
  {
    auto store = *WitnessStore::Open(dir_);
    ASSERT_TRUE(CommitAndWait(store.get(), Record("a", 5)).ok());
    ASSERT_TRUE(CommitAndWait(store.get(), Record("a", 6)).ok());
  }
  std::string data = *ReadFileToString(journal());
  data[12] ^= 1;  // inside the first batch's records
  ASSERT_TRUE(WriteFileAtomic(journal(), data, 0600).ok());
  absl::StatusOr<std::unique_ptr<WitnessStore>> store = WitnessStore::Open(dir_);
  ASSERT_FALSE(store.ok());
  EXPECT_THAT(store.status().message(), HasSubstr("whole batches after it"));
}

TEST_F(WitnessStoreTest, CompactionFoldsTheJournalIntoASnapshotAndRecoveryReadsBoth) {
  {
    auto store = *WitnessStore::Open(
        dir_, WitnessStoreOptions{.compact_after_bytes = 300, .sync_fault = nullptr});
    for (uint64_t size = 1; size <= 40; ++size) {
      ASSERT_TRUE(CommitAndWait(store.get(), Record(absl::StrCat("log", size % 3), size)).ok());
    }
  }
  EXPECT_TRUE(std::filesystem::exists(dir_ + "/snapshot"));
  size_t journals = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir_)) {
    journals += e.path().filename().string().rfind("journal-", 0) == 0;
  }
  EXPECT_EQ(journals, 1u);  // old generations removed
  auto store = *WitnessStore::Open(dir_);
  EXPECT_EQ(store->Latest("log0")->size, 39u);
  EXPECT_EQ(store->Latest("log1")->size, 40u);
  EXPECT_EQ(store->Latest("log2")->size, 38u);
}

TEST_F(WitnessStoreTest, ATornWriteAtTheEndIsCutOffAndEverythingBeforeItKept) {
  {
    auto store = *WitnessStore::Open(dir_);
    ASSERT_TRUE(CommitAndWait(store.get(), Record("a", 5)).ok());
  }
  const std::string path = journal();
  const auto before = std::filesystem::file_size(path);
  {
    // Half a record, as a crash in the middle of a write leaves it.
    const int fd = open(path.c_str(), O_WRONLY | O_APPEND);
    const std::string junk("\x00\x00\x01\x00partial", 11);
    ASSERT_EQ(write(fd, junk.data(), junk.size()), static_cast<ssize_t>(junk.size()));
    close(fd);
  }
  auto store = *WitnessStore::Open(dir_);
  EXPECT_GT(store->recovered_torn_bytes(), 0u);
  EXPECT_EQ(std::filesystem::file_size(path), before);
  EXPECT_EQ(store->Latest("a")->size, 5u);
  ASSERT_TRUE(CommitAndWait(store.get(), Record("a", 6)).ok());
}

TEST_F(WitnessStoreTest, ARecordThatGoesBackIsCorruptionAndOpenRefuses) {
  {
    auto store = *WitnessStore::Open(dir_);
    ASSERT_TRUE(CommitAndWait(store.get(), Record("a", 9)).ok());
    // The witness never queues this (its CAS forbids it); written here to
    // stand for a journal edited or damaged on disk.
    ASSERT_TRUE(CommitAndWait(store.get(), Record("a", 5)).ok());
  }
  absl::StatusOr<std::unique_ptr<WitnessStore>> store = WitnessStore::Open(dir_);
  ASSERT_FALSE(store.ok());
  EXPECT_TRUE(absl::IsFailedPrecondition(store.status())) << store.status();
  EXPECT_THAT(store.status().message(), HasSubstr("goes from size 9 to 5"));
}

TEST_F(WitnessStoreTest, ADamagedSnapshotIsRefused) {
  {
    auto store = *WitnessStore::Open(
        dir_, WitnessStoreOptions{.compact_after_bytes = 1, .sync_fault = nullptr});
    ASSERT_TRUE(CommitAndWait(store.get(), Record("a", 5)).ok());
  }
  std::string snap = *ReadFileToString(dir_ + "/snapshot");
  snap[snap.size() / 2] ^= 1;
  ASSERT_TRUE(WriteFileAtomic(dir_ + "/snapshot", snap, 0600).ok());
  absl::StatusOr<std::unique_ptr<WitnessStore>> store = WitnessStore::Open(dir_);
  ASSERT_FALSE(store.ok());
  EXPECT_THAT(store.status().message(), HasSubstr("checksum"));
}

TEST_F(WitnessStoreTest, AFailedSyncIsStickyAndNothingAfterItIsAcknowledged) {
  bool fail = false;
  auto store = *WitnessStore::Open(dir_, WitnessStoreOptions{.sync_fault = [&fail] {
                                     return fail ? absl::InternalError("injected fdatasync failure")
                                                 : absl::OkStatus();
                                   }});
  ASSERT_TRUE(CommitAndWait(store.get(), Record("a", 5)).ok());
  fail = true;
  EXPECT_FALSE(CommitAndWait(store.get(), Record("a", 6)).ok());
  fail = false;
  absl::Status later = CommitAndWait(store.get(), Record("a", 7));
  EXPECT_TRUE(absl::IsUnavailable(later)) << later;
  EXPECT_FALSE(store->health().ok());
  EXPECT_EQ(store->Latest("a")->size, 5u);  // the durable view never moved
}

TEST_F(WitnessStoreTest, CommitsQueuedDuringASyncShareTheNextOne) {
  // The first batch's sync is held until every other commit is queued.
  absl::Notification queued;
  std::atomic<int> syncs{0};
  auto store = *WitnessStore::Open(dir_, WitnessStoreOptions{.sync_fault = [&] {
                                     if (syncs.fetch_add(1) == 0) queued.WaitForNotification();
                                     return absl::OkStatus();
                                   }});
  constexpr int kCommits = 400;
  absl::Mutex mu;
  int done = 0;
  for (int i = 0; i < kCommits; ++i) {
    store->Commit(Record(absl::StrCat("log", i % 50), static_cast<uint64_t>(i + 1)),
                  [&](absl::Status s) {
                    EXPECT_TRUE(s.ok()) << s;
                    absl::MutexLock l(&mu);
                    ++done;
                  });
  }
  queued.Notify();
  absl::MutexLock l(&mu);
  mu.Await(absl::Condition(
      +[](int* d) { return *d == kCommits; }, &done));
  EXPECT_LE(store->batches(), 2u);
  EXPECT_EQ(store->Latest("log0")->size, 351u);
}

}  // namespace
}  // namespace infratrail
