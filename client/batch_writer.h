// BatchWriter: streams any number of events into a log through a LogClient,
// batching them transparently. Entries are grouped into AddEvents requests
// of up to `max_batch_entries` (or `max_batch_bytes`), a partial batch is
// sent once it is `linger` old, and at most `max_in_flight` batches are
// outstanding: Add blocks when the window is full, so memory stays bounded
// however fast the producer is. Each batch is retried by the LogClient
// (safe: the log deduplicates).
//
// Results are reported through the callback exactly once per entry (a batch
// at a time), in the order the entries were added, as soon as the entry and every entry before
// it are durable (with `wait`, covered by a verified checkpoint, with a
// receipt). After a batch fails for good, nothing from it or after it is
// reported, and Add and Flush return that error; entries of later batches
// that were already in flight may nonetheless have been added to the log (a
// retry of the whole input reports them as duplicates).
//
// Thread-safety: Add and Flush may be called from any one producer thread
// at a time; the callback runs on an internal thread, one call at a time.
#ifndef INFRATRAIL_CLIENT_BATCH_WRITER_H_
#define INFRATRAIL_CLIENT_BATCH_WRITER_H_

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "client/log_client.h"
#include "proto/limits.h"

namespace infratrail {

struct BatchWriterOptions {
  size_t max_batch_entries = kMaxEntriesPerAdd;  // 1..kMaxEntriesPerAdd
  size_t max_batch_bytes = 4 << 20;
  absl::Duration linger = absl::Milliseconds(5);
  size_t max_in_flight = 4;  // batches sent or ready to send, not yet reported
  bool wait = false;         // wait for a checkpoint; needs the client's log key
};

class BatchWriter {
 public:
  // Called once per batch: `results[i]` is the result of the entry whose
  // 0-based position among all entries added is first_seq + i.
  using ResultCallback =
      std::function<void(uint64_t first_seq, absl::Span<const AddResult> results)>;

  // `client` must outlive the writer. InvalidArgument for bad options.
  static absl::StatusOr<std::unique_ptr<BatchWriter>> Create(LogClient* client,
                                                             BatchWriterOptions options,
                                                             ResultCallback on_result);
  // Flushes, then stops the sending threads.
  ~BatchWriter();

  // Queues one serialized InfraEvent and returns its seq. The entry is
  // validated first (ValidateEntry): InvalidArgument naming the entry as
  // `name` (default "entry <seq>"), nothing queued. Blocks while the
  // in-flight window is full. Returns the writer's error once a batch has
  // failed for good.
  absl::StatusOr<uint64_t> Add(std::string entry, absl::string_view name = "");

  // Add for an entry the caller has already validated (ValidateEntry, or
  // for events it built itself ingest::ValidateMappedEvent).
  absl::StatusOr<uint64_t> AddValidated(std::string entry);

  // Sends the partial batch and waits until every entry added so far is
  // reported. Returns the error that stopped the writer, if any.
  absl::Status Flush();

 private:
  // Queues `entry` unless the writer has failed or `valid` is not OK.
  absl::StatusOr<uint64_t> Queue(std::string entry, const absl::Status& valid,
                                 absl::string_view name);

  struct Batch {
    uint64_t first_seq = 0;
    std::vector<std::string> entries;
    size_t bytes = 0;
    bool done = false;
    absl::StatusOr<std::vector<AddResult>> results;
  };

  BatchWriter(LogClient* client, BatchWriterOptions options, ResultCallback on_result);
  void SendLoop();
  // Seals the open batch once it is `linger` old.
  void LingerLoop();
  // Seals the open batch into the send queue.
  void SealLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Reports finished batches from the front, in order, one thread at a time.
  void DeliverLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  LogClient* const client_;
  const BatchWriterOptions options_;
  const ResultCallback on_result_;

  absl::Mutex mu_;
  std::shared_ptr<Batch> open_ ABSL_GUARDED_BY(mu_);
  absl::Time open_since_ ABSL_GUARDED_BY(mu_);
  std::deque<std::shared_ptr<Batch>> to_send_ ABSL_GUARDED_BY(mu_);
  // Sealed batches not yet reported, in seq order.
  std::deque<std::shared_ptr<Batch>> outstanding_ ABSL_GUARDED_BY(mu_);
  uint64_t next_seq_ ABSL_GUARDED_BY(mu_) = 0;
  bool delivering_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  absl::Status error_ ABSL_GUARDED_BY(mu_);
  const Batch* watched_ ABSL_GUARDED_BY(mu_) = nullptr;  // the batch LingerLoop times
  std::vector<std::thread> senders_;
};

}  // namespace infratrail

#endif  // INFRATRAIL_CLIENT_BATCH_WRITER_H_
