#include "server/command_common.h"

#include <iostream>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "client/cli_util.h"
#include "client/key_arg.h"

namespace infratrail {

void Say(absl::string_view msg) { std::cerr << "infratrail-server: " << msg << std::endl; }

absl::StatusOr<std::string> ReadTrimmed(const std::string& path, absl::string_view flag) {
  // Bounded like every key file the tools read: a key path that names
  // /dev/zero or a log file is refused, not read until memory runs out.
  absl::StatusOr<std::string> text = cli::ReadFileArg(path, flag, kMaxKeyFileBytes);
  if (!text.ok()) return text.status();
  return std::string(absl::StripAsciiWhitespace(*text));
}

}  // namespace infratrail
