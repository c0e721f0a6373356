#include "server/writer_auth.h"

#include <grpcpp/grpcpp.h>

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "core/io/file_util.h"

namespace infratrail {

WriterAuth::WriterAuth(const WriterAuthOptions& options)
    : identities_(options.allowed_identities.begin(), options.allowed_identities.end()),
      rate_(options.rate_limit_events_per_s) {}

absl::StatusOr<std::unique_ptr<WriterAuth>> WriterAuth::Create(const WriterAuthOptions& options) {
  std::unique_ptr<WriterAuth> auth(new WriterAuth(options));
  if (options.rate_limit_events_per_s < 0) {
    return absl::InvalidArgumentError("--rate-limit: must be >= 0 events/s");
  }
  if (options.tokens_file.empty()) return auth;
  absl::StatusOr<std::string> text = ReadFileToString(options.tokens_file);
  if (!text.ok()) return text.status();
  int line_no = 0;
  for (absl::string_view line : absl::StrSplit(*text, '\n')) {
    ++line_no;
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line[0] == '#') continue;
    std::vector<absl::string_view> parts =
        absl::StrSplit(line, absl::ByAnyChar(" \t"), absl::SkipEmpty());
    if (parts.size() != 2 || parts[1].size() < 16) {
      return absl::InvalidArgumentError(
          absl::StrCat("--tokens-file ", options.tokens_file, " line ", line_no,
                       ": want \"<writer-name> <token>\" with a token of at least 16 characters"));
    }
    // Only the hash is kept; lookups by hash take the same time whatever
    // prefix of a token an attacker guesses.
    auth->tokens_.emplace(Sha256(parts[1]), std::string(parts[0]));
  }
  if (auth->tokens_.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("--tokens-file ", options.tokens_file, ": no tokens"));
  }
  return auth;
}

absl::StatusOr<std::string> WriterAuth::Authenticate(const grpc::ServerContextBase& ctx) {
  if (!required()) return std::string("anonymous");
  bool presented = false;
  const auto& md = ctx.client_metadata();
  if (auto it = md.find("authorization"); it != md.end() && !tokens_.empty()) {
    presented = true;
    absl::string_view value(it->second.data(), it->second.size());
    if (absl::ConsumePrefix(&value, "Bearer ")) {
      if (auto t = tokens_.find(Sha256(value)); t != tokens_.end()) return t->second;
    }
  }
  if (!identities_.empty()) {
    std::shared_ptr<const grpc::AuthContext> auth = ctx.auth_context();
    if (auth != nullptr && auth->IsPeerAuthenticated()) {
      presented = true;
      for (const char* prop : {"x509_common_name", "x509_subject_alternative_name"}) {
        for (const grpc::string_ref& v : auth->FindPropertyValues(prop)) {
          std::string id(v.data(), v.size());
          if (identities_.contains(id)) return id;
        }
      }
    }
  }
  if (presented) {
    return absl::PermissionDeniedError("AddEvents: credentials not allowed to write to this log");
  }
  return absl::UnauthenticatedError(
      "AddEvents: writer credentials required (bearer token or client certificate)");
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

}  // namespace infratrail
