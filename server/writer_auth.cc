#include "server/writer_auth.h"

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "core/check.h"
#include "core/io/file_util.h"
#include "prometheus/counter.h"

namespace infratrail {

WriterAuth::WriterAuth(const WriterAuthOptions& options)
    : tokens_file_(options.tokens_file),
      has_tokens_(!options.tokens_file.empty()),
      identities_(options.allowed_identities.begin(), options.allowed_identities.end()),
      rate_(options.rate_limit_events_per_s),
      tokens_(std::make_shared<const TokenMap>()) {}

absl::StatusOr<WriterAuth::TokenMap> WriterAuth::ReadTokens(const std::string& path) {
  absl::StatusOr<std::string> text = ReadFileToString(path);
  if (!text.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("--tokens-file: ", text.status().message()));
  }
  TokenMap tokens;
  absl::flat_hash_map<Hash, int> line_of;
  int line_no = 0;
  for (absl::string_view line : absl::StrSplit(*text, '\n')) {
    ++line_no;
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line[0] == '#') continue;
    std::vector<absl::string_view> parts =
        absl::StrSplit(line, absl::ByAnyChar(" \t"), absl::SkipEmpty());
    if (parts.size() != 2 || parts[1].size() < 16) {
      return absl::InvalidArgumentError(
          absl::StrCat("--tokens-file ", path, " line ", line_no,
                       ": want \"<writer-name> <token>\" with a token of at least 16 characters"));
    }
    // Only the hash is kept; lookups by hash take the same time whatever
    // prefix of a token an attacker guesses.
    const Hash h = Sha256(parts[1]);
    auto [it, inserted] = tokens.try_emplace(h, std::string(parts[0]));
    if (!inserted && it->second != parts[0]) {
      // Which writer a call came from must not depend on the file's order.
      return absl::InvalidArgumentError(
          absl::StrCat("--tokens-file ", path, " lines ", line_of[h], " and ", line_no,
                       ": one token is given to two writers (", it->second, ", ", parts[0], ")"));
    }
    line_of.try_emplace(h, line_no);
  }
  if (tokens.empty())
    return absl::InvalidArgumentError(absl::StrCat("--tokens-file ", path, ": no tokens"));
  return tokens;
}

size_t WriterAuth::CountWriters(const TokenMap& tokens) {
  absl::flat_hash_set<absl::string_view> writers;
  for (const auto& [hash, writer] : tokens) writers.insert(writer);
  return writers.size();
}

absl::StatusOr<std::unique_ptr<WriterAuth>> WriterAuth::Create(const WriterAuthOptions& options) {
  if (options.rate_limit_events_per_s < 0) {
    return absl::InvalidArgumentError("--rate-limit: must be >= 0 events/s");
  }
  std::unique_ptr<WriterAuth> auth(new WriterAuth(options));
  if (options.tokens_file.empty()) return auth;
  absl::StatusOr<TokenMap> tokens = ReadTokens(options.tokens_file);
  if (!tokens.ok()) return tokens.status();
  absl::MutexLock l(&auth->tokens_mu_);
  auth->tokens_ = std::make_shared<const TokenMap>(*std::move(tokens));
  return auth;
}

absl::StatusOr<WriterAuth::Reloaded> WriterAuth::ReloadTokens() {
  if (!has_tokens_) return absl::FailedPreconditionError("no --tokens-file to reload");
  absl::StatusOr<TokenMap> tokens = ReadTokens(tokens_file_);
  if (!tokens.ok()) return tokens.status();
  Reloaded r;
  r.writers_after = CountWriters(*tokens);
  auto fresh = std::make_shared<const TokenMap>(*std::move(tokens));
  absl::MutexLock l(&tokens_mu_);
  r.writers_before = CountWriters(*tokens_);
  tokens_.swap(fresh);
  return r;
}

size_t WriterAuth::token_writers() const {
  absl::ReaderMutexLock l(&tokens_mu_);
  return CountWriters(*tokens_);
}

absl::StatusOr<std::string> WriterAuth::Identify(std::optional<absl::string_view> authorization,
                                                 const std::vector<std::string>& peer_identities) {
  if (!required()) return std::string("anonymous");
  bool presented = false;
  if (authorization.has_value() && has_tokens_) {
    presented = true;
    absl::string_view value = *authorization;
    if (absl::ConsumePrefix(&value, "Bearer ")) {
      const Hash h = Sha256(value);
      absl::ReaderMutexLock l(&tokens_mu_);
      if (auto t = tokens_->find(h); t != tokens_->end()) return t->second;
    }
  }
  if (!identities_.empty() && !peer_identities.empty()) {
    presented = true;
    for (const std::string& id : peer_identities) {
      if (identities_.contains(id)) return id;
    }
  }
  if (presented) {
    return absl::PermissionDeniedError("AddEvents: credentials not allowed to write to this log");
  }
  return absl::UnauthenticatedError(
      "AddEvents: writer credentials required (bearer token or client certificate)");
}

absl::StatusOr<std::string> WriterAuth::Authenticate(const grpc::ServerContextBase& ctx) {
  if (!required()) return std::string("anonymous");
  std::optional<absl::string_view> authorization;
  const auto& md = ctx.client_metadata();
  if (auto it = md.find("authorization"); it != md.end()) {
    authorization = absl::string_view(it->second.data(), it->second.size());
  }
  std::vector<std::string> ids;
  if (!identities_.empty()) {
    std::shared_ptr<const grpc::AuthContext> auth = ctx.auth_context();
    if (auth != nullptr && auth->IsPeerAuthenticated()) {
      for (const char* prop : {"x509_common_name", "x509_subject_alternative_name"}) {
        for (const grpc::string_ref& v : auth->FindPropertyValues(prop)) {
          ids.emplace_back(v.data(), v.size());
        }
      }
    }
  }
  return Identify(authorization, ids);
}

absl::Status WriterAuth::Admit(const std::string& writer, size_t events) {
  if (rate_ <= 0) return absl::OkStatus();
  const absl::Time now = absl::Now();
  absl::MutexLock l(&mu_);
  auto [it, inserted] = buckets_.try_emplace(writer, Bucket{rate_, now});
  Bucket& b = it->second;
  b.tokens = std::min(rate_, b.tokens + rate_ * absl::ToDoubleSeconds(now - b.refilled));
  b.refilled = now;
  // A batch larger than the burst can never fit; let it through when the
  // bucket is full so a big batch is slowed, not refused forever.
  const double need = std::min(static_cast<double>(events), rate_);
  if (b.tokens < need) {
    return absl::ResourceExhaustedError(absl::StrCat("AddEvents: writer ", writer,
                                                     " is over its rate limit of ", rate_,
                                                     " events/s; retry later"));
  }
  b.tokens -= static_cast<double>(events);
  return absl::OkStatus();
}

namespace {

struct ProcessorState {
  WriterAuth* auth;
  prometheus::Counter* refused;
};

// Runs in gRPC's server auth filter on every call's initial metadata, on a
// transport thread, so it only hashes and looks up: it must not block.
void ProcessMetadata(void* state, grpc_auth_context* context, const grpc_metadata* md,
                     size_t num_md, grpc_process_auth_metadata_done_cb cb, void* user_data) {
  auto* s = static_cast<ProcessorState*>(state);
  const auto view = [](const grpc_slice& slice) {
    return absl::string_view(reinterpret_cast<const char*>(GRPC_SLICE_START_PTR(slice)),
                             GRPC_SLICE_LENGTH(slice));
  };
  bool writes = false;
  std::optional<absl::string_view> authorization;
  for (size_t i = 0; i < num_md; ++i) {
    const absl::string_view key = view(md[i].key);
    if (key == ":path") writes = view(md[i].value) == kAddEventsMethod;
    if (key == "authorization") authorization = view(md[i].value);
  }
  if (!writes) {
    cb(user_data, nullptr, 0, nullptr, 0, GRPC_STATUS_OK, nullptr);
    return;
  }
  std::vector<std::string> ids;
  if (context != nullptr && grpc_auth_context_peer_is_authenticated(context)) {
    for (const char* prop : {"x509_common_name", "x509_subject_alternative_name"}) {
      grpc_auth_property_iterator it = grpc_auth_context_find_properties_by_name(context, prop);
      while (const grpc_auth_property* p = grpc_auth_property_iterator_next(&it)) {
        ids.emplace_back(p->value, p->value_length);
      }
    }
  }
  absl::StatusOr<std::string> writer = s->auth->Identify(authorization, ids);
  if (writer.ok()) {
    cb(user_data, nullptr, 0, nullptr, 0, GRPC_STATUS_OK, nullptr);
    return;
  }
  if (s->refused != nullptr) s->refused->Increment();
  const std::string message(writer.status().message());
  cb(user_data, nullptr, 0, nullptr, 0, static_cast<grpc_status_code>(writer.status().code()),
     message.c_str());
}

// grpc::ServerCredentials over core credentials. gRPC's own C++ insecure
// credentials refuse an auth metadata processor; the core ones take it.
class CoreServerCredentials final : public grpc::ServerCredentials {
 public:
  explicit CoreServerCredentials(grpc_server_credentials* creds) : creds_(creds) {}
  ~CoreServerCredentials() override { grpc_server_credentials_release(creds_); }

  void SetAuthMetadataProcessor(const std::shared_ptr<grpc::AuthMetadataProcessor>&) override {
    INFRATRAIL_CHECK(false) << "CoreServerCredentials: set the processor on the core credentials";
  }

 private:
  int AddPortToServer(const std::string& addr, grpc_server* server) override {
    return grpc_server_add_http2_port(server, addr.c_str(), creds_);
  }

  grpc_server_credentials* const creds_;
};

}  // namespace

std::shared_ptr<grpc::ServerCredentials> AuthenticatingCredentials(grpc_server_credentials* core,
                                                                   WriterAuth* auth,
                                                                   prometheus::Counter* refused) {
  grpc_auth_metadata_processor processor;
  processor.process = ProcessMetadata;
  processor.destroy = [](void* state) { delete static_cast<ProcessorState*>(state); };
  processor.state = new ProcessorState{auth, refused};
  grpc_server_credentials_set_auth_metadata_processor(core, processor);
  return std::make_shared<CoreServerCredentials>(core);
}

}  // namespace infratrail
