#include "server/callback_pool.h"

#include <utility>

namespace infratrail {

CallbackPool::CallbackPool(int threads) {
  threads_.reserve(threads < 1 ? 1 : threads);
  for (int i = 0; i < (threads < 1 ? 1 : threads); ++i) threads_.emplace_back([this] { Loop(); });
}

CallbackPool::~CallbackPool() {
  {
    absl::MutexLock l(&mu_);
    stopping_ = true;
  }
  for (std::thread& t : threads_) t.join();
}

void CallbackPool::Run(std::function<void()> fn) {
  {
    absl::MutexLock l(&mu_);
    if (!stopping_) {
      queue_.push_back(std::move(fn));
      return;
    }
  }
  fn();
}

void CallbackPool::Loop() {
  for (;;) {
    std::function<void()> fn;
    {
      absl::MutexLock l(&mu_);
      mu_.Await(absl::Condition(
          +[](CallbackPool* p)
               ABSL_EXCLUSIVE_LOCKS_REQUIRED(p->mu_) { return p->stopping_ || !p->queue_.empty(); },
          this));
      if (queue_.empty()) return;  // stopping, and everything queued has run
      fn = std::move(queue_.front());
      queue_.pop_front();
      ++running_;
    }
    fn();
    absl::MutexLock l(&mu_);
    --running_;
  }
}

void CallbackPool::Flush() {
  absl::MutexLock l(&mu_);
  mu_.Await(absl::Condition(
      +[](CallbackPool* p)
           ABSL_EXCLUSIVE_LOCKS_REQUIRED(p->mu_) { return p->queue_.empty() && p->running_ == 0; },
      this));
}

}  // namespace infratrail
