#include "server/sequencer.h"

#include <atomic>
#include <memory>
#include <thread>
#include <vector>

#include "absl/synchronization/blocking_counter.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "core/tile.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "prometheus/registry.h"
#include "server/forwarding_storage.h"
#include "server/memory_storage.h"
#include "server/metrics.h"
#include "server/testing_util.h"

namespace infratrail {
namespace {

using ::testing::HasSubstr;
using testutil::AddAndWait;
using testutil::AppendEntries;
using testutil::EntryData;
using testutil::MakeEntry;
using testutil::MerkleReference;

// Passes everything to a base store, but can hold the next Commit until the
// test releases it, so tests can queue work behind a batch in flight.
class GatedStorage : public ForwardingStorage {
 public:
  explicit GatedStorage(LogStorage* base) : ForwardingStorage(base) {}

  void BlockNextCommit() {
    absl::MutexLock l(&mu_);
    gate_ = std::make_shared<Gate>();
  }
  // Returns once a Commit is held at the gate.
  void WaitUntilBlocked() {
    ASSERT_TRUE(CurrentGate()->entered.WaitForNotificationWithTimeout(testutil::kTestWait));
  }
  void Release() { CurrentGate()->release.Notify(); }

  absl::Status Commit(const CommitBatch& batch) override {
    std::shared_ptr<Gate> gate;
    {
      absl::MutexLock l(&mu_);
      if (gate_ != nullptr && !gate_->entered.HasBeenNotified()) gate = gate_;
    }
    if (gate != nullptr) {
      gate->entered.Notify();
      gate->release.WaitForNotification();
    }
    return ForwardingStorage::Commit(batch);
  }

 private:
  struct Gate {
    absl::Notification entered;
    absl::Notification release;
  };
  std::shared_ptr<Gate> CurrentGate() {
    absl::MutexLock l(&mu_);
    return gate_;
  }

  absl::Mutex mu_;
  std::shared_ptr<Gate> gate_ ABSL_GUARDED_BY(mu_);
};

// The outcome of one asynchronous Add.
struct Outcome {
  // False if the callback never came.
  bool Wait() { return done.WaitForNotificationWithTimeout(testutil::kTestWait); }

  absl::Notification done;
  absl::Status status;
  std::vector<SequenceResult> results;
  Sequencer::AddDone Callback() {
    return [this](absl::Status s, std::vector<SequenceResult> r) {
      status = std::move(s);
      results = std::move(r);
      done.Notify();
    };
  }
};

std::vector<PendingEntry> Entries(std::initializer_list<absl::string_view> data) {
  std::vector<PendingEntry> out;
  for (absl::string_view d : data) out.push_back(MakeEntry(std::string(d)));
  return out;
}

MATCHER_P2(IsResult, index, duplicate, "") {
  return arg.index == static_cast<uint64_t>(index) && arg.duplicate == duplicate;
}

class SequencerTest : public ::testing::Test {
 protected:
  SequencerTest() : metrics_(registry_) {}

  std::unique_ptr<Sequencer> StartOn(LogStorage* storage, const SequencerOptions& options = {},
                                     Sequencer::CommitListener listener = nullptr) {
    absl::StatusOr<std::unique_ptr<Sequencer>> s =
        Sequencer::Start(storage, options, &metrics_, std::move(listener));
    EXPECT_TRUE(s.ok()) << s.status();
    return s.ok() ? std::move(*s) : nullptr;
  }

  MemoryStorage storage_;
  prometheus::Registry registry_;
  Metrics metrics_;
};

TEST_F(SequencerTest, ConcurrentAddsGetEveryIndexOnceInSubmissionOrder) {
  constexpr int kThreads = 4, kAdds = 50, kPerAdd = 3;
  std::unique_ptr<Sequencer> seq = StartOn(&storage_);
  ASSERT_NE(seq, nullptr);
  std::vector<std::vector<std::vector<SequenceResult>>> got(
      kThreads, std::vector<std::vector<SequenceResult>>(kAdds));
  absl::BlockingCounter acked(kThreads * kAdds);
  absl::Notification go;
  std::vector<std::thread> threads;
  threads.reserve(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      go.WaitForNotification();
      for (int a = 0; a < kAdds; ++a) {
        std::vector<PendingEntry> batch;
        batch.reserve(kPerAdd);
        for (int j = 0; j < kPerAdd; ++j) {
          batch.push_back(MakeEntry(absl::StrCat("t", t, "-a", a, "-", j)));
        }
        absl::Status st = seq->Add(std::move(batch),
                                   [&, t, a](const absl::Status& s, std::vector<SequenceResult> r) {
                                     EXPECT_TRUE(s.ok()) << s;
                                     got[t][a] = std::move(r);
                                     acked.DecrementCount();
                                   });
        EXPECT_TRUE(st.ok()) << st;
        if (!st.ok()) acked.DecrementCount();
      }
    });
  }
  go.Notify();
  for (std::thread& th : threads) th.join();
  acked.Wait();

  constexpr uint64_t kTotal = uint64_t{kThreads} * kAdds * kPerAdd;
  std::vector<std::string> by_index(kTotal);
  for (int t = 0; t < kThreads; ++t) {
    uint64_t last = 0;
    for (int a = 0; a < kAdds; ++a) {
      ASSERT_EQ(got[t][a].size(), static_cast<size_t>(kPerAdd));
      for (int j = 0; j < kPerAdd; ++j) {
        const SequenceResult& r = got[t][a][j];
        EXPECT_FALSE(r.duplicate);
        ASSERT_LT(r.index, kTotal);
        EXPECT_TRUE(by_index[r.index].empty()) << "index " << r.index << " given twice";
        by_index[r.index] = absl::StrCat("t", t, "-a", a, "-", j);
        // One Add is sequenced as a unit, and a thread's Adds in order.
        if (j > 0) {
          EXPECT_EQ(r.index, got[t][a][j - 1].index + 1);
        }
        if (a > 0 || j > 0) {
          EXPECT_GT(r.index, last);
        }
        last = r.index;
      }
    }
  }
  std::vector<std::string> stored;
  ASSERT_TRUE(storage_.ReadEntries(0, kTotal, &stored).ok());
  EXPECT_EQ(stored, by_index);

  MerkleReference ref;
  for (const std::string& e : stored) ref.AddEntry(e);
  const TreeHead head = seq->head();
  EXPECT_EQ(head.size, kTotal);
  EXPECT_EQ(HashToHex(head.root), HashToHex(ref.Root(kTotal)));
  EXPECT_EQ(metrics_.entries_appended.Value(), static_cast<double>(kTotal));
  EXPECT_EQ(metrics_.tree_size.Value(), static_cast<double>(kTotal));
}

TEST_F(SequencerTest, DuplicatesWithinOneAddGetTheFirstIndex) {
  std::unique_ptr<Sequencer> seq = StartOn(&storage_);
  absl::StatusOr<std::vector<SequenceResult>> r =
      AddAndWait(*seq, Entries({"a", "b", "a", "c", "b"}));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_THAT(*r, ::testing::ElementsAre(IsResult(0, false), IsResult(1, false), IsResult(0, true),
                                         IsResult(2, false), IsResult(1, true)));
  EXPECT_EQ(seq->head().size, 3u);
  EXPECT_EQ(metrics_.entries_duplicate.Value(), 2);
  std::vector<std::string> stored;
  ASSERT_TRUE(storage_.ReadEntries(0, 3, &stored).ok());
  EXPECT_THAT(stored, ::testing::ElementsAre("a", "b", "c"));
}

TEST_F(SequencerTest, DuplicatesAcrossAddsInOneBatchGetTheFirstIndex) {
  GatedStorage gated(&storage_);
  std::unique_ptr<Sequencer> seq = StartOn(&gated);
  gated.BlockNextCommit();
  Outcome w, first, second;
  ASSERT_TRUE(seq->Add(Entries({"w"}), w.Callback()).ok());
  gated.WaitUntilBlocked();
  ASSERT_TRUE(seq->Add(Entries({"x", "y"}), first.Callback()).ok());
  ASSERT_TRUE(seq->Add(Entries({"y", "x", "z"}), second.Callback()).ok());
  gated.Release();
  ASSERT_TRUE(second.Wait());
  ASSERT_TRUE(first.Wait());
  ASSERT_TRUE(first.status.ok()) << first.status;
  ASSERT_TRUE(second.status.ok()) << second.status;
  EXPECT_EQ(storage_.commit_count(), 2);  // w, then both Adds together
  EXPECT_THAT(first.results, ::testing::ElementsAre(IsResult(1, false), IsResult(2, false)));
  EXPECT_THAT(second.results,
              ::testing::ElementsAre(IsResult(2, true), IsResult(1, true), IsResult(3, false)));
  EXPECT_EQ(seq->head().size, 4u);
}

TEST_F(SequencerTest, DuplicatesOfStoredEntriesGetTheOriginalIndexAcrossRestart) {
  std::unique_ptr<Sequencer> seq = StartOn(&storage_);
  ASSERT_TRUE(AddAndWait(*seq, Entries({"a", "b"})).ok());
  const int commits = storage_.commit_count();
  absl::StatusOr<std::vector<SequenceResult>> r = AddAndWait(*seq, Entries({"b", "a"}));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_THAT(*r, ::testing::ElementsAre(IsResult(1, true), IsResult(0, true)));
  EXPECT_EQ(storage_.commit_count(), commits);  // nothing new to commit
  seq->Stop();

  seq = StartOn(&storage_);
  r = AddAndWait(*seq, Entries({"c", "a"}));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_THAT(*r, ::testing::ElementsAre(IsResult(2, false), IsResult(0, true)));
  EXPECT_EQ(seq->head().size, 3u);
}

TEST_F(SequencerTest, CommitListenerSeesEachNewHead) {
  absl::Mutex mu;
  std::vector<TreeHead> heads;
  std::unique_ptr<Sequencer> seq = StartOn(&storage_, {}, [&](const TreeHead& h) {
    absl::MutexLock l(&mu);
    heads.push_back(h);
  });
  MerkleReference ref;
  AppendEntries(*seq, 0, 5, 2, &ref);
  ASSERT_TRUE(AddAndWait(*seq, Entries({"entry-1"})).ok());  // a duplicate only
  absl::MutexLock l(&mu);
  ASSERT_EQ(heads.size(), 3u);
  EXPECT_EQ(heads[0].size, 2u);
  EXPECT_EQ(heads[2].size, 5u);
  EXPECT_EQ(HashToHex(heads[1].root), HashToHex(ref.Root(4)));
  EXPECT_EQ(HashToHex(heads[2].root), HashToHex(seq->head().root));
}

class SequencerRestartTest : public SequencerTest,
                             public ::testing::WithParamInterface<uint64_t> {};

TEST_P(SequencerRestartTest, RestartedTreeIsIdenticalToAnUninterruptedOne) {
  const uint64_t split = GetParam();
  constexpr uint64_t kTotal = 1100;
  MerkleReference ref;
  {
    std::unique_ptr<Sequencer> seq = StartOn(&storage_);
    AppendEntries(*seq, 0, split, 50, &ref);
    seq->Stop();
  }
  std::unique_ptr<Sequencer> seq = StartOn(&storage_);
  ASSERT_NE(seq, nullptr);
  EXPECT_EQ(seq->head().size, split);
  EXPECT_EQ(HashToHex(seq->head().root), HashToHex(ref.Root(split)));
  AppendEntries(*seq, split, kTotal - split, 50, &ref);
  EXPECT_EQ(HashToHex(seq->head().root), HashToHex(ref.Root(kTotal)));
  seq->Stop();

  MemoryStorage straight;
  {
    std::unique_ptr<Sequencer> s2 = StartOn(&straight);
    AppendEntries(*s2, 0, kTotal, 64, nullptr);
  }
  absl::StatusOr<TreeState> a = storage_.ReadTreeState();
  absl::StatusOr<TreeState> b = straight.ReadTreeState();
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(*a, *b);
  for (const TileId& t : TilesForTree(kTotal, /*entries=*/false)) {
    absl::StatusOr<std::string> ta = storage_.ReadTile(t);
    absl::StatusOr<std::string> tb = straight.ReadTile(t);
    ASSERT_TRUE(ta.ok()) << t.Path() << ": " << ta.status();
    ASSERT_TRUE(tb.ok()) << t.Path() << ": " << tb.status();
    EXPECT_EQ(ta->size(), t.width * kHashSize) << t.Path();
    EXPECT_EQ(*ta, *tb) << t.Path();
  }
}

INSTANTIATE_TEST_SUITE_P(SplitSizes, SequencerRestartTest,
                         ::testing::Values(0, 1, 255, 256, 257, 511, 512, 700));

TEST_F(SequencerTest, FullQueueIsResourceExhausted) {
  GatedStorage gated(&storage_);
  std::unique_ptr<Sequencer> seq = StartOn(&gated, {.max_pending_entries = 4});
  gated.BlockNextCommit();
  Outcome w, a, b, c;
  ASSERT_TRUE(seq->Add(Entries({"w"}), w.Callback()).ok());
  gated.WaitUntilBlocked();  // w left the queue; the sequencer is stuck
  ASSERT_TRUE(seq->Add(Entries({"a1", "a2", "a3"}), a.Callback()).ok());
  ASSERT_TRUE(seq->Add(Entries({"b"}), b.Callback()).ok());
  EXPECT_EQ(seq->queued_entries(), 4u);
  absl::Status full = seq->Add(Entries({"c"}), c.Callback());
  EXPECT_TRUE(absl::IsResourceExhausted(full)) << full;
  EXPECT_EQ(metrics_.rejected_queue_full.Value(), 1);
  gated.Release();
  for (Outcome* o : {&w, &a, &b}) {
    ASSERT_TRUE(o->Wait());
    EXPECT_TRUE(o->status.ok()) << o->status;
  }
  EXPECT_FALSE(c.done.HasBeenNotified());  // a rejected Add is never called back
  EXPECT_EQ(seq->head().size, 5u);
  EXPECT_TRUE(AddAndWait(*seq, Entries({"c"})).ok());  // room again
}

TEST_F(SequencerTest, AnAddLargerThanTheQueueBoundIsAdmittedIntoAnEmptyQueue) {
  GatedStorage gated(&storage_);
  std::unique_ptr<Sequencer> seq = StartOn(&gated, {.max_pending_entries = 2});
  gated.BlockNextCommit();
  Outcome w, big;
  ASSERT_TRUE(seq->Add(Entries({"w"}), w.Callback()).ok());
  gated.WaitUntilBlocked();  // the queue is empty again, the sequencer stuck
  // Three entries exceed the bound of two on their own: refusing them
  // forever would make a retry pointless, so an empty queue takes them.
  ASSERT_TRUE(seq->Add(Entries({"a", "b", "c"}), big.Callback()).ok());
  EXPECT_TRUE(absl::IsResourceExhausted(seq->Add(Entries({"d"}), nullptr)));
  gated.Release();
  ASSERT_TRUE(big.Wait());
  EXPECT_TRUE(big.status.ok()) << big.status;
  EXPECT_EQ(seq->head().size, 4u);
}

TEST_F(SequencerTest, QueuedBytesAreBounded) {
  GatedStorage gated(&storage_);
  std::unique_ptr<Sequencer> seq = StartOn(&gated, {.max_pending_bytes = 10});
  gated.BlockNextCommit();
  Outcome w, a;
  ASSERT_TRUE(seq->Add(Entries({"w"}), w.Callback()).ok());
  gated.WaitUntilBlocked();
  ASSERT_TRUE(seq->Add(Entries({"12345678"}), a.Callback()).ok());
  EXPECT_TRUE(absl::IsResourceExhausted(seq->Add(Entries({"123"}), nullptr)));
  gated.Release();
  ASSERT_TRUE(a.Wait());
  EXPECT_TRUE(AddAndWait(*seq, Entries({"123"})).ok());
}

TEST_F(SequencerTest, EmptyAddIsInvalid) {
  std::unique_ptr<Sequencer> seq = StartOn(&storage_);
  EXPECT_TRUE(absl::IsInvalidArgument(seq->Add({}, nullptr)));
}

class SequencerFailureTest : public SequencerTest, public ::testing::WithParamInterface<bool> {};

TEST_P(SequencerFailureTest, FailedCommitIsStickyAndLosesNothingAcknowledged) {
  const bool applied = GetParam();
  GatedStorage gated(&storage_);
  std::unique_ptr<Sequencer> seq = StartOn(&gated);
  ASSERT_TRUE(AddAndWait(*seq, Entries({"a"})).ok());
  EXPECT_EQ(metrics_.sequencer_healthy.Value(), 1);
  storage_.FailCommitsAfter(0, applied);

  gated.BlockNextCommit();
  Outcome b, c;
  ASSERT_TRUE(seq->Add(Entries({"b"}), b.Callback()).ok());
  gated.WaitUntilBlocked();
  ASSERT_TRUE(seq->Add(Entries({"c"}), c.Callback()).ok());  // queued behind the failure
  gated.Release();
  ASSERT_TRUE(b.Wait());
  ASSERT_TRUE(c.Wait());
  EXPECT_TRUE(absl::IsUnavailable(b.status)) << b.status;
  EXPECT_TRUE(absl::IsUnavailable(c.status)) << c.status;
  EXPECT_TRUE(b.results.empty());

  absl::Status later = seq->Add(Entries({"d"}), nullptr);
  EXPECT_TRUE(absl::IsUnavailable(later)) << later;
  EXPECT_THAT(later.message(), HasSubstr("storage failure"));
  EXPECT_FALSE(seq->status().ok());
  EXPECT_EQ(metrics_.sequencer_healthy.Value(), 0);
  EXPECT_EQ(seq->head().size, 1u);  // never acknowledges on top of the failure
  EXPECT_EQ(seq->queued_entries(), 0u);
  seq->Stop();

  // Restart (the disk works again): "a" is there; "b" is there iff the
  // failing batch reached the disk, and a retry of it is then a duplicate.
  storage_.FailCommitsAfter(1000, false);
  seq = StartOn(&storage_);
  ASSERT_NE(seq, nullptr);
  EXPECT_EQ(seq->head().size, applied ? 2u : 1u);
  absl::StatusOr<std::vector<SequenceResult>> r = AddAndWait(*seq, Entries({"b", "a", "c"}));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_THAT(*r,
              ::testing::ElementsAre(IsResult(1, applied), IsResult(0, true), IsResult(2, false)));
  MerkleReference ref;
  for (absl::string_view e : {"a", "b", "c"}) ref.AddEntry(e);
  EXPECT_EQ(HashToHex(seq->head().root), HashToHex(ref.Root(3)));
}

INSTANTIATE_TEST_SUITE_P(AppliedOrNot, SequencerFailureTest, ::testing::Bool());

TEST_F(SequencerTest, StopCommitsEverythingQueuedBeforeIt) {
  GatedStorage gated(&storage_);
  std::unique_ptr<Sequencer> seq = StartOn(&gated);
  gated.BlockNextCommit();
  absl::Mutex mu;
  int acked_ok = 0, acked_other = 0;
  auto count = [&](const absl::Status& s, const std::vector<SequenceResult>&) {
    absl::MutexLock l(&mu);
    ++(s.ok() ? acked_ok : acked_other);
  };
  int accepted = 0;
  ASSERT_TRUE(seq->Add(Entries({"w"}), count).ok());
  ++accepted;
  gated.WaitUntilBlocked();
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(
        seq->Add(Entries({EntryData(uint64_t{2} * i), EntryData(uint64_t{2} * i + 1)}), count)
            .ok());
    ++accepted;
  }
  std::thread stopper([&] { seq->Stop(); });
  // Keep adding until Stop takes effect: everything accepted must commit.
  for (uint64_t i = 100;; ++i, std::this_thread::yield()) {
    absl::Status st = seq->Add({MakeEntry(EntryData(i))}, count);
    if (absl::IsResourceExhausted(st)) continue;
    if (!st.ok()) {
      EXPECT_TRUE(absl::IsUnavailable(st)) << st;
      break;
    }
    ++accepted;
  }
  gated.Release();
  stopper.join();
  absl::MutexLock l(&mu);
  EXPECT_EQ(acked_ok, accepted);
  EXPECT_EQ(acked_other, 0);
  EXPECT_EQ(seq->head().size, static_cast<uint64_t>(1 + 20 + (accepted - 11)));
  EXPECT_TRUE(absl::IsUnavailable(seq->Add(Entries({"late"}), count)));
}

TEST_F(SequencerTest, StartRefusesStateWithoutItsEdgeTile) {
  TreeState state{5, {}};
  MerkleReference ref;
  for (int i = 0; i < 5; ++i) ref.AddEntry(EntryData(i));
  // DecomposeRange(0, 5) = [0,4) [4,5).
  state.right_edge = {ref.Root(4), ref.leaf(4)};
  std::vector<std::string> data;
  data.reserve(5);
  CommitBatch cb;
  for (int i = 0; i < 5; ++i) data.push_back(EntryData(i));
  for (int i = 0; i < 5; ++i) {
    cb.entries.push_back(data[i]);
    cb.leaf_hashes.push_back(ref.leaf(i));
  }
  cb.state = state;
  ASSERT_TRUE(storage_.Commit(cb).ok());  // no tiles
  absl::StatusOr<std::unique_ptr<Sequencer>> s =
      Sequencer::Start(&storage_, {}, &metrics_, nullptr);
  EXPECT_TRUE(absl::IsDataLoss(s.status())) << s.status();
}

// A disk whose free space the test sets; the reserve re-reads it every Check.
struct FillingDisk {
  std::atomic<uint64_t> free{uint64_t{1} << 40};
  DiskReserve reserve{
      DiskReserveOptions{
          .paths = {"/data"}, .min_free_bytes = 1 << 20, .refresh = absl::ZeroDuration()},
      [this](const std::string&) -> absl::StatusOr<uint64_t> { return free.load(); }};
};

TEST_F(SequencerTest, BelowTheDiskReserveAddsAreRefusedAndResumeOnceFreed) {
  FillingDisk disk;
  std::unique_ptr<Sequencer> seq = StartOn(&storage_, {.disk_reserve = &disk.reserve});
  ASSERT_TRUE(AddAndWait(*seq, Entries({"a"})).ok());
  disk.free = 1000;
  Outcome refused;
  absl::Status st = seq->Add(Entries({"b"}), refused.Callback());
  EXPECT_TRUE(absl::IsResourceExhausted(st)) << st;
  EXPECT_THAT(st.message(), HasSubstr("--min-free-disk-mb"));
  EXPECT_TRUE(absl::IsResourceExhausted(seq->status()));
  EXPECT_EQ(storage_.commit_count(), 1);
  // Not sticky: freed space takes writes again, at the next index.
  disk.free = uint64_t{1} << 40;
  EXPECT_TRUE(seq->status().ok());
  absl::StatusOr<std::vector<SequenceResult>> r = AddAndWait(*seq, Entries({"b"}));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_THAT(*r, ::testing::ElementsAre(IsResult(1, false)));
}

TEST_F(SequencerTest, ABatchQueuedBeforeTheDiskFilledIsRefusedWithoutChangingTheTree) {
  FillingDisk disk;
  GatedStorage gated(&storage_);
  std::unique_ptr<Sequencer> seq = StartOn(&gated, {.disk_reserve = &disk.reserve});
  gated.BlockNextCommit();
  Outcome first, queued;
  ASSERT_TRUE(seq->Add(Entries({"first"}), first.Callback()).ok());
  gated.WaitUntilBlocked();
  ASSERT_TRUE(seq->Add(Entries({"queued"}), queued.Callback()).ok());
  disk.free = 1000;  // fills while "first" is being committed
  gated.Release();
  ASSERT_TRUE(first.Wait());
  ASSERT_TRUE(queued.Wait());
  EXPECT_TRUE(first.status.ok());
  EXPECT_TRUE(absl::IsResourceExhausted(queued.status)) << queued.status;
  EXPECT_EQ(seq->head().size, 1u);
  EXPECT_TRUE(absl::IsResourceExhausted(seq->status()));
  disk.free = uint64_t{1} << 40;
  absl::StatusOr<std::vector<SequenceResult>> r = AddAndWait(*seq, Entries({"queued"}));
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_THAT(*r, ::testing::ElementsAre(IsResult(1, false)));
  MerkleReference ref;
  ref.AddEntry(MakeEntry("first").data);
  ref.AddEntry(MakeEntry("queued").data);
  EXPECT_EQ(seq->head().root, ref.Root(2));
}

TEST_F(SequencerTest, AReadOnlySequencerServesItsHeadAndRefusesEveryAdd) {
  {
    std::unique_ptr<Sequencer> seq = StartOn(&storage_);
    ASSERT_TRUE(AddAndWait(*seq, Entries({"a", "b"})).ok());
  }
  std::unique_ptr<Sequencer> ro = StartOn(&storage_, {.read_only_reason = "the disk is full"});
  ASSERT_NE(ro, nullptr);
  EXPECT_EQ(ro->head().size, 2u);
  Outcome never;
  absl::Status st = ro->Add(Entries({"c"}), never.Callback());
  EXPECT_TRUE(absl::IsUnavailable(st)) << st;
  EXPECT_THAT(st.message(), HasSubstr("read-only: the disk is full"));
  EXPECT_TRUE(absl::IsUnavailable(ro->status()));
  EXPECT_EQ(storage_.commit_count(), 1);
  ro->Stop();
}

}  // namespace
}  // namespace infratrail
