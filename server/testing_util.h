// Helpers shared by the server's unit tests: per-test temporary directories,
// a naive RFC 9162 reference (independent of core/proof.cc and the tiles),
// and a synchronous wrapper around Sequencer::Add.
#ifndef INFRATRAIL_SERVER_TESTING_UTIL_H_
#define INFRATRAIL_SERVER_TESTING_UTIL_H_

#include <stdlib.h>

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "core/hash.h"
#include "core/testing/merkle_reference.h"
#include "gtest/gtest.h"
#include "server/sequencer.h"

namespace infratrail::testutil {

using ::infratrail::MerkleReference;

// A fresh directory under the test temp dir, removed with everything in it
// when destroyed.
class ScopedTempDir {
 public:
  ScopedTempDir() {
    std::string templ = absl::StrCat(::testing::TempDir(), "/infratrail_test_XXXXXX");
    char* p = mkdtemp(templ.data());
    EXPECT_NE(p, nullptr) << "mkdtemp " << templ;
    path_ = templ;
  }
  ~ScopedTempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  ScopedTempDir(const ScopedTempDir&) = delete;
  ScopedTempDir& operator=(const ScopedTempDir&) = delete;

  const std::string& path() const { return path_; }
  std::string Sub(absl::string_view name) const { return absl::StrCat(path_, "/", name); }

 private:
  std::string path_;
};

inline std::string EntryData(uint64_t i, absl::string_view tag = "entry") {
  return absl::StrCat(tag, "-", i);
}

inline PendingEntry MakeEntry(std::string data) {
  const Hash h = HashLeaf(data);
  return PendingEntry{std::move(data), h};
}

// Long enough for any correct run; a bug that loses a callback fails the
// test instead of hanging it.
inline constexpr absl::Duration kTestWait = absl::Seconds(60);

// Adds `entries` and waits for the sequencer's answer.
inline absl::StatusOr<std::vector<SequenceResult>> AddAndWait(Sequencer& seq,
                                                              std::vector<PendingEntry> entries) {
  struct Answer {
    absl::Notification done;
    absl::Status status;
    std::vector<SequenceResult> results;
  };
  auto answer = std::make_shared<Answer>();
  absl::Status st =
      seq.Add(std::move(entries), [answer](absl::Status s, std::vector<SequenceResult> r) {
        answer->status = std::move(s);
        answer->results = std::move(r);
        answer->done.Notify();
      });
  if (!st.ok()) return st;
  if (!answer->done.WaitForNotificationWithTimeout(kTestWait)) {
    return absl::DeadlineExceededError("Add was never answered");
  }
  if (!answer->status.ok()) return answer->status;
  return answer->results;
}

// Adds entries EntryData(first) .. EntryData(first + count - 1) in Adds of
// `chunk` entries each, waiting for each, and records them in `ref`.
inline void AppendEntries(Sequencer& seq, uint64_t first, uint64_t count, uint64_t chunk,
                          MerkleReference* ref) {
  for (uint64_t i = 0; i < count; i += chunk) {
    std::vector<PendingEntry> batch;
    for (uint64_t j = i; j < std::min(count, i + chunk); ++j) {
      batch.push_back(MakeEntry(EntryData(first + j)));
      if (ref != nullptr) ref->AddEntry(EntryData(first + j));
    }
    absl::StatusOr<std::vector<SequenceResult>> r = AddAndWait(seq, std::move(batch));
    ASSERT_TRUE(r.ok()) << r.status();
    for (size_t k = 0; k < r->size(); ++k) {
      ASSERT_EQ((*r)[k].index, first + i + k);
      ASSERT_FALSE((*r)[k].duplicate);
    }
  }
}

}  // namespace infratrail::testutil

#endif  // INFRATRAIL_SERVER_TESTING_UTIL_H_
