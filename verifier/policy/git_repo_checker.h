// RepoChecker over the auditor's own clone of the IaC repository, read with
// libgit2 (docs/policy.md, `source_in_repo`).
//
// The clone is opened read-only: nothing is ever written into it. The
// auditor keeps it fresh (git fetch); the checker notices when the ref's tip
// moves, at most `ref_recheck` late.
//
// Caches and limits:
//  - Per commit string (as given, if it is at most 40 bytes long: longer
//    strings come from the log and are never ids): whether it names a commit, and whether
//    that commit is reachable from the ref's tip; positive and negative
//    answers alike. When the ref's tip moves, all but the positive answers
//    for full ids are dropped if the new tip descends from the old (a
//    fetch), all of them otherwise (a force-push): a fetched commit is
//    found, a commit pushed away is no longer reachable. All dropped, too,
//    when `max_cached_commits` is reached.
//  - Per commit and path: the id of the tree at that path.
//  - Per tree id (commits sharing a subtree share these; never stale, since
//    ids name content): its file list, and whether each resource id asked
//    about occurs in one of its files. The files of a tree are searched only
//    if they add up to at most `max_tree_bytes`, else Declares fails with
//    ResourceExhausted naming the limit (an error, never a wrong answer).
//    Files above `max_blob_bytes`, symbolic links and submodules are not
//    searched: a resource declared only there is reported as not declared.
//    File contents stay in memory up to `blob_cache_bytes`, oldest first out.
//    The (tree, resource id) answers are bounded in number
//    (`max_cached_declarations`) and in the bytes of their resource ids
//    (`max_cached_declaration_bytes`): ids come from the log, each up to an
//    entry's size.
//
// Thread-compatible: one thread at a time (the monitor's main thread).
#ifndef INFRATRAIL_VERIFIER_POLICY_GIT_REPO_CHECKER_H_
#define INFRATRAIL_VERIFIER_POLICY_GIT_REPO_CHECKER_H_

#include <git2.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "verifier/policy/git_tree_search.h"
#include "verifier/policy/git_util.h"
#include "verifier/policy/policy.h"

namespace infratrail {

struct GitRepoCheckerOptions {
  // How long a resolved tip of the ref is trusted before the ref is read
  // again. 0: on every call.
  absl::Duration ref_recheck = absl::Seconds(1);
  // The clock for `ref_recheck`; absl::Now when empty.
  std::function<absl::Time()> now;
  size_t max_cached_commits = 100'000;
  uint64_t max_blob_bytes = uint64_t{8} << 20;
  uint64_t max_tree_bytes = uint64_t{256} << 20;
  uint64_t blob_cache_bytes = uint64_t{64} << 20;
  size_t max_cached_declarations = 100'000;
  uint64_t max_cached_declaration_bytes = uint64_t{16} << 20;
};

class GitRepoChecker final : public RepoChecker {
 public:
  // Opens `spec.clone` (a bare or non-bare repository, exactly that
  // directory: no search upwards) and resolves `spec.ref` (a full ref name,
  // e.g. refs/heads/main) to a commit. NotFound when the clone is not a git
  // repository or the ref does not exist; InvalidArgument when the ref does
  // not point to a commit; FailedPrecondition when libgit2 refuses a clone
  // owned by another user (safe.directory), or when the clone is shallow
  // (its history cut off: reachability could not be decided). Errors name
  // the clone and ref.
  static absl::StatusOr<std::unique_ptr<GitRepoChecker>> Open(
      const RepoSpec& spec, const GitRepoCheckerOptions& options = {});
  ~GitRepoChecker() override;

  // ok when `commit` (7 to 40 hex digits) names a commit of the clone that
  // is the ref's tip or one of its ancestors. Not ok, with a reason naming
  // the commit, ref and clone, when it is not hex of that length, not in
  // the clone, ambiguous, not a commit (a tag, tree or file), or not
  // reachable. Unavailable when the ref no longer resolves; Unavailable or
  // DataLoss when the clone cannot be read.
  absl::StatusOr<Result> CommitReachable(absl::string_view commit) override;

  // ok when `resource_id` occurs in a file under `path` ("terraform/" and
  // "terraform" alike; "" for the whole tree; a path naming a file searches
  // that file) at `commit`, reachable or not. Not ok when the resource id is
  // empty, the commit does not resolve (as for CommitReachable), or the path
  // does not exist at that commit. ResourceExhausted for a tree above
  // `max_tree_bytes`; otherwise errors as for CommitReachable.
  absl::StatusOr<Result> Declares(absl::string_view commit, absl::string_view path,
                                  absl::string_view resource_id) override;

  // Bytes of event-supplied strings (commit ids, resource ids) the caches
  // hold as keys: bounded whatever the log says (for tests).
  uint64_t cached_key_bytes() const;

 private:
  // git_libgit2_init for as long as the checker lives; the first member, so
  // libgit2 shuts down after every handle is freed.
  struct LibGit2 {
    LibGit2();
    ~LibGit2();
    LibGit2(const LibGit2&) = delete;
    LibGit2& operator=(const LibGit2&) = delete;
  };
  struct TreeAt {
    bool exists = false;
    git_oid id;
    git_object_t type = GIT_OBJECT_INVALID;
  };
  struct CommitEntry {
    Result resolved;  // ok: `id` is a commit of the clone
    git_oid id;
    bool reachability_known = false;
    Result reachable;
    absl::flat_hash_map<std::string, TreeAt> paths;  // by normalized path
  };

  GitRepoChecker(const RepoSpec& spec, const GitRepoCheckerOptions& options);
  absl::Status ResolveRef(const char* op, git_oid* target, git_oid* tip);
  absl::Status MaybeRefreshTip();
  absl::StatusOr<CommitEntry*> Lookup(absl::string_view commit);
  absl::StatusOr<TreeAt> FindPath(const git_oid& commit, absl::string_view path);

  LibGit2 libgit2_;
  const RepoSpec spec_;
  const GitRepoCheckerOptions options_;
  gitutil::GitPtr<git_repository> repo_;
  gitutil::GitPtr<git_odb> odb_;
  std::unique_ptr<GitTreeSearch> search_;
  git_oid ref_target_;  // what the ref names (a commit, or a tag of one)
  git_oid tip_;         // the commit it resolves to
  absl::Time last_ref_check_ = absl::InfinitePast();
  absl::flat_hash_map<std::string, CommitEntry> commits_;
  // The answer for a commit string too long to be an id, never cached.
  CommitEntry not_an_id_;
};

}  // namespace infratrail

#endif  // INFRATRAIL_VERIFIER_POLICY_GIT_REPO_CHECKER_H_
