#include "verifier/policy/git_tree_search.h"

#include <string.h>

#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"

namespace infratrail {

using gitutil::GitError;
using gitutil::GitPtr;
using gitutil::Hex;
using gitutil::OidKey;
using gitutil::ToKey;

namespace {

// glibc's memmem (two-way, vectorized) rather than absl::StrContains, whose
// memchr-then-memcmp loop stalls on a needle whose first letter is common in
// the haystack ("aws_..." in Terraform): about twice as fast cold.
bool Occurs(absl::string_view haystack, absl::string_view needle) {
  return memmem(haystack.data(), haystack.size(), needle.data(), needle.size()) != nullptr;
}

struct WalkState {
  absl::flat_hash_set<OidKey> seen;
  std::vector<git_oid> ids;
};

int CollectFile(const char* /*root*/, const git_tree_entry* entry, void* payload) {
  const git_filemode_t mode = git_tree_entry_filemode(entry);
  if (mode != GIT_FILEMODE_BLOB && mode != GIT_FILEMODE_BLOB_EXECUTABLE) return 0;
  auto* state = static_cast<WalkState*>(payload);
  const git_oid* id = git_tree_entry_id(entry);
  // The same content at several paths is searched once.
  if (state->seen.insert(ToKey(*id)).second) state->ids.push_back(*id);
  return 0;
}

}  // namespace

GitTreeSearch::GitTreeSearch(git_repository* repo, git_odb* odb, const GitTreeSearchLimits& limits)
    : repo_(repo), odb_(odb), limits_(limits) {}

absl::StatusOr<bool> GitTreeSearch::Contains(const git_oid& id, git_object_t type,
                                             absl::string_view needle) {
  const OidKey key = ToKey(id);
  if (auto it = answers_.find(key); it != answers_.end()) {
    if (auto jt = it->second.find(needle); jt != it->second.end()) return jt->second;
  }
  const Listing* listing = nullptr;
  Listing single;
  if (type == GIT_OBJECT_BLOB) {
    // A path naming one file is rare and cheap: not worth a listing entry.
    size_t size = 0;
    git_object_t t;
    if (int rc = git_odb_read_header(&size, &t, odb_, &id); rc < 0) {
      return GitError(rc, absl::StrCat("read file ", Hex(id)));
    }
    if (size <= limits_.max_blob_bytes) single.blobs.push_back(BlobRef{key, id});
    listing = &single;
  } else {
    absl::StatusOr<const Listing*> l = List(id);
    if (!l.ok()) return l.status();
    listing = *l;
  }
  if (!listing->status.ok()) return listing->status;
  absl::StatusOr<bool> found = Search(*listing, needle);
  if (!found.ok()) return found.status();
  if (answer_count_ >= limits_.max_cached_answers ||
      answer_bytes_ + needle.size() > limits_.max_cached_answer_bytes) {
    answers_.clear();
    answer_count_ = 0;
    answer_bytes_ = 0;
  }
  if (needle.size() <= limits_.max_cached_answer_bytes) {
    answers_[key].emplace(needle, *found);
    ++answer_count_;
    answer_bytes_ += needle.size();
  }
  return *found;
}

absl::StatusOr<const GitTreeSearch::Listing*> GitTreeSearch::List(const git_oid& tree_id) {
  const OidKey key = ToKey(tree_id);
  if (auto it = listings_.find(key); it != listings_.end()) return &it->second;

  git_tree* raw_tree = nullptr;
  if (int rc = git_tree_lookup(&raw_tree, repo_, &tree_id); rc < 0) {
    return GitError(rc, absl::StrCat("read tree ", Hex(tree_id)));
  }
  GitPtr<git_tree> tree(raw_tree);
  WalkState files;
  if (int rc = git_tree_walk(tree.get(), GIT_TREEWALK_PRE, CollectFile, &files); rc < 0) {
    return GitError(rc, absl::StrCat("list tree ", Hex(tree_id)));
  }

  Listing listing;
  uint64_t total = 0;
  for (const git_oid& id : files.ids) {
    size_t size = 0;
    git_object_t type;
    if (int rc = git_odb_read_header(&size, &type, odb_, &id); rc < 0) {
      return GitError(rc, absl::StrCat("read file ", Hex(id), " of tree ", Hex(tree_id)));
    }
    if (size > limits_.max_blob_bytes) continue;
    total += size;
    if (total > limits_.max_tree_bytes) {
      // Deterministic for this tree, so remembered like an answer.
      listing.status = absl::ResourceExhaustedError(
          absl::StrCat("the files under tree ", Hex(tree_id), " add up to more than the ",
                       limits_.max_tree_bytes, "-byte limit (max_tree_bytes)"));
      listing.blobs.clear();
      break;
    }
    listing.blobs.push_back(BlobRef{ToKey(id), id});
  }

  if (listed_blobs_ + listing.blobs.size() > limits_.max_listed_blobs) {
    listings_.clear();
    listed_blobs_ = 0;
  }
  listed_blobs_ += listing.blobs.size();
  return &listings_.emplace(key, std::move(listing)).first->second;
}

absl::StatusOr<bool> GitTreeSearch::Search(const Listing& listing, absl::string_view needle) {
  for (const BlobRef& blob : listing.blobs) {
    if (auto it = blobs_.find(blob.key); it != blobs_.end()) {
      if (Occurs(it->second, needle)) return true;
      continue;
    }
    git_odb_object* raw = nullptr;
    if (int rc = git_odb_read(&raw, odb_, &blob.id); rc < 0) {
      return GitError(rc, absl::StrCat("read file ", Hex(blob.id)));
    }
    GitPtr<git_odb_object> object(raw);
    const absl::string_view data(static_cast<const char*>(git_odb_object_data(object.get())),
                                 git_odb_object_size(object.get()));
    const bool found = Occurs(data, needle);
    CacheBlob(blob.key, data);
    if (found) return true;
  }
  return false;
}

void GitTreeSearch::CacheBlob(const OidKey& key, absl::string_view data) {
  if (data.size() > limits_.blob_cache_bytes) return;
  while (blob_bytes_ + data.size() > limits_.blob_cache_bytes) {
    auto it = blobs_.find(blob_order_.front());
    blob_bytes_ -= it->second.size();
    blobs_.erase(it);
    blob_order_.pop_front();
  }
  blobs_.emplace(key, std::string(data));
  blob_order_.push_back(key);
  blob_bytes_ += data.size();
}

}  // namespace infratrail
