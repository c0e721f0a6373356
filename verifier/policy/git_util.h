// libgit2 glue for the policy's git checks: ownership of libgit2 handles and
// the one place where libgit2 errors become absl::Status.
#ifndef INFRATRAIL_VERIFIER_POLICY_GIT_UTIL_H_
#define INFRATRAIL_VERIFIER_POLICY_GIT_UTIL_H_

#include <git2.h>

#include <array>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace infratrail::gitutil {

struct GitFree {
  void operator()(git_repository* p) const { git_repository_free(p); }
  void operator()(git_odb* p) const { git_odb_free(p); }
  void operator()(git_object* p) const { git_object_free(p); }
  void operator()(git_reference* p) const { git_reference_free(p); }
  void operator()(git_commit* p) const { git_commit_free(p); }
  void operator()(git_tree* p) const { git_tree_free(p); }
  void operator()(git_tree_entry* p) const { git_tree_entry_free(p); }
  void operator()(git_odb_object* p) const { git_odb_object_free(p); }
};
template <typename T>
using GitPtr = std::unique_ptr<T, GitFree>;

// A raw object id, hashable by absl.
using OidKey = std::array<unsigned char, GIT_OID_RAWSZ>;
OidKey ToKey(const git_oid& oid);
std::string Hex(const git_oid& oid);

// The error of a libgit2 call that returned `rc` (< 0), naming `op` and
// libgit2's message: Unavailable when the operating system failed (I/O,
// memory), DataLoss otherwise (corrupt or missing objects, bad pack files).
// Callers turn the GIT_ENOTFOUND they expect into results before this.
absl::Status GitError(int rc, absl::string_view op);

}  // namespace infratrail::gitutil

#endif  // INFRATRAIL_VERIFIER_POLICY_GIT_UTIL_H_
