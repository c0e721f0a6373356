// What the golden files show poorly: determinism, validity of every event,
// and the exact reasons of what is skipped or unmapped.
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "client/event_flags.h"
#include "client/ingest/adapters.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "proto/entry_validation.h"

namespace infratrail::ingest {
namespace {

using ::testing::ElementsAre;
using ::testing::Field;

// A minimal CloudTrail record with `extra` fields spliced in.
std::string Record(std::string_view name, std::string_view extra = "",
                   std::string_view source = "ec2.amazonaws.com") {
  return absl::StrCat(
      R"({"eventVersion":"1.09","eventTime":"2026-11-30T09:14:02Z","eventSource":")", Av(source),
      R"(",)", R"("eventName":")", Av(name),
      R"(","awsRegion":"eu-west-1","sourceIPAddress":"198.51.100.24",)",
      R"("eventID":"e-1","recipientAccountId":"111122223333","eventType":"AwsApiCall",)",
      R"("userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/alice"})",
      extra.empty() ? "" : ",", Av(extra), "}");
}

class CloudTrailTest : public testing::Test {
 protected:
  Mapping Map(const std::string& json) {
    auto doc = parser_.parse(json);
    EXPECT_EQ(doc.error(), simdjson::SUCCESS) << json;
    return mapper_->Map(doc.value(), json);
  }
  std::string OneReason(const std::string& json) {
    Mapping m = Map(json);
    EXPECT_EQ(m.size(), 1u);
    return m.empty() ? "" : m[0].reason;
  }

  simdjson::dom::parser parser_;
  std::unique_ptr<Mapper> mapper_ = NewCloudTrailMapper({});
};

TEST_F(CloudTrailTest, SameBytesGiveSameEntries) {
  const std::string json = Record(
      "RunInstances",
      R"("responseElements":{"instancesSet":{"items":[{"instanceId":"i-1"},{"instanceId":"i-2"}]}})");
  std::vector<std::string> first;
  for (const MappedItem& item : Map(json)) first.push_back(SerializeEvent(item.event));
  ASSERT_EQ(first.size(), 2u);
  for (int i = 0; i < 3; ++i) {
    std::vector<std::string> again;
    for (const MappedItem& item : Map(json)) again.push_back(SerializeEvent(item.event));
    EXPECT_EQ(again, first);
  }
  EXPECT_NE(first[0], first[1]);
}

TEST_F(CloudTrailTest, EveryEventPassesValidateEntry) {
  for (const std::string& json : {
           Record("RunInstances",
                  R"("responseElements":{"instancesSet":{"items":[{"instanceId":"i-1"}]}})"),
           Record("CreateBucket", R"("requestParameters":{"bucketName":"b"})", "s3.amazonaws.com"),
           Record("ConsoleLogin", R"("responseElements":{"ConsoleLogin":"Failure"})"),
           Record("GetSecretValue",
                  R"("errorCode":"AccessDenied","requestParameters":{"secretId":"s"})"),
       }) {
    Mapping m = Map(json);
    ASSERT_FALSE(m.empty());
    for (const MappedItem& item : m) {
      ASSERT_EQ(item.kind, MappedItem::Kind::kEvent) << item.reason;
      EXPECT_TRUE(ValidateEntry(SerializeEvent(item.event), "event").ok()) << json;
    }
  }
}

TEST_F(CloudTrailTest, UnmappedReasonsNameTheField) {
  EXPECT_EQ(OneReason(R"({"eventName":"RunInstances"})"), "eventID: missing");
  EXPECT_EQ(OneReason(R"({"eventID":"e"})"), "eventName: missing");
  EXPECT_EQ(OneReason(Record("StartInstances")),
            "eventName \"StartInstances\" is not in the mapping table");
  EXPECT_EQ(OneReason(Record("RunInstances")),
            "no resource: responseElements.instancesSet.items: missing or empty");
  EXPECT_EQ(OneReason(Record("TerminateInstances")),
            "no resource: requestParameters.instancesSet.items: missing or empty");
  EXPECT_THAT(OneReason(Record("CreateWidget")),
              testing::StartsWith("no resource: resources[0].ARN, "));
  EXPECT_EQ(
      OneReason(absl::StrCat(R"({"eventID":"e","eventName":")", std::string(200, 'X'), "\"}")),
      absl::StrCat("eventName \"", std::string(80, 'X'), "...\" is not in the mapping table"));
  const std::string bad_time = Record("CreateBucket", R"("requestParameters":{"bucketName":"b"})");
  std::string json = bad_time;
  json.replace(json.find("2026-11-30T09:14:02Z"), 20, "yesterday");
  EXPECT_EQ(OneReason(json), "eventTime: \"yesterday\" is not an RFC 3339 timestamp");
  EXPECT_THAT(
      OneReason(Record("CreateBucket", absl::StrCat(R"("requestParameters":{"bucketName":")",
                                                    std::string(3000, 'b'), "\"}"))),
      testing::StartsWith("requestParameters.bucketName: 3000 bytes, more than 2048"));
}

TEST_F(CloudTrailTest, SkipReasons) {
  EXPECT_EQ(OneReason(Record("DescribeInstances")), "read-only");
  EXPECT_EQ(OneReason(Record("GenerateDataKey", R"("readOnly":true)")), "read-only");
  EXPECT_EQ(OneReason(Record("CreateBucket", R"("errorCode":"BucketAlreadyExists")")), "failed");
  EXPECT_EQ(OneReason(R"({"eventID":"e","eventType":"AwsCloudTrailInsight"})"), "insight");
  EXPECT_EQ(OneReason(R"({"digestSignatureAlgorithm":"SHA256withRSA","logFiles":[]})"), "digest");
}

TEST_F(CloudTrailTest, PrincipalFallsBackThroughUserIdentity) {
  auto principal = [&](std::string_view identity) {
    std::string json = Record("CreateBucket", R"("requestParameters":{"bucketName":"b"})");
    const size_t at = json.find(R"("userIdentity")");
    json.replace(at, json.find('}', at) + 1 - at, absl::StrCat(R"("userIdentity":)", Av(identity)));
    Mapping m = Map(json);
    return m.size() == 1 ? m[0].event.actor().principal() : "<not one event>";
  };
  EXPECT_EQ(principal(R"({"arn":"A","principalId":"P"})"), "A");
  EXPECT_EQ(principal(R"({"principalId":"P","sessionContext":{"sessionIssuer":{"arn":"S"}}})"),
            "S");
  EXPECT_EQ(principal(R"({"principalId":"P","accountId":"1"})"), "P");
  EXPECT_EQ(principal(R"({"type":"Unknown","accountId":"111122223333"})"), "Unknown:111122223333");
  EXPECT_EQ(principal(R"({"accountId":"1","invokedBy":"ec2.amazonaws.com"})"), "ec2.amazonaws.com");
}

TEST_F(CloudTrailTest, KmsRulesComeBeforeGenericPrefixes) {
  auto kind = [&](std::string_view name, std::string_view extra = "") {
    Mapping m = Map(Record(
        name, absl::StrCat(R"("resources":[{"ARN":"arn:k","type":"AWS::KMS::Key"}])", Av(extra)),
        "kms.amazonaws.com"));
    return m.size() == 1 && m[0].kind == MappedItem::Kind::kEvent ? m[0].event.kind()
                                                                  : v1::EVENT_KIND_UNSPECIFIED;
  };
  EXPECT_EQ(kind("CreateKey"), v1::KEY_CREATE);
  EXPECT_EQ(kind("ScheduleKeyDeletion"), v1::KEY_DESTROY);
  EXPECT_EQ(kind("DeleteImportedKeyMaterial"), v1::KEY_DESTROY);
  EXPECT_EQ(kind("CancelKeyDeletion"), v1::CONFIG_CHANGE);
  EXPECT_EQ(kind("EnableKeyRotation"), v1::CONFIG_CHANGE);
  EXPECT_EQ(kind("RotateKeyOnDemand"), v1::KEY_ROTATE);
  EXPECT_EQ(kind("ImportKeyMaterial"), v1::KEY_CREATE);
  EXPECT_EQ(kind("ImportKeyMaterial", R"(,"requestParameters":{"importType":"NEW_KEY_MATERIAL"})"),
            v1::KEY_ROTATE);
  EXPECT_EQ(kind("Decrypt", R"(,"readOnly":true,"errorCode":"AccessDeniedException")"), v1::ACCESS);
}

TEST_F(CloudTrailTest, PartsOfResourcesAreConfigChanges) {
  Mapping m = Map(Record("DeleteBucketPolicy", R"("requestParameters":{"bucketName":"b"})"));
  ASSERT_EQ(m.size(), 1u);
  EXPECT_EQ(m[0].event.kind(), v1::CONFIG_CHANGE);
  m = Map(Record("DeletePolicy", R"("requestParameters":{"policyArn":"arn:p"})"));
  ASSERT_EQ(m.size(), 1u);
  EXPECT_EQ(m[0].event.kind(), v1::DEPROVISION);
}

TEST_F(CloudTrailTest, OneEventPerInstanceWithItsPosition) {
  Mapping m = Map(Record(
      "RunInstances",
      R"("responseElements":{"instancesSet":{"items":[{"instanceId":"i-1"},{"imageId":"ami"}]}})"));
  EXPECT_THAT(m, ElementsAre(Field(&MappedItem::where, "instancesSet[0]"),
                             Field(&MappedItem::where, "instancesSet[1]")));
  ASSERT_EQ(m.size(), 2u);
  EXPECT_EQ(m[0].event.resource().id(), "i-1");
  EXPECT_EQ(m[1].reason, "responseElements.instancesSet.items[1].instanceId: missing");
}

}  // namespace
}  // namespace infratrail::ingest
