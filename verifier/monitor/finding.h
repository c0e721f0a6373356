// What the monitor reports. Security findings (the log lied, or an event
// breaks the auditor's policy) and operational events (the log could not be
// read) are different types on purpose: an operational problem becomes a
// finding only through the monitor's staleness rule, never by itself.
#ifndef INFRATRAIL_VERIFIER_MONITOR_FINDING_H_
#define INFRATRAIL_VERIFIER_MONITOR_FINDING_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"

namespace infratrail {

enum class Severity {
  kCritical,  // the log lied: fork, rollback, bad signature, root or tile mismatch
  kAlert,     // policy (and a monitor that has not verified for --stale-after)
  kWarning,   // an entry that does not parse; policy soft rules
  kNotice,    // a policy `notify` rule matched: nothing is wrong, the auditor asked to know
};
absl::string_view SeverityName(Severity s);
absl::StatusOr<Severity> ParseSeverity(absl::string_view name);

// A file kept with a CRITICAL finding, written to its evidence directory.
struct EvidenceFile {
  std::string name;  // a plain file name, no directories
  std::string bytes;
};

struct Finding {
  absl::Time time;
  Severity severity = Severity::kCritical;
  std::string rule;    // e.g. "log.fork", "entry.unparseable", a policy rule id
  std::string origin;  // the log's origin line
  std::optional<uint64_t> index;
  std::string leaf_hash;  // base64, when the finding is about one entry
  std::string resource;   // provider/type/id, for events
  std::string actor;      // actor.principal, for events
  std::string kind;       // the event's kind (EventKind name), for events
  // For policy findings: the requirement that failed ("ticket",
  // "source_in_repo", ...), or "notify".
  std::string requirement;
  std::string message;
  // Set by the monitor when it wrote the evidence: the directory, relative
  // to the state directory.
  std::string evidence;
  // Unique per state directory, increasing: lets a receiver drop a
  // duplicate delivered around a crash.
  uint64_t seq = 0;

  // Files written to the evidence directory; not part of the JSON.
  std::vector<EvidenceFile> evidence_files;

  // The documented schema (docs/monitor.md), one object.
  nlohmann::json ToJson() const;
  // InvalidArgument naming the missing or mistyped field.
  static absl::StatusOr<Finding> FromJson(const nlohmann::json& j);
};

// An operational problem in a round (unreachable, timeout, HTTP 5xx, a
// malformed response): reported on stderr and in metrics, never as a finding.
struct OperationalEvent {
  std::string origin;
  std::string kind;  // "unreachable", "timeout", "http_status", "malformed", ...
  std::string message;
  nlohmann::json ToJson(absl::Time time) const;
};

}  // namespace infratrail

#endif  // INFRATRAIL_VERIFIER_MONITOR_FINDING_H_
