// One InfraEvent from command-line flags, for
// `infratrail add --kind deploy --resource-id i-0abc ...`. Validation lives
// here, in one place, and every error names the flag to fix. Kind-specific
// policy (a deploy without a digest, break-glass without a justification) is
// the caller's business: BuildEvent only rejects what cannot be encoded.
#ifndef INFRATRAIL_CLIENT_EVENT_FLAGS_H_
#define INFRATRAIL_CLIENT_EVENT_FLAGS_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "infratrail/v1/event.pb.h"

namespace infratrail {

// The event-building flags of `infratrail add`, as typed. Empty means unset.
struct EventFlags {
  // --kind, required. Case-insensitive, '-' or '_' between words: provision,
  // deprovision, access, deploy, config_change, key_create, key_rotate,
  // key_recovery, break_glass, key_destroy.
  std::string kind;
  std::string resource_id;    // --resource-id, required
  std::string resource_type;  // --resource-type
  std::string provider;       // --provider
  std::string actor;          // --actor: the principal
  std::string via;            // --via: console|iac|ci|api, case-insensitive
  std::string justification;  // --justification
  std::string ticket;         // --ticket
  // --digest: "sha256:" + 64, "sha384:" + 96 or "sha512:" + 128 lowercase hex.
  std::string digest;
  std::string repo;      // --repo
  std::string commit;    // --commit
  std::string pipeline;  // --pipeline
  // --occurred-at: RFC 3339 with a time zone offset or Z; empty means `now`.
  std::string occurred_at;
  std::vector<std::string> attrs;  // --attr, repeated: "key=value", key non-empty
};

// Builds the event `flags` describe; `now` fills occurred_at when the flag is
// empty. InvalidArgument whose message starts with the flag at fault, e.g.
//   --kind: unknown event kind "provisoin" (expected one of provision, ...)
//   --resource-id: required
//   --attr: "foo" is not key=value
// Text flags must be valid UTF-8 (proto3 strings).
absl::StatusOr<v1::InfraEvent> BuildEvent(const EventFlags& flags, absl::Time now);

// The entry bytes for `event`: its deterministic serialization (map entries
// sorted by key), so the same event always gives the same bytes, hence the
// same leaf hash, and re-sending an import is deduplicated by the log.
// Plain SerializeToString orders `attributes` as the hash map happens to.
std::string SerializeEvent(const v1::InfraEvent& event);

// True if any event-building flag is set, so the CLI can refuse to mix them
// with events read from --file or stdin.
bool AnyEventFlagSet(const EventFlags& flags);

}  // namespace infratrail

#endif  // INFRATRAIL_CLIENT_EVENT_FLAGS_H_
