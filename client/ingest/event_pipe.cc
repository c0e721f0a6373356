#include "client/ingest/event_pipe.h"

#include <utility>

namespace infratrail::ingest {

EventPipe::EventPipe(Sink sink) : sink_(std::move(sink)) {
  open_.reserve(kChunk);
  thread_ = std::thread([this] { Run(); });
}

EventPipe::~EventPipe() { Finish(); }

bool EventPipe::Push(v1::InfraEvent event, std::string position) {
  open_.push_back({std::move(event), std::move(position)});
  if (open_.size() < kChunk) {
    // Checked without blocking now and then: a stopped pipe drops the rest.
    absl::MutexLock lock(&mu_);
    return !stopped_;
  }
  SendOpen();
  absl::MutexLock lock(&mu_);
  return !stopped_;
}

void EventPipe::SendOpen() {
  if (open_.empty()) return;
  absl::MutexLock lock(&mu_);
  mu_.Await(absl::Condition(
      +[](EventPipe* p) ABSL_EXCLUSIVE_LOCKS_REQUIRED(p->mu_) {
        return p->chunks_.size() < kMaxChunks || p->stopped_;
      },
      this));
  if (stopped_) {
    open_.clear();
    return;
  }
  chunks_.push_back(std::move(open_));
  open_ = {};
  open_.reserve(kChunk);
}

bool EventPipe::Finish() {
  if (finished_) {
    absl::MutexLock lock(&mu_);
    return !stopped_;
  }
  finished_ = true;
  SendOpen();
  {
    absl::MutexLock lock(&mu_);
    closed_ = true;
  }
  thread_.join();
  absl::MutexLock lock(&mu_);
  return !stopped_;
}

void EventPipe::Run() {
  for (;;) {
    std::vector<Item> chunk;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(
          +[](EventPipe* p)
               ABSL_EXCLUSIVE_LOCKS_REQUIRED(p->mu_) { return !p->chunks_.empty() || p->closed_; },
          this));
      if (chunks_.empty()) return;  // closed and drained
      chunk = std::move(chunks_.front());
      chunks_.pop_front();
    }
    for (const Item& item : chunk) {
      if (!sink_(item)) {
        absl::MutexLock lock(&mu_);
        stopped_ = true;
        chunks_.clear();
        return;
      }
    }
  }
}

}  // namespace infratrail::ingest
