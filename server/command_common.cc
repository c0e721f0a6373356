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

absl::StatusOr<std::optional<NoteVerifier>> ParseLogKeyFlag(const std::string& value,
                                                            absl::string_view flag) {
  if (value.empty()) return std::optional<NoteVerifier>();
  std::string vkey = value;
  if (vkey[0] == '@') {
    absl::StatusOr<std::string> text = ReadTrimmed(vkey.substr(1), flag);
    if (!text.ok()) return text.status();
    vkey = *text;
  }
  absl::StatusOr<NoteVerifier> v = NoteVerifier::Parse(vkey);
  if (!v.ok()) return absl::InvalidArgumentError(absl::StrCat(flag, ": ", v.status().message()));
  return std::optional<NoteVerifier>(*std::move(v));
}

}  // namespace infratrail
