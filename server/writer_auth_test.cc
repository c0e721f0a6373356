#include "server/writer_auth.h"

#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace infratrail {
namespace {

constexpr char kCi[] = "ci-token-0123456789abcdef";
constexpr char kOps[] = "ops-token-0123456789abcdef";

class WriterAuthTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* tmp = std::getenv("TMPDIR");
    std::string pattern = std::string(tmp != nullptr ? tmp : "/tmp") + "/writer_auth_XXXXXX";
    ASSERT_NE(mkstemp(pattern.data()), -1);
    path_ = pattern;
  }
  void TearDown() override { unlink(path_.c_str()); }
  void Write(const std::string& text) { std::ofstream(path_, std::ios::trunc) << text; }
  std::unique_ptr<WriterAuth> Create() {
    absl::StatusOr<std::unique_ptr<WriterAuth>> auth = WriterAuth::Create({path_, {}, 0});
    EXPECT_TRUE(auth.ok()) << auth.status();
    return auth.ok() ? *std::move(auth) : nullptr;
  }
  static std::string Bearer(const std::string& token) { return "Bearer " + token; }

  std::string path_;
};

TEST_F(WriterAuthTest, OneTokenForTwoWritersIsRefusedNamingBothLines) {
  Write(absl::StrCat("# writers\nci ", kCi, "\n\nops ", kCi, "\n"));
  absl::StatusOr<std::unique_ptr<WriterAuth>> auth = WriterAuth::Create({path_, {}, 0});
  ASSERT_FALSE(auth.ok());
  EXPECT_TRUE(absl::IsInvalidArgument(auth.status()));
  EXPECT_NE(auth.status().message().find(path_ + " lines 2 and 4"), std::string::npos)
      << auth.status();
  EXPECT_NE(auth.status().message().find("(ci, ops)"), std::string::npos) << auth.status();
}

TEST_F(WriterAuthTest, OneWriterMayBeListedTwiceWithOneToken) {
  Write(absl::StrCat("ci ", kCi, "\nci ", kCi, "\n"));
  std::unique_ptr<WriterAuth> auth = Create();
  ASSERT_NE(auth, nullptr);
  EXPECT_EQ(auth->token_writers(), 1u);
}

TEST_F(WriterAuthTest, IdentifiesByTokenAndRefusesOthers) {
  Write(absl::StrCat("ci ", kCi, "\n"));
  std::unique_ptr<WriterAuth> auth = Create();
  ASSERT_NE(auth, nullptr);
  EXPECT_EQ(auth->Identify(Bearer(kCi), {}).value_or(""), "ci");
  EXPECT_TRUE(absl::IsUnauthenticated(auth->Identify(std::nullopt, {}).status()));
  EXPECT_TRUE(absl::IsPermissionDenied(auth->Identify(Bearer(kOps), {}).status()));
  EXPECT_TRUE(absl::IsPermissionDenied(auth->Identify(std::string(kCi), {}).status()));
}

TEST_F(WriterAuthTest, ReloadReplacesTokensAndKeepsThemWhenTheNewFileIsBad) {
  Write(absl::StrCat("ci ", kCi, "\n"));
  std::unique_ptr<WriterAuth> auth = Create();
  ASSERT_NE(auth, nullptr);

  Write(absl::StrCat("ops ", kOps, "\nbatch batch-token-0123456789\n"));
  absl::StatusOr<WriterAuth::Reloaded> r = auth->ReloadTokens();
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->writers_before, 1u);
  EXPECT_EQ(r->writers_after, 2u);
  EXPECT_EQ(auth->Identify(Bearer(kOps), {}).value_or(""), "ops");
  EXPECT_TRUE(absl::IsPermissionDenied(auth->Identify(Bearer(kCi), {}).status()));

  for (const std::string& bad : {std::string("ops short\n"), std::string("# nothing\n"),
                                 absl::StrCat("ops ", kOps, "\nci ", kOps, "\n")}) {
    Write(bad);
    EXPECT_TRUE(absl::IsInvalidArgument(auth->ReloadTokens().status())) << bad;
    EXPECT_EQ(auth->Identify(Bearer(kOps), {}).value_or(""), "ops") << bad;
    EXPECT_EQ(auth->token_writers(), 2u);
  }
  unlink(path_.c_str());
  EXPECT_FALSE(auth->ReloadTokens().ok());
  EXPECT_EQ(auth->Identify(Bearer(kOps), {}).value_or(""), "ops");
}

TEST_F(WriterAuthTest, ReloadWithoutATokensFileIsAFailedPrecondition) {
  absl::StatusOr<std::unique_ptr<WriterAuth>> auth = WriterAuth::Create({"", {"ci.example"}, 0});
  ASSERT_TRUE(auth.ok());
  EXPECT_TRUE(absl::IsFailedPrecondition((*auth)->ReloadTokens().status()));
  EXPECT_EQ((*auth)->Identify(std::nullopt, {"ci.example"}).value_or(""), "ci.example");
  EXPECT_TRUE(absl::IsPermissionDenied((*auth)->Identify(std::nullopt, {"other"}).status()));
}

}  // namespace
}  // namespace infratrail
