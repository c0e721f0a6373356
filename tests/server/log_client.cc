#include "tests/server/log_client.h"

#include <atomic>
#include <chrono>
#include <random>
#include <utility>

#include "absl/strings/str_cat.h"
#include "core/compact_range.h"
#include "core/note_key.h"
#include "core/proof.h"
#include "core/witness_policy.h"
#include "proto/limits.h"

namespace infratrail::testing {
namespace {

uint64_t ProcessNonce() {
  static const uint64_t nonce = [] {
    std::random_device rd;
    return (uint64_t{rd()} << 32) | rd();
  }();
  return nonce;
}

std::atomic<uint64_t> event_counter{0};

}  // namespace

LogClient::LogClient(const std::string& address, std::string token) : token_(std::move(token)) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(static_cast<int>(kMaxResponseBytes));
  std::shared_ptr<grpc::Channel> channel =
      grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args);
  stub_ = v1::Log::NewStub(channel);
  health_ = grpc::health::v1::Health::NewStub(channel);
}

LogClient::LogClient(const std::string& address,
                     const std::shared_ptr<grpc::ChannelCredentials>& credentials,
                     const std::string& tls_target_name) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(static_cast<int>(kMaxResponseBytes));
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  if (!tls_target_name.empty()) args.SetSslTargetNameOverride(tls_target_name);
  std::shared_ptr<grpc::Channel> channel = grpc::CreateCustomChannel(address, credentials, args);
  stub_ = v1::Log::NewStub(channel);
  health_ = grpc::health::v1::Health::NewStub(channel);
}

void LogClient::Prepare(grpc::ClientContext* ctx, absl::Duration timeout) const {
  ctx->set_deadline(std::chrono::system_clock::now() +
                    std::chrono::microseconds(absl::ToInt64Microseconds(timeout)));
  if (!token_.empty()) ctx->AddMetadata("authorization", "Bearer " + token_);
}

grpc::Status LogClient::AddEvents(const std::vector<std::string>& entries, bool wait_for_checkpoint,
                                  v1::AddEventsResponse* resp) {
  v1::AddEventsRequest req;
  for (const std::string& e : entries) req.add_entries()->set_data(e);
  req.set_wait_for_checkpoint(wait_for_checkpoint);
  grpc::ClientContext ctx;
  Prepare(&ctx);
  return stub_->AddEvents(&ctx, req, resp);
}

grpc::Status LogClient::GetCheckpoint(std::string* note) {
  grpc::ClientContext ctx;
  Prepare(&ctx);
  v1::GetCheckpointResponse resp;
  grpc::Status st = stub_->GetCheckpoint(&ctx, v1::GetCheckpointRequest(), &resp);
  if (st.ok()) *note = resp.checkpoint();
  return st;
}

grpc::Status LogClient::GetEntries(uint64_t start, uint64_t count, std::vector<std::string>* out) {
  v1::GetEntriesRequest req;
  req.set_start(start);
  req.set_count(count);
  grpc::ClientContext ctx;
  Prepare(&ctx);
  std::unique_ptr<grpc::ClientReader<v1::GetEntriesResponse>> reader = stub_->GetEntries(&ctx, req);
  v1::GetEntriesResponse resp;
  uint64_t next = start;
  bool out_of_order = false;
  while (reader->Read(&resp)) {
    for (v1::IndexedEntry& e : *resp.mutable_entries()) {
      if (e.index() != next) out_of_order = true;
      ++next;
      out->push_back(std::move(*e.mutable_data()));
    }
  }
  grpc::Status st = reader->Finish();
  if (st.ok() && out_of_order) {
    return grpc::Status(grpc::StatusCode::INTERNAL, "GetEntries: indices not consecutive");
  }
  return st;
}

grpc::Status LogClient::ReadRange(uint64_t begin, uint64_t end, std::vector<std::string>* out) {
  while (begin < end) {
    const size_t before = out->size();
    grpc::Status st = GetEntries(begin, std::min(kMaxEntriesPerGet, end - begin), out);
    if (!st.ok()) return st;
    if (out->size() == before) {
      return grpc::Status(grpc::StatusCode::INTERNAL,
                          absl::StrCat("GetEntries from ", begin, " returned nothing"));
    }
    begin += out->size() - before;
  }
  return grpc::Status::OK;
}

grpc::Status LogClient::CheckHealth(const std::string& service, HealthStatus* status) {
  grpc::health::v1::HealthCheckRequest req;
  req.set_service(service);
  grpc::health::v1::HealthCheckResponse resp;
  grpc::ClientContext ctx;
  Prepare(&ctx);
  grpc::Status st = health_->Check(&ctx, req, &resp);
  if (st.ok()) *status = resp.status();
  return st;
}

v1::InfraEvent MakeEventProto() {
  const uint64_t n = event_counter.fetch_add(1);
  v1::InfraEvent e;
  e.set_kind(v1::DEPLOY);
  e.mutable_occurred_at()->set_seconds(1700000000 + static_cast<int64_t>(n));
  v1::Resource* r = e.mutable_resource();
  r->set_provider("onprem-test");
  r->set_type("vm");
  r->set_id(absl::StrCat("vm-", ProcessNonce(), "-", n));
  e.mutable_actor()->set_principal("ci@example.com");
  e.mutable_actor()->set_via(v1::CI);
  e.set_artifact_digest("sha256:0123456789abcdef");
  return e;
}

std::string MakeEvent(size_t padding) {
  v1::InfraEvent e = MakeEventProto();
  e.set_justification(std::string(padding, 'j'));
  return e.SerializeAsString();
}

std::string MakeEventOfSize(size_t bytes) {
  v1::InfraEvent e = MakeEventProto();
  // A little short, then grown byte by byte: the length prefix is a varint.
  e.set_justification(std::string(bytes - e.ByteSizeLong() - 8, 'j'));
  while (e.ByteSizeLong() < bytes) e.mutable_justification()->push_back('j');
  return e.SerializeAsString();
}

std::vector<std::string> MakeEvents(size_t n) {
  std::vector<std::string> out;
  out.reserve(n);
  for (size_t i = 0; i < n; ++i) out.push_back(MakeEvent());
  return out;
}

absl::StatusOr<Checkpoint> OpenLogCheckpoint(absl::string_view note, absl::string_view vkey) {
  absl::StatusOr<NoteVerifier> verifier = NoteVerifier::Parse(vkey);
  if (!verifier.ok()) return verifier.status();
  absl::StatusOr<VerifiedCheckpoint> cp = OpenCheckpoint(note, *verifier, WitnessPolicy{});
  if (!cp.ok()) return cp.status();
  return cp->checkpoint;
}

absl::StatusOr<std::vector<Hash>> ToHashes(
    const google::protobuf::RepeatedPtrField<std::string>& hashes) {
  std::vector<Hash> out;
  for (const std::string& h : hashes) {
    absl::StatusOr<Hash> hash = HashFromBytes(h, "proof");
    if (!hash.ok()) return hash.status();
    out.push_back(*hash);
  }
  return out;
}

Hash RootOfEntries(const std::vector<std::string>& entries) {
  Hasher hasher;
  CompactRange range;
  for (const std::string& e : entries) range.AppendLeaf(hasher.HashLeaf(e), hasher);
  return *range.Root(hasher);  // begin is 0, so Root cannot fail
}

absl::Status FromGrpc(const grpc::Status& status) {
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
}

absl::StatusOr<Checkpoint> AddAndWaitForCheckpoint(LogClient& client, absl::string_view vkey) {
  v1::AddEventsResponse resp;
  if (grpc::Status st = client.AddEvents({MakeEvent()}, true, &resp); !st.ok()) {
    return FromGrpc(st);
  }
  return OpenLogCheckpoint(resp.checkpoint(), vkey);
}

absl::Status VerifyEntryInclusion(const Checkpoint& cp, uint64_t index, absl::string_view entry,
                                  const google::protobuf::RepeatedPtrField<std::string>& proof) {
  absl::StatusOr<std::vector<Hash>> hashes = ToHashes(proof);
  if (!hashes.ok()) return hashes.status();
  Hasher hasher;
  return VerifyInclusion(index, cp.size, hasher.HashLeaf(entry), *hashes, cp.root, hasher);
}

absl::Status VerifyCheckpointConsistency(
    const Checkpoint& older, const Checkpoint& newer,
    const google::protobuf::RepeatedPtrField<std::string>& proof) {
  absl::StatusOr<std::vector<Hash>> hashes = ToHashes(proof);
  if (!hashes.ok()) return hashes.status();
  Hasher hasher;
  return VerifyConsistency(older.size, newer.size, older.root, newer.root, *hashes, hasher);
}

}  // namespace infratrail::testing
