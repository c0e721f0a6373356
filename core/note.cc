#include "core/note.h"

#include "absl/container/flat_hash_set.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "core/encoding.h"

namespace infratrail {
namespace {

constexpr absl::string_view kSigPrefix = "\xe2\x80\x94 ";  // U+2014 em dash, space

absl::Status Malformed(absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("malformed note: ", why));
}

// Valid UTF-8 with no ASCII control character other than newline.
absl::Status CheckNoteBytes(absl::string_view s) {
  for (size_t i = 0; i < s.size();) {
    const uint8_t c = static_cast<uint8_t>(s[i]);
    if (c < 0x20 && c != '\n') {
      return Malformed(absl::StrFormat("control character 0x%02x at byte %d", c, i));
    }
    uint32_t cp;
    const size_t len = DecodeUtf8(s, i, &cp);
    if (len == 0) return Malformed(absl::StrCat("invalid UTF-8 at byte ", i));
    i += len;
  }
  return absl::OkStatus();
}

}  // namespace

std::string NoteSignature::Line() const {
  return absl::StrCat(kSigPrefix, name, " ", base64, "\n");
}

absl::StatusOr<Note> ParseNote(absl::string_view msg) {
  if (msg.size() > kMaxNoteBytes) {
    return Malformed(absl::StrCat(msg.size(), " bytes > limit ", kMaxNoteBytes));
  }
  if (absl::Status s = CheckNoteBytes(msg); !s.ok()) return s;
  const size_t split = msg.rfind("\n\n");
  if (split == absl::string_view::npos) return Malformed("no blank line before signatures");
  Note note;
  note.text = std::string(msg.substr(0, split + 1));
  absl::string_view sigs = msg.substr(split + 2);
  if (sigs.empty()) return Malformed("no signature lines");
  if (sigs.back() != '\n') return Malformed("last signature line does not end in a newline");
  size_t count = 0;
  while (!sigs.empty()) {
    const size_t nl = sigs.find('\n');
    absl::string_view line = sigs.substr(0, nl);
    sigs.remove_prefix(nl + 1);
    if (++count > kMaxNoteSignatures) {
      return Malformed(absl::StrCat("more than ", kMaxNoteSignatures, " signatures"));
    }
    if (!absl::ConsumePrefix(&line, kSigPrefix)) {
      return Malformed(absl::StrCat("signature line ", count, " does not start with \"— \""));
    }
    const size_t sp = line.find(' ');
    if (sp == absl::string_view::npos) {
      return Malformed(absl::StrCat("signature line ", count, " has no signature"));
    }
    NoteSignature sig;
    sig.name = std::string(line.substr(0, sp));
    sig.base64 = std::string(line.substr(sp + 1));
    if (!IsValidKeyName(sig.name)) {
      return Malformed(absl::StrCat("signature line ", count, ": invalid key name"));
    }
    absl::StatusOr<std::string> raw = Base64DecodeStrict(sig.base64, "signature");
    if (!raw.ok()) {
      return Malformed(absl::StrCat("signature line ", count, ": signature is not base64"));
    }
    if (raw->size() < 5) {
      return Malformed(absl::StrCat("signature line ", count, ": signature too short"));
    }
    sig.key_id = ReadUint32BigEndian(*raw);
    note.unverified.push_back(std::move(sig));
  }
  return note;
}

absl::StatusOr<Note> OpenNote(absl::string_view msg, absl::Span<const NoteVerifier> verifiers) {
  absl::StatusOr<Note> parsed = ParseNote(msg);
  if (!parsed.ok()) return parsed.status();
  Note note;
  note.text = std::move(parsed->text);
  absl::flat_hash_set<std::string> seen_lines;
  absl::flat_hash_set<std::pair<std::string, uint32_t>> verified_keys;
  for (NoteSignature& sig : parsed->unverified) {
    if (!seen_lines.insert(sig.Line()).second) continue;  // identical repeat
    const NoteVerifier* match = nullptr;
    for (const NoteVerifier& v : verifiers) {
      if (v.name() != sig.name || v.key_id() != sig.key_id) continue;
      if (match != nullptr) {
        return absl::FailedPreconditionError(
            absl::StrFormat("ambiguous key %s+%08x: given twice", sig.name, sig.key_id));
      }
      match = &v;
    }
    if (match == nullptr) {
      note.unverified.push_back(std::move(sig));
      continue;
    }
    if (!verified_keys.insert({sig.name, sig.key_id}).second) {
      return Malformed(
          absl::StrFormat("two different signatures from key %s+%08x", sig.name, sig.key_id));
    }
    const std::string raw = *Base64DecodeStrict(sig.base64, "signature");
    absl::StatusOr<std::optional<uint64_t>> ts =
        match->Verify(note.text, absl::string_view(raw).substr(4));
    if (!ts.ok()) return ts.status();
    sig.timestamp = *ts;
    note.verified.push_back(std::move(sig));
  }
  if (note.verified.empty()) {
    return absl::UnauthenticatedError("note has no verifiable signatures");
  }
  return note;
}

absl::StatusOr<std::string> SignNote(absl::string_view text, absl::Span<const NoteSigner> signers) {
  if (text.empty() || text.back() != '\n') return Malformed("text does not end in a newline");
  if (absl::Status s = CheckNoteBytes(text); !s.ok()) return s;
  if (signers.empty()) return absl::InvalidArgumentError("SignNote: no signers");
  std::string out = absl::StrCat(text, "\n");
  for (const NoteSigner& s : signers) {
    std::string raw;
    AppendUint32BigEndian(&raw, s.key_id());
    raw.append(s.Sign(text));
    absl::StrAppend(&out, kSigPrefix, s.name(), " ", Base64Encode(raw), "\n");
  }
  return out;
}

absl::StatusOr<std::string> AddSignatures(absl::string_view note,
                                          absl::Span<const NoteSignature> sigs) {
  absl::StatusOr<Note> parsed = ParseNote(note);
  if (!parsed.ok()) return parsed.status();
  std::string out(note);
  absl::flat_hash_set<std::string> present;
  for (const NoteSignature& s : parsed->unverified) present.insert(s.Line());
  for (const NoteSignature& s : sigs) {
    if (present.insert(s.Line()).second) out.append(s.Line());
  }
  return ParseNote(out).ok() ? absl::StatusOr<std::string>(out)
                             : Malformed("adding signatures makes the note invalid");
}

}  // namespace infratrail
