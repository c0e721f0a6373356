// Hands mapped events from the thread reading and mapping records to one
// that serializes, signs, validates and queues them for sending, in order,
// a chunk at a time: the second half costs about as much as the first, so
// on a machine with a spare core the two run side by side.
#ifndef INFRATRAIL_CLIENT_INGEST_EVENT_PIPE_H_
#define INFRATRAIL_CLIENT_INGEST_EVENT_PIPE_H_

#include <cstddef>
#include <deque>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "infratrail/v1/event.pb.h"

namespace infratrail::ingest {

class EventPipe {
 public:
  struct Item {
    v1::InfraEvent event;
    std::string position;
  };
  // Called on the pipe's thread for each item, in the order pushed; false
  // stops the pipe (nothing after that item is passed on).
  using Sink = std::function<bool(const Item&)>;

  // At most kChunk items wait in the open chunk and kMaxChunks chunks in
  // the queue: Push blocks beyond that, so memory stays bounded by
  // (kMaxChunks + 2) * kChunk events.
  static constexpr size_t kChunk = 256;
  static constexpr size_t kMaxChunks = 8;

  explicit EventPipe(Sink sink);
  // Finishes (see Finish) if not done yet.
  ~EventPipe();
  EventPipe(const EventPipe&) = delete;
  EventPipe& operator=(const EventPipe&) = delete;

  // Adds an item. False once the sink has stopped the pipe: the item is
  // dropped, and the caller should stop reading.
  bool Push(v1::InfraEvent event, std::string position);

  // Passes on what is left and waits for the thread. True if the sink took
  // every item pushed.
  bool Finish();

 private:
  void Run();
  void SendOpen();

  const Sink sink_;
  std::vector<Item> open_;  // the pushing thread's
  absl::Mutex mu_;
  std::deque<std::vector<Item>> chunks_ ABSL_GUARDED_BY(mu_);
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ = false;  // the pushing thread's
  std::thread thread_;
};

}  // namespace infratrail::ingest

#endif  // INFRATRAIL_CLIENT_INGEST_EVENT_PIPE_H_
