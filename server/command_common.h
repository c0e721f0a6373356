// What infratrail-server's commands (serving, fsck, export) share: how they
// speak to the operator and read the small files their flags name.
#ifndef INFRATRAIL_SERVER_COMMAND_COMMON_H_
#define INFRATRAIL_SERVER_COMMAND_COMMON_H_

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "core/note_key.h"

namespace infratrail {

// One line on stderr, prefixed "infratrail-server: ".
void Say(absl::string_view msg);

// The contents of `path` without surrounding white space (a key file, say).
// InvalidArgument prefixed by `flag` if it cannot be read or is larger than
// kMaxKeyFileBytes.
absl::StatusOr<std::string> ReadTrimmed(const std::string& path, absl::string_view flag);

// A --log-key flag's value: a verifier key, or @file holding one; empty
// gives nullopt. InvalidArgument naming `flag` otherwise.
absl::StatusOr<std::optional<NoteVerifier>> ParseLogKeyFlag(const std::string& value,
                                                            absl::string_view flag);

}  // namespace infratrail

#endif  // INFRATRAIL_SERVER_COMMAND_COMMON_H_
