// Fsck: recomputes the whole tree from the stored entries (DESIGN.md
// invariant 3) and compares it with everything derived from them: each
// entry's leaf-index row, every stored tile (full and partial), the stored
// tree state, and the stored checkpoint (its root, and its signature when a
// verifier key is given).
//
// Reads only; safe on a copy or a read-only open of a live store.
#ifndef INFRATRAIL_SERVER_FSCK_H_
#define INFRATRAIL_SERVER_FSCK_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/note_key.h"
#include "server/storage.h"

namespace infratrail {

struct FsckReport {
  uint64_t entries = 0;        // entries re-hashed
  uint64_t tiles_checked = 0;  // stored tiles compared
  uint64_t checkpoint_size = 0;
  std::vector<std::string> problems;  // empty: consistent
  bool ok() const { return problems.empty(); }
};

// Errors are I/O errors only; inconsistencies are listed in the report.
absl::StatusOr<FsckReport> Fsck(LogStorage& storage, const std::optional<NoteVerifier>& log_key);

}  // namespace infratrail

#endif  // INFRATRAIL_SERVER_FSCK_H_
