#include "verifier/monitor/monitor_http.h"

#include <algorithm>
#include <utility>

#include "absl/strings/strip.h"
#include "core/hash.h"

namespace infratrail {
namespace {

constexpr absl::string_view kText = "text/plain; charset=utf-8";

HttpReply Text(int status, std::string text) {
  HttpReply r;
  r.status = status;
  r.text = std::move(text);
  r.content_type = kText;
  r.cache_control = "no-store";
  return r;
}

bool IsLowerHex64(absl::string_view s) {
  return s.size() == 64 && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

}  // namespace

void HttpRouter::Handle(const HttpRequest& request, HttpResponder respond) {
  if (request.method != "GET" && request.method != "HEAD") {
    HttpReply r = Text(405, "only GET and HEAD here\n");
    r.allow = "GET, HEAD";
    return std::move(respond)(std::move(r));
  }
  for (const Route& route : routes_) {
    if (std::optional<HttpReply> r = route(request)) return std::move(respond)(*std::move(r));
  }
  std::move(respond)(Text(404, "not found\n"));
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
    absl::string_view path = request.url;
    if (!absl::ConsumePrefix(&path, "/") || !absl::ConsumeSuffix(&path, "/checkpoint") ||
        !IsLowerHex64(path)) {
      return std::nullopt;
    }
    std::optional<std::string> note = views->Find(path);
    if (!note.has_value()) {
      return Text(404, "this monitor has not verified a checkpoint of that log\n");
    }
    return Text(200, *std::move(note));
  };
}

}  // namespace infratrail
