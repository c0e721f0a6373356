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
#include "gtest/gtest.h"
#include "server/sequencer.h"

namespace infratrail::testutil {

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

// MTH, PATH and SUBPROOF of RFC 9162 §2.1, written from the RFC text over a
// list of leaf hashes, memoised on [begin, end).
class MerkleReference {
 public:
  void AddLeaf(const Hash& h) { leaves_.push_back(h); }
  void AddEntry(absl::string_view data) { leaves_.push_back(HashLeaf(data)); }
  uint64_t size() const { return leaves_.size(); }
  const Hash& leaf(uint64_t i) const { return leaves_[i]; }

  Hash Root(uint64_t size) { return Mth(0, size); }
  std::vector<Hash> Inclusion(uint64_t index, uint64_t size) { return Path(index, 0, size); }
  std::vector<Hash> Consistency(uint64_t size1, uint64_t size2) {
    return Subproof(size1, 0, size2, true);
  }

 private:
  static uint64_t Split(uint64_t n) {
    uint64_t k = 1;
    while (k * 2 < n) k *= 2;
    return k;
  }

  Hash Mth(uint64_t begin, uint64_t end) {
    if (end == begin) return Sha256("");
    if (end - begin == 1) return leaves_[begin];
    auto it = memo_.find({begin, end});
    if (it != memo_.end()) return it->second;
    const uint64_t k = Split(end - begin);
    const Hash h = HashChildren(Mth(begin, begin + k), Mth(begin + k, end));
    memo_.emplace(std::make_pair(begin, end), h);
    return h;
  }

  std::vector<Hash> Path(uint64_t m, uint64_t begin, uint64_t end) {
    if (end - begin == 1) return {};
    const uint64_t k = Split(end - begin);
    std::vector<Hash> p;
    if (m < k) {
      p = Path(m, begin, begin + k);
      p.push_back(Mth(begin + k, end));
    } else {
      p = Path(m - k, begin + k, end);
      p.push_back(Mth(begin, begin + k));
    }
    return p;
  }

  std::vector<Hash> Subproof(uint64_t m, uint64_t begin, uint64_t end, bool b) {
    if (m == end - begin) {
      if (b) return {};
      return {Mth(begin, end)};
    }
    const uint64_t k = Split(end - begin);
    std::vector<Hash> p;
    if (m <= k) {
      p = Subproof(m, begin, begin + k, b);
      p.push_back(Mth(begin + k, end));
    } else {
      p = Subproof(m - k, begin + k, end, false);
      p.push_back(Mth(begin, begin + k));
    }
    return p;
  }

  std::vector<Hash> leaves_;
  std::map<std::pair<uint64_t, uint64_t>, Hash> memo_;
};

// Long enough for any correct run; a bug that loses a callback fails the
// test instead of hanging it.
inline constexpr absl::Duration kTestWait = absl::Seconds(60);

// Adds `entries` and waits for the sequencer's answer.
inline absl::StatusOr<std::vector<AddResult>> AddAndWait(Sequencer& seq,
                                                         std::vector<PendingEntry> entries) {
  struct Answer {
    absl::Notification done;
    absl::Status status;
    std::vector<AddResult> results;
  };
  auto answer = std::make_shared<Answer>();
  absl::Status st = seq.Add(std::move(entries), [answer](absl::Status s, std::vector<AddResult> r) {
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
    absl::StatusOr<std::vector<AddResult>> r = AddAndWait(seq, std::move(batch));
    ASSERT_TRUE(r.ok()) << r.status();
    for (size_t k = 0; k < r->size(); ++k) {
      ASSERT_EQ((*r)[k].index, first + i + k);
      ASSERT_FALSE((*r)[k].duplicate);
    }
  }
}

}  // namespace infratrail::testutil

#endif  // INFRATRAIL_SERVER_TESTING_UTIL_H_
