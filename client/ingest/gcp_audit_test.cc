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

// A minimal admin-activity LogEntry calling `method`; `payload` and `extra`
// are spliced into protoPayload and the entry.
std::string Entry(std::string_view method, std::string_view payload = "",
                  std::string_view extra = "",
                  std::string_view service = "compute.googleapis.com") {
  return absl::StrCat(
      R"({"insertId":"id-1","timestamp":"2026-11-30T09:14:02.5Z",)",
      R"("logName":"projects/p/logs/cloudaudit.googleapis.com%2Factivity",)",
      R"("resource":{"type":"gce_instance","labels":{"project_id":"p"}},)", Av(extra),
      extra.empty() ? "" : ",",
      R"("protoPayload":{"@type":"type.googleapis.com/google.cloud.audit.AuditLog",)",
      R"("serviceName":")", Av(service), R"(","methodName":")", Av(method), "\",",
      R"("resourceName":"projects/p/zones/z/instances/web-1",)",
      R"("authenticationInfo":{"principalEmail":"alice@example.com"})", payload.empty() ? "" : ",",
      Av(payload), "}}");
}

class GcpAuditTest : public testing::Test {
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
  v1::EventKind OneKind(const std::string& json) {
    Mapping m = Map(json);
    return m.size() == 1 && m[0].kind == MappedItem::Kind::kEvent ? m[0].event.kind()
                                                                  : v1::EVENT_KIND_UNSPECIFIED;
  }

  simdjson::dom::parser parser_;
  std::unique_ptr<Mapper> mapper_ = NewGcpAuditMapper({});
};

TEST_F(GcpAuditTest, SameBytesGiveSameEntries) {
  const std::string json =
      Entry("v1.compute.instances.insert", R"("requestMetadata":{"callerIp":"1.2.3.4"})");
  Mapping first = Map(json);
  ASSERT_EQ(first.size(), 1u);
  const std::string bytes = SerializeEvent(first[0].event);
  for (int i = 0; i < 3; ++i) {
    Mapping again = Map(json);
    ASSERT_EQ(again.size(), 1u);
    EXPECT_EQ(SerializeEvent(again[0].event), bytes);
  }
}

TEST_F(GcpAuditTest, EveryEventPassesValidateEntry) {
  for (const std::string& json : {
           Entry("v1.compute.instances.insert"),
           Entry("v1.compute.instances.delete", R"("status":{"code":0})"),
           Entry("google.cloud.secretmanager.v1.SecretManagerService.AccessSecretVersion",
                 R"("status":{"code":7,"message":"denied"})"),
           Entry("CreateCryptoKey", "", "", "cloudkms.googleapis.com"),
       }) {
    Mapping m = Map(json);
    ASSERT_EQ(m.size(), 1u);
    ASSERT_EQ(m[0].kind, MappedItem::Kind::kEvent) << m[0].reason;
    EXPECT_TRUE(ValidateEntry(SerializeEvent(m[0].event), "event").ok()) << json;
  }
}

TEST_F(GcpAuditTest, UnmappedReasonsNameTheField) {
  EXPECT_EQ(OneReason(R"({"insertId":"x","textPayload":"hello"})"),
            "protoPayload.@type: missing (not a Cloud Audit Logs entry)");
  EXPECT_EQ(OneReason(R"({"insertId":"x","protoPayload":{"@type":"type.googleapis.com/Other"}})"),
            "protoPayload.@type \"type.googleapis.com/Other\" is not "
            "\"type.googleapis.com/google.cloud.audit.AuditLog\"");
  std::string no_id = Entry("v1.compute.instances.insert");
  no_id.replace(no_id.find(R"("insertId":"id-1",)"), 18, "");
  EXPECT_EQ(OneReason(no_id), "insertId: missing");
  EXPECT_EQ(OneReason(Entry("v1.compute.instances.stop")),
            "protoPayload.methodName \"v1.compute.instances.stop\" is not in the mapping table");
  std::string no_res = Entry("v1.compute.instances.insert");
  no_res.replace(no_res.find(R"("resourceName")"), 52, "");
  EXPECT_EQ(OneReason(no_res), "no resource: protoPayload.resourceName: missing");
  std::string bad_time = Entry("v1.compute.instances.insert");
  bad_time.replace(bad_time.find("2026-11-30T09:14:02.5Z"), 22, "10000-01-01T00:00:00Z");
  EXPECT_EQ(OneReason(bad_time),
            "timestamp: \"10000-01-01T00:00:00Z\" is outside years 0001 to 9999");
}

TEST_F(GcpAuditTest, SkipReasons) {
  EXPECT_EQ(OneReason(Entry("v1.compute.instances.get")), "read-only");
  EXPECT_EQ(OneReason(Entry("v1.compute.instances.aggregatedList")), "read-only");
  EXPECT_EQ(OneReason(Entry("Encrypt", "", "", "cloudkms.googleapis.com")), "read-only");
  EXPECT_EQ(OneReason(Entry("storage.buckets.create", R"("status":{"code":6})")), "failed");
  EXPECT_EQ(OneReason(Entry("v1.compute.instances.insert", "",
                            R"("operation":{"id":"op","first":true})")),
            "operation-started");
  std::string system = Entry("compute.instances.migrateOnHostMaintenance");
  system.replace(system.find("%2Factivity"), 11, "%2Fsystem_event");
  EXPECT_EQ(OneReason(system), "system-event");
}

TEST_F(GcpAuditTest, OperationIsLoggedOnceAtItsEnd) {
  EXPECT_EQ(OneKind(Entry("v1.compute.instances.insert", "",
                          R"("operation":{"id":"op","first":true,"last":true})")),
            v1::PROVISION);
  EXPECT_EQ(
      OneKind(Entry("v1.compute.instances.insert", "", R"("operation":{"id":"op","last":true})")),
      v1::PROVISION);
}

TEST_F(GcpAuditTest, VerbsOfBothCases) {
  EXPECT_EQ(OneKind(Entry("beta.compute.instances.setMetadata")), v1::CONFIG_CHANGE);
  EXPECT_EQ(OneKind(Entry("SetIamPolicy")), v1::CONFIG_CHANGE);
  EXPECT_EQ(OneKind(Entry("storage.buckets.patch")), v1::CONFIG_CHANGE);
  EXPECT_EQ(OneKind(Entry("google.container.v1.ClusterManager.CreateCluster")), v1::PROVISION);
  EXPECT_EQ(OneKind(Entry("google.container.v1.ClusterManager.DeleteCluster")), v1::DEPROVISION);
  // A verb must end at a word boundary.
  EXPECT_EQ(OneReason(Entry("v1.compute.instances.settle")),
            "protoPayload.methodName \"v1.compute.instances.settle\" is not in the mapping table");
  auto kms = [](std::string_view method) {
    return Entry(method, "", "", "cloudkms.googleapis.com");
  };
  EXPECT_EQ(OneKind(kms("UpdateCryptoKeyPrimaryVersion")), v1::KEY_ROTATE);
  EXPECT_EQ(OneKind(kms("RestoreCryptoKeyVersion")), v1::CONFIG_CHANGE);
  EXPECT_EQ(OneKind(kms("AsymmetricSign")), v1::ACCESS);
}

TEST_F(GcpAuditTest, PrincipalFallsBack) {
  auto principal = [&](std::string_view auth) {
    std::string json = Entry("v1.compute.instances.insert");
    const size_t at = json.find(R"("authenticationInfo")");
    json.replace(at, json.find('}', at) + 1 - at,
                 absl::StrCat(R"("authenticationInfo":)", Av(auth)));
    Mapping m = Map(json);
    return m.size() == 1 ? m[0].event.actor().principal() : "<not one event>";
  };
  EXPECT_EQ(principal(R"({"principalSubject":"principal://x"})"), "principal://x");
  EXPECT_EQ(
      principal(
          R"({"serviceAccountDelegationInfo":[{"firstPartyPrincipal":{"principalEmail":"a@b"}}]})"),
      "a@b");
  EXPECT_EQ(principal("{}"), "");
}

}  // namespace
}  // namespace infratrail::ingest
