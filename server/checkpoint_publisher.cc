#include "server/checkpoint_publisher.h"

#include <algorithm>
#include <chrono>
#include <iostream>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/checkpoint.h"
#include "core/note.h"
#include "core/note_key.h"

namespace infratrail {
namespace {

// Publish's status when the witness round ended without the quorum.
constexpr absl::string_view kStalled = "witness quorum not met";

}  // namespace

absl::StatusOr<std::shared_ptr<const PublishedCheckpoint>> ReadStoredCheckpoint(
    LogStorage& storage) {
  absl::StatusOr<std::optional<std::string>> stored = storage.GetMeta(kMetaCheckpoint);
  if (!stored.ok()) return stored.status();
  if (!stored->has_value()) return std::shared_ptr<const PublishedCheckpoint>();
  absl::StatusOr<Note> note = ParseNote(**stored);
  absl::StatusOr<Checkpoint> cp =
      note.ok() ? Checkpoint::Parse(note->text) : absl::StatusOr<Checkpoint>(note.status());
  if (!cp.ok()) {
    return absl::DataLossError(absl::StrCat("stored checkpoint: ", cp.status().message()));
  }
  auto out = std::make_shared<PublishedCheckpoint>();
  out->size = cp->size;
  out->root = cp->root;
  out->note = std::move(**stored);
  out->published_at = absl::Now();  // not stored: as of this start-up
  return std::shared_ptr<const PublishedCheckpoint>(std::move(out));
}

CheckpointPublisher::CheckpointPublisher(LogStorage* storage, CheckpointSigner* signer,
                                         TreeReader* reader, const PublisherOptions& options,
                                         Metrics* metrics)
    : storage_(storage),
      signer_(signer),
      reader_(reader),
      options_(options),
      metrics_(metrics),
      callbacks_(std::make_unique<CallbackPool>(2)) {}

absl::StatusOr<std::unique_ptr<CheckpointPublisher>> CheckpointPublisher::Start(
    LogStorage* storage, CheckpointSigner* signer, TreeReader* reader, const TreeHead& head,
    const PublisherOptions& options, Metrics* metrics) {
  std::unique_ptr<CheckpointPublisher> p(
      new CheckpointPublisher(storage, signer, reader, options, metrics));
  absl::StatusOr<std::shared_ptr<const PublishedCheckpoint>> stored =
      ReadStoredCheckpoint(*storage);
  if (!stored.ok()) return stored.status();
  if (*stored != nullptr) {
    if ((*stored)->size > head.size && !options.standby) {
      return absl::DataLossError(absl::StrCat("stored checkpoint size ", (*stored)->size,
                                              " is beyond the stored tree size ", head.size));
    }
    absl::MutexLock l(&p->mu_);
    p->latest_ = *stored;
    p->target_ = TreeHead{(*stored)->size, (*stored)->root};
  }
  {
    absl::MutexLock l(&p->mu_);
    if (p->latest_ == nullptr || head.size > p->latest_->size) p->target_ = head;
    p->republish_ = options.witnesses != nullptr && p->latest_ != nullptr;
    if (!options.read_only_reason.empty()) {
      p->failed_ = absl::UnavailableError(absl::StrCat("read-only: ", options.read_only_reason));
      return p;
    }
  }
  p->thread_ = std::thread([raw = p.get()] { raw->Run(); });
  return p;
}

CheckpointPublisher::~CheckpointPublisher() { Stop(); }

void CheckpointPublisher::OnCommit(const TreeHead& head) {
  absl::MutexLock l(&mu_);
  if (head.size > target_.size) target_ = head;
}

std::shared_ptr<const PublishedCheckpoint> CheckpointPublisher::latest() const {
  absl::MutexLock l(&mu_);
  return latest_;
}

absl::Status CheckpointPublisher::status() const {
  absl::MutexLock l(&mu_);
  if (!failed_.ok()) return failed_;
  if (!failing_.ok()) {
    return absl::UnavailableError(
        absl::StrCat("checkpoint publishing is failing (retrying): ", failing_.message()));
  }
  return absl::OkStatus();
}

absl::StatusOr<bool> CheckpointPublisher::Refresh() {
  {
    absl::MutexLock l(&mu_);
    if (options_.read_only_reason.empty() && !stopping_) {
      return absl::FailedPreconditionError("refresh: this publisher publishes");
    }
  }
  absl::StatusOr<std::shared_ptr<const PublishedCheckpoint>> stored =
      ReadStoredCheckpoint(*storage_);
  if (!stored.ok()) return stored.status();
  if (*stored == nullptr) return false;
  {
    absl::MutexLock l(&mu_);
    if (latest_ != nullptr && latest_->size >= (*stored)->size) return false;
  }
  // Another server wrote it: served only if it is the log's own.
  absl::StatusOr<NoteVerifier> verifier = NoteVerifier::Parse(signer_->key().VerifierKey());
  if (!verifier.ok()) return verifier.status();
  const NoteVerifier verifiers[] = {*verifier};
  if (absl::StatusOr<Note> note = OpenNote((*stored)->note, verifiers); !note.ok()) {
    return absl::DataLossError(absl::StrCat(
        "stored checkpoint does not verify under the log's key: ", note.status().message()));
  }
  absl::MutexLock l(&mu_);
  if (latest_ != nullptr && latest_->size >= (*stored)->size) return false;
  latest_ = *stored;
  if (metrics_ != nullptr) metrics_->checkpoint_size.Set(static_cast<double>(latest_->size));
  return true;
}

absl::Status CheckpointPublisher::stalled() const {
  absl::MutexLock l(&mu_);
  return stalled_;
}

void CheckpointPublisher::WaitFor(uint64_t size, WaitDone done) {
  absl::StatusOr<std::shared_ptr<const PublishedCheckpoint>> result;
  {
    absl::MutexLock l(&mu_);
    if (!failed_.ok()) {
      result =
          absl::UnavailableError(absl::StrCat("checkpoint publishing failed: ", failed_.message()));
    } else if (!failing_.ok()) {
      result = absl::UnavailableError(
          absl::StrCat("checkpoint publishing is failing (retrying): ", failing_.message()));
    } else if (latest_ != nullptr && latest_->size >= size) {
      result = latest_;
    } else if (stopping_) {
      result =
          absl::UnavailableError("log is shutting down before a checkpoint covered the entries");
    } else {
      waiters_.emplace(size, std::move(done));
      return;
    }
  }
  done(std::move(result));
}

void CheckpointPublisher::Stop() {
  absl::MutexLock stop(&stop_mu_);
  {
    absl::MutexLock l(&mu_);
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
  FailAll(absl::UnavailableError("log is shutting down before a checkpoint covered the entries"));
  callbacks_->Flush();  // every callback handed over has run
}

void CheckpointPublisher::FailAll(const absl::Status& status) {
  std::multimap<uint64_t, WaitDone> waiters;
  {
    absl::MutexLock l(&mu_);
    waiters.swap(waiters_);
  }
  if (waiters.empty()) return;
  callbacks_->Run([waiters = std::move(waiters), status]() mutable {
    for (auto& [size, done] : waiters) done(status);
  });
}

absl::Status CheckpointPublisher::Publish(const TreeHead& head) {
  const auto start = std::chrono::steady_clock::now();
  absl::StatusOr<std::string> note =
      signer_->Sign(head.size, head.root,
                    [this](uint64_t a, uint64_t b) { return reader_->ConsistencyProof(a, b); });
  if (!note.ok()) return note.status();
  metrics_->checkpoint_sign_seconds.Observe(
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  if (options_.witnesses != nullptr) {
    absl::StatusOr<std::string> cosigned = Witness(*note, head.size);
    if (!cosigned.ok()) return cosigned.status();
    note = *std::move(cosigned);
  }
  // Commit point: the note is durable in storage before anyone sees it, so
  // a restart serves it (or a newer one) and never an older one.
  if (absl::Status st = storage_->PutMeta(kMetaCheckpoint, *note); !st.ok()) return st;
  auto cp = std::make_shared<PublishedCheckpoint>();
  cp->size = head.size;
  cp->root = head.root;
  cp->note = std::move(*note);
  cp->published_at = absl::Now();
  metrics_->checkpoint_size.Set(static_cast<double>(cp->size));
  metrics_->checkpoint_timestamp.Set(absl::ToDoubleSeconds(cp->published_at - absl::UnixEpoch()));
  std::vector<WaitDone> ready;
  {
    absl::MutexLock l(&mu_);
    latest_ = cp;
    auto end = waiters_.upper_bound(cp->size);
    for (auto it = waiters_.begin(); it != end; ++it) ready.push_back(std::move(it->second));
    waiters_.erase(waiters_.begin(), end);
  }
  if (!ready.empty()) {
    callbacks_->Run([ready = std::move(ready), cp]() mutable {
      for (WaitDone& d : ready) d(std::shared_ptr<const PublishedCheckpoint>(cp));
    });
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> CheckpointPublisher::Witness(const std::string& note, uint64_t size) {
  const auto start = std::chrono::steady_clock::now();
  WitnessCollector::Result r = options_.witnesses->Collect(note, size);
  metrics_->checkpoint_witness_seconds.Observe(
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  // What the witnesses hold is kept whether or not the quorum was met.
  if (std::optional<std::string> sizes = options_.witnesses->SizesToPersist(); sizes.has_value()) {
    if (absl::Status st = storage_->PutMeta(kMetaWitnessSizes, *sizes); !st.ok()) return st;
  }
  if (!r.quorum_met) {
    if (!options_.fail_open) {
      bool first = false;
      {
        absl::MutexLock l(&mu_);
        first = stalled_.ok();
        stalled_ =
            absl::UnavailableError(absl::StrCat("checkpoint publication stalled: ", r.detail));
        republish_ = true;  // retried even if nothing new is written
      }
      metrics_->checkpoint_publication_stalled.Set(1);
      if (first)
        std::cerr << "infratrail-server: checkpoint publication stalled: " << r.detail << "\n";
      return absl::UnavailableError(kStalled);
    }
    metrics_->checkpoint_published_without_quorum.Increment();
    std::cerr << "infratrail-server: --witness-fail-open: publishing size " << size
              << " WITHOUT the witness quorum: " << r.detail << "\n";
  }
  bool recovered = false;
  {
    absl::MutexLock l(&mu_);
    recovered = !stalled_.ok();
    stalled_ = absl::OkStatus();
  }
  if (recovered && r.quorum_met) {
    metrics_->checkpoint_publication_stalled.Set(0);
    std::cerr << "infratrail-server: witnessed publication resumed at size " << size << "\n";
  }
  if (r.cosignatures.empty()) return note;
  return AddSignatures(note, r.cosignatures);
}

void CheckpointPublisher::Run() {
  absl::Time next = absl::InfinitePast();
  absl::Duration backoff = options_.retry_min;
  for (;;) {
    TreeHead head;
    bool stopping = false;
    {
      absl::MutexLock l(&mu_);
      // Wait for a new head, then for the interval (or the retry backoff)
      // to pass since the last attempt (a stop request cuts the wait short).
      mu_.Await(absl::Condition(
          +[](CheckpointPublisher* p) ABSL_EXCLUSIVE_LOCKS_REQUIRED(p->mu_) {
            return p->stopping_ || p->latest_ == nullptr || p->target_.size > p->latest_->size ||
                   p->republish_;
          },
          this));
      if (!stopping_) {
        mu_.AwaitWithDeadline(absl::Condition(&stopping_), next);
      }
      stopping = stopping_;
      if (latest_ != nullptr && target_.size <= latest_->size && !republish_) {
        if (stopping) return;
        continue;
      }
      head = target_;
      republish_ = false;
    }
    absl::Status st = Publish(head);
    if (st.ok()) {
      next = absl::Now() + options_.interval;
      backoff = options_.retry_min;
      bool recovered = false;
      {
        absl::MutexLock l(&mu_);
        recovered = !failing_.ok();
        failing_ = absl::OkStatus();
      }
      if (recovered) {
        metrics_->checkpoint_publish_failing.Set(0);
        std::cerr << "infratrail-server: checkpoint publishing recovered at size " << head.size
                  << "\n";
      }
      if (stopping) {
        absl::MutexLock l(&mu_);
        if (target_.size <= latest_->size) return;
      }
      continue;
    }
    if (absl::IsUnavailable(st) && st.message() == kStalled) {
      // Waiting for witnesses is not a failure of the log: health and
      // status() stay as they are; waiters hear why and may ask again.
      absl::Status why;
      {
        absl::MutexLock l(&mu_);
        why = stalled_;
      }
      FailAll(absl::UnavailableError(
          absl::StrCat(why.message(),
                       "; the entries are sequenced and durable: wait again, or ask for a proof, "
                       "once the witnesses cosign")));
      if (stopping) return;
      next = absl::Now() + backoff;
      backoff = std::min(backoff * 2, options_.retry_max);
      continue;
    }
    metrics_->checkpoint_publish_failures.Increment();
    if (absl::IsFailedPrecondition(st) || absl::IsDataLoss(st)) {
      // Signing it would contradict what was signed before: never retried.
      std::cerr << "infratrail-server: checkpoint publishing stopped: " << st << "\n";
      {
        absl::MutexLock l(&mu_);
        failed_ = st;
      }
      metrics_->checkpoint_publish_failing.Set(1);
      FailAll(absl::UnavailableError(absl::StrCat("checkpoint publishing failed: ", st.message())));
      return;
    }
    bool first = false;
    {
      absl::MutexLock l(&mu_);
      first = failing_.ok();
      failing_ = st;
    }
    if (first) {
      metrics_->checkpoint_publish_failing.Set(1);
      std::cerr << "infratrail-server: checkpoint publishing failed, retrying with backoff: " << st
                << "\n";
    }
    FailAll(absl::UnavailableError(
        absl::StrCat("checkpoint publishing is failing (retrying): ", st.message())));
    // A drain gives up after one more failure rather than waiting for space.
    if (stopping) return;
    next = absl::Now() + backoff;
    backoff = std::min(backoff * 2, options_.retry_max);
  }
}

}  // namespace infratrail
