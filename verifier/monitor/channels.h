// Where findings go: stdout (one JSON line each), a webhook (POST of the
// same JSON, 2xx = delivered) and a command run per finding (exit 0 =
// delivered). The monitor spools each finding with the channels still owed
// and retries a failed channel with exponential backoff, across restarts.
#ifndef INFRATRAIL_VERIFIER_MONITOR_CHANNELS_H_
#define INFRATRAIL_VERIFIER_MONITOR_CHANNELS_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "core/http/http_fetcher.h"
#include "verifier/monitor/finding.h"

namespace infratrail {

class Channel {
 public:
  virtual ~Channel() = default;
  // "stdout", "webhook" or "exec": the name kept in the spool.
  virtual std::string name() const = 0;
  // OK once the finding is delivered; Unavailable (retry later) otherwise.
  virtual absl::Status Deliver(const Finding& f) = 0;

  // Backoff after failures: 1 s doubling to 5 min; reset by a success.
  bool Ready(absl::Time now) const { return now >= retry_at_; }
  void Failed(absl::Time now);
  void Succeeded() {
    failures_ = 0;
    retry_at_ = absl::InfinitePast();
  }

 private:
  int failures_ = 0;
  absl::Time retry_at_ = absl::InfinitePast();
};

std::unique_ptr<Channel> StdoutChannel();
// POSTs application/json to `url`; any 2xx is delivered.
std::unique_ptr<Channel> WebhookChannel(std::string url, std::unique_ptr<HttpFetcher> fetcher);
// Runs `/bin/sh -c command` with the finding in the environment:
// INFRATRAIL_FINDING (the JSON), INFRATRAIL_SEVERITY, INFRATRAIL_RULE,
// INFRATRAIL_ORIGIN, INFRATRAIL_INDEX, INFRATRAIL_MESSAGE, INFRATRAIL_EVIDENCE,
// INFRATRAIL_SEQ; the JSON on its stdin too. Killed after `timeout`.
std::unique_ptr<Channel> ExecChannel(std::string command, absl::Duration timeout);

}  // namespace infratrail

#endif  // INFRATRAIL_VERIFIER_MONITOR_CHANNELS_H_
