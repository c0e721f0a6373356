// The auditor's console (docs/console.md): static pages and a read-only JSON
// API on the monitor's --http-addr port.
//
//   GET /                      status of every log followed
//   GET /findings              findings, filterable
//   GET /events                search of the verified events
//   GET /events/<index>        one event
//   GET /static/<file>         the page's script and style (embedded)
//   GET /api/v1/logs
//   GET /api/v1/findings?log=&severity=&rule=&kind=&resource=&actor=&from=&to=&before=&limit=
//   GET /api/v1/findings/<seq>/evidence/<file>?log=
//   GET /api/v1/events?log=&provider=&type=&resource_id=&actor=&kind=&from=&to=&before=&limit=
//   GET /api/v1/events/<index>?log=
//
// `log` is the SHA-256 (hex) of a log's origin, as /api/v1/logs lists it;
// it may be left out when the monitor follows one log. Every value that
// came from a log (event fields, findings about them) is attacker-chosen:
// the API returns it as JSON strings, and the page only ever sets it as
// text (never as markup), under a Content-Security-Policy that allows no
// inline script.
//
// Thread-safe: requests are answered on the HTTP server's polling threads
// while the monitor's main thread publishes.
#ifndef INFRATRAIL_VERIFIER_MONITOR_CONSOLE_H_
#define INFRATRAIL_VERIFIER_MONITOR_CONSOLE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "verifier/monitor/monitor_http.h"

namespace infratrail {

class EventIndex;

// What the console shows of one log, as of the end of the monitor's last
// round of it.
struct ConsoleLogView {
  std::string origin;
  std::string log_url;    // as configured: http(s)://BASE or grpc(s)://HOST:PORT
  std::string tiles_url;  // BASE/ when the log serves tiles over http(s); "" otherwise
  std::string log_key;    // the verifier key
  std::vector<std::string> witness_keys;  // the cosignature verifier keys of the quorum
  size_t witness_threshold = 0;
  uint64_t verified_size = 0;                 // of the trusted checkpoint
  uint64_t log_size = 0;                      // of the latest checkpoint read
  std::string trusted_checkpoint;             // the note, as the log served it
  std::vector<std::string> cosigned_by;       // witnesses whose cosignature verified on it
  absl::Time started = absl::InfinitePast();  // since when the monitor follows the log
  absl::Time last_round = absl::InfinitePast();
  std::string last_outcome;  // "verified", "incomplete: <kind>: <message>", ...
  absl::Time last_success = absl::InfinitePast();
  uint64_t operational_errors = 0;  // since the monitor started
  std::string last_operational;     // the latest one's "<kind>: <message>"
  absl::Time last_operational_time = absl::InfinitePast();
  // The log's state directory (evidence files are under it) and its event
  // index; null for a log whose entries are not InfraEvents.
  std::string state_dir;
  std::shared_ptr<EventIndex> index;
};

class ConsoleViews {
 public:
  // Replaces the view of the log with the same origin.
  void Publish(ConsoleLogView view) ABSL_LOCKS_EXCLUDED(mu_);
  // Drops the logs not among `origins` (after a reload).
  void Retain(const std::vector<std::string>& origins) ABSL_LOCKS_EXCLUDED(mu_);
  // Every log, in the order first published.
  std::vector<std::shared_ptr<const ConsoleLogView>> All() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  mutable absl::Mutex mu_;
  std::vector<std::shared_ptr<const ConsoleLogView>> views_ ABSL_GUARDED_BY(mu_);
};

// The console's routes; `views` must outlive them.
void AddConsoleRoutes(const ConsoleViews* views, HttpRouter* router);

}  // namespace infratrail

#endif  // INFRATRAIL_VERIFIER_MONITOR_CONSOLE_H_
