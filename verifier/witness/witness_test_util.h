// A log for witness tests: a signing key, the RFC 9162 reference tree over
// "leaf <i>" entries, and add-checkpoint bodies built from them.
#ifndef INFRATRAIL_VERIFIER_WITNESS_WITNESS_TEST_UTIL_H_
#define INFRATRAIL_VERIFIER_WITNESS_WITNESS_TEST_UTIL_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "core/checkpoint.h"
#include "core/encoding.h"
#include "core/note.h"
#include "core/testing/merkle_reference.h"

namespace infratrail::testing {

class TestLog {
 public:
  // `fork_at`: leaves from this index on differ from the honest log's.
  TestLog(const NoteSigner& key, uint64_t leaves, uint64_t fork_at = UINT64_MAX) : key_(key) {
    for (uint64_t i = 0; i < leaves; ++i) {
      tree_.AddEntry(i >= fork_at ? absl::StrCat("fork ", i) : absl::StrCat("leaf ", i));
    }
  }

  std::string origin() const { return key_.name(); }
  Hash Root(uint64_t size) {
    absl::MutexLock l(&mu_);
    return tree_.Root(size);
  }
  std::string Checkpoint(uint64_t size) {
    infratrail::Checkpoint cp{
        .origin = key_.name(), .size = size, .root = Root(size), .extensions = {}};
    return *SignNote(cp.Body(), {key_});
  }
  std::vector<Hash> Proof(uint64_t old_size, uint64_t size) {
    if (old_size == 0 || old_size >= size) return {};
    absl::MutexLock l(&mu_);
    return tree_.Consistency(old_size, size);
  }
  static std::string Body(uint64_t old_size, const std::vector<Hash>& proof,
                          absl::string_view note) {
    std::string body = absl::StrCat("old ", old_size, "\n");
    for (const Hash& h : proof) {
      absl::StrAppend(
          &body, Base64Encode(absl::string_view(reinterpret_cast<const char*>(h.data()), h.size())),
          "\n");
    }
    return absl::StrCat(body, "\n", note);
  }
  std::string Body(uint64_t old_size, uint64_t size) {
    return Body(old_size, Proof(old_size, size), Checkpoint(size));
  }

 private:
  NoteSigner key_;
  absl::Mutex mu_;
  MerkleReference tree_ ABSL_GUARDED_BY(mu_);
};

}  // namespace infratrail::testing

#endif  // INFRATRAIL_VERIFIER_WITNESS_WITNESS_TEST_UTIL_H_
