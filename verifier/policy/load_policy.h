// The policy as the programs load it: the YAML file, with the IaC
// repositories of its `source_in_repo` requirements opened through libgit2.
#ifndef INFRATRAIL_VERIFIER_POLICY_LOAD_POLICY_H_
#define INFRATRAIL_VERIFIER_POLICY_LOAD_POLICY_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "verifier/policy/policy.h"

namespace infratrail {

// Policy::Load(path) with every clone opened read-only by GitRepoChecker.
// InvalidArgument "FILE:LINE:COLUMN: ..." for a policy that does not load,
// naming the clone and ref for one that cannot be opened.
absl::StatusOr<std::unique_ptr<Policy>> LoadPolicy(const std::string& path);

}  // namespace infratrail

#endif  // INFRATRAIL_VERIFIER_POLICY_LOAD_POLICY_H_
