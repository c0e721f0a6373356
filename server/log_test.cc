// Log::Open's start-up refusals and the publish path, over RocksDbStorage in
// a temporary directory.
#include "server/log.h"

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/synchronization/notification.h"
#include "core/io/file_util.h"
#include "core/witness_policy.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "prometheus/registry.h"
#include "server/rocksdb_storage.h"
#include "server/testing_util.h"
#include "server/tile_http.h"

namespace infratrail {
namespace {

using ::testing::HasSubstr;
using testutil::AppendEntries;
using testutil::MerkleReference;
using testutil::ScopedTempDir;

constexpr absl::string_view kOrigin = "example.com/log";
constexpr size_t kTileCacheBytes = size_t{1} << 20;

NoteSigner NewKey() {
  absl::StatusOr<NoteSigner> k = NoteSigner::Generate(kOrigin);
  EXPECT_TRUE(k.ok()) << k.status();
  return *k;
}

// One open log: its metrics, storage and Log, closed in the right order.
struct Running {
  prometheus::Registry registry;
  Metrics metrics{registry};
  std::unique_ptr<RocksDbStorage> storage;
  std::unique_ptr<Log> log;
  ~Running() {
    if (log != nullptr) log->Stop();
    log.reset();
    storage.reset();
  }
};

absl::StatusOr<std::shared_ptr<const PublishedCheckpoint>> WaitForCheckpoint(Log& log,
                                                                             uint64_t size) {
  struct Answer {
    absl::Notification done;
    absl::StatusOr<std::shared_ptr<const PublishedCheckpoint>> result;
  };
  auto answer = std::make_shared<Answer>();
  log.publisher().WaitFor(size, [answer](auto r) {
    answer->result = std::move(r);
    answer->done.Notify();
  });
  if (!answer->done.WaitForNotificationWithTimeout(testutil::kTestWait)) {
    return absl::DeadlineExceededError("WaitFor was never answered");
  }
  return answer->result;
}

class LogTest : public ::testing::Test {
 protected:
  LogTest() : key_(NewKey()), data_(dir_.Sub("data")), state_(dir_.Sub("signer-state")) {}

  absl::StatusOr<std::unique_ptr<Running>> Open(const NoteSigner& key, const std::string& data,
                                                const std::string& state, bool recover = false) {
    auto r = std::make_unique<Running>();
    absl::StatusOr<std::unique_ptr<RocksDbStorage>> s =
        RocksDbStorage::Open(RocksDbOptions{.path = data, .block_cache_bytes = 1 << 20});
    if (!s.ok()) return s.status();
    r->storage = std::move(*s);
    LogOptions options;
    options.key = key;
    options.signer_state_path = state;
    options.recover_signer_state = recover;
    options.publisher.interval = absl::Milliseconds(1);
    options.tile_cache_bytes = kTileCacheBytes;
    absl::StatusOr<std::unique_ptr<Log>> log = Log::Open(r->storage.get(), options, &r->metrics);
    if (!log.ok()) return log.status();
    r->log = std::move(*log);
    return r;
  }
  absl::StatusOr<std::unique_ptr<Running>> Open() { return Open(key_, data_, state_); }

  // Opens the default log, appends `count` entries tagged `tag` after those
  // already in `ref`, waits for a checkpoint of them and closes it.
  void RunAndAppend(uint64_t count, MerkleReference* ref) {
    absl::StatusOr<std::unique_ptr<Running>> r = Open();
    ASSERT_TRUE(r.ok()) << r.status();
    AppendEntries((*r)->log->sequencer(), ref->size(), count, 3, ref);
    ASSERT_TRUE(WaitForCheckpoint(*(*r)->log, ref->size()).ok());
  }

  ScopedTempDir dir_;
  NoteSigner key_;
  std::string data_;
  std::string state_;
};

TEST_F(LogTest, PublishesACheckpointCoveringAddedEntries) {
  absl::StatusOr<std::unique_ptr<Running>> r = Open();
  ASSERT_TRUE(r.ok()) << r.status();
  Log& log = *(*r)->log;
  EXPECT_EQ(log.origin(), kOrigin);
  EXPECT_EQ(log.verifier_key(), key_.VerifierKey());
  MerkleReference ref;
  AppendEntries(log.sequencer(), 0, 10, 3, &ref);
  absl::StatusOr<std::shared_ptr<const PublishedCheckpoint>> cp = WaitForCheckpoint(log, 10);
  ASSERT_TRUE(cp.ok()) << cp.status();
  EXPECT_EQ((*cp)->size, 10u);
  EXPECT_EQ((*cp)->root, ref.Root(10));

  absl::StatusOr<NoteVerifier> v = NoteVerifier::Parse(key_.VerifierKey());
  ASSERT_TRUE(v.ok()) << v.status();
  absl::StatusOr<VerifiedCheckpoint> opened = OpenCheckpoint((*cp)->note, *v, WitnessPolicy{});
  ASSERT_TRUE(opened.ok()) << opened.status();
  EXPECT_EQ(opened->checkpoint.size, 10u);
  EXPECT_EQ(opened->checkpoint.root, ref.Root(10));

  absl::StatusOr<std::optional<std::string>> stored = log.storage().GetMeta(kMetaCheckpoint);
  ASSERT_TRUE(stored.ok()) << stored.status();
  EXPECT_EQ(stored->value_or(""), (*cp)->note);
  EXPECT_TRUE(log.health().ok());
  EXPECT_EQ((*r)->metrics.checkpoint_size.Value(), 10);
  EXPECT_TRUE(ReadFileToString(state_).ok());
}

TEST_F(LogTest, ProofsAndTheTilesApiShareTheLogsTileCache) {
  absl::StatusOr<std::unique_ptr<Running>> r = Open();
  ASSERT_TRUE(r.ok()) << r.status();
  Log& log = *(*r)->log;
  MerkleReference ref;
  AppendEntries(log.sequencer(), 0, 600, 200, &ref);
  ASSERT_TRUE(WaitForCheckpoint(log, 600).ok());
  TileCache& cache = log.tile_cache();
  EXPECT_EQ(cache.capacity_bytes(), kTileCacheBytes);

  for (int i = 0; i < 2; ++i) {
    absl::StatusOr<std::vector<Hash>> proof = log.reader().InclusionProof(300, 600);
    ASSERT_TRUE(proof.ok()) << proof.status();
    EXPECT_EQ(*proof, ref.Inclusion(300, 600));
  }
  EXPECT_GT(cache.stats(TileCache::User::kProofs).hits, 0u);
  const size_t proof_bytes = cache.bytes();
  EXPECT_GT(proof_bytes, 0u);

  TileHttpHandler tiles(
      &log.storage(), [&log] { return log.publisher().latest(); }, TileHttpOptions{}, &cache,
      &(*r)->metrics);
  for (int i = 0; i < 2; ++i) ASSERT_EQ(tiles.Handle("GET", "/tile/entries/001", "").status, 200);
  EXPECT_EQ(cache.stats(TileCache::User::kHttp).misses, 1u);
  EXPECT_EQ(cache.stats(TileCache::User::kHttp).hits, 1u);
  EXPECT_GT(cache.bytes(), proof_bytes);  // one budget, charged by both
  EXPECT_LE(cache.bytes(), kTileCacheBytes);
}

TEST_F(LogTest, StopPublishesWhatWasQueued) {
  absl::StatusOr<std::unique_ptr<Running>> r = Open();
  ASSERT_TRUE(r.ok()) << r.status();
  Log& log = *(*r)->log;
  MerkleReference ref;
  for (int i = 0; i < 20; ++i) {
    ref.AddEntry(testutil::EntryData(i));
    ASSERT_TRUE(
        log.sequencer().Add({testutil::MakeEntry(testutil::EntryData(i))}, [](auto, auto) {}).ok());
  }
  log.Stop();
  std::shared_ptr<const PublishedCheckpoint> latest = log.publisher().latest();
  ASSERT_NE(latest, nullptr);
  EXPECT_EQ(latest->size, 20u);
  EXPECT_EQ(latest->root, ref.Root(20));
  absl::StatusOr<std::shared_ptr<const PublishedCheckpoint>> late = WaitForCheckpoint(log, 21);
  EXPECT_TRUE(absl::IsUnavailable(late.status())) << late.status();
}

TEST_F(LogTest, ReopensAfterACleanStopAndContinues) {
  MerkleReference ref;
  RunAndAppend(5, &ref);
  absl::StatusOr<std::unique_ptr<Running>> r = Open();
  ASSERT_TRUE(r.ok()) << r.status();
  Log& log = *(*r)->log;
  EXPECT_EQ(log.sequencer().head().size, 5u);
  ASSERT_NE(log.publisher().latest(), nullptr);
  EXPECT_EQ(log.publisher().latest()->size, 5u);
  AppendEntries(log.sequencer(), 5, 300, 100, &ref);
  absl::StatusOr<std::shared_ptr<const PublishedCheckpoint>> cp = WaitForCheckpoint(log, 305);
  ASSERT_TRUE(cp.ok()) << cp.status();
  EXPECT_EQ((*cp)->root, ref.Root(305));
}

TEST_F(LogTest, RefusesADataDirectoryOfAnotherKey) {
  MerkleReference ref;
  RunAndAppend(3, &ref);
  // Same origin name, different key, its own signer state.
  absl::StatusOr<std::unique_ptr<Running>> r = Open(NewKey(), data_, dir_.Sub("other-state"));
  EXPECT_TRUE(absl::IsFailedPrecondition(r.status())) << r.status();
  EXPECT_THAT(r.status().message(), HasSubstr("belongs to log key"));
}

TEST_F(LogTest, RefusesADataDirectoryRestoredFromAnOlderCopy) {
  MerkleReference ref;
  RunAndAppend(5, &ref);
  const std::string backup = dir_.Sub("backup");
  std::filesystem::copy(data_, backup, std::filesystem::copy_options::recursive);
  RunAndAppend(5, &ref);
  std::filesystem::remove_all(data_);
  std::filesystem::copy(backup, data_, std::filesystem::copy_options::recursive);

  absl::StatusOr<std::unique_ptr<Running>> r = Open();
  EXPECT_TRUE(absl::IsFailedPrecondition(r.status())) << r.status();
  EXPECT_THAT(r.status().message(), HasSubstr("older"));
  // Still refused the second time: nothing was rewritten by the refusal.
  r = Open();
  EXPECT_TRUE(absl::IsFailedPrecondition(r.status())) << r.status();
}

TEST_F(LogTest, RefusesADataDirectoryThatForkedFromTheSignedTree) {
  MerkleReference ref;
  RunAndAppend(5, &ref);
  // Another directory under the same key, grown with different entries.
  const std::string other_data = dir_.Sub("other-data");
  {
    absl::StatusOr<std::unique_ptr<Running>> r = Open(key_, other_data, dir_.Sub("other-state"));
    ASSERT_TRUE(r.ok()) << r.status();
    std::vector<PendingEntry> entries;
    entries.reserve(8);
    for (int i = 0; i < 8; ++i) entries.push_back(testutil::MakeEntry(testutil::EntryData(i, "x")));
    ASSERT_TRUE(testutil::AddAndWait((*r)->log->sequencer(), std::move(entries)).ok());
  }
  absl::StatusOr<std::unique_ptr<Running>> r = Open(key_, other_data, state_);
  EXPECT_TRUE(absl::IsFailedPrecondition(r.status())) << r.status();
  EXPECT_THAT(r.status().message(), HasSubstr("fork"));
}

TEST_F(LogTest, LostSignerStateIsRefusedUnlessRecoveryIsAsked) {
  MerkleReference ref;
  RunAndAppend(4, &ref);
  std::filesystem::remove(state_);

  absl::StatusOr<std::unique_ptr<Running>> r = Open();
  EXPECT_TRUE(absl::IsFailedPrecondition(r.status())) << r.status();
  EXPECT_THAT(r.status().message(), HasSubstr("recover"));
  EXPECT_TRUE(absl::IsNotFound(ReadFileToString(state_).status()));  // not recreated

  r = Open(key_, data_, state_, /*recover=*/true);
  ASSERT_TRUE(r.ok()) << r.status();
  absl::StatusOr<std::string> state = ReadFileToString(state_);
  ASSERT_TRUE(state.ok()) << state.status();
  EXPECT_THAT(*state, HasSubstr("\nsize 4\n"));
  EXPECT_THAT(*state, HasSubstr(HashToBase64(ref.Root(4))));
  AppendEntries((*r)->log->sequencer(), 4, 6, 3, &ref);
  absl::StatusOr<std::shared_ptr<const PublishedCheckpoint>> cp = WaitForCheckpoint(*(*r)->log, 10);
  ASSERT_TRUE(cp.ok()) << cp.status();
  EXPECT_EQ((*cp)->root, ref.Root(10));
  r->reset();

  r = Open();  // the recovered state is an ordinary one now
  ASSERT_TRUE(r.ok()) << r.status();
}

TEST_F(LogTest, ARefusalWritesNothingToAFreshDataDirectory) {
  MerkleReference ref;
  RunAndAppend(5, &ref);
  // The wrong (empty) data directory for this key and signer state.
  const std::string empty = dir_.Sub("empty-data");
  absl::StatusOr<std::unique_ptr<Running>> r = Open(key_, empty, state_);
  EXPECT_TRUE(absl::IsFailedPrecondition(r.status())) << r.status();
  EXPECT_THAT(r.status().message(), HasSubstr("older"));
  {
    absl::StatusOr<std::unique_ptr<RocksDbStorage>> s =
        RocksDbStorage::Open(RocksDbOptions{.path = empty, .block_cache_bytes = 1 << 20});
    ASSERT_TRUE(s.ok()) << s.status();
    absl::StatusOr<std::optional<std::string>> id = (*s)->GetMeta(kMetaLogIdentity);
    ASSERT_TRUE(id.ok()) << id.status();
    EXPECT_FALSE(id->has_value()) << "refused start-up claimed the directory";
  }
  // So the directory is still free for another log.
  r = Open(NewKey(), empty, dir_.Sub("other-state"));
  EXPECT_TRUE(r.ok()) << r.status();
}

TEST_F(LogTest, RecoveryDoesNotAdoptACheckpointTheTreeContradicts) {
  MerkleReference ref;
  RunAndAppend(5, &ref);
  // A stored checkpoint, signed by the log key, whose root at size 3 is not
  // the tree's.
  absl::StatusOr<CheckpointSigner> forger = CheckpointSigner::Open(key_, dir_.Sub("forger-state"));
  ASSERT_TRUE(forger.ok()) << forger.status();
  absl::StatusOr<std::string> forged = forger->Sign(3, Sha256("not the root"), nullptr);
  ASSERT_TRUE(forged.ok()) << forged.status();
  {
    absl::StatusOr<std::unique_ptr<RocksDbStorage>> s =
        RocksDbStorage::Open(RocksDbOptions{.path = data_, .block_cache_bytes = 1 << 20});
    ASSERT_TRUE(s.ok()) << s.status();
    ASSERT_TRUE((*s)->PutMeta(kMetaCheckpoint, *forged).ok());
  }
  std::filesystem::remove(state_);
  absl::StatusOr<std::unique_ptr<Running>> r = Open(key_, data_, state_, /*recover=*/true);
  EXPECT_TRUE(absl::IsFailedPrecondition(r.status())) << r.status();
  EXPECT_THAT(r.status().message(), HasSubstr("fork"));
  EXPECT_TRUE(absl::IsNotFound(ReadFileToString(state_).status()))
      << "refused start-up adopted the contradicted checkpoint";
}

TEST_F(LogTest, ASignerStateThatCannotBeWrittenIsRetriedNotFatal) {
  // The state file's directory does not exist yet: every write of it fails
  // (as on a full disk, or with no descriptors left) until it is created.
  const std::string state_dir = dir_.Sub("keys");
  absl::StatusOr<std::unique_ptr<Running>> r = Open(key_, data_, state_dir + "/log.state");
  ASSERT_TRUE(r.ok()) << r.status();
  Log& log = *(*r)->log;
  MerkleReference ref;
  AppendEntries(log.sequencer(), 0, 3, 3, &ref);
  absl::StatusOr<std::shared_ptr<const PublishedCheckpoint>> cp = WaitForCheckpoint(log, 3);
  EXPECT_TRUE(absl::IsUnavailable(cp.status())) << cp.status();
  EXPECT_THAT(cp.status().message(), HasSubstr("retrying"));
  EXPECT_THAT(log.health().message(), HasSubstr("checkpoint publishing is failing"));
  EXPECT_EQ(log.publisher().latest(), nullptr);

  std::filesystem::create_directories(state_dir);
  // A client retries its wait, as after any Unavailable.
  for (int i = 0; i < 60000; ++i) {
    cp = WaitForCheckpoint(log, 3);
    if (cp.ok()) break;
    absl::SleepFor(absl::Milliseconds(1));
  }
  ASSERT_TRUE(cp.ok()) << cp.status();
  EXPECT_EQ((*cp)->root, ref.Root(3));
  EXPECT_TRUE(log.health().ok()) << log.health();
  EXPECT_GE((*r)->metrics.checkpoint_publish_failures.Value(), 1);
}

TEST_F(LogTest, AReadOnlyLogServesItsCheckpointAndWritesNothing) {
  MerkleReference ref;
  RunAndAppend(5, &ref);
  absl::StatusOr<std::string> state_before = ReadFileToString(state_);
  ASSERT_TRUE(state_before.ok());
  auto r = std::make_unique<Running>();
  absl::StatusOr<std::unique_ptr<RocksDbStorage>> s = RocksDbStorage::Open(
      RocksDbOptions{.path = data_, .create_if_missing = false, .read_only = true});
  ASSERT_TRUE(s.ok()) << s.status();
  r->storage = std::move(*s);
  LogOptions options;
  options.key = key_;
  options.signer_state_path = state_;
  options.read_only_reason = "the disk is full";
  absl::StatusOr<std::unique_ptr<Log>> log = Log::Open(r->storage.get(), options, &r->metrics);
  ASSERT_TRUE(log.ok()) << log.status();
  r->log = std::move(*log);
  std::shared_ptr<const PublishedCheckpoint> cp = r->log->publisher().latest();
  ASSERT_NE(cp, nullptr);
  EXPECT_EQ(cp->size, 5u);
  EXPECT_EQ(cp->root, ref.Root(5));
  EXPECT_THAT(r->log->health().message(), HasSubstr("read-only: the disk is full"));
  absl::Status add = r->log->sequencer().Add({testutil::MakeEntry("x")}, [](auto, auto) {});
  EXPECT_TRUE(absl::IsUnavailable(add)) << add;
  r.reset();
  EXPECT_EQ(ReadFileToString(state_).value_or(""), *state_before);
}

TEST_F(LogTest, ANewLogCannotStartReadOnly) {
  auto r = std::make_unique<Running>();
  absl::StatusOr<std::unique_ptr<RocksDbStorage>> s =
      RocksDbStorage::Open(RocksDbOptions{.path = dir_.Sub("other"), .create_if_missing = true});
  ASSERT_TRUE(s.ok());
  r->storage = std::move(*s);
  LogOptions options;
  options.key = key_;
  options.signer_state_path = dir_.Sub("other.state");
  options.read_only_reason = "the disk is full";
  absl::StatusOr<std::unique_ptr<Log>> log = Log::Open(r->storage.get(), options, &r->metrics);
  EXPECT_TRUE(absl::IsFailedPrecondition(log.status())) << log.status();
}

}  // namespace
}  // namespace infratrail
