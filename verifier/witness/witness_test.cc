#include "verifier/witness/witness.h"

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "core/checkpoint.h"
#include "core/note.h"
#include "core/witness_policy.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "verifier/witness/witness_test_util.h"

namespace infratrail {
namespace {

using ::infratrail::testing::TestLog;
using ::testing::HasSubstr;

class WitnessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = ::testing::TempDir() + "witness_XXXXXX";
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    base_ = tmpl;
    log_key_ = *NoteSigner::Generate("example.com/log");
    other_key_ = *NoteSigner::Generate("example.com/log");  // same name, other key
    stranger_key_ = *NoteSigner::Generate("stranger.example/log");
    witness_key_ = *NoteSigner::Generate("witness.example/w1");
    log_ = std::make_unique<TestLog>(log_key_, 300);
    Start();
  }
  void TearDown() override {
    Stop();
    std::filesystem::remove_all(base_);
  }

  void Start() {
    known_ = std::make_unique<KnownLogs>(witness_key_.public_key());
    ASSERT_TRUE(known_
                    ->Merge(*ParseLogList(
                        absl::StrCat("logs/v0\nvkey ", log_key_.VerifierKey(), "\n"), "t"))
                    .ok());
    store_ = *WitnessStore::Open(base_ + "/state");
    WitnessOptions options;
    options.rate_per_log = rate_;
    options.burst_per_log = 2;
    options.now = [this] { return now_.load(); };
    witness_ =
        std::make_unique<Witness>(witness_key_, known_.get(), store_.get(), options, nullptr);
  }
  void Stop() {
    witness_.reset();
    store_.reset();
  }

  WitnessReply Add(const std::string& body) {
    absl::Notification done;
    WitnessReply reply;
    witness_->AddCheckpoint(body, [&](WitnessReply r) {
      reply = std::move(r);
      done.Notify();
    });
    done.WaitForNotification();
    return reply;
  }

  // What a monitor sees: the served checkpoint (or "" if none).
  std::string Served() {
    const Hash h = Sha256(log_->origin());
    return witness_
        ->CheckpointByOriginHash(
            HexEncode(absl::string_view(reinterpret_cast<const char*>(h.data()), h.size())))
        .value_or("");
  }

  // The reply's cosignature verified with the witness's type 0x04 key over
  // the checkpoint of `size`, as a client of the witness would.
  void ExpectCosigned(const WitnessReply& r, uint64_t size) {
    ASSERT_EQ(r.status, 200) << r.body;
    const std::string note = absl::StrCat(log_->Checkpoint(size), r.body);
    NoteVerifier w = *NoteVerifier::Parse(witness_key_.CosignatureVerifierKey());
    absl::StatusOr<WitnessPolicy> policy = WitnessPolicy::Create({w}, 1);
    ASSERT_TRUE(policy.ok());
    absl::StatusOr<VerifiedCheckpoint> v =
        OpenCheckpoint(note, *NoteVerifier::Parse(log_key_.VerifierKey()), *policy);
    ASSERT_TRUE(v.ok()) << v.status();
    EXPECT_EQ(v->checkpoint.size, size);
    EXPECT_EQ(v->witness_count, 1u);
  }

  // A refusal leaves the state exactly as it was.
  void ExpectRefused(const std::string& body, int status, absl::string_view why = "") {
    const std::string before = Served();
    WitnessReply r = Add(body);
    EXPECT_EQ(r.status, status) << r.body;
    if (!why.empty()) {
      EXPECT_THAT(r.body, HasSubstr(why));
    }
    EXPECT_EQ(Served(), before);
    Stop();
    Start();
    EXPECT_EQ(Served(), before) << "after a restart";
  }

  std::string base_;
  NoteSigner log_key_, other_key_, stranger_key_, witness_key_;
  std::unique_ptr<TestLog> log_;
  std::unique_ptr<KnownLogs> known_;
  std::unique_ptr<WitnessStore> store_;
  std::unique_ptr<Witness> witness_;
  double rate_ = 0;
  std::atomic<absl::Time> now_{absl::FromUnixSeconds(1700000000)};
};

TEST_F(WitnessTest, CosignsTheFirstCheckpointAndThenOnlyConsistentExtensions) {
  ExpectCosigned(Add(log_->Body(0, 5)), 5);
  ExpectCosigned(Add(log_->Body(5, 200)), 200);
  EXPECT_THAT(Served(), HasSubstr("\n200\n"));
  // The served checkpoint carries the log's signature and the cosignature.
  EXPECT_THAT(Served(), HasSubstr("— example.com/log "));
  EXPECT_THAT(Served(), HasSubstr("— witness.example/w1 "));
}

TEST_F(WitnessTest, TheCosignatureIsOverTheCheckpointWithANonZeroTimestamp) {
  WitnessReply r = Add(log_->Body(0, 5));
  ASSERT_EQ(r.status, 200);
  absl::StatusOr<Note> note =
      OpenNote(absl::StrCat(log_->Checkpoint(5), r.body),
               {*NoteVerifier::Parse(witness_key_.CosignatureVerifierKey())});
  ASSERT_TRUE(note.ok()) << note.status();
  ASSERT_EQ(note->verified.size(), 1u);
  EXPECT_EQ(note->verified[0].timestamp, 1700000000u);
}

TEST_F(WitnessTest, AStaleOldSizeIs409WithTheCosignedSize) {
  WitnessReply first = Add(log_->Body(0, 10));
  ASSERT_EQ(first.status, 200);
  const std::string before = Served();
  WitnessReply r = Add(log_->Body(0, 20));
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(r.content_type, kTlogSizeContentType);
  EXPECT_EQ(r.body, "10\n");
  EXPECT_EQ(Served(), before);
  // A log that never was cosigned reports 0.
  Stop();
  std::filesystem::remove_all(base_ + "/state");
  Start();
  r = Add(log_->Body(4, 20));
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(r.body, "0\n");
}

TEST_F(WitnessTest, MalformedBodiesAre400) {
  ASSERT_EQ(Add(log_->Body(0, 10)).status, 200);
  const std::string cp = log_->Checkpoint(20);
  ExpectRefused(absl::StrCat("\n", cp), 400, "old <size>");
  ExpectRefused(absl::StrCat("old 010\n\n", cp), 400, "leading zeros");
  ExpectRefused(absl::StrCat("old -1\n\n", cp), 400, "old size");
  ExpectRefused(absl::StrCat("old 99999999999999999999\n\n", cp), 400, "64 bits");
  ExpectRefused(absl::StrCat("old 10\n", cp), 400);  // no empty line: the checkpoint is the proof
  ExpectRefused(absl::StrCat("old 10\nnot-base64!\n\n", cp), 400, "proof line 1");
  ExpectRefused(absl::StrCat("old 10\nAAAA\n\n", cp), 400, "not a 32-byte hash");
  std::vector<Hash> too_many(64);
  ExpectRefused(TestLog::Body(10, too_many, cp), 400, "more than 63");
  ExpectRefused(TestLog::Body(10, {}, "example.com/log\n20\n\n— x y\n"), 400);
  ExpectRefused(TestLog::Body(10, {}, *SignNote("example.com/log\nnot a size\nAAAA\n", {log_key_})),
                400, "not a checkpoint");
  // Old size above the checkpoint's.
  ExpectRefused(TestLog::Body(30, {}, cp), 400, "old size 30 > checkpoint size 20");
}

TEST_F(WitnessTest, AnUnknownOriginIs404) {
  TestLog stranger(stranger_key_, 10);
  ExpectRefused(stranger.Body(0, 5), 404, "unknown log origin");
}

TEST_F(WitnessTest, ACheckpointWithoutAValidSignatureByTheLogsKeyIs403) {
  ASSERT_EQ(Add(log_->Body(0, 10)).status, 200);
  TestLog impostor(other_key_, 300);  // same origin, another key, same tree
  ExpectRefused(impostor.Body(10, 20), 403, "signature");
  // The right key's name and ID with a broken signature.
  std::string body = log_->Body(10, 20);
  const size_t sig = body.rfind(' ') + 10;
  body[sig] = body[sig] == 'A' ? 'B' : 'A';
  ExpectRefused(body, 403);
}

TEST_F(WitnessTest, InconsistentTreesAre422) {
  ASSERT_EQ(Add(log_->Body(0, 100)).status, 200);
  // A proof that does not lead from the cosigned root.
  std::vector<Hash> proof = log_->Proof(100, 150);
  proof[0][0] ^= 1;
  ExpectRefused(TestLog::Body(100, proof, log_->Checkpoint(150)), 422, "consistency proof");
  // A fork of the tree after leaf 80, signed by the log's own key.
  TestLog fork(log_key_, 300, /*fork_at=*/80);
  ExpectRefused(TestLog::Body(100, log_->Proof(100, 150), fork.Checkpoint(150)), 422);
  ExpectRefused(fork.Body(100, 150), 422);
  // The same size with another root: a second history.
  ExpectRefused(TestLog::Body(100, {}, fork.Checkpoint(100)), 422, "another root");
  // A proof with old 0.
  Stop();
  std::filesystem::remove_all(base_ + "/state");
  Start();
  ExpectRefused(TestLog::Body(0, log_->Proof(5, 10), log_->Checkpoint(10)), 422, "old size 0");
}

TEST_F(WitnessTest, ASizeZeroCheckpointMustHaveTheEmptyRoot) {
  const std::string bad = *SignNote(
      Checkpoint{.origin = "example.com/log", .size = 0, .root = log_->Root(1), .extensions = {}}
          .Body(),
      {log_key_});
  ExpectRefused(TestLog::Body(0, {}, bad), 422, "empty tree");
  WitnessReply r = Add(log_->Body(0, 0));
  ExpectCosigned(r, 0);
  ExpectCosigned(Add(log_->Body(0, 7)), 7);
}

TEST_F(WitnessTest, TheSameCheckpointAgainIsCosignedAgain) {
  ASSERT_EQ(Add(log_->Body(0, 10)).status, 200);
  ExpectCosigned(Add(log_->Body(10, 10)), 10);
}

TEST_F(WitnessTest, ARestartKeepsTheStateOfEveryLog) {
  ASSERT_EQ(Add(log_->Body(0, 50)).status, 200);
  const std::string served = Served();
  Stop();
  Start();
  EXPECT_EQ(Served(), served);
  WitnessReply r = Add(log_->Body(0, 60));
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(r.body, "50\n");
  ExpectCosigned(Add(log_->Body(50, 60)), 60);
}

TEST_F(WitnessTest, ALogOverItsRateIs429UntilTokensComeBack) {
  Stop();
  rate_ = 1;
  Start();
  ASSERT_EQ(Add(log_->Body(0, 10)).status, 200);
  ASSERT_EQ(Add(log_->Body(10, 11)).status, 200);  // burst of 2
  // Replays of the log's public checkpoint cost it nothing: the same
  // checkpoint is cosigned again, a stale one gets its 409.
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(Add(log_->Body(11, 11)).status, 200);
    EXPECT_EQ(Add(log_->Body(10, 11)).status, 409);
  }
  WitnessReply r = Add(log_->Body(11, 12));
  EXPECT_EQ(r.status, 429);
  EXPECT_EQ(r.retry_after_s, 1);
  // Requests nobody could sign for the log never use up its budget.
  TestLog impostor(other_key_, 300);
  now_ = now_.load() + absl::Seconds(1);
  EXPECT_EQ(Add(impostor.Body(11, 12)).status, 403);
  EXPECT_EQ(Add(log_->Body(11, 12)).status, 200);
}

TEST_F(WitnessTest, AFailedStateWriteIs503AndNothingIsCosignedAfterIt) {
  Stop();
  known_ = std::make_unique<KnownLogs>(witness_key_.public_key());
  ASSERT_TRUE(
      known_
          ->Merge(*ParseLogList(absl::StrCat("logs/v0\nvkey ", log_key_.VerifierKey(), "\n"), "t"))
          .ok());
  std::atomic<bool> fail{false};
  store_ = *WitnessStore::Open(base_ + "/state", WitnessStoreOptions{.sync_fault = [&fail] {
                                 return fail ? absl::InternalError("disk gone") : absl::OkStatus();
                               }});
  witness_ = std::make_unique<Witness>(witness_key_, known_.get(), store_.get(), WitnessOptions{},
                                       nullptr);
  ASSERT_EQ(Add(log_->Body(0, 10)).status, 200);
  fail = true;
  WitnessReply r = Add(log_->Body(10, 20));
  EXPECT_EQ(r.status, 503);
  fail = false;
  EXPECT_EQ(Add(log_->Body(10, 20)).status, 409);  // tentative state moved; still no cosignature
  r = Add(log_->Body(20, 30));
  EXPECT_EQ(r.status, 503) << r.body;
  // The failed batch may or may not have reached the disk (its cosignature
  // was never sent either way); after a restart the witness goes on from
  // whichever it finds, along the one chain.
  Stop();
  Start();
  r = Add(log_->Body(0, 30));
  ASSERT_EQ(r.status, 409);
  EXPECT_TRUE(r.body == "10\n" || r.body == "20\n") << r.body;
  ExpectCosigned(Add(log_->Body(std::stoull(r.body), 30)), 30);
}

// 32 callers race on one log, each extending from the size it last learned
// (a 409 tells it), some with a forked tree. Exactly one wins each size,
// every cosigned tree is the honest one, and the cosigned sizes form one
// chain of consistent trees.
TEST_F(WitnessTest, RacingCallersYieldOneWinnerPerSizeAndNoInconsistentCosignature) {
  TestLog fork(log_key_, 300, /*fork_at=*/150);
  ASSERT_EQ(Add(log_->Body(0, 1)).status, 200);
  constexpr int kThreads = 32;
  constexpr int kAttempts = 12;
  absl::Mutex mu;
  std::map<uint64_t, int> wins;  // size -> 200 replies
  std::vector<std::thread> threads;
  std::atomic<bool> go{false};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 rng(t);
      uint64_t old_size = 1;
      while (!go.load()) std::this_thread::yield();
      for (int i = 0; i < kAttempts && old_size < 299; ++i) {
        const uint64_t size = old_size + 1 + rng() % std::min<uint64_t>(8, 299 - old_size);
        const bool forked = rng() % 4 == 0 && size > 150;
        TestLog& tree = forked ? fork : *log_;
        WitnessReply r =
            Add(TestLog::Body(old_size, log_->Proof(old_size, size), tree.Checkpoint(size)));
        if (r.status == 200) {
          EXPECT_FALSE(forked) << "cosigned a forked tree of size " << size;
          absl::MutexLock l(&mu);
          ++wins[size];
          old_size = size;
        } else if (r.status == 409) {
          old_size = std::stoull(r.body);
        } else {
          EXPECT_TRUE(forked) << r.status << " " << r.body;
        }
      }
    });
  }
  go = true;
  for (std::thread& t : threads) t.join();
  uint64_t largest = 1;
  for (const auto& [size, n] : wins) {
    EXPECT_EQ(n, 1) << "size " << size << " cosigned " << n << " times";
    largest = std::max(largest, size);
  }
  EXPECT_GT(wins.size(), 1u);
  // The state is the largest cosigned tree, and it survives a restart (the
  // journal replays as one increasing chain).
  Stop();
  Start();
  EXPECT_THAT(Served(), HasSubstr(absl::StrCat("\n", largest, "\n")));
}

}  // namespace
}  // namespace infratrail
