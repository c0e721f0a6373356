// The largest file infratrail-verifier reads for each input: every file is
// read bounded, so a path naming a huge file, /dev/zero or a pipe is refused
// (exit 2) instead of exhausting memory. Key files: kMaxKeyFileBytes
// (client/key_arg.h).
#ifndef INFRATRAIL_VERIFIER_LIMITS_H_
#define INFRATRAIL_VERIFIER_LIMITS_H_

#include <cstddef>

#include "core/note.h"

namespace infratrail {

// --proof: a receipt is a note (at most kMaxNoteBytes) plus a header, an
// index, an optional extra line and at most 64 proof hashes.
inline constexpr size_t kMaxReceiptBytes = kMaxNoteBytes + (64 << 10);

// --entry: infratrail entries are at most 65,535 bytes (kMaxEntryBytes,
// proto/limits.h), but receipts of other logs can cover larger entries
// (static-ct-api's are up to 2^24 bytes).
inline constexpr size_t kMaxEntryFileBytes = size_t{1} << 24;

}  // namespace infratrail

#endif  // INFRATRAIL_VERIFIER_LIMITS_H_
