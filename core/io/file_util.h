// Small POSIX file helpers with the durability our promises need (signer
// state, receipts, exported tiles). Not part of the pure core library: a
// separate target, infratrail_core_io.
#ifndef INFRATRAIL_CORE_IO_FILE_UTIL_H_
#define INFRATRAIL_CORE_IO_FILE_UTIL_H_

#include <cstddef>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace infratrail {

// Whole file. NotFound if it does not exist; FailedPrecondition if it is a
// directory; other errors name the path. Reads until end of file: for files
// a user names (which can be /dev/zero or a pipe), use ReadFileBounded.
absl::StatusOr<std::string> ReadFileToString(const std::string& path);

// The file at `path` if it holds at most `max_bytes`: a regular file larger
// than that is refused before reading, and a stream (pipe, device) after
// reading `max_bytes` + 1 bytes, so memory stays bounded whatever the path
// names. ResourceExhausted "read <path>: larger than the limit of <max_bytes>
// bytes" when it is larger; otherwise as ReadFileToString.
absl::StatusOr<std::string> ReadFileBounded(const std::string& path, size_t max_bytes);

// As ReadFileBounded, for files that must be regular (configuration a
// long-running process reads again): anything else, a FIFO included, is
// FailedPrecondition "read <path>: not a regular file", and opening never
// waits for a FIFO's writer.
absl::StatusOr<std::string> ReadRegularFileBounded(const std::string& path, size_t max_bytes);

// Replaces `path` atomically and durably: writes a temporary file beside it
// with `mode`, fsyncs it, renames it over `path`, fsyncs the directory. A
// crash at any instant leaves either the old or the new contents.
// With sync_directory false the directory fsync is left to the caller
// (SyncDirectory once for many files): the contents are durable, the name
// only after that.
absl::Status WriteFileAtomic(const std::string& path, absl::string_view data, int mode,
                             bool sync_directory = true);

// fsync of a directory, making the names in it durable.
absl::Status SyncDirectory(const std::string& dir);

}  // namespace infratrail

#endif  // INFRATRAIL_CORE_IO_FILE_UTIL_H_
