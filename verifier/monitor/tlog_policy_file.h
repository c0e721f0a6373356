// A C2SP tlog-policy file given to `verify` or `monitor` (--witness-policy):
// read bounded, parsed, and matched with the log it is about.
#ifndef INFRATRAIL_VERIFIER_MONITOR_TLOG_POLICY_FILE_H_
#define INFRATRAIL_VERIFIER_MONITOR_TLOG_POLICY_FILE_H_

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "core/note_key.h"
#include "core/tlog_policy.h"

namespace infratrail {

// Reads `path` (at most kMaxPolicyBytes) and parses it. InvalidArgument
// "<flag>: <path>:<line>:<column>: <what>" for a grammar error, "<flag>:
// ..." naming the path when it cannot be read.
absl::StatusOr<std::shared_ptr<const TlogPolicy>> LoadTlogPolicyFile(const std::string& path,
                                                                     absl::string_view flag);

// The log key a policy gives when none was given: its only `log` line, or
// with several, the one named `origin` (empty: not known, so only one
// will do). InvalidArgument starting with `where` otherwise.
absl::StatusOr<NoteVerifier> LogKeyFromPolicy(const TlogPolicy& policy, absl::string_view origin,
                                              absl::string_view where);

// A policy with `log` lines is about those logs only: InvalidArgument
// starting with `where` if `key` (name and key ID) is not one of them.
absl::Status CheckPolicyLists(const TlogPolicy& policy, const NoteVerifier& key,
                              absl::string_view where);

}  // namespace infratrail

#endif  // INFRATRAIL_VERIFIER_MONITOR_TLOG_POLICY_FILE_H_
