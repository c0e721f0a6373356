// Placeholder until the adapter lands.
#include "client/ingest/adapters.h"

namespace infratrail::ingest {
namespace {

class K8sAuditMapper : public Mapper {
 public:
  absl::string_view name() const override { return "k8s-audit"; }
  std::vector<std::string_view> container_keys() const override { return {}; }
  Mapping Map(simdjson::dom::element, std::string_view) const override {
    return {Unmapped("not implemented")};
  }
};

}  // namespace

std::unique_ptr<Mapper> NewK8sAuditMapper(const MapperOptions&) {
  return std::make_unique<K8sAuditMapper>();
}

}  // namespace infratrail::ingest
