// Ingest adapters turn records of an audit trail operators already have (a
// Kubernetes audit event, a CloudTrail record, a Terraform plan) into
// InfraEvents. docs/ingest.md has each adapter's mapping table; this file is
// the interface every adapter implements and the helpers they share.
//
// A mapper is pure: the same record bytes always give the same events, byte
// for byte once serialized (SerializeEvent), so re-reading a file yields
// entries the log already holds and reports them as duplicates. Nothing in a
// mapping may depend on the clock, the host or the order records arrive in.
//
// What a record becomes, each outcome counted and never dropped silently:
//  - kEvent: an InfraEvent to log (it passes ValidateEntry);
//  - kSkipped: deliberately not logged, for a reason named like a rule
//    ("read-only", "stage", "failed", "no-op"), documented per adapter;
//  - kUnmapped: the adapter does not know what it is, or a field the event
//    needs is missing or malformed; `reason` names the field.
// One record may give several outcomes (a Terraform plan gives one per
// resource change; a `replace` gives a DEPROVISION and a PROVISION).
#ifndef INFRATRAIL_CLIENT_INGEST_MAPPING_H_
#define INFRATRAIL_CLIENT_INGEST_MAPPING_H_

#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "infratrail/v1/event.pb.h"
#include "simdjson.h"

namespace infratrail::ingest {

struct MappedItem {
  enum class Kind { kEvent, kSkipped, kUnmapped };
  Kind kind = Kind::kUnmapped;
  // Where in the record, appended to the record's position with ':'
  // ("resource_changes[3]", "resource_changes[3]:delete"); empty: the record
  // itself.
  std::string where;
  v1::InfraEvent event;  // kEvent
  // kSkipped: the reason, a short rule-like name ("read-only").
  // kUnmapped: why, naming the field: `eventName "StartInstances" is not in
  // the mapping table`, `responseElements.instancesSet: missing (no resource)`.
  std::string reason;
};

using Mapping = std::vector<MappedItem>;

class Mapper {
 public:
  virtual ~Mapper() = default;

  // The adapter's name as typed on the command line ("cloudtrail").
  virtual absl::string_view name() const = 0;

  // Keys of a top-level JSON object whose array value holds records
  // ("Records" for CloudTrail files, "items" for a Kubernetes EventList,
  // "entries" for a Cloud Logging entries.list response). An input value
  // that is an object with one of these keys is split into records; a
  // top-level JSON array is always split; any other object is one record.
  virtual std::vector<std::string_view> container_keys() const = 0;

  // Maps one record: `record` is its parsed JSON, `raw` its exact bytes as
  // read (for a record digest). Never throws; bad records are kUnmapped.
  virtual Mapping Map(simdjson::dom::element record, std::string_view raw) const = 0;
};

// simdjson speaks std::string_view, absl (StrCat, ...) its own string_view.
inline absl::string_view Av(std::string_view s) { return absl::string_view(s.data(), s.size()); }

// Helpers for mappers, over simdjson's DOM. A "path" is a dotted list of
// object keys ("userIdentity.sessionContext.sessionIssuer.arn").

// The string at `path`, or nullopt when any step is missing, null or not of
// the right type.
std::optional<std::string_view> GetString(simdjson::dom::element e, std::string_view path);
// Why the string at `path` cannot be used, for Unmapped: "eventName:
// missing", "eventName: empty", "eventName: a number, not a string".
std::string NoString(simdjson::dom::element e, std::string_view path);
// The first of `paths` present with a value that is neither a string nor
// null, as NoString names it ("objectRef.namespace: a number, not a
// string"); nullopt when there is none. For optional fields an adapter
// would otherwise read as absent: a wrong type is unmapped, never a guess.
std::optional<std::string> WrongType(simdjson::dom::element e,
                                     std::initializer_list<std::string_view> paths);
// The element at `path`, or nullopt when any step is missing or null.
std::optional<simdjson::dom::element> Get(simdjson::dom::element e, std::string_view path);
// The integer at `path` (a JSON integer, or a string holding one: Kubernetes
// and Cloud Logging write some numbers as strings), or nullopt.
std::optional<int64_t> GetInt(simdjson::dom::element e, std::string_view path);

// Sets event->occurred_at from an RFC 3339 timestamp ("2026-12-01T10:00:00Z",
// fractional seconds and offsets allowed). InvalidArgument naming `field`
// when it does not parse or is out of the Timestamp range.
absl::Status SetOccurredAt(std::string_view rfc3339, std::string_view field, v1::InfraEvent* event);

// Lowercase hex SHA-256 of `bytes`.
std::string Sha256Hex(std::string_view bytes);

// The proto3 JSON of `event` with keys sorted, on one line (for --dry-run
// and the golden files).
std::string EventToSortedJson(const v1::InfraEvent& event);

// ValidateEntry (proto/entry_validation.h) for an event a mapper built and
// `data`, its serialization by SerializeEvent, without parsing `data` back:
// the same size and field checks and messages, and every string valid
// UTF-8 (what parsing would check). A built event has no unknown fields and
// SerializeEvent is deterministic, so the encoding is canonical by
// construction. An event with signatures (bytes no longer SerializeEvent's)
// must go through ValidateEntry.
absl::Status ValidateMappedEvent(const v1::InfraEvent& event, absl::string_view data,
                                 absl::string_view field);

// The check before an event is sent, field "event": unsigned, `event` as
// built with ValidateMappedEvent; signed (its `data` carries emitter
// signatures), `data` whole with ValidateEntry.
absl::Status ValidateToSend(const v1::InfraEvent& event, absl::string_view data, bool signed_data);

// One value a mapper copies into an event is at most this long: an entry
// is at most 64 KiB and an event copies about ten values (an AWS ARN is at
// most 2048 bytes).
inline constexpr size_t kMaxValueBytes = 2048;

// "" if every (field, value) is at most kMaxValueBytes; else why the first
// is not, for Unmapped: `eventID: 3000 bytes, more than 2048: "abc..."`.
std::string FirstOverlongValue(
    absl::Span<const std::pair<std::string_view, std::string_view>> values);

// True if `name` begins with the word `verb`: `verb`, then the end or an
// upper-case letter, the first letters compared in either case ("Create"
// and "create" match "CreateBucket" and "createBucket", not "Createx").
// CloudTrail's eventName and Cloud Audit Logs' methods are named so.
bool HasVerb(std::string_view name, std::string_view verb);
bool HasAnyVerb(std::string_view name, absl::Span<const std::string_view> verbs);

// Outcome builders.
MappedItem Skipped(std::string reason, std::string where = "");
MappedItem Unmapped(std::string reason, std::string where = "");
MappedItem Event(v1::InfraEvent event, std::string where = "");

// `s` shortened to at most `max` bytes (at a UTF-8 boundary) with "..."
// appended when cut, control characters as \xNN, for quoting record values
// in reasons (which go to stderr).
std::string Excerpt(std::string_view s, size_t max = 80);

}  // namespace infratrail::ingest

#endif  // INFRATRAIL_CLIENT_INGEST_MAPPING_H_
