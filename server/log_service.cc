#include "server/log_service.h"

#include <algorithm>
#include <chrono>
#include <memory>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "proto/entry_validation.h"
#include "proto/limits.h"

namespace infratrail {
namespace {

using grpc::CallbackServerContext;
using grpc::ServerUnaryReactor;

// Resolves a requested tree size (0 = latest) against the latest published
// checkpoint. Unavailable before the first checkpoint.
absl::StatusOr<uint64_t> ResolveSize(const PublishedCheckpoint* cp, uint64_t requested,
                                     absl::string_view method, absl::string_view field) {
  if (cp == nullptr) {
    return absl::UnavailableError(absl::StrCat(method, ": no checkpoint published yet"));
  }
  if (requested == 0) return cp->size;
  if (requested > cp->size) {
    return absl::OutOfRangeError(absl::StrCat(method, ": ", field, " ", requested,
                                              " is beyond the latest published checkpoint size ",
                                              cp->size));
  }
  return requested;
}

void AddHashes(const std::vector<Hash>& hashes,
               google::protobuf::RepeatedPtrField<std::string>* out) {
  for (const Hash& h : hashes) out->Add(std::string(AsBytes(h)));
}

// Answers UNIMPLEMENTED-for-unparsable with INVALID_ARGUMENT (see
// UnparsableRequestInterceptorFactory).
class UnparsableRequestInterceptor final : public grpc::experimental::Interceptor {
 public:
  explicit UnparsableRequestInterceptor(grpc::experimental::ServerRpcInfo* info) : info_(info) {}

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    using grpc::experimental::InterceptionHookPoints;
    // gRPC hands the hook a null message when deserialisation failed.
    if (methods->QueryInterceptionHookPoint(InterceptionHookPoints::POST_RECV_MESSAGE) &&
        methods->GetRecvMessage() == nullptr) {
      unparsable_ = true;
    }
    if (unparsable_ &&
        methods->QueryInterceptionHookPoint(InterceptionHookPoints::PRE_SEND_STATUS)) {
      absl::string_view method = info_->method() == nullptr ? "" : info_->method();
      absl::ConsumePrefix(&method, "/infratrail.v1.Log/");
      methods->ModifySendStatus(
          grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                       absl::StrCat(method, ": request: cannot be parsed as its message type")));
    }
    methods->Proceed();
  }

 private:
  grpc::experimental::ServerRpcInfo* const info_;
  bool unparsable_ = false;
};

class UnparsableRequestFactory final
    : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override {
    return new UnparsableRequestInterceptor(info);
  }
};

}  // namespace

// Writes [begin, end) in messages of about kEntriesMessageBytes, reading
// from storage only what the next message holds, and only once the client
// has taken the previous one (OnWriteDone).
class EntriesReactor final : public grpc::ServerWriteReactor<v1::GetEntriesResponse> {
 public:
  EntriesReactor(LogService* service, std::shared_ptr<Log> log, grpc::CallbackServerContext* ctx,
                 uint64_t begin, uint64_t end)
      : service_(service), log_(std::move(log)), ctx_(ctx), next_(begin), end_(end) {}

  void Start() { NextMessage(); }

  void OnWriteDone(bool ok) override {
    MarkWriting(false);
    if (!ok) {
      Done(absl::CancelledError("GetEntries: client went away"));
      return;
    }
    NextMessage();
  }
  void OnDone() override {
    service_->CloseStream(this);
    delete this;
  }

  // Under LogService::streams_mu_: cancels the call if its write has waited
  // since before `deadline`. True if it did.
  bool CancelIfWaitingSince(absl::Time deadline) {
    // Held by the caller, LogService::CancelStalledStreams (the analysis
    // cannot see that it is this stream's service).
    service_->streams_mu_.AssertHeld();
    if (writing_since_ == absl::InfiniteFuture() || writing_since_ >= deadline) return false;
    writing_since_ = absl::InfiniteFuture();  // counted once
    ctx_->TryCancel();
    return true;
  }

 private:
  void NextMessage() {
    if (next_ >= end_) {
      Done(absl::OkStatus());
      return;
    }
    resp_.Clear();
    size_t bytes = 0;
    // An entry is at most kMaxEntryBytes, so reading no more entries than
    // fit in the room left keeps the message (and the entries held) within
    // kEntriesMessageBytes plus one entry (kMaxGetEntriesMessageBytes).
    while (next_ < end_ && static_cast<size_t>(resp_.entries_size()) < kEntriesPerMessage &&
           bytes < kEntriesMessageBytes) {
      const uint64_t fit = std::max<uint64_t>(1, (kEntriesMessageBytes - bytes) / kMaxEntryBytes);
      const uint64_t stop = std::min<uint64_t>(
          {end_, next_ + fit, next_ + kEntriesPerMessage - resp_.entries_size()});
      read_.clear();
      if (absl::Status st = log_->storage().ReadEntries(next_, stop, &read_); !st.ok()) {
        Done(st);
        return;
      }
      for (std::string& e : read_) {
        bytes += e.size();
        v1::IndexedEntry* out = resp_.add_entries();
        out->set_index(next_++);
        out->set_data(std::move(e));
      }
    }
    read_.clear();
    MarkWriting(true);
    StartWrite(&resp_);
  }
  void MarkWriting(bool writing) {
    absl::MutexLock l(&service_->streams_mu_);
    writing_since_ = writing ? absl::Now() : absl::InfiniteFuture();
  }
  void Done(const absl::Status& st) {
    service_->metrics_->CountRpc("GetEntries", st.code());
    Finish(ToGrpcStatus(st));
  }

  LogService* const service_;
  const std::shared_ptr<Log> log_;  // the one the call started with
  grpc::CallbackServerContext* const ctx_;
  uint64_t next_;
  const uint64_t end_;
  std::vector<std::string> read_;
  v1::GetEntriesResponse resp_;
  // When the write in flight started; InfiniteFuture when none is.
  absl::Time writing_since_ ABSL_GUARDED_BY(service_->streams_mu_) = absl::InfiniteFuture();
};

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()));
}

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
UnparsableRequestInterceptorFactory() {
  return std::make_unique<UnparsableRequestFactory>();
}

LogService::LogService(Log* log, WriterAuth* auth, Metrics* metrics,
                       std::function<void()> on_unhealthy, const LogServiceLimits& limits)
    : LogService(
          // Not owned: an aliasing pointer with no control block.
          [log] { return std::shared_ptr<Log>(std::shared_ptr<Log>(), log); },
          [] { return absl::OkStatus(); }, auth, metrics, std::move(on_unhealthy), limits) {}

LogService::LogService(LogSource logs, WriteGate gate, WriterAuth* auth, Metrics* metrics,
                       std::function<void()> on_unhealthy, const LogServiceLimits& limits)
    : logs_(std::move(logs)),
      gate_(std::move(gate)),
      auth_(auth),
      metrics_(metrics),
      on_unhealthy_(std::move(on_unhealthy)),
      limits_(limits) {
  stall_checker_ = std::thread([this] {
    absl::MutexLock l(&streams_mu_);
    while (!stopping_) {
      streams_mu_.AwaitWithTimeout(absl::Condition(&stopping_), absl::Seconds(1));
      if (stopping_) break;
      streams_mu_.Unlock();
      CancelStalledStreams(absl::Now());
      streams_mu_.Lock();
    }
  });
}

LogService::~LogService() {
  {
    absl::MutexLock l(&streams_mu_);
    stopping_ = true;
  }
  stall_checker_.join();
}

int LogService::CancelStalledStreams(absl::Time now) {
  const absl::Time deadline = now - absl::Seconds(limits_.stalled_timeout_s);
  int cancelled = 0;
  absl::MutexLock l(&streams_mu_);
  for (EntriesReactor* s : streams_) {
    if (s->CancelIfWaitingSince(deadline)) ++cancelled;
  }
  if (cancelled > 0) metrics_->grpc_entries_streams_stalled.Increment(cancelled);
  return cancelled;
}

bool LogService::OpenStream(EntriesReactor* stream) {
  absl::MutexLock l(&streams_mu_);
  if (streams_.size() >= static_cast<size_t>(limits_.max_entries_streams)) return false;
  streams_.insert(stream);
  metrics_->grpc_entries_streams.Set(static_cast<double>(streams_.size()));
  return true;
}

void LogService::CloseStream(EntriesReactor* stream) {
  absl::MutexLock l(&streams_mu_);
  streams_.erase(stream);
  metrics_->grpc_entries_streams.Set(static_cast<double>(streams_.size()));
}

void LogService::FinishReactor(ServerUnaryReactor* reactor, absl::string_view method,
                               const absl::Status& status) {
  metrics_->CountRpc(method, status.code());
  reactor->Finish(ToGrpcStatus(status));
}

ServerUnaryReactor* LogService::Finish(CallbackServerContext* ctx, absl::string_view method,
                                       const absl::Status& status) {
  ServerUnaryReactor* reactor = ctx->DefaultReactor();
  FinishReactor(reactor, method, status);
  return reactor;
}

ServerUnaryReactor* LogService::AddEvents(CallbackServerContext* ctx,
                                          const v1::AddEventsRequest* req,
                                          v1::AddEventsResponse* resp) {
  ServerUnaryReactor* reactor = ctx->DefaultReactor();
  absl::Status st = DoAddEvents(ctx, req, resp, reactor);
  if (!st.ok()) FinishReactor(reactor, "AddEvents", st);
  return reactor;
}

absl::Status LogService::DoAddEvents(CallbackServerContext* ctx, const v1::AddEventsRequest* req,
                                     v1::AddEventsResponse* resp, ServerUnaryReactor* reactor) {
  absl::StatusOr<std::string> writer = auth_->Authenticate(*ctx);
  if (!writer.ok()) return writer.status();
  // A standby names the leader, for clients to follow.
  if (absl::Status gate = gate_(); !gate.ok()) {
    if (auto leader = gate.GetPayload(kLeaderPayload); leader.has_value()) {
      ctx->AddTrailingMetadata(kLeaderTrailer, std::string(*leader));
    }
    gate.ErasePayload(kLeaderPayload);
    return absl::Status(gate.code(), absl::StrCat("AddEvents: ", gate.message()));
  }
  // The log the whole call uses. Callbacks below hold a plain pointer: the
  // log outlives them, as its Stop runs every callback before it returns.
  const std::shared_ptr<Log> held = logs_();
  Log* const log = held.get();
  // Entries that no checkpoint can cover yet are refused (log.proto): the
  // sequencer's own refusals (storage failure, read-only, disk reserve)
  // come from Add below.
  if (log->frozen()) {
    absl::Status frozen = log->sequencer().status();
    return absl::FailedPreconditionError(absl::StrCat("AddEvents: ", frozen.message()));
  }
  if (absl::Status p = log->publisher().status(); !p.ok()) {
    return absl::UnavailableError(absl::StrCat("AddEvents: ", p.message()));
  }
  const size_t n = static_cast<size_t>(req->entries_size());
  if (n == 0) return absl::InvalidArgumentError("AddEvents: entries: empty batch");
  if (n > kMaxEntriesPerAdd) {
    return absl::InvalidArgumentError(absl::StrCat("AddEvents: entries: ", n, " entries, at most ",
                                                   kMaxEntriesPerAdd, " per request"));
  }
  std::vector<PendingEntry> pending(n);
  auto hashes = std::make_shared<std::vector<Hash>>(n);
  for (size_t i = 0; i < n; ++i) {
    const std::string& data = req->entries(static_cast<int>(i)).data();
    absl::Status valid = ValidateEntry(data, absl::StrCat("AddEvents: entries[", i, "]"));
    if (!valid.ok()) return valid;
    pending[i].data = data;
    pending[i].leaf_hash = (*hashes)[i] = HashLeaf(data);  // thread-local hasher
  }
  if (absl::Status st = auth_->Admit(*writer, n); !st.ok()) return st;

  const bool wait = req->wait_for_checkpoint();
  const auto accepted = std::chrono::steady_clock::now();
  absl::Status st = log->sequencer().Add(
      std::move(pending), [this, log, reactor, resp, hashes, wait, accepted](
                              const absl::Status& s, std::vector<SequenceResult> results) {
        if (!s.ok()) {
          if (!log->health().ok()) on_unhealthy_();
          FinishReactor(reactor, "AddEvents", s);
          return;
        }
        uint64_t need = 0;
        for (size_t i = 0; i < results.size(); ++i) {
          v1::AddedEntry* e = resp->add_entries();
          e->set_index(results[i].index);
          e->set_leaf_hash(std::string(AsBytes((*hashes)[i])));
          e->set_duplicate(results[i].duplicate);
          need = std::max(need, results[i].index + 1);
        }
        if (!wait) {
          FinishReactor(reactor, "AddEvents", absl::OkStatus());
          return;
        }
        log->publisher().WaitFor(
            need, [this, log, reactor, resp,
                   accepted](absl::StatusOr<std::shared_ptr<const PublishedCheckpoint>> cp) {
              if (!cp.ok()) {
                FinishReactor(reactor, "AddEvents", cp.status());
                return;
              }
              resp->set_checkpoint((*cp)->note);
              for (v1::AddedEntry& e : *resp->mutable_entries()) {
                absl::StatusOr<std::vector<Hash>> proof =
                    log->reader().InclusionProof(e.index(), (*cp)->size);
                if (!proof.ok()) {
                  FinishReactor(reactor, "AddEvents", proof.status());
                  return;
                }
                AddHashes(*proof, e.mutable_inclusion_proof());
              }
              metrics_->add_to_checkpoint_seconds.Observe(
                  std::chrono::duration<double>(std::chrono::steady_clock::now() - accepted)
                      .count());
              FinishReactor(reactor, "AddEvents", absl::OkStatus());
            });
      });
  if (!st.ok() && absl::IsUnavailable(st) && !log->health().ok()) on_unhealthy_();
  return st;
}

ServerUnaryReactor* LogService::GetCheckpoint(CallbackServerContext* ctx,
                                              const v1::GetCheckpointRequest* req,
                                              v1::GetCheckpointResponse* resp) {
  const std::shared_ptr<Log> log = logs_();
  std::shared_ptr<const PublishedCheckpoint> cp = log->publisher().latest();
  if (cp == nullptr) {
    return Finish(ctx, "GetCheckpoint",
                  absl::UnavailableError("GetCheckpoint: no checkpoint published yet"));
  }
  resp->set_checkpoint(cp->note);
  return Finish(ctx, "GetCheckpoint", absl::OkStatus());
}

ServerUnaryReactor* LogService::GetInclusionProof(CallbackServerContext* ctx,
                                                  const v1::GetInclusionProofRequest* req,
                                                  v1::GetInclusionProofResponse* resp) {
  constexpr absl::string_view kMethod = "GetInclusionProof";
  const std::shared_ptr<Log> log = logs_();
  std::shared_ptr<const PublishedCheckpoint> cp = log->publisher().latest();
  absl::StatusOr<uint64_t> size = ResolveSize(cp.get(), req->tree_size(), kMethod, "tree_size");
  if (!size.ok()) return Finish(ctx, kMethod, size.status());
  uint64_t index = 0;
  switch (req->leaf_case()) {
    case v1::GetInclusionProofRequest::kIndex:
      index = req->index();
      if (index >= *size) {
        return Finish(ctx, kMethod,
                      absl::OutOfRangeError(absl::StrCat("GetInclusionProof: index ", index,
                                                         " >= tree_size ", *size)));
      }
      break;
    case v1::GetInclusionProofRequest::kLeafHash: {
      absl::StatusOr<Hash> leaf = HashFromBytes(req->leaf_hash(), "GetInclusionProof: leaf_hash");
      if (!leaf.ok()) return Finish(ctx, kMethod, leaf.status());
      std::vector<std::optional<uint64_t>> found;
      const Hash leaves[] = {*leaf};
      if (absl::Status st = log->storage().LookupLeaves(leaves, &found); !st.ok()) {
        return Finish(ctx, kMethod, st);
      }
      if (!found[0].has_value() || *found[0] >= *size) {
        return Finish(ctx, kMethod,
                      absl::NotFoundError(absl::StrCat(
                          "GetInclusionProof: leaf_hash ", HashToBase64(*leaf),
                          found[0].has_value() ? " is not yet integrated into tree_size "
                                               : " is not in the log at tree_size ",
                          *size)));
      }
      index = *found[0];
      break;
    }
    default:
      return Finish(ctx, kMethod,
                    absl::InvalidArgumentError("GetInclusionProof: leaf: set index or leaf_hash"));
  }
  absl::StatusOr<std::vector<Hash>> proof = log->reader().InclusionProof(index, *size);
  if (!proof.ok()) return Finish(ctx, kMethod, proof.status());
  resp->set_index(index);
  resp->set_tree_size(*size);
  AddHashes(*proof, resp->mutable_proof());
  if (req->tree_size() == 0) resp->set_checkpoint(cp->note);
  return Finish(ctx, kMethod, absl::OkStatus());
}

ServerUnaryReactor* LogService::GetConsistencyProof(CallbackServerContext* ctx,
                                                    const v1::GetConsistencyProofRequest* req,
                                                    v1::GetConsistencyProofResponse* resp) {
  constexpr absl::string_view kMethod = "GetConsistencyProof";
  if (req->from_size() == 0) {
    return Finish(ctx, kMethod,
                  absl::InvalidArgumentError("GetConsistencyProof: from_size: must be >= 1"));
  }
  const std::shared_ptr<Log> log = logs_();
  std::shared_ptr<const PublishedCheckpoint> cp = log->publisher().latest();
  absl::StatusOr<uint64_t> to = ResolveSize(cp.get(), req->to_size(), kMethod, "to_size");
  if (!to.ok()) return Finish(ctx, kMethod, to.status());
  if (req->from_size() > *to) {
    return Finish(ctx, kMethod,
                  absl::OutOfRangeError(absl::StrCat("GetConsistencyProof: from_size ",
                                                     req->from_size(), " > to_size ", *to)));
  }
  absl::StatusOr<std::vector<Hash>> proof = log->reader().ConsistencyProof(req->from_size(), *to);
  if (!proof.ok()) return Finish(ctx, kMethod, proof.status());
  resp->set_from_size(req->from_size());
  resp->set_to_size(*to);
  AddHashes(*proof, resp->mutable_proof());
  if (req->to_size() == 0) resp->set_checkpoint(cp->note);
  return Finish(ctx, kMethod, absl::OkStatus());
}

grpc::ServerWriteReactor<v1::GetEntriesResponse>* LogService::GetEntries(
    CallbackServerContext* ctx, const v1::GetEntriesRequest* req) {
  absl::Status st;
  uint64_t begin = req->start();
  uint64_t end = begin;
  const std::shared_ptr<Log> log = logs_();
  std::shared_ptr<const PublishedCheckpoint> cp = log->publisher().latest();
  if (req->count() == 0 || req->count() > kMaxEntriesPerGet) {
    st = absl::InvalidArgumentError(
        absl::StrCat("GetEntries: count: ", req->count(), " is not in 1..", kMaxEntriesPerGet));
  } else if (cp == nullptr) {
    st = absl::UnavailableError("GetEntries: no checkpoint published yet");
  } else if (begin >= cp->size) {
    st = absl::OutOfRangeError(
        absl::StrCat("GetEntries: start ", begin, " >= latest published tree size ", cp->size));
  } else {
    end = begin + std::min<uint64_t>(req->count(), cp->size - begin);
  }
  auto* stream = new EntriesReactor(this, log, ctx, begin, end);
  if (st.ok() && !OpenStream(stream)) {
    st = absl::ResourceExhaustedError(
        absl::StrCat("GetEntries: ", limits_.max_entries_streams,
                     " streams are open, the most this server serves at once; retry later"));
  }
  if (!st.ok()) {
    // A reactor that finishes at once with the error.
    class Failed final : public grpc::ServerWriteReactor<v1::GetEntriesResponse> {
     public:
      explicit Failed(const grpc::Status& s) { Finish(s); }
      void OnDone() override { delete this; }
    };
    delete stream;
    metrics_->CountRpc("GetEntries", st.code());
    return new Failed(ToGrpcStatus(st));
  }
  stream->Start();
  return stream;
}

ServerUnaryReactor* LogService::GetEntryAndProof(CallbackServerContext* ctx,
                                                 const v1::GetEntryAndProofRequest* req,
                                                 v1::GetEntryAndProofResponse* resp) {
  constexpr absl::string_view kMethod = "GetEntryAndProof";
  const std::shared_ptr<Log> log = logs_();
  std::shared_ptr<const PublishedCheckpoint> cp = log->publisher().latest();
  absl::StatusOr<uint64_t> size = ResolveSize(cp.get(), req->tree_size(), kMethod, "tree_size");
  if (!size.ok()) return Finish(ctx, kMethod, size.status());
  if (req->index() >= *size) {
    return Finish(ctx, kMethod,
                  absl::OutOfRangeError(absl::StrCat("GetEntryAndProof: index ", req->index(),
                                                     " >= tree_size ", *size)));
  }
  std::vector<std::string> entry;
  if (absl::Status st = log->storage().ReadEntries(req->index(), req->index() + 1, &entry);
      !st.ok()) {
    return Finish(ctx, kMethod, st);
  }
  absl::StatusOr<std::vector<Hash>> proof = log->reader().InclusionProof(req->index(), *size);
  if (!proof.ok()) return Finish(ctx, kMethod, proof.status());
  resp->mutable_entry()->set_index(req->index());
  resp->mutable_entry()->set_data(std::move(entry[0]));
  resp->set_tree_size(*size);
  AddHashes(*proof, resp->mutable_proof());
  if (req->tree_size() == 0) resp->set_checkpoint(cp->note);
  return Finish(ctx, kMethod, absl::OkStatus());
}

}  // namespace infratrail
