#include "client/key_arg.h"

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "client/cli_util.h"

namespace infratrail {
namespace {

absl::StatusOr<std::string> ReadTrimmedFile(absl::string_view path, absl::string_view flag) {
  absl::StatusOr<std::string> text = cli::ReadFileArg(path, flag, kMaxKeyFileBytes);
  if (!text.ok()) return text.status();
  std::string key(absl::StripAsciiWhitespace(*text));
  if (key.empty()) return absl::InvalidArgumentError(absl::StrCat(flag, ": ", path, " is empty"));
  return key;
}

}  // namespace

absl::StatusOr<std::string> ResolveKeyArg(absl::string_view arg, absl::string_view flag) {
  if (!absl::StartsWith(arg, "@")) return std::string(absl::StripAsciiWhitespace(arg));
  return ReadTrimmedFile(arg.substr(1), flag);
}

absl::StatusOr<NoteVerifier> ParseVerifierKeyArg(absl::string_view arg, absl::string_view flag) {
  absl::StatusOr<std::string> text = ResolveKeyArg(arg, flag);
  if (!text.ok()) return text.status();
  absl::StatusOr<NoteVerifier> key = NoteVerifier::Parse(*text);
  if (!key.ok())
    return absl::InvalidArgumentError(absl::StrCat(flag, ": ", key.status().message()));
  return key;
}

absl::StatusOr<NoteSigner> ReadSignerKeyFile(absl::string_view path, absl::string_view flag) {
  absl::StatusOr<std::string> text = ReadTrimmedFile(path, flag);
  if (!text.ok()) return text.status();
  absl::StatusOr<NoteSigner> key = NoteSigner::Parse(*text);
  if (!key.ok())
    return absl::InvalidArgumentError(absl::StrCat(flag, ": ", key.status().message()));
  return key;
}

}  // namespace infratrail
