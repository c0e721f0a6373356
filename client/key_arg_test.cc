#include "client/key_arg.h"

#include <unistd.h>

#include <fstream>
#include <string>

#include "absl/strings/match.h"
#include "gtest/gtest.h"

namespace infratrail {
namespace {

class KeyArgTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/infratrail-keyarg-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    signer_ = *NoteSigner::Generate("ops.example/emitter");
  }
  void TearDown() override { std::system(("rm -rf " + dir_).c_str()); }
  std::string Write(const std::string& name, const std::string& text) {
    std::string path = dir_ + "/" + name;
    std::ofstream(path) << text;
    return path;
  }

  std::string dir_;
  NoteSigner signer_ = *NoteSigner::Generate("placeholder");
};

TEST_F(KeyArgTest, InlineAndAtFileGiveTheSameVerifier) {
  const std::string vkey = signer_.VerifierKey();
  const std::string file = Write("k.vkey", "\n  " + vkey + "\r\n\n");
  absl::StatusOr<NoteVerifier> inline_key = ParseVerifierKeyArg(vkey, "--log-key");
  absl::StatusOr<NoteVerifier> file_key = ParseVerifierKeyArg("@" + file, "--log-key");
  ASSERT_TRUE(inline_key.ok()) << inline_key.status();
  ASSERT_TRUE(file_key.ok()) << file_key.status();
  EXPECT_EQ(file_key->vkey(), vkey);
  EXPECT_EQ(file_key->key_id(), inline_key->key_id());
}

TEST_F(KeyArgTest, ErrorsNameTheFlag) {
  for (const std::string& arg : {std::string("@") + dir_ + "/missing", "@" + Write("empty", "\n"),
                                 std::string("nonsense")}) {
    absl::StatusOr<NoteVerifier> key = ParseVerifierKeyArg(arg, "--witness");
    ASSERT_FALSE(key.ok()) << arg;
    EXPECT_EQ(key.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_TRUE(absl::StartsWith(key.status().message(), "--witness: ")) << key.status();
  }
}

TEST_F(KeyArgTest, SignerKeysAreReadFromFilesOnly) {
  const std::string file = Write("k.key", signer_.SignerKey() + "\n");
  absl::StatusOr<NoteSigner> key = ReadSignerKeyFile(file, "--sign-key");
  ASSERT_TRUE(key.ok()) << key.status();
  EXPECT_EQ(key->VerifierKey(), signer_.VerifierKey());
  // The key text itself is taken as a path, and a verifier key is no signer.
  EXPECT_FALSE(ReadSignerKeyFile(signer_.SignerKey(), "--sign-key").ok());
  absl::StatusOr<NoteSigner> wrong =
      ReadSignerKeyFile(Write("v.key", signer_.VerifierKey()), "--sign-key");
  ASSERT_FALSE(wrong.ok());
  EXPECT_TRUE(absl::StartsWith(wrong.status().message(), "--sign-key: ")) << wrong.status();
}

// A key argument can name anything: reading stops at the limit, whether the
// file is large, endless or not a file at all.
TEST_F(KeyArgTest, LargeEndlessAndDirectoryKeyFilesAreRefused) {
  // A valid key followed by whitespace: read whole, it would parse.
  const std::string big =
      Write("big.vkey", signer_.VerifierKey() + std::string(kMaxKeyFileBytes, ' '));
  const std::string fits =
      Write("fits.vkey", signer_.VerifierKey() + "\n" +
                             std::string(kMaxKeyFileBytes - signer_.VerifierKey().size() - 1, ' '));
  EXPECT_TRUE(ParseVerifierKeyArg("@" + fits, "--log-key").ok());
  const std::string limit =
      "larger than the limit of " + std::to_string(kMaxKeyFileBytes) + " bytes";
  for (const std::string& path : {big, std::string("/dev/zero")}) {
    absl::StatusOr<NoteVerifier> key = ParseVerifierKeyArg("@" + path, "--log-key");
    ASSERT_FALSE(key.ok()) << path;
    EXPECT_EQ(key.status().message(), "--log-key: read " + path + ": " + limit);
  }
  absl::StatusOr<NoteSigner> signer = ReadSignerKeyFile(big, "--sign-key");
  ASSERT_FALSE(signer.ok());
  EXPECT_EQ(signer.status().message(), "--sign-key: read " + big + ": " + limit);
  absl::StatusOr<NoteVerifier> dir = ParseVerifierKeyArg("@" + dir_, "--witness");
  ASSERT_FALSE(dir.ok());
  EXPECT_EQ(dir.status().message(), "--witness: read " + dir_ + ": is a directory");
}

}  // namespace
}  // namespace infratrail
