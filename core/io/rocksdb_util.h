// What every embedded RocksDB in the project shares: the one conversion of
// its errors to absl::Status (STYLE.md habit 3) and a logger to stderr. The
// server's store and the monitor's event index both use it; the verifier
// never depends on server/. Not part of the pure core library: a separate
// target, infratrail_rocksdb_util.
#ifndef INFRATRAIL_CORE_IO_ROCKSDB_UTIL_H_
#define INFRATRAIL_CORE_IO_ROCKSDB_UTIL_H_

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace rocksdb {
class Logger;
class Status;
}  // namespace rocksdb

namespace infratrail {

// The one place RocksDB errors become absl::Status: "<operation>: rocksdb:
// <RocksDB's text>", NotFound, DataLoss (corruption), ResourceExhausted
// (disk full, said so), InvalidArgument, Unavailable (I/O, busy, timeout) or
// Internal. OK for an OK status.
absl::Status RocksDbError(const rocksdb::Status& s, absl::string_view operation);

// RocksDB's messages, warnings and worse, as "<program>: rocksdb: <line>" on
// stderr rather than in a LOG file in the database directory: on a full disk
// RocksDB's own file logger fails an append and then aborts the process on
// its next line (an assertion in Debian's build). Thread-safe.
std::shared_ptr<rocksdb::Logger> NewStderrRocksDbLogger(std::string program);

}  // namespace infratrail

#endif  // INFRATRAIL_CORE_IO_ROCKSDB_UTIL_H_
