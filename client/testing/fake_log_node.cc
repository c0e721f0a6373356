#include "client/testing/fake_log_node.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace infratrail::testutil {

void FakeLogNode::BecomeLeader() {
  absl::MutexLock lock(&mu_);
  standby_ = false;
  leader_.reset();
}

void FakeLogNode::BecomeStandby(std::optional<std::string> leader) {
  absl::MutexLock lock(&mu_);
  standby_ = true;
  leader_ = std::move(leader);
}

void FakeLogNode::Lag(std::optional<uint64_t> size) {
  absl::MutexLock lock(&mu_);
  lag_ = size;
}

int FakeLogNode::Calls(Rpc rpc) const {
  absl::MutexLock lock(&mu_);
  return calls_[static_cast<size_t>(rpc)];
}

int FakeLogNode::RefusedAdds() const {
  absl::MutexLock lock(&mu_);
  return refused_adds_;
}

std::optional<uint64_t> FakeLogNode::Count(Rpc rpc) {
  absl::MutexLock lock(&mu_);
  ++calls_[static_cast<size_t>(rpc)];
  return lag_;
}

grpc::Status FakeLogNode::AddEvents(grpc::ServerContext* ctx, const v1::AddEventsRequest* req,
                                    v1::AddEventsResponse* resp) {
  {
    absl::MutexLock lock(&mu_);
    ++calls_[static_cast<size_t>(Rpc::kAddEvents)];
    if (standby_) {
      ++refused_adds_;
      if (leader_.has_value()) ctx->AddTrailingMetadata("infratrail-leader", *leader_);
      return grpc::Status(grpc::StatusCode::UNAVAILABLE,
                          absl::StrCat("this server is a standby; the leader is ",
                                       leader_.has_value() ? "at " + *leader_ : "not known"));
    }
  }
  return log_->AddEvents(ctx, req, resp);
}

grpc::Status FakeLogNode::GetCheckpoint(grpc::ServerContext* ctx,
                                        const v1::GetCheckpointRequest* req,
                                        v1::GetCheckpointResponse* resp) {
  const std::optional<uint64_t> lag = Count(Rpc::kGetCheckpoint);
  if (!lag.has_value()) return log_->GetCheckpoint(ctx, req, resp);
  resp->set_checkpoint(log_->SignCheckpoint(*lag, log_->Root(*lag)));
  return grpc::Status::OK;
}

grpc::Status FakeLogNode::GetInclusionProof(grpc::ServerContext* ctx,
                                            const v1::GetInclusionProofRequest* req,
                                            v1::GetInclusionProofResponse* resp) {
  Count(Rpc::kGetInclusionProof);
  return log_->GetInclusionProof(ctx, req, resp);
}

grpc::Status FakeLogNode::GetConsistencyProof(grpc::ServerContext* ctx,
                                              const v1::GetConsistencyProofRequest* req,
                                              v1::GetConsistencyProofResponse* resp) {
  const std::optional<uint64_t> lag = Count(Rpc::kGetConsistencyProof);
  if (!lag.has_value()) return log_->GetConsistencyProof(ctx, req, resp);
  // As the real server: sizes are resolved against its latest checkpoint.
  if (req->to_size() > *lag) {
    return grpc::Status(grpc::StatusCode::OUT_OF_RANGE,
                        absl::StrCat("GetConsistencyProof: to_size ", req->to_size(),
                                     " is beyond the latest published checkpoint size ", *lag));
  }
  v1::GetConsistencyProofRequest capped = *req;
  if (capped.to_size() == 0) capped.set_to_size(*lag);
  grpc::Status st = log_->GetConsistencyProof(ctx, &capped, resp);
  if (st.ok() && req->to_size() == 0) {
    resp->set_checkpoint(log_->SignCheckpoint(*lag, log_->Root(*lag)));
  }
  return st;
}

grpc::Status FakeLogNode::GetEntries(grpc::ServerContext* ctx, const v1::GetEntriesRequest* req,
                                     grpc::ServerWriter<v1::GetEntriesResponse>* writer) {
  Count(Rpc::kGetEntries);
  return log_->GetEntries(ctx, req, writer);
}

grpc::Status FakeLogNode::GetEntryAndProof(grpc::ServerContext* ctx,
                                           const v1::GetEntryAndProofRequest* req,
                                           v1::GetEntryAndProofResponse* resp) {
  Count(Rpc::kGetEntryAndProof);
  return log_->GetEntryAndProof(ctx, req, resp);
}

FakeLogNodeServer::FakeLogNodeServer(FakeLogService* log)
    : node_(log), server_(StartLoopbackServer(&node_, &target_)) {}

FakeLogNodeServer::~FakeLogNodeServer() {
  if (server_ != nullptr) {
    server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
  }
}

}  // namespace infratrail::testutil
