#include "verifier/monitor/monitor_http.h"

#include <optional>
#include <utility>

#include "core/hash.h"

namespace infratrail {

void HttpRouter::Handle(const HttpRequest& request, HttpResponder respond) {
  if (request.method != "GET" && request.method != "HEAD") {
    HttpReply r = TextReply(405, "only GET and HEAD here\n");
    r.allow = "GET, HEAD";
    return std::move(respond)(std::move(r));
  }
  for (const Route& route : routes_) {
    if (std::optional<HttpReply> r = route(request)) return std::move(respond)(*std::move(r));
  }
  std::move(respond)(TextReply(404, "not found\n"));
}

void CheckpointViews::Publish(absl::string_view origin, std::string note) {
  const std::string key = HashToHex(Sha256(origin));
  absl::MutexLock l(&mu_);
  notes_[key] = std::move(note);
}

void CheckpointViews::Forget(absl::string_view origin) {
  const std::string key = HashToHex(Sha256(origin));
  absl::MutexLock l(&mu_);
  notes_.erase(key);
}

std::optional<std::string> CheckpointViews::Find(absl::string_view origin_hash) const {
  absl::MutexLock l(&mu_);
  auto it = notes_.find(origin_hash);
  if (it == notes_.end()) return std::nullopt;
  return it->second;
}

HttpRouter::Route CheckpointViews::Route(const CheckpointViews* views) {
  return [views](const HttpRequest& request) -> std::optional<HttpReply> {
    std::optional<absl::string_view> origin_hash = CheckpointPathOriginHash(request.url);
    if (!origin_hash.has_value()) return std::nullopt;
    std::optional<std::string> note = views->Find(*origin_hash);
    if (!note.has_value()) {
      return TextReply(404, "this monitor has not verified a checkpoint of that log\n");
    }
    return TextReply(200, *std::move(note));
  };
}

}  // namespace infratrail
