#include "client/log_client.h"

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <thread>
#include <utility>

#include "absl/random/random.h"
#include "absl/strings/ascii.h"
#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "core/io/file_util.h"
#include "core/proof.h"
#include "proto/entry_validation.h"
#include "proto/limits.h"
#include "proto/message_limits.h"

namespace infratrail {
namespace {

constexpr absl::string_view kVerificationPayload = "infratrail.dev/verification-error";
// The leader a standby named, from GrpcToStatus to WithRetries only.
constexpr absl::string_view kLeaderPayload = "infratrail.dev/leader";
constexpr size_t kMaxProvenRoots = 64;

bool Retryable(const absl::Status& st) {
  return st.code() == absl::StatusCode::kUnavailable ||
         st.code() == absl::StatusCode::kResourceExhausted ||
         st.code() == absl::StatusCode::kDeadlineExceeded;
}

// A TLS file named by option `field`: InvalidArgument naming it if unreadable.
absl::StatusOr<std::string> ReadFile(const std::string& path, absl::string_view field) {
  absl::StatusOr<std::string> data = ReadFileToString(path);
  if (!data.ok())
    return absl::InvalidArgumentError(absl::StrCat(field, ": ", data.status().message()));
  return data;
}

absl::StatusOr<std::vector<Hash>> ProofHashes(
    const google::protobuf::RepeatedPtrField<std::string>& proof, absl::string_view what) {
  std::vector<Hash> out;
  out.reserve(proof.size());
  for (int i = 0; i < proof.size(); ++i) {
    absl::StatusOr<Hash> h = HashFromBytes(proof[i], absl::StrCat(what, ": proof[", i, "]"));
    if (!h.ok()) return VerificationError(h.status().message());
    out.push_back(*h);
  }
  return out;
}

// Takes the leader payload off `st`: the address a standby named, if any.
std::optional<std::string> TakeLeader(absl::Status& st) {
  const auto leader = st.GetPayload(kLeaderPayload);
  if (!leader.has_value()) return std::nullopt;
  st.ErasePayload(kLeaderPayload);
  return std::string(*leader);
}

}  // namespace

absl::Status VerificationError(absl::string_view message) {
  absl::Status st(absl::StatusCode::kDataLoss, message);
  st.SetPayload(kVerificationPayload, absl::Cord("1"));
  return st;
}

bool IsVerificationError(const absl::Status& status) {
  return status.GetPayload(kVerificationPayload).has_value();
}

absl::Status AnnotateStatus(const absl::Status& status, absl::string_view prefix) {
  if (status.ok()) return status;
  absl::Status out(status.code(), absl::StrCat(prefix, ": ", status.message()));
  status.ForEachPayload(
      [&](absl::string_view url, const absl::Cord& payload) { out.SetPayload(url, payload); });
  return out;
}

absl::StatusOr<std::vector<std::string>> SplitLogTarget(absl::string_view target) {
  std::vector<std::string> out;
  for (absl::string_view name : absl::StrSplit(target, ',')) {
    name = absl::StripAsciiWhitespace(name);
    if (name.empty()) {
      return absl::InvalidArgumentError(
          target.empty() ? "LogClient: target: empty"
                         : absl::StrCat("LogClient: target: an empty name in \"", target, "\""));
    }
    if (std::find(out.begin(), out.end(), name) != out.end()) {
      return absl::InvalidArgumentError(
          absl::StrCat("LogClient: target: ", name, " is listed twice in \"", target, "\""));
    }
    out.emplace_back(name);
  }
  return out;
}

absl::StatusOr<std::shared_ptr<grpc::Channel>> CreateLogChannel(const LogClientOptions& options,
                                                                const std::string& server) {
  if (server.empty()) return absl::InvalidArgumentError("LogClient: target: empty");
  std::shared_ptr<grpc::ChannelCredentials> creds;
  if (options.tls) {
    grpc::SslCredentialsOptions ssl;
    if (!options.tls_ca_file.empty()) {
      absl::StatusOr<std::string> ca = ReadFile(options.tls_ca_file, "tls_ca_file");
      if (!ca.ok()) return ca.status();
      ssl.pem_root_certs = *ca;
    }
    if (options.tls_cert_file.empty() != options.tls_key_file.empty()) {
      return absl::InvalidArgumentError(
          "LogClient: tls_cert_file and tls_key_file: give both for mutual TLS, or neither");
    }
    if (!options.tls_cert_file.empty()) {
      absl::StatusOr<std::string> cert = ReadFile(options.tls_cert_file, "tls_cert_file");
      if (!cert.ok()) return cert.status();
      absl::StatusOr<std::string> key = ReadFile(options.tls_key_file, "tls_key_file");
      if (!key.ok()) return key.status();
      ssl.pem_cert_chain = *cert;
      ssl.pem_private_key = *key;
    }
    creds = grpc::SslCredentials(ssl);
  } else {
    if (!options.tls_ca_file.empty() || !options.tls_cert_file.empty() ||
        !options.tls_key_file.empty() || !options.tls_server_name.empty()) {
      return absl::InvalidArgumentError(
          "LogClient: tls_ca_file, tls_cert_file, tls_key_file or tls_server_name given without "
          "tls");
    }
    creds = grpc::InsecureChannelCredentials();
  }
  grpc::ChannelArguments args;
  if (!options.tls_server_name.empty()) args.SetSslTargetNameOverride(options.tls_server_name);
  // What the server receives and sends (proto/limits.h).
  ApplyMessageLimits(args);
  return grpc::CreateCustomChannel(server, creds, args);
}

absl::StatusOr<std::unique_ptr<LogClient>> LogClient::Create(LogClientOptions options) {
  absl::StatusOr<std::vector<std::string>> addresses = SplitLogTarget(options.target);
  if (!addresses.ok()) return addresses.status();
  std::vector<Server> servers;
  for (std::string& address : *addresses) {
    absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = CreateLogChannel(options, address);
    if (!channel.ok()) return channel.status();
    servers.push_back(Server{std::move(address), v1::Log::NewStub(*std::move(channel))});
  }
  std::unique_ptr<LogClient> client(new LogClient(std::move(options)));
  client->servers_ = std::move(servers);
  return client;
}

LogClient::LogClient(LogClientOptions options) : options_(std::move(options)) {}
LogClient::~LogClient() = default;

absl::Status LogClient::GrpcToStatus(const grpc::Status& st, absl::string_view rpc,
                                     const Server& server, const grpc::ClientContext& ctx) {
  if (st.ok()) return absl::OkStatus();
  const auto code = static_cast<absl::StatusCode>(st.error_code());
  absl::Status out(code, absl::StrCat(rpc, " (server ", server.address, "): ", st.error_message(),
                                      " [", absl::StatusCodeToString(code), "]"));
  if (code == absl::StatusCode::kUnavailable) {
    const auto& trailers = ctx.GetServerTrailingMetadata();
    auto it = trailers.find(grpc::string_ref(kLeaderTrailer));
    if (it != trailers.end() && !it->second.empty()) {
      out.SetPayload(kLeaderPayload,
                     absl::Cord(absl::string_view(it->second.data(), it->second.size())));
    }
  }
  return out;
}

void LogClient::Prepare(grpc::ClientContext* ctx, absl::Duration timeout) const {
  ctx->set_deadline(std::chrono::system_clock::now() + absl::ToChronoMicroseconds(timeout));
  if (!options_.token.empty()) ctx->AddMetadata("authorization", "Bearer " + options_.token);
}

size_t LogClient::Current() const {
  absl::MutexLock lock(&server_mu_);
  return current_;
}

void LogClient::MoveOn(size_t from, size_t to) {
  absl::MutexLock lock(&server_mu_);
  if (current_ == from) current_ = to;
}

std::optional<size_t> LogClient::Find(absl::string_view address) const {
  for (size_t i = 0; i < servers_.size(); ++i) {
    if (servers_[i].address == address) return i;
  }
  return std::nullopt;
}

absl::Status LogClient::WithRetries(const Attempt& attempt) {
  const absl::Time give_up = absl::Now() + options_.retry.budget;
  absl::Duration backoff = options_.retry.initial_backoff;
  absl::BitGen rng;
  // Servers this call jumped to on a standby's word: once each, so standbys
  // that name each other (a stale view, a split brain) cannot loop.
  std::vector<bool> followed(servers_.size(), false);
  size_t failed_in_round = 0;  // servers that failed since the last sleep
  std::string unlisted;        // a leader a standby named that is not listed
  for (int tries = 1;; ++tries) {
    const size_t at = Current();
    absl::Status st = attempt(servers_[at]);
    const std::optional<std::string> leader = TakeLeader(st);
    if (st.ok() || !Retryable(st) || IsVerificationError(st)) return st;
    bool at_once = false;
    if (st.code() == absl::StatusCode::kUnavailable) {
      const std::optional<size_t> named = leader.has_value() ? Find(*leader) : std::nullopt;
      if (leader.has_value() && !named.has_value()) unlisted = *leader;
      if (named.has_value() && *named != at && !followed[*named]) {
        followed[*named] = true;
        absl::MutexLock lock(&server_mu_);
        current_ = *named;  // the freshest news there is
        at_once = true;
      } else if (servers_.size() > 1) {
        MoveOn(at, (at + 1) % servers_.size());
        at_once = ++failed_in_round < servers_.size();
      }
    }
    // Full jitter: a crowd of clients retrying together spreads out.
    const absl::Duration sleep =
        at_once ? absl::ZeroDuration() : backoff * absl::Uniform(rng, 0.0, 1.0);
    if (absl::Now() + sleep >= give_up) {
      std::string message = absl::StrCat(st.message(), " (gave up after ", tries,
                                         tries == 1 ? " attempt)" : " attempts)");
      if (!unlisted.empty()) {
        absl::StrAppend(&message, "; a standby named the leader ", unlisted,
                        ", which is not among the configured servers (", options_.target,
                        "), so it was not contacted");
      }
      return absl::Status(st.code(), message);
    }
    if (at_once) continue;
    failed_in_round = 0;
    if (options_.retry.on_retry) options_.retry.on_retry(st, sleep);
    absl::SleepFor(sleep);
    backoff = std::min(backoff * 2, options_.retry.max_backoff);
  }
}

absl::Status LogClient::NeedKey(absl::string_view what) const {
  if (options_.log_key.has_value()) return absl::OkStatus();
  return absl::FailedPreconditionError(
      absl::StrCat(what, ": needs the log's verifier key (log_key) to verify what it returns"));
}

absl::StatusOr<SignedCheckpoint> LogClient::Adopt(const std::string& note, absl::string_view what) {
  if (absl::Status st = NeedKey(what); !st.ok()) return st;
  absl::StatusOr<VerifiedCheckpoint> v =
      OpenCheckpoint(note, *options_.log_key, options_.witness_policy);
  if (!v.ok()) return VerificationError(absl::StrCat(what, ": checkpoint: ", v.status().message()));
  SignedCheckpoint cp{note, *std::move(v)};
  // Prove it consistent with the newest checkpoint this client trusts. If
  // that moved meanwhile, prove again against the new one: checking two
  // checkpoints against a common older one would not rule out a fork
  // between them.
  for (;;) {
    std::optional<SignedCheckpoint> latest;
    {
      absl::MutexLock lock(&mu_);
      auto it = proven_roots_.find(cp.size());
      if (it != proven_roots_.end()) {
        if (it->second != cp.root()) {
          return VerificationError(
              absl::StrCat(what, ": checkpoint of size ", cp.size(),
                           " has a different root from one this client verified before (a fork)"));
        }
        return cp;
      }
      if (!latest_.has_value() || latest_->size() == 0) {
        latest_ = cp;
        proven_roots_[cp.size()] = cp.root();
        return cp;
      }
      latest = latest_;
    }
    const SignedCheckpoint& older = cp.size() < latest->size() ? cp : *latest;
    const SignedCheckpoint& newer = cp.size() < latest->size() ? *latest : cp;
    if (absl::Status st = CheckConsistent(older, newer); !st.ok()) {
      if (IsVerificationError(st)) {
        return VerificationError(absl::StrCat(what, ": checkpoint: ", st.message()));
      }
      return st;
    }
    absl::MutexLock lock(&mu_);
    if (latest_->size() != latest->size()) continue;
    if (cp.size() > latest_->size()) latest_ = cp;
    proven_roots_[cp.size()] = cp.root();
    while (proven_roots_.size() > kMaxProvenRoots) proven_roots_.erase(proven_roots_.begin());
    return cp;
  }
}

absl::StatusOr<SignedCheckpoint> LogClient::VerifyCheckpoint(const std::string& note) {
  return Adopt(note, "VerifyCheckpoint");
}

std::optional<SignedCheckpoint> LogClient::LatestVerified() const {
  absl::MutexLock lock(&mu_);
  return latest_;
}

absl::StatusOr<TlogProof> LogClient::MakeReceipt(
    uint64_t index, const Hash& leaf_hash, const SignedCheckpoint& cp,
    const google::protobuf::RepeatedPtrField<std::string>& proof, absl::string_view what) {
  absl::StatusOr<std::vector<Hash>> hashes = ProofHashes(proof, what);
  if (!hashes.ok()) return hashes.status();
  Hasher hasher;
  if (absl::Status st = VerifyInclusion(index, cp.size(), leaf_hash, *hashes, cp.root(), hasher);
      !st.ok()) {
    return VerificationError(absl::StrCat(what, ": inclusion proof of index ", index, " in size ",
                                          cp.size(), ": ", st.message()));
  }
  TlogProof receipt;
  receipt.index = index;
  receipt.inclusion_proof = *std::move(hashes);
  receipt.checkpoint = cp.note;
  return receipt;
}

absl::StatusOr<std::vector<AddResult>> LogClient::Add(absl::Span<const std::string> entries,
                                                      bool wait) {
  if (entries.empty() || entries.size() > kMaxEntriesPerAdd) {
    return absl::InvalidArgumentError(absl::StrCat("Add: entries: ", entries.size(), " given, 1..",
                                                   kMaxEntriesPerAdd, " allowed"));
  }
  for (size_t i = 0; i < entries.size(); ++i) {
    if (absl::Status st = ValidateEntry(entries[i], absl::StrCat("Add: entries[", i, "]"));
        !st.ok()) {
      return st;
    }
  }
  return AddValidated(entries, wait);
}

absl::StatusOr<std::vector<AddResult>> LogClient::AddValidated(
    absl::Span<const std::string> entries, bool wait) {
  if (wait) {
    if (absl::Status st = NeedKey("Add with wait"); !st.ok()) return st;
  }
  v1::AddEventsRequest req;
  std::vector<Hash> leaves;
  leaves.reserve(entries.size());
  Hasher hasher;
  for (size_t i = 0; i < entries.size(); ++i) {
    req.add_entries()->set_data(entries[i]);
    leaves.push_back(hasher.HashLeaf(entries[i]));
  }
  req.set_wait_for_checkpoint(wait);
  v1::AddEventsResponse resp;
  absl::Status st = Call(&v1::Log::StubInterface::AddEvents, "AddEvents", req, &resp);
  if (!st.ok()) return st;
  if (resp.entries_size() != static_cast<int>(entries.size())) {
    return VerificationError(absl::StrCat("AddEvents: ", resp.entries_size(), " results for ",
                                          entries.size(), " entries"));
  }
  std::optional<SignedCheckpoint> cp;
  if (wait) {
    absl::StatusOr<SignedCheckpoint> c = Adopt(resp.checkpoint(), "AddEvents");
    if (!c.ok()) return c.status();
    cp = *std::move(c);
  }
  std::vector<AddResult> out(entries.size());
  for (size_t i = 0; i < entries.size(); ++i) {
    const v1::AddedEntry& e = resp.entries(static_cast<int>(i));
    if (e.leaf_hash() != AsBytes(leaves[i])) {
      return VerificationError(
          absl::StrCat("AddEvents: entries[", i, "]: the server returned a wrong leaf hash"));
    }
    out[i].index = e.index();
    out[i].leaf_hash = leaves[i];
    out[i].duplicate = e.duplicate();
    if (cp.has_value()) {
      absl::StatusOr<TlogProof> r = MakeReceipt(e.index(), leaves[i], *cp, e.inclusion_proof(),
                                                absl::StrCat("AddEvents: entries[", i, "]"));
      if (!r.ok()) return r.status();
      out[i].receipt = *std::move(r);
    }
  }
  return out;
}

absl::StatusOr<std::string> LogClient::GetCheckpointNote() {
  v1::GetCheckpointResponse resp;
  absl::Status st = Call(&v1::Log::StubInterface::GetCheckpoint, "GetCheckpoint",
                         v1::GetCheckpointRequest(), &resp);
  if (!st.ok()) return st;
  return resp.checkpoint();
}

absl::StatusOr<SignedCheckpoint> LogClient::GetCheckpoint() {
  if (absl::Status st = NeedKey("GetCheckpoint"); !st.ok()) return st;
  absl::StatusOr<std::string> note = GetCheckpointNote();
  if (!note.ok()) return note.status();
  return Adopt(*note, "GetCheckpoint");
}

absl::StatusOr<EntryAndProof> LogClient::GetEntryAndProof(uint64_t index,
                                                          const SignedCheckpoint* at) {
  if (absl::Status st = NeedKey("GetEntryAndProof"); !st.ok()) return st;
  v1::GetEntryAndProofRequest req;
  req.set_index(index);
  req.set_tree_size(at != nullptr ? at->size() : 0);
  v1::GetEntryAndProofResponse resp;
  absl::Status st = Call(&v1::Log::StubInterface::GetEntryAndProof, "GetEntryAndProof", req, &resp);
  if (!st.ok()) return st;
  std::optional<SignedCheckpoint> cp;
  if (at == nullptr) {
    absl::StatusOr<SignedCheckpoint> c = Adopt(resp.checkpoint(), "GetEntryAndProof");
    if (!c.ok()) return c.status();
    cp = *std::move(c);
    at = &*cp;
  }
  if (resp.tree_size() != at->size() || resp.entry().index() != index) {
    return VerificationError(absl::StrCat("GetEntryAndProof: asked for index ", index, " in size ",
                                          at->size(), ", got index ", resp.entry().index(),
                                          " in size ", resp.tree_size()));
  }
  absl::StatusOr<TlogProof> r =
      MakeReceipt(index, HashLeaf(resp.entry().data()), *at, resp.proof(), "GetEntryAndProof");
  if (!r.ok()) return r.status();
  return EntryAndProof{resp.entry().data(), *std::move(r)};
}

absl::StatusOr<TlogProof> LogClient::ProveLeafHash(const Hash& leaf_hash,
                                                   const SignedCheckpoint* at) {
  if (absl::Status st = NeedKey("GetInclusionProof"); !st.ok()) return st;
  v1::GetInclusionProofRequest req;
  req.set_leaf_hash(std::string(AsBytes(leaf_hash)));
  req.set_tree_size(at != nullptr ? at->size() : 0);
  v1::GetInclusionProofResponse resp;
  absl::Status st =
      Call(&v1::Log::StubInterface::GetInclusionProof, "GetInclusionProof", req, &resp);
  if (!st.ok()) return st;
  std::optional<SignedCheckpoint> cp;
  if (at == nullptr) {
    absl::StatusOr<SignedCheckpoint> c = Adopt(resp.checkpoint(), "GetInclusionProof");
    if (!c.ok()) return c.status();
    cp = *std::move(c);
    at = &*cp;
  }
  if (resp.tree_size() != at->size()) {
    return VerificationError(absl::StrCat("GetInclusionProof: asked for size ", at->size(),
                                          ", got a proof for size ", resp.tree_size()));
  }
  return MakeReceipt(resp.index(), leaf_hash, *at, resp.proof(), "GetInclusionProof");
}

absl::StatusOr<TlogProof> LogClient::WaitForInclusion(uint64_t index, const Hash& leaf_hash,
                                                      absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  absl::Duration poll = absl::Milliseconds(25);
  for (;;) {
    absl::StatusOr<SignedCheckpoint> cp = GetCheckpoint();
    if (!cp.ok()) return cp.status();
    if (cp->size() > index) {
      v1::GetInclusionProofRequest req;
      req.set_index(index);
      req.set_tree_size(cp->size());
      v1::GetInclusionProofResponse resp;
      absl::Status st =
          Call(&v1::Log::StubInterface::GetInclusionProof, "GetInclusionProof", req, &resp);
      if (!st.ok()) return st;
      return MakeReceipt(index, leaf_hash, *cp, resp.proof(), "GetInclusionProof");
    }
    if (absl::Now() + poll > deadline) {
      return absl::DeadlineExceededError(absl::StrCat("WaitForInclusion: index ", index,
                                                      " not covered by a checkpoint after ",
                                                      absl::FormatDuration(timeout)));
    }
    absl::SleepFor(poll);
    poll = std::min(poll * 2, absl::Seconds(1));
  }
}

absl::Status LogClient::CheckConsistent(const SignedCheckpoint& older,
                                        const SignedCheckpoint& newer) {
  if (older.size() > newer.size()) {
    return absl::InvalidArgumentError("CheckConsistent: older is larger than newer");
  }
  std::vector<Hash> hashes;
  if (older.size() > 0 && older.size() < newer.size()) {
    v1::GetConsistencyProofRequest req;
    req.set_from_size(older.size());
    req.set_to_size(newer.size());
    v1::GetConsistencyProofResponse resp;
    absl::Status st = WithRetries([&](const Server& server) {
      grpc::ClientContext ctx;
      Prepare(&ctx, options_.rpc_timeout);
      resp.Clear();
      const grpc::Status answer = server.stub->GetConsistencyProof(&ctx, req, &resp);
      absl::Status out = GrpcToStatus(answer, "GetConsistencyProof", server, ctx);
      // `newer` is signed by the log, so its size was published: this server
      // has not caught up yet (a standby), which is as good as unavailable.
      if (out.code() == absl::StatusCode::kOutOfRange) {
        return absl::UnavailableError(absl::StrCat(out.message(), "; the server lags behind size ",
                                                   newer.size(), ", which this client verified"));
      }
      return out;
    });
    if (!st.ok()) return st;
    absl::StatusOr<std::vector<Hash>> h = ProofHashes(resp.proof(), "GetConsistencyProof");
    if (!h.ok()) return h.status();
    hashes = *std::move(h);
  }
  // The empty tree is a prefix of every tree (OpenCheckpoint checked that a
  // size-0 checkpoint has the empty root).
  if (older.size() == 0) return absl::OkStatus();
  Hasher hasher;
  if (absl::Status st =
          VerifyConsistency(older.size(), newer.size(), older.root(), newer.root(), hashes, hasher);
      !st.ok()) {
    return VerificationError(absl::StrCat("size ", older.size(), " is not a prefix of size ",
                                          newer.size(), ": ", st.message()));
  }
  return absl::OkStatus();
}

absl::StatusOr<ConsistencyProof> LogClient::GetConsistencyProof(uint64_t from,
                                                                const SignedCheckpoint* to) {
  if (absl::Status st = NeedKey("GetConsistencyProof"); !st.ok()) return st;
  if (from == 0) return absl::InvalidArgumentError("GetConsistencyProof: from: must be >= 1");
  ConsistencyProof out;
  if (to == nullptr) {
    absl::StatusOr<SignedCheckpoint> cp = GetCheckpoint();
    if (!cp.ok()) return cp.status();
    out.to = *std::move(cp);
  } else {
    out.to = *to;
  }
  if (from > out.to.size()) {
    return absl::OutOfRangeError(
        absl::StrCat("GetConsistencyProof: from ", from, " > checkpoint size ", out.to.size()));
  }
  // The root at `from`, from the last entry's inclusion proof in that tree;
  // the consistency proof below is what makes it trustworthy.
  v1::GetEntryAndProofRequest ereq;
  ereq.set_index(from - 1);
  ereq.set_tree_size(from);
  v1::GetEntryAndProofResponse eresp;
  absl::Status st =
      Call(&v1::Log::StubInterface::GetEntryAndProof, "GetEntryAndProof", ereq, &eresp);
  if (!st.ok()) return st;
  absl::StatusOr<std::vector<Hash>> path = ProofHashes(eresp.proof(), "GetEntryAndProof");
  if (!path.ok()) return path.status();
  Hasher hasher;
  absl::StatusOr<Hash> from_root =
      RootFromInclusionProof(from - 1, from, HashLeaf(eresp.entry().data()), *path, hasher);
  if (!from_root.ok()) {
    return VerificationError(absl::StrCat("GetEntryAndProof: ", from_root.status().message()));
  }
  out.from_size = from;
  out.from_root = *from_root;
  if (from < out.to.size()) {
    v1::GetConsistencyProofRequest req;
    req.set_from_size(from);
    req.set_to_size(out.to.size());
    v1::GetConsistencyProofResponse resp;
    st = Call(&v1::Log::StubInterface::GetConsistencyProof, "GetConsistencyProof", req, &resp);
    if (!st.ok()) return st;
    absl::StatusOr<std::vector<Hash>> h = ProofHashes(resp.proof(), "GetConsistencyProof");
    if (!h.ok()) return h.status();
    out.proof = *std::move(h);
  }
  if (absl::Status v =
          VerifyConsistency(from, out.to.size(), out.from_root, out.to.root(), out.proof, hasher);
      !v.ok()) {
    return VerificationError(absl::StrCat("GetConsistencyProof: size ", from,
                                          " is not a prefix of size ", out.to.size(), ": ",
                                          v.message()));
  }
  return out;
}

absl::Status LogClient::GetEntries(uint64_t start, uint64_t count,
                                   const std::function<bool(const IndexedEntry&)>& sink) {
  uint64_t next = start;
  const uint64_t end = start + count;
  while (next < end) {
    v1::GetEntriesRequest req;
    req.set_start(next);
    req.set_count(std::min(end - next, kMaxEntriesPerGet));
    bool stop = false;
    uint64_t got = 0;
    // A failed stream is retried from the first entry not yet delivered.
    absl::Status st = WithRetries([&](const Server& server) {
      grpc::ClientContext ctx;
      Prepare(&ctx, options_.rpc_timeout);
      req.set_start(next);
      req.set_count(std::min(end - next, kMaxEntriesPerGet));
      std::unique_ptr<grpc::ClientReaderInterface<v1::GetEntriesResponse>> reader =
          server.stub->GetEntries(&ctx, req);
      v1::GetEntriesResponse chunk;
      while (!stop && reader->Read(&chunk)) {
        for (const v1::IndexedEntry& e : chunk.entries()) {
          if (e.index() != next) {
            ctx.TryCancel();
            return VerificationError(
                absl::StrCat("GetEntries: expected index ", next, ", got ", e.index()));
          }
          ++next;
          ++got;
          if (!sink(IndexedEntry{e.index(), e.data()})) {
            stop = true;
            ctx.TryCancel();
            break;
          }
        }
      }
      if (stop) {
        reader->Finish();
        return absl::OkStatus();
      }
      const grpc::Status finished = reader->Finish();
      return GrpcToStatus(finished, "GetEntries", server, ctx);
    });
    if (!st.ok()) {
      // Entries beyond the published size end the read, not fail it, once
      // something was delivered.
      if (st.code() == absl::StatusCode::kOutOfRange && next > start) return absl::OkStatus();
      return st;
    }
    if (stop) return absl::OkStatus();
    if (got == 0) return absl::OkStatus();  // the stream ended early: nothing more published
  }
  return absl::OkStatus();
}

}  // namespace infratrail
