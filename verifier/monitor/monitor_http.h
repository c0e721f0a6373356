// The monitor's own HTTP port (--http-addr, off by default): what it has
// verified, for other monitors to gossip with (docs/monitor.md, "Gossip").
//
//   GET|HEAD /<sha256hex(origin)>/checkpoint
//       the latest checkpoint note the monitor has verified for that log,
//       as the log served it (with its cosignatures): 200 text/plain; 404
//       for a log it does not follow or has not verified a checkpoint of.
//
// Routes are matched in the order they were added, so more (a web console)
// can share the port. Thread-safe: requests are answered on the server's
// polling threads while the monitor's main thread publishes.
#ifndef INFRATRAIL_VERIFIER_MONITOR_MONITOR_HTTP_H_
#define INFRATRAIL_VERIFIER_MONITOR_MONITOR_HTTP_H_

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "core/http/http_server.h"

namespace infratrail {

// Dispatches each request to the first route that takes it; 404 if none
// does, 405 for a method other than GET and HEAD (the transport drops the
// body of a HEAD answer).
class HttpRouter final : public HttpHandler {
 public:
  // Answers `request`, or nullopt to leave it to the next route. Must be
  // quick (it runs on a polling thread) and thread-safe.
  using Route = std::function<std::optional<HttpReply>(const HttpRequest& request)>;

  // Only before the router is handed to a server.
  void Add(Route route) { routes_.push_back(std::move(route)); }

  void Handle(const HttpRequest& request, HttpResponder respond) override;

 private:
  std::vector<Route> routes_;
};

// The latest verified checkpoint note per log, by SHA-256 of the origin.
class CheckpointViews {
 public:
  void Publish(absl::string_view origin, std::string note) ABSL_LOCKS_EXCLUDED(mu_);
  void Forget(absl::string_view origin) ABSL_LOCKS_EXCLUDED(mu_);
  // `origin_hash`: 64 lowercase hex digits.
  std::optional<std::string> Find(absl::string_view origin_hash) const ABSL_LOCKS_EXCLUDED(mu_);

  // The route for GET /<sha256hex(origin)>/checkpoint. `views` must outlive
  // the route.
  static HttpRouter::Route Route(const CheckpointViews* views);

 private:
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, std::string> notes_ ABSL_GUARDED_BY(mu_);
};

}  // namespace infratrail

#endif  // INFRATRAIL_VERIFIER_MONITOR_MONITOR_HTTP_H_
