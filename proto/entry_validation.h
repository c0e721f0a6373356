// Validation of submitted entries: the one place that decides what the log
// accepts (STYLE.md: validation in one place that names the bad field). The
// server enforces it; clients check the same rules before sending, so a bad
// event is refused before anything after it is sent.
#ifndef INFRATRAIL_PROTO_ENTRY_VALIDATION_H_
#define INFRATRAIL_PROTO_ENTRY_VALIDATION_H_

#include <cstddef>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace infratrail {

// Most entries in one AddEvents request.
inline constexpr size_t kMaxEntriesPerRequest = 1000;

// OK if `data` is a serialized infratrail.v1.InfraEvent the log accepts:
// at most 65,535 bytes (the C2SP entry-bundle limit), parses, has a known
// kind other than EVENT_KIND_UNSPECIFIED, and a resource id. Otherwise
// InvalidArgument whose message starts with `field` (say "entries[3]") and
// names the offending part ("entries[3].resource.id: missing").
absl::Status ValidateEntry(absl::string_view data, absl::string_view field);

}  // namespace infratrail

#endif  // INFRATRAIL_PROTO_ENTRY_VALIDATION_H_
