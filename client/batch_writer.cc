#include "client/batch_writer.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "proto/entry_validation.h"

namespace infratrail {

absl::StatusOr<std::unique_ptr<BatchWriter>> BatchWriter::Create(LogClient* client,
                                                                 BatchWriterOptions options,
                                                                 ResultCallback on_result) {
  if (options.max_batch_entries < 1 || options.max_batch_entries > kMaxEntriesPerAdd) {
    return absl::InvalidArgumentError(
        absl::StrCat("BatchWriter: max_batch_entries: must be 1..", kMaxEntriesPerAdd));
  }
  if (options.max_in_flight < 1) {
    return absl::InvalidArgumentError("BatchWriter: max_in_flight: must be >= 1");
  }
  if (options.wait && !client->options().log_key.has_value()) {
    return absl::FailedPreconditionError(
        "BatchWriter: wait needs the log's verifier key, to verify the receipts");
  }
  return std::unique_ptr<BatchWriter>(new BatchWriter(client, options, std::move(on_result)));
}

BatchWriter::BatchWriter(LogClient* client, BatchWriterOptions options, ResultCallback on_result)
    : client_(client), options_(options), on_result_(std::move(on_result)) {
  for (size_t i = 0; i < options_.max_in_flight; ++i) senders_.emplace_back([this] { SendLoop(); });
  senders_.emplace_back([this] { LingerLoop(); });
}

BatchWriter::~BatchWriter() {
  Flush().IgnoreError();
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  for (std::thread& t : senders_) t.join();
}

absl::StatusOr<uint64_t> BatchWriter::Add(std::string entry, absl::string_view name) {
  // Validated off the lock (it parses the event); senders keep reporting.
  const absl::Status valid = ValidateEntry(entry, name.empty() ? "entry" : name);
  return Queue(std::move(entry), valid, name);
}

absl::StatusOr<uint64_t> BatchWriter::AddValidated(std::string entry) {
  return Queue(std::move(entry), absl::OkStatus(), "");
}

absl::StatusOr<uint64_t> BatchWriter::Queue(std::string entry, const absl::Status& valid,
                                            absl::string_view name) {
  absl::MutexLock lock(&mu_);
  if (!error_.ok()) return error_;
  const uint64_t seq = next_seq_;
  if (!valid.ok()) {
    return name.empty() ? ValidateEntry(entry, absl::StrCat("entry ", seq)) : valid;
  }
  if (open_ != nullptr && open_->bytes + entry.size() > options_.max_batch_bytes) SealLocked();
  if (open_ == nullptr) {
    // The window: a new batch may only open while fewer than max_in_flight
    // are outstanding.
    mu_.Await(absl::Condition(
        +[](BatchWriter* w) ABSL_NO_THREAD_SAFETY_ANALYSIS {
          return w->outstanding_.size() < w->options_.max_in_flight || !w->error_.ok();
        },
        this));
    if (!error_.ok()) return error_;
    open_ = std::make_shared<Batch>();
    open_->first_seq = seq;
    open_since_ = absl::Now();
  }
  open_->bytes += entry.size();
  open_->entries.push_back(std::move(entry));
  ++next_seq_;
  if (open_->entries.size() >= options_.max_batch_entries) SealLocked();
  return seq;
}

void BatchWriter::SealLocked() {
  if (open_ == nullptr) return;
  outstanding_.push_back(open_);
  to_send_.push_back(std::move(open_));
  open_ = nullptr;
}

absl::Status BatchWriter::Flush() {
  absl::MutexLock lock(&mu_);
  SealLocked();
  mu_.Await(absl::Condition(
      +[](BatchWriter* w) ABSL_NO_THREAD_SAFETY_ANALYSIS {
        return (w->outstanding_.empty() && !w->delivering_) || !w->error_.ok();
      },
      this));
  return error_;
}

void BatchWriter::SendLoop() {
  absl::MutexLock lock(&mu_);
  for (;;) {
    mu_.Await(absl::Condition(
        +[](BatchWriter* w)
             ABSL_NO_THREAD_SAFETY_ANALYSIS { return !w->to_send_.empty() || w->stopping_; },
        this));
    if (to_send_.empty()) return;  // stopping
    std::shared_ptr<Batch> batch = std::move(to_send_.front());
    to_send_.pop_front();
    if (!error_.ok()) {
      // A batch before this one failed for good: send nothing more.
      batch->done = true;
      batch->results = error_;
      DeliverLocked();
      continue;
    }
    mu_.Unlock();
    absl::StatusOr<std::vector<AddResult>> results =
        client_->AddValidated(batch->entries, options_.wait);
    mu_.Lock();
    batch->results = std::move(results);
    batch->done = true;
    DeliverLocked();
  }
}

void BatchWriter::LingerLoop() {
  absl::MutexLock lock(&mu_);
  for (;;) {
    mu_.Await(absl::Condition(
        +[](BatchWriter* w)
             ABSL_NO_THREAD_SAFETY_ANALYSIS { return w->open_ != nullptr || w->stopping_; },
        this));
    if (stopping_) return;
    watched_ = open_.get();
    mu_.AwaitWithDeadline(absl::Condition(
                              +[](BatchWriter* w) ABSL_NO_THREAD_SAFETY_ANALYSIS {
                                return w->open_.get() != w->watched_ || w->stopping_;
                              },
                              this),
                          open_since_ + options_.linger);
    if (stopping_) return;
    // Still the same batch, and its time is up: send it partial.
    if (open_.get() == watched_) SealLocked();
  }
}

void BatchWriter::DeliverLocked() {
  if (delivering_) return;  // the thread delivering will see this batch
  delivering_ = true;
  while (!outstanding_.empty() && outstanding_.front()->done && error_.ok()) {
    std::shared_ptr<Batch> batch = std::move(outstanding_.front());
    outstanding_.pop_front();
    if (!batch->results.ok()) {
      const absl::Status& st = batch->results.status();
      error_ = st;
      break;
    }
    mu_.Unlock();
    on_result_(batch->first_seq, *batch->results);
    mu_.Lock();
  }
  delivering_ = false;
}

}  // namespace infratrail
