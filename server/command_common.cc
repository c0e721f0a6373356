#include "server/command_common.h"

#include <iostream>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "core/io/file_util.h"

namespace infratrail {

void Say(absl::string_view msg) { std::cerr << "infratrail-server: " << msg << std::endl; }

absl::StatusOr<std::string> ReadTrimmed(const std::string& path, absl::string_view flag) {
  absl::StatusOr<std::string> text = ReadFileToString(path);
  if (!text.ok())
    return absl::InvalidArgumentError(absl::StrCat(flag, ": ", text.status().message()));
  return std::string(absl::StripAsciiWhitespace(*text));
}

}  // namespace infratrail
