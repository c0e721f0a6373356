#include "server/checkpoint_signer.h"

#include <sys/stat.h>

#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "core/checkpoint.h"
#include "core/io/file_util.h"
#include "core/note.h"
#include "core/proof.h"

namespace infratrail {
namespace {

constexpr absl::string_view kStateHeader = "infratrail-signer-state v1";

}  // namespace

absl::StatusOr<CheckpointSigner> CheckpointSigner::Open(NoteSigner key, std::string state_path,
                                                        SharedSignerState* shared) {
  CheckpointSigner s(std::move(key), std::move(state_path), shared);
  if (shared != nullptr) {
    absl::StatusOr<std::optional<SignedHead>> head = shared->LoadSignedHead();
    if (!head.ok()) return head.status();
    s.last_ = *head;
  }
  absl::StatusOr<std::string> text = ReadFileToString(s.state_path_);
  if (absl::IsNotFound(text.status())) return s;
  if (!text.ok()) return text.status();
  const std::vector<absl::string_view> lines = absl::StrSplit(*text, '\n');
  auto bad = [&](absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat("signer state ", s.state_path_, ": ", why));
  };
  if (lines.size() != 5 || lines[0] != kStateHeader || !lines[4].empty()) {
    return bad("not an infratrail-signer-state v1 file");
  }
  absl::string_view origin = lines[1];
  if (!absl::ConsumePrefix(&origin, "origin ") || origin != s.key_.name()) {
    return bad(absl::StrCat("belongs to another log (want origin ", s.key_.name(), ")"));
  }
  absl::string_view size_text = lines[2];
  absl::string_view root_text = lines[3];
  SignedHead head;
  if (!absl::ConsumePrefix(&size_text, "size ") || !absl::SimpleAtoi(size_text, &head.size)) {
    return bad("bad size line");
  }
  if (!absl::ConsumePrefix(&root_text, "root ")) return bad("bad root line");
  absl::StatusOr<Hash> root = HashFromBase64(root_text, "root");
  if (!root.ok()) return bad(root.status().message());
  head.root = *root;
  s.local_ = head;
  if (!s.last_.has_value() || s.last_->size < head.size) s.last_ = head;
  return s;
}

absl::Status CheckpointSigner::Persist(const SignedHead& head) {
  // The shared head first: it is the one fenced, so a server that lost the
  // right to sign is stopped before its state file moves.
  if (shared_ != nullptr) {
    if (absl::Status st = shared_->StoreSignedHead(head); !st.ok()) return st;
  }
  const std::string text = absl::StrCat(kStateHeader, "\norigin ", key_.name(), "\nsize ",
                                        head.size, "\nroot ", HashToBase64(head.root), "\n");
  if (absl::Status st = WriteFileAtomic(state_path_, text, S_IRUSR | S_IWUSR); !st.ok()) {
    return st;
  }
  local_ = head;
  last_ = head;
  return absl::OkStatus();
}

absl::Status CheckpointSigner::Adopt(const SignedHead& head) {
  if (local_.has_value()) {
    return absl::FailedPreconditionError(
        absl::StrCat("signer state ", state_path_, " exists; refusing to replace it"));
  }
  return Persist(head);
}

absl::StatusOr<std::string> CheckpointSigner::Sign(uint64_t size, const Hash& root,
                                                   const ConsistencyProver& prover) {
  if (last_.has_value()) {
    const SignedHead& last = *last_;
    if (size < last.size) {
      return absl::FailedPreconditionError(absl::StrCat("refusing to sign tree size ", size,
                                                        ": already signed size ", last.size,
                                                        " (data directory rolled back?)"));
    }
    if (size == last.size && root != last.root) {
      return absl::FailedPreconditionError(absl::StrCat("refusing to sign tree size ", size,
                                                        ": a different root was signed at "
                                                        "this size (fork)"));
    }
    if (size > last.size && last.size > 0) {
      absl::StatusOr<std::vector<Hash>> proof = prover(last.size, size);
      if (!proof.ok()) return proof.status();
      Hasher hasher;
      absl::Status st = VerifyConsistency(last.size, size, last.root, root, *proof, hasher);
      if (!st.ok()) {
        return absl::FailedPreconditionError(absl::StrCat("refusing to sign tree size ", size,
                                                          ": not consistent with signed size ",
                                                          last.size, ": ", st.message()));
      }
    }
  }
  // Commit point: the state is durable before any signature over (size,
  // root) exists. Dying after this re-signs the same head on restart, which
  // is allowed; dying before leaves the old state, which this head extends.
  if (!last_.has_value() || last_->size != size) {
    if (absl::Status st = Persist(SignedHead{size, root}); !st.ok()) return st;
  }
  const Checkpoint cp{key_.name(), size, root, {}};
  const NoteSigner signers[] = {key_};
  return SignNote(cp.Body(), signers);
}

}  // namespace infratrail
