// What the command-line tools share that needs no network: the exit codes,
// and arguments that name a duration or a file to read. With key_arg.h it is
// the infratrail_cli_util library, which links no gRPC, so the verifier
// uses it as the operator's CLI does.
//
// Every error is InvalidArgument and starts with the flag ("--timeout: ...",
// "--proof: read /dev/zero: larger than the limit of ... bytes"): a refused
// argument is a usage error (exit 2).
#ifndef INFRATRAIL_CLIENT_CLI_UTIL_H_
#define INFRATRAIL_CLIENT_CLI_UTIL_H_

#include <cstddef>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace infratrail::cli {

// Exit codes of every command of infratrail and infratrail-verifier.
inline constexpr int kExitOk = 0;
inline constexpr int kExitVerify = 1;  // a signature, proof or checkpoint did not verify
inline constexpr int kExitUsage = 2;   // bad flags or bad input
inline constexpr int kExitServer = 3;  // the server or the network failed

// A non-negative duration such as "500ms", "30s" or "2m" (absl::ParseDuration).
absl::StatusOr<absl::Duration> ParseDurationArg(absl::string_view text, absl::string_view flag);

// The whole file at `path` ("-": standard input), read bounded: a file, or
// a stream such as /dev/zero, larger than `max_bytes` is refused without
// reading more than max_bytes + 1 bytes (ReadFileBounded). Also refused: a
// path that does not exist or is a directory.
absl::StatusOr<std::string> ReadFileArg(absl::string_view path, absl::string_view flag,
                                        size_t max_bytes);

}  // namespace infratrail::cli

#endif  // INFRATRAIL_CLIENT_CLI_UTIL_H_
