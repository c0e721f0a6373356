#include "verifier/witness/log_list.h"

#include "core/encoding.h"
#include "core/hash.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace infratrail {
namespace {

using ::testing::HasSubstr;

NoteSigner Key(absl::string_view name) { return *NoteSigner::Generate(name); }

TEST(LogList, ParsesTheNetworkFormatWithOriginQpdAndContact) {
  const NoteSigner a = Key("a.example/log"), b = Key("b.example/log");
  const std::string text =
      absl::StrCat("# List: test\nlogs/v0\n\nvkey ", a.VerifierKey(), "\norigin none\nqpd 86400\n",
                   "contact ops@a.example\n\nvkey ", b.VerifierKey(),
                   "\norigin b.example/other origin\n", "bastion none\nqpd 24\n");
  absl::StatusOr<LogList> list = ParseLogList(text, "list");
  ASSERT_TRUE(list.ok()) << list.status();
  ASSERT_EQ(list->logs.size(), 2u);
  EXPECT_EQ(list->logs[0].origin, "a.example/log");
  EXPECT_EQ(list->logs[0].qpd, 86400u);
  EXPECT_EQ(list->logs[0].contact, "ops@a.example");
  EXPECT_EQ(list->logs[1].origin, "b.example/other origin");
  EXPECT_EQ(list->logs[1].keys.at(0).vkey(), b.VerifierKey());
}

TEST(LogList, ErrorsNameTheSourceAndLine) {
  const NoteSigner a = Key("a.example/log");
  EXPECT_THAT(ParseLogList("vkey x\n", "f").status().message(), HasSubstr("f:1: expected"));
  EXPECT_THAT(ParseLogList("logs/v0\nvkey nonsense\n", "f").status().message(),
              HasSubstr("f:2: vkey"));
  EXPECT_THAT(
      ParseLogList(absl::StrCat("logs/v0\nvkey ", a.VerifierKey(), "\nqpd 1\norigin x\n"), "f")
          .status()
          .message(),
      HasSubstr("f:4: \"origin\" out of order"));
  EXPECT_THAT(ParseLogList(absl::StrCat("logs/v0\nvkey ", a.VerifierKey(), "\nqpd -1\n"), "f")
                  .status()
                  .message(),
              HasSubstr("f:3: qpd"));
  EXPECT_THAT(ParseLogList("logs/v0\norigin x\n", "f").status().message(),
              HasSubstr("f:2: \"origin\" before any vkey"));
  EXPECT_THAT(ParseLogList(absl::StrCat("logs/v0\n\nvkey ", a.VerifierKey(), "\norigin ",
                                        std::string(kMaxOriginBytes + 1, 'o'), "\n"),
                           "f")
                  .status()
                  .message(),
              HasSubstr("f:3: origin: 1025 bytes"));
}

TEST(LogList, UnknownFieldsAreSkippedAndCounted) {
  const NoteSigner a = Key("a.example/log");
  absl::StatusOr<LogList> list =
      ParseLogList(absl::StrCat("logs/v0\nvkey ", a.VerifierKey(), "\nfuture-field 7\n"), "f");
  ASSERT_TRUE(list.ok()) << list.status();
  EXPECT_EQ(list->ignored_lines, 1u);
  EXPECT_EQ(list->logs.size(), 1u);
}

TEST(LogList, FormatReadsBackTheSameLogs) {
  const NoteSigner a = Key("a.example/log"), b = Key("b.example/log");
  const std::string text = absl::StrCat("logs/v0\nvkey ", a.VerifierKey(), "\nvkey ",
                                        b.VerifierKey(), "\norigin a.example/log\nqpd 5\n");
  absl::StatusOr<LogList> list = ParseLogList(text, "f");
  ASSERT_TRUE(list.ok()) << list.status();
  ASSERT_EQ(list->logs.size(), 1u);  // two keys, one origin
  EXPECT_EQ(list->logs[0].keys.size(), 2u);
  absl::StatusOr<LogList> again = ParseLogList(FormatLogList(list->logs), "formatted");
  ASSERT_TRUE(again.ok()) << again.status();
  ASSERT_EQ(again->logs.size(), 1u);
  EXPECT_EQ(again->logs[0].keys.size(), 2u);
  EXPECT_EQ(again->logs[0].qpd, 5u);
}

TEST(KnownLogs, AListUpdateNeverRemovesOrReKeysALog) {
  const NoteSigner witness = Key("w.example/w1");
  const NoteSigner a = Key("a.example/log"), impostor = Key("a.example/log");
  KnownLogs known(witness.public_key());
  MergeReport first =
      *known.Merge(*ParseLogList(absl::StrCat("logs/v0\nvkey ", a.VerifierKey(), "\n"), "first"));
  EXPECT_THAT(first.added, ::testing::ElementsAre("a.example/log"));
  // The next list drops the log and lists another key for its origin.
  MergeReport second = *known.Merge(
      *ParseLogList(absl::StrCat("logs/v0\nvkey ", impostor.VerifierKey(), "\n"), "second"));
  EXPECT_TRUE(second.added.empty());
  ASSERT_EQ(second.refused.size(), 1u);
  EXPECT_THAT(second.refused[0], HasSubstr("never re-keyed"));
  const WitnessLog* log = known.Find("a.example/log");
  ASSERT_NE(log, nullptr);
  ASSERT_EQ(log->keys.size(), 1u);
  EXPECT_EQ(log->keys[0].vkey(), a.VerifierKey());
  EXPECT_EQ(known.Merge(LogList{})->added.size(), 0u);
  EXPECT_NE(known.Find("a.example/log"), nullptr);
}

TEST(KnownLogs, RefusesALogThatUsesTheWitnessKey) {
  const NoteSigner witness = Key("w.example/w1");
  KnownLogs known(witness.public_key());
  // The same key material under the log's name.
  const NoteSigner same = *NoteSigner::Parse(witness.SignerKey());
  MergeReport r =
      *known.Merge(*ParseLogList(absl::StrCat("logs/v0\nvkey ", same.VerifierKey(), "\n"), "list"));
  EXPECT_TRUE(r.added.empty());
  ASSERT_EQ(r.refused.size(), 1u);
  EXPECT_THAT(r.refused[0], HasSubstr("own key"));
  EXPECT_EQ(known.size(), 0u);
}

TEST(KnownLogs, NewLogsAreWrittenDownBeforeTheyAreUsedAndAFailedWriteAddsNothing) {
  const NoteSigner a = Key("a.example/log"), b = Key("b.example/log");
  KnownLogs known("");
  std::vector<std::string> written;
  auto persist = [&written](const std::vector<WitnessLog>& all) {
    written.clear();
    for (const WitnessLog& log : all) written.push_back(log.origin);
    return absl::OkStatus();
  };
  ASSERT_TRUE(
      known
          .Merge(*ParseLogList(absl::StrCat("logs/v0\nvkey ", a.VerifierKey(), "\n"), "1"), persist)
          .ok());
  EXPECT_THAT(written, ::testing::ElementsAre("a.example/log"));
  absl::StatusOr<MergeReport> r =
      known.Merge(*ParseLogList(absl::StrCat("logs/v0\nvkey ", b.VerifierKey(), "\n"), "2"),
                  [](const std::vector<WitnessLog>&) { return absl::InternalError("disk full"); });
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(known.Find("b.example/log"), nullptr);
  ASSERT_TRUE(
      known
          .Merge(*ParseLogList(absl::StrCat("logs/v0\nvkey ", b.VerifierKey(), "\n"), "3"), persist)
          .ok());
  EXPECT_THAT(written, ::testing::ElementsAre("a.example/log", "b.example/log"));
  EXPECT_NE(known.Find("b.example/log"), nullptr);
}

TEST(KnownLogs, FindsALogByTheHashOfItsOrigin) {
  const NoteSigner a = Key("a.example/log");
  KnownLogs known("");
  ASSERT_TRUE(
      known.Merge(*ParseLogList(absl::StrCat("logs/v0\nvkey ", a.VerifierKey(), "\n"), "list"))
          .ok());
  // sha256("a.example/log")
  const Hash h = Sha256("a.example/log");
  const std::string hex =
      HexEncode(absl::string_view(reinterpret_cast<const char*>(h.data()), h.size()));
  ASSERT_NE(known.FindByOriginHash(hex), nullptr);
  EXPECT_EQ(known.FindByOriginHash(hex)->origin, "a.example/log");
  EXPECT_EQ(known.FindByOriginHash(std::string(64, '0')), nullptr);
}

}  // namespace
}  // namespace infratrail
