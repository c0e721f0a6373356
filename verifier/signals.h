// Signals for the verifier's long-running commands.
#ifndef INFRATRAIL_VERIFIER_SIGNALS_H_
#define INFRATRAIL_VERIFIER_SIGNALS_H_

#include <pthread.h>
#include <signal.h>

#include <thread>
#include <utility>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace infratrail {

// SIGTERM / SIGINT ask a long-running command (monitor, witness) to stop;
// SIGHUP asks it to read its configuration again. A thread waits for them so the rest of the
// process never runs in a handler. It must be created before any other thread (libcurl's resolver,
// the metrics server), which then inherit the blocked mask: a signal delivered to one of them would
// otherwise take its default action and kill the process.
class Signals {
 public:
  Signals() {
    sigemptyset(&set_);
    sigaddset(&set_, SIGTERM);
    sigaddset(&set_, SIGINT);
    sigaddset(&set_, SIGHUP);
    sigaddset(&set_, SIGUSR1);  // the destructor's wake-up
    pthread_sigmask(SIG_BLOCK, &set_, nullptr);
    thread_ = std::thread([this] { Wait(); });
  }
  ~Signals() {
    {
      absl::MutexLock l(&mu_);
      done_ = true;
    }
    pthread_kill(thread_.native_handle(), SIGUSR1);
    thread_.join();
  }
  Signals(const Signals&) = delete;
  Signals& operator=(const Signals&) = delete;

  // SIGTERM or SIGINT came.
  bool stopping() {
    absl::MutexLock l(&mu_);
    return stop_;
  }
  // A stop or a reload waits: the round in progress ends at its next
  // commit point.
  bool interrupted() {
    absl::MutexLock l(&mu_);
    return Pending();
  }
  // True once for any number of SIGHUPs since the last call.
  bool TakeReload() {
    absl::MutexLock l(&mu_);
    return std::exchange(reload_, false);
  }
  // Sleeps up to `d`, less if a stop or a reload waits.
  void SleepFor(absl::Duration d) {
    absl::MutexLock l(&mu_);
    mu_.AwaitWithTimeout(absl::Condition(this, &Signals::Pending), d);
  }

 private:
  void Wait() {
    while (true) {
      int sig = 0;
      if (sigwait(&set_, &sig) != 0) continue;
      absl::MutexLock l(&mu_);
      if (sig == SIGUSR1) {
        if (done_) return;
        continue;  // not ours: ignored
      }
      (sig == SIGHUP ? reload_ : stop_) = true;
    }
  }
  bool Pending() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stop_ || reload_; }

  sigset_t set_;
  absl::Mutex mu_;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  bool reload_ ABSL_GUARDED_BY(mu_) = false;
  bool done_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace infratrail

#endif  // INFRATRAIL_VERIFIER_SIGNALS_H_
