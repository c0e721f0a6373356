// GitRepoChecker against real repositories built with the git command line
// in per-test temporary directories.
#include "verifier/policy/git_repo_checker.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace infratrail {
namespace {

namespace fs = std::filesystem;

constexpr char kRef[] = "refs/heads/main";

// Runs `git -C dir args` without the machine's git configuration; returns its
// standard output without the final newline, or fails the test.
std::string Git(const std::string& dir, const std::string& args) {
  const std::string cmd = absl::StrCat(
      "GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null GIT_AUTHOR_NAME=t "
      "GIT_AUTHOR_EMAIL=t@example.com GIT_COMMITTER_NAME=t GIT_COMMITTER_EMAIL=t@example.com "
      "git -c gc.auto=0 -c init.defaultBranch=main -C '",
      dir, "' ", args);
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) {
    ADD_FAILURE() << "popen " << cmd;
    return "";
  }
  std::string out;
  char buf[4096];
  for (size_t n; (n = fread(buf, 1, sizeof(buf), p)) > 0;) out.append(buf, n);
  const int rc = pclose(p);
  EXPECT_TRUE(WIFEXITED(rc) && WEXITSTATUS(rc) == 0) << cmd << "\n" << out;
  if (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

void WriteFile(const fs::path& path, const std::string& content) {
  fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << content;
}

// Every file and directory under `root` with its size, mode and mtime.
std::map<std::string, std::string> Snapshot(const fs::path& root) {
  std::map<std::string, std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(root)) {
    struct stat st;
    EXPECT_EQ(lstat(e.path().c_str(), &st), 0) << e.path();
    out[fs::relative(e.path(), root).string()] =
        absl::StrCat(st.st_size, " ", st.st_mode, " ", st.st_mtim.tv_sec, ".", st.st_mtim.tv_nsec);
  }
  return out;
}

// main: c1 (terraform/main.tf, docs/notes.md) -> c2 (terraform/db.tf).
// feature: c2 -> f1 (terraform/feature.tf), not merged.
class GitRepoCheckerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string templ = absl::StrCat(::testing::TempDir(), "/git_repo_checker_XXXXXX");
    ASSERT_NE(mkdtemp(templ.data()), nullptr) << templ;
    tmp_ = templ;
    repo_ = (tmp_ / "infra").string();
    fs::create_directories(repo_);
    Git(repo_, "init -q -b main");
    WriteFile(Path("terraform/main.tf"),
              "resource \"aws_instance\" \"web\" {\n  ami = \"ami-123456\"\n}\n");
    WriteFile(Path("docs/notes.md"), "aws_s3_bucket.logs is managed by hand\n");
    c1_ = Commit("c1");
    WriteFile(Path("terraform/db.tf"), "aws_db_instance.main\n");
    c2_ = Commit("c2");
    Git(repo_, "checkout -q -b feature");
    WriteFile(Path("terraform/feature.tf"), "aws_lambda_function.feature\n");
    f1_ = Commit("f1");
    Git(repo_, "checkout -q main");
  }
  void TearDown() override { fs::remove_all(tmp_); }

  fs::path Path(const std::string& rel) const { return fs::path(repo_) / rel; }
  std::string Commit(const std::string& message) {
    Git(repo_, "add -A");
    Git(repo_, absl::StrCat("commit -q -m ", message));
    return Git(repo_, "rev-parse HEAD");
  }

  std::unique_ptr<GitRepoChecker> Open(const std::string& clone,
                                       const GitRepoCheckerOptions& options = {}) {
    absl::StatusOr<std::unique_ptr<GitRepoChecker>> c =
        GitRepoChecker::Open(RepoSpec{"https://github.com/example/infra", clone, kRef}, options);
    EXPECT_TRUE(c.ok()) << c.status();
    return c.ok() ? std::move(*c) : nullptr;
  }
  static GitRepoCheckerOptions Recheck0() {
    GitRepoCheckerOptions o;
    o.ref_recheck = absl::ZeroDuration();
    return o;
  }

  fs::path tmp_;
  std::string repo_;
  std::string c1_, c2_, f1_;
};

// ok, or the reason; an error status fails the test.
std::string Reach(GitRepoChecker& c, const std::string& commit) {
  absl::StatusOr<RepoChecker::Result> r = c.CommitReachable(commit);
  EXPECT_TRUE(r.ok()) << r.status();
  return !r.ok() ? "error" : r->ok ? "ok" : r->reason;
}
std::string Decl(GitRepoChecker& c, const std::string& commit, const std::string& path,
                 const std::string& resource) {
  absl::StatusOr<RepoChecker::Result> r = c.Declares(commit, path, resource);
  EXPECT_TRUE(r.ok()) << r.status();
  return !r.ok() ? "error" : r->ok ? "ok" : r->reason;
}

TEST_F(GitRepoCheckerTest, CommitOnMainIsReachableInFullAndAbbreviated) {
  auto c = Open(repo_);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(Reach(*c, c1_), "ok");
  EXPECT_EQ(Reach(*c, c2_), "ok");  // the tip itself
  EXPECT_EQ(Reach(*c, c1_.substr(0, 7)), "ok");
  EXPECT_EQ(Reach(*c, c1_.substr(0, 12)), "ok");
  EXPECT_EQ(Reach(*c, c1_), "ok");  // from the cache
}

TEST_F(GitRepoCheckerTest, CommitOnlyOnAnotherBranchIsNotReachable) {
  auto c = Open(repo_);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(Reach(*c, f1_),
            absl::StrCat("commit ", f1_, " is not reachable from refs/heads/main in ", repo_));
  EXPECT_EQ(Reach(*c, f1_.substr(0, 7)),
            absl::StrCat("commit ", f1_.substr(0, 7), " is not reachable from refs/heads/main in ",
                         repo_));
}

TEST_F(GitRepoCheckerTest, UnknownCommitIsNotInTheClone) {
  auto c = Open(repo_);
  ASSERT_NE(c, nullptr);
  const std::string unknown(40, 'e');
  EXPECT_EQ(Reach(*c, unknown), absl::StrCat("commit ", unknown, " is not in the clone ", repo_));
  // Cached negative answers say the same.
  EXPECT_EQ(Reach(*c, unknown), absl::StrCat("commit ", unknown, " is not in the clone ", repo_));
  EXPECT_EQ(Reach(*c, "eeeeeee"), absl::StrCat("commit eeeeeee is not in the clone ", repo_));
}

TEST_F(GitRepoCheckerTest, MalformedIdsAreNotCommitIds) {
  auto c = Open(repo_);
  ASSERT_NE(c, nullptr);
  for (const std::string& bad :
       {std::string(""), c1_.substr(0, 6), std::string("g234567"), c1_ + "0", std::string("main"),
        std::string("HEAD~1"), c1_.substr(0, 7) + " "}) {
    SCOPED_TRACE(bad);
    EXPECT_NE(Reach(*c, bad).find("is not a commit id (7 to 40 hex digits)"), std::string::npos);
    EXPECT_NE(Decl(*c, bad, "terraform/", "aws_instance").find("is not a commit id"),
              std::string::npos);
  }
}

TEST_F(GitRepoCheckerTest, TagTreeAndFileIdsAreNotCommits) {
  Git(repo_, "tag -a v1 -m release");
  const std::string tag = Git(repo_, "rev-parse v1");
  const std::string tree = Git(repo_, "rev-parse HEAD^{tree}");
  const std::string blob = Git(repo_, "rev-parse HEAD:terraform/main.tf");
  auto c = Open(repo_);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(Reach(*c, tag), absl::StrCat(tag, " is a tag, not a commit, in the clone ", repo_));
  EXPECT_EQ(Reach(*c, tree), absl::StrCat(tree, " is a tree, not a commit, in the clone ", repo_));
  EXPECT_EQ(Reach(*c, blob), absl::StrCat(blob, " is a blob, not a commit, in the clone ", repo_));
  EXPECT_EQ(Decl(*c, tree, "", "aws_instance"),
            absl::StrCat(tree, " is a tree, not a commit, in the clone ", repo_));
}

TEST_F(GitRepoCheckerTest, AmbiguousAbbreviationIsReportedAsAmbiguous) {
  // Two files whose ids both start with c67420a (found by brute force).
  WriteFile(tmp_ / "a", "ambiguous 4523\n");
  WriteFile(tmp_ / "b", "ambiguous 14795\n");
  EXPECT_EQ(Git(repo_, absl::StrCat("hash-object -w ", (tmp_ / "a").string())).substr(0, 8),
            "c67420a0");
  EXPECT_EQ(Git(repo_, absl::StrCat("hash-object -w ", (tmp_ / "b").string())).substr(0, 8),
            "c67420a1");
  auto c = Open(repo_);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(Reach(*c, "c67420a"), absl::StrCat("commit c67420a is ambiguous in the clone ", repo_,
                                               ": more than one object starts so"));
  EXPECT_EQ(Reach(*c, "c67420a0"),
            absl::StrCat("c67420a0 is a blob, not a commit, in the clone ", repo_));
}

TEST_F(GitRepoCheckerTest, ResourceDeclaredUnderThePathPasses) {
  auto c = Open(repo_);
  ASSERT_NE(c, nullptr);
  for (const char* path : {"terraform/", "terraform", "./terraform/", "", "terraform/main.tf"}) {
    SCOPED_TRACE(path);
    EXPECT_EQ(Decl(*c, c1_, path, "aws_instance"), "ok");
  }
  EXPECT_EQ(Decl(*c, c1_.substr(0, 9), "terraform/", "ami-123456"), "ok");
  // Declares does not ask for reachability: the engine checks both.
  EXPECT_EQ(Decl(*c, f1_, "terraform/", "aws_lambda_function.feature"), "ok");
}

TEST_F(GitRepoCheckerTest, ResourceDeclaredOnlyInAnotherDirectoryFails) {
  auto c = Open(repo_);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(Decl(*c, c1_, "terraform/", "aws_s3_bucket.logs"),
            absl::StrCat("resource aws_s3_bucket.logs is not declared under terraform/ at commit ",
                         c1_, " in ", repo_));
  EXPECT_EQ(Decl(*c, c1_, "", "aws_s3_bucket.logs"), "ok");
  EXPECT_EQ(Decl(*c, c1_, "", "aws_nowhere"),
            absl::StrCat("resource aws_nowhere is not declared at commit ", c1_, " in ", repo_));
}

TEST_F(GitRepoCheckerTest, ResourceDeclaredOnlyInALaterCommitFails) {
  auto c = Open(repo_);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(Decl(*c, c1_, "terraform/", "aws_db_instance.main"),
            absl::StrCat("resource aws_db_instance.main is not declared under terraform/ at "
                         "commit ",
                         c1_, " in ", repo_));
  EXPECT_EQ(Decl(*c, c2_, "terraform/", "aws_db_instance.main"), "ok");
  EXPECT_NE(Decl(*c, c2_, "terraform/main.tf", "aws_db_instance.main"), "ok");
}

TEST_F(GitRepoCheckerTest, PathThatDoesNotExistFails) {
  auto c = Open(repo_);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(Decl(*c, c1_, "modules/", "aws_instance"),
            absl::StrCat("modules/ does not exist at commit ", c1_, " in ", repo_));
  EXPECT_EQ(Decl(*c, c1_, "terraform/db.tf", "aws_instance"),
            absl::StrCat("terraform/db.tf does not exist at commit ", c1_, " in ", repo_));
}

TEST_F(GitRepoCheckerTest, DeclaresNamesACommitThatIsNotInTheClone) {
  auto c = Open(repo_);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(Decl(*c, "1234567", "terraform/", "aws_instance"),
            absl::StrCat("commit 1234567 is not in the clone ", repo_));
}

TEST_F(GitRepoCheckerTest, ReasonsEscapeWhatTheEventSupplied) {
  auto c = Open(repo_);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(Reach(*c, "abc\nALERT"), "\"abc\\nALERT\" is not a commit id (7 to 40 hex digits)");
  EXPECT_EQ(Decl(*c, c1_, "terraform/", "x\nALERT"),
            absl::StrCat("resource x\\nALERT is not declared under terraform/ at commit ", c1_,
                         " in ", repo_));
  EXPECT_EQ(Decl(*c, c1_, std::string("terraform\0/x", 12), "aws_instance"),
            "\"terraform\\x00/x\" is not a path");
}

TEST_F(GitRepoCheckerTest, EmptyResourceIdFails) {
  auto c = Open(repo_);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(Decl(*c, c1_, "terraform/", ""), "the resource id is empty");
}

TEST_F(GitRepoCheckerTest, SymlinksAndSubmodulesAreNotSearched) {
  fs::create_symlink("aws_symlink_target", Path("terraform/link.tf"));
  Git(repo_, "add terraform/link.tf");
  // A gitlink without a checkout, which `add -A` would drop.
  Git(repo_, absl::StrCat("update-index --add --cacheinfo 160000,", c1_, ",terraform/vendor"));
  Git(repo_, "commit -q -m c3");
  const std::string c3 = Git(repo_, "rev-parse HEAD");
  auto c = Open(repo_);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(Decl(*c, c3, "terraform/", "aws_db_instance.main"), "ok");
  EXPECT_NE(Decl(*c, c3, "terraform/", "aws_symlink_target"), "ok");
  EXPECT_EQ(Decl(*c, c3, "terraform/vendor", "aws_instance"),
            absl::StrCat("terraform/vendor is a submodule at commit ", c3, " in ", repo_,
                         ", not a directory"));
}

TEST_F(GitRepoCheckerTest, CommitAddedToMainAfterOpenBecomesReachable) {
  auto c = Open(repo_, Recheck0());
  ASSERT_NE(c, nullptr);
  EXPECT_NE(Reach(*c, f1_), "ok");  // and cached so
  Git(repo_, "merge -q --ff-only feature");
  EXPECT_EQ(Reach(*c, f1_), "ok");
  WriteFile(Path("terraform/queue.tf"), "aws_sqs_queue.jobs\n");
  const std::string c4 = Commit("c4");
  EXPECT_EQ(Reach(*c, c4), "ok");
  EXPECT_EQ(Decl(*c, c4, "terraform/", "aws_sqs_queue.jobs"), "ok");
}

TEST_F(GitRepoCheckerTest, FetchKeepsReachableAnswersWithoutReadingThemAgain) {
  auto c = Open(repo_, Recheck0());
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(Reach(*c, c1_), "ok");
  EXPECT_NE(Reach(*c, f1_), "ok");
  Git(repo_, absl::StrCat("update-ref refs/heads/main ", f1_));  // a fast-forward
  EXPECT_EQ(Reach(*c, f1_), "ok");                               // the negative answer went
  // Were c1 looked up again, it would not be in the clone.
  fs::remove(Path(absl::StrCat(".git/objects/", c1_.substr(0, 2), "/", c1_.substr(2))));
  EXPECT_EQ(Reach(*c, c1_), "ok");
}

TEST_F(GitRepoCheckerTest, CommitForcePushedAwayIsNoLongerReachable) {
  auto c = Open(repo_, Recheck0());
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(Reach(*c, c2_), "ok");
  Git(repo_, absl::StrCat("update-ref refs/heads/main ", c1_));
  EXPECT_EQ(Reach(*c, c2_),
            absl::StrCat("commit ", c2_, " is not reachable from refs/heads/main in ", repo_));
}

TEST_F(GitRepoCheckerTest, TipIsReadAgainOnlyAfterTheRecheckInterval) {
  absl::Time now = absl::FromUnixSeconds(1'800'000'000);
  GitRepoCheckerOptions o;
  o.ref_recheck = absl::Seconds(10);
  o.now = [&now] { return now; };
  auto c = Open(repo_, o);
  ASSERT_NE(c, nullptr);
  Git(repo_, "merge -q --ff-only feature");
  now += absl::Seconds(9);
  EXPECT_NE(Reach(*c, f1_), "ok");
  now += absl::Seconds(1);
  EXPECT_EQ(Reach(*c, f1_), "ok");
}

TEST_F(GitRepoCheckerTest, BareCloneFindsFetchedCommits) {
  const std::string clone = (tmp_ / "clone.git").string();
  Git(tmp_.string(), absl::StrCat("clone -q --bare ", repo_, " ", clone));
  auto c = Open(clone, Recheck0());
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(Reach(*c, c1_), "ok");
  EXPECT_EQ(Decl(*c, c2_, "terraform/", "aws_db_instance.main"), "ok");
  WriteFile(Path("terraform/dns.tf"), "aws_route53_record.www\n");
  const std::string c5 = Commit("c5");
  EXPECT_EQ(Reach(*c, c5), absl::StrCat("commit ", c5, " is not in the clone ", clone));
  // unpackLimit=1: the fetched objects arrive as a new pack file.
  Git(clone, "-c fetch.unpackLimit=1 fetch -q origin +refs/heads/*:refs/heads/*");
  EXPECT_EQ(Reach(*c, c5), "ok");
  EXPECT_EQ(Decl(*c, c5, "terraform", "aws_route53_record.www"), "ok");
}

TEST_F(GitRepoCheckerTest, RefThatPointsToATagOfACommitIsPeeled) {
  Git(repo_, "tag -a v1 -m release");
  absl::StatusOr<std::unique_ptr<GitRepoChecker>> c =
      GitRepoChecker::Open(RepoSpec{"", repo_, "refs/tags/v1"});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(Reach(**c, c1_), "ok");
}

TEST_F(GitRepoCheckerTest, OpenFailsOnADirectoryThatIsNotARepository) {
  fs::create_directories(tmp_ / "empty");
  for (const std::string& dir :
       {(tmp_ / "empty").string(), (tmp_ / "missing").string(), Path("terraform").string()}) {
    SCOPED_TRACE(dir);
    absl::StatusOr<std::unique_ptr<GitRepoChecker>> c =
        GitRepoChecker::Open(RepoSpec{"", dir, kRef});
    EXPECT_EQ(c.status().code(), absl::StatusCode::kNotFound);
    EXPECT_NE(c.status().message().find(dir + " is not a git repository"), std::string::npos)
        << c.status();
  }
}

TEST_F(GitRepoCheckerTest, OpenFailsOnARefThatDoesNotResolveToACommit) {
  absl::StatusOr<std::unique_ptr<GitRepoChecker>> c =
      GitRepoChecker::Open(RepoSpec{"", repo_, "refs/heads/nope"});
  EXPECT_EQ(c.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(c.status().message().find("ref refs/heads/nope does not exist in " + repo_),
            std::string::npos)
      << c.status();

  c = GitRepoChecker::Open(RepoSpec{"", repo_, "refs/heads/bad..name"});
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument) << c.status();
  EXPECT_NE(c.status().message().find("refs/heads/bad..name"), std::string::npos) << c.status();

  Git(repo_, "update-ref refs/tags/tree HEAD^{tree}");
  c = GitRepoChecker::Open(RepoSpec{"", repo_, "refs/tags/tree"});
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument) << c.status();
  EXPECT_NE(c.status().message().find("points to a tree, not a commit"), std::string::npos)
      << c.status();
}

TEST_F(GitRepoCheckerTest, RefThatVanishesIsAnErrorNotAFinding) {
  auto c = Open(repo_, Recheck0());
  ASSERT_NE(c, nullptr);
  Git(repo_, "update-ref -d refs/heads/main");
  absl::StatusOr<RepoChecker::Result> r = c->CommitReachable(c1_);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kUnavailable) << r.status();
  EXPECT_NE(r.status().message().find("refs/heads/main no longer resolves in " + repo_),
            std::string::npos);
}

TEST_F(GitRepoCheckerTest, MissingFileObjectIsAnErrorNotAFinding) {
  const std::string blob = Git(repo_, "rev-parse HEAD:terraform/db.tf");
  fs::remove(Path(absl::StrCat(".git/objects/", blob.substr(0, 2), "/", blob.substr(2))));
  auto c = Open(repo_);
  ASSERT_NE(c, nullptr);
  absl::StatusOr<RepoChecker::Result> r = c->Declares(c2_, "terraform/", "aws_nowhere");
  EXPECT_EQ(r.status().code(), absl::StatusCode::kDataLoss) << r.status();
  EXPECT_NE(r.status().message().find(blob), std::string::npos) << r.status();
}

TEST_F(GitRepoCheckerTest, TreeAboveTheSizeLimitIsAnErrorNotAnAnswer) {
  GitRepoCheckerOptions o;
  o.max_tree_bytes = 40;
  auto c = Open(repo_, o);
  ASSERT_NE(c, nullptr);
  for (int i = 0; i < 2; ++i) {  // the second from the cache
    absl::StatusOr<RepoChecker::Result> r = c->Declares(c2_, "terraform/", "aws_instance");
    EXPECT_EQ(r.status().code(), absl::StatusCode::kResourceExhausted) << r.status();
    EXPECT_NE(r.status().message().find("40-byte limit (max_tree_bytes)"), std::string::npos)
        << r.status();
  }
  EXPECT_EQ(Decl(*c, c2_, "terraform/db.tf", "aws_db_instance.main"), "ok");
}

TEST_F(GitRepoCheckerTest, FileAboveTheSizeLimitIsNotSearched) {
  GitRepoCheckerOptions o;
  o.max_blob_bytes = 30;  // db.tf is 21 bytes, main.tf more
  auto c = Open(repo_, o);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(Decl(*c, c2_, "terraform/", "aws_db_instance.main"), "ok");
  EXPECT_NE(Decl(*c, c2_, "terraform/", "aws_instance"), "ok");
}

TEST_F(GitRepoCheckerTest, AnswersStayTheSameWhenEveryCacheIsFull) {
  GitRepoCheckerOptions o;
  o.max_cached_commits = 1;
  o.max_cached_declarations = 1;
  o.blob_cache_bytes = 30;  // room for db.tf only
  auto c = Open(repo_, o);
  ASSERT_NE(c, nullptr);
  for (int i = 0; i < 3; ++i) {
    SCOPED_TRACE(i);
    EXPECT_EQ(Reach(*c, c1_), "ok");
    EXPECT_NE(Reach(*c, f1_), "ok");
    EXPECT_EQ(Decl(*c, c2_, "terraform/", "aws_instance"), "ok");
    EXPECT_EQ(Decl(*c, c2_, "terraform/", "aws_db_instance.main"), "ok");
    EXPECT_NE(Decl(*c, c1_, "terraform/", "aws_db_instance.main"), "ok");
    EXPECT_EQ(Decl(*c, f1_, "terraform/", "aws_lambda_function.feature"), "ok");
  }
}

TEST_F(GitRepoCheckerTest, LongStringsFromTheLogDoNotFillTheCaches) {
  GitRepoCheckerOptions o;
  o.max_cached_declaration_bytes = 1 << 20;
  auto c = Open(repo_, o);
  ASSERT_NE(c, nullptr);
  // An entry is up to 64 KiB: a commit or resource id nearly as long, a
  // different one in every entry, must not stay in memory every time.
  for (int i = 0; i < 100; ++i) {
    SCOPED_TRACE(i);
    const std::string junk = absl::StrCat(i, std::string(60 << 10, 'z'));
    EXPECT_NE(Reach(*c, junk), "ok");
    EXPECT_NE(Decl(*c, junk, "terraform/", "aws_instance"), "ok");
    EXPECT_NE(Decl(*c, c2_, "terraform/", junk), "ok");
    ASSERT_LE(c->cached_key_bytes(), uint64_t{1 << 20} + 100 * 64);
  }
  EXPECT_EQ(Decl(*c, c2_, "terraform/", "aws_instance"), "ok");
  EXPECT_EQ(Reach(*c, c1_), "ok");
}

TEST_F(GitRepoCheckerTest, ShallowCloneIsRefusedAtOpen) {
  const std::string shallow = (tmp_ / "shallow").string();
  Git(tmp_.string(),
      absl::StrCat("clone -q --depth 1 --no-single-branch file://", repo_, " ", shallow));
  absl::StatusOr<std::unique_ptr<GitRepoChecker>> c =
      GitRepoChecker::Open(RepoSpec{"https://github.com/example/infra", shallow, kRef});
  // Open, it could not tell whether the feature branch's commit is on main:
  // an error in every round for an event naming it.
  ASSERT_EQ(c.status().code(), absl::StatusCode::kFailedPrecondition) << c.status();
  EXPECT_NE(c.status().message().find("shallow"), std::string::npos) << c.status();
}

TEST_F(GitRepoCheckerTest, ChecksNeverWriteIntoTheClone) {
  const std::string bare = (tmp_ / "clone.git").string();
  Git(tmp_.string(), absl::StrCat("clone -q --bare ", repo_, " ", bare));
  Git(bare, "repack -q -a -d");  // packed objects, as a real clone has
  for (const std::string& clone : {repo_, bare}) {
    SCOPED_TRACE(clone);
    const auto before = Snapshot(clone);
    {
      auto c = Open(clone, Recheck0());
      ASSERT_NE(c, nullptr);
      EXPECT_EQ(Reach(*c, c1_), "ok");
      EXPECT_NE(Reach(*c, f1_), "ok");
      EXPECT_NE(Reach(*c, std::string(40, 'e')), "ok");
      EXPECT_EQ(Decl(*c, c2_, "terraform/", "aws_db_instance.main"), "ok");
      EXPECT_NE(Decl(*c, c2_, "modules/", "aws_db_instance.main"), "ok");
    }
    EXPECT_EQ(Snapshot(clone), before);
  }
}

}  // namespace
}  // namespace infratrail
