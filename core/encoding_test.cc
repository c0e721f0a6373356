#include "core/encoding.h"

#include "absl/strings/escaping.h"
#include "core/checkpoint.h"
#include "gtest/gtest.h"

namespace infratrail {
namespace {

TEST(Base64Strict, AcceptsOnlyCanonicalPaddedStandardBase64) {
  EXPECT_EQ(*Base64DecodeStrict("aGk=", "f"), "hi");
  EXPECT_EQ(*Base64DecodeStrict("", "f"), "");
  for (const char* bad : {"aGk", "aGl=", "aG k=", "aGk=\n", "_-8=", "aGk==", "a===", "@@@@"}) {
    absl::StatusOr<std::string> r = Base64DecodeStrict(bad, "field x");
    EXPECT_FALSE(r.ok()) << bad;
    if (!r.ok()) {
      EXPECT_NE(r.status().message().find("field x"), absl::string_view::npos);
    }
  }
}

TEST(ParseDecimalStrict, RejectsLeadingZerosSignsAndOverflow) {
  EXPECT_EQ(*ParseDecimalStrict("0", "n"), 0u);
  EXPECT_EQ(*ParseDecimalStrict("18446744073709551615", "n"), UINT64_MAX);
  for (const char* bad : {"", "01", "-1", "+1", "1 ", "18446744073709551616", "1e3", "0x10"}) {
    EXPECT_FALSE(ParseDecimalStrict(bad, "n").ok()) << bad;
  }
}

TEST(DecodeUtf8, AcceptsValidAndRejectsMalformedSequences) {
  uint32_t cp = 0;
  EXPECT_EQ(DecodeUtf8("a", 0, &cp), 1u);
  EXPECT_EQ(cp, 'a');
  EXPECT_EQ(DecodeUtf8("\xe2\x80\x94", 0, &cp), 3u);  // em dash
  EXPECT_EQ(cp, 0x2014u);
  EXPECT_EQ(DecodeUtf8("\xf0\x9f\x98\x80", 0, &cp), 4u);
  for (const char* bad : {"\xff", "\xc0\xaf", "\xe2\x80", "\xed\xa0\x80", "\xf4\x90\x80\x80",
                          "\x80", "\xe2\x28\xa1"}) {
    EXPECT_EQ(DecodeUtf8(bad, 0, &cp), 0u) << absl::BytesToHexString(bad);
  }
}

TEST(Checkpoint, FormatsAndParsesStrictly) {
  Checkpoint cp{"example.com/log", 42, Hasher::EmptyRoot(), {"ext one"}};
  const std::string body = cp.Body();
  EXPECT_EQ(body, "example.com/log\n42\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\next one\n");
  EXPECT_EQ(*Checkpoint::Parse(body), cp);
  for (const char* bad : {
           "example.com/log\n42\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=",  // no newline
           "\n42\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n",               // no origin
           "o\n042\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n",             // leading zero
           "o\n-1\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n",              // sign
           "o\n1\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSu=\n",                 // short root
           "o\n1\nAAAA\n",                                                       // 3-byte root
           "o\n1\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n\n",             // empty ext
           "o\n1\n",                                                             // 2 lines
       }) {
    EXPECT_FALSE(Checkpoint::Parse(bad).ok()) << bad;
  }
}

}  // namespace
}  // namespace infratrail
