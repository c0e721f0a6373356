// The gcp-audit adapter: Cloud Audit Logs LogEntries (protoPayload an
// AuditLog) to InfraEvents, from an entries.list response ({"entries":[...]}),
// a top-level array (`gcloud logging read --format=json`) or JSON lines.
// docs/ingest.md ("## gcp-audit") is the mapping table this file implements.
#include <array>
#include <string>
#include <string_view>
#include <utility>

#include "absl/strings/str_cat.h"
#include "client/ingest/adapters.h"

namespace infratrail::ingest {
namespace {

using simdjson::dom::element;

constexpr std::string_view kAuditLogType = "type.googleapis.com/google.cloud.audit.AuditLog";
constexpr std::array<std::string_view, 5> kReadVerbs = {"get", "list", "aggregatedList", "search",
                                                        "testIamPermissions"};
constexpr std::array<std::string_view, 9> kConfigVerbs = {
    "update", "patch", "set", "enable", "disable", "attach", "detach", "add", "remove"};

struct Rule {
  // EVENT_KIND_UNSPECIFIED: not in the mapping table (unless read_only).
  v1::EventKind kind = v1::EVENT_KIND_UNSPECIFIED;
  bool read_only = false;
};

// `method` is the last dot-separated component of methodName.
Rule Classify(std::string_view method, std::string_view service) {
  if (service == "cloudkms.googleapis.com") {
    if (method == "Decrypt" || method == "RawDecrypt" || method == "AsymmetricDecrypt" ||
        method == "AsymmetricSign" || method == "MacSign") {
      return {v1::ACCESS};
    }
    // Uses of a key that reveal nothing it protects.
    if (method == "Encrypt" || method == "RawEncrypt" || method == "MacVerify" ||
        method == "GenerateRandomBytes") {
      return {v1::EVENT_KIND_UNSPECIFIED, true};
    }
    if (method == "CreateCryptoKey") return {v1::KEY_CREATE};
    if (method == "CreateCryptoKeyVersion" || method == "ImportCryptoKeyVersion" ||
        method == "UpdateCryptoKeyPrimaryVersion") {
      return {v1::KEY_ROTATE};
    }
    // Schedules the destruction; the version is unusable from then on.
    if (method == "DestroyCryptoKeyVersion") return {v1::KEY_DESTROY};
    // Cancels a scheduled destruction: nothing was destroyed, so not
    // KEY_RECOVERY (recovery from escrow, which key-recovery policies check).
    if (method == "RestoreCryptoKeyVersion") return {v1::CONFIG_CHANGE};
  }
  if (service == "iam.googleapis.com") {
    if (method == "CreateServiceAccountKey" || method == "UploadServiceAccountKey") {
      return {v1::KEY_CREATE};
    }
    if (method == "DeleteServiceAccountKey") return {v1::KEY_DESTROY};
  }
  // Impersonating a service account: GCP's AssumeRole.
  if (service == "iamcredentials.googleapis.com" &&
      (method == "GenerateAccessToken" || method == "GenerateIdToken" || method == "SignBlob" ||
       method == "SignJwt")) {
    return {v1::ACCESS};
  }
  if (method == "AccessSecretVersion") return {v1::ACCESS};
  if (HasAnyVerb(method, kReadVerbs)) return {v1::EVENT_KIND_UNSPECIFIED, true};
  if (HasVerb(method, "create") || HasVerb(method, "insert")) return {v1::PROVISION};
  if (HasVerb(method, "delete") || HasVerb(method, "destroy")) return {v1::DEPROVISION};
  if (HasAnyVerb(method, kConfigVerbs)) return {v1::CONFIG_CHANGE};
  return {};
}

// "projects/p/logs/cloudaudit.googleapis.com%2Factivity" -> "activity";
// any other log name is returned whole.
std::string_view ShortLogName(std::string_view log_name) {
  for (std::string_view marker : {"cloudaudit.googleapis.com%2F", "cloudaudit.googleapis.com%2f",
                                  "cloudaudit.googleapis.com/"}) {
    const size_t at = log_name.rfind(marker);
    if (at != std::string_view::npos) return log_name.substr(at + marker.size());
  }
  return log_name;
}

// The caller: the principal's email, else its subject (workforce or
// workload identity federation), else the first (original) authority of a
// service account delegation chain.
std::string_view Principal(element payload) {
  for (std::string_view path :
       {"authenticationInfo.principalEmail", "authenticationInfo.principalSubject"}) {
    if (std::optional<std::string_view> v = GetString(payload, path);
        v.has_value() && !v->empty()) {
      return *v;
    }
  }
  simdjson::dom::array chain;
  element first;
  if (std::optional<element> d = Get(payload, "authenticationInfo.serviceAccountDelegationInfo");
      d.has_value() && d->get_array().get(chain) == simdjson::SUCCESS &&
      chain.at(0).get(first) == simdjson::SUCCESS) {
    for (std::string_view path : {"firstPartyPrincipal.principalEmail", "principalSubject"}) {
      if (std::optional<std::string_view> v = GetString(first, path);
          v.has_value() && !v->empty()) {
        return *v;
      }
    }
  }
  return "";
}

bool IsTrue(element record, std::string_view path) {
  std::optional<element> v = Get(record, path);
  bool b = false;
  return v.has_value() && v->get_bool().get(b) == simdjson::SUCCESS && b;
}

Mapping One(MappedItem item) {
  Mapping out;
  out.push_back(std::move(item));
  return out;
}

class GcpAuditMapper : public Mapper {
 public:
  absl::string_view name() const override { return "gcp-audit"; }
  std::vector<std::string_view> container_keys() const override { return {"entries"}; }
  Mapping Map(element record, std::string_view raw) const override;
};

Mapping GcpAuditMapper::Map(element record, std::string_view) const {
  std::optional<element> payload = Get(record, "protoPayload");
  const std::optional<std::string_view> type =
      payload.has_value() ? GetString(*payload, "@type") : std::nullopt;
  if (!type.has_value()) {
    return One(Unmapped("protoPayload.@type: missing (not a Cloud Audit Logs entry)"));
  }
  if (*type != kAuditLogType) {
    return One(Unmapped(absl::StrCat("protoPayload.@type \"", Excerpt(*type), "\" is not \"",
                                     Av(kAuditLogType), "\"")));
  }
  const std::optional<std::string_view> insert_id = GetString(record, "insertId");
  if (!insert_id.has_value() || insert_id->empty())
    return One(Unmapped(NoString(record, "insertId")));
  const std::optional<std::string_view> method = GetString(*payload, "methodName");
  if (!method.has_value() || method->empty()) {
    return One(Unmapped(NoString(record, "protoPayload.methodName")));
  }
  const std::string_view service = GetString(*payload, "serviceName").value_or("");
  const std::string_view log = ShortLogName(GetString(record, "logName").value_or(""));

  const size_t dot = method->rfind('.');
  const Rule rule =
      Classify(dot == std::string_view::npos ? *method : method->substr(dot + 1), service);
  if (rule.read_only) return One(Skipped("read-only"));
  if (rule.kind == v1::EVENT_KIND_UNSPECIFIED) {
    // Google's own maintenance (live migration, host errors, preemption)
    // that no principal decided.
    if (log == "system_event") return One(Skipped("system-event"));
    return One(Unmapped(absl::StrCat("protoPayload.methodName \"", Excerpt(*method),
                                     "\" is not in the mapping table")));
  }
  const int64_t status = GetInt(*payload, "status.code").value_or(0);
  if (status != 0 && rule.kind != v1::ACCESS) return One(Skipped("failed"));
  // A long-running operation logs its start and its end; the end has the
  // outcome (and the resource exists only then).
  if (IsTrue(record, "operation.first") && !IsTrue(record, "operation.last")) {
    return One(Skipped("operation-started"));
  }

  const std::optional<std::string_view> resource_name = GetString(*payload, "resourceName");
  if (!resource_name.has_value() || resource_name->empty()) {
    return One(Unmapped("no resource: protoPayload.resourceName: missing"));
  }
  const std::optional<std::string_view> timestamp = GetString(record, "timestamp");
  if (!timestamp.has_value()) return One(Unmapped("timestamp: missing"));
  v1::InfraEvent event;
  if (absl::Status s = SetOccurredAt(*timestamp, "timestamp", &event); !s.ok()) {
    return One(Unmapped(std::string(s.message())));
  }
  std::string_view resource_type = GetString(record, "resource.type").value_or("");
  if (resource_type.empty() || resource_type == "audited_resource") {
    resource_type = service.substr(0, service.find(".googleapis.com"));
  }
  const std::string_view principal = Principal(*payload);
  const std::string_view project = GetString(record, "resource.labels.project_id").value_or("");
  const std::string_view caller_ip = GetString(*payload, "requestMetadata.callerIp").value_or("");
  const std::array<std::pair<std::string_view, std::string_view>, 9> values = {{
      {"insertId", *insert_id},
      {"protoPayload.methodName", *method},
      {"protoPayload.serviceName", service},
      {"protoPayload.resourceName", *resource_name},
      {"resource.type", resource_type},
      {"resource.labels.project_id", project},
      {"logName", log},
      {"protoPayload.requestMetadata.callerIp", caller_ip},
      {"protoPayload.authenticationInfo", principal},
  }};
  if (std::string why = FirstOverlongValue(values); !why.empty()) return One(Unmapped(why));

  event.set_kind(rule.kind);
  v1::Resource* resource = event.mutable_resource();
  resource->set_provider("gcp");
  resource->set_type(std::string(resource_type));
  resource->set_id(std::string(*resource_name));
  event.mutable_actor()->set_principal(std::string(principal));
  event.mutable_actor()->set_via(v1::API);
  auto& attrs = *event.mutable_attributes();
  attrs["gcp.insert_id"] = std::string(*insert_id);
  attrs["gcp.method_name"] = std::string(*method);
  if (!service.empty()) attrs["gcp.service_name"] = std::string(service);
  if (!project.empty()) attrs["gcp.project_id"] = std::string(project);
  if (!log.empty()) attrs["gcp.log_name"] = std::string(log);
  if (status != 0) attrs["gcp.status_code"] = absl::StrCat(status);
  if (!caller_ip.empty()) attrs["gcp.caller_ip"] = std::string(caller_ip);
  return One(Event(std::move(event)));
}

}  // namespace

std::unique_ptr<Mapper> NewGcpAuditMapper(const MapperOptions&) {
  return std::make_unique<GcpAuditMapper>();
}

}  // namespace infratrail::ingest
