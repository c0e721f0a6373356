#include "verifier/monitor/tlog_policy_file.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "client/cli_util.h"

namespace infratrail {

absl::StatusOr<std::shared_ptr<const TlogPolicy>> LoadTlogPolicyFile(const std::string& path,
                                                                     absl::string_view flag) {
  absl::StatusOr<std::string> text = cli::ReadFileArg(path, flag, kMaxPolicyBytes);
  if (!text.ok()) return text.status();
  absl::StatusOr<TlogPolicy> policy = TlogPolicy::Parse(*text, path);
  if (!policy.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(flag, ": ", policy.status().message()));
  }
  return std::make_shared<const TlogPolicy>(*std::move(policy));
}

absl::StatusOr<NoteVerifier> LogKeyFromPolicy(const TlogPolicy& policy, absl::string_view origin,
                                              absl::string_view where) {
  const size_t n = policy.logs().size();
  if (n == 0)
    return absl::InvalidArgumentError(absl::StrCat(where, ": the policy has no log line"));
  if (n == 1) return policy.logs()[0].key;
  if (origin.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": the policy has ", n, " log lines: say which log with its key"));
  }
  for (const TlogPolicyLog& l : policy.logs()) {
    if (l.key.name() == origin) return l.key;
  }
  return absl::InvalidArgumentError(
      absl::StrCat(where, ": none of the policy's ", n, " log lines is named ", origin));
}

absl::Status CheckPolicyLists(const TlogPolicy& policy, const NoteVerifier& key,
                              absl::string_view where) {
  if (policy.logs().empty()) return absl::OkStatus();
  for (const TlogPolicyLog& l : policy.logs()) {
    if (l.key.name() == key.name() && l.key.key_id() == key.key_id()) return absl::OkStatus();
  }
  return absl::InvalidArgumentError(
      absl::StrCat(where, ": the policy's log lines do not list ", key.vkey(), " (the log's key)"));
}

}  // namespace infratrail
