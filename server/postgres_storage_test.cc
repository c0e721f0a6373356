// PostgresStorage beyond the LogStorage contract (storage_conformance_test):
// fencing, the lease, start-up refusals, concurrent use, lost connections.
#include "server/postgres_storage.h"

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/node_id.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/testing/postgres_cluster.h"

namespace infratrail {
namespace {

using ::testing::HasSubstr;

testutil::PostgresCluster* Cluster() { return testutil::PostgresCluster::Shared({.fsync = false}); }

class PostgresStorageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_NE(Cluster(), nullptr);
    absl::StatusOr<std::string> db = Cluster()->CreateDatabase();
    ASSERT_TRUE(db.ok()) << db.status();
    conninfo_ = *db;
    database_ = conninfo_.substr(conninfo_.rfind('/') + 1);
  }
  std::unique_ptr<PostgresStorage> Open() {
    absl::StatusOr<std::unique_ptr<PostgresStorage>> s =
        PostgresStorage::Open(PostgresOptions{.conninfo = conninfo_});
    EXPECT_TRUE(s.ok()) << s.status();
    return s.ok() ? *std::move(s) : nullptr;
  }
  // Takes the lease for `holder` once it is free (a lease of 1 ms lapses
  // at once); its epoch.
  static int64_t AcquireWhenFree(PostgresStorage& s, const std::string& holder) {
    for (int i = 0; i < 10000; ++i) {
      absl::StatusOr<std::optional<int64_t>> won =
          s.TryAcquireLease(holder, holder + ":7400", absl::Milliseconds(1), nullptr);
      EXPECT_TRUE(won.ok()) << won.status();
      if (won.ok() && won->has_value()) return **won;
    }
    ADD_FAILURE() << holder << " never got the lease";
    return -1;
  }

  std::string conninfo_;
  std::string database_;
};

// A batch of `n` entries after `size` (the tree state's hashes are
// arbitrary: storage does not check them).
struct Batch {
  std::vector<std::string> data;
  CommitBatch batch;
  Batch(uint64_t size, int n, absl::string_view tag) {
    for (int i = 0; i < n; ++i) data.push_back(absl::StrCat(tag, "-", size + i));
    batch.first_index = size;
    for (const std::string& d : data) {
      batch.entries.push_back(d);
      batch.leaf_hashes.push_back(HashLeaf(d));
    }
    batch.state.size = size + n;
    for (size_t i = 0; i < DecomposeRange(0, size + n).size(); ++i) {
      batch.state.right_edge.push_back(Sha256(absl::StrCat(tag, size + n, "/", i)));
    }
  }
};

TEST_F(PostgresStorageTest, TwoWritersCannotBothExtendTheSameSize) {
  std::unique_ptr<PostgresStorage> a = Open();
  std::unique_ptr<PostgresStorage> b = Open();
  Batch first(0, 3, "a");
  Batch rival(0, 3, "b");
  ASSERT_TRUE(a->Commit(first.batch).ok());
  absl::Status st = b->Commit(rival.batch);
  EXPECT_TRUE(absl::IsFailedPrecondition(st)) << st;
  EXPECT_THAT(st.message(), HasSubstr("no longer at size 0"));
  std::vector<std::string> entries;
  ASSERT_TRUE(b->ReadEntries(0, 3, &entries).ok());
  EXPECT_EQ(entries, first.data);
  std::vector<std::optional<uint64_t>> found;
  const Hash rival_leaf[] = {rival.batch.leaf_hashes[0]};
  ASSERT_TRUE(a->LookupLeaves(rival_leaf, &found).ok());
  EXPECT_FALSE(found[0].has_value()) << "the refused batch left a leaf-index row";
}

TEST_F(PostgresStorageTest, ATakeoverFencesEveryWriteOfTheDeposedLeader) {
  std::unique_ptr<PostgresStorage> old_leader = Open();
  std::unique_ptr<PostgresStorage> new_leader = Open();
  const int64_t e1 = AcquireWhenFree(*old_leader, "a");
  old_leader->SetFencingEpoch(e1);
  Batch b0(0, 2, "a");
  ASSERT_TRUE(old_leader->Commit(b0.batch).ok());
  ASSERT_TRUE(old_leader->StoreSignedHead(SignedHead{2, Sha256("root2")}).ok());

  const int64_t e2 = AcquireWhenFree(*new_leader, "b");
  EXPECT_GT(e2, e1);
  new_leader->SetFencingEpoch(e2);
  // The deposed leader's commit, signature and meta write all bounce.
  Batch late(2, 2, "a");
  EXPECT_TRUE(absl::IsFailedPrecondition(old_leader->Commit(late.batch)));
  EXPECT_TRUE(absl::IsFailedPrecondition(old_leader->StoreSignedHead({4, Sha256("root4")})));
  EXPECT_TRUE(absl::IsFailedPrecondition(old_leader->PutMeta(kMetaCheckpoint, "stale")));
  EXPECT_TRUE(absl::IsFailedPrecondition(old_leader->RenewLease(e1, absl::Seconds(3), "a:7400")));
  // The new one continues from what the old one committed and signed.
  absl::StatusOr<TreeState> state = new_leader->ReadTreeState();
  ASSERT_TRUE(state.ok());
  EXPECT_EQ(state->size, 2u);
  absl::StatusOr<std::optional<SignedHead>> signed_head = new_leader->LoadSignedHead();
  ASSERT_TRUE(signed_head.ok() && signed_head->has_value());
  EXPECT_EQ((*signed_head)->size, 2u);
  Batch next(2, 2, "b");
  EXPECT_TRUE(new_leader->Commit(next.batch).ok());
  EXPECT_TRUE(new_leader->StoreSignedHead(SignedHead{4, Sha256("root4b")}).ok());
  // Never backwards, even for the leader.
  EXPECT_TRUE(absl::IsFailedPrecondition(new_leader->StoreSignedHead({3, Sha256("root3")})));
}

TEST_F(PostgresStorageTest, TheLeaseIsHeldUntilItLapsesOrIsReleased) {
  std::unique_ptr<PostgresStorage> a = Open();
  std::unique_ptr<PostgresStorage> b = Open();
  absl::StatusOr<std::optional<int64_t>> won =
      a->TryAcquireLease("a", "a:7400", absl::Seconds(60), nullptr);
  ASSERT_TRUE(won.ok() && won->has_value()) << won.status();
  LeaseView seen;
  absl::StatusOr<std::optional<int64_t>> lost =
      b->TryAcquireLease("b", "b:7400", absl::Seconds(60), &seen);
  ASSERT_TRUE(lost.ok());
  EXPECT_FALSE(lost->has_value());
  EXPECT_EQ(seen.address, "a:7400");
  EXPECT_TRUE(seen.valid);
  EXPECT_TRUE(a->RenewLease(**won, absl::Seconds(60), "a2:7400").ok());
  absl::StatusOr<LeaseView> read = b->ReadLease();
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(read->address, "a2:7400");
  // The holder itself may take it again (a new epoch), others may not.
  absl::StatusOr<std::optional<int64_t>> again =
      a->TryAcquireLease("a", "a:7400", absl::Seconds(60), nullptr);
  ASSERT_TRUE(again.ok() && again->has_value());
  EXPECT_EQ(**again, **won + 1);
  ASSERT_TRUE(a->ReleaseLease(**again).ok());
  absl::StatusOr<std::optional<int64_t>> taken =
      b->TryAcquireLease("b", "b:7400", absl::Seconds(60), nullptr);
  ASSERT_TRUE(taken.ok());
  EXPECT_TRUE(taken->has_value()) << "a released lease is free at once";
}

TEST_F(PostgresStorageTest, OpenRefusesSynchronousCommitOff) {
  ASSERT_TRUE(
      Cluster()
          ->Query(database_, "ALTER DATABASE " + database_ + " SET synchronous_commit = off")
          .ok());
  absl::StatusOr<std::unique_ptr<PostgresStorage>> s =
      PostgresStorage::Open(PostgresOptions{.conninfo = conninfo_});
  EXPECT_TRUE(absl::IsFailedPrecondition(s.status())) << s.status();
  EXPECT_THAT(s.status().message(), HasSubstr("synchronous_commit is off"));
}

TEST_F(PostgresStorageTest, OpenRefusesASchemaNewerThanItKnows) {
  ASSERT_NE(Open(), nullptr);
  ASSERT_TRUE(Cluster()->Query(database_, "UPDATE infratrail_schema SET version = 99").ok());
  absl::StatusOr<std::unique_ptr<PostgresStorage>> s =
      PostgresStorage::Open(PostgresOptions{.conninfo = conninfo_});
  EXPECT_TRUE(absl::IsFailedPrecondition(s.status())) << s.status();
  EXPECT_THAT(s.status().message(), HasSubstr("schema version 99 is newer"));
}

TEST_F(PostgresStorageTest, ServersStartingTogetherMigrateTheSchemaOnce) {
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&] {
      absl::StatusOr<std::unique_ptr<PostgresStorage>> s =
          PostgresStorage::Open(PostgresOptions{.conninfo = conninfo_});
      EXPECT_TRUE(s.ok()) << s.status();
      if (s.ok()) ++ok;
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(ok.load(), 4);
  absl::StatusOr<std::string> rows = Cluster()->Query(database_, "SELECT count(*) FROM log_head");
  ASSERT_TRUE(rows.ok());
  EXPECT_EQ(*rows, "1");
}

TEST_F(PostgresStorageTest, AnUnreachableDatabaseIsUnavailableWithThePasswordMasked) {
  absl::StatusOr<std::unique_ptr<PostgresStorage>> s = PostgresStorage::Open(
      PostgresOptions{.conninfo = "postgresql://infratrail:s3cret@127.0.0.1:1/log",
                      .pool_size = 2,
                      .connect_timeout = absl::Seconds(2)});
  EXPECT_TRUE(absl::IsUnavailable(s.status())) << s.status();
  EXPECT_THAT(s.status().message(), HasSubstr("infratrail:***@127.0.0.1:1"));
  EXPECT_THAT(std::string(s.status().message()), ::testing::Not(HasSubstr("s3cret")));
}

TEST(PostgresRedact, MasksPasswordsInUrisAndKeyValueStrings) {
  EXPECT_EQ(PostgresStorage::Redact("postgres://u:pw@h:5432/db"), "postgres://u:***@h:5432/db");
  EXPECT_EQ(PostgresStorage::Redact("postgres://u@h/db?password=pw&sslmode=require"),
            "postgres://u@h/db?password=***&sslmode=require");
  EXPECT_EQ(PostgresStorage::Redact("host=h password=pw dbname=db"),
            "host=h password=*** dbname=db");
  EXPECT_EQ(PostgresStorage::Redact("postgres://u@h:5432/db"), "postgres://u@h:5432/db");
}

// Readers concurrent with commits see whole batches only (run under
// ThreadSanitizer too).
TEST_F(PostgresStorageTest, ConcurrentReadersSeeWholeBatches) {
  std::unique_ptr<PostgresStorage> s = Open();
  constexpr int kBatches = 60;
  constexpr int kPerBatch = 7;
  std::atomic<bool> done{false};
  std::vector<std::thread> readers;
  for (int r = 0; r < 2; ++r) {
    readers.emplace_back([&] {
      while (!done) {
        absl::StatusOr<TreeState> st = s->ReadTreeState();
        ASSERT_TRUE(st.ok()) << st.status();
        EXPECT_EQ(st->size % kPerBatch, 0u) << "a torn batch";
        std::vector<std::string> entries;
        ASSERT_TRUE(s->ReadEntries(0, st->size, &entries).ok());
        ASSERT_EQ(entries.size(), st->size);
        for (uint64_t i = 0; i < entries.size(); ++i) {
          ASSERT_EQ(entries[i], absl::StrCat("w-", i));
        }
      }
    });
  }
  for (int b = 0; b < kBatches; ++b) {
    Batch batch(static_cast<uint64_t>(b) * kPerBatch, kPerBatch, "w");
    ASSERT_TRUE(s->Commit(batch.batch).ok());
  }
  done = true;
  for (std::thread& t : readers) t.join();
}

TEST_F(PostgresStorageTest, ConnectionsBrokenByADatabaseRestartAreReplaced) {
  std::unique_ptr<PostgresStorage> s = Open();
  Batch b0(0, 2, "r");
  ASSERT_TRUE(s->Commit(b0.batch).ok());
  ASSERT_TRUE(Cluster()->Restart().ok());
  // The pooled connections died with the server: the first statement on
  // one finds it broken, and runs again on a new one.
  absl::StatusOr<TreeState> st = s->ReadTreeState();
  ASSERT_TRUE(st.ok()) << st.status();
  EXPECT_EQ(st->size, 2u);
  Batch b1(2, 2, "r");
  EXPECT_TRUE(s->Commit(b1.batch).ok());
  EXPECT_GT(s->connection_errors(), 0u);
}

}  // namespace
}  // namespace infratrail
