// C2SP signed notes: text followed by a blank line and signature lines
// "— <key name> <base64(key ID || signature)>".
//
// Opening follows the spec and Go's golang.org/x/mod/sumdb/note: signatures
// from unknown keys are kept as unverified and never checked; every line from
// a known key must verify or the whole note is rejected; at least one must
// verify. Identical repeated lines count once (as Go does); two *different*
// signatures from the same known key are rejected as malformed.
#ifndef INFRATRAIL_CORE_NOTE_H_
#define INFRATRAIL_CORE_NOTE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "core/note_key.h"

namespace infratrail {

// Bounds on what Open accepts (the spec requires at least 16 signatures).
inline constexpr size_t kMaxNoteSignatures = 100;
inline constexpr size_t kMaxNoteBytes = 1 << 20;

struct NoteSignature {
  std::string name;
  uint32_t key_id = 0;
  std::string base64;                 // key ID || signature, as on the line
  std::optional<uint64_t> timestamp;  // cosignatures and RFC 6962 tree heads
  std::string Line() const;           // "— name base64\n"
};

struct Note {
  std::string text;  // includes its final newline
  std::vector<NoteSignature> verified;
  std::vector<NoteSignature> unverified;  // from keys not given to Open
};

// Splits and checks the format without verifying anything: every signature
// lands in `unverified`. InvalidArgument "malformed note: <why>".
absl::StatusOr<Note> ParseNote(absl::string_view msg);

// Parses and verifies. Errors:
//   InvalidArgument     malformed (bad UTF-8, control characters, no blank
//                       line, bad signature line, too many signatures, too
//                       large, two different signatures from one known key)
//   Unauthenticated     a signature from a known key does not verify, or no
//                       signature from a known key is present
//   FailedPrecondition  two of `verifiers` share a name and key ID and the
//                       note has a signature with that name and ID
absl::StatusOr<Note> OpenNote(absl::string_view msg, absl::Span<const NoteVerifier> verifiers);

// Signs `text` (which must be valid UTF-8 without control characters other
// than newline, ending in a newline) with each signer, in order.
absl::StatusOr<std::string> SignNote(absl::string_view text, absl::Span<const NoteSigner> signers);

// Appends signature lines to a note (say, witness cosignatures), skipping any
// line already present. The note is re-parsed; InvalidArgument if malformed.
absl::StatusOr<std::string> AddSignatures(absl::string_view note,
                                          absl::Span<const NoteSignature> sigs);

}  // namespace infratrail

#endif  // INFRATRAIL_CORE_NOTE_H_
