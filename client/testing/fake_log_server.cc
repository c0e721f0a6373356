#include "client/testing/fake_log_server.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "core/checkpoint.h"
#include "core/note.h"
#include "core/witness_policy.h"
#include "gtest/gtest.h"
#include "infratrail/v1/event.pb.h"
#include "proto/entry_validation.h"
#include "proto/limits.h"
#include "proto/message_limits.h"

namespace infratrail::testutil {
namespace {

constexpr const char* kRpcNames[kRpcCount] = {"AddEvents",         "GetCheckpoint",
                                              "GetInclusionProof", "GetConsistencyProof",
                                              "GetEntries",        "GetEntryAndProof"};

size_t Slot(Rpc rpc) { return static_cast<size_t>(rpc); }

void Corrupt(google::protobuf::RepeatedPtrField<std::string>* proof) {
  if (proof->empty()) {
    proof->Add(std::string(kHashSize, 'x'));
  } else {
    (*proof->Mutable(0))[0] ^= 1;
  }
}

void ToBytes(const std::vector<Hash>& hashes,
             google::protobuf::RepeatedPtrField<std::string>* out) {
  for (const Hash& h : hashes) out->Add(std::string(AsBytes(h)));
}

}  // namespace

std::string TestEvent(uint64_t i, absl::string_view tag) {
  v1::InfraEvent event;
  event.set_kind(v1::DEPLOY);
  event.mutable_resource()->set_provider("test");
  event.mutable_resource()->set_id(absl::StrCat(tag, "-", i));
  return event.SerializeAsString();
}

std::string TestEventOfSize(uint64_t i, size_t bytes) {
  v1::InfraEvent event;
  EXPECT_TRUE(event.ParseFromString(TestEvent(i)));
  // A little short, then grown byte by byte: the length prefix is a varint.
  event.set_justification(std::string(bytes - std::min(bytes, event.ByteSizeLong() + 8), 'j'));
  while (event.ByteSizeLong() < bytes) event.mutable_justification()->push_back('j');
  EXPECT_EQ(event.ByteSizeLong(), bytes);
  return event.SerializeAsString();
}

std::vector<std::string> TestEvents(uint64_t first, uint64_t n, absl::string_view tag) {
  std::vector<std::string> out;
  out.reserve(n);
  for (uint64_t i = first; i < first + n; ++i) out.push_back(TestEvent(i, tag));
  return out;
}

void ExpectVerificationError(const absl::Status& st) {
  EXPECT_TRUE(IsVerificationError(st)) << st;
  EXPECT_EQ(st.code(), absl::StatusCode::kDataLoss) << st;
}

void ExpectReceiptVerifies(FakeLogService& log, const TlogProof& receipt, absl::string_view entry,
                           std::optional<uint64_t> want_size) {
  absl::StatusOr<TlogProof> parsed = TlogProof::Parse(receipt.Format());
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  absl::StatusOr<VerifiedCheckpoint> v =
      VerifyTlogProof(*parsed, HashLeaf(entry), log.log_key(), WitnessPolicy());
  ASSERT_TRUE(v.ok()) << v.status();
  if (want_size.has_value()) {
    EXPECT_EQ(v->checkpoint.size, *want_size);
  }
  EXPECT_EQ(v->checkpoint.root, log.Root(v->checkpoint.size));
}

FakeLogService::FakeLogService() {
  absl::StatusOr<NoteSigner> s = NoteSigner::FromSeed(kOrigin, std::string(32, '\x42'));
  EXPECT_TRUE(s.ok()) << s.status();
  absl::StatusOr<NoteVerifier> v = NoteVerifier::Parse(s->VerifierKey());
  EXPECT_TRUE(v.ok()) << v.status();
  own_signer_.push_back(*s);
  signer_.push_back(*std::move(s));
  log_key_ = *std::move(v);
}

std::string FakeLogService::SignCheckpoint(uint64_t size, const Hash& root) const {
  Checkpoint cp;
  cp.origin = std::string(kOrigin);
  cp.size = size;
  cp.root = root;
  absl::StatusOr<std::string> note = SignNote(cp.Body(), own_signer_);
  EXPECT_TRUE(note.ok()) << note.status();
  return note.ok() ? *note : "";
}

void FakeLogService::Append(const std::vector<std::string>& entries) {
  absl::MutexLock lock(&mu_);
  for (const std::string& e : entries) AppendLocked(e);
}

uint64_t FakeLogService::size() const {
  absl::MutexLock lock(&mu_);
  return honest_.data.size();
}

std::vector<std::string> FakeLogService::entries() const {
  absl::MutexLock lock(&mu_);
  return honest_.data;
}

Hash FakeLogService::Root(uint64_t size) {
  absl::MutexLock lock(&mu_);
  return honest_.ref.Root(size);
}

void FakeLogService::FailNext(Rpc rpc, int n, grpc::StatusCode code) {
  absl::MutexLock lock(&mu_);
  fail_[Slot(rpc)] = Failure{n, code};
}

void FakeLogService::FailAddEventsContaining(std::string data, grpc::StatusCode code) {
  absl::MutexLock lock(&mu_);
  fail_containing_[std::move(data)] = code;
}

void FakeLogService::LoseNextAddReplies(int n) {
  absl::MutexLock lock(&mu_);
  lose_replies_ = n;
}

void FakeLogService::CorruptLeafHashes(bool on) {
  absl::MutexLock lock(&mu_);
  corrupt_leaf_ = on;
}

void FakeLogService::CorruptInclusionProofs(bool on) {
  absl::MutexLock lock(&mu_);
  corrupt_inclusion_ = on;
}

void FakeLogService::CorruptConsistencyProofs(bool on) {
  absl::MutexLock lock(&mu_);
  corrupt_consistency_ = on;
}

void FakeLogService::SignWith(const NoteSigner& signer) {
  absl::MutexLock lock(&mu_);
  signer_ = {signer};
}

void FakeLogService::Fork(uint64_t index) {
  absl::MutexLock lock(&mu_);
  Tree fork;
  for (uint64_t i = 0; i < honest_.data.size(); ++i) {
    fork.data.push_back(i == index ? TestEvent(i, "forked") : honest_.data[i]);
    fork.ref.AddEntry(fork.data.back());
  }
  forked_ = std::move(fork);
}

void FakeLogService::CapPublishedSize(std::optional<uint64_t> cap) {
  absl::MutexLock lock(&mu_);
  cap_ = cap;
}

void FakeLogService::HoldAddEvents() {
  absl::MutexLock lock(&mu_);
  hold_ = true;
}

void FakeLogService::ReleaseAddEvents() {
  absl::MutexLock lock(&mu_);
  hold_ = false;
}

void FakeLogService::SetEntriesChunkSize(size_t n) {
  absl::MutexLock lock(&mu_);
  chunk_size_ = std::max<size_t>(n, 1);
}

void FakeLogService::BreakEntriesStreams(int streams, size_t chunks) {
  absl::MutexLock lock(&mu_);
  break_streams_ = streams;
  break_after_chunks_ = chunks;
}

void FakeLogService::Shutdown() {
  absl::MutexLock lock(&mu_);
  shutdown_ = true;
}

int FakeLogService::Calls(Rpc rpc) const {
  absl::MutexLock lock(&mu_);
  return calls_[Slot(rpc)];
}

bool FakeLogService::AwaitCalls(Rpc rpc, int n, absl::Duration timeout) const {
  absl::MutexLock lock(&mu_);
  auto reached = [&]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return calls_[Slot(rpc)] >= n; };
  return mu_.AwaitWithTimeout(absl::Condition(&reached), timeout);
}

bool FakeLogService::AwaitHeldAdds(int n, absl::Duration timeout) const {
  absl::MutexLock lock(&mu_);
  auto reached = [&]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return held_adds_ >= n; };
  return mu_.AwaitWithTimeout(absl::Condition(&reached), timeout);
}

int FakeLogService::MaxConcurrentAdds() const {
  absl::MutexLock lock(&mu_);
  return max_concurrent_adds_;
}

std::vector<size_t> FakeLogService::BatchSizes() const {
  absl::MutexLock lock(&mu_);
  return batch_sizes_;
}

std::vector<std::pair<uint64_t, uint64_t>> FakeLogService::EntriesRequests() const {
  absl::MutexLock lock(&mu_);
  return entries_requests_;
}

grpc::Status FakeLogService::BeginLocked(Rpc rpc) {
  ++calls_[Slot(rpc)];
  return InjectedLocked(rpc);
}

grpc::Status FakeLogService::InjectedLocked(Rpc rpc) {
  const int call = calls_[Slot(rpc)];
  Failure& f = fail_[Slot(rpc)];
  if (f.remaining <= 0) return grpc::Status::OK;
  --f.remaining;
  return grpc::Status(f.code,
                      absl::StrCat(kRpcNames[Slot(rpc)], ": injected failure (call #", call, ")"));
}

void FakeLogService::AppendLocked(const std::string& data) {
  const Hash leaf = HashLeaf(data);
  index_of_.emplace(leaf, honest_.data.size());
  honest_.data.push_back(data);
  honest_.ref.AddLeaf(leaf);
  if (forked_.has_value()) {
    forked_->data.push_back(data);
    forked_->ref.AddLeaf(leaf);
  }
}

FakeLogService::Tree& FakeLogService::ServedLocked() {
  return forked_.has_value() ? *forked_ : honest_;
}

uint64_t FakeLogService::PublishedLocked() const {
  const uint64_t n = honest_.data.size();
  return cap_.has_value() ? std::min(*cap_, n) : n;
}

std::string FakeLogService::SignLocked(uint64_t size) {
  Checkpoint cp;
  cp.origin = std::string(kOrigin);
  cp.size = size;
  cp.root = ServedLocked().ref.Root(size);
  absl::StatusOr<std::string> note = SignNote(cp.Body(), signer_);
  EXPECT_TRUE(note.ok()) << note.status();
  return note.ok() ? *note : "";
}

grpc::Status FakeLogService::ResolveSizeLocked(uint64_t requested, absl::string_view what,
                                               uint64_t* size) {
  const uint64_t appended = honest_.data.size();
  if (requested > appended) {
    return grpc::Status(
        grpc::StatusCode::OUT_OF_RANGE,
        absl::StrCat(what, " ", requested, " is beyond the published size ", appended));
  }
  *size = requested == 0 ? PublishedLocked() : requested;
  return grpc::Status::OK;
}

void FakeLogService::InclusionLocked(uint64_t index, uint64_t size,
                                     google::protobuf::RepeatedPtrField<std::string>* out) {
  ToBytes(ServedLocked().ref.Inclusion(index, size), out);
  if (corrupt_inclusion_) Corrupt(out);
}

grpc::Status FakeLogService::AddEvents(grpc::ServerContext* ctx, const v1::AddEventsRequest* req,
                                       v1::AddEventsResponse* resp) {
  absl::MutexLock lock(&mu_);
  ++calls_[Slot(Rpc::kAddEvents)];
  batch_sizes_.push_back(req->entries_size());
  ++concurrent_adds_;
  max_concurrent_adds_ = std::max(max_concurrent_adds_, concurrent_adds_);
  if (hold_) {
    ++held_adds_;
    auto released = [this]() ABSL_NO_THREAD_SAFETY_ANALYSIS { return !hold_ || shutdown_; };
    mu_.Await(absl::Condition(&released));
    --held_adds_;
  }
  --concurrent_adds_;
  if (grpc::Status st = InjectedLocked(Rpc::kAddEvents); !st.ok()) return st;

  if (req->entries_size() == 0 || req->entries_size() > static_cast<int>(kMaxEntriesPerAdd)) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        absl::StrCat("AddEvents: entries: ", req->entries_size(), " given"));
  }
  for (int i = 0; i < req->entries_size(); ++i) {
    const std::string& data = req->entries(i).data();
    absl::Status valid = ValidateEntry(data, absl::StrCat("AddEvents: entries[", i, "]"));
    if (!valid.ok()) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, std::string(valid.message()));
    }
    auto it = fail_containing_.find(data);
    if (it != fail_containing_.end()) {
      return grpc::Status(it->second, absl::StrCat("AddEvents: entries[", i, "]: refused"));
    }
  }
  for (const v1::Entry& e : req->entries()) {
    const Hash leaf = HashLeaf(e.data());
    auto it = index_of_.find(leaf);
    v1::AddedEntry* out = resp->add_entries();
    out->set_duplicate(it != index_of_.end());
    if (it == index_of_.end()) AppendLocked(e.data());
    out->set_index(index_of_.at(leaf));
    out->set_leaf_hash(std::string(AsBytes(leaf)));
    if (corrupt_leaf_) (*out->mutable_leaf_hash())[0] ^= 1;
  }
  if (lose_replies_ > 0) {
    --lose_replies_;
    resp->Clear();
    return grpc::Status(grpc::StatusCode::UNAVAILABLE, "AddEvents: reply lost (injected)");
  }
  if (req->wait_for_checkpoint()) {
    const uint64_t size = honest_.data.size();
    resp->set_checkpoint(SignLocked(size));
    for (v1::AddedEntry& out : *resp->mutable_entries()) {
      InclusionLocked(out.index(), size, out.mutable_inclusion_proof());
    }
  }
  return grpc::Status::OK;
}

grpc::Status FakeLogService::GetCheckpoint(grpc::ServerContext* ctx,
                                           const v1::GetCheckpointRequest* req,
                                           v1::GetCheckpointResponse* resp) {
  absl::MutexLock lock(&mu_);
  if (grpc::Status st = BeginLocked(Rpc::kGetCheckpoint); !st.ok()) return st;
  resp->set_checkpoint(SignLocked(PublishedLocked()));
  return grpc::Status::OK;
}

grpc::Status FakeLogService::GetInclusionProof(grpc::ServerContext* ctx,
                                               const v1::GetInclusionProofRequest* req,
                                               v1::GetInclusionProofResponse* resp) {
  absl::MutexLock lock(&mu_);
  if (grpc::Status st = BeginLocked(Rpc::kGetInclusionProof); !st.ok()) return st;
  uint64_t size = 0;
  if (grpc::Status st = ResolveSizeLocked(req->tree_size(), "GetInclusionProof: tree_size", &size);
      !st.ok()) {
    return st;
  }
  uint64_t index = 0;
  if (req->leaf_case() == v1::GetInclusionProofRequest::kIndex) {
    index = req->index();
    if (index >= size) {
      return grpc::Status(grpc::StatusCode::OUT_OF_RANGE,
                          absl::StrCat("GetInclusionProof: index ", index, " >= tree size ", size));
    }
  } else if (req->leaf_case() == v1::GetInclusionProofRequest::kLeafHash) {
    absl::StatusOr<Hash> leaf = HashFromBytes(req->leaf_hash(), "GetInclusionProof: leaf_hash");
    if (!leaf.ok()) {
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, std::string(leaf.status().message()));
    }
    auto it = index_of_.find(*leaf);
    if (it == index_of_.end() || it->second >= size) {
      return grpc::Status(
          grpc::StatusCode::NOT_FOUND,
          absl::StrCat("GetInclusionProof: leaf_hash: not in the tree of size ", size));
    }
    index = it->second;
  } else {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        "GetInclusionProof: leaf: neither index nor leaf_hash set");
  }
  resp->set_index(index);
  resp->set_tree_size(size);
  InclusionLocked(index, size, resp->mutable_proof());
  if (req->tree_size() == 0) resp->set_checkpoint(SignLocked(size));
  return grpc::Status::OK;
}

grpc::Status FakeLogService::GetConsistencyProof(grpc::ServerContext* ctx,
                                                 const v1::GetConsistencyProofRequest* req,
                                                 v1::GetConsistencyProofResponse* resp) {
  absl::MutexLock lock(&mu_);
  if (grpc::Status st = BeginLocked(Rpc::kGetConsistencyProof); !st.ok()) return st;
  if (req->from_size() == 0) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        "GetConsistencyProof: from_size: must be >= 1");
  }
  uint64_t to = 0;
  if (grpc::Status st = ResolveSizeLocked(req->to_size(), "GetConsistencyProof: to_size", &to);
      !st.ok()) {
    return st;
  }
  if (req->from_size() > to) {
    return grpc::Status(
        grpc::StatusCode::OUT_OF_RANGE,
        absl::StrCat("GetConsistencyProof: from_size ", req->from_size(), " > to_size ", to));
  }
  resp->set_from_size(req->from_size());
  resp->set_to_size(to);
  ToBytes(ServedLocked().ref.Consistency(req->from_size(), to), resp->mutable_proof());
  if (corrupt_consistency_) Corrupt(resp->mutable_proof());
  if (req->to_size() == 0) resp->set_checkpoint(SignLocked(to));
  return grpc::Status::OK;
}

grpc::Status FakeLogService::GetEntries(grpc::ServerContext* ctx, const v1::GetEntriesRequest* req,
                                        grpc::ServerWriter<v1::GetEntriesResponse>* writer) {
  std::vector<v1::GetEntriesResponse> chunks;
  bool broken = false;
  {
    absl::MutexLock lock(&mu_);
    if (grpc::Status st = BeginLocked(Rpc::kGetEntries); !st.ok()) return st;
    entries_requests_.emplace_back(req->start(), req->count());
    if (req->count() == 0 || req->count() > kMaxEntriesPerGet) {
      return grpc::Status(
          grpc::StatusCode::INVALID_ARGUMENT,
          absl::StrCat("GetEntries: count ", req->count(), ": must be 1..", kMaxEntriesPerGet));
    }
    const uint64_t published = PublishedLocked();
    if (req->start() >= published) {
      return grpc::Status(
          grpc::StatusCode::OUT_OF_RANGE,
          absl::StrCat("GetEntries: start ", req->start(), " >= published size ", published));
    }
    const uint64_t end = std::min(req->start() + req->count(), published);
    const Tree& tree = ServedLocked();
    for (uint64_t i = req->start(); i < end; ++i) {
      if (chunks.empty() || static_cast<size_t>(chunks.back().entries_size()) >= chunk_size_) {
        chunks.emplace_back();
      }
      v1::IndexedEntry* e = chunks.back().add_entries();
      e->set_index(i);
      e->set_data(tree.data[i]);
    }
    if (break_streams_ > 0) {
      --break_streams_;
      broken = true;
      chunks.resize(std::min(chunks.size(), break_after_chunks_));
    }
  }
  for (const v1::GetEntriesResponse& chunk : chunks) {
    if (!writer->Write(chunk)) return grpc::Status(grpc::StatusCode::CANCELLED, "GetEntries");
  }
  if (broken) return grpc::Status(grpc::StatusCode::UNAVAILABLE, "GetEntries: stream broken");
  return grpc::Status::OK;
}

grpc::Status FakeLogService::GetEntryAndProof(grpc::ServerContext* ctx,
                                              const v1::GetEntryAndProofRequest* req,
                                              v1::GetEntryAndProofResponse* resp) {
  absl::MutexLock lock(&mu_);
  if (grpc::Status st = BeginLocked(Rpc::kGetEntryAndProof); !st.ok()) return st;
  uint64_t size = 0;
  if (grpc::Status st = ResolveSizeLocked(req->tree_size(), "GetEntryAndProof: tree_size", &size);
      !st.ok()) {
    return st;
  }
  if (req->index() >= size) {
    return grpc::Status(
        grpc::StatusCode::OUT_OF_RANGE,
        absl::StrCat("GetEntryAndProof: index ", req->index(), " >= tree size ", size));
  }
  resp->mutable_entry()->set_index(req->index());
  resp->mutable_entry()->set_data(ServedLocked().data[req->index()]);
  resp->set_tree_size(size);
  InclusionLocked(req->index(), size, resp->mutable_proof());
  if (req->tree_size() == 0) resp->set_checkpoint(SignLocked(size));
  return grpc::Status::OK;
}

std::unique_ptr<grpc::Server> StartLoopbackServer(grpc::Service* service, std::string* target) {
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(service);
  ApplyMessageLimits(builder);  // as the real server
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  EXPECT_NE(server, nullptr);
  EXPECT_GT(port, 0);
  *target = absl::StrCat("127.0.0.1:", port);
  return server;
}

FakeLogServer::FakeLogServer() : server_(StartLoopbackServer(&service_, &target_)) {}

FakeLogServer::~FakeLogServer() {
  service_.Shutdown();
  if (server_ != nullptr) {
    server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
  }
}

LogClientOptions FakeLogServer::ClientOptions() const {
  LogClientOptions opts;
  opts.target = target_;
  opts.log_key = service_.log_key();
  opts.retry.initial_backoff = absl::Milliseconds(1);
  opts.retry.max_backoff = absl::Milliseconds(5);
  opts.retry.budget = absl::Seconds(20);
  opts.rpc_timeout = absl::Seconds(20);
  return opts;
}

}  // namespace infratrail::testutil
