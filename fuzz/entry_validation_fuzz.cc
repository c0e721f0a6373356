// libFuzzer target for ValidateEntry, the log's acceptance rule for entries.
// Properties: it never crashes; whatever it accepts parses, has no unknown
// fields and is byte for byte the deterministic serialization of what it
// parses to (one event, one accepted byte string); every refusal names the
// entry and says why; and any parseable event that meets the semantic rules
// is accepted in its deterministic serialization.
#include <google/protobuf/stubs/logging.h>

#include <cstdint>
#include <string>

#include "absl/strings/match.h"
#include "client/event_flags.h"  // SerializeEvent: deterministic bytes
#include "fuzz/fuzz_require.h"
#include "infratrail/v1/event.pb.h"
#include "proto/entry_validation.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace infratrail;  // NOLINT(google-build-using-namespace): fuzz entry point
  static google::protobuf::LogSilencer* silence = new google::protobuf::LogSilencer;
  (void)silence;
  const std::string in(reinterpret_cast<const char*>(data), size);

  const absl::Status st = ValidateEntry(in, "entry");
  v1::InfraEvent event;
  const bool parses = event.ParseFromString(in);
  if (st.ok()) {
    Require(parses, "accepted entries parse");
    v1::InfraEvent known = event;
    known.DiscardUnknownFields();
    Require(SerializeEvent(known) == in, "accepted entries are canonical, without unknown fields");
  } else {
    Require(st.code() == absl::StatusCode::kInvalidArgument, "refusals are InvalidArgument");
    Require(absl::StartsWith(st.message(), "entry"), "refusals name the entry");
    Require(!absl::StrContains(st.message(), "not in canonical form"),
            "refusals say which rule failed");
  }
  if (!parses) return 0;
  event.DiscardUnknownFields();
  const bool semantic_ok =
      event.kind() != v1::EVENT_KIND_UNSPECIFIED && v1::EventKind_IsValid(event.kind()) &&
      !event.resource().id().empty() && v1::Channel_IsValid(event.actor().via()) &&
      (!event.has_occurred_at() ||
       (event.occurred_at().seconds() >= kMinTimestampSeconds &&
        event.occurred_at().seconds() <= kMaxTimestampSeconds && event.occurred_at().nanos() >= 0 &&
        event.occurred_at().nanos() <= kMaxTimestampNanos));
  const std::string canonical = SerializeEvent(event);
  if (semantic_ok && canonical.size() <= 65535) {
    Require(ValidateEntry(canonical, "entry").ok(),
            "the canonical form of a valid event is accepted");
  }
  return 0;
}
