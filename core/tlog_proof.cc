#include "core/tlog_proof.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "core/encoding.h"
#include "core/note.h"
#include "core/proof.h"

namespace infratrail {

std::string TlogProof::Format() const {
  std::string out = absl::StrCat(kTlogProofHeader, "\n");
  if (extra.has_value()) absl::StrAppend(&out, "extra ", Base64Encode(*extra), "\n");
  absl::StrAppend(&out, "index ", index, "\n");
  for (const Hash& h : inclusion_proof) absl::StrAppend(&out, HashToBase64(h), "\n");
  absl::StrAppend(&out, "\n", checkpoint);
  return out;
}

absl::StatusOr<TlogProof> TlogProof::Parse(absl::string_view text) {
  int line_no = 0;
  auto bad = [&](absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat("tlog-proof line ", line_no, ": ", why));
  };
  auto next_line = [&](absl::string_view* line) {
    const size_t nl = text.find('\n');
    if (nl == absl::string_view::npos) return false;
    *line = text.substr(0, nl);
    text.remove_prefix(nl + 1);
    ++line_no;
    return true;
  };
  absl::string_view line;
  if (!next_line(&line) || line != kTlogProofHeader) {
    return bad(absl::StrCat("want \"", kTlogProofHeader, "\""));
  }
  TlogProof p;
  if (!next_line(&line)) return bad("missing index line");
  if (absl::ConsumePrefix(&line, "extra ")) {
    absl::StatusOr<std::string> extra = Base64DecodeStrict(line, "extra");
    if (!extra.ok()) return bad(extra.status().message());
    p.extra = *std::move(extra);
    if (!next_line(&line)) return bad("missing index line");
  }
  if (!absl::ConsumePrefix(&line, "index ")) return bad("want \"index <n>\"");
  absl::StatusOr<uint64_t> index = ParseDecimalStrict(line, "index");
  if (!index.ok()) return bad(index.status().message());
  p.index = *index;
  while (true) {
    if (!next_line(&line)) return bad("missing blank line before the checkpoint");
    if (line.empty()) break;
    if (p.inclusion_proof.size() == kMaxInclusionProofHashes) {
      return bad(absl::StrCat("more than ", kMaxInclusionProofHashes, " proof hashes"));
    }
    absl::StatusOr<Hash> h = HashFromBase64(line, "inclusion proof hash");
    if (!h.ok()) return bad(h.status().message());
    p.inclusion_proof.push_back(*h);
  }
  absl::StatusOr<Note> note = ParseNote(text);
  if (!note.ok()) return bad(absl::StrCat("checkpoint: ", note.status().message()));
  p.checkpoint = std::string(text);
  return p;
}

absl::StatusOr<VerifiedCheckpoint> VerifyTlogProof(const TlogProof& proof, const Hash& leaf_hash,
                                                   const NoteVerifier& log_key,
                                                   const WitnessPolicy& policy) {
  absl::StatusOr<VerifiedCheckpoint> cp = OpenCheckpoint(proof.checkpoint, log_key, policy);
  if (!cp.ok()) return cp.status();
  Hasher hasher;
  absl::Status s = VerifyInclusion(proof.index, cp->checkpoint.size, leaf_hash,
                                   proof.inclusion_proof, cp->checkpoint.root, hasher);
  if (!s.ok()) return absl::Status(s.code(), absl::StrCat("tlog-proof: ", s.message()));
  return cp;
}

}  // namespace infratrail
