// WriterAuth: who may append, and how fast. Readers are never
// authenticated; AddEvents calls go through Authenticate then Admit.
//
// Credentials, either or both:
//   - bearer tokens from a file, one "<writer-name> <token>" per line
//     (blank lines and '#' comments ignored), sent as the call metadata
//     "authorization: Bearer <token>";
//   - mutual TLS: a client certificate verified against the configured CA
//     whose subject CN or a SAN equals an allowlisted identity.
// With neither configured, every caller is the writer "anonymous" (the
// server refuses that on a non-loopback address unless told otherwise).
//
// Rate limit: a token bucket per writer (events/s, burst of one second's
// worth), so one noisy pipeline cannot starve the others.
//
// Thread-safe.
#ifndef INFRATRAIL_SERVER_WRITER_AUTH_H_
#define INFRATRAIL_SERVER_WRITER_AUTH_H_

#include <memory>
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
}

namespace infratrail {

struct WriterAuthOptions {
  std::string tokens_file;                      // empty: no bearer tokens
  std::vector<std::string> allowed_identities;  // mTLS CN/SAN allowlist
  double rate_limit_events_per_s = 0;           // 0: unlimited
};

class WriterAuth {
 public:
  // InvalidArgument naming the file and line for a malformed tokens file.
  static absl::StatusOr<std::unique_ptr<WriterAuth>> Create(const WriterAuthOptions& options);

  // True if any writer credential is configured.
  bool required() const { return !tokens_.empty() || !identities_.empty(); }

  // The writer's name. Unauthenticated when credentials are required and
  // none were presented; PermissionDenied when they were presented but are
  // not allowed (unknown token, certificate identity not on the allowlist).
  absl::StatusOr<std::string> Authenticate(const grpc::ServerContextBase& ctx);

  // Takes `events` from the writer's bucket, or ResourceExhausted.
  absl::Status Admit(const std::string& writer, size_t events);

 private:
  explicit WriterAuth(const WriterAuthOptions& options);

  struct Bucket {
    double tokens = 0;
    absl::Time refilled;
  };

  absl::flat_hash_map<Hash, std::string> tokens_;  // SHA-256(token) -> writer
  absl::flat_hash_set<std::string> identities_;
  const double rate_;
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, Bucket> buckets_ ABSL_GUARDED_BY(mu_);
};

}  // namespace infratrail

#endif  // INFRATRAIL_SERVER_WRITER_AUTH_H_
