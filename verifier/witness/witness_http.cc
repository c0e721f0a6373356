#include "verifier/witness/witness_http.h"

#include <memory>
#include <sstream>
#include <utility>

#include "absl/strings/match.h"
#include "nlohmann/json.hpp"
#include "prometheus/text_serializer.h"

namespace infratrail {

WitnessHttpHandler::WitnessHttpHandler(Witness* witness, const KnownLogs* logs,
                                       const WitnessStore* store, WitnessMetrics* metrics,
                                       WitnessHttpOptions options)
    : witness_(witness),
      logs_(logs),
      store_(store),
      metrics_(metrics),
      options_(std::move(options)) {}

void WitnessHttpHandler::Handle(const HttpRequest& request, HttpResponder respond) {
  const absl::Time start = absl::Now();
  if (request.url == "/add-checkpoint") {
    if (request.method != "POST") {
      HttpReply r = TextReply(405, "add-checkpoint takes POST\n");
      r.allow = "POST";
      if (metrics_ != nullptr) metrics_->Request("add-checkpoint", 405, "", absl::Now() - start);
      return std::move(respond)(std::move(r));
    }
    witness_->AddCheckpoint(request.body, [respond = std::move(respond), start,
                                           metrics = metrics_](WitnessReply w) mutable {
      if (metrics != nullptr) {
        metrics->Request("add-checkpoint", w.status, w.origin, absl::Now() - start);
      }
      HttpReply r = TextReply(w.status, std::move(w.body), w.content_type);
      r.retry_after_s = w.retry_after_s;
      std::move(respond)(std::move(r));
    });
    return;
  }
  const bool head = request.method == "HEAD";
  HttpReply r;
  if (request.method != "GET" && !head) {
    r = TextReply(405, "only GET and HEAD here\n");
    r.allow = "GET, HEAD";
  } else {
    r = Get(request.url);
  }
  if (metrics_ != nullptr) {
    const absl::string_view route = request.url == "/metrics"                    ? "metrics"
                                    : request.url == "/witness.json"             ? "witness.json"
                                    : absl::EndsWith(request.url, "/checkpoint") ? "checkpoint"
                                                                                 : "other";
    metrics_->Request(route, r.status, "", absl::Now() - start);
  }
  std::move(respond)(std::move(r));
}

void WitnessHttpHandler::SetPublicUrl(std::string url) {
  absl::MutexLock l(&mu_);
  options_.public_url = std::move(url);
}

HttpReply WitnessHttpHandler::Get(absl::string_view url) {
  if (url == "/metrics") {
    if (metrics_ != nullptr) {
      metrics_->logs.Set(static_cast<double>(logs_->size()));
      metrics_->state_bytes.Set(static_cast<double>(store_->bytes()));
      metrics_->healthy.Set(store_->health().ok() ? 1 : 0);
      metrics_->commit_batches.Set(static_cast<double>(store_->batches()));
      const prometheus::TextSerializer serializer;
      std::ostringstream out;
      serializer.Serialize(out, metrics_->registry().Collect());
      return TextReply(200, out.str(), "text/plain; version=0.0.4; charset=utf-8");
    }
    return TextReply(404, "no metrics\n");
  }
  if (url == "/witness.json") {
    std::string prefix;
    {
      absl::MutexLock l(&mu_);
      prefix = options_.public_url;
    }
    nlohmann::json j = {
        {"name", witness_->key().name()}, {"vkey", witness_->key().CosignatureVerifierKey()},
        {"submission_prefix", prefix},    {"monitoring_prefix", prefix},
        {"logs", logs_->size()},          {"healthy", store_->health().ok()},
    };
    HttpReply r = TextReply(200, j.dump() + "\n", "application/json");
    r.cache_control = "max-age=60";
    return r;
  }
  if (std::optional<absl::string_view> origin_hash = CheckpointPathOriginHash(url)) {
    std::optional<std::string> note = witness_->CheckpointByOriginHash(*origin_hash);
    if (!note) return TextReply(404, "this witness has not cosigned a checkpoint of that log\n");
    HttpReply r = TextReply(200, *std::move(note));
    // Monitors compare views through it; a cache in front may lag a little.
    r.cache_control = "max-age=5";
    return r;
  }
  return TextReply(404, "not found\n");
}

}  // namespace infratrail
