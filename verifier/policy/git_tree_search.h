// Finds a string in the files of a git tree, for `declares_resource`.
//
// Everything here is keyed by object id, and an id names its content, so no
// answer goes stale when the clone is fetched or its refs move: commits that
// share a subtree (most of a repository's history) share its answers.
#ifndef INFRATRAIL_VERIFIER_POLICY_GIT_TREE_SEARCH_H_
#define INFRATRAIL_VERIFIER_POLICY_GIT_TREE_SEARCH_H_

#include <git2.h>

#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "verifier/policy/git_util.h"

namespace infratrail {

struct GitTreeSearchLimits {
  // Files larger than this are not searched (as if absent): a resource
  // declared only in one is not found.
  uint64_t max_blob_bytes = uint64_t{8} << 20;
  // The files under one tree are searched only if their sizes add up to at
  // most this; beyond it, Contains fails with ResourceExhausted.
  uint64_t max_tree_bytes = uint64_t{256} << 20;
  // File contents kept between calls, oldest first out.
  uint64_t blob_cache_bytes = uint64_t{64} << 20;
  // File ids kept for the trees listed so far, all dropped when exceeded.
  size_t max_listed_blobs = size_t{1} << 20;
  // (tree, string) answers kept, all dropped when either is exceeded. The
  // strings are resource ids from the log, up to an entry's size each: the
  // bytes are bounded, not only the count.
  size_t max_cached_answers = 100'000;
  uint64_t max_cached_answer_bytes = uint64_t{16} << 20;
};

// Thread-compatible; `repo` and `odb` must outlive it.
class GitTreeSearch {
 public:
  GitTreeSearch(git_repository* repo, git_odb* odb, const GitTreeSearchLimits& limits);
  GitTreeSearch(const GitTreeSearch&) = delete;
  GitTreeSearch& operator=(const GitTreeSearch&) = delete;

  // Whether `needle` (not empty) occurs in a file under the tree `id`, or,
  // when `type` is GIT_OBJECT_BLOB, in that file. Regular and executable
  // files count; symbolic links and submodules do not. ResourceExhausted
  // (naming the limit) for a tree too large to search; DataLoss or
  // Unavailable (gitutil::GitError) when an object cannot be read.
  absl::StatusOr<bool> Contains(const git_oid& id, git_object_t type, absl::string_view needle);

  // Bytes of resource ids held by the answer cache (for tests).
  uint64_t answer_bytes() const { return answer_bytes_; }

 private:
  struct BlobRef {
    gitutil::OidKey key;
    git_oid id;
  };
  // The searchable files under a tree, or why it cannot be searched.
  struct Listing {
    absl::Status status;
    std::vector<BlobRef> blobs;
  };

  absl::StatusOr<const Listing*> List(const git_oid& tree);
  absl::StatusOr<bool> Search(const Listing& listing, absl::string_view needle);
  void CacheBlob(const gitutil::OidKey& key, absl::string_view data);

  git_repository* const repo_;
  git_odb* const odb_;
  const GitTreeSearchLimits limits_;

  absl::flat_hash_map<gitutil::OidKey, Listing> listings_;
  size_t listed_blobs_ = 0;

  absl::flat_hash_map<gitutil::OidKey, std::string> blobs_;
  std::deque<gitutil::OidKey> blob_order_;  // insertion order of blobs_, for eviction
  uint64_t blob_bytes_ = 0;

  absl::flat_hash_map<gitutil::OidKey, absl::flat_hash_map<std::string, bool>> answers_;
  size_t answer_count_ = 0;
  uint64_t answer_bytes_ = 0;
};

}  // namespace infratrail

#endif  // INFRATRAIL_VERIFIER_POLICY_GIT_TREE_SEARCH_H_
