// libFuzzer target for the policy loader (verifier/policy): Policy::Parse
// on any bytes must return, without crashing or hanging, either a policy or
// an error that places itself: "NAME:LINE:COLUMN: ...". No clone can be
// opened (open_repo fails) and paths resolve inside an empty directory, so
// only the YAML and the checks on it are exercised.
#include <cstdint>
#include <memory>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "fuzz/fuzz_require.h"
#include "verifier/policy/policy.h"

namespace {

// "policy.yaml:L:C: ..." with L and C positive integers.
bool Placed(absl::string_view message) {
  constexpr absl::string_view kName = "policy.yaml:";
  if (!absl::StartsWith(message, kName)) return false;
  message.remove_prefix(kName.size());
  std::vector<absl::string_view> parts = absl::StrSplit(message, absl::MaxSplits(':', 2));
  if (parts.size() != 3) return false;
  int line = 0, column = 0;
  return absl::SimpleAtoi(parts[0], &line) && line > 0 && absl::SimpleAtoi(parts[1], &column) &&
         column > 0 && absl::StartsWith(parts[2], " ");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace infratrail;  // NOLINT(google-build-using-namespace): fuzz entry point
  const absl::string_view yaml(reinterpret_cast<const char*>(data), size);
  PolicyOptions options;
  options.open_repo = [](const RepoSpec&) -> absl::StatusOr<std::unique_ptr<RepoChecker>> {
    return absl::UnavailableError("no clones while fuzzing");
  };
  absl::StatusOr<std::unique_ptr<Policy>> p =
      Policy::Parse(yaml, "policy.yaml", "/nonexistent-policy-dir", options);
  if (p.ok()) {
    Require((*p)->rule_count() > 0, "a policy has rules");
  } else {
    Require(Placed(p.status().message()), "errors start with policy.yaml:LINE:COLUMN:");
  }
  return 0;
}
