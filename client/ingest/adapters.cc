#include "client/ingest/adapters.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace infratrail::ingest {

std::vector<std::string_view> MapperNames() {
  return {"k8s-audit", "cloudtrail", "gcp-audit", "terraform"};
}

absl::StatusOr<std::unique_ptr<Mapper>> MakeMapper(std::string_view name,
                                                   const MapperOptions& options) {
  if (name == "k8s-audit") {
    if (options.cluster.empty()) {
      return absl::InvalidArgumentError(
          "--cluster: required for k8s-audit (resources are named k8s:<cluster>)");
    }
    return NewK8sAuditMapper(options);
  }
  if (name == "cloudtrail") return NewCloudTrailMapper(options);
  if (name == "gcp-audit") return NewGcpAuditMapper(options);
  if (name == "terraform") {
    if (options.repository.empty()) {
      return absl::InvalidArgumentError(
          "--repository: required for terraform (the IaC repository the plan came from)");
    }
    if (options.commit.empty()) {
      return absl::InvalidArgumentError(
          "--commit: required for terraform (the commit the plan was made from)");
    }
    return NewTerraformMapper(options);
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unknown source \"", Av(name), "\" (expected one of ",
                   absl::StrJoin(MapperNames(), ", ",
                                 [](std::string* out, std::string_view n) { out->append(n); }),
                   ", deploy)"));
}

}  // namespace infratrail::ingest
