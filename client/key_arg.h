// Key arguments as the command-line tools take them: a key given inline, or
// "@path" naming a file that holds it ("@-": standard input; surrounding
// whitespace dropped). Part
// of infratrail_cli_util (cli_util.h), which links no gRPC.
#ifndef INFRATRAIL_CLIENT_KEY_ARG_H_
#define INFRATRAIL_CLIENT_KEY_ARG_H_

#include <cstddef>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "core/note_key.h"

namespace infratrail {

// The largest key file read (keys are ~100 bytes; tokens files use it too).
inline constexpr size_t kMaxKeyFileBytes = 64 << 10;

// The key text `arg` stands for. InvalidArgument naming `flag` if the file
// cannot be read, is a directory, holds more than kMaxKeyFileBytes (a path
// such as /dev/zero included) or is empty.
absl::StatusOr<std::string> ResolveKeyArg(absl::string_view arg, absl::string_view flag);

// A verifier key (inline or @file). InvalidArgument naming `flag`.
absl::StatusOr<NoteVerifier> ParseVerifierKeyArg(absl::string_view arg, absl::string_view flag);

// A private signer key read from the file `path` (never inline: secrets do
// not belong on a command line). InvalidArgument naming `flag`.
absl::StatusOr<NoteSigner> ReadSignerKeyFile(absl::string_view path, absl::string_view flag);

}  // namespace infratrail

#endif  // INFRATRAIL_CLIENT_KEY_ARG_H_
