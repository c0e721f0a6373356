// Validation of submitted entries: the one place that decides what the log
// accepts (STYLE.md: validation in one place that names the bad field). The
// server enforces it; clients check the same rules before sending, so a bad
// event is refused before anything after it is sent. docs/formats.md ("What
// the log accepts") is the specification.
#ifndef INFRATRAIL_PROTO_ENTRY_VALIDATION_H_
#define INFRATRAIL_PROTO_ENTRY_VALIDATION_H_

#include <cstdint>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "infratrail/v1/event.pb.h"

namespace infratrail {

// The range of google.protobuf.Timestamp (timestamp.proto): seconds from
// 0001-01-01T00:00:00Z to 9999-12-31T23:59:59Z, nanos in [0, 999999999].
inline constexpr int64_t kMinTimestampSeconds = -62135596800;
inline constexpr int64_t kMaxTimestampSeconds = 253402300799;
inline constexpr int32_t kMaxTimestampNanos = 999999999;

// OK if `data` is a serialized infratrail.v1.InfraEvent the log accepts, one a
// reader sees completely and that has exactly one encoding:
// - 1 to kMaxEntryBytes (proto/limits.h) bytes, and it parses;
// - a known kind other than EVENT_KIND_UNSPECIFIED, and a resource id;
// - every other enum field (actor.via) holds a value the schema names;
// - occurred_at, if present, is a valid Timestamp (range above);
// - no unknown fields at any depth (in nested messages, repeated fields and
//   map entries too);
// - canonical: byte for byte what deterministic protobuf serialization of the
//   parsed message gives (fields in field-number order, each singular field
//   once, minimal varints, proto3 default values left out, map entries sorted
//   by key with key and value both written).
// Accepted bytes are never changed: the caller logs `data` as it is.
//
// Otherwise InvalidArgument whose message starts with `field` (say
// "entries[3]") and names the offending part: "entries[3].resource.id:
// missing", "entries[3].occurred_at.nanos: 2000000000 out of range [0,
// 999999999]", "entries[3]: unknown field 99", "entries[3].kind: after field 3
// (fields must be in field-number order)".
//
// Thread-safe. Each calling thread keeps one parsed message and one buffer
// for the re-serialization, sized by the largest entry it has validated (at
// most kMaxEntryBytes each). Cost: docs/formats.md.
absl::Status ValidateEntry(absl::string_view data, absl::string_view field);

// The checks of ValidateEntry on the fields of a message (kind, resource id,
// enum values, occurred_at), with the same messages; not the size, the
// encoding, unknown fields or UTF-8, which only the bytes show. For code
// that builds events itself and checks the rest by construction.
absl::Status ValidateEventFields(const v1::InfraEvent& event, absl::string_view field);

}  // namespace infratrail

#endif  // INFRATRAIL_PROTO_ENTRY_VALIDATION_H_
