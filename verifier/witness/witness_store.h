// WitnessStore: the witness's durable record of the latest checkpoint it
// cosigned for each log (docs/witness.md, "State").
//
// Files in the state directory:
//   snapshot          every log's record at one point, written atomically
//                     (temporary file, fsync, rename, directory fsync) with
//                     the generation of the journal that follows it;
//   journal-<gen>     batches of records appended since that snapshot, one
//                     write and one fdatasync per batch of commits.
// A record is u32 length (big-endian) || payload || SHA-256(payload)[:8];
// payload = u8 version (1) || u16 origin length || origin || u64 size ||
// root (32) || u32 note length || note. A batch is "ITWB" || u32 length ||
// its records || SHA-256(records)[:8]: a write a crash cut short fails its
// batch's checksum as a whole, whatever order its pages reached the disk in.
//
// Durability: Commit's callback runs with OK only after the record is on
// disk (fdatasync returned), so a caller that answers only then never hands
// out a cosignature it could forget. Commits queued while a batch is being
// synced form the next batch (group commit): many requests, one fsync.
//
// Recovery runs at Open: the snapshot, then every journal of its generation
// or later, in order. A batch that does not check out, with no whole batch
// anywhere after it, at the end of the last journal is a write a crash cut
// short (it was never acknowledged: the next batch is written only after
// this one's fdatasync) and is cut off. Anything else (a bad batch followed
// by a good one, a bad batch in an older journal, a record that takes a log
// back to a smaller tree or another root at the same size, a damaged
// snapshot) is corruption: Open refuses (FailedPrecondition naming the file
// and offset) and an operator decides.
//
// Errors are sticky: after a failed write or sync every later Commit fails
// at once (the process should exit; the files still hold everything that was
// acknowledged).
//
// Threads: one committer thread of ours writes the files and runs the
// callbacks; everything else is guarded by mu_. Thread-safe.
#ifndef INFRATRAIL_VERIFIER_WITNESS_WITNESS_STORE_H_
#define INFRATRAIL_VERIFIER_WITNESS_WITNESS_STORE_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "core/hash.h"

namespace infratrail {

struct CosignedCheckpoint {
  std::string origin;
  uint64_t size = 0;
  Hash root{};
  // The checkpoint as served to monitors: text, the log's signatures the
  // witness verified, and the witness's cosignature.
  std::string note;
};

struct WitnessStoreOptions {
  // The journal is folded into a new snapshot once it is this large.
  size_t compact_after_bytes = size_t{16} << 20;
  // Test hook: called after a batch is written, before it is synced; an
  // error is treated as a failed sync.
  std::function<absl::Status()> sync_fault;
};

class WitnessStore {
 public:
  using Done = absl::AnyInvocable<void(absl::Status) &&>;

  // Opens (creating) `dir` and recovers. FailedPrecondition on corruption;
  // other errors name the file and the failed operation.
  static absl::StatusOr<std::unique_ptr<WitnessStore>> Open(const std::string& dir,
                                                            WitnessStoreOptions options = {});
  ~WitnessStore();  // waits for the queued commits (they complete or fail)
  WitnessStore(const WitnessStore&) = delete;
  WitnessStore& operator=(const WitnessStore&) = delete;

  // Every log's latest durable record (after Open: what recovery found).
  std::vector<CosignedCheckpoint> All() const ABSL_LOCKS_EXCLUDED(mu_);
  std::optional<CosignedCheckpoint> Latest(const std::string& origin) const
      ABSL_LOCKS_EXCLUDED(mu_);

  // Queues `record`; `done` runs once on the committer thread: OK when it is
  // durable, the store's error otherwise. Records of one log must be queued
  // in the order of their sizes (the caller serialises per log).
  void Commit(CosignedCheckpoint record, Done done) ABSL_LOCKS_EXCLUDED(mu_);
  // `done` runs once everything queued before it is durable (at once, with
  // no write, if that is already so), or with the store's error.
  void AfterDurable(Done done) ABSL_LOCKS_EXCLUDED(mu_);

  // OK, or the error that stopped the store.
  absl::Status health() const ABSL_LOCKS_EXCLUDED(mu_);
  // Bytes in the snapshot and journal.
  uint64_t bytes() const ABSL_LOCKS_EXCLUDED(mu_);
  // Bytes cut off the end of the last journal by recovery (a torn write).
  uint64_t recovered_torn_bytes() const { return torn_bytes_; }
  // Batches synced so far (a group commit is one batch).
  uint64_t batches() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  struct Pending {
    std::optional<CosignedCheckpoint> record;  // none: a barrier
    Done done;
  };

  WitnessStore(std::string dir, WitnessStoreOptions options)
      : dir_(std::move(dir)), options_(std::move(options)) {}
  absl::Status Recover();
  absl::Status OpenJournal(uint64_t gen);
  absl::Status Compact() ABSL_LOCKS_EXCLUDED(mu_);
  void Enqueue(Pending p) ABSL_LOCKS_EXCLUDED(mu_);
  void Run() ABSL_LOCKS_EXCLUDED(mu_);

  const std::string dir_;
  const WitnessStoreOptions options_;
  uint64_t torn_bytes_ = 0;

  // Owned by the committer thread after Open.
  int journal_fd_ = -1;
  uint64_t gen_ = 0;
  std::thread committer_;

  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, CosignedCheckpoint> durable_ ABSL_GUARDED_BY(mu_);
  std::vector<Pending> queue_ ABSL_GUARDED_BY(mu_);
  absl::Status failed_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t journal_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t snapshot_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t batches_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace infratrail

#endif  // INFRATRAIL_VERIFIER_WITNESS_WITNESS_STORE_H_
