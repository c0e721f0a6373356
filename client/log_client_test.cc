#include "client/log_client.h"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "client/testing/fake_log_server.h"
#include "core/checkpoint.h"
#include "core/note.h"
#include "core/proof.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "infratrail/v1/event.pb.h"
#include "proto/limits.h"

namespace infratrail {
namespace {

using ::infratrail::testutil::ExpectReceiptVerifies;
using ::infratrail::testutil::ExpectVerificationError;
using ::infratrail::testutil::FakeLogServer;
using ::infratrail::testutil::FakeLogService;
using ::infratrail::testutil::kTestWait;
using ::infratrail::testutil::Rpc;
using ::infratrail::testutil::TestEvent;
using ::infratrail::testutil::TestEventOfSize;
using ::infratrail::testutil::TestEvents;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

class LogClientTest : public ::testing::Test {
 protected:
  std::unique_ptr<LogClient> NewClient(LogClientOptions opts) {
    absl::StatusOr<std::unique_ptr<LogClient>> c = LogClient::Create(std::move(opts));
    EXPECT_TRUE(c.ok()) << c.status();
    return c.ok() ? *std::move(c) : nullptr;
  }
  std::unique_ptr<LogClient> NewClient() { return NewClient(server_.ClientOptions()); }
  // A client whose on_retry counts into `retries`, with the given budget.
  std::unique_ptr<LogClient> CountingClient(int* retries,
                                            absl::Duration budget = absl::Seconds(20)) {
    LogClientOptions opts = server_.ClientOptions();
    opts.retry.budget = budget;
    opts.retry.on_retry = [retries](const absl::Status&, absl::Duration) { ++*retries; };
    return NewClient(opts);
  }
  FakeLogService& log() { return server_.log(); }

  // GetEntries, checking each entry's bytes; the sink stops once it has
  // `stop_after`.
  absl::Status Read(LogClient& client, uint64_t start, uint64_t count, std::vector<uint64_t>* got,
                    size_t stop_after = SIZE_MAX) {
    return client.GetEntries(start, count, [&](const IndexedEntry& e) {
      EXPECT_EQ(e.data, TestEvent(e.index));
      got->push_back(e.index);
      return got->size() < stop_after;
    });
  }

  FakeLogServer server_;
};

std::vector<uint64_t> Range(uint64_t begin, uint64_t end) {
  std::vector<uint64_t> out;
  for (uint64_t i = begin; i < end; ++i) out.push_back(i);
  return out;
}

TEST_F(LogClientTest, AddReturnsIndicesInOrderWithLeafHashes) {
  std::unique_ptr<LogClient> client = NewClient();
  std::vector<AddResult> all;
  for (const std::vector<std::string>& batch : {TestEvents(0, 3), TestEvents(3, 4)}) {
    absl::StatusOr<std::vector<AddResult>> r = client->Add(batch, false);
    ASSERT_TRUE(r.ok()) << r.status();
    all.insert(all.end(), r->begin(), r->end());
  }
  ASSERT_EQ(all.size(), 7u);
  for (uint64_t i = 0; i < all.size(); ++i) {
    EXPECT_EQ(all[i].index, i);
    EXPECT_EQ(all[i].leaf_hash, HashLeaf(TestEvent(i)));
    EXPECT_FALSE(all[i].duplicate);
    EXPECT_FALSE(all[i].receipt.has_value());
  }
  EXPECT_EQ(log().entries(), TestEvents(0, 7));
}

TEST_F(LogClientTest, AddWithWaitReturnsReceiptsThatVerifyOffline) {
  log().Append(TestEvents(0, 5, "earlier"));
  std::unique_ptr<LogClient> client = NewClient();
  const std::vector<std::string> events = TestEvents(0, 6);
  absl::StatusOr<std::vector<AddResult>> results = client->Add(events, true);
  ASSERT_TRUE(results.ok()) << results.status();
  ASSERT_EQ(results->size(), 6u);
  for (size_t i = 0; i < events.size(); ++i) {
    const AddResult& r = (*results)[i];
    EXPECT_EQ(r.index, 5 + i);
    ASSERT_TRUE(r.receipt.has_value());
    EXPECT_EQ(r.receipt->index, 5 + i);
    ExpectReceiptVerifies(log(), *r.receipt, events[i], 11);
    // And it proves nothing about another entry.
    EXPECT_FALSE(VerifyTlogProof(*r.receipt, HashLeaf(TestEvent(99)), log().log_key(), {}).ok());
  }
  ASSERT_TRUE(client->LatestVerified().has_value());
  EXPECT_EQ(client->LatestVerified()->size(), 11u);
}

TEST_F(LogClientTest, AddRejectsInvalidEntryBeforeSending) {
  std::unique_ptr<LogClient> client = NewClient();
  v1::InfraEvent no_kind;
  no_kind.mutable_resource()->set_id("vm-1");
  const std::vector<std::string> entries = {TestEvent(0), no_kind.SerializeAsString()};
  absl::StatusOr<std::vector<AddResult>> r = client->Add(entries, false);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(r.status().message(), HasSubstr("entries[1]"));
  EXPECT_THAT(r.status().message(), HasSubstr("kind"));
  EXPECT_EQ(log().Calls(Rpc::kAddEvents), 0);
  EXPECT_EQ(log().size(), 0u);
}

// The client's message limits and the server's (the fake applies the real
// server's) carry the largest valid request, and its reply with a proof per
// entry.
TEST_F(LogClientTest, AddSendsAFullBatchOfTheLargestEntries) {
  std::unique_ptr<LogClient> client = NewClient();
  std::vector<std::string> entries;
  for (uint64_t i = 0; i < kMaxEntriesPerAdd; ++i) {
    entries.push_back(TestEventOfSize(i, kMaxEntryBytes));
  }
  absl::StatusOr<std::vector<AddResult>> r = client->Add(entries, true);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->size(), kMaxEntriesPerAdd);
  ExpectReceiptVerifies(log(), *r->back().receipt, entries.back(), kMaxEntriesPerAdd);
}

TEST_F(LogClientTest, AddRefusesOneEntryTooManyOrOneByteTooLargeBeforeSending) {
  std::unique_ptr<LogClient> client = NewClient();
  absl::StatusOr<std::vector<AddResult>> r =
      client->Add(TestEvents(0, kMaxEntriesPerAdd + 1), false);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(r.status().message(), HasSubstr(absl::StrCat(kMaxEntriesPerAdd + 1, " given")));
  r = client->Add({TestEvent(0), TestEventOfSize(1, kMaxEntryBytes + 1)}, false);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(r.status().message(), HasSubstr("entries[1].data"));
  EXPECT_EQ(log().Calls(Rpc::kAddEvents), 0);
}

TEST_F(LogClientTest, RetriesUnavailableAndResourceExhaustedThenSucceeds) {
  LogClientOptions opts = server_.ClientOptions();
  std::vector<absl::StatusCode> retried;
  opts.retry.on_retry = [&](const absl::Status& st, absl::Duration) {
    retried.push_back(st.code());
  };
  std::unique_ptr<LogClient> client = NewClient(opts);
  log().FailNext(Rpc::kAddEvents, 2, grpc::StatusCode::UNAVAILABLE);
  absl::StatusOr<std::vector<AddResult>> r = client->Add({TestEvent(0)}, false);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(log().Calls(Rpc::kAddEvents), 3);
  EXPECT_EQ(log().entries(), TestEvents(0, 1));

  log().FailNext(Rpc::kGetCheckpoint, 1, grpc::StatusCode::RESOURCE_EXHAUSTED);
  absl::StatusOr<SignedCheckpoint> cp = client->GetCheckpoint();
  ASSERT_TRUE(cp.ok()) << cp.status();
  EXPECT_EQ(cp->size(), 1u);
  EXPECT_EQ(log().Calls(Rpc::kGetCheckpoint), 2);
  EXPECT_THAT(retried, ElementsAre(absl::StatusCode::kUnavailable, absl::StatusCode::kUnavailable,
                                   absl::StatusCode::kResourceExhausted));
}

TEST_F(LogClientTest, DoesNotRetryInvalidArgument) {
  int retries = 0;
  std::unique_ptr<LogClient> client = CountingClient(&retries);
  log().FailNext(Rpc::kAddEvents, 1, grpc::StatusCode::INVALID_ARGUMENT);
  absl::StatusOr<std::vector<AddResult>> r = client->Add({TestEvent(0)}, false);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(log().Calls(Rpc::kAddEvents), 1);
  EXPECT_EQ(retries, 0);
}

TEST_F(LogClientTest, GivesUpAfterRetryBudgetWithLastError) {
  int retries = 0;
  // A budget of many backoffs (1-5 ms each): several attempts even when one
  // call is slow (a loaded machine, a sanitizer build), and still a bound.
  std::unique_ptr<LogClient> client = CountingClient(&retries, absl::Seconds(1));
  log().FailNext(Rpc::kGetCheckpoint, 1 << 30, grpc::StatusCode::UNAVAILABLE);
  absl::StatusOr<SignedCheckpoint> cp = client->GetCheckpoint();
  EXPECT_EQ(cp.status().code(), absl::StatusCode::kUnavailable);
  const int calls = log().Calls(Rpc::kGetCheckpoint);
  EXPECT_GT(calls, 1);
  EXPECT_EQ(retries, calls - 1);
  // The error is the last attempt's, not the first's.
  EXPECT_THAT(cp.status().message(), HasSubstr(absl::StrCat("(call #", calls, ")")));
  EXPECT_THAT(cp.status().message(), HasSubstr(absl::StrCat("gave up after ", calls, " attempts")));
}

TEST_F(LogClientTest, ZeroBudgetMakesOneAttempt) {
  int retries = 0;
  std::unique_ptr<LogClient> client = CountingClient(&retries, absl::ZeroDuration());
  log().FailNext(Rpc::kAddEvents, 5, grpc::StatusCode::UNAVAILABLE);
  absl::StatusOr<std::vector<AddResult>> r = client->Add({TestEvent(0)}, false);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(r.status().message(), HasSubstr("gave up after 1 attempt)"));
  EXPECT_EQ(log().Calls(Rpc::kAddEvents), 1);
  EXPECT_EQ(retries, 0);
}

TEST_F(LogClientTest, LostReplyRetryReturnsOriginalIndexAsDuplicate) {
  std::unique_ptr<LogClient> client = NewClient();
  ASSERT_TRUE(client->Add(TestEvents(0, 2), false).ok());
  log().LoseNextAddReplies(1);
  const std::vector<std::string> events = TestEvents(2, 3);
  absl::StatusOr<std::vector<AddResult>> r = client->Add(events, true);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(log().Calls(Rpc::kAddEvents), 3);
  for (size_t i = 0; i < events.size(); ++i) {
    EXPECT_EQ((*r)[i].index, 2 + i);
    EXPECT_TRUE((*r)[i].duplicate);
    ASSERT_TRUE((*r)[i].receipt.has_value());
    ExpectReceiptVerifies(log(), *(*r)[i].receipt, events[i], 5);
  }
  EXPECT_EQ(log().entries(), TestEvents(0, 5));  // each entry once
}

TEST_F(LogClientTest, WrongLeafHashFromServerIsVerificationErrorNotRetried) {
  std::unique_ptr<LogClient> client = NewClient();
  log().CorruptLeafHashes(true);
  absl::StatusOr<std::vector<AddResult>> r = client->Add(TestEvents(0, 2), false);
  ExpectVerificationError(r.status());
  EXPECT_EQ(log().Calls(Rpc::kAddEvents), 1);
}

TEST_F(LogClientTest, CorruptInclusionProofOnAddWithWaitIsVerificationError) {
  std::unique_ptr<LogClient> client = NewClient();
  log().Append(TestEvents(0, 6, "earlier"));
  log().CorruptInclusionProofs(true);
  absl::StatusOr<std::vector<AddResult>> r = client->Add(TestEvents(0, 3), true);
  ExpectVerificationError(r.status());
  EXPECT_THAT(r.status().message(), HasSubstr("inclusion proof"));
  EXPECT_EQ(log().Calls(Rpc::kAddEvents), 1);
}

TEST_F(LogClientTest, CheckpointSignedByAnotherKeyIsVerificationError) {
  log().Append(TestEvents(0, 3));
  std::unique_ptr<LogClient> client = NewClient();
  absl::StatusOr<NoteSigner> other = NoteSigner::Generate(FakeLogService::kOrigin);
  ASSERT_TRUE(other.ok()) << other.status();
  log().SignWith(*other);
  absl::StatusOr<SignedCheckpoint> cp = client->GetCheckpoint();
  ExpectVerificationError(cp.status());
  EXPECT_EQ(log().Calls(Rpc::kGetCheckpoint), 1);
  EXPECT_FALSE(client->LatestVerified().has_value());
}

TEST_F(LogClientTest, EmptyTreeCheckpointMustCarryTheEmptyRoot) {
  // The log's own key, as the fake derives it.
  const NoteSigner key = *NoteSigner::FromSeed(FakeLogService::kOrigin, std::string(32, '\x42'));
  std::unique_ptr<LogClient> client = NewClient();
  Checkpoint empty{std::string(FakeLogService::kOrigin), 0, Hasher::EmptyRoot(), {}};
  absl::StatusOr<SignedCheckpoint> good = client->VerifyCheckpoint(*SignNote(empty.Body(), {key}));
  ASSERT_TRUE(good.ok()) << good.status();
  Checkpoint bogus = empty;
  bogus.root = HashLeaf("made up");
  absl::StatusOr<SignedCheckpoint> bad = client->VerifyCheckpoint(*SignNote(bogus.Body(), {key}));
  ExpectVerificationError(bad.status());
  log().Append(TestEvents(0, 3));
  absl::StatusOr<SignedCheckpoint> latest = client->GetCheckpoint();
  ASSERT_TRUE(latest.ok()) << latest.status();
  EXPECT_TRUE(client->CheckConsistent(*good, *latest).ok());
}

TEST_F(LogClientTest, DetectsForkAtLargerSize) {
  log().Append(TestEvents(0, 4));
  std::unique_ptr<LogClient> client = NewClient();
  ASSERT_TRUE(client->GetCheckpoint().ok());
  log().Fork(1);
  log().Append(TestEvents(4, 3));
  absl::StatusOr<SignedCheckpoint> cp = client->GetCheckpoint();
  ExpectVerificationError(cp.status());
  EXPECT_EQ(log().Calls(Rpc::kGetConsistencyProof), 1);
  ASSERT_TRUE(client->LatestVerified().has_value());
  EXPECT_EQ(client->LatestVerified()->size(), 4u);
  EXPECT_EQ(client->LatestVerified()->root(), log().Root(4));
}

TEST_F(LogClientTest, DetectsForkAtSameSize) {
  log().Append(TestEvents(0, 4));
  std::unique_ptr<LogClient> client = NewClient();
  ASSERT_TRUE(client->GetCheckpoint().ok());
  log().Fork(2);
  absl::StatusOr<SignedCheckpoint> cp = client->GetCheckpoint();
  ExpectVerificationError(cp.status());
  EXPECT_THAT(cp.status().message(), HasSubstr("fork"));
}

TEST_F(LogClientTest, DetectsForkAtSmallerSize) {
  log().Append(TestEvents(0, 8));
  std::unique_ptr<LogClient> client = NewClient();
  ASSERT_TRUE(client->GetCheckpoint().ok());
  log().Fork(3);
  log().CapPublishedSize(6);
  ExpectVerificationError(client->GetCheckpoint().status());
  EXPECT_EQ(client->LatestVerified()->size(), 8u);
}

TEST_F(LogClientTest, BadConsistencyProofIsVerificationErrorNotRetried) {
  log().Append(TestEvents(0, 4));
  std::unique_ptr<LogClient> client = NewClient();
  ASSERT_TRUE(client->GetCheckpoint().ok());
  log().Append(TestEvents(4, 3));
  log().CorruptConsistencyProofs(true);
  ExpectVerificationError(client->GetCheckpoint().status());
  EXPECT_EQ(log().Calls(Rpc::kGetConsistencyProof), 1);
  EXPECT_EQ(client->LatestVerified()->size(), 4u);
}

TEST_F(LogClientTest, GetCheckpointTracksLatestVerified) {
  std::unique_ptr<LogClient> client = NewClient();
  EXPECT_FALSE(client->LatestVerified().has_value());
  log().Append(TestEvents(0, 3));
  absl::StatusOr<SignedCheckpoint> cp3 = client->GetCheckpoint();
  ASSERT_TRUE(cp3.ok()) << cp3.status();
  EXPECT_EQ(cp3->size(), 3u);
  EXPECT_EQ(cp3->root(), log().Root(3));
  EXPECT_EQ(client->LatestVerified()->note, cp3->note);

  log().Append(TestEvents(3, 5));
  absl::StatusOr<SignedCheckpoint> cp8 = client->GetCheckpoint();
  ASSERT_TRUE(cp8.ok()) << cp8.status();
  EXPECT_EQ(cp8->size(), 8u);
  EXPECT_EQ(client->LatestVerified()->note, cp8->note);

  // An older (consistent) checkpoint verifies but does not move it back.
  log().CapPublishedSize(5);
  absl::StatusOr<SignedCheckpoint> cp5 = client->GetCheckpoint();
  ASSERT_TRUE(cp5.ok()) << cp5.status();
  EXPECT_EQ(cp5->size(), 5u);
  EXPECT_EQ(client->LatestVerified()->size(), 8u);
}

TEST_F(LogClientTest, CallsThatVerifyNeedTheLogKey) {
  log().Append(TestEvents(0, 3));
  LogClientOptions opts = server_.ClientOptions();
  opts.log_key.reset();
  std::unique_ptr<LogClient> client = NewClient(opts);
  EXPECT_EQ(client->GetCheckpoint().status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(client->Add({TestEvent(7)}, true).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(client->GetEntryAndProof(0).status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(log().Calls(Rpc::kGetCheckpoint), 0);
  EXPECT_EQ(log().Calls(Rpc::kAddEvents), 0);
  // What needs no verification works without it.
  absl::StatusOr<std::string> note = client->GetCheckpointNote();
  ASSERT_TRUE(note.ok()) << note.status();
  EXPECT_TRUE(client->Add({TestEvent(7)}, false).ok());
}

TEST_F(LogClientTest, GetEntryAndProofVerifiesAgainstLatestOrGivenCheckpoint) {
  log().Append(TestEvents(0, 6));
  std::unique_ptr<LogClient> client = NewClient();
  absl::StatusOr<SignedCheckpoint> cp6 = client->GetCheckpoint();
  ASSERT_TRUE(cp6.ok()) << cp6.status();
  log().Append(TestEvents(6, 4));

  absl::StatusOr<EntryAndProof> latest = client->GetEntryAndProof(7);
  ASSERT_TRUE(latest.ok()) << latest.status();
  EXPECT_EQ(latest->entry, TestEvent(7));
  ExpectReceiptVerifies(log(), latest->receipt, TestEvent(7), 10);

  absl::StatusOr<EntryAndProof> at6 = client->GetEntryAndProof(3, &*cp6);
  ASSERT_TRUE(at6.ok()) << at6.status();
  EXPECT_EQ(at6->entry, TestEvent(3));
  EXPECT_EQ(at6->receipt.checkpoint, cp6->note);
  ExpectReceiptVerifies(log(), at6->receipt, TestEvent(3), 6);

  EXPECT_EQ(client->GetEntryAndProof(7, &*cp6).status().code(), absl::StatusCode::kOutOfRange);
  log().CorruptInclusionProofs(true);
  ExpectVerificationError(client->GetEntryAndProof(3).status());
}

TEST_F(LogClientTest, ProveLeafHashVerifiesAgainstLatestOrGivenCheckpoint) {
  log().Append(TestEvents(0, 6));
  std::unique_ptr<LogClient> client = NewClient();
  absl::StatusOr<SignedCheckpoint> cp6 = client->GetCheckpoint();
  ASSERT_TRUE(cp6.ok()) << cp6.status();
  log().Append(TestEvents(6, 4));

  absl::StatusOr<TlogProof> latest = client->ProveLeafHash(HashLeaf(TestEvent(8)));
  ASSERT_TRUE(latest.ok()) << latest.status();
  EXPECT_EQ(latest->index, 8u);
  ExpectReceiptVerifies(log(), *latest, TestEvent(8), 10);

  absl::StatusOr<TlogProof> at6 = client->ProveLeafHash(HashLeaf(TestEvent(2)), &*cp6);
  ASSERT_TRUE(at6.ok()) << at6.status();
  EXPECT_EQ(at6->index, 2u);
  EXPECT_EQ(at6->checkpoint, cp6->note);
  ExpectReceiptVerifies(log(), *at6, TestEvent(2), 6);

  EXPECT_EQ(client->ProveLeafHash(HashLeaf(TestEvent(8)), &*cp6).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(client->ProveLeafHash(HashLeaf(TestEvent(99))).status().code(),
            absl::StatusCode::kNotFound);
  log().CorruptInclusionProofs(true);
  ExpectVerificationError(client->ProveLeafHash(HashLeaf(TestEvent(2))).status());
}

TEST_F(LogClientTest, WaitForInclusionReturnsOnceCovered) {
  log().CapPublishedSize(4);  // one short of covering index 4
  std::unique_ptr<LogClient> client = NewClient();
  absl::StatusOr<std::vector<AddResult>> added = client->Add(TestEvents(0, 5), false);
  ASSERT_TRUE(added.ok()) << added.status();
  absl::StatusOr<TlogProof> receipt;
  absl::Notification done;
  std::thread waiter([&] {
    receipt = client->WaitForInclusion(4, (*added)[4].leaf_hash, kTestWait);
    done.Notify();
  });
  // Two polls of a checkpoint that does not cover it, and still waiting.
  EXPECT_TRUE(log().AwaitCalls(Rpc::kGetCheckpoint, 2, absl::Seconds(10)));
  EXPECT_FALSE(done.HasBeenNotified());
  log().CapPublishedSize(std::nullopt);
  waiter.join();
  ASSERT_TRUE(receipt.ok()) << receipt.status();
  EXPECT_EQ(receipt->index, 4u);
  ExpectReceiptVerifies(log(), *receipt, TestEvent(4), 5);
}

TEST_F(LogClientTest, WaitForInclusionTimesOutWhenNeverCovered) {
  log().Append(TestEvents(0, 5));
  log().CapPublishedSize(4);
  std::unique_ptr<LogClient> client = NewClient();
  absl::StatusOr<TlogProof> r =
      client->WaitForInclusion(4, HashLeaf(TestEvent(4)), absl::Milliseconds(100));
  EXPECT_EQ(r.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_EQ(log().Calls(Rpc::kGetInclusionProof), 0);
}

TEST_F(LogClientTest, ConsistencyProofProvesRootOfPrefix) {
  log().Append(TestEvents(0, 37));
  std::unique_ptr<LogClient> client = NewClient();
  for (uint64_t from : {1, 2, 4, 8, 16, 32, 36, 37}) {
    SCOPED_TRACE(absl::StrCat("from ", from));
    absl::StatusOr<ConsistencyProof> p = client->GetConsistencyProof(from);
    ASSERT_TRUE(p.ok()) << p.status();
    EXPECT_EQ(p->from_size, from);
    EXPECT_EQ(p->from_root, log().Root(from));
    EXPECT_EQ(p->to.size(), 37u);
    Hasher hasher;
    EXPECT_TRUE(VerifyConsistency(from, 37, p->from_root, p->to.root(), p->proof, hasher).ok());
  }
  EXPECT_EQ(client->GetConsistencyProof(0).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(client->GetConsistencyProof(38).status().code(), absl::StatusCode::kOutOfRange);

  // To a given checkpoint rather than the latest.
  std::optional<SignedCheckpoint> cp37 = client->LatestVerified();
  log().Append(TestEvents(37, 5));
  absl::StatusOr<ConsistencyProof> p = client->GetConsistencyProof(7, &*cp37);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->to.note, cp37->note);
  EXPECT_EQ(p->from_root, log().Root(7));
}

TEST_F(LogClientTest, ConsistencyProofRejectsBadProofOrPrefixRoot) {
  log().Append(TestEvents(0, 13));
  std::unique_ptr<LogClient> client = NewClient();
  ASSERT_TRUE(client->GetCheckpoint().ok());
  log().CorruptConsistencyProofs(true);
  ExpectVerificationError(client->GetConsistencyProof(5).status());
  log().CorruptConsistencyProofs(false);
  // A wrong path for the last entry of the prefix gives a wrong from_root,
  // which the consistency proof then fails to bind.
  log().CorruptInclusionProofs(true);
  ExpectVerificationError(client->GetConsistencyProof(5).status());
}

TEST_F(LogClientTest, CheckConsistentAcceptsPrefixRejectsForgery) {
  log().Append(TestEvents(0, 5));
  std::unique_ptr<LogClient> client = NewClient();
  absl::StatusOr<SignedCheckpoint> cp5 = client->GetCheckpoint();
  ASSERT_TRUE(cp5.ok()) << cp5.status();
  log().Append(TestEvents(5, 4));
  absl::StatusOr<SignedCheckpoint> cp9 = client->GetCheckpoint();
  ASSERT_TRUE(cp9.ok()) << cp9.status();

  std::unique_ptr<LogClient> other = NewClient();
  EXPECT_TRUE(other->CheckConsistent(*cp5, *cp9).ok());
  EXPECT_TRUE(other->CheckConsistent(*cp9, *cp9).ok());
  EXPECT_EQ(other->CheckConsistent(*cp9, *cp5).code(), absl::StatusCode::kInvalidArgument);

  // Signed by the log, but not a prefix of what it served.
  const std::string forged = log().SignCheckpoint(5, log().Root(4));
  absl::StatusOr<VerifiedCheckpoint> v = OpenCheckpoint(forged, log().log_key(), {});
  ASSERT_TRUE(v.ok()) << v.status();
  ExpectVerificationError(other->CheckConsistent(SignedCheckpoint{forged, *v}, *cp9));
  ExpectVerificationError(client->VerifyCheckpoint(forged).status());
  EXPECT_EQ(client->LatestVerified()->note, cp9->note);
}

TEST_F(LogClientTest, GetEntriesStreamsRangeInOrder) {
  log().Append(TestEvents(0, 50));
  log().SetEntriesChunkSize(7);
  LogClientOptions opts = server_.ClientOptions();
  opts.log_key.reset();  // reading entries needs no key
  std::unique_ptr<LogClient> client = NewClient(opts);
  std::vector<uint64_t> got;
  ASSERT_TRUE(Read(*client, 10, 25, &got).ok());
  EXPECT_EQ(got, Range(10, 35));
}

TEST_F(LogClientTest, GetEntriesStopsWhenSinkReturnsFalse) {
  log().Append(TestEvents(0, 50));
  std::unique_ptr<LogClient> client = NewClient();
  std::vector<uint64_t> got;
  EXPECT_TRUE(Read(*client, 0, 50, &got, /*stop_after=*/3).ok());
  EXPECT_EQ(got, Range(0, 3));
}

TEST_F(LogClientTest, GetEntriesResumesBrokenStreamAtFirstUndeliveredEntry) {
  log().Append(TestEvents(0, 40));
  log().SetEntriesChunkSize(4);
  log().BreakEntriesStreams(2, 2);  // two streams break after 8 entries each
  std::unique_ptr<LogClient> client = NewClient();
  std::vector<uint64_t> got;
  ASSERT_TRUE(Read(*client, 5, 30, &got).ok());
  EXPECT_EQ(got, Range(5, 35));  // no duplicates, no gaps
  using Req = std::pair<uint64_t, uint64_t>;
  EXPECT_THAT(log().EntriesRequests(), ElementsAre(Req{5, 30}, Req{13, 22}, Req{21, 14}));
}

TEST_F(LogClientTest, GetEntriesAsksForAtMostTheServersLimitPerCall) {
  log().Append(TestEvents(0, kMaxEntriesPerGet + 1));
  std::unique_ptr<LogClient> client = NewClient();
  std::vector<uint64_t> got;
  ASSERT_TRUE(Read(*client, 0, kMaxEntriesPerGet + 1, &got).ok());
  EXPECT_EQ(got, Range(0, kMaxEntriesPerGet + 1));
  using Req = std::pair<uint64_t, uint64_t>;
  EXPECT_THAT(log().EntriesRequests(),
              ElementsAre(Req{0, kMaxEntriesPerGet}, Req{kMaxEntriesPerGet, 1}));
}

TEST_F(LogClientTest, GetEntriesEndsQuietlyAtTheEndOfTheTree) {
  log().Append(TestEvents(0, 10));
  log().CapPublishedSize(8);
  std::unique_ptr<LogClient> client = NewClient();
  std::vector<uint64_t> got;
  ASSERT_TRUE(Read(*client, 5, 100, &got).ok());
  EXPECT_EQ(got, Range(5, 8));
  got.clear();
  EXPECT_EQ(Read(*client, 8, 5, &got).code(), absl::StatusCode::kOutOfRange);
  EXPECT_TRUE(got.empty());
}

TEST(LogClientCreate, RejectsUnusableOptions) {
  auto create_error = [](auto change) {
    LogClientOptions opts;
    opts.target = "127.0.0.1:1";
    opts.tls = true;
    change(opts);
    absl::Status st = LogClient::Create(opts).status();
    EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument) << st;
    return std::string(st.message());
  };
  EXPECT_THAT(create_error([](LogClientOptions& o) { o.target.clear(); }), HasSubstr("target"));
  EXPECT_THAT(create_error([](LogClientOptions& o) { o.tls_cert_file = "/dev/null"; }),
              HasSubstr("tls_key_file"));
  EXPECT_THAT(create_error([](LogClientOptions& o) { o.tls_key_file = "/dev/null"; }),
              HasSubstr("tls_cert_file"));
  EXPECT_THAT(create_error([](LogClientOptions& o) {
                o.tls_ca_file = ::testing::TempDir() + "/no-such-dir/ca.pem";
              }),
              HasSubstr("tls_ca_file"));
  // TLS settings without TLS are a mistake, not something to ignore.
  for (auto change : std::vector<void (*)(LogClientOptions&)>{
           [](LogClientOptions& o) { o.tls_key_file = "/dev/null"; },
           [](LogClientOptions& o) { o.tls_server_name = "log.example"; },
           [](LogClientOptions& o) { o.tls_ca_file = "/dev/null"; }}) {
    EXPECT_THAT(create_error([&](LogClientOptions& o) {
                  o.tls = false;
                  change(o);
                }),
                HasSubstr("without tls"));
  }
}

}  // namespace
}  // namespace infratrail
