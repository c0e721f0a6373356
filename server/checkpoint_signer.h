// CheckpointSigner: signs checkpoints with the log key, and never signs two
// that contradict each other (DESIGN.md invariant 2).
//
// It persists the last (size, root) it signed in a state file that lives
// beside the key, outside the data directory, so restoring the data
// directory from an old backup cannot roll it back. Before signing (n, r) it
// requires n >= last size, r == last root when n == last size, and otherwise
// a consistency proof from the last signed tree to (n, r) that verifies. The
// new state is durable before the signature exists.
//
// State file (docs/storage.md):
//   infratrail-signer-state v1\n origin <origin>\n size <n>\n root <base64>\n
//
// With a shared store (SharedSignerState: the database of a log served by
// several servers, docs/ha.md) the last signed head is also kept there,
// written first and fenced by the leader's epoch, so whichever server signs
// next continues from it; the state file still records what this server
// signed, and the larger of the two is the head to be consistent with.
//
// Not thread-safe: one publisher thread signs.
#ifndef INFRATRAIL_SERVER_CHECKPOINT_SIGNER_H_
#define INFRATRAIL_SERVER_CHECKPOINT_SIGNER_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/hash.h"
#include "core/note_key.h"

namespace infratrail {

struct SignedHead {
  uint64_t size = 0;
  Hash root{};
};

// The last signed head kept beside the log, shared by every server that may
// sign for it.
class SharedSignerState {
 public:
  virtual ~SharedSignerState() = default;
  // nullopt if nothing was ever signed.
  virtual absl::StatusOr<std::optional<SignedHead>> LoadSignedHead() = 0;
  // Durable once it returns. FailedPrecondition if this server may no
  // longer sign (its leadership was taken over) or `head` is smaller than
  // the stored one.
  virtual absl::Status StoreSignedHead(const SignedHead& head) = 0;
};

class CheckpointSigner {
 public:
  // Proves consistency of the log's own tree from size1 to size2.
  using ConsistencyProver =
      std::function<absl::StatusOr<std::vector<Hash>>(uint64_t size1, uint64_t size2)>;

  // Loads the state file if present, and the shared head if `shared` is
  // set (it must outlive the signer). InvalidArgument if the file is
  // malformed or belongs to another origin.
  static absl::StatusOr<CheckpointSigner> Open(NoteSigner key, std::string state_path,
                                               SharedSignerState* shared = nullptr);

  // The last signed head (the larger of the state file's and the shared
  // one); nullopt if this key never signed.
  const std::optional<SignedHead>& last_signed() const { return last_; }
  // The state file's head alone (what this server signed).
  const std::optional<SignedHead>& local_signed() const { return local_; }

  // Signs a checkpoint note for (size, root) after the checks above.
  // FailedPrecondition (signing nothing) if it would contradict the last
  // signed head; errors of the prover or of persisting the state otherwise.
  absl::StatusOr<std::string> Sign(uint64_t size, const Hash& root,
                                   const ConsistencyProver& prover);

  // Records `head` as signed without signing (adopting a data directory's
  // checkpoint when the state file was lost; see --recover-signer-state).
  absl::Status Adopt(const SignedHead& head);

  const NoteSigner& key() const { return key_; }

 private:
  CheckpointSigner(NoteSigner key, std::string state_path, SharedSignerState* shared)
      : key_(std::move(key)), state_path_(std::move(state_path)), shared_(shared) {}
  absl::Status Persist(const SignedHead& head);

  NoteSigner key_;
  std::string state_path_;
  SharedSignerState* shared_;
  std::optional<SignedHead> local_;
  std::optional<SignedHead> last_;
};

}  // namespace infratrail

#endif  // INFRATRAIL_SERVER_CHECKPOINT_SIGNER_H_
