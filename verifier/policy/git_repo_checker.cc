#include "verifier/policy/git_repo_checker.h"

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace infratrail {

using gitutil::GitError;
using gitutil::GitPtr;

namespace {

constexpr size_t kMinCommitHex = 7;

bool IsCommitId(absl::string_view s) {
  if (s.size() < kMinCommitHex || s.size() > GIT_OID_HEXSZ) return false;
  for (char c : s) {
    if (!absl::ascii_isxdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

// "terraform/", "./terraform", "/terraform" and "terraform" name one
// directory; "", "." and "/" the whole tree.
absl::string_view NormalizePath(absl::string_view path) {
  while (absl::ConsumePrefix(&path, "./") || absl::ConsumePrefix(&path, "/")) {
  }
  while (absl::ConsumeSuffix(&path, "/")) {
  }
  if (path == ".") return "";
  return path;
}

absl::Status WithContext(const absl::Status& s, absl::string_view context) {
  return absl::Status(s.code(), absl::StrCat(context, ": ", s.message()));
}

RepoChecker::Result Fail(std::string reason) {
  return RepoChecker::Result{false, std::move(reason)};
}

}  // namespace

GitRepoChecker::LibGit2::LibGit2() { git_libgit2_init(); }
GitRepoChecker::LibGit2::~LibGit2() { git_libgit2_shutdown(); }

GitRepoChecker::GitRepoChecker(const RepoSpec& spec, const GitRepoCheckerOptions& options)
    : spec_(spec), options_(options) {}

GitRepoChecker::~GitRepoChecker() = default;

absl::StatusOr<std::unique_ptr<GitRepoChecker>> GitRepoChecker::Open(
    const RepoSpec& spec, const GitRepoCheckerOptions& options) {
  // Not make_unique: the constructor is private.
  std::unique_ptr<GitRepoChecker> c(new GitRepoChecker(spec, options));
  const std::string op = absl::StrCat("GitRepoChecker::Open: clone ", spec.clone);
  git_repository* repo = nullptr;
  // NO_SEARCH: the auditor named the clone; a repository in a parent
  // directory is not it.
  if (int rc = git_repository_open_ext(&repo, spec.clone.c_str(), GIT_REPOSITORY_OPEN_NO_SEARCH,
                                       nullptr);
      rc < 0) {
    if (rc == GIT_ENOTFOUND) {
      return absl::NotFoundError(absl::StrCat(op, " is not a git repository (bare or not)"));
    }
    if (rc == GIT_EOWNER) {
      return absl::FailedPreconditionError(
          absl::StrCat(op, " is owned by another user: libgit2 refuses it unless git's ",
                       "safe.directory lists it"));
    }
    return GitError(rc, op);
  }
  c->repo_.reset(repo);
  // libgit2 (1.5) cannot walk past a shallow clone's cut: an event naming a
  // commit off the ref would fail to evaluate in every round, halting the
  // audit. Refused at load, where the auditor sees why.
  if (git_repository_is_shallow(c->repo_.get()) == 1) {
    return absl::FailedPreconditionError(
        absl::StrCat(op, " is a shallow clone: clone the whole history (git fetch --unshallow)"));
  }
  git_odb* odb = nullptr;
  if (int rc = git_repository_odb(&odb, c->repo_.get()); rc < 0) return GitError(rc, op);
  c->odb_.reset(odb);
  if (absl::Status s = c->ResolveRef(op.c_str(), &c->ref_target_, &c->tip_); !s.ok()) return s;
  c->last_ref_check_ = options.now ? options.now() : absl::Now();
  GitTreeSearchLimits limits;
  limits.max_blob_bytes = options.max_blob_bytes;
  limits.max_tree_bytes = options.max_tree_bytes;
  limits.blob_cache_bytes = options.blob_cache_bytes;
  limits.max_cached_answers = options.max_cached_declarations;
  limits.max_cached_answer_bytes = options.max_cached_declaration_bytes;
  c->search_ = std::make_unique<GitTreeSearch>(c->repo_.get(), c->odb_.get(), limits);
  return c;
}

absl::Status GitRepoChecker::ResolveRef(const char* op, git_oid* target, git_oid* tip) {
  const std::string what = absl::StrCat(op, ": ref ", spec_.ref);
  if (int rc = git_reference_name_to_id(target, repo_.get(), spec_.ref.c_str()); rc < 0) {
    if (rc == GIT_ENOTFOUND) {
      return absl::NotFoundError(absl::StrCat(what, " does not exist in ", spec_.clone));
    }
    if (rc == GIT_EINVALIDSPEC) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, " is not a valid ref name (e.g. refs/heads/main)"));
    }
    return GitError(rc, what);
  }
  git_object* raw = nullptr;
  if (int rc = git_object_lookup(&raw, repo_.get(), target, GIT_OBJECT_ANY); rc < 0) {
    return GitError(rc, absl::StrCat(what, ": read ", gitutil::Hex(*target)));
  }
  GitPtr<git_object> object(raw);
  git_object* peeled = nullptr;
  if (int rc = git_object_peel(&peeled, object.get(), GIT_OBJECT_COMMIT); rc < 0) {
    if (rc == GIT_EPEEL || rc == GIT_EINVALIDSPEC) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, " in ", spec_.clone, " points to a ",
                       git_object_type2string(git_object_type(object.get())), ", not a commit"));
    }
    return GitError(rc, what);
  }
  git_oid_cpy(tip, git_object_id(peeled));
  git_object_free(peeled);
  return absl::OkStatus();
}

absl::Status GitRepoChecker::MaybeRefreshTip() {
  const absl::Time now = options_.now ? options_.now() : absl::Now();
  if (now - last_ref_check_ < options_.ref_recheck) return absl::OkStatus();
  static constexpr char kOp[] = "GitRepoChecker: re-reading the ref";
  git_oid target;
  if (int rc = git_reference_name_to_id(&target, repo_.get(), spec_.ref.c_str()); rc < 0) {
    // The event cannot be evaluated against a ref that vanished: an error,
    // so it is evaluated again once the auditor has repaired the clone.
    if (rc == GIT_ENOTFOUND) {
      return absl::UnavailableError(
          absl::StrCat(kOp, ": ref ", spec_.ref, " no longer resolves in ", spec_.clone));
    }
    return GitError(rc, absl::StrCat(kOp, " ", spec_.ref, " in ", spec_.clone));
  }
  if (git_oid_equal(&target, &ref_target_)) {
    last_ref_check_ = now;
    return absl::OkStatus();
  }
  // A fetch may have added pack files that libgit2 has not seen yet.
  if (int rc = git_odb_refresh(odb_.get()); rc < 0) {
    return GitError(rc, absl::StrCat(kOp, ": refresh the objects of ", spec_.clone));
  }
  git_oid new_target, new_tip;
  if (absl::Status s = ResolveRef(kOp, &new_target, &new_tip); !s.ok()) {
    return absl::UnavailableError(s.message());
  }
  int fast_forward = 1;
  if (!git_oid_equal(&new_tip, &tip_)) {
    fast_forward = git_graph_descendant_of(repo_.get(), &new_tip, &tip_);
    if (fast_forward < 0) {
      return GitError(fast_forward, absl::StrCat(kOp, ": does the new tip of ", spec_.ref,
                                                 " descend from the old in ", spec_.clone));
    }
  }
  if (fast_forward == 1) {
    // What the old tip reached, the new one reaches too: a fetch costs only
    // the negative answers. Abbreviations go as well: new objects may have
    // made them ambiguous.
    absl::erase_if(commits_, [](const auto& kv) {
      return kv.first.size() != GIT_OID_HEXSZ || !kv.second.reachability_known ||
             !kv.second.reachable.ok;
    });
  } else {
    commits_.clear();
  }
  ref_target_ = new_target;
  tip_ = new_tip;
  last_ref_check_ = now;
  return absl::OkStatus();
}

absl::StatusOr<GitRepoChecker::CommitEntry*> GitRepoChecker::Lookup(absl::string_view commit) {
  if (auto it = commits_.find(commit); it != commits_.end()) return &it->second;

  CommitEntry entry;
  if (!IsCommitId(commit)) {
    entry.resolved = Fail(
        absl::StrCat("\"", absl::CHexEscape(commit), "\" is not a commit id (7 to 40 hex digits)"));
  } else {
    git_oid prefix;
    git_oid_fromstrn(&prefix, commit.data(), commit.size());
    git_object* raw = nullptr;
    const int rc =
        git_object_lookup_prefix(&raw, repo_.get(), &prefix, commit.size(), GIT_OBJECT_ANY);
    GitPtr<git_object> object(raw);
    if (rc == GIT_ENOTFOUND) {
      entry.resolved = Fail(absl::StrCat("commit ", commit, " is not in the clone ", spec_.clone));
    } else if (rc == GIT_EAMBIGUOUS) {
      entry.resolved = Fail(absl::StrCat("commit ", commit, " is ambiguous in the clone ",
                                         spec_.clone, ": more than one object starts so"));
    } else if (rc < 0) {
      return GitError(rc,
                      absl::StrCat("GitRepoChecker: look up commit ", commit, " in ", spec_.clone));
    } else if (git_object_type(object.get()) != GIT_OBJECT_COMMIT) {
      entry.resolved =
          Fail(absl::StrCat(commit, " is a ", git_object_type2string(git_object_type(object.get())),
                            ", not a commit, in the clone ", spec_.clone));
    } else {
      entry.resolved.ok = true;
      git_oid_cpy(&entry.id, git_object_id(object.get()));
    }
  }
  if (commit.size() > GIT_OID_HEXSZ) {
    // Cheap to answer again, and as long as an entry: caching it would let
    // the log fill memory max_cached_commits times an entry's size.
    not_an_id_ = std::move(entry);
    return &not_an_id_;
  }
  if (commits_.size() >= options_.max_cached_commits) commits_.clear();
  return &commits_.emplace(commit, std::move(entry)).first->second;
}

uint64_t GitRepoChecker::cached_key_bytes() const {
  uint64_t bytes = search_->answer_bytes();
  for (const auto& [commit, entry] : commits_) bytes += commit.size();
  return bytes;
}

absl::StatusOr<RepoChecker::Result> GitRepoChecker::CommitReachable(absl::string_view commit) {
  if (absl::Status s = MaybeRefreshTip(); !s.ok()) return s;
  absl::StatusOr<CommitEntry*> entry = Lookup(commit);
  if (!entry.ok()) return entry.status();
  CommitEntry& e = **entry;
  if (!e.resolved.ok) return e.resolved;
  if (!e.reachability_known) {
    bool reachable = git_oid_equal(&e.id, &tip_);
    if (!reachable) {
      const int rc = git_graph_descendant_of(repo_.get(), &tip_, &e.id);
      if (rc < 0) {
        return GitError(rc, absl::StrCat("GitRepoChecker: is ", commit, " reachable from ",
                                         spec_.ref, " in ", spec_.clone));
      }
      reachable = rc == 1;
    }
    e.reachable = reachable ? Result{true, ""}
                            : Fail(absl::StrCat("commit ", commit, " is not reachable from ",
                                                spec_.ref, " in ", spec_.clone));
    e.reachability_known = true;
  }
  return e.reachable;
}

absl::StatusOr<GitRepoChecker::TreeAt> GitRepoChecker::FindPath(const git_oid& commit,
                                                                absl::string_view path) {
  git_commit* raw_commit = nullptr;
  if (int rc = git_commit_lookup(&raw_commit, repo_.get(), &commit); rc < 0) {
    return GitError(rc, "read the commit");
  }
  GitPtr<git_commit> commit_object(raw_commit);
  git_tree* raw_tree = nullptr;
  if (int rc = git_commit_tree(&raw_tree, raw_commit); rc < 0) {
    return GitError(rc, "read its tree");
  }
  GitPtr<git_tree> tree(raw_tree);
  TreeAt at;
  if (path.empty()) {
    at.exists = true;
    git_oid_cpy(&at.id, git_tree_id(tree.get()));
    at.type = GIT_OBJECT_TREE;
    return at;
  }
  git_tree_entry* raw_entry = nullptr;
  const int rc = git_tree_entry_bypath(&raw_entry, tree.get(), std::string(path).c_str());
  if (rc == GIT_ENOTFOUND) return at;
  if (rc < 0) return GitError(rc, "find the path");
  GitPtr<git_tree_entry> entry(raw_entry);
  at.exists = true;
  git_oid_cpy(&at.id, git_tree_entry_id(entry.get()));
  at.type = git_tree_entry_type(entry.get());
  return at;
}

absl::StatusOr<RepoChecker::Result> GitRepoChecker::Declares(absl::string_view commit,
                                                             absl::string_view path,
                                                             absl::string_view resource_id) {
  if (resource_id.empty()) return Fail("the resource id is empty");
  if (absl::Status s = MaybeRefreshTip(); !s.ok()) return s;
  absl::StatusOr<CommitEntry*> entry = Lookup(commit);
  if (!entry.ok()) return entry.status();
  CommitEntry& e = **entry;
  if (!e.resolved.ok) return e.resolved;

  const absl::string_view normalized = NormalizePath(path);
  if (normalized.find('\0') != absl::string_view::npos) {
    // libgit2 takes C strings: it would look up a shorter path.
    return Fail(absl::StrCat("\"", absl::CHexEscape(path), "\" is not a path"));
  }
  auto it = e.paths.find(normalized);
  if (it == e.paths.end()) {
    absl::StatusOr<TreeAt> at = FindPath(e.id, normalized);
    if (!at.ok()) {
      return WithContext(at.status(), absl::StrCat("GitRepoChecker: ", path, " at commit ", commit,
                                                   " in ", spec_.clone));
    }
    it = e.paths.emplace(normalized, *at).first;
  }
  const TreeAt& at = it->second;
  if (!at.exists) {
    return Fail(absl::StrCat(path, " does not exist at commit ", commit, " in ", spec_.clone));
  }
  if (at.type != GIT_OBJECT_TREE && at.type != GIT_OBJECT_BLOB) {
    return Fail(absl::StrCat(path, " is a submodule at commit ", commit, " in ", spec_.clone,
                             ", not a directory"));
  }
  absl::StatusOr<bool> found = search_->Contains(at.id, at.type, resource_id);
  if (!found.ok()) {
    return WithContext(found.status(), absl::StrCat("GitRepoChecker: search ", path, " at commit ",
                                                    commit, " in ", spec_.clone));
  }
  if (*found) return Result{true, ""};
  // The id comes from the logged event: escaped, it cannot forge lines of a
  // report.
  const std::string resource = absl::CHexEscape(resource_id);
  if (normalized.empty()) {
    return Fail(absl::StrCat("resource ", resource, " is not declared at commit ", commit, " in ",
                             spec_.clone));
  }
  return Fail(absl::StrCat("resource ", resource, " is not declared under ", path, " at commit ",
                           commit, " in ", spec_.clone));
}

}  // namespace infratrail
