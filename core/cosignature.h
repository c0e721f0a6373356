// C2SP tlog-cosignature v1 (signature type 0x04): a witness's timestamped
// Ed25519 signature over "cosignature/v1\ntime <t>\n" || checkpoint body.
// The signature bytes are key ID(4) || timestamp(8, big-endian) || Ed25519(64).
// Verification is NoteVerifier (type 0x04) inside OpenNote.
#ifndef INFRATRAIL_CORE_COSIGNATURE_H_
#define INFRATRAIL_CORE_COSIGNATURE_H_

#include <cstdint>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "core/note.h"
#include "core/note_key.h"

namespace infratrail {

// The cosignature line for `checkpoint_body` at `timestamp` (Unix seconds),
// ready to append to the checkpoint note. InvalidArgument if the body is not
// a valid checkpoint: a witness never signs anything else.
absl::StatusOr<NoteSignature> Cosign(const NoteSigner& witness, absl::string_view checkpoint_body,
                                     uint64_t timestamp);

}  // namespace infratrail

#endif  // INFRATRAIL_CORE_COSIGNATURE_H_
