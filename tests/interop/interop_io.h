// Files exchanged between interop_tool (C++) and the Go interop program.
// Both sides write and read the same layout in a directory, so either can
// check what the other produced:
//
//   log.skey, log.vkey          log signer key and verifier key (one line)
//   witness.skey, witness.vkey  witness Ed25519 key pair (type 0x01)
//   witness.cosig.vkey          the witness's cosignature/v1 key (type 0x04)
//   size.txt                    tree size N
//   leaves.txt                  base64 of each leaf's data, one per line
//   leaf_hashes.txt             base64 RFC 9162 leaf hash, one per line
//   checkpoint.note             checkpoint for N, log-signed, then cosigned
//   cosig_time.txt              the cosignature's timestamp (Unix seconds)
//   receipt.tlog-proof          c2sp.org/tlog-proof@v1 receipt
//   inclusion.txt               "inclusion <index> <size> <root> <count>"
//                               then <count> base64 proof hashes, repeated
//   consistency.txt             "consistency <size1> <size2> <root1> <root2>
//                               <count>" then <count> hashes, repeated
//   tiles.txt                   tile paths, one per line, in the writer's
//                               own convention (C2SP tile/L/N for C++, Go's
//                               tile/8/L/N for Go); the tile bytes are the
//                               file at that path under the directory
//
// All text files end each line with "\n".
#ifndef INFRATRAIL_TESTS_INTEROP_INTEROP_IO_H_
#define INFRATRAIL_TESTS_INTEROP_INTEROP_IO_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "core/hash.h"

namespace infratrail::interop {

inline constexpr int kExitOk = 0;
inline constexpr int kExitMismatch = 1;  // something did not verify
inline constexpr int kExitUsage = 2;     // bad arguments or unreadable input

absl::StatusOr<std::string> ReadFile(const std::string& path);
// Writes `data` to `path`, creating parent directories.
absl::Status WriteFile(const std::string& path, absl::string_view data);
// The lines of a file whose every line ends in "\n".
absl::StatusOr<std::vector<std::string>> ReadLines(const std::string& path);
// A file holding exactly one line.
absl::StatusOr<std::string> ReadOneLine(const std::string& path);
absl::StatusOr<uint64_t> ReadNumber(const std::string& path);

struct InclusionRecord {
  uint64_t index = 0;
  uint64_t size = 0;
  Hash root{};
  std::vector<Hash> proof;
};

struct ConsistencyRecord {
  uint64_t size1 = 0;
  uint64_t size2 = 0;
  Hash root1{};
  Hash root2{};
  std::vector<Hash> proof;
};

std::string FormatInclusionRecords(const std::vector<InclusionRecord>& records);
std::string FormatConsistencyRecords(const std::vector<ConsistencyRecord>& records);
// Strict parses; InvalidArgument naming the line.
absl::StatusOr<std::vector<InclusionRecord>> ParseInclusionRecords(
    const std::vector<std::string>& lines);
absl::StatusOr<std::vector<ConsistencyRecord>> ParseConsistencyRecords(
    const std::vector<std::string>& lines);

}  // namespace infratrail::interop

#endif  // INFRATRAIL_TESTS_INTEROP_INTEROP_IO_H_
