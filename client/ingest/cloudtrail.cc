// The cloudtrail adapter: AWS CloudTrail records (a log file's
// {"Records":[...]}, gzipped or not, or JSON lines of records) to InfraEvents.
// docs/ingest.md ("## cloudtrail") is the mapping table this file implements.
//
// Mapping is on the hot path of `infratrail ingest cloudtrail` (target: tens
// of thousands of records a second on two cores), so it reads the simdjson
// DOM in place, compares names against fixed lists, and allocates nothing
// but the event it returns.
#include <array>
#include <string>
#include <string_view>
#include <utility>

#include "absl/strings/str_cat.h"
#include "client/ingest/adapters.h"

namespace infratrail::ingest {
namespace {

using simdjson::dom::element;

constexpr std::array<std::string_view, 5> kReadVerbs = {"Describe", "Get", "List", "Head",
                                                        "Lookup"};
constexpr std::array<std::string_view, 15> kConfigVerbs = {
    "Modify", "Put",    "Update",  "Attach", "Detach", "Associate", "Disassociate", "Authorize",
    "Revoke", "Enable", "Disable", "Add",    "Remove", "Tag",       "Untag"};

// True if `noun` (an eventName after its verb) names a part of a resource
// rather than a resource: "BucketPolicy", "Tags". A bare "Policy"
// (iam:DeletePolicy) is a resource of its own.
bool IsPartOfResource(std::string_view noun) {
  constexpr std::array<std::string_view, 9> kParts = {
      "Policy",    "Tags", "Tagging", "Configuration",    "Encryption",
      "Lifecycle", "Cors", "Website", "PublicAccessBlock"};
  for (std::string_view part : kParts) {
    if (noun.size() > part.size() && noun.substr(noun.size() - part.size()) == part) return true;
  }
  return noun == "Tags";
}

// What an eventName is, before the record's other fields are looked at.
struct Rule {
  // EVENT_KIND_UNSPECIFIED: not in the mapping table (unless read_only).
  v1::EventKind kind = v1::EVENT_KIND_UNSPECIFIED;
  bool read_only = false;
  // One event per instance of instancesSet.items (RunInstances,
  // TerminateInstances).
  bool per_instance = false;
  // The resource type when the rule knows it; empty: from the record.
  std::string_view type;
};

Rule Kind(v1::EventKind kind, std::string_view type = "") {
  Rule r;
  r.kind = kind;
  r.type = type;
  return r;
}

Rule Classify(std::string_view name, std::string_view source, element record) {
  // Accesses first: AssumeRole, Decrypt and GetSecretValue are readOnly.
  if (name == "ConsoleLogin") return Kind(v1::ACCESS, "aws-account");
  if (name == "AssumeRole" || name == "AssumeRoleWithSAML" || name == "AssumeRoleWithWebIdentity" ||
      name == "GetSecretValue") {
    return Kind(v1::ACCESS);
  }
  if (source == "kms.amazonaws.com") {
    constexpr std::string_view kKey = "kms-key";
    if (name == "Decrypt" || name == "Sign") return Kind(v1::ACCESS, kKey);
    if (name == "CreateKey") return Kind(v1::KEY_CREATE, kKey);
    if (name == "ImportKeyMaterial") {
      // Material for a new key version is a rotation; otherwise the key gets
      // (back) the material it was created for.
      const bool new_material =
          GetString(record, "requestParameters.importType") == "NEW_KEY_MATERIAL";
      return Kind(new_material ? v1::KEY_ROTATE : v1::KEY_CREATE, kKey);
    }
    // RotateKey: the AwsServiceEvent of automatic rotation.
    if (name == "RotateKey" || name == "RotateKeyOnDemand") {
      return Kind(v1::KEY_ROTATE, kKey);
    }
    // ScheduleKeyDeletion makes the key unusable at once; DeleteKey is the
    // AwsServiceEvent of the material's deletion when the waiting period ends.
    if (name == "ScheduleKeyDeletion" || name == "DeleteKey" ||
        name == "DeleteImportedKeyMaterial") {
      return Kind(v1::KEY_DESTROY, kKey);
    }
    // The key was never destroyed; KEY_RECOVERY (from escrow) would trip
    // key-recovery policies.
    if (name == "CancelKeyDeletion") return Kind(v1::CONFIG_CHANGE, kKey);
  }
  if (source == "ec2.amazonaws.com") {
    if (name == "RunInstances" || name == "TerminateInstances") {
      Rule r = Kind(name == "RunInstances" ? v1::PROVISION : v1::DEPROVISION, "ec2-instance");
      r.per_instance = true;
      return r;
    }
  }
  std::optional<element> ro = Get(record, "readOnly");
  bool read_only = false;
  if ((ro.has_value() && ro->get_bool().get(read_only) == simdjson::SUCCESS && read_only) ||
      HasAnyVerb(name, kReadVerbs)) {
    Rule r;
    r.read_only = true;
    return r;
  }
  // Creating or deleting a part of a resource (DeleteBucketPolicy,
  // CreateTags, DeleteRolePolicy) changes the resource's configuration; the
  // resource found is the whole (the bucket, the role).
  if ((HasVerb(name, "Create") || HasVerb(name, "Delete")) && IsPartOfResource(name.substr(6))) {
    return Kind(v1::CONFIG_CHANGE);
  }
  if (HasVerb(name, "Create")) return Kind(v1::PROVISION);
  if (HasVerb(name, "Delete")) return Kind(v1::DEPROVISION);
  if (HasAnyVerb(name, kConfigVerbs)) return Kind(v1::CONFIG_CHANGE);
  return {};
}

// Where a resource id is looked for, in order, after resources[0].ARN; an
// empty type means the service's name.
struct Candidate {
  std::string_view path;
  std::string_view type;
};
constexpr std::array<Candidate, 18> kCandidates = {{
    {"responseElements.role.arn", "iam-role"},
    {"responseElements.user.arn", "iam-user"},
    {"responseElements.policy.arn", "iam-policy"},
    {"responseElements.arn", ""},
    {"responseElements.groupId", "ec2-security-group"},
    {"requestParameters.secretId", "secretsmanager-secret"},
    {"requestParameters.roleArn", "iam-role"},
    {"requestParameters.keyId", "kms-key"},
    {"requestParameters.policyArn", "iam-policy"},
    {"requestParameters.bucketName", "s3-bucket"},
    {"requestParameters.instanceId", "ec2-instance"},
    {"requestParameters.groupId", "ec2-security-group"},
    {"requestParameters.roleName", "iam-role"},
    {"requestParameters.userName", "iam-user"},
    {"requestParameters.functionName", "lambda-function"},
    {"requestParameters.dBInstanceIdentifier", "rds-db-instance"},
    {"requestParameters.tableName", "dynamodb-table"},
    {"requestParameters.name", ""},
}};
constexpr std::string_view kNoResource =
    "no resource: resources[0].ARN, responseElements.{role.arn,user.arn,policy.arn,arn,groupId}, "
    "requestParameters.{secretId,roleArn,keyId,policyArn,bucketName,instanceId,groupId,roleName,"
    "userName,functionName,dBInstanceIdentifier,tableName,name}: missing";

// "AWS::S3::Bucket" -> "s3-bucket".
std::string TypeFromCloudFormation(std::string_view t) {
  if (t.substr(0, 5) == "AWS::") t.remove_prefix(5);
  std::string out;
  out.reserve(t.size());
  for (size_t i = 0; i < t.size(); ++i) {
    if (t[i] == ':') {
      if (i + 1 < t.size() && t[i + 1] == ':') ++i;
      out.push_back('-');
    } else {
      out.push_back(t[i] >= 'A' && t[i] <= 'Z' ? static_cast<char>(t[i] - 'A' + 'a') : t[i]);
    }
  }
  return out;
}

// Sets event->resource's id and type; false if no id was found.
bool FindResource(element record, const Rule& rule, std::string_view service, v1::InfraEvent* event,
                  std::string_view* id_field) {
  v1::Resource* res = event->mutable_resource();
  auto set = [&](std::string_view field, std::string_view id, std::string_view type) {
    *id_field = field;
    res->set_id(std::string(id));
    res->set_type(std::string(rule.type.empty() ? type : rule.type));
  };
  if (rule.type == "aws-account") {
    std::optional<std::string_view> account = GetString(record, "recipientAccountId");
    if (!account.has_value() || account->empty()) return false;
    set("recipientAccountId", *account, "aws-account");
    return true;
  }
  if (rule.kind == v1::KEY_CREATE) {
    if (std::optional<std::string_view> arn = GetString(record, "responseElements.keyMetadata.arn");
        arn.has_value() && !arn->empty()) {
      set("responseElements.keyMetadata.arn", *arn, "");
      return true;
    }
  }
  simdjson::dom::array resources;
  element first;
  if (std::optional<element> r = Get(record, "resources");
      r.has_value() && r->get_array().get(resources) == simdjson::SUCCESS &&
      resources.at(0).get(first) == simdjson::SUCCESS) {
    std::optional<std::string_view> arn = GetString(first, "ARN");
    if (arn.has_value() && !arn->empty()) {
      std::optional<std::string_view> type = GetString(first, "type");
      set("resources[0].ARN", *arn, service);
      if (rule.type.empty() && type.has_value() && !type->empty()) {
        res->set_type(TypeFromCloudFormation(*type));
      }
      return true;
    }
  }
  for (const Candidate& c : kCandidates) {
    std::optional<std::string_view> id = GetString(record, c.path);
    if (id.has_value() && !id->empty()) {
      set(c.path, *id, c.type.empty() ? service : c.type);
      return true;
    }
  }
  return false;
}

// The principal, by the first of userIdentity's fields that is present.
std::string Principal(element record) {
  std::optional<element> ui = Get(record, "userIdentity");
  if (!ui.has_value()) return "";
  for (std::string_view path : {"arn", "sessionContext.sessionIssuer.arn", "principalId"}) {
    if (std::optional<std::string_view> v = GetString(*ui, path); v.has_value() && !v->empty()) {
      return std::string(*v);
    }
  }
  std::optional<std::string_view> account = GetString(*ui, "accountId");
  std::optional<std::string_view> type = GetString(*ui, "type");
  if (account.has_value() && type.has_value()) return absl::StrCat(Av(*type), ":", Av(*account));
  return std::string(GetString(*ui, "invokedBy").value_or(""));
}

v1::Channel Via(element record, std::string_view event_type) {
  if (event_type == "AwsConsoleSignIn" || event_type == "AwsConsoleAction") return v1::CONSOLE;
  if (GetString(record, "sessionCredentialFromConsole") == "true") return v1::CONSOLE;
  const std::string_view agent = GetString(record, "userAgent").value_or("");
  if (agent == "signin.amazonaws.com" || agent.substr(0, 8) == "console.") return v1::CONSOLE;
  return v1::API;
}

// "ec2.amazonaws.com" -> "ec2".
std::string_view ServiceOf(std::string_view event_source) {
  constexpr std::string_view kSuffix = ".amazonaws.com";
  if (event_source.size() > kSuffix.size() &&
      event_source.substr(event_source.size() - kSuffix.size()) == kSuffix) {
    event_source.remove_suffix(kSuffix.size());
  }
  return event_source;
}

// A mapping of one outcome, moved in (an initializer list would copy it).
Mapping One(MappedItem item) {
  Mapping out;
  out.push_back(std::move(item));
  return out;
}

class CloudTrailMapper : public Mapper {
 public:
  absl::string_view name() const override { return "cloudtrail"; }
  std::vector<std::string_view> container_keys() const override { return {"Records"}; }
  Mapping Map(element record, std::string_view raw) const override;

 private:
  Mapping PerInstance(element record, std::string_view event_name,
                      const v1::InfraEvent& base) const;
};

Mapping CloudTrailMapper::Map(element record, std::string_view) const {
  // A digest file (CloudTrail-Digest/...) vouches for log files; it is not
  // an API call.
  if (Get(record, "digestSignatureAlgorithm").has_value() ||
      Get(record, "digestPublicKeyFingerprint").has_value()) {
    return One(Skipped("digest"));
  }
  const std::string_view event_type = GetString(record, "eventType").value_or("");
  // Insights report unusual call rates, not calls.
  if (event_type == "AwsCloudTrailInsight") return One(Skipped("insight"));
  const std::optional<std::string_view> event_id = GetString(record, "eventID");
  if (!event_id.has_value() || event_id->empty()) return One(Unmapped(NoString(record, "eventID")));
  const std::optional<std::string_view> event_name = GetString(record, "eventName");
  if (!event_name.has_value() || event_name->empty())
    return One(Unmapped(NoString(record, "eventName")));
  const std::string_view event_source = GetString(record, "eventSource").value_or("");

  const Rule rule = Classify(*event_name, event_source, record);
  if (rule.read_only) return One(Skipped("read-only"));
  if (rule.kind == v1::EVENT_KIND_UNSPECIFIED) {
    return One(Unmapped(
        absl::StrCat("eventName \"", Excerpt(*event_name), "\" is not in the mapping table")));
  }
  // A failed ConsoleLogin has no errorCode, only its outcome. An errorCode
  // of another type is not taken for success.
  if (std::optional<std::string> wrong = WrongType(record, {"errorCode"})) {
    return One(Unmapped(*std::move(wrong)));
  }
  std::optional<std::string_view> error = GetString(record, "errorCode");
  if (!error.has_value() && *event_name == "ConsoleLogin" &&
      GetString(record, "responseElements.ConsoleLogin") == "Failure") {
    error = "Failure";
  }
  // A state change that failed changed nothing; a denied access is an
  // attempt worth auditing.
  if (error.has_value() && rule.kind != v1::ACCESS) return One(Skipped("failed"));

  const std::optional<std::string_view> event_time = GetString(record, "eventTime");
  if (!event_time.has_value()) return One(Unmapped("eventTime: missing"));
  v1::InfraEvent event;
  if (absl::Status s = SetOccurredAt(*event_time, "eventTime", &event); !s.ok()) {
    return One(Unmapped(std::string(s.message())));
  }
  event.set_kind(rule.kind);
  std::string principal = Principal(record);
  const std::string_view region = GetString(record, "awsRegion").value_or("");
  const std::string_view account = GetString(record, "recipientAccountId").value_or("");
  const std::string_view source_ip = GetString(record, "sourceIPAddress").value_or("");
  const std::array<std::pair<std::string_view, std::string_view>, 8> values = {{
      {"eventID", *event_id},
      {"eventName", *event_name},
      {"eventSource", event_source},
      {"awsRegion", region},
      {"recipientAccountId", account},
      {"sourceIPAddress", source_ip},
      {"errorCode", error.value_or("")},
      {"userIdentity", principal},
  }};
  if (std::string why = FirstOverlongValue(values); !why.empty()) return One(Unmapped(why));
  v1::Actor* actor = event.mutable_actor();
  actor->set_principal(std::move(principal));
  actor->set_via(Via(record, event_type));
  auto& attrs = *event.mutable_attributes();
  attrs["aws.event_id"] = std::string(*event_id);
  attrs["aws.event_name"] = std::string(*event_name);
  if (!event_source.empty()) attrs["aws.event_source"] = std::string(event_source);
  if (!region.empty()) attrs["aws.region"] = std::string(region);
  if (!account.empty()) attrs["aws.account_id"] = std::string(account);
  if (!source_ip.empty()) attrs["aws.source_ip"] = std::string(source_ip);
  if (error.has_value()) attrs["aws.error_code"] = std::string(*error);
  event.mutable_resource()->set_provider("aws");

  if (rule.per_instance) return PerInstance(record, *event_name, event);
  std::string_view id_field;
  if (!FindResource(record, rule, ServiceOf(event_source), &event, &id_field)) {
    return One(Unmapped(std::string(
        rule.type == "aws-account" ? "no resource: recipientAccountId: missing" : kNoResource)));
  }
  if (event.resource().id().size() > kMaxValueBytes) {
    return One(Unmapped(absl::StrCat(Av(id_field), ": ", event.resource().id().size(),
                                     " bytes, more than ", kMaxValueBytes)));
  }
  return One(Event(std::move(event)));
}

// One event per instance: RunInstances starts several at once and
// TerminateInstances stops several, each its own resource.
Mapping CloudTrailMapper::PerInstance(element record, std::string_view event_name,
                                      const v1::InfraEvent& base) const {
  std::string_view field = "responseElements.instancesSet.items";
  std::optional<element> items = Get(record, field);
  if (!items.has_value() && event_name == "TerminateInstances") {
    field = "requestParameters.instancesSet.items";
    items = Get(record, field);
  }
  simdjson::dom::array array;
  if (!items.has_value() || items->get_array().get(array) != simdjson::SUCCESS ||
      array.size() == 0) {
    return One(Unmapped(absl::StrCat("no resource: ", Av(field), ": missing or empty")));
  }
  Mapping out;
  out.reserve(array.size());
  size_t i = 0;
  for (element item : array) {
    std::string where = absl::StrCat("instancesSet[", i, "]");
    std::optional<std::string_view> id = GetString(item, "instanceId");
    if (!id.has_value() || id->empty()) {
      out.push_back(
          Unmapped(absl::StrCat(Av(field), "[", i, "].instanceId: missing"), std::move(where)));
    } else if (id->size() > kMaxValueBytes) {
      out.push_back(Unmapped(absl::StrCat(Av(field), "[", i, "].instanceId: ", id->size(),
                                          " bytes, more than ", kMaxValueBytes),
                             std::move(where)));
    } else {
      v1::InfraEvent e = base;
      e.mutable_resource()->set_type("ec2-instance");
      e.mutable_resource()->set_id(std::string(*id));
      out.push_back(Event(std::move(e), std::move(where)));
    }
    ++i;
  }
  return out;
}

}  // namespace

std::unique_ptr<Mapper> NewCloudTrailMapper(const MapperOptions&) {
  return std::make_unique<CloudTrailMapper>();
}

}  // namespace infratrail::ingest
