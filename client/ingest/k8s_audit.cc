// k8s-audit: Kubernetes API server audit events (audit.k8s.io/v1 Event), as
// the log backend writes them (JSON lines) and the webhook backend POSTs them
// (an EventList, container key "items"). docs/ingest.md has the table.
#include <string>
#include <string_view>

#include "absl/strings/str_cat.h"
#include "client/ingest/adapters.h"

namespace infratrail::ingest {
namespace {

bool In(std::string_view s, std::initializer_list<std::string_view> set) {
  for (std::string_view x : set) {
    if (s == x) return true;
  }
  return false;
}

// Objects whose creation brings up something that runs, stores or routes:
// PROVISION. Creating anything else (a ConfigMap, a RoleBinding) is a
// CONFIG_CHANGE.
bool IsProvisioned(std::string_view resource) {
  return In(resource, {// workloads
                       "pods", "deployments", "statefulsets", "daemonsets", "replicasets", "jobs",
                       "cronjobs", "replicationcontrollers",
                       // storage
                       "persistentvolumes", "persistentvolumeclaims", "storageclasses",
                       "volumeattachments", "volumesnapshots",
                       // network
                       "services", "ingresses", "networkpolicies", "gateways", "httproutes",
                       "grpcroutes", "ingressclasses",
                       // the container of all of these
                       "namespaces", "nodes"});
}

// Requests that persist nothing: the API server answers a question.
bool IsReview(std::string_view resource) {
  return In(resource,
            {"tokenreviews", "subjectaccessreviews", "selfsubjectaccessreviews",
             "selfsubjectrulesreviews", "localsubjectaccessreviews", "selfsubjectreviews"});
}

class K8sAuditMapper : public Mapper {
 public:
  explicit K8sAuditMapper(const MapperOptions& o)
      : provider_(o.cluster.empty() ? "k8s" : absl::StrCat("k8s:", o.cluster)) {}

  absl::string_view name() const override { return "k8s-audit"; }
  std::vector<std::string_view> container_keys() const override { return {"items"}; }

  Mapping Map(simdjson::dom::element r, std::string_view raw) const override {
    const std::optional<std::string_view> kind = GetString(r, "kind");
    if (kind != "Event") {
      return {Unmapped(kind.has_value()
                           ? absl::StrCat("kind: \"", Excerpt(*kind), "\" is not Event")
                           : "kind: missing (not a Kubernetes audit event)")};
    }
    const std::optional<std::string_view> api = GetString(r, "apiVersion");
    if (api != "audit.k8s.io/v1") {
      return {Unmapped(api.has_value() ? absl::StrCat("apiVersion: \"", Excerpt(*api),
                                                      "\" is not audit.k8s.io/v1")
                                       : "apiVersion: missing")};
    }
    const std::optional<std::string_view> stage = GetString(r, "stage");
    if (!stage.has_value()) return {Unmapped("stage: missing")};
    if (*stage != "ResponseComplete") return {Skipped("stage")};
    const std::optional<std::string_view> audit_id = GetString(r, "auditID");
    if (!audit_id.has_value() || audit_id->empty()) return {Unmapped(NoString(r, "auditID"))};
    const std::optional<std::string_view> verb = GetString(r, "verb");
    if (!verb.has_value() || verb->empty()) return {Unmapped(NoString(r, "verb"))};

    if (std::optional<std::string> wrong = WrongType(
            r, {"objectRef.resource", "objectRef.subresource", "objectRef.name",
                "objectRef.namespace", "objectRef.apiGroup", "responseObject.metadata.name",
                "user.username", "impersonatedUser.username", "requestReceivedTimestamp"})) {
      return {Unmapped(*std::move(wrong))};
    }
    if (const std::optional<simdjson::dom::element> c = Get(r, "responseStatus.code");
        c.has_value() && !c->is_null() && !c->is_int64()) {
      return {Unmapped("responseStatus.code: not an integer")};
    }
    const std::optional<simdjson::dom::element> ref = Get(r, "objectRef");
    const std::string_view resource = ref ? GetString(*ref, "resource").value_or("") : "";
    const std::string_view subresource = ref ? GetString(*ref, "subresource").value_or("") : "";
    const bool read = In(*verb, {"get", "list", "watch"});

    v1::EventKind k = v1::EVENT_KIND_UNSPECIFIED;
    if ((resource == "pods" && In(subresource, {"exec", "attach", "portforward"})) ||
        (resource == "secrets" && subresource.empty() && read)) {
      k = v1::ACCESS;
    } else if (read) {
      return {Skipped("read-only")};
    } else if (!ref.has_value() || resource.empty()) {
      return {Unmapped(absl::StrCat("objectRef: missing for verb \"", Excerpt(*verb),
                                    "\" (a non-resource request that changes something)"))};
    } else if (In(*verb, {"delete", "deletecollection"})) {
      k = v1::DEPROVISION;
    } else if (In(*verb, {"update", "patch"})) {
      k = v1::CONFIG_CHANGE;
    } else if (*verb == "create") {
      if (IsReview(resource)) return {Skipped("review")};
      if (subresource == "eviction") {
        k = v1::DEPROVISION;
      } else if (!subresource.empty()) {
        k = v1::CONFIG_CHANGE;
      } else {
        k = IsProvisioned(resource) ? v1::PROVISION : v1::CONFIG_CHANGE;
      }
    } else {
      return {Unmapped(absl::StrCat("verb: \"", Excerpt(*verb), "\" is not in the mapping table"))};
    }

    const std::optional<int64_t> code = GetInt(r, "responseStatus.code");
    const bool failed = code.has_value() && *code >= 400;
    if (failed && k != v1::ACCESS) return {Skipped("failed")};

    // The object's name: in objectRef, or for a create with generateName
    // only in the response (absent at level Metadata).
    std::string_view name = GetString(*ref, "name").value_or("");
    if (name.empty() && *verb == "create" && subresource.empty()) {
      name = GetString(r, "responseObject.metadata.name").value_or("");
    }
    if (name.empty() && *verb != "deletecollection" && !(resource == "secrets" && read)) {
      return {Unmapped(absl::StrCat("objectRef.name: missing (no resource",
                                    *verb == "create" ? "; a generateName create "
                                                        "needs level Request or "
                                                        "RequestResponse"
                                                      : "",
                                    ")"))};
    }
    const std::string_view ns = GetString(*ref, "namespace").value_or("");
    const std::string_view group = GetString(*ref, "apiGroup").value_or("");

    v1::InfraEvent e;
    e.set_kind(k);
    v1::Resource* res = e.mutable_resource();
    res->set_provider(provider_);
    res->set_type(group.empty() ? std::string(resource)
                                : absl::StrCat(Av(resource), ".", Av(group)));
    // "<namespace>/<name>", "<name>" when cluster-scoped; a list or a
    // collection delete names the namespace (or "*": all of them).
    std::string id;
    if (name.empty()) {
      id = ns.empty() ? "*" : absl::StrCat(Av(ns), "/*");
    } else {
      id = ns.empty() ? std::string(name) : absl::StrCat(Av(ns), "/", Av(name));
    }
    res->set_id(std::move(id));
    const std::optional<std::string_view> user = GetString(r, "user.username");
    if (!user.has_value() || user->empty()) return {Unmapped(NoString(r, "user.username"))};
    e.mutable_actor()->set_principal(std::string(*user));
    e.mutable_actor()->set_via(v1::API);
    const std::optional<std::string_view> when = GetString(r, "requestReceivedTimestamp");
    if (!when.has_value()) return {Unmapped(NoString(r, "requestReceivedTimestamp"))};
    if (absl::Status s = SetOccurredAt(*when, "requestReceivedTimestamp", &e); !s.ok()) {
      return {Unmapped(std::string(s.message()))};
    }
    auto& a = *e.mutable_attributes();
    a["k8s.audit_id"] = std::string(*audit_id);
    a["k8s.verb"] = std::string(*verb);
    a["k8s.record_sha256"] = Sha256Hex(raw);
    if (!subresource.empty()) a["k8s.subresource"] = std::string(subresource);
    if (failed) a["k8s.response_code"] = absl::StrCat(*code);
    if (std::optional<std::string_view> imp = GetString(r, "impersonatedUser.username")) {
      a["k8s.impersonated_user"] = std::string(*imp);
    }
    simdjson::dom::array ips;
    std::string_view ip;
    if (r["sourceIPs"].get_array().get(ips) == simdjson::SUCCESS && ips.size() > 0 &&
        ips.at(0).get_string().get(ip) == simdjson::SUCCESS) {
      a["k8s.source_ip"] = std::string(ip);
    }
    return {Event(std::move(e))};
  }

 private:
  const std::string provider_;
};

}  // namespace

std::unique_ptr<Mapper> NewK8sAuditMapper(const MapperOptions& options) {
  return std::make_unique<K8sAuditMapper>(options);
}

}  // namespace infratrail::ingest
