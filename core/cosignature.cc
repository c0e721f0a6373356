#include "core/cosignature.h"

#include "core/checkpoint.h"
#include "core/encoding.h"

namespace infratrail {

absl::StatusOr<NoteSignature> Cosign(const NoteSigner& witness, absl::string_view checkpoint_body,
                                     uint64_t timestamp) {
  absl::StatusOr<Checkpoint> cp = Checkpoint::Parse(checkpoint_body);
  if (!cp.ok()) return cp.status();
  std::string raw;
  AppendUint32BigEndian(&raw, witness.CosignatureKeyId());
  AppendUint64BigEndian(&raw, timestamp);
  raw.append(witness.Sign(CosignatureMessage(timestamp, checkpoint_body)));
  NoteSignature sig;
  sig.name = witness.name();
  sig.key_id = witness.CosignatureKeyId();
  sig.base64 = Base64Encode(raw);
  sig.timestamp = timestamp;
  return sig;
}

}  // namespace infratrail
