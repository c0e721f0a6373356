// The message size bounds of proto/limits.h against real protobuf encodings:
// the largest message of each kind, built field by field, is no larger than
// its bound (and the bounds fit the limits: static_asserts in the header).
#include "proto/limits.h"

#include <cstdint>
#include <string>

#include "gtest/gtest.h"
#include "infratrail/v1/log.pb.h"

namespace infratrail {
namespace {

constexpr uint64_t kLargestIndex = ~uint64_t{0};

TEST(Limits, AFullBatchOfTheLargestEntriesFitsTheRequestLimit) {
  v1::AddEventsRequest req;
  for (size_t i = 0; i < kMaxEntriesPerAdd; ++i) {
    req.add_entries()->set_data(std::string(kMaxEntryBytes, 'e'));
  }
  req.set_wait_for_checkpoint(true);
  EXPECT_LE(req.ByteSizeLong(), kMaxAddEventsRequestBytes);
  EXPECT_LE(kMaxAddEventsRequestBytes, kMaxRequestBytes);
}

TEST(Limits, TheLargestAddEventsResponseFitsTheResponseLimit) {
  v1::AddEventsResponse resp;
  for (size_t i = 0; i < kMaxEntriesPerAdd; ++i) {
    v1::AddedEntry* e = resp.add_entries();
    e->set_index(kLargestIndex);
    e->set_leaf_hash(std::string(kHashSize, 'h'));
    e->set_duplicate(true);
    for (size_t j = 0; j < kMaxInclusionProofHashes; ++j) {
      e->add_inclusion_proof(std::string(kHashSize, 'p'));
    }
  }
  resp.set_checkpoint(std::string(kMaxNoteBytes, 'c'));
  EXPECT_LE(resp.ByteSizeLong(), kMaxAddEventsResponseBytes);
  EXPECT_LE(kMaxAddEventsResponseBytes, kMaxResponseBytes);
}

// The server adds entries to a message while it holds fewer than
// kEntriesMessageBytes entry bytes and fewer than kEntriesPerMessage entries.
// The largest message: all but one entry bring it to one byte short of the
// budget, and the last is the largest entry.
TEST(Limits, TheLargestGetEntriesMessageFitsTheResponseLimit) {
  v1::GetEntriesResponse resp;
  const size_t small = kEntriesPerMessage - 1;
  size_t bytes = 0;
  for (size_t i = 0; i < small; ++i) {
    const size_t size =
        i + 1 < small ? (kEntriesMessageBytes - 1) / small : kEntriesMessageBytes - 1 - bytes;
    v1::IndexedEntry* e = resp.add_entries();
    e->set_index(kLargestIndex);
    e->set_data(std::string(size, 'e'));
    bytes += size;
  }
  ASSERT_EQ(bytes, kEntriesMessageBytes - 1);
  v1::IndexedEntry* last = resp.add_entries();
  last->set_index(kLargestIndex);
  last->set_data(std::string(kMaxEntryBytes, 'e'));
  ASSERT_EQ(static_cast<size_t>(resp.entries_size()), kEntriesPerMessage);
  EXPECT_LE(resp.ByteSizeLong(), kMaxGetEntriesMessageBytes);
  EXPECT_LE(kMaxGetEntriesMessageBytes, kMaxResponseBytes);
}

}  // namespace
}  // namespace infratrail
