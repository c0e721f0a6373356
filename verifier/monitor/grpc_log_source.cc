#include "verifier/monitor/grpc_log_source.h"

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "core/io/file_util.h"
#include "infratrail/v1/log.grpc.pb.h"
#include "proto/limits.h"
#include "proto/message_limits.h"

namespace infratrail {

struct GrpcLogSource::Stub {
  std::unique_ptr<v1::Log::Stub> log;
};

namespace {

constexpr absl::string_view kPlain = "grpc://";
constexpr absl::string_view kTls = "grpcs://";

// A gRPC status as the source's error kinds (grpc_log_source.h), naming
// what was asked.
absl::Status FromGrpc(const grpc::Status& s, absl::string_view what) {
  std::string msg = absl::StrCat(what, ": gRPC ", s.error_code(), ": ", s.error_message());
  switch (s.error_code()) {
    case grpc::StatusCode::OK:
      return absl::OkStatus();
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return absl::DeadlineExceededError(msg);
    case grpc::StatusCode::OUT_OF_RANGE:
    case grpc::StatusCode::NOT_FOUND:
      return absl::NotFoundError(msg);
    case grpc::StatusCode::UNAVAILABLE:
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
    case grpc::StatusCode::ABORTED:
    case grpc::StatusCode::CANCELLED:
    case grpc::StatusCode::UNKNOWN:
      return absl::UnavailableError(msg);
    default:
      return absl::FailedPreconditionError(msg);
  }
}

void SetDeadline(grpc::ClientContext* ctx, std::chrono::milliseconds timeout) {
  ctx->set_deadline(std::chrono::system_clock::now() + timeout);
}

}  // namespace

absl::StatusOr<std::unique_ptr<GrpcLogSource>> GrpcLogSource::Create(
    absl::string_view url, const GrpcLogSourceOptions& options) {
  const bool tls = absl::StartsWith(url, kTls);
  if (!tls && !absl::StartsWith(url, kPlain)) {
    return absl::InvalidArgumentError(
        absl::StrCat("log URL \"", url, "\" is not grpc:// or grpcs://"));
  }
  std::string target(url.substr(tls ? kTls.size() : kPlain.size()));
  if (absl::EndsWith(target, "/")) target.pop_back();
  if (target.empty() || absl::StrContains(target, "/") || !absl::StrContains(target, ":")) {
    return absl::InvalidArgumentError(
        absl::StrCat("log URL \"", url, "\": expected grpc://HOST:PORT or grpcs://HOST:PORT"));
  }
  std::shared_ptr<grpc::ChannelCredentials> creds;
  if (tls) {
    grpc::SslCredentialsOptions ssl;
    if (!options.ca_file.empty()) {
      absl::StatusOr<std::string> ca = ReadFileBounded(options.ca_file, 16 << 20);
      if (!ca.ok())
        return absl::InvalidArgumentError(absl::StrCat("--ca-file: ", ca.status().message()));
      ssl.pem_root_certs = *std::move(ca);
    }
    creds = grpc::SslCredentials(ssl);
  } else {
    creds = grpc::InsecureChannelCredentials();
  }
  grpc::ChannelArguments args;
  ApplyMessageLimits(args);
  auto stub = std::make_unique<Stub>();
  stub->log = v1::Log::NewStub(grpc::CreateCustomChannel(target, creds, args));
  return std::unique_ptr<GrpcLogSource>(
      new GrpcLogSource(std::string(url), options.timeout, std::move(stub)));
}

GrpcLogSource::GrpcLogSource(std::string url, std::chrono::milliseconds timeout,
                             std::unique_ptr<Stub> stub)
    : url_(std::move(url)), timeout_(timeout), stub_(std::move(stub)) {}

GrpcLogSource::~GrpcLogSource() = default;

absl::StatusOr<std::string> GrpcLogSource::Checkpoint(bool /*bypass_caches*/) {
  // No cache between the monitor and the API: every call is fresh.
  grpc::ClientContext ctx;
  SetDeadline(&ctx, timeout_);
  v1::GetCheckpointResponse resp;
  grpc::Status s = stub_->log->GetCheckpoint(&ctx, v1::GetCheckpointRequest(), &resp);
  const std::string what = absl::StrCat(url_, " GetCheckpoint");
  if (!s.ok()) return FromGrpc(s, what);
  if (resp.checkpoint().size() > kMaxCheckpointBytes) {
    return absl::ResourceExhaustedError(absl::StrCat(what, ": a checkpoint of ",
                                                     resp.checkpoint().size(), " bytes (at most ",
                                                     kMaxCheckpointBytes, ")"));
  }
  return std::move(*resp.mutable_checkpoint());
}

absl::Status GrpcLogSource::FetchRun(uint64_t start, absl::Span<const TileId> run,
                                     std::vector<absl::StatusOr<std::string>>* out) {
  uint64_t total = 0;
  for (const TileId& t : run) total += t.width;
  std::vector<std::string> bundles(run.size());
  size_t b = 0;       // the bundle being filled
  uint64_t in_b = 0;  // entries in it so far
  uint64_t have = 0;  // entries received
  while (have < total) {
    const uint64_t count = std::min<uint64_t>(total - have, kMaxEntriesPerGet);
    const std::string what =
        absl::StrCat(url_, " GetEntries(start=", start + have, ", count=", count, ")");
    grpc::ClientContext ctx;
    SetDeadline(&ctx, timeout_);
    v1::GetEntriesRequest req;
    req.set_start(start + have);
    req.set_count(count);
    std::unique_ptr<grpc::ClientReader<v1::GetEntriesResponse>> reader =
        stub_->log->GetEntries(&ctx, req);
    const uint64_t before = have;
    v1::GetEntriesResponse resp;
    absl::Status broken;
    while (broken.ok() && reader->Read(&resp)) {
      for (v1::IndexedEntry& e : *resp.mutable_entries()) {
        if (have == total || e.index() != start + have) {
          broken = absl::DataLossError(
              absl::StrCat(what, ": entry ", e.index(), " streamed where ",
                           have == total ? std::string("no more were asked for")
                                         : absl::StrCat("entry ", start + have, " was due")));
          break;
        }
        if (e.data().size() > kMaxBundleEntrySize) {
          broken = absl::DataLossError(absl::StrCat(what, ": entry ", e.index(), " holds ",
                                                    e.data().size(), " bytes (at most ",
                                                    kMaxBundleEntrySize, ")"));
          break;
        }
        std::string& bundle = bundles[b];
        bundle.push_back(static_cast<char>(e.data().size() >> 8));
        bundle.push_back(static_cast<char>(e.data().size() & 0xff));
        bundle.append(e.data());
        ++have;
        if (++in_b == run[b].width) {
          ++b;
          in_b = 0;
        }
      }
    }
    if (!broken.ok()) {
      ctx.TryCancel();
      reader->Finish();
      return broken;
    }
    if (grpc::Status s = reader->Finish(); !s.ok()) return FromGrpc(s, what);
    if (have == before) {
      return absl::DataLossError(absl::StrCat(what, ": the stream ended without an entry"));
    }
  }
  for (std::string& bundle : bundles) out->push_back(std::move(bundle));
  return absl::OkStatus();
}

std::vector<absl::StatusOr<std::string>> GrpcLogSource::Tiles(absl::Span<const TileId> tiles) {
  std::vector<absl::StatusOr<std::string>> out;
  out.reserve(tiles.size());
  size_t i = 0;
  while (i < tiles.size()) {
    if (!tiles[i].entries) {
      out.push_back(absl::UnimplementedError(
          absl::StrCat(url_, ": ", tiles[i].Path(), ": the gRPC API serves no hash tiles")));
      ++i;
      continue;
    }
    // A run of consecutive bundles, each full but the last, in one
    // GetEntries call of at most kMaxEntriesPerGet entries.
    size_t j = i + 1;
    uint64_t entries = tiles[i].width;
    while (j < tiles.size() && tiles[j].entries && tiles[j].index == tiles[j - 1].index + 1 &&
           tiles[j - 1].width == kTileWidth && entries + tiles[j].width <= kMaxEntriesPerGet) {
      entries += tiles[j].width;
      ++j;
    }
    const absl::Span<const TileId> run = tiles.subspan(i, j - i);
    if (absl::Status s = FetchRun(tiles[i].index * kTileWidth, run, &out); !s.ok()) {
      for (size_t k = i; k < j; ++k) out.push_back(s);
    }
    i = j;
  }
  return out;
}

absl::StatusOr<std::vector<Hash>> GrpcLogSource::ConsistencyProof(uint64_t from, uint64_t to) {
  const std::string what =
      absl::StrCat(url_, " GetConsistencyProof(from_size=", from, ", to_size=", to, ")");
  grpc::ClientContext ctx;
  SetDeadline(&ctx, timeout_);
  v1::GetConsistencyProofRequest req;
  req.set_from_size(from);
  req.set_to_size(to);
  v1::GetConsistencyProofResponse resp;
  if (grpc::Status s = stub_->log->GetConsistencyProof(&ctx, req, &resp); !s.ok()) {
    return FromGrpc(s, what);
  }
  if (resp.from_size() != from || resp.to_size() != to) {
    return absl::DataLossError(
        absl::StrCat(what, ": answered for sizes ", resp.from_size(), " to ", resp.to_size()));
  }
  // A proof has at most two hashes per level of a tree of 2^64 leaves.
  if (resp.proof_size() > 128) {
    return absl::DataLossError(absl::StrCat(what, ": ", resp.proof_size(), " hashes"));
  }
  std::vector<Hash> proof;
  proof.reserve(resp.proof_size());
  for (int i = 0; i < resp.proof_size(); ++i) {
    const std::string& h = resp.proof(i);
    if (h.size() != kHashSize) {
      return absl::DataLossError(
          absl::StrCat(what, ": proof[", i, "] is ", h.size(), " bytes, not ", kHashSize));
    }
    Hash& out = proof.emplace_back();
    std::copy(h.begin(), h.end(), out.begin());
  }
  return proof;
}

}  // namespace infratrail
