// Fast parsing of the proto3-JSON InfraEvent lines that `infratrail add`
// imports. protobuf's JsonStringToMessage costs ~23 µs for a typical 400-byte
// line; most lines are plain enough that simdjson plus protobuf reflection
// fills the message in about a microsecond, and everything else (errors
// included) is handed to protobuf itself, so the result never differs.
#ifndef INFRATRAIL_CLIENT_EVENT_JSON_H_
#define INFRATRAIL_CLIENT_EVENT_JSON_H_

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "infratrail/v1/event.pb.h"

namespace infratrail {

// Parses one proto3-JSON InfraEvent into `*event` (which must be non-null),
// with exactly the outcome of google::protobuf::util::JsonStringToMessage with
// default options: on success `*event` holds only what `json` says (earlier
// contents are replaced); on failure the status is protobuf's own (code and
// message, e.g. INVALID_ARGUMENT "Parsing terminated before end of input."
// plus protobuf's excerpt of the input) and `*event` is left unchanged.
//
// Fast path: simdjson parses the text and reflection fills the message. It
// handles objects whose keys are json_name or proto field names (each field
// at most once), strings, bools, integers given as in-range JSON integers,
// enums by value name, nested messages, repeated message fields as arrays,
// map<string, string> as objects, and google.protobuf.Timestamp as an RFC 3339
// string. Anything else (null, bytes, floats, enum numbers, numbers in
// strings, oneofs, other well-known types, duplicate keys, nesting deeper than
// 32, inputs over 1 MiB, and every error) goes to JsonStringToMessage.
//
// Thread-safe: each thread keeps its own simdjson parser, which holds on to
// buffers sized for the largest line (at most 1 MiB) that thread has parsed.
absl::Status ParseEventJson(absl::string_view json, v1::InfraEvent* event);

// The fast path alone: returns true and sets `*event` as ParseEventJson would
// if the fast path can handle `json` with certainty; otherwise returns false
// and leaves `*event` unchanged. For tests and benchmarks, which check that
// typical lines do not fall back.
bool ParseEventJsonFastPathForTesting(absl::string_view json, v1::InfraEvent* event);

}  // namespace infratrail

#endif  // INFRATRAIL_CLIENT_EVENT_JSON_H_
