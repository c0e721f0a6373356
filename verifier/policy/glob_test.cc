#include "verifier/policy/glob.h"

#include <string>

#include "absl/strings/match.h"
#include "gtest/gtest.h"

namespace infratrail {
namespace {

struct GlobCase {
  std::string pattern;
  std::string input;
  bool match;
};

TEST(Glob, MatchesAsTheTableSays) {
  const GlobCase cases[] = {
      {"prod-db", "prod-db", true},
      {"prod-db", "prod-db2", false},
      {"prod-db", "prod-d", false},
      {"", "", true},
      {"", "x", false},
      {"*", "", true},
      {"*", "anything", true},
      {"prod-*", "prod-", true},
      {"prod-*", "prod-eu-1", true},
      {"prod-*", "dev-eu-1", false},
      {"*-prod", "eu-prod", true},
      {"*-prod", "eu-prod-2", false},
      {"a*b*c", "abc", true},
      {"a*b*c", "aXXbYYc", true},
      {"a*b*c", "aXXbYY", false},
      {"a*b*c", "acbc", true},
      {"**x", "yyx", true},
      {"prod-?", "prod-1", true},
      {"prod-?", "prod-12", false},
      {"prod-?", "prod-", false},
      {"?*", "", false},
      {"[abc]x", "bx", true},
      {"[abc]x", "dx", false},
      {"[a-c]x", "cx", true},
      {"[a-c]x", "Cx", false},
      {"[!a-c]x", "dx", true},
      {"[!a-c]x", "ax", false},
      {"[-a]", "-", true},
      {"[a-]", "-", true},
      {"[a-]", "b", false},
      {"[0-9a-f][0-9a-f]", "7e", true},
      {"[\\]]", "]", true},
      {"[\\!]", "!", true},
      {"a\\*b", "a*b", true},
      {"a\\*b", "axb", false},
      {"a\\?", "a?", true},
      {"a\\?", "ab", false},
      {"\\[x]", "[x]", true},
      {"\\\\", "\\", true},
      {"db-*-[0-9]", "db-eu-west-7", true},
      {"db-*-[0-9]", "db-eu-west-x", false},
      {"*a*a*a*a*a*b", std::string(60, 'a'), false},
  };
  for (const GlobCase& c : cases) {
    SCOPED_TRACE(testing::Message() << "pattern \"" << c.pattern << "\" on \"" << c.input << "\"");
    absl::StatusOr<Glob> g = Glob::Compile(c.pattern);
    ASSERT_TRUE(g.ok()) << g.status();
    EXPECT_EQ(g->Match(c.input), c.match);
  }
}

TEST(Glob, MatchesBytesNotCharacters) {
  absl::StatusOr<Glob> g = Glob::Compile("caf?");
  ASSERT_TRUE(g.ok());
  EXPECT_FALSE(g->Match("caf\xc3\xa9"));  // é is two bytes
  EXPECT_TRUE(Glob::Compile("caf??")->Match("caf\xc3\xa9"));
  EXPECT_TRUE(Glob::Compile("a?b")->Match(std::string("a\0b", 3)));
}

TEST(Glob, RefusesMalformedPatterns) {
  const std::pair<const char*, const char*> cases[] = {
      {"[a-", "unterminated class"},  {"x[abc", "unterminated class"},
      {"[", "unterminated class"},    {"[]", "empty class"},
      {"[!]", "empty class"},         {"ab\\", "trailing backslash"},
      {"[a\\", "unterminated class"}, {"[z-a]", "reversed range"},
  };
  for (const auto& [pattern, want] : cases) {
    SCOPED_TRACE(pattern);
    absl::StatusOr<Glob> g = Glob::Compile(pattern);
    ASSERT_FALSE(g.ok());
    EXPECT_EQ(g.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_TRUE(absl::StrContains(g.status().message(), want)) << g.status();
  }
}

TEST(GlobSet, MatchesAnyOfItsPatternsAndDescribesThem) {
  GlobSet set;
  set.Add(*Glob::Compile("postgres*"));
  set.Add(*Glob::Compile("mysql*"));
  set.Add(*Glob::Compile("database"));
  EXPECT_TRUE(set.Match("postgres-14"));
  EXPECT_TRUE(set.Match("mysql"));
  EXPECT_TRUE(set.Match("database"));
  EXPECT_FALSE(set.Match("databases"));
  EXPECT_EQ(set.Describe(), "postgres*, mysql*, database");
}

}  // namespace
}  // namespace infratrail
