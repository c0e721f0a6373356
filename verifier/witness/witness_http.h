// The witness's HTTP API (docs/witness.md, "HTTP API"), on the shared
// transport (core/http/http_server.h):
//
//   POST     /add-checkpoint             C2SP tlog-witness (witness.h)
//   GET|HEAD /<sha256hex(origin)>/checkpoint
//                                        the latest checkpoint cosigned for
//                                        that log, with the log's signatures
//                                        and the witness's cosignature; 404
//                                        if none
//   GET|HEAD /witness.json               name, cosignature key, URL prefixes
//   GET      /metrics                    Prometheus text format
//
// Anything else is 404, a known path with another method 405. Thread-safe.
#ifndef INFRATRAIL_VERIFIER_WITNESS_WITNESS_HTTP_H_
#define INFRATRAIL_VERIFIER_WITNESS_WITNESS_HTTP_H_

#include <string>

#include "absl/synchronization/mutex.h"
#include "core/http/http_server.h"
#include "verifier/witness/witness.h"
#include "verifier/witness/witness_metrics.h"

namespace infratrail {

struct WitnessHttpOptions {
  // The URL prefix this witness is reached at (for witness.json), e.g.
  // "https://witness.example.org"; empty: "http://<listen address>".
  std::string public_url;
};

class WitnessHttpHandler : public HttpHandler {
 public:
  // All must outlive the handler; `store` only feeds the metrics.
  WitnessHttpHandler(Witness* witness, const KnownLogs* logs, const WitnessStore* store,
                     WitnessMetrics* metrics, WitnessHttpOptions options);

  void Handle(const HttpRequest& request, HttpResponder respond) override;

  // Replaces options.public_url (once the listening port is known).
  void SetPublicUrl(std::string url) ABSL_LOCKS_EXCLUDED(mu_);

 private:
  HttpReply Get(absl::string_view url);  // HEAD: the transport drops the body

  Witness* const witness_;
  const KnownLogs* const logs_;
  const WitnessStore* const store_;
  WitnessMetrics* const metrics_;
  mutable absl::Mutex mu_;
  WitnessHttpOptions options_ ABSL_GUARDED_BY(mu_);
};

}  // namespace infratrail

#endif  // INFRATRAIL_VERIFIER_WITNESS_WITNESS_HTTP_H_
