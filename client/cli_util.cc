#include "client/cli_util.h"

#include "absl/strings/str_cat.h"
#include "core/io/file_util.h"

namespace infratrail::cli {

absl::StatusOr<absl::Duration> ParseDurationArg(absl::string_view text, absl::string_view flag) {
  absl::Duration d;
  if (!absl::ParseDuration(text, &d) || d < absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        absl::StrCat(flag, ": \"", text, "\" is not a duration like 500ms, 30s or 2m"));
  }
  return d;
}

absl::StatusOr<std::string> ReadFileArg(absl::string_view path, absl::string_view flag,
                                        size_t max_bytes) {
  // Opened again by name, so the bound and the errors are ReadFileBounded's
  // for a pipe, a terminal or a redirected file alike.
  const std::string name = path == "-" ? "/dev/stdin" : std::string(path);
  absl::StatusOr<std::string> data = ReadFileBounded(name, max_bytes);
  if (!data.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(flag, ": ", data.status().message()));
  }
  return data;
}

}  // namespace infratrail::cli
