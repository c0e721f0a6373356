// Unit tests of the terraform adapter beyond the golden cases: determinism,
// what the log accepts, and the exact reasons for what it cannot map.
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "client/event_flags.h"
#include "client/ingest/adapters.h"
#include "client/ingest/testing/golden.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "proto/entry_validation.h"
#include "proto/limits.h"

namespace infratrail::ingest {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

MapperOptions Options() {
  MapperOptions o;
  o.repository = "https://github.com/example/infra";
  o.commit = "4f2e8a1c9b7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f";
  o.pipeline = "github-actions/example/infra/8812";
  o.actor = "terraform-ci";
  return o;
}

std::string ReadTestdata(const std::string& name) {
  std::ifstream f(absl::StrCat(INFRATRAIL_INGEST_TESTDATA, "/terraform/", name), std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// Maps `json` as one record, with a parser of its own.
Mapping MapJson(const std::string& json, const MapperOptions& options = Options()) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  EXPECT_EQ(parser.parse(json).get(doc), simdjson::SUCCESS) << json;
  return NewTerraformMapper(options)->Map(doc, json);
}

std::vector<std::string> Entries(const Mapping& m) {
  std::vector<std::string> out;
  for (const MappedItem& item : m) {
    if (item.kind == MappedItem::Kind::kEvent) out.push_back(SerializeEvent(item.event));
  }
  return out;
}

std::vector<std::string> Reasons(const Mapping& m) {
  std::vector<std::string> out;
  for (const MappedItem& item : m) {
    if (item.kind != MappedItem::Kind::kEvent) out.push_back(item.where + " " + item.reason);
  }
  return out;
}

// A plan around one resource change.
std::string PlanWith(const std::string& change) {
  return absl::StrCat(R"({"format_version":"1.2","terraform_version":"1.9.5","planned_values":{},)",
                      R"("resource_changes":[)", change,
                      R"(],"timestamp":"2026-11-20T14:03:11Z"})");
}

TEST(TerraformMapper, SameBytesGiveIdenticalEntries) {
  const std::string plan = ReadTestdata("plan.json");
  const std::vector<std::string> first = Entries(MapJson(plan));
  ASSERT_EQ(first.size(), 13u);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(Entries(MapJson(plan)), first);
}

TEST(TerraformMapper, EveryEventIsAnEntryTheLogAccepts) {
  for (const char* name : {"plan.json", "plan-oneline.json"}) {
    const std::vector<std::string> entries = Entries(MapJson(ReadTestdata(name)));
    EXPECT_FALSE(entries.empty()) << name;
    for (size_t i = 0; i < entries.size(); ++i) {
      EXPECT_TRUE(ValidateEntry(entries[i], absl::StrCat(name, "[", i, "]")).ok());
    }
  }
}

TEST(TerraformMapper, EveryEventCarriesSourceAndIac) {
  for (const MappedItem& item : MapJson(ReadTestdata("plan.json"))) {
    if (item.kind != MappedItem::Kind::kEvent) continue;
    EXPECT_EQ(item.event.source().repository(), "https://github.com/example/infra");
    EXPECT_EQ(item.event.source().commit(), "4f2e8a1c9b7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f");
    EXPECT_EQ(item.event.actor().via(), v1::IAC);
    EXPECT_EQ(item.event.resource().id(), item.event.attributes().at("terraform.address"));
  }
}

TEST(TerraformMapper, DoesNotCopyResourceValues) {
  for (const std::string& entry : Entries(MapJson(ReadTestdata("plan.json")))) {
    EXPECT_THAT(entry, Not(HasSubstr("hunter2")));
    EXPECT_THAT(entry, Not(HasSubstr("db.r6g")));
  }
}

TEST(TerraformMapper, EmptyActorLeavesPrincipalEmpty) {
  MapperOptions o = Options();
  o.actor.clear();
  const std::string plan = PlanWith(
      R"({"address":"aws_s3_bucket.a","mode":"managed","type":"aws_s3_bucket",)"
      R"("provider_name":"registry.terraform.io/hashicorp/aws","change":{"actions":["create"]}})");
  const Mapping m = MapJson(plan, o);
  ASSERT_EQ(m.size(), 1u);
  EXPECT_EQ(
      EventToSortedJson(m[0].event),
      absl::StrCat(R"({"actor":{"via":"IAC"},"attributes":{"terraform.action":"create",)"
                   R"("terraform.address":"aws_s3_bucket.a","terraform.plan_sha256":")",
                   Sha256Hex(plan),
                   R"(","terraform.version":"1.9.5"},"kind":"PROVISION",)"
                   R"("occurredAt":"2026-11-20T14:03:11Z","resource":{"id":"aws_s3_bucket.a",)"
                   R"("provider":"aws","type":"aws_s3_bucket"},"source":{"commit":)"
                   R"("4f2e8a1c9b7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f","pipeline":)"
                   R"("github-actions/example/infra/8812","repository":)"
                   R"("https://github.com/example/infra"}})"));
}

TEST(TerraformMapper, PlanDigestIgnoresTheLineEnd) {
  const std::string plan = PlanWith(
      R"({"address":"aws_s3_bucket.a","type":"aws_s3_bucket","provider_name":"aws","change":{"actions":["create"]}})");
  EXPECT_EQ(Entries(MapJson(plan)), Entries(MapJson(plan + "\n")));
  EXPECT_EQ(Entries(MapJson(plan)), Entries(MapJson(plan + "\r\n")));
}

TEST(TerraformMapper, UnmappedReasonsNameTheField) {
  EXPECT_THAT(Reasons(MapJson(R"({"eventName":"RunInstances"})")),
              ElementsAre(" resource_changes: missing (not `terraform show -json` output of a "
                          "plan)"));
  EXPECT_THAT(Reasons(MapJson(R"({"format_version":"1.0","values":{}})")),
              ElementsAre(" resource_changes: missing (not `terraform show -json` output of a "
                          "plan)"));
  EXPECT_THAT(Reasons(MapJson(R"({"planned_values":{},"resource_changes":{}})")),
              ElementsAre(" resource_changes: not an array"));
  EXPECT_THAT(Reasons(MapJson(R"({"planned_values":{},"timestamp":"yesterday"})")),
              ElementsAre(" timestamp: \"yesterday\" is not an RFC 3339 timestamp"));
  EXPECT_THAT(
      Reasons(MapJson(PlanWith(
          R"({"address":"a.b","type":"a","provider_name":"p","change":{"actions":["delete","update"]}},)"
          R"({"type":"a","provider_name":"p","change":{"actions":["create"]}},)"
          R"({"address":"a.b","provider_name":"p","change":{"actions":["create"]}},)"
          R"({"address":"a.b","type":"a","change":{"actions":["update"]}},)"
          R"({"address":"a.b","type":"a","provider_name":"p","change":{}},)"
          R"({"address":"a.b","type":"a","provider_name":"p","change":{"actions":[null]}},)"
          R"(17)"))),
      ElementsAre(
          R"(resource_changes[0] change.actions ["delete","update"] is not in the mapping table)",
          "resource_changes[1] address: missing", "resource_changes[2] type: missing",
          "resource_changes[3] provider_name: missing",
          "resource_changes[4] change.actions: missing or not an array",
          "resource_changes[5] change.actions: an action is not a string",
          "resource_changes[6] not an object"));
}

TEST(TerraformMapper, SkipReasons) {
  EXPECT_THAT(Reasons(MapJson(R"({"format_version":"1.2","planned_values":{}})")),
              ElementsAre(" no-changes"));
  EXPECT_THAT(Reasons(MapJson(R"({"planned_values":{},"resource_changes":[]})")),
              ElementsAre(" no-changes"));
  EXPECT_THAT(Reasons(MapJson(
                  R"({"planned_values":{},"resource_changes":[{"change":{}}],"errored":true})")),
              ElementsAre(" errored"));
  EXPECT_THAT(
      Reasons(MapJson(PlanWith(
          R"({"address":"a.b","type":"a","provider_name":"p","change":{"actions":["no-op"]}},)"
          R"({"address":"a.b","type":"a","provider_name":"p","change":{"actions":["no-op"],"importing":{"id":"x"}}},)"
          R"({"address":"data.a.b","mode":"data","type":"a","provider_name":"p","change":{"actions":["read"]}},)"
          R"({"address":"data.a.c","mode":"data","type":"a","provider_name":"p","change":{"actions":["no-op"]}},)"
          R"({"address":"a.b","type":"a","provider_name":"p","change":{"actions":["forget"]}})"))),
      ElementsAre("resource_changes[0] no-op", "resource_changes[1] import",
                  "resource_changes[2] read", "resource_changes[3] read",
                  "resource_changes[4] forget"));
}

TEST(TerraformMapper, ReplaceLogsTheDeprovisionFirst) {
  for (const char* actions : {R"(["delete","create"])", R"(["create","delete"])"}) {
    const Mapping m = MapJson(PlanWith(absl::StrCat(
        R"({"address":"aws_instance.a","type":"aws_instance","provider_name":"aws",)",
        R"("change":{"actions":)", actions, R"(,"before":{"id":"i-1"},"after":{}}})")));
    ASSERT_EQ(m.size(), 2u) << actions;
    EXPECT_EQ(m[0].where, "resource_changes[0]:delete");
    EXPECT_EQ(m[0].event.kind(), v1::DEPROVISION);
    EXPECT_EQ(m[0].event.attributes().at("terraform.cloud_id"), "i-1");
    EXPECT_EQ(m[1].where, "resource_changes[0]:create");
    EXPECT_EQ(m[1].event.kind(), v1::PROVISION);
    EXPECT_FALSE(m[1].event.attributes().contains("terraform.cloud_id"));
  }
}

TEST(TerraformMapper, NoTimestampLeavesOccurredAtUnset) {
  const Mapping m = MapJson(ReadTestdata("plan-oneline.json"));
  ASSERT_FALSE(m.empty());
  for (const MappedItem& item : m) EXPECT_FALSE(item.event.has_occurred_at());
}

TEST(TerraformMapper, AnEventOverTheEntryLimitIsUnmapped) {
  const std::string address(kMaxEntryBytes / 2, 'a');
  const Mapping m = MapJson(PlanWith(
      absl::StrCat(R"({"address":")", address,
                   R"(","type":"t","provider_name":"p","change":{"actions":["create"]}})")));
  ASSERT_EQ(m.size(), 1u);
  EXPECT_EQ(m[0].kind, MappedItem::Kind::kUnmapped);
  EXPECT_THAT(m[0].reason, HasSubstr(absl::StrCat("exceeds the entry limit of ", kMaxEntryBytes)));
}

TEST(MakeMapper, TerraformNeedsRepositoryAndCommit) {
  MapperOptions o = Options();
  o.repository.clear();
  EXPECT_THAT(MakeMapper("terraform", o).status().message(), HasSubstr("--repository"));
  o = Options();
  o.commit.clear();
  EXPECT_THAT(MakeMapper("terraform", o).status().message(), HasSubstr("--commit"));
}

}  // namespace
}  // namespace infratrail::ingest
