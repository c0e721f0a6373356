// Emitter signatures: an operator or cloud-provider bridge vouches for an
// event with its own Ed25519 C2SP signed-note key, so a reader can tell an
// event the emitter sent from one the log operator could have made up.
// docs/emitter-signatures.md is the specification; in short:
//
// - E is the entry: a serialized InfraEvent exactly as submitted.
// - U is E with every top-level field-10 (`signatures`, wire type 2) record
//   removed and every other record kept byte-for-byte, in its original order.
//   E is walked record by record as protobuf wire format, never re-serialized,
//   so unknown fields and non-canonical encodings are covered as sent.
// - The signed message is M = "infratrail.v1.InfraEvent/emitter-signature\n"
//   followed by U. The prefix is what keeps emitter signatures and note
//   signatures apart: U alone can happen to be valid note text (an event with
//   only string fields can be UTF-8 ending in a newline), but every M starts
//   with a line no infratrail note starts with (a checkpoint starts with its
//   log's origin, and no log may be named this), so an emitter signature is
//   never a valid signature on a note infratrail accepts, nor the other way
//   round. Use a dedicated key for emitting anyway.
// - The signature is Ed25519 (signed-note key type 0x01) over M, carried as
//   EmitterSignature{key_name, key_id, 64 raw signature bytes}.
// - Signing appends one encoded field-10 record to E. Every signature covers U
//   and not the other signatures, so emitters can sign in any order.
//
// All functions are pure and thread-safe.
#ifndef INFRATRAIL_CLIENT_EMITTER_SIGNATURE_H_
#define INFRATRAIL_CLIENT_EMITTER_SIGNATURE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "core/note_key.h"

namespace infratrail {

// The domain-separation prefix of every message an emitter signs.
inline constexpr absl::string_view kEmitterSignaturePrefix =
    "infratrail.v1.InfraEvent/emitter-signature\n";

// Returns `event` with one more emitter signature, by `key`, appended.
// InvalidArgument if `event` is not well-formed protobuf wire format or holds a
// malformed signature record; FailedPrecondition if `key` (same name and key
// ID) has already signed it.
absl::StatusOr<std::string> SignEvent(absl::string_view event, const NoteSigner& key);

// The event bytes an emitter signature covers (U above). InvalidArgument if
// `event` is not well-formed protobuf wire format.
absl::StatusOr<std::string> UnsignedEventBytes(absl::string_view event);

enum class EmitterSignatureResult {
  kVerified,      // a configured key made this signature over this event
  kUnknownKey,    // no configured Ed25519 key has this name and key ID
  kBadSignature,  // a configured key's, but it does not verify
  // A configured key's record after that key's first one: not verified.
  // SignEvent never makes one; verifying them all would let one entry cost
  // a reader a few hundred Ed25519 verifications per check.
  kRepeatedKey,
};

struct EmitterSignatureCheck {
  std::string key_name;
  uint32_t key_id = 0;
  EmitterSignatureResult result = EmitterSignatureResult::kUnknownKey;
};

// Checks every emitter signature on `event` against `keys`: a key matches a
// signature when name and key ID are both equal and the key is Ed25519 (type
// 0x01); other key types are ignored. Returns one check per signature, in the
// order they appear in `event` (empty if it has none). A signature that is not
// 64 bytes is kBadSignature, not an error. Only the first record of each
// configured key is verified: at most keys.size() verifications per call. InvalidArgument if
// `event` or a signature record is malformed; FailedPrecondition if `keys` holds two Ed25519 keys
// with a signature's name and key ID (ambiguous, as in OpenNote).
absl::StatusOr<std::vector<EmitterSignatureCheck>> CheckEmitterSignatures(
    absl::string_view event, absl::Span<const NoteVerifier> keys);

}  // namespace infratrail

#endif  // INFRATRAIL_CLIENT_EMITTER_SIGNATURE_H_
