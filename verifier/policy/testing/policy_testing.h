// Test helpers for the policy: events with their entry and leaf hash, a
// temporary directory, and a RepoChecker fake that can fail. Header-only,
// for policy tests and the policy benchmark.
#ifndef INFRATRAIL_VERIFIER_POLICY_TESTING_POLICY_TESTING_H_
#define INFRATRAIL_VERIFIER_POLICY_TESTING_POLICY_TESTING_H_

#include <stdlib.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <set>
#include <string>
#include <tuple>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "core/hash.h"
#include "infratrail/v1/event.pb.h"
#include "verifier/policy/policy.h"

namespace infratrail::testutil {

// An event as the monitor hands it to the policy.
struct LoggedEvent {
  std::string entry;
  v1::InfraEvent event;
  Hash leaf{};

  static LoggedEvent Of(const v1::InfraEvent& ev) { return OfEntry(ev.SerializeAsString()); }
  static LoggedEvent OfEntry(std::string entry) {
    LoggedEvent e;
    e.entry = std::move(entry);
    e.event.ParseFromString(e.entry);
    e.leaf = HashLeaf(e.entry);
    return e;
  }
  PolicyEvent view(uint64_t index = 0) const {
    PolicyEvent p;
    p.index = index;
    p.leaf_hash = &leaf;
    p.entry = entry;
    p.event = &event;
    return p;
  }
};

// A directory under /tmp, removed with everything in it at destruction.
class ScratchDir {
 public:
  ScratchDir() {
    char tmpl[] = "/tmp/infratrail-policy-XXXXXX";
    if (mkdtemp(tmpl) != nullptr) path_ = tmpl;
  }
  ~ScratchDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;

  const std::string& path() const { return path_; }
  // Writes `name` atomically (a new inode each time, as editors and config
  // management do) and returns its path.
  std::string Write(const std::string& name, const std::string& text) const {
    std::string path = absl::StrCat(path_, "/", name);
    const std::string tmp = path + ".tmp";
    std::ofstream(tmp, std::ios::binary | std::ios::trunc) << text;
    std::rename(tmp.c_str(), path.c_str());
    return path;
  }

 private:
  std::string path_;
};

// What FakeRepo knows; shared with the test so it can change answers and
// count calls after the policy took ownership of the checker.
struct FakeRepoState {
  std::set<std::string> reachable;                                       // commits
  std::set<std::tuple<std::string, std::string, std::string>> declared;  // commit, path, id
  absl::Status error;  // returned by every call while not OK
  int reach_calls = 0;
  int declare_calls = 0;
  std::vector<RepoSpec> opened;
};

class FakeRepo : public RepoChecker {
 public:
  explicit FakeRepo(std::shared_ptr<FakeRepoState> s) : s_(std::move(s)) {}
  absl::StatusOr<Result> CommitReachable(absl::string_view commit) override {
    ++s_->reach_calls;
    if (!s_->error.ok()) return s_->error;
    if (s_->reachable.count(std::string(commit))) return Result{true, ""};
    return Result{false, absl::StrCat("commit ", commit, " is not reachable")};
  }
  absl::StatusOr<Result> Declares(absl::string_view commit, absl::string_view path,
                                  absl::string_view resource_id) override {
    ++s_->declare_calls;
    if (!s_->error.ok()) return s_->error;
    if (s_->declared.count({std::string(commit), std::string(path), std::string(resource_id)}))
      return Result{true, ""};
    return Result{false, absl::StrCat(resource_id, " is not declared under ", path)};
  }

 private:
  std::shared_ptr<FakeRepoState> s_;
};

inline PolicyOptions FakeRepoOptions(const std::shared_ptr<FakeRepoState>& s) {
  PolicyOptions o;
  o.open_repo = [s](const RepoSpec& spec) -> absl::StatusOr<std::unique_ptr<RepoChecker>> {
    s->opened.push_back(spec);
    return std::make_unique<FakeRepo>(s);
  };
  return o;
}

}  // namespace infratrail::testutil

#endif  // INFRATRAIL_VERIFIER_POLICY_TESTING_POLICY_TESTING_H_
