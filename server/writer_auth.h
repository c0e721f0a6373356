// WriterAuth: who may append, and how fast. Readers are never
// authenticated; AddEvents calls go through Authenticate then Admit.
//
// Credentials, either or both:
//   - bearer tokens from a file, one "<writer-name> <token>" per line
//     (blank lines and '#' comments ignored), sent as the call metadata
//     "authorization: Bearer <token>"; ReloadTokens re-reads the file
//     (the server does so on SIGHUP);
//   - mutual TLS: a client certificate verified against the configured CA
//     whose subject CN or a SAN equals an allowlisted identity.
// With neither configured, every caller is the writer "anonymous" (the
// server refuses that on a non-loopback address unless told otherwise).
//
// AuthenticatingCredentials makes the same decision in gRPC's auth filter,
// from the call's initial metadata, so an AddEvents call without writer
// credentials is refused before its message (up to 72 MiB) is read or
// parsed; Authenticate in the handler stays the authority.
//
// Rate limit: a token bucket per writer (events/s, burst of one second's
// worth), so one noisy pipeline cannot starve the others.
//
// Thread-safe.
#ifndef INFRATRAIL_SERVER_WRITER_AUTH_H_
#define INFRATRAIL_SERVER_WRITER_AUTH_H_

#include <grpc/grpc_security.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "core/hash.h"

namespace grpc {
class ServerContextBase;
class ServerCredentials;
}  // namespace grpc
namespace prometheus {
class Counter;
}

namespace infratrail {

struct WriterAuthOptions {
  std::string tokens_file;                      // empty: no bearer tokens
  std::vector<std::string> allowed_identities;  // mTLS CN/SAN allowlist
  double rate_limit_events_per_s = 0;           // 0: unlimited
};

// The full method name whose calls need writer credentials.
inline constexpr char kAddEventsMethod[] = "/infratrail.v1.Log/AddEvents";

class WriterAuth {
 public:
  // InvalidArgument naming the file and line for a malformed tokens file,
  // and naming both lines for one token given to two writers.
  static absl::StatusOr<std::unique_ptr<WriterAuth>> Create(const WriterAuthOptions& options);

  // True if any writer credential is configured.
  bool required() const { return has_tokens_ || !identities_.empty(); }

  // The writer's name. Unauthenticated when credentials are required and
  // none were presented; PermissionDenied when they were presented but are
  // not allowed (unknown token, certificate identity not on the allowlist).
  absl::StatusOr<std::string> Authenticate(const grpc::ServerContextBase& ctx);

  // Authenticate's decision from its parts: the "authorization" metadata
  // value if sent, and the verified peer's certificate identities (CN and
  // SANs; empty when the peer is not authenticated).
  absl::StatusOr<std::string> Identify(std::optional<absl::string_view> authorization,
                                       const std::vector<std::string>& peer_identities);

  // Takes `events` from the writer's bucket, or ResourceExhausted.
  absl::Status Admit(const std::string& writer, size_t events);

  // Re-reads the tokens file. On success the new tokens replace the old
  // ones at once (calls already admitted are unaffected) and the number of
  // distinct writers before and after is returned; on any error (unreadable,
  // malformed, empty, a token given to two writers) the old tokens stay and
  // the error says why. FailedPrecondition without a tokens file.
  struct Reloaded {
    size_t writers_before = 0;
    size_t writers_after = 0;
  };
  absl::StatusOr<Reloaded> ReloadTokens();

  // Distinct writer names in the tokens file.
  size_t token_writers() const;

 private:
  using TokenMap = absl::flat_hash_map<Hash, std::string>;  // SHA-256(token) -> writer
  explicit WriterAuth(const WriterAuthOptions& options);
  static absl::StatusOr<TokenMap> ReadTokens(const std::string& path);
  static size_t CountWriters(const TokenMap& tokens);

  struct Bucket {
    double tokens = 0;
    absl::Time refilled;
  };

  const std::string tokens_file_;
  const bool has_tokens_;
  const absl::flat_hash_set<std::string> identities_;
  const double rate_;
  mutable absl::Mutex tokens_mu_;
  std::shared_ptr<const TokenMap> tokens_ ABSL_GUARDED_BY(tokens_mu_);
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, Bucket> buckets_ ABSL_GUARDED_BY(mu_);
};

// Server credentials over gRPC core credentials `core` (ownership taken:
// grpc_insecure_server_credentials_create() or an SSL one) whose auth
// filter refuses AddEvents calls `auth` would refuse, with the same status,
// from the initial metadata: before the request message is read. Other
// methods pass. `refused` (may be null) counts those refusals. `auth` and
// `refused` must outlive the server.
std::shared_ptr<grpc::ServerCredentials> AuthenticatingCredentials(grpc_server_credentials* core,
                                                                   WriterAuth* auth,
                                                                   prometheus::Counter* refused);

}  // namespace infratrail

#endif  // INFRATRAIL_SERVER_WRITER_AUTH_H_
