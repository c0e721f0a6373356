#include "verifier/policy/load_policy.h"

#include <utility>

#include "verifier/policy/git_repo_checker.h"

namespace infratrail {

absl::StatusOr<std::unique_ptr<Policy>> LoadPolicy(const std::string& path) {
  PolicyOptions options;
  options.open_repo = [](const RepoSpec& spec) -> absl::StatusOr<std::unique_ptr<RepoChecker>> {
    absl::StatusOr<std::unique_ptr<GitRepoChecker>> git = GitRepoChecker::Open(spec);
    if (!git.ok()) return git.status();
    return std::unique_ptr<RepoChecker>(*std::move(git));
  };
  return Policy::Load(path, options);
}

}  // namespace infratrail
