// The set of artifact digests an `artifact_digest_in` requirement allows,
// read from a file that operators edit while the monitor runs.
//
// File format: one "sha256:<64 lowercase hex digits>" per line; blank lines
// and lines starting with '#' (after leading whitespace) are ignored;
// surrounding whitespace is dropped. At most kMaxDigestFileBytes; a regular
// file (a FIFO would stop the monitor until something wrote to it).
//
// Reload: MaybeReload, at most once per `recheck`, compares the file's
// (inode, size, mtime) with those of the last read; if they differ it reads
// the file again. A read that fails (gone, unreadable, a bad line) keeps the
// set in force and reports once per change of the file, so a broken edit
// does not open or close the gate, and the operator hears of it.
//
// Thread-compatible: owned by one Policy, used from its evaluating thread.
#ifndef INFRATRAIL_VERIFIER_POLICY_DIGEST_ALLOWLIST_H_
#define INFRATRAIL_VERIFIER_POLICY_DIGEST_ALLOWLIST_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace infratrail {

inline constexpr size_t kMaxDigestFileBytes = size_t{64} << 20;

class DigestAllowlist {
 public:
  // Reads `path`. InvalidArgument "PATH:LINE: ..." for a bad line, or naming
  // the path when it cannot be read or is larger than kMaxDigestFileBytes.
  static absl::StatusOr<DigestAllowlist> Load(const std::string& path);

  // Whether `digest` ("sha256:<hex>") is in the set. No allocation.
  bool Contains(absl::string_view digest) const;

  // Checks the file for changes if `recheck` has passed since the last
  // check, and re-reads it when it changed. Problems go to `operational`.
  void MaybeReload(absl::Time now, absl::Duration recheck, std::vector<std::string>* operational);

  const std::string& path() const { return path_; }
  size_t size() const { return digests_.size(); }

 private:
  using Digest = std::array<uint8_t, 32>;
  struct Stamp {
    bool present = false;
    uint64_t dev = 0, ino = 0, size = 0;
    int64_t mtime_ns = 0;
    bool operator==(const Stamp&) const = default;
  };
  static Stamp StampOf(const std::string& path);
  static absl::StatusOr<absl::flat_hash_set<Digest>> Read(const std::string& path);

  std::string path_;
  absl::flat_hash_set<Digest> digests_;
  // The file as last read or last attempted: a failed read is not retried
  // until the file changes again.
  Stamp stamp_;
  absl::Time last_check_ = absl::InfinitePast();
};

}  // namespace infratrail

#endif  // INFRATRAIL_VERIFIER_POLICY_DIGEST_ALLOWLIST_H_
