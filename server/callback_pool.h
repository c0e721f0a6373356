// CallbackPool: a few threads that run queued callbacks in order of
// submission, so a component whose own thread must not stall (the
// checkpoint publisher) can hand slow follow-up work (computing the proofs
// of a waiting AddEvents) to someone else.
//
// Thread-safe. The destructor runs everything already queued, then joins.
#ifndef INFRATRAIL_SERVER_CALLBACK_POOL_H_
#define INFRATRAIL_SERVER_CALLBACK_POOL_H_

#include <deque>
#include <functional>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"

namespace infratrail {

class CallbackPool {
 public:
  explicit CallbackPool(int threads);
  ~CallbackPool();
  CallbackPool(const CallbackPool&) = delete;
  CallbackPool& operator=(const CallbackPool&) = delete;

  // Queues `fn` to run on one of the pool's threads. After the destructor
  // has started, runs it on the caller's thread instead.
  void Run(std::function<void()> fn);

  // Returns once everything queued before the call has run.
  void Flush();

 private:
  void Loop();

  absl::Mutex mu_;
  std::deque<std::function<void()>> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  int running_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<std::thread> threads_;
};

}  // namespace infratrail

#endif  // INFRATRAIL_SERVER_CALLBACK_POOL_H_
