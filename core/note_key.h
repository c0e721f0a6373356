// Keys for C2SP signed notes, in the text forms of Go's
// golang.org/x/mod/sumdb/note:
//   verifier key:  <name>+<8 hex key ID>+<base64(type byte || public key)>
//   signer key:    PRIVATE+KEY+<name>+<8 hex key ID>+<base64(0x01 || 32-byte seed)>
//
// Signature types verified: 0x01 Ed25519 (signed-note), 0x02 ECDSA over
// SHA-256 of the text (transparency-dev/witness), 0x04 Ed25519 cosignature/v1
// (tlog-cosignature), 0x05 RFC 6962 TreeHeadSignature (static-ct-api), so a
// monitor can follow logs and witnesses other than infratrail. Signing:
// 0x01 notes and 0x04 cosignatures.
//
// NoteVerifier and NoteSigner are immutable after creation, cheap to copy
// (they share the OpenSSL key), and safe to use from several threads.
#ifndef INFRATRAIL_CORE_NOTE_KEY_H_
#define INFRATRAIL_CORE_NOTE_KEY_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace infratrail {

enum class SigType : uint8_t {
  kEd25519 = 0x01,
  kEcdsa = 0x02,
  kCosignatureV1 = 0x04,
  kRfc6962TreeHead = 0x05,
};

// Key names are non-empty, valid UTF-8, with no Unicode space and no '+'.
bool IsValidKeyName(absl::string_view name);

// SHA-256(name || 0x0A || type || key_material)[:4] as a big-endian uint32.
uint32_t ComputeKeyId(absl::string_view name, uint8_t type, absl::string_view key_material);

struct EvpKey;  // OpenSSL key, shared between copies

class NoteVerifier {
 public:
  // Parses a verifier key. InvalidArgument naming the problem: malformed
  // structure, bad base64, bad name, key ID mismatch, wrong key length or
  // curve, unknown signature type.
  static absl::StatusOr<NoteVerifier> Parse(absl::string_view vkey);

  // The cosignature (type 0x04) verifier for a witness published as a plain
  // Ed25519 (type 0x01) key: same name and public key, key ID recomputed.
  // InvalidArgument unless this is an Ed25519 key.
  absl::StatusOr<NoteVerifier> AsCosignatureVerifier() const;

  const std::string& name() const { return name_; }
  uint32_t key_id() const { return key_id_; }
  SigType type() const { return type_; }
  // The vkey text form this verifier was parsed from or would print as.
  const std::string& vkey() const { return vkey_; }
  // The key material: 32 bytes for Ed25519 (types 0x01, 0x04), the SPKI DER
  // for ECDSA and RFC 6962 keys.
  const std::string& public_key() const { return raw_public_key_; }

  // Verifies `sig` (the signature line's bytes after the 4-byte key ID) over
  // the note `text`. For types 0x04 and 0x05 returns the signed timestamp
  // (seconds for 0x04, milliseconds for 0x05). Unauthenticated if the
  // signature is wrong; InvalidArgument if it is malformed (wrong length) or
  // the text is not a checkpoint where the type needs one.
  absl::StatusOr<std::optional<uint64_t>> Verify(absl::string_view text,
                                                 absl::string_view sig) const;

 private:
  std::string name_;
  uint32_t key_id_ = 0;
  SigType type_ = SigType::kEd25519;
  std::string vkey_;
  std::string raw_public_key_;  // Ed25519: 32 bytes; ECDSA: SPKI DER
  std::shared_ptr<EvpKey> key_;
};

class NoteSigner {
 public:
  // Parses a "PRIVATE+KEY+..." signer key (Ed25519 only). InvalidArgument if
  // malformed or its key ID does not match the derived public key.
  static absl::StatusOr<NoteSigner> Parse(absl::string_view skey);
  // Creates a signer from a 32-byte Ed25519 seed.
  static absl::StatusOr<NoteSigner> FromSeed(absl::string_view name, absl::string_view seed);
  // A new random key (OpenSSL's CSPRNG). InvalidArgument for a bad name.
  static absl::StatusOr<NoteSigner> Generate(absl::string_view name);

  const std::string& name() const { return name_; }
  uint32_t key_id() const { return key_id_; }
  // The 32-byte Ed25519 public key.
  const std::string& public_key() const { return public_key_; }
  // "PRIVATE+KEY+..." text: a secret, store it with mode 0600.
  std::string SignerKey() const;
  // The matching type 0x01 verifier key text.
  std::string VerifierKey() const;
  // The type 0x04 verifier key text, for this key acting as a witness.
  std::string CosignatureVerifierKey() const;
  uint32_t CosignatureKeyId() const;

  // Ed25519 signature (64 bytes) over `message`.
  std::string Sign(absl::string_view message) const;

 private:
  std::string name_;
  uint32_t key_id_ = 0;
  std::string seed_;
  std::string public_key_;
  std::shared_ptr<EvpKey> key_;
};

}  // namespace infratrail

#endif  // INFRATRAIL_CORE_NOTE_KEY_H_
