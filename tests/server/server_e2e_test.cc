// End-to-end tests of the Log API against a real infratrail-server process:
// what AddEvents returns, that every read verifies against signed
// checkpoints, and the documented behaviour at the edges (bad input, sizes
// beyond the published checkpoint).
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/hash.h"
#include "core/tile.h"
#include "gtest/gtest.h"
#include "proto/limits.h"
#include "tests/server/e2e_fixture.h"

namespace infratrail::testing {
namespace {

using grpc::StatusCode;

class ServerE2eTest : public ServerTest {};

// One unary call with a fresh context; the response is dropped.
template <typename Response, typename Request, typename Method>
grpc::Status Call(LogClient& client, Method method, const Request& req) {
  Response resp;
  grpc::ClientContext ctx;
  client.Prepare(&ctx);
  return (client.stub().*method)(&ctx, req, &resp);
}
grpc::Status Inclusion(LogClient& c, const v1::GetInclusionProofRequest& req) {
  return Call<v1::GetInclusionProofResponse>(c, &v1::Log::Stub::GetInclusionProof, req);
}
grpc::Status Consistency(LogClient& c, uint64_t from_size, uint64_t to_size) {
  v1::GetConsistencyProofRequest req;
  req.set_from_size(from_size);
  req.set_to_size(to_size);
  return Call<v1::GetConsistencyProofResponse>(c, &v1::Log::Stub::GetConsistencyProof, req);
}
grpc::Status EntryAndProof(LogClient& c, uint64_t index, uint64_t tree_size) {
  v1::GetEntryAndProofRequest req;
  req.set_index(index);
  req.set_tree_size(tree_size);
  return Call<v1::GetEntryAndProofResponse>(c, &v1::Log::Stub::GetEntryAndProof, req);
}

TEST_F(ServerE2eTest, AddEventsAssignsIndicesInOrderAndHashesTheBytes) {
  auto server = StartServer();
  ASSERT_NE(server, nullptr);
  LogClient client(server->address());
  const std::vector<std::string> events = MakeEvents(10);
  v1::AddEventsResponse resp;
  ASSERT_TRUE(client.AddEvents(events, false, &resp).ok());
  ASSERT_EQ(resp.entries_size(), 10);
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(resp.entries(i).index(), static_cast<uint64_t>(i));
    EXPECT_EQ(resp.entries(i).leaf_hash(), AsBytes(HashLeaf(events[i])));
    EXPECT_FALSE(resp.entries(i).duplicate());
    EXPECT_EQ(resp.entries(i).inclusion_proof_size(), 0);
  }
  EXPECT_TRUE(resp.checkpoint().empty());
}

TEST_F(ServerE2eTest, ResubmittedEntriesReturnTheirOriginalIndices) {
  auto server = StartServer();
  ASSERT_NE(server, nullptr);
  LogClient client(server->address());
  const std::vector<std::string> first = MakeEvents(5);
  v1::AddEventsResponse resp;
  ASSERT_TRUE(client.AddEvents(first, false, &resp).ok());

  v1::AddEventsResponse again;
  ASSERT_TRUE(client.AddEvents(first, false, &again).ok());
  ASSERT_EQ(again.entries_size(), 5);
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(again.entries(i).index(), resp.entries(i).index());
    EXPECT_EQ(again.entries(i).leaf_hash(), resp.entries(i).leaf_hash());
    EXPECT_TRUE(again.entries(i).duplicate());
  }

  // New entries repeated within one request, mixed with an old one.
  const std::string a = MakeEvent();
  const std::string b = MakeEvent();
  v1::AddEventsResponse mixed;
  ASSERT_TRUE(client.AddEvents({a, b, a, first[2], b, a}, false, &mixed).ok());
  ASSERT_EQ(mixed.entries_size(), 6);
  const uint64_t want_index[] = {5, 6, 5, 2, 6, 5};
  const bool want_duplicate[] = {false, false, true, true, true, true};
  for (int i = 0; i < 6; ++i) {
    EXPECT_EQ(mixed.entries(i).index(), want_index[i]) << "entry " << i;
    EXPECT_EQ(mixed.entries(i).duplicate(), want_duplicate[i]) << "entry " << i;
  }

  // Only the two new entries were appended.
  absl::StatusOr<Checkpoint> cp = AddAndWaitForCheckpoint(client, vkey());
  ASSERT_TRUE(cp.ok()) << cp.status();
  EXPECT_EQ(cp->size, 8u);
}

TEST_F(ServerE2eTest, WaitForCheckpointReturnsVerifiableProofs) {
  auto server = StartServer();
  ASSERT_NE(server, nullptr);
  LogClient client(server->address());
  ASSERT_TRUE(AddAndWaitForCheckpoint(client, vkey()).ok());
  const std::vector<std::string> events = MakeEvents(37);
  v1::AddEventsResponse resp;
  ASSERT_TRUE(client.AddEvents(events, true, &resp).ok());
  absl::StatusOr<Checkpoint> cp = OpenLogCheckpoint(resp.checkpoint(), vkey());
  ASSERT_TRUE(cp.ok()) << cp.status();
  EXPECT_EQ(cp->origin, kOrigin);
  EXPECT_EQ(cp->size, 38u);
  ASSERT_EQ(resp.entries_size(), 37);
  for (int i = 0; i < 37; ++i) {
    EXPECT_EQ(resp.entries(i).index(), static_cast<uint64_t>(i + 1));
    EXPECT_TRUE(VerifyEntryInclusion(*cp, resp.entries(i).index(), events[i],
                                     resp.entries(i).inclusion_proof())
                    .ok())
        << "entry " << i;
  }
  // The checkpoint is the log's own: another key does not open it.
  absl::StatusOr<LogKey> other = MakeLogKey(dir_->path(), "other.key", std::string(kOrigin));
  ASSERT_TRUE(other.ok()) << other.status();
  EXPECT_FALSE(OpenLogCheckpoint(resp.checkpoint(), other->verifier_key).ok());
}

TEST_F(ServerE2eTest, ReadApisServeProofsThatVerify) {
  auto server = StartServer();
  ASSERT_NE(server, nullptr);
  LogClient client(server->address());
  std::vector<std::string> all = MakeEvents(5);
  v1::AddEventsResponse r1;
  ASSERT_TRUE(client.AddEvents(all, true, &r1).ok());
  absl::StatusOr<Checkpoint> cp1 = OpenLogCheckpoint(r1.checkpoint(), vkey());
  ASSERT_TRUE(cp1.ok()) << cp1.status();
  const std::vector<std::string> more = MakeEvents(8);
  all.insert(all.end(), more.begin(), more.end());
  v1::AddEventsResponse r2;
  ASSERT_TRUE(client.AddEvents(more, true, &r2).ok());

  std::string note;
  ASSERT_TRUE(client.GetCheckpoint(&note).ok());
  absl::StatusOr<Checkpoint> cp2 = OpenLogCheckpoint(note, vkey());
  ASSERT_TRUE(cp2.ok()) << cp2.status();
  ASSERT_EQ(cp2->size, all.size());
  ASSERT_LT(cp1->size, cp2->size);
  EXPECT_EQ(cp2->root, RootOfEntries(all));

  {  // Consistency between the two checkpoints, and to "latest".
    v1::GetConsistencyProofRequest req;
    req.set_from_size(cp1->size);
    req.set_to_size(cp2->size);
    v1::GetConsistencyProofResponse resp;
    grpc::ClientContext ctx;
    client.Prepare(&ctx);
    ASSERT_TRUE(client.stub().GetConsistencyProof(&ctx, req, &resp).ok());
    EXPECT_TRUE(VerifyCheckpointConsistency(*cp1, *cp2, resp.proof()).ok());
    EXPECT_TRUE(resp.checkpoint().empty());

    req.set_to_size(0);
    grpc::ClientContext latest_ctx;
    client.Prepare(&latest_ctx);
    ASSERT_TRUE(client.stub().GetConsistencyProof(&latest_ctx, req, &resp).ok());
    absl::StatusOr<Checkpoint> latest = OpenLogCheckpoint(resp.checkpoint(), vkey());
    ASSERT_TRUE(latest.ok()) << latest.status();
    EXPECT_EQ(resp.to_size(), latest->size);
    EXPECT_TRUE(VerifyCheckpointConsistency(*cp1, *latest, resp.proof()).ok());
  }

  for (uint64_t i = 0; i < all.size(); ++i) {
    SCOPED_TRACE(::testing::Message() << "index " << i);
    v1::GetInclusionProofRequest req;
    req.set_index(i);
    v1::GetInclusionProofResponse by_index;
    grpc::ClientContext ctx;
    client.Prepare(&ctx);
    ASSERT_TRUE(client.stub().GetInclusionProof(&ctx, req, &by_index).ok());
    absl::StatusOr<Checkpoint> latest = OpenLogCheckpoint(by_index.checkpoint(), vkey());
    ASSERT_TRUE(latest.ok()) << latest.status();
    EXPECT_TRUE(VerifyEntryInclusion(*latest, i, all[i], by_index.proof()).ok());

    req.set_leaf_hash(std::string(AsBytes(HashLeaf(all[i]))));
    req.set_tree_size(cp2->size);
    v1::GetInclusionProofResponse by_hash;
    grpc::ClientContext hash_ctx;
    client.Prepare(&hash_ctx);
    ASSERT_TRUE(client.stub().GetInclusionProof(&hash_ctx, req, &by_hash).ok());
    EXPECT_EQ(by_hash.index(), i);
    EXPECT_EQ(by_hash.tree_size(), cp2->size);
    EXPECT_TRUE(VerifyEntryInclusion(*cp2, i, all[i], by_hash.proof()).ok());

    v1::GetEntryAndProofRequest ep_req;
    ep_req.set_index(i);
    if (i < cp1->size) ep_req.set_tree_size(cp1->size);
    v1::GetEntryAndProofResponse ep;
    grpc::ClientContext ep_ctx;
    client.Prepare(&ep_ctx);
    ASSERT_TRUE(client.stub().GetEntryAndProof(&ep_ctx, ep_req, &ep).ok());
    EXPECT_EQ(ep.entry().index(), i);
    EXPECT_EQ(ep.entry().data(), all[i]);
    absl::StatusOr<Checkpoint> against =
        i < cp1->size ? *cp1 : OpenLogCheckpoint(ep.checkpoint(), vkey());
    ASSERT_TRUE(against.ok()) << against.status();
    EXPECT_EQ(ep.tree_size(), against->size);
    EXPECT_TRUE(VerifyEntryInclusion(*against, i, ep.entry().data(), ep.proof()).ok());
  }

  std::vector<std::string> read;
  ASSERT_TRUE(client.GetEntries(0, 10000, &read).ok());
  EXPECT_EQ(read, all);  // the stream stops at the published size
  std::vector<std::string> tail;
  ASSERT_TRUE(client.GetEntries(10, 100, &tail).ok());
  EXPECT_EQ(tail, std::vector<std::string>(all.begin() + 10, all.end()));
}

TEST_F(ServerE2eTest, SequencedButUnpublishedEntriesAreNotServed) {
  // The first checkpoint (size 0) is signed at start-up; the next not
  // before an hour, unless a drain publishes it.
  auto server = StartServer({"--checkpoint-interval-ms", "3600000"});
  ASSERT_NE(server, nullptr);
  auto client = std::make_unique<LogClient>(server->address());
  const std::vector<std::string> events = MakeEvents(3);
  v1::AddEventsResponse resp;
  ASSERT_TRUE(client->AddEvents(events, false, &resp).ok());
  std::string note;
  ASSERT_TRUE(client->GetCheckpoint(&note).ok());
  absl::StatusOr<Checkpoint> cp = OpenLogCheckpoint(note, vkey());
  ASSERT_TRUE(cp.ok()) << cp.status();
  EXPECT_EQ(cp->size, 0u);
  EXPECT_EQ(cp->root, Hasher::EmptyRoot());

  v1::GetInclusionProofRequest req;
  req.set_leaf_hash(resp.entries(0).leaf_hash());
  EXPECT_TRUE(IsError(Inclusion(*client, req), StatusCode::NOT_FOUND, "not yet integrated"));
  std::vector<std::string> read;
  EXPECT_TRUE(IsError(client->GetEntries(0, 10, &read), StatusCode::OUT_OF_RANGE, "start"));

  // A drain publishes what it committed.
  client.reset();  // see ServerProcess::Terminate
  absl::StatusOr<int> rc = server->Terminate();
  ASSERT_TRUE(rc.ok()) << rc.status();
  EXPECT_EQ(*rc, 0);
  server = StartServer();
  ASSERT_NE(server, nullptr);
  LogClient restarted(server->address());
  ASSERT_TRUE(restarted.GetCheckpoint(&note).ok());
  cp = OpenLogCheckpoint(note, vkey());
  ASSERT_TRUE(cp.ok()) << cp.status();
  EXPECT_EQ(cp->size, 3u);
  ASSERT_TRUE(restarted.GetEntries(0, 10, &read).ok());
  EXPECT_EQ(read, events);
}

TEST_F(ServerE2eTest, TilesOverHttpFollowTheSignedCheckpointAndCanBeTurnedOff) {
  auto server = StartServer({"--checkpoint-interval-ms", "3600000"});
  ASSERT_NE(server, nullptr);
  ASSERT_GT(server->http_port(), 0);
  auto client = std::make_unique<LogClient>(server->address());
  const std::vector<std::string> events = MakeEvents(3);
  v1::AddEventsResponse resp;
  ASSERT_TRUE(client->AddEvents(events, false, &resp).ok());
  // Sequenced, not signed: the HTTP checkpoint is the gRPC one (size 0)
  // and the entries' bundle is not served yet.
  std::string note;
  ASSERT_TRUE(client->GetCheckpoint(&note).ok());
  absl::StatusOr<std::string> body = HttpGet(server->http_port(), "/checkpoint");
  ASSERT_TRUE(body.ok()) << body.status();
  EXPECT_EQ(*body, note);
  EXPECT_FALSE(HttpGet(server->http_port(), "/tile/entries/000.p/3").ok());

  client.reset();  // see ServerProcess::Terminate
  absl::StatusOr<int> rc = server->Terminate();
  ASSERT_TRUE(rc.ok()) << rc.status();
  server = StartServer();  // the drain signed size 3
  ASSERT_NE(server, nullptr);
  client = std::make_unique<LogClient>(server->address());
  ASSERT_TRUE(client->GetCheckpoint(&note).ok());
  body = HttpGet(server->http_port(), "/checkpoint");
  ASSERT_TRUE(body.ok()) << body.status();
  EXPECT_EQ(*body, note);
  body = HttpGet(server->http_port(), "/tile/entries/000.p/3");
  ASSERT_TRUE(body.ok()) << body.status();
  absl::StatusOr<std::vector<std::string>> bundle = DecodeEntryBundle(*body);
  ASSERT_TRUE(bundle.ok()) << bundle.status();
  EXPECT_EQ(*bundle, events);
  body = HttpGet(server->http_port(), "/tile/0/000.p/3");
  ASSERT_TRUE(body.ok()) << body.status();
  absl::StatusOr<std::vector<Hash>> hashes = DecodeHashTile(*body);
  ASSERT_TRUE(hashes.ok()) << hashes.status();
  ASSERT_EQ(hashes->size(), 3u);
  for (size_t i = 0; i < 3; ++i) EXPECT_EQ((*hashes)[i], HashLeaf(events[i])) << i;

  // --http-addr "" turns the read API off; gRPC still serves.
  client.reset();
  rc = server->Terminate();
  ASSERT_TRUE(rc.ok()) << rc.status();
  ServerOptions off = Options();
  off.http_addr = "";
  absl::StatusOr<std::unique_ptr<ServerProcess>> quiet = ServerProcess::Start(dir_->path(), off);
  ASSERT_TRUE(quiet.ok()) << quiet.status();
  EXPECT_EQ((*quiet)->http_port(), 0);
  LogClient still((*quiet)->address());
  EXPECT_TRUE(still.GetCheckpoint(&note).ok());
}

TEST_F(ServerE2eTest, EntryOfExactlyTheSizeLimitIsAccepted) {
  auto server = StartServer();
  ASSERT_NE(server, nullptr);
  LogClient client(server->address());
  const std::string entry = MakeEventOfSize(kMaxEntryBytes);
  ASSERT_EQ(entry.size(), kMaxEntryBytes);
  v1::AddEventsResponse resp;
  ASSERT_TRUE(client.AddEvents({entry}, true, &resp).ok());
  std::vector<std::string> read;
  ASSERT_TRUE(client.GetEntries(resp.entries(0).index(), 1, &read).ok());
  ASSERT_EQ(read.size(), 1u);
  EXPECT_EQ(read[0], entry);
}

// The request size limit (proto/limits.h), end to end: a full batch of the
// largest entries is received and added; a request of exactly
// kMaxRequestBytes is received (and refused by validation); one byte more is
// refused by gRPC before it is parsed, with a message naming both sizes.
TEST_F(ServerE2eTest, RequestsUpToTheMessageLimitAreReceivedAndOneByteMoreIsNot) {
  auto server = StartServer();
  ASSERT_NE(server, nullptr);
  LogClient client(server->address());
  std::vector<std::string> full;
  full.reserve(kMaxEntriesPerAdd);
  for (size_t i = 0; i < kMaxEntriesPerAdd; ++i) full.push_back(MakeEventOfSize(kMaxEntryBytes));
  v1::AddEventsResponse resp;
  grpc::Status st = client.AddEvents(full, false, &resp);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(resp.entries_size(), static_cast<int>(kMaxEntriesPerAdd));
  full.clear();

  // One entry, whatever its bytes, making the request `bytes` long.
  auto request_of = [](size_t bytes) {
    v1::AddEventsRequest req;
    std::string* data = req.add_entries()->mutable_data();
    data->assign(bytes - 16, 'x');
    while (req.ByteSizeLong() < bytes) data->push_back('x');
    return req;
  };
  auto add = [&client](const v1::AddEventsRequest& req) {
    return Call<v1::AddEventsResponse>(client, &v1::Log::Stub::AddEvents, req);
  };
  v1::AddEventsRequest req = request_of(kMaxRequestBytes);
  ASSERT_EQ(req.ByteSizeLong(), kMaxRequestBytes);
  EXPECT_TRUE(IsError(add(req), StatusCode::INVALID_ARGUMENT, "entries[0].data"));
  req = request_of(kMaxRequestBytes + 1);
  ASSERT_EQ(req.ByteSizeLong(), kMaxRequestBytes + 1);
  st = add(req);
  EXPECT_TRUE(IsError(st, StatusCode::RESOURCE_EXHAUSTED, absl::StrCat(kMaxRequestBytes + 1)));
  EXPECT_TRUE(IsError(st, StatusCode::RESOURCE_EXHAUSTED, absl::StrCat(kMaxRequestBytes)));
}

TEST_F(ServerE2eTest, MetricsCountWhatHappened) {
  auto server = StartServer();
  ASSERT_NE(server, nullptr);
  ASSERT_GT(server->metrics_port(), 0);
  LogClient client(server->address());
  const std::vector<std::string> events = MakeEvents(3);
  v1::AddEventsResponse resp;
  ASSERT_TRUE(client.AddEvents(events, true, &resp).ok());
  ASSERT_TRUE(client.AddEvents({events[0]}, true, &resp).ok());  // a duplicate
  EXPECT_TRUE(IsError(client.AddEvents({}, false, &resp), StatusCode::INVALID_ARGUMENT, "empty"));
  absl::StatusOr<std::string> text = HttpGet(server->metrics_port(), "/metrics");
  ASSERT_TRUE(text.ok()) << text.status();
  for (const char* line : {
           "infratrail_sequencer_entries_appended_total 3\n",
           "infratrail_sequencer_entries_duplicate_total 1\n",
           "infratrail_sequencer_tree_size_entries 3\n",
           "infratrail_sequencer_healthy 1\n",
           "infratrail_checkpoint_size_entries 3\n",
           "infratrail_grpc_requests_total{code=\"OK\",method=\"AddEvents\"} 2\n",
           "infratrail_grpc_requests_total{code=\"INVALID_ARGUMENT\",method=\"AddEvents\"} 1\n",
           "infratrail_storage_commit_seconds_count 1\n",
           "infratrail_checkpoint_age_seconds ",
       }) {
    EXPECT_NE(text->find(line), std::string::npos) << "missing: " << line << "\n" << *text;
  }
}

TEST_F(ServerE2eTest, GetEntriesSplitsLargeEntriesAcrossMessagesLosingNone) {
  auto server = StartServer();
  ASSERT_NE(server, nullptr);
  LogClient client(server->address());
  // 40 entries of ~60 KB: far more than one ~1 MiB message holds, so the
  // stream must carry entries read but held back into later messages.
  std::vector<std::string> entries;
  entries.reserve(40);
  for (int i = 0; i < 40; ++i) {
    v1::InfraEvent e = MakeEventProto();
    e.set_justification(std::string(60000, static_cast<char>('a' + i % 26)));
    entries.push_back(e.SerializeAsString());
  }
  v1::AddEventsResponse resp;
  ASSERT_TRUE(client.AddEvents(entries, true, &resp).ok());
  std::vector<std::string> read;
  ASSERT_TRUE(client.GetEntries(0, 40, &read).ok());
  EXPECT_EQ(read, entries);
}

TEST_F(ServerE2eTest, BadInputIsRefusedNamingTheFieldAndChangesNothing) {
  auto server = StartServer();
  ASSERT_NE(server, nullptr);
  LogClient client(server->address());
  const std::vector<std::string> good = MakeEvents(4);
  v1::AddEventsResponse resp;
  ASSERT_TRUE(client.AddEvents(good, true, &resp).ok());
  auto add = [&client](const std::vector<std::string>& entries) {
    v1::AddEventsResponse r;
    return client.AddEvents(entries, false, &r);
  };
  // Valid, but only ever sent in batches that are refused.
  const std::string valid = MakeEvent();
  v1::InfraEvent no_kind = MakeEventProto();
  no_kind.clear_kind();
  const std::string kind_42 = std::string("\x08\x2a", 2) + no_kind.SerializeAsString();
  v1::InfraEvent no_id = MakeEventProto();
  no_id.mutable_resource()->clear_id();
  constexpr StatusCode kInvalid = StatusCode::INVALID_ARGUMENT;
  constexpr StatusCode kOutOfRange = StatusCode::OUT_OF_RANGE;

  EXPECT_TRUE(IsError(add({}), kInvalid, "entries: empty"));
  EXPECT_TRUE(IsError(add(MakeEvents(kMaxEntriesPerAdd + 1)), kInvalid,
                      absl::StrCat("entries: ", kMaxEntriesPerAdd + 1)));
  EXPECT_TRUE(
      IsError(add({valid, MakeEventOfSize(kMaxEntryBytes + 1)}), kInvalid, "entries[1].data"));
  EXPECT_TRUE(IsError(add({valid, std::string("\x1a\x05vm", 4)}), kInvalid, "entries[1].data"));
  EXPECT_TRUE(IsError(add({""}), kInvalid, "entries[0].data"));
  EXPECT_TRUE(IsError(add({no_kind.SerializeAsString()}), kInvalid, "entries[0].kind: missing"));
  EXPECT_TRUE(IsError(add({valid, kind_42}), kInvalid, "entries[1].kind: unknown value 42"));
  EXPECT_TRUE(IsError(add({no_id.SerializeAsString()}), kInvalid, "entries[0].resource.id"));

  v1::GetInclusionProofRequest req;
  req.set_index(4);
  EXPECT_TRUE(IsError(Inclusion(client, req), kOutOfRange, "index 4"));
  req.set_index(0);
  req.set_tree_size(5);
  EXPECT_TRUE(IsError(Inclusion(client, req), kOutOfRange, "tree_size 5"));
  req.set_tree_size(0);
  req.set_leaf_hash(std::string(31, 'h'));
  EXPECT_TRUE(IsError(Inclusion(client, req), kInvalid, "leaf_hash"));
  req.set_leaf_hash(std::string(AsBytes(HashLeaf(valid))));
  EXPECT_TRUE(IsError(Inclusion(client, req), StatusCode::NOT_FOUND, "leaf_hash"));
  req.clear_leaf();
  EXPECT_TRUE(IsError(Inclusion(client, req), kInvalid, "leaf: set index or leaf_hash"));

  EXPECT_TRUE(IsError(Consistency(client, 0, 4), kInvalid, "from_size"));
  EXPECT_TRUE(IsError(Consistency(client, 3, 2), kOutOfRange, "from_size 3"));
  EXPECT_TRUE(IsError(Consistency(client, 5, 0), kOutOfRange, "from_size 5"));
  EXPECT_TRUE(IsError(Consistency(client, 1, uint64_t{1} << 63), kOutOfRange, "to_size"));
  EXPECT_TRUE(IsError(Consistency(client, 1, ~uint64_t{0}), kOutOfRange, "to_size"));

  std::vector<std::string> ignored;
  EXPECT_TRUE(IsError(client.GetEntries(0, 0, &ignored), kInvalid, "count"));
  EXPECT_TRUE(IsError(client.GetEntries(0, kMaxEntriesPerGet + 1, &ignored), kInvalid, "count"));
  EXPECT_TRUE(IsError(client.GetEntries(4, 1, &ignored), kOutOfRange, "start 4"));
  EXPECT_TRUE(IsError(client.GetEntries(~uint64_t{0}, 10, &ignored), kOutOfRange, "start"));
  EXPECT_TRUE(ignored.empty());
  std::vector<std::string> all;
  ASSERT_TRUE(client.GetEntries(0, kMaxEntriesPerGet, &all).ok());
  EXPECT_EQ(all, good);  // as many as there are

  EXPECT_TRUE(IsError(EntryAndProof(client, 4, 0), kOutOfRange, "index 4"));
  EXPECT_TRUE(IsError(EntryAndProof(client, 0, 5), kOutOfRange, "tree_size 5"));

  // Nothing refused was added, and what was accepted is intact.
  absl::StatusOr<Checkpoint> cp = AddAndWaitForCheckpoint(client, vkey());
  ASSERT_TRUE(cp.ok()) << cp.status();
  EXPECT_EQ(cp->size, good.size() + 1);
  std::vector<std::string> read;
  ASSERT_TRUE(client.ReadRange(0, good.size(), &read).ok());
  EXPECT_EQ(read, good);
  req.set_leaf_hash(std::string(AsBytes(HashLeaf(valid))));
  EXPECT_TRUE(IsError(Inclusion(client, req), StatusCode::NOT_FOUND, "leaf_hash"));
}

}  // namespace
}  // namespace infratrail::testing
