#include "client/ingest/event_pipe.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace infratrail::ingest {
namespace {

v1::InfraEvent EventFor(size_t i) {
  v1::InfraEvent e;
  e.mutable_resource()->set_id(absl::StrCat("r", i));
  return e;
}

TEST(EventPipeTest, EveryItemReachesTheSinkInOrder) {
  // More than the queue holds, and not a whole number of chunks.
  const size_t n = EventPipe::kChunk * (EventPipe::kMaxChunks + 3) + 17;
  std::vector<std::string> seen;  // the pipe's thread only, until Finish
  EventPipe pipe([&](const EventPipe::Item& item) {
    EXPECT_EQ(item.position, absl::StrCat("p", seen.size()));
    seen.push_back(item.event.resource().id());
    return true;
  });
  for (size_t i = 0; i < n; ++i) ASSERT_TRUE(pipe.Push(EventFor(i), absl::StrCat("p", i)));
  EXPECT_TRUE(pipe.Finish());
  ASSERT_EQ(seen.size(), n);
  for (size_t i = 0; i < n; ++i) EXPECT_EQ(seen[i], absl::StrCat("r", i));
  EXPECT_TRUE(pipe.Finish());  // again: nothing more
}

TEST(EventPipeTest, ASinkThatStopsGetsNothingMoreAndPushSaysSo) {
  const size_t stop_at = EventPipe::kChunk + 5;
  size_t calls = 0;
  EventPipe pipe([&](const EventPipe::Item&) { return ++calls <= stop_at; });
  bool pushed_all = true;
  size_t pushed = 0;
  // Pushing goes on until the pipe says it stopped; it must say so before
  // the queue could fill for good (a pusher must never hang on a dead pipe).
  for (size_t i = 0; i < EventPipe::kChunk * (EventPipe::kMaxChunks + 50); ++i) {
    if (!pipe.Push(EventFor(i), "p")) {
      pushed_all = false;
      break;
    }
    ++pushed;
  }
  EXPECT_FALSE(pushed_all);
  EXPECT_FALSE(pipe.Finish());
  EXPECT_EQ(calls, stop_at + 1);  // the refused item, and nothing after it
  EXPECT_GT(pushed, stop_at);
}

TEST(EventPipeTest, NothingPushedFinishesAtOnce) {
  bool called = false;
  EventPipe pipe([&](const EventPipe::Item&) {
    called = true;
    return true;
  });
  EXPECT_TRUE(pipe.Finish());
  EXPECT_FALSE(called);
}

TEST(EventPipeTest, TheDestructorPassesOnWhatIsLeft) {
  size_t calls = 0;
  {
    EventPipe pipe([&](const EventPipe::Item&) {
      ++calls;
      return true;
    });
    for (size_t i = 0; i < 10; ++i) ASSERT_TRUE(pipe.Push(EventFor(i), "p"));
  }
  EXPECT_EQ(calls, 10u);
}

}  // namespace
}  // namespace infratrail::ingest
