#include "client/emitter_signature.h"

#include <algorithm>
#include <climits>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "google/protobuf/wire_format_lite.h"
#include "infratrail/v1/event.pb.h"

namespace infratrail {
namespace {

using google::protobuf::internal::WireFormatLite;

constexpr int kSignaturesField = 10;  // InfraEvent.signatures
constexpr uint32_t kSignaturesTag =
    WireFormatLite::MakeTag(kSignaturesField, WireFormatLite::WIRETYPE_LENGTH_DELIMITED);
constexpr size_t kEd25519SignatureSize = 64;

// An entry taken apart: the bytes signatures cover, and each signature record.
struct SplitEvent {
  std::string unsigned_bytes;  // U
  struct Record {
    size_t offset;  // of the record's tag in the entry, for error messages
    absl::string_view payload;
  };
  std::vector<Record> signatures;
};

absl::Status NotWellFormed(absl::string_view why) {
  return absl::InvalidArgumentError(
      absl::StrCat("emitter signature: entry is not a well-formed protobuf message (", why, ")"));
}

// Walks the top-level records of `event` without re-serializing anything, so
// U is exactly the submitted bytes minus the signature records.
absl::StatusOr<SplitEvent> Split(absl::string_view event) {
  if (event.size() > static_cast<size_t>(INT_MAX)) {
    return NotWellFormed(absl::StrCat(event.size(), " bytes is more than protobuf can parse"));
  }
  const int size = static_cast<int>(event.size());
  google::protobuf::io::CodedInputStream in(reinterpret_cast<const uint8_t*>(event.data()), size);
  SplitEvent out;
  out.unsigned_bytes.reserve(event.size());
  while (in.CurrentPosition() < size) {
    const int start = in.CurrentPosition();
    const uint32_t tag = in.ReadTag();
    // ReadTag returns 0 for an unreadable varint; field number 0 is invalid too.
    if (WireFormatLite::GetTagFieldNumber(tag) == 0) {
      return NotWellFormed(absl::StrCat("bad tag at byte ", start));
    }
    if (tag == kSignaturesTag) {
      uint32_t length = 0;
      if (!in.ReadVarint32(&length) ||
          length > static_cast<uint32_t>(size - in.CurrentPosition())) {
        return NotWellFormed(absl::StrCat("bad signature record length at byte ", start));
      }
      const int payload_start = in.CurrentPosition();
      in.Skip(static_cast<int>(length));  // cannot fail: the bytes are there
      out.signatures.push_back({static_cast<size_t>(start), event.substr(payload_start, length)});
      continue;
    }
    if (!WireFormatLite::SkipField(&in, tag)) {
      return NotWellFormed(absl::StrCat("truncated or invalid field ",
                                        WireFormatLite::GetTagFieldNumber(tag), " at byte ",
                                        start));
    }
    absl::StrAppend(&out.unsigned_bytes, event.substr(start, in.CurrentPosition() - start));
  }
  return out;
}

absl::StatusOr<v1::EmitterSignature> ParseRecord(const SplitEvent::Record& record) {
  v1::EmitterSignature sig;
  if (!sig.ParseFromArray(record.payload.data(), static_cast<int>(record.payload.size()))) {
    return absl::InvalidArgumentError(absl::StrCat("emitter signature: signature record at byte ",
                                                   record.offset,
                                                   " is not a well-formed EmitterSignature"));
  }
  return sig;
}

std::string SignedMessage(absl::string_view unsigned_bytes) {
  return absl::StrCat(kEmitterSignaturePrefix, unsigned_bytes);
}

}  // namespace

absl::StatusOr<std::string> SignEvent(absl::string_view event, const NoteSigner& key) {
  absl::StatusOr<SplitEvent> split = Split(event);
  if (!split.ok()) return split.status();
  for (const SplitEvent::Record& record : split->signatures) {
    absl::StatusOr<v1::EmitterSignature> existing = ParseRecord(record);
    if (!existing.ok()) return existing.status();
    if (existing->key_name() == key.name() && existing->key_id() == key.key_id()) {
      return absl::FailedPreconditionError(
          absl::StrFormat("SignEvent: event already signed by %s+%08x", key.name(), key.key_id()));
    }
  }
  v1::EmitterSignature sig;
  sig.set_key_name(key.name());
  sig.set_key_id(key.key_id());
  sig.set_signature(key.Sign(SignedMessage(split->unsigned_bytes)));

  std::string out(event);
  {
    // Appends to `out`; the stream flushes when it goes out of scope.
    google::protobuf::io::StringOutputStream sink(&out);
    google::protobuf::io::CodedOutputStream coded(&sink);
    WireFormatLite::WriteBytes(kSignaturesField, sig.SerializeAsString(), &coded);
  }
  return out;
}

absl::StatusOr<std::string> UnsignedEventBytes(absl::string_view event) {
  absl::StatusOr<SplitEvent> split = Split(event);
  if (!split.ok()) return split.status();
  return std::move(split->unsigned_bytes);
}

absl::StatusOr<std::vector<EmitterSignatureCheck>> CheckEmitterSignatures(
    absl::string_view event, absl::Span<const NoteVerifier> keys) {
  absl::StatusOr<SplitEvent> split = Split(event);
  if (!split.ok()) return split.status();
  const std::string message = SignedMessage(split->unsigned_bytes);
  std::vector<EmitterSignatureCheck> checks;
  checks.reserve(split->signatures.size());
  std::vector<const NoteVerifier*> checked;  // keys whose first record was checked
  for (const SplitEvent::Record& record : split->signatures) {
    absl::StatusOr<v1::EmitterSignature> sig = ParseRecord(record);
    if (!sig.ok()) return sig.status();
    EmitterSignatureCheck check;
    check.key_name = sig->key_name();
    check.key_id = sig->key_id();
    const NoteVerifier* match = nullptr;
    for (const NoteVerifier& key : keys) {
      if (key.type() != SigType::kEd25519 || key.name() != check.key_name ||
          key.key_id() != check.key_id) {
        continue;
      }
      if (match != nullptr) {
        return absl::FailedPreconditionError(
            absl::StrFormat("CheckEmitterSignatures: ambiguous key %s+%08x: given twice",
                            check.key_name, check.key_id));
      }
      match = &key;
    }
    if (match == nullptr) {
      check.result = EmitterSignatureResult::kUnknownKey;
    } else if (std::find(checked.begin(), checked.end(), match) != checked.end()) {
      check.result = EmitterSignatureResult::kRepeatedKey;
    } else {
      checked.push_back(match);
      if (sig->signature().size() != kEd25519SignatureSize) {
        check.result = EmitterSignatureResult::kBadSignature;
      } else {
        absl::StatusOr<std::optional<uint64_t>> verified = match->Verify(message, sig->signature());
        if (verified.ok()) {
          check.result = EmitterSignatureResult::kVerified;
        } else if (absl::IsUnauthenticated(verified.status())) {
          check.result = EmitterSignatureResult::kBadSignature;
        } else {
          return verified.status();  // not expected: the length was checked above
        }
      }
    }
    checks.push_back(std::move(check));
  }
  return checks;
}

}  // namespace infratrail
