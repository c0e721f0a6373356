#include "client/event_flags.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "client/emitter_signature.h"
#include "core/note_key.h"
#include "gtest/gtest.h"
#include "proto/entry_validation.h"

namespace infratrail {
namespace {

const absl::Time kNow = absl::FromUnixSeconds(1700000000) + absl::Milliseconds(250);

EventFlags Minimal() {
  EventFlags f;
  f.kind = "deploy";
  f.resource_id = "i-0abc";
  return f;
}

// The error for `f`, which must be InvalidArgument.
std::string ErrorFor(const EventFlags& f) {
  absl::StatusOr<v1::InfraEvent> e = BuildEvent(f, kNow);
  EXPECT_EQ(e.status().code(), absl::StatusCode::kInvalidArgument) << e.status();
  return std::string(e.status().message());
}

bool StartsWith(const std::string& s, const std::string& prefix) { return s.rfind(prefix, 0) == 0; }

TEST(BuildEvent, EveryFlagLandsInItsField) {
  EventFlags f;
  f.kind = "deploy";
  f.resource_id = "i-0abc";
  f.resource_type = "vm";
  f.provider = "aws";
  f.actor = "alice@example.com";
  f.via = "ci";
  f.justification = "release 1.2";
  f.ticket = "OPS-42";
  f.digest = "sha256:" + std::string(64, 'e');
  f.repo = "github.com/example/app";
  f.commit = "0123abcd";
  f.pipeline = "run-77";
  f.occurred_at = "2024-05-01T12:30:00.5Z";
  f.attrs = {"region=eu-west-1", "empty=", "eq=a=b"};
  absl::StatusOr<v1::InfraEvent> e = BuildEvent(f, kNow);
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->kind(), v1::DEPLOY);
  EXPECT_EQ(e->resource().id(), "i-0abc");
  EXPECT_EQ(e->resource().type(), "vm");
  EXPECT_EQ(e->resource().provider(), "aws");
  EXPECT_EQ(e->actor().principal(), "alice@example.com");
  EXPECT_EQ(e->actor().via(), v1::CI);
  EXPECT_EQ(e->justification(), "release 1.2");
  EXPECT_EQ(e->ticket(), "OPS-42");
  EXPECT_EQ(e->artifact_digest(), f.digest);
  EXPECT_EQ(e->source().repository(), "github.com/example/app");
  EXPECT_EQ(e->source().commit(), "0123abcd");
  EXPECT_EQ(e->source().pipeline(), "run-77");
  EXPECT_EQ(e->occurred_at().seconds(), 1714566600);
  EXPECT_EQ(e->occurred_at().nanos(), 500000000);
  ASSERT_EQ(e->attributes_size(), 3);
  EXPECT_EQ(e->attributes().at("region"), "eu-west-1");
  EXPECT_EQ(e->attributes().at("empty"), "");
  EXPECT_EQ(e->attributes().at("eq"), "a=b");
  EXPECT_TRUE(e->signatures().empty());
}

TEST(BuildEvent, MinimalEventLeavesOptionalMessagesUnset) {
  absl::StatusOr<v1::InfraEvent> e = BuildEvent(Minimal(), kNow);
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_FALSE(e->has_actor());
  EXPECT_FALSE(e->has_source());
  EXPECT_TRUE(e->artifact_digest().empty());
  EXPECT_TRUE(e->attributes().empty());
}

TEST(BuildEvent, KindNamesAreCaseInsensitiveWithDashOrUnderscore) {
  const std::pair<const char*, v1::EventKind> cases[] = {
      {"provision", v1::PROVISION},
      {"DEPROVISION", v1::DEPROVISION},
      {"Access", v1::ACCESS},
      {"deploy", v1::DEPLOY},
      {"config_change", v1::CONFIG_CHANGE},
      {"config-change", v1::CONFIG_CHANGE},
      {"key_create", v1::KEY_CREATE},
      {"key_rotate", v1::KEY_ROTATE},
      {"key-recovery", v1::KEY_RECOVERY},
      {"Break_Glass", v1::BREAK_GLASS},
      {"key_destroy", v1::KEY_DESTROY},
  };
  for (const auto& [name, kind] : cases) {
    EventFlags f = Minimal();
    f.kind = name;
    absl::StatusOr<v1::InfraEvent> e = BuildEvent(f, kNow);
    ASSERT_TRUE(e.ok()) << name << ": " << e.status();
    EXPECT_EQ(e->kind(), kind) << name;
  }
}

TEST(BuildEvent, ViaChannelsAreCaseInsensitive) {
  const std::pair<const char*, v1::Channel> cases[] = {
      {"console", v1::CONSOLE}, {"IaC", v1::IAC}, {"CI", v1::CI}, {"api", v1::API}};
  for (const auto& [name, channel] : cases) {
    EventFlags f = Minimal();
    f.via = name;
    EXPECT_EQ(BuildEvent(f, kNow)->actor().via(), channel) << name;
  }
}

TEST(BuildEvent, EmptyOccurredAtIsNow) {
  absl::StatusOr<v1::InfraEvent> e = BuildEvent(Minimal(), kNow);
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->occurred_at().seconds(), 1700000000);
  EXPECT_EQ(e->occurred_at().nanos(), 250000000);
}

TEST(BuildEvent, OccurredAtHonoursTheOffset) {
  EventFlags f = Minimal();
  f.occurred_at = "2024-05-01T14:30:00+02:00";
  EXPECT_EQ(BuildEvent(f, kNow)->occurred_at().seconds(), 1714566600);
  f.occurred_at = "1969-12-31T23:59:59.25Z";  // before the epoch: nanos stay positive
  absl::StatusOr<v1::InfraEvent> e = BuildEvent(f, kNow);
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->occurred_at().seconds(), -1);
  EXPECT_EQ(e->occurred_at().nanos(), 250000000);
}

TEST(BuildEvent, MissingRequiredFlagsAreNamed) {
  EventFlags f = Minimal();
  f.kind = "";
  EXPECT_EQ(ErrorFor(f), "--kind: required");
  f = Minimal();
  f.resource_id = "";
  EXPECT_EQ(ErrorFor(f), "--resource-id: required");
}

TEST(BuildEvent, UnknownKindListsTheKnownOnes) {
  EventFlags f = Minimal();
  f.kind = "provisoin";
  EXPECT_EQ(ErrorFor(f),
            "--kind: unknown event kind \"provisoin\" (expected one of provision, deprovision, "
            "access, deploy, config_change, key_create, key_rotate, key_recovery, break_glass, "
            "key_destroy)");
  f.kind = "event_kind_unspecified";
  EXPECT_TRUE(StartsWith(ErrorFor(f), "--kind: unknown event kind"));
}

TEST(BuildEvent, BadViaIsNamed) {
  EventFlags f = Minimal();
  f.via = "terraform";
  EXPECT_EQ(ErrorFor(f),
            "--via: unknown channel \"terraform\" (expected one of console, iac, ci, api)");
}

TEST(BuildEvent, DigestMustBeAlgorithmAndLowercaseHexOfTheRightLength) {
  for (const std::string& good :
       {"sha256:" + std::string(64, 'a'), "sha384:" + std::string(96, '0'),
        "sha512:" + std::string(128, 'f')}) {
    EventFlags f = Minimal();
    f.digest = good;
    EXPECT_TRUE(BuildEvent(f, kNow).ok()) << good;
  }
  for (const std::string& bad :
       {std::string(64, 'a'), "sha256:" + std::string(63, 'a'), "sha256:" + std::string(64, 'A'),
        "sha256:" + std::string(63, 'a') + "g", "sha384:" + std::string(64, 'a'),
        "md5:" + std::string(32, 'a'), std::string("sha256:"), std::string(":")}) {
    EventFlags f = Minimal();
    f.digest = bad;
    EXPECT_TRUE(StartsWith(ErrorFor(f), "--digest: ")) << bad;
  }
}

TEST(BuildEvent, BadOccurredAtIsNamed) {
  for (const char* bad : {"yesterday", "2024-05-01", "2024-05-01T12:30:00", "2024-13-01T00:00:00Z",
                          "infinite-future"}) {
    EventFlags f = Minimal();
    f.occurred_at = bad;
    EXPECT_TRUE(StartsWith(ErrorFor(f), "--occurred-at: ")) << bad;
  }
}

TEST(BuildEvent, BadAttrsAreNamed) {
  EventFlags f = Minimal();
  f.attrs = {"foo"};
  EXPECT_EQ(ErrorFor(f), "--attr: \"foo\" is not key=value");
  f.attrs = {"=v"};
  EXPECT_EQ(ErrorFor(f), "--attr: \"=v\" has an empty key");
  f.attrs = {"k=1", "j=2", "k=3"};
  EXPECT_EQ(ErrorFor(f), "--attr: duplicate key \"k\"");
  f.attrs = {"k=\xff"};
  EXPECT_TRUE(StartsWith(ErrorFor(f), "--attr: ")) << ErrorFor(f);
}

TEST(BuildEvent, InvalidUtf8IsNamedByFlag) {
  EventFlags f = Minimal();
  f.actor = "alice\xc0";
  EXPECT_EQ(ErrorFor(f), "--actor: not valid UTF-8");
  f = Minimal();
  f.resource_id = "\xff";
  EXPECT_EQ(ErrorFor(f), "--resource-id: not valid UTF-8");
}

TEST(AnyEventFlagSet, FalseOnlyWhenNothingIsSet) {
  EXPECT_FALSE(AnyEventFlagSet(EventFlags{}));
  EventFlags f;
  f.ticket = "OPS-1";
  EXPECT_TRUE(AnyEventFlagSet(f));
  f = EventFlags{};
  f.attrs = {"k=v"};
  EXPECT_TRUE(AnyEventFlagSet(f));
  f = EventFlags{};
  f.occurred_at = "2024-05-01T00:00:00Z";
  EXPECT_TRUE(AnyEventFlagSet(f));
}

}  // namespace
}  // namespace infratrail

namespace infratrail {
namespace {

TEST(SerializeEvent, SameAttributesInAnyInsertionOrderGiveTheSameBytes) {
  // Enough keys that a hash map's iteration order would differ from the
  // insertion order in at least one of the two builds.
  v1::InfraEvent forward;
  v1::InfraEvent backward;
  forward.set_kind(v1::ACCESS);
  backward.set_kind(v1::ACCESS);
  for (int i = 0; i < 64; ++i) {
    (*forward.mutable_attributes())[absl::StrCat("k", i)] = absl::StrCat("v", i);
    (*backward.mutable_attributes())[absl::StrCat("k", 63 - i)] = absl::StrCat("v", 63 - i);
  }
  const std::string bytes = SerializeEvent(forward);
  EXPECT_EQ(SerializeEvent(backward), bytes);
  // And the bytes are the event: they parse back to it, keys in sorted order.
  v1::InfraEvent parsed;
  ASSERT_TRUE(parsed.ParseFromString(bytes));
  EXPECT_EQ(parsed.attributes().size(), 64u);
  EXPECT_EQ(parsed.attributes().at("k17"), "v17");
  const size_t k10 = bytes.find("k10");
  const size_t k9 = bytes.find("k9");
  ASSERT_NE(k10, std::string::npos);
  EXPECT_LT(k10, k9);  // lexicographic: "k10" < "k9"
}

// What `infratrail add` sends from flags must be what the log accepts
// (proto/entry_validation.h): deterministic bytes, one per event, with every
// field, at the edges of the Timestamp range, with attributes whose hash-map
// order is not their key order, and signed by emitters (signatures are
// appended records, field 10 being the last field).
TEST(SerializeEvent, FlagBuiltEventsAreEntriesTheLogAccepts) {
  const NoteSigner a = *NoteSigner::FromSeed("emitter-a.example", std::string(32, 'a'));
  const NoteSigner b = *NoteSigner::FromSeed("emitter-b.example", std::string(32, 'b'));
  for (const std::string occurred_at :
       {"", "0001-01-01T00:00:00Z", "9999-12-31T23:59:59.999999999Z", "2024-05-01T12:30:00.5+02:00",
        "1969-12-31T23:59:59.000000001Z"}) {
    for (const std::string via : {"", "console", "iac", "ci", "api"}) {
      SCOPED_TRACE(occurred_at + " " + via);
      EventFlags f = Minimal();
      f.resource_type = "vm";
      f.provider = "aws";
      f.actor = via.empty() ? "" : "alice@example.com";
      f.via = via;
      f.justification = "release 1.2";
      f.ticket = "OPS-42";
      f.digest = "sha256:" + std::string(64, 'e');
      f.repo = "github.com/example/app";
      f.commit = "0123abcd";
      f.pipeline = "run-77";
      f.occurred_at = occurred_at;
      for (int i = 0; i < 20; ++i) f.attrs.push_back(absl::StrCat("k", 19 - i, "=v", i));
      f.attrs.push_back("empty=");
      absl::StatusOr<v1::InfraEvent> e = BuildEvent(f, kNow);
      ASSERT_TRUE(e.ok()) << e.status();
      const std::string entry = SerializeEvent(*e);
      EXPECT_TRUE(ValidateEntry(entry, "entry").ok()) << ValidateEntry(entry, "entry");
      absl::StatusOr<std::string> signed_once = SignEvent(entry, a);
      ASSERT_TRUE(signed_once.ok()) << signed_once.status();
      EXPECT_TRUE(ValidateEntry(*signed_once, "entry").ok());
      absl::StatusOr<std::string> signed_twice = SignEvent(*signed_once, b);
      ASSERT_TRUE(signed_twice.ok()) << signed_twice.status();
      EXPECT_TRUE(ValidateEntry(*signed_twice, "entry").ok())
          << ValidateEntry(*signed_twice, "entry");
    }
  }
}

}  // namespace
}  // namespace infratrail
